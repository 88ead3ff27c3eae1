//! How well each county reports, from the published version alone: per
//! county and period the submissions due and how many came on time, the
//! share of rows returned, and the most frequent reasons (with whether
//! they repeat from the period before); and per county the returned rows
//! by reason, for the summary the city office pastes into a message.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;

use crate::catalogue::{Code, Lang};
use crate::config::{Frequency, Pipeline};
use crate::lake::submissions::Period;
use crate::lake::{FileStatus, LakeError, Layout};

/// A reason rows were returned, with its count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// The problem code.
    pub code: String,
    /// The reason in a few Chinese words.
    pub label_zh: String,
    /// Returned rows with it.
    pub rows: usize,
    /// The same reason was among the county's returned rows of the period
    /// before (of the same kind: year, quarter or month).
    pub repeated: bool,
}

/// One county's reporting of one period.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    /// The county.
    pub county: String,
    /// The period.
    pub period: String,
    /// The day the period's submissions were due (end + `due_days`).
    pub due: Option<NaiveDate>,
    /// Templates of the period's kind that were due (all of them once the
    /// due day has passed; before it, those already received).
    pub expected: usize,
    /// Templates of the period received.
    pub received: usize,
    /// Received by the due day (the night zhenxing first saw the content).
    pub on_time: usize,
    /// Data rows of the current files (accepted + returned) and returned.
    pub rows: usize,
    /// Of those rows, returned.
    pub returned: usize,
    /// The most frequent reasons, most rows first (at most three).
    pub top: Vec<Reason>,
}

impl Score {
    /// On-time share of the submissions due, 0–100.
    pub(crate) fn on_time_pct(&self) -> Option<f64> {
        (self.expected > 0).then(|| 100.0 * self.on_time as f64 / self.expected as f64)
    }

    /// Share of the data rows returned, 0–100.
    pub(crate) fn returned_pct(&self) -> Option<f64> {
        (self.rows > 0).then(|| 100.0 * self.returned as f64 / self.rows as f64)
    }
}

/// The arrival day of a run id (`20261203T181117373Z-26b0`).
fn run_day(run_id: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(run_id.get(..8)?, "%Y%m%d").ok()
}

/// The frequency a period label belongs to.
fn kind(p: Period) -> Frequency {
    match p {
        Period::Year(_) => Frequency::Yearly,
        Period::Quarter(..) => Frequency::Quarterly,
        Period::Month(..) => Frequency::Monthly,
    }
}

/// One returned row or unusable file of the published `rejects` table.
struct Returned {
    county: String,
    code: String,
    path: String,
}

/// The `rejects` table of the published version.
fn returned_rows(layout: &Layout) -> Result<Vec<Returned>, LakeError> {
    let mut out = Vec::new();
    for p in crate::lake::parquet_files_under(&layout.lake().join("rejects")) {
        let df = crate::lake::read_parquet(&p)?;
        let col =
            |name: &str| crate::lake::str_values(&df, name).map_err(|e| crate::lake::pq(&p, e));
        let (county, code, path) = (col("county")?, col("code")?, col("source_file")?);
        for i in 0..df.height() {
            out.push(Returned {
                county: county[i].clone().unwrap_or_default(),
                code: code[i].clone().unwrap_or_default(),
                path: path[i].clone().unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

/// Reasons by rows, most first (then by code), at most `n`.
fn top_reasons(
    codes: &BTreeMap<String, usize>,
    before: Option<&BTreeMap<String, usize>>,
    n: usize,
) -> Vec<Reason> {
    let mut v: Vec<(&String, &usize)> = codes.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.into_iter()
        .take(n)
        .map(|(c, k)| Reason {
            code: c.clone(),
            label_zh: Code::reason_of(c, Lang::Zh).to_string(),
            rows: *k,
            repeated: before.is_some_and(|b| b.contains_key(c)),
        })
        .collect()
}

/// The scorecard: every county of the registry × every period any county
/// reported (rosters aside), oldest first.
pub fn scorecard(p: &Pipeline, layout: &Layout, as_of: NaiveDate) -> Result<Vec<Score>, LakeError> {
    let Some(current) = layout.current() else {
        return Ok(Vec::new());
    };
    let meta = layout.version_meta(&current)?;
    let counties = crate::lake::submissions::counties(layout);
    let kind_of: BTreeMap<&str, Frequency> = p
        .sources
        .iter()
        .filter(|s| s.dataset != "villages")
        .map(|s| (s.id.as_str(), s.frequency))
        .collect();
    let subs = Submissions::of(&meta.files, &kind_of);
    // returned rows by reason, per county and period
    let mut reasons: BTreeMap<(String, Period), BTreeMap<String, usize>> = BTreeMap::new();
    for r in returned_rows(layout)? {
        let Some(per) = subs.file_period.get(r.path.as_str()).copied() else {
            continue;
        };
        *reasons
            .entry((r.county, per))
            .or_default()
            .entry(r.code)
            .or_default() += 1;
    }
    let mut out = Vec::new();
    for county in &counties {
        let mut before: BTreeMap<Frequency, Period> = BTreeMap::new();
        for &per in &subs.periods {
            let k = kind(per);
            let due = per
                .last_day()
                .map(|d| d + chrono::Duration::days(p.lake.due_days));
            let key = (county.clone(), per);
            let templates = kind_of.values().filter(|f| **f == k).count();
            let (received, on_time) = subs.received(&key, due);
            let expected = if due.is_some_and(|d| d < as_of) {
                templates
            } else {
                received
            };
            let (n, returned) = subs.rows.get(&key).copied().unwrap_or((0, 0));
            let prev = before
                .get(&k)
                .and_then(|b| reasons.get(&(county.clone(), *b)));
            let top = reasons
                .get(&key)
                .map(|codes| top_reasons(codes, prev, 3))
                .unwrap_or_default();
            out.push(Score {
                county: county.clone(),
                period: per.label(),
                due,
                expected,
                received,
                on_time,
                rows: n,
                returned,
                top,
            });
            before.insert(k, per);
        }
    }
    Ok(out)
}

/// What the version's files say per county and period.
struct Submissions<'f> {
    /// (county, period) → template → the day it first arrived.
    arrived: BTreeMap<(String, Period), BTreeMap<String, NaiveDate>>,
    /// (county, period) → rows (accepted and returned), returned.
    rows: BTreeMap<(String, Period), (usize, usize)>,
    periods: BTreeSet<Period>,
    /// A file's period, at its template's frequency.
    file_period: BTreeMap<&'f str, Period>,
}

impl<'f> Submissions<'f> {
    /// From the files that were read (not failed) of templates that are
    /// due per period (rosters are not).
    fn of(
        files: &'f [crate::lake::FileEntry],
        kind_of: &BTreeMap<&str, Frequency>,
    ) -> Submissions<'f> {
        let mut subs = Submissions {
            arrived: BTreeMap::new(),
            rows: BTreeMap::new(),
            periods: BTreeSet::new(),
            file_period: BTreeMap::new(),
        };
        for f in files.iter().filter(|f| f.status != FileStatus::Failed) {
            let (Some(t), Some(c)) = (f.template.as_deref(), f.county.as_deref()) else {
                continue;
            };
            let Some(freq) = kind_of.get(t).filter(|k| **k != Frequency::Roster) else {
                continue;
            };
            let Some(per) = f.period.as_deref().and_then(Period::parse) else {
                continue;
            };
            let per = per.as_frequency(*freq);
            subs.periods.insert(per);
            subs.file_period.insert(f.path.as_str(), per);
            let key = (c.to_string(), per);
            if let Some(day) = run_day(&f.first_seen) {
                let e = subs
                    .arrived
                    .entry(key.clone())
                    .or_default()
                    .entry(t.to_string())
                    .or_insert(day);
                *e = (*e).min(day);
            }
            if f.status == FileStatus::Current {
                let r = subs.rows.entry(key).or_default();
                r.0 += f.counts.accepted + f.counts.rejected;
                r.1 += f.counts.rejected;
            }
        }
        subs
    }

    /// Templates received for a county and period, and how many of them
    /// by the due day.
    fn received(&self, key: &(String, Period), due: Option<NaiveDate>) -> (usize, usize) {
        let got = self.arrived.get(key);
        let received = got.map_or(0, |g| g.len());
        let on_time = got.map_or(0, |g| {
            g.values()
                .filter(|day| due.is_some_and(|d| **day <= d))
                .count()
        });
        (received, on_time)
    }
}

/// One county's returned rows in the published version, by reason (most
/// first), and the number of files they are in.
pub(crate) fn county_returned(
    layout: &Layout,
    county: &str,
) -> Result<(Vec<Reason>, usize), LakeError> {
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut files: BTreeSet<String> = BTreeSet::new();
    for r in returned_rows(layout)?
        .into_iter()
        .filter(|r| r.county == county)
    {
        *codes.entry(r.code).or_default() += 1;
        files.insert(r.path);
    }
    Ok((top_reasons(&codes, None, usize::MAX), files.len()))
}

/// A county's returned rows among some files.
pub(crate) struct Returns {
    /// Rows returned.
    pub rows: usize,
    /// Files they are in.
    pub files: usize,
    /// The most frequent reasons, most rows first.
    pub top: Vec<Reason>,
}

/// The returned rows of the given files (paths in the inbox), by county,
/// with the `n` most frequent reasons. Unusable files are left out (their
/// caller lists them apart).
pub(crate) fn returned_by_county(
    layout: &Layout,
    paths: &BTreeSet<&str>,
    n: usize,
) -> Result<BTreeMap<String, Returns>, LakeError> {
    let mut by: BTreeMap<String, (BTreeMap<String, usize>, BTreeSet<String>)> = BTreeMap::new();
    for r in returned_rows(layout)? {
        if r.code.starts_with("F_") || !paths.contains(r.path.as_str()) {
            continue;
        }
        let (codes, files) = by.entry(r.county).or_default();
        *codes.entry(r.code).or_default() += 1;
        files.insert(r.path);
    }
    Ok(by
        .into_iter()
        .map(|(county, (codes, files))| {
            let returns = Returns {
                rows: codes.values().sum(),
                files: files.len(),
                top: top_reasons(&codes, None, n),
            };
            (county, returns)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_most_rows_first_and_repeats_marked() {
        let now: BTreeMap<String, usize> =
            [("E_RANGE", 2), ("E_UNKNOWN_VILLAGE", 5), ("E_REQUIRED", 2)]
                .iter()
                .map(|(c, n)| (c.to_string(), *n))
                .collect();
        let before: BTreeMap<String, usize> = [("E_RANGE".to_string(), 1)].into_iter().collect();
        let top = top_reasons(&now, Some(&before), 2);
        assert_eq!(
            top.iter()
                .map(|r| (r.code.as_str(), r.rows, r.repeated))
                .collect::<Vec<_>>(),
            vec![("E_UNKNOWN_VILLAGE", 5, false), ("E_RANGE", 2, true)]
        );
        assert_eq!(top[0].label_zh, "名录中没有该村");
        assert_eq!(
            run_day("20261203T181117373Z-26b0"),
            NaiveDate::from_ymd_opt(2026, 12, 3)
        );
        assert_eq!(
            Period::Month(2024, 2).last_day(),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert_eq!(
            Period::Year(2024).last_day(),
            NaiveDate::from_ymd_opt(2024, 12, 31)
        );
    }
}

/// What the plausibility check needs of a file the lake holds: its period
/// (for templates without a year column) and its header columns.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileFacts {
    pub period: Option<String>,
    pub columns: BTreeMap<String, BTreeMap<String, usize>>,
}

impl FileFacts {
    /// The facts of a file the version lists, with its segment's headers.
    pub fn of(
        f: &crate::lake::FileEntry,
        headers: Option<&crate::validate::HeaderRecord>,
    ) -> (String, FileFacts) {
        let facts = FileFacts {
            period: f.period.clone(),
            columns: headers.map(|h| h.columns.clone()).unwrap_or_default(),
        };
        (f.sha256.clone(), facts)
    }
}

/// The observations of the fields with a rule across periods, from a
/// dataset's folder of the lake (`year=` folders give the year), with
/// each row's file found by its content hash in `files`.
pub(crate) fn observations_in(
    dir: &std::path::Path,
    src: &crate::config::Source,
    files: &std::collections::HashMap<String, FileFacts>,
) -> Result<Vec<crate::validate::plausible::Obs>, LakeError> {
    use crate::validate::plausible::{ruled_fields, unit_keys};
    let fields = ruled_fields(src);
    let keys = unit_keys(src);
    if fields.is_empty() || keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for path in crate::lake::parquet_files_under(dir) {
        let part = Part::read(&path, src, &keys)?;
        for &fi in &fields {
            part.observe(src, fi, files, &mut out)?;
        }
    }
    Ok(out)
}

/// One Parquet file of a dataset with the columns an observation needs:
/// the unit's key columns, lineage, and the partition's year.
struct Part {
    path: std::path::PathBuf,
    df: DataFrame,
    year: Option<String>,
    with_year: bool,
    units: Vec<Vec<Option<String>>>,
    sha: Vec<Option<String>>,
    file: Vec<Option<String>>,
    sheet: Vec<Option<String>>,
    row: Vec<Option<i64>>,
}

impl Part {
    fn read(
        path: &std::path::Path,
        src: &crate::config::Source,
        keys: &[usize],
    ) -> Result<Part, LakeError> {
        let year = path
            .components()
            .filter_map(|c| {
                c.as_os_str()
                    .to_str()?
                    .strip_prefix("year=")
                    .map(str::to_string)
            })
            .next();
        let df = crate::lake::read_parquet(path)?;
        let pq = |e: PolarsError| crate::lake::pq(path, e);
        let text = |name: &str| crate::lake::str_values(&df, name).map_err(pq);
        let units: Vec<Vec<Option<String>>> = keys
            .iter()
            .map(|&k| text(&crate::lake::column_name(&src.fields[k])))
            .collect::<Result<_, _>>()?;
        let (sha, file, sheet) = (
            text(crate::lake::LINEAGE[0])?,
            text(crate::lake::LINEAGE[1])?,
            text(crate::lake::LINEAGE[2])?,
        );
        let row: Vec<Option<i64>> = df
            .column(crate::lake::LINEAGE[3])
            .and_then(|c| c.cast(&DataType::Int64))
            .map_err(pq)?
            .i64()
            .map_err(pq)?
            .iter()
            .collect();
        Ok(Part {
            path: path.to_path_buf(),
            df,
            year,
            with_year: crate::lake::has_year(src),
            units,
            sha,
            file,
            sheet,
            row,
        })
    }

    /// Field `fi`'s values, each with its unit, period and cell; a row
    /// without a unit, a value or a period is none.
    fn observe(
        &self,
        src: &crate::config::Source,
        fi: usize,
        files: &std::collections::HashMap<String, FileFacts>,
        out: &mut Vec<crate::validate::plausible::Obs>,
    ) -> Result<(), LakeError> {
        use crate::validate::plausible::{At, Obs};
        let pq = |e: PolarsError| crate::lake::pq(&self.path, e);
        let f = &src.fields[fi];
        let name = crate::lake::column_name(f);
        let Ok(col) = self.df.column(&name) else {
            return Ok(());
        };
        let shown = crate::lake::str_values(&self.df, &name).map_err(pq)?;
        let num: Vec<Option<f64>> = col
            .cast(&DataType::Float64)
            .map_err(pq)?
            .f64()
            .map_err(pq)?
            .iter()
            .collect();
        for i in 0..self.df.height() {
            let (Some(v), Some(h)) = (num[i], self.sha[i].as_deref()) else {
                continue;
            };
            let Some(unit) = self
                .units
                .iter()
                .map(|c| c[i].clone())
                .collect::<Option<Vec<String>>>()
            else {
                continue;
            };
            let facts = files.get(h);
            let period = if self.with_year {
                self.year.clone()
            } else {
                facts.and_then(|f| f.period.clone())
            };
            let Some(period) = period else { continue };
            let sheet = self.sheet[i].clone().unwrap_or_default();
            let col = facts
                .and_then(|f| f.columns.get(&sheet))
                .and_then(|m| m.get(&f.name))
                .copied();
            out.push(Obs {
                unit: unit.join("|"),
                period,
                field: f.name.clone(),
                value: v,
                text: crate::validate::plausible::shown(f, shown[i].as_deref(), v),
                at: At {
                    file: self.file[i].clone().unwrap_or_default(),
                    sheet,
                    row: self.row[i].unwrap_or(1).max(1) as usize - 1,
                    col,
                },
            });
        }
        Ok(())
    }
}

/// The observations of template `src` in the published version.
pub(crate) fn published_observations(
    layout: &Layout,
    src: &crate::config::Source,
) -> Result<Vec<crate::validate::plausible::Obs>, LakeError> {
    if crate::validate::plausible::ruled_fields(src).is_empty() {
        return Ok(Vec::new());
    }
    let Some(current) = layout.current() else {
        return Ok(Vec::new());
    };
    let meta = layout.version_meta(&current)?;
    let headers = crate::lake::drift::segment_headers(&layout.segments().join(&meta.basis));
    let files = meta
        .files
        .iter()
        .map(|f| FileFacts::of(f, headers.get(f.segment())))
        .collect();
    observations_in(&layout.lake().join(&src.dataset), src, &files)
}
