//! `zhenxing rollback [--to RUN_ID]`: publish an earlier kept version again.
//!
//! The `lake` symlink is switched with the same atomic rename a run uses,
//! under the same lock. The newer versions stay on disk until they age out,
//! so a rollback can itself be undone with `--to`. The rollback is recorded
//! as a run with outcome `rollback`.

use std::path::Path;

use crate::cmd::exit::{self, CommandError, Done, Outcome};
use crate::config::Pipeline;
use crate::lake::nightly::{write_manifest, Manifest};
use crate::lake::{self, Layout};
use crate::validate::issue::Lang;

use crate::cmd::args::Where;
use std::path::PathBuf;

/// The flags of `zhenxing rollback`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The pipeline definition and output folder.
    #[command(flatten)]
    pub at: Where,
    /// With `--out s3://bucket/prefix`: the local working folder (versions,
    /// segments, run manifests; default: the pipeline's `out`).
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// The version (run id) to publish.
    #[arg(long)]
    pub to: Option<String>,
}

/// `zhenxing rollback` with its flags.
pub fn run(a: RollbackArgs) -> Outcome {
    let mut p = super::load_pipeline(&a.at.p.pipeline)?;
    let out = super::resolve_out(&mut p, a.at.out.as_deref(), a.work.as_deref())?;
    match roll_back(&p, &out, a.to.as_deref()) {
        // right after the first run there is nothing to go back to: said,
        // and not an error
        Err(e @ RollbackError::NoOlder { .. }) => {
            println!("zhenxing rollback: {e}; nothing was changed");
            Ok(Done::Clean)
        }
        done => done.map(|()| Done::Clean).map_err(CommandError::from),
    }
}

/// Why a rollback stopped: what was asked cannot be done (exit 2), or a
/// step failed (exit 3); each says whether the lake moved.
#[derive(Debug, thiserror::Error)]
enum RollbackError {
    #[error("{0}")]
    Lock(String),
    #[error("{0} has no published lake")]
    NoLake(PathBuf),
    #[error("version {to} is not kept; kept versions: {kept}")]
    NotKept { to: String, kept: String },
    #[error("no version older than {current} is kept (kept: {kept})")]
    NoOlder { current: String, kept: String },
    #[error("{0}")]
    Version(String),
    /// The version was written with another pseudonym key.
    #[error(
        "版本 {target} 使用的假名化密钥（指纹 {wanted}）与当前配置的密钥（{origin}，指纹 {have}）不同，回滚后下次运行将无法继续；请先恢复该密钥。未回滚。\n\
         version {target} was written with pseudonym key {wanted} but the configured key ({origin}) is {have}; the next run would refuse that lake, so nothing was rolled back: restore that key first"
    )]
    OtherKey {
        target: String,
        wanted: String,
        origin: String,
        have: String,
    },
    #[error("{error}; the lake still shows {current}")]
    NotPublished { error: String, current: String },
    #[error("the lake now shows {target}, but the run record failed: {error}")]
    Record { target: String, error: String },
    #[error("{path}: {error}")]
    Reports {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "the indicators could not be recomputed for {target} ({error}); OUT/indicators and OUT/reports still show {current}: run `zhenxing indicators`"
    )]
    Indicators {
        target: String,
        current: String,
        error: String,
    },
}

impl From<RollbackError> for CommandError {
    /// What was asked cannot be done is a usage error (the lake did not
    /// move); a step that failed is a failure, and says whether it moved.
    fn from(e: RollbackError) -> CommandError {
        match e {
            RollbackError::NoLake(_)
            | RollbackError::NotKept { .. }
            | RollbackError::NoOlder { .. }
            | RollbackError::OtherKey { .. } => CommandError::usage(e),
            _ => CommandError::failed(e),
        }
    }
}

/// Publishes the target version again under the run lock: its key
/// checked, its Delta tables restored, the lake switched, the run
/// recorded; then the reports of other versions go and the indicators
/// follow the version now published.
fn roll_back(p: &Pipeline, out: &Path, to: Option<&str>) -> Result<(), RollbackError> {
    let layout = Layout::new(out);
    let wait = std::time::Duration::from_secs(p.lake.lock_wait_s);
    let _lock = crate::lake::lock::RunLock::acquire(&layout.lock(), wait)
        .map_err(|e| RollbackError::Lock(e.to_string()))?;
    let current = layout
        .current()
        .ok_or_else(|| RollbackError::NoLake(out.to_path_buf()))?;
    let target = target(&layout, &current, to)?;
    let meta = layout
        .version_meta(&target)
        .map_err(|e| RollbackError::Version(e.to_string()))?;
    same_key(p, out, &target, &meta)?;
    // the Delta tables first, as a run commits them before it publishes
    let not_published = |error: String| RollbackError::NotPublished {
        error,
        current: current.clone(),
    };
    let (delta, missing) =
        lake::delta::rollback(p, &layout, &target).map_err(|e| not_published(e.to_string()))?;
    if !missing.is_empty() {
        eprintln!(
            "zhenxing rollback: no Delta version of {target} is recorded for {}; those tables are left as they are",
            missing.join(", ")
        );
    }
    lake::publish(&layout, &target).map_err(|e| not_published(e.to_string()))?;
    let m = rollback_manifest(&meta, &target, &current, delta);
    write_manifest(&layout, &m).map_err(|e| RollbackError::Record {
        target: target.clone(),
        error: e.to_string(),
    })?;
    println!(
        "zhenxing rollback: the lake now shows version {target} (was {current}); \
         the next run starts from it. Undo with: zhenxing rollback --to {current}"
    );
    remove_reports(out)?;
    follow_indicators(p, out, &target, &current)
}

/// The version asked for (it must be kept), else the newest kept one
/// older than the current.
fn target(layout: &Layout, current: &str, to: Option<&str>) -> Result<String, RollbackError> {
    let kept = layout.kept_versions();
    match to {
        Some(t) if kept.iter().any(|k| k == t) => Ok(t.to_string()),
        Some(t) => Err(RollbackError::NotKept {
            to: t.to_string(),
            kept: kept.join(", "),
        }),
        None => kept
            .iter()
            .rev()
            .find(|k| k.as_str() < current)
            .cloned()
            .ok_or_else(|| RollbackError::NoOlder {
                current: current.to_string(),
                kept: kept.join(", "),
            }),
    }
}

/// A version written with another pseudonym key would not join with what
/// the configured key writes next: refused. A key that cannot be read is
/// not needed to publish again, but the next run needs it: said.
fn same_key(
    p: &Pipeline,
    out: &Path,
    target: &str,
    meta: &crate::lake::VersionMeta,
) -> Result<(), RollbackError> {
    let key = crate::lake::privacy::KeySource::configured(&p.privacy)
        .load(out, Some(meta.key_fingerprint.as_str()));
    match key {
        Ok(k) if k.fingerprint() == meta.key_fingerprint => Ok(()),
        Ok(k) => Err(RollbackError::OtherKey {
            target: target.to_string(),
            wanted: meta.key_fingerprint.clone(),
            origin: k.origin.to_string(),
            have: k.fingerprint(),
        }),
        Err(e) => {
            eprintln!(
                "zhenxing rollback：警告：无法读取假名化密钥，下次运行前请恢复。\nzhenxing rollback: warning: {e}"
            );
            Ok(())
        }
    }
}

/// The record of the rollback: the version published, the one it replaced.
fn rollback_manifest(
    meta: &crate::lake::VersionMeta,
    target: &str,
    current: &str,
    delta: std::collections::BTreeMap<String, u64>,
) -> Manifest {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Manifest {
        run_id: lake::new_run_id(),
        started: now.clone(),
        ended: now,
        outcome: crate::lake::manifest::Outcome::Rollback,
        error: None,
        pipeline_hash: meta.pipeline_hash.clone(),
        basis: meta.basis.clone(),
        key_fingerprint: meta.key_fingerprint.clone(),
        version: Some(target.to_string()),
        previous_version: Some(current.to_string()),
        full_refresh: false,
        files: Vec::new(),
        removed: Vec::new(),
        totals: Default::default(),
        files_read_this_run: 0,
        files_failed: 0,
        files_with_rejects: 0,
        new_files_failed: 0,
        new_files_with_rejects: 0,
        superseded_totals: Default::default(),
        warnings: 0,
        lake_rows: meta
            .datasets
            .iter()
            .map(|(d, ps)| (d.clone(), ps.iter().map(|x| x.rows).sum()))
            .collect(),
        delta,
        exit_code: exit::CLEAN,
    }
}

/// Reports were made from another version: they go (`report` makes any
/// year again).
fn remove_reports(out: &Path) -> Result<(), RollbackError> {
    let reports = out.join("reports");
    let stale: Vec<String> = std::fs::read_dir(&reports)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    if stale.is_empty() {
        return Ok(());
    }
    std::fs::remove_dir_all(&reports).map_err(|error| RollbackError::Reports {
        path: reports.clone(),
        error,
    })?;
    println!(
        "zhenxing rollback: removed the reports made from other versions ({}); `zhenxing report --period YEAR` makes any year again",
        stale.join(", ")
    );
    Ok(())
}

/// The indicator tables follow the version now published; when they
/// cannot, their stamp goes, so figures of the rolled-back version never
/// look current.
fn follow_indicators(
    p: &Pipeline,
    out: &Path,
    target: &str,
    current: &str,
) -> Result<(), RollbackError> {
    let recomputed = super::load_definitions(p)
        .map_err(|_| "the indicator definitions do not load".to_string())
        .and_then(|defs| {
            super::indicators::stage_unless_current(p, &defs, out, Lang::En)
                .map_err(|e| crate::cmd::exit::chain(&e))
        });
    match recomputed {
        Ok(Some(line)) => {
            println!("{line}");
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(error) => {
            let dir = crate::analysis::indicators::dir(out);
            let _ = std::fs::remove_file(dir.join("_stamp.json"));
            Err(RollbackError::Indicators {
                target: target.to_string(),
                current: current.to_string(),
                error,
            })
        }
    }
}
