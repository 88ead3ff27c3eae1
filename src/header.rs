//! Finding the header band of a sheet and matching its columns to fields.
//!
//! County sheets put a title and a unit note above the header, split the
//! header over two or three rows with merged cells (`组织设置` over
//! `网格党支部 | 党小组 | 党员中心户`), and write each header their own way.
//! Header text is normalised (full-width → half-width, no spaces or line
//! breaks, one bracket style, a trailing unit such as `（万元）` split off)
//! before it is looked up among a source's official headers and variants.

use crate::config::Source;
use crate::read::{RawCell, RawSheet};
use crate::value::{to_half_width, Unit};

/// Normalises header text; returns it with the unit found in a trailing
/// bracket, if any.
pub fn normalise_header(s: &str) -> (String, Option<Unit>) {
    let half = to_half_width(s);
    let mut t: String = half
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*' && *c != '\u{200B}')
        .map(|c| match c {
            '【' | '〔' | '［' | '｛' | '[' | '{' | '〈' | '《' => '(',
            '】' | '〕' | '］' | '｝' | ']' | '}' | '〉' | '》' => ')',
            '：' => ':',
            _ => c,
        })
        .collect::<String>()
        .to_lowercase();
    while t.ends_with(':') {
        t.pop();
    }
    let mut unit = None;
    // a trailing "(万元)" / "(户)" / "(%)" / "单位:万元" is a unit, not part of the name
    loop {
        if let Some(open) = t.rfind('(') {
            if t.ends_with(')') {
                let inner = t[open + 1..t.len() - 1]
                    .trim_start_matches("单位:")
                    .to_string();
                if let Some(u) = Unit::parse(&inner) {
                    unit = unit.or(Some(u));
                    t.truncate(open);
                    continue;
                }
                if is_count_unit(&inner) {
                    t.truncate(open);
                    continue;
                }
            }
        }
        break;
    }
    if let Some(pos) = t.find("单位:") {
        if let Some(u) = Unit::parse(&t[pos + "单位:".len()..]) {
            unit = unit.or(Some(u));
            t.truncate(pos);
        }
    }
    (t, unit)
}

fn is_count_unit(s: &str) -> bool {
    matches!(
        s,
        "户" | "人"
            | "个"
            | "名"
            | "人次"
            | "次"
            | "项"
            | "分"
            | "岁"
            | "家"
            | "星"
            | "档"
            | "级"
            | "年"
            | "元/月"
            | "元/年"
            | "0-100"
            | "百分制"
            | "是/否"
            | "√/×"
    )
}

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

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnMatch {
    pub field: usize,
    pub unit: Option<Unit>,
}

impl HeaderBand {
    pub fn end(&self) -> usize {
        self.start + self.height
    }

    pub fn matched_fields(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.columns.iter().flatten().map(|m| m.field).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// The text of a header cell, with merged regions (or, when the format
/// keeps no merge information, blanks to the right of a label in an upper
/// header row) filled from their top-left cell.
struct Filled<'a> {
    sheet: &'a RawSheet,
}

impl Filled<'_> {
    fn raw(&self, r: usize, c: usize) -> String {
        match self.sheet.rows.get(r).and_then(|row| row.get(c)) {
            Some(RawCell::Text(s)) => s.trim().to_string(),
            Some(RawCell::Int(i)) => i.to_string(),
            Some(RawCell::Float(f)) => crate::value::format_number(*f),
            _ => String::new(),
        }
    }

    fn get(&self, r: usize, c: usize, band_end: usize) -> String {
        for m in &self.sheet.merges {
            if r >= m.r0 && r <= m.r1 && c >= m.c0 && c <= m.c1 {
                return self.raw(m.r0, m.c0);
            }
        }
        let v = self.raw(r, c);
        if !v.is_empty() || self.sheet.has_merge_info || r + 1 >= band_end {
            return v;
        }
        // no merge info: an empty upper header cell with a label below it
        // belongs to the nearest label on its left (a merged group header)
        if self.raw(r + 1, c).is_empty() {
            return v;
        }
        let mut k = c;
        while k > 0 {
            k -= 1;
            let left = self.raw(r, k);
            if !left.is_empty() {
                return if self.raw(r + 1, k).is_empty() {
                    String::new()
                } else {
                    left
                };
            }
        }
        v
    }
}

/// Looks a column label up among the source's headers: the lowest header
/// row first, then the whole joined label, then upper rows.
fn match_label(source: &Source, parts: &[String]) -> Option<ColumnMatch> {
    let mut tries: Vec<String> = Vec::new();
    for p in parts.iter().rev() {
        tries.push(p.clone());
    }
    if parts.len() > 1 {
        tries.insert(1, parts.join(""));
    }
    let mut unit_seen = None;
    for t in &tries {
        let (norm, unit) = normalise_header(t);
        unit_seen = unit_seen.or(unit);
        if let Some(&field) = source.header_index.get(&norm) {
            return Some(ColumnMatch {
                field,
                unit: unit.or(unit_seen),
            });
        }
    }
    None
}

/// Builds the label parts of every column for a candidate band.
fn band_parts(sheet: &RawSheet, start: usize, height: usize, width: usize) -> Vec<Vec<String>> {
    let filled = Filled { sheet };
    (0..width)
        .map(|c| {
            let mut parts: Vec<String> = Vec::new();
            for r in start..start + height {
                let v = filled.get(r, c, start + height);
                if !v.is_empty() && parts.last() != Some(&v) {
                    parts.push(v);
                }
            }
            parts
        })
        .collect()
}

/// Finds the best header band of `sheet` for `source` among the first rows.
/// Returns `None` when no row matches at least two fields.
pub fn detect(sheet: &RawSheet, source: &Source, ignore: &[String]) -> Option<HeaderBand> {
    let scan = sheet.rows.len().min(25);
    let width = sheet
        .rows
        .iter()
        .take(scan + 3)
        .map(|r| r.len())
        .max()
        .unwrap_or(0);
    let mut best: Option<(usize, HeaderBand)> = None;
    for start in 0..scan {
        // a header band starts on a row with at least two labels
        let nonempty = sheet.rows[start].iter().filter(|c| !c.is_empty()).count();
        if nonempty < 2 {
            continue;
        }
        for height in 1..=3 {
            if start + height > sheet.rows.len() {
                break;
            }
            let parts = band_parts(sheet, start, height, width);
            let columns: Vec<Option<ColumnMatch>> = parts
                .iter()
                .map(|p| {
                    if p.is_empty() {
                        None
                    } else {
                        match_label(source, p)
                    }
                })
                .collect();
            let mut fields: Vec<usize> = columns.iter().flatten().map(|m| m.field).collect();
            fields.sort_unstable();
            fields.dedup();
            let score = fields.len();
            if score < 2 {
                continue;
            }
            // a taller band must earn its extra rows
            let better = match &best {
                None => true,
                Some((s, _)) => score > *s,
            };
            if better {
                let labels = parts
                    .iter()
                    .map(|p| p.join("/"))
                    .map(|l| {
                        let (n, _) = normalise_header(&l);
                        if ignore.iter().any(|i| normalise_header(i).0 == n) {
                            String::new()
                        } else {
                            l
                        }
                    })
                    .collect();
                best = Some((
                    score,
                    HeaderBand {
                        start,
                        height,
                        labels,
                        columns,
                    },
                ));
            }
        }
    }
    best.map(|(_, b)| b)
}

#[cfg(test)]
mod tests {
    use super::*;

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
