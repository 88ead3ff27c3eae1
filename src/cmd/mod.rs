//! One module per subcommand; each exposes `run(...) -> exit code`.

pub mod check;
pub mod rollback;
pub mod run;
pub mod status;
pub mod synth;
pub mod validate;

use std::path::Path;

use crate::config::Pipeline;
use crate::worker::Isolation;

/// Loads the pipeline or prints every problem; `Err` carries the exit code.
pub fn load_pipeline(path: &Path) -> Result<Pipeline, i32> {
    crate::config::load(path).map_err(|e| {
        eprint!("{e}");
        crate::cli::exit::USAGE
    })
}

/// The worker isolation the pipeline asks for, re-invoking this binary.
pub fn isolation(p: &Pipeline, isolate: bool) -> Isolation {
    if !isolate || !p.limits.isolate {
        return Isolation::in_process();
    }
    match std::env::current_exe() {
        Ok(exe) => Isolation {
            exe: Some(exe),
            memory_mb: p.limits.worker_memory_mb,
            timeout: std::time::Duration::from_secs(p.limits.worker_timeout_s),
        },
        Err(_) => Isolation::in_process(),
    }
}
