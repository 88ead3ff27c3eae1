//! The commands: thin layers from flags to one stage and its outcome.
//! `cli` parses the arguments; one module per subcommand exposes
//! `run(args) -> Outcome` (a [`exit::Done`] or a [`exit::CommandError`]);
//! `exit` holds the codes and prints an error in one place.

pub mod args;
pub mod check;
pub mod cli;
pub mod docs;
pub mod exit;
pub mod explain;
pub mod feedback;
pub mod indicators;
pub mod query;
pub mod report;
pub mod rollback;
pub mod run;
pub mod status;
pub mod synth;
pub mod template;
pub mod validate;

use std::path::Path;

use crate::cmd::exit::CommandError;
use crate::config::Pipeline;
use crate::worker::Isolation;

/// The published lake's values of each template with a rule across
/// periods, loaded once per template: what a checked file is compared
/// with (see [`crate::validate::plausible`]).
pub(crate) struct PreviousValues<'p> {
    p: &'p Pipeline,
    layout: crate::lake::Layout,
    loaded: std::collections::HashMap<String, Vec<crate::validate::plausible::Obs>>,
}

impl<'p> PreviousValues<'p> {
    pub fn new(p: &'p Pipeline, out: &Path) -> Self {
        PreviousValues {
            p,
            layout: crate::lake::Layout::new(out),
            loaded: Default::default(),
        }
    }

    /// Adds the warnings of a checked file against the published lake (a
    /// lake that cannot be read adds none: the check is advice).
    pub fn check(&mut self, res: &mut crate::validate::FileResult) {
        let Some(src) = res.template.as_deref().and_then(|t| self.p.source(t)) else {
            return;
        };
        if crate::validate::plausible::ruled_fields(src).is_empty() || res.failed() {
            return;
        }
        let reference = self.loaded.entry(src.id.clone()).or_insert_with(|| {
            crate::lake::quality::published_observations(&self.layout, src).unwrap_or_default()
        });
        let name = res.name.clone();
        crate::validate::plausible::check_file(src, res, &name, reference);
    }
}

/// Loads the pipeline; its problems, every one with file and line, are
/// a usage error.
pub(crate) fn load_pipeline(path: &Path) -> Result<Pipeline, CommandError> {
    crate::config::load(path).map_err(CommandError::usage)
}

/// The worker isolation the pipeline asks for, re-invoking this binary.
pub(crate) fn isolation(p: &Pipeline, isolate: bool) -> Isolation {
    if !isolate || !p.limits.isolate {
        return Isolation::in_process();
    }
    match std::env::current_exe() {
        Ok(exe) => Isolation {
            exe: Some(exe),
            memory_mb: p.limits.worker_memory_mb,
            timeout: std::time::Duration::from_secs(p.limits.worker_timeout_s),
            files_per_worker: p.limits.worker_files,
            pool: Default::default(),
        },
        Err(_) => Isolation::in_process(),
    }
}

/// Loads the indicator definitions named by the pipeline; their problems
/// are a usage error.
pub(crate) fn load_definitions(
    p: &Pipeline,
) -> Result<crate::analysis::indicators::Definitions, CommandError> {
    let datasets: Vec<String> = p.sources.iter().map(|s| s.dataset.clone()).collect();
    crate::analysis::indicators::defs::load(&p.indicators, &datasets).map_err(CommandError::usage)
}

/// The pipeline and its indicator definitions.
pub(crate) fn load_with_definitions(
    path: &Path,
) -> Result<(Pipeline, crate::analysis::indicators::Definitions), CommandError> {
    let p = load_pipeline(path)?;
    let d = load_definitions(&p)?;
    Ok((p, d))
}

/// The output folder: the flag, else the pipeline's.
/// The local output folder of `run`, `rollback`, `status` and
/// `indicators`. `--out s3://bucket/prefix` (any `scheme://`) puts the
/// Delta tables there, and the folder is `--work` (else the pipeline's
/// `out`); `--work` with a folder `--out` is a usage error.
pub(crate) fn resolve_out(
    p: &mut Pipeline,
    out: Option<&Path>,
    work: Option<&Path>,
) -> Result<std::path::PathBuf, CommandError> {
    match out.map(|o| o.to_string_lossy().to_string()) {
        Some(url) if url.contains("://") => {
            p.lake.format = crate::config::LakeFormat::Delta;
            p.lake.delta_root = Some(url);
            Ok(work.map(Path::to_path_buf).unwrap_or_else(|| p.out.clone()))
        }
        _ if work.is_some() => Err(CommandError::usage(
            "--work goes with an --out URL (s3://bucket/prefix)",
        )),
        _ => Ok(out_dir(p, out)),
    }
}

/// The output folder: the flag, else the pipeline's.
pub fn out_dir(p: &Pipeline, out: Option<&Path>) -> std::path::PathBuf {
    out.map(Path::to_path_buf).unwrap_or_else(|| p.out.clone())
}

/// The usage error of a command that needs a published lake in `out`.
pub(crate) fn no_lake(out: &Path) -> CommandError {
    CommandError::usage(format!(
        "{} has no published lake; run `zhenxing run` first",
        out.display()
    ))
}

/// Takes the run lock of a published lake in `out` (waiting the
/// pipeline's `lock_wait_s`). No lake is a usage error, a lock that is not
/// had a failure. Nothing is created in an `out` that holds no lake.
pub(crate) fn lock_out(
    p: &Pipeline,
    out: &Path,
) -> Result<crate::lake::lock::RunLock, CommandError> {
    let layout = crate::lake::Layout::new(out);
    if layout.current().is_none() {
        return Err(no_lake(out));
    }
    let wait = std::time::Duration::from_secs(p.lake.lock_wait_s);
    crate::lake::lock::RunLock::acquire(&layout.lock(), wait).map_err(CommandError::failed)
}
