//! Run manifests: one JSON document per run (every input file with its
//! counts, status and warnings, the totals, the outcome), and the runs table
//! that lists them all. Written whole and durably.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Pipeline;
use crate::fsio::At;
use crate::lake::{self, FileEntry, FileStatus, LakeError, Layout};
use crate::validate::issue::Lang;
use crate::validate::Counts;

/// What a segment remembers of its file, besides the rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SegmentInfo {
    /// The SHA-256 of the file's bytes, in hex.
    pub sha256: String,
    /// The file's path in the inbox.
    pub name: String,
    /// The template it was read as.
    pub template: Option<String>,
    /// The dataset its rows went to.
    pub dataset: Option<String>,
    /// The county it reports for.
    pub county: Option<String>,
    /// The period it reports (`2024`, `2024-06`, `2024-Q2`).
    pub period: Option<String>,
    /// Rows read, accepted, rejected and non-data.
    pub counts: Counts,
    /// The file could not be used.
    pub failed: bool,
    /// Rows by lake partition (`county_code=…/year=…`).
    pub partitions: BTreeMap<String, usize>,
    /// Its warnings.
    pub warnings: Vec<IssueNote>,
    /// Its rows in the `rejects` table.
    pub rejects: usize,
    /// The file-level error, when the file could not be used.
    pub error: Option<String>,
    /// An internal error: the segment is not reused (see [`FileEntry::retry`]).
    #[serde(default)]
    pub retry: bool,
    /// The file's segment (its content hash, see [`FileEntry::segment`]).
    #[serde(default)]
    pub segment: String,
    /// The batch that holds the segment: `<batch>.json` lists it, its rows
    /// are in `<batch>.records.<dataset>.parquet` from row `offset`, its
    /// rejects in `<batch>.rejects.parquet` from row `rejects_offset`.
    #[serde(default)]
    pub batch: String,
    /// The segment's first row in the batch's record files.
    #[serde(default)]
    pub offset: usize,
    /// Its first row in the batch's rejects file.
    #[serde(default)]
    pub rejects_offset: usize,
    /// The file's headers as written (see `status --headers`).
    #[serde(
        default,
        skip_serializing_if = "crate::validate::HeaderRecord::is_empty"
    )]
    pub headers: crate::validate::HeaderRecord,
}

/// `<batch>.json`: the segments of one batch of files, written after
/// the batch's Parquet files (its presence marks them complete).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct BatchInfo {
    /// The files of the batch.
    pub segments: Vec<SegmentInfo>,
}

/// The complete batches under a segment folder, `(batch name, info)` in
/// name order; a `<batch>.json` that cannot be read or parsed is left out.
/// `T` is `BatchInfo`, or a part of it when only that part is needed.
pub(crate) fn read_batches<T: serde::de::DeserializeOwned + Send>(dir: &Path) -> Vec<(String, T)> {
    use rayon::prelude::*;
    let mut names: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    let batch = name.strip_suffix(".json")?.to_string();
                    Some((batch, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_par_iter()
        .filter_map(|(batch, p)| {
            Some((batch, serde_json::from_slice(&std::fs::read(p).ok()?).ok()?))
        })
        .collect()
}

/// The exit code a run's outcome maps to, given by the command that runs
/// it: the job records it in the manifest but does not decide it.
#[derive(Debug, Clone, Copy)]
pub struct ExitCodes {
    /// Every file read, no row rejected.
    pub clean: i32,
    /// Rows were rejected or a file failed.
    pub rejects: i32,
    /// The run failed.
    pub failed: i32,
}

/// How a file compares with the previous version: serialised as `new`,
/// `changed` (same path, new content) or `unchanged`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A path the previous version did not have.
    New,
    /// The same path with new content.
    Changed,
    /// The same path and content.
    Unchanged,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Change::New => "new",
            Change::Changed => "changed",
            Change::Unchanged => "unchanged",
        })
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a run ended: serialised as `published`, `unchanged` (nothing new),
/// `failed` (nothing published) or `rollback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new lake version was published.
    Published,
    /// Nothing new: the lake is as it was.
    Unchanged,
    /// Nothing was published.
    Failed,
    /// An earlier version was published again.
    Rollback,
}

impl Outcome {
    /// The outcome as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Published => "published",
            Outcome::Unchanged => "unchanged",
            Outcome::Failed => "failed",
            Outcome::Rollback => "rollback",
        }
    }
}

/// A warning or error as the manifest and the `warnings` table list it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IssueNote {
    /// Its code (`W_UNUSUAL`).
    pub code: String,
    /// Where: `sheet!D17`.
    pub cell: String,
    /// The message in Chinese.
    pub message_zh: String,
    /// The message in English.
    pub message_en: String,
    /// Where, for the `warnings` table (segments made before these were
    /// recorded have only `cell`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// 1-based, as Excel shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<i64>,
    /// The field, by its lake name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The cell's value as typed (personal data masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_value: Option<String>,
}

/// One input file in a run manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestFile {
    /// The file's path in the inbox.
    pub path: String,
    /// The SHA-256 of its bytes, in hex.
    pub sha256: String,
    /// The template it was read as.
    pub template: Option<String>,
    /// The dataset its rows went to.
    pub dataset: Option<String>,
    /// The county it reports for.
    pub county: Option<String>,
    /// The period it reports.
    pub period: Option<String>,
    /// Rows read (blank rows not counted).
    pub rows_read: usize,
    /// Rows accepted into the lake.
    pub rows_accepted: usize,
    /// Rows rejected.
    pub rows_rejected: usize,
    /// Rows recognised as not data (titles, headers, totals, notes).
    pub rows_non_data: usize,
    /// Lake records made from its rows (a spread field makes several per row).
    pub records: usize,
    /// New, changed or unchanged since the previous version.
    pub change: Change,
    /// Current, superseded or failed.
    pub status: FileStatus,
    /// The file whose rows replace this one's.
    pub superseded_by: Option<String>,
    /// Files whose rows this one replaces.
    pub supersedes: Vec<String>,
    /// Whether this run parsed the file (false: its segment was reused).
    pub read_this_run: bool,
    /// Why the file could not be used.
    pub error: Option<String>,
    /// Its warnings.
    pub warnings: Vec<IssueNote>,
}

/// One run's record: `OUT/runs/<run_id>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The run's id: its start time and a random suffix.
    pub run_id: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// When it ended.
    pub ended: String,
    /// How it ended.
    pub outcome: Outcome,
    /// What stopped it, if it failed.
    pub error: Option<String>,
    /// The hash of the pipeline definitions.
    pub pipeline_hash: String,
    /// What the version's segments were made under (pipeline and key).
    pub basis: String,
    /// The pseudonym key's fingerprint.
    pub key_fingerprint: String,
    /// The lake version after the run.
    pub version: Option<String>,
    /// The lake version before the run.
    pub previous_version: Option<String>,
    /// Every file was read again (`--full-refresh`).
    pub full_refresh: bool,
    /// Every input file and what became of it.
    pub files: Vec<ManifestFile>,
    /// Files of the previous version no longer in the inbox.
    pub removed: Vec<String>,
    /// Rows of the files the lake holds (current and failed files): the
    /// same rejects as the `rejects` table.
    pub totals: Counts,
    /// Rows of files replaced by a later file (`_更正`): not in the lake,
    /// their rejects not in `rejects`.
    #[serde(default)]
    pub superseded_totals: Counts,
    /// Files parsed by this run (the others' segments were reused).
    pub files_read_this_run: usize,
    /// Files that could not be used.
    pub files_failed: usize,
    /// Files with rejected rows.
    pub files_with_rejects: usize,
    /// What this run found: files read this run that failed or had rows
    /// rejected. The exit code speaks of these; the standing state is in
    /// `status`.
    #[serde(default)]
    pub new_files_failed: usize,
    /// Files read this run with rows rejected.
    #[serde(default)]
    pub new_files_with_rejects: usize,
    /// Warnings over the current files.
    pub warnings: usize,
    /// Rows by lake dataset.
    pub lake_rows: BTreeMap<String, usize>,
    /// With `[lake] format = "delta"`: each Delta table's version after the run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub delta: BTreeMap<String, u64>,
    /// The exit code the run ended with.
    pub exit_code: i32,
}

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) fn note(i: &crate::validate::issue::Issue) -> IssueNote {
    IssueNote {
        code: i.problem.code().to_string(),
        cell: i.cell_ref(),
        message_zh: i.message(Lang::Zh),
        message_en: i.message(Lang::En),
        sheet: i.sheet.clone(),
        row: i.row.map(|r| r as i64 + 1),
        field: i.field.clone(),
        raw_value: i.raw.clone(),
    }
}

/// Writes JSON whole or not at all, durably (see [`lake::write_durable`]).
pub(super) fn write_json(path: &Path, value: &impl Serialize) -> Result<(), LakeError> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).at(d)?;
    }
    // written as it is serialised: a nation's manifest is 100 MB of text
    Ok(crate::fsio::write_durable_with(path, |w| {
        serde_json::to_writer_pretty(w, value).map_err(std::io::Error::other)
    })
    .at(path)?)
}

/// The manifest's files. Each segment's warnings are moved, not copied, to
/// the last file that names the segment (a nation's are 175,000).
pub(super) fn manifest_files(
    entries: &[FileEntry],
    infos: &mut HashMap<String, SegmentInfo>,
    prev_files: &HashMap<&str, &FileEntry>,
    read_now: &BTreeSet<String>,
) -> Vec<ManifestFile> {
    // who supersedes whom, gathered once (a nation has 120,000 files)
    let mut superseded: HashMap<&str, Vec<String>> = HashMap::new();
    for o in entries {
        if let Some(by) = o.superseded_by.as_deref() {
            superseded.entry(by).or_default().push(o.path.clone());
        }
    }
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for e in entries {
        *uses.entry(e.segment()).or_default() += 1;
    }
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let left = uses.get_mut(e.segment()).map(|n| {
            *n -= 1;
            *n
        });
        let (error, mut warnings) = match infos.get_mut(e.segment()) {
            Some(i) if left == Some(0) => (i.error.clone(), std::mem::take(&mut i.warnings)),
            Some(i) => (i.error.clone(), i.warnings.clone()),
            None => (None, Vec::new()),
        };
        // and those on its values against earlier periods
        warnings.extend(e.across.iter().cloned());
        {
            let change = match prev_files.get(e.path.as_str()) {
                None => Change::New,
                Some(f) if f.sha256 != e.sha256 => Change::Changed,
                Some(_) => Change::Unchanged,
            };
            let supersedes = superseded
                .get(e.path.as_str())
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .chain(
                    prev_files
                        .get(e.path.as_str())
                        .filter(|f| f.sha256 != e.sha256)
                        .map(|f| {
                            format!(
                                "{} (sha256 {})",
                                f.path,
                                &f.sha256[..12.min(f.sha256.len())]
                            )
                        }),
                )
                .collect();
            out.push(ManifestFile {
                path: e.path.clone(),
                sha256: e.sha256.clone(),
                template: e.template.clone(),
                dataset: e.dataset.clone(),
                county: e.county.clone(),
                period: e.period.clone(),
                rows_read: e.counts.read,
                rows_accepted: e.counts.accepted,
                rows_rejected: e.counts.rejected,
                rows_non_data: e.counts.non_data,
                records: e.counts.records,
                change,
                status: e.status,
                superseded_by: e.superseded_by.clone(),
                supersedes,
                read_this_run: read_now.contains(e.segment()),
                error,
                warnings,
            });
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
pub(super) fn finish_manifest(
    p: &Pipeline,
    run_id: &str,
    started: &str,
    outcome: Outcome,
    basis: &str,
    key_fingerprint: &str,
    version: Option<String>,
    previous_version: Option<String>,
    full_refresh: bool,
    files: Vec<ManifestFile>,
    removed: Vec<String>,
    lake_rows: BTreeMap<String, usize>,
    codes: ExitCodes,
) -> Manifest {
    let mut totals = Counts::default();
    let mut superseded_totals = Counts::default();
    for f in &files {
        let t = if f.status == FileStatus::Superseded {
            &mut superseded_totals
        } else {
            &mut totals
        };
        t.read += f.rows_read;
        t.accepted += f.rows_accepted;
        t.rejected += f.rows_rejected;
        t.non_data += f.rows_non_data;
        t.records += f.records;
    }
    let failed = |f: &&ManifestFile| f.status == FileStatus::Failed;
    let with_rejects = |f: &&ManifestFile| f.status == FileStatus::Current && f.rows_rejected > 0;
    let new_failed = files
        .iter()
        .filter(|f| f.read_this_run)
        .filter(failed)
        .count();
    let new_with_rejects = files
        .iter()
        .filter(|f| f.read_this_run)
        .filter(with_rejects)
        .count();
    // cron mails on what this run found, not on rejects it already reported
    let exit_code = if new_failed > 0 || new_with_rejects > 0 {
        codes.rejects
    } else {
        codes.clean
    };
    Manifest {
        run_id: run_id.to_string(),
        started: started.to_string(),
        ended: now(),
        outcome,
        error: None,
        pipeline_hash: p.hash.clone(),
        basis: basis.to_string(),
        key_fingerprint: key_fingerprint.to_string(),
        version,
        previous_version,
        full_refresh,
        files_read_this_run: files.iter().filter(|f| f.read_this_run).count(),
        files_failed: files.iter().filter(failed).count(),
        files_with_rejects: files.iter().filter(with_rejects).count(),
        new_files_failed: new_failed,
        new_files_with_rejects: new_with_rejects,
        superseded_totals,
        // as the `warnings` table holds them: not those of superseded files
        warnings: files
            .iter()
            .filter(|f| f.status != FileStatus::Superseded)
            .map(|f| f.warnings.len())
            .sum(),
        files,
        removed,
        totals,
        lake_rows,
        delta: Default::default(),
        exit_code,
    }
}

/// `OUT/runs/<run_id>.json` and the runs table `OUT/runs/runs.parquet`.
pub fn write_manifest(layout: &Layout, m: &Manifest) -> Result<(), LakeError> {
    write_json(&layout.runs().join(format!("{}.json", m.run_id)), m)?;
    write_runs_table(layout, m)
}

/// What the run ledger and `status` show of a run: its manifest without the
/// file list (a nation's manifest lists 120,000 files in 100 MB of JSON;
/// only their number is kept).
#[derive(Debug, Clone, Deserialize)]
pub struct RunSummary {
    /// The run's id.
    pub run_id: String,
    /// When it started.
    pub started: String,
    /// When it ended.
    pub ended: String,
    /// How it ended.
    pub outcome: Outcome,
    /// What stopped it, if it failed.
    pub error: Option<String>,
    /// The hash of the pipeline definitions.
    pub pipeline_hash: String,
    /// The lake version after the run.
    pub version: Option<String>,
    /// How many input files it listed.
    #[serde(rename = "files", deserialize_with = "count_items")]
    pub n_files: usize,
    /// Rows read, accepted, rejected and non-data.
    pub totals: Counts,
    /// Files parsed by this run.
    pub files_read_this_run: usize,
    /// Files that could not be used.
    pub files_failed: usize,
    /// Warnings.
    pub warnings: usize,
    /// Each Delta table's version after the run (Delta format only).
    #[serde(default)]
    pub delta: BTreeMap<String, u64>,
    /// The exit code the run ended with.
    pub exit_code: i32,
}

/// The length of a JSON array, its items skipped unread.
fn count_items<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    struct Count;
    impl<'de> serde::de::Visitor<'de> for Count {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
            let mut n = 0;
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                n += 1;
            }
            Ok(n)
        }
    }
    d.deserialize_seq(Count)
}

impl RunSummary {
    /// The summary of a whole manifest.
    pub fn of(m: &Manifest) -> RunSummary {
        RunSummary {
            run_id: m.run_id.clone(),
            started: m.started.clone(),
            ended: m.ended.clone(),
            outcome: m.outcome,
            error: m.error.clone(),
            pipeline_hash: m.pipeline_hash.clone(),
            version: m.version.clone(),
            n_files: m.files.len(),
            totals: m.totals,
            files_read_this_run: m.files_read_this_run,
            files_failed: m.files_failed,
            warnings: m.warnings,
            delta: m.delta.clone(),
            exit_code: m.exit_code,
        }
    }
}

/// Every run's summary, oldest first; a manifest that cannot be read is
/// left out.
pub fn read_run_summaries(layout: &Layout) -> Vec<RunSummary> {
    let mut out: Vec<RunSummary> = std::fs::read_dir(layout.runs())
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .filter_map(|e| {
                    let f = std::fs::File::open(e.path()).ok()?;
                    serde_json::from_reader(std::io::BufReader::new(f)).ok()
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    out
}

/// `runs/runs.parquet`: the table so far with this run's row added. It is
/// rebuilt from every manifest only when it is missing, unreadable, of
/// another shape or already has the run (a national manifest is 142 MB:
/// reading them all each night grew with every night).
pub(super) fn write_runs_table(layout: &Layout, m: &Manifest) -> Result<(), LakeError> {
    let path = layout.runs().join("runs.parquet");
    let row = runs_frame(&[RunSummary::of(m)], &path)?;
    let appended = lake::read_parquet(&path).ok().and_then(|old| {
        let has_run = old
            .column("run_id")
            .ok()
            .and_then(|c| {
                c.str()
                    .ok()
                    .map(|s| s.iter().any(|x| x == Some(m.run_id.as_str())))
            })
            .unwrap_or(true);
        if has_run || old.schema() != row.schema() {
            return None;
        }
        old.vstack(&row).ok()
    });
    let mut df = match appended {
        Some(df) => df,
        None => runs_frame(&read_run_summaries(layout), &path)?,
    };
    df.rechunk_mut();
    lake::write_parquet(&path, &mut df, Vec::new(), 65_536)
}

fn runs_frame(ms: &[RunSummary], path: &Path) -> Result<polars::prelude::DataFrame, LakeError> {
    use polars::prelude::*;
    let n = ms.len();
    let s = |f: &dyn Fn(&RunSummary) -> Option<String>| -> Vec<Option<String>> {
        ms.iter().map(f).collect()
    };
    let u =
        |f: &dyn Fn(&RunSummary) -> usize| -> Vec<i64> { ms.iter().map(|m| f(m) as i64).collect() };
    let cols = vec![
        Column::new("run_id".into(), s(&|m| Some(m.run_id.clone()))),
        Column::new("started".into(), s(&|m| Some(m.started.clone()))),
        Column::new("ended".into(), s(&|m| Some(m.ended.clone()))),
        Column::new("outcome".into(), s(&|m| Some(m.outcome.to_string()))),
        Column::new("error".into(), s(&|m| m.error.clone())),
        Column::new("version".into(), s(&|m| m.version.clone())),
        Column::new(
            "pipeline_hash".into(),
            s(&|m| Some(m.pipeline_hash.clone())),
        ),
        Column::new("files".into(), u(&|m| m.n_files)),
        Column::new("files_read_this_run".into(), u(&|m| m.files_read_this_run)),
        Column::new("files_failed".into(), u(&|m| m.files_failed)),
        Column::new("rows_read".into(), u(&|m| m.totals.read)),
        Column::new("rows_accepted".into(), u(&|m| m.totals.accepted)),
        Column::new("rows_rejected".into(), u(&|m| m.totals.rejected)),
        Column::new("rows_non_data".into(), u(&|m| m.totals.non_data)),
        Column::new("warnings".into(), u(&|m| m.warnings)),
        Column::new(
            "exit_code".into(),
            ms.iter().map(|m| m.exit_code as i64).collect::<Vec<i64>>(),
        ),
    ];
    DataFrame::new(n, cols).map_err(|e| lake::pq(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_summary_counts_the_files_without_reading_them() {
        let json = r#"{"run_id": "r1", "started": "s", "ended": "e", "outcome": "published",
            "error": null, "pipeline_hash": "h", "basis": "b", "key_fingerprint": "k",
            "version": "r1", "previous_version": null, "full_refresh": false,
            "files": [{"path": "a.xlsx", "warnings": [{"code": "W"}]}, {"path": "b.csv"}, {}],
            "removed": [], "totals": {"read": 9, "accepted": 7, "rejected": 1, "non_data": 1, "records": 7},
            "files_read_this_run": 2, "files_failed": 0, "files_with_rejects": 1,
            "warnings": 4, "lake_rows": {}, "exit_code": 1}"#;
        let s: RunSummary = serde_json::from_str(json).unwrap();
        assert_eq!((s.n_files, s.files_read_this_run, s.warnings), (3, 2, 4));
        assert_eq!((s.totals.read, s.totals.rejected, s.exit_code), (9, 1, 1));
        assert_eq!(s.outcome, Outcome::Published);
    }
}
