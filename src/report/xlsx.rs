//! The Excel workbook of a report (rust_xlsxwriter).

use std::path::Path;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use super::{ReportData, ReportError};
use crate::analysis::indicators::{Indicator, Level};
use crate::catalogue::Lang;

/// Text that Excel could take for a formula when the cell is edited or
/// the sheet is saved as CSV and opened again.
pub fn looks_like_formula(s: &str) -> bool {
    matches!(
        s.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '＝' | '＋' | '－' | '＠')
    )
}

struct Formats {
    header: Format,
    text: Format,
    quoted: Format,
    title: Format,
    /// Long text (definitions, notes, method names): wrapped, top-aligned.
    wrap: Format,
    /// Counts: thousands separators, no decimals.
    count: Format,
    /// Numerators and denominators that are not whole numbers.
    decimal: Format,
    /// A numerator in yuan beside a value in 万元.
    yuan: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            header: Format::new()
                .set_bold()
                .set_background_color(0xDDEBF7)
                .set_text_wrap(),
            text: Format::new(),
            // the quote prefix keeps text text, whatever it starts with
            quoted: Format::new().set_quote_prefix(),
            title: Format::new().set_bold().set_font_size(14),
            wrap: Format::new()
                .set_text_wrap()
                .set_align(rust_xlsxwriter::FormatAlign::Top),
            count: Format::new().set_num_format("#,##0"),
            decimal: Format::new().set_num_format("#,##0.00"),
            yuan: Format::new().set_num_format("#,##0.00\" 元\""),
        }
    }

    /// The format of a numerator or denominator: whole numbers as counts,
    /// money to the fen, yuan marked where the value is in 万元.
    fn raw(&self, v: f64, yuan: bool) -> &Format {
        if yuan {
            &self.yuan
        } else if v.fract() == 0.0 {
            &self.count
        } else {
            &self.decimal
        }
    }
}

/// Writes text; text that looks like a formula gets Excel's quote prefix.
fn text(ws: &mut Worksheet, f: &Formats, row: u32, col: u16, s: &str) -> Result<(), XlsxError> {
    let fmt = if looks_like_formula(s) {
        &f.quoted
    } else {
        &f.text
    };
    ws.write_string_with_format(row, col, s, fmt)?;
    Ok(())
}

fn number(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    v: Option<f64>,
    fmt: &Format,
) -> Result<(), XlsxError> {
    if let Some(v) = v.filter(|v| v.is_finite()) {
        ws.write_number_with_format(row, col, v, fmt)?;
    }
    Ok(())
}

/// One row of header cells.
pub(crate) fn header_row(
    ws: &mut Worksheet,
    row: u32,
    names: &[&str],
    fmt: &Format,
) -> Result<(), XlsxError> {
    for (i, h) in names.iter().enumerate() {
        ws.write_string_with_format(row, i as u16, *h, fmt)?;
    }
    Ok(())
}

/// A header row that stays in view when scrolling.
fn headers(ws: &mut Worksheet, f: &Formats, row: u32, names: &[&str]) -> Result<(), XlsxError> {
    header_row(ws, row, names, &f.header)?;
    ws.set_freeze_panes(row + 1, 0)?;
    Ok(())
}

fn num_format(unit: &str) -> Format {
    match super::decimals(unit) {
        0 => Format::new().set_num_format("#,##0"),
        1 => Format::new().set_num_format("#,##0.0"),
        _ => Format::new().set_num_format("#,##0.00"),
    }
}

/// The headers of a family sheet.
pub const FAMILY_HEADERS: [&str; 13] = [
    "指标",
    "分类",
    "统计期",
    "层级",
    "地区代码",
    "地区",
    "数值",
    "单位",
    "分子",
    "分母",
    "报送村数",
    "名录村数",
    "指标编号",
];

fn level_zh(l: Level) -> &'static str {
    match l {
        Level::City => "全市",
        Level::County => "县(市、区)",
        Level::Township => "镇(街道)",
        Level::Village => "村(社区)",
    }
}

fn build(d: &ReportData<'_>) -> Result<Workbook, XlsxError> {
    let f = Formats::new();
    let mut wb = Workbook::new();
    // the workbook's creation time is the lake version's, so the same lake
    // gives the same workbook
    let created = d
        .lake_version
        .get(..15)
        .and_then(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").ok())
        .and_then(|t| {
            use chrono::{Datelike, Timelike};
            ExcelDateTime::from_ymd(t.year() as u16, t.month() as u8, t.day() as u8)
                .and_then(|x| x.and_hms(t.hour() as u16, t.minute() as u8, t.second() as f64))
                .ok()
        });
    let mut props = DocProperties::new()
        .set_title(format!("{} {} 乡村振兴指标报表", d.pipeline.city, d.period))
        .set_author("zhenxing");
    if let Some(c) = &created {
        props = props.set_creation_datetime(c);
    }
    wb.set_properties(&props);
    headline_sheet(&mut wb, &f, d)?;
    for fam in d.defs.families() {
        let pick = |i: &Indicator| i.def.family == fam;
        let name = d.defs.family_name(fam);
        figure_sheet(
            &mut wb,
            &f,
            d,
            name,
            &pick,
            &[Level::City, Level::County],
            true,
        )?;
    }
    if d.fine_rows_elsewhere {
        // a nation: hundreds of thousands of townships and villages are
        // tables to query, not pages to print
        let ws = wb.add_worksheet();
        ws.set_name("分乡镇及村排名")?;
        text(ws, &f, 0, 0, FINE_ROWS_ZH)?;
        text(ws, &f, 1, 0, FINE_ROWS_EN)?;
        ws.set_column_width(0, 100)?;
        effects_sheet(&mut wb, &f, d)?;
    } else {
        // townships, for the indicators without a breakdown
        figure_sheet(
            &mut wb,
            &f,
            d,
            "分乡镇",
            &|_| true,
            &[Level::Township],
            false,
        )?;
        effects_sheet(&mut wb, &f, d)?;
        ranks_sheet(&mut wb, &f, d)?;
    }
    scorecard_sheet(&mut wb, &f, d)?;
    drift_sheet(&mut wb, &f, d)?;
    notes_sheet(&mut wb, &f, d)?;
    Ok(wb)
}

/// `报送质量`: per county and period, the submissions on time of those
/// due, the rows returned and the most frequent reasons (`status
/// --scorecard`), so the city office knows where to train.
fn scorecard_sheet(wb: &mut Workbook, f: &Formats, d: &ReportData<'_>) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name("报送质量")?;
    headers(
        ws,
        f,
        0,
        &[
            "县(市、区)",
            "统计期",
            "截止日期",
            "应报",
            "按时报送",
            "按时率(%)",
            "数据行",
            "退回行",
            "退回率(%)",
            "主要问题（↻ 上期也有）",
        ],
    )?;
    let pct = Format::new().set_num_format("0.0");
    for (i, s) in d.scores.iter().enumerate() {
        let row = 1 + i as u32;
        text(ws, f, row, 0, &s.county)?;
        text(ws, f, row, 1, &s.period)?;
        if let Some(due) = s.due {
            text(ws, f, row, 2, &due.to_string())?;
        }
        ws.write_number_with_format(row, 3, s.expected as f64, &f.count)?;
        ws.write_number_with_format(row, 4, s.on_time as f64, &f.count)?;
        number(ws, row, 5, s.on_time_pct(), &pct)?;
        ws.write_number_with_format(row, 6, s.rows as f64, &f.count)?;
        ws.write_number_with_format(row, 7, s.returned as f64, &f.count)?;
        number(ws, row, 8, s.returned_pct(), &pct)?;
        let why: Vec<String> = s
            .top
            .iter()
            .map(|r| {
                format!(
                    "{} {} 行{}",
                    r.label_zh,
                    r.rows,
                    if r.repeated { " ↻" } else { "" }
                )
            })
            .collect();
        text(ws, f, row, 9, &why.join("；"))?;
    }
    for (c, w) in [(0u16, 12.0), (1, 10.0), (2, 12.0), (9, 60.0)] {
        ws.set_column_width(c, w)?;
    }
    print_setup(ws, d, 1)?;
    Ok(())
}

/// `表头变化`: per county and template, how the headers of the latest
/// submission differ from the one before (`status --headers`), so a
/// variant is added before rows fail.
fn drift_sheet(wb: &mut Workbook, f: &Formats, d: &ReportData<'_>) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name("表头变化")?;
    headers(
        ws,
        f,
        0,
        &["县(市、区)", "模板", "本次报送", "上次报送", "变化"],
    )?;
    let mut row = 1u32;
    for dr in &d.drift {
        for c in &dr.changes {
            let title = d
                .pipeline
                .source(&dr.template)
                .map(|s| format!("{} {}", dr.template, s.title))
                .unwrap_or_else(|| dr.template.clone());
            text(ws, f, row, 0, &dr.county)?;
            text(ws, f, row, 1, &title)?;
            text(
                ws,
                f,
                row,
                2,
                &format!("{}（{}）", dr.latest.period, dr.latest.path),
            )?;
            text(
                ws,
                f,
                row,
                3,
                &format!("{}（{}）", dr.previous.period, dr.previous.path),
            )?;
            ws.write_string_with_format(row, 4, c.line(Lang::Zh), &f.wrap)?;
            row += 1;
        }
    }
    if row == 1 {
        text(
            ws,
            f,
            1,
            0,
            &format!(
                "各县各模板最近一次报送的表头与上一次相同（比较 {} 组）。",
                d.drift.len()
            ),
        )?;
    }
    for (c, w) in [(0u16, 12.0), (1, 26.0), (2, 36.0), (3, 36.0), (4, 60.0)] {
        ws.set_column_width(c, w)?;
    }
    print_setup(ws, d, 1)?;
    Ok(())
}

/// What the report says in place of the township and village tables of a
/// lake of several areas.
pub(crate) const FINE_ROWS_ZH: &str = "本报表数据跨多个省份，乡镇和村级数字（含村排名）不列入报表，见 indicators/indicators.parquet（可用 zhenxing query 查询）。";
pub(crate) const FINE_ROWS_EN: &str = "This lake spans several provinces: township and village figures (and village ranks) are not printed; they are in indicators/indicators.parquet (zhenxing query).";

/// Print setup for a sheet a report writer prints: A4 landscape, one page
/// wide, the header rows repeated on every page, run id and page numbers
/// in the footer.
fn print_setup(ws: &mut Worksheet, d: &ReportData<'_>, header_rows: u32) -> Result<(), XlsxError> {
    ws.set_paper_size(9);
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    ws.set_print_center_horizontally(true);
    if header_rows > 0 {
        ws.set_repeat_rows(0, header_rows - 1)?;
    }
    // `&` starts a control code in Excel's header and footer text
    let run = d.lake_version.replace('&', "&&");
    ws.set_footer(format!("&L数据版本 {run}&R第 &P 页，共 &N 页"));
    Ok(())
}

/// `主要指标`: the table a report writer pastes, laid out as the HTML
/// county table — every indicator without a breakdown down the side, 全市
/// and each county across, with the unit and the period each row used.
fn headline_sheet(wb: &mut Workbook, f: &Formats, d: &ReportData<'_>) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name("主要指标")?;
    let counties: Vec<(&str, &str)> = {
        let mut m: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
        for r in d.rows.iter().filter(|r| r.level == Level::County) {
            m.insert(r.geo_code.as_str(), r.geo_name.as_str());
        }
        m.into_iter().collect()
    };
    let mut head: Vec<String> = vec!["指标".into(), "单位".into(), "统计期".into(), "全市".into()];
    head.extend(counties.iter().map(|c| c.1.to_string()));
    let width = head.len() as u16;
    let title = format!("{} {} 乡村振兴主要指标", d.pipeline.city, d.period);
    ws.merge_range(0, 0, 0, width - 1, &title, &f.title)?;
    let names: Vec<&str> = head.iter().map(String::as_str).collect();
    header_row(ws, 1, &names, &f.header)?;
    ws.set_freeze_panes(2, 1)?;
    let mut row = 2u32;
    for (i, ind) in d.defs.indicators.iter().enumerate() {
        let rows: Vec<_> = d
            .rows_of(i, &[Level::City, Level::County])
            .into_iter()
            .filter(|r| r.category.is_none())
            .collect();
        let Some(city) = rows.iter().find(|r| r.level == Level::City) else {
            continue;
        };
        let nf = num_format(&ind.def.unit);
        text(ws, f, row, 0, &ind.def.name_zh)?;
        text(ws, f, row, 1, &ind.def.unit)?;
        text(ws, f, row, 2, &city.period_used)?;
        number(ws, row, 3, city.value, &nf)?;
        for (k, (code, _)) in counties.iter().enumerate() {
            let v = rows
                .iter()
                .find(|r| r.level == Level::County && r.geo_code == *code)
                .and_then(|r| r.value);
            match v {
                Some(_) => number(ws, row, 4 + k as u16, v, &nf)?,
                None => text(ws, f, row, 4 + k as u16, "—")?,
            }
        }
        row += 1;
    }
    text(
        ws,
        f,
        row + 1,
        0,
        &format!(
            "数据截至 {}，数据版本 {}；各指标口径、分子分母见“说明”及各专题工作表。",
            d.data_as_of, d.lake_version
        ),
    )?;
    ws.set_column_width(0, 34)?;
    ws.set_column_width(1, 8)?;
    ws.set_column_width(2, 16)?;
    for c in 3..width {
        ws.set_column_width(c, 11)?;
    }
    print_setup(ws, d, 2)?;
    Ok(())
}

/// One sheet of figures in long form: the rows of the indicators `pick`
/// takes at `levels` (only rows without a category unless `categories`).
fn figure_sheet(
    wb: &mut Workbook,
    f: &Formats,
    d: &ReportData<'_>,
    name: &str,
    pick: &dyn Fn(&Indicator) -> bool,
    levels: &[Level],
    categories: bool,
) -> Result<(), XlsxError> {
    // a nation's county tables are hundreds of thousands of rows: written
    // out row by row instead of held
    let ws = if d.fine_rows_elsewhere {
        wb.add_worksheet_with_constant_memory()?
    } else {
        wb.add_worksheet()
    };
    ws.set_name(name)?;
    for (c, w) in [30, 12, 10, 10, 14, 14, 12, 8, 18, 14, 9, 9, 28]
        .iter()
        .enumerate()
    {
        ws.set_column_width(c as u16, *w)?;
    }
    headers(ws, f, 0, &FAMILY_HEADERS)?;
    let mut row = 1u32;
    for (i, ind) in d.defs.indicators.iter().enumerate() {
        if !pick(ind) {
            continue;
        }
        let nf = num_format(&ind.def.unit);
        let yuan = super::numerator_in_yuan(ind);
        for r in d.rows_of(i, levels) {
            if r.category.is_some() && !categories {
                continue;
            }
            text(ws, f, row, 0, &ind.def.name_zh)?;
            text(ws, f, row, 1, r.category.as_deref().unwrap_or(""))?;
            text(ws, f, row, 2, &r.period_used)?;
            text(ws, f, row, 3, level_zh(r.level))?;
            text(ws, f, row, 4, &r.geo_code)?;
            text(ws, f, row, 5, &r.geo_name)?;
            number(ws, row, 6, r.value, &nf)?;
            text(ws, f, row, 7, &ind.def.unit)?;
            if let Some(v) = r.numerator {
                number(ws, row, 8, Some(v), f.raw(v, yuan))?;
            }
            if let Some(v) = r.denominator {
                number(ws, row, 9, Some(v), f.raw(v, false))?;
            }
            ws.write_number_with_format(row, 10, r.villages_reporting as f64, &f.count)?;
            ws.write_number_with_format(row, 11, r.villages_registry as f64, &f.count)?;
            text(ws, f, row, 12, &ind.def.id)?;
            row += 1;
        }
    }
    print_setup(ws, d, 1)?;
    Ok(())
}

/// The Chinese name of an estimator id (the id is shown beside it).
pub(crate) fn estimator_zh(e: &str) -> &'static str {
    match e {
        "before_after_mean" => "成员加入前后变化（均值）",
        "before_after_median" => "成员加入前后变化（中位数）",
        "before_after_share_rose" => "收入增加的成员户占比",
        "twfe_did" => "双重差分（双向固定效应）",
        "event_study" => "事件研究（距加入年数）",
        "cs_att_gt" => "Callaway–Sant'Anna 交错处理估计：组别-时期效应 ATT(g,t)",
        "cs_simple" => "Callaway–Sant'Anna 交错处理估计：总体效应（按组别规模加权）",
        "cs_group" => "Callaway–Sant'Anna 交错处理估计：按加入年份",
        "cs_group_overall" => "Callaway–Sant'Anna 交错处理估计：按加入年份汇总",
        "cs_event" => "Callaway–Sant'Anna 交错处理估计：按距加入年数（事件研究）",
        "cs_event_overall" => "Callaway–Sant'Anna 交错处理估计：事件研究总体效应（加入后各年平均）",
        "cs_calendar" => "Callaway–Sant'Anna 交错处理估计：按自然年",
        "cs_calendar_overall" => "Callaway–Sant'Anna 交错处理估计：按自然年汇总",
        _ => "",
    }
}

pub(crate) const EFFECT_HEADERS: [&str; 19] = [
    "范围",
    "地区代码",
    "地区",
    "结果变量",
    "单位",
    "估计方法",
    "方法编号",
    "加入年份",
    "年份",
    "距加入年数",
    "估计值",
    "标准误",
    "95%置信区间下限",
    "95%置信区间上限",
    "观测数",
    "农户数",
    "成员户数",
    "聚类数",
    "说明",
];

/// One row of the income-effects sheet.
fn effect_row(
    ws: &mut Worksheet,
    f: &Formats,
    nf: &Format,
    row: u32,
    e: &crate::analysis::effects::EffectRow,
) -> Result<(), XlsxError> {
    text(
        ws,
        f,
        row,
        0,
        if e.scope_level == "city" {
            "全市"
        } else {
            "县(市、区)"
        },
    )?;
    text(ws, f, row, 1, &e.scope_code)?;
    text(ws, f, row, 2, &e.scope_name)?;
    text(
        ws,
        f,
        row,
        3,
        if e.outcome == "income" {
            "家庭年纯收入"
        } else {
            "家庭年纯收入（对数×100）"
        },
    )?;
    text(ws, f, row, 4, e.unit)?;
    ws.write_string_with_format(row, 5, estimator_zh(e.estimator), &f.wrap)?;
    text(ws, f, row, 6, e.estimator)?;
    for (c, v) in [(7u16, e.group), (8, e.time), (9, e.event_time)] {
        if let Some(v) = v {
            ws.write_number(row, c, v as f64)?;
        }
    }
    for (c, v) in [
        (10u16, e.estimate),
        (11, e.se),
        (12, e.ci_low),
        (13, e.ci_high),
    ] {
        number(ws, row, c, v, nf)?;
    }
    for (c, v) in [
        (14u16, e.n_obs),
        (15, e.n_households),
        (16, e.n_treated),
        (17, e.n_clusters),
    ] {
        if let Some(v) = v {
            ws.write_number_with_format(row, c, v as f64, &f.count)?;
        }
    }
    let note = e.note.as_deref().unwrap_or("");
    if !note.is_empty() {
        ws.write_string_with_format(row, 18, note, &f.wrap)?;
    }
    Ok(())
}

fn effects_sheet(wb: &mut Workbook, f: &Formats, d: &ReportData<'_>) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name("收入效应")?;
    headers(ws, f, 0, &EFFECT_HEADERS)?;
    let nf = Format::new().set_num_format("#,##0.00");
    for (k, e) in d.effects.iter().enumerate() {
        effect_row(ws, f, &nf, k as u32 + 1, e)?;
    }
    // the method column wraps: a Chinese character is two widths wide
    for (c, w) in [
        (0u16, 10.0),
        (1, 10.0),
        (2, 10.0),
        (3, 22.0),
        (4, 8.0),
        (5, 36.0),
        (6, 16.0),
        (18, 40.0),
    ] {
        ws.set_column_width(c, w)?;
    }
    for c in 7..=17u16 {
        ws.set_column_width(c, if c <= 9 { 8.0 } else { 11.0 })?;
    }
    print_setup(ws, d, 1)?;
    Ok(())
}

fn ranks_sheet(wb: &mut Workbook, f: &Formats, d: &ReportData<'_>) -> Result<(), XlsxError> {
    let ranked: Vec<usize> = (0..d.defs.indicators.len())
        .filter(|&i| d.defs.indicators[i].def.village_rows)
        .collect();
    if ranked.is_empty() {
        return Ok(());
    }
    let counties: std::collections::BTreeMap<&str, &str> = d
        .rows
        .iter()
        .filter(|c| c.level == Level::County)
        .map(|c| (c.geo_code.as_str(), c.geo_name.as_str()))
        .collect();
    let ws = wb.add_worksheet();
    ws.set_name("村排名")?;
    headers(
        ws,
        f,
        0,
        &[
            "指标",
            "统计期",
            "县(市、区)",
            "村(社区)代码",
            "村(社区)",
            "数值",
            "县内排名",
            "未排名原因",
        ],
    )?;
    let mut row = 1u32;
    for i in ranked {
        let ind = &d.defs.indicators[i];
        let nf = num_format(&ind.def.unit);
        let mut rows = d.rows_of(i, &[Level::Village]);
        // ranked villages first, then those not ranked
        rows.sort_by(|a, b| {
            (&a.geo_code[..6], a.rank.is_none(), a.rank, &a.geo_code).cmp(&(
                &b.geo_code[..6],
                b.rank.is_none(),
                b.rank,
                &b.geo_code,
            ))
        });
        for r in rows {
            text(ws, f, row, 0, &ind.def.name_zh)?;
            text(ws, f, row, 1, &r.period_used)?;
            let county = counties.get(&r.geo_code[..6]).copied().unwrap_or("");
            text(ws, f, row, 2, county)?;
            text(ws, f, row, 3, &r.geo_code)?;
            text(ws, f, row, 4, &r.geo_name)?;
            number(ws, row, 5, r.value, &nf)?;
            if let Some(k) = r.rank {
                ws.write_number(row, 6, k as f64)?;
            }
            if let Some(n) = &r.note {
                text(ws, f, row, 7, n)?;
            }
            row += 1;
        }
    }
    ws.set_column_width(0, 24)?;
    ws.set_column_width(2, 12)?;
    ws.set_column_width(3, 16)?;
    ws.set_column_width(4, 14)?;
    ws.set_column_width(7, 40)?;
    print_setup(ws, d, 1)?;
    Ok(())
}

fn notes_sheet(wb: &mut Workbook, f: &Formats, d: &ReportData<'_>) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name("说明")?;
    ws.write_string_with_format(
        0,
        0,
        format!("{} {} 乡村振兴指标报表 · 说明", d.pipeline.city, d.period),
        &f.title,
    )?;
    let mut row = 2u32;
    for (zh, en, v) in facts(d) {
        ws.write_string_with_format(row, 0, zh, &f.header)?;
        text(ws, f, row, 1, &v)?;
        text(ws, f, row, 2, en)?;
        row += 1;
    }
    row = definitions_table(ws, f, d, row + 1)?;
    files_table(ws, f, d, row + 1)?;
    for (c, w) in [30, 24, 30, 10, 40, 48, 20, 14, 18].iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    print_setup(ws, d, 0)?;
    Ok(())
}

/// What the figures rest on: the data's date, the lake version, the
/// period, the definitions, the tool, and the rows and files not used.
fn facts(d: &ReportData<'_>) -> [(&'static str, &'static str, String); 8] {
    let in_lake = || {
        d.files
            .iter()
            .filter(|x| x.status != crate::lake::FileStatus::Superseded)
    };
    let rejected: usize = in_lake().map(|x| x.counts.rejected).sum();
    let failed = in_lake()
        .filter(|x| x.status == crate::lake::FileStatus::Failed)
        .count();
    let warnings: usize = in_lake().map(|x| x.warnings).sum();
    [
        (
            "数据截至（湖版本生成时间）",
            "Data as of (lake version created)",
            d.data_as_of.clone(),
        ),
        (
            "湖版本（run id）",
            "Lake version (run id)",
            d.lake_version.clone(),
        ),
        ("报表统计期", "Report period", d.period.clone()),
        (
            "指标定义文件",
            "Indicator definitions",
            d.defs.path.display().to_string(),
        ),
        (
            "生成工具",
            "Made by",
            format!("zhenxing {}", env!("CARGO_PKG_VERSION")),
        ),
        (
            "拒收行数（表 rejects）",
            "Rejected rows (table rejects)",
            super::group(rejected as f64, 0),
        ),
        (
            "无法使用的文件",
            "Unusable files",
            super::group(failed as f64, 0),
        ),
        (
            "警告（表 warnings，数据已保留）",
            "Warnings (table warnings; rows kept)",
            super::group(warnings as f64, 0),
        ),
    ]
}

/// Every indicator's definition from `row`: the row after the table.
fn definitions_table(
    ws: &mut Worksheet,
    f: &Formats,
    d: &ReportData<'_>,
    mut row: u32,
) -> Result<u32, XlsxError> {
    ws.write_string_with_format(row, 0, "指标定义 Indicator definitions", &f.title)?;
    row += 1;
    let h = [
        "指标编号 id",
        "指标名称",
        "Name",
        "单位 unit",
        "口径说明",
        "Definition",
        "计算方式 aggregate",
        "采用统计期 period used",
        "定义哈希 hash",
    ];
    header_row(ws, row, &h, &f.header)?;
    row += 1;
    for (i, ind) in d.defs.indicators.iter().enumerate() {
        text(ws, f, row, 0, &ind.def.id)?;
        ws.write_string_with_format(row, 1, &ind.def.name_zh, &f.wrap)?;
        ws.write_string_with_format(row, 2, &ind.def.name_en, &f.wrap)?;
        text(ws, f, row, 3, &ind.def.unit)?;
        ws.write_string_with_format(row, 4, &ind.description_zh, &f.wrap)?;
        ws.write_string_with_format(row, 5, &ind.description, &f.wrap)?;
        ws.write_string_with_format(row, 6, ind.def.aggregate.describe(), &f.wrap)?;
        let used = d.chosen.get(&i).map_or("无数据", String::as_str);
        text(ws, f, row, 7, used)?;
        text(ws, f, row, 8, &ind.hash)?;
        row += 1;
    }
    Ok(row)
}

/// Every input file with its rows and status, from `row`.
fn files_table(
    ws: &mut Worksheet,
    f: &Formats,
    d: &ReportData<'_>,
    mut row: u32,
) -> Result<(), XlsxError> {
    ws.write_string_with_format(row, 0, "输入文件 Input files", &f.title)?;
    row += 1;
    let h = [
        "文件 file",
        "模板 template",
        "县(市、区) county",
        "统计期 period",
        "接收行数 accepted",
        "拒收行数 rejected",
        "警告 warnings",
        "状态 status",
        "SHA-256",
    ];
    header_row(ws, row, &h, &f.header)?;
    row += 1;
    for file in d.files {
        // a county's file name is input: written as text, never a formula
        text(ws, f, row, 0, &file.path)?;
        text(ws, f, row, 1, file.template.as_deref().unwrap_or(""))?;
        text(ws, f, row, 2, file.county.as_deref().unwrap_or(""))?;
        text(ws, f, row, 3, file.period.as_deref().unwrap_or(""))?;
        ws.write_number_with_format(row, 4, file.counts.accepted as f64, &f.count)?;
        ws.write_number_with_format(row, 5, file.counts.rejected as f64, &f.count)?;
        ws.write_number_with_format(row, 6, file.warnings as f64, &f.count)?;
        let status = match file.status {
            crate::lake::FileStatus::Current => "在用 current",
            crate::lake::FileStatus::Superseded => "已被更正 superseded",
            crate::lake::FileStatus::Failed => "无法使用 failed",
        };
        text(ws, f, row, 7, status)?;
        text(ws, f, row, 8, &file.sha256)?;
        row += 1;
    }
    Ok(())
}

/// Writes the report workbook to `path`.
pub fn write(d: &ReportData<'_>, path: &Path) -> Result<(), ReportError> {
    let err = |e: XlsxError| ReportError::Write {
        path: path.to_path_buf(),
        source: e.into(),
    };
    let mut wb = build(d).map_err(err)?;
    let bytes = wb.save_to_buffer().map_err(err)?;
    super::write_atomic(path, &bytes)
}
