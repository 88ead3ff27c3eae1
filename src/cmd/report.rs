//! `zhenxing report [--period P]`: the report folder of one period,
//! computed from the published lake and the indicator definitions.

use std::path::Path;

use crate::cmd::exit::{CommandError, Done, Outcome};

use crate::cmd::args::Where;

/// The flags of `zhenxing report`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The pipeline definition and output folder.
    #[command(flatten)]
    pub at: Where,
    /// The year to report (default: the latest year with data).
    #[arg(long)]
    pub period: Option<String>,
}

/// `zhenxing report` with its flags.
pub fn run(a: ReportArgs) -> Outcome {
    report(&a.at.p.pipeline, a.at.out.as_deref(), a.period.as_deref())
}

fn report(pipeline: &Path, out: Option<&Path>, period: Option<&str>) -> Outcome {
    crate::progress::enable(true);
    let (p, defs) = super::load_with_definitions(pipeline)?;
    let out = super::out_dir(&p, out);
    // a run publishing a new lake version meanwhile waits, or is waited for
    let _lock = super::lock_out(&p, &out)?;
    let c = crate::analysis::indicators::compute(&p, &defs, &out)
        .map_err(CommandError::failed)?
        .ok_or_else(|| super::no_lake(&out))?;
    let t0 = std::time::Instant::now();
    let dirs = crate::report::write_all(&p, &defs, &out, &c, period).map_err(|e| match e {
        crate::report::ReportError::NoPeriod(..) => CommandError::usage(e),
        e => CommandError::failed(e),
    })?;
    if dirs.is_empty() {
        return Err(CommandError::usage(
            "no indicator has a yearly or monthly period yet",
        ));
    }
    for d in dirs {
        println!(
            "report written to {} (indicators {:.2} s, report {:.2} s, lake version {})",
            d.display(),
            c.seconds,
            t0.elapsed().as_secs_f64(),
            c.lake_version
        );
    }
    Ok(Done::Clean)
}
