//! Writing synthetic workbooks the way county offices make them: xlsx
//! (rust_xlsxwriter, optionally in the 1904 date system), ods (a zip of
//! XML written here, since no maintained Rust crate writes ODS), and CSV in
//! UTF-8, UTF-8 with BOM or GB18030.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook};

/// One cell to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    /// An empty cell.
    Empty,
    /// Text.
    S(String),
    /// A number.
    N(f64),
    /// A real Excel date (a serial with a date format).
    D(NaiveDate),
}

impl Out {
    /// A text cell.
    pub fn s(v: impl Into<String>) -> Out {
        Out::S(v.into())
    }

    /// Nothing written.
    pub fn is_empty(&self) -> bool {
        matches!(self, Out::Empty) || matches!(self, Out::S(s) if s.trim().is_empty())
    }

    fn text(&self) -> String {
        match self {
            Out::Empty => String::new(),
            Out::S(s) => s.clone(),
            Out::N(n) => crate::text::format_number(*n),
            Out::D(d) => d.format("%Y-%m-%d").to_string(),
        }
    }
}

/// One sheet to write.
#[derive(Debug, Clone, Default)]
pub struct SheetOut {
    /// Its name.
    pub name: String,
    /// Hidden.
    pub hidden: bool,
    /// Its rows.
    pub rows: Vec<Vec<Out>>,
    /// (first row, first col, last row, last col), zero-based inclusive.
    pub merges: Vec<(u32, u16, u32, u16)>,
}

/// The format a synthetic file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Excel 2007 and later.
    Xlsx,
    /// Excel with the 1904 date system.
    Xlsx1904,
    /// OpenDocument.
    Ods,
    /// CSV in UTF-8.
    CsvUtf8,
    /// CSV in UTF-8 with a byte-order mark.
    CsvBom,
    /// CSV in GB18030.
    CsvGb18030,
}

impl FileKind {
    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            FileKind::Xlsx | FileKind::Xlsx1904 => "xlsx",
            FileKind::Ods => "ods",
            _ => "csv",
        }
    }

    /// A CSV kind.
    pub fn is_csv(self) -> bool {
        matches!(
            self,
            FileKind::CsvUtf8 | FileKind::CsvBom | FileKind::CsvGb18030
        )
    }
}

/// A workbook composed and waiting to be written.
pub(crate) struct Book {
    pub path: std::path::PathBuf,
    pub kind: FileKind,
    pub sheets: Vec<SheetOut>,
}

impl Book {
    pub fn write(&self) -> Result<()> {
        write_book(&self.path, self.kind, &self.sheets)
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

/// Writes the sheets as a file of `kind`.
pub fn write_book(path: &Path, kind: FileKind, sheets: &[SheetOut]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match kind {
        FileKind::Xlsx => write_xlsx(path, sheets, false),
        FileKind::Xlsx1904 => write_xlsx(path, sheets, true),
        FileKind::Ods => write_ods(path, sheets),
        FileKind::CsvUtf8 | FileKind::CsvBom | FileKind::CsvGb18030 => {
            let sheet = sheets.first().context("a CSV file needs one sheet")?;
            write_csv(path, kind, sheet)
        }
    }
}

fn excel_serial(d: NaiveDate, is_1904: bool) -> f64 {
    let base = if is_1904 {
        NaiveDate::from_ymd_opt(1904, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30)
    };
    base.map(|b| (d - b).num_days() as f64).unwrap_or(0.0)
}

fn write_xlsx(path: &Path, sheets: &[SheetOut], is_1904: bool) -> Result<()> {
    let mut wb = Workbook::new();
    // a fixed creation time keeps the bytes a function of the seed
    let created = rust_xlsxwriter::ExcelDateTime::from_ymd(2024, 1, 1)?;
    wb.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
    let date_fmt = Format::new().set_num_format("yyyy-mm-dd");
    let plain = Format::new();
    for s in sheets {
        // a sheet as large as a national registry goes to disk row by row
        let ws = if s.rows.len() > 100_000 {
            wb.add_worksheet_with_low_memory()?
        } else {
            wb.add_worksheet()
        };
        ws.set_name(&s.name)?;
        if s.hidden {
            ws.set_hidden(true);
        }
        for &(r0, c0, r1, c1) in &s.merges {
            let text = s
                .rows
                .get(r0 as usize)
                .and_then(|r| r.get(c0 as usize))
                .map(|o| o.text())
                .unwrap_or_default();
            ws.merge_range(r0, c0, r1, c1, &text, &plain)?;
        }
        for (r, row) in s.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                let in_merge = s
                    .merges
                    .iter()
                    .any(|&(r0, c0, r1, c1)| r >= r0 && r <= r1 && c >= c0 && c <= c1);
                if in_merge {
                    continue;
                }
                match cell {
                    Out::Empty => {}
                    Out::S(t) => {
                        ws.write_string(r, c, t)?;
                    }
                    Out::N(n) => {
                        ws.write_number(r, c, *n)?;
                    }
                    Out::D(d) => {
                        ws.write_number_with_format(r, c, excel_serial(*d, is_1904), &date_fmt)?;
                    }
                }
            }
        }
    }
    let bytes = wb.save_to_buffer()?;
    let bytes = if is_1904 { set_1904(&bytes)? } else { bytes };
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Rewrites xl/workbook.xml so the workbook uses the 1904 date system.
fn set_1904(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes))?;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for i in 0..zin.len() {
        let mut f = zin.by_index(i)?;
        let name = f.name()?.to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data)?;
        if name == "xl/workbook.xml" {
            let text = String::from_utf8(data)?;
            let text = if text.contains("<workbookPr") {
                text.replacen("<workbookPr", "<workbookPr date1904=\"1\"", 1)
            } else {
                text.replacen("<bookViews>", "<workbookPr date1904=\"1\"/><bookViews>", 1)
            };
            data = text.into_bytes();
        }
        out.start_file(name, opts)?;
        out.write_all(&data)?;
    }
    Ok(out.finish()?.into_inner())
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn write_ods(path: &Path, sheets: &[SheetOut]) -> Result<()> {
    let mut content = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet>"#,
    );
    for s in sheets {
        content.push_str(&format!(
            "<table:table table:name=\"{}\">",
            xml_escape(&s.name)
        ));
        for row in &s.rows {
            content.push_str("<table:table-row>");
            for cell in row {
                match cell {
                    Out::Empty => content.push_str("<table:table-cell/>"),
                    Out::S(t) => content.push_str(&format!(
                        "<table:table-cell office:value-type=\"string\"><text:p>{}</text:p></table:table-cell>",
                        xml_escape(t)
                    )),
                    Out::N(n) => content.push_str(&format!(
                        "<table:table-cell office:value-type=\"float\" office:value=\"{n}\"><text:p>{}</text:p></table:table-cell>",
                        crate::text::format_number(*n)
                    )),
                    Out::D(d) => content.push_str(&format!(
                        "<table:table-cell office:value-type=\"date\" office:date-value=\"{}\"><text:p>{}</text:p></table:table-cell>",
                        d.format("%Y-%m-%d"),
                        d.format("%Y-%m-%d")
                    )),
                }
            }
            content.push_str("</table:table-row>");
        }
        content.push_str("</table:table>");
    }
    content.push_str("</office:spreadsheet></office:body></office:document-content>");
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut z = zip::ZipWriter::new(file);
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    z.start_file("mimetype", stored)?;
    z.write_all(b"application/vnd.oasis.opendocument.spreadsheet")?;
    z.start_file("META-INF/manifest.xml", deflated)?;
    z.write_all(manifest.as_bytes())?;
    z.start_file("content.xml", deflated)?;
    z.write_all(content.as_bytes())?;
    z.finish()?;
    Ok(())
}

fn write_csv(path: &Path, kind: FileKind, sheet: &SheetOut) -> Result<()> {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    for row in &sheet.rows {
        let rec: Vec<String> = row.iter().map(|c| c.text()).collect();
        if rec.is_empty() {
            w.write_record([""])?;
        } else {
            w.write_record(&rec)?;
        }
    }
    let text = String::from_utf8(w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    let bytes = match kind {
        FileKind::CsvBom => {
            let mut b = vec![0xEF, 0xBB, 0xBF];
            b.extend_from_slice(text.as_bytes());
            b
        }
        FileKind::CsvGb18030 => {
            let (b, _, bad) = encoding_rs::GB18030.encode(&text);
            anyhow::ensure!(!bad, "text not representable in GB18030");
            b.into_owned()
        }
        _ => text.into_bytes(),
    };
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
