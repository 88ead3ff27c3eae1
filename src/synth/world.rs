//! The synthetic world behind `synth`: counties, townships, villages and
//! everything the templates report about them, as canonical values.
//!
//! Every value is drawn from a random stream seeded by the world seed and
//! the village (or station, community…) it belongs to, so one template's
//! rows never depend on another's and the output is the same on every run.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::Result;
use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::write::{write_book, FileKind, Out, SheetOut};
use super::TrueRow;
use crate::catalogue::Code;
use crate::config::{Pipeline, Source};
use crate::normalise::value::Value;
use crate::synth::Scale;

/// Villages generated per scale.
pub(crate) const SCALES: [(Scale, usize); 3] = [
    (Scale::City, 1_800),
    (Scale::Province, 14_000),
    (Scale::National, 490_000),
];

/// The Nantong counties with their division codes.
const NANTONG: [(&str, &str); 7] = [
    ("崇川区", "320613"),
    ("通州区", "320612"),
    ("海门区", "320614"),
    ("如皋市", "320682"),
    ("海安市", "320685"),
    ("启东市", "320681"),
    ("如东县", "320623"),
];

/// Characters for place names. `彭` is kept out: synth uses it to make
/// village names the registry cannot know.
const PLACE: &str = "东西南北中新安和平丰华兴盛永乐福康宁泰昌隆祥瑞金银河湖湾桥庄园林山石田沙洲江滨堡营集望云龙凤鸣春秋光明晨阳德仁义礼信长庆嘉善吉顺通达启元高远青竹松柏梅兰桂荷花";
const SURNAME: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔向汤";
const GIVEN: &str =
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌宇浩凯鹏晨辉鑫波宁";
const INDUSTRY: [&str; 6] = ["果蔬", "水产", "花卉", "家禽", "电商", "粮油"];

#[derive(Debug, Clone)]
pub(crate) struct County {
    pub name: String,
    pub code: String,
    pub townships: Vec<String>,
}

/// A village of the synthetic world.
#[derive(Debug, Clone)]
pub struct Village {
    /// Its division code.
    pub code: String,
    /// Its county, by index.
    pub county: usize,
    /// Its township.
    pub township: String,
    /// Its name.
    pub name: String,
    /// A former name.
    pub former: Option<String>,
    /// 村 or 社区.
    pub kind: &'static str,
    /// The village it was merged into, by index.
    pub merged_into: Option<usize>,
    /// Its households.
    pub households: i64,
    /// Its own seed, for its values.
    pub seed: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Community {
    pub id: String,
    pub village: usize,
    pub name: String,
    pub founded: NaiveDate,
}

#[derive(Debug)]
pub(crate) struct World {
    pub seed: u64,
    pub from: i32,
    pub to: i32,
    pub counties: Vec<County>,
    pub villages: Vec<Village>,
    pub communities: Vec<Community>,
    by_code: BTreeMap<String, usize>,
    /// successor village → the merged village whose old name it may appear under
    merged_names: BTreeMap<usize, usize>,
    /// Per county, its active villages in order (a nation has 3,000 counties:
    /// no file may scan every village).
    active_of: Vec<Vec<usize>>,
    /// Per county and per village, their communities in order.
    communities_of_county: Vec<Vec<usize>>,
    communities_of_village: Vec<Vec<usize>>,
}

fn pick(rng: &mut ChaCha8Rng, s: &str) -> char {
    let chars: Vec<char> = s.chars().collect();
    chars[rng.gen_range(0..chars.len())]
}

fn stream(seed: u64, key: &str) -> ChaCha8Rng {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{seed}:{key}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    ChaCha8Rng::seed_from_u64(u64::from_le_bytes(b))
}

/// A valid 18-character resident ID number (GB 11643 check digit).
pub fn id_number(region: &str, birth: NaiveDate, seq: u32) -> String {
    let body = format!(
        "{}{}{:03}",
        &region[..6],
        birth.format("%Y%m%d"),
        seq % 1000
    );
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(W.iter())
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    let check = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize];
    format!("{body}{check}")
}

fn person_name(rng: &mut ChaCha8Rng) -> String {
    let mut n = String::new();
    n.push(pick(rng, SURNAME));
    n.push(pick(rng, GIVEN));
    if rng.gen_bool(0.6) {
        n.push(pick(rng, GIVEN));
    }
    n
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn date_in(rng: &mut ChaCha8Rng, year: i32) -> NaiveDate {
    super::date_in(rng, year)
}

/// Money in yuan, a multiple of 100 (so it is exact in 万元 with two decimals).
fn yuan(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    (rng.gen_range(lo..hi) / 100.0).round() * 100.0
}

impl World {
    pub(crate) fn build(seed: u64, villages_wanted: usize, from: i32, to: i32) -> World {
        let mut rng = stream(seed, "world");
        let n_counties = if villages_wanted <= 1_800 {
            7
        } else {
            (villages_wanted / 150).max(7)
        };
        let per_county = villages_wanted / n_counties;
        let mut counties = Vec::new();
        let mut county_names: HashSet<String> = HashSet::new();
        for i in 0..n_counties {
            let (name, code) = if i < NANTONG.len() {
                (NANTONG[i].0.to_string(), NANTONG[i].1.to_string())
            } else {
                let suffix = ["县", "市", "区"][i % 3];
                let name = loop {
                    let n = format!(
                        "{}{}{}",
                        pick(&mut rng, PLACE),
                        pick(&mut rng, PLACE),
                        suffix
                    );
                    if !county_names.contains(&n) {
                        break n;
                    }
                };
                let prov = 11 + (i / 600) % 55;
                let city = 1 + (i / 30) % 20;
                let cty = 1 + i % 30;
                (name, format!("{prov:02}{city:02}{cty:02}"))
            };
            county_names.insert(name.clone());
            counties.push(County {
                name,
                code,
                townships: Vec::new(),
            });
        }
        let mut villages = Vec::new();
        let mut merged_names = BTreeMap::new();
        for (ci, county) in counties.iter_mut().enumerate() {
            // Nantong counties differ in size; others are even
            let n = if ci < NANTONG.len() && n_counties == 7 {
                [150, 240, 230, 330, 250, 290, 310][ci] * villages_wanted / 1_800
            } else {
                per_county
            };
            let n_towns = (n / 25).clamp(2, 40);
            let mut used_stems: HashSet<String> = HashSet::new();
            let mut town_names: HashSet<String> = HashSet::new();
            for t in 0..n_towns {
                let name = loop {
                    let stem = format!("{}{}", pick(&mut rng, PLACE), pick(&mut rng, PLACE));
                    let name = if t < 2 {
                        format!("{stem}街道")
                    } else {
                        format!("{stem}镇")
                    };
                    if town_names.insert(stem.clone()) {
                        break name;
                    }
                };
                county.townships.push(name);
            }
            let county_first = villages.len();
            for k in 0..n {
                let t = k * n_towns / n.max(1);
                let stem = loop {
                    let s = format!("{}{}", pick(&mut rng, PLACE), pick(&mut rng, PLACE));
                    if !used_stems.contains(&s) && !town_names.contains(&s) {
                        used_stems.insert(s.clone());
                        break s;
                    }
                };
                let is_community = rng.gen_bool(0.1);
                let name = format!("{stem}{}", if is_community { "社区" } else { "村" });
                let former = if is_community && rng.gen_bool(0.5) {
                    // 村改居: the old village name
                    Some(format!("{stem}村"))
                } else if rng.gen_bool(0.04) {
                    let old = loop {
                        let s = format!("{}{}", pick(&mut rng, PLACE), pick(&mut rng, PLACE));
                        if !used_stems.contains(&s) && !town_names.contains(&s) {
                            used_stems.insert(s.clone());
                            break s;
                        }
                    };
                    Some(format!("{old}村"))
                } else {
                    None
                };
                let town_no = t + 1;
                let code = format!("{}{:03}{:03}", county.code, town_no, k + 1);
                villages.push(Village {
                    seed: rng.gen(),
                    code,
                    county: ci,
                    township: county.townships[t].clone(),
                    name,
                    former,
                    kind: if is_community { "社区" } else { "村" },
                    merged_into: None,
                    households: rng.gen_range(150..1500),
                });
            }
            // 并村: about 1% of villages were merged into a neighbour in the same township
            let county_last = villages.len();
            let mut k = county_first + 1;
            while k < county_last {
                if villages[k].township == villages[k - 1].township
                    && villages[k - 1].merged_into.is_none()
                    && rng.gen_bool(0.01)
                {
                    villages[k].merged_into = Some(k - 1);
                    merged_names.insert(k - 1, k);
                    k += 2;
                } else {
                    k += 1;
                }
            }
        }
        let by_code = villages
            .iter()
            .enumerate()
            .map(|(i, v)| (v.code.clone(), i))
            .collect();
        let mut w = World {
            seed,
            from,
            to,
            counties,
            villages,
            communities: Vec::new(),
            by_code,
            merged_names,
            active_of: Vec::new(),
            communities_of_county: Vec::new(),
            communities_of_village: Vec::new(),
        };
        w.active_of = vec![Vec::new(); w.counties.len()];
        for (i, v) in w.villages.iter().enumerate() {
            if v.merged_into.is_none() {
                if let Some(a) = w.active_of.get_mut(v.county) {
                    a.push(i);
                }
            }
        }
        w.communities = w.make_communities();
        w.communities_of_county = vec![Vec::new(); w.counties.len()];
        w.communities_of_village = vec![Vec::new(); w.villages.len()];
        for (k, c) in w.communities.iter().enumerate() {
            let county = w.villages[c.village].county;
            w.communities_of_county[county].push(k);
            w.communities_of_village[c.village].push(k);
        }
        w
    }

    fn active(&self, county: usize) -> impl Iterator<Item = (usize, &Village)> {
        self.active_of
            .get(county)
            .into_iter()
            .flatten()
            .map(|&i| (i, &self.villages[i]))
    }

    pub(crate) fn by_code(&self, code: &str) -> Option<&Village> {
        self.by_code.get(code).map(|&i| &self.villages[i])
    }

    /// A name a county may still use for this village, with the warning it gives.
    pub(crate) fn old_name_for(&self, v: &Village) -> Option<(&'static str, String)> {
        let i = *self.by_code.get(&v.code)?;
        if let Some(&m) = self.merged_names.get(&i) {
            return Some((Code::VillageMerged.as_str(), self.villages[m].name.clone()));
        }
        v.former.clone().map(|f| (Code::VillageAlias.as_str(), f))
    }

    fn make_communities(&self) -> Vec<Community> {
        let mut out = Vec::new();
        for (ci, c) in self.counties.iter().enumerate() {
            let mut seq = 0;
            for (vi, v) in self.active(ci) {
                let mut r = stream(v.seed, "communities");
                let n = [0, 1, 1, 2, 2, 3][r.gen_range(0..6)];
                for _ in 0..n {
                    seq += 1;
                    let ind = INDUSTRY[r.gen_range(0..INDUSTRY.len())];
                    let stem = crate::text::stem(&v.name);
                    out.push(Community {
                        id: format!("GT{}{:04}", c.code, seq),
                        village: vi,
                        name: format!("{stem}{ind}致富共同体{}号", seq),
                        founded: {
                            let y = r.gen_range(2018..=self.to);
                            date_in(&mut r, y)
                        },
                    });
                }
            }
        }
        out
    }

    /// Location values every village-level row carries.
    fn loc(&self, v: &Village) -> BTreeMap<&'static str, Value> {
        let mut m = BTreeMap::new();
        m.insert("county", Value::Text(self.counties[v.county].name.clone()));
        m.insert("township", Value::Text(v.township.clone()));
        m.insert("village", Value::Text(v.name.clone()));
        m.insert("village_code", Value::Text(v.code.clone()));
        m
    }

    /// The canonical rows of one template for one county and period.
    pub fn rows(&self, src: &Source, ci: usize, year: i32, month: Option<u32>) -> Vec<TrueRow> {
        let mut rows = Vec::new();
        let y = year as i64;
        let int = Value::Int;
        let yes = Value::Bool;
        let t = |s: &str| Value::Text(s.to_string());
        let since = (year - self.from) as i64;
        match src.id.as_str() {
            "T01" => {
                let m = month.unwrap_or(12);
                for (_, v) in self.active(ci) {
                    let mut r = stream(v.seed, "t01");
                    let grids = r.gen_range(3..13i64);
                    let branches0 = r.gen_range(1..=grids);
                    let members = r.gen_range(30..160i64);
                    let growth = since * 2 + (m as i64) / 6;
                    let mut row = self.loc(v);
                    row.insert("period", Value::Date(day(year, m, 1)));
                    row.insert("households", int(v.households));
                    row.insert("party_members", int(members + since * 3));
                    let kind = ["党支部", "党支部", "党总支", "党委", "党支部"][r.gen_range(0..5)];
                    row.insert("org_type", t(kind));
                    row.insert("grids", int(grids));
                    row.insert("grid_branches", int((branches0 + growth / 3).min(grids)));
                    row.insert("party_groups", int(grids * 2 + growth));
                    row.insert("central_households", int(v.households / 12 + growth * 2));
                    rows.push(TrueRow {
                        values: row,
                        township: v.township.clone(),
                    });
                }
            }
            "T02" => {
                for (_, v) in self.active(ci) {
                    let mut r = stream(v.seed, &format!("t02{year}"));
                    let mut row = self.loc(v);
                    row.insert("year", int(y));
                    let weak = r.gen_bool(0.1);
                    for s in 1..=24 {
                        let name: &'static str = STANDARD_NAMES[s - 1];
                        row.insert(name, yes(!(weak && r.gen_bool(0.3)) && r.gen_bool(0.99)));
                    }
                    row.insert("org_stars", int(r.gen_range(1..=5)));
                    row.insert("secretary_stars", int(r.gen_range(1..=5)));
                    rows.push(TrueRow {
                        values: row,
                        township: v.township.clone(),
                    });
                }
            }
            "T03" => {
                for (_, v) in self.active(ci) {
                    let mut r = stream(v.seed, &format!("t03{year}"));
                    if !r.gen_bool(0.05) {
                        continue;
                    }
                    let mut row = self.loc(v);
                    row.insert("year_identified", int(y));
                    for a in ACTIONS {
                        row.insert(a, yes(r.gen_bool(0.85)));
                    }
                    let transformed = r.gen_bool(0.7);
                    row.insert("transformed", yes(transformed));
                    row.insert(
                        "transformed_on",
                        if transformed {
                            Value::Date(date_in(&mut r, year))
                        } else {
                            Value::Null
                        },
                    );
                    row.insert("secretary_replaced", yes(r.gen_bool(0.15)));
                    row.insert(
                        "satisfaction",
                        Value::Float(r.gen_range(850..1000) as f64 / 10.0),
                    );
                    rows.push(TrueRow {
                        values: row,
                        township: v.township.clone(),
                    });
                }
            }
            "T04" => {
                for (_, v) in self.active(ci) {
                    // the same secretary for a few years, then a new one
                    let term = (year - 2000) / 4;
                    let mut p = stream(v.seed, &format!("sec{term}"));
                    let mut r = stream(v.seed, &format!("t04{year}"));
                    let birth = day(
                        p.gen_range(1965..1992),
                        p.gen_range(1..13),
                        p.gen_range(1..29),
                    );
                    let mut row = self.loc(v);
                    row.insert("year", int(y));
                    row.insert("name", Value::Text(person_name(&mut p)));
                    let idn = id_number(&v.code, birth, p.gen_range(0..1000));
                    let placeholders = r.gen_bool(0.05);
                    row.insert(
                        "id_number",
                        if placeholders {
                            Value::Null
                        } else {
                            Value::Text(idn)
                        },
                    );
                    row.insert("gender", t(if p.gen_bool(0.8) { "男" } else { "女" }));
                    row.insert(
                        "birth_month",
                        Value::Date(day(
                            birth.format("%Y").to_string().parse().unwrap_or(1980),
                            birth.format("%m").to_string().parse().unwrap_or(1),
                            1,
                        )),
                    );
                    row.insert(
                        "education",
                        t(["大专", "本科", "高中", "研究生"][p.gen_range(0..4)]),
                    );
                    row.insert(
                        "appointed_on",
                        Value::Date(date_in(&mut p, 2000 + term * 4)),
                    );
                    let level = p.gen_range(1..=5i64);
                    row.insert("level", int(level));
                    row.insert("grade", int(((level - 1) * 3 + p.gen_range(1..=4)).min(18)));
                    let monthly = yuan(&mut p, 3000.0, 9000.0);
                    row.insert("monthly_base_pay", Value::Float(monthly));
                    row.insert(
                        "annual_pay",
                        Value::Float(monthly * 12.0 + yuan(&mut r, 5000.0, 30000.0)),
                    );
                    row.insert("full_time", yes(p.gen_bool(0.92)));
                    let career = p.gen_bool(0.04);
                    row.insert("career_post", yes(career));
                    row.insert(
                        "career_post_on",
                        if career {
                            Value::Date(date_in(&mut p, 2020))
                        } else {
                            Value::Null
                        },
                    );
                    let promoted = r.gen_bool(0.03);
                    row.insert("promoted", yes(promoted));
                    row.insert(
                        "promoted_on",
                        if promoted {
                            Value::Date(date_in(&mut r, year))
                        } else {
                            Value::Null
                        },
                    );
                    rows.push(TrueRow {
                        values: row,
                        township: v.township.clone(),
                    });
                }
            }
            "T05" => {
                for c in self.communities_of_county[ci]
                    .iter()
                    .map(|&k| &self.communities[k])
                {
                    if c.founded > day(year, 12, 31) {
                        continue;
                    }
                    let v = &self.villages[c.village];
                    let mut r = stream(v.seed, &c.id);
                    let mut row = self.loc(v);
                    row.insert("community_id", Value::Text(c.id.clone()));
                    row.insert("name", Value::Text(c.name.clone()));
                    row.insert("leader", Value::Text(person_name(&mut r)));
                    row.insert("industry", t(INDUSTRY[r.gen_range(0..INDUSTRY.len())]));
                    row.insert("founded_on", Value::Date(c.founded));
                    row.insert("member_households", int(r.gen_range(8..40) + since * 2));
                    rows.push(TrueRow {
                        values: row,
                        township: v.township.clone(),
                    });
                }
            }
            "T06" => {
                for (vi, v) in self.active(ci) {
                    // income is monitored in a sample of villages
                    let mut r = stream(v.seed, "t06");
                    if !r.gen_bool(0.06) {
                        continue;
                    }
                    let coms: Vec<&Community> = self.communities_of_village[vi]
                        .iter()
                        .map(|&k| &self.communities[k])
                        .collect();
                    for h in 0..20 {
                        let mut hr = stream(v.seed, &format!("hh{h}"));
                        let mut row = self.loc(v);
                        row.insert(
                            "household_id",
                            Value::Text(format!("{}{:03}", v.code, h + 1)),
                        );
                        let birth = day(
                            hr.gen_range(1950..1990),
                            hr.gen_range(1..13),
                            hr.gen_range(1..29),
                        );
                        row.insert(
                            "head_id_number",
                            Value::Text(id_number(&v.code, birth, h as u32)),
                        );
                        row.insert("year", int(y));
                        row.insert("persons", int(hr.gen_range(1..8)));
                        let base = hr.gen_range(30_000.0..90_000.0);
                        let joins = !coms.is_empty() && hr.gen_bool(0.4);
                        let join_year = hr.gen_range(2019..=self.to);
                        let member = joins && join_year <= year;
                        let mut yr = stream(v.seed, &format!("hh{h}y{year}"));
                        let income = base * (1.0 + 0.05 * since as f64)
                            + if member {
                                super::MEMBER_INCOME_EFFECT
                            } else {
                                0.0
                            }
                            + yr.gen_range(-3_000.0..3_000.0);
                        row.insert("income", Value::Float((income / 100.0).round() * 100.0));
                        row.insert("member", yes(member));
                        if member {
                            let c = coms[hr.gen_range(0..coms.len())];
                            row.insert("community_id", Value::Text(c.id.clone()));
                            row.insert("join_year", int(join_year as i64));
                        } else {
                            row.insert("community_id", Value::Null);
                            row.insert("join_year", Value::Null);
                        }
                        rows.push(TrueRow {
                            values: row,
                            township: v.township.clone(),
                        });
                    }
                }
            }
            "T07" => {
                let dividends = self.station_dividends(ci, year);
                for (vi, v) in self.active(ci) {
                    let mut r = stream(v.seed, &format!("t07{year}"));
                    let mut base = stream(v.seed, "t07");
                    let level: f64 = base.gen_range(6.5..11.5);
                    let operating = (level.exp2() * 1000.0 * (1.0 + 0.08 * since as f64) / 100.0)
                        .round()
                        * 100.0;
                    let dividend = dividends.get(&vi).copied().unwrap_or(0.0);
                    let pairing = if r.gen_bool(0.3) {
                        yuan(&mut r, 10_000.0, 200_000.0)
                    } else {
                        0.0
                    };
                    let operating = operating + dividend + pairing;
                    let mut row = self.loc(v);
                    row.insert("year", int(y));
                    row.insert("operating_income", Value::Float(operating));
                    row.insert(
                        "total_income",
                        Value::Float(operating + yuan(&mut r, 50_000.0, 800_000.0)),
                    );
                    row.insert("station_dividend", Value::Float(dividend));
                    row.insert("pairing_income", Value::Float(pairing));
                    row.insert("weak_economy", yes(operating < 300_000.0));
                    rows.push(TrueRow {
                        values: row,
                        township: v.township.clone(),
                    });
                }
            }
            "T08" => {
                for (sid, sname, invested, villages) in self.stations(ci, year) {
                    for (vi, dividend) in villages {
                        let v = &self.villages[vi];
                        let mut row = BTreeMap::new();
                        row.insert("county", Value::Text(self.counties[ci].name.clone()));
                        row.insert("village", Value::Text(v.name.clone()));
                        row.insert("village_code", Value::Text(v.code.clone()));
                        row.insert("station_id", Value::Text(sid.clone()));
                        row.insert("station_name", Value::Text(sname.clone()));
                        row.insert("invested", Value::Float(invested));
                        row.insert("year", int(y));
                        row.insert("dividend", Value::Float(dividend));
                        rows.push(TrueRow {
                            values: row,
                            township: v.township.clone(),
                        });
                    }
                }
            }
            "T09" => {
                let mut seq = 0;
                for (_, v) in self.active(ci) {
                    let mut r = stream(v.seed, "t09");
                    for _ in 0..[0, 0, 1, 1, 2][r.gen_range(0..5)] {
                        seq += 1;
                        let sy = r.gen_range(2019..=self.to);
                        let signed = date_in(&mut r, sy);
                        let mut row = self.loc(v);
                        let ent = format!(
                            "{}{}{}有限公司",
                            pick(&mut r, PLACE),
                            pick(&mut r, PLACE),
                            ["农业科技", "食品", "物流", "建材"][r.gen_range(0..4)]
                        );
                        let kind = ["资源共享", "产销对接", "人才联培"][r.gen_range(0..3)];
                        let investment = yuan(&mut r, 100_000.0, 5_000_000.0);
                        if signed > day(year, 12, 31) {
                            continue;
                        }
                        row.insert(
                            "project_id",
                            Value::Text(format!("QL{}{:04}", self.counties[ci].code, seq)),
                        );
                        row.insert("enterprise", Value::Text(ent));
                        row.insert("signed_on", Value::Date(signed));
                        row.insert("kind", t(kind));
                        row.insert("investment", Value::Float(investment));
                        rows.push(TrueRow {
                            values: row,
                            township: v.township.clone(),
                        });
                    }
                }
            }
            "T10" => {
                for (_, v) in self.active(ci) {
                    let mut r = stream(v.seed, &format!("t10{year}"));
                    let mut row = self.loc(v);
                    row.insert("year", int(y));
                    row.insert("training_person_times", int(r.gen_range(20..200)));
                    row.insert("dual_lead_members", int(r.gen_range(1..16)));
                    row.insert("member_led_projects", int(r.gen_range(0..9)));
                    rows.push(TrueRow {
                        values: row,
                        township: v.township.clone(),
                    });
                }
            }
            "T11" => {
                for (_, v) in self.active(ci) {
                    let mut r = stream(v.seed, &format!("t11{year}"));
                    let mut row = self.loc(v);
                    row.insert("year", int(y));
                    for k in SCORES {
                        row.insert(k, Value::Float(r.gen_range(600..1000) as f64 / 10.0));
                    }
                    rows.push(TrueRow {
                        values: row,
                        township: v.township.clone(),
                    });
                }
            }
            "T12" => {
                for (_, v) in self.active(ci) {
                    let mut r = stream(v.seed, "t12");
                    let stem = crate::text::stem(&v.name);
                    for k in 0..[0, 1, 1, 2][r.gen_range(0..4)] {
                        let (kind, label) = [
                            ("合作社", "专业合作社"),
                            ("企业", "农业科技有限公司"),
                            ("产业基地", "产业基地"),
                        ][r.gen_range(0..3)];
                        let founded = r.gen_range(2015..=self.to);
                        let has_org_year = if r.gen_bool(0.7) {
                            Some(r.gen_range(founded..=self.to + 1))
                        } else {
                            None
                        };
                        if founded > year {
                            continue;
                        }
                        let has = has_org_year.map(|y| y <= year).unwrap_or(false);
                        let mut row = self.loc(v);
                        row.insert(
                            "name",
                            Value::Text(format!("{stem}{}{label}", ["", "第二"][k])),
                        );
                        row.insert("kind", t(kind));
                        row.insert("has_party_org", yes(has));
                        row.insert(
                            "established_on",
                            match (has, has_org_year) {
                                (true, Some(y)) => Value::Date(date_in(&mut r, y)),
                                _ => Value::Null,
                            },
                        );
                        rows.push(TrueRow {
                            values: row,
                            township: v.township.clone(),
                        });
                    }
                }
            }
            _ => {}
        }
        rows
    }

    /// Stations of a county in a year: id, name, invested (yuan), and the
    /// supported villages with each one's dividend (yuan). Supported
    /// villages rotate every two years.
    #[allow(clippy::type_complexity)]
    fn stations(&self, ci: usize, year: i32) -> Vec<(String, String, f64, Vec<(usize, f64)>)> {
        let active: Vec<usize> = self.active(ci).map(|(i, _)| i).collect();
        let n = (active.len() / 30).max(1);
        let rotation = ((year - 2000) / 2) as usize;
        let mut out = Vec::new();
        for s in 0..n {
            let mut r = stream(self.seed, &format!("station{ci}-{s}"));
            let invested = yuan(&mut r, 2_000_000.0, 5_000_000.0);
            let mut villages = Vec::new();
            // every supported village gets the same dividend from a station in a year
            let mut yr = stream(self.seed, &format!("station{ci}-{s}-{year}"));
            let dividend = yuan(&mut yr, 300_000.0, 450_000.0);
            for k in 0..3 {
                let idx = (s * 3 + k + rotation * 3 * n) % active.len();
                if !villages.iter().any(|(v, _)| *v == active[idx]) {
                    villages.push((active[idx], dividend));
                }
            }
            out.push((
                format!("JYZ{}{:02}", self.counties[ci].code, s + 1),
                format!("{}强村加油站{}号", self.counties[ci].name, s + 1),
                invested,
                villages,
            ));
        }
        out
    }

    fn station_dividends(&self, ci: usize, year: i32) -> BTreeMap<usize, f64> {
        let mut m = BTreeMap::new();
        for (_, _, _, vs) in self.stations(ci, year) {
            for (v, d) in vs {
                *m.entry(v).or_insert(0.0) += d;
            }
        }
        m
    }

    /// Writes the registry (T00) as the city office keeps it.
    pub(crate) fn write_registry(&self, p: &Pipeline, path: &Path) -> Result<()> {
        let src = p
            .registry_source()
            .ok_or_else(|| anyhow::anyhow!("the pipeline has no registry source"))?;
        let mut rows = vec![vec![Out::s(format!("{}村（社区）名录", p.city))]];
        rows.push(
            src.fields
                .iter()
                .map(|f| Out::S(f.header.clone()))
                .collect(),
        );
        for v in &self.villages {
            let mut r = Vec::new();
            for f in &src.fields {
                r.push(match f.name.as_str() {
                    "village_code" => Out::S(v.code.clone()),
                    "county" => Out::S(self.counties[v.county].name.clone()),
                    "township" => Out::S(v.township.clone()),
                    "village" => Out::S(v.name.clone()),
                    "former_names" => v.former.clone().map(Out::S).unwrap_or(Out::Empty),
                    "kind" => Out::s(v.kind),
                    "merged_into" => v
                        .merged_into
                        .map(|m| Out::S(self.villages[m].code.clone()))
                        .unwrap_or(Out::Empty),
                    "households" => Out::N(v.households as f64),
                    _ => Out::Empty,
                });
            }
            rows.push(r);
        }
        let sheet = SheetOut {
            name: "名录".into(),
            rows,
            merges: vec![(0, 0, 0, (src.fields.len().max(2) - 1) as u16)],
            hidden: false,
        };
        write_book(path, FileKind::Xlsx, &[sheet])
    }
}

const STANDARD_NAMES: [&str; 24] = [
    "s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09", "s10", "s11", "s12", "s13",
    "s14", "s15", "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24",
];
const ACTIONS: [&str; 8] = [
    "a_team",
    "a_first_secretary",
    "a_assessment",
    "a_task_list",
    "a_org_meeting",
    "a_training",
    "a_problems_solved",
    "a_report",
];
const SCORES: [&str; 6] = [
    "self_score",
    "supervisor_score",
    "public_score",
    "observer_score",
    "development_score",
    "party_building_score",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_have_valid_check_digits() {
        // the worked example of GB 11643: 11010519491231002X
        assert_eq!(
            id_number("110105", day(1949, 12, 31), 2),
            "11010519491231002X"
        );
    }

    #[test]
    fn the_world_is_deterministic() {
        let a = World::build(7, 1800, 2022, 2024);
        let b = World::build(7, 1800, 2022, 2024);
        assert_eq!(a.villages.len(), b.villages.len());
        assert_eq!(a.villages[100].name, b.villages[100].name);
        assert_eq!(a.counties.len(), 7);
        assert_eq!(a.villages.len(), 1800);
    }
}
