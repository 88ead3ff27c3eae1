//! Loading and checking: every file parsed, every problem collected with
//! its file and line, the checked model built.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use regex::Regex;
use toml::Spanned;

use crate::text::{normalise_header, Unit};

use super::*;

/// One problem in a definition file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    /// The definition file.
    pub file: PathBuf,
    /// The line, when the problem has one.
    pub line: Option<usize>,
    /// What is wrong.
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

impl std::error::Error for ConfigErrors {}

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

pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

pub(super) struct Collector {
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

pub(super) fn parse_toml<T: serde::de::DeserializeOwned>(
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
    let common = Common {
        fields: &file.common_fields,
        path,
        text: &text,
    };
    let sources = load_sources(&file, &common, &mut hasher_input, &mut c);
    check_registry_source(&sources, path, &mut c);
    check_sections(&file, path, &mut c);
    if !c.problems.is_empty() {
        return Err(ConfigErrors(c.problems));
    }
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(&hasher_input));
    let p = &file.pipeline;
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
            batch_files: file.lake.batch_files.max(1),
            format: file.lake.format,
            delta_root: file.lake.delta_root.clone(),
        },
        privacy: file.privacy.clone(),
        lineage: file.lineage.clone(),
        sources,
        hash,
    })
}

/// Every source definition the pipeline names, checked (each file's text
/// added to the pipeline's hash); a template id or dataset defined twice
/// is a problem.
fn load_sources(
    file: &PipelineFile,
    common: &Common<'_>,
    hasher_input: &mut Vec<u8>,
    c: &mut Collector,
) -> Vec<Source> {
    let (path, text) = (common.path, common.text);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut sources = Vec::new();
    let mut seen_ids: HashMap<String, PathBuf> = HashMap::new();
    let mut seen_datasets: HashMap<String, PathBuf> = HashMap::new();
    for rel in &file.pipeline.sources {
        let spath = dir.join(rel.get_ref());
        if !spath.is_file() {
            c.add(
                path,
                Some(line_of(text, rel.span().start)),
                format!("source definition {} does not exist", spath.display()),
            );
            continue;
        }
        let Some((sf, stext)) = parse_toml::<SourceFile>(&spath, c) else {
            continue;
        };
        hasher_input.extend_from_slice(stext.as_bytes());
        let Some(src) = check_source(sf, &stext, &spath, common, c) else {
            continue;
        };
        if let Some(prev) = seen_ids.insert(src.id.clone(), spath.clone()) {
            let said = format!(
                "template id {} is also defined in {}",
                src.id,
                prev.display()
            );
            c.add(&spath, None, said);
        }
        if let Some(prev) = seen_datasets.insert(src.dataset.clone(), spath.clone()) {
            let said = format!(
                "dataset {} is also defined in {}",
                src.dataset,
                prev.display()
            );
            c.add(&spath, None, said);
        }
        sources.push(src);
    }
    sources
}

/// One source is the village registry, with the fields matching needs.
fn check_registry_source(sources: &[Source], path: &Path, c: &mut Collector) {
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
}

/// The limits, the totals tolerances and the yes/no vocabulary.
fn check_sections(file: &PipelineFile, path: &Path, c: &mut Collector) {
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
}

/// The shared field definitions and where they are written.
pub(super) struct Common<'a> {
    fields: &'a [Spanned<FieldDef>],
    path: &'a Path,
    text: &'a str,
}

pub(super) fn check_source(
    sf: SourceFile,
    text: &str,
    path: &Path,
    common: &Common<'_>,
    c: &mut Collector,
) -> Option<Source> {
    let before = c.problems.len();
    let defs = field_defs(&sf, text, path, common, c);
    let filename = check_names(&sf, path, c);
    let mut fields = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut headers = Headers::default();
    for (f, path, line) in defs {
        let idx = fields.len();
        if !is_snake(&f.name) {
            c.add(
                path,
                line,
                format!("field name {:?} must be lower-case ASCII", f.name),
            );
        }
        if names.insert(f.name.clone(), idx).is_some() {
            c.add(path, line, format!("field {} is defined twice", f.name));
        }
        let unit = check_field(f, path, line, c);
        headers.add(f, idx, path, line, c);
        fields.push(to_field(f, unit));
    }
    let keys = check_keys(&sf, &names, path, c);
    let checks = check_rules(&sf, text, path, &names, &fields, c);
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
        header_index: headers.index,
    })
}

/// A field definition with the file and line it is written at.
type FieldAt<'s> = (&'s FieldDef, &'s Path, Option<usize>);

/// The source's fields: the shared ones it names first (from the pipeline
/// file), then its own; a shared name the pipeline lacks is a problem.
fn field_defs<'s>(
    sf: &'s SourceFile,
    text: &str,
    path: &'s Path,
    common: &'s Common<'_>,
    c: &mut Collector,
) -> Vec<FieldAt<'s>> {
    let mut defs: Vec<FieldAt<'s>> = Vec::new();
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
    defs
}

/// The template id, the dataset name and the file-name patterns (the
/// patterns that compile).
fn check_names(sf: &SourceFile, path: &Path, c: &mut Collector) -> Vec<Regex> {
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
    if !is_snake(&sf.dataset) {
        c.add(
            path,
            None,
            format!(
                "dataset name {:?} must be lower-case ASCII letters, digits and _",
                sf.dataset
            ),
        );
    }
    filename
}

/// Non-empty lower-case ASCII letters, digits and `_`.
fn is_snake(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
}

/// One field's own rules: its unit, values, ranges, change rules,
/// monotony and personal data; its unit when it parses.
fn check_field(f: &FieldDef, path: &Path, line: Option<usize>, c: &mut Collector) -> Option<Unit> {
    let mut say = |text: String| c.add(path, line, text);
    let name = &f.name;
    let unit = match &f.unit {
        None => None,
        Some(u) => {
            let unit = Unit::parse(u);
            if unit.is_none() {
                say(format!(
                    "field {name}: unknown unit {u:?} (元, 万元, 亿元, %)"
                ));
            }
            unit
        }
    };
    if f.ty == FieldType::Money && unit.is_none() && f.unit.is_none() {
        say(format!("field {name}: money needs a unit (元 or 万元)"));
    }
    if f.ty == FieldType::Enum && f.values.is_empty() {
        say(format!("field {name}: enum needs values"));
    }
    if f.ty != FieldType::Enum && !f.values.is_empty() {
        say(format!("field {name}: values are only for type enum"));
    }
    if let (Some(lo), Some(hi)) = (f.min, f.max) {
        if lo > hi {
            say(format!("field {name}: min {lo} > max {hi}"));
        }
    }
    if (f.min.is_some() || f.max.is_some()) && !f.ty.is_numeric() && f.ty != FieldType::Year {
        say(format!("field {name}: min/max need a numeric type"));
    }
    if (f.change_min.is_some() || f.change_max.is_some()) && !f.ty.is_numeric() {
        say(format!(
            "field {name}: change_min/change_max need a numeric type"
        ));
    }
    for (k, v) in [("change_min", f.change_min), ("change_max", f.change_max)] {
        if v.is_some_and(|x| !(x.is_finite() && x > 0.0)) {
            say(format!("field {name}: {k} must be above 0"));
        }
    }
    if let (Some(lo), Some(hi)) = (f.change_min, f.change_max) {
        if lo > hi {
            say(format!("field {name}: change_min {lo} > change_max {hi}"));
        }
    }
    if f.monotone == Some(crate::config::Monotone::Grows)
        && !(f.ty.is_numeric() || f.ty == FieldType::Date)
    {
        say(format!(
            "field {name}: monotone = \"grows\" needs a number or a date"
        ));
    }
    if f.pii.is_some() && !matches!(f.ty, FieldType::Text | FieldType::Name) {
        say(format!("field {name}: PII fields must be text or name"));
    }
    unit
}

/// The fields' header texts, normalised: which field each belongs to.
#[derive(Default)]
struct Headers {
    index: HashMap<String, usize>,
    owner: BTreeMap<String, String>,
}

impl Headers {
    /// Adds a field's official header and variants; an empty one, or one
    /// that is another field's, is a problem.
    fn add(
        &mut self,
        f: &FieldDef,
        idx: usize,
        path: &Path,
        line: Option<usize>,
        c: &mut Collector,
    ) {
        for h in std::iter::once(&f.header).chain(f.variants.iter()) {
            let (norm, _) = normalise_header(h);
            if norm.is_empty() {
                c.add(path, line, format!("field {}: empty header text", f.name));
                continue;
            }
            if let Some(owner) = self.owner.get(&norm) {
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
            self.owner.insert(norm.clone(), f.name.clone());
            self.index.insert(norm, idx);
        }
    }
}

/// The model's field of a checked definition.
fn to_field(f: &FieldDef, unit: Option<Unit>) -> Field {
    let default_total = matches!(f.ty, FieldType::Int | FieldType::Money | FieldType::Number);
    Field {
        name: f.name.clone(),
        header: f.header.clone(),
        variants: f.variants.clone(),
        ty: f.ty,
        unit,
        required: f.required,
        min: f.min,
        max: f.max,
        warn: (f.warn_min, f.warn_max),
        plausible: (f.plausible_min, f.plausible_max),
        change: (f.change_min, f.change_max),
        monotone: f.monotone,
        values: f.values.clone(),
        pii: f.pii,
        context: f.context,
        total: f.total.unwrap_or(default_total) && f.pii.is_none(),
        spread: f.spread,
        description: f.description.clone(),
    }
}

/// The key columns (each a field) and the fields village matching needs.
fn check_keys(
    sf: &SourceFile,
    names: &HashMap<String, usize>,
    path: &Path,
    c: &mut Collector,
) -> Vec<usize> {
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
    keys
}

/// The cross-field rules: `le` between two numeric fields, `required_if`
/// with a yes/no `when` field; each names fields that exist.
fn check_rules(
    sf: &SourceFile,
    text: &str,
    path: &Path,
    names: &HashMap<String, usize>,
    fields: &[Field],
    c: &mut Collector,
) -> Vec<Check> {
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
    checks
}
