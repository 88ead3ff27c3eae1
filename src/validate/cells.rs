//! One cell of one field to a typed value or a problem, by the field's
//! type and unit.

use super::*;

impl<'p, 'a> SheetPass<'p, 'a> {
    pub(super) fn parse_cell(&self, f: usize, c: usize, cell: &RawCell) -> Parsed {
        let field = &self.source.fields[f];
        let bad = |code: &str, expected: &str| {
            Parsed::Err(Problem::BadValue {
                code: code.to_string(),
                expected: expected.to_string(),
            })
        };
        let is_1904 = self.is_1904;
        match field.ty {
            FieldType::Text | FieldType::List => {
                let t = cell_text(cell);
                let t = t.trim();
                if t.is_empty() || is_placeholder(t) {
                    return Parsed::Ok(Value::Null);
                }
                if field.ty == FieldType::List {
                    let parts: Vec<String> = t
                        .split([';', '；', ',', '，', '、'])
                        .map(|p| clean_name(p).into_owned())
                        .filter(|s| !s.is_empty())
                        .collect();
                    return Parsed::Ok(Value::Text(parts.join(";")));
                }
                let t = crate::text::to_half_width(t).trim().to_string();
                if field.pii == Some(crate::config::PiiKind::IdNumber) && !pii::id_number_valid(&t)
                {
                    return bad(
                        "E_ID_NUMBER",
                        "an 18-character resident ID number with a valid check digit",
                    );
                }
                Parsed::Ok(Value::Text(t))
            }
            FieldType::Name => {
                let raw = cell_text(cell);
                let t = clean_name(&raw);
                if is_placeholder(&t) {
                    Parsed::Ok(Value::Null)
                } else {
                    Parsed::Ok(Value::Text(t.into_owned()))
                }
            }
            FieldType::Enum => {
                let raw = cell_text(cell);
                let t = clean_name(&raw);
                let listed = field.values.iter().any(|v| clean_name(v) == t);
                if t.is_empty() || (is_placeholder(&t) && !listed) {
                    return Parsed::Ok(Value::Null);
                }
                if listed {
                    Parsed::Ok(Value::Text(t.into_owned()))
                } else {
                    Parsed::Err(Problem::NotInList {
                        allowed: field.values.clone(),
                    })
                }
            }
            FieldType::Int | FieldType::Number | FieldType::Money | FieldType::Percent => {
                let n = match cell_number(cell) {
                    Ok(Some(n)) => n,
                    Ok(None) => return Parsed::Ok(Value::Null),
                    Err(_) => {
                        return if field.ty == FieldType::Int {
                            bad("E_NOT_INTEGER", "a whole number")
                        } else {
                            bad("E_NOT_NUMBER", "a number")
                        }
                    }
                };
                match field.ty {
                    FieldType::Int => {
                        // beyond 2^53 a float no longer holds every whole number
                        if n.unit.is_some_and(|u| u != Unit::Yuan)
                            || (n.value - n.value.round()).abs() > 1e-9
                            || n.value.abs() > MAX_EXACT_INT
                        {
                            bad("E_NOT_INTEGER", "a whole number")
                        } else {
                            Parsed::Ok(Value::Int(n.value.round() as i64))
                        }
                    }
                    FieldType::Number => Parsed::Ok(Value::Float(n.value)),
                    FieldType::Money => {
                        let unit = n
                            .unit
                            .filter(|u| *u != Unit::Percent)
                            .or(self.column_unit(c).filter(|u| *u != Unit::Percent))
                            .or(self.sheet_unit)
                            .or(field.unit)
                            .unwrap_or(Unit::Yuan);
                        let yuan = (n.value * unit.to_yuan() * 100.0).round() / 100.0;
                        if !yuan.is_finite() || yuan.abs() > MAX_EXACT_INT {
                            return bad("E_NOT_NUMBER", "a number");
                        }
                        Parsed::Ok(Value::Float(yuan))
                    }
                    _ => {
                        let pct = if n.unit == Some(Unit::Percent) || n.value.abs() > 1.0 {
                            n.value
                        } else {
                            n.value * 100.0
                        };
                        let pct = (pct * 1e6).round() / 1e6;
                        if !pct.is_finite() {
                            return bad("E_NOT_NUMBER", "a number");
                        }
                        Parsed::Ok(Value::Float(pct))
                    }
                }
            }
            FieldType::Level => match cell {
                RawCell::Empty => Parsed::Ok(Value::Null),
                RawCell::Int(i) => Parsed::Ok(Value::Int(*i)),
                RawCell::Float(f) if f.fract() == 0.0 && f.abs() <= MAX_EXACT_INT => {
                    Parsed::Ok(Value::Int(*f as i64))
                }
                RawCell::Text(t) if is_placeholder(t) => Parsed::Ok(Value::Null),
                RawCell::Text(t) => match parse_chinese_level(t) {
                    Some(n) => Parsed::Ok(Value::Int(n)),
                    None => bad("E_NOT_LEVEL", "a level"),
                },
                _ => bad("E_NOT_LEVEL", "a level"),
            },
            FieldType::Bool => {
                match crate::normalise::value::yes_no(&self.engine.pipeline.yes_no, cell) {
                    Ok(Some(b)) => Parsed::Ok(Value::Bool(b)),
                    Ok(None) => Parsed::Ok(Value::Null),
                    Err(_) => bad("E_NOT_YESNO", "yes or no"),
                }
            }
            FieldType::Date | FieldType::Month => match cell_date(cell, is_1904) {
                Ok(Some(d)) => {
                    let d = if field.ty == FieldType::Month {
                        NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d)
                    } else {
                        d
                    };
                    Parsed::Ok(Value::Date(d))
                }
                Ok(None) => Parsed::Ok(Value::Null),
                Err(_) => bad("E_NOT_DATE", "a date"),
            },
            FieldType::Year => match cell_year(cell, is_1904) {
                Ok(Some(y)) => Parsed::Ok(Value::Int(y)),
                Ok(None) => Parsed::Ok(Value::Null),
                Err(_) => bad("E_NOT_YEAR", "a year"),
            },
            FieldType::Code => {
                let t = match cell {
                    RawCell::Empty => return Parsed::Ok(Value::Null),
                    RawCell::Int(i) => i.to_string(),
                    RawCell::Float(f) if f.fract() == 0.0 && *f >= 0.0 => format!("{}", *f as u64),
                    other => clean_name(&cell_text(other)).into_owned(),
                };
                if is_placeholder(&t) {
                    return Parsed::Ok(Value::Null);
                }
                if t.len() == 12 && t.chars().all(|c| c.is_ascii_digit()) {
                    Parsed::Ok(Value::Text(t))
                } else {
                    bad("E_BAD_CODE", "a 12-digit division code")
                }
            }
        }
    }

    pub(super) fn context_value(&self, f: &Field) -> Value {
        match f.context {
            Some(Context::County) => self
                .ctx
                .county
                .clone()
                .map(Value::Text)
                .unwrap_or(Value::Null),
            Some(Context::Township) => self
                .township
                .clone()
                .map(Value::Text)
                .unwrap_or(Value::Null),
            Some(Context::Year) => self
                .ctx
                .year
                .map(|y| Value::Int(y as i64))
                .unwrap_or(Value::Null),
            Some(Context::Period) => match (self.ctx.year, self.ctx.month) {
                (Some(y), Some(m)) => NaiveDate::from_ymd_opt(y, m, 1)
                    .map(Value::Date)
                    .unwrap_or(Value::Null),
                _ => Value::Null,
            },
            None => Value::Null,
        }
    }
}

/// 2^53: the largest magnitude below which every whole number is exact.
pub(super) const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0;
