//! A field's cell as the sheet pass sees it: typed in `normalise::cell`
//! with what the sheet says around it (its column's and its note's money
//! unit, the date system), the failure made the row's problem; and the
//! values a file's context gives a field (county, township, period).

use super::*;
use crate::config::FieldType;
use crate::normalise::cell::{type_cell, Around, CellError, Typed};

impl<'p, 'a> SheetPass<'p, 'a> {
    /// What the sheet says around column `c` (its header's money unit is
    /// looked up for money fields only: no other type reads it).
    fn around(&self, c: usize, money: bool) -> Around<'_> {
        Around {
            yes_no: &self.engine.pipeline.yes_no,
            is_1904: self.is_1904,
            column_unit: if money { self.column_unit(c) } else { None },
            sheet_unit: self.sheet_unit,
        }
    }

    /// The cell of field `f` in column `c`, typed: its value and whether
    /// its money unit was assumed, or why it has none.
    pub(super) fn type_cell(&self, f: usize, c: usize, cell: &RawCell) -> Result<Typed, CellError> {
        let field = &self.source.fields[f];
        type_cell(field, &self.around(c, field.ty == FieldType::Money), cell)
    }

    /// The row's problem with a cell of field `f` that has no value.
    pub(super) fn cell_problem(&self, f: usize, e: CellError) -> Problem {
        match e {
            CellError::Not(expected) => Problem::BadValue { expected },
            CellError::NotInList => Problem::NotInList {
                allowed: self.source.fields[f].values.clone(),
            },
        }
    }

    /// The cell's value or its problem.
    pub(super) fn parse_cell(&self, f: usize, c: usize, cell: &RawCell) -> Parsed {
        match self.type_cell(f, c, cell) {
            Ok(t) => Parsed::Ok(t.value),
            Err(e) => Parsed::Err(self.cell_problem(f, e)),
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
