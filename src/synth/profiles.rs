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
    /// The file format.
    pub kind: FileKind,
    /// 0: official headers; k: the k-th accepted variant where there is one.
    pub variant: usize,
    /// A title row above the header.
    pub title: bool,
    /// A unit row (`单位：万元`).
    pub unit_row: bool,
    /// Sign-off rows below the data (填报人, 联系电话).
    pub signoff: bool,
    /// 1, 2 or 3 header rows (2 and 3 use merged group headers).
    pub header_rows: usize,
    /// Totals rows.
    pub totals: Totals,
    /// One sheet per township.
    pub township_sheets: bool,
    /// Hidden and instruction sheets besides the data.
    pub extra_sheets: bool,
    /// No county column (the folder says it).
    pub omit_county: bool,
    /// No village code column.
    pub omit_code: bool,
    /// No period column (the file name says it).
    pub omit_period: bool,
    /// Money written in 元 with a `（元）` header, whatever the template's unit.
    pub money_in_yuan: bool,
    /// Money written with its unit inside the cell (`35.12万元`).
    pub cell_units: bool,
    /// Numbers with thousands separators.
    pub thousands: bool,
    /// Full-width digits.
    pub fullwidth: bool,
    /// The county's words for yes and no.
    pub yes_no: (&'static str, &'static str),
    /// Which way dates are written.
    pub date_style: u8,
    /// Which way months are written.
    pub month_style: u8,
    /// Percentages as fractions (0.98).
    pub pct_fraction: bool,
    /// Spaces inside names.
    pub stray_spaces: bool,
    /// Villages written by former names.
    pub aliases: bool,
    /// Placeholders for empty cells (—, /, 无).
    pub placeholders: bool,
    /// A column no template reads.
    pub extra_column: bool,
    /// The columns in reverse order.
    pub reverse_columns: bool,
    /// Levels as words (一级).
    pub level_words: bool,
    /// Stations with three villages on one row.
    pub wide_stations: bool,
    /// Some files carry no template name in their file name.
    pub anonymous_names: bool,
}

/// Which totals rows a county writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Totals {
    /// None.
    None,
    /// One 合计 row.
    Total,
    /// 小计 per township and a 合计.
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
