//! Cells of one sheet into rows, within the cell budget and the sheet's
//! shape, and rows into frames of bounded size as they are complete.

use super::*;

/// Collects cells of one sheet and enforces the cell budget and the
/// sheet's shape (rows and columns). `rows[0]` is sheet row `first`; rows
/// already sent are gone.
pub(super) struct SheetBuilder {
    pub(super) first: usize,
    pub(super) rows: Vec<Vec<RawCell>>,
    /// Non-empty cells held (a batch is sent when it holds many).
    pub(super) cells: usize,
    pub(super) max_rows: usize,
    pub(super) max_cols: usize,
}

/// Cells per frame, at most (plus one row): frames stay small whatever a
/// row holds.
pub(crate) const BATCH_CELLS: usize = 1 << 20;

impl SheetBuilder {
    pub(super) fn new(limits: &Limits) -> Self {
        SheetBuilder {
            first: 0,
            rows: Vec::new(),
            cells: 0,
            max_rows: limits.max_rows,
            max_cols: limits.max_cols,
        }
    }

    /// Hands out the rows kept so far; the next row kept is `next`.
    pub(super) fn take(&mut self, next: usize) -> (usize, Vec<Vec<RawCell>>) {
        let first = self.first;
        let rows = std::mem::take(&mut self.rows);
        self.cells = 0;
        self.first = if next == usize::MAX {
            first + rows.len()
        } else {
            next
        };
        (first, rows)
    }

    pub(super) fn put(
        &mut self,
        row: usize,
        col: usize,
        cell: RawCell,
        budget: &mut u64,
    ) -> Result<(), ReadError> {
        if cell.is_empty() {
            return Ok(());
        }
        if row >= self.max_rows {
            return Err(ReadError::TooLarge(format!(
                "a cell in row {}: a sheet has at most {} rows",
                row.saturating_add(1),
                self.max_rows
            )));
        }
        if col >= self.max_cols {
            return Err(ReadError::TooLarge(format!(
                "row {} has a cell in column {}: a sheet has at most {} columns",
                row.saturating_add(1),
                col.saturating_add(1),
                self.max_cols
            )));
        }
        let at = row;
        let row = row - self.first;
        // every slot up to this cell costs memory, so it counts against the budget
        let grow_rows = (row + 1).saturating_sub(self.rows.len()) as u64;
        let cur_len = self.rows.get(row).map(|r| r.len()).unwrap_or(0);
        let grow_cols = (col + 1).saturating_sub(cur_len) as u64;
        let cost = grow_rows + grow_cols;
        if cost > *budget {
            return Err(ReadError::TooLarge(format!(
                "more cells than the limit near row {}, column {}",
                at + 1,
                col + 1
            )));
        }
        *budget -= cost;
        if self.rows.len() <= row {
            self.rows.resize_with(row + 1, Vec::new);
        }
        let r = &mut self.rows[row];
        if r.len() <= col {
            r.resize(col + 1, RawCell::Empty);
        }
        r[col] = cell;
        self.cells += 1;
        Ok(())
    }
}

/// Sends the rows of one sheet in batches as its cells arrive in file order.
pub(super) struct RowSink<'e> {
    pub(super) b: SheetBuilder,
    pub(super) sheet: usize,
    pub(super) name: String,
    pub(super) emit: &'e mut dyn FnMut(Frame),
}

impl RowSink<'_> {
    pub(super) fn cell(
        &mut self,
        r: usize,
        c: usize,
        cell: RawCell,
        budget: &mut u64,
    ) -> Result<(), ReadError> {
        if r < self.b.first {
            return Err(ReadError::Corrupt(format!(
                "sheet {}: row {} comes after row {}",
                self.name,
                r + 1,
                self.b.first + 1
            )));
        }
        // rows before this one are complete: send them when the batch is
        // full or this row lies beyond it (a gap is a gap, never filled)
        let new_row = r >= self.b.first + self.b.rows.len();
        if r >= self.b.first + BATCH_ROWS || (new_row && self.b.cells >= BATCH_CELLS) {
            let (first, rows) = self.b.take(r);
            if !rows.is_empty() {
                (self.emit)(Frame::Rows {
                    sheet: self.sheet,
                    first,
                    rows,
                });
            }
        }
        self.b.put(r, c, cell, budget)
    }

    pub(super) fn finish(mut self) {
        let (first, rows) = self.b.take(usize::MAX);
        if !rows.is_empty() {
            (self.emit)(Frame::Rows {
                sheet: self.sheet,
                first,
                rows,
            });
        }
    }
}

/// Refuses a sheet whose declared dimension is absurd, before its cells are read.
pub(super) fn check_dimension(
    name: &str,
    start: (u64, u64),
    end: (u64, u64),
    limits: &Limits,
) -> Result<(), ReadError> {
    let declared = (end.0 + 1)
        .saturating_sub(start.0)
        .saturating_mul((end.1 + 1).saturating_sub(start.1));
    if declared > limits.max_declared_cells {
        return Err(ReadError::TooLarge(format!(
            "sheet {name} declares {} rows × {} columns",
            end.0 + 1,
            end.1 + 1
        )));
    }
    Ok(())
}
