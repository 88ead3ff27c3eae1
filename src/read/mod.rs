//! Reading an untrusted file into raw sheets of cells.
//!
//! This is the only module that touches file bytes. It sniffs the real
//! format from the content (not the extension), refuses zip bombs and sheets
//! that declare absurd dimensions before reading them, decodes CSV as UTF-8
//! (with or without BOM), UTF-16 (with BOM) or GB18030 and never substitutes
//! U+FFFD, and returns every sheet with its visibility and merged regions.
//! It runs inside a worker process (see [`crate::worker`]) so that a reader
//! crash or an allocation failure kills only that worker.

mod builder;
mod delimited;
pub mod lean;
pub mod parts;
mod via_calamine;
mod xlsx;
pub mod xml_scan;
mod zipguard;

use builder::*;
use delimited::*;
use via_calamine::*;
use xlsx::*;
use zipguard::*;

pub use delimited::decode_text;

use std::collections::HashMap;
use std::path::Path;

use calamine::{Data, DataRef, Reader, SheetVisible};
use serde::{Deserialize, Serialize};

/// One cell as the file stored it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RawCell {
    /// Nothing.
    Empty,
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A number.
    Float(f64),
    /// TRUE or FALSE.
    Bool(bool),
    /// An Excel date: the serial number and the workbook's date system.
    Date {
        /// Days since the workbook's epoch.
        serial: f64,
        /// The workbook counts from 1904.
        is_1904: bool,
    },
    /// An Excel error value (`#N/A`, `#DIV/0!`).
    Error(String),
}

impl RawCell {
    /// Nothing in the cell (blank text too).
    pub fn is_empty(&self) -> bool {
        match self {
            RawCell::Empty => true,
            RawCell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The text, if the cell holds text.
    pub fn text(&self) -> Option<&str> {
        match self {
            RawCell::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// A rectangular merged region, zero-based and inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merge {
    /// First row, zero-based.
    pub r0: usize,
    /// First column.
    pub c0: usize,
    /// Last row.
    pub r1: usize,
    /// Last column.
    pub c1: usize,
}

/// One sheet's cells as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawSheet {
    /// The sheet's name.
    pub name: String,
    /// Hidden in the workbook.
    pub hidden: bool,
    /// Rows from the sheet's first row; each row ends at its last used cell.
    pub rows: Vec<Vec<RawCell>>,
    /// Its merged regions.
    pub merges: Vec<Merge>,
    /// False for formats where merged regions cannot be read (ODS, CSV).
    pub has_merge_info: bool,
}

/// A file format zhenxing reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    /// Excel 2007 and later.
    Xlsx,
    /// Excel 97–2003.
    Xls,
    /// OpenDocument spreadsheet.
    Ods,
    /// Comma- or tab-separated text.
    Csv,
}

impl Format {
    /// The format's usual extension.
    pub fn label(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
            Format::Ods => "ods",
            Format::Csv => "csv",
        }
    }
}

/// A whole workbook as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawWorkbook {
    /// Its format.
    pub format: Format,
    /// Excel serial numbers count from 1904-01-01 (old Mac workbooks).
    pub is_1904: bool,
    /// For CSV: the encoding that was detected.
    pub encoding: Option<String>,
    /// Its sheets.
    pub sheets: Vec<RawSheet>,
    /// The workbook's `zhenxing.*` custom properties (see [`Frame::Book`]).
    pub properties: Vec<(String, String)>,
}

/// A sheet as announced before its rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SheetMeta {
    pub name: String,
    pub hidden: bool,
    pub merges: Vec<Merge>,
    pub has_merge_info: bool,
}

/// A workbook as it is read: the sheets first, then batches of rows in
/// sheet order, then how reading ended. The reader process sends these to
/// the parent one by one, so validation overlaps reading.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Frame {
    Book {
        format: Format,
        is_1904: bool,
        encoding: Option<String>,
        sheets: Vec<SheetMeta>,
        /// The workbook's `zhenxing.*` custom properties: what a form
        /// `zhenxing template` wrote is (template, version, county, period).
        #[serde(default)]
        properties: Vec<(String, String)>,
    },
    /// Rows `first..first + rows.len()` of sheet number `sheet`; rows not
    /// sent between two batches are blank.
    Rows {
        sheet: usize,
        first: usize,
        rows: Vec<Vec<RawCell>>,
    },
    End(Option<ReadError>),
}

/// Rows per frame.
pub(crate) const BATCH_ROWS: usize = 4096;

/// Bounds on what one file may make the reader do.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Limits {
    /// The largest file read, in bytes.
    pub max_file_bytes: u64,
    /// Sum of the declared uncompressed sizes of a zip container.
    pub max_unzipped_bytes: u64,
    /// rows × columns a sheet may declare in its dimension record.
    pub max_declared_cells: u64,
    /// Cells actually kept, over all sheets of a file.
    pub max_cells: u64,
    /// Rows a sheet may have (a row number beyond is a file error).
    pub max_rows: usize,
    /// Columns a row may have (Excel's 16,384, `XFD`).
    pub max_cols: usize,
    /// Merged regions in the header area of one sheet.
    pub max_merges: usize,
    /// Bytes of one frame between the reader process and the parent.
    pub max_frame_bytes: usize,
}

pub use crate::config::{EXCEL_COLS, EXCEL_ROWS};

/// Merged regions matter only to header detection, which looks at the
/// first rows; regions starting below this row are not sent.
pub(crate) const HEADER_MERGE_ROWS: usize = 64;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 256 << 20,
            max_unzipped_bytes: 1 << 30,
            max_declared_cells: 100_000_000,
            max_cells: 40_000_000,
            max_rows: EXCEL_ROWS,
            max_cols: EXCEL_COLS,
            max_merges: 10_000,
            max_frame_bytes: 64 << 20,
        }
    }
}

impl From<&crate::config::LimitsSection> for Limits {
    /// The limits a pipeline's `[limits]` section sets.
    fn from(l: &crate::config::LimitsSection) -> Limits {
        Limits {
            max_file_bytes: l.max_file_mb << 20,
            max_unzipped_bytes: l.max_unzipped_mb << 20,
            max_declared_cells: l.max_declared_cells,
            max_cells: l.max_cells,
            max_rows: l.max_rows,
            max_cols: l.max_columns,
            max_merges: l.max_merges,
            max_frame_bytes: l.max_frame_mb << 20,
        }
    }
}

/// The merged regions of a sheet that header detection can use, within
/// the limit on their number.
fn header_merges(
    sheet: &str,
    mut merges: Vec<Merge>,
    limits: &Limits,
) -> Result<Vec<Merge>, ReadError> {
    merges.retain(|m| m.r0 < HEADER_MERGE_ROWS && m.r0 <= m.r1 && m.c0 <= m.c1);
    if merges.len() > limits.max_merges {
        return Err(ReadError::TooLarge(format!(
            "sheet {sheet} has {} merged regions in its first {HEADER_MERGE_ROWS} rows, limit {}",
            merges.len(),
            limits.max_merges
        )));
    }
    Ok(merges)
}

/// A file-level reading failure. Each variant has a stable code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read file: {0}")]
    Io(String),
    /// Not a spreadsheet or CSV by its content.
    #[error("not a spreadsheet (xlsx, xlsm, xls, ods) or CSV file: {0}")]
    NotSpreadsheet(String),
    /// Encrypted / password-protected workbook.
    #[error("workbook is password protected")]
    Password,
    /// The container or its XML is damaged.
    #[error("file is damaged or truncated: {0}")]
    Corrupt(String),
    /// Larger than the configured limits.
    #[error("too large: {0}")]
    TooLarge(String),
    /// A zip that expands far beyond its size.
    #[error("suspected zip bomb: {0}")]
    ZipBomb(String),
    /// CSV bytes that are neither UTF-8 nor GB18030.
    #[error("unknown text encoding: {0}")]
    Encoding(String),
    /// A web page or an XML spreadsheet saved under an Excel name (what
    /// many systems export as `.xls`): the kind it is.
    #[error("the file is {0} saved with an Excel name, not an Excel workbook; open it in Excel and save it as .xlsx")]
    WebPage(String),
}

/// Reads a whole file within `limits` into memory.
/// Every merged region of every sheet (the reader keeps only those of the
/// header area) and, for xlsx, the column widths, by sheet name: what a
/// copy of the workbook needs besides its cells. Empty where the format
/// has none (CSV, ods) or the parts cannot be read.
pub fn layout(
    path: &Path,
    format: Format,
) -> (
    HashMap<String, Vec<Merge>>,
    HashMap<String, Vec<parts::ColWidth>>,
) {
    let Ok(bytes) = std::fs::read(path) else {
        return Default::default();
    };
    match format {
        Format::Xlsx => (
            parts::all_merges(&bytes).unwrap_or_default(),
            parts::all_col_widths(&bytes).unwrap_or_default(),
        ),
        Format::Xls => (xls_merges(bytes).unwrap_or_default(), HashMap::new()),
        Format::Ods | Format::Csv => Default::default(),
    }
}

pub(crate) fn read_file(path: &Path, limits: &Limits) -> Result<RawWorkbook, ReadError> {
    collect(|emit| stream_file(path, limits, emit))
}

/// Builds a whole workbook from the frames a reader sends.
fn collect(
    read: impl FnOnce(&mut dyn FnMut(Frame)) -> Result<(), ReadError>,
) -> Result<RawWorkbook, ReadError> {
    let mut wb: Option<RawWorkbook> = None;
    read(&mut |frame| match frame {
        Frame::Book {
            format,
            is_1904,
            encoding,
            sheets,
            properties,
        } => {
            wb = Some(RawWorkbook {
                format,
                is_1904,
                encoding,
                properties,
                sheets: sheets
                    .into_iter()
                    .map(|m| RawSheet {
                        name: m.name,
                        hidden: m.hidden,
                        rows: Vec::new(),
                        merges: m.merges,
                        has_merge_info: m.has_merge_info,
                    })
                    .collect(),
            })
        }
        Frame::Rows { sheet, first, rows } => {
            if let Some(s) = wb.as_mut().and_then(|w| w.sheets.get_mut(sheet)) {
                if s.rows.len() < first {
                    s.rows.resize_with(first, Vec::new);
                }
                s.rows.extend(rows);
            }
        }
        Frame::End(_) => {}
    })?;
    wb.ok_or_else(|| ReadError::Corrupt("no workbook was read".into()))
}

/// The first bytes of an OLE compound file (`.xls`, an encrypted xlsx).
const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Reads a file within `limits` and hands it to `emit` frame by frame:
/// xlsx sheets stream in batches of rows as they are parsed; other formats
/// are read whole, then sent in batches. The final `End` frame is left to
/// the caller.
pub(crate) fn stream_file(
    path: &Path,
    limits: &Limits,
    emit: &mut dyn FnMut(Frame),
) -> Result<(), ReadError> {
    let meta = std::fs::metadata(path).map_err(|e| ReadError::Io(e.to_string()))?;
    if meta.len() > limits.max_file_bytes {
        return Err(ReadError::TooLarge(format!(
            "file is {} bytes, limit {}",
            meta.len(),
            limits.max_file_bytes
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| ReadError::Io(e.to_string()))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_zip = bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06");
    let is_ole = bytes.starts_with(&OLE_MAGIC);
    if !is_zip
        && !is_ole
        && matches!(ext.as_str(), "csv" | "txt" | "tsv")
        && !bytes.iter().all(|b| b.is_ascii_whitespace())
    {
        // Excel names a CSV's only sheet after the file; cell references
        // match what the officer sees
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().chars().take(31).collect::<String>())
            .unwrap_or_else(|| "csv".to_string());
        return delimited::stream_csv(&bytes, limits, &stem, emit);
    }
    // (a CSV streamed above: what is read whole here is no CSV)
    let wb = if is_zip {
        match inspect_zip(&bytes, limits)? {
            ZipKind::Xlsx => return stream_xlsx(bytes, limits, emit),
            ZipKind::Ods => read_ods(bytes, limits)?,
        }
    } else {
        read_bytes(bytes, &ext, limits)?
    };
    emit_whole(wb, emit);
    Ok(())
}

/// Sends a workbook read whole as frames.
fn emit_whole(wb: RawWorkbook, emit: &mut dyn FnMut(Frame)) {
    let metas = wb
        .sheets
        .iter()
        .map(|s| SheetMeta {
            name: s.name.clone(),
            hidden: s.hidden,
            merges: s.merges.clone(),
            has_merge_info: s.has_merge_info,
        })
        .collect();
    emit(Frame::Book {
        format: wb.format,
        is_1904: wb.is_1904,
        encoding: wb.encoding,
        sheets: metas,
        properties: wb.properties,
    });
    for (i, s) in wb.sheets.into_iter().enumerate() {
        // batches of at most BATCH_ROWS rows and about BATCH_CELLS cells;
        // a run of blank rows ends a batch and is not sent
        let mut batch: Vec<Vec<RawCell>> = Vec::new();
        let (mut first, mut cells, mut blanks) = (0usize, 0usize, 0usize);
        for (r, row) in s.rows.into_iter().enumerate() {
            let n = row.iter().filter(|c| !c.is_empty()).count();
            if n == 0 {
                blanks += 1;
                continue;
            }
            let full = batch.len() + blanks >= BATCH_ROWS || cells >= BATCH_CELLS;
            if !batch.is_empty() && (full || blanks > 64) {
                emit(Frame::Rows {
                    sheet: i,
                    first,
                    rows: std::mem::take(&mut batch),
                });
                cells = 0;
            }
            if batch.is_empty() {
                first = r;
            } else {
                batch.extend(std::iter::repeat_with(Vec::new).take(blanks));
            }
            blanks = 0;
            cells += n;
            batch.push(row);
        }
        if !batch.is_empty() {
            emit(Frame::Rows {
                sheet: i,
                first,
                rows: batch,
            });
        }
    }
}

/// What a file that is markup is, when it is one: an HTML table (a common
/// "export to Excel") or an Excel 2003 XML spreadsheet.
fn web_page(bytes: &[u8]) -> Option<&'static str> {
    let head = &bytes[..bytes.len().min(4096)];
    let head = head.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(head);
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let text = text.trim_start();
    if !text.starts_with('<') {
        return None;
    }
    if text.contains("urn:schemas-microsoft-com:office:spreadsheet") {
        Some("an Excel 2003 XML spreadsheet")
    } else if text.contains("<html") || text.contains("<table") || text.starts_with("<!doctype") {
        Some("a web page (an HTML table)")
    } else {
        None
    }
}

/// Reads file content; `ext` (lower case, no dot) is a hint only for text.
pub(crate) fn read_bytes(
    bytes: Vec<u8>,
    ext: &str,
    limits: &Limits,
) -> Result<RawWorkbook, ReadError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ReadError::NotSpreadsheet("the file is empty".into()));
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        let kind = inspect_zip(&bytes, limits)?;
        match kind {
            ZipKind::Xlsx => collect(|emit| stream_xlsx(bytes, limits, emit)),
            ZipKind::Ods => read_ods(bytes, limits),
        }
    } else if bytes.starts_with(&OLE_MAGIC) {
        // an encrypted xlsx is an OLE file with an EncryptedPackage stream
        let marker: Vec<u8> = "EncryptedPackage"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        if bytes.windows(marker.len()).any(|w| w == marker.as_slice()) {
            return Err(ReadError::Password);
        }
        read_xls(bytes, limits)
    } else if matches!(ext, "csv" | "txt" | "tsv") {
        read_csv(&bytes, limits)
    } else if let Some(kind) = web_page(&bytes) {
        Err(ReadError::WebPage(kind.to_string()))
    } else {
        let head = &bytes[..bytes.len().min(8)];
        let text: String = String::from_utf8_lossy(head)
            .chars()
            .map(|c| if c.is_control() { '·' } else { c })
            .collect();
        let hex: Vec<String> = head.iter().map(|b| format!("{b:02X}")).collect();
        Err(ReadError::NotSpreadsheet(format!(
            "content starts with \"{text}\" (bytes {})",
            hex.join(" ")
        )))
    }
}

/// Converts an Excel serial day number to a date, in the 1900 or the 1904
/// system. Serial 60 in the 1900 system is Excel's fictitious 1900-02-29 and
/// is rejected.
pub fn excel_serial_to_date(serial: f64, is_1904: bool) -> Option<chrono::NaiveDate> {
    if !serial.is_finite() || !(1.0..=2_958_465.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    if is_1904 {
        chrono::NaiveDate::from_ymd_opt(1904, 1, 1)?
            .checked_add_signed(chrono::Duration::days(days))
    } else {
        if days == 60 {
            return None;
        }
        // 1899-12-31 is serial 0; serials after the phantom leap day are one too high
        let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 31)?;
        let adj = if days > 60 { days - 1 } else { days };
        base.checked_add_signed(chrono::Duration::days(adj))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both xlsx readers on the same bytes: sheets, flags, merges and every cell.
    fn lean_equals_calamine(bytes: &[u8], what: &str) -> usize {
        let limits = Limits::default();
        let book = crate::read::lean::Book::open(bytes).expect("lean reader opens the workbook");
        let lean = collect(|emit| match stream_xlsx_lean(book, bytes, &limits, emit) {
            Some(r) => r,
            None => Err(ReadError::Corrupt("lean reader gave up".into())),
        })
        .unwrap();
        let cal = collect(|emit| stream_xlsx_calamine(bytes.to_vec(), &limits, emit)).unwrap();
        assert_eq!(lean.is_1904, cal.is_1904, "{what}");
        assert_eq!(lean.sheets.len(), cal.sheets.len(), "{what}");
        let mut cells = 0;
        for (a, b) in lean.sheets.iter().zip(&cal.sheets) {
            assert_eq!(
                (&a.name, a.hidden, &a.merges),
                (&b.name, b.hidden, &b.merges),
                "{what}"
            );
            assert_eq!(a.rows.len(), b.rows.len(), "{what} {}", a.name);
            for (i, (ra, rb)) in a.rows.iter().zip(&b.rows).enumerate() {
                assert_eq!(ra, rb, "{what} sheet {} row {}", a.name, i + 1);
                cells += ra.iter().filter(|c| !c.is_empty()).count();
            }
        }
        cells
    }

    #[test]
    fn lean_xlsx_reader_matches_calamine_on_every_sample_workbook() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
        let mut stack = vec![root];
        let (mut files, mut cells) = (0, 0);
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let bytes = std::fs::read(&p).unwrap();
                if bytes.starts_with(b"PK") && crate::read::lean::Book::open(&bytes).is_some() {
                    files += 1;
                    cells += lean_equals_calamine(&bytes, &p.display().to_string());
                }
            }
        }
        // every xlsx of the bundled inbox and the registry
        assert!(files > 100, "{files} workbooks");
        assert!(cells > 100_000, "{cells} cells");
    }

    #[test]
    fn lean_xlsx_reader_matches_calamine_on_odd_cells() {
        use rust_xlsxwriter::{Format, Formula, Workbook};
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name("数据").unwrap();
        let bold = Format::new().set_bold();
        let ymd = Format::new().set_num_format("yyyy\"年\"m\"月\"d\"日\"");
        let hours = Format::new().set_num_format("[h]:mm:ss");
        let pct = Format::new().set_num_format("0.00%");
        ws.write_string(0, 0, "  前后空格  ").unwrap();
        ws.write_string(0, 1, "a & b < c > d \"e\" 'f'").unwrap();
        ws.write_string(0, 2, "行一\n行二\r\n行三").unwrap();
        ws.write_string(0, 3, "_x000D_ literal").unwrap();
        ws.write_string(0, 4, "控制\u{1}符").unwrap();
        ws.write_rich_string(1, 0, &[(&bold, "富"), (&Format::default(), "文本 ")])
            .unwrap();
        ws.write_number(1, 1, 45_000.0).unwrap();
        ws.write_number_with_format(1, 2, 45_000.25, &ymd).unwrap();
        ws.write_number_with_format(1, 3, 1.5, &hours).unwrap();
        ws.write_number_with_format(1, 4, 0.985, &pct).unwrap();
        ws.write_boolean(2, 0, true).unwrap();
        ws.write_boolean(2, 1, false).unwrap();
        ws.write_formula(2, 2, Formula::new("=B2*2").set_result("90000"))
            .unwrap();
        ws.write_formula(2, 3, Formula::new("=A1&\"x\"").set_result("前后空格x"))
            .unwrap();
        ws.write_number(2, 4, -1.0e-7).unwrap();
        ws.write_number(40_000, 3, 7.0).unwrap();
        ws.merge_range(5, 0, 6, 2, "合并", &Format::default())
            .unwrap();
        let hidden = wb.add_worksheet();
        hidden.set_name("隐藏").unwrap();
        hidden.write_string(0, 0, "x").unwrap();
        hidden.set_hidden(true);
        let bytes = wb.save_to_buffer().unwrap();
        let cells = lean_equals_calamine(&bytes, "odd cells");
        assert_eq!(cells, 18);
    }

    #[test]
    fn utf8_with_and_without_bom() {
        let (s, e) = decode_text("村,户数\n".as_bytes()).unwrap();
        assert_eq!((s.as_str(), e), ("村,户数\n", "UTF-8"));
        let mut b = vec![0xEF, 0xBB, 0xBF];
        b.extend_from_slice("村".as_bytes());
        assert_eq!(decode_text(&b).unwrap(), ("村".to_string(), "UTF-8 (BOM)"));
    }

    #[test]
    fn gb18030_is_detected() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("如皋市,新华村,１２");
        let (s, e) = decode_text(&bytes).unwrap();
        assert_eq!(s, "如皋市,新华村,１２");
        assert_eq!(e, "GB18030");
    }

    #[test]
    fn undecodable_bytes_are_an_error() {
        // Latin-1 "café," then 0xFF: valid in neither encoding
        let bytes = [0x63, 0x61, 0x66, 0xE9, 0x2C, 0xFF, 0xFF];
        let err = decode_text(&bytes).unwrap_err();
        assert!(matches!(err, ReadError::Encoding(_)), "{err}");
    }

    #[test]
    fn csv_rows_keep_line_numbers() {
        let wb = read_bytes(
            "标题\n\n村,户数\n新华村,12\n".as_bytes().to_vec(),
            "csv",
            &Limits::default(),
        )
        .unwrap();
        let rows = &wb.sheets[0].rows;
        assert_eq!(rows.len(), 4);
        assert!(rows[1].is_empty());
        assert_eq!(rows[3][0], RawCell::Text("新华村".into()));
    }

    #[test]
    fn a_csv_with_millions_of_blank_lines_keeps_its_rows_and_their_lines() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("如皋市_培训_2024.csv");
        let text = format!("村,户数\n新华村,12\n{}\n平安村,3\n", "\n".repeat(3_000_000));
        std::fs::write(&path, text).unwrap();
        let mut frames = Vec::new();
        stream_file(&path, &Limits::default(), &mut |f| frames.push(f)).unwrap();
        let rows: Vec<(usize, usize)> = frames
            .iter()
            .filter_map(|f| match f {
                Frame::Rows { first, rows, .. } => Some((*first, rows.len())),
                _ => None,
            })
            .collect();
        // the two first rows, then the row after the 3,000,001 blank lines
        // at its own line
        assert_eq!(rows, [(0, 2), (3_000_003, 1)]);
        match &frames[0] {
            Frame::Book { sheets, format, .. } => {
                assert_eq!(*format, Format::Csv);
                assert_eq!(sheets[0].name, "如皋市_培训_2024");
            }
            f => panic!("{f:?}"),
        }
        // the row limit counts filled rows, not lines
        let small = Limits {
            max_rows: 2,
            ..Limits::default()
        };
        let err = stream_file(&path, &small, &mut |_| {}).unwrap_err();
        assert!(matches!(err, ReadError::TooLarge(_)), "{err}");
    }

    #[test]
    fn csv_line_breaks_inside_cells_do_not_shift_rows() {
        let wb = read_bytes(
            "\"县\n(市)\",村\n\n如皋市,新华村\n".as_bytes().to_vec(),
            "csv",
            &Limits::default(),
        )
        .unwrap();
        let rows = &wb.sheets[0].rows;
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2][1], RawCell::Text("新华村".into()));
    }

    #[test]
    fn garbage_is_not_a_spreadsheet() {
        let err = read_bytes(b"\x7fELF\x02\x01".to_vec(), "xlsx", &Limits::default()).unwrap_err();
        assert!(matches!(err, ReadError::NotSpreadsheet(_)), "{err}");
        let err =
            read_bytes(b"PK\x03\x04garbage".to_vec(), "xlsx", &Limits::default()).unwrap_err();
        assert!(matches!(err, ReadError::Corrupt(_)), "{err}");
    }

    #[test]
    fn cell_budget_is_enforced() {
        let limits = Limits {
            max_cells: 10,
            ..Limits::default()
        };
        let text = "a,b,c\n".repeat(10);
        let err = read_bytes(text.into_bytes(), "csv", &limits).unwrap_err();
        assert!(matches!(err, ReadError::TooLarge(_)), "{err}");
    }
}
