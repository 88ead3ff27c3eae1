//! `zhenxing indicators`: recompute the indicator tables (and reports) from
//! the published lake, without reading the inbox.

use std::path::Path;

use crate::cmd::exit;
use crate::lake::Layout;
use crate::validate::issue::Lang;

use crate::cmd::args::Where;
use std::path::PathBuf;

/// The flags of `zhenxing indicators`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct IndicatorsArgs {
    #[command(flatten)]
    pub at: Where,
    /// With `--out s3://bucket/prefix`: the local working folder (versions,
    /// segments, run manifests; default: the pipeline's `out`).
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Also write the report of the latest year.
    #[arg(long)]
    pub report: bool,
}

/// Computes indicators and income effects and writes the reports; prints
/// one line. Used by `run` after publishing and by `indicators`.
pub fn stage(
    p: &crate::config::Pipeline,
    defs: &crate::analysis::indicators::Definitions,
    out: &Path,
    reports: bool,
    lang: Lang,
) -> Result<Option<String>, String> {
    let Some(c) = crate::analysis::indicators::compute(p, defs, out).map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    crate::analysis::indicators::write_tables(p, defs, out, &c).map_err(|e| e.to_string())?;
    let dir = crate::analysis::indicators::dir(out);
    let delta = crate::lake::delta::publish_indicators(p, &Layout::new(out), &dir, &c.lake_version)
        .map_err(|e| e.to_string())?;
    let mut line = match lang {
        Lang::Zh => format!(
            "指标：由湖版本 {} 算得 {} 个指标 {} 行、收入效应 {} 行，用时 {:.2} 秒（写入 {}）",
            c.lake_version,
            defs.indicators.len(),
            c.row_count,
            c.effects.len(),
            c.seconds,
            dir.display()
        ),
        Lang::En => format!(
            "indicators: {} rows of {} indicators, {} income-effect rows from lake version {} in {:.2} s (written to {})",
            c.row_count,
            defs.indicators.len(),
            c.effects.len(),
            c.lake_version,
            c.seconds,
            dir.display()
        ),
    };
    if !delta.is_empty() {
        let versions = delta
            .iter()
            .map(|(t, v)| format!("{t} v{v}"))
            .collect::<Vec<_>>()
            .join(", ");
        line.push_str(&match lang {
            Lang::Zh => format!("；Delta 表：{versions}"),
            Lang::En => format!("; Delta tables: {versions}"),
        });
    }
    for w in &c.warnings {
        let tag = if lang == Lang::Zh {
            "注意"
        } else {
            "warning"
        };
        line.push_str(&format!("\n  {tag}: {w}"));
    }
    if reports {
        let t0 = std::time::Instant::now();
        let written =
            crate::report::write_all(p, defs, out, &c, None).map_err(|e| e.to_string())?;
        let dirs = written
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let secs = t0.elapsed().as_secs_f64();
        line.push_str(&match lang {
            Lang::Zh => format!("；报表：{dirs}，用时 {secs:.2} 秒"),
            Lang::En => format!("; reports: {dirs} in {secs:.2} s"),
        });
    }
    Ok(Some(line))
}

/// The stage as `run` calls it: under the run lock, skipped when the lake
/// version and the definitions are the ones the tables were made from.
pub fn stage_locked(
    p: &crate::config::Pipeline,
    defs: &crate::analysis::indicators::Definitions,
    out: &Path,
    wait: std::time::Duration,
    lang: Lang,
) -> Result<Option<String>, String> {
    let layout = Layout::new(out);
    let _lock =
        crate::lake::lock::RunLock::acquire(&layout.lock(), wait).map_err(|e| e.to_string())?;
    stage_unless_current(p, defs, out, lang)
}

/// The stage, skipped when the tables were made from the published lake
/// version and these definitions. The caller holds the run lock.
pub fn stage_unless_current(
    p: &crate::config::Pipeline,
    defs: &crate::analysis::indicators::Definitions,
    out: &Path,
    lang: Lang,
) -> Result<Option<String>, String> {
    let layout = Layout::new(out);
    let Some(version) = layout.current() else {
        return Ok(None);
    };
    if up_to_date(p, defs, out) == Some(true) {
        return Ok(Some(match lang {
            Lang::Zh => format!("指标：已是湖版本 {version} 和当前定义的结果（未重新计算）"),
            Lang::En => format!(
                "indicators: up to date for lake version {version} and these definitions (nothing recomputed)"
            ),
        }));
    }
    let line = stage(p, defs, out, true, lang)?;
    write_stamp(p, defs, out)?;
    Ok(line)
}

/// Records that the indicator tables and reports were made from the
/// published version and these definitions (what [`up_to_date`] reads).
fn write_stamp(
    p: &crate::config::Pipeline,
    defs: &crate::analysis::indicators::Definitions,
    out: &Path,
) -> Result<(), String> {
    let Some(version) = Layout::new(out).current() else {
        return Ok(());
    };
    let stamp = crate::analysis::indicators::stamp(p, defs, &version);
    let path = crate::analysis::indicators::dir(out).join("_stamp.json");
    crate::report::write_atomic(&path, stamp.as_bytes()).map_err(|e| e.to_string())
}

/// Whether the indicator tables and reports were made from the published
/// lake version and these definitions (`None`: no lake is published). A
/// run stopped during the indicator stage leaves them stale.
pub fn up_to_date(
    p: &crate::config::Pipeline,
    defs: &crate::analysis::indicators::Definitions,
    out: &Path,
) -> Option<bool> {
    let version = Layout::new(out).current()?;
    let stamp = crate::analysis::indicators::stamp(p, defs, &version);
    let dir = crate::analysis::indicators::dir(out);
    Some(
        std::fs::read_to_string(dir.join("_stamp.json")).is_ok_and(|s| s == stamp)
            && ["indicators.parquet", "income_effects.parquet"]
                .iter()
                .all(|f| dir.join(f).is_file())
            && out.join("reports").is_dir(),
    )
}

/// `zhenxing indicators` with its flags.
pub fn run(a: IndicatorsArgs) -> i32 {
    indicators(
        &a.at.p.pipeline,
        a.at.out.as_deref(),
        a.work.as_deref(),
        a.report,
    )
}

fn indicators(pipeline: &Path, out: Option<&Path>, work: Option<&Path>, reports: bool) -> i32 {
    crate::progress::enable(true);
    let (mut p, defs) = match super::load_with_definitions(pipeline) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let out = match super::resolve_out(&mut p, out, work, "indicators") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let _lock = match super::lock_out(&p, &out, "indicators") {
        Ok(l) => l,
        Err(code) => return code,
    };
    match stage(&p, &defs, &out, reports, Lang::En) {
        // with the reports made too, the stage is up to date
        Ok(Some(line)) => {
            println!("{line}");
            let stamped = if reports {
                write_stamp(&p, &defs, &out)
            } else {
                Ok(())
            };
            if let Err(e) = stamped {
                eprintln!("zhenxing indicators: {e}");
                return exit::FAILED;
            }
            exit::CLEAN
        }
        Ok(None) => {
            eprintln!(
                "zhenxing indicators: {} has no published lake; run `zhenxing run` first",
                out.display()
            );
            exit::USAGE
        }
        Err(e) => {
            eprintln!("zhenxing indicators: {e}");
            exit::FAILED
        }
    }
}
