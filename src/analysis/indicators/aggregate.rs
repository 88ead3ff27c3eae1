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

/// Adds unit rows up per level.
pub fn aggregate(
    idx: usize,
    ind: &Indicator,
    units: &Units,
    geo: &Geo,
    city: (&str, &str),
) -> Vec<IndicatorRow> {
    // townships: the first 9 digits of a village code
    let mut towns = Interner::default();
    let mut town_of: HashMap<u32, u32> = HashMap::new();
    for r in &units.rows {
        if let Some(v) = units.text(r.village).filter(|v| v.len() >= 9) {
            let t = towns.id(Some(&v[..9]));
            town_of.insert(r.village, t);
        }
    }
    let village_level = ind.def.village_rows;
    type Key = (u32, u32, Level, u32);
    let mut accs: HashMap<Key, Acc> = HashMap::new();
    // with `once_per_unit`, the (area, unit) pairs already counted
    let mut counted: std::collections::HashSet<(Key, u32)> = std::collections::HashSet::new();
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
            if let Some(v) = r.num {
                match ind.def.aggregate {
                    Aggregate::Ratio | Aggregate::Share => {
                        if let Some(d) = r.den {
                            a.num += v;
                            a.den += d;
                        }
                    }
                    Aggregate::Sum => a.num += v,
                    Aggregate::Mean | Aggregate::Median => {
                        a.num += v;
                        a.vals.push(v);
                    }
                }
            }
            if r.village != NONE {
                a.villages.push(r.village);
                if r.reported {
                    a.reporting.push(r.village);
                }
            }
            a.units.push(r.unit);
        }
    }
    let scale = ind.def.scale;
    // a share's denominator is the whole distribution of the area
    let mut totals: HashMap<(u32, Level, u32), f64> = HashMap::new();
    if ind.def.aggregate == Aggregate::Share {
        // added in key order, so the total is the same on every run
        let mut keys: Vec<&Key> = accs.keys().collect();
        keys.sort_unstable();
        for k in keys {
            *totals.entry((k.0, k.2, k.3)).or_default() += accs[k].den;
        }
    }
    let town_names = towns.strings;
    // the registry as of each period: today's plus villages merged later
    let mut later: HashMap<u32, crate::analysis::tables::MergedLater> = HashMap::new();
    if !geo.merged_later.is_empty() {
        for k in accs.keys() {
            later
                .entry(k.0)
                .or_insert_with(|| geo.merged_after(units.text(k.0).unwrap_or_default()));
        }
    }
    let mut out: Vec<IndicatorRow> = accs
        .into_iter()
        .map(|((period, category, level, code), mut a)| {
            let (value, numerator, denominator) = match ind.def.aggregate {
                Aggregate::Share => {
                    let total = totals.get(&(period, level, code)).copied().unwrap_or(0.0);
                    (
                        (total != 0.0).then(|| scale * a.num / total),
                        Some(a.num),
                        Some(total),
                    )
                }
                Aggregate::Ratio => (
                    (a.den != 0.0).then(|| scale * a.num / a.den),
                    Some(a.num),
                    Some(a.den),
                ),
                Aggregate::Sum => (Some(scale * a.num), Some(a.num), None),
                Aggregate::Mean => {
                    let n = a.vals.len() as f64;
                    ((n > 0.0).then(|| scale * a.num / n), Some(a.num), Some(n))
                }
                Aggregate::Median => {
                    let n = a.vals.len() as f64;
                    (median(&mut a.vals).map(|m| scale * m), None, Some(n))
                }
            };
            let text = |i: u32| units.text(i).unwrap_or_default().to_string();
            let extra = later.get(&period);
            let (geo_code, geo_name, registry) = match level {
                Level::City => (
                    city.0.to_string(),
                    city.1.to_string(),
                    geo.villages_total + extra.map_or(0, |m| m.total),
                ),
                Level::County => {
                    let c = text(code);
                    let n = geo.county.get(&c).cloned().unwrap_or_default();
                    let k = geo.villages_in_county.get(&c).copied().unwrap_or(0)
                        + extra.and_then(|m| m.county.get(&c)).copied().unwrap_or(0);
                    (c, n, k)
                }
                Level::Township => {
                    let t = town_names[code as usize].clone();
                    let n = geo.township.get(&t).cloned().unwrap_or_default();
                    let k = geo.villages_in_township.get(&t).copied().unwrap_or(0)
                        + extra.and_then(|m| m.township.get(&t)).copied().unwrap_or(0);
                    (t, n, k)
                }
                Level::Village => {
                    let v = text(code);
                    let n = geo.village.get(&v).cloned().unwrap_or_default();
                    (v, n, 1)
                }
            };
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
        for r in out
            .iter_mut()
            .filter(|r| r.level == Level::Village && r.rank.is_none())
        {
            r.note = Some(
                if r.villages_reporting == 0 {
                    "未排名：本期未报送（not ranked: nothing reported for the period）"
                } else {
                    "未排名：得分缺失（not ranked: the score is missing）"
                }
                .to_string(),
            );
        }
    }
    out.sort_by(|a, b| {
        (&a.period, &a.category, a.level, &a.geo_code).cmp(&(
            &b.period,
            &b.category,
            b.level,
            &b.geo_code,
        ))
    });
    out
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
