//! The tables indicator SQL sees: the published lake's datasets with a text
//! `period`, `<dataset>_periods`, `<dataset>_county_periods`, and
//! `villages` (active registry villages).

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;
use polars::sql::SQLContext;

use crate::config::{Frequency, Pipeline, Source};
use crate::lake::{str_values, LakeError, Layout};

/// Geography names from the registry.
#[derive(Debug, Clone, Default)]
pub struct Geo {
    /// County code → name.
    pub county: BTreeMap<String, String>,
    /// Township code → name.
    pub township: BTreeMap<String, String>,
    /// Village code → name.
    pub village: BTreeMap<String, String>,
    /// active villages per county code and per township code
    pub villages_in_county: BTreeMap<String, usize>,
    /// Active villages per township code.
    pub villages_in_township: BTreeMap<String, usize>,
    /// Active villages of the whole lake.
    pub villages_total: usize,
    /// Villages merged away on a known date (code, 撤并时间): in the
    /// registry of every period that ended before that date.
    pub merged_later: Vec<(String, chrono::NaiveDate)>,
}

/// Villages merged after a period ended, per area: added to the counts of
/// today's registry to give the registry as of that period.
#[derive(Debug, Clone, Default)]
pub(crate) struct MergedLater {
    pub total: usize,
    pub county: BTreeMap<String, usize>,
    pub township: BTreeMap<String, usize>,
}

impl Geo {
    /// The villages merged after `period` ended (none for `current`).
    pub(crate) fn merged_after(&self, period: &str) -> MergedLater {
        let mut m = MergedLater::default();
        let Some(end) = period_end(period) else {
            return m;
        };
        for (code, d) in &self.merged_later {
            if *d > end && code.len() >= 9 {
                m.total += 1;
                *m.county.entry(code[..6].to_string()).or_default() += 1;
                *m.township.entry(code[..9].to_string()).or_default() += 1;
            }
        }
        m
    }
}

pub use crate::validate::period_end;

/// Which part of the lake [`Tables::load_part`] reads.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Part<'a> {
    /// the counties whose code starts with this (the registry's too);
    /// then the rejects and warnings tables are not read
    pub counties: Option<&'a str>,
    /// of the datasets only these (the registry always)
    pub only: Option<&'a [&'a str]>,
    /// of a dataset's columns only these (and its codes and period; the
    /// registry whole)
    pub columns: Option<&'a std::collections::HashSet<String>>,
}

/// The lake's datasets as SQL tables, with the registry's geography.
pub struct Tables {
    /// dataset name → frame as the SQL sees it
    pub frames: BTreeMap<String, DataFrame>,
    /// The registry's areas and village counts.
    pub geo: Geo,
    /// run id of the published lake version
    pub lake_version: String,
    /// when that version was made
    pub created: String,
    /// the version's current input files
    pub files: Vec<crate::lake::FileEntry>,
    /// Monthly and quarterly datasets after [`Tables::add_year_ends`]:
    /// dataset → (county code, year) → the last period that county
    /// reported in that year, whose rows stand for the year.
    pub year_ends: BTreeMap<String, YearEnds>,
}

/// (county code, year) → the county's last reported period of the year.
pub(crate) type YearEnds = BTreeMap<(String, String), String>;

fn pq(path: &Path, e: PolarsError) -> LakeError {
    crate::lake::pq(path, e)
}

/// Reads `lake/<dataset>` (hive partitions) or, when it has no file, an
/// empty frame with the dataset's columns. With `counties`, only the
/// partitions whose county code starts with it.
fn read_dataset(
    lake: &Path,
    src: &Source,
    counties: Option<&str>,
    columns: Option<&std::collections::HashSet<String>>,
) -> Result<DataFrame, LakeError> {
    let dir = lake.join(&src.dataset);
    let has_files = match counties {
        None => walk_has_parquet(&dir),
        Some(prefix) => county_dirs(&dir, prefix)
            .iter()
            .any(|d| walk_has_parquet(d)),
    };
    let mut df = if has_files {
        let glob = match counties {
            None => format!("{}/**/*.parquet", dir.display()),
            Some(prefix) => format!("{}/county_code={prefix}*/**/*.parquet", dir.display()),
        };
        hive_scan(glob)
            .and_then(|mut lf| match columns {
                None => lf.collect(),
                Some(keep) => {
                    // what the queries name, and what a row's period, place
                    // and scope come from; nothing else is read
                    let schema = lf.collect_schema()?;
                    let cols: Vec<Expr> = schema
                        .iter_names()
                        .filter(|n| {
                            keep.contains(n.as_str())
                                || [
                                    "county_code",
                                    "village_code",
                                    "period",
                                    "year",
                                    "source_file_sha256",
                                ]
                                .contains(&n.as_str())
                        })
                        .map(|n| col(n.clone()))
                        .collect();
                    lf.select(cols).collect()
                }
            })
            .map_err(|e| pq(&dir, e))?
    } else {
        let mut df = crate::lake::empty_frame(src)?;
        df.with_column(Column::new_empty("county_code".into(), &DataType::Int64))
            .map_err(|e| pq(&dir, e))?;
        if crate::lake::has_year(src) && df.column("year").is_err() {
            df.with_column(Column::new_empty("year".into(), &DataType::Int64))
                .map_err(|e| pq(&dir, e))?;
        }
        df
    };
    // county codes are codes, not numbers
    let cc = df
        .column("county_code")
        .and_then(|c| c.cast(&DataType::String))
        .map_err(|e| pq(&dir, e))?;
    df.with_column(cc).map_err(|e| pq(&dir, e))?;
    // one chunk per partition file otherwise: thousands at national scale
    df.rechunk_mut();
    Ok(df)
}

/// The lake files a glob names, their partition folders (`county_code=…`,
/// `year=…`) read as columns.
fn hive_scan(glob: String) -> PolarsResult<LazyFrame> {
    let args = ScanArgsParquet {
        hive_options: HiveOptions {
            enabled: Some(true),
            ..Default::default()
        },
        ..Default::default()
    };
    LazyFrame::scan_parquet(PlRefPath::new(glob), args)
}

/// The `county_code=…` partition folders of a dataset whose code starts
/// with `prefix`.
fn county_dirs(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let want = format!("county_code={prefix}");
    rd.flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&want))
        .map(|e| e.path())
        .collect()
}

/// The areas of the published lake: the first `digits` digits of every
/// county partition of every dataset (2: provinces), sorted. The
/// indicator stage works an area at a time when the lake holds more than
/// one (a nation).
pub(crate) fn areas(out: &Path, digits: usize) -> Vec<String> {
    let lake = Layout::new(out).lake();
    let mut found = std::collections::BTreeSet::new();
    let Ok(rd) = std::fs::read_dir(&lake) else {
        return Vec::new();
    };
    for ds in rd.flatten().filter(|e| e.path().is_dir()) {
        let Ok(parts) = std::fs::read_dir(ds.path()) else {
            continue;
        };
        for e in parts.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(code) = name.strip_prefix("county_code=") {
                if let Some(pv) = code.get(..digits) {
                    found.insert(pv.to_string());
                }
            }
        }
    }
    found.into_iter().collect()
}

/// Whether a folder holds a Parquet file at any depth.
pub(crate) fn walk_has_parquet(dir: &Path) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return false;
    };
    rd.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            walk_has_parquet(&p)
        } else {
            p.extension().is_some_and(|x| x == "parquet")
        }
    })
}

/// The text period of every row: 'YYYY-MM' (monthly), 'YYYY-Qn'
/// (quarterly), 'YYYY' (a `year` column); otherwise (rosters) the period of
/// the file the row came from, so that each yearly snapshot of a roster is
/// its own period, or 'current' when the file has none.
fn period_column(
    df: &DataFrame,
    src: &Source,
    file_period: &BTreeMap<String, String>,
) -> PolarsResult<Column> {
    let n = df.height();
    let dated = matches!(src.frequency, Frequency::Monthly | Frequency::Quarterly)
        && df
            .column("period")
            .is_ok_and(|c| c.dtype() == &DataType::Date);
    let v: Vec<Option<String>> = if dated {
        let days = df.column("period")?.cast(&DataType::Int32)?;
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        days.i32()?
            .iter()
            .map(|d| {
                let d = epoch + chrono::Duration::days(i64::from(d?));
                use chrono::Datelike;
                Some(match src.frequency {
                    Frequency::Quarterly => format!("{}-Q{}", d.year(), (d.month() - 1) / 3 + 1),
                    _ => format!("{}-{:02}", d.year(), d.month()),
                })
            })
            .collect()
    } else if df.column("year").is_ok() {
        let y = df.column("year")?.cast(&DataType::Int64)?;
        y.i64()?
            .iter()
            .map(|y| y.map(|y| format!("{y:04}")))
            .collect()
    } else {
        str_values(df, "source_file_sha256")?
            .into_iter()
            .map(|sha| {
                Some(
                    sha.and_then(|h| file_period.get(&h).cloned())
                        .unwrap_or_else(|| "current".to_string()),
                )
            })
            .collect()
    };
    debug_assert_eq!(v.len(), n);
    Ok(Column::new("period".into(), v))
}

/// Each period present; `previous`, the period a change is measured
/// against (for a month or quarter the one of its kind present before it,
/// for a year the year before when present); and the same period a year
/// earlier (`previous_year`: `2023` for `2024`, `2023-06` for `2024-06`),
/// present or not: year-over-year figures compare with that one only.
/// Registers a dataset's frame with its `_periods` and `_county_periods`.
fn insert_dataset(
    frames: &mut BTreeMap<String, DataFrame>,
    name: &str,
    df: DataFrame,
) -> PolarsResult<()> {
    frames.insert(format!("{name}_periods"), periods_frame(&df)?);
    frames.insert(format!("{name}_county_periods"), county_periods_frame(&df)?);
    frames.insert(name.to_string(), df);
    Ok(())
}

fn periods_frame(df: &DataFrame) -> PolarsResult<DataFrame> {
    let ps: Vec<String> = df
        .column("period")?
        .str()?
        .iter()
        .flatten()
        .map(str::to_string)
        .collect();
    periods_frame_of(ps)
}

/// The `<dataset>_periods` frame of a list of periods (any order, repeats
/// allowed).
fn periods_frame_of(mut ps: Vec<String>) -> PolarsResult<DataFrame> {
    ps.sort();
    ps.dedup();
    let prev = previous_of(&ps);
    let year_before: Vec<Option<String>> = ps.iter().map(|p| year_before(p)).collect();
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let ends: Vec<Option<i32>> = ps
        .iter()
        .map(|p| period_end(p).and_then(|d| i32::try_from((d - epoch).num_days()).ok()))
        .collect();
    let ends = Column::new("period_end".into(), ends).cast(&DataType::Date)?;
    DataFrame::new(
        ps.len(),
        vec![
            Column::new("period".into(), ps),
            Column::new("previous".into(), prev),
            Column::new("previous_year".into(), year_before),
            ends,
        ],
    )
}

/// `previous` of each county: county_code, period, previous, the same
/// rule as [`periods_frame`] over the periods that county reported, so a
/// change is measured against the county's own last report.
fn county_periods_frame(df: &DataFrame) -> PolarsResult<DataFrame> {
    let counties = str_values(df, "county_code")?;
    let periods = str_values(df, "period")?;
    let mut by_county: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (c, p) in counties.into_iter().zip(periods) {
        if let (Some(c), Some(p)) = (c, p) {
            by_county.entry(c).or_default().push(p);
        }
    }
    let (mut cc, mut pp, mut prev) = (Vec::new(), Vec::new(), Vec::new());
    for (c, mut ps) in by_county {
        ps.sort();
        ps.dedup();
        prev.extend(previous_of(&ps));
        cc.extend(std::iter::repeat_n(c, ps.len()));
        pp.extend(ps);
    }
    DataFrame::new(
        cc.len(),
        vec![
            Column::new("county_code".into(), cc),
            Column::new("period".into(), pp),
            Column::new("previous".into(), prev),
        ],
    )
}

/// For sorted, distinct periods: a month's or quarter's previous is the
/// period of its kind present before it; a year's is year − 1 when present.
fn previous_of(ps: &[String]) -> Vec<Option<String>> {
    let present: std::collections::BTreeSet<&str> = ps.iter().map(String::as_str).collect();
    (0..ps.len())
        .map(|i: usize| {
            if is_year(&ps[i]) {
                return year_before(&ps[i]).filter(|y| present.contains(y.as_str()));
            }
            ps[..i]
                .iter()
                .rev()
                .find(|q| q.len() == ps[i].len() && !is_year(q))
                .cloned()
        })
        .collect()
}

fn is_year(p: &str) -> bool {
    p.len() == 4 && p.bytes().all(|b| b.is_ascii_digit())
}

/// `2024` → `2023`, `2024-06` → `2023-06`; `current` (rosters) has none.
fn year_before(period: &str) -> Option<String> {
    let (y, rest) = period.split_at(period.len().min(4));
    let y: i32 = y.parse().ok().filter(|_| y.len() == 4)?;
    Some(format!("{:04}{rest}", y - 1))
}

impl Tables {
    /// Loads the published lake. `Ok(None)` when nothing is published yet.
    /// Without `lineage` the source file, sheet and row columns are left
    /// out (the indicators do not need them; `explain` and `query` do).
    pub fn load(p: &Pipeline, out: &Path, lineage: bool) -> Result<Option<Tables>, LakeError> {
        let layout = Layout::new(out);
        let Some(version) = layout.current() else {
            return Ok(None);
        };
        let meta = layout.version_meta(&version)?;
        Tables::load_part(p, out, lineage, &Part::default(), version, &meta).map(Some)
    }

    /// [`Tables::load`] of part of the published version `version` (whose
    /// `meta` the caller read once): see [`Part`].
    pub(crate) fn load_part(
        p: &Pipeline,
        out: &Path,
        lineage: bool,
        part: &Part<'_>,
        version: String,
        meta: &crate::lake::VersionMeta,
    ) -> Result<Tables, LakeError> {
        let (counties, only) = (part.counties, part.only);
        let lake = Layout::new(out).lake();
        // each input file's period, for roster rows
        let file_period = file_periods(meta);
        let mut frames = BTreeMap::new();
        let mut geo = Geo::default();
        for src in &p.sources {
            if src.dataset != "villages" && only.is_some_and(|o| !o.contains(&src.dataset.as_str()))
            {
                continue;
            }
            let columns = part.columns.filter(|_| src.dataset != "villages");
            let mut df = read_dataset(&lake, src, counties, columns)?;
            if src.dataset == "villages" {
                // villages of today and those merged away on a known date
                // (in the registry of the periods before it)
                let active = df
                    .column("merged_into")
                    .map_err(|e| pq(&lake, e))?
                    .is_null();
                let mask = match df.column("merged_on") {
                    Ok(c) => &active | &c.is_not_null(),
                    Err(_) => active,
                };
                df = df.filter(&mask).map_err(|e| pq(&lake, e))?;
                geo = geography(&df).map_err(|e| pq(&lake, e))?;
                frames.insert("villages".to_string(), df);
                continue;
            }
            let period = period_column(&df, src, &file_period).map_err(|e| pq(&lake, e))?;
            df.with_column(period).map_err(|e| pq(&lake, e))?;
            if !lineage {
                df = df.drop_many(crate::lake::LINEAGE);
            }
            insert_dataset(&mut frames, &src.dataset, df).map_err(|e| pq(&lake, e))?;
        }
        for table in ["rejects", "warnings"] {
            let dir = lake.join(table);
            if counties.is_none() && walk_has_parquet(&dir) {
                let glob = format!("{}/**/*.parquet", dir.display());
                let df = LazyFrame::scan_parquet(PlRefPath::new(glob), ScanArgsParquet::default())
                    .and_then(|lf| lf.collect())
                    .map_err(|e| pq(&dir, e))?;
                frames.insert(table.into(), df);
            }
        }
        Ok(Tables {
            frames,
            geo,
            lake_version: version,
            created: meta.created.clone(),
            // a province's tables leave the nation's file list to the caller
            files: match counties {
                Some(_) => Vec::new(),
                None => meta
                    .files
                    .iter()
                    .filter(|f| f.status == crate::lake::FileStatus::Current)
                    .cloned()
                    .collect(),
            },
            year_ends: BTreeMap::new(),
        })
    }

    /// The registry entries whose kind is not one of `kinds` (none without
    /// a registry).
    pub(crate) fn out_of_scope(
        &self,
        kinds: &[String],
    ) -> PolarsResult<std::collections::HashSet<String>> {
        match self.frames.get("villages") {
            Some(v) => out_of_scope(v, kinds),
            None => Ok(Default::default()),
        }
    }

    /// Keeps registry entries of the given kinds (`村`, `社区`) and the
    /// rows of those villages only: the scope of every figure. An entry
    /// without a kind is a village.
    pub(crate) fn keep_kinds(&mut self, kinds: &[String]) -> PolarsResult<()> {
        let Some(v) = self.frames.get("villages") else {
            return Ok(());
        };
        let out = out_of_scope(v, kinds)?;
        if out.is_empty() {
            return Ok(());
        }
        for (name, df) in self.frames.iter_mut() {
            if name.ends_with("_periods") || df.column("village_code").is_err() {
                continue;
            }
            let keep: Vec<bool> = str_values(df, "village_code")?
                .iter()
                .map(|c| c.as_ref().is_none_or(|c| !out.contains(c)))
                .collect();
            *df = df.filter(&BooleanChunked::from_slice("keep".into(), &keep))?;
        }
        if let Some(v) = self.frames.get("villages") {
            self.geo = geography(v)?;
        }
        // the periods of what is left
        let names: Vec<String> = self
            .frames
            .keys()
            .filter(|n| self.frames.contains_key(&format!("{n}_periods")))
            .cloned()
            .collect();
        for n in names {
            if let Some(df) = self.frames.remove(&n) {
                insert_dataset(&mut self.frames, &n, df)?;
            }
        }
        Ok(())
    }

    /// The tables as the indicator SQL sees them: the definitions'
    /// `[scope]` applied, then the years of monthly datasets. The
    /// indicator stage, `explain` and `query --as-indicators` use this.
    pub(crate) fn as_indicators_see(&mut self, p: &Pipeline, kinds: &[String]) -> PolarsResult<()> {
        self.keep_kinds(kinds)?;
        self.add_year_ends(p)
    }

    /// Gives every monthly and quarterly dataset its years: for each county
    /// and year, the rows of the last period that county reported in the
    /// year are added again with the year as their period (`2024` from a
    /// county's `2024-11`), and `<dataset>_periods` lists the years too.
    /// A county that stopped reporting in November is not counted as
    /// absent in December. The indicator stage and `explain` call this;
    /// `query` shows the lake as it is.
    pub(crate) fn add_year_ends(&mut self, p: &Pipeline) -> PolarsResult<()> {
        for src in &p.sources {
            if !matches!(src.frequency, Frequency::Monthly | Frequency::Quarterly) {
                continue;
            }
            let Some(df) = self.frames.get(&src.dataset) else {
                continue;
            };
            let counties = str_values(df, "county_code")?;
            let periods = str_values(df, "period")?;
            let mut ends = YearEnds::new();
            for (c, p) in counties.iter().zip(&periods) {
                let (Some(c), Some(p)) = (c, p) else { continue };
                let Some(y) = p.get(..4).filter(|y| p.len() > 4 && is_year(y)) else {
                    continue;
                };
                let e = ends
                    .entry((c.clone(), y.to_string()))
                    .or_insert_with(|| p.clone());
                if p > e {
                    *e = p.clone();
                }
            }
            let keep: Vec<bool> = counties
                .iter()
                .zip(&periods)
                .map(|(c, p)| match (c, p) {
                    (Some(c), Some(p)) if p.len() > 4 => p
                        .get(..4)
                        .is_some_and(|y| ends.get(&(c.clone(), y.to_string())) == Some(p)),
                    _ => false,
                })
                .collect();
            let mask = BooleanChunked::from_slice("keep".into(), &keep);
            let mut years = df.filter(&mask)?;
            let year_col: Vec<String> = str_values(&years, "period")?
                .into_iter()
                .map(|p| {
                    p.and_then(|p| p.get(..4).map(str::to_string))
                        .unwrap_or_default()
                })
                .collect();
            years.with_column(Column::new("period".into(), year_col))?;
            let mut all = df.clone();
            all.vstack_mut(&years)?;
            insert_dataset(&mut self.frames, &src.dataset, all)?;
            self.year_ends.insert(src.dataset.clone(), ends);
        }
        Ok(())
    }

    /// Which period stood for a year in an area: for a year of a monthly
    /// or quarterly dataset, the last reported period of each county in
    /// the area (comma-separated when counties differ); else the period
    /// itself. `area` is a county, township or village code, or `None` for
    /// the city.
    pub fn period_used(&self, dataset: &str, period: &str, area: Option<&str>) -> String {
        period_used_in(&self.year_ends, dataset, period, area)
    }

    /// Replaces each `<dataset>_periods` by the given one (see
    /// [`global_periods`]).
    pub(crate) fn set_periods(&mut self, periods: &BTreeMap<String, DataFrame>) {
        for (ds, df) in periods {
            let name = format!("{ds}_periods");
            if self.frames.contains_key(&name) {
                self.frames.insert(name, df.clone());
            }
        }
    }

    /// A SQL context with every table registered.
    pub fn context(&self) -> SQLContext {
        let ctx = SQLContext::new();
        for (name, df) in &self.frames {
            ctx.register(name, df.clone().lazy());
        }
        ctx
    }
}

/// [`Tables::period_used`] over the given year ends (those of one load, or
/// of every province of a nation).
pub(crate) fn period_used_in(
    year_ends: &BTreeMap<String, YearEnds>,
    dataset: &str,
    period: &str,
    area: Option<&str>,
) -> String {
    let Some(ends) = year_ends.get(dataset).filter(|_| is_year(period)) else {
        return period.to_string();
    };
    // an area lies in one county: one lookup (a nation has 3,000
    // counties and a million area rows per indicator)
    if let Some(a) = area {
        let Some(c) = a.get(..6) else {
            return period.to_string();
        };
        return ends
            .get(&(c.to_string(), period.to_string()))
            .cloned()
            .unwrap_or_else(|| period.to_string());
    }
    let used: std::collections::BTreeSet<&str> = ends
        .iter()
        .filter(|((_, y), _)| y == period)
        .map(|(_, m)| m.as_str())
        .collect();
    if used.is_empty() {
        return period.to_string();
    }
    used.into_iter().collect::<Vec<_>>().join(",")
}

/// Registry entries whose kind is given and not one of `kinds`.
fn out_of_scope(
    v: &DataFrame,
    kinds: &[String],
) -> PolarsResult<std::collections::HashSet<String>> {
    let codes = str_values(v, "village_code")?;
    let kind = str_values(v, "kind")?;
    Ok(codes
        .into_iter()
        .zip(kind)
        .filter_map(|(c, k)| match (c, k) {
            (Some(c), Some(k)) if !kinds.contains(&k) => Some(c),
            _ => None,
        })
        .collect())
}

/// Each input file's period (by content hash), for roster rows.
fn file_periods(meta: &crate::lake::VersionMeta) -> BTreeMap<String, String> {
    meta.files
        .iter()
        .filter_map(|f| Some((f.sha256.clone(), f.period.clone()?)))
        .collect()
}

/// Every dataset's `<dataset>_periods` over the whole published lake as
/// the indicator SQL sees it (the scope applied, the years of monthly and
/// quarterly datasets added; `excluded`: the registry entries out of scope,
/// see [`Tables::out_of_scope`]), read from the period columns alone. A
/// province's tables get the nation's periods: a village of a province
/// that did not report a period others reported is counted as not
/// reporting it, as in one pass over the nation.
pub(crate) fn global_periods(
    p: &Pipeline,
    out: &Path,
    excluded: &std::collections::HashSet<String>,
    meta: &crate::lake::VersionMeta,
) -> Result<BTreeMap<String, DataFrame>, LakeError> {
    let mut frames = BTreeMap::new();
    let lake = Layout::new(out).lake();
    let file_period = file_periods(meta);
    for src in p.sources.iter().filter(|s| s.dataset != "villages") {
        let dir = lake.join(&src.dataset);
        let mut ps = Vec::new();
        let dated = matches!(src.frequency, Frequency::Monthly | Frequency::Quarterly);
        if walk_has_parquet(&dir) {
            let df = hive_scan(format!("{}/**/*.parquet", dir.display()))
                .and_then(|mut lf| {
                    let schema = lf.collect_schema()?;
                    // the column the period comes from (see `period_column`),
                    // and the village only when some are out of scope
                    let from = if dated && schema.contains("period") {
                        "period"
                    } else if schema.contains("year") {
                        "year"
                    } else {
                        "source_file_sha256"
                    };
                    let mut cols = vec![col(from)];
                    if !excluded.is_empty() && schema.contains("village_code") {
                        cols.push(col("village_code"));
                    }
                    // one row per distinct value: a nation has millions
                    lf.select(cols)
                        .unique(None, UniqueKeepStrategy::Any)
                        .collect()
                })
                .map_err(|e| pq(&dir, e))?;
            let period = period_column(&df, src, &file_period).map_err(|e| pq(&dir, e))?;
            let village = match df.column("village_code") {
                Ok(_) => str_values(&df, "village_code").map_err(|e| pq(&dir, e))?,
                Err(_) => vec![None; df.height()],
            };
            let period = period.str().map_err(|e| pq(&dir, e))?;
            for (per, v) in period.iter().zip(&village) {
                let Some(per) = per else { continue };
                if v.as_ref().is_some_and(|v| excluded.contains(v)) {
                    continue;
                }
                // a county's last period of a year stands for the year
                if dated && per.len() > 4 && per.get(..4).is_some_and(is_year) {
                    ps.push(per[..4].to_string());
                }
                ps.push(per.to_string());
            }
        }
        frames.insert(
            src.dataset.clone(),
            periods_frame_of(ps).map_err(|e| pq(&dir, e))?,
        );
    }
    Ok(frames)
}

fn geography(v: &DataFrame) -> PolarsResult<Geo> {
    let codes = str_values(v, "village_code")?;
    let counties = str_values(v, "county")?;
    let towns = str_values(v, "township")?;
    let names = str_values(v, "village")?;
    let merged_on: Vec<Option<i32>> = match v.column("merged_on") {
        Ok(c) => c.cast(&DataType::Int32)?.i32()?.iter().collect(),
        Err(_) => vec![None; v.height()],
    };
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let mut g = Geo::default();
    for i in 0..codes.len() {
        let Some(code) = codes[i].as_deref().filter(|c| c.len() >= 9) else {
            continue;
        };
        let cc = code[..6].to_string();
        let tc = code[..9].to_string();
        if let Some(n) = &names[i] {
            g.village.insert(code.to_string(), n.clone());
        }
        if let Some(days) = merged_on[i] {
            g.merged_later.push((
                code.to_string(),
                epoch + chrono::Duration::days(i64::from(days)),
            ));
            continue;
        }
        g.villages_total += 1;
        if let Some(c) = &counties[i] {
            g.county.entry(cc.clone()).or_insert_with(|| c.clone());
        }
        if let Some(t) = &towns[i] {
            g.township.entry(tc.clone()).or_insert_with(|| t.clone());
        }
        *g.villages_in_county.entry(cc).or_default() += 1;
        *g.villages_in_township.entry(tc).or_default() += 1;
    }
    Ok(g)
}

/// City code and name: the city's code is the counties' first 4 digits + "00".
pub fn city_of(geo: &Geo, name: &str) -> (String, String) {
    let code = geo
        .county
        .keys()
        .next()
        .map(|c| format!("{}00", &c[..4.min(c.len())]))
        .unwrap_or_else(|| "000000".into());
    (code, name.to_string())
}
