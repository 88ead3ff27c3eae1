//! CSV and TSV: the encoding decided from the bytes (never replaced),
//! the delimiter sniffed, rows numbered as a spreadsheet shows them.

use super::*;

/// Decodes CSV bytes. UTF-8 (BOM or not) first, then UTF-16 with a BOM,
/// then GB18030 (a superset of GBK). Bytes that fit none are an error that
/// names the first offending byte offset; nothing is ever replaced.
pub fn decode_text(bytes: &[u8]) -> Result<(String, &'static str), ReadError> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return std::str::from_utf8(rest)
            .map(|s| (s.to_string(), "UTF-8 (BOM)"))
            .map_err(|e| {
                ReadError::Encoding(format!(
                    "starts with a UTF-8 BOM but byte {} is not UTF-8",
                    e.valid_up_to() + 3
                ))
            });
    }
    for (bom, enc, label) in [
        (&[0xFF, 0xFE][..], encoding_rs::UTF_16LE, "UTF-16LE"),
        (&[0xFE, 0xFF][..], encoding_rs::UTF_16BE, "UTF-16BE"),
    ] {
        if let Some(rest) = bytes.strip_prefix(bom) {
            return enc
                .decode_without_bom_handling_and_without_replacement(rest)
                .map(|s| (s.into_owned(), label))
                .ok_or_else(|| ReadError::Encoding(format!("invalid {label} text")));
        }
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok((s.to_string(), "UTF-8")),
        Err(utf8_err) => encoding_rs::GB18030
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(|s| (s.into_owned(), "GB18030"))
            .ok_or_else(|| {
                let at = utf8_err.valid_up_to();
                ReadError::Encoding(format!(
                    "neither UTF-8 nor GB18030/GBK (first bad byte 0x{:02X} at offset {at})",
                    bytes.get(at).copied().unwrap_or(0)
                ))
            }),
    }
}

pub(super) fn read_csv(bytes: &[u8], limits: &Limits) -> Result<RawWorkbook, ReadError> {
    collect(|emit| stream_csv(bytes, limits, "csv", emit))
}

/// Reads CSV bytes into frames as the records come: the sheet (named
/// `sheet`), then batches of rows. Rows are numbered as a spreadsheet
/// shows them, by line; a run of blank lines costs nothing and is never
/// sent, so a file with millions of empty lines keeps its rows. The row
/// limit counts the rows that hold something.
pub(super) fn stream_csv(
    bytes: &[u8],
    limits: &Limits,
    sheet: &str,
    emit: &mut dyn FnMut(Frame),
) -> Result<(), ReadError> {
    if bytes.contains(&0) && !bytes.starts_with(&[0xFF, 0xFE]) && !bytes.starts_with(&[0xFE, 0xFF])
    {
        return Err(ReadError::NotSpreadsheet(
            "binary content (NUL bytes) in a text file".into(),
        ));
    }
    let (text, enc) = decode_text(bytes)?;
    let delimiter = sniff_delimiter(&text);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    emit(Frame::Book {
        format: Format::Csv,
        is_1904: false,
        encoding: Some(enc.to_string()),
        sheets: vec![SheetMeta {
            name: sheet.to_string(),
            hidden: false,
            merges: Vec::new(),
            has_merge_info: false,
        }],
        properties: Vec::new(),
    });
    // a line number is no grid position: only filled rows count
    let mut builder = SheetBuilder::new(limits);
    builder.max_rows = usize::MAX;
    let mut sink = RowSink {
        b: builder,
        sheet: 0,
        name: sheet.to_string(),
        emit,
    };
    let mut filled = 0usize;
    let mut budget = limits.max_cells;
    let mut record = csv::StringRecord::new();
    let mut lines = Lines::new(text.as_bytes());
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(ReadError::Corrupt(format!(
                    "CSV line {}: {e}",
                    e.position().map(|p| p.line()).unwrap_or(0)
                )))
            }
        }
        let row = lines.row_of(&record);
        if record.iter().any(|f| !f.is_empty()) {
            filled += 1;
            if filled > limits.max_rows {
                return Err(ReadError::TooLarge(format!(
                    "more than {} filled rows (line {})",
                    limits.max_rows,
                    row.saturating_add(1)
                )));
            }
        }
        for (c, field) in record.iter().enumerate() {
            sink.cell(row, c, RawCell::Text(field.to_string()), &mut budget)?;
            lines.embedded += field.matches('\n').count();
        }
    }
    sink.finish();
    Ok(())
}

/// Rows as a spreadsheet shows them: blank lines count, line breaks
/// inside quoted cells do not. The CSV reader's own line numbers skip
/// blank lines, so rows are counted from each record's byte offset.
struct Lines<'t> {
    text: &'t [u8],
    /// Line breaks before `last`.
    newlines: usize,
    last: usize,
    /// Line breaks inside the cells read so far.
    embedded: usize,
}

impl<'t> Lines<'t> {
    fn new(text: &'t [u8]) -> Lines<'t> {
        Lines {
            text,
            newlines: 0,
            last: 0,
            embedded: 0,
        }
    }

    /// The zero-based row of `record`.
    fn row_of(&mut self, record: &csv::StringRecord) -> usize {
        let text = self.text;
        let start = record
            .position()
            .map(|p| p.byte() as usize)
            .unwrap_or(self.last);
        let start = start.min(text.len());
        self.newlines += memchr::memchr_iter(b'\n', &text[self.last..start.max(self.last)]).count();
        self.last = start.max(self.last);
        let leading = text[start..]
            .iter()
            .take_while(|&&c| c == b'\n' || c == b'\r')
            .filter(|&&c| c == b'\n')
            .count();
        (self.newlines + leading).saturating_sub(self.embedded)
    }
}

/// Picks the delimiter that splits the first lines most consistently.
pub(super) fn sniff_delimiter(text: &str) -> u8 {
    let lines: Vec<&str> = text.lines().take(20).collect();
    let mut best = (b',', 0usize);
    for d in [b',', b'\t', b';', b'|'] {
        let n: usize = lines.iter().map(|l| l.matches(d as char).count()).sum();
        if n > best.1 {
            best = (d, n);
        }
    }
    best.0
}
