//! `zhenxing rollback [--to RUN_ID]`: publish an earlier kept version again.
//!
//! The `lake` symlink is switched with the same atomic rename a run uses,
//! under the same lock. The newer versions stay on disk until they age out,
//! so a rollback can itself be undone with `--to`. The rollback is recorded
//! as a run with outcome `rollback`.

use std::path::Path;

use crate::cmd::exit;
use crate::lake::nightly::{write_manifest, Manifest};
use crate::lake::{self, Layout};
use crate::validate::issue::Lang;

use crate::cmd::cli::Where;
use std::path::PathBuf;

/// The flags of `zhenxing rollback`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
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
pub fn run(a: RollbackArgs) -> i32 {
    rollback(
        &a.at.p.pipeline,
        a.at.out.as_deref(),
        a.work.as_deref(),
        a.to.as_deref(),
    )
}

fn rollback(pipeline: &Path, out: Option<&Path>, work: Option<&Path>, to: Option<&str>) -> i32 {
    let mut p = match super::load_pipeline(pipeline) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let out = match super::resolve_out(&mut p, out, work, "rollback") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let layout = Layout::new(&out);
    let wait = std::time::Duration::from_secs(p.lake.lock_wait_s);
    let _lock = match crate::lake::lock::RunLock::acquire(&layout.lock(), wait) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("zhenxing rollback: {e}");
            return exit::FAILED;
        }
    };
    let Some(current) = layout.current() else {
        eprintln!("zhenxing rollback: {} has no published lake", out.display());
        return exit::USAGE;
    };
    let kept = layout.kept_versions();
    let target = match to {
        Some(t) if kept.iter().any(|k| k == t) => t.to_string(),
        Some(t) => {
            eprintln!(
                "zhenxing rollback: version {t} is not kept; kept versions: {}",
                kept.join(", ")
            );
            return exit::USAGE;
        }
        None => match kept.iter().rev().find(|k| k.as_str() < current.as_str()) {
            Some(k) => k.clone(),
            None => {
                eprintln!(
                    "zhenxing rollback: no version older than {current} is kept (kept: {})",
                    kept.join(", ")
                );
                return exit::USAGE;
            }
        },
    };
    let meta = match layout.version_meta(&target) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("zhenxing rollback: {e}");
            return exit::FAILED;
        }
    };
    // a version written with another pseudonym key would not join with
    // what the configured key writes next: said and refused
    let key = crate::lake::privacy::KeySource::configured(&p.privacy)
        .load(&out, Some(meta.key_fingerprint.as_str()));
    match key {
        Ok(k) if k.fingerprint() == meta.key_fingerprint => {}
        Ok(k) => {
            eprintln!(
                "zhenxing rollback：版本 {target} 使用的假名化密钥（指纹 {}）与当前配置的密钥（{}，指纹 {}）不同，回滚后下次运行将无法继续；请先恢复该密钥。未回滚。\n\
                 zhenxing rollback: version {target} was written with pseudonym key {} but the configured key ({}) is {}; the next run would refuse that lake, so nothing was rolled back: restore that key first",
                meta.key_fingerprint,
                k.origin,
                k.fingerprint(),
                meta.key_fingerprint,
                k.origin,
                k.fingerprint()
            );
            return exit::USAGE;
        }
        // the key is not needed to publish again, but the next run needs it
        Err(e) => eprintln!(
            "zhenxing rollback：警告：无法读取假名化密钥，下次运行前请恢复。\nzhenxing rollback: warning: {e}"
        ),
    }
    // the Delta tables first, as a run commits them before it publishes
    let delta = match lake::delta::rollback(&p, &layout, &target) {
        Ok((versions, missing)) => {
            if !missing.is_empty() {
                eprintln!(
                    "zhenxing rollback: no Delta version of {target} is recorded for {}; those tables are left as they are",
                    missing.join(", ")
                );
            }
            versions
        }
        Err(e) => {
            eprintln!("zhenxing rollback: {e}; the lake still shows {current}");
            return exit::FAILED;
        }
    };
    if let Err(e) = lake::publish(&layout, &target) {
        eprintln!("zhenxing rollback: {e}; the lake still shows {current}");
        return exit::FAILED;
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let m = Manifest {
        run_id: lake::new_run_id(),
        started: now.clone(),
        ended: now,
        outcome: crate::lake::manifest::Outcome::Rollback,
        error: None,
        pipeline_hash: meta.pipeline_hash.clone(),
        basis: meta.basis.clone(),
        key_fingerprint: meta.key_fingerprint.clone(),
        version: Some(target.clone()),
        previous_version: Some(current.clone()),
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
    };
    if let Err(e) = write_manifest(&layout, &m) {
        eprintln!("zhenxing rollback: the lake now shows {target}, but the run record failed: {e}");
        return exit::FAILED;
    }
    println!(
        "zhenxing rollback: the lake now shows version {target} (was {current}); \
         the next run starts from it. Undo with: zhenxing rollback --to {current}"
    );
    // the indicator tables and the report follow the version now published;
    // reports of other years were made from another version: they go
    let reports = out.join("reports");
    let stale: Vec<String> = std::fs::read_dir(&reports)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    if !stale.is_empty() {
        if let Err(e) = std::fs::remove_dir_all(&reports) {
            eprintln!("zhenxing rollback: {}: {e}", reports.display());
            return exit::FAILED;
        }
        println!(
            "zhenxing rollback: removed the reports made from other versions ({}); `zhenxing report --period YEAR` makes any year again",
            stale.join(", ")
        );
    }
    let recomputed = super::load_definitions(&p)
        .map_err(|_| "the indicator definitions do not load".to_string())
        .and_then(|defs| super::indicators::stage_unless_current(&p, &defs, &out, Lang::En));
    match recomputed {
        Ok(Some(line)) => {
            println!("{line}");
            exit::CLEAN
        }
        Ok(None) => exit::CLEAN,
        Err(e) => {
            // never leave figures of the rolled-back version looking current
            let dir = crate::analysis::indicators::dir(&out);
            let _ = std::fs::remove_file(dir.join("_stamp.json"));
            eprintln!(
                "zhenxing rollback: the indicators could not be recomputed for {target} ({e}); \
                 OUT/indicators and OUT/reports still show {current}: run `zhenxing indicators`"
            );
            exit::FAILED
        }
    }
}
