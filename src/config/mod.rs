//! Pipeline and source definitions (`pipelines/*.toml`).
//!
//! A city pipeline file names the inbox, the output folder, the village
//! registry and the source definitions; each source definition describes one
//! reporting template: its dataset, fields with official header and accepted
//! variants, types, units, ranges, keys, PII marks, cross-field checks and
//! how a file is recognised. Every struct refuses unknown keys, and
//! [`load`] collects every problem in every file, each with file and line,
//! before it gives up, so a user fixes all mistakes in one pass.

use std::collections::HashMap;
use std::path::PathBuf;

use regex::Regex;
use serde::Deserialize;

use crate::text::Unit;

mod load;
mod raw;
mod sections;

pub use load::{load, ConfigErrors, ConfigProblem};
pub(crate) use raw::*;
pub use sections::*;

/// Excel's last row and column: what a sheet can hold.
pub const EXCEL_ROWS: usize = 1_048_576;
/// Excel's last column.
pub const EXCEL_COLS: usize = 16_384;

/// How often a template is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    /// Every month.
    Monthly,
    /// Every quarter.
    Quarterly,
    /// Every year.
    Yearly,
    /// A register that is resubmitted when it changes.
    Roster,
}

/// The type a field's cells are read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Free text, trimmed.
    Text,
    /// A name (county, township, village, person): all inner spaces removed.
    Name,
    /// A whole number.
    Int,
    /// A number.
    Number,
    /// Money, stored in yuan.
    Money,
    /// A percentage 0–100.
    Percent,
    /// Yes or no, in the pipeline's words (是/否, √/×, 达标/不达标, …).
    Bool,
    /// A date (text in any common shape, or an Excel date).
    Date,
    /// A reporting month, stored as the first day of the month.
    Month,
    /// A year.
    Year,
    /// 一级…五级, 1–18档: stored as an integer.
    Level,
    /// A 12-digit statistical division code.
    Code,
    /// `;`-separated list of names, stored as text joined with `;`.
    List,
    /// One of `values`.
    Enum,
}

impl FieldType {
    pub(crate) fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Int
                | FieldType::Number
                | FieldType::Money
                | FieldType::Percent
                | FieldType::Level
        )
    }
}

/// Where a value may come from when the sheet has no column for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Context {
    /// The county of the file's folder or name.
    County,
    /// The township of the sheet (one sheet per township).
    Township,
    /// The year of the file's name or title.
    Year,
    /// The period (year and month) of the file's name or title, as its first day.
    Period,
}

/// How a field may move from one period to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Monotone {
    /// Never below the previous period's value.
    Grows,
    /// Never different from it.
    Fixed,
}

/// Which personal data a `pii` field holds (it is pseudonymised in the lake).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// A person's name.
    Name,
    /// A resident ID number (GB 11643).
    IdNumber,
    /// A phone number.
    Phone,
}

/// A checked source definition, ready for the engine.
#[derive(Debug, Clone)]
pub struct Source {
    /// The template id (`T07`).
    pub id: String,
    /// The lake dataset its rows go to (`villages` for the registry).
    pub dataset: String,
    /// The Chinese title of the form.
    pub title: String,
    /// The English title.
    pub title_en: String,
    /// How often it is reported.
    pub frequency: Frequency,
    /// What one row is: `village`, `household`, `person`, …
    pub grain: String,
    /// The definition file it was loaded from.
    pub path: PathBuf,
    /// File name patterns that name this template.
    pub filename: Vec<Regex>,
    /// The fields (by index) that identify a row within a file.
    pub keys: Vec<usize>,
    /// Whether rows name a village that must be in the registry.
    pub match_village: bool,
    /// The columns, in the form's order.
    pub fields: Vec<Field>,
    /// Rules across fields.
    pub checks: Vec<Check>,
    /// normalised header text → field index
    pub header_index: HashMap<String, usize>,
}

/// One column of a template: its header, its type and its rules.
#[derive(Debug, Clone)]
pub struct Field {
    /// The column's name in the lake (snake_case).
    pub name: String,
    /// The official header of the form.
    pub header: String,
    /// Other headers counties write for it.
    pub variants: Vec<String>,
    /// The type its cells are read as.
    pub ty: FieldType,
    /// For money: the unit a cell is in when nothing states one.
    pub unit: Option<Unit>,
    /// A row without a value is rejected.
    pub required: bool,
    /// Below this the row is rejected.
    pub min: Option<f64>,
    /// Above this the row is rejected.
    pub max: Option<f64>,
    /// Outside this range: kept, with a warning.
    pub warn: (Option<f64>, Option<f64>),
    /// Non-zero and outside this range: rejected as implausible.
    pub plausible: (Option<f64>, Option<f64>),
    /// Against the previous period: warned below ×min or above ×max.
    pub change: (Option<f64>, Option<f64>),
    /// How the value may move from one period to the next.
    pub monotone: Option<Monotone>,
    /// For an enum: the values it takes.
    pub values: Vec<String>,
    /// Personal data: pseudonymised in the lake, masked in messages.
    pub pii: Option<PiiKind>,
    /// Where the value comes from when the sheet has no column for it.
    pub context: Option<Context>,
    /// Summed by totals rows (合计), whose stated sums are checked.
    pub total: bool,
    /// One column per period (a month's value in each), each kept for its own record.
    pub spread: bool,
    /// What the field means, for the data dictionary.
    pub description: Option<String>,
}

/// A rule across two fields of a row.
#[derive(Debug, Clone)]
pub enum Check {
    /// `left ≤ right` (field indexes), e.g. 网格党支部 ≤ 网格数.
    Le {
        /// The field that must not be greater.
        left: usize,
        /// The field it must not exceed.
        right: usize,
    },
    /// `field` must be filled when the yes/no field `when` is yes.
    RequiredIf {
        /// The field that must be filled.
        field: usize,
        /// The yes/no field that requires it.
        when: usize,
    },
}

impl Source {
    /// The index of the field with this name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The version of what a form of this template looks like: the first
    /// 12 hex digits of the SHA-256 of the template id and every field's
    /// name, official header, type and unit (a comment or a new variant in
    /// the definition file does not change it; a renamed header does).
    pub fn definition_version(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(self.id.as_bytes());
        for f in &self.fields {
            let unit = f.unit.map(|u| u.label()).unwrap_or("");
            h.update(format!("\n{}\t{}\t{:?}\t{unit}", f.name, f.header, f.ty).as_bytes());
        }
        hex::encode(&h.finalize()[..6])
    }
}

/// The whole checked configuration.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The pipeline file.
    pub path: PathBuf,
    /// The pipeline's name.
    pub name: String,
    /// The city whose counties report (the top of every table).
    pub city: String,
    /// The county inbox.
    pub inbox: PathBuf,
    /// The output folder (lake, indicators, reports, runs).
    pub out: PathBuf,
    /// The village registry file (T00).
    pub registry: PathBuf,
    /// Indicator definitions file (see [`crate::analysis::indicators`]).
    pub indicators: PathBuf,
    /// Reading limits and reader isolation.
    pub limits: LimitsSection,
    /// The words for yes and no.
    pub yes_no: YesNo,
    /// Which sheets are skipped.
    pub sheets: SheetsSection,
    /// Tolerances of totals rows.
    pub totals: TotalsSection,
    /// Lake settings: keep, format, due days, lock.
    pub lake: LakeSection,
    /// Where the pseudonym key comes from.
    pub privacy: PrivacySection,
    /// Where OpenLineage events go.
    pub lineage: LineageSection,
    /// The templates.
    pub sources: Vec<Source>,
    /// Hash of every definition file's bytes, in order.
    pub hash: String,
}

impl Pipeline {
    /// The template with this id.
    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }

    /// The registry's template (dataset `villages`).
    pub fn registry_source(&self) -> Option<&Source> {
        self.sources.iter().find(|s| s.dataset == "villages")
    }
}
