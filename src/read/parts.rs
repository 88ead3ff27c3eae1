//! Small lookups in xlsx parts that calamine does only expensively.
//!
//! calamine finds a sheet's merged regions by parsing the whole sheet XML a
//! second time (they sit after the cells). Here the sheet part is inflated
//! and the `<mergeCells>` element is found with a byte search, so only that
//! fragment is parsed. Sheet names are mapped to their parts through
//! `xl/workbook.xml` and its relationships. Any surprise returns `None` and
//! the caller falls back to calamine.

use std::collections::HashMap;
use std::io::Read;

use quick_xml::events::Event;

use crate::read::Merge;

pub(crate) type Zip<'a> = zip::ZipArchive<std::io::Cursor<&'a [u8]>>;

fn part(zip: &mut Zip<'_>, name: &str) -> Option<Vec<u8>> {
    let mut f = zip.by_name(name).ok()?;
    let mut out = Vec::with_capacity(f.size().min(1 << 30) as usize);
    f.read_to_end(&mut out).ok()?;
    Some(out)
}

pub(crate) fn attr(e: &quick_xml::events::BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        if a.key.local_name().as_ref() != local {
            return None;
        }
        quick_xml::escape::unescape(&a.value)
            .ok()
            .map(|v| v.into_owned())
    })
}

/// The merged regions of every sheet, by sheet name; `None` when the
/// workbook's parts are not where they are expected.
pub(crate) fn all_merges(bytes: &[u8]) -> Option<HashMap<String, Vec<Merge>>> {
    per_sheet(bytes, merges)
}

/// `look` of every sheet's part, by sheet name.
fn per_sheet<T>(
    bytes: &[u8],
    look: fn(&mut Zip<'_>, &str) -> Option<T>,
) -> Option<HashMap<String, T>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    sheet_paths(&mut zip)?
        .into_iter()
        .map(|(name, path)| Some((name, look(&mut zip, &path)?)))
        .collect()
}

/// The merged regions of the given sheet parts, in order; `None` when a
/// part is missing or unreadable.
pub(crate) fn merges_of_parts(bytes: &[u8], parts: &[String]) -> Option<Vec<Vec<Merge>>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    parts.iter().map(|p| merges(&mut zip, p)).collect()
}

/// The name under which [`form_properties`] lists each other workbook the
/// formulas refer to (no custom property can have it: those it keeps
/// start with `zhenxing.`).
pub(crate) const EXTERNAL_LINK: &str = "zhenxing:external-link";

/// The other workbooks an xlsx's formulas refer to: the targets of the
/// external link parts' relationships (at most 16).
fn external_links(zip: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>) -> Vec<String> {
    let rels: Vec<String> = zip
        .file_names()
        .flatten()
        .filter(|n| n.starts_with("xl/externalLinks/_rels/") && n.ends_with(".rels"))
        .take(16)
        .map(|n| n.to_string())
        .collect();
    let mut out = Vec::new();
    for name in rels {
        let Some(xml) = part(zip, &name) else {
            continue;
        };
        let mut r = quick_xml::Reader::from_reader(xml.as_slice());
        let mut buf = Vec::new();
        while let Ok(ev) = r.read_event_into(&mut buf) {
            match ev {
                Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                    if let Some(t) = attr(&e, "Target") {
                        out.push(t.chars().take(200).collect());
                    }
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The workbook's custom properties whose names start with `zhenxing.`
/// (`docProps/custom.xml`, at most 64 KiB of it): a form's identity; and
/// one [`EXTERNAL_LINK`] entry per other workbook its formulas refer to.
pub(crate) fn form_properties(bytes: &[u8]) -> Vec<(String, String)> {
    let Ok(mut zip) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return Vec::new();
    };
    let links: Vec<(String, String)> = external_links(&mut zip)
        .into_iter()
        .map(|t| (EXTERNAL_LINK.to_string(), t))
        .collect();
    let mut out = own_properties(&mut zip);
    out.extend(links);
    out
}

fn own_properties(zip: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>) -> Vec<(String, String)> {
    let Ok(f) = zip.by_name("docProps/custom.xml") else {
        return Vec::new();
    };
    let mut xml = Vec::new();
    if f.take(64 << 10).read_to_end(&mut xml).is_err() {
        return Vec::new();
    }
    let mut r = quick_xml::Reader::from_reader(xml.as_slice());
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    let mut value: Option<String> = None;
    while let Ok(ev) = r.read_event_into(&mut buf) {
        match ev {
            Event::Start(e) if e.local_name().as_ref() == "property" => {
                name = attr(&e, "name").filter(|n| n.starts_with("zhenxing."));
            }
            Event::Start(e) if name.is_some() && e.local_name().as_ref() == "lpwstr" => {
                value = Some(String::new());
            }
            // (the values zhenxing writes hold no entity references)
            Event::Text(t) => {
                if let Some(v) = value.as_mut() {
                    v.push_str(&t);
                }
            }
            Event::End(e) if e.local_name().as_ref() == "lpwstr" => {
                if let (Some(n), Some(v)) = (name.take(), value.take()) {
                    out.push((n, v));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
        if out.len() > 16 {
            break;
        }
    }
    out
}

/// A run of columns with a width set in the sheet (`<col>`), zero-based
/// and inclusive; `width` in Excel's stored character units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColWidth {
    /// First column.
    pub first: usize,
    /// Last column.
    pub last: usize,
    /// The width, if set.
    pub width: Option<f64>,
    /// The columns are hidden.
    pub hidden: bool,
}

/// The column widths of every sheet, by sheet name (`<cols>` comes before
/// the cells, so only the start of each part is inflated); `None` when
/// the workbook's parts are not where they are expected.
pub fn all_col_widths(bytes: &[u8]) -> Option<HashMap<String, Vec<ColWidth>>> {
    per_sheet(bytes, col_widths)
}

fn col_widths(zip: &mut Zip<'_>, path: &str) -> Option<Vec<ColWidth>> {
    let mut f = zip.by_name(path).ok()?;
    let mut head: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    // everything before the cells, within 16 MiB
    loop {
        let n = f.read(&mut chunk).ok()?;
        if n == 0 || head.len() > 16 << 20 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(p) = memchr::memmem::find(&head, b"sheetData") {
            head.truncate(p);
            break;
        }
    }
    let mut r = quick_xml::Reader::from_reader(head.as_slice());
    let mut buf = Vec::new();
    let mut out = Vec::new();
    // the head is cut inside a tag: what parses before it is enough
    while let Ok(ev) = r.read_event_into(&mut buf) {
        match ev {
            Event::Empty(e) | Event::Start(e) if e.local_name().as_ref() == "col" => {
                let num = |k: &str| attr(&e, k).and_then(|v| v.trim().parse::<f64>().ok());
                let (Some(min), Some(max)) = (num("min"), num("max")) else {
                    continue;
                };
                if min < 1.0 || max < min {
                    continue;
                }
                let on = |k: &str| attr(&e, k).is_some_and(|v| v == "1" || v == "true");
                out.push(ColWidth {
                    first: min as usize - 1,
                    last: (max as usize - 1).min(crate::read::EXCEL_COLS - 1),
                    width: num("width").filter(|w| w.is_finite() && *w >= 0.0),
                    hidden: on("hidden"),
                });
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Some(out)
}

/// Sheet name → part path (`xl/worksheets/sheet1.xml`).
fn sheet_paths(zip: &mut Zip<'_>) -> Option<HashMap<String, String>> {
    let rels = part(zip, "xl/_rels/workbook.xml.rels")?;
    let mut targets: HashMap<String, String> = HashMap::new();
    let mut r = quick_xml::Reader::from_reader(rels.as_slice());
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf).ok()? {
            Event::Empty(e) | Event::Start(e) if e.local_name().as_ref() == "Relationship" => {
                if let (Some(id), Some(t)) = (attr(&e, "Id"), attr(&e, "Target")) {
                    let path = match t.strip_prefix('/') {
                        Some(abs) => abs.to_string(),
                        None => format!("xl/{t}"),
                    };
                    targets.insert(id, path);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let wb = part(zip, "xl/workbook.xml")?;
    let mut r = quick_xml::Reader::from_reader(wb.as_slice());
    let mut out = HashMap::new();
    loop {
        match r.read_event_into(&mut buf).ok()? {
            Event::Empty(e) | Event::Start(e) if e.local_name().as_ref() == "sheet" => {
                let name = attr(&e, "name")?;
                let id = attr(&e, "id")?;
                out.insert(name, targets.get(&id)?.clone());
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Some(out)
}

/// `B3` → (row 2, col 1).
fn cell(a1: &str) -> Option<(usize, usize)> {
    let split = a1.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = a1.split_at(split);
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    let mut col = 0usize;
    for c in letters.chars() {
        if !c.is_ascii_uppercase() {
            return None;
        }
        col = col * 26 + (c as usize - 'A' as usize + 1);
    }
    let row: usize = digits.parse().ok()?;
    (row >= 1).then(|| (row - 1, col - 1))
}

/// Where the opening `<mergeCells` (or `<x:mergeCells`) tag starts in `xml`.
fn merge_tag(xml: &[u8]) -> Option<usize> {
    memchr::memmem::find_iter(xml, b"mergeCells").find_map(|p| {
        let lt = xml[..p].iter().rposition(|&b| b == b'<')?;
        xml[lt + 1..p]
            .iter()
            .all(|&b| b != b'/' && b != b'>' && !b.is_ascii_whitespace())
            .then_some(lt)
    })
}

/// The merged regions of one sheet part. The part is inflated in chunks
/// and only the `<mergeCells>` fragment is kept and parsed.
fn merges(zip: &mut Zip<'_>, path: &str) -> Option<Vec<Merge>> {
    let mut f = zip.by_name(path).ok()?;
    const KEEP: usize = 4096;
    let mut chunk = vec![0u8; 1 << 20];
    let mut window: Vec<u8> = Vec::new();
    let mut fragment: Option<Vec<u8>> = None;
    loop {
        let n = f.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        if let Some(frag) = fragment.as_mut() {
            frag.extend_from_slice(&chunk[..n]);
            continue;
        }
        window.extend_from_slice(&chunk[..n]);
        if let Some(lt) = merge_tag(&window) {
            fragment = Some(window.split_off(lt));
            continue;
        }
        if window.len() > KEEP {
            window.drain(..window.len() - KEEP);
        }
    }
    let Some(xml) = fragment else {
        return Some(Vec::new());
    };
    let mut r = quick_xml::Reader::from_reader(xml.as_slice());
    let mut buf = Vec::new();
    let mut out = Vec::new();
    loop {
        match r.read_event_into(&mut buf).ok()? {
            Event::Empty(e) | Event::Start(e) if e.local_name().as_ref() == "mergeCell" => {
                let rf = attr(&e, "ref")?;
                let (a, b) = rf.split_once(':').unwrap_or((&rf, &rf));
                let ((r0, c0), (r1, c1)) = (cell(a)?, cell(b)?);
                out.push(Merge { r0, c0, r1, c1 });
            }
            Event::End(e) if e.local_name().as_ref() == "mergeCells" => break,
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a1_references() {
        assert_eq!(cell("A1"), Some((0, 0)));
        assert_eq!(cell("AB12"), Some((11, 27)));
        assert_eq!(cell("XFD1048576"), Some((1_048_575, 16_383)));
        assert_eq!(cell("1A"), None);
        assert_eq!(cell("A0"), None);
    }

    #[test]
    fn merges_and_sheet_paths_of_a_real_workbook() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.xlsx");
        let mut wb = rust_xlsxwriter::Workbook::new();
        let a = wb.add_worksheet();
        a.set_name("说明").unwrap();
        a.write_string(0, 0, "x").unwrap();
        let b = wb.add_worksheet();
        b.set_name("义德街道").unwrap();
        let f = rust_xlsxwriter::Format::new();
        b.merge_range(0, 0, 0, 4, "标题", &f).unwrap();
        b.write_string(1, 0, "村").unwrap();
        b.merge_range(1, 1, 1, 3, "组织设置", &f).unwrap();
        wb.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let all = all_merges(&bytes).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all["说明"], vec![]);
        let m = all["义德街道"].clone();
        assert_eq!(
            m,
            vec![
                Merge {
                    r0: 0,
                    c0: 0,
                    r1: 0,
                    c1: 4
                },
                Merge {
                    r0: 1,
                    c0: 1,
                    r1: 1,
                    c1: 3
                }
            ]
        );
    }

    #[test]
    fn the_merge_tag_is_found_not_text_that_says_merge_cells() {
        let xml = br#"<sheetData><row><c t="inlineStr"><is><t>mergeCells</t></is></c></row></sheetData><x:mergeCells count="1"><x:mergeCell ref="A1:C2"/></x:mergeCells>"#;
        let at = merge_tag(xml).unwrap();
        assert!(xml[at..].starts_with(b"<x:mergeCells"));
    }
}
