//! Income effects of the prosperity communities, from the household income
//! panel (T06): members' before/after change, two-way fixed-effects DiD,
//! an event study and Callaway & Sant'Anna group-time effects, per county
//! and citywide, in yuan and in log points.

pub mod estimators;

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Deserialize;

use crate::analysis::tables::Tables;
pub use estimators::{Control, Estimate, Obs, Panel};

/// `[income_effects]` in the indicator definitions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffectsConfig {
    /// Comparison households for Callaway & Sant'Anna.
    #[serde(default = "never")]
    pub control: Control,
    /// Cluster level of the standard errors: village, township, county or household.
    #[serde(default = "village")]
    pub cluster: ClusterLevel,
    /// Cells with fewer treated households than this are reported as not estimable.
    #[serde(default = "one")]
    pub min_treated: usize,
}

impl Default for EffectsConfig {
    fn default() -> Self {
        EffectsConfig {
            control: Control::NeverTreated,
            cluster: ClusterLevel::Village,
            min_treated: 1,
        }
    }
}

fn never() -> Control {
    Control::NeverTreated
}
fn village() -> ClusterLevel {
    ClusterLevel::Village
}
fn one() -> usize {
    1
}

/// The level standard errors are clustered at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterLevel {
    /// Each household on its own.
    Household,
    /// Its village.
    Village,
    /// Its township.
    Township,
    /// Its county.
    County,
}

impl ClusterLevel {
    /// The level as the table names it.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterLevel::Household => "household",
            ClusterLevel::Village => "village",
            ClusterLevel::Township => "township",
            ClusterLevel::County => "county",
        }
    }
}

/// One row of `income_effects.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectRow {
    /// `city` or `county`.
    pub scope_level: &'static str,
    /// The area's code.
    pub scope_code: String,
    /// The area's name.
    pub scope_name: String,
    /// `income` or `log_income`.
    pub outcome: &'static str,
    /// The outcome's unit (`元`, `%`, `log×100`).
    pub unit: &'static str,
    /// The estimator (`twfe_did`, `cs_att_gt`, …).
    pub estimator: &'static str,
    /// The cohort, for group rows.
    pub group: Option<i64>,
    /// The year, for time rows.
    pub time: Option<i64>,
    /// Years since joining, for event rows.
    pub event_time: Option<i64>,
    /// The estimate (none: not estimable, see `note`).
    pub estimate: Option<f64>,
    /// Its standard error.
    pub se: Option<f64>,
    /// The 95 % interval's lower end.
    pub ci_low: Option<f64>,
    /// Its upper end.
    pub ci_high: Option<f64>,
    /// Observations used.
    pub n_obs: Option<u64>,
    /// Households used.
    pub n_households: Option<u64>,
    /// Of them, members who joined.
    pub n_treated: Option<u64>,
    /// Clusters.
    pub n_clusters: Option<u64>,
    /// The comparison group.
    pub control: &'static str,
    /// The clustering level.
    pub cluster: &'static str,
    /// Why there is no estimate.
    pub note: Option<String>,
}

/// A household's rows as read from the lake.
#[derive(Debug, Clone)]
pub(crate) struct HouseholdRow {
    pub county_code: String,
    pub village_code: String,
    pub household: String,
    pub year: i32,
    pub income: Option<f64>,
    pub member: bool,
    pub join_year: Option<i32>,
}

/// The columns of `household_income` the panel is read from.
pub(crate) const PANEL_COLUMNS: [&str; 8] = [
    "county_code",
    "village_code",
    "household_id",
    "head_id_number_pseudonym",
    "year",
    "join_year",
    "income",
    "member",
];

/// Reads the household panel from the lake tables.
pub(crate) fn household_rows(t: &Tables) -> PolarsResult<Vec<HouseholdRow>> {
    let Some(df) = t.frames.get("household_income") else {
        return Ok(Vec::new());
    };
    // text columns as they are (one chunk, read by index): a nation's
    // panel is millions of rows, and a copy of each text is a gigabyte
    let s = |n: &str| -> PolarsResult<StringChunked> {
        Ok(match df.column(n) {
            Ok(c) => c.cast(&DataType::String)?.str()?.rechunk().into_owned(),
            Err(_) => StringChunked::full_null(n.into(), df.height()),
        })
    };
    let i = |n: &str| -> PolarsResult<Vec<Option<i64>>> {
        Ok(df
            .column(n)?
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .collect())
    };
    let county = s("county_code")?;
    let village = s("village_code")?;
    let hid = s("household_id")?;
    let head = s("head_id_number_pseudonym")?;
    let year = i("year")?;
    let join = i("join_year")?;
    let income: Vec<Option<f64>> = df
        .column("income")?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .collect();
    let member: Vec<Option<bool>> = df
        .column("member")?
        .cast(&DataType::Boolean)?
        .bool()?
        .iter()
        .collect();
    let mut out = Vec::with_capacity(df.height());
    for r in 0..df.height() {
        let (Some(c), Some(v), Some(y)) = (county.get(r), village.get(r), year[r]) else {
            continue;
        };
        // a household is its id within the county, else its head's pseudonym
        let Some(h) = hid
            .get(r)
            .map(|h| format!("{c}/{h}"))
            .or_else(|| head.get(r).map(|p| format!("p/{p}")))
        else {
            continue;
        };
        out.push(HouseholdRow {
            county_code: c.to_string(),
            village_code: v.to_string(),
            household: h,
            year: y as i32,
            income: income[r],
            member: member[r].unwrap_or(false),
            join_year: join[r].map(|j| j as i32),
        });
    }
    // stable: rows of one household and year keep their file order
    out.sort_by(|a, b| (&a.household, a.year).cmp(&(&b.household, b.year)));
    Ok(out)
}

/// Builds a panel from household rows. The joining year of a household is
/// the earliest `join_year` it reports (or the first year it is a member).
/// `log`: outcome 100·ln(income), incomes ≤ 0 left out.
pub(crate) fn build_panel(rows: &[&HouseholdRow], cluster: ClusterLevel, log: bool) -> Panel {
    // ids in order of first sight, as a map from the text would give them
    let mut units: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut clusters: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut cohort: Vec<Option<i32>> = Vec::new();
    let mut obs = Vec::with_capacity(rows.len());
    // rows come sorted by household: the previous row's is the likely one
    let mut last: Option<(&str, usize)> = None;
    for r in rows {
        let u = match last {
            Some((h, u)) if h == r.household => u,
            _ => {
                let n = units.len();
                let u = *units.entry(&r.household).or_insert(n);
                last = Some((&r.household, u));
                u
            }
        };
        if u == cohort.len() {
            cohort.push(None);
        }
        let joined = r.join_year.or(if r.member { Some(r.year) } else { None });
        if let Some(j) = joined.filter(|_| r.member || r.join_year.is_some()) {
            cohort[u] = Some(cohort[u].map_or(j, |c: i32| c.min(j)));
        }
        let key: &str = match cluster {
            ClusterLevel::Household => &r.household,
            ClusterLevel::Village => &r.village_code,
            ClusterLevel::Township => r
                .village_code
                .char_indices()
                .nth(9)
                .map_or(&r.village_code, |(i, _)| &r.village_code[..i]),
            ClusterLevel::County => &r.county_code,
        };
        let nc = clusters.len();
        let c = *clusters.entry(key).or_insert(nc);
        let Some(inc) = r.income else { continue };
        let y = if log {
            if inc <= 0.0 {
                continue;
            }
            100.0 * inc.ln()
        } else {
            inc
        };
        obs.push(Obs {
            unit: u,
            cluster: c,
            year: r.year,
            y,
        });
    }
    Panel {
        obs,
        cohort,
        n_clusters: clusters.len(),
    }
}

/// Members' own before/after change: per member household with years both
/// before and after joining, mean after − mean before.
pub(crate) fn before_after(p: &Panel) -> Option<(f64, f64, f64, usize)> {
    let mut pre: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    let mut post: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for o in &p.obs {
        let Some(g) = p.cohort[o.unit] else { continue };
        let m = if o.year >= g { &mut post } else { &mut pre };
        let e = m.entry(o.unit).or_default();
        e.0 += o.y;
        e.1 += 1;
    }
    let mut changes: Vec<f64> = pre
        .iter()
        .filter_map(|(u, (s, n))| post.get(u).map(|(s2, n2)| s2 / *n2 as f64 - s / *n as f64))
        .collect();
    if changes.is_empty() {
        return None;
    }
    let n = changes.len();
    let mean = changes.iter().sum::<f64>() / n as f64;
    let rose = changes.iter().filter(|&&c| c > 0.0).count() as f64 / n as f64 * 100.0;
    changes.sort_by(|a, b| a.total_cmp(b));
    let median = if n % 2 == 1 {
        changes[n / 2]
    } else {
        (changes[n / 2 - 1] + changes[n / 2]) / 2.0
    };
    Some((mean, median, rose, n))
}

struct Scope<'a> {
    level: &'static str,
    code: String,
    name: String,
    rows: Vec<&'a HouseholdRow>,
}

/// All estimates for every scope (city, then each county) and outcome.
/// The second value names data problems: a household reported twice for
/// one year (only its first row, in file order, is used).
pub(crate) fn compute(
    t: &Tables,
    city: &str,
    cfg: &EffectsConfig,
) -> PolarsResult<(Vec<EffectRow>, Vec<String>)> {
    let mut rows = household_rows(t)?;
    let before = rows.len();
    rows.dedup_by(|b, a| a.household == b.household && a.year == b.year);
    let mut warnings = Vec::new();
    if rows.len() < before {
        warnings.push(format!(
            "income effects: {} household-year rows repeat an earlier row of the same household and year and are left out",
            before - rows.len()
        ));
    }
    let (city_code, city_name) = crate::analysis::tables::city_of(&t.geo, city);
    let mut scopes = vec![Scope {
        level: "city",
        code: city_code,
        name: city_name,
        rows: rows.iter().collect(),
    }];
    // one pass: a nation has 3,000 counties
    let mut counties: BTreeMap<&str, Vec<&HouseholdRow>> = BTreeMap::new();
    for r in &rows {
        counties.entry(r.county_code.as_str()).or_default().push(r);
    }
    for (c, rows) in counties {
        scopes.push(Scope {
            level: "county",
            code: c.to_string(),
            name: t.geo.county.get(c).cloned().unwrap_or_default(),
            rows,
        });
    }
    let mut out = Vec::new();
    for s in &scopes {
        for (outcome, unit, log) in [("income", "元", false), ("log_income", "对数点", true)] {
            let panel = build_panel(&s.rows, cfg.cluster, log);
            let first = out.len();
            estimate_scope(s, outcome, unit, &panel, cfg, &mut out);
            // a loss is a real income, but it has no logarithm
            let left_out = s
                .rows
                .iter()
                .filter(|r| r.income.is_some_and(|x| x <= 0.0))
                .count();
            if log && left_out > 0 {
                let why =
                    format!("{left_out} household-year(s) with income ≤ 0 left out of the log");
                for row in &mut out[first..] {
                    row.note = Some(match row.note.take() {
                        Some(n) => format!("{n}; {why}"),
                        None => why.clone(),
                    });
                }
                if s.level == "city" {
                    warnings.push(format!("income effects: log_income: {why}"));
                }
            }
        }
    }
    Ok((out, warnings))
}

fn estimate_scope(
    s: &Scope<'_>,
    outcome: &'static str,
    unit: &'static str,
    panel: &Panel,
    cfg: &EffectsConfig,
    out: &mut Vec<EffectRow>,
) {
    let rows = ScopeRows::new(s, outcome, unit, cfg);
    rows.before_after(panel, out);
    out.push(rows.with("twfe_did", estimators::twfe(panel)));
    match estimators::event_study(panel) {
        Ok(es) => {
            for (e, est) in es {
                let mut row = rows.with("event_study", Ok(est));
                row.event_time = Some(i64::from(e));
                out.push(row);
            }
        }
        Err(why) => out.push(rows.with("event_study", Err(why))),
    }
    match estimators::callaway_santanna(panel, cfg.control) {
        Ok(cs) => rows.callaway_santanna(cs, out),
        Err(why) => out.push(rows.with("cs_simple", Err(why))),
    }
}

/// The rows of one scope and outcome, each estimator's made from one
/// base row.
struct ScopeRows<'c> {
    base: EffectRow,
    cfg: &'c EffectsConfig,
}

impl<'c> ScopeRows<'c> {
    fn new(
        s: &Scope<'_>,
        outcome: &'static str,
        unit: &'static str,
        cfg: &'c EffectsConfig,
    ) -> ScopeRows<'c> {
        let base = EffectRow {
            scope_level: s.level,
            scope_code: s.code.clone(),
            scope_name: s.name.clone(),
            outcome,
            unit,
            estimator: "",
            group: None,
            time: None,
            event_time: None,
            estimate: None,
            se: None,
            ci_low: None,
            ci_high: None,
            n_obs: None,
            n_households: None,
            n_treated: None,
            n_clusters: None,
            control: cfg.control.as_str(),
            cluster: cfg.cluster.as_str(),
            note: None,
        };
        ScopeRows { base, cfg }
    }

    /// An estimator's row: its estimate, or why there is none (fewer
    /// treated households than `min_treated` count as none).
    fn with(&self, estimator: &'static str, r: Result<Estimate, String>) -> EffectRow {
        let cfg = self.cfg;
        let mut row = self.base.clone();
        row.estimator = estimator;
        match r {
            Ok(e) if e.n_treated >= cfg.min_treated => {
                let (lo, hi) = e.ci();
                row.estimate = Some(e.est);
                row.se = Some(e.se);
                row.ci_low = Some(lo);
                row.ci_high = Some(hi);
                row.n_obs = Some(e.n_obs as u64);
                row.n_households = Some(e.n_units as u64);
                row.n_treated = Some(e.n_treated as u64);
                row.n_clusters = Some(e.n_clusters as u64);
            }
            Ok(e) => {
                row.note = Some(format!(
                    "not estimable: {} treated households, fewer than min_treated = {}",
                    e.n_treated, cfg.min_treated
                ));
            }
            Err(why) => row.note = Some(format!("not estimable: {why}")),
        }
        row
    }

    /// The members' own change: mean, median and the share whose income
    /// rose, or why it cannot be said.
    fn before_after(&self, panel: &Panel, out: &mut Vec<EffectRow>) {
        let Some((mean, median, rose, n)) = before_after(panel) else {
            let mut row = self.base.clone();
            row.estimator = "before_after_mean";
            row.note = Some(
                "not estimable: no member household observed both before and after joining".into(),
            );
            out.push(row);
            return;
        };
        for (est, v) in [
            ("before_after_mean", mean),
            ("before_after_median", median),
            ("before_after_share_rose", rose),
        ] {
            let mut row = self.base.clone();
            row.estimator = est;
            row.estimate = Some(v);
            row.n_households = Some(n as u64);
            row.n_treated = Some(n as u64);
            if est == "before_after_share_rose" {
                row.unit = "%";
            }
            out.push(row);
        }
    }

    /// Callaway & Sant'Anna: the group-time cells and every aggregation.
    fn callaway_santanna(&self, cs: estimators::CsResult, out: &mut Vec<EffectRow>) {
        for c in cs.cells {
            let mut row = self.with("cs_att_gt", c.result);
            row.group = Some(i64::from(c.group));
            row.time = Some(i64::from(c.time));
            row.event_time = Some(i64::from(c.time - c.group));
            out.push(row);
        }
        if let Some(r) = cs.simple {
            out.push(self.with("cs_simple", r));
        }
        for (g, e) in cs.by_group {
            let mut row = self.with("cs_group", Ok(e));
            row.group = Some(i64::from(g));
            out.push(row);
        }
        if let Some(e) = cs.group_overall {
            out.push(self.with("cs_group_overall", Ok(e)));
        }
        for (ev, e) in cs.by_event {
            let mut row = self.with("cs_event", Ok(e));
            row.event_time = Some(i64::from(ev));
            out.push(row);
        }
        if let Some(e) = cs.event_overall {
            out.push(self.with("cs_event_overall", Ok(e)));
        }
        for (tm, e) in cs.by_calendar {
            let mut row = self.with("cs_calendar", Ok(e));
            row.time = Some(i64::from(tm));
            out.push(row);
        }
        if let Some(e) = cs.calendar_overall {
            out.push(self.with("cs_calendar_overall", Ok(e)));
        }
    }
}

/// The table as a frame.
pub fn effects_frame(rows: &[EffectRow], run_id: &str) -> PolarsResult<DataFrame> {
    let st = |f: &dyn Fn(&EffectRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let oi = |f: &dyn Fn(&EffectRow) -> Option<i64>| rows.iter().map(f).collect::<Vec<_>>();
    let of = |f: &dyn Fn(&EffectRow) -> Option<f64>| rows.iter().map(f).collect::<Vec<_>>();
    let ou = |f: &dyn Fn(&EffectRow) -> Option<u64>| rows.iter().map(f).collect::<Vec<_>>();
    let cols = vec![
        Column::new("scope_level".into(), st(&|r| r.scope_level.into())),
        Column::new("scope_code".into(), st(&|r| r.scope_code.clone())),
        Column::new("scope_name".into(), st(&|r| r.scope_name.clone())),
        Column::new("outcome".into(), st(&|r| r.outcome.into())),
        Column::new("unit".into(), st(&|r| r.unit.into())),
        Column::new("estimator".into(), st(&|r| r.estimator.into())),
        Column::new("cohort".into(), oi(&|r| r.group)),
        Column::new("year".into(), oi(&|r| r.time)),
        Column::new("event_time".into(), oi(&|r| r.event_time)),
        Column::new("estimate".into(), of(&|r| r.estimate)),
        Column::new("se".into(), of(&|r| r.se)),
        Column::new("ci_low".into(), of(&|r| r.ci_low)),
        Column::new("ci_high".into(), of(&|r| r.ci_high)),
        Column::new("n_obs".into(), ou(&|r| r.n_obs)),
        Column::new("n_households".into(), ou(&|r| r.n_households)),
        Column::new("n_treated".into(), ou(&|r| r.n_treated)),
        Column::new("n_clusters".into(), ou(&|r| r.n_clusters)),
        Column::new("control".into(), st(&|r| r.control.into())),
        Column::new("cluster".into(), st(&|r| r.cluster.into())),
        Column::new(
            "note".into(),
            rows.iter().map(|r| r.note.clone()).collect::<Vec<_>>(),
        ),
        Column::new("run_id".into(), vec![run_id.to_string(); rows.len()]),
    ];
    DataFrame::new(rows.len(), cols)
}
/// The columns of `income_effects.parquet` in order: (name, type,
/// meaning). [`effects_frame`] writes exactly these (tested); `docs` lists
/// them.
pub const EFFECT_COLUMNS: [(&str, &str, &str); 21] = [
    ("scope_level", "String", "city or county"),
    ("scope_code", "String", "division code of the scope"),
    ("scope_name", "String", "name of the scope"),
    ("outcome", "String", "income (元) or log_income (100·ln income: log points)"),
    ("unit", "String", "unit of estimate"),
    ("estimator", "String", "before_after_mean/_median/_share_rose, twfe_did, event_study, cs_att_gt, cs_simple, cs_group, cs_group_overall, cs_event, cs_event_overall, cs_calendar, cs_calendar_overall"),
    ("cohort", "Int64", "joining year g (cs_att_gt, cs_group)"),
    ("year", "Int64", "calendar year t (cs_att_gt, cs_calendar)"),
    ("event_time", "Int64", "years since joining (event_study, cs_event, cs_att_gt)"),
    ("estimate", "Float64", "the estimate; null when not estimable"),
    ("se", "Float64", "standard error, clustered at `cluster`"),
    ("ci_low", "Float64", "95% confidence interval, lower bound"),
    ("ci_high", "Float64", "95% confidence interval, upper bound"),
    ("n_obs", "UInt64", "household-years used"),
    ("n_households", "UInt64", "households used"),
    ("n_treated", "UInt64", "member households used"),
    ("n_clusters", "UInt64", "clusters"),
    ("control", "String", "comparison households of Callaway & Sant'Anna"),
    ("cluster", "String", "cluster level of the standard errors"),
    (
        "note",
        "String",
        "why a row is not estimable; for log_income, how many household-years with income ≤ 0 were left out",
    ),
    ("run_id", "String", "lake version the estimates were computed from"),
];
