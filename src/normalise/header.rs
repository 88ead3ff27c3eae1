//! Finding the header band of a sheet and matching its columns to fields.
//!
//! County sheets put a title and a unit note above the header, split the
//! header over two or three rows with merged cells (`组织设置` over
//! `网格党支部 | 党小组 | 党员中心户`), and write each header their own way.
//! Header text is normalised (full-width → half-width, no spaces or line
//! breaks, one bracket style, a trailing unit such as `（万元）` split off)
//! before it is looked up among a source's official headers and variants.

use crate::config::Source;
use crate::read::{Merge, RawCell};
use crate::text::{normalise_header, Unit};

/// The header band found in a sheet.
#[derive(Debug, Clone)]
pub struct HeaderBand {
    /// First header row (zero-based).
    pub start: usize,
    /// Number of header rows (1–3).
    pub height: usize,
    /// For each column: the joined label text as the county wrote it.
    pub labels: Vec<String>,
    /// For each column: the field it carries and the unit from its header.
    pub columns: Vec<Option<ColumnMatch>>,
}

/// A column of the band matched to a field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnMatch {
    /// The field.
    pub field: usize,
    /// The unit its header states (`（万元）`).
    pub unit: Option<Unit>,
}

impl HeaderBand {
    /// The first row after the band.
    pub fn end(&self) -> usize {
        self.start + self.height
    }

    /// The fields some column matched, each once.
    pub fn matched_fields(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.columns.iter().flatten().map(|m| m.field).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// One header cell: its text as written, normalised, and the unit found.
#[derive(Debug, Clone, Default)]
struct HeadCell {
    raw: String,
    norm: String,
    unit: Option<Unit>,
}

/// The first rows of a sheet prepared once for header detection: every
/// cell's text with merged regions filled from their top-left cell, and
/// normalised. For formats without merge information, an empty cell in an
/// upper header row with a label below it belongs to the nearest label on
/// its left (a merged group header); `inherit` records where that is.
pub struct HeaderGrid {
    rows: usize,
    width: usize,
    /// Non-empty cells per row (a band starts on a row with two or more).
    filled: Vec<usize>,
    cells: Vec<Vec<HeadCell>>,
    inherit: Vec<Vec<Option<usize>>>,
}

/// Header bands are looked for among the first rows only.
pub(crate) const SCAN_ROWS: usize = 25;

/// Rows a sheet needs before its header can be found.
pub(crate) const HEAD_ROWS: usize = SCAN_ROWS + 3;

/// Which merged region covers each cell of a `rows` × `width` grid (the
/// first listed wins); the work is bounded by the grid's size, whatever
/// the regions are.
fn merge_owners(merges: &[Merge], rows: usize, width: usize) -> Vec<Vec<Option<usize>>> {
    let mut owner: Vec<Vec<Option<usize>>> = vec![vec![None; width]; rows];
    let mut work = 0usize;
    let budget = 4 * rows * width + 1024;
    'regions: for (k, m) in merges.iter().enumerate() {
        if m.r0 >= rows || m.c0 >= width || m.r1 < m.r0 || m.c1 < m.c0 {
            continue;
        }
        for row in owner.iter_mut().take(m.r1.min(rows - 1) + 1).skip(m.r0) {
            for slot in row.iter_mut().take(m.c1.min(width - 1) + 1).skip(m.c0) {
                work += 1;
                if work > budget {
                    break 'regions;
                }
                slot.get_or_insert(k);
            }
        }
    }
    owner
}

/// For a grid without merge information: the blank cell above a label
/// inherits the nearest label on its left in its row (when that label
/// also has a label below it).
fn inherited(cells: &[Vec<HeadCell>], rows: usize, width: usize) -> Vec<Vec<Option<usize>>> {
    let mut inherit = vec![vec![None; width]; rows];
    for r in 0..rows.saturating_sub(1) {
        // the nearest label on the left, carried along the row
        let mut left: Option<usize> = None;
        for c in 0..width {
            if !cells[r][c].raw.is_empty() {
                left = Some(c);
                continue;
            }
            if cells[r + 1][c].raw.is_empty() {
                continue;
            }
            if let Some(k) = left {
                if !cells[r + 1][k].raw.is_empty() {
                    inherit[r][c] = Some(k);
                }
            }
        }
    }
    inherit
}

impl HeaderGrid {
    /// The grid of a sheet's first rows (`all` may hold more).
    pub fn from_rows(all: &[Vec<RawCell>], merges: &[Merge], has_merge_info: bool) -> HeaderGrid {
        let rows = all.len().min(HEAD_ROWS);
        let width = all.iter().take(rows).map(|r| r.len()).max().unwrap_or(0);
        let raw = |r: usize, c: usize| -> String {
            match all.get(r).and_then(|row| row.get(c)) {
                Some(RawCell::Text(s)) => s.trim().to_string(),
                Some(RawCell::Int(i)) => i.to_string(),
                Some(RawCell::Float(f)) => crate::text::format_number(*f),
                _ => String::new(),
            }
        };
        let owner = merge_owners(merges, rows, width);
        let mut cells = vec![vec![HeadCell::default(); width]; rows];
        for (r, row) in cells.iter_mut().enumerate() {
            for (c, cell) in row.iter_mut().enumerate() {
                let text = match owner[r][c] {
                    Some(k) => raw(merges[k].r0, merges[k].c0),
                    None => raw(r, c),
                };
                if !text.is_empty() {
                    let (norm, unit) = normalise_header(&text);
                    *cell = HeadCell {
                        raw: text,
                        norm,
                        unit,
                    };
                }
            }
        }
        // without merge information, a blank above a label takes the
        // nearest label on its left
        let inherit = if has_merge_info {
            vec![vec![None; width]; rows]
        } else {
            inherited(&cells, rows, width)
        };
        let filled = all
            .iter()
            .take(rows)
            .map(|row| row.iter().filter(|c| !c.is_empty()).count())
            .collect();
        HeaderGrid {
            rows,
            width,
            filled,
            cells,
            inherit,
        }
    }

    /// The cell that gives (r, c) its text in a band ending before `band_end`.
    fn cell(&self, r: usize, c: usize, band_end: usize) -> &HeadCell {
        let own = &self.cells[r][c];
        if own.raw.is_empty() && r + 1 < band_end {
            if let Some(k) = self.inherit[r][c] {
                return &self.cells[r][k];
            }
        }
        own
    }

    /// The distinct texts of a column from top to bottom of a band.
    fn parts(&self, start: usize, height: usize, c: usize) -> Vec<&HeadCell> {
        let mut parts: Vec<&HeadCell> = Vec::new();
        for r in start..start + height {
            let cell = self.cell(r, c, start + height);
            if !cell.raw.is_empty() && parts.last().map(|p| p.raw != cell.raw).unwrap_or(true) {
                parts.push(cell);
            }
        }
        parts
    }
}

/// Looks a column label up among the source's headers: the lowest header
/// row first, then the whole joined label, then upper rows.
fn match_label(source: &Source, parts: &[&HeadCell]) -> Option<ColumnMatch> {
    let unit_seen = parts.iter().rev().find_map(|p| p.unit);
    let found = |norm: &str| source.header_index.get(norm).copied();
    let last = parts.last()?;
    let field = found(&last.norm)
        .or_else(|| {
            if parts.len() > 1 {
                let joined: String = parts.iter().map(|p| p.norm.as_str()).collect();
                found(&joined)
            } else {
                None
            }
        })
        .or_else(|| parts.iter().rev().skip(1).find_map(|p| found(&p.norm)))?;
    Some(ColumnMatch {
        field,
        unit: last.unit.or(unit_seen),
    })
}

/// Finds the best header band of a sheet for `source` among its first rows.
/// Returns `None` when no band matches at least two fields.
pub fn detect(grid: &HeaderGrid, source: &Source, ignore: &[String]) -> Option<HeaderBand> {
    let scan = grid.rows.min(SCAN_ROWS);
    let mut best: Option<(usize, usize, usize)> = None;
    for start in 0..scan {
        // a header band starts on a row with at least two labels
        if grid.filled[start] < 2 {
            continue;
        }
        for height in 1..=3 {
            if start + height > grid.rows {
                break;
            }
            let mut fields: Vec<usize> = (0..grid.width)
                .filter_map(|c| match_label(source, &grid.parts(start, height, c)))
                .map(|m| m.field)
                .collect();
            fields.sort_unstable();
            fields.dedup();
            let score = fields.len();
            // a taller band must earn its extra rows
            if score >= 2 && best.map(|(s, _, _)| score > s).unwrap_or(true) {
                best = Some((score, start, height));
            }
        }
    }
    let (_, start, height) = best?;
    let ignored: Vec<String> = ignore.iter().map(|i| normalise_header(i).0).collect();
    let mut labels = Vec::with_capacity(grid.width);
    let mut columns = Vec::with_capacity(grid.width);
    for c in 0..grid.width {
        let parts = grid.parts(start, height, c);
        let m = match_label(source, &parts);
        let label: Vec<&str> = parts.iter().map(|p| p.raw.as_str()).collect();
        let label = label.join("/");
        let skip = m.is_none()
            && parts
                .last()
                .map(|p| ignored.contains(&p.norm))
                .unwrap_or(false);
        labels.push(if skip { String::new() } else { label });
        columns.push(m);
    }
    Some(HeaderBand {
        start,
        height,
        labels,
        columns,
    })
}

/// The money unit of a note such as `单位：万元` or `填报单位：某镇　单位：元`.
pub(crate) fn unit_note(text: &str) -> Option<Unit> {
    let t = crate::text::clean_name(text);
    t.match_indices("单位").find_map(|(pos, _)| {
        let rest = t[pos + "单位".len()..].trim_start_matches([':', '：']);
        let unit: String = rest
            .chars()
            .take_while(|ch| {
                !matches!(ch, ',' | '，' | ';' | '；' | ')' | '）' | '、' | '(' | '（')
            })
            .collect();
        Unit::parse(&unit).filter(|u| *u != Unit::Percent)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_notes() {
        assert_eq!(unit_note("单位：万元"), Some(Unit::WanYuan));
        assert_eq!(unit_note("填报单位：白蒲镇　　单位：元"), Some(Unit::Yuan));
        assert_eq!(unit_note("单位：户、个"), None);
        assert_eq!(unit_note("如皋市2024年统计表"), None);
    }

    #[test]
    fn header_text_is_normalised() {
        assert_eq!(
            normalise_header("党员中心户（户）"),
            ("党员中心户".into(), None)
        );
        assert_eq!(
            normalise_header("集体经营性收入\n（万元）"),
            ("集体经营性收入".into(), Some(Unit::WanYuan))
        );
        assert_eq!(
            normalise_header("年度报酬(元)"),
            ("年度报酬".into(), Some(Unit::Yuan))
        );
        assert_eq!(
            normalise_header("县（市、区）"),
            ("县(市、区)".into(), None)
        );
        assert_eq!(
            normalise_header("【村（社区）】"),
            ("(村(社区))".into(), None)
        );
        assert_eq!(
            normalise_header(" 群众满意度 (%)"),
            ("群众满意度".into(), Some(Unit::Percent))
        );
        assert_eq!(normalise_header("*村名称："), ("村名称".into(), None));
        assert_eq!(
            normalise_header("入股资金单位：万元"),
            ("入股资金".into(), Some(Unit::WanYuan))
        );
    }
}
