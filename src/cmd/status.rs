//! `zhenxing status [--as-of DATE] [--json]`: who has reported what.
//!
//! For every county of the registry and every template, the latest period
//! in the published lake, whether the county is up to date for the
//! template's reporting frequency, and which periods are missing; then the
//! last runs and their outcome. Reads only the lake's own records (the
//! version ledger, the villages dataset and the run manifests), never a
//! spreadsheet.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::cmd::exit;
use crate::config::{Frequency, Pipeline};
use crate::lake::Layout;

#[derive(Debug, Serialize)]
pub struct Cell {
    pub county: String,
    pub template: String,
    pub dataset: String,
    pub frequency: String,
    pub latest: Option<String>,
    /// The latest period that should have arrived by the as-of date.
    pub expected: Option<String>,
    /// `ok`, `gaps` (up to date, but earlier periods are missing),
    /// `overdue`, `never` (nothing received) or `register` (no cadence).
    pub state: String,
    pub missing: Vec<String>,
}

/// A period as the ingest names it: `2024`, `2024-06` or `2024-Q2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Period {
    Year(i32),
    Quarter(i32, u32),
    Month(i32, u32),
}

impl Period {
    fn parse(s: &str) -> Option<Period> {
        if let Some((y, q)) = s.split_once("-Q") {
            return Some(Period::Quarter(y.parse().ok()?, q.parse().ok()?));
        }
        if let Some((y, m)) = s.split_once('-') {
            return Some(Period::Month(y.parse().ok()?, m.parse().ok()?));
        }
        Some(Period::Year(s.parse().ok()?))
    }

    fn label(self) -> String {
        match self {
            Period::Year(y) => format!("{y}"),
            Period::Quarter(y, q) => format!("{y}-Q{q}"),
            Period::Month(y, m) => format!("{y}-{m:02}"),
        }
    }

    /// Month index, for ordering periods of one frequency.
    fn end_month(self) -> i32 {
        match self {
            Period::Year(y) => y * 12 + 11,
            Period::Quarter(y, q) => y * 12 + (q as i32) * 3 - 1,
            Period::Month(y, m) => y * 12 + m as i32 - 1,
        }
    }

    fn next(self) -> Period {
        match self {
            Period::Year(y) => Period::Year(y + 1),
            Period::Quarter(y, 4) => Period::Quarter(y + 1, 1),
            Period::Quarter(y, q) => Period::Quarter(y, q + 1),
            Period::Month(y, 12) => Period::Month(y + 1, 1),
            Period::Month(y, m) => Period::Month(y, m + 1),
        }
    }

    /// A month-granular period read as this frequency (a December
    /// snapshot of a yearly template counts for its year).
    fn as_frequency(self, f: Frequency) -> Period {
        let (y, m0) = (self.end_month() / 12, self.end_month() % 12);
        match f {
            Frequency::Yearly => Period::Year(y),
            Frequency::Quarterly => Period::Quarter(y, (m0 / 3 + 1) as u32),
            _ => Period::Month(y, (m0 + 1) as u32),
        }
    }
}

/// The latest period of frequency `f` that is due by `as_of`: a period is
/// due `due_days` after its last day.
fn expected(f: Frequency, as_of: NaiveDate, due_days: i64) -> Option<Period> {
    let d = as_of - chrono::Duration::days(due_days);
    let (y, m) = (d.year(), d.month());
    // the latest period that has ended on or before `d`
    let last_day_of = |p: Period| {
        let em = p.end_month() + 1;
        NaiveDate::from_ymd_opt(em / 12, (em % 12) as u32 + 1, 1).map(|x| x.pred_opt().unwrap_or(x))
    };
    let candidate = match f {
        Frequency::Monthly => Period::Month(y, m),
        Frequency::Quarterly => Period::Quarter(y, (m - 1) / 3 + 1),
        Frequency::Yearly => Period::Year(y),
        Frequency::Roster => return None,
    };
    let mut p = candidate;
    for _ in 0..3 {
        if last_day_of(p).is_some_and(|end| end <= d) {
            return Some(p);
        }
        p = match p {
            Period::Year(y) => Period::Year(y - 1),
            Period::Quarter(y, 1) => Period::Quarter(y - 1, 4),
            Period::Quarter(y, q) => Period::Quarter(y, q - 1),
            Period::Month(y, 1) => Period::Month(y - 1, 12),
            Period::Month(y, m) => Period::Month(y, m - 1),
        };
    }
    Some(p)
}

fn freq_label(f: Frequency) -> &'static str {
    match f {
        Frequency::Monthly => "monthly",
        Frequency::Quarterly => "quarterly",
        Frequency::Yearly => "yearly",
        Frequency::Roster => "register",
    }
}

/// Counties of the published registry (the villages dataset).
fn counties(layout: &Layout) -> Vec<String> {
    let Some(v) = layout.current() else {
        return Vec::new();
    };
    let mut set = BTreeSet::new();
    let root = layout.versions().join(v).join("villages");
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(df) = crate::lake::read_parquet(&p) {
                if let Ok(c) = df.column("county").and_then(|c| c.str().cloned()) {
                    set.extend(c.iter().flatten().map(str::to_string));
                }
            }
        }
    }
    set.into_iter().collect()
}

pub fn cells(p: &Pipeline, layout: &Layout, as_of: NaiveDate) -> Vec<Cell> {
    let meta = layout.current().and_then(|v| layout.version_meta(&v).ok());
    // received periods per (template, county)
    let mut got: BTreeMap<(String, String), BTreeSet<Period>> = BTreeMap::new();
    if let Some(m) = &meta {
        for f in m
            .files
            .iter()
            .filter(|f| f.status != crate::lake::FileStatus::Failed)
        {
            if let (Some(t), Some(c)) = (&f.template, &f.county) {
                let e = got.entry((t.clone(), c.clone())).or_default();
                if let Some(per) = f.period.as_deref().and_then(Period::parse) {
                    e.insert(per);
                }
            }
        }
    }
    let mut out = Vec::new();
    let all_counties = counties(layout);
    for src in p.sources.iter().filter(|s| s.dataset != "villages") {
        let f = src.frequency;
        let exp = expected(f, as_of, p.lake.due_days);
        // the first period anyone reported starts the expected series
        let first = got
            .iter()
            .filter(|((t, _), _)| *t == src.id)
            .flat_map(|(_, ps)| ps.iter().map(|x| x.as_frequency(f)))
            .min();
        for county in all_counties.iter().cloned() {
            let periods: BTreeSet<Period> = got
                .get(&(src.id.clone(), county.clone()))
                .map(|ps| ps.iter().map(|x| x.as_frequency(f)).collect())
                .unwrap_or_default();
            let received = got.contains_key(&(src.id.clone(), county.clone()));
            let latest = periods.iter().max().copied();
            let mut missing = Vec::new();
            if let (Some(mut per), Some(e)) = (first, exp) {
                while per <= e && missing.len() < 240 {
                    if !periods.contains(&per) {
                        missing.push(per.label());
                    }
                    per = per.next();
                }
            }
            let state = if f == Frequency::Roster {
                if received {
                    "register"
                } else {
                    "never"
                }
            } else if !received {
                "never"
            } else if exp.is_some_and(|e| latest.is_none_or(|l| l < e)) {
                "overdue"
            } else if !missing.is_empty() {
                "gaps"
            } else {
                "ok"
            };
            out.push(Cell {
                county,
                template: src.id.clone(),
                dataset: src.dataset.clone(),
                frequency: freq_label(f).into(),
                latest: latest.map(Period::label),
                expected: exp.map(Period::label),
                state: state.into(),
                missing,
            });
        }
    }
    out
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

/// What the published version holds that deserves a look: the rows of
/// `rejects` (rejected rows and unusable files) and of `warnings`.
#[derive(Debug, Serialize)]
pub struct Standing {
    pub version: String,
    /// Rows of the `rejects` table.
    pub rejects: usize,
    pub rejected_rows: usize,
    pub failed_files: usize,
    /// Rows of the `warnings` table.
    pub warnings: usize,
}

pub fn standing(layout: &Layout) -> Option<Standing> {
    let v = layout.current()?;
    let m = layout.version_meta(&v).ok()?;
    let in_lake = || {
        m.files
            .iter()
            .filter(|f| f.status != crate::lake::FileStatus::Superseded)
    };
    Some(Standing {
        version: v.clone(),
        rejects: m.rejects,
        rejected_rows: in_lake().map(|f| f.counts.rejected).sum(),
        failed_files: in_lake()
            .filter(|f| f.status == crate::lake::FileStatus::Failed)
            .count(),
        warnings: m.warnings,
    })
}

/// What `status` shows.
#[derive(Debug, Clone, PartialEq)]
pub enum View {
    /// Submissions per county and template, the lake, the last runs.
    Overview,
    /// Header drift (`--headers`).
    Headers,
}

pub struct StatusOptions {
    pub as_of: Option<NaiveDate>,
    pub json: bool,
    pub runs: usize,
    pub view: View,
}

pub fn run(pipeline: &Path, out: Option<&Path>, work: Option<&Path>, o: StatusOptions) -> i32 {
    let StatusOptions {
        as_of,
        json,
        runs,
        view,
    } = o;
    let mut p = match super::load_pipeline(pipeline) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let out = match super::resolve_out(&mut p, out, work, "status") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let layout = Layout::new(&out);
    if view == View::Headers {
        return super::feedback::headers(&p, &layout, json);
    }
    let as_of = as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
    let cells = cells(&p, &layout, as_of);
    // summaries only: a nation's manifests list 120,000 files each
    let manifests = crate::lake::nightly::read_run_summaries(&layout);
    let last: Vec<&crate::lake::nightly::RunSummary> = manifests.iter().rev().take(runs).collect();
    // the Delta tables as the last commit, restore or rollback left them
    let delta = crate::lake::delta::DeltaState::read(&layout).ok().flatten();
    if json {
        let runs_json: Vec<serde_json::Value> = last
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
            "as_of": as_of.to_string(),
            "version": layout.current(),
            "lake": standing(&layout),
            "delta": delta,
            "submissions": cells,
            "runs": runs_json,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return exit::CLEAN;
    }
    println!(
        "zhenxing status as of {as_of} (a period is due {} days after it ends); lake version {}",
        p.lake.due_days,
        layout.current().as_deref().unwrap_or("(none)")
    );
    if let Some(st) = standing(&layout) {
        println!(
            "in the lake now: {} rows in rejects ({} rejected rows, {} unusable files), {} rows in warnings (kept rows and files to check: zhenxing query \"SELECT * FROM warnings\")",
            st.rejects, st.rejected_rows, st.failed_files, st.warnings
        );
    }
    if let Some(d) = &delta {
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
    let mut by_template: BTreeMap<&str, Vec<&Cell>> = BTreeMap::new();
    for c in &cells {
        by_template.entry(c.template.as_str()).or_default().push(c);
    }
    for (t, cs) in by_template {
        let src = p.source(t);
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
    println!("\nlast runs:");
    for m in last {
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
    exit::CLEAN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_periods() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            expected(Frequency::Monthly, d("2026-11-25"), 15),
            Some(Period::Month(2026, 10))
        );
        assert_eq!(
            expected(Frequency::Monthly, d("2026-11-10"), 15),
            Some(Period::Month(2026, 9))
        );
        assert_eq!(
            expected(Frequency::Quarterly, d("2026-11-25"), 15),
            Some(Period::Quarter(2026, 3))
        );
        assert_eq!(
            expected(Frequency::Yearly, d("2026-11-25"), 15),
            Some(Period::Year(2025))
        );
        assert_eq!(
            expected(Frequency::Yearly, d("2026-01-10"), 15),
            Some(Period::Year(2024))
        );
        assert_eq!(expected(Frequency::Roster, d("2026-01-10"), 15), None);
        assert_eq!(
            Period::parse("2024-06").map(|p| p.as_frequency(Frequency::Yearly)),
            Some(Period::Year(2024))
        );
        assert_eq!(
            Period::parse("2024-Q2").map(Period::label).as_deref(),
            Some("2024-Q2")
        );
    }
}
