//! The Parquet lake: per-file segments, partitioned versions, atomic publish.
//!
//! Layout under the output folder `OUT`:
//!
//! ```text
//! OUT/lake -> .zhenxing/versions/<run_id>      the published version (a symlink)
//!   <dataset>/county_code=<6 digits>[/year=<yyyy>]/part-0.parquet
//!   rejects/part-0.parquet                      every rejected row and failed file
//!   _zhenxing/version.json                      what this version holds (the ledger)
//! OUT/runs/<run_id>.json, OUT/runs/runs.parquet run manifests and the runs table
//! OUT/.zhenxing/segments/<basis>/<sha256>.*     one input file, ingested once
//! OUT/.zhenxing/staging/<run_id>/               a version being written
//! OUT/.zhenxing/lock                            held while a run works
//! ```
//!
//! A version is written completely under `staging`, synced, renamed into
//! `versions`, and published by replacing the `lake` symlink with
//! `rename(2)`, which is atomic: a reader resolves `OUT/lake` either to the
//! old version or to the new one, never to a mix. Old versions stay for
//! `rollback` until more than `keep_versions` exist.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{FieldType, Source};
use crate::fsio::At;
use crate::lake::privacy::Key;
use crate::normalise::value::Value;
use crate::validate::issue::{Lang, Severity};
use crate::validate::{Counts, FileResult};

/// Where things live under `OUT`.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The output folder.
    pub out: PathBuf,
}

impl Layout {
    /// The layout of the output folder `out`.
    pub fn new(out: &Path) -> Layout {
        Layout {
            out: out.to_path_buf(),
        }
    }
    /// `OUT/.zhenxing`: what the runs keep for themselves.
    pub fn state(&self) -> PathBuf {
        self.out.join(".zhenxing")
    }
    /// The kept lake versions.
    pub fn versions(&self) -> PathBuf {
        self.state().join("versions")
    }
    /// Where a run builds its version before publishing it.
    pub fn staging(&self) -> PathBuf {
        self.state().join("staging")
    }
    /// Each file's rows and problems, by content hash, reused by later runs.
    pub fn segments(&self) -> PathBuf {
        self.state().join("segments")
    }
    /// The run lock.
    pub fn lock(&self) -> PathBuf {
        self.state().join("lock")
    }
    /// `OUT/lake`: the link to the published version.
    pub fn lake(&self) -> PathBuf {
        self.out.join("lake")
    }
    /// `OUT/runs`: the run manifests.
    pub fn runs(&self) -> PathBuf {
        self.out.join("runs")
    }

    /// The published version's run id, if any.
    pub fn current(&self) -> Option<String> {
        let target = std::fs::read_link(self.lake()).ok()?;
        target.file_name().map(|n| n.to_string_lossy().to_string())
    }

    /// Published versions still kept, oldest first.
    pub(crate) fn kept_versions(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.versions())
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().join("_zhenxing/version.json").is_file())
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// What version `run_id` holds.
    pub fn version_meta(&self, run_id: &str) -> Result<VersionMeta, LakeError> {
        self.version_json(run_id)
    }

    /// A version's `version.json`, whole (`VersionMeta`) or the part of it
    /// a caller needs.
    pub(crate) fn version_json<T: serde::de::DeserializeOwned>(
        &self,
        run_id: &str,
    ) -> Result<T, LakeError> {
        let p = self.versions().join(run_id).join("_zhenxing/version.json");
        let text = std::fs::read(&p).at(&p)?;
        serde_json::from_slice(&text).map_err(|e| LakeError::Corrupt { path: p, source: e })
    }
}

/// Why the lake could not be read or written.
/// Why the lake could not be read or written, with what stopped it.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// A file or folder that could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A record of the lake that does not parse.
    #[error("{} is damaged: {source}", path.display())]
    Corrupt {
        /// Which.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: serde_json::Error,
    },
    /// A Parquet file that could not be written or read.
    #[error("Parquet {}: {source}", path.display())]
    Parquet {
        /// Which.
        path: PathBuf,
        /// What polars said.
        #[source]
        source: PolarsError,
    },
    /// A file was written short.
    #[error("{}: wrote {written} of {size} bytes", path.display())]
    ShortWrite {
        /// The file.
        path: PathBuf,
        /// Bytes on disk.
        written: u64,
        /// Bytes meant.
        size: u64,
    },
    /// A partition value (a county code, a year) that cannot be a folder name.
    #[error("partition value {value:?} of {dataset} is not {what}; nothing was published")]
    BadPartition {
        /// The dataset.
        dataset: String,
        /// The value as the rows hold it.
        value: String,
        /// What it should have been.
        what: &'static str,
    },
    /// The village registry cannot be used.
    #[error(transparent)]
    Registry(#[from] crate::validate::RegistryError),
    /// A file's row problems put on disk cannot be read back.
    #[error(transparent)]
    Spill(#[from] crate::validate::spill::SpillError),
    /// The run's threads could not be started.
    #[error("the run's threads cannot be started")]
    Threads(#[source] rayon::ThreadPoolBuildError),
    /// A Delta table could not be read or committed.
    #[error("delta table {table}: {what}: {source}")]
    Delta {
        /// The table.
        table: String,
        /// What was being done.
        what: String,
        /// What delta-rs or the object store said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A Delta commit failed after other tables were committed.
    #[error("{source}; committed before it: {committed} (the next run brings every table to the version it publishes)")]
    DeltaPartly {
        /// The tables committed before the failure.
        committed: String,
        /// The failure.
        #[source]
        source: Box<LakeError>,
    },
    /// The lake asks for Delta tables and this build has no Delta support.
    #[error("[lake] format = \"delta\": this zhenxing was built without Delta support; build it with `cargo build --release --features delta`")]
    NoDelta,
    /// A test hook failed the run on purpose (`ZHENXING_FAULT`).
    #[error("{point}: fault injected by ZHENXING_FAULT")]
    Fault {
        /// Where the run was stopped.
        point: String,
    },
}

impl From<crate::fsio::PathError> for LakeError {
    fn from(e: crate::fsio::PathError) -> LakeError {
        io(&e.path, e.source)
    }
}

/// An I/O error at `path`.
pub fn io(path: &Path, e: std::io::Error) -> LakeError {
    LakeError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// A Parquet error at `path`.
pub fn pq(path: &Path, e: PolarsError) -> LakeError {
    LakeError::Parquet {
        path: path.to_path_buf(),
        source: e,
    }
}

/// What became of an input file in a version: its rows are in the lake,
/// another file's rows replace them, or it could not be used. Serialised
/// as `current`, `superseded`, `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Its rows are in the lake.
    Current,
    /// A later file (a correction) replaces its rows.
    Superseded,
    /// It could not be used.
    Failed,
}

impl FileStatus {
    /// The status as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Current => "current",
            FileStatus::Superseded => "superseded",
            FileStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for FileStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One input file as a version knows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Path relative to the inbox (the registry: its own path).
    pub path: String,
    /// The SHA-256 of its bytes, in hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds, to skip re-hashing unchanged files.
    pub mtime_ns: i128,
    /// The template it was read as.
    pub template: Option<String>,
    /// The dataset its rows went to.
    pub dataset: Option<String>,
    /// The county it reports for.
    pub county: Option<String>,
    /// The period it reports.
    pub period: Option<String>,
    /// Rows read, accepted, rejected and non-data.
    pub counts: Counts,
    /// Its warnings.
    pub warnings: usize,
    /// It could not be used.
    pub failed: bool,
    /// The run that first saw this content.
    pub first_seen: String,
    /// Current, superseded or failed.
    pub status: FileStatus,
    /// The file whose rows replace this one's.
    pub superseded_by: Option<String>,
    /// Rows per partition (`county_code` or `county_code/year`).
    pub partitions: BTreeMap<String, usize>,
    /// The file failed on an internal error (`F_INTERNAL`): the next run
    /// reads it again instead of reusing its result.
    #[serde(default)]
    pub retry: bool,
    /// The name of its segment when that is not the content hash: an inbox
    /// file with the registry's bytes has a segment of its own (refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Warnings on this file's values against earlier periods (made when
    /// the version was built, not when the file was read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub across: Vec<crate::lake::manifest::IssueNote>,
}

impl FileEntry {
    /// The name of the file's segment (`<segment>.json`, `.records.parquet`…).
    pub(crate) fn segment(&self) -> &str {
        self.segment.as_deref().unwrap_or(&self.sha256)
    }
}

/// One partition file of a version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartitionEntry {
    /// `county_code=320682/year=2024`
    pub dir: String,
    /// Its rows.
    pub rows: usize,
    /// The segments (file hashes) it was built from, in order.
    pub sources: Vec<String>,
    /// The run that wrote the file (an unchanged partition keeps its file).
    pub written_by: String,
}

/// What a published version holds; `_zhenxing/version.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionMeta {
    /// The run that published it.
    pub run_id: String,
    /// When (RFC 3339).
    pub created: String,
    /// The hash of the pipeline definitions.
    pub pipeline_hash: String,
    /// Hash of pipeline, registry and key: segments are valid for one basis.
    pub basis: String,
    /// The pseudonym key's fingerprint.
    pub key_fingerprint: String,
    /// The version before it.
    pub previous: Option<String>,
    /// Every input file.
    pub files: Vec<FileEntry>,
    /// The partition files of each dataset.
    pub datasets: BTreeMap<String, Vec<PartitionEntry>>,
    /// Rows of the `rejects` table.
    pub rejects: usize,
    /// Rows of the `warnings` table.
    #[serde(default)]
    pub warnings: usize,
}

/// Columns every dataset row carries besides its fields.
pub(crate) const LINEAGE: [&str; 4] = [
    "source_file_sha256",
    "source_file",
    "source_sheet",
    "source_row",
];

/// Name of a field's column in the lake: personal data is pseudonymised
/// and says so in its name.
pub fn column_name(f: &crate::config::Field) -> String {
    if f.pii.is_some() {
        format!("{}_pseudonym", f.name)
    } else {
        f.name.clone()
    }
}

fn unit_of(f: &crate::config::Field) -> Option<&'static str> {
    match f.ty {
        FieldType::Money => Some("元 (yuan)"),
        FieldType::Percent => Some("% (0-100)"),
        _ => None,
    }
}

/// The dataset's partition keys found in a row: the 6-digit county
/// division code (from the village code) and the year, when the grain has one.
fn partition_of(src: &Source, values: &[Value]) -> (Option<String>, Option<i64>) {
    let code = ["village_code", "code"]
        .iter()
        .find_map(|n| src.field_index(n))
        .and_then(|i| values[i].as_str())
        .filter(|c| c.len() >= 6)
        .map(|c| c[..6].to_string());
    let year = src.field_index("year").and_then(|i| match &values[i] {
        Value::Int(y) => Some(*y),
        Value::Float(y) => Some(*y as i64),
        _ => None,
    });
    (code, year)
}

/// Partition directory of a row; the values become path segments, so they
/// must be plain digits.
pub(crate) fn partition_dir(
    dataset: &str,
    code: Option<&str>,
    year: Option<i64>,
    has_year: bool,
) -> Result<String, LakeError> {
    let code = code.unwrap_or("000000");
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LakeError::BadPartition {
            dataset: dataset.into(),
            value: code.into(),
            what: "a 6-digit division code",
        });
    }
    if !has_year {
        return Ok(format!("county_code={code}"));
    }
    let y = year.unwrap_or(0);
    if !(0..=9999).contains(&y) {
        return Err(LakeError::BadPartition {
            dataset: dataset.into(),
            value: y.to_string(),
            what: "a year",
        });
    }
    Ok(format!("county_code={code}/year={y:04}"))
}

/// Whether a dataset is partitioned by year as well.
pub(crate) fn has_year(src: &Source) -> bool {
    src.field_index("year").is_some()
}

/// Builds the typed frame of one file's accepted records, with lineage and
/// the partition directory of each row (`_partition`, dropped on publish).
pub(crate) fn records_frame(
    src: &Source,
    res: &FileResult,
    key: &Key,
) -> Result<(DataFrame, BTreeMap<String, usize>), LakeError> {
    let rel_path = res.name.as_str();
    let n = res.records.len();
    let mut cols: Vec<Column> = Vec::with_capacity(src.fields.len() + 5);
    let with_year = has_year(src);
    for (i, f) in src.fields.iter().enumerate() {
        let vals: Vec<&Value> = res.records.iter().map(|r| &r.values[i]).collect();
        cols.push(field_column(f, &vals, key));
    }
    cols.push(Column::new(LINEAGE[0].into(), vec![res.sha256.as_str(); n]));
    let sheets: Vec<&str> = res.records.iter().map(|r| &*r.sheet).collect();
    cols.push(Column::new(LINEAGE[2].into(), sheets));
    let rows: Vec<i64> = res.records.iter().map(|r| r.row as i64).collect();
    cols.push(Column::new(LINEAGE[3].into(), rows));
    let mut parts = BTreeMap::new();
    let mut dirs = Vec::with_capacity(n);
    for r in &res.records {
        let (code, year) = partition_of(src, &r.values);
        let d = partition_dir(&src.dataset, code.as_deref(), year, with_year)?;
        *parts.entry(d.clone()).or_insert(0) += 1;
        dirs.push(d);
    }
    cols.push(Column::new("_partition".into(), dirs));
    let df = DataFrame::new(n, cols).map_err(|e| pq(Path::new(rel_path), e))?;
    Ok((df, parts))
}

/// One field's column with the lake's type for it: a `pii` field as its
/// pseudonyms, integers, floats, booleans, dates as days, the rest text.
fn field_column(f: &crate::config::Field, vals: &[&Value], key: &Key) -> Column {
    let name = PlSmallStr::from(column_name(f));
    let vals = vals.iter().copied();
    if let Some(kind) = f.pii {
        let v: Vec<Option<String>> = vals
            .map(|v| v.as_str().map(|s| key.pseudonym(kind, s)))
            .collect();
        return Column::new(name, v);
    }
    match f.ty {
        FieldType::Int | FieldType::Level | FieldType::Year => {
            let v: Vec<Option<i64>> = vals
                .map(|v| match v {
                    Value::Int(x) => Some(*x),
                    Value::Float(x) => Some(*x as i64),
                    _ => None,
                })
                .collect();
            Column::new(name, v)
        }
        FieldType::Number | FieldType::Money | FieldType::Percent => {
            let v: Vec<Option<f64>> = vals.map(|v| v.as_f64()).collect();
            Column::new(name, v)
        }
        FieldType::Bool => {
            let v: Vec<Option<bool>> = vals
                .map(|v| match v {
                    Value::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect();
            Column::new(name, v)
        }
        FieldType::Date | FieldType::Month => {
            let epoch =
                chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(chrono::NaiveDate::MIN);
            let days: Int32Chunked = vals
                .map(|v| match v {
                    Value::Date(d) => Some((*d - epoch).num_days() as i32),
                    _ => None,
                })
                .collect();
            days.with_name(name).into_date().into_column()
        }
        FieldType::Text | FieldType::Name | FieldType::Code | FieldType::List | FieldType::Enum => {
            let v: Vec<Option<String>> = vals
                .map(|v| match v {
                    Value::Null => None,
                    Value::Text(s) => Some(s.clone()),
                    other => Some(other.render()),
                })
                .collect();
            Column::new(name, v)
        }
    }
}

/// Adds the file's current path (relative to the inbox) as `source_file`,
/// after `source_file_sha256`; segments are kept by content, not by name.
pub(crate) fn with_source_file(mut df: DataFrame, path: &str) -> PolarsResult<DataFrame> {
    let at = df
        .get_column_index("source_file_sha256")
        .map(|i| i + 1)
        .unwrap_or(0);
    let col = Column::new(LINEAGE[1].into(), vec![path; df.height()]);
    df.insert_column(at, col)?;
    Ok(df)
}

/// One row per rejected row problem and per failed file, of the problems
/// `res` holds in memory (see [`rejects_frame_of`] for those on disk).
pub(crate) fn rejects_frame(res: &FileResult) -> Result<DataFrame, LakeError> {
    rejects_frame_of(res, &res.issues)
}

/// The rejects rows of `issues`, problems of the file of `res`.
pub(crate) fn rejects_frame_of(
    res: &FileResult,
    issues: &[crate::validate::issue::Issue],
) -> Result<DataFrame, LakeError> {
    let rel_path = res.name.as_str();
    let issues: Vec<&crate::validate::issue::Issue> = issues
        .iter()
        .filter(|i| matches!(i.severity(), Severity::Reject | Severity::FileError))
        .collect();
    let n = issues.len();
    let s = |f: &dyn Fn(&crate::validate::issue::Issue) -> Option<String>| -> Vec<Option<String>> {
        issues.iter().map(|i| f(i)).collect()
    };
    let cols = vec![
        Column::new("source_file_sha256".into(), vec![res.sha256.as_str(); n]),
        Column::new("template".into(), vec![res.template.clone(); n]),
        Column::new("dataset".into(), vec![res.dataset.clone(); n]),
        Column::new("county".into(), vec![res.county.clone(); n]),
        Column::new("period".into(), vec![res.period.clone(); n]),
        Column::new("source_sheet".into(), s(&|i| i.sheet.clone())),
        Column::new(
            "source_row".into(),
            issues
                .iter()
                .map(|i| i.row.map(|r| r as i64 + 1))
                .collect::<Vec<Option<i64>>>(),
        ),
        Column::new(
            "cell".into(),
            s(&|i| Some(i.cell_ref()).filter(|c| !c.is_empty())),
        ),
        Column::new("field".into(), s(&|i| i.field.clone())),
        Column::new("code".into(), s(&|i| Some(i.problem.code().to_string()))),
        Column::new(
            "severity".into(),
            s(&|i| {
                Some(match i.severity() {
                    Severity::FileError => "file".to_string(),
                    _ => "row".to_string(),
                })
            }),
        ),
        Column::new("message_zh".into(), s(&|i| Some(i.message(Lang::Zh)))),
        Column::new("message_en".into(), s(&|i| Some(i.message(Lang::En)))),
        Column::new("raw_value".into(), s(&|i| i.raw.clone())),
    ];
    DataFrame::new(n, cols).map_err(|e| pq(Path::new(rel_path), e))
}

/// An empty frame with a dataset's columns and types, as the lake holds
/// them (partition keys not included).
pub(crate) fn empty_frame(src: &Source) -> Result<DataFrame, LakeError> {
    let key = Key::from_bytes([0; 32]);
    let (df, _) = records_frame(src, &FileResult::empty(), &key)?;
    df.drop("_partition")
        .map_err(|e| pq(Path::new(&src.dataset), e))
}

/// Writes a frame as one Parquet file (zstd, full statistics) with
/// key-value metadata, through a temporary name and fsync.
pub(crate) fn write_parquet(
    path: &Path,
    df: &mut DataFrame,
    meta: Vec<(String, String)>,
    row_group_rows: usize,
) -> Result<(), LakeError> {
    write_parquet_as(path, df, meta, row_group_rows, Durable::Now)
}

/// When a Parquet file is made durable.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durable {
    /// Its own temporary name, fsync and rename.
    Now,
    /// Written in place, without an fsync of its own: for a version being
    /// staged, which is synced whole (one `syncfs`) before it is renamed
    /// into place. A nation's version has a hundred thousand partition
    /// files; an fsync each took minutes.
    WithTheVersion,
}

pub(crate) fn write_parquet_as(
    path: &Path,
    df: &mut DataFrame,
    meta: Vec<(String, String)>,
    row_group_rows: usize,
    durable: Durable,
) -> Result<(), LakeError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).at(dir)?;
    }
    if durable == Durable::WithTheVersion {
        let f = File::create(path).at(path)?;
        return encode_parquet(&f, path, df, meta, row_group_rows);
    }
    // a name of its own: two writers of the same target never share a temporary file
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("parquet.{}-{n}.tmp", std::process::id()));
    let f = File::create(&tmp).at(&tmp)?;
    encode_parquet(&f, path, df, meta, row_group_rows)?;
    f.sync_all().at(&tmp)?;
    std::fs::rename(&tmp, path).at(path)?;
    Ok(crate::fsio::sync_parent(path).at(path)?)
}

fn encode_parquet(
    f: &File,
    path: &Path,
    df: &mut DataFrame,
    meta: Vec<(String, String)>,
    row_group_rows: usize,
) -> Result<(), LakeError> {
    // buffered: the encoder writes a page header, a page, a footer… each
    // as its own small write, a system call each without the buffer
    let mut buf = std::io::BufWriter::with_capacity(1 << 16, f);
    ParquetWriter::new(&mut buf)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .with_row_group_size(Some(row_group_rows))
        .set_parallel(false)
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(meta)))
        .finish(df)
        .map_err(|e| pq(path, e))?;
    std::io::Write::flush(&mut buf).at(path)?;
    Ok(())
}

/// A Parquet file written a frame at a time: the frames are gathered into
/// row groups of `row_group_rows`, so a table of any length holds about one
/// row group in memory. Written under a temporary name, synced and renamed
/// by [`ParquetSink::finish`]; a sink dropped unfinished leaves nothing.
pub(crate) struct ParquetSink {
    path: PathBuf,
    tmp: PathBuf,
    meta: Vec<(String, String)>,
    row_group_rows: usize,
    writer: Option<(
        polars::io::parquet::write::BatchedWriter<std::io::BufWriter<File>>,
        File,
    )>,
    pending: Option<DataFrame>,
    rows: usize,
}

impl ParquetSink {
    pub fn new(path: &Path, meta: Vec<(String, String)>, row_group_rows: usize) -> ParquetSink {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ParquetSink {
            path: path.to_path_buf(),
            tmp: path.with_extension(format!("parquet.{}-s{n}.tmp", std::process::id())),
            meta,
            row_group_rows: row_group_rows.max(1),
            writer: None,
            pending: None,
            rows: 0,
        }
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Adds `df` (every frame with the first one's columns).
    pub fn push(&mut self, df: DataFrame) -> Result<(), LakeError> {
        self.rows += df.height();
        match self.pending.as_mut() {
            Some(all) => {
                all.vstack_mut_owned(df).map_err(|e| pq(&self.path, e))?;
            }
            None => self.pending = Some(df),
        }
        while self
            .pending
            .as_ref()
            .is_some_and(|p| p.height() >= self.row_group_rows)
        {
            self.write_group(false)?;
        }
        Ok(())
    }

    /// Writes one row group from the front of the pending rows (all of
    /// them when `all`).
    fn write_group(&mut self, all: bool) -> Result<(), LakeError> {
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        let (mut group, rest) = if all || pending.height() <= self.row_group_rows {
            (pending, None)
        } else {
            let (a, b) = pending.split_at(self.row_group_rows as i64);
            (a, Some(b))
        };
        self.pending = rest;
        group.rechunk_mut();
        if self.writer.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir).at(dir)?;
            }
            let f = File::create(&self.tmp).at(&self.tmp)?;
            let keep = f.try_clone().at(&self.tmp)?;
            let w = ParquetWriter::new(std::io::BufWriter::with_capacity(1 << 16, f))
                .with_compression(ParquetCompression::Zstd(None))
                .with_statistics(StatisticsOptions::full())
                .set_parallel(false)
                .with_key_value_metadata(Some(KeyValueMetadata::from_static(self.meta.clone())))
                .batched(group.schema())
                .map_err(|e| pq(&self.path, e))?;
            self.writer = Some((w, keep));
        }
        if let Some((w, _)) = self.writer.as_mut() {
            w.write_batch(&group).map_err(|e| pq(&self.path, e))?;
        }
        Ok(())
    }

    /// Writes what is pending and the footer, syncs and renames the file
    /// into place: the number of rows. `empty` is the frame written when
    /// nothing was pushed (a table with its columns and no rows).
    pub fn finish(
        mut self,
        empty: impl FnOnce() -> Result<DataFrame, LakeError>,
    ) -> Result<usize, LakeError> {
        if self.writer.is_none() && self.pending.is_none() {
            self.pending = Some(empty()?);
        }
        self.write_group(true)?;
        let Some((w, file)) = self.writer.take() else {
            return Ok(0);
        };
        let size = w.finish().map_err(|e| pq(&self.path, e))?;
        // the buffer is flushed when the writer goes; a short file is an error
        drop(w);
        let len = file.metadata().at(&self.tmp)?.len();
        if len != size {
            return Err(LakeError::ShortWrite {
                path: self.tmp.clone(),
                written: len,
                size,
            });
        }
        file.sync_all().at(&self.tmp)?;
        std::fs::rename(&self.tmp, &self.path).at(&self.path)?;
        crate::fsio::sync_parent(&self.path).at(&self.path)?;
        Ok(self.rows)
    }
}

impl Drop for ParquetSink {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A column's values as text (numbers and codes cast), nulls kept.
pub(crate) fn str_values(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|s| s.map(str::to_string)).collect())
}

/// Every Parquet file under `dir` (partition folders included), sorted;
/// none when it does not exist.
pub(crate) fn parquet_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Reads a whole Parquet file.
pub fn read_parquet(path: &Path) -> Result<DataFrame, LakeError> {
    let f = File::open(path).at(path)?;
    ParquetReader::new(f).finish().map_err(|e| pq(path, e))
}

/// File-level metadata of a lake file.
pub(crate) fn file_meta(
    run_id: &str,
    pipeline_hash: &str,
    src: Option<&Source>,
    dataset: &str,
) -> Vec<(String, String)> {
    let mut m = vec![
        ("zhenxing.run_id".to_string(), run_id.to_string()),
        (
            "zhenxing.pipeline_hash".to_string(),
            pipeline_hash.to_string(),
        ),
        ("zhenxing.dataset".to_string(), dataset.to_string()),
    ];
    if let Some(src) = src {
        let units: BTreeMap<String, &str> = src
            .fields
            .iter()
            .filter_map(|f| unit_of(f).map(|u| (column_name(f), u)))
            .collect();
        let pii: Vec<String> = src
            .fields
            .iter()
            .filter(|f| f.pii.is_some())
            .map(column_name)
            .collect();
        m.push((
            "zhenxing.units".to_string(),
            serde_json::to_string(&units).unwrap_or_default(),
        ));
        m.push((
            "zhenxing.pseudonymised".to_string(),
            serde_json::to_string(&pii).unwrap_or_default(),
        ));
        m.push(("zhenxing.template".to_string(), src.id.clone()));
    }
    m
}

/// fsyncs a directory so that renames inside it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LakeError> {
    Ok(crate::fsio::sync_dir(dir).at(dir)?)
}

/// Builds a version directory from segments. `datasets` maps each dataset
/// to its current segments (file hash, segment path) in file order; a
/// partition whose sources equal those of the previous version is
/// hard-linked from it instead of rewritten.
pub(crate) struct Builder<'a> {
    pub layout: &'a Layout,
    pub run_id: &'a str,
    pub pipeline_hash: &'a str,
    pub row_group_rows: usize,
    pub previous: Option<&'a VersionMeta>,
    pub dir: PathBuf,
}

/// A dataset's input for one version.
pub(crate) struct DatasetInput<'a> {
    pub source: Option<&'a Source>,
    pub dataset: String,
    /// The current files' segments, in file order.
    pub segments: Vec<SegmentRef>,
}

/// Where one file's rows are kept.
pub(crate) struct SegmentRef {
    pub sha256: String,
    /// The file's path in the inbox.
    pub path: String,
    /// The batch's Parquet file of this dataset, and the file's first row in it.
    pub file: PathBuf,
    pub offset: usize,
    /// Rows per partition (their sum is the file's row count).
    pub partitions: BTreeMap<String, usize>,
}

impl SegmentRef {
    fn rows(&self) -> usize {
        self.partitions.values().sum()
    }
}

impl Builder<'_> {
    /// Writes the dataset's partitions. A partition whose sources are those
    /// of the previous version is hard-linked; the others are built by
    /// reading each batch file once, in name order, and a partition is
    /// written as soon as the last batch it needs has been read, so memory
    /// holds the partitions still open, not the dataset.
    pub fn dataset(&self, input: &DatasetInput<'_>) -> Result<Vec<PartitionEntry>, LakeError> {
        let (mut out, rebuild) = self.plan(input)?;
        self.rebuild(input, &rebuild, &mut out)?;
        Ok(out.into_values().collect())
    }

    /// Each partition's entry: one whose sources did not change is the
    /// previous version's file, hard-linked; the others are to be rebuilt
    /// (returned with their segments, in file order).
    #[allow(clippy::type_complexity)]
    fn plan<'i>(
        &self,
        input: &'i DatasetInput<'_>,
    ) -> Result<
        (
            BTreeMap<&'i str, PartitionEntry>,
            BTreeMap<&'i str, Vec<usize>>,
        ),
        LakeError,
    > {
        // partition → its segments, in file order (one pass: a nation has
        // thousands of partitions and of files per dataset)
        let mut dirs: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (k, s) in input.segments.iter().enumerate() {
            for d in s.partitions.keys() {
                dirs.entry(d.as_str()).or_default().push(k);
            }
        }
        let prev: BTreeMap<&str, &PartitionEntry> = self
            .previous
            .and_then(|m| m.datasets.get(&input.dataset))
            .map(|ps| ps.iter().map(|p| (p.dir.as_str(), p)).collect())
            .unwrap_or_default();
        let mut out: BTreeMap<&str, PartitionEntry> = BTreeMap::new();
        let mut rebuild: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (dir, idx) in dirs {
            // a renamed file changes `source_file`, so the name is part of the identity
            let hashes: Vec<String> = idx
                .iter()
                .map(|&k| format!("{} {}", input.segments[k].sha256, input.segments[k].path))
                .collect();
            let rows: usize = idx.iter().map(|&k| input.segments[k].partitions[dir]).sum();
            let target = self.target(&input.dataset, dir);
            if let Some(dir_parent) = target.parent() {
                std::fs::create_dir_all(dir_parent).at(dir_parent)?;
            }
            let linked = prev
                .get(dir)
                .filter(|p| p.sources == hashes)
                .and_then(|p| self.link_previous(&input.dataset, dir, &target, p));
            if linked.is_none() {
                rebuild.insert(dir, idx);
            }
            let entry = PartitionEntry {
                dir: dir.to_string(),
                rows,
                sources: hashes,
                written_by: linked.unwrap_or_else(|| self.run_id.to_string()),
            };
            out.insert(dir, entry);
        }
        Ok((out, rebuild))
    }

    /// An unchanged partition: the previous version's file hard-linked to
    /// `target`; the run that wrote it, or `None` when it cannot be linked.
    fn link_previous(
        &self,
        dataset: &str,
        dir: &str,
        target: &Path,
        p: &PartitionEntry,
    ) -> Option<String> {
        let prev_meta = self.previous?;
        let old = self
            .layout
            .versions()
            .join(&prev_meta.run_id)
            .join(dataset)
            .join(dir)
            .join("part-0.parquet");
        std::fs::hard_link(&old, target)
            .is_ok()
            .then(|| p.written_by.clone())
    }

    /// Writes the partitions to rebuild from the batch files, reading each
    /// batch file once, in order, and writing a partition as soon as the
    /// last file it needs is read. A partition left without rows goes.
    fn rebuild(
        &self,
        input: &DatasetInput<'_>,
        rebuild: &BTreeMap<&str, Vec<usize>>,
        out: &mut BTreeMap<&str, PartitionEntry>,
    ) -> Result<(), LakeError> {
        // batch file → the segments in it that rebuilt partitions need
        let mut files: BTreeMap<&Path, BTreeSet<usize>> = BTreeMap::new();
        for idx in rebuild.values() {
            for &k in idx {
                files
                    .entry(input.segments[k].file.as_path())
                    .or_default()
                    .insert(k);
            }
        }
        let order: BTreeMap<&Path, usize> =
            files.keys().enumerate().map(|(i, f)| (*f, i)).collect();
        let mut last: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
        for (dir, idx) in rebuild {
            let end = idx
                .iter()
                .map(|&k| order[input.segments[k].file.as_path()])
                .max()
                .unwrap_or(0);
            last.entry(end).or_default().push(dir);
        }
        // open partitions: (segment index, its rows of the partition)
        let mut open: BTreeMap<&str, Vec<(usize, DataFrame)>> = BTreeMap::new();
        for (i, (file, segs)) in files.iter().enumerate() {
            let all = read_parquet(file)?;
            for &k in segs {
                let s = &input.segments[k];
                let mine = all.slice(s.offset as i64, s.rows());
                let mine = with_source_file(mine, &s.path).map_err(|e| pq(file, e))?;
                for dir in s.partitions.keys() {
                    let Some((&d, _)) = rebuild.get_key_value(dir.as_str()) else {
                        continue;
                    };
                    let mask = mine
                        .column("_partition")
                        .and_then(|c| c.str().map(|x| x.equal(d)))
                        .map_err(|e| pq(file, e))?;
                    let part = mine.filter(&mask).map_err(|e| pq(file, e))?;
                    open.entry(d).or_default().push((k, part));
                }
            }
            drop(all);
            for dir in last.remove(&i).unwrap_or_default() {
                let parts = open.remove(dir).unwrap_or_default();
                if !self.write_partition(input, dir, parts, file)? {
                    out.remove(dir);
                }
            }
        }
        Ok(())
    }

    /// One rebuilt partition's file from its parts, in file order; false
    /// when it has none.
    fn write_partition(
        &self,
        input: &DatasetInput<'_>,
        dir: &str,
        mut parts: Vec<(usize, DataFrame)>,
        file: &Path,
    ) -> Result<bool, LakeError> {
        parts.sort_by_key(|(k, _)| *k);
        let mut df: Option<DataFrame> = None;
        for (_, part) in parts {
            match df.as_mut() {
                None => df = Some(part),
                Some(d) => {
                    d.vstack_mut_owned(part).map_err(|e| pq(file, e))?;
                }
            }
        }
        let Some(df) = df else {
            return Ok(false);
        };
        let target = self.target(&input.dataset, dir);
        let mut df = drop_partition_columns(df, input.source).map_err(|e| pq(&target, e))?;
        df.rechunk_mut();
        let meta = file_meta(
            self.run_id,
            self.pipeline_hash,
            input.source,
            &input.dataset,
        );
        write_parquet_as(
            &target,
            &mut df,
            meta,
            self.row_group_rows,
            Durable::WithTheVersion,
        )?;
        Ok(true)
    }

    fn target(&self, dataset: &str, dir: &str) -> PathBuf {
        self.dir.join(dataset).join(dir).join("part-0.parquet")
    }
}

/// Partition keys live in the path only: a key repeated inside the files
/// with another type makes some readers refuse the dataset.
fn drop_partition_columns(df: DataFrame, src: Option<&Source>) -> PolarsResult<DataFrame> {
    let mut df = df.drop("_partition")?;
    if let Some(src) = src {
        if has_year(src) && df.column("year").is_ok() {
            df = df.drop("year")?;
        }
    }
    Ok(df)
}

/// A unique, sortable, ASCII run id: `20261125T085300Z-1a2b`.
pub(crate) fn new_run_id() -> String {
    use rand::RngCore;
    let now = chrono::Utc::now();
    let mut b = [0u8; 2];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("{}-{}", now.format("%Y%m%dT%H%M%S%.3fZ"), hex::encode(b)).replace('.', "")
}

/// Points `OUT/lake` at a version, atomically.
pub fn publish(layout: &Layout, run_id: &str) -> Result<(), LakeError> {
    let target = PathBuf::from(".zhenxing/versions").join(run_id);
    let tmp = layout.out.join(format!(".lake-{run_id}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&target, &tmp).at(&tmp)?;
    std::fs::rename(&tmp, layout.lake()).at(&layout.lake())?;
    sync_dir(&layout.out)
}

/// Removes staging left by a crashed run, temporary links, and versions
/// beyond `keep` (never the published one).
pub fn clean(layout: &Layout, keep: usize) -> Vec<String> {
    let mut removed = Vec::new();
    if let Ok(d) = std::fs::read_dir(layout.staging()) {
        for e in d.flatten() {
            if std::fs::remove_dir_all(e.path()).is_ok() {
                removed.push(format!("staging/{}", e.file_name().to_string_lossy()));
            }
        }
    }
    if let Ok(d) = std::fs::read_dir(&layout.out) {
        for e in d.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if n.starts_with(".lake-") && n.ends_with(".tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let current = layout.current();
    let kept = layout.kept_versions();
    if kept.len() > keep {
        for v in &kept[..kept.len() - keep] {
            if Some(v) != current.as_ref()
                && std::fs::remove_dir_all(layout.versions().join(v)).is_ok()
            {
                removed.push(format!("versions/{v}"));
            }
        }
    }
    // versions without a version.json are unfinished renames: drop them
    if let Ok(d) = std::fs::read_dir(layout.versions()) {
        for e in d.flatten() {
            if !e.path().join("_zhenxing/version.json").is_file()
                && Some(e.file_name().to_string_lossy().to_string()) != current
                && std::fs::remove_dir_all(e.path()).is_ok()
            {
                removed.push(format!("versions/{}", e.file_name().to_string_lossy()));
            }
        }
    }
    removed
}

/// Deletes segment batches no kept version uses: a batch stays while any
/// of its segments is a file of a kept version; files of a batch without
/// its `<batch>.json` (an interrupted write) go too.
pub(crate) fn collect_segments(layout: &Layout) {
    // only the segment names are read from the versions and batches: their
    // whole records are a nation's 300 MiB each
    #[derive(serde::Deserialize)]
    struct FileSegment {
        sha256: String,
        #[serde(default)]
        segment: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct VersionSegments {
        basis: String,
        files: Vec<FileSegment>,
    }
    #[derive(serde::Deserialize)]
    struct SegmentName {
        #[serde(default)]
        segment: String,
    }
    #[derive(serde::Deserialize)]
    struct BatchSegments {
        segments: Vec<SegmentName>,
    }
    let mut used: BTreeSet<(String, String)> = BTreeSet::new();
    for v in layout.kept_versions() {
        let Ok(m) = layout.version_json::<VersionSegments>(&v) else {
            continue;
        };
        for f in m.files {
            used.insert((m.basis.clone(), f.segment.unwrap_or(f.sha256)));
        }
    }
    let Ok(bases) = std::fs::read_dir(layout.segments()) else {
        return;
    };
    for b in bases.flatten() {
        let basis = b.file_name().to_string_lossy().to_string();
        let Ok(files) = std::fs::read_dir(b.path()) else {
            continue;
        };
        let files: Vec<(String, PathBuf)> = files
            .flatten()
            .map(|f| (f.file_name().to_string_lossy().to_string(), f.path()))
            .collect();
        // batches with a segment in use
        let keep: BTreeSet<String> =
            crate::lake::manifest::read_batches::<BatchSegments>(&b.path())
                .into_iter()
                .filter(|(_, info)| {
                    info.segments
                        .iter()
                        .any(|s| used.contains(&(basis.clone(), s.segment.clone())))
                })
                .map(|(batch, _)| batch)
                .collect();
        let mut left = 0;
        for (name, path) in &files {
            let batch = name.split('.').next().unwrap_or("");
            if keep.contains(batch) {
                left += 1;
            } else {
                let _ = std::fs::remove_file(path);
            }
        }
        if left == 0 {
            let _ = std::fs::remove_dir(b.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sink_writes_frames_in_row_groups_and_an_empty_table_when_given_none() {
        let dir = tempfile::tempdir().unwrap();
        let frame = |from: i64, n: i64| {
            let text: Vec<String> = (from..from + n).map(|i| format!("第{i}行")).collect();
            DataFrame::new(
                n as usize,
                vec![
                    Column::new("n".into(), (from..from + n).collect::<Vec<_>>()),
                    Column::new("text".into(), text),
                ],
            )
            .unwrap()
        };
        let path = dir.path().join("t/part.parquet");
        let meta = vec![("zhenxing.run_id".to_string(), "r1".to_string())];
        let mut sink = ParquetSink::new(&path, meta, 1000);
        // 2,500 rows in pieces of 700, 1, 1,299 and 500
        let mut at = 0;
        for n in [700, 1, 1299, 500] {
            sink.push(frame(at, n)).unwrap();
            at += n;
        }
        assert_eq!(sink.rows(), 2500);
        assert!(!path.exists(), "the file appears only when it is finished");
        assert_eq!(sink.finish(|| Ok(frame(0, 0))).unwrap(), 2500);
        let df = read_parquet(&path).unwrap();
        let n: Vec<i64> = df
            .column("n")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(n, (0..2500).collect::<Vec<i64>>());
        let text = df.column("text").unwrap().str().unwrap();
        assert_eq!(text.get(1999), Some("第1999行"));
        let mut f = File::open(&path).unwrap();
        let md = polars::io::parquet::read::ParquetReader::new(&mut f)
            .get_metadata()
            .unwrap()
            .clone();
        let groups: Vec<usize> = md.row_groups.iter().map(|g| g.num_rows()).collect();
        assert_eq!(groups, [1000, 1000, 500]);
        let kv = md.key_value_metadata.clone().unwrap_or_default();
        assert!(kv
            .iter()
            .any(|k| k.key == "zhenxing.run_id" && k.value.as_deref() == Some("r1")));
        // nothing pushed: the empty frame's columns, no rows
        let empty = dir.path().join("t/empty.parquet");
        let sink = ParquetSink::new(&empty, Vec::new(), 1000);
        assert_eq!(sink.finish(|| Ok(frame(0, 0))).unwrap(), 0);
        let df = read_parquet(&empty).unwrap();
        assert_eq!((df.height(), df.width()), (0, 2));
        // a sink dropped unfinished leaves no file and no temporary one
        let gone = dir.path().join("u/gone.parquet");
        let mut sink = ParquetSink::new(&gone, Vec::new(), 10);
        sink.push(frame(0, 25)).unwrap();
        drop(sink);
        let left: Vec<_> = std::fs::read_dir(dir.path().join("u")).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn partition_values_must_be_digits() {
        assert_eq!(
            partition_dir("d", Some("320682"), Some(2024), true).unwrap(),
            "county_code=320682/year=2024"
        );
        assert_eq!(
            partition_dir("d", Some("320682"), None, false).unwrap(),
            "county_code=320682"
        );
        assert!(partition_dir("d", Some("../../x"), None, false).is_err());
        assert!(partition_dir("d", Some("如皋市"), None, false).is_err());
        assert!(partition_dir("d", Some("320682"), Some(-3), true).is_err());
    }

    #[test]
    fn run_ids_are_ascii_and_sortable() {
        let a = new_run_id();
        assert!(a.is_ascii() && a.len() == 24, "{a}");
        assert!(a.starts_with("20"));
    }
}
