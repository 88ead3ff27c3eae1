//! The nightly run: inbox → segments → a new lake version, published atomically.
//!
//! Every input file (the registry included) is identified by the SHA-256 of
//! its bytes. A file is ingested once per *basis* (pipeline definitions,
//! registry content and pseudonym key): its accepted rows, its rejects and
//! its counts are kept as a segment. A run ingests only files whose segment
//! is missing, decides which files are current (a resubmission for the same
//! county, template and period supersedes the earlier file), builds a
//! version from the segments of the current files and publishes it. When
//! nothing changed, nothing is read and nothing in the lake is written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use polars::prelude::DataFrame;
use rayon::prelude::*;

use crate::config::Pipeline;
use crate::fsio::sha256_file;
use crate::fsio::At;
use crate::lake::manifest::Outcome;
use crate::lake::privacy::Key;
use crate::lake::{self, DatasetInput, FileEntry, FileStatus, LakeError, Layout, VersionMeta};
use crate::validate::issue::{EntryFault, Lang, Severity};
use crate::validate::{load_registry, Counts, Engine, FileResult};
use crate::worker::Isolation;

use super::manifest::{finish_manifest, manifest_files, note, now, write_json};
pub use super::manifest::{
    read_run_summaries, write_manifest, BatchInfo, ExitCodes, IssueNote, Manifest, ManifestFile,
    RunSummary, SegmentInfo,
};

/// What a nightly run works with, besides the pipeline.
pub struct Options {
    /// The county inbox.
    pub inbox: PathBuf,
    /// The output folder.
    pub out: PathBuf,
    /// How files are read: in reader processes or in this one.
    pub isolation: Isolation,
    /// Threads that validate (default: one per core).
    pub jobs: Option<usize>,
    /// Read every file again instead of reusing stored segments.
    pub full_refresh: bool,
    /// How long to wait for another run's lock.
    pub lock_wait: Duration,
    /// Show a progress bar (only when stderr is a terminal).
    pub progress: bool,
    /// The exit codes the manifest records (the command's, see `cmd::exit`).
    pub exit_codes: ExitCodes,
}

/// Why a night stopped before it published. A refusal (the key) is a
/// usage error: nothing was read or written; the others are failures,
/// and the previous version stays published.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The output folder cannot be made.
    #[error("cannot create {}", path.display())]
    Out {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Another run holds the lake, or the lock file cannot be opened.
    #[error(transparent)]
    Lock(#[from] crate::lake::lock::LockError),
    /// The published version's record cannot be read.
    #[error("the published version cannot be read")]
    Published(#[source] LakeError),
    /// The pseudonym key cannot be had (refused).
    #[error(transparent)]
    Key(#[from] crate::lake::privacy::KeyError),
    /// The configured key is not the one the lake was written with
    /// (refused).
    #[error(
        "the pseudonym key from {origin} (fingerprint {have}) is not the key the lake was written with ({wanted}); \
         restore that key — a different key would break every join with earlier data"
    )]
    OtherKey {
        /// Where the configured key came from.
        origin: String,
        /// Its fingerprint.
        have: String,
        /// The fingerprint of the key the lake was written with.
        wanted: String,
    },
    /// A stage of the night failed; nothing was published.
    #[error("{0}; nothing was published, the lake still shows the previous version")]
    NotPublished(#[source] LakeError),
}

impl RunError {
    /// A refusal before anything was read (a usage or configuration
    /// error), rather than a failure on the way.
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(self, RunError::Key(_) | RunError::OtherKey { .. })
    }
}

struct Input {
    abs: PathBuf,
    rel: String,
    is_registry: bool,
    size: u64,
    mtime_ns: i128,
    sha256: String,
    /// Its segment's name: the content hash, but for an inbox file with
    /// the registry's bytes (it is refused, the registry is not).
    segment: String,
    /// Why the entry is not read (it has no content hash then).
    fault: Option<(EntryFault, String)>,
}

fn mtime_ns(m: &std::fs::Metadata) -> i128 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// A test hook: `ZHENXING_FAULT=before-publish` fails a run after the new
/// version is complete and before it is published.
fn fault(point: &str) -> Result<(), LakeError> {
    match std::env::var("ZHENXING_FAULT") {
        Ok(v) if v == point => Err(LakeError::Fault {
            point: point.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Runs the nightly job. Returns the manifest (already written) or an
/// error that stopped the run before anything was published.
pub fn run(p: &Pipeline, opts: &Options) -> Result<Manifest, RunError> {
    crate::worker::stage_trace("run started");
    let layout = Layout::new(&opts.out);
    std::fs::create_dir_all(&opts.out).map_err(|source| RunError::Out {
        path: opts.out.clone(),
        source,
    })?;
    let _lock = crate::lake::lock::RunLock::acquire(&layout.lock(), opts.lock_wait)?;
    lake::clean(&layout, p.lake.keep_versions);
    let current = layout.current();
    let prev_meta = match &current {
        Some(v) => Some(layout.version_meta(v).map_err(RunError::Published)?),
        None => None,
    };
    crate::worker::stage_trace("previous version read");
    let key = run_key(p, opts, prev_meta.as_ref())?;
    let run_id = lake::new_run_id();
    let started = now();
    let result = run_inner(
        p,
        opts,
        &layout,
        &run_id,
        &started,
        prev_meta.as_ref(),
        &key,
    );
    result.map_err(|e| {
        let _ = std::fs::remove_dir_all(layout.staging().join(&run_id));
        let _ = std::fs::remove_dir_all(spill_dir(&layout, &run_id));
        let failed = Failed {
            run_id: &run_id,
            started: &started,
            error: &e,
            current,
        };
        let _ = write_manifest(&layout, &failed.manifest(p, opts, &key));
        RunError::NotPublished(e)
    })
}

/// The pseudonym key of the run: the configured one, which must be the
/// one the published lake was written with; an exposed key file and a
/// new key are said.
fn run_key(p: &Pipeline, opts: &Options, prev: Option<&VersionMeta>) -> Result<Key, RunError> {
    let key = crate::lake::privacy::KeySource::configured(&p.privacy)
        .load(&opts.out, prev.map(|m| m.key_fingerprint.as_str()))?;
    if let Some(m) = prev {
        if m.key_fingerprint != key.fingerprint() {
            return Err(RunError::OtherKey {
                origin: key.origin.to_string(),
                have: key.fingerprint(),
                wanted: m.key_fingerprint.clone(),
            });
        }
    }
    if let Some((zh, en)) = key.exposure_warning() {
        tracing::warn!(event = "key_exposed", "{en}");
        eprintln!("zhenxing: {zh}\nzhenxing: {en}");
    }
    if key.created {
        eprintln!(
            "zhenxing: created a new pseudonym key at {} (fingerprint {}); back it up and keep it outside {}",
            key.origin,
            key.fingerprint(),
            opts.out.display()
        );
    }
    Ok(key)
}

/// A run that failed before publishing, for its manifest.
struct Failed<'r> {
    run_id: &'r str,
    started: &'r str,
    error: &'r LakeError,
    /// The published version, which stays.
    current: Option<String>,
}

impl Failed<'_> {
    /// The failed run's manifest: the error, the version that stays, no files.
    fn manifest(self, p: &Pipeline, opts: &Options, key: &Key) -> Manifest {
        Manifest {
            run_id: self.run_id.to_string(),
            started: self.started.to_string(),
            ended: now(),
            outcome: Outcome::Failed,
            error: Some(self.error.to_string()),
            pipeline_hash: p.hash.clone(),
            basis: String::new(),
            key_fingerprint: key.fingerprint(),
            version: self.current.clone(),
            previous_version: self.current,
            full_refresh: opts.full_refresh,
            files: Vec::new(),
            removed: Vec::new(),
            totals: Counts::default(),
            files_read_this_run: 0,
            files_failed: 0,
            files_with_rejects: 0,
            new_files_failed: 0,
            new_files_with_rejects: 0,
            superseded_totals: Counts::default(),
            warnings: 0,
            lake_rows: BTreeMap::new(),
            delta: Default::default(),
            exit_code: opts.exit_codes.failed,
        }
    }
}

fn list_inputs(
    p: &Pipeline,
    opts: &Options,
    prev: Option<&VersionMeta>,
) -> Result<Vec<Input>, LakeError> {
    use crate::lake::inbox::Listed;
    let files = crate::lake::inbox::list_inbox(&opts.inbox, std::slice::from_ref(&p.registry))
        .at(&opts.inbox)?;
    let mut listed = Vec::with_capacity(files.len() + 1);
    let reg_rel = crate::fsio::path_text(&p.registry);
    listed.push((Listed::File(p.registry.clone()), reg_rel, true));
    for f in files {
        let rel = crate::fsio::path_text(f.path().strip_prefix(&opts.inbox).unwrap_or(f.path()));
        listed.push((f, rel, false));
    }
    let known: HashMap<&str, &FileEntry> = prev
        .map(|m| m.files.iter().map(|f| (f.path.as_str(), f)).collect())
        .unwrap_or_default();
    let mut inputs: Vec<Input> = listed
        .into_par_iter()
        .map(|(entry, rel, is_registry)| match entry {
            Listed::File(abs) => input_of(abs, rel, is_registry, &known),
            Listed::Fault {
                path,
                fault,
                detail,
            } => Ok(Input::faulty(path, rel, is_registry, fault, detail)),
        })
        .collect::<Result<_, LakeError>>()?;
    // a copy of the registry in the inbox is its own segment
    let registry_sha = inputs
        .iter()
        .find(|i| i.is_registry)
        .map(|i| i.sha256.clone());
    for i in inputs.iter_mut() {
        if !i.is_registry && Some(&i.sha256) == registry_sha.as_ref() {
            i.segment = format!("{}-inbox", i.sha256);
        }
    }
    Ok(inputs)
}

/// A file of the inbox with its hash: the previous run's when its size
/// and modification time are the same, else read. A file that cannot be
/// read is its own fault; the registry must be read (without it nothing
/// can be checked).
fn input_of(
    abs: PathBuf,
    rel: String,
    is_registry: bool,
    known: &HashMap<&str, &FileEntry>,
) -> Result<Input, LakeError> {
    let unreadable = |abs: PathBuf, rel: String, e: std::io::Error| {
        if is_registry {
            Err(lake::io(&abs, e))
        } else {
            let detail = e.to_string();
            Ok(Input::faulty(
                abs,
                rel,
                false,
                EntryFault::Unreadable,
                detail,
            ))
        }
    };
    let meta = match std::fs::metadata(&abs) {
        Ok(m) => m,
        Err(e) => return unreadable(abs, rel, e),
    };
    let (size, mt) = (meta.len(), mtime_ns(&meta));
    let sha256 = match known.get(rel.as_str()) {
        Some(f) if f.size == size && f.mtime_ns == mt && mt != 0 => f.sha256.clone(),
        _ => match sha256_file(&abs) {
            Ok((h, _)) => h,
            Err(e) => return unreadable(abs, rel, e),
        },
    };
    Ok(Input {
        abs,
        rel,
        is_registry,
        size,
        mtime_ns: mt,
        segment: sha256.clone(),
        sha256,
        fault: None,
    })
}

impl Input {
    /// An inbox entry that is not read: stored under its path and fault.
    fn faulty(
        abs: PathBuf,
        rel: String,
        is_registry: bool,
        fault: EntryFault,
        detail: String,
    ) -> Input {
        let id = fault_id(&rel, fault);
        Input {
            abs,
            rel,
            is_registry,
            size: 0,
            mtime_ns: 0,
            segment: id.clone(),
            sha256: id,
            fault: Some((fault, detail)),
        }
    }
}

/// The identity an inbox entry that cannot be read is stored under (it has
/// no bytes to hash): its path and its fault, so an unchanged fault is an
/// unchanged input and a mended file is read as new.
fn fault_id(rel: &str, fault: EntryFault) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"inbox entry fault\0");
    h.update(rel.as_bytes());
    h.update(b"\0");
    h.update(fault.code().as_str().as_bytes());
    format!("fault-{}", hex::encode(&h.finalize()[..16]))
}

/// Whether a file's identity is [`fault_id`]'s: an entry never read.
pub(crate) fn is_fault_id(sha256: &str) -> bool {
    sha256.starts_with("fault-")
}

/// The result of an entry that is not read: its fault as a file error.
fn fault_result(i: &Input, fault: EntryFault, detail: &str) -> FileResult {
    let mut res = FileResult {
        sha256: i.sha256.clone(),
        ..FileResult::of_path(&i.abs)
    };
    res.issues.push(crate::validate::issue::Issue::file(
        crate::validate::issue::Problem::Entry {
            fault,
            detail: detail.to_string(),
        },
        &res.name,
    ));
    res
}

/// Where a run's long files put their row problems while they are read
/// (beside its staging; a crashed run's is removed with its staging).
fn spill_dir(layout: &Layout, run_id: &str) -> PathBuf {
    layout.staging().join(format!("{run_id}.spill"))
}

fn basis_of(p: &Pipeline, registry_sha: &str, key: &Key) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(p.hash.as_bytes());
    h.update(b"\n");
    h.update(registry_sha.as_bytes());
    h.update(b"\n");
    h.update(key.fingerprint().as_bytes());
    // segments are kept in batches (earlier lakes kept one per file)
    h.update(b"\nbatched segments");
    hex::encode(&h.finalize()[..8])
}

/// Every complete segment under `dir`, by segment name: the batches'
/// `<batch>.json` files, read in name order (a later batch wins).
pub(crate) fn load_segments(dir: &Path) -> HashMap<String, SegmentInfo> {
    let mut out = HashMap::new();
    for (_, b) in super::manifest::read_batches::<BatchInfo>(dir) {
        for info in b.segments {
            out.insert(info.segment.clone(), info);
        }
    }
    out
}

/// The Parquet file of a batch's rows for one dataset.
pub(crate) fn batch_records(dir: &Path, batch: &str, dataset: &str) -> PathBuf {
    dir.join(format!("{batch}.records.{dataset}.parquet"))
}

fn batch_rejects(dir: &Path, batch: &str) -> PathBuf {
    dir.join(format!("{batch}.rejects.parquet"))
}

/// Writes one batch of files' segments: per dataset one Parquet file of
/// rows, one of rejects, then `<batch>.json`, which marks them complete.
/// A night writes a few files per batch, not two per input file.
fn write_batch(
    p: &Pipeline,
    dir: &Path,
    batch: &str,
    items: Vec<(String, FileResult)>,
    key: &Key,
    run_id: &str,
) -> Result<Vec<(String, SegmentInfo)>, LakeError> {
    let mut out = BatchOut {
        dir,
        batch,
        frames: BTreeMap::new(),
        // rejects go out a row group at a time: a file of a million
        // returned rows never has them all in memory
        rejects: lake::ParquetSink::new(
            &batch_rejects(dir, batch),
            lake::file_meta(run_id, &p.hash, None, "rejects"),
            p.lake.row_group_rows,
        ),
    };
    let mut infos = Vec::with_capacity(items.len());
    for (segment, res) in items {
        let info = out.add(p, &segment, &res, key)?;
        infos.push((segment, info));
    }
    for (dataset, mut df) in out.frames {
        let src = p.sources.iter().find(|s| s.dataset == dataset);
        df.rechunk_mut();
        let meta = lake::file_meta(run_id, &p.hash, src, &dataset);
        let path = batch_records(dir, batch, &dataset);
        lake::write_parquet(&path, &mut df, meta, p.lake.row_group_rows)?;
    }
    if out.rejects.rows() > 0 {
        out.rejects
            .finish(|| lake::rejects_frame(&FileResult::empty()))?;
    }
    // an internal error is not remembered: without its info the segment
    // is incomplete, and the next run reads the file again
    let keep = BatchInfo {
        segments: infos
            .iter()
            .filter(|(_, i)| !i.retry)
            .map(|(_, i)| i.clone())
            .collect(),
    };
    write_json(&dir.join(format!("{batch}.json")), &keep)?;
    Ok(infos)
}

/// What a batch is writing: its rows per dataset, and its rejects.
struct BatchOut<'d> {
    dir: &'d Path,
    batch: &'d str,
    frames: BTreeMap<String, DataFrame>,
    rejects: lake::ParquetSink,
}

impl BatchOut<'_> {
    /// Adds one file's rows and rejects to the batch: its segment info,
    /// which says where they are.
    fn add(
        &mut self,
        p: &Pipeline,
        segment: &str,
        res: &FileResult,
        key: &Key,
    ) -> Result<SegmentInfo, LakeError> {
        let (offset, partitions) = self.add_rows(p, res, key)?;
        let rejects_offset = self.rejects.rows();
        let warnings = self.add_rejects(res)?;
        Ok(SegmentInfo {
            sha256: res.sha256.clone(),
            name: res.name.clone(),
            template: res.template.clone(),
            dataset: res.dataset.clone(),
            county: res.county.clone(),
            period: res.period.clone(),
            counts: res.counts,
            failed: res.failed(),
            partitions,
            warnings,
            rejects: self.rejects.rows() - rejects_offset,
            error: res
                .issues
                .iter()
                .find(|i| i.severity() == Severity::FileError)
                // the code first: the run line and the manifest name it
                .map(|i| format!("{} {}", i.code(), i.message(Lang::En))),
            retry: res
                .issues
                .iter()
                .any(|i| i.code() == crate::catalogue::Code::Internal),
            segment: segment.to_string(),
            batch: self.batch.to_string(),
            offset,
            rejects_offset,
            headers: res.headers.clone(),
        })
    }

    /// The file's records under its dataset's frame: where they start and
    /// the partitions they fall in.
    fn add_rows(
        &mut self,
        p: &Pipeline,
        res: &FileResult,
        key: &Key,
    ) -> Result<(usize, BTreeMap<String, usize>), LakeError> {
        let src = res.template.as_deref().and_then(|t| p.source(t));
        let (Some(src), false) = (src, res.records.is_empty()) else {
            return Ok((0, BTreeMap::new()));
        };
        let (df, parts) = lake::records_frame(src, res, key)?;
        let mut offset = 0;
        match self.frames.get_mut(&src.dataset) {
            Some(all) => {
                offset = all.height();
                let path = batch_records(self.dir, self.batch, &src.dataset);
                all.vstack_mut_owned(df).map_err(|e| lake::pq(&path, e))?;
            }
            None => {
                self.frames.insert(src.dataset.clone(), df);
            }
        }
        Ok((offset, parts))
    }

    /// The file's rejects, the row problems on disk first (found first),
    /// then the rest; its warnings as notes.
    fn add_rejects(&mut self, res: &FileResult) -> Result<Vec<IssueNote>, LakeError> {
        let mut warnings = Vec::new();
        let warning = |i: &&crate::validate::issue::Issue| i.severity() == Severity::Warning;
        for chunk in res.spilled.chunks() {
            let chunk = chunk?;
            warnings.extend(chunk.iter().filter(warning).map(note));
            self.rejects.push(lake::rejects_frame_of(res, &chunk)?)?;
        }
        self.rejects.push(lake::rejects_frame(res)?)?;
        warnings.extend(res.issues.iter().filter(warning).map(note));
        Ok(warnings)
    }
}

/// The run's thread pool: `--jobs` threads (default: one per core).
fn night_pool(opts: &Options) -> Result<rayon::ThreadPool, LakeError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .stack_size(16 << 20)
        .build()
        .map_err(LakeError::Threads)
}

/// One night's run: what it works with, and its stages in the order
/// they run (`run_inner` reads as the list of them).
struct Night<'a> {
    p: &'a Pipeline,
    opts: &'a Options,
    layout: &'a Layout,
    run_id: &'a str,
    prev: Option<&'a VersionMeta>,
    key: &'a Key,
    /// Parquet encoding needs more stack than rayon's default 2 MiB in
    /// debug builds.
    pool: rayon::ThreadPool,
}

/// What the ingest stage leaves: every current input's segment info, and
/// the segments read this run.
struct Ingested {
    infos: HashMap<String, SegmentInfo>,
    read_now: BTreeSet<String>,
}

/// A built, staged version: its metadata and the rows of each dataset.
struct Built {
    staging: PathBuf,
    meta: VersionMeta,
    lake_rows: BTreeMap<String, usize>,
}

#[allow(clippy::too_many_arguments)]
fn run_inner(
    p: &Pipeline,
    opts: &Options,
    layout: &Layout,
    run_id: &str,
    started: &str,
    prev: Option<&VersionMeta>,
    key: &Key,
) -> Result<Manifest, LakeError> {
    let night = Night {
        p,
        opts,
        layout,
        run_id,
        prev,
        key,
        pool: night_pool(opts)?,
    };
    let inputs = night.list()?;
    let basis = night.basis(&inputs);
    let seg_dir = layout.segments().join(&basis);
    std::fs::create_dir_all(&seg_dir).at(&seg_dir)?;
    if let Some(m) = night.nothing_new(&inputs, &basis) {
        return unchanged(p, layout, run_id, started, m, opts.exit_codes);
    }
    let mut ingested = night.ingest(&inputs, &seg_dir)?;
    let entries = night.entries(&inputs, &ingested.infos);
    let built = night.build(&basis, &seg_dir, entries, &ingested.infos)?;
    let delta = night.publish(&built)?;
    night.manifest(&inputs, started, &basis, built, &mut ingested, delta)
}

impl<'a> Night<'a> {
    /// List: every input of the inbox with its hash (and the registry).
    fn list(&self) -> Result<Vec<Input>, LakeError> {
        self.pool
            .install(|| list_inputs(self.p, self.opts, self.prev))
    }

    /// The basis the segments are kept under: the definitions, the
    /// registry and the key.
    fn basis(&self, inputs: &[Input]) -> String {
        let registry_sha = inputs
            .iter()
            .find(|i| i.is_registry)
            .map(|i| i.sha256.clone())
            .unwrap_or_default();
        basis_of(self.p, &registry_sha, self.key)
    }

    /// The published version when nothing is new: the same files, the same
    /// basis, nothing to retry (and no `--full-refresh`).
    fn nothing_new(&self, inputs: &[Input], basis: &str) -> Option<&'a VersionMeta> {
        let now_set: BTreeSet<(&str, &str)> = inputs
            .iter()
            .map(|i| (i.rel.as_str(), i.sha256.as_str()))
            .collect();
        self.prev.filter(|m| {
            !self.opts.full_refresh
                && m.basis == basis
                && !m.files.iter().any(|f| f.retry)
                && m.files.len() == now_set.len()
                && m.files
                    .iter()
                    .all(|f| now_set.contains(&(f.path.as_str(), f.sha256.as_str())))
        })
    }

    /// Ingest: the stored segments are taken as they are; every input
    /// without one is read (a copy under a second name once) and written
    /// to a batch.
    fn ingest(&self, inputs: &[Input], seg_dir: &Path) -> Result<Ingested, LakeError> {
        crate::worker::stage_trace("inbox listed");
        let mut stored = if self.opts.full_refresh {
            HashMap::new()
        } else {
            load_segments(seg_dir)
        };
        crate::worker::stage_trace("stored segments read");
        let mut infos: HashMap<String, SegmentInfo> = HashMap::with_capacity(inputs.len());
        let mut todo: Vec<&Input> = Vec::new();
        for i in inputs {
            // a copy under a second name finds its segment already taken
            if infos.contains_key(&i.segment) {
                continue;
            }
            match stored.remove(&i.segment) {
                Some(info) => {
                    infos.insert(i.segment.clone(), info);
                }
                None => todo.push(i),
            }
        }
        drop(stored);
        // files with the same bytes (copies under two names) are parsed once
        let mut seen_sha = BTreeSet::new();
        todo.retain(|i| seen_sha.insert(i.segment.clone()));
        let mut read_now: BTreeSet<String> = BTreeSet::new();
        if !todo.is_empty() {
            for d in self.read(&todo, seg_dir)? {
                for (segment, info) in d? {
                    read_now.insert(segment.clone());
                    infos.insert(segment, info);
                }
            }
        }
        Ok(Ingested { infos, read_now })
    }

    /// Reads the inputs of `todo` in batches on the pool: the registry's
    /// segment first, then the county files, each batch written as it is
    /// done (an interrupted run keeps its whole batches).
    #[allow(clippy::type_complexity)]
    fn read(
        &self,
        todo: &[&Input],
        seg_dir: &Path,
    ) -> Result<Vec<Result<Vec<(String, SegmentInfo)>, LakeError>>, LakeError> {
        let (p, run_id, key) = (self.p, self.run_id, self.key);
        let (registry, reg_res) = load_registry(p, self.opts.isolation.clone())?;
        crate::worker::stage_trace("registry indexed");
        // a long file's row problems wait on disk for their batch
        let spill = spill_dir(self.layout, run_id);
        std::fs::create_dir_all(&spill).at(&spill)?;
        let engine = Engine {
            refuse_registry: true,
            spill: Some(spill.clone()),
            ..Engine::new(p, Some(&registry), self.opts.isolation.clone())
        };
        let mut reg_res = Some(reg_res);
        let bar = self
            .opts
            .progress
            .then(|| crate::progress::bar(todo.len() as u64, "files"))
            .flatten();
        let files: Vec<&Input> = todo.iter().copied().filter(|i| !i.is_registry).collect();
        let done = self.pool.install(|| {
            let mut out: Vec<Result<Vec<(String, SegmentInfo)>, LakeError>> = Vec::new();
            if let Some(reg) = todo.iter().find(|i| i.is_registry) {
                if let Some(r) = reg_res.take() {
                    let batch = format!("{run_id}-registry");
                    let items = vec![(reg.segment.clone(), r)];
                    out.push(write_batch(p, seg_dir, &batch, items, key, run_id));
                    crate::worker::stage_trace("registry written to its segment");
                }
            }
            // a batch's rows go to one Parquet file per dataset
            out.extend(
                files
                    .par_chunks(p.lake.batch_files.max(1))
                    .enumerate()
                    .map(|(n, chunk)| {
                        let items: Vec<(String, FileResult)> = chunk
                            .iter()
                            .map(|i| {
                                let res = match &i.fault {
                                    Some((f, detail)) => fault_result(i, *f, detail),
                                    None => engine.ingest(&i.abs, None),
                                };
                                if let Some(b) = &bar {
                                    b.inc(1);
                                }
                                (i.segment.clone(), res)
                            })
                            .collect();
                        let batch = format!("{run_id}-{n:06}");
                        let written = write_batch(p, seg_dir, &batch, items, key, run_id);
                        // a test hook: the process dies after its first batch
                        if std::env::var("ZHENXING_FAULT").is_ok_and(|v| v == "die-after-batch") {
                            std::process::exit(137);
                        }
                        written
                    })
                    .collect::<Vec<_>>(),
            );
            out
        });
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        crate::worker::stage_trace("files read");
        let _ = std::fs::remove_dir_all(&spill);
        Ok(done)
    }

    /// The file entries of the version: one per input with a segment, the
    /// night it was first seen kept, superseded files marked.
    fn entries(&self, inputs: &[Input], infos: &HashMap<String, SegmentInfo>) -> Vec<FileEntry> {
        let seen_by_sha: HashMap<&str, &str> = self
            .prev
            .map(|m| {
                m.files
                    .iter()
                    .map(|f| (f.sha256.as_str(), f.first_seen.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        let first_seen = |i: &Input| -> String {
            seen_by_sha
                .get(i.sha256.as_str())
                .map(|s| s.to_string())
                .unwrap_or_else(|| self.run_id.to_string())
        };
        let mut entries: Vec<FileEntry> = Vec::with_capacity(inputs.len());
        for i in inputs {
            let Some(info) = infos.get(&i.segment) else {
                continue;
            };
            entries.push(FileEntry {
                path: i.rel.clone(),
                sha256: i.sha256.clone(),
                size: i.size,
                mtime_ns: i.mtime_ns,
                template: info.template.clone(),
                dataset: info.dataset.clone(),
                county: info.county.clone(),
                period: info.period.clone(),
                counts: info.counts,
                warnings: info.warnings.len(),
                failed: info.failed,
                first_seen: first_seen(i),
                status: if info.failed {
                    FileStatus::Failed
                } else {
                    FileStatus::Current
                },
                superseded_by: None,
                partitions: info.partitions.clone(),
                retry: info.retry,
                segment: (i.segment != i.sha256).then(|| i.segment.clone()),
                across: Vec::new(),
            });
        }
        supersede(&mut entries);
        crate::worker::stage_trace("file entries");
        entries
    }

    /// Build: every dataset's partitions (side by side, one per job),
    /// `rejects`, the checks across periods and `warnings`, staged with
    /// the version's metadata and files table.
    fn build(
        &self,
        basis: &str,
        seg_dir: &Path,
        mut entries: Vec<FileEntry>,
        infos: &HashMap<String, SegmentInfo>,
    ) -> Result<Built, LakeError> {
        let (p, run_id) = (self.p, self.run_id);
        let staging = self.layout.staging().join(run_id);
        std::fs::create_dir_all(&staging).at(&staging)?;
        let builder = lake::Builder {
            layout: self.layout,
            run_id,
            pipeline_hash: &p.hash,
            row_group_rows: p.lake.row_group_rows,
            previous: self.prev.filter(|m| m.basis == basis),
            dir: staging.clone(),
        };
        let sets = dataset_inputs(p, &entries, infos, seg_dir);
        let built: Vec<Result<Vec<lake::PartitionEntry>, LakeError>> = self
            .pool
            .install(|| sets.par_iter().map(|i| builder.dataset(i)).collect());
        let mut datasets = BTreeMap::new();
        let mut lake_rows = BTreeMap::new();
        for (input, parts) in sets.iter().zip(built) {
            let parts = parts?;
            lake_rows.insert(input.dataset.clone(), parts.iter().map(|x| x.rows).sum());
            datasets.insert(input.dataset.clone(), parts);
        }
        crate::worker::stage_trace("datasets built");
        let rejects = build_rejects(p, run_id, &entries, infos, seg_dir, &staging)?;
        crate::worker::stage_trace("rejects table built");
        across_periods(p, &staging, &mut entries, infos)?;
        crate::worker::stage_trace("values checked across periods");
        let warnings = build_warnings(p, run_id, &entries, infos, &staging)?;
        crate::worker::stage_trace("warnings table built");
        let meta = VersionMeta {
            run_id: run_id.to_string(),
            created: now(),
            pipeline_hash: p.hash.clone(),
            basis: basis.to_string(),
            key_fingerprint: self.key.fingerprint(),
            previous: self.prev.map(|m| m.run_id.clone()),
            files: entries,
            datasets,
            rejects,
            warnings,
        };
        write_json(&staging.join("_zhenxing/version.json"), &meta)?;
        write_files_table(
            &staging.join("_zhenxing/files.parquet"),
            &meta.files,
            run_id,
        )?;
        crate::worker::stage_trace("version written");
        Ok(Built {
            staging,
            meta,
            lake_rows,
        })
    }

    /// Publish: the staged version synced, its Delta tables committed (a
    /// failed commit publishes nothing), renamed into the versions and
    /// made the lake in one rename; then old versions and segments go.
    fn publish(&self, built: &Built) -> Result<BTreeMap<String, u64>, LakeError> {
        let (layout, run_id) = (self.layout, self.run_id);
        sync_tree(&built.staging)?;
        fault("before-publish")?;
        let delta = lake::delta::publish_lake(self.p, layout, &built.staging, &built.meta)?;
        crate::worker::stage_trace("delta tables committed");
        let version_dir = layout.versions().join(run_id);
        std::fs::create_dir_all(layout.versions()).at(&layout.versions())?;
        std::fs::rename(&built.staging, &version_dir).at(&version_dir)?;
        lake::sync_dir(&layout.versions())?;
        lake::publish(layout, run_id)?;
        crate::worker::stage_trace("version published");
        lake::clean(layout, self.p.lake.keep_versions);
        lake::collect_segments(layout);
        vacuum_delta(self.p, layout);
        Ok(delta)
    }

    /// Manifest: every file with what became of it, the files that left
    /// the inbox, the lake's rows; written under `OUT/runs/`.
    fn manifest(
        &self,
        inputs: &[Input],
        started: &str,
        basis: &str,
        built: Built,
        ingested: &mut Ingested,
        delta: BTreeMap<String, u64>,
    ) -> Result<Manifest, LakeError> {
        let prev = self.prev;
        let prev_files: HashMap<&str, &FileEntry> = prev
            .map(|m| m.files.iter().map(|f| (f.path.as_str(), f)).collect())
            .unwrap_or_default();
        let now_paths: BTreeSet<&str> = inputs.iter().map(|i| i.rel.as_str()).collect();
        let files = manifest_files(
            &built.meta.files,
            &mut ingested.infos,
            &prev_files,
            &ingested.read_now,
        );
        let removed = prev
            .map(|m| {
                m.files
                    .iter()
                    .filter(|f| !now_paths.contains(f.path.as_str()))
                    .map(|f| f.path.clone())
                    .collect()
            })
            .unwrap_or_default();
        let mut m = finish_manifest(
            self.p,
            self.run_id,
            started,
            Outcome::Published,
            basis,
            &self.key.fingerprint(),
            Some(self.run_id.to_string()),
            prev.map(|m| m.run_id.clone()),
            self.opts.full_refresh,
            files,
            removed,
            built.lake_rows,
            self.opts.exit_codes,
        );
        m.delta = delta;
        write_manifest(self.layout, &m)?;
        crate::worker::stage_trace("manifest written");
        Ok(m)
    }
}

/// The input of each dataset's build: its current files' segments, in
/// path order.
fn dataset_inputs<'p>(
    p: &'p Pipeline,
    entries: &[FileEntry],
    infos: &HashMap<String, SegmentInfo>,
    seg_dir: &Path,
) -> Vec<DatasetInput<'p>> {
    p.sources
        .iter()
        .map(|src| {
            let mut segs: Vec<&FileEntry> = entries
                .iter()
                .filter(|e| {
                    e.status == FileStatus::Current && e.dataset.as_deref() == Some(&src.dataset)
                })
                .filter(|e| !e.partitions.is_empty())
                .collect();
            segs.sort_by(|a, b| a.path.cmp(&b.path));
            DatasetInput {
                source: Some(src),
                dataset: src.dataset.clone(),
                segments: segs
                    .iter()
                    .filter_map(|e| {
                        let info = infos.get(e.segment())?;
                        Some(lake::SegmentRef {
                            sha256: e.sha256.clone(),
                            path: e.path.clone(),
                            file: batch_records(seg_dir, &info.batch, &src.dataset),
                            offset: info.offset,
                            partitions: e.partitions.clone(),
                        })
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Deletes Delta files no kept version uses; a failure is said and costs
/// the night nothing (the files go at a later run).
fn vacuum_delta(p: &Pipeline, layout: &Layout) {
    if let Err(e) = lake::delta::vacuum(p, layout) {
        tracing::warn!(
            event = "delta_vacuum_failed",
            "the Delta vacuum failed: {e}; old files stay until a later run"
        );
    }
}

/// How a file's name marks it as a correction: 0 for no mark, 1 for
/// 更正, 修正 or 修订, N for 第N次更正 or 更正N / 更正(N) (Arabic or
/// Chinese numerals up to 十). Only the file's own name counts.
pub(crate) fn revision_mark(path: &str) -> u32 {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        // a constant pattern: it compiles or no test passes
        regex::Regex::new(
            r"(?:第([0-9一二三四五六七八九十]{1,3})次)?(?:更正|修正|修订)(?:[_\-\s(（]*([0-9]{1,3}))?",
        )
        .expect("revision pattern")
    });
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let number = |t: &str| -> u32 {
        let zh = "一二三四五六七八九十";
        t.parse::<u32>()
            .ok()
            .unwrap_or_else(|| match t.chars().collect::<Vec<_>>()[..] {
                [c] => zh.chars().position(|d| d == c).map_or(1, |k| k as u32 + 1),
                ['十', c] => zh.chars().position(|d| d == c).map_or(1, |k| 11 + k as u32),
                _ => 1,
            })
    };
    re.captures_iter(name)
        .map(|c| {
            c.get(1)
                .or(c.get(2))
                .map(|m| number(m.as_str()))
                .unwrap_or(1)
                .max(1)
        })
        .max()
        .unwrap_or(0)
}

/// Marks files whose rows another file replaces: of the files for the same
/// template, county and period, one is current. What decides never
/// depends on how the inbox was copied: first a correction mark in the
/// name (`…_更正.xlsx` after `….xlsx`, 第2次更正 after 更正), then the
/// run that first saw the file, then, only between files whose names
/// carry no mark, the modification time, and last the path. A failed
/// file replaces nothing.
fn supersede(entries: &mut [FileEntry]) {
    let mut groups: BTreeMap<(String, String, String), Vec<usize>> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        if e.failed {
            continue;
        }
        if let (Some(t), Some(c)) = (&e.template, &e.county) {
            groups
                .entry((t.clone(), c.clone(), e.period.clone().unwrap_or_default()))
                .or_default()
                .push(i);
        }
    }
    for (_, idx) in groups {
        if idx.len() < 2 {
            continue;
        }
        let order = |e: &FileEntry| {
            let mark = revision_mark(&e.path);
            let mtime = if mark == 0 { e.mtime_ns } else { 0 };
            (mark, e.first_seen.clone(), mtime, e.path.clone())
        };
        let Some(&win) = idx.iter().max_by_key(|&&a| order(&entries[a])) else {
            continue;
        };
        let winner = entries[win].path.clone();
        for &i in &idx {
            if i != win {
                entries[i].status = FileStatus::Superseded;
                entries[i].superseded_by = Some(winner.clone());
            }
        }
    }
}

fn build_rejects(
    p: &Pipeline,
    run_id: &str,
    entries: &[FileEntry],
    infos: &HashMap<String, SegmentInfo>,
    seg_dir: &Path,
    staging: &Path,
) -> Result<usize, LakeError> {
    use polars::prelude::*;
    let mut sorted: Vec<(&FileEntry, &SegmentInfo)> = entries
        .iter()
        .filter(|e| e.status != FileStatus::Superseded)
        .filter_map(|e| Some((e, infos.get(e.segment()).filter(|i| i.rejects > 0)?)))
        .collect();
    sorted.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    let mut per_batch: HashMap<&str, usize> = HashMap::new();
    for (_, info) in &sorted {
        *per_batch.entry(info.batch.as_str()).or_default() += info.rejects;
    }
    let rows = p.lake.row_group_rows.max(1);
    let target = staging.join("rejects/part-0.parquet");
    let meta = lake::file_meta(run_id, &p.hash, None, "rejects");
    let mut sink = lake::ParquetSink::new(&target, meta, rows);
    // files in path order come batch after batch: a small batch is read
    // whole once and kept until another one is needed; a large one is
    // read a row group's worth at a time, so memory never holds a batch
    // of a million returned rows
    let mut batch: Option<(String, DataFrame)> = None;
    for (e, info) in sorted {
        let seg = batch_rejects(seg_dir, &info.batch);
        let pq = |x: PolarsError| lake::pq(&seg, x);
        if per_batch.get(info.batch.as_str()).copied().unwrap_or(0) <= 4 * rows {
            if batch.as_ref().is_none_or(|(name, _)| *name != info.batch) {
                batch = Some((info.batch.clone(), lake::read_parquet(&seg)?));
            }
            let Some((_, frame)) = batch.as_ref() else {
                continue;
            };
            let mine = frame.slice(info.rejects_offset as i64, info.rejects);
            sink.push(lake::with_source_file(mine, &e.path).map_err(pq)?)?;
            continue;
        }
        let mut at = 0;
        while at < info.rejects {
            let n = (info.rejects - at).min(rows);
            let f = std::fs::File::open(&seg).at(&seg)?;
            let part = ParquetReader::new(f)
                .with_slice(Some((info.rejects_offset + at, n)))
                .finish()
                .map_err(pq)?;
            sink.push(lake::with_source_file(part, &e.path).map_err(pq)?)?;
            at += n;
        }
    }
    drop(batch);
    sink.finish(|| {
        lake::rejects_frame(&FileResult::empty())
            .and_then(|d| lake::with_source_file(d, "").map_err(|x| lake::pq(&target, x)))
    })
}

/// The warnings of the version's values against the same unit's previous
/// period (fields with `change_min`/`change_max`/`monotone`), each kept on
/// the entry of the file of the later value (`FileEntry::across`).
fn across_periods(
    p: &Pipeline,
    staging: &Path,
    entries: &mut [FileEntry],
    infos: &HashMap<String, SegmentInfo>,
) -> Result<(), LakeError> {
    let facts: HashMap<String, lake::quality::FileFacts> = entries
        .iter()
        .map(|e| lake::quality::FileFacts::of(e, infos.get(e.segment()).map(|i| &i.headers)))
        .collect();
    let at: HashMap<String, usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.status == FileStatus::Current)
        .map(|(k, e)| (e.path.clone(), k))
        .collect();
    let mut found: Vec<(usize, IssueNote)> = Vec::new();
    for src in &p.sources {
        if crate::validate::plausible::ruled_fields(src).is_empty() {
            continue;
        }
        let obs = lake::quality::observations_in(&staging.join(&src.dataset), src, &facts)?;
        for i in crate::validate::plausible::breaches(src, &obs, &obs) {
            if let Some(&k) = at.get(&i.file) {
                found.push((k, note(&i)));
            }
        }
    }
    for e in entries.iter_mut() {
        e.across.clear();
    }
    for (k, n) in found {
        entries[k].warnings += 1;
        entries[k].across.push(n);
    }
    Ok(())
}

/// `lake/warnings/part-0.parquet`: every warning of the version's files
/// that are in the lake (not superseded), with the lineage columns of
/// `rejects`: kept rows and files that still deserve a look; each file's
/// warnings across periods after its own.
fn build_warnings(
    p: &Pipeline,
    run_id: &str,
    entries: &[FileEntry],
    infos: &HashMap<String, SegmentInfo>,
    staging: &Path,
) -> Result<usize, LakeError> {
    use polars::prelude::*;
    let mut sorted: Vec<&FileEntry> = entries
        .iter()
        .filter(|e| e.status != FileStatus::Superseded)
        .collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let rows: Vec<(&FileEntry, &IssueNote)> = sorted
        .into_iter()
        .flat_map(|e| {
            let own = infos
                .get(e.segment())
                .map(|i| i.warnings.iter().collect::<Vec<_>>())
                .unwrap_or_default();
            own.into_iter().chain(&e.across).map(move |w| (e, w))
        })
        .collect();
    let n = rows.len();
    let s = |f: &dyn Fn(&FileEntry, &IssueNote) -> Option<String>| -> Vec<Option<String>> {
        rows.iter().map(|(e, w)| f(e, w)).collect()
    };
    let cols = vec![
        Column::new(
            "source_file_sha256".into(),
            s(&|e, _| Some(e.sha256.clone())),
        ),
        Column::new("source_file".into(), s(&|e, _| Some(e.path.clone()))),
        Column::new("template".into(), s(&|e, _| e.template.clone())),
        Column::new("dataset".into(), s(&|e, _| e.dataset.clone())),
        Column::new("county".into(), s(&|e, _| e.county.clone())),
        Column::new("period".into(), s(&|e, _| e.period.clone())),
        Column::new("source_sheet".into(), s(&|_, w| w.sheet.clone())),
        Column::new(
            "source_row".into(),
            rows.iter()
                .map(|(_, w)| w.row)
                .collect::<Vec<Option<i64>>>(),
        ),
        Column::new(
            "cell".into(),
            s(&|_, w| Some(w.cell.clone()).filter(|c| !c.is_empty())),
        ),
        Column::new("field".into(), s(&|_, w| w.field.clone())),
        Column::new("code".into(), s(&|_, w| Some(w.code.clone()))),
        Column::new("message_zh".into(), s(&|_, w| Some(w.message_zh.clone()))),
        Column::new("message_en".into(), s(&|_, w| Some(w.message_en.clone()))),
        Column::new("raw_value".into(), s(&|_, w| w.raw_value.clone())),
    ];
    let target = staging.join("warnings/part-0.parquet");
    let mut df = DataFrame::new(n, cols).map_err(|x| lake::pq(&target, x))?;
    let meta = lake::file_meta(run_id, &p.hash, None, "warnings");
    lake::write_parquet(&target, &mut df, meta, p.lake.row_group_rows)?;
    Ok(n)
}

/// Makes the staged version durable, every file and folder under `dir`.
fn sync_tree(dir: &Path) -> Result<(), LakeError> {
    Ok(crate::fsio::sync_filesystem(dir).at(dir)?)
}

/// A run that found nothing new: no file parsed, no lake byte written.
fn unchanged(
    p: &Pipeline,
    layout: &Layout,
    run_id: &str,
    started: &str,
    m: &VersionMeta,
    codes: ExitCodes,
) -> Result<Manifest, LakeError> {
    let seg_dir = layout.segments().join(&m.basis);
    let mut infos = load_segments(&seg_dir);
    let wanted: BTreeSet<&str> = m.files.iter().map(|f| f.segment()).collect();
    infos.retain(|k, _| wanted.contains(k.as_str()));
    let prev_files: HashMap<&str, &FileEntry> =
        m.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let files = manifest_files(&m.files, &mut infos, &prev_files, &BTreeSet::new());
    let lake_rows = m
        .datasets
        .iter()
        .map(|(d, ps)| (d.clone(), ps.iter().map(|x| x.rows).sum()))
        .collect();
    let key_fp = m.key_fingerprint.clone();
    // the Delta tables catch up with the published version (a lake that
    // has just switched to the Delta format; a commit a crash cut short)
    let delta = lake::delta::publish_lake(p, layout, &layout.versions().join(&m.run_id), m)?;
    let mut man = finish_manifest(
        p,
        run_id,
        started,
        Outcome::Unchanged,
        &m.basis,
        &key_fp,
        Some(m.run_id.clone()),
        Some(m.run_id.clone()),
        false,
        files,
        Vec::new(),
        lake_rows,
        codes,
    );
    man.delta = delta;
    write_manifest(layout, &man)?;
    Ok(man)
}

/// `_zhenxing/files.parquet`: the version's input files as a table, so SQL
/// engines reading the lake directly can give a roster's rows the period of
/// the file they came from (`source_file_sha256` → `period`).
fn write_files_table(
    path: &Path,
    files: &[lake::FileEntry],
    run_id: &str,
) -> Result<(), LakeError> {
    use polars::prelude::*;
    let s = |f: &dyn Fn(&lake::FileEntry) -> Option<String>| -> Vec<Option<String>> {
        files.iter().map(f).collect()
    };
    let cols = vec![
        Column::new("path".into(), s(&|f| Some(f.path.clone()))),
        Column::new("sha256".into(), s(&|f| Some(f.sha256.clone()))),
        Column::new("template".into(), s(&|f| f.template.clone())),
        Column::new("dataset".into(), s(&|f| f.dataset.clone())),
        Column::new("county".into(), s(&|f| f.county.clone())),
        Column::new("period".into(), s(&|f| f.period.clone())),
        Column::new("status".into(), s(&|f| Some(f.status.as_str().to_string()))),
    ];
    let mut df = DataFrame::new(files.len(), cols).map_err(|e| lake::pq(path, e))?;
    lake::write_parquet(
        path,
        &mut df,
        vec![("zhenxing.lake_version".to_string(), run_id.to_string())],
        65536,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn correction_marks_in_names() {
        use super::revision_mark as r;
        assert_eq!(r("如皋市/如皋市_集体经济_2023.xlsx"), 0);
        assert_eq!(r("如皋市/如皋市_集体经济_2023_更正.xlsx"), 1);
        assert_eq!(r("如皋市_集体经济_2023_修订.csv"), 1);
        assert_eq!(r("如皋市_集体经济_2023_更正2.csv"), 2);
        assert_eq!(r("如皋市_集体经济_2023_更正(3).csv"), 3);
        assert_eq!(r("如皋市_集体经济_2023_第二次更正.csv"), 2);
        assert_eq!(r("如皋市_集体经济_2023_第十二次修正.csv"), 12);
        // a folder's name is not the file's mark
        assert_eq!(r("更正/如皋市_集体经济_2023.csv"), 0);
    }
}
