//! Indicators: definitions in `pipelines/indicators.toml` run as SQL over
//! the lake, one row per counted unit, then added up per city, county,
//! township (and village where asked) into one long table.

mod aggregate;
pub mod defs;
mod nation;
mod units;

pub use aggregate::{aggregate, NOT_RANKED_NO_SCORE, NOT_RANKED_UNREPORTED};
use units::*;
pub use units::{run_queries, Unit, Units};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars::sql::SQLContext;

pub use crate::analysis::tables::{city_of, Geo, Tables};
use crate::lake::{write_parquet, LakeError};
pub use defs::{Aggregate, Definitions, Indicator};

/// Why the indicator stage could not compute or write its tables.
#[derive(Debug, thiserror::Error)]
pub enum IndicatorError {
    /// An indicator's SQL failed.
    #[error("indicator {id}{variant}: {message}")]
    Query {
        /// The indicator.
        id: String,
        /// The `each` variant, if any (` [5星]`).
        variant: String,
        /// What polars said.
        message: String,
    },
    /// The lake could not be read, or a table written.
    #[error(transparent)]
    Lake(#[from] LakeError),
    /// The definitions' scope or the lake's years could not be applied.
    #[error("scope and years of the lake: {0}")]
    Scope(#[source] PolarsError),
    /// The income effects could not be computed.
    #[error("income effects: {0}")]
    Effects(#[source] PolarsError),
}

/// One row of an indicator query.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitRow {
    /// The period (`2024`, `2024-06`).
    pub period: String,
    /// The category, for indicators with a breakdown (`5星`, `10-30万元`).
    pub category: Option<String>,
    /// The county's 6-digit code.
    pub county_code: String,
    /// The village's 12-digit code, if the unit lies in one.
    pub village_code: Option<String>,
    /// The unit counted: a village, a household, a person, a station.
    pub unit: String,
    /// Its numerator (or value).
    pub num: Option<f64>,
    /// Its denominator, for a ratio.
    pub den: Option<f64>,
    /// Whether its village reported (a registry village without a row has none).
    pub reported: bool,
}

/// Where a row of `indicators.parquet` stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// The whole city.
    City,
    /// A county (6-digit code).
    County,
    /// A township (9 digits).
    Township,
    /// A village (12 digits).
    Village,
}

impl Level {
    /// The level as stored (`city`, `county`, `township`, `village`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
            Level::Village => "village",
        }
    }
}

/// One row of `indicators.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorRow {
    /// The indicator, by its place in the definitions.
    pub indicator: usize,
    /// The category, for indicators with a breakdown.
    pub category: Option<String>,
    /// The period.
    pub period: String,
    /// The period whose figures stand for `period` here (see
    /// [`Tables::period_used`]).
    pub period_used: String,
    /// City, county, township or village.
    pub level: Level,
    /// The area's code.
    pub geo_code: String,
    /// The area's name.
    pub geo_name: String,
    /// The figure (none when the denominator is 0 or nothing reported).
    pub value: Option<f64>,
    /// What was added up above the line.
    pub numerator: Option<f64>,
    /// What it was divided by.
    pub denominator: Option<f64>,
    /// Villages of the area with a row behind the figure.
    pub villages_reporting: u64,
    /// Villages of the area in the registry (as of the period).
    pub villages_registry: u64,
    /// Units behind the figure.
    pub units: u64,
    /// The village's rank within its county, for ranked indicators.
    pub rank: Option<u64>,
    /// Why a village row of a ranked indicator has no rank.
    pub note: Option<String>,
}

/// Computes every indicator.
/// Computes every indicator. The second value lists data problems the
/// figures depend on: a unit counted more than once in one period (two
/// files reporting the same village, say).
pub(crate) fn compute_all(
    defs: &Definitions,
    tables: &Tables,
    city: &str,
) -> Result<(Vec<IndicatorRow>, Vec<String>), IndicatorError> {
    let (code, name) = city_of(&tables.geo, city);
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let timings = std::env::var_os("ZHENXING_TIMINGS").is_some();
    let bar = crate::progress::bar(defs.indicators.len() as u64, "indicators");
    for (i, ind) in defs.indicators.iter().enumerate() {
        if let Some(b) = &bar {
            b.set_message(ind.def.id.clone());
            b.inc(1);
        }
        let t0 = std::time::Instant::now();
        // a context of its own: polars' SQL keeps the aliases of derived
        // tables (`JOIN (SELECT …) c`) from one query to the next
        let units = run_queries(&mut tables.context(), ind)?;
        let t1 = t0.elapsed();
        if let Some(w) = repeat_warning(ind, repeated_units(&units)) {
            warnings.push(w);
        }
        let mut rows = aggregate(i, ind, &units, &tables.geo, (&code, &name));
        for r in &mut rows {
            let area = (r.level != Level::City).then_some(r.geo_code.as_str());
            r.period_used = tables.period_used(&ind.def.dataset, &r.period, area);
        }
        out.extend(rows);
        if timings {
            eprintln!(
                "timing: {:<34} {:>8} unit rows  query {:>7.3} s  aggregate {:>7.3} s",
                ind.def.id,
                units.rows.len(),
                t1.as_secs_f64(),
                (t0.elapsed() - t1).as_secs_f64()
            );
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok((out, warnings))
}

/// The order of `indicators.parquet`'s rows: indicator, period, category
/// (none first), level, area code.
pub(crate) fn sort_rows(rows: &mut [IndicatorRow]) {
    rows.sort_by(|a, b| {
        (a.indicator, &a.period, &a.category, a.level, &a.geo_code).cmp(&(
            b.indicator,
            &b.period,
            &b.category,
            b.level,
            &b.geo_code,
        ))
    });
}

/// Unit rows that repeat the period, category and unit of the row before
/// (rows are sorted: repeats are neighbours).
fn repeated_units(units: &Units) -> usize {
    units
        .rows
        .windows(2)
        .filter(|w| {
            (w[0].period, w[0].category, w[0].unit) == (w[1].period, w[1].category, w[1].unit)
        })
        .count()
}

fn repeat_warning(ind: &Indicator, repeats: usize) -> Option<String> {
    (repeats > 0 && !ind.def.once_per_unit).then(|| format!(
        "{}: {repeats} unit(s) appear more than once in a period (e.g. two files report the same village); each row is counted",
        ind.def.id
    ))
}

/// The long table as a frame.
pub fn indicators_frame(
    defs: &Definitions,
    rows: &[IndicatorRow],
    run_id: &str,
) -> PolarsResult<DataFrame> {
    let ind = |r: &IndicatorRow| &defs.indicators[r.indicator];
    let s = |f: &dyn Fn(&IndicatorRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let cols = vec![
        Column::new("indicator_id".into(), s(&|r| ind(r).def.id.clone())),
        Column::new("family".into(), s(&|r| ind(r).def.family.clone())),
        Column::new("name_zh".into(), s(&|r| ind(r).def.name_zh.clone())),
        Column::new("name_en".into(), s(&|r| ind(r).def.name_en.clone())),
        Column::new(
            "category".into(),
            rows.iter().map(|r| r.category.clone()).collect::<Vec<_>>(),
        ),
        Column::new("period".into(), s(&|r| r.period.clone())),
        Column::new("period_used".into(), s(&|r| r.period_used.clone())),
        Column::new("level".into(), s(&|r| r.level.as_str().to_string())),
        Column::new("geo_code".into(), s(&|r| r.geo_code.clone())),
        Column::new("geo_name".into(), s(&|r| r.geo_name.clone())),
        Column::new(
            "value".into(),
            rows.iter().map(|r| r.value).collect::<Vec<_>>(),
        ),
        Column::new(
            "numerator".into(),
            rows.iter().map(|r| r.numerator).collect::<Vec<_>>(),
        ),
        Column::new(
            "denominator".into(),
            rows.iter().map(|r| r.denominator).collect::<Vec<_>>(),
        ),
        Column::new("unit".into(), s(&|r| ind(r).def.unit.clone())),
        Column::new(
            "villages_reporting".into(),
            rows.iter()
                .map(|r| r.villages_reporting)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "villages_registry".into(),
            rows.iter().map(|r| r.villages_registry).collect::<Vec<_>>(),
        ),
        Column::new(
            "units".into(),
            rows.iter().map(|r| r.units).collect::<Vec<_>>(),
        ),
        Column::new(
            "rank".into(),
            rows.iter().map(|r| r.rank).collect::<Vec<_>>(),
        ),
        Column::new(
            "note".into(),
            rows.iter().map(|r| r.note.clone()).collect::<Vec<_>>(),
        ),
        Column::new("run_id".into(), vec![run_id.to_string(); rows.len()]),
        Column::new("definition_hash".into(), s(&|r| ind(r).hash.clone())),
    ];
    DataFrame::new(rows.len(), cols)
}

/// What the indicator tables depend on: lake version, pipeline, the
/// definitions (parameters and SQL) and this program's version.
pub(crate) fn stamp(p: &crate::config::Pipeline, defs: &Definitions, lake_version: &str) -> String {
    let mut hashes: Vec<String> = defs.indicators.iter().map(|i| i.hash.clone()).collect();
    // family names and comments change the report, not the hashes above
    hashes.push(
        crate::fsio::sha256_file(&defs.path)
            .map(|h| h.0)
            .unwrap_or_default(),
    );
    format!(
        "{{\"lake_version\":\"{lake_version}\",\"pipeline_hash\":\"{}\",\"definitions\":\"{}\",\"effects\":\"{:?}\",\"zhenxing\":\"{}\"}}",
        p.hash,
        hashes.join(","),
        defs.effects,
        env!("CARGO_PKG_VERSION")
    )
}

/// `OUT/indicators`.
pub fn dir(out: &Path) -> PathBuf {
    out.join("indicators")
}

/// What one `indicators` stage produced.
pub struct Computed {
    /// Every row; over a lake of several provinces the city rows only,
    /// every row being in [`Computed::streamed`].
    pub rows: Vec<IndicatorRow>,
    /// rows of `indicators.parquet`
    pub row_count: usize,
    /// `indicators.parquet` already written under a temporary name (a
    /// nation's indicators, see [`nation`])
    pub streamed: Option<nation::Streamed>,
    /// data problems behind some figures (see [`compute_all`])
    pub warnings: Vec<String>,
    /// The income-effect rows.
    pub effects: Vec<crate::analysis::effects::EffectRow>,
    /// The lake version the tables were computed from.
    pub lake_version: String,
    /// when the lake version was made, and its current input files
    pub created: String,
    /// Its current input files.
    pub files: Vec<crate::lake::FileEntry>,
    /// How long the stage took, in seconds.
    pub seconds: f64,
}

/// Computes indicators and income effects from the published lake
/// (`None`: nothing published yet). Writes nothing.
pub(crate) fn compute(
    p: &crate::config::Pipeline,
    defs: &Definitions,
    out: &Path,
) -> Result<Option<Computed>, IndicatorError> {
    let digits = defs.scope.query_area.digits();
    let areas = crate::analysis::tables::areas(out, digits);
    if digits > 0 && areas.len() > 1 {
        return nation::compute_by_area(p, defs, out, &areas);
    }
    let t0 = std::time::Instant::now();
    let Some(mut tables) = Tables::load(p, out, false)? else {
        return Ok(None);
    };
    tables
        .as_indicators_see(p, &defs.scope.kinds)
        .map_err(IndicatorError::Scope)?;
    let timings = std::env::var_os("ZHENXING_TIMINGS").is_some();
    if timings {
        eprintln!("timing: load the lake {:.3} s", t0.elapsed().as_secs_f64());
    }
    let (rows, mut warnings) = compute_all(defs, &tables, &p.city)?;
    let effects = income_effects(p, defs, &tables, &mut warnings)?;
    Ok(Some(Computed {
        row_count: rows.len(),
        rows,
        streamed: None,
        warnings,
        effects,
        lake_version: tables.lake_version.clone(),
        created: tables.created.clone(),
        files: tables.files.clone(),
        seconds: t0.elapsed().as_secs_f64(),
    }))
}

/// The file metadata of the indicator tables.
fn table_meta(
    p: &crate::config::Pipeline,
    defs: &Definitions,
    lake_version: &str,
) -> Vec<(String, String)> {
    vec![
        (
            "zhenxing.lake_version".to_string(),
            lake_version.to_string(),
        ),
        ("zhenxing.pipeline_hash".to_string(), p.hash.clone()),
        (
            "zhenxing.definitions".to_string(),
            defs.path.display().to_string(),
        ),
    ]
}

/// The income effects of the tables' household panel, with a progress
/// bar on a terminal; their data problems are added to `warnings`.
fn income_effects(
    p: &crate::config::Pipeline,
    defs: &Definitions,
    tables: &Tables,
    warnings: &mut Vec<String>,
) -> Result<Vec<crate::analysis::effects::EffectRow>, IndicatorError> {
    let t1 = std::time::Instant::now();
    let bar = crate::progress::bar(1, "income effects");
    if let Some(b) = &bar {
        b.set_message("TWFE, event study, Callaway–Sant'Anna");
    }
    let (effects, more) = crate::analysis::effects::compute(tables, &p.city, &defs.effects)
        .map_err(IndicatorError::Effects)?;
    warnings.extend(more);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if std::env::var_os("ZHENXING_TIMINGS").is_some() {
        eprintln!(
            "timing: income effects {:.3} s, peak so far {} MiB",
            t1.elapsed().as_secs_f64(),
            crate::worker::peak_rss_mib().0
        );
    }
    Ok(effects)
}

/// Writes `indicators.parquet` and `income_effects.parquet` (each through
/// a temporary file and rename).
pub(crate) fn write_tables(
    p: &crate::config::Pipeline,
    defs: &Definitions,
    out: &Path,
    c: &Computed,
) -> Result<(), IndicatorError> {
    let dir = dir(out);
    let meta = table_meta(p, defs, &c.lake_version);
    let pqerr = |path: &Path, e: PolarsError| IndicatorError::Lake(crate::lake::pq(path, e));
    let path = dir.join("indicators.parquet");
    match &c.streamed {
        Some(s) => {
            std::fs::rename(&s.tmp, &path)
                .and_then(|()| crate::fsio::sync_parent(&path))
                .map_err(|e| IndicatorError::Lake(crate::lake::io(&path, e)))?;
        }
        None => {
            let mut df =
                indicators_frame(defs, &c.rows, &c.lake_version).map_err(|e| pqerr(&path, e))?;
            write_parquet(&path, &mut df, meta.clone(), 65536)?;
        }
    }
    let path = dir.join("income_effects.parquet");
    let mut df = crate::analysis::effects::effects_frame(&c.effects, &c.lake_version)
        .map_err(|e| pqerr(&path, e))?;
    write_parquet(&path, &mut df, meta, 65536)?;
    Ok(())
}
/// The columns of `indicators.parquet` in order: (name, type, meaning).
/// [`indicators_frame`] writes exactly these (tested); `docs` lists them.
/// Columns of the indicator tables.
pub const INDICATOR_COLUMNS: [(&str, &str, &str); 21] = [
    (
        "indicator_id",
        "String",
        "indicator id in pipelines/indicators.toml",
    ),
    (
        "family",
        "String",
        "indicator family (organisation, standardisation, …)",
    ),
    ("name_zh", "String", "Chinese name"),
    ("name_en", "String", "English name"),
    (
        "category",
        "String",
        "breakdown (band, star level, aspect, …); null when none",
    ),
    ("period", "String", "YYYY, YYYY-MM or current (rosters)"),
    (
        "period_used",
        "String",
        "the period whose reports stand for `period` here: for a year of a monthly dataset, each county's last reported month of that year (comma-separated when the counties of the area differ); else the period itself",
    ),
    ("level", "String", "city, county, township or village"),
    (
        "geo_code",
        "String",
        "division code: city/county 6 digits, township 9, village 12",
    ),
    (
        "geo_name",
        "String",
        "name of the city, county, township or village",
    ),
    (
        "value",
        "Float64",
        "the figure, in `unit`; null when the denominator is 0",
    ),
    ("numerator", "Float64", "Σ num of the units (before scale)"),
    (
        "denominator",
        "Float64",
        "Σ den (ratio) or number of units with a value (mean, median)",
    ),
    ("unit", "String", "unit of value"),
    (
        "villages_reporting",
        "UInt64",
        "villages in scope that reported for the period",
    ),
    (
        "villages_registry",
        "UInt64",
        "active registry villages in the area",
    ),
    (
        "units",
        "UInt64",
        "units counted (villages, stations, secretaries, …)",
    ),
    (
        "rank",
        "UInt64",
        "rank within the county (village rows of ranked indicators)",
    ),
    (
        "note",
        "String",
        "why a village of a ranked indicator has no rank (未排名：…), else null",
    ),
    (
        "run_id",
        "String",
        "lake version the figure was computed from",
    ),
    (
        "definition_hash",
        "String",
        "hash of the definition and parameters that made it",
    ),
];
