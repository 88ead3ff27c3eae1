//! Panel estimators of a staggered treatment (joining a prosperity
//! community): two-way fixed effects, event study, and Callaway &
//! Sant'Anna (2021) group-time effects with influence-function standard
//! errors. Plain data in, numbers out; `super` builds the panels.

use std::collections::{BTreeMap, BTreeSet};

/// 97.5 % quantile of the standard normal: a 95 % confidence interval.
pub(crate) const Z95: f64 = 1.959_963_984_540_054;

/// One observation: household index, cluster index, year, outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Obs {
    /// The household, by index.
    pub unit: usize,
    /// Its cluster (household, village, township or county), by index.
    pub cluster: usize,
    /// The year.
    pub year: i32,
    /// The outcome.
    pub y: f64,
}

/// A household panel. `cohort[u]` is the year household `u` joined (None:
/// never joined).
#[derive(Debug, Clone, Default)]
pub struct Panel {
    /// Every observation.
    pub obs: Vec<Obs>,
    /// Each household's year of joining (none: never a member).
    pub cohort: Vec<Option<i32>>,
    /// How many clusters there are.
    pub n_clusters: usize,
}

/// Comparison households for Callaway & Sant'Anna.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// Households that never joined.
    NeverTreated,
    /// Households that never joined, and those that joined later.
    NotYetTreated,
}

impl Control {
    /// The group as the table names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Control::NeverTreated => "never_treated",
            Control::NotYetTreated => "not_yet_treated",
        }
    }
}

/// An estimate with its standard error and sample sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The estimate.
    pub est: f64,
    /// Its standard error, clustered.
    pub se: f64,
    /// Observations used.
    pub n_obs: usize,
    /// Households used.
    pub n_units: usize,
    /// Of them, members who joined.
    pub n_treated: usize,
    /// Clusters.
    pub n_clusters: usize,
}

impl Estimate {
    /// The 95 % confidence interval (normal).
    pub fn ci(&self) -> (f64, f64) {
        (self.est - Z95 * self.se, self.est + Z95 * self.se)
    }
}

/// Inverts a symmetric positive definite matrix (Gauss–Jordan with
/// partial pivoting); `None` when it is singular.
fn invert(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let k = a.len();
    let mut m: Vec<Vec<f64>> = a
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut r = row.clone();
            r.extend((0..k).map(|j| if i == j { 1.0 } else { 0.0 }));
            r
        })
        .collect();
    let scale = (0..k)
        .map(|i| a[i][i].abs())
        .fold(0.0, f64::max)
        .max(1e-300);
    for c in 0..k {
        let p = (c..k).max_by(|&x, &y| m[x][c].abs().total_cmp(&m[y][c].abs()))?;
        if m[p][c].abs() <= 1e-10 * scale {
            return None;
        }
        m.swap(c, p);
        let d = m[c][c];
        for v in m[c].iter_mut() {
            *v /= d;
        }
        let pivot = m[c].clone();
        for (r, row) in m.iter_mut().enumerate() {
            let f = row[c];
            if r != c && f != 0.0 {
                for (x, p) in row.iter_mut().zip(&pivot) {
                    *x -= f * p;
                }
            }
        }
    }
    Some(m.into_iter().map(|r| r[k..].to_vec()).collect())
}

/// OLS of household-demeaned y on household-demeaned regressors with
/// cluster-robust variance. Returns coefficients and their standard errors.
/// Small-sample factor G/(G−1)·(N−1)/(N−K), K = regressors + 1 (the
/// constant absorbed by the household effects), as Stata's `xtreg, fe
/// vce(cluster)`.
struct Fit {
    beta: Vec<f64>,
    se: Vec<f64>,
    n_obs: usize,
    n_units: usize,
    n_clusters: usize,
}

fn within_ols(
    obs: &[Obs],
    x: &[Vec<f64>],
    n_units: usize,
    n_clusters: usize,
) -> Result<Fit, String> {
    let k = x.first().map_or(0, Vec::len);
    // households with one observation carry no within information
    let mut count = vec![0usize; n_units];
    for o in obs {
        count[o.unit] += 1;
    }
    let keep: Vec<usize> = (0..obs.len()).filter(|&i| count[obs[i].unit] > 1).collect();
    let (xt, yt) = demeaned(obs, x, &keep, &count);
    let n = keep.len();
    let distinct = |ids: &mut Vec<usize>| {
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    };
    let n_kept_units = distinct(&mut keep.iter().map(|&i| obs[i].unit).collect());
    let g = distinct(&mut keep.iter().map(|&i| obs[i].cluster).collect());
    let n_cluster_ids = keep.iter().map(|&i| obs[i].cluster + 1).max().unwrap_or(0);
    let _ = n_clusters;
    if n <= k + 1 || g < 2 {
        return Err(format!(
            "too few observations or clusters ({n} observations, {g} clusters)"
        ));
    }
    let mut xtx = vec![vec![0.0; k]; k];
    let mut xty = vec![0.0; k];
    for (xi, yi) in xt.chunks_exact(k.max(1)).zip(&yt) {
        for a in 0..k {
            xty[a] += xi[a] * yi;
            for b in 0..k {
                xtx[a][b] += xi[a] * xi[b];
            }
        }
    }
    let inv = invert(&xtx).ok_or("the regressors are collinear")?;
    let beta: Vec<f64> = (0..k)
        .map(|a| (0..k).map(|b| inv[a][b] * xty[b]).sum())
        .collect();
    let scores = cluster_scores(obs, &keep, (&xt, &yt), &beta, n_cluster_ids);
    let se = sandwich_se(&inv, &scores, k, (n, g));
    Ok(Fit {
        beta,
        se,
        n_obs: n,
        n_units: n_kept_units,
        n_clusters: g,
    })
}

/// The kept observations' outcome and regressors less their household's
/// mean (the within transformation), as flat arrays: a panel is hundreds
/// of thousands of observations.
fn demeaned(obs: &[Obs], x: &[Vec<f64>], keep: &[usize], count: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let k = x.first().map_or(0, Vec::len);
    let n_units = count.len();
    let mut sum_y = vec![0.0; n_units];
    let mut sum_x = vec![0.0; n_units * k];
    for &i in keep {
        let u = obs[i].unit;
        sum_y[u] += obs[i].y;
        for j in 0..k {
            sum_x[u * k + j] += x[i][j];
        }
    }
    let mut xt = Vec::with_capacity(keep.len() * k);
    let mut yt = Vec::with_capacity(keep.len());
    for &i in keep {
        let u = obs[i].unit;
        let c = count[u] as f64;
        yt.push(obs[i].y - sum_y[u] / c);
        xt.extend((0..k).map(|j| x[i][j] - sum_x[u * k + j] / c));
    }
    (xt, yt)
}

/// Each cluster's score (regressors times residual, summed), by cluster
/// id, flat (`k` per cluster); a cluster without observations adds
/// nothing.
fn cluster_scores(
    obs: &[Obs],
    keep: &[usize],
    (xt, yt): (&[f64], &[f64]),
    beta: &[f64],
    n_cluster_ids: usize,
) -> Vec<f64> {
    let k = beta.len();
    let mut score = vec![0.0; n_cluster_ids * k];
    for (pos, &i) in keep.iter().enumerate() {
        let xi = &xt[pos * k..pos * k + k];
        let u = yt[pos] - (0..k).map(|a| xi[a] * beta[a]).sum::<f64>();
        let c = obs[i].cluster;
        for a in 0..k {
            score[c * k + a] += xi[a] * u;
        }
    }
    score
}

/// Cluster-robust standard errors: the sandwich (X'X)⁻¹ M (X'X)⁻¹ with the
/// clusters' scores as the meat and Stata's small-sample factor
/// g/(g−1) · (n−1)/(n−k−1).
fn sandwich_se(inv: &[Vec<f64>], score: &[f64], k: usize, (n, g): (usize, usize)) -> Vec<f64> {
    let mut meat = vec![vec![0.0; k]; k];
    for s in score.chunks_exact(k.max(1)) {
        for a in 0..k {
            for b in 0..k {
                meat[a][b] += s[a] * s[b];
            }
        }
    }
    let factor = (g as f64 / (g as f64 - 1.0)) * ((n as f64 - 1.0) / (n as f64 - k as f64 - 1.0));
    let mut se = vec![0.0; k];
    for (a, se_a) in se.iter_mut().enumerate() {
        let mut v = 0.0;
        for b in 0..k {
            for c in 0..k {
                v += inv[a][b] * meat[b][c] * inv[c][a];
            }
        }
        *se_a = (factor * v).max(0.0).sqrt();
    }
    se
}

fn years(p: &Panel) -> Vec<i32> {
    let s: BTreeSet<i32> = p.obs.iter().map(|o| o.year).collect();
    s.into_iter().collect()
}

fn year_dummies(years: &[i32], y: i32) -> impl Iterator<Item = f64> + '_ {
    years[1..]
        .iter()
        .map(move |&t| if t == y { 1.0 } else { 0.0 })
}

fn treated_units(p: &Panel, obs: &[Obs]) -> usize {
    let s: BTreeSet<usize> = obs
        .iter()
        .filter(|o| p.cohort[o.unit].is_some())
        .map(|o| o.unit)
        .collect();
    s.len()
}

/// Two-way fixed effects (household and year) difference in differences:
/// y = α_household + λ_year + β·member_since_joining + ε.
pub fn twfe(p: &Panel) -> Result<Estimate, String> {
    let ys = years(p);
    if ys.len() < 2 {
        return Err("fewer than two years of data".into());
    }
    let d = |o: &Obs| p.cohort[o.unit].is_some_and(|g| o.year >= g);
    if !p.obs.iter().any(&d) {
        return Err("no member household observed after joining".into());
    }
    if !p.obs.iter().any(|o| !d(o)) {
        return Err("no comparison observations (every household already joined)".into());
    }
    // β is identified by households seen both before and after joining
    let mut seen: BTreeMap<usize, (bool, bool)> = BTreeMap::new();
    for o in &p.obs {
        let e = seen.entry(o.unit).or_default();
        if d(o) {
            e.1 = true;
        } else {
            e.0 = true;
        }
    }
    if !seen.values().any(|&(before, after)| before && after) {
        return Err(
            "no member household observed both before and after joining (all joined before the first year observed)"
                .into(),
        );
    }
    let x: Vec<Vec<f64>> = p
        .obs
        .iter()
        .map(|o| {
            std::iter::once(if d(o) { 1.0 } else { 0.0 })
                .chain(year_dummies(&ys, o.year))
                .collect()
        })
        .collect();
    let f = within_ols(&p.obs, &x, p.cohort.len(), p.n_clusters)?;
    Ok(Estimate {
        est: f.beta[0],
        se: f.se[0],
        n_obs: f.n_obs,
        n_units: f.n_units,
        n_treated: treated_units(p, &p.obs),
        n_clusters: f.n_clusters,
    })
}

/// Event study: one coefficient per year relative to joining (the year
/// before joining, −1, is the reference), household and year effects.
pub fn event_study(p: &Panel) -> Result<Vec<(i32, Estimate)>, String> {
    let ys = years(p);
    if ys.len() < 2 {
        return Err("fewer than two years of data".into());
    }
    let rel = |o: &Obs| p.cohort[o.unit].map(|g| o.year - g);
    let es: Vec<i32> = {
        let s: BTreeSet<i32> = p.obs.iter().filter_map(rel).filter(|&e| e != -1).collect();
        s.into_iter().collect()
    };
    if es.is_empty() {
        return Err("no member household observed".into());
    }
    if !p.obs.iter().any(|o| rel(o) == Some(-1)) {
        return Err("no member household observed in the year before joining".into());
    }
    let x: Vec<Vec<f64>> = p
        .obs
        .iter()
        .map(|o| {
            let r = rel(o);
            es.iter()
                .map(|&e| if r == Some(e) { 1.0 } else { 0.0 })
                .chain(year_dummies(&ys, o.year))
                .collect()
        })
        .collect();
    let f = within_ols(&p.obs, &x, p.cohort.len(), p.n_clusters)?;
    Ok(es
        .iter()
        .enumerate()
        .map(|(j, &e)| {
            let n_treated = {
                let s: BTreeSet<usize> = p
                    .obs
                    .iter()
                    .filter(|o| rel(o) == Some(e))
                    .map(|o| o.unit)
                    .collect();
                s.len()
            };
            (
                e,
                Estimate {
                    est: f.beta[j],
                    se: f.se[j],
                    n_obs: f.n_obs,
                    n_units: f.n_units,
                    n_treated,
                    n_clusters: f.n_clusters,
                },
            )
        })
        .collect())
}

/// One group-time cell: ATT(g,t), or why it cannot be estimated.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The cohort: the year its households joined.
    pub group: i32,
    /// The year.
    pub time: i32,
    /// ATT(g,t), or why it cannot be estimated.
    pub result: Result<Estimate, String>,
}

/// Callaway & Sant'Anna results: cells and aggregations.
#[derive(Debug, Clone, Default)]
pub struct CsResult {
    /// Every group-time cell.
    pub cells: Vec<Cell>,
    /// The cells after joining, weighted by the cohorts' sizes.
    pub simple: Option<Result<Estimate, String>>,
    /// Each cohort's effect.
    pub by_group: Vec<(i32, Estimate)>,
    /// The cohorts' effects, weighted by their sizes.
    pub group_overall: Option<Estimate>,
    /// By event time (years since joining).
    pub by_event: Vec<(i32, Estimate)>,
    /// Mean of the event-time effects over e ≥ 0.
    pub event_overall: Option<Estimate>,
    /// By calendar year.
    pub by_calendar: Vec<(i32, Estimate)>,
    /// The mean of the calendar-year effects.
    pub calendar_overall: Option<Estimate>,
}

struct CellIf {
    g: i32,
    t: i32,
    att: f64,
    /// influence function over the CS sample's units
    psi: Vec<f64>,
}

/// Callaway & Sant'Anna (2021) ATT(g,t) without covariates, "varying"
/// base period (t−1 before joining, g−1 after), with analytic standard
/// errors from the influence function summed within clusters. Households
/// observed as members from the first year on (no year before joining in
/// the data) are left out, as in the `did` R package.
pub fn callaway_santanna(p: &Panel, control: Control) -> Result<CsResult, String> {
    let cs = CsPanel::new(p, control)?;
    let mut res = CsResult::default();
    let mut ifs: Vec<CellIf> = Vec::new();
    for &g in &cs.groups {
        for &t in &cs.ys[1..] {
            let (cell, influence) = cs.cell(g, t);
            res.cells.push(cell);
            ifs.extend(influence);
        }
    }
    let post: Vec<&CellIf> = ifs.iter().filter(|c| c.t >= c.g).collect();
    res.simple = Some(
        cs.aggregate(&post)
            .ok_or_else(|| "no estimable cell after joining".to_string()),
    );
    cs.by_group(&post, &mut res);
    cs.by_event(&ifs, &post, &mut res);
    cs.by_calendar(&post, &mut res);
    Ok(res)
}

/// A panel made ready for Callaway & Sant'Anna: the households that can
/// be compared (observed in a year before they joined), their outcomes by
/// year, their clusters, and the cohorts with their shares.
struct CsPanel<'p> {
    p: &'p Panel,
    control: Control,
    /// The years observed, in order.
    ys: Vec<i32>,
    /// Outcome by (unit, year index), dense: `unit * ys.len() + j`.
    yv: Vec<Option<f64>>,
    /// The households of the sample, and each one's place in it.
    units: Vec<usize>,
    pos: Vec<usize>,
    /// The cluster of each household of the sample (by place).
    cluster_of: Vec<usize>,
    /// Observations of the sample's households.
    n_obs: usize,
    /// The cohorts that joined within the years observed, with their
    /// share of the sample.
    groups: Vec<i32>,
    pg: BTreeMap<i32, f64>,
    total_clusters: usize,
}

impl<'p> CsPanel<'p> {
    fn new(p: &'p Panel, control: Control) -> Result<CsPanel<'p>, String> {
        let ys = years(p);
        let Some(&first) = ys.first() else {
            return Err("no observations".into());
        };
        // a later row of the same household and year replaces an earlier one
        let ny = ys.len();
        let mut yv: Vec<Option<f64>> = vec![None; p.cohort.len() * ny];
        for o in &p.obs {
            if let Ok(j) = ys.binary_search(&o.year) {
                if let Some(cell) = yv.get_mut(o.unit * ny + j) {
                    *cell = Some(o.y);
                }
            }
        }
        let units: Vec<usize> = {
            let s: BTreeSet<usize> = p
                .obs
                .iter()
                .map(|o| o.unit)
                .filter(|&u| p.cohort[u].is_none_or(|g| g > first))
                .collect();
            s.into_iter().collect()
        };
        let n = units.len();
        if n == 0 {
            return Err("no households with a year before joining".into());
        }
        let mut pos = vec![usize::MAX; p.cohort.len()];
        for (i, &u) in units.iter().enumerate() {
            pos[u] = i;
        }
        let mut first_cluster: BTreeMap<usize, usize> = BTreeMap::new();
        for o in &p.obs {
            first_cluster.entry(o.unit).or_insert(o.cluster);
        }
        let cluster_of: Vec<usize> = units
            .iter()
            .map(|u| first_cluster.get(u).copied().unwrap_or(0))
            .collect();
        let n_obs = p.obs.iter().filter(|o| pos_has(&units, o.unit)).count();
        let groups: Vec<i32> = {
            let s: BTreeSet<i32> = units.iter().filter_map(|&u| p.cohort[u]).collect();
            s.into_iter().filter(|g| ys.contains(g)).collect()
        };
        if groups.is_empty() {
            return Err("no households that joined within the years observed".into());
        }
        if !units.iter().any(|&u| p.cohort[u].is_none()) && control == Control::NeverTreated {
            return Err("no never-member comparison households".into());
        }
        let pg: BTreeMap<i32, f64> = groups
            .iter()
            .map(|&g| {
                let c = units.iter().filter(|&&u| p.cohort[u] == Some(g)).count();
                (g, c as f64 / n as f64)
            })
            .collect();
        let total_clusters = cluster_of.iter().collect::<BTreeSet<_>>().len();
        Ok(CsPanel {
            p,
            control,
            ys,
            yv,
            units,
            pos,
            cluster_of,
            n_obs,
            groups,
            pg,
            total_clusters,
        })
    }

    /// The sample's size.
    fn n(&self) -> usize {
        self.units.len()
    }

    /// Household `u`'s outcome in year `t`.
    fn y_of(&self, u: usize, t: i32) -> Option<f64> {
        let ny = self.ys.len();
        let j = self.ys.binary_search(&t).ok()?;
        self.yv.get(u * ny + j).copied().flatten()
    }

    /// Whether household `u` compares with cohort `g` from `base` to `t`:
    /// never a member, or (not-yet-treated) joining after both years.
    fn is_control(&self, u: usize, g: i32, base: i32, t: i32) -> bool {
        match (self.control, self.p.cohort[u]) {
            (_, None) => true,
            (Control::NotYetTreated, Some(h)) => h != g && h > t.max(base),
            _ => false,
        }
    }

    /// ATT(g,t) from the change since the base year (t−1 before joining,
    /// g−1 after), with its influence function; or why it cannot be
    /// estimated.
    fn cell(&self, g: i32, t: i32) -> (Cell, Option<CellIf>) {
        let base = if t >= g { g - 1 } else { t - 1 };
        let failed = |why: String| {
            let cell = Cell {
                group: g,
                time: t,
                result: Err(why),
            };
            (cell, None)
        };
        if !self.ys.contains(&base) {
            return failed(format!("no data for the base year {base}"));
        }
        let mut tr: Vec<(usize, f64)> = Vec::new();
        let mut co: Vec<(usize, f64)> = Vec::new();
        for &u in &self.units {
            let (Some(a), Some(b)) = (self.y_of(u, t), self.y_of(u, base)) else {
                continue;
            };
            if self.p.cohort[u] == Some(g) {
                tr.push((u, a - b));
            } else if self.is_control(u, g, base, t) {
                co.push((u, a - b));
            }
        }
        if tr.is_empty() {
            return failed(format!(
                "no households of cohort {g} observed in {base} and {t}"
            ));
        }
        if co.is_empty() {
            return failed(format!(
                "no comparison households observed in {base} and {t}"
            ));
        }
        let n = self.n();
        let mt = tr.iter().map(|x| x.1).sum::<f64>() / tr.len() as f64;
        let mc = co.iter().map(|x| x.1).sum::<f64>() / co.len() as f64;
        let mut psi = vec![0.0; n];
        let (nt, nc) = (tr.len() as f64, co.len() as f64);
        for &(u, d) in &tr {
            psi[self.pos[u]] = n as f64 / nt * (d - mt);
        }
        for &(u, d) in &co {
            psi[self.pos[u]] = -(n as f64) / nc * (d - mc);
        }
        let att = mt - mc;
        let clusters: BTreeSet<usize> = tr
            .iter()
            .chain(&co)
            .map(|&(u, _)| self.cluster_of[self.pos[u]])
            .collect();
        let estimate = Estimate {
            est: att,
            se: if_se(&psi, &self.cluster_of, n),
            n_obs: 2 * (tr.len() + co.len()),
            n_units: tr.len() + co.len(),
            n_treated: tr.len(),
            n_clusters: clusters.len(),
        };
        let cell = Cell {
            group: g,
            time: t,
            result: Ok(estimate),
        };
        (cell, Some(CellIf { g, t, att, psi }))
    }

    /// The sample's households of the cohorts of `cells`.
    fn treated_in(&self, cells: &[&CellIf]) -> usize {
        let gs: BTreeSet<i32> = cells.iter().map(|c| c.g).collect();
        self.units
            .iter()
            .filter(|&&u| self.p.cohort[u].is_some_and(|g| gs.contains(&g)))
            .count()
    }

    /// An estimate over the whole sample.
    fn whole(&self, est: f64, psi: &[f64], n_treated: usize) -> Estimate {
        Estimate {
            est,
            se: if_se(psi, &self.cluster_of, self.n()),
            n_obs: self.n_obs,
            n_units: self.n(),
            n_treated,
            n_clusters: self.total_clusters,
        }
    }

    /// The cells weighted by their cohorts' shares.
    fn aggregate(&self, cells: &[&CellIf]) -> Option<Estimate> {
        let (est, se) = weighted_by_group(
            cells,
            &self.pg,
            &self.units,
            self.p,
            &self.cluster_of,
            self.n(),
        )?;
        Some(Estimate {
            est,
            se,
            n_obs: self.n_obs,
            n_units: self.n(),
            n_treated: self.treated_in(cells),
            n_clusters: self.total_clusters,
        })
    }

    /// By cohort: equal weights over the cohort's cells after joining;
    /// and the cohorts' effects weighted by their shares.
    fn by_group(&self, post: &[&CellIf], res: &mut CsResult) {
        let n = self.n();
        let mut group_est: Vec<CellIf> = Vec::new();
        for &g in &self.groups {
            let cs: Vec<&CellIf> = post.iter().copied().filter(|c| c.g == g).collect();
            if cs.is_empty() {
                continue;
            }
            let k = cs.len() as f64;
            let est = cs.iter().map(|c| c.att).sum::<f64>() / k;
            let psi: Vec<f64> = (0..n)
                .map(|i| cs.iter().map(|c| c.psi[i]).sum::<f64>() / k)
                .collect();
            let treated = self
                .units
                .iter()
                .filter(|&&u| self.p.cohort[u] == Some(g))
                .count();
            res.by_group.push((g, self.whole(est, &psi, treated)));
            group_est.push(CellIf {
                g,
                t: g,
                att: est,
                psi,
            });
        }
        if !group_est.is_empty() {
            let refs: Vec<&CellIf> = group_est.iter().collect();
            res.group_overall = self.aggregate(&refs);
        }
    }

    /// By event time e = t − g; the overall effect is the mean of θ(e)
    /// over e ≥ 0, its influence function the mean of theirs (R's did,
    /// `aggte(type = "dynamic")`).
    fn by_event(&self, ifs: &[CellIf], post: &[&CellIf], res: &mut CsResult) {
        let n = self.n();
        let events: BTreeSet<i32> = ifs.iter().map(|c| c.t - c.g).collect();
        let mut event_psi: Vec<(f64, Vec<f64>)> = Vec::new();
        for e in events {
            let cs: Vec<&CellIf> = ifs.iter().filter(|c| c.t - c.g == e).collect();
            if let Some(est) = self.aggregate(&cs) {
                res.by_event.push((e, est));
            }
            if e >= 0 {
                if let Some(x) = weighted_if(&cs, &self.pg, &self.units, self.p, n) {
                    event_psi.push(x);
                }
            }
        }
        res.event_overall = self.overall(&event_psi, post);
    }

    /// By calendar year after joining, and their mean.
    fn by_calendar(&self, post: &[&CellIf], res: &mut CsResult) {
        let n = self.n();
        let mut cal_psi: Vec<(f64, Vec<f64>)> = Vec::new();
        for &t in &self.ys {
            let cs: Vec<&CellIf> = post.iter().copied().filter(|c| c.t == t).collect();
            if cs.is_empty() {
                continue;
            }
            if let Some((est, psi)) = weighted_if(&cs, &self.pg, &self.units, self.p, n) {
                res.by_calendar
                    .push((t, self.whole(est, &psi, self.treated_in(&cs))));
                cal_psi.push((est, psi));
            }
        }
        res.calendar_overall = self.overall(&cal_psi, post);
    }

    /// An overall effect: the plain mean of estimates and of their
    /// influence functions, over all members who joined.
    fn overall(&self, parts: &[(f64, Vec<f64>)], post: &[&CellIf]) -> Option<Estimate> {
        mean_if(parts, self.n()).map(|(est, psi)| self.whole(est, &psi, self.treated_in(post)))
    }
}

/// The equal-weight mean of estimates and of their influence functions
/// (`n` units); none for no parts.
fn mean_if(parts: &[(f64, Vec<f64>)], n: usize) -> Option<(f64, Vec<f64>)> {
    if parts.is_empty() {
        return None;
    }
    let k = parts.len() as f64;
    let est = parts.iter().map(|c| c.0).sum::<f64>() / k;
    let psi = (0..n)
        .map(|i| parts.iter().map(|c| c.1[i]).sum::<f64>() / k)
        .collect();
    Some((est, psi))
}

fn pos_has(sorted_units: &[usize], u: usize) -> bool {
    sorted_units.binary_search(&u).is_ok()
}

/// Standard error from an influence function: sqrt(Σ_c (Σ_{i∈c} ψ_i)²)/n.
fn if_se(psi: &[f64], cluster_of: &[usize], n: usize) -> f64 {
    let mut by: BTreeMap<usize, f64> = BTreeMap::new();
    for (i, &v) in psi.iter().enumerate() {
        *by.entry(cluster_of[i]).or_default() += v;
    }
    by.values().map(|s| s * s).sum::<f64>().sqrt() / n as f64
}

/// Group-size weighted average of cells and its influence function,
/// including the part that comes from estimating the weights (as the
/// `did` package's `aggte`).
fn weighted_if(
    cells: &[&CellIf],
    pg: &BTreeMap<i32, f64>,
    units: &[usize],
    p: &Panel,
    n: usize,
) -> Option<(f64, Vec<f64>)> {
    if cells.is_empty() {
        return None;
    }
    let w: Vec<f64> = cells
        .iter()
        .map(|c| pg.get(&c.g).copied().unwrap_or(0.0))
        .collect();
    let sw: f64 = w.iter().sum();
    if sw <= 0.0 {
        return None;
    }
    let est: f64 = cells.iter().zip(&w).map(|(c, wk)| wk / sw * c.att).sum();
    let mut psi = vec![0.0; n];
    for (i, &u) in units.iter().enumerate() {
        let gi = p.cohort[u];
        let ind = |g: i32| if gi == Some(g) { 1.0 } else { 0.0 };
        let s2: f64 = cells.iter().zip(&w).map(|(c, wk)| ind(c.g) - wk).sum();
        let mut v = 0.0;
        for (c, wk) in cells.iter().zip(&w) {
            let wif = (ind(c.g) - wk) / sw - wk * s2 / (sw * sw);
            v += wk / sw * c.psi[i] + wif * c.att;
        }
        psi[i] = v;
    }
    Some((est, psi))
}

fn weighted_by_group(
    cells: &[&CellIf],
    pg: &BTreeMap<i32, f64>,
    units: &[usize],
    p: &Panel,
    cluster_of: &[usize],
    n: usize,
) -> Option<(f64, f64)> {
    let (est, psi) = weighted_if(cells, pg, units, p, n)?;
    Some((est, if_se(&psi, cluster_of, n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invert_solves_a_small_system_and_refuses_a_singular_one() {
        let a = vec![vec![4.0, 2.0], vec![2.0, 3.0]];
        let inv = invert(&a).unwrap();
        // inverse of [[4,2],[2,3]] is 1/8 · [[3,−2],[−2,4]]
        assert!((inv[0][0] - 0.375).abs() < 1e-12);
        assert!((inv[0][1] + 0.25).abs() < 1e-12);
        assert!((inv[1][1] - 0.5).abs() < 1e-12);
        assert!(invert(&[vec![1.0, 2.0], vec![2.0, 4.0]]).is_none());
    }

    /// A member who joined before the first year observed identifies
    /// nothing: each estimator says so instead of returning a number.
    #[test]
    fn members_without_a_year_before_joining_are_not_estimable() {
        let mut obs = Vec::new();
        for (u, a, b) in [(0, 10.0, 15.0), (1, 10.0, 12.0)] {
            obs.push(Obs {
                unit: u,
                cluster: u,
                year: 2023,
                y: a,
            });
            obs.push(Obs {
                unit: u,
                cluster: u,
                year: 2024,
                y: b,
            });
        }
        let p = Panel {
            obs,
            cohort: vec![Some(2021), None],
            n_clusters: 2,
        };
        let e = twfe(&p).unwrap_err();
        assert!(
            e.starts_with("no member household observed both before and after"),
            "{e}"
        );
        let e = event_study(&p).unwrap_err();
        assert!(e.contains("year before joining"), "{e}");
        let e = callaway_santanna(&p, Control::NeverTreated).unwrap_err();
        assert_eq!(e, "no households that joined within the years observed");
    }

    /// Two households, two years, one joins in year 2: the DiD is the
    /// difference of the two changes: (15 − 10) − (12 − 10) = 3.
    #[test]
    fn two_by_two_did_is_the_difference_of_changes() {
        let mut obs = Vec::new();
        // treated: 10 → 15, controls: 10 → 12 and 20 → 22
        for (u, c, a, b) in [(0, 0, 10.0, 15.0), (1, 1, 10.0, 12.0), (2, 2, 20.0, 22.0)] {
            obs.push(Obs {
                unit: u,
                cluster: c,
                year: 2023,
                y: a,
            });
            obs.push(Obs {
                unit: u,
                cluster: c,
                year: 2024,
                y: b,
            });
        }
        let p = Panel {
            obs,
            cohort: vec![Some(2024), None, None],
            n_clusters: 3,
        };
        let t = twfe(&p).unwrap();
        assert!((t.est - 3.0).abs() < 1e-9, "{t:?}");
        let cs = callaway_santanna(&p, Control::NeverTreated).unwrap();
        let s = cs.simple.unwrap().unwrap();
        assert!((s.est - 3.0).abs() < 1e-9);
        assert_eq!(s.n_treated, 1);
    }
}
