//! Indicator definitions (`pipelines/indicators.toml`): parameters and one
//! SQL query per indicator, checked when loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::{ConfigErrors, ConfigProblem};

/// How an indicator's unit rows add up to an area's figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    /// Σ num / Σ den.
    Ratio,
    /// A distribution: Σ num of the category / Σ den of all categories.
    Share,
    /// Σ num.
    Sum,
    /// The mean of num.
    Mean,
    /// The median of num.
    Median,
}

impl Aggregate {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Aggregate::Ratio => "scale × Σ num / Σ den",
            Aggregate::Share => "scale × Σ num of the category / Σ den of all categories",
            Aggregate::Sum => "scale × Σ num",
            Aggregate::Mean => "scale × mean(num)",
            Aggregate::Median => "scale × median(num)",
        }
    }
}

/// Which way villages are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RankOrder {
    /// The highest value first.
    Desc,
    /// The lowest value first.
    Asc,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
    #[serde(default)]
    income_effects: crate::analysis::effects::EffectsConfig,
    #[serde(default)]
    scope: Scope,
    /// Chinese sheet/section name of each family.
    #[serde(default)]
    families: BTreeMap<String, String>,
    #[serde(default)]
    indicator: Vec<toml::Spanned<IndicatorDef>>,
}

/// `[scope]`: which registry entries every figure counts as villages.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Registry kinds (`类型`) in scope: `["村", "社区"]` counts urban
    /// communities (社区) as villages, `["村"]` leaves them and their rows
    /// out of every figure. An entry without a kind is a village.
    #[serde(default = "all_kinds")]
    pub kinds: Vec<String>,
    /// How much of a lake of several areas the SQL sees at once: memory
    /// follows the largest area and not the lake (see docs/indicators.md).
    #[serde(default)]
    pub query_area: QueryArea,
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            kinds: all_kinds(),
            query_area: QueryArea::default(),
        }
    }
}

/// `[scope] query_area`: the indicator SQL runs over one province (city,
/// county) of the lake at a time when the lake holds more than one, or
/// over the whole lake (`all`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum QueryArea {
    /// The whole lake at once.
    All,
    /// One province at a time.
    #[default]
    Province,
    /// One city at a time.
    City,
    /// One county at a time.
    County,
}

impl QueryArea {
    /// Digits of the division code that name the area.
    pub fn digits(self) -> usize {
        match self {
            QueryArea::All => 0,
            QueryArea::Province => 2,
            QueryArea::City => 4,
            QueryArea::County => 6,
        }
    }
}

fn all_kinds() -> Vec<String> {
    vec!["村".into(), "社区".into()]
}

/// One indicator as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorDef {
    /// The indicator's id (`org_four_in_one`).
    pub id: String,
    /// Its family (`org`, `std`, `ce`, …).
    pub family: String,
    /// Its Chinese name.
    pub name_zh: String,
    /// Its English name.
    pub name_en: String,
    /// What it measures, in English (`{{param}}` filled).
    #[serde(default)]
    pub description: String,
    /// The same definition in Chinese, for the report's 说明.
    #[serde(default)]
    pub description_zh: String,
    /// Its unit (`%`, `个`, `万元`).
    pub unit: String,
    /// How its unit rows add up.
    pub aggregate: Aggregate,
    /// What the sum or ratio is multiplied by (100 for a percentage).
    #[serde(default = "one")]
    pub scale: f64,
    /// The lake dataset whose rows `explain` shows behind each unit.
    pub dataset: String,
    /// Column of `dataset` that the query's `unit` comes from.
    #[serde(default = "village_code")]
    pub unit_column: String,
    /// Variants: (category label, text put in for `{{each}}`).
    #[serde(default)]
    pub each: Vec<(String, String)>,
    /// The query that gives its unit rows.
    pub sql: String,
    /// Also keep one row per village.
    #[serde(default)]
    pub village_rows: bool,
    /// Rank villages within their county by value.
    #[serde(default)]
    pub rank: Option<RankOrder>,
    /// A unit may stand in several counties (a fuel station supporting
    /// villages in two): the query gives one row per county, each with the
    /// unit's whole figures, and every area counts the unit once.
    #[serde(default)]
    pub once_per_unit: bool,
    /// What the period of a yearly figure is when it is not the dataset's
    /// own (the year identified, the year of a promotion, …); the indicator
    /// table of docs/indicators.md says it.
    #[serde(default)]
    pub year_is: Option<String>,
}

fn one() -> f64 {
    1.0
}

fn village_code() -> String {
    "village_code".into()
}

/// A checked indicator, its SQL filled in.
#[derive(Debug, Clone)]
pub struct Indicator {
    /// The block as written.
    pub def: IndicatorDef,
    /// Description with the parameters filled in.
    pub description: String,
    /// The Chinese description, parameters filled in (empty when none).
    pub description_zh: String,
    /// (category from `each`, SQL) per variant.
    pub queries: Vec<(Option<String>, String)>,
    /// sha256 (16 hex digits) of everything that decides the values.
    pub hash: String,
    /// The block's line in the definitions file.
    pub line: usize,
}

/// The indicator definitions, checked.
#[derive(Debug, Clone)]
pub struct Definitions {
    /// The definitions file.
    pub path: PathBuf,
    /// The parameters, as text for SQL.
    pub params: BTreeMap<String, String>,
    /// The income-effects settings.
    pub effects: crate::analysis::effects::EffectsConfig,
    /// Which registry entries count as villages.
    pub scope: Scope,
    /// Each family's Chinese name.
    pub family_names: BTreeMap<String, String>,
    /// The indicators, in the file's order.
    pub indicators: Vec<Indicator>,
}

impl Definitions {
    /// The indicator with this id.
    pub fn get(&self, id: &str) -> Option<&Indicator> {
        self.indicators.iter().find(|i| i.def.id == id)
    }

    /// A family's Chinese name (its id when none is given).
    pub(crate) fn family_name<'a>(&'a self, family: &'a str) -> &'a str {
        self.family_names.get(family).map_or(family, String::as_str)
    }

    /// Families in the order they first appear.
    pub(crate) fn families(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for i in &self.indicators {
            if !out.contains(&i.def.family.as_str()) {
                out.push(&i.def.family);
            }
        }
        out
    }
}

fn param_text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::String(s) => Some(format!("'{}'", s.replace('\'', "''"))),
        toml::Value::Boolean(b) => Some(if *b { "TRUE" } else { "FALSE" }.into()),
        _ => None,
    }
}

/// Replaces `{{name}}` by its value; names not found are returned.
pub fn fill(text: &str, vars: &BTreeMap<String, String>) -> (String, Vec<String>) {
    let mut missing = Vec::new();
    let out = crate::text::fill_between(text, ("{{", "}}"), |name| {
        let name = name.trim();
        let v = vars.get(name).map(String::as_str);
        if v.is_none() {
            missing.push(name.to_string());
        }
        v
    });
    (out, missing)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Loads and checks the definitions; `datasets` are the lake datasets the
/// pipeline defines.
pub fn load(path: &Path, datasets: &[String]) -> Result<Definitions, ConfigErrors> {
    let problem = |line: Option<usize>, message: String| ConfigProblem {
        file: path.to_path_buf(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigErrors(vec![problem(None, format!("cannot read: {e}"))]))?;
    let file: FileDef = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| line_of(&text, s.start));
        ConfigErrors(vec![problem(line, e.message().to_string())])
    })?;
    let mut problems = Vec::new();
    let mut params = BTreeMap::new();
    for (k, v) in &file.params {
        match param_text(v) {
            Some(t) => {
                params.insert(k.clone(), t);
            }
            None => problems.push(problem(
                None,
                format!("parameter {k}: only numbers, text and true/false can be parameters"),
            )),
        }
    }
    let mut seen = BTreeMap::new();
    let mut indicators = Vec::new();
    for spanned in file.indicator {
        let line = line_of(&text, spanned.span().start);
        let def = spanned.into_inner();
        if let Some(prev) = seen.insert(def.id.clone(), line) {
            let m = format!("indicator {}: id already used at line {prev}", def.id);
            problems.push(problem(Some(line), m));
        }
        let mut said = Vec::new();
        let ind = indicator_of(def, line, &params, datasets, &file.scope.kinds, &mut said);
        problems.extend(
            said.into_iter()
                .map(|m| problem(Some(line), format!("indicator {}: {m}", ind.def.id))),
        );
        indicators.push(ind);
    }
    if !problems.is_empty() {
        return Err(ConfigErrors(problems));
    }
    Ok(Definitions {
        path: path.to_path_buf(),
        params,
        effects: file.income_effects,
        scope: file.scope,
        family_names: file.families,
        indicators,
    })
}

/// One `[[indicator]]` block as the stage uses it: its descriptions and
/// queries with the parameters filled in, and its hash. What is wrong with
/// the block is said in `problems`.
fn indicator_of(
    def: IndicatorDef,
    line: usize,
    params: &BTreeMap<String, String>,
    datasets: &[String],
    kinds: &[String],
    problems: &mut Vec<String>,
) -> Indicator {
    check_def(&def, datasets, problems);
    let (description, mut missing) = fill(&def.description, params);
    let (description_zh, missing_zh) = fill(&def.description_zh, params);
    missing.extend(missing_zh);
    for m in missing {
        problems.push(format!("description names unknown parameter {{{{{m}}}}}"));
    }
    let queries = queries_of(&def, params, problems);
    let hash = def_hash(&def, kinds, &queries);
    Indicator {
        def,
        description,
        description_zh,
        queries,
        hash,
        line,
    }
}

/// What is wrong with a block's id, dataset, scale and rank.
fn check_def(def: &IndicatorDef, datasets: &[String], problems: &mut Vec<String>) {
    if def.id.is_empty()
        || !def
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        problems.push("id must be letters, digits and _".into());
    }
    if !datasets.contains(&def.dataset) {
        problems.push(format!(
            "dataset {} is not a dataset of the pipeline",
            def.dataset
        ));
    }
    if !def.scale.is_finite() || def.scale == 0.0 {
        problems.push("scale must be a non-zero number".into());
    }
    if def.rank.is_some() && !def.village_rows {
        problems.push("rank needs village_rows = true".into());
    }
}

/// The block's SQL with the parameters filled in: once, or once per
/// `each` entry (label and value).
fn queries_of(
    def: &IndicatorDef,
    params: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> Vec<(Option<String>, String)> {
    let variants: Vec<(Option<String>, Option<String>)> = if def.each.is_empty() {
        vec![(None, None)]
    } else {
        def.each
            .iter()
            .map(|(l, e)| (Some(l.clone()), Some(e.clone())))
            .collect()
    };
    let mut queries = Vec::new();
    for (label, each) in variants {
        let mut vars = params.clone();
        if let (Some(l), Some(e)) = (&label, &each) {
            vars.insert("each_label".into(), l.replace('\'', "''"));
            vars.insert("each".into(), e.clone());
        }
        let (sql, missing) = fill(&def.sql, &vars);
        for m in missing {
            problems.push(format!("sql names unknown parameter {{{{{m}}}}}"));
        }
        queries.push((label, sql));
    }
    queries
}

/// What the indicator's figures depend on: its id, unit, aggregation,
/// scale, village rows and rank, the scope (it decides every
/// denominator) and its queries; 16 hex digits.
fn def_hash(def: &IndicatorDef, kinds: &[String], queries: &[(Option<String>, String)]) -> String {
    let mut h = Sha256::new();
    for part in [
        def.id.as_str(),
        &def.unit,
        &format!("{:?}", def.aggregate),
        &def.scale.to_string(),
        &format!("{}{:?}", def.village_rows, def.rank),
        if def.once_per_unit {
            "once_per_unit"
        } else {
            ""
        },
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for k in kinds {
        h.update(k.as_bytes());
        h.update([0]);
    }
    for (l, q) in queries {
        h.update(l.as_deref().unwrap_or("").as_bytes());
        h.update([0]);
        h.update(q.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_in_a_definitions_file_is_reported_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("indicators.toml");
        std::fs::write(
            &path,
            r#"[params]
floor = 350000

[[indicator]]
id = "a"
family = "f"
name_zh = "甲"
name_en = "A"
unit = "%"
aggregate = "ratio"
dataset = "nowhere"
sql = "SELECT {{ceiling}} AS num"

[[indicator]]
id = "a"
family = "f"
name_zh = "乙"
name_en = "B"
unit = "%"
aggregate = "sum"
dataset = "villages"
rank = "desc"
sql = "SELECT {{floor}} AS num"
"#,
        )
        .unwrap();
        let e = load(&path, &["villages".to_string()]).unwrap_err();
        let msgs: Vec<String> = e.0.iter().map(|p| p.to_string()).collect();
        let file = path.display();
        assert_eq!(
            msgs,
            [
                format!("{file}:4: indicator a: dataset nowhere is not a dataset of the pipeline"),
                format!("{file}:4: indicator a: sql names unknown parameter {{{{ceiling}}}}"),
                format!("{file}:14: indicator a: id already used at line 4"),
                format!("{file}:14: indicator a: rank needs village_rows = true"),
            ]
        );
        // the good one loads with its parameter filled in
        std::fs::write(
            &path,
            "[params]\nfloor = 350000\n[[indicator]]\nid = \"b\"\nfamily = \"f\"\nname_zh = \"乙\"\nname_en = \"B\"\nunit = \"%\"\naggregate = \"sum\"\ndataset = \"villages\"\nsql = \"SELECT {{floor}} AS num\"\n",
        )
        .unwrap();
        let d = load(&path, &["villages".to_string()]).unwrap();
        assert_eq!(d.indicators[0].queries[0].1, "SELECT 350000 AS num");
    }

    #[test]
    fn fill_replaces_known_names_and_reports_unknown_ones() {
        let mut v = BTreeMap::new();
        v.insert("floor".to_string(), "350000".to_string());
        let (s, missing) = fill("x >= {{floor}} AND y < {{ceiling}} {{", &v);
        assert_eq!(s, "x >= 350000 AND y < {{ceiling}} {{");
        assert_eq!(missing, vec!["ceiling".to_string()]);
    }
}
