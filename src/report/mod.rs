//! Reports for one period: `OUT/reports/<period>/` with an Excel workbook
//! (one sheet per indicator family, income effects, village ranks, notes)
//! and an HTML page with the headline table and SVG charts.

pub mod annotate;
pub mod form;
pub mod html;
pub mod svg;
pub mod xlsx;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::analysis::effects::EffectRow;
use crate::analysis::indicators::{Computed, Definitions, IndicatorRow, Level};
use crate::config::Pipeline;
use crate::lake::FileEntry;

/// Any error, boxed: the report is written with several libraries.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file of the report cannot be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// No indicator has data for the period asked (the period, the periods there are).
    #[error("no indicator has data for period {0}; periods present: {1}")]
    NoPeriod(String, String),
}

/// What a report is made from.
pub struct ReportData<'a> {
    /// The pipeline.
    pub pipeline: &'a Pipeline,
    /// The indicator definitions.
    pub defs: &'a Definitions,
    /// The report period (a year, e.g. `2024`).
    pub period: String,
    /// Indicator → the period its figures are taken from (the year, the
    /// year's last month, or `current` for rosters).
    pub chosen: BTreeMap<usize, String>,
    /// The indicator rows of the report's period.
    pub rows: &'a [IndicatorRow],
    /// The income-effect rows.
    pub effects: &'a [EffectRow],
    /// The lake version the figures come from.
    pub lake_version: String,
    /// When that version was made.
    pub data_as_of: String,
    /// Its input files.
    pub files: &'a [FileEntry],
    /// The township and village rows are only in `indicators.parquet` (a
    /// lake of several provinces): the report says so in their place.
    pub fine_rows_elsewhere: bool,
    /// Header drift of the lake version (sheet `表头变化`).
    pub drift: Vec<crate::lake::drift::Drift>,
    /// The reporting scorecard as of the lake version's day (sheet `报送质量`).
    pub scores: Vec<crate::lake::quality::Score>,
}

impl ReportData<'_> {
    /// Rows of one indicator for the report period at the given levels.
    pub(crate) fn rows_of(&self, ind: usize, levels: &[Level]) -> Vec<&IndicatorRow> {
        let Some(p) = self.chosen.get(&ind) else {
            return Vec::new();
        };
        self.rows
            .iter()
            .filter(|r| r.indicator == ind && &r.period == p && levels.contains(&r.level))
            .collect()
    }
}

/// Years a report can be made for: every year that some indicator has.
pub(crate) fn report_periods(rows: &[IndicatorRow]) -> Vec<String> {
    let s: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.period.len() >= 4 && r.period[..4].bytes().all(|b| b.is_ascii_digit()))
        .map(|r| r.period[..4].to_string())
        .collect();
    s.into_iter().collect()
}

/// Chooses each indicator's period for a report on `year`.
pub(crate) fn choose_periods(rows: &[IndicatorRow], year: &str) -> BTreeMap<usize, String> {
    let mut best: BTreeMap<usize, String> = BTreeMap::new();
    for r in rows {
        let fits = r.period == year
            || (r.period.starts_with(year) && r.period.as_bytes().get(4) == Some(&b'-'))
            || r.period == "current";
        if !fits {
            continue;
        }
        let e = best.entry(r.indicator).or_insert_with(|| r.period.clone());
        // the year itself, else its last month or quarter, else the roster
        let rank = |p: &str| match p {
            "current" => (0, String::new()),
            p if p == year => (2, String::new()),
            p => (1, p.to_string()),
        };
        if rank(&r.period) > rank(e) {
            *e = r.period.clone();
        }
    }
    best
}

/// Writes the reports for `period` (default: the latest year) and returns
/// the folders written.
pub fn write_all(
    p: &Pipeline,
    defs: &Definitions,
    out: &Path,
    c: &Computed,
    period: Option<&str>,
) -> Result<Vec<PathBuf>, ReportError> {
    let periods = report_periods(&c.rows);
    let period = match period {
        Some(p) => p.to_string(),
        None => match periods.last() {
            Some(p) => p.clone(),
            None => return Ok(Vec::new()),
        },
    };
    if !periods.contains(&period) {
        return Err(ReportError::NoPeriod(period, periods.join(", ")));
    }
    let chosen = choose_periods(&c.rows, &period);
    // a nation's county rows of the period, read back from its table
    let mut nation_rows = Vec::new();
    if let Some(s) = &c.streamed {
        nation_rows = s
            .rows_at(defs, Level::County, &chosen)
            .map_err(|e| ReportError::Write {
                path: out.join("indicators"),
                source: e.into(),
            })?;
        nation_rows.extend(c.rows.iter().cloned());
        crate::analysis::indicators::sort_rows(&mut nation_rows);
    }
    let data = ReportData {
        pipeline: p,
        defs,
        chosen,
        period: period.clone(),
        rows: if c.streamed.is_some() {
            &nation_rows
        } else {
            &c.rows
        },
        effects: &c.effects,
        lake_version: c.lake_version.clone(),
        data_as_of: c.created.clone(),
        files: &c.files,
        fine_rows_elsewhere: c.streamed.is_some(),
        drift: crate::lake::drift::drift(&crate::lake::Layout::new(out)),
        // as of the day the version was made: the same lake, the same sheet
        scores: chrono::NaiveDate::parse_from_str(c.created.get(..10).unwrap_or(""), "%Y-%m-%d")
            .ok()
            .and_then(|day| {
                crate::lake::quality::scorecard(p, &crate::lake::Layout::new(out), day).ok()
            })
            .unwrap_or_default(),
    };
    let dir = out.join("reports").join(&period);
    let werr = |path: &Path, e: BoxError| ReportError::Write {
        path: path.to_path_buf(),
        source: e,
    };
    std::fs::create_dir_all(&dir).map_err(|e| werr(&dir, e.into()))?;
    let xlsx_path = dir.join(format!("{}_{}_指标报表.xlsx", p.name, period));
    let bar = crate::progress::bar(2, "report files");
    if let Some(b) = &bar {
        b.set_message("workbook");
    }
    xlsx::write(&data, &xlsx_path)?;
    if let Some(b) = &bar {
        b.inc(1);
        b.set_message("HTML");
    }
    html::write(&data, &dir)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(vec![dir])
}

/// Writes bytes through a temporary name, fsynced, so a reader never sees
/// half a file and a crash never leaves one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    crate::fsio::write_durable(path, bytes).map_err(|e| ReportError::Write {
        path: path.to_path_buf(),
        source: e.into(),
    })
}

/// A number as a report shows it: the unit's decimals, thousands
/// separators.
pub(crate) fn fmt_value(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "—".into(),
        Some(x) => group(x, decimals(unit)),
    }
}

/// `1553980400.5` → `1,553,980,400.50` with `decimals` places.
pub fn group(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let s = format!("{:.decimals$}", x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut out = String::with_capacity(s.len() + s.len() / 3 + 1);
    if x < 0.0 && s.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        out.push('-');
    }
    for (k, c) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// A numerator or denominator as a report shows it: whole numbers without
/// decimals, others to two places, with thousands separators.
pub(crate) fn fmt_raw(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(x) if x.fract() == 0.0 => group(x, 0),
        Some(x) => group(x, 2),
    }
}

/// Whether an indicator's value is in 万元 while its numerator (before
/// `scale`) is in yuan: the report then marks the numerator 元.
pub(crate) fn numerator_in_yuan(ind: &crate::analysis::indicators::Indicator) -> bool {
    ind.def.unit == "万元" && ind.def.scale != 1.0
}

/// Decimals shown for a unit.
pub(crate) fn decimals(unit: &str) -> usize {
    match unit {
        "%" | "分" | "万元" => 1,
        "个" | "人" | "户" | "人次" => 0,
        "元" => 0,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(group(1553980400.0, 0), "1,553,980,400");
        assert_eq!(group(155398.04, 1), "155,398.0");
        assert_eq!(group(-1234.5, 2), "-1,234.50");
        assert_eq!(group(999.0, 0), "999");
        assert_eq!(group(-0.04, 1), "0.0");
        assert_eq!(fmt_raw(Some(327.0)), "327");
        assert_eq!(fmt_raw(Some(1234.567)), "1,234.57");
    }
}
