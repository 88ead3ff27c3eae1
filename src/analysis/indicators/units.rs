//! An indicator's SQL run over the lake tables: one row per counted unit
//! and period, with its texts interned once.

use super::*;

pub(super) fn query_err(
    ind: &Indicator,
    label: &Option<String>,
    message: String,
) -> IndicatorError {
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
pub(super) struct Interner {
    pub(super) ids: HashMap<String, u32>,
    pub(super) strings: Vec<String>,
}

pub(super) const NONE: u32 = u32::MAX;

impl Interner {
    pub(super) fn id(&mut self, s: Option<&str>) -> u32 {
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
    pub(super) fn finish(self) -> (Vec<String>, Vec<u32>) {
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
    /// The period (interned).
    pub period: u32,
    /// The category (interned).
    pub category: u32,
    /// The county's code (interned).
    pub county: u32,
    /// The village's code (interned).
    pub village: u32,
    /// The unit counted (interned).
    pub unit: u32,
    /// Its numerator (or value).
    pub num: Option<f64>,
    /// Its denominator, for a ratio.
    pub den: Option<f64>,
    /// Whether its village reported.
    pub reported: bool,
}

/// The rows of all of an indicator's queries, sorted (text order, then
/// num) so that sums are added in the same order on every run.
#[derive(Debug, Clone, Default)]
pub struct Units {
    /// The texts the rows name, by id.
    pub strings: Vec<String>,
    /// The rows, sorted.
    pub rows: Vec<Unit>,
}

impl Units {
    /// The text of an id (none for `NONE`).
    pub fn text(&self, id: u32) -> Option<&str> {
        (id != NONE).then(|| self.strings[id as usize].as_str())
    }

    /// The rows with their text.
    pub(crate) fn unit_rows(&self) -> Vec<UnitRow> {
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
pub(super) struct RowText<'a> {
    pub(super) period: &'a str,
    pub(super) category: Option<&'a str>,
    pub(super) county: &'a str,
    pub(super) village: Option<&'a str>,
    pub(super) unit: &'a str,
    pub(super) num: Option<f64>,
    pub(super) den: Option<f64>,
    pub(super) reported: bool,
}

#[derive(Default)]
pub(super) struct UnitsBuilder {
    pub(super) interner: Interner,
    pub(super) rows: Vec<Unit>,
}

impl UnitsBuilder {
    pub(super) fn push(&mut self, r: UnitRow) {
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

    pub(super) fn push_text(&mut self, r: RowText<'_>) {
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

    pub(super) fn finish(self) -> Units {
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
/// `ctx` is a fresh [`Tables::context`].
pub fn run_queries(ctx: &mut SQLContext, ind: &Indicator) -> Result<Units, IndicatorError> {
    let mut b = UnitsBuilder::default();
    for (label, sql) in &ind.queries {
        read_query(ctx, ind, label, sql, &mut b)?;
    }
    Ok(b.finish())
}

/// The unit rows of one `each` variant of an indicator (`k`: its place in
/// [`Indicator::queries`]).
pub(crate) fn run_variant(
    ctx: &mut SQLContext,
    ind: &Indicator,
    k: usize,
) -> Result<Units, IndicatorError> {
    let mut b = UnitsBuilder::default();
    if let Some((label, sql)) = ind.queries.get(k) {
        read_query(ctx, ind, label, sql, &mut b)?;
    }
    Ok(b.finish())
}

pub(super) fn read_query(
    ctx: &mut SQLContext,
    ind: &Indicator,
    label: &Option<String>,
    sql: &str,
    b: &mut UnitsBuilder,
) -> Result<(), IndicatorError> {
    let mut df = ctx
        .execute(sql)
        .and_then(|lf| lf.collect())
        .map_err(|e| query_err(ind, label, e.to_string()))?;
    // rows are read by index below: one chunk, or every `get` walks the
    // chunks (a national lake scans into thousands)
    df.rechunk_mut();
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
