//! `zhenxing status [--as-of DATE] [--json]`: who has reported what.
//!
//! For every county of the registry and every template, the latest period
//! in the published lake, whether the county is up to date for the
//! template's reporting frequency, and which periods are missing; then the
//! last runs and their outcome. Reads only the lake's own records (the
//! version ledger, the villages dataset and the run manifests), never a
//! spreadsheet.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;

use crate::cmd::exit::{CommandError, Done, Outcome};
use crate::lake::submissions::{cells, standing, Cell};
use crate::lake::Layout;

use crate::cmd::args::Where;
use std::path::PathBuf;

/// The flags of `zhenxing status`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The pipeline definition and output folder.
    #[command(flatten)]
    pub at: Where,
    /// With `--out s3://bucket/prefix`: the local working folder (versions,
    /// segments, run manifests; default: the pipeline's `out`).
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Judge due dates as of this day (YYYY-MM-DD; default today).
    #[arg(long)]
    pub as_of: Option<chrono::NaiveDate>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// How many recent runs to list.
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Header drift instead: per county and template, what changed in
    /// the headers of the latest submission against the one before.
    #[arg(long)]
    pub headers: bool,
    /// The reporting scorecard instead: per county and period, on-time
    /// submissions, rows returned and the most frequent reasons.
    #[arg(long, conflicts_with = "headers")]
    pub scorecard: bool,
    /// One county only (its name as in the registry, e.g. 如皋市).
    #[arg(long)]
    pub county: Option<String>,
    /// With --county: a few lines in Chinese to paste into a message.
    #[arg(long, requires = "county", conflicts_with_all = ["json", "headers", "scorecard"])]
    pub text: bool,
}

/// `2022, 2023, 2024-01…2024-06` style: consecutive months shortened.
fn compact(missing: &[String]) -> String {
    if missing.len() <= 4 {
        return missing.join(", ");
    }
    format!(
        "{} … {} ({} periods)",
        missing[0],
        missing[missing.len() - 1],
        missing.len()
    )
}

/// What `status` shows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum View {
    /// Submissions per county and template, the lake, the last runs.
    Overview,
    /// Header drift (`--headers`).
    Headers,
    /// The reporting scorecard (`--scorecard`).
    Scorecard,
    /// One county in a few Chinese lines (`--county NAME --text`).
    CountyText,
}

pub(crate) struct StatusOptions {
    pub as_of: Option<NaiveDate>,
    pub json: bool,
    pub runs: usize,
    pub view: View,
    /// Only this county (`--county`).
    pub county: Option<String>,
}

/// `zhenxing status` with its flags.
pub fn run(a: StatusArgs) -> Outcome {
    let view = if a.headers {
        View::Headers
    } else if a.scorecard {
        View::Scorecard
    } else if a.text {
        View::CountyText
    } else {
        View::Overview
    };
    let o = StatusOptions {
        as_of: a.as_of,
        json: a.json,
        runs: a.runs,
        view,
        county: a.county,
    };
    status(&a.at.p.pipeline, a.at.out.as_deref(), a.work.as_deref(), o)
}

fn status(pipeline: &Path, out: Option<&Path>, work: Option<&Path>, o: StatusOptions) -> Outcome {
    let StatusOptions {
        as_of,
        json,
        runs,
        view,
        county,
    } = o;
    let mut p = super::load_pipeline(pipeline)?;
    let out = super::resolve_out(&mut p, out, work)?;
    let layout = Layout::new(&out);
    let as_of = as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
    if let Some(c) = &county {
        let known = crate::lake::submissions::counties(&layout);
        if !known.contains(c) {
            return Err(CommandError::usage(format!(
                "no county {c} in the registry of the published lake; counties: {}",
                known.join(", ")
            )));
        }
    }
    match view {
        View::Headers => super::feedback::headers(&p, &layout, json, county.as_deref()),
        View::Scorecard => super::feedback::scorecard(&p, &layout, as_of, json, county.as_deref()),
        View::CountyText => {
            let c = county.unwrap_or_default();
            super::feedback::county_text(&p, &layout, &out, as_of, &c)
        }
        View::Overview => {
            let o = Overview::read(&p, layout, &out, as_of, runs, county.as_deref());
            if json {
                o.print_json();
            } else {
                o.print();
            }
            Ok(Done::Clean)
        }
    }
}

/// What the overview shows: the submissions per county and template, the
/// last runs, the Delta tables, and whether the indicators are current.
struct Overview<'p> {
    p: &'p crate::config::Pipeline,
    layout: Layout,
    as_of: chrono::NaiveDate,
    cells: Vec<Cell>,
    runs: Vec<crate::lake::nightly::RunSummary>,
    delta: Option<crate::lake::delta::DeltaState>,
    indicators_current: Option<bool>,
}

impl<'p> Overview<'p> {
    fn read(
        p: &'p crate::config::Pipeline,
        layout: Layout,
        out: &Path,
        as_of: chrono::NaiveDate,
        runs: usize,
        county: Option<&str>,
    ) -> Overview<'p> {
        let mut cells = cells(p, &layout, as_of);
        if let Some(c) = county {
            cells.retain(|x| x.county == c);
        }
        // summaries only: a nation's manifests list 120,000 files each
        let mut all = crate::lake::nightly::read_run_summaries(&layout);
        let runs: Vec<_> = all.drain(..).rev().take(runs).collect();
        // the Delta tables as the last commit, restore or rollback left them
        let delta = crate::lake::delta::DeltaState::read(&layout).ok().flatten();
        // whether the indicators and reports follow the published version (a
        // run stopped in its indicator stage leaves them behind)
        let datasets: Vec<String> = p.sources.iter().map(|s| s.dataset.clone()).collect();
        let indicators_current = crate::analysis::indicators::defs::load(&p.indicators, &datasets)
            .ok()
            .and_then(|defs| super::indicators::up_to_date(p, &defs, out));
        Overview {
            p,
            layout,
            as_of,
            cells,
            runs,
            delta,
            indicators_current,
        }
    }

    /// The rollback that made the live version live again, if the last
    /// run that changed what is live was one.
    fn live_by_rollback(&self) -> Option<&crate::lake::nightly::RunSummary> {
        use crate::lake::manifest::Outcome;
        let live = self.layout.current()?;
        let newest = self
            .runs
            .iter()
            .find(|m| matches!(m.outcome, Outcome::Published | Outcome::Rollback))?;
        (newest.outcome == Outcome::Rollback && newest.version.as_deref() == Some(live.as_str()))
            .then_some(newest)
    }

    fn print_json(&self) {
        let runs_json: Vec<serde_json::Value> = self
            .runs
            .iter()
            .map(|m| {
                serde_json::json!({
                    "run_id": m.run_id, "started": m.started, "ended": m.ended,
                    "outcome": m.outcome, "version": m.version, "exit_code": m.exit_code,
                    "files": m.n_files, "files_read_this_run": m.files_read_this_run,
                    "rows_read": m.totals.read, "rows_rejected": m.totals.rejected,
                    "warnings": m.warnings,
                    "delta": m.delta,
                    "error": m.error,
                })
            })
            .collect();
        let v = serde_json::json!({
            "as_of": self.as_of.to_string(),
            "version": self.layout.current(),
            "live_by_rollback": self.live_by_rollback().map(|m| &m.run_id),
            "lake": standing(&self.layout),
            "delta": self.delta,
            "indicators_current": self.indicators_current,
            "submissions": self.cells,
            "runs": runs_json,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }

    fn print(&self) {
        let (p, layout) = (self.p, &self.layout);
        println!(
            "zhenxing status as of {} (a period is due {} days after it ends); lake version {}",
            self.as_of,
            p.lake.due_days,
            layout.current().as_deref().unwrap_or("(none)")
        );
        if let Some(rb) = self.live_by_rollback() {
            println!(
                "the live version was published again by rollback {} ({}); newer versions are kept until they age out",
                rb.run_id, rb.ended
            );
        }
        if let Some(st) = standing(layout) {
            println!(
                "in the lake now: {} rows in rejects ({} rejected rows, {} unusable files), {} rows in warnings (kept rows and files to check: zhenxing query \"SELECT * FROM warnings\")",
                st.rejects, st.rejected_rows, st.failed_files, st.warnings
            );
        }
        if self.indicators_current == Some(false) {
            println!(
                "指标和报告不是当前湖版本的结果（上次计算未完成或定义已改），请运行 zhenxing indicators\n\
                 the indicators and reports are STALE: they were not made from lake version {} and these definitions (a run stopped during the indicator stage, or the definitions changed); run zhenxing indicators",
                layout.current().as_deref().unwrap_or("-")
            );
        }
        if let Some(d) = &self.delta {
            let v: Vec<String> = d
                .tables
                .iter()
                .map(|(t, s)| format!("{t} v{}", s.version))
                .collect();
            println!("Delta tables at {}: {}", d.root, v.join(", "));
        }
        println!(
            "states: ok = up to date; gaps = up to date, earlier periods missing; overdue = the latest due period is missing; never = nothing received"
        );
        self.print_submissions();
        println!("\nlast runs:");
        for m in &self.runs {
            println!(
                "  {}  {:<9} exit {}  {} files ({} read), rows read {}, rejected {}, warnings {}{}",
                m.run_id,
                m.outcome,
                m.exit_code,
                m.n_files,
                m.files_read_this_run,
                m.totals.read,
                m.totals.rejected,
                m.warnings,
                m.error
                    .as_deref()
                    .map(|e| format!("  error: {e}"))
                    .unwrap_or_default()
            );
        }
    }

    /// Per template, each county's state, latest period and missing ones.
    fn print_submissions(&self) {
        let mut by_template: BTreeMap<&str, Vec<&Cell>> = BTreeMap::new();
        for c in &self.cells {
            by_template.entry(c.template.as_str()).or_default().push(c);
        }
        for (t, cs) in by_template {
            let src = self.p.source(t);
            println!(
                "\n{t} {} ({}, {}; expected up to {})",
                src.map(|s| s.title.as_str()).unwrap_or(""),
                cs[0].dataset,
                cs[0].frequency,
                cs[0].expected.as_deref().unwrap_or("-")
            );
            for c in cs {
                println!(
                    "  {:<8} {:<9} latest {:<8} {}",
                    c.county,
                    c.state,
                    c.latest.as_deref().unwrap_or("-"),
                    if c.missing.is_empty() {
                        String::new()
                    } else {
                        format!("missing {}", compact(&c.missing))
                    }
                );
            }
        }
    }
}
