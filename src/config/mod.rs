//! Pipeline and source definitions (`pipelines/*.toml`).
//!
//! A city pipeline file names the inbox, the output folder, the village
//! registry and the source definitions; each source definition describes one
//! reporting template: its dataset, fields with official header and accepted
//! variants, types, units, ranges, keys, PII marks, cross-field checks and
//! how a file is recognised. Every struct refuses unknown keys, and
//! [`load`] collects every problem in every file, each with file and line,
//! before it gives up, so a user fixes all mistakes in one pass.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use crate::text::{normalise_header, Unit};

/// Yes/no vocabulary, configurable per pipeline.
#[derive(Debug, Clone)]
pub struct YesNo {
    pub yes: Vec<String>,
    pub no: Vec<String>,
}

impl Default for YesNo {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        YesNo {
            yes: v(&[
                "是", "√", "✓", "✔", "达标", "有", "1", "y", "yes", "true", "对", "已",
            ]),
            no: v(&[
                "否",
                "×",
                "✗",
                "✘",
                "不达标",
                "未达标",
                "没有",
                "0",
                "n",
                "no",
                "false",
                "未",
            ]),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
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
    /// Field definitions shared by several templates (county, township,
    /// village, code), named by a source's `common` list.
    #[serde(default)]
    pub common_fields: Vec<Spanned<FieldDef>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
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

/// Excel's last row and column: what a sheet can hold.
pub const EXCEL_ROWS: usize = 1_048_576;
pub const EXCEL_COLS: usize = 16_384;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Read each file in a separate worker process.
    pub isolate: bool,
    pub worker_memory_mb: u64,
    pub worker_timeout_s: u64,
    pub max_file_mb: u64,
    pub max_unzipped_mb: u64,
    pub max_declared_cells: u64,
    pub max_cells: u64,
    /// Rows and columns a sheet may have (Excel's own limits by default).
    pub max_rows: usize,
    pub max_columns: usize,
    /// Merged regions in a sheet's header area.
    pub max_merges: usize,
    /// One frame from the reader process to the parent.
    pub max_frame_mb: usize,
    /// Village names longer than this get no "did you mean" search.
    pub max_match_name_chars: usize,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            isolate: true,
            worker_memory_mb: 2048,
            worker_timeout_s: 120,
            max_file_mb: 256,
            max_unzipped_mb: 1024,
            max_declared_cells: 100_000_000,
            max_cells: 40_000_000,
            max_rows: EXCEL_ROWS,
            max_columns: EXCEL_COLS,
            max_merges: 10_000,
            max_frame_mb: 64,
            max_match_name_chars: 40,
        }
    }
}

/// How the lake is kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LakeSection {
    /// Published versions kept for `zhenxing rollback` (at least 1).
    pub keep_versions: usize,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// How long a run waits for another run's lock before giving up.
    pub lock_wait_s: u64,
    /// `status`: a period's report is due this many days after the period ends.
    pub due_days: i64,
}

impl Default for LakeSection {
    fn default() -> Self {
        LakeSection {
            keep_versions: 5,
            row_group_rows: 65_536,
            lock_wait_s: 0,
            due_days: 15,
        }
    }
}

/// Where the pseudonym key for personal data comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacySection {
    /// Environment variable with the key (64 hex digits); checked first.
    pub key_env: String,
    /// Key file, outside the output folder; `~` is the home folder.
    pub key_file: String,
}

impl Default for PrivacySection {
    fn default() -> Self {
        PrivacySection {
            key_env: "ZHENXING_KEY".into(),
            key_file: "~/.config/zhenxing/pseudonym.key".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VocabularySection {
    pub yes: Vec<String>,
    pub no: Vec<String>,
}

impl Default for VocabularySection {
    fn default() -> Self {
        let yn = YesNo::default();
        VocabularySection {
            yes: yn.yes,
            no: yn.no,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SheetsSection {
    /// A sheet whose name contains one of these is an instruction sheet.
    pub instructions: Vec<String>,
    /// Header texts that are never data and never reported as unknown.
    pub ignore_headers: Vec<String>,
    /// Rows whose first text starts with one of these are sign-off rows.
    pub signoff: Vec<String>,
    /// Rows whose first text starts with one of these are notes.
    pub notes: Vec<String>,
}

impl Default for SheetsSection {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        SheetsSection {
            instructions: v(&["说明", "填表", "填报要求", "instructions", "readme"]),
            ignore_headers: v(&["序号", "备注", "说明"]),
            signoff: v(&[
                "填报人",
                "填表人",
                "审核人",
                "负责人",
                "制表人",
                "填报日期",
                "填表日期",
                "联系电话",
                "单位负责人",
                "统计人",
            ]),
            notes: v(&["注:", "注：", "说明:", "说明：", "备注:", "备注："]),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TotalsSection {
    /// Row labels that mark a totals row (after whitespace is removed).
    pub labels: Vec<String>,
    /// Labels that mark a per-township subtotal.
    pub subtotal_labels: Vec<String>,
    /// A total matches when |stated − computed| ≤ absolute + relative × |stated|.
    pub absolute: f64,
    pub relative: f64,
}

impl Default for TotalsSection {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        TotalsSection {
            labels: v(&[
                "合计",
                "总计",
                "全市合计",
                "全县合计",
                "全区合计",
                "全镇合计",
                "汇总",
                "总合计",
            ]),
            subtotal_labels: v(&["小计"]),
            absolute: 0.5,
            relative: 0.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Monthly,
    Quarterly,
    Yearly,
    /// A register that is resubmitted when it changes.
    Roster,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Name,
    IdNumber,
    Phone,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
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
pub enum CheckRule {
    /// left ≤ right
    Le,
    /// `field` must be given when the boolean `when` is true.
    RequiredIf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDef {
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

/// One problem in a definition file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file.display(), l, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// All problems found while loading, printed one per line.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} problem(s) in the pipeline definitions:",
            self.0.len()
        )?;
        for p in &self.0 {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

struct Collector {
    problems: Vec<ConfigProblem>,
}

impl Collector {
    fn add(&mut self, file: &Path, line: Option<usize>, message: impl Into<String>) {
        self.problems.push(ConfigProblem {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        });
    }
}

fn parse_toml<T: serde::de::DeserializeOwned>(
    path: &Path,
    c: &mut Collector,
) -> Option<(T, String)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            c.add(path, None, format!("cannot read: {e}"));
            return None;
        }
    };
    match toml::from_str::<T>(&text) {
        Ok(v) => Some((v, text)),
        Err(e) => {
            let line = e.span().map(|s| line_of(&text, s.start));
            c.add(path, line, e.message().to_string());
            None
        }
    }
}

/// Loads and checks a pipeline file and every source it names.
pub fn load(path: &Path) -> Result<Pipeline, ConfigErrors> {
    let mut c = Collector {
        problems: Vec::new(),
    };
    let Some((file, text)) = parse_toml::<PipelineFile>(path, &mut c) else {
        return Err(ConfigErrors(c.problems));
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut hasher_input: Vec<u8> = text.clone().into_bytes();
    let mut sources = Vec::new();
    let mut seen_ids: HashMap<String, PathBuf> = HashMap::new();
    let mut seen_datasets: HashMap<String, PathBuf> = HashMap::new();
    for rel in &file.pipeline.sources {
        let spath = dir.join(rel.get_ref());
        if !spath.is_file() {
            c.add(
                path,
                Some(line_of(&text, rel.span().start)),
                format!("source definition {} does not exist", spath.display()),
            );
            continue;
        }
        if let Some((sf, stext)) = parse_toml::<SourceFile>(&spath, &mut c) {
            hasher_input.extend_from_slice(stext.as_bytes());
            let common = Common {
                fields: &file.common_fields,
                path,
                text: &text,
            };
            if let Some(src) = check_source(sf, &stext, &spath, &common, &mut c) {
                if let Some(prev) = seen_ids.insert(src.id.clone(), spath.clone()) {
                    c.add(
                        &spath,
                        None,
                        format!(
                            "template id {} is also defined in {}",
                            src.id,
                            prev.display()
                        ),
                    );
                }
                if let Some(prev) = seen_datasets.insert(src.dataset.clone(), spath.clone()) {
                    c.add(
                        &spath,
                        None,
                        format!(
                            "dataset {} is also defined in {}",
                            src.dataset,
                            prev.display()
                        ),
                    );
                }
                sources.push(src);
            }
        }
    }
    let p = &file.pipeline;
    if !sources.iter().any(|s| s.dataset == "villages") && c.problems.is_empty() {
        c.add(
            path,
            None,
            "no source defines the village registry (dataset \"villages\")",
        );
    }
    if let Some(reg) = sources.iter().find(|s| s.dataset == "villages") {
        for need in ["village_code", "county", "township", "village"] {
            if reg.field_index(need).is_none() {
                c.add(
                    &reg.path,
                    None,
                    format!("the registry needs a field {need}"),
                );
            }
        }
    }
    if file.limits.worker_memory_mb < 64 {
        c.add(path, None, "limits.worker_memory_mb must be at least 64");
    }
    if file.limits.worker_timeout_s == 0 {
        c.add(path, None, "limits.worker_timeout_s must be at least 1");
    }
    if file.limits.max_rows == 0 || file.limits.max_rows > EXCEL_ROWS * 16 {
        c.add(path, None, "limits.max_rows must be between 1 and 16777216");
    }
    if file.limits.max_columns == 0 || file.limits.max_columns > EXCEL_COLS {
        c.add(path, None, "limits.max_columns must be between 1 and 16384");
    }
    if file.limits.max_frame_mb == 0 || file.limits.max_frame_mb > 1024 {
        c.add(path, None, "limits.max_frame_mb must be between 1 and 1024");
    }
    if file.totals.absolute < 0.0 || file.totals.relative < 0.0 {
        c.add(path, None, "totals tolerances must not be negative");
    }
    let yes: HashSet<String> = file
        .vocabulary
        .yes
        .iter()
        .map(|s| s.to_lowercase())
        .collect();
    for n in &file.vocabulary.no {
        if yes.contains(&n.to_lowercase()) {
            c.add(
                path,
                None,
                format!("vocabulary word {n:?} is both yes and no"),
            );
        }
    }
    if !c.problems.is_empty() {
        return Err(ConfigErrors(c.problems));
    }
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(&hasher_input));
    Ok(Pipeline {
        path: path.to_path_buf(),
        name: p.name.clone(),
        city: p.city.clone(),
        inbox: PathBuf::from(&p.inbox),
        out: PathBuf::from(&p.out),
        registry: PathBuf::from(&p.registry),
        indicators: dir.join(&p.indicators),
        limits: file.limits.clone(),
        yes_no: YesNo {
            yes: file.vocabulary.yes.clone(),
            no: file.vocabulary.no.clone(),
        },
        sheets: file.sheets.clone(),
        totals: file.totals.clone(),
        lake: LakeSection {
            keep_versions: file.lake.keep_versions.max(1),
            row_group_rows: file.lake.row_group_rows.max(1024),
            lock_wait_s: file.lake.lock_wait_s,
            due_days: file.lake.due_days.max(0),
        },
        privacy: file.privacy.clone(),
        sources,
        hash,
    })
}

/// The shared field definitions and where they are written.
struct Common<'a> {
    fields: &'a [Spanned<FieldDef>],
    path: &'a Path,
    text: &'a str,
}

fn check_source(
    sf: SourceFile,
    text: &str,
    path: &Path,
    common: &Common<'_>,
    c: &mut Collector,
) -> Option<Source> {
    let before = c.problems.len();
    // (definition, file, line) for shared fields first, then the source's own
    let mut defs: Vec<(&FieldDef, &Path, Option<usize>)> = Vec::new();
    for name in &sf.common {
        match common
            .fields
            .iter()
            .find(|f| f.get_ref().name == *name.get_ref())
        {
            Some(f) => defs.push((
                f.get_ref(),
                common.path,
                Some(line_of(common.text, f.span().start)),
            )),
            None => c.add(
                path,
                Some(line_of(text, name.span().start)),
                format!(
                    "common field {} is not defined in the pipeline file",
                    name.get_ref()
                ),
            ),
        }
    }
    for sp in &sf.fields {
        defs.push((sp.get_ref(), path, Some(line_of(text, sp.span().start))));
    }
    let mut filename = Vec::new();
    for pat in &sf.filename {
        match Regex::new(pat) {
            Ok(r) => filename.push(r),
            Err(e) => c.add(path, None, format!("bad filename pattern {pat:?}: {e}")),
        }
    }
    if !sf.id.starts_with('T') {
        c.add(
            path,
            None,
            format!("template id {:?} should look like T01", sf.id),
        );
    }
    if sf.dataset.is_empty()
        || !sf
            .dataset
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
    {
        c.add(
            path,
            None,
            format!(
                "dataset name {:?} must be lower-case ASCII letters, digits and _",
                sf.dataset
            ),
        );
    }
    let mut fields = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut header_index: HashMap<String, usize> = HashMap::new();
    let mut header_owner: BTreeMap<String, String> = BTreeMap::new();
    for (f, path, line) in defs {
        let idx = fields.len();
        if f.name.is_empty()
            || !f
                .name
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
        {
            c.add(
                path,
                line,
                format!("field name {:?} must be lower-case ASCII", f.name),
            );
        }
        if names.insert(f.name.clone(), idx).is_some() {
            c.add(path, line, format!("field {} is defined twice", f.name));
        }
        let unit = match &f.unit {
            None => None,
            Some(u) => match Unit::parse(u) {
                Some(unit) => Some(unit),
                None => {
                    c.add(
                        path,
                        line,
                        format!("field {}: unknown unit {u:?} (元, 万元, 亿元, %)", f.name),
                    );
                    None
                }
            },
        };
        if f.ty == FieldType::Money && unit.is_none() && f.unit.is_none() {
            c.add(
                path,
                line,
                format!("field {}: money needs a unit (元 or 万元)", f.name),
            );
        }
        if f.ty == FieldType::Enum && f.values.is_empty() {
            c.add(path, line, format!("field {}: enum needs values", f.name));
        }
        if f.ty != FieldType::Enum && !f.values.is_empty() {
            c.add(
                path,
                line,
                format!("field {}: values are only for type enum", f.name),
            );
        }
        if let (Some(lo), Some(hi)) = (f.min, f.max) {
            if lo > hi {
                c.add(path, line, format!("field {}: min {lo} > max {hi}", f.name));
            }
        }
        if (f.min.is_some() || f.max.is_some()) && !f.ty.is_numeric() && f.ty != FieldType::Year {
            c.add(
                path,
                line,
                format!("field {}: min/max need a numeric type", f.name),
            );
        }
        if f.pii.is_some() && !matches!(f.ty, FieldType::Text | FieldType::Name) {
            c.add(
                path,
                line,
                format!("field {}: PII fields must be text or name", f.name),
            );
        }
        for h in std::iter::once(&f.header).chain(f.variants.iter()) {
            let (norm, _) = normalise_header(h);
            if norm.is_empty() {
                c.add(path, line, format!("field {}: empty header text", f.name));
                continue;
            }
            if let Some(owner) = header_owner.get(&norm) {
                if owner != &f.name {
                    c.add(
                        path,
                        line,
                        format!(
                            "header {h:?} of field {} is also a header of field {owner}",
                            f.name
                        ),
                    );
                }
                continue;
            }
            header_owner.insert(norm.clone(), f.name.clone());
            header_index.insert(norm, idx);
        }
        let default_total = matches!(f.ty, FieldType::Int | FieldType::Money | FieldType::Number);
        fields.push(Field {
            name: f.name.clone(),
            header: f.header.clone(),
            variants: f.variants.clone(),
            ty: f.ty,
            unit,
            required: f.required,
            min: f.min,
            max: f.max,
            values: f.values.clone(),
            pii: f.pii,
            context: f.context,
            total: f.total.unwrap_or(default_total) && f.pii.is_none(),
            spread: f.spread,
            description: f.description.clone(),
        });
    }
    let mut keys = Vec::new();
    for k in &sf.keys {
        match names.get(k) {
            Some(&i) => keys.push(i),
            None => c.add(path, None, format!("key column {k} is not a field")),
        }
    }
    if sf.match_village {
        for need in ["county", "village", "village_code"] {
            if !names.contains_key(need) {
                c.add(path, None, format!("match_village needs a field {need}"));
            }
        }
    }
    let mut checks = Vec::new();
    for sp in &sf.checks {
        let line = Some(line_of(text, sp.span().start));
        let ck = sp.get_ref();
        let get = |n: &Option<String>, what: &str, c: &mut Collector| -> Option<usize> {
            match n {
                None => {
                    c.add(path, line, format!("check {:?} needs {what}", ck.rule));
                    None
                }
                Some(n) => match names.get(n) {
                    Some(&i) => Some(i),
                    None => {
                        c.add(path, line, format!("check refers to unknown field {n}"));
                        None
                    }
                },
            }
        };
        match ck.rule {
            CheckRule::Le => {
                let l = get(&ck.left, "left", c);
                let r = get(&ck.right, "right", c);
                if let (Some(l), Some(r)) = (l, r) {
                    if !fields[l].ty.is_numeric() || !fields[r].ty.is_numeric() {
                        c.add(path, line, "rule le compares numeric fields only");
                    }
                    checks.push(Check::Le { left: l, right: r });
                }
            }
            CheckRule::RequiredIf => {
                let f = get(&ck.field, "field", c);
                let w = get(&ck.when, "when", c);
                if let (Some(f), Some(w)) = (f, w) {
                    if fields[w].ty != FieldType::Bool {
                        c.add(path, line, "rule required_if needs a yes/no `when` field");
                    }
                    checks.push(Check::RequiredIf { field: f, when: w });
                }
            }
        }
    }
    if c.problems.len() > before {
        return None;
    }
    Some(Source {
        id: sf.id,
        dataset: sf.dataset,
        title: sf.title,
        title_en: sf.title_en,
        frequency: sf.frequency,
        grain: sf.grain,
        path: path.to_path_buf(),
        filename,
        keys,
        match_village: sf.match_village,
        fields,
        checks,
        header_index,
    })
}
