//! A lean reader for the cells of xlsx worksheets.
//!
//! calamine spends most of its time on work zhenxing does not need (fonts,
//! fills, borders, a general-purpose cell type per event). This module reads
//! only what a cell value needs: the workbook's sheet list and date system,
//! the shared strings, which cell styles are date formats, and the
//! `<sheetData>` of each sheet, streamed from the zip entry. It gives the
//! same values calamine gives (a test compares both on every sample
//! workbook); any part it does not find where it expects returns `None`
//! from [`Book::open`] or [`Book::load`] so the caller uses calamine instead.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use quick_xml::events::Event;

use crate::read::xml_scan::{self as scan, Scanner, Tok};
use crate::read::{RawCell, ReadError};

use crate::read::parts::{attr, Zip};

type Entry<'z, 'a> = zip::read::ZipFile<'z, std::io::Cursor<&'a [u8]>>;
type PartReader<'z, 'a> = quick_xml::Reader<BufReader<Entry<'z, 'a>>>;

/// One worksheet as the workbook lists it.
#[derive(Debug, Clone)]
pub(crate) struct SheetEntry {
    pub name: String,
    pub hidden: bool,
    /// Zip entry of the sheet XML.
    pub path: String,
}

/// What the cells of every sheet need to be understood.
pub(crate) struct Book<'a> {
    zip: Zip<'a>,
    /// Zip entry names by lower case name (Excel treats them case-insensitively).
    names: HashMap<String, String>,
    pub is_1904: bool,
    pub sheets: Vec<SheetEntry>,
    strings: Vec<String>,
    /// Per cell style (`s=` index): whether its number format shows a date.
    date_style: Vec<bool>,
    /// Shared strings and styles parts, read by [`Book::load`].
    parts: (Option<String>, String),
}

fn xml_config<R: BufRead>(r: &mut quick_xml::Reader<R>) {
    let c = r.config_mut();
    c.check_end_names = false;
    c.trim_text(false);
    c.check_comments = false;
    c.expand_empty_elements = true;
}

impl<'a> Book<'a> {
    fn entry(&mut self, path: &str) -> Option<Entry<'_, 'a>> {
        let real = self.names.get(&path.to_ascii_lowercase())?.clone();
        self.zip.by_name(&real).ok()
    }

    fn xml(&mut self, path: &str) -> Option<PartReader<'_, 'a>> {
        let f = self.entry(path)?;
        let mut r = quick_xml::Reader::from_reader(BufReader::with_capacity(1 << 16, f));
        xml_config(&mut r);
        Some(r)
    }

    /// Reads the workbook structure (sheets, date system). `None` when a
    /// part is missing or unusual, so that calamine handles the file.
    pub fn open(bytes: &'a [u8]) -> Option<Book<'a>> {
        let zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
        let names = zip
            .file_names()
            .flatten()
            .map(|n| (n.replace('\\', "/").to_ascii_lowercase(), n.to_string()))
            .collect();
        let mut book = Book {
            zip,
            names,
            is_1904: false,
            sheets: Vec::new(),
            strings: Vec::new(),
            date_style: Vec::new(),
            parts: (None, "xl/styles.xml".to_string()),
        };
        let rels = book.relationships()?;
        book.read_workbook(&rels)?;
        let target = |kind: &str| {
            rels.values()
                .find(|(t, _)| t.ends_with(kind))
                .map(|(_, p)| p.clone())
        };
        if let Some(styles) = target("/styles") {
            book.parts.1 = styles;
        }
        book.parts.0 = target("/sharedStrings");
        Some(book)
    }

    /// Reads the shared strings and the cell styles; `None` when they are
    /// unreadable, so that calamine handles the file.
    pub fn load(&mut self) -> Option<()> {
        let (strings, styles) = self.parts.clone();
        if let Some(path) = strings {
            self.strings = self.read_strings(&path)?;
        }
        self.date_style = self.read_styles(&styles)?;
        Some(())
    }

    /// Relationship id → (type, zip path) of `xl/workbook.xml`.
    fn relationships(&mut self) -> Option<HashMap<String, (String, String)>> {
        let mut r = self.xml("xl/_rels/workbook.xml.rels")?;
        let mut buf = Vec::new();
        let mut out = HashMap::new();
        loop {
            match r.read_event_into(&mut buf).ok()? {
                Event::Start(e) if e.local_name().as_ref() == "Relationship" => {
                    let (Some(id), Some(t)) = (attr(&e, "Id"), attr(&e, "Target")) else {
                        continue;
                    };
                    let typ = attr(&e, "Type").unwrap_or_default();
                    let path = match t.strip_prefix('/') {
                        Some(abs) => abs.to_string(),
                        None => format!("xl/{t}"),
                    };
                    out.insert(id, (typ, path));
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        Some(out)
    }

    fn read_workbook(&mut self, rels: &HashMap<String, (String, String)>) -> Option<()> {
        let mut r = self.xml("xl/workbook.xml")?;
        let mut buf = Vec::new();
        let mut sheets = Vec::new();
        let mut is_1904 = false;
        loop {
            match r.read_event_into(&mut buf).ok()? {
                Event::Start(e) if e.local_name().as_ref() == "sheet" => {
                    let name = attr(&e, "name")?;
                    let id = attr(&e, "id")?;
                    let (typ, path) = rels.get(&id)?;
                    if typ.ends_with("/worksheet") {
                        let state = attr(&e, "state").unwrap_or_default();
                        sheets.push(SheetEntry {
                            name,
                            hidden: state == "hidden" || state == "veryHidden",
                            path: path.clone(),
                        });
                    } else if !typ.ends_with("/chartsheet") && !typ.ends_with("/dialogsheet") {
                        // macro sheets and the like: let calamine decide
                        return None;
                    }
                }
                Event::Start(e) if e.local_name().as_ref() == "workbookPr" => {
                    if let Some(v) = attr(&e, "date1904") {
                        is_1904 = v == "1" || v == "true";
                    }
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        drop(r);
        self.sheets = sheets;
        self.is_1904 = is_1904;
        Some(())
    }

    fn read_strings(&mut self, path: &str) -> Option<Vec<String>> {
        let mut sc = Scanner::new(self.entry(path)?);
        let mut out = Vec::new();
        while let Some(t) = sc.next_tok().ok()? {
            if let Tok::Open {
                name: b"si", empty, ..
            } = t
            {
                out.push(if empty {
                    String::new()
                } else {
                    rich_text(&mut sc, b"si").ok()?
                });
            }
        }
        Some(out)
    }

    /// For every cell style, whether it formats numbers as dates. Mirrors
    /// calamine: built-in ids 14–22, 27–36, 45, 47, 50–58 are dates; a custom
    /// format is a date when its first section has a date or time token.
    fn read_styles(&mut self, path: &str) -> Option<Vec<bool>> {
        let Some(mut r) = self.xml(path) else {
            return Some(Vec::new());
        };
        let mut buf = Vec::new();
        let mut custom: HashMap<String, String> = HashMap::new();
        let mut out = Vec::new();
        let mut in_xfs = false;
        loop {
            match r.read_event_into(&mut buf).ok()? {
                Event::Start(e) if e.local_name().as_ref() == "numFmt" => {
                    if let (Some(id), Some(code)) = (attr(&e, "numFmtId"), attr(&e, "formatCode")) {
                        custom.insert(id, code);
                    }
                }
                Event::Start(e) if e.local_name().as_ref() == "cellXfs" => in_xfs = true,
                Event::End(e) if e.local_name().as_ref() == "cellXfs" => in_xfs = false,
                Event::Start(e) if in_xfs && e.local_name().as_ref() == "xf" => {
                    out.push(match attr(&e, "numFmtId") {
                        None => false,
                        Some(id) => match custom.get(&id) {
                            Some(code) => custom_format_is_date(code),
                            None => builtin_format_is_date(&id),
                        },
                    });
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        Some(out)
    }

    /// The zip entry of every sheet; `None` when one is missing.
    pub(crate) fn sheet_parts(&self) -> Option<Vec<String>> {
        self.sheets
            .iter()
            .map(|s| self.names.get(&s.path.to_ascii_lowercase()).cloned())
            .collect()
    }

    /// Streams the cells of one sheet: `cell(row, col, value)` for each
    /// non-empty cell in file order, after `dims(first, last)` (zero-based
    /// row and column) when the sheet declares its dimension.
    pub fn cells(
        &mut self,
        sheet: usize,
        dims: &mut dyn FnMut((usize, usize), (usize, usize)) -> Result<(), ReadError>,
        cell: &mut dyn FnMut(usize, usize, RawCell) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
        let path = self.sheets[sheet].path.clone();
        let is_1904 = self.is_1904;
        let strings = std::mem::take(&mut self.strings);
        let date_style = std::mem::take(&mut self.date_style);
        let result = match self.entry(&path) {
            Some(f) => {
                let mut r = Scanner::new(f);
                let ctx = Ctx {
                    strings: &strings,
                    date_style: &date_style,
                    is_1904,
                };
                sheet_cells(&mut r, &ctx, dims, cell)
            }
            None => Err(ReadError::Corrupt(format!("sheet part {path} is missing"))),
        };
        self.strings = strings;
        self.date_style = date_style;
        result
    }
}

fn bad(what: impl std::fmt::Display) -> ReadError {
    ReadError::Corrupt(format!("sheet XML: {what}"))
}

/// Text of an `<si>` or `<is>` element (`closing` is its local name):
/// the `<t>` runs without phonetic (`<rPh>`) text; runs not marked
/// `xml:space="preserve"` lose surrounding ASCII white space, as in calamine.
fn rich_text<R: Read>(r: &mut Scanner<R>, closing: &[u8]) -> Result<String, ReadError> {
    let mut out = String::new();
    let mut phonetic = false;
    let mut run: Option<(bool, String)> = None;
    loop {
        match r.next_tok().map_err(bad)? {
            Some(Tok::Open {
                name: b"rPh",
                empty: false,
                ..
            }) => phonetic = true,
            Some(Tok::Close { name: b"rPh" }) => phonetic = false,
            Some(Tok::Open {
                name: b"t",
                attrs,
                empty,
            }) if !phonetic && !empty => {
                let preserve = scan::attrs(attrs).any(|(k, v)| k == b"space" && v == b"preserve");
                run = Some((preserve, String::new()));
            }
            Some(Tok::Text(t)) => {
                if let Some((_, v)) = run.as_mut() {
                    scan::push_text(t, v).map_err(bad)?;
                }
            }
            Some(Tok::CData(t)) => {
                if let Some((_, v)) = run.as_mut() {
                    scan::push_cdata(t, v).map_err(bad)?;
                }
            }
            Some(Tok::Close { name: b"t" }) => {
                if let Some((preserve, value)) = run.take() {
                    if preserve {
                        out.push_str(&unescape_excel(&value));
                    } else {
                        out.push_str(&unescape_excel(value.trim_matches([' ', '\t', '\r', '\n'])));
                    }
                }
            }
            Some(Tok::Close { name }) if name == closing => return Ok(out),
            Some(_) => {}
            None => return Err(bad("ends inside a string")),
        }
    }
}

/// Excel writes control characters as `_xHHHH_` (a UTF-16 unit).
fn unescape_excel(s: &str) -> std::borrow::Cow<'_, str> {
    fn unit(b: &[u8]) -> Option<u16> {
        if b.len() < 7 || b[0] != b'_' || b[1] != b'x' || b[6] != b'_' {
            return None;
        }
        let hex = std::str::from_utf8(&b[2..6]).ok()?;
        if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u16::from_str_radix(hex, 16).ok()
    }
    if !s.contains("_x") {
        return std::borrow::Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut lit = 0;
    while i < b.len() {
        let Some(u) = unit(&b[i..]) else {
            i += 1;
            continue;
        };
        out.push_str(&s[lit..i]);
        i += 7;
        let ch = match u {
            0xD800..=0xDBFF => match unit(&b[i..]) {
                Some(lo @ 0xDC00..=0xDFFF) => {
                    i += 7;
                    char::from_u32(0x10000 + ((u as u32 - 0xD800) << 10) + (lo as u32 - 0xDC00))
                }
                _ => None,
            },
            _ => char::from_u32(u as u32),
        };
        out.push(ch.unwrap_or(char::REPLACEMENT_CHARACTER));
        lit = i;
    }
    out.push_str(&s[lit..]);
    std::borrow::Cow::Owned(out)
}

fn builtin_format_is_date(id: &str) -> bool {
    matches!(id.parse::<u32>(), Ok(14..=22 | 27..=36 | 45 | 47 | 50..=58))
}

/// Whether a custom number format shows a date or clock time (not an
/// elapsed duration such as `[h]:mm`). Only the first section counts;
/// quoted text, escaped characters and bracketed codes are skipped.
fn custom_format_is_date(code: &str) -> bool {
    let mut escaped = false;
    let mut quoted = false;
    let mut brackets = 0u8;
    let mut prev = ' ';
    let mut hms = false;
    let mut ampm = false;
    for c in code.chars() {
        if escaped {
            escaped = false;
        } else if quoted {
            if c == '"' {
                quoted = false;
            }
        } else {
            match c {
                '_' | '\\' | '*' => escaped = true,
                '"' => quoted = true,
                ';' => return false,
                '[' => brackets += 1,
                ']' if brackets == 1 && hms => return false,
                ']' => brackets = brackets.saturating_sub(1),
                'a' | 'A' if !ampm && brackets == 0 => ampm = true,
                'p' | 'm' | '/' | 'P' | 'M' if ampm && brackets == 0 => return true,
                'd' | 'm' | 'h' | 'y' | 's' | 'D' | 'M' | 'H' | 'Y' | 'S'
                    if !ampm && brackets == 0 =>
                {
                    return true
                }
                _ => {
                    if !(hms && c.eq_ignore_ascii_case(&prev)) {
                        hms = prev == '[' && matches!(c, 'm' | 'h' | 's' | 'M' | 'H' | 'S');
                    }
                }
            }
        }
        prev = c;
    }
    false
}

/// `B3` → (row 2, col 1), from the bytes of an `r=` attribute.
fn a1(b: &[u8]) -> Option<(usize, usize)> {
    let mut col = 0usize;
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_uppercase() {
        col = col * 26 + (b[i] - b'A' + 1) as usize;
        i += 1;
    }
    if i == 0 || i > 3 || i == b.len() {
        return None;
    }
    let row = digits(&b[i..])?;
    (row >= 1).then(|| (row - 1, col - 1))
}

fn digits(b: &[u8]) -> Option<usize> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut n = 0usize;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as usize;
    }
    Some(n)
}

fn error_cell(v: &str) -> Result<RawCell, ReadError> {
    // the names calamine's CellErrorType prints with {:?}
    let name = match v {
        "#DIV/0!" => "Div0",
        "#N/A" => "NA",
        "#NAME?" => "Name",
        "#NULL!" => "Null",
        "#NUM!" => "Num",
        "#REF!" => "Ref",
        "#VALUE!" => "Value",
        "#GETTING_DATA" => "GettingData",
        other => return Err(bad(format!("unknown error value {other}"))),
    };
    Ok(RawCell::Error(name.to_string()))
}

fn sheet_cells<R: Read>(
    r: &mut Scanner<R>,
    ctx: &Ctx<'_>,
    dims: &mut dyn FnMut((usize, usize), (usize, usize)) -> Result<(), ReadError>,
    cell: &mut dyn FnMut(usize, usize, RawCell) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    let mut text = String::new();
    let mut row = 0usize;
    let mut col = 0usize;
    let mut in_data = false;
    loop {
        let Some(tok) = r.next_tok().map_err(bad)? else {
            return if in_data {
                Err(bad("the sheet ends inside its data"))
            } else {
                Ok(())
            };
        };
        match tok {
            Tok::Open { name, attrs, empty } if !in_data => match name {
                b"dimension" => {
                    if let Some((start, end)) = dimension(attrs) {
                        dims(start, end)?;
                    }
                }
                b"sheetData" if empty => return Ok(()),
                b"sheetData" => in_data = true,
                _ => {}
            },
            Tok::Open {
                name: b"row",
                attrs,
                empty,
            } => {
                if let Some((_, v)) = scan::attrs(attrs).find(|(k, _)| *k == b"r") {
                    let n = digits(v).ok_or_else(|| bad("bad row number"))?;
                    row = n.checked_sub(1).ok_or_else(|| bad("row number 0"))?;
                }
                if empty {
                    row += 1;
                    col = 0;
                }
            }
            Tok::Close { name: b"row" } => {
                row += 1;
                col = 0;
            }
            Tok::Open {
                name: b"c",
                attrs,
                empty,
            } => {
                let a = CellAttrs::read(attrs, (row, col))?;
                let at = a.at;
                col = at.1;
                let (typ, style) = (a.typ(), a.style);
                let value = if empty {
                    RawCell::Empty
                } else {
                    cell_value(r, &mut text, (typ, style), ctx)?
                };
                col += 1;
                if !value.is_empty() {
                    cell(at.0, at.1, value)?;
                }
            }
            Tok::Close { name: b"sheetData" } => return Ok(()),
            _ => {}
        }
    }
}

/// The range a `<dimension ref="A1:K20">` states: first and last cell.
fn dimension(attrs: &[u8]) -> Option<((usize, usize), (usize, usize))> {
    let (_, rf) = scan::attrs(attrs).find(|(k, _)| *k == b"ref")?;
    let mut parts = rf.split(|&b| b == b':');
    let first = parts.next().unwrap_or(rf);
    let last = parts.next().unwrap_or(first);
    Some((a1(first)?, a1(last)?))
}

/// A `<c>` element's attributes: where the cell is (its `r`, else the
/// place after the previous cell), its style and its type.
struct CellAttrs {
    at: (usize, usize),
    style: Option<usize>,
    typ: [u8; 9],
    typ_len: Option<usize>,
}

impl CellAttrs {
    fn read(attrs: &[u8], next: (usize, usize)) -> Result<CellAttrs, ReadError> {
        let mut a = CellAttrs {
            at: next,
            style: None,
            typ: [0; 9],
            typ_len: None,
        };
        for (k, v) in scan::attrs(attrs) {
            match k {
                b"r" => {
                    a.at = a1(v).ok_or_else(|| {
                        bad(format!("bad cell reference {}", String::from_utf8_lossy(v)))
                    })?;
                }
                b"s" => a.style = Some(digits(v).unwrap_or(0)),
                b"t" => {
                    if v.len() > a.typ.len() {
                        return Err(bad(format!(
                            "unknown cell type {}",
                            String::from_utf8_lossy(v)
                        )));
                    }
                    a.typ[..v.len()].copy_from_slice(v);
                    a.typ_len = Some(v.len());
                }
                _ => {}
            }
        }
        Ok(a)
    }

    /// The `t` attribute, if any.
    fn typ(&self) -> Option<&[u8]> {
        self.typ_len.map(|n| &self.typ[..n])
    }
}

/// What every cell of a workbook is read against.
struct Ctx<'s> {
    strings: &'s [String],
    date_style: &'s [bool],
    is_1904: bool,
}

/// Reads the content of a `<c>` element up to its end tag.
fn cell_value<R: Read>(
    r: &mut Scanner<R>,
    text: &mut String,
    (typ, style): (Option<&[u8]>, Option<usize>),
    ctx: &Ctx<'_>,
) -> Result<RawCell, ReadError> {
    let mut value = RawCell::Empty;
    loop {
        match r.next_tok().map_err(bad)? {
            Some(Tok::Open {
                name: b"v", empty, ..
            }) => {
                text.clear();
                if !empty {
                    loop {
                        match r.next_tok().map_err(bad)? {
                            Some(Tok::Text(t)) => scan::push_text(t, text).map_err(bad)?,
                            Some(Tok::CData(t)) => scan::push_cdata(t, text).map_err(bad)?,
                            Some(Tok::Close { name: b"v" }) => break,
                            Some(_) => {}
                            None => return Err(bad("ends inside a value")),
                        }
                    }
                }
                value = v_value(text, typ, style, ctx)?;
            }
            Some(Tok::Open {
                name: b"is", empty, ..
            }) => {
                value = if empty {
                    RawCell::Empty
                } else {
                    RawCell::Text(rich_text(r, b"is")?)
                };
            }
            Some(Tok::Open {
                name, empty: false, ..
            }) => {
                // <f> and anything else: skip to its end
                let name = name.to_vec();
                r.skip_element(&name).map_err(bad)?;
            }
            Some(Tok::Close { name: b"c" }) => return Ok(value),
            Some(_) => {}
            None => return Err(bad("ends inside a cell")),
        }
    }
}

fn v_value(
    v: &str,
    typ: Option<&[u8]>,
    style: Option<usize>,
    ctx: &Ctx<'_>,
) -> Result<RawCell, ReadError> {
    Ok(match typ {
        Some(b"inlineStr") | Some(b"is") => RawCell::Empty,
        Some(b"s") => {
            if v.is_empty() {
                return Ok(RawCell::Empty);
            }
            let i = digits(v.as_bytes()).unwrap_or(0);
            match ctx.strings.get(i) {
                Some(s) => RawCell::Text(s.clone()),
                None => return Err(bad(format!("shared string {i} does not exist"))),
            }
        }
        Some(b"b") => match v.trim() {
            "" => RawCell::Empty,
            "0" => RawCell::Bool(false),
            "1" => RawCell::Bool(true),
            t if t.eq_ignore_ascii_case("false") => RawCell::Bool(false),
            t if t.eq_ignore_ascii_case("true") => RawCell::Bool(true),
            t => return Err(bad(format!("boolean cell holds {t}"))),
        },
        Some(b"d") => RawCell::Text(v.to_string()),
        Some(b"e") if v.is_empty() => RawCell::Empty,
        Some(b"e") => error_cell(v)?,
        Some(b"str") => RawCell::Text(unescape_excel(v).into_owned()),
        Some(b"n") | None => {
            if v.is_empty() {
                return Ok(RawCell::Empty);
            }
            match v.parse::<f64>() {
                Ok(n) => {
                    let date = match style {
                        None => false,
                        Some(s) => ctx.date_style.get(s).copied().unwrap_or(false),
                    };
                    if date {
                        RawCell::Date {
                            serial: n,
                            is_1904: ctx.is_1904,
                        }
                    } else {
                        RawCell::Float(n)
                    }
                }
                Err(_) if typ.is_none() => RawCell::Text(v.to_string()),
                Err(_) => return Err(bad(format!("number cell holds {v}"))),
            }
        }
        Some(t) => {
            return Err(bad(format!(
                "unknown cell type {}",
                String::from_utf8_lossy(t)
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_formats_are_recognised_like_calamine() {
        for (code, date) in [
            ("yyyy-mm-dd", true),
            ("yyyy\"年\"m\"月\"", true),
            ("[$-F800]dddd, mmmm dd, yyyy", true),
            ("[h]:mm:ss", false),
            ("0.00%", false),
            ("#,##0\\ [$\\u20bd-46D]", false),
            ("\"Y: \"0.00\"m\";\"Y: \"-0.00\"m\";\"Y: <num>m\";@", false),
            ("H:MM:SS;@", true),
            ("AM/PM h", true),
            ("0_);[Red]\\(0\\)", false),
        ] {
            assert_eq!(custom_format_is_date(code), date, "{code}");
        }
        assert!(builtin_format_is_date("14"));
        assert!(builtin_format_is_date("57"));
        assert!(!builtin_format_is_date("46"));
        assert!(!builtin_format_is_date("0"));
    }

    #[test]
    fn excel_escapes() {
        assert_eq!(unescape_excel("a_x000D_b"), "a\rb");
        assert_eq!(unescape_excel("_xD83D__xDCF7_"), "\u{1F4F7}");
        assert_eq!(
            unescape_excel("_x005F_x000D_"),
            "__x000D_".replacen("__", "_", 1)
        );
        assert_eq!(unescape_excel("plain_x"), "plain_x");
    }

    #[test]
    fn a1_refs() {
        assert_eq!(a1(b"A1"), Some((0, 0)));
        assert_eq!(a1(b"AB12"), Some((11, 27)));
        assert_eq!(a1(b"A0"), None);
        assert_eq!(a1(b"12"), None);
        assert_eq!(a1(b"A"), None);
    }
}
