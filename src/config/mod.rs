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
pub use raw::*;
pub use sections::*;

/// Excel's last row and column: what a sheet can hold.
pub const EXCEL_ROWS: usize = 1_048_576;
pub const EXCEL_COLS: usize = 16_384;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Monthly,
    Quarterly,
    Yearly,
    /// A register that is resubmitted when it changes.
    Roster,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Free text, trimmed.
    Text,
    /// A name (county, township, village, person): all inner spaces removed.
    Name,
    Int,
    Number,
    /// Money, stored in yuan.
    Money,
    /// A percentage 0–100.
    Percent,
    Bool,
    Date,
    /// A reporting month, stored as the first day of the month.
    Month,
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
    pub fn is_numeric(self) -> bool {
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
    County,
    Township,
    Year,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Name,
    IdNumber,
    Phone,
}

/// A checked source definition, ready for the engine.
#[derive(Debug, Clone)]
pub struct Source {
    pub id: String,
    pub dataset: String,
    pub title: String,
    pub title_en: String,
    pub frequency: Frequency,
    pub grain: String,
    pub path: PathBuf,
    pub filename: Vec<Regex>,
    pub keys: Vec<usize>,
    pub match_village: bool,
    pub fields: Vec<Field>,
    pub checks: Vec<Check>,
    /// normalised header text → field index
    pub header_index: HashMap<String, usize>,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub header: String,
    pub variants: Vec<String>,
    pub ty: FieldType,
    pub unit: Option<Unit>,
    pub required: bool,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Outside this range: kept, with a warning.
    pub warn: (Option<f64>, Option<f64>),
    /// Non-zero and outside this range: rejected as implausible.
    pub plausible: (Option<f64>, Option<f64>),
    /// Against the previous period: warned below ×min or above ×max.
    pub change: (Option<f64>, Option<f64>),
    pub monotone: Option<Monotone>,
    pub values: Vec<String>,
    pub pii: Option<PiiKind>,
    pub context: Option<Context>,
    pub total: bool,
    pub spread: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Check {
    Le { left: usize, right: usize },
    RequiredIf { field: usize, when: usize },
}

impl Source {
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
    pub path: PathBuf,
    pub name: String,
    pub city: String,
    pub inbox: PathBuf,
    pub out: PathBuf,
    pub registry: PathBuf,
    /// Indicator definitions file (see [`crate::analysis::indicators`]).
    pub indicators: PathBuf,
    pub limits: LimitsSection,
    pub yes_no: YesNo,
    pub sheets: SheetsSection,
    pub totals: TotalsSection,
    pub lake: LakeSection,
    pub privacy: PrivacySection,
    pub lineage: LineageSection,
    pub sources: Vec<Source>,
    /// Hash of every definition file's bytes, in order.
    pub hash: String,
}

impl Pipeline {
    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }

    pub fn registry_source(&self) -> Option<&Source> {
        self.sources.iter().find(|s| s.dataset == "villages")
    }
}
