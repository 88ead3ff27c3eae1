//! Who has reported what: for every county of the registry and every
//! template, the periods received in the published version, the latest
//! period due by a date (a period is due `due_days` after it ends), and
//! what the version holds that deserves a look. `status` prints it; the
//! scorecard and the county summary are built on it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::config::{Frequency, Pipeline};
use crate::lake::Layout;

/// One county × template in `status`: what arrived and what is missing.
#[derive(Debug, Serialize)]
pub struct Cell {
    /// The county.
    pub county: String,
    /// The template.
    pub template: String,
    /// Its dataset.
    pub dataset: String,
    /// How often it is due.
    pub frequency: String,
    /// The latest period received.
    pub latest: Option<String>,
    /// The latest period that should have arrived by the as-of date.
    pub expected: Option<String>,
    /// `ok`, `gaps` (up to date, but earlier periods are missing),
    /// `overdue`, `never` (nothing received) or `register` (no cadence).
    pub state: String,
    /// Periods due and not received.
    pub missing: Vec<String>,
}

/// A period as the ingest names it: `2024`, `2024-06` or `2024-Q2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Period {
    /// A year.
    Year(i32),
    /// A quarter of a year (1–4).
    Quarter(i32, u32),
    /// A month of a year (1–12).
    Month(i32, u32),
}

impl Period {
    /// Reads `2024`, `2024-Q2` or `2024-06`.
    pub fn parse(s: &str) -> Option<Period> {
        if let Some((y, q)) = s.split_once("-Q") {
            return Some(Period::Quarter(y.parse().ok()?, q.parse().ok()?));
        }
        if let Some((y, m)) = s.split_once('-') {
            return Some(Period::Month(y.parse().ok()?, m.parse().ok()?));
        }
        Some(Period::Year(s.parse().ok()?))
    }

    /// The period as the ingest names it.
    pub fn label(self) -> String {
        match self {
            Period::Year(y) => format!("{y}"),
            Period::Quarter(y, q) => format!("{y}-Q{q}"),
            Period::Month(y, m) => format!("{y}-{m:02}"),
        }
    }

    /// Month index, for ordering periods of one frequency.
    pub(crate) fn end_month(self) -> i32 {
        match self {
            Period::Year(y) => y * 12 + 11,
            Period::Quarter(y, q) => y * 12 + (q as i32) * 3 - 1,
            Period::Month(y, m) => y * 12 + m as i32 - 1,
        }
    }

    /// The period's last day.
    pub(crate) fn last_day(self) -> Option<NaiveDate> {
        let em = self.end_month() + 1;
        NaiveDate::from_ymd_opt(em / 12, (em % 12) as u32 + 1, 1).and_then(|d| d.pred_opt())
    }

    /// The period after this one.
    pub fn next(self) -> Period {
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
    pub(crate) fn as_frequency(self, f: Frequency) -> Period {
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
pub fn expected(f: Frequency, as_of: NaiveDate, due_days: i64) -> Option<Period> {
    let d = as_of - chrono::Duration::days(due_days);
    let (y, m) = (d.year(), d.month());
    // the latest period that has ended on or before `d`
    let candidate = match f {
        Frequency::Monthly => Period::Month(y, m),
        Frequency::Quarterly => Period::Quarter(y, (m - 1) / 3 + 1),
        Frequency::Yearly => Period::Year(y),
        Frequency::Roster => return None,
    };
    let mut p = candidate;
    for _ in 0..3 {
        if p.last_day().is_some_and(|end| end <= d) {
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

pub(crate) fn freq_label(f: Frequency) -> &'static str {
    match f {
        Frequency::Monthly => "monthly",
        Frequency::Quarterly => "quarterly",
        Frequency::Yearly => "yearly",
        Frequency::Roster => "register",
    }
}

/// Counties of the published registry (the villages dataset).
pub fn counties(layout: &Layout) -> Vec<String> {
    let Some(v) = layout.current() else {
        return Vec::new();
    };
    let mut set = BTreeSet::new();
    let root = layout.versions().join(v).join("villages");
    for p in crate::lake::parquet_files_under(&root) {
        if let Ok(df) = crate::lake::read_parquet(&p) {
            if let Ok(c) = df.column("county").and_then(|c| c.str().cloned()) {
                set.extend(c.iter().flatten().map(str::to_string));
            }
        }
    }
    set.into_iter().collect()
}

/// Every county × template of the registry and the pipeline, as of a day.
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

/// What the published version holds that deserves a look: the rows of
/// `rejects` (rejected rows and unusable files) and of `warnings`.
#[derive(Debug, Serialize)]
pub struct Standing {
    /// The published version.
    pub version: String,
    /// Rows of the `rejects` table.
    pub rejects: usize,
    /// Of them, rejected rows.
    pub rejected_rows: usize,
    /// Of them, unusable files.
    pub failed_files: usize,
    /// Rows of the `warnings` table.
    pub warnings: usize,
}

/// What the published version holds that deserves a look (none: no lake).
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
