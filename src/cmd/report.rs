//! `zhenxing report [--period P]`: the report folder of one period,
//! computed from the published lake and the indicator definitions.

use std::path::Path;

use crate::cmd::exit;

use crate::cmd::args::Where;

/// The flags of `zhenxing report`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub at: Where,
    /// The year to report (default: the latest year with data).
    #[arg(long)]
    pub period: Option<String>,
}

/// `zhenxing report` with its flags.
pub fn run(a: ReportArgs) -> i32 {
    report(&a.at.p.pipeline, a.at.out.as_deref(), a.period.as_deref())
}

fn report(pipeline: &Path, out: Option<&Path>, period: Option<&str>) -> i32 {
    crate::progress::enable(true);
    let (p, defs) = match super::load_with_definitions(pipeline) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let out = super::out_dir(&p, out);
    // a run publishing a new lake version meanwhile waits, or is waited for
    let _lock = match super::lock_out(&p, &out, "report") {
        Ok(l) => l,
        Err(code) => return code,
    };
    let c = match crate::analysis::indicators::compute(&p, &defs, &out) {
        Ok(Some(c)) => c,
        Ok(None) => {
            eprintln!(
                "zhenxing report: {} has no published lake; run `zhenxing run` first",
                out.display()
            );
            return exit::USAGE;
        }
        Err(e) => {
            eprintln!("zhenxing report: {e}");
            return exit::FAILED;
        }
    };
    let t0 = std::time::Instant::now();
    match crate::report::write_all(&p, &defs, &out, &c, period) {
        Ok(dirs) if dirs.is_empty() => {
            eprintln!("zhenxing report: no indicator has a yearly or monthly period yet");
            exit::USAGE
        }
        Ok(dirs) => {
            for d in dirs {
                println!(
                    "report written to {} (indicators {:.2} s, report {:.2} s, lake version {})",
                    d.display(),
                    c.seconds,
                    t0.elapsed().as_secs_f64(),
                    c.lake_version
                );
            }
            exit::CLEAN
        }
        Err(e @ crate::report::ReportError::NoPeriod(..)) => {
            eprintln!("zhenxing report: {e}");
            exit::USAGE
        }
        Err(e) => {
            eprintln!("zhenxing report: {e}");
            exit::FAILED
        }
    }
}
