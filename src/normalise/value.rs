//! Turning what a county typed into a cell into a typed value.
//!
//! Everything here is pure: a raw cell (text, number, Excel date) plus the
//! field's declared type and unit goes in, a canonical value or a
//! [`ValueError`] comes out. The functions know the habits of hand-made
//! county spreadsheets: full-width digits, thousands separators, units inside
//! cells (`35万元`), percentages as `98%` or `0.98`, placeholders (`—`, `/`,
//! `无`), yes/no words (是/否, √/×, 达标/不达标) and dates in every shape.

use chrono::{Datelike, NaiveDate};

use crate::config::YesNo;
use crate::read::{excel_serial_to_date, RawCell};
use crate::text::{clean_name, format_number, is_count_unit, is_placeholder, Unit};

/// A canonical, typed value of one field of one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Empty (or a placeholder).
    Null,
    /// A whole number.
    Int(i64),
    /// A number.
    Float(f64),
    /// Yes or no.
    Bool(bool),
    /// Text.
    Text(String),
    /// A date.
    Date(NaiveDate),
}

impl Value {
    /// Empty.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a number, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The value as text, if it is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// A stable text form, used for keys, CSV output and messages.
    pub fn render(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_number(*f),
            Value::Bool(b) => if *b { "true" } else { "false" }.to_string(),
            Value::Text(s) => s.clone(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        }
    }
}

/// Why a cell could not become a value of the declared type.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueError {
    /// Not a number.
    NotANumber,
    /// Not a whole number.
    NotAnInteger,
    /// Not yes or no.
    NotABool,
    /// Not a date.
    NotADate,
    /// Not one of the values.
    NotInList,
    /// Not a division code.
    BadCode,
}

/// A number read from text, with the unit written next to it, if any.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParsedNumber {
    /// The number.
    pub value: f64,
    /// The unit written with it, if any.
    pub unit: Option<Unit>,
}

/// Parses `1,234.5`, `１２３`, `35万元`, `98%`, `12户`, `-3`.
pub fn parse_number_text(raw: &str) -> Option<ParsedNumber> {
    let s = clean_name(raw);
    if s.is_empty() {
        return None;
    }
    // split the numeric head from a unit tail
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if c.is_ascii_digit() || c == '.' || c == ',' || c == '-' || c == '+' {
            end = i + c.len_utf8();
        } else {
            break;
        }
    }
    let (head, tail) = s.split_at(end);
    // commas only as thousands separators: `1,234,567.5`, never `1,2,3`
    if head.contains(',') {
        let int_part = head.split('.').next().unwrap_or("");
        let int_part = int_part.trim_start_matches(['-', '+']);
        let mut groups = int_part.split(',');
        let lead_ok = groups.next().is_some_and(|g| (1..=3).contains(&g.len()));
        if !lead_ok
            || !groups.all(|g| g.len() == 3)
            || head.split('.').nth(1).is_some_and(|f| f.contains(','))
        {
            return None;
        }
    }
    let head: String = head.chars().filter(|c| *c != ',').collect();
    if head.is_empty() || head == "-" || head == "+" || head == "." {
        return None;
    }
    let value: f64 = head.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let unit = if tail.is_empty() {
        None
    } else if let Some(u) = Unit::parse(tail) {
        Some(u)
    } else if is_count_unit(tail) {
        None
    } else {
        return None;
    };
    Some(ParsedNumber { value, unit })
}

/// Reads a cell as a number. Returns `Ok(None)` for placeholders and
/// blanks.
pub fn cell_number(cell: &RawCell) -> Result<Option<ParsedNumber>, ValueError> {
    match cell {
        RawCell::Empty => Ok(None),
        RawCell::Int(i) => Ok(Some(ParsedNumber {
            value: *i as f64,
            unit: None,
        })),
        RawCell::Float(f) if f.is_finite() => Ok(Some(ParsedNumber {
            value: *f,
            unit: None,
        })),
        RawCell::Float(_) => Err(ValueError::NotANumber),
        RawCell::Bool(_) | RawCell::Date { .. } | RawCell::Error(_) => Err(ValueError::NotANumber),
        RawCell::Text(s) => {
            if is_placeholder(s) {
                return Ok(None);
            }
            parse_number_text(s).map(Some).ok_or(ValueError::NotANumber)
        }
    }
}

/// Parses a date written as text: `2024-3-1`, `2024/03/01`, `2024.03.01`,
/// `2024年3月1日`, `2024年3月`, `2024.03`, `2024-03`, `202403`, `20240301`.
/// A month without a day becomes the first of that month.
pub fn parse_date_text(raw: &str) -> Option<NaiveDate> {
    let s = clean_name(raw);
    let s = s.trim_end_matches('日').trim_end_matches('号');
    let unified: String = s
        .chars()
        .map(|c| match c {
            '年' | '月' | '/' | '.' | '-' => '-',
            _ => c,
        })
        .collect();
    let unified = unified.trim_end_matches('-');
    let parts: Vec<&str> = unified.split('-').collect();
    let num = |p: &str| -> Option<u32> {
        if p.is_empty() || p.len() > 4 || !p.chars().all(|c| c.is_ascii_digit()) {
            None
        } else {
            p.parse().ok()
        }
    };
    // `20240301` / `202403`: only all-ASCII-digit text is sliced by bytes
    // (`待定` is six bytes too, and a byte index inside a character panics)
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let (y, m, d) = match parts.as_slice() {
        [one] if one.len() == 8 && digits(one) => {
            (num(&one[0..4])?, num(&one[4..6])?, num(&one[6..8])?)
        }
        [one] if one.len() == 6 && digits(one) => (num(&one[0..4])?, num(&one[4..6])?, 1),
        [y, m] => (num(y)?, num(m)?, 1),
        [y, m, d] => (num(y)?, num(m)?, num(d)?),
        _ => return None,
    };
    if !(1900..=2100).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y as i32, m, d)
}

/// Reads a cell as a date: Excel dates, serial numbers (in the workbook's
/// date system) and text.
pub fn cell_date(cell: &RawCell, is_1904: bool) -> Result<Option<NaiveDate>, ValueError> {
    match cell {
        RawCell::Empty => Ok(None),
        RawCell::Date { serial, is_1904 } => excel_serial_to_date(*serial, *is_1904)
            .map(Some)
            .ok_or(ValueError::NotADate),
        RawCell::Int(i) => int_date(*i, is_1904),
        RawCell::Float(f) => {
            if f.fract() == 0.0 {
                int_date(*f as i64, is_1904)
            } else if (1900.0..2101.0).contains(f) {
                // 2024.03 typed as a number
                let y = f.trunc() as i32;
                let m = ((f - f.trunc()) * 100.0).round() as u32;
                NaiveDate::from_ymd_opt(y, m, 1)
                    .map(Some)
                    .ok_or(ValueError::NotADate)
            } else {
                excel_serial_to_date(*f, is_1904)
                    .map(Some)
                    .ok_or(ValueError::NotADate)
            }
        }
        RawCell::Text(s) => {
            if is_placeholder(s) {
                return Ok(None);
            }
            if let Some(d) = parse_date_text(s) {
                return Ok(Some(d));
            }
            let t = clean_name(s);
            if let Ok(i) = t.parse::<i64>() {
                return int_date(i, is_1904);
            }
            Err(ValueError::NotADate)
        }
        _ => Err(ValueError::NotADate),
    }
}

fn int_date(i: i64, is_1904: bool) -> Result<Option<NaiveDate>, ValueError> {
    // 20240301 / 202403 typed as numbers, else an Excel serial
    if (19_000_101..=21_001_231).contains(&i) || (190_001..=210_012).contains(&i) {
        return parse_date_text(&i.to_string())
            .map(Some)
            .ok_or(ValueError::NotADate);
    }
    excel_serial_to_date(i as f64, is_1904)
        .map(Some)
        .ok_or(ValueError::NotADate)
}

/// Reads a year: `2024`, `2024年`, `2024年度`, or a date's year.
pub fn cell_year(cell: &RawCell, is_1904: bool) -> Result<Option<i64>, ValueError> {
    match cell {
        RawCell::Empty => Ok(None),
        RawCell::Int(i) if (1900..=2100).contains(i) => Ok(Some(*i)),
        RawCell::Float(f) if f.fract() == 0.0 && (1900.0..=2100.0).contains(f) => {
            Ok(Some(*f as i64))
        }
        RawCell::Text(s) => {
            if is_placeholder(s) {
                return Ok(None);
            }
            let t = clean_name(s);
            let t = t.trim_end_matches('度').trim_end_matches('年');
            if let Ok(y) = t.parse::<i64>() {
                if (1900..=2100).contains(&y) {
                    return Ok(Some(y));
                }
            }
            parse_date_text(t)
                .map(|d| Some(d.year() as i64))
                .ok_or(ValueError::NotADate)
        }
        other => cell_date(other, is_1904).map(|d| d.map(|d| d.year() as i64)),
    }
}

/// Chinese ordinal levels: `一级` → 1, `三` → 3, `5级` → 5.
pub fn parse_chinese_level(s: &str) -> Option<i64> {
    let t = clean_name(s);
    let t = t
        .trim_end_matches('级')
        .trim_end_matches('档')
        .trim_end_matches('星')
        .trim_start_matches('第');
    let digits = [
        ("一", 1),
        ("二", 2),
        ("三", 3),
        ("四", 4),
        ("五", 5),
        ("六", 6),
        ("七", 7),
        ("八", 8),
        ("九", 9),
        ("十", 10),
    ];
    if let Ok(n) = t.parse::<i64>() {
        return Some(n);
    }
    for (w, n) in digits {
        if t == w {
            return Some(n);
        }
    }
    // 十一 … 十八
    if let Some(rest) = t.strip_prefix('十') {
        for (w, n) in digits {
            if rest == w && n < 10 {
                return Some(10 + n);
            }
        }
    }
    None
}

/// Renders a raw cell for messages and the rejects table.
pub fn raw_text(cell: &RawCell) -> String {
    match cell {
        RawCell::Empty => String::new(),
        RawCell::Text(s) => s.clone(),
        RawCell::Int(i) => i.to_string(),
        RawCell::Float(f) => format_number(*f),
        RawCell::Bool(b) => b.to_string(),
        RawCell::Date { serial, is_1904 } => excel_serial_to_date(*serial, *is_1904)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| format_number(*serial)),
        RawCell::Error(e) => e.clone(),
    }
}

/// Converts a zero-based column index to letters (`0` → `A`, `27` → `AB`).
pub fn column_letters(mut col: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// `如皋市!D17` for zero-based row and column.
pub fn cell_ref(sheet: &str, row: usize, col: usize) -> String {
    format!("{}!{}{}", sheet, column_letters(col), row + 1)
}

/// Reads a yes/no cell with the pipeline's vocabulary.
pub fn yes_no(vocab: &YesNo, cell: &RawCell) -> Result<Option<bool>, ValueError> {
    {
        match cell {
            RawCell::Empty => Ok(None),
            RawCell::Bool(b) => Ok(Some(*b)),
            RawCell::Int(1) => Ok(Some(true)),
            RawCell::Int(0) => Ok(Some(false)),
            RawCell::Float(f) if *f == 1.0 => Ok(Some(true)),
            RawCell::Float(f) if *f == 0.0 => Ok(Some(false)),
            RawCell::Text(s) => {
                let t = clean_name(s);
                if vocab.yes.iter().any(|y| y.eq_ignore_ascii_case(&t)) {
                    Ok(Some(true))
                } else if vocab.no.iter().any(|n| n.eq_ignore_ascii_case(&t)) {
                    Ok(Some(false))
                } else if is_placeholder(&t) {
                    // `无` is a placeholder; a blank yes/no is unknown, not "no"
                    Ok(None)
                } else {
                    Err(ValueError::NotABool)
                }
            }
            _ => Err(ValueError::NotABool),
        }
    }
}

/// A resident ID number (GB 11643): 17 digits and a check character, with a
/// real birth date at positions 7–14.
pub fn id_number_valid(s: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = s.trim().as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| (d - b'0') as u32 * w)
        .sum();
    if b[17].to_ascii_uppercase() != CHECK[(sum % 11) as usize] {
        return false;
    }
    let birth = std::str::from_utf8(&b[6..14]).unwrap_or("");
    chrono::NaiveDate::parse_from_str(birth, "%Y%m%d").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::to_half_width;

    fn t(s: &str) -> RawCell {
        RawCell::Text(s.to_string())
    }

    #[test]
    fn numbers_from_text() {
        let n = |s: &str| parse_number_text(s).map(|p| (p.value, p.unit));
        assert_eq!(n("1,234"), Some((1234.0, None)));
        assert_eq!(n("１２３"), Some((123.0, None)));
        assert_eq!(n(" 12 户"), Some((12.0, None)));
        assert_eq!(n("35万元"), Some((35.0, Some(Unit::WanYuan))));
        assert_eq!(n("35.5万"), Some((35.5, Some(Unit::WanYuan))));
        assert_eq!(n("98%"), Some((98.0, Some(Unit::Percent))));
        assert_eq!(n("９８％"), Some((98.0, Some(Unit::Percent))));
        assert_eq!(n("120,000元"), Some((120000.0, Some(Unit::Yuan))));
        assert_eq!(n("-3"), Some((-3.0, None)));
        assert_eq!(n("abc"), None);
        assert_eq!(n("12abc"), None);
        assert_eq!(n("-"), None);
        assert_eq!(n("1,234,567.5"), Some((1234567.5, None)));
        assert_eq!(n("1,2,3"), None);
        assert_eq!(n("12,34"), None);
        assert_eq!(n("1.5,000"), None);
    }

    #[test]
    fn placeholders_are_null() {
        for p in ["", " ", "—", "/", "无", "——", "-"] {
            assert_eq!(cell_number(&t(p)), Ok(None), "{p:?}");
        }
        assert_eq!(cell_number(&t("x")), Err(ValueError::NotANumber));
    }

    #[test]
    fn yes_no_vocabulary() {
        let yn = YesNo::default();
        for y in ["是", "√", "达标", "1", " 是 "] {
            assert_eq!(yes_no(&yn, &t(y)), Ok(Some(true)), "{y}");
        }
        for n in ["否", "×", "不达标", "0"] {
            assert_eq!(yes_no(&yn, &t(n)), Ok(Some(false)), "{n}");
        }
        assert_eq!(yes_no(&yn, &RawCell::Int(1)), Ok(Some(true)));
        assert_eq!(yes_no(&yn, &RawCell::Float(0.0)), Ok(Some(false)));
        assert_eq!(yes_no(&yn, &t("")), Ok(None));
        assert_eq!(yes_no(&yn, &t("可能")), Err(ValueError::NotABool));
    }

    #[test]
    fn dates_in_every_shape() {
        let d = |y, m, dd| Some(NaiveDate::from_ymd_opt(y, m, dd).unwrap());
        assert_eq!(parse_date_text("2024-3-1"), d(2024, 3, 1));
        assert_eq!(parse_date_text("2024年3月"), d(2024, 3, 1));
        assert_eq!(parse_date_text("2024年3月15日"), d(2024, 3, 15));
        assert_eq!(parse_date_text("2024.03"), d(2024, 3, 1));
        assert_eq!(parse_date_text("2024/03/09"), d(2024, 3, 9));
        assert_eq!(parse_date_text("20240309"), d(2024, 3, 9));
        assert_eq!(parse_date_text("２０２４年３月"), d(2024, 3, 1));
        assert_eq!(parse_date_text("2024-13-01"), None);
        assert_eq!(parse_date_text("hello"), None);
        // Excel serials: 45352 is 2024-03-01 in the 1900 system
        assert_eq!(excel_serial_to_date(45352.0, false), d(2024, 3, 1));
        // the same day is 1462 smaller in the 1904 system
        assert_eq!(excel_serial_to_date(45352.0 - 1462.0, true), d(2024, 3, 1));
        assert_eq!(excel_serial_to_date(60.0, false), None);
        assert_eq!(excel_serial_to_date(59.0, false), d(1900, 2, 28));
        assert_eq!(excel_serial_to_date(61.0, false), d(1900, 3, 1));
        assert_eq!(
            cell_date(&RawCell::Float(2024.03), false),
            Ok(d(2024, 3, 1))
        );
        assert_eq!(cell_date(&RawCell::Int(45352), false), Ok(d(2024, 3, 1)));
        assert_eq!(
            cell_date(&RawCell::Int(45352 - 1462), true),
            Ok(d(2024, 3, 1))
        );
        assert_eq!(cell_date(&t("2024.3"), false), Ok(d(2024, 3, 1)));
    }

    #[test]
    fn years_and_levels() {
        assert_eq!(cell_year(&t("2024年度"), false), Ok(Some(2024)));
        assert_eq!(cell_year(&RawCell::Float(2023.0), false), Ok(Some(2023)));
        assert_eq!(parse_chinese_level("三级"), Some(3));
        assert_eq!(parse_chinese_level("十八档"), Some(18));
        assert_eq!(parse_chinese_level("第12档"), Some(12));
        assert_eq!(parse_chinese_level("x"), None);
    }

    #[test]
    fn names_and_refs() {
        assert_eq!(clean_name(" 新 华\n村 "), "新华村");
        assert_eq!(to_half_width("（万元）"), "(万元)");
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(cell_ref("如皋市", 16, 3), "如皋市!D17");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number(350000.0), "350000");
    }
}
