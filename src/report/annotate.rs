//! The county's own workbook back, with its problems marked: a copy of
//! each input (xlsx; CSV, xls and ods become xlsx) whose problem cells are
//! filled in the error or warning colour and carry a Chinese note, after a
//! first sheet `校验结果` that lists every problem with a link to its cell,
//! the row counts and the verdict. Values, sheet names, merged regions,
//! column widths and hidden sheets are kept; nothing is corrected.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Color, Format, Note, Url, Workbook, Worksheet, XlsxError};

use super::ReportError;
use crate::read::parts::ColWidth;
use crate::read::{Merge, RawCell, RawWorkbook};
use crate::validate::issue::{Issue, Lang, Problem, Severity};
use crate::validate::FileResult;

/// The name of the first sheet.
pub const SUMMARY_SHEET: &str = "校验结果";
/// Fill of a cell with an error (the row is returned).
pub const ERROR_FILL: u32 = 0xFFC7CE;
/// Fill of a cell with a warning only (the row is kept).
pub const WARNING_FILL: u32 = 0xFFEB9C;
/// Problem cells that get a note, at most, in one copy. The writer keeps
/// every note in memory until the copy is saved, about 11 KiB each, so a
/// file with 50,000 problem cells would cost 550 MiB in notes alone; the
/// cells past this many keep their fill, and the summary sheet lists
/// every problem with a link to its cell.
pub(crate) const MAX_NOTES: usize = 10_000;
/// The summary sheet's column widths: number, kind, code, cell, column,
/// message, value.
const SUMMARY_WIDTHS: [(u16, f64); 7] = [
    (0, 12.0),
    (1, 22.0),
    (2, 20.0),
    (3, 24.0),
    (4, 16.0),
    (5, 60.0),
    (6, 20.0),
];
/// The verdicts of the summary sheet.
pub const VERDICT_OK: &str = "可以报送";
/// The verdict of a file with problems to fix.
pub const VERDICT_FIX: &str = "请修改后报送";

/// What the cells alone do not say: every merged region and the column
/// widths, per sheet name.
#[derive(Debug, Default)]
pub struct Layout {
    /// Each sheet's merged regions.
    pub merges: HashMap<String, Vec<Merge>>,
    /// Each sheet's column widths.
    pub widths: HashMap<String, Vec<ColWidth>>,
}

impl Layout {
    /// The layout of the file at `path` as read into `wb`: every merged
    /// region (xlsx, xls) and column width (xlsx); CSV and ods have none
    /// to keep.
    pub fn of(path: &Path, wb: &RawWorkbook) -> Layout {
        let mut l = Layout::default();
        for s in &wb.sheets {
            l.merges.insert(s.name.clone(), s.merges.clone());
        }
        let (merges, widths) = crate::read::layout(path, wb.format);
        l.merges.extend(merges);
        l.widths = widths;
        l
    }
}

/// The annotated copy's file name: `<input stem>_校验.xlsx`.
/// The stem is made safe as a file name (see [`crate::fsio::safe_component`]).
pub fn file_name(input: &Path) -> String {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .and_then(|s| crate::fsio::safe_component(&s))
        .unwrap_or_else(|| "file".into());
    format!("{stem}_校验.xlsx")
}

/// [`file_name`], made different from the names in `taken` (two inputs
/// `a.csv` and `a.xlsx` get `a_校验.xlsx` and `a_校验(2).xlsx`), and added to it.
pub(crate) fn unique_file_name(
    input: &Path,
    taken: &mut std::collections::HashSet<String>,
) -> String {
    let name = file_name(input);
    let mut n = name.clone();
    let mut k = 2;
    while !taken.insert(n.clone()) {
        n = name.replacen("_校验.xlsx", &format!("_校验({k}).xlsx"), 1);
        k += 1;
    }
    n
}

/// Whether the county may send the file as it is: read, and no row
/// returned (warnings do not stop it).
pub(crate) fn may_send(res: &FileResult) -> bool {
    !res.failed() && res.counts.rejected == 0
}

/// Reads `input` again (it was read once by the check that made `res`),
/// builds the annotated copy and writes it into `dir` under a name not in
/// `taken`. A file that could not be read gets the summary sheet alone.
pub fn write(
    res: &FileResult,
    input: &Path,
    p: &crate::config::Pipeline,
    dir: &Path,
    taken: &mut std::collections::HashSet<String>,
) -> Result<PathBuf, ReportError> {
    let limits = &crate::read::Limits::from(&p.limits);
    let template = res.template.as_deref().map(|id| match p.source(id) {
        Some(s) => format!("{id} {}", s.title),
        None => id.to_string(),
    });
    let path = dir.join(unique_file_name(input, taken));
    let err = |e: XlsxError| ReportError::Write {
        path: path.clone(),
        source: e.into(),
    };
    // a file the check could not read is not opened again here
    let readable = !res.issues.iter().any(|i| {
        matches!(
            i.problem,
            Problem::Unreadable { .. }
                | Problem::WorkerDied { .. }
                | Problem::WorkerTimeout { .. }
                | Problem::Internal { .. }
        )
    });
    let book = if readable {
        crate::read::read_file(input, limits).ok()
    } else {
        None
    };
    let layout = book
        .as_ref()
        .map(|b| Layout::of(input, b))
        .unwrap_or_default();
    let mut wb = build(res, template, book.as_ref(), &layout).map_err(err)?;
    let bytes = wb.save_to_buffer().map_err(err)?;
    std::fs::create_dir_all(dir).map_err(|e| ReportError::Write {
        path: dir.to_path_buf(),
        source: e.into(),
    })?;
    super::write_atomic(&path, &bytes)?;
    Ok(path)
}

/// One problem as a note line: `[E_RANGE] message（原值：…）`.
fn note_line(i: &Issue) -> String {
    let mut s = format!("[{}] {}", i.code(), i.message(Lang::Zh));
    if let Some(raw) = i.raw.as_deref().filter(|r| !r.is_empty()) {
        s.push_str(&format!("（原值：{raw}）"));
    }
    s
}

/// The cell a problem is shown on: its own, the row's first for a row
/// problem; none for a sheet or file problem.
fn anchor(i: &Issue) -> Option<(&str, usize, usize)> {
    let sheet = i.sheet.as_deref()?;
    let row = i.row?;
    Some((sheet, row, i.col.unwrap_or(0)))
}

/// The workbook: the summary, then every sheet of the county's file.
pub(crate) fn build(
    res: &FileResult,
    template: Option<String>,
    book: Option<&RawWorkbook>,
    layout: &Layout,
) -> Result<Workbook, XlsxError> {
    let mut wb = Workbook::new();
    let names: Vec<String> = book
        .map(|b| b.sheets.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    // the county's sheet names as Excel accepts them (a CSV's sheet is
    // its file name, which may hold [ ] : * ? or run past 31 characters)
    let safe = sheet_names(&names);
    let summary_name = unique_name(SUMMARY_SHEET, &safe);
    summary(&mut wb, &summary_name, res, template, &names, &safe)?;
    let Some(book) = book else {
        return Ok(wb);
    };
    // problems per cell, in the order they were found
    let mut at: HashMap<(&str, usize, usize), Vec<&Issue>> = HashMap::new();
    for i in &res.issues {
        if let Some(a) = anchor(i) {
            at.entry(a).or_default().push(i);
        }
    }
    let marks = Marks {
        error: Format::new().set_background_color(Color::RGB(ERROR_FILL)),
        warning: Format::new().set_background_color(Color::RGB(WARNING_FILL)),
    };
    let mut noted = 0;
    for (sheet, safe_name) in book.sheets.iter().zip(&safe) {
        let ws = wb.add_worksheet_with_constant_memory()?;
        ws.set_name(safe_name)?;
        if sheet.hidden {
            ws.set_hidden(true);
        }
        column_widths(ws, layout.widths.get(&sheet.name))?;
        let (fill, notes) = marks.of_sheet(&at, &sheet.name);
        let merges = layout.merges.get(&sheet.name);
        write_sheet(ws, sheet, book.is_1904, merges, &fill, &notes, &mut noted)?;
    }
    Ok(wb)
}

/// One problem of the summary sheet: number, kind, code, its cell as a
/// link to it (in the sheet's Excel-safe name), column, message and the
/// value as written.
fn problem_row(
    ws: &mut Worksheet,
    r: u32,
    k: usize,
    i: &Issue,
    sheets: &[String],
    safe: &[String],
    wrap: &Format,
) -> Result<(), XlsxError> {
    ws.write_number(r, 0, (k + 1) as f64)?;
    ws.write_string(r, 1, i.severity().text(Lang::Zh))?;
    ws.write_string(r, 2, i.code().as_str())?;
    // the cell address whole: a one-sheet file (a CSV, whose sheet is its
    // long file name) shows `D17` alone
    let at = match (sheets.len(), i.row, i.col) {
        (0 | 1, Some(rr), Some(cc)) => crate::normalise::value::cell_ref("", rr, cc)
            .trim_start_matches('!')
            .to_string(),
        (0 | 1, Some(rr), None) => format!("第 {} 行", rr + 1),
        _ => i.cell_ref(),
    };
    let own = i
        .sheet
        .as_deref()
        .and_then(|s| sheets.iter().position(|n| n == s))
        .and_then(|k| safe.get(k));
    match own {
        Some(s) => {
            let target = match anchor(i) {
                Some((_, rr, cc)) => crate::normalise::value::cell_ref("", rr, cc)
                    .trim_start_matches('!')
                    .to_string(),
                None => "A1".into(),
            };
            let sheet_quoted = s.replace('\'', "''");
            let url = Url::new(format!("internal:'{sheet_quoted}'!{target}")).set_text(&at);
            ws.write_url(r, 3, url)?;
        }
        None => {
            ws.write_string(r, 3, &at)?;
        }
    }
    let column = i
        .field_label
        .clone()
        .or(i.field.clone())
        .unwrap_or_default();
    ws.write_string(r, 4, column)?;
    ws.write_string_with_format(r, 5, i.message(Lang::Zh), wrap)?;
    ws.write_string(r, 6, i.raw.clone().unwrap_or_default())?;
    Ok(())
}

/// The verdict and its colours: 可以报送 in green, 请修改后报送 in red.
fn verdict(res: &FileResult) -> (&'static str, Format) {
    let (text, font, fill) = if may_send(res) {
        (VERDICT_OK, 0x006100, 0xC6EFCE)
    } else {
        (VERDICT_FIX, 0x9C0006, ERROR_FILL)
    };
    let format = Format::new()
        .set_bold()
        .set_font_size(12)
        .set_font_color(Color::RGB(font))
        .set_background_color(Color::RGB(fill));
    (text, format)
}

/// The summary's line of problems: how many of each kind, what the
/// colours mean, and when notes stop at [`MAX_NOTES`] cells.
fn problems_said(res: &FileResult) -> String {
    let count = |s: Severity| res.issues.iter().filter(|i| i.severity() == s).count();
    let cells: std::collections::HashSet<_> = res.issues.iter().filter_map(anchor).collect();
    let mut said = format!(
        "文件错误 {} 个，错误 {} 个（所在行退回），警告 {} 个（已接收，请核实）；问题单元格已标色并加批注：红色为错误，黄色为警告",
        count(Severity::FileError),
        count(Severity::Reject),
        count(Severity::Warning)
    );
    if cells.len() > MAX_NOTES {
        said.push_str(&format!(
            "；问题单元格共 {} 个，批注只加在前 {MAX_NOTES} 个，其余请看下表",
            cells.len()
        ));
    }
    said
}

/// The fills of problem cells.
struct Marks {
    error: Format,
    warning: Format,
}

/// A sheet's problem cells: their fill (an error's wins over a
/// warning's) and their note lines.
type SheetMarks<'m> = (
    BTreeMap<(usize, usize), &'m Format>,
    BTreeMap<(usize, usize), Vec<String>>,
);

impl Marks {
    fn of_sheet<'m>(
        &'m self,
        at: &HashMap<(&str, usize, usize), Vec<&Issue>>,
        sheet: &str,
    ) -> SheetMarks<'m> {
        let mut fill = BTreeMap::new();
        let mut notes = BTreeMap::new();
        for (&(s, r, c), issues) in at {
            if s != sheet {
                continue;
            }
            let worst = issues.iter().any(|i| i.severity() != Severity::Warning);
            fill.insert((r, c), if worst { &self.error } else { &self.warning });
            notes.insert((r, c), issues.iter().map(|i| note_line(i)).collect());
        }
        (fill, notes)
    }
}

/// The county's column widths and hidden columns (xlsx).
fn column_widths(ws: &mut Worksheet, widths: Option<&Vec<ColWidth>>) -> Result<(), XlsxError> {
    for w in widths.into_iter().flatten() {
        for c in w.first..=w.last.min(w.first + 1024) {
            let col = c as u16;
            if let Some(width) = w.width {
                // stored widths carry Excel's padding; the writer adds it again
                ws.set_column_width(col, (width - 5.0 / 7.0).max(0.0))?;
            }
            if w.hidden {
                ws.set_column_hidden(col)?;
            }
        }
    }
    Ok(())
}

/// The sheet written row after row (a constant-memory sheet keeps one
/// row): a row's merged regions first, then its values, then the fill of
/// its empty problem cells, then its notes (the first [`MAX_NOTES`]
/// problem cells of the workbook, counted in `noted`).
fn write_sheet(
    ws: &mut Worksheet,
    sheet: &crate::read::RawSheet,
    is_1904: bool,
    merges: Option<&Vec<Merge>>,
    fill: &BTreeMap<(usize, usize), &Format>,
    notes: &BTreeMap<(usize, usize), Vec<String>>,
    noted: &mut usize,
) -> Result<(), XlsxError> {
    // merged regions by their first row (one-cell regions are none)
    let mut by_row: BTreeMap<usize, Vec<&Merge>> = BTreeMap::new();
    for m in merges.into_iter().flatten() {
        if m.r0 != m.r1 || m.c0 != m.c1 {
            by_row.entry(m.r0).or_default().push(m);
        }
    }
    let last = [
        sheet.rows.len(),
        fill.keys().next_back().map_or(0, |k| k.0 + 1),
        by_row.keys().next_back().map_or(0, |r| r + 1),
    ];
    let plain = Format::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let date_fill = |f: &Format| f.clone().set_num_format("yyyy-mm-dd");
    // each row's reasons, printed in the first column after the county's
    // (notes do not print)
    let reason_col = reason_column(sheet, fill, merges);
    let reason = Format::new()
        .set_font_color(rust_xlsxwriter::Color::RGB(0x9C0006))
        .set_text_wrap();
    for r in 0..last.into_iter().max().unwrap_or(0) {
        for m in by_row.get(&r).into_iter().flatten() {
            let f = fill.get(&(m.r0, m.c0)).copied().unwrap_or(&plain);
            // overlapping regions (a damaged file) are left unmerged
            let _ = ws.merge_range(m.r0 as u32, m.c0 as u16, m.r1 as u32, m.c1 as u16, "", f);
        }
        let row = sheet.rows.get(r).map(|v| v.as_slice()).unwrap_or(&[]);
        for (c, cell) in row.iter().enumerate() {
            let f = fill.get(&(r, c)).copied();
            write_cell(ws, r as u32, c as u16, cell, is_1904, f, &date, &date_fill)?;
        }
        // problem cells that are empty (a required value) still get their fill
        for (&(_, c), f) in fill.range((r, 0)..(r + 1, 0)) {
            if row.get(c).is_none_or(|cell| matches!(cell, RawCell::Empty)) {
                ws.write_blank(r as u32, c as u16, f)?;
            }
        }
        let said: Vec<&str> = notes
            .range((r, 0)..(r + 1, 0))
            .flat_map(|(_, lines)| lines.iter().map(String::as_str))
            .collect();
        if !said.is_empty() {
            let text = format!("校验：{}", said.join("；"));
            let text: String = text.chars().take(32_767).collect();
            ws.write_string_with_format(r as u32, reason_col, text, &reason)?;
        }
        for (&(_, c), lines) in notes.range((r, 0)..(r + 1, 0)) {
            if *noted == MAX_NOTES {
                break;
            }
            *noted += 1;
            let note = Note::new(lines.join("\n"))
                .set_author("zhenxing")
                .set_width(360)
                .set_height(40 + 20 * lines.len().min(10) as u32);
            ws.insert_note(r as u32, c as u16, &note)?;
        }
    }
    Ok(())
}

/// The first column after every cell, problem mark and merged region of
/// the county's sheet: where each row's reasons are printed.
fn reason_column(
    sheet: &crate::read::RawSheet,
    fill: &BTreeMap<(usize, usize), &Format>,
    merges: Option<&Vec<Merge>>,
) -> u16 {
    let widest = sheet.rows.iter().map(Vec::len).max().unwrap_or(0);
    let marked = fill.keys().map(|k| k.1 + 1).max().unwrap_or(0);
    let merged = merges.into_iter().flatten().map(|m| m.c1 + 1).max();
    widest.max(marked).max(merged.unwrap_or(0)) as u16
}

/// One cell with the type the file stored; `fill` marks a problem.
#[allow(clippy::too_many_arguments)]
fn write_cell(
    ws: &mut Worksheet,
    r: u32,
    c: u16,
    cell: &RawCell,
    is_1904: bool,
    fill: Option<&Format>,
    date: &Format,
    date_fill: &dyn Fn(&Format) -> Format,
) -> Result<(), XlsxError> {
    let plain = Format::new();
    let f = fill.unwrap_or(&plain);
    match cell {
        RawCell::Empty => {}
        RawCell::Text(s) => {
            // a cell holds at most 32,767 characters
            let s: String = if s.chars().count() > 32_767 {
                s.chars().take(32_767).collect()
            } else {
                s.clone()
            };
            ws.write_string_with_format(r, c, s, f)?;
        }
        RawCell::Int(i) => {
            ws.write_number_with_format(r, c, *i as f64, f)?;
        }
        RawCell::Float(x) if x.is_finite() => {
            ws.write_number_with_format(r, c, *x, f)?;
        }
        RawCell::Float(x) => {
            ws.write_string_with_format(r, c, x.to_string(), f)?;
        }
        RawCell::Bool(b) => {
            ws.write_boolean_with_format(r, c, *b, f)?;
        }
        RawCell::Date {
            serial,
            is_1904: d1904,
        } => {
            // the copy counts days from 1900
            let serial = if *d1904 || is_1904 {
                serial + 1462.0
            } else {
                *serial
            };
            match fill {
                Some(f) => ws.write_number_with_format(r, c, serial, &date_fill(f))?,
                None => ws.write_number_with_format(r, c, serial, date)?,
            };
        }
        RawCell::Error(e) => {
            ws.write_string_with_format(r, c, e, f)?;
        }
    }
    Ok(())
}

/// `name`, or `name(2)`, `name(3)`… when a sheet of the file has it.
fn unique_name(name: &str, taken: &[String]) -> String {
    let mut n = name.to_string();
    let mut k = 2;
    while taken.iter().any(|t| t.to_lowercase() == n.to_lowercase()) {
        let tag = format!("({k})");
        let keep: String = name.chars().take(31 - tag.chars().count()).collect();
        n = format!("{keep}{tag}");
        k += 1;
    }
    n
}

/// Sheet names Excel accepts, one per name and all different: the
/// characters it refuses (`[ ] : * ? / \`) become `_`, no quote at either
/// end, at most 31 characters, an empty name becomes `Sheet<n>`.
pub fn sheet_names(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for (k, n) in names.iter().enumerate() {
        let cleaned: String = n
            .chars()
            .map(|c| match c {
                '[' | ']' | ':' | '*' | '?' | '/' | '\\' => '_',
                c if c.is_control() => '_',
                c => c,
            })
            .collect();
        let cleaned: String = cleaned.trim_matches('\'').chars().take(31).collect();
        let base = if cleaned.trim().is_empty() {
            format!("Sheet{}", k + 1)
        } else {
            cleaned
        };
        let name = unique_name(&base, &out);
        out.push(name);
    }
    out
}

/// The problems as the summary lists them: what stops the file first,
/// then the returned rows, then warnings, each in the order found.
fn listed(res: &FileResult) -> Vec<&Issue> {
    let rank = |i: &&Issue| match i.severity() {
        Severity::FileError => 0,
        Severity::Reject => 1,
        Severity::Warning => 2,
    };
    let mut v: Vec<&Issue> = res.issues.iter().collect();
    v.sort_by_key(rank);
    v
}

/// The first sheet: what the file is, the verdict, the row counts and
/// every problem with a link to its cell.
fn summary(
    wb: &mut Workbook,
    name: &str,
    res: &FileResult,
    template: Option<String>,
    sheets: &[String],
    safe: &[String],
) -> Result<(), XlsxError> {
    // written row after row: a constant-memory sheet keeps one row, so
    // a file's every problem costs no memory here
    let ws = wb.add_worksheet_with_constant_memory()?;
    ws.set_name(name)?;
    for (c, w) in SUMMARY_WIDTHS {
        ws.set_column_width(c, w)?;
    }
    let title = Format::new().set_bold().set_font_size(14);
    let bold = Format::new()
        .set_bold()
        .set_align(rust_xlsxwriter::FormatAlign::Top);
    let header = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDDEBF7))
        .set_text_wrap();
    let wrap = Format::new()
        .set_text_wrap()
        .set_align(rust_xlsxwriter::FormatAlign::Top);
    ws.write_string_with_format(0, 0, format!("报表校验结果：{}", res.name), &title)?;
    let what = [
        ("模板", template),
        ("县（市、区）", res.county.clone()),
        ("统计期", res.period.clone()),
    ];
    let mut row = 1u32;
    for (k, v) in what {
        ws.write_string_with_format(row, 0, k, &bold)?;
        ws.write_string(row, 1, v.unwrap_or_else(|| "未识别".into()))?;
        row += 1;
    }
    ws.write_string_with_format(row, 0, "结论", &bold)?;
    let (verdict, format) = verdict(res);
    ws.write_string_with_format(row, 1, verdict, &format)?;
    row += 1;
    let n = &res.counts;
    ws.write_string_with_format(row, 0, "行数", &bold)?;
    ws.merge_range(
        row,
        1,
        row,
        6,
        &format!(
            "读取 {} 行 = 接收 {} + 退回 {} + 非数据行 {}（标题、单位、表头、合计、落款等）",
            n.read, n.accepted, n.rejected, n.non_data
        ),
        &wrap,
    )?;
    row += 1;
    let said = problems_said(res);
    ws.write_string_with_format(row, 0, "问题", &bold)?;
    ws.set_row_height(row, 32)?;
    ws.merge_range(row, 1, row, 6, &said, &wrap)?;
    row += 2;
    let heads = ["序号", "类别", "代码", "位置", "字段", "问题说明", "原值"];
    super::xlsx::header_row(ws, row, &heads, &header)?;
    ws.set_freeze_panes(row + 1, 0)?;
    for (k, i) in listed(res).into_iter().enumerate() {
        problem_row(ws, row + 1 + k as u32, k, i, sheets, safe, &wrap)?;
    }
    // printed on A4 landscape, one page wide, the table header on every page
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(row, row)?;
    ws.set_active(true);
    Ok(())
}
