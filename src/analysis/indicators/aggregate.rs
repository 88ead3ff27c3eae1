//! Unit rows added up per city, county, township (and village where
//! asked): ratio, share, sum, mean or median, and ranks within a county.

use super::*;

#[derive(Default)]
pub(super) struct Acc {
    pub(super) num: f64,
    pub(super) den: f64,
    pub(super) vals: Vec<f64>,
    pub(super) villages: Vec<u32>,
    pub(super) reporting: Vec<u32>,
    pub(super) units: Vec<u32>,
}

pub(super) fn distinct(mut v: Vec<u32>) -> u64 {
    v.sort_unstable();
    v.dedup();
    v.len() as u64
}

pub(super) fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The note of a village row of a ranked indicator that reported nothing.
pub const NOT_RANKED_UNREPORTED: &str =
    "未排名：本期未报送（not ranked: nothing reported for the period）";
/// The note of a village row of a ranked indicator without a score.
pub const NOT_RANKED_NO_SCORE: &str = "未排名：得分缺失（not ranked: the score is missing）";

/// Adds unit rows up per level.
pub fn aggregate(
    idx: usize,
    ind: &Indicator,
    units: &Units,
    geo: &Geo,
    city: (&str, &str),
) -> Vec<IndicatorRow> {
    let (accs, town_names) = accumulate(ind, units);
    let scale = ind.def.scale;
    let totals = share_totals(ind, &accs);
    // the registry as of each period: today's plus villages merged later
    let mut later: HashMap<u32, crate::analysis::tables::MergedLater> = HashMap::new();
    if !geo.merged_later.is_empty() {
        for k in accs.keys() {
            later
                .entry(k.0)
                .or_insert_with(|| geo.merged_after(units.text(k.0).unwrap_or_default()));
        }
    }
    let area = Areas {
        units,
        geo,
        town_names: &town_names,
        city,
    };
    let mut out: Vec<IndicatorRow> = accs
        .into_iter()
        .map(|((period, category, level, code), mut a)| {
            let total = totals.get(&(period, level, code)).copied();
            let (value, numerator, denominator) =
                figures(ind.def.aggregate, scale, a.num, a.den, &mut a.vals, total);
            let text = |i: u32| units.text(i).unwrap_or_default().to_string();
            let (geo_code, geo_name, registry) = area.place(level, code, later.get(&period));
            IndicatorRow {
                indicator: idx,
                category: units.text(category).map(str::to_string),
                period: text(period),
                period_used: text(period),
                level,
                geo_code,
                geo_name,
                value,
                numerator,
                denominator,
                villages_reporting: distinct(a.reporting),
                villages_registry: registry as u64,
                units: distinct(a.units),
                rank: None,
                note: None,
            }
        })
        .collect();
    if let Some(order) = ind.def.rank {
        rank_within_county(&mut out, order);
        note_unranked(&mut out);
    }
    // one indicator: its rows in the table's order
    sort_rows(&mut out);
    out
}

/// An area's sums by (period, category, level, area code).
type AreaKey = (u32, u32, Level, u32);

/// Every unit row added to the sums of the city, its county, its
/// township (the first 9 digits of its village code) and, for indicators
/// with village rows, its village; with the townships' codes by id.
fn accumulate(ind: &Indicator, units: &Units) -> (HashMap<AreaKey, Acc>, Vec<String>) {
    let mut towns = Interner::default();
    let mut town_of: HashMap<u32, u32> = HashMap::new();
    for r in &units.rows {
        if let Some(v) = units.text(r.village).filter(|v| v.len() >= 9) {
            let t = towns.id(Some(&v[..9]));
            town_of.insert(r.village, t);
        }
    }
    let village_level = ind.def.village_rows;
    let mut accs: HashMap<AreaKey, Acc> = HashMap::new();
    // with `once_per_unit`, the (area, unit) pairs already counted
    let mut counted: std::collections::HashSet<(AreaKey, u32)> = std::collections::HashSet::new();
    for r in &units.rows {
        let mut keys = [
            (Level::City, 0),
            (Level::County, r.county),
            (Level::Township, NONE),
            (Level::Village, NONE),
        ];
        let mut n = 2;
        if let Some(&t) = town_of.get(&r.village) {
            keys[2] = (Level::Township, t);
            n = 3;
            if village_level {
                keys[3] = (Level::Village, r.village);
                n = 4;
            }
        }
        for &(level, code) in &keys[..n] {
            let key = (r.period, r.category, level, code);
            if ind.def.once_per_unit && !counted.insert((key, r.unit)) {
                continue;
            }
            let a = accs.entry(key).or_default();
            add_value(ind.def.aggregate, r, &mut a.num, &mut a.den, &mut a.vals);
            if r.village != NONE {
                a.villages.push(r.village);
                if r.reported {
                    a.reporting.push(r.village);
                }
            }
            a.units.push(r.unit);
        }
    }
    (accs, towns.strings)
}

/// A share's denominator: the whole distribution of the area, added in
/// key order so that the total is the same on every run.
fn share_totals(ind: &Indicator, accs: &HashMap<AreaKey, Acc>) -> HashMap<(u32, Level, u32), f64> {
    let mut totals: HashMap<(u32, Level, u32), f64> = HashMap::new();
    if ind.def.aggregate == Aggregate::Share {
        let mut keys: Vec<&AreaKey> = accs.keys().collect();
        keys.sort_unstable();
        for k in keys {
            *totals.entry((k.0, k.2, k.3)).or_default() += accs[k].den;
        }
    }
    totals
}

/// The names and registry counts an area's row shows.
struct Areas<'a> {
    units: &'a Units,
    geo: &'a Geo,
    town_names: &'a [String],
    city: (&'a str, &'a str),
}

impl Areas<'_> {
    /// An area's code, name and villages in the registry (with the
    /// villages merged after the period, `later`).
    fn place(
        &self,
        level: Level,
        code: u32,
        later: Option<&crate::analysis::tables::MergedLater>,
    ) -> (String, String, usize) {
        let geo = self.geo;
        let text = |i: u32| self.units.text(i).unwrap_or_default().to_string();
        match level {
            Level::City => (
                self.city.0.to_string(),
                self.city.1.to_string(),
                geo.villages_total + later.map_or(0, |m| m.total),
            ),
            Level::County => {
                let c = text(code);
                let n = geo.county.get(&c).cloned().unwrap_or_default();
                let k = geo.villages_in_county.get(&c).copied().unwrap_or(0)
                    + later.and_then(|m| m.county.get(&c)).copied().unwrap_or(0);
                (c, n, k)
            }
            Level::Township => {
                let t = self.town_names[code as usize].clone();
                let n = geo.township.get(&t).cloned().unwrap_or_default();
                let k = geo.villages_in_township.get(&t).copied().unwrap_or(0)
                    + later.and_then(|m| m.township.get(&t)).copied().unwrap_or(0);
                (t, n, k)
            }
            Level::Village => {
                let v = text(code);
                let n = geo.village.get(&v).cloned().unwrap_or_default();
                (v, n, 1)
            }
        }
    }
}

/// Why a village row has no rank: it reported nothing, or no score.
fn note_unranked(out: &mut [IndicatorRow]) {
    for r in out
        .iter_mut()
        .filter(|r| r.level == Level::Village && r.rank.is_none())
    {
        r.note = Some(
            if r.villages_reporting == 0 {
                NOT_RANKED_UNREPORTED
            } else {
                NOT_RANKED_NO_SCORE
            }
            .to_string(),
        );
    }
}

/// Adds one unit row's number to an area's sums (and values, for a mean
/// or median).
fn add_value(agg: Aggregate, r: &Unit, num: &mut f64, den: &mut f64, vals: &mut Vec<f64>) {
    let Some(v) = r.num else { return };
    match agg {
        Aggregate::Ratio | Aggregate::Share => {
            if let Some(d) = r.den {
                *num += v;
                *den += d;
            }
        }
        Aggregate::Sum => *num += v,
        Aggregate::Mean | Aggregate::Median => {
            *num += v;
            vals.push(v);
        }
    }
}

/// An area's value, numerator and denominator from its sums; `total` is
/// a share's Σ den over every category of the area.
fn figures(
    agg: Aggregate,
    scale: f64,
    num: f64,
    den: f64,
    vals: &mut [f64],
    total: Option<f64>,
) -> (Option<f64>, Option<f64>, Option<f64>) {
    match agg {
        Aggregate::Share => {
            let total = total.unwrap_or(0.0);
            (
                (total != 0.0).then(|| scale * num / total),
                Some(num),
                Some(total),
            )
        }
        Aggregate::Ratio => (
            (den != 0.0).then(|| scale * num / den),
            Some(num),
            Some(den),
        ),
        Aggregate::Sum => (Some(scale * num), Some(num), None),
        Aggregate::Mean => {
            let n = vals.len() as f64;
            ((n > 0.0).then(|| scale * num / n), Some(num), Some(n))
        }
        Aggregate::Median => {
            let n = vals.len() as f64;
            (median(vals).map(|m| scale * m), None, Some(n))
        }
    }
}

/// Text → one id for the whole indicator stage, so that the villages and
/// units of one province and the next are told apart or recognised.
#[derive(Default)]
pub(crate) struct NationIds {
    ids: HashMap<Box<str>, u32>,
}

impl NationIds {
    /// Ids with the registry's villages first, in code order: a city key
    /// counts most villages, and dense ids make its bitmaps dense (8 KiB
    /// per 65,536 ids) instead of two bytes a village.
    pub(crate) fn with_villages<'a>(codes: impl Iterator<Item = &'a String>) -> NationIds {
        let mut ids = NationIds::default();
        for c in codes {
            ids.id(c);
        }
        ids
    }

    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.ids.insert(s.into(), i);
        i
    }
}

/// One city-level area key's sums, and the villages, reporting villages
/// and units counted, by [`NationIds`].
#[derive(Default)]
struct CityAcc {
    num: f64,
    den: f64,
    vals: Vec<f64>,
    villages: roaring::RoaringBitmap,
    reporting: roaring::RoaringBitmap,
    units: roaring::RoaringBitmap,
}

/// The city rows of one indicator, added up a province at a time: the
/// same figures as one pass over every unit row (sums in province order,
/// each village and unit counted once over the nation).
#[derive(Default)]
pub(crate) struct CityRows {
    /// (period, category) → its sums
    accs: BTreeMap<(String, Option<String>), CityAcc>,
}

impl CityRows {
    /// Adds one province's unit rows.
    pub fn add(&mut self, ind: &Indicator, units: &Units, ids: &mut NationIds) {
        let mut gid = vec![NONE; units.strings.len()];
        let mut global = |i: u32, ids: &mut NationIds| -> u32 {
            let g = &mut gid[i as usize];
            if *g == NONE {
                *g = ids.id(&units.strings[i as usize]);
            }
            *g
        };
        let mut slot: Option<((u32, u32), &mut CityAcc)> = None;
        for r in &units.rows {
            // rows come sorted by period and category: one map lookup each
            if slot
                .as_ref()
                .is_none_or(|(k, _)| *k != (r.period, r.category))
            {
                let key = (
                    units.text(r.period).unwrap_or_default().to_string(),
                    units.text(r.category).map(str::to_string),
                );
                let a = self.accs.entry(key).or_default();
                slot = Some(((r.period, r.category), a));
            }
            let Some((_, a)) = slot.as_mut() else {
                continue;
            };
            let unit = global(r.unit, ids);
            if ind.def.once_per_unit && a.units.contains(unit) {
                continue;
            }
            add_value(ind.def.aggregate, r, &mut a.num, &mut a.den, &mut a.vals);
            if r.village != NONE {
                let v = global(r.village, ids);
                a.villages.insert(v);
                if r.reported {
                    a.reporting.insert(v);
                }
            }
            a.units.insert(unit);
        }
    }

    /// The city rows, sorted like [`aggregate`]'s.
    pub fn finish(
        mut self,
        idx: usize,
        ind: &Indicator,
        geo: &Geo,
        city: (&str, &str),
        year_ends: &BTreeMap<String, crate::analysis::tables::YearEnds>,
    ) -> Vec<IndicatorRow> {
        // a missing category after every category, as in `aggregate`
        let order = |k: &(String, Option<String>)| (k.0.clone(), k.1.is_none(), k.1.clone());
        let mut keys: Vec<(String, Option<String>)> = self.accs.keys().cloned().collect();
        keys.sort_by_key(order);
        let mut totals: HashMap<String, f64> = HashMap::new();
        if ind.def.aggregate == Aggregate::Share {
            for k in &keys {
                *totals.entry(k.0.clone()).or_default() += self.accs[k].den;
            }
        }
        let mut later: HashMap<String, usize> = HashMap::new();
        let mut out = Vec::new();
        for k in keys {
            let Some(mut a) = self.accs.remove(&k) else {
                continue;
            };
            let (period, category) = k;
            let total = totals.get(&period).copied();
            let (value, numerator, denominator) = figures(
                ind.def.aggregate,
                ind.def.scale,
                a.num,
                a.den,
                &mut a.vals,
                total,
            );
            let extra = if geo.merged_later.is_empty() {
                0
            } else {
                *later
                    .entry(period.clone())
                    .or_insert_with(|| geo.merged_after(&period).total)
            };
            out.push(IndicatorRow {
                indicator: idx,
                category,
                period_used: crate::analysis::tables::period_used_in(
                    year_ends,
                    &ind.def.dataset,
                    &period,
                    None,
                ),
                period,
                level: Level::City,
                geo_code: city.0.to_string(),
                geo_name: city.1.to_string(),
                value,
                numerator,
                denominator,
                villages_reporting: a.reporting.len(),
                villages_registry: (geo.villages_total + extra) as u64,
                units: a.units.len(),
                rank: None,
                note: None,
            });
        }
        out
    }
}

/// Rank 1 is the best village of its county (ties share the better rank).
pub(super) fn rank_within_county(rows: &mut [IndicatorRow], order: defs::RankOrder) {
    let mut groups: BTreeMap<(String, Option<String>, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.level == Level::Village && r.value.is_some() {
            groups
                .entry((
                    r.period.clone(),
                    r.category.clone(),
                    r.geo_code[..6].to_string(),
                ))
                .or_default()
                .push(i);
        }
    }
    for idxs in groups.values() {
        let vals: Vec<f64> = idxs.iter().filter_map(|&i| rows[i].value).collect();
        for &i in idxs {
            let Some(v) = rows[i].value else { continue };
            let better = vals
                .iter()
                .filter(|&&w| match order {
                    defs::RankOrder::Desc => w > v,
                    defs::RankOrder::Asc => w < v,
                })
                .count();
            rows[i].rank = Some(better as u64 + 1);
        }
    }
}
