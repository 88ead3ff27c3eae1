//! Text as county spreadsheets write it, made comparable: full-width
//! forms, stray spaces and line breaks, placeholders, units written next to
//! numbers or in headers, village-name stems, and numbers printed without
//! binary noise. The foundation every other module reads; it reads nothing.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Prints a float without a trailing `.0` when it is whole and without
/// binary noise (`0.1 + 0.2` prints as `0.3`).
pub fn format_number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        let s = format!("{:.6}", f);
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

/// Maps full-width ASCII forms (`１２３`, `（`, `％`) and the ideographic
/// space to their half-width forms.
pub fn to_half_width(s: &str) -> Cow<'_, str> {
    // full-width forms are U+FF01..=U+FF5E (lead byte 0xEF), the
    // ideographic space U+3000 (lead byte 0xE3)
    if !s.bytes().any(|b| b == 0xEF || b == 0xE3) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\u{3000}' => ' ',
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                _ => c,
            })
            .collect(),
    )
}

/// Whether a byte can start a character that [`clean_name`] removes or
/// changes: ASCII white space, or the UTF-8 lead bytes of U+0085/U+00A0,
/// U+1680, U+2000–U+2FFF, U+3000–U+3FFF and U+F000–U+FFFF. Chinese
/// characters (lead bytes 0xE4–0xE9) never match, so most names are
/// cleared by this byte scan alone.
fn maybe_odd(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ' | 0xC2 | 0xE1 | 0xE2 | 0xE3 | 0xEF)
}

/// Trims a name and removes the spaces and line breaks that people put
/// inside names to align them (`新 华 村` → `新华村`).
pub fn clean_name(s: &str) -> Cow<'_, str> {
    let odd = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '\u{200B}' | '\u{FEFF}' | '\u{3000}' | '\u{FF01}'..='\u{FF5E}'
            )
    };
    // most cells are clean already: no copy then
    if !s.bytes().any(maybe_odd) || !s.chars().any(odd) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        to_half_width(s)
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '\u{200B}' && *c != '\u{FEFF}')
            .collect(),
    )
}

/// Text that means "nothing here".
pub fn is_placeholder(s: &str) -> bool {
    let t = clean_name(s);
    matches!(
        &*t,
        "" | "—"
            | "——"
            | "-"
            | "--"
            | "/"
            | "无"
            | "／"
            | "空"
            | "暂无"
            | "N/A"
            | "n/a"
            | "NA"
            | "null"
    )
}

/// A unit of money or a plain multiplier found in a header or a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    /// 元.
    Yuan,
    /// 万元 (10,000 yuan).
    WanYuan,
    /// 亿元 (100,000,000 yuan).
    YiYuan,
    /// A percentage.
    Percent,
}

impl Unit {
    /// The unit a text names (`万元`, `元`, `%`), if any.
    pub fn parse(s: &str) -> Option<Unit> {
        match s.trim() {
            "元" | "元/年" | "元/月" => Some(Unit::Yuan),
            "万元" | "万" => Some(Unit::WanYuan),
            "亿元" => Some(Unit::YiYuan),
            "%" => Some(Unit::Percent),
            _ => None,
        }
    }

    /// Factor that turns an amount in this unit into yuan.
    pub fn to_yuan(self) -> f64 {
        match self {
            Unit::Yuan | Unit::Percent => 1.0,
            Unit::WanYuan => 10_000.0,
            Unit::YiYuan => 100_000_000.0,
        }
    }

    /// The unit as Chinese writes it.
    pub fn label(self) -> &'static str {
        match self {
            Unit::Yuan => "元",
            Unit::WanYuan => "万元",
            Unit::YiYuan => "亿元",
            Unit::Percent => "%",
        }
    }
}

/// Units of counting that carry no scale (`12户`, `3个`), and other
/// bracketed notes that only say how a header's values are written.
pub(crate) fn is_count_unit(s: &str) -> bool {
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
            | "村"
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

/// The name without a trailing 村 / 社区 / 居委会 / 村委会.
pub(crate) fn stem(name: &str) -> String {
    let n = clean_name(name);
    for suf in ["村民委员会", "居民委员会", "村委会", "居委会", "社区", "村"] {
        if let Some(s) = n.strip_suffix(suf) {
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    n.into_owned()
}

/// Fills `{name}` in a template from `vars`, in one pass: a value that
/// itself contains braces (a county's text) is never read as a name.
pub fn fill(template: &str, vars: &[(&str, String)]) -> String {
    fill_between(template, ("{", "}"), |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    })
}

/// Replaces each name between `open` and `close` with what `value` gives
/// for it, in one pass (a value holding the markers is never read as a
/// name); a name `value` does not know is kept as written.
pub(crate) fn fill_between<'v>(
    template: &str,
    (open, close): (&str, &str),
    mut value: impl FnMut(&str) -> Option<&'v str>,
) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find(open) {
        out.push_str(&rest[..start]);
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(close) else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        match value(&after[..end]) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[start..start + open.len() + end + close.len()]),
        }
        rest = &after[end + close.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_prefilter_misses_no_character_clean_name_changes() {
        let mut buf = [0u8; 4];
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let s: &str = c.encode_utf8(&mut buf);
            if clean_name_slow_changes(s) {
                assert!(maybe_odd(s.as_bytes()[0]), "U+{:04X}", c as u32);
            }
        }
    }

    fn clean_name_slow_changes(s: &str) -> bool {
        s.chars().any(|c| {
            c.is_whitespace()
                || matches!(
                    c,
                    '\u{200B}' | '\u{FEFF}' | '\u{3000}' | '\u{FF01}'..='\u{FF5E}'
                )
        })
    }
}
