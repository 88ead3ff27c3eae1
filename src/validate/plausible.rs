//! Plausibility across periods, the check a statistics office runs before
//! it publishes: each value of a field with a rule is compared with the
//! same unit's value of the nearest earlier period (the unit: the
//! template's keys without the year, a village for T07, a station and
//! village for T08). A change beyond ×`change_min`…×`change_max`, a
//! cumulative value that fell (`monotone = "grows"`) or a value that should
//! never move (`monotone = "fixed"`) is a warning naming both values and
//! both cells; the row is kept.

use std::collections::HashMap;

use crate::config::{FieldType, Monotone, Source};
use crate::validate::issue::{Issue, Problem};
use crate::validate::FileResult;

/// Where a value was written.
#[derive(Debug, Clone, PartialEq)]
pub struct At {
    /// The file as the lake names it (relative to the inbox).
    pub file: String,
    /// The sheet.
    pub sheet: String,
    /// Zero-based row and column (no column when the file's header
    /// record does not have it).
    pub row: usize,
    /// The zero-based column, when known.
    pub col: Option<usize>,
}

impl At {
    /// `如皋市_…_2023.xlsx 如皋市!F12`
    pub(crate) fn describe(&self) -> String {
        let cell = match self.col {
            Some(c) => crate::normalise::value::cell_ref(&self.sheet, self.row, c),
            None => format!("{}!{}", self.sheet, self.row + 1),
        };
        let name = self.file.rsplit('/').next().unwrap_or(&self.file);
        format!("{name} {cell}")
    }
}

/// One value of one field of one unit in one period.
#[derive(Debug, Clone, PartialEq)]
pub struct Obs {
    /// The unit: its key values (year aside), joined.
    pub unit: String,
    /// The period.
    pub period: String,
    /// The field's canonical name.
    pub field: String,
    /// A number, or a date as days since 1970-01-01.
    pub value: f64,
    /// The value as the report shows it (`2021-05-01`, `5.2`).
    pub text: String,
    /// Where it was written.
    pub at: At,
}

/// The fields of `src` that have a rule across periods.
pub(crate) fn ruled_fields(src: &Source) -> Vec<usize> {
    (0..src.fields.len())
        .filter(|&i| {
            let f = &src.fields[i];
            f.change.0.is_some() || f.change.1.is_some() || f.monotone.is_some()
        })
        .collect()
}

/// The key fields that name a unit across periods: the template's keys
/// without its year (none: the template has no rule across periods).
pub(crate) fn unit_keys(src: &Source) -> Vec<usize> {
    src.keys
        .iter()
        .copied()
        .filter(|&k| src.fields[k].ty != FieldType::Year)
        .collect()
}

fn fmt(v: f64) -> String {
    crate::text::format_number(v)
}

/// A value as a warning shows it: a date as written in the lake, a number
/// with its digits, money in yuan (the lake's unit) with 元.
pub fn shown(f: &crate::config::Field, lake_text: Option<&str>, v: f64) -> String {
    match f.ty {
        FieldType::Date => lake_text.unwrap_or_default().to_string(),
        FieldType::Money => format!("{} 元", fmt(v)),
        _ => fmt(v),
    }
}

/// The warnings of `current` against `reference` (both may be the same
/// observations: a version against itself). Each current value is compared
/// with the reference value of the same unit and field in the nearest
/// earlier period.
pub(crate) fn breaches(src: &Source, current: &[Obs], reference: &[Obs]) -> Vec<Issue> {
    // (unit, field) → its reference values by period, ascending
    let mut by: HashMap<(&str, &str), Vec<&Obs>> = HashMap::new();
    for o in reference {
        by.entry((o.unit.as_str(), o.field.as_str()))
            .or_default()
            .push(o);
    }
    for v in by.values_mut() {
        v.sort_by(|a, b| a.period.cmp(&b.period));
    }
    let mut out = Vec::new();
    for o in current {
        let Some(fi) = src.field_index(&o.field) else {
            continue;
        };
        let f = &src.fields[fi];
        let Some(prev) = by
            .get(&(o.unit.as_str(), o.field.as_str()))
            .and_then(|v| v.iter().rev().find(|p| p.period < o.period))
        else {
            continue;
        };
        let previous_at = prev.at.describe();
        let problem = match f.monotone {
            Some(Monotone::Fixed) if o.value != prev.value => Some(Problem::Moved {
                value: o.text.clone(),
                previous: prev.text.clone(),
                previous_period: prev.period.clone(),
                previous_at: previous_at.clone(),
            }),
            Some(Monotone::Grows) if o.value < prev.value => Some(Problem::Decreased {
                value: o.text.clone(),
                previous: prev.text.clone(),
                previous_period: prev.period.clone(),
                previous_at: previous_at.clone(),
            }),
            _ => None,
        };
        let problem = problem.or_else(|| {
            let (lo, hi) = f.change;
            if (lo.is_none() && hi.is_none()) || prev.value <= 0.0 || o.value < 0.0 {
                return None;
            }
            let ratio = o.value / prev.value;
            let out_of = lo.is_some_and(|l| ratio < l) || hi.is_some_and(|h| ratio > h);
            out_of.then(|| Problem::Change {
                value: o.text.clone(),
                previous: prev.text.clone(),
                previous_period: prev.period.clone(),
                previous_at: previous_at.clone(),
                ratio: (ratio * 100.0).round() / 100.0,
                min: lo,
                max: hi,
            })
        });
        if let Some(p) = problem {
            let mut i = Issue::file(p, &o.at.file);
            i.sheet = Some(o.at.sheet.clone());
            i.row = Some(o.at.row);
            i.col = o.at.col;
            i.field = Some(f.name.clone());
            i.field_label = Some(f.header.clone());
            i.raw = Some(o.text.clone());
            out.push(i);
        }
    }
    out
}

/// A key or field value as text (units are matched on it).
fn key_text(v: &crate::normalise::value::Value) -> Option<String> {
    use crate::normalise::value::Value;
    match v {
        Value::Null => None,
        Value::Int(i) => Some(i.to_string()),
        Value::Float(x) => Some(fmt(*x)),
        Value::Bool(b) => Some(b.to_string()),
        Value::Text(s) => Some(s.clone()),
        Value::Date(d) => Some(d.to_string()),
    }
}

/// A field value as a number (dates as days since 1970) and its text.
fn number(v: &crate::normalise::value::Value) -> Option<(f64, String)> {
    use crate::normalise::value::Value;
    match v {
        Value::Int(i) => Some((*i as f64, i.to_string())),
        Value::Float(x) => Some((*x, fmt(*x))),
        Value::Date(d) => {
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
            Some(((*d - epoch).num_days() as f64, d.to_string()))
        }
        _ => None,
    }
}

/// The observations of a checked file (its accepted records): `file` is
/// its name as the lake gives it.
pub(crate) fn observations(src: &Source, res: &FileResult, file: &str) -> Vec<Obs> {
    let fields = ruled_fields(src);
    let keys = unit_keys(src);
    if fields.is_empty() || keys.is_empty() {
        return Vec::new();
    }
    let year = src.fields.iter().position(|f| f.ty == FieldType::Year);
    let mut out = Vec::new();
    for r in &res.records {
        let Some(unit) = keys
            .iter()
            .map(|&k| key_text(&r.values[k]))
            .collect::<Option<Vec<String>>>()
        else {
            continue;
        };
        let period = match year {
            Some(y) => key_text(&r.values[y]),
            None => res.period.clone(),
        };
        let Some(period) = period else { continue };
        for &fi in &fields {
            let Some((value, text)) = number(&r.values[fi]) else {
                continue;
            };
            let text = shown(&src.fields[fi], Some(&text), value);
            let name = &src.fields[fi].name;
            let col = res
                .headers
                .columns
                .get(r.sheet.as_ref())
                .and_then(|m| m.get(name))
                .copied();
            out.push(Obs {
                unit: unit.join("|"),
                period: period.clone(),
                field: name.clone(),
                value,
                text,
                at: At {
                    file: file.to_string(),
                    sheet: r.sheet.to_string(),
                    row: r.row.saturating_sub(1),
                    col,
                },
            });
        }
    }
    out
}

/// Adds to a checked file the warnings of its values against `reference`
/// (the published lake's observations of the same template).
pub fn check_file(src: &Source, res: &mut FileResult, file: &str, reference: &[Obs]) {
    let current = observations(src, res, file);
    if current.is_empty() {
        return;
    }
    res.issues.extend(breaches(src, &current, reference));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Code;

    fn obs(unit: &str, period: &str, field: &str, value: f64) -> Obs {
        Obs {
            unit: unit.into(),
            period: period.into(),
            field: field.into(),
            value,
            text: crate::text::format_number(value),
            at: At {
                file: format!("如皋市/如皋市_{period}.csv"),
                sheet: "如皋市".into(),
                row: 1,
                col: Some(4),
            },
        }
    }

    #[test]
    fn a_jump_a_fall_and_a_moved_date_against_the_nearest_earlier_period() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/nantong.toml");
        let p = crate::config::load(&path).unwrap();
        let t07 = p.source("T07").unwrap();
        assert_eq!(unit_keys(t07).len(), 1, "village_code, not the year");
        let before = [
            obs("V1", "2022", "operating_income", 100.0),
            obs("V1", "2023", "operating_income", 50.0),
            obs("V2", "2023", "operating_income", 0.0),
        ];
        let now = [
            // ×6 of 2023 (the nearest earlier period), not ×3 of 2022
            obs("V1", "2024", "operating_income", 300.0),
            // nothing to divide by
            obs("V2", "2024", "operating_income", 10.0),
            // ×0.2 exactly is inside the limits
            obs("V1", "2023", "operating_income", 50.0),
        ];
        let all: Vec<Obs> = before.iter().chain(&now).cloned().collect();
        let b = breaches(t07, &now, &all);
        assert_eq!(b.len(), 1, "{b:?}");
        assert_eq!(b[0].cell_ref(), "如皋市!E2");
        match &b[0].problem {
            Problem::Change {
                ratio,
                previous_period,
                previous_at,
                ..
            } => {
                assert_eq!((*ratio, previous_period.as_str()), (6.0, "2023"));
                assert_eq!(previous_at, "如皋市_2023.csv 如皋市!E2");
            }
            other => panic!("{other:?}"),
        }
        let t08 = p.source("T08").unwrap();
        let fell = breaches(
            t08,
            &[obs("S1|V1", "2024", "invested", 80.0)],
            &[obs("S1|V1", "2023", "invested", 100.0)],
        );
        assert_eq!(
            fell.iter().map(|i| i.code()).collect::<Vec<_>>(),
            [Code::Decrease]
        );
        assert!(breaches(
            t08,
            &[obs("S1|V1", "2024", "invested", 100.0)],
            &[obs("S1|V1", "2023", "invested", 100.0)],
        )
        .is_empty());
        let t05 = p.source("T05").unwrap();
        let moved = breaches(
            t05,
            &[obs("C1", "2024-12", "founded_on", 19_000.0)],
            &[obs("C1", "2023-12", "founded_on", 18_999.0)],
        );
        assert_eq!(
            moved.iter().map(|i| i.code()).collect::<Vec<_>>(),
            [Code::Moved]
        );
        assert!(moved[0]
            .message(crate::validate::issue::Lang::En)
            .contains("cannot change"));
    }
}
