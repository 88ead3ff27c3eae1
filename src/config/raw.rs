//! The TOML files as written: a pipeline file and a source definition,
//! each struct refusing unknown keys, with spans for line numbers.

use serde::Deserialize;
use toml::Spanned;

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PipelineFile {
    pub pipeline: PipelineSection,
    #[serde(default)]
    pub limits: LimitsSection,
    #[serde(default)]
    pub vocabulary: VocabularySection,
    #[serde(default)]
    pub sheets: SheetsSection,
    #[serde(default)]
    pub totals: TotalsSection,
    #[serde(default)]
    pub lake: LakeSection,
    #[serde(default)]
    pub privacy: PrivacySection,
    #[serde(default)]
    pub lineage: LineageSection,
    /// Field definitions shared by several templates (county, township,
    /// village, code), named by a source's `common` list.
    #[serde(default)]
    pub common_fields: Vec<Spanned<FieldDef>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PipelineSection {
    pub name: String,
    /// The city whose counties report, e.g. 南通市.
    pub city: String,
    /// Inbox folder, relative to the working directory.
    pub inbox: String,
    /// Output folder, relative to the working directory.
    pub out: String,
    /// The village registry (template T00), relative to the working directory.
    pub registry: String,
    /// Source definition files, relative to this pipeline file.
    pub sources: Vec<Spanned<String>>,
    /// Indicator definitions, relative to this pipeline file.
    #[serde(default = "default_indicators")]
    pub indicators: String,
}

fn default_indicators() -> String {
    "indicators.toml".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourceFile {
    /// Template id, T00…T12.
    pub id: String,
    /// Canonical dataset name in the lake.
    pub dataset: String,
    /// Official Chinese title of the template.
    pub title: String,
    pub title_en: String,
    pub frequency: Frequency,
    /// What one row is, in words.
    pub grain: String,
    /// Regular expressions on the file name that mark this template.
    #[serde(default)]
    pub filename: Vec<String>,
    /// Columns that identify a row within one file and period.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Rows name a village that must be found in the registry.
    #[serde(default)]
    pub match_village: bool,
    /// Shared fields from the pipeline file's `common_fields`, placed first.
    #[serde(default)]
    pub common: Vec<Spanned<String>>,
    pub fields: Vec<Spanned<FieldDef>>,
    #[serde(default)]
    pub checks: Vec<Spanned<CheckDef>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FieldDef {
    /// Canonical column name.
    pub name: String,
    /// Official header text.
    pub header: String,
    /// Header texts counties use instead.
    #[serde(default)]
    pub variants: Vec<String>,
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// Unit of the official template (money: 元 or 万元).
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// A value outside `warn_min`..`warn_max` is kept with a warning
    /// (W_UNUSUAL): real but worth a look, like a negative household income.
    #[serde(default)]
    pub warn_min: Option<f64>,
    #[serde(default)]
    pub warn_max: Option<f64>,
    /// A non-zero value outside `plausible_min`..`plausible_max` (money in
    /// yuan, after the unit) is rejected as implausible (E_IMPLAUSIBLE):
    /// usually a unit mistake, 元 typed where the template says 万元.
    #[serde(default)]
    pub plausible_min: Option<f64>,
    #[serde(default)]
    pub plausible_max: Option<f64>,
    /// Against the same unit's previous period (same keys, the nearest
    /// earlier period): a value more than `change_max` times or less than
    /// `change_min` times the previous one is kept with a warning
    /// (W_CHANGE): operating income ×10 in a year is worth a call.
    #[serde(default)]
    pub change_max: Option<f64>,
    #[serde(default)]
    pub change_min: Option<f64>,
    /// `grows`: never less than the previous period's value (cumulative
    /// counts, W_DECREASE); `fixed`: never different from it (a founding
    /// date, W_MOVED).
    #[serde(default)]
    pub monotone: Option<crate::config::Monotone>,
    /// Allowed values for `enum`.
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub pii: Option<PiiKind>,
    #[serde(default)]
    pub context: Option<Context>,
    /// Include in the totals-row check (default: counts and money).
    #[serde(default)]
    pub total: Option<bool>,
    /// Several columns may carry this field (帮扶村1/2/3); each non-empty
    /// one becomes its own record.
    #[serde(default)]
    pub spread: bool,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CheckRule {
    /// left ≤ right
    Le,
    /// `field` must be given when the boolean `when` is true.
    RequiredIf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckDef {
    pub rule: CheckRule,
    #[serde(default)]
    pub left: Option<String>,
    #[serde(default)]
    pub right: Option<String>,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub when: Option<String>,
}
