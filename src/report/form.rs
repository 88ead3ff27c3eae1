//! The blank forms the city sends out, generated from the pipeline: per
//! county and template a workbook with the official title, unit and
//! headers (protected), the county's villages as of the period pre-filled
//! for templates keyed by village, Excel data validation on every typed
//! column with a Chinese input message, a very hidden sheet naming the
//! template, its definition version, county and period, print setup and a
//! sign-off block. A county that fills the form cannot retype a village
//! name, type 是/否 as Y, a date as 待定 or money in the wrong unit.

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{
    Color, DataValidation, DataValidationErrorStyle, DataValidationRule, DocProperties,
    ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};

use super::ReportError;
use crate::config::{Context, Field, FieldType, Frequency, Pipeline, Source};
use crate::validate::registry::{Registry, Village};

pub use crate::validate::MARKER_SHEET;
/// Data rows a form without pre-filled villages leaves open.
pub(crate) const OPEN_ROWS: u32 = 500;
/// First row of data (title, unit note and header above it).
pub const FIRST_DATA_ROW: u32 = 3;
/// Data rows per printed page: a page break after every 20, so that a
/// form prints on a number of pages known in advance (the title and
/// header rows repeat on each; the last page also holds the note and the
/// sign-off block).
pub(crate) const ROWS_PER_PAGE: u32 = 20;

/// The pages a form with `rows` data rows prints on.
pub fn pages(rows: u32) -> u32 {
    rows.div_ceil(ROWS_PER_PAGE).max(1)
}

/// What a generated form is, as its marker sheet and custom properties
/// say.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Identity {
    pub template: String,
    /// The template definition's version: a hash of its definition file.
    pub version: String,
    pub county: String,
    pub period: String,
}

/// A period as the form names it: `2025`, `2025年6月`, `2025年第2季度`.
pub(crate) fn period_zh(period: &str) -> String {
    if let Some((y, q)) = period.split_once("-Q") {
        return format!("{y}年第{q}季度");
    }
    if let Some((y, m)) = period.split_once('-') {
        let m = m.trim_start_matches('0');
        return format!("{y}年{m}月");
    }
    format!("{period}年")
}

/// The first and last day of a period (`current` and other text: none).
pub fn period_days(period: &str) -> Option<(NaiveDate, NaiveDate)> {
    let end = crate::analysis::tables::period_end(period)?;
    let start = if period.len() == 4 {
        NaiveDate::from_ymd_opt(end.year(), 1, 1)?
    } else if period.contains("-Q") {
        NaiveDate::from_ymd_opt(end.year(), end.month() - 2, 1)?
    } else {
        NaiveDate::from_ymd_opt(end.year(), end.month(), 1)?
    };
    Some((start, end))
}

/// The villages of `county` in the registry as of a period ending on
/// `end` (in registry order), and those merged away by then.
pub fn villages_as_of<'r>(
    reg: &'r Registry,
    county: &str,
    end: Option<NaiveDate>,
) -> (Vec<&'r Village>, Vec<&'r Village>) {
    let mut here = Vec::new();
    let mut gone = Vec::new();
    for v in reg.villages.iter().filter(|v| &*v.county == county) {
        let merged = match (&v.merged_into, v.merged_on, end) {
            (None, _, _) => false,
            // merged on a known day: still there for periods before it
            (Some(_), Some(on), Some(end)) => on <= end,
            (Some(_), _, _) => true,
        };
        if merged {
            gone.push(v);
        } else {
            here.push(v);
        }
    }
    (here, gone)
}

/// Whether a template is filled one row per village of the registry: its
/// keys are the village code and at most the period (T08's stations and
/// T06's households are rows of their own).
pub fn keyed_by_village(src: &Source) -> bool {
    src.match_village
        && src
            .keys
            .iter()
            .any(|&k| src.fields[k].name == "village_code")
        && src.keys.iter().all(|&k| {
            let f = &src.fields[k];
            f.name == "village_code"
                || matches!(f.ty, FieldType::Year | FieldType::Month)
                || matches!(f.context, Some(Context::Period) | Some(Context::Year))
        })
}

/// The header cell of a field: the official header, with the unit where
/// the template has one (`集体经营性收入（万元）`).
pub fn header_text(f: &Field) -> String {
    match f.unit {
        Some(u) => format!("{}（{}）", f.header, u.label()),
        None => f.header.clone(),
    }
}

fn fmt(v: f64) -> String {
    crate::text::format_number(v)
}

/// The range as a form's message says it: `0 至 100`, `不小于 0`.
fn range_zh(lo: Option<f64>, hi: Option<f64>) -> String {
    match (lo, hi) {
        (Some(a), Some(b)) => format!("{} 至 {}", fmt(a), fmt(b)),
        (Some(a), None) => format!("不小于 {}", fmt(a)),
        (None, Some(b)) => format!("不大于 {}", fmt(b)),
        (None, None) => String::new(),
    }
}

fn excel_date(d: NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
}

/// What an input message adds: `，单位：万元` and `，≥ 0` (or nothing).
fn hints(f: &Field) -> (String, String) {
    let unit = f
        .unit
        .map(|u| format!("，单位：{}", u.label()))
        .unwrap_or_default();
    let range = range_zh(f.min, f.max);
    let range = if range.is_empty() {
        String::new()
    } else {
        format!("，{range}")
    };
    (unit, range)
}

/// A money column with a plausible range: 0, or an amount in that range
/// (in yuan) in the template's unit, the same rule the reader applies.
fn money_rule(f: &Field, first_row: u32, col: u16, unit: &str) -> (DataValidation, String) {
    let per = f.unit.map_or(1.0, |u| u.to_yuan());
    let lo = f
        .plausible
        .0
        .map(|x| x / per)
        .unwrap_or(0.0)
        .max(f.min.unwrap_or(0.0));
    let hi = f.plausible.1.map(|x| x / per).unwrap_or(1e15);
    let cell = crate::normalise::value::cell_ref("", first_row as usize, col as usize);
    let cell = cell.trim_start_matches('!');
    let rule = format!(
        "=AND(ISNUMBER({cell}),OR({cell}=0,AND({cell}>={},{cell}<={})))",
        fmt(lo),
        fmt(hi)
    );
    (
        DataValidation::new().allow_custom(rust_xlsxwriter::Formula::new(rule)),
        format!("请填写 0 或 {} 至 {} 之间的金额{unit}", fmt(lo), fmt(hi)),
    )
}

/// What a county must know of a column besides its type: whether it is
/// required, and the rules across fields it takes part in (as the reader
/// checks them), in Chinese: `必填`, `不得大于“集体总收入”`,
/// `“是否转化”为是时必填`.
pub(crate) fn rules_zh(src: &Source, f: usize) -> Vec<String> {
    let header = |i: usize| src.fields.get(i).map(|x| x.header.as_str()).unwrap_or("");
    let mut out = Vec::new();
    if src.fields.get(f).is_some_and(|x| x.required) {
        out.push("必填".to_string());
    }
    for ck in &src.checks {
        match *ck {
            crate::config::Check::Le { left, right } if left == f => {
                out.push(format!("不得大于“{}”", header(right)));
            }
            crate::config::Check::Le { left, right } if right == f => {
                out.push(format!("不得小于“{}”", header(left)));
            }
            crate::config::Check::RequiredIf { field, when } if field == f => {
                out.push(format!("“{}”为是时必填", header(when)));
            }
            _ => {}
        }
    }
    out
}

/// The input message of a free-text column.
fn text_message(f: &Field) -> String {
    match f.pii {
        Some(crate::config::PiiKind::IdNumber) => "请填写 18 位居民身份证号".to_string(),
        Some(crate::config::PiiKind::Phone) => "请填写手机号或座机号".to_string(),
        _ if f.ty == FieldType::Month => "请填写年月，如 2025年6月".to_string(),
        _ if f.ty == FieldType::Level => "请填写等级，如 一级、3档".to_string(),
        _ if f.ty == FieldType::List => "多个名称之间用分号“；”隔开".to_string(),
        _ => format!("请填写{}", f.header),
    }
}

/// The data validation of a field's column, with its input message in
/// Chinese; none for free text that any value may fill.
fn validation(
    f: &Field,
    period: Option<(NaiveDate, NaiveDate)>,
    (first_row, col): (u32, u16),
    rules: &[String],
) -> Result<Option<DataValidation>, XlsxError> {
    let (unit, range) = hints(f);
    let (dv, msg) = match f.ty {
        FieldType::Bool => (
            DataValidation::new().allow_list_strings(&["是", "否"])?,
            "请从下拉列表选择“是”或“否”".to_string(),
        ),
        FieldType::Enum => (
            DataValidation::new().allow_list_strings(&f.values)?,
            format!("请从下拉列表选择：{}", f.values.join("、")),
        ),
        FieldType::Int => {
            let lo = f.min.map(|x| x.ceil() as i32).unwrap_or(i32::MIN);
            let hi = f.max.map(|x| x.floor() as i32).unwrap_or(i32::MAX);
            (
                DataValidation::new().allow_whole_number(DataValidationRule::Between(lo, hi)),
                format!("请填写整数{range}{unit}"),
            )
        }
        FieldType::Money if f.plausible.0.is_some() || f.plausible.1.is_some() => {
            money_rule(f, first_row, col, &unit)
        }
        FieldType::Number | FieldType::Money | FieldType::Percent => {
            let lo = f.min.unwrap_or(-1e15);
            let hi = f.max.unwrap_or(1e15);
            (
                DataValidation::new().allow_decimal_number(DataValidationRule::Between(lo, hi)),
                format!("请填写数字{range}{unit}"),
            )
        }
        FieldType::Year => {
            let hi = period.map(|(_, e)| e.year()).unwrap_or(2100);
            let lo = f.min.map(|x| x as i32).unwrap_or(1949);
            (
                DataValidation::new().allow_whole_number(DataValidationRule::Between(lo, hi)),
                format!("请填写四位年份（{lo} 至 {hi}）"),
            )
        }
        FieldType::Date => {
            let lo = NaiveDate::from_ymd_opt(1949, 10, 1).unwrap_or_default();
            let hi = period
                .map(|(_, e)| e)
                .unwrap_or_else(|| NaiveDate::from_ymd_opt(2100, 12, 31).unwrap_or_default());
            (
                DataValidation::new().allow_date(DataValidationRule::Between(
                    excel_date(lo)?,
                    excel_date(hi)?,
                )),
                format!("请填写日期，如 {}，不晚于 {hi}", hi.format("%Y-%m-%d")),
            )
        }
        FieldType::Code => (
            DataValidation::new().allow_text_length(DataValidationRule::EqualTo(12)),
            "请填写 12 位统计用区划代码".to_string(),
        ),
        // free text: no rule, but the same input message
        _ => (DataValidation::new().allow_any_value(), text_message(f)),
    };
    let title: String = f.header.chars().take(30).collect();
    // the rules first: a long message is cut at Excel's 255 characters
    let msg = match rules.is_empty() {
        true => msg,
        false => format!("{}。{msg}", rules.join("，")),
    };
    let msg: String = msg.chars().take(250).collect();
    Ok(Some(
        dv.set_input_title(title)?
            .set_input_message(msg.clone())?
            .set_error_title("输入有误")?
            .set_error_message(msg)?
            .set_error_style(DataValidationErrorStyle::Stop),
    ))
}

/// Writes one form: `dir/<county>/<county>_<title>_<period>.xlsx`.
pub fn write(
    p: &Pipeline,
    src: &Source,
    reg: &Registry,
    county: &str,
    period: &str,
    dir: &Path,
) -> Result<PathBuf, ReportError> {
    // a registry's county names a folder: made safe as one path component
    let folder = crate::fsio::join_inside(dir, county, "未识别");
    let name = format!("{county}_{}_{}.xlsx", src.title, period.replace('-', "_"));
    let path = crate::fsio::join_inside(&folder, &name, "form.xlsx");
    let err = |e: XlsxError| ReportError::Write {
        path: path.clone(),
        source: e.into(),
    };
    let mut wb = build(p, src, reg, county, period).map_err(err)?;
    let bytes = wb.save_to_buffer().map_err(err)?;
    std::fs::create_dir_all(&folder).map_err(|e| ReportError::Write {
        path: folder.clone(),
        source: e.into(),
    })?;
    super::write_atomic(&path, &bytes)?;
    Ok(path)
}

/// The form's workbook.
pub(crate) fn build(
    p: &Pipeline,
    src: &Source,
    reg: &Registry,
    county: &str,
    period: &str,
) -> Result<Workbook, XlsxError> {
    let id = Identity {
        template: src.id.clone(),
        version: src.definition_version(),
        county: county.to_string(),
        period: period.to_string(),
    };
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(county)?;
    let rows = sheet(ws, src, reg, &id)?;
    let props = DocProperties::new()
        .set_title(format!("{county}{}{}", period_zh(period), src.title))
        .set_author(format!("{}（zhenxing）", p.city))
        .set_custom_property("zhenxing.template", id.template.as_str())
        .set_custom_property("zhenxing.version", id.version.as_str())
        .set_custom_property("zhenxing.county", id.county.as_str())
        .set_custom_property("zhenxing.period", id.period.as_str())
        .set_custom_property("zhenxing.pages", pages(rows).to_string().as_str());
    wb.set_properties(&props);
    let m = wb.add_worksheet();
    m.set_name(MARKER_SHEET)?;
    for (r, (k, v)) in [
        ("template", id.template.as_str()),
        ("version", id.version.as_str()),
        ("county", id.county.as_str()),
        ("period", id.period.as_str()),
        ("pipeline", p.name.as_str()),
        ("pages", pages(rows).to_string().as_str()),
    ]
    .into_iter()
    .enumerate()
    {
        m.write_string(r as u32, 0, k)?;
        m.write_string(r as u32, 1, v)?;
    }
    m.set_very_hidden(true);
    m.protect();
    Ok(wb)
}

/// The columns of a form: every field of the template, in order.
fn columns(src: &Source) -> Vec<usize> {
    (0..src.fields.len()).collect()
}

/// Writes the form's sheet; returns its number of data rows.
fn sheet(
    ws: &mut Worksheet,
    src: &Source,
    reg: &Registry,
    id: &Identity,
) -> Result<u32, XlsxError> {
    let cols = columns(src);
    let last_col = cols.len().saturating_sub(1) as u16;
    let days = period_days(&id.period);
    let fm = FormFormats::new();
    head(ws, src, id, &cols, &fm)?;
    // the rows: one per village of the registry as of the period, or open rows
    let by_village = keyed_by_village(src);
    let (here, gone) = villages_as_of(reg, &id.county, days.map(|d| d.1));
    let rows = if by_village {
        here.len() as u32
    } else {
        OPEN_ROWS
    };
    let prefilled = |f: &Field| -> bool {
        by_village
            && matches!(
                f.name.as_str(),
                "county" | "township" | "village" | "village_code"
            )
    };
    for (k, &c) in cols.iter().enumerate() {
        let f = &src.fields[c];
        let col = k as u16;
        let period_cell = is_period_cell(f);
        for r in 0..rows {
            let row = FIRST_DATA_ROW + r;
            if prefilled(f) {
                let v = here[r as usize];
                let text: &str = match f.name.as_str() {
                    "county" => &v.county,
                    "township" => &v.township,
                    "village" => &v.name,
                    _ => &v.code,
                };
                ws.write_string_with_format(row, col, text, &fm.fixed)?;
            } else if period_cell {
                // the period the form is for, written for the county
                ws.write_string_with_format(row, col, period_text(f, &id.period), &fm.fixed)?;
            } else if f.name == "county" {
                ws.write_string_with_format(row, col, &id.county, &fm.fixed)?;
            } else if f.ty == FieldType::Date {
                ws.write_blank(row, col, &fm.open_date)?;
            } else {
                ws.write_blank(row, col, &fm.open)?;
            }
        }
        if rows > 0 && county_types(f, by_village) {
            let rules = rules_zh(src, c);
            if let Some(dv) = validation(f, days, (FIRST_DATA_ROW, col), &rules)? {
                ws.add_data_validation(FIRST_DATA_ROW, col, FIRST_DATA_ROW + rows - 1, col, &dv)?;
            }
        }
    }
    let gone = if by_village { gone } else { Vec::new() };
    tail(ws, reg, &gone, rows, last_col, &fm)?;
    Ok(rows)
}

/// The form's formats.
struct FormFormats {
    title: Format,
    note: Format,
    header: Format,
    fixed: Format,
    open: Format,
    open_date: Format,
}

impl FormFormats {
    fn new() -> FormFormats {
        let border = FormatBorder::Thin;
        let open = Format::new().set_unlocked().set_border(border);
        FormFormats {
            title: Format::new()
                .set_bold()
                .set_font_size(16)
                .set_align(FormatAlign::Center),
            note: Format::new().set_font_size(10),
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_background_color(Color::RGB(0xDDEBF7))
                .set_border(border),
            fixed: Format::new()
                .set_border(border)
                .set_background_color(Color::RGB(0xF2F2F2)),
            open_date: open.clone().set_num_format("yyyy-mm-dd"),
            open,
        }
    }
}

/// The title, the reporting unit and money unit, and the official headers
/// with their column widths.
fn head(
    ws: &mut Worksheet,
    src: &Source,
    id: &Identity,
    cols: &[usize],
    fm: &FormFormats,
) -> Result<(), XlsxError> {
    let last_col = cols.len().saturating_sub(1) as u16;
    ws.merge_range(
        0,
        0,
        0,
        last_col,
        &format!("{}{}{}", id.county, period_zh(&id.period), src.title),
        &fm.title,
    )?;
    let units: Vec<String> = cols
        .iter()
        .filter_map(|&c| src.fields[c].unit.map(|u| u.label().to_string()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut unit_note = format!("填报单位：{}", id.county);
    if !units.is_empty() {
        unit_note.push_str(&format!("　　单位：{}", units.join("、")));
    }
    ws.write_string_with_format(1, 0, unit_note, &fm.note)?;
    for (k, &c) in cols.iter().enumerate() {
        let f = &src.fields[c];
        ws.write_string_with_format(2, k as u16, header_text(f), &fm.header)?;
        let chars = match f.ty {
            FieldType::Code => 13,
            FieldType::Date => 11,
            _ => header_text(f).chars().count(),
        };
        let w = (chars as f64 * 2.0 + 1.0).clamp(8.0, 30.0);
        ws.set_column_width(k as u16, w)?;
    }
    ws.set_row_height(2, 32)?;
    Ok(())
}

/// Below the rows: the merged villages, the sign-off block, a page break
/// every `ROWS_PER_PAGE` data rows, and the print and protection set-up.
fn tail(
    ws: &mut Worksheet,
    reg: &Registry,
    gone: &[&Village],
    rows: u32,
    last_col: u16,
    fm: &FormFormats,
) -> Result<(), XlsxError> {
    let mut r = FIRST_DATA_ROW + rows + 1;
    if !gone.is_empty() {
        let names: Vec<String> = gone
            .iter()
            .map(|v| match (&v.merged_into, v.merged_on) {
                (Some(to), Some(on)) => {
                    let to = reg
                        .by_code(to)
                        .map(|t| t.name.to_string())
                        .unwrap_or(to.to_string());
                    format!("{}（{on} 并入{to}）", v.name)
                }
                _ => v.name.to_string(),
            })
            .collect();
        ws.write_string_with_format(
            r,
            0,
            format!(
                "注：以下村（社区）已撤并，不再单独填报：{}",
                names.join("、")
            ),
            &fm.note,
        )?;
        r += 2;
    }
    let sign = ["填表人：", "审核人：", "单位负责人（签字）：", "填报日期："];
    let step = ((last_col as usize + 1) / sign.len()).max(1) as u16;
    for (k, s) in sign.iter().enumerate() {
        ws.write_string_with_format(r, k as u16 * step, *s, &fm.note)?;
    }
    let breaks: Vec<u32> = (1..pages(rows))
        .map(|k| FIRST_DATA_ROW + k * ROWS_PER_PAGE)
        .collect();
    if !breaks.is_empty() {
        ws.set_page_breaks(&breaks)?;
    }
    // headers stay in view and in print; only the data cells can be changed
    ws.set_freeze_panes(FIRST_DATA_ROW, 0)?;
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(0, FIRST_DATA_ROW - 1)?;
    ws.set_footer("&C第 &P 页，共 &N 页");
    ws.protect();
    Ok(())
}

/// The text of a period or year cell: `2025` for a year, `2025年6月` for
/// a month, as counties write them.
fn period_text(f: &Field, period: &str) -> String {
    match f.ty {
        FieldType::Year => period.get(..4).unwrap_or(period).to_string(),
        _ => period_zh(period),
    }
}

/// A period given for every template, as this template counts it: a
/// year for a yearly one (`2025-06` → `2025`), a quarter for a quarterly
/// one, the month for monthly ones and registers.
pub fn period_for(src: &Source, period: &str) -> String {
    use crate::lake::submissions::Period;
    match (src.frequency, Period::parse(period)) {
        (Frequency::Roster, _) | (_, None) => period.to_string(),
        (f, Some(p)) => p.as_frequency(f).label(),
    }
}

/// The period a form is for when none is given: the latest period due on
/// `today`, the one `status` says is due (before any is due, the current
/// year); a register is for the current month.
pub(crate) fn due_period(src: &Source, today: NaiveDate, due_days: i64) -> String {
    use crate::lake::submissions::{expected, Period};
    match src.frequency {
        Frequency::Roster => format!("{}-{:02}", today.year(), today.month()),
        f => expected(f, today, due_days)
            .map(Period::label)
            .unwrap_or_else(|| today.year().to_string()),
    }
}

/// One form of a county's pack: the file written and what it is for.
pub struct Packed<'s> {
    /// The form written.
    pub path: PathBuf,
    /// Its template.
    pub source: &'s Source,
    /// Its period.
    pub period: String,
}

/// The day a period's report is due: `due_days` after its end.
pub(crate) fn deadline(period: &str, due_days: i64) -> Option<NaiveDate> {
    period_days(period).map(|(_, end)| end + chrono::Duration::days(due_days))
}

/// What a form is for, in a few Chinese words.
fn purpose_zh(src: &Source) -> String {
    let how = match src.frequency {
        Frequency::Monthly => "每月",
        Frequency::Quarterly => "每季度",
        Frequency::Yearly => "每年",
        Frequency::Roster => "有变化时",
    };
    let rows = if keyed_by_village(src) {
        "每个村（社区）一行，村名和代码已填好"
    } else {
        "每条记录一行"
    };
    format!("{how}报送一次；{rows}")
}

/// The instruction sheet of a county's pack (`填报说明.xlsx`).
pub(crate) fn instructions(
    p: &Pipeline,
    county: &str,
    forms: &[Packed<'_>],
    contact: Option<&str>,
) -> Result<Workbook, XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("填报说明")?;
    let title = Format::new().set_bold().set_font_size(14);
    let header = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDDEBF7))
        .set_border(FormatBorder::Thin);
    let cell = Format::new().set_text_wrap().set_border(FormatBorder::Thin);
    ws.write_string_with_format(0, 0, format!("{county}报表填报说明"), &title)?;
    let lines = [
        "1. 请直接在下发的报表中填写，不要另做表格，不要改动表头、标题和已填好的村名、代码。".to_string(),
        "2. 灰色单元格已锁定；白色单元格填写数据，选中单元格时有填写提示，“是/否”等从下拉列表选择。".to_string(),
        "3. 金额按表头注明的单位填写；日期填写为日期格式（如 2025-06-30），不要填“待定”。".to_string(),
        "4. 已撤并的村（社区）不再单独填报（表下方有说明）。".to_string(),
        format!(
            "5. 填好后请按原文件名报送。如有疑问请联系：{}",
            contact.unwrap_or("市里下发报表的同志")
        ),
    ];
    for (k, l) in lines.iter().enumerate() {
        ws.write_string(1 + k as u32, 0, l)?;
    }
    let top = 2 + lines.len() as u32;
    forms_table(ws, top, p, forms, (&header, &cell))?;
    for (c, w) in [
        (0u16, 26.0),
        (1, 6.0),
        (2, 14.0),
        (3, 14.0),
        (4, 40.0),
        (5, 44.0),
        (6, 48.0),
    ] {
        ws.set_column_width(c, w)?;
    }
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_print_fit_to_pages(1, 0);
    Ok(wb)
}

/// The instruction sheet's table: one row per form (title, template,
/// period, deadline, purpose, file, requirements) under its header at
/// row `top`.
fn forms_table(
    ws: &mut rust_xlsxwriter::Worksheet,
    top: u32,
    p: &Pipeline,
    forms: &[Packed<'_>],
    (header, cell): (&Format, &Format),
) -> Result<(), XlsxError> {
    super::xlsx::header_row(
        ws,
        top,
        &[
            "报表",
            "模板",
            "统计期",
            "报送截止日期",
            "用途",
            "文件",
            "填写要求",
        ],
        header,
    )?;
    for (k, f) in forms.iter().enumerate() {
        let r = top + 1 + k as u32;
        let due = deadline(&f.period, p.lake.due_days)
            .map(|d| d.to_string())
            .unwrap_or_else(|| "—".into());
        let name = f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let row = [
            f.source.title.clone(),
            f.source.id.clone(),
            period_zh(&f.period),
            due,
            purpose_zh(f.source),
            name,
            requirements_zh(f.source),
        ];
        for (c, v) in row.iter().enumerate() {
            ws.write_string_with_format(r, c as u16, v, cell)?;
        }
    }
    Ok(())
}

/// Whether the county types this column: the form writes the villages
/// (of a template keyed by village), the county and the period itself.
fn county_types(f: &Field, by_village: bool) -> bool {
    let prefilled = by_village
        && matches!(
            f.name.as_str(),
            "county" | "township" | "village" | "village_code"
        );
    !prefilled && !is_period_cell(f) && f.name != "county"
}

/// A column that holds the form's period (written for the county).
fn is_period_cell(f: &Field) -> bool {
    matches!(f.context, Some(Context::Period) | Some(Context::Year))
        || matches!(f.ty, FieldType::Year | FieldType::Month) && f.context.is_some()
}

/// A template's requirements for the instruction sheet: its required
/// columns and its rules across columns, e.g. `必填：集体经营性收入；“集体经营性收入”不得大于“集体总收入”`.
fn requirements_zh(src: &Source) -> String {
    // the columns the county types (the form fills in the villages, the
    // county and the period)
    let by_village = keyed_by_village(src);
    let required: Vec<&str> = src
        .fields
        .iter()
        .filter(|f| f.required && county_types(f, by_village))
        .map(|f| f.header.as_str())
        .collect();
    let mut parts = Vec::new();
    if !required.is_empty() {
        parts.push(format!("必填：{}", required.join("、")));
    }
    let header = |i: usize| src.fields.get(i).map(|x| x.header.as_str()).unwrap_or("");
    for ck in &src.checks {
        parts.push(match *ck {
            crate::config::Check::Le { left, right } => {
                format!("“{}”不得大于“{}”", header(left), header(right))
            }
            crate::config::Check::RequiredIf { field, when } => {
                format!("“{}”为是时“{}”必填", header(when), header(field))
            }
        });
    }
    parts.join("；")
}

/// `DIR/<county>_报表.zip`: the county's forms and `填报说明.xlsx`.
pub fn pack(
    p: &Pipeline,
    county: &str,
    forms: &[Packed<'_>],
    contact: Option<&str>,
    dir: &Path,
) -> Result<PathBuf, ReportError> {
    use std::io::Write;
    let path = crate::fsio::join_inside(dir, &format!("{county}_报表.zip"), "报表.zip");
    let err = |e: super::BoxError| ReportError::Write {
        path: path.clone(),
        source: e,
    };
    let mut wb = instructions(p, county, forms, contact).map_err(|e| err(e.into()))?;
    let guide = wb.save_to_buffer().map_err(|e| err(e.into()))?;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file(format!("{county}/填报说明.xlsx"), opts)
        .map_err(|e| err(e.into()))?;
    z.write_all(&guide).map_err(|e| err(e.into()))?;
    for f in forms {
        let bytes = std::fs::read(&f.path).map_err(|e| err(e.into()))?;
        let name = f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        z.start_file(format!("{county}/{name}"), opts)
            .map_err(|e| err(e.into()))?;
        z.write_all(&bytes).map_err(|e| err(e.into()))?;
    }
    let bytes = z.finish().map_err(|e| err(e.into()))?.into_inner();
    super::write_atomic(&path, &bytes)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without `--period` a form is for the period `status` says is due.
    #[test]
    fn a_form_is_for_the_period_now_due() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let p = crate::config::load(&root.join("pipelines/nantong.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        let due = |id: &str, today| {
            let src = p.source(id).unwrap_or_else(|| panic!("no {id}"));
            due_period(src, today, p.lake.due_days)
        };
        // a yearly template on 2026-12-08: 2025 is due, 2026 has not ended
        assert_eq!(due("T07", day(2026, 12, 8)), "2025");
        // a monthly one: October is due (ended, plus 15 days), November not yet
        assert_eq!(due("T01", day(2026, 12, 8)), "2026-10");
        assert_eq!(due("T01", day(2026, 12, 16)), "2026-11");
        // on 2026-01-10 the year 2025 is not due yet: 2024 is
        assert_eq!(due("T07", day(2026, 1, 10)), "2024");
    }

    /// A form says which columns are required and the rules across them,
    /// in the input message and on the instruction sheet.
    #[test]
    fn a_form_states_required_columns_and_the_rules_across_them() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let p = crate::config::load(&root.join("pipelines/nantong.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        let src = p.source("T07").unwrap_or_else(|| panic!("no T07"));
        let at = |name: &str| src.field_index(name).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(
            rules_zh(src, at("operating_income")),
            ["必填", "不得大于“集体总收入”"]
        );
        assert_eq!(
            rules_zh(src, at("total_income")),
            ["不得小于“集体经营性收入”"]
        );
        let said = requirements_zh(src);
        assert!(said.contains("集体经营性收入"), "{said}");
        assert!(
            said.ends_with("“集体经营性收入”不得大于“集体总收入”"),
            "{said}"
        );
    }
}
