//! `zhenxing indicators`: recompute the indicator tables (and reports) from
//! the published lake, without reading the inbox.

use std::path::Path;

use crate::cmd::exit::{CommandError, Done, Outcome};
use crate::lake::Layout;
use crate::validate::issue::Lang;

use crate::cmd::args::Where;
use std::path::PathBuf;

/// The flags of `zhenxing indicators`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct IndicatorsArgs {
    /// The pipeline definition and output folder.
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

/// Why the indicator stage stopped: the step, with the error under it.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The run lock could not be had.
    #[error("the run lock")]
    Lock(#[source] crate::lake::lock::LockError),
    /// The indicators or income effects could not be computed or written.
    #[error("the indicator tables")]
    Tables(#[source] crate::analysis::indicators::IndicatorError),
    /// The indicator Delta tables could not be committed.
    #[error("the indicator Delta tables")]
    Delta(#[source] crate::lake::LakeError),
    /// The reports, or the stamp that says they are current, could not
    /// be written.
    #[error("the reports")]
    Reports(#[source] crate::report::ReportError),
}

/// Computes indicators and income effects and writes the reports; prints
/// one line. Used by `run` after publishing and by `indicators`.
pub fn stage(
    p: &crate::config::Pipeline,
    defs: &crate::analysis::indicators::Definitions,
    out: &Path,
    reports: bool,
    lang: Lang,
) -> Result<Option<String>, StageError> {
    let Some(c) = crate::analysis::indicators::compute(p, defs, out).map_err(StageError::Tables)?
    else {
        return Ok(None);
    };
    crate::analysis::indicators::write_tables(p, defs, out, &c).map_err(StageError::Tables)?;
    let dir = crate::analysis::indicators::dir(out);
    let delta = crate::lake::delta::publish_indicators(p, &Layout::new(out), &dir, &c.lake_version)
        .map_err(StageError::Delta)?;
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
            crate::report::write_all(p, defs, out, &c, None).map_err(StageError::Reports)?;
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
pub(crate) fn stage_locked(
    p: &crate::config::Pipeline,
    defs: &crate::analysis::indicators::Definitions,
    out: &Path,
    wait: std::time::Duration,
    lang: Lang,
) -> Result<Option<String>, StageError> {
    let layout = Layout::new(out);
    let _lock =
        crate::lake::lock::RunLock::acquire(&layout.lock(), wait).map_err(StageError::Lock)?;
    stage_unless_current(p, defs, out, lang)
}

/// The stage, skipped when the tables were made from the published lake
/// version and these definitions. The caller holds the run lock.
pub(crate) fn stage_unless_current(
    p: &crate::config::Pipeline,
    defs: &crate::analysis::indicators::Definitions,
    out: &Path,
    lang: Lang,
) -> Result<Option<String>, StageError> {
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
) -> Result<(), StageError> {
    let Some(version) = Layout::new(out).current() else {
        return Ok(());
    };
    let stamp = crate::analysis::indicators::stamp(p, defs, &version);
    let path = crate::analysis::indicators::dir(out).join("_stamp.json");
    crate::report::write_atomic(&path, stamp.as_bytes()).map_err(StageError::Reports)
}

/// Whether the indicator tables and reports were made from the published
/// lake version and these definitions (`None`: no lake is published). A
/// run stopped during the indicator stage leaves them stale.
pub(crate) fn up_to_date(
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
pub fn run(a: IndicatorsArgs) -> Outcome {
    indicators(
        &a.at.p.pipeline,
        a.at.out.as_deref(),
        a.work.as_deref(),
        a.report,
    )
}

fn indicators(pipeline: &Path, out: Option<&Path>, work: Option<&Path>, reports: bool) -> Outcome {
    crate::progress::enable(true);
    let (mut p, defs) = super::load_with_definitions(pipeline)?;
    let out = super::resolve_out(&mut p, out, work)?;
    let _lock = super::lock_out(&p, &out)?;
    let Some(line) = stage(&p, &defs, &out, reports, Lang::En).map_err(CommandError::failed)?
    else {
        return Err(super::no_lake(&out));
    };
    println!("{line}");
    // with the reports made too, the stage is up to date
    if reports {
        write_stamp(&p, &defs, &out).map_err(CommandError::failed)?;
    }
    Ok(Done::Clean)
}
