//! One cell of one field to its typed value: by the field's type, the
//! money unit stated around the cell and the workbook's date system. The
//! one place a cell is typed; what the value means for the row and the
//! registry is `validate`'s business.

use chrono::{Datelike, NaiveDate};

use crate::catalogue::Expected;
use crate::config::{Field, FieldType, PiiKind, YesNo};
use crate::normalise::value::{
    cell_date, cell_number, cell_year, id_number_valid, parse_chinese_level, raw_text, yes_no,
    Value,
};
use crate::read::RawCell;
use crate::text::{clean_name, is_placeholder, Unit};

/// 2^53: the largest magnitude below which every whole number is exact.
pub(crate) const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// What the sheet says around a cell, besides the cell itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Around<'a> {
    /// The pipeline's words for yes and no.
    pub yes_no: &'a YesNo,
    /// The workbook counts dates from 1904.
    pub is_1904: bool,
    /// The unit the cell's column header states (`收入（万元）`).
    pub column_unit: Option<Unit>,
    /// The unit a note above the header states (`单位：万元`).
    pub sheet_unit: Option<Unit>,
}

/// A typed cell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Typed {
    /// The value (null for an empty cell or a placeholder such as `—`).
    pub value: Value,
    /// For money: nothing stated a unit (not the cell, its header or the
    /// sheet), so the amount was read in the template's unit.
    pub unit_assumed: bool,
}

impl Typed {
    fn value(value: Value) -> Typed {
        Typed {
            value,
            unit_assumed: false,
        }
    }
}

/// Why a cell has no value of its field's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellError {
    /// Not of the type: what it should have been.
    Not(Expected),
    /// Not one of the field's values.
    NotInList,
}

/// Types one cell of `field`.
pub(crate) fn type_cell(
    field: &Field,
    around: &Around,
    cell: &RawCell,
) -> Result<Typed, CellError> {
    match field.ty {
        FieldType::Text | FieldType::List => text_cell(field, cell).map(Typed::value),
        FieldType::Name => {
            let raw = cell_text(cell);
            let t = clean_name(&raw);
            Ok(Typed::value(match is_placeholder(&t) {
                true => Value::Null,
                false => Value::Text(t.into_owned()),
            }))
        }
        FieldType::Enum => enum_cell(field, cell).map(Typed::value),
        FieldType::Int | FieldType::Number | FieldType::Money | FieldType::Percent => {
            number_cell(field, around, cell)
        }
        FieldType::Level => level_cell(cell).map(Typed::value),
        FieldType::Bool => match yes_no(around.yes_no, cell) {
            Ok(Some(b)) => Ok(Typed::value(Value::Bool(b))),
            Ok(None) => Ok(Typed::value(Value::Null)),
            Err(_) => Err(CellError::Not(Expected::YesNo)),
        },
        FieldType::Date | FieldType::Month => match cell_date(cell, around.is_1904) {
            Ok(Some(d)) if field.ty == FieldType::Month => {
                let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d);
                Ok(Typed::value(Value::Date(first)))
            }
            Ok(Some(d)) => Ok(Typed::value(Value::Date(d))),
            Ok(None) => Ok(Typed::value(Value::Null)),
            Err(_) => Err(CellError::Not(Expected::Date)),
        },
        FieldType::Year => match cell_year(cell, around.is_1904) {
            Ok(Some(y)) => Ok(Typed::value(Value::Int(y))),
            Ok(None) => Ok(Typed::value(Value::Null)),
            Err(_) => Err(CellError::Not(Expected::Year)),
        },
        FieldType::Code => code_cell(cell).map(Typed::value),
    }
}

/// A cell's text without copying when it is text already.
pub(crate) fn cell_text(c: &RawCell) -> std::borrow::Cow<'_, str> {
    match c {
        RawCell::Text(s) => std::borrow::Cow::Borrowed(s.as_str()),
        other => std::borrow::Cow::Owned(raw_text(other)),
    }
}

/// Free text (half-width, trimmed; an ID number field must hold a valid
/// one) or a list (`a；b、c` → `a;b;c`).
fn text_cell(field: &Field, cell: &RawCell) -> Result<Value, CellError> {
    let t = cell_text(cell);
    let t = t.trim();
    if t.is_empty() || is_placeholder(t) {
        return Ok(Value::Null);
    }
    if field.ty == FieldType::List {
        let parts: Vec<String> = t
            .split([';', '；', ',', '，', '、'])
            .map(|p| clean_name(p).into_owned())
            .filter(|s| !s.is_empty())
            .collect();
        return Ok(Value::Text(parts.join(";")));
    }
    let t = crate::text::to_half_width(t).trim().to_string();
    if field.pii == Some(PiiKind::IdNumber) && !id_number_valid(&t) {
        return Err(CellError::Not(Expected::IdNumber));
    }
    Ok(Value::Text(t))
}

/// One of the field's values (a placeholder that is not one of them is
/// empty).
fn enum_cell(field: &Field, cell: &RawCell) -> Result<Value, CellError> {
    let raw = cell_text(cell);
    let t = clean_name(&raw);
    let listed = field.values.iter().any(|v| clean_name(v) == t);
    if t.is_empty() || (is_placeholder(&t) && !listed) {
        return Ok(Value::Null);
    }
    match listed {
        true => Ok(Value::Text(t.into_owned())),
        false => Err(CellError::NotInList),
    }
}

/// A whole number, a number, an amount in yuan or a percentage.
fn number_cell(field: &Field, around: &Around, cell: &RawCell) -> Result<Typed, CellError> {
    let not = |e: Expected| Err(CellError::Not(e));
    let n = match cell_number(cell) {
        Ok(Some(n)) => n,
        Ok(None) => return Ok(Typed::value(Value::Null)),
        Err(_) if field.ty == FieldType::Int => return not(Expected::WholeNumber),
        Err(_) => return not(Expected::Number),
    };
    match field.ty {
        FieldType::Int => {
            // beyond 2^53 a float no longer holds every whole number
            if n.unit.is_some_and(|u| u != Unit::Yuan)
                || (n.value - n.value.round()).abs() > 1e-9
                || n.value.abs() > MAX_EXACT_INT
            {
                not(Expected::WholeNumber)
            } else {
                Ok(Typed::value(Value::Int(n.value.round() as i64)))
            }
        }
        FieldType::Number => Ok(Typed::value(Value::Float(n.value))),
        FieldType::Money => {
            let not_percent = |u: &Unit| *u != Unit::Percent;
            let unit = n
                .unit
                .filter(not_percent)
                .or(around.column_unit.filter(not_percent))
                .or(around.sheet_unit)
                .or(field.unit)
                .unwrap_or(Unit::Yuan);
            let yuan = (n.value * unit.to_yuan() * 100.0).round() / 100.0;
            if !yuan.is_finite() || yuan.abs() > MAX_EXACT_INT {
                return not(Expected::Number);
            }
            Ok(Typed {
                value: Value::Float(yuan),
                unit_assumed: n.unit.is_none()
                    && around.column_unit.is_none()
                    && around.sheet_unit.is_none(),
            })
        }
        _ => {
            let pct = if n.unit == Some(Unit::Percent) || n.value.abs() > 1.0 {
                n.value
            } else {
                n.value * 100.0
            };
            let pct = (pct * 1e6).round() / 1e6;
            if !pct.is_finite() {
                return not(Expected::Number);
            }
            Ok(Typed::value(Value::Float(pct)))
        }
    }
}

/// A level: a whole number, or words such as 一级 and 3档.
fn level_cell(cell: &RawCell) -> Result<Value, CellError> {
    match cell {
        RawCell::Empty => Ok(Value::Null),
        RawCell::Int(i) => Ok(Value::Int(*i)),
        RawCell::Float(f) if f.fract() == 0.0 && f.abs() <= MAX_EXACT_INT => {
            Ok(Value::Int(*f as i64))
        }
        RawCell::Text(t) if is_placeholder(t) => Ok(Value::Null),
        RawCell::Text(t) => parse_chinese_level(t)
            .map(Value::Int)
            .ok_or(CellError::Not(Expected::Level)),
        _ => Err(CellError::Not(Expected::Level)),
    }
}

/// A 12-digit division code (a number cell keeps its digits).
fn code_cell(cell: &RawCell) -> Result<Value, CellError> {
    let t = match cell {
        RawCell::Empty => return Ok(Value::Null),
        RawCell::Int(i) => i.to_string(),
        RawCell::Float(f) if f.fract() == 0.0 && *f >= 0.0 => format!("{}", *f as u64),
        other => clean_name(&cell_text(other)).into_owned(),
    };
    if is_placeholder(&t) {
        return Ok(Value::Null);
    }
    if t.len() == 12 && t.chars().all(|c| c.is_ascii_digit()) {
        Ok(Value::Text(t))
    } else {
        Err(CellError::Not(Expected::DivisionCode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Code;

    fn field(ty: FieldType, unit: Option<Unit>) -> Field {
        Field {
            name: "x".into(),
            header: "x".into(),
            variants: Vec::new(),
            ty,
            unit,
            required: false,
            min: None,
            max: None,
            warn: (None, None),
            plausible: (None, None),
            change: (None, None),
            monotone: None,
            values: Vec::new(),
            pii: None,
            context: None,
            total: false,
            spread: false,
            description: None,
        }
    }

    #[test]
    fn money_says_its_unit_and_whether_it_was_assumed() {
        let yn = YesNo::default();
        let mut around = Around {
            yes_no: &yn,
            is_1904: false,
            column_unit: None,
            sheet_unit: None,
        };
        let f = field(FieldType::Money, Some(Unit::WanYuan));
        let t = |s: &str| RawCell::Text(s.into());
        let typed = type_cell(&f, &around, &t("3")).unwrap();
        assert_eq!(typed.value, Value::Float(30_000.0));
        assert!(typed.unit_assumed);
        let typed = type_cell(&f, &around, &t("3元")).unwrap();
        assert_eq!(typed.value, Value::Float(3.0));
        assert!(!typed.unit_assumed);
        around.sheet_unit = Some(Unit::Yuan);
        let typed = type_cell(&f, &around, &t("3")).unwrap();
        assert_eq!(typed.value, Value::Float(3.0));
        assert!(!typed.unit_assumed);
        let e = type_cell(&field(FieldType::Int, None), &around, &t("3.5")).unwrap_err();
        assert_eq!(e, CellError::Not(Expected::WholeNumber));
        assert_eq!(Expected::WholeNumber.code(), Code::NotInteger);
        let e = type_cell(&field(FieldType::Code, None), &around, &t("1234")).unwrap_err();
        assert_eq!(e, CellError::Not(Expected::DivisionCode));
    }
}
