//! Indicators: definitions in `pipelines/indicators.toml` run as SQL over
//! the lake, one row per counted unit, then added up per city, county,
//! township (and village where asked) into one long table.

pub mod defs;
pub mod tables;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::lake::{write_parquet, LakeError};
pub use defs::{Aggregate, Definitions, Indicator};
pub use tables::{Geo, Tables};

#[derive(Debug, thiserror::Error)]
pub enum IndicatorError {
    #[error("indicator {id}{variant}: {message}")]
    Query {
        id: String,
        variant: String,
        message: String,
    },
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("{0}")]
    Other(String),
}

/// One row of an indicator query.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitRow {
    pub period: String,
    pub category: Option<String>,
    pub county_code: String,
    pub village_code: Option<String>,
    pub unit: String,
    pub num: Option<f64>,
    pub den: Option<f64>,
    pub reported: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    City,
    County,
    Township,
    Village,
}

impl Level {
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
    pub indicator: usize,
    pub category: Option<String>,
    pub period: String,
    pub level: Level,
    pub geo_code: String,
    pub geo_name: String,
    pub value: Option<f64>,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub villages_reporting: u64,
    pub villages_registry: u64,
    pub units: u64,
    pub rank: Option<u64>,
}

fn query_err(ind: &Indicator, label: &Option<String>, message: String) -> IndicatorError {
    IndicatorError::Query {
        id: ind.def.id.clone(),
        variant: label
            .as_ref()
            .map(|l| format!(" [{l}]"))
            .unwrap_or_default(),
        message,
    }
}

fn col_str(df: &DataFrame, name: &str) -> Result<Option<Vec<Option<String>>>, String> {
    let Ok(c) = df.column(name) else {
        return Ok(None);
    };
    let c = c
        .cast(&DataType::String)
        .map_err(|e| format!("column {name}: {e}"))?;
    let s = c.str().map_err(|e| format!("column {name}: {e}"))?;
    Ok(Some(s.iter().map(|v| v.map(str::to_string)).collect()))
}

fn col_f64(df: &DataFrame, name: &str) -> Result<Option<Vec<Option<f64>>>, String> {
    let Ok(c) = df.column(name) else {
        return Ok(None);
    };
    let c = c
        .cast(&DataType::Float64)
        .map_err(|e| format!("column {name} must be a number: {e}"))?;
    let s = c.f64().map_err(|e| format!("column {name}: {e}"))?;
    Ok(Some(s.iter().collect()))
}

/// Runs one variant's SQL and reads its rows, sorted so that sums are
/// added in the same order on every run.
pub fn run_query(
    tables: &Tables,
    ind: &Indicator,
    label: &Option<String>,
    sql: &str,
) -> Result<Vec<UnitRow>, IndicatorError> {
    let mut ctx = tables.context();
    let df = ctx
        .execute(sql)
        .and_then(|lf| lf.collect())
        .map_err(|e| query_err(ind, label, e.to_string()))?;
    let need = |name: &str, v: Result<Option<Vec<Option<String>>>, String>| match v {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(query_err(
            ind,
            label,
            format!("the query must return a column `{name}`"),
        )),
        Err(e) => Err(query_err(ind, label, e)),
    };
    let period = need("period", col_str(&df, "period"))?;
    let county = need("county_code", col_str(&df, "county_code"))?;
    let unit = need("unit", col_str(&df, "unit"))?;
    let village = col_str(&df, "village_code").map_err(|e| query_err(ind, label, e))?;
    let category = col_str(&df, "category").map_err(|e| query_err(ind, label, e))?;
    let num = match col_f64(&df, "num") {
        Ok(Some(v)) => v,
        Ok(None) => {
            return Err(query_err(
                ind,
                label,
                "the query must return a column `num`".into(),
            ));
        }
        Err(e) => return Err(query_err(ind, label, e)),
    };
    let den = col_f64(&df, "den").map_err(|e| query_err(ind, label, e))?;
    let reported = col_f64(&df, "reported").map_err(|e| query_err(ind, label, e))?;
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let (Some(p), Some(c)) = (&period[i], &county[i]) else {
            continue;
        };
        rows.push(UnitRow {
            period: p.clone(),
            category: label
                .clone()
                .or_else(|| category.as_ref().and_then(|c| c[i].clone())),
            county_code: c.clone(),
            village_code: village.as_ref().and_then(|v| v[i].clone()),
            unit: unit[i].clone().unwrap_or_default(),
            num: num[i],
            den: match &den {
                Some(d) => d[i],
                None => Some(1.0),
            },
            reported: reported
                .as_ref()
                .is_none_or(|r| r[i].is_some_and(|x| x != 0.0)),
        });
    }
    rows.sort_by(|a, b| {
        (
            &a.period,
            &a.category,
            &a.county_code,
            &a.village_code,
            &a.unit,
        )
            .cmp(&(
                &b.period,
                &b.category,
                &b.county_code,
                &b.village_code,
                &b.unit,
            ))
            .then(
                a.num
                    .partial_cmp(&b.num)
                    .unwrap_or(std::cmp::Ordering::Equal),
            )
    });
    Ok(rows)
}

#[derive(Default)]
struct Acc {
    num: f64,
    den: f64,
    vals: Vec<f64>,
    villages: BTreeSet<String>,
    reporting: BTreeSet<String>,
    units: BTreeSet<String>,
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Adds unit rows up per level.
pub fn aggregate(
    idx: usize,
    ind: &Indicator,
    rows: &[UnitRow],
    geo: &Geo,
    city: (&str, &str),
) -> Vec<IndicatorRow> {
    type Key = (String, Option<String>, Level, String);
    let mut accs: BTreeMap<Key, Acc> = BTreeMap::new();
    let village_level = ind.def.village_rows;
    for r in rows {
        let mut keys = vec![
            (Level::City, city.0.to_string()),
            (Level::County, r.county_code.clone()),
        ];
        if let Some(v) = r.village_code.as_deref().filter(|v| v.len() >= 9) {
            keys.push((Level::Township, v[..9].to_string()));
            if village_level {
                keys.push((Level::Village, v.to_string()));
            }
        }
        for (level, code) in keys {
            let a = accs
                .entry((r.period.clone(), r.category.clone(), level, code))
                .or_default();
            if let Some(n) = r.num {
                match ind.def.aggregate {
                    Aggregate::Ratio | Aggregate::Share => {
                        if let Some(d) = r.den {
                            a.num += n;
                            a.den += d;
                        }
                    }
                    Aggregate::Sum => a.num += n,
                    Aggregate::Mean | Aggregate::Median => {
                        a.num += n;
                        a.vals.push(n);
                    }
                }
            }
            if let Some(v) = &r.village_code {
                a.villages.insert(v.clone());
                if r.reported {
                    a.reporting.insert(v.clone());
                }
            }
            a.units.insert(r.unit.clone());
        }
    }
    let scale = ind.def.scale;
    // a share's denominator is the whole distribution of the area
    let mut totals: BTreeMap<(String, Level, String), f64> = BTreeMap::new();
    for ((period, _, level, code), a) in &accs {
        *totals
            .entry((period.clone(), *level, code.clone()))
            .or_default() += a.den;
    }
    let mut out: Vec<IndicatorRow> = accs
        .into_iter()
        .map(|((period, category, level, code), mut a)| {
            let (value, numerator, denominator) = match ind.def.aggregate {
                Aggregate::Share => {
                    let total = totals
                        .get(&(period.clone(), level, code.clone()))
                        .copied()
                        .unwrap_or(0.0);
                    (
                        (total != 0.0).then(|| scale * a.num / total),
                        Some(a.num),
                        Some(total),
                    )
                }
                Aggregate::Ratio => (
                    (a.den != 0.0).then(|| scale * a.num / a.den),
                    Some(a.num),
                    Some(a.den),
                ),
                Aggregate::Sum => (Some(scale * a.num), Some(a.num), None),
                Aggregate::Mean => {
                    let n = a.vals.len() as f64;
                    ((n > 0.0).then(|| scale * a.num / n), Some(a.num), Some(n))
                }
                Aggregate::Median => {
                    let n = a.vals.len() as f64;
                    (median(&mut a.vals).map(|m| scale * m), None, Some(n))
                }
            };
            let (geo_name, registry) = match level {
                Level::City => (city.1.to_string(), geo.villages_total),
                Level::County => (
                    geo.county.get(&code).cloned().unwrap_or_default(),
                    geo.villages_in_county.get(&code).copied().unwrap_or(0),
                ),
                Level::Township => (
                    geo.township.get(&code).cloned().unwrap_or_default(),
                    geo.villages_in_township.get(&code).copied().unwrap_or(0),
                ),
                Level::Village => (geo.village.get(&code).cloned().unwrap_or_default(), 1),
            };
            IndicatorRow {
                indicator: idx,
                category,
                period,
                level,
                geo_code: code,
                geo_name,
                value,
                numerator,
                denominator,
                villages_reporting: a.reporting.len() as u64,
                villages_registry: registry as u64,
                units: a.units.len() as u64,
                rank: None,
            }
        })
        .collect();
    if let Some(order) = ind.def.rank {
        rank_within_county(&mut out, order);
    }
    out.sort_by(|a, b| {
        (&a.period, &a.category, a.level, &a.geo_code).cmp(&(
            &b.period,
            &b.category,
            b.level,
            &b.geo_code,
        ))
    });
    out
}

/// Rank 1 is the best village of its county (ties share the better rank).
fn rank_within_county(rows: &mut [IndicatorRow], order: defs::RankOrder) {
    let mut groups: BTreeMap<(String, Option<String>, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.level == Level::Village && r.value.is_some() {
            groups
                .entry((
                    r.period.clone(),
                    r.category.clone(),
                    r.geo_code[..6].to_string(),
                ))
                .or_default()
                .push(i);
        }
    }
    for idxs in groups.values() {
        let vals: Vec<f64> = idxs.iter().filter_map(|&i| rows[i].value).collect();
        for &i in idxs {
            let Some(v) = rows[i].value else { continue };
            let better = vals
                .iter()
                .filter(|&&w| match order {
                    defs::RankOrder::Desc => w > v,
                    defs::RankOrder::Asc => w < v,
                })
                .count();
            rows[i].rank = Some(better as u64 + 1);
        }
    }
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

/// Computes every indicator.
/// Computes every indicator. The second value lists data problems the
/// figures depend on: a unit counted more than once in one period (two
/// files reporting the same village, say).
pub fn compute_all(
    defs: &Definitions,
    tables: &Tables,
    city: &str,
) -> Result<(Vec<IndicatorRow>, Vec<String>), IndicatorError> {
    let (code, name) = city_of(&tables.geo, city);
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, ind) in defs.indicators.iter().enumerate() {
        let mut rows = Vec::new();
        for (label, sql) in &ind.queries {
            rows.extend(run_query(tables, ind, label, sql)?);
        }
        // rows are sorted: repeats are neighbours
        let repeats = rows
            .windows(2)
            .filter(|w| {
                (&w[0].period, &w[0].category, &w[0].unit)
                    == (&w[1].period, &w[1].category, &w[1].unit)
            })
            .count();
        if repeats > 0 {
            warnings.push(format!(
                "{}: {repeats} unit(s) appear more than once in a period (e.g. two files report the same village); each row is counted",
                ind.def.id
            ));
        }
        out.extend(aggregate(i, ind, &rows, &tables.geo, (&code, &name)));
    }
    Ok((out, warnings))
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
        Column::new("run_id".into(), vec![run_id.to_string(); rows.len()]),
        Column::new("definition_hash".into(), s(&|r| ind(r).hash.clone())),
    ];
    DataFrame::new(rows.len(), cols)
}

/// What the indicator tables depend on: lake version, pipeline, the
/// definitions (parameters and SQL) and this program's version.
pub fn stamp(p: &crate::config::Pipeline, defs: &Definitions, lake_version: &str) -> String {
    let mut hashes: Vec<String> = defs.indicators.iter().map(|i| i.hash.clone()).collect();
    // family names and comments change the report, not the hashes above
    hashes.push(
        crate::ingest::sha256_file(&defs.path)
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
    pub rows: Vec<IndicatorRow>,
    /// data problems behind some figures (see [`compute_all`])
    pub warnings: Vec<String>,
    pub effects: Vec<crate::effects::EffectRow>,
    pub lake_version: String,
    pub seconds: f64,
}

/// Computes indicators and income effects from the published lake
/// (`None`: nothing published yet). Writes nothing.
pub fn compute(
    p: &crate::config::Pipeline,
    defs: &Definitions,
    out: &Path,
) -> Result<Option<Computed>, IndicatorError> {
    let t0 = std::time::Instant::now();
    let Some(tables) = Tables::load(p, out)? else {
        return Ok(None);
    };
    let (rows, mut warnings) = compute_all(defs, &tables, &p.city)?;
    let (effects, more) = crate::effects::compute(&tables, &p.city, &defs.effects)
        .map_err(|e| IndicatorError::Other(format!("income effects: {e}")))?;
    warnings.extend(more);
    Ok(Some(Computed {
        rows,
        warnings,
        effects,
        lake_version: tables.lake_version.clone(),
        seconds: t0.elapsed().as_secs_f64(),
    }))
}

/// Writes `indicators.parquet` and `income_effects.parquet` (each through
/// a temporary file and rename).
pub fn write_tables(
    p: &crate::config::Pipeline,
    defs: &Definitions,
    out: &Path,
    c: &Computed,
) -> Result<(), IndicatorError> {
    let dir = dir(out);
    let meta = vec![
        ("zhenxing.lake_version".to_string(), c.lake_version.clone()),
        ("zhenxing.pipeline_hash".to_string(), p.hash.clone()),
        (
            "zhenxing.definitions".to_string(),
            defs.path.display().to_string(),
        ),
    ];
    let pqerr = |path: &Path, e: PolarsError| IndicatorError::Lake(crate::lake::pq(path, e));
    let path = dir.join("indicators.parquet");
    let mut df = indicators_frame(defs, &c.rows, &c.lake_version).map_err(|e| pqerr(&path, e))?;
    write_parquet(&path, &mut df, meta.clone(), 65536)?;
    let path = dir.join("income_effects.parquet");
    let mut df =
        crate::effects::effects_frame(&c.effects, &c.lake_version).map_err(|e| pqerr(&path, e))?;
    write_parquet(&path, &mut df, meta, 65536)?;
    Ok(())
}
