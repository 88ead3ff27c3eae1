//! How each county writes its files: format, encoding, header spellings,
//! units, yes/no words, date styles, title, sign-off and totals rows.

/// How large an inbox `synth` writes.
#[derive(Debug, Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum Scale {
    City,
    Province,
    National,
}
use write::FileKind;

use super::*;

/// How one county writes its files.
#[derive(Debug, Clone)]
pub struct Profile {
    pub kind: FileKind,
    /// 0: official headers; k: the k-th accepted variant where there is one.
    pub variant: usize,
    pub title: bool,
    pub unit_row: bool,
    pub signoff: bool,
    /// 1, 2 or 3 header rows (2 and 3 use merged group headers).
    pub header_rows: usize,
    pub totals: Totals,
    pub township_sheets: bool,
    pub extra_sheets: bool,
    pub omit_county: bool,
    pub omit_code: bool,
    pub omit_period: bool,
    /// Money written in 元 with a `（元）` header, whatever the template's unit.
    pub money_in_yuan: bool,
    /// Money written with its unit inside the cell (`35.12万元`).
    pub cell_units: bool,
    pub thousands: bool,
    pub fullwidth: bool,
    pub yes_no: (&'static str, &'static str),
    pub date_style: u8,
    pub month_style: u8,
    pub pct_fraction: bool,
    pub stray_spaces: bool,
    pub aliases: bool,
    pub placeholders: bool,
    pub extra_column: bool,
    pub reverse_columns: bool,
    pub level_words: bool,
    pub wide_stations: bool,
    /// Some files carry no template name in their file name.
    pub anonymous_names: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Totals {
    None,
    Total,
    SubAndTotal,
}

/// The seven ways of the seven Nantong counties; other counties cycle through them.
pub fn profiles() -> Vec<Profile> {
    let base = Profile {
        kind: FileKind::Xlsx,
        variant: 0,
        title: true,
        unit_row: false,
        signoff: false,
        header_rows: 1,
        totals: Totals::Total,
        township_sheets: false,
        extra_sheets: false,
        omit_county: false,
        omit_code: false,
        omit_period: false,
        money_in_yuan: false,
        cell_units: false,
        thousands: false,
        fullwidth: false,
        yes_no: ("是", "否"),
        date_style: 0,
        month_style: 0,
        pct_fraction: false,
        stray_spaces: false,
        aliases: false,
        placeholders: false,
        extra_column: false,
        reverse_columns: false,
        level_words: false,
        wide_stations: false,
        anonymous_names: false,
    };
    vec![
        // 崇川区: the official template, title, unit note, sign-off, 合计
        Profile {
            unit_row: true,
            signoff: true,
            ..base.clone()
        },
        // 通州区: two-row merged headers, 小计 per township, thousands separators, √/×
        Profile {
            variant: 1,
            header_rows: 2,
            totals: Totals::SubAndTotal,
            thousands: true,
            yes_no: ("√", "×"),
            date_style: 1,
            wide_stations: true,
            ..base.clone()
        },
        // 海门区: GB18030 CSV exports, money in 元, no codes
        Profile {
            kind: FileKind::CsvGb18030,
            variant: 2,
            omit_code: true,
            money_in_yuan: true,
            yes_no: ("1", "0"),
            date_style: 3,
            month_style: 1,
            ..base.clone()
        },
        // 如皋市: one sheet per township, a hidden and an instruction sheet, full-width digits
        Profile {
            variant: 3,
            unit_row: true,
            township_sheets: true,
            extra_sheets: true,
            omit_period: true,
            fullwidth: true,
            date_style: 2,
            month_style: 2,
            level_words: true,
            ..base.clone()
        },
        // 海安市: ODS, fractions for percentages, units inside cells, dates as 2024.03
        Profile {
            kind: FileKind::Ods,
            variant: 1,
            totals: Totals::None,
            omit_code: true,
            omit_period: true,
            cell_units: true,
            pct_fraction: true,
            month_style: 3,
            date_style: 1,
            anonymous_names: true,
            ..base.clone()
        },
        // 启东市: UTF-8 CSV with BOM, no title, extra column, stray spaces, old names, placeholders
        Profile {
            kind: FileKind::CsvBom,
            variant: 2,
            title: false,
            omit_county: true,
            omit_code: true,
            stray_spaces: true,
            aliases: true,
            placeholders: true,
            extra_column: true,
            reverse_columns: true,
            date_style: 1,
            month_style: 1,
            ..base.clone()
        },
        // 如东县: 1904 date system, three-row headers, sign-off, wide station rows
        Profile {
            kind: FileKind::Xlsx1904,
            variant: 3,
            signoff: true,
            header_rows: 3,
            wide_stations: true,
            level_words: true,
            ..base
        },
    ]
}
