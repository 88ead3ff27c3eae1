//! Indicators: definitions in `pipelines/indicators.toml` run as SQL over
//! the lake, one row per counted unit, then added up per city, county,
//! township (and village where asked) into one long table.

pub mod defs;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars::sql::SQLContext;

pub use crate::analysis::tables::{city_of, Geo, Tables};
use crate::lake::{write_parquet, LakeError};
pub use defs::{Aggregate, Definitions, Indicator};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// Text interned as numbers: ids are handed out as text is first seen and
/// renumbered by [`Interner::finish`] so that id order is text order.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    strings: Vec<String>,
}

const NONE: u32 = u32::MAX;

impl Interner {
    fn id(&mut self, s: Option<&str>) -> u32 {
        let Some(s) = s else { return NONE };
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.strings.len() as u32;
        self.strings.push(s.to_string());
        self.ids.insert(s.to_string(), i);
        i
    }

    /// Sorted strings and old id → new id.
    fn finish(self) -> (Vec<String>, Vec<u32>) {
        let mut order: Vec<u32> = (0..self.strings.len() as u32).collect();
        order.sort_by(|&a, &b| self.strings[a as usize].cmp(&self.strings[b as usize]));
        let mut remap = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            remap[old as usize] = new as u32;
        }
        let mut strings = self.strings;
        let sorted = order
            .iter()
            .map(|&o| std::mem::take(&mut strings[o as usize]))
            .collect();
        (sorted, remap)
    }
}

/// One row of an indicator query, its text interned in [`Units::strings`]
/// (`NONE`: null).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unit {
    pub period: u32,
    pub category: u32,
    pub county: u32,
    pub village: u32,
    pub unit: u32,
    pub num: Option<f64>,
    pub den: Option<f64>,
    pub reported: bool,
}

/// The rows of all of an indicator's queries, sorted (text order, then
/// num) so that sums are added in the same order on every run.
#[derive(Debug, Clone, Default)]
pub struct Units {
    pub strings: Vec<String>,
    pub rows: Vec<Unit>,
}

impl Units {
    pub fn text(&self, id: u32) -> Option<&str> {
        (id != NONE).then(|| self.strings[id as usize].as_str())
    }

    /// The rows with their text.
    pub fn unit_rows(&self) -> Vec<UnitRow> {
        let t = |i: u32| self.text(i).map(str::to_string);
        self.rows
            .iter()
            .map(|r| UnitRow {
                period: t(r.period).unwrap_or_default(),
                category: t(r.category),
                county_code: t(r.county).unwrap_or_default(),
                village_code: t(r.village),
                unit: t(r.unit).unwrap_or_default(),
                num: r.num,
                den: r.den,
                reported: r.reported,
            })
            .collect()
    }

    /// Units from rows with text (used by `explain` on a selection).
    pub fn from_rows(rows: &[UnitRow]) -> Units {
        let mut b = UnitsBuilder::default();
        for r in rows {
            b.push(r.clone());
        }
        b.finish()
    }
}

/// A query row as borrowed text.
struct RowText<'a> {
    period: &'a str,
    category: Option<&'a str>,
    county: &'a str,
    village: Option<&'a str>,
    unit: &'a str,
    num: Option<f64>,
    den: Option<f64>,
    reported: bool,
}

#[derive(Default)]
struct UnitsBuilder {
    interner: Interner,
    rows: Vec<Unit>,
}

impl UnitsBuilder {
    fn push(&mut self, r: UnitRow) {
        self.push_text(RowText {
            period: &r.period,
            category: r.category.as_deref(),
            county: &r.county_code,
            village: r.village_code.as_deref(),
            unit: &r.unit,
            num: r.num,
            den: r.den,
            reported: r.reported,
        });
    }

    fn push_text(&mut self, r: RowText<'_>) {
        let i = &mut self.interner;
        let row = Unit {
            period: i.id(Some(r.period)),
            category: i.id(r.category),
            county: i.id(Some(r.county)),
            village: i.id(r.village),
            unit: i.id(Some(r.unit)),
            num: r.num,
            den: r.den,
            reported: r.reported,
        };
        self.rows.push(row);
    }

    fn finish(self) -> Units {
        let (strings, remap) = self.interner.finish();
        let m = |i: u32| if i == NONE { NONE } else { remap[i as usize] };
        let mut rows: Vec<Unit> = self
            .rows
            .into_iter()
            .map(|r| Unit {
                period: m(r.period),
                category: m(r.category),
                county: m(r.county),
                village: m(r.village),
                unit: m(r.unit),
                ..r
            })
            .collect();
        // NONE sorts last, like a missing text after every text
        rows.sort_by(|a, b| {
            (a.period, a.category, a.county, a.village, a.unit)
                .cmp(&(b.period, b.category, b.county, b.village, b.unit))
                .then(
                    a.num
                        .partial_cmp(&b.num)
                        .unwrap_or(std::cmp::Ordering::Equal),
                )
        });
        Units { strings, rows }
    }
}

/// Runs an indicator's queries (every `each` variant) and reads their rows.
/// `ctx` is [`Tables::context`], made once for all indicators.
pub fn run_queries(ctx: &mut SQLContext, ind: &Indicator) -> Result<Units, IndicatorError> {
    let mut b = UnitsBuilder::default();
    for (label, sql) in &ind.queries {
        read_query(ctx, ind, label, sql, &mut b)?;
    }
    Ok(b.finish())
}

fn read_query(
    ctx: &mut SQLContext,
    ind: &Indicator,
    label: &Option<String>,
    sql: &str,
    b: &mut UnitsBuilder,
) -> Result<(), IndicatorError> {
    let df = ctx
        .execute(sql)
        .and_then(|lf| lf.collect())
        .map_err(|e| query_err(ind, label, e.to_string()))?;
    let need = |name: &str| -> Result<Column, IndicatorError> {
        let c = df.column(name).map_err(|_| {
            query_err(
                ind,
                label,
                format!("the query must return a column `{name}`"),
            )
        })?;
        c.cast(&DataType::String)
            .map_err(|e| query_err(ind, label, format!("column {name}: {e}")))
    };
    let maybe = |name: &str, dt: &DataType| -> Result<Option<Column>, IndicatorError> {
        match df.column(name) {
            Err(_) => Ok(None),
            Ok(c) => c
                .cast(dt)
                .map(Some)
                .map_err(|e| query_err(ind, label, format!("column {name}: {e}"))),
        }
    };
    let period = need("period")?;
    let county = need("county_code")?;
    let unit = need("unit")?;
    let village = maybe("village_code", &DataType::String)?;
    let category = maybe("category", &DataType::String)?;
    let num = maybe("num", &DataType::Float64)?
        .ok_or_else(|| query_err(ind, label, "the query must return a column `num`".into()))?;
    let den = maybe("den", &DataType::Float64)?;
    let reported = maybe("reported", &DataType::Float64)?;
    let err = |e: PolarsError| query_err(ind, label, e.to_string());
    let period = period.str().map_err(err)?;
    let county = county.str().map_err(err)?;
    let unit = unit.str().map_err(err)?;
    let village = village.as_ref().map(|c| c.str()).transpose().map_err(err)?;
    let category = category
        .as_ref()
        .map(|c| c.str())
        .transpose()
        .map_err(err)?;
    let num = num.f64().map_err(err)?;
    let den = den.as_ref().map(|c| c.f64()).transpose().map_err(err)?;
    let reported = reported
        .as_ref()
        .map(|c| c.f64())
        .transpose()
        .map_err(err)?;
    for i in 0..df.height() {
        let (Some(p), Some(c)) = (period.get(i), county.get(i)) else {
            continue;
        };
        b.push_text(RowText {
            period: p,
            category: label.as_deref().or_else(|| category.and_then(|c| c.get(i))),
            county: c,
            village: village.and_then(|v| v.get(i)),
            unit: unit.get(i).unwrap_or(""),
            num: num.get(i),
            den: match den {
                Some(d) => d.get(i),
                None => Some(1.0),
            },
            reported: reported.is_none_or(|r| r.get(i).is_some_and(|x| x != 0.0)),
        });
    }
    Ok(())
}

#[derive(Default)]
struct Acc {
    num: f64,
    den: f64,
    vals: Vec<f64>,
    villages: Vec<u32>,
    reporting: Vec<u32>,
    units: Vec<u32>,
}

fn distinct(mut v: Vec<u32>) -> u64 {
    v.sort_unstable();
    v.dedup();
    v.len() as u64
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
    units: &Units,
    geo: &Geo,
    city: (&str, &str),
) -> Vec<IndicatorRow> {
    // townships: the first 9 digits of a village code
    let mut towns = Interner::default();
    let mut town_of: HashMap<u32, u32> = HashMap::new();
    for r in &units.rows {
        if let Some(v) = units.text(r.village).filter(|v| v.len() >= 9) {
            let t = towns.id(Some(&v[..9]));
            town_of.insert(r.village, t);
        }
    }
    let village_level = ind.def.village_rows;
    type Key = (u32, u32, Level, u32);
    let mut accs: HashMap<Key, Acc> = HashMap::new();
    for r in &units.rows {
        let mut keys = [
            (Level::City, 0),
            (Level::County, r.county),
            (Level::Township, NONE),
            (Level::Village, NONE),
        ];
        let mut n = 2;
        if let Some(&t) = town_of.get(&r.village) {
            keys[2] = (Level::Township, t);
            n = 3;
            if village_level {
                keys[3] = (Level::Village, r.village);
                n = 4;
            }
        }
        for &(level, code) in &keys[..n] {
            let a = accs.entry((r.period, r.category, level, code)).or_default();
            if let Some(v) = r.num {
                match ind.def.aggregate {
                    Aggregate::Ratio | Aggregate::Share => {
                        if let Some(d) = r.den {
                            a.num += v;
                            a.den += d;
                        }
                    }
                    Aggregate::Sum => a.num += v,
                    Aggregate::Mean | Aggregate::Median => {
                        a.num += v;
                        a.vals.push(v);
                    }
                }
            }
            if r.village != NONE {
                a.villages.push(r.village);
                if r.reported {
                    a.reporting.push(r.village);
                }
            }
            a.units.push(r.unit);
        }
    }
    let scale = ind.def.scale;
    // a share's denominator is the whole distribution of the area
    let mut totals: HashMap<(u32, Level, u32), f64> = HashMap::new();
    if ind.def.aggregate == Aggregate::Share {
        // added in key order, so the total is the same on every run
        let mut keys: Vec<&Key> = accs.keys().collect();
        keys.sort_unstable();
        for k in keys {
            *totals.entry((k.0, k.2, k.3)).or_default() += accs[k].den;
        }
    }
    let town_names = towns.strings;
    let mut out: Vec<IndicatorRow> = accs
        .into_iter()
        .map(|((period, category, level, code), mut a)| {
            let (value, numerator, denominator) = match ind.def.aggregate {
                Aggregate::Share => {
                    let total = totals.get(&(period, level, code)).copied().unwrap_or(0.0);
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
            let text = |i: u32| units.text(i).unwrap_or_default().to_string();
            let (geo_code, geo_name, registry) = match level {
                Level::City => (city.0.to_string(), city.1.to_string(), geo.villages_total),
                Level::County => {
                    let c = text(code);
                    let n = geo.county.get(&c).cloned().unwrap_or_default();
                    let k = geo.villages_in_county.get(&c).copied().unwrap_or(0);
                    (c, n, k)
                }
                Level::Township => {
                    let t = town_names[code as usize].clone();
                    let n = geo.township.get(&t).cloned().unwrap_or_default();
                    let k = geo.villages_in_township.get(&t).copied().unwrap_or(0);
                    (t, n, k)
                }
                Level::Village => {
                    let v = text(code);
                    let n = geo.village.get(&v).cloned().unwrap_or_default();
                    (v, n, 1)
                }
            };
            IndicatorRow {
                indicator: idx,
                category: units.text(category).map(str::to_string),
                period: text(period),
                level,
                geo_code,
                geo_name,
                value,
                numerator,
                denominator,
                villages_reporting: distinct(a.reporting),
                villages_registry: registry as u64,
                units: distinct(a.units),
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
    let timings = std::env::var_os("ZHENXING_TIMINGS").is_some();
    let mut ctx = tables.context();
    for (i, ind) in defs.indicators.iter().enumerate() {
        let t0 = std::time::Instant::now();
        let units = run_queries(&mut ctx, ind)?;
        let t1 = t0.elapsed();
        // rows are sorted: repeats are neighbours
        let repeats = units
            .rows
            .windows(2)
            .filter(|w| {
                (w[0].period, w[0].category, w[0].unit) == (w[1].period, w[1].category, w[1].unit)
            })
            .count();
        if repeats > 0 {
            warnings.push(format!(
                "{}: {repeats} unit(s) appear more than once in a period (e.g. two files report the same village); each row is counted",
                ind.def.id
            ));
        }
        out.extend(aggregate(i, ind, &units, &tables.geo, (&code, &name)));
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
    pub rows: Vec<IndicatorRow>,
    /// data problems behind some figures (see [`compute_all`])
    pub warnings: Vec<String>,
    pub effects: Vec<crate::analysis::effects::EffectRow>,
    pub lake_version: String,
    /// when the lake version was made, and its current input files
    pub created: String,
    pub files: Vec<crate::lake::FileEntry>,
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
    let Some(tables) = Tables::load(p, out, false)? else {
        return Ok(None);
    };
    let timings = std::env::var_os("ZHENXING_TIMINGS").is_some();
    if timings {
        eprintln!("timing: load the lake {:.3} s", t0.elapsed().as_secs_f64());
    }
    let (rows, mut warnings) = compute_all(defs, &tables, &p.city)?;
    let t1 = std::time::Instant::now();
    let (effects, more) = crate::analysis::effects::compute(&tables, &p.city, &defs.effects)
        .map_err(|e| IndicatorError::Other(format!("income effects: {e}")))?;
    warnings.extend(more);
    if timings {
        eprintln!("timing: income effects {:.3} s", t1.elapsed().as_secs_f64());
    }
    Ok(Some(Computed {
        rows,
        warnings,
        effects,
        lake_version: tables.lake_version.clone(),
        created: tables.created.clone(),
        files: tables.files.clone(),
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
    let mut df = crate::analysis::effects::effects_frame(&c.effects, &c.lake_version)
        .map_err(|e| pqerr(&path, e))?;
    write_parquet(&path, &mut df, meta, 65536)?;
    Ok(())
}
/// The columns of `indicators.parquet` in order: (name, type, meaning).
/// [`indicators_frame`] writes exactly these (tested); `docs` lists them.
/// Columns of the indicator tables.
pub const INDICATOR_COLUMNS: [(&str, &str, &str); 19] = [
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
