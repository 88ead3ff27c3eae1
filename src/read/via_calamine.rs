//! The calamine adapters: xls, ods, and xlsx workbooks the lean reader
//! leaves to calamine.

use super::*;

pub(super) fn convert_data(d: &Data) -> RawCell {
    match d {
        Data::Empty => RawCell::Empty,
        Data::Int(i) => RawCell::Int(*i),
        Data::Float(f) => RawCell::Float(*f),
        Data::String(s) => RawCell::Text(s.clone()),
        Data::Bool(b) => RawCell::Bool(*b),
        Data::DateTime(dt) => date_cell(dt),
        Data::DateTimeIso(s) | Data::DurationIso(s) => RawCell::Text(s.clone()),
        Data::Error(e) => RawCell::Error(format!("{e:?}")),
    }
}

pub(super) fn date_cell(dt: &calamine::ExcelDateTime) -> RawCell {
    if dt.is_datetime() {
        // keep the serial in the workbook's own system; the flag goes along
        let is_1904 = excel_dt_is_1904(dt);
        RawCell::Date {
            serial: dt.as_f64(),
            is_1904,
        }
    } else {
        RawCell::Float(dt.as_f64())
    }
}

/// calamine keeps the date system private; recover it by comparing the
/// calendar date it computes with the one the 1900 system would give.
pub(super) fn excel_dt_is_1904(dt: &calamine::ExcelDateTime) -> bool {
    let (y, m, d, ..) = dt.to_ymd_hms_milli();
    match excel_serial_to_date(dt.as_f64(), false) {
        Some(date) => {
            use chrono::Datelike;
            !(date.year() == y as i32 && date.month() == m as u32 && date.day() == d as u32)
        }
        None => false,
    }
}

pub(super) fn convert_ref(d: &DataRef<'_>) -> RawCell {
    match d {
        DataRef::Empty => RawCell::Empty,
        DataRef::Int(i) => RawCell::Int(*i),
        DataRef::Float(f) => RawCell::Float(*f),
        DataRef::String(s) => RawCell::Text(s.clone()),
        DataRef::SharedString(s) => RawCell::Text((*s).to_string()),
        DataRef::Bool(b) => RawCell::Bool(*b),
        DataRef::DateTime(dt) => date_cell(dt),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => RawCell::Text(s.clone()),
        DataRef::Error(e) => RawCell::Error(format!("{e:?}")),
    }
}

/// Name and hidden flag of every worksheet (chart and macro sheets are left out).
pub(super) fn worksheets(sheets: &[calamine::Sheet]) -> Vec<(String, bool)> {
    sheets
        .iter()
        .filter(|s| s.typ == calamine::SheetType::WorkSheet)
        .map(|s| (s.name.clone(), s.visible != SheetVisible::Visible))
        .collect()
}

pub(super) fn merges(dims: Vec<calamine::Dimensions>) -> Vec<Merge> {
    dims.into_iter()
        .map(|d| Merge {
            r0: d.start.0 as usize,
            c0: d.start.1 as usize,
            r1: d.end.0 as usize,
            c1: d.end.1 as usize,
        })
        .collect()
}

pub(super) fn map_xlsx_err(e: calamine::XlsxError) -> ReadError {
    match e {
        calamine::XlsxError::Password => ReadError::Password,
        other => corrupt(other.to_string()),
    }
}

/// A reader error: calamine's own cell limit is a size problem, the rest damage.
pub(super) fn corrupt(msg: String) -> ReadError {
    if msg.contains("Cell limit exceeded") {
        ReadError::TooLarge(msg)
    } else {
        ReadError::Corrupt(msg)
    }
}

pub(super) fn stream_xlsx_calamine(
    bytes: Vec<u8>,
    limits: &Limits,
    emit: &mut dyn FnMut(Frame),
) -> Result<(), ReadError> {
    // merged regions found cheaply before calamine takes the bytes; calamine
    // would parse each whole sheet a second time to find them
    let quick: HashMap<String, Vec<Merge>> =
        crate::read::parts::all_merges(&bytes).unwrap_or_default();
    let properties = crate::read::parts::form_properties(&bytes);
    let mut wb: calamine::Xlsx<_> =
        calamine::Xlsx::new(std::io::Cursor::new(bytes)).map_err(map_xlsx_err)?;
    let mut metas = Vec::new();
    for (name, hidden) in worksheets(wb.sheets_metadata()) {
        let merges = match quick.get(&name) {
            Some(m) => m.clone(),
            None => merges(wb.merge_cells_by_sheet_name(&name).map_err(map_xlsx_err)?),
        };
        let merges = header_merges(&name, merges, limits)?;
        metas.push(SheetMeta {
            name,
            hidden,
            merges,
            has_merge_info: true,
        });
    }
    let names: Vec<String> = metas.iter().map(|m| m.name.clone()).collect();
    emit(Frame::Book {
        format: Format::Xlsx,
        is_1904: wb.has_1904_epoch(),
        encoding: None,
        sheets: metas,
        properties,
    });
    let mut budget = limits.max_cells;
    for (i, name) in names.iter().enumerate() {
        let mut reader = wb.worksheet_cells_reader(name).map_err(map_xlsx_err)?;
        let dim = reader.dimensions();
        check_dimension(
            name,
            (dim.start.0 as u64, dim.start.1 as u64),
            (dim.end.0 as u64, dim.end.1 as u64),
            limits,
        )?;
        let mut sink = RowSink {
            b: SheetBuilder::new(limits),
            sheet: i,
            name: name.clone(),
            emit: &mut *emit,
        };
        while let Some(cell) = reader.next_cell().map_err(map_xlsx_err)? {
            let (r, c) = cell.get_position();
            sink.cell(
                r as usize,
                c as usize,
                convert_ref(cell.get_value()),
                &mut budget,
            )?;
        }
        sink.finish();
    }
    Ok(())
}

pub(super) fn range_to_sheet(
    range: &calamine::Range<Data>,
    budget: &mut u64,
    limits: &Limits,
) -> Result<Vec<Vec<RawCell>>, ReadError> {
    let mut b = SheetBuilder::new(limits);
    for (r, c, d) in range.used_cells() {
        let (sr, sc) = range.start().unwrap_or((0, 0));
        b.put(r + sr as usize, c + sc as usize, convert_data(d), budget)?;
    }
    Ok(b.rows)
}

/// Every merged region of every sheet of an xls workbook (the reader keeps
/// only the header area's); `None` when calamine cannot open it.
pub(super) fn xls_merges(bytes: Vec<u8>) -> Option<HashMap<String, Vec<Merge>>> {
    let wb: calamine::Xls<_> = calamine::Xls::new(std::io::Cursor::new(bytes)).ok()?;
    let names: Vec<String> = wb
        .sheets_metadata()
        .iter()
        .map(|s| s.name.clone())
        .collect();
    Some(
        names
            .into_iter()
            .map(|n| {
                let m = merges(wb.merge_cells_by_sheet_name(&n).unwrap_or_default());
                (n, m)
            })
            .collect(),
    )
}

pub(super) fn read_xls(bytes: Vec<u8>, limits: &Limits) -> Result<RawWorkbook, ReadError> {
    let mut wb: calamine::Xls<_> =
        calamine::Xls::new(std::io::Cursor::new(bytes)).map_err(|e| match e {
            calamine::XlsError::Password => ReadError::Password,
            calamine::XlsError::Cfb(c) if c.to_string().contains("EncryptedPackage") => {
                ReadError::Password
            }
            other => {
                let msg = other.to_string();
                if msg.contains("EncryptedPackage") || msg.contains("encrypt") {
                    ReadError::Password
                } else {
                    ReadError::Corrupt(msg)
                }
            }
        })?;
    let metas = worksheets(wb.sheets_metadata());
    let mut budget = limits.max_cells;
    let mut sheets = Vec::new();
    for (name, hidden) in metas {
        let range = wb
            .worksheet_range(&name)
            .map_err(|e| corrupt(e.to_string()))?;
        let merges = header_merges(
            &name,
            merges(wb.merge_cells_by_sheet_name(&name).unwrap_or_default()),
            limits,
        )?;
        sheets.push(RawSheet {
            name,
            hidden,
            rows: range_to_sheet(&range, &mut budget, limits)?,
            merges,
            has_merge_info: true,
        });
    }
    Ok(RawWorkbook {
        format: Format::Xls,
        is_1904: wb.has_1904_epoch(),
        encoding: None,
        sheets,
        properties: Vec::new(),
    })
}

pub(super) fn read_ods(bytes: Vec<u8>, limits: &Limits) -> Result<RawWorkbook, ReadError> {
    let mut wb: calamine::Ods<_> =
        calamine::Ods::new(std::io::Cursor::new(bytes)).map_err(|e| match e {
            calamine::OdsError::Password => ReadError::Password,
            other => corrupt(other.to_string()),
        })?;
    // ODS has worksheets only
    let metas = worksheets(wb.sheets_metadata());
    let mut budget = limits.max_cells;
    let mut sheets = Vec::new();
    for (name, hidden) in metas {
        let range = wb
            .worksheet_range(&name)
            .map_err(|e| corrupt(e.to_string()))?;
        sheets.push(RawSheet {
            name,
            hidden,
            rows: range_to_sheet(&range, &mut budget, limits)?,
            merges: Vec::new(),
            has_merge_info: false,
        });
    }
    Ok(RawWorkbook {
        format: Format::Ods,
        is_1904: false,
        encoding: None,
        sheets,
        properties: Vec::new(),
    })
}
