//! The village registry (T00) and matching a row's village to it.
//!
//! Matching order: the 12-digit division code; else the name within county
//! and township; else the name within the county when it is unique there;
//! else a former name (曾用名); else the name without its 村/社区/居委会
//! suffix. A village merged into another (撤并) resolves to its successor
//! for rows of periods from its merge date (撤并时间) on; a row of a period
//! that ended before the merge keeps the old village.
//! A village the registry does not know gets the closest registry names as
//! suggestions.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::normalise::value::Value;
use crate::text::{clean_name, stem};

/// A registry entry. Text repeated over many villages (county, township,
/// kind) is shared; a nation's registry holds half a million of these.
#[derive(Debug, Clone)]
pub struct Village {
    /// The 12-digit division code.
    pub code: Box<str>,
    /// The county.
    pub county: Arc<str>,
    /// The township.
    pub township: Arc<str>,
    /// The village's name.
    pub name: Box<str>,
    /// Its former names.
    pub former: Box<[Box<str>]>,
    /// 村 or 社区 (and other kinds the registry names).
    pub kind: Arc<str>,
    /// The code of the village it was merged into.
    pub merged_into: Option<Box<str>>,
    /// When the merge took effect (撤并时间); none: merged for every period.
    pub merged_on: Option<chrono::NaiveDate>,
    /// Its households, if the registry says.
    pub households: Option<i64>,
}

/// Villages by the hash of a key, sorted by hash; entries of one hash keep
/// the registry's order. A lookup checks each candidate's own fields, so
/// two keys with the same hash never mix, and the index holds 16 bytes per
/// entry instead of a copy of every key.
#[derive(Debug, Clone, Default)]
struct Index(Vec<(u64, u32)>);

impl Index {
    fn from_entries(mut e: Vec<(u64, u32)>) -> Index {
        // stable: equal hashes stay in registry order
        e.sort_by_key(|x| x.0);
        Index(e)
    }

    /// The villages whose key hashes to `h`, in registry order.
    fn candidates(&self, h: u64) -> impl Iterator<Item = usize> + '_ {
        let from = self.0.partition_point(|x| x.0 < h);
        self.0[from..]
            .iter()
            .take_while(move |x| x.0 == h)
            .map(|x| x.1 as usize)
    }
}

/// One hash over a key's parts, the same in every run.
fn key_hash(parts: &[&str]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// The village registry, indexed by code, name and former name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// The villages, in the registry's order.
    pub villages: Vec<Village>,
    by_code: Index,
    /// county, township, name
    by_full: Index,
    /// county, name
    by_county: Index,
    /// county, former name
    by_former: Index,
    /// county, name without its suffix
    by_stem: Index,
    townships: HashMap<Arc<str>, Vec<Arc<str>>>,
}

/// How a village was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// By its division code.
    Code,
    /// By its name (within county and township).
    Name,
    /// By a former name.
    Former,
    /// By its name without 村, 社区 or 居委会 (`东方` for `东方村`), within the county.
    Stem,
}

/// A village found, and how.
#[derive(Debug, Clone)]
pub struct Matched<'a> {
    /// The village.
    pub village: &'a Village,
    /// How it was found.
    pub how: MatchKind,
    /// Set when the named village was merged into `village`.
    pub merged_from: Option<&'a Village>,
}

/// Text shared between villages: one allocation per distinct value.
#[derive(Default)]
struct Interner(HashSet<Arc<str>>);

impl Interner {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(a.clone());
        a
    }
}

impl Registry {
    /// Builds the registry from rows of the `villages` dataset, whose
    /// columns are named in `names`.
    pub fn from_rows<'a, I>(names: &[String], rows: I) -> Registry
    where
        I: IntoIterator<Item = &'a [Value]>,
    {
        let col = |n: &str| names.iter().position(|x| x == n);
        let (c_code, c_county, c_town, c_name) = (
            col("village_code"),
            col("county"),
            col("township"),
            col("village"),
        );
        let (c_former, c_kind, c_merged, c_hh) = (
            col("former_names"),
            col("kind"),
            col("merged_into"),
            col("households"),
        );
        let c_merged_on = col("merged_on");
        let text = |row: &[Value], c: Option<usize>| -> String {
            c.and_then(|c| row.get(c))
                .map(|v| v.render())
                .unwrap_or_default()
        };
        let mut reg = Registry::default();
        let mut shared = Interner::default();
        for row in rows {
            let former: Vec<Box<str>> = text(row, c_former)
                .split([';', '；', ',', '，', '、'])
                .map(clean_name)
                .filter(|s| !s.is_empty())
                .map(|s| s.into())
                .collect();
            let merged = text(row, c_merged);
            reg.villages.push(Village {
                code: text(row, c_code).into(),
                county: shared.get(&clean_name(&text(row, c_county))),
                township: shared.get(&clean_name(&text(row, c_town))),
                name: clean_name(&text(row, c_name)).into(),
                former: former.into(),
                kind: shared.get(&text(row, c_kind)),
                merged_into: if merged.is_empty() {
                    None
                } else {
                    Some(merged.into())
                },
                merged_on: c_merged_on.and_then(|c| row.get(c)).and_then(|v| match v {
                    Value::Date(d) => Some(*d),
                    _ => None,
                }),
                households: c_hh.and_then(|c| row.get(c)).and_then(|v| match v {
                    Value::Int(i) => Some(*i),
                    _ => None,
                }),
            });
        }
        reg.index();
        reg
    }

    fn index(&mut self) {
        let n = self.villages.len();
        let (mut code, mut full) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut county, mut stems, mut former) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::new());
        for (i, v) in self.villages.iter().enumerate() {
            let i = i as u32;
            code.push((key_hash(&[&v.code]), i));
            full.push((key_hash(&[&v.county, &v.township, &v.name]), i));
            county.push((key_hash(&[&v.county, &v.name]), i));
            stems.push((key_hash(&[&v.county, &stem(&v.name)]), i));
            for (k, f) in v.former.iter().enumerate() {
                // a former name listed twice is one entry
                if !v.former[..k].contains(f) {
                    former.push((key_hash(&[&v.county, f]), i));
                }
            }
            let t = self.townships.entry(v.county.clone()).or_default();
            if !t.contains(&v.township) {
                t.push(v.township.clone());
            }
        }
        self.by_code = Index::from_entries(code);
        self.by_full = Index::from_entries(full);
        self.by_county = Index::from_entries(county);
        self.by_stem = Index::from_entries(stems);
        self.by_former = Index::from_entries(former);
    }

    /// The entry with this code; of two with the same code, the later one.
    fn code_index(&self, code: &str) -> Option<usize> {
        self.by_code
            .candidates(key_hash(&[code]))
            .filter(|&i| &*self.villages[i].code == code)
            .last()
    }

    /// No villages.
    pub fn is_empty(&self) -> bool {
        self.villages.is_empty()
    }

    /// The counties, in the registry's order.
    pub fn counties(&self) -> Vec<String> {
        let mut c: Vec<String> = self.townships.keys().map(|k| k.to_string()).collect();
        c.sort();
        c
    }

    /// The townships of a county.
    pub fn townships(&self, county: &str) -> &[Arc<str>] {
        self.townships
            .get(county)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }

    /// The county named in `text` (a file name, a title), longest first.
    pub(crate) fn find_county_in(&self, text: &str) -> Option<String> {
        let mut hits: Vec<&Arc<str>> = self
            .townships
            .keys()
            .filter(|c| text.contains(&***c))
            .collect();
        hits.sort_by_key(|c| std::cmp::Reverse(c.chars().count()));
        hits.first().map(|s| s.to_string())
    }

    pub(crate) fn by_code(&self, code: &str) -> Option<&Village> {
        self.code_index(code).map(|i| &self.villages[i])
    }

    /// Follows 撤并 links to the village that stood for it at the end of a
    /// period (`as_of`; none: now). A merge with a date after `as_of` has
    /// not happened yet.
    fn successor(&self, i: usize, as_of: Option<chrono::NaiveDate>) -> usize {
        let mut cur = i;
        for _ in 0..16 {
            let v = &self.villages[cur];
            if let (Some(d), Some(end)) = (v.merged_on, as_of) {
                if d > end {
                    break;
                }
            }
            match v.merged_into.as_ref().and_then(|c| self.code_index(c)) {
                Some(next) if next != cur => cur = next,
                _ => break,
            }
        }
        cur
    }

    fn finish(&self, i: usize, how: MatchKind, as_of: Option<chrono::NaiveDate>) -> Matched<'_> {
        let s = self.successor(i, as_of);
        Matched {
            village: &self.villages[s],
            how,
            merged_from: if s != i {
                Some(&self.villages[i])
            } else {
                None
            },
        }
    }

    /// The one village of `ids`, or the one of them in `township`.
    fn pick(&self, ids: &[usize], township: &str) -> Option<usize> {
        if ids.len() == 1 {
            return Some(ids[0]);
        }
        let mut in_town = ids
            .iter()
            .copied()
            .filter(|&i| &*self.villages[i].township == township);
        match (in_town.next(), in_town.next()) {
            (Some(i), None) => Some(i),
            _ => None,
        }
    }

    /// Finds the registry village for a row, as the registry stands now.
    pub fn resolve(
        &self,
        code: Option<&str>,
        county: &str,
        township: &str,
        name: &str,
    ) -> Option<Matched<'_>> {
        self.resolve_as_of(code, county, township, name, None)
    }

    /// Finds the registry village for a row of a period that ended on
    /// `as_of`: a merge dated after it has not happened yet (none: now).
    pub(crate) fn resolve_as_of(
        &self,
        code: Option<&str>,
        county: &str,
        township: &str,
        name: &str,
        as_of: Option<chrono::NaiveDate>,
    ) -> Option<Matched<'_>> {
        let (i, how) = self.find(code, county, township, name)?;
        Some(self.finish(i, how, as_of))
    }

    /// The registry entry a row names, before following merges.
    fn find(
        &self,
        code: Option<&str>,
        county: &str,
        township: &str,
        name: &str,
    ) -> Option<(usize, MatchKind)> {
        if let Some(code) = code {
            if let Some(i) = self.code_index(code) {
                return Some((i, MatchKind::Code));
            }
        }
        let county = clean_name(county);
        let township = clean_name(township);
        let name = clean_name(name);
        if name.is_empty() {
            return None;
        }
        let vs = &self.villages;
        let full = self
            .by_full
            .candidates(key_hash(&[&county, &township, &name]))
            .filter(|&i| {
                *vs[i].county == *county && *vs[i].township == *township && *vs[i].name == *name
            })
            .last();
        if let Some(i) = full {
            return Some((i, MatchKind::Name));
        }
        let in_county = key_hash(&[&county, &name]);
        let same_name: Vec<usize> = self
            .by_county
            .candidates(in_county)
            .filter(|&i| *vs[i].county == *county && *vs[i].name == *name)
            .collect();
        if let Some(i) = self.pick(&same_name, &township) {
            return Some((i, MatchKind::Name));
        }
        let was_named: Vec<usize> = self
            .by_former
            .candidates(in_county)
            .filter(|&i| *vs[i].county == *county && vs[i].former.iter().any(|f| **f == *name))
            .collect();
        if let Some(i) = self.pick(&was_named, &township) {
            return Some((i, MatchKind::Former));
        }
        let st = stem(&name);
        let same_stem: Vec<usize> = self
            .by_stem
            .candidates(key_hash(&[&county, &st]))
            .filter(|&i| *vs[i].county == *county && stem(&vs[i].name) == st)
            .collect();
        if let Some(i) = self.pick(&same_stem, &township) {
            return Some((i, MatchKind::Stem));
        }
        None
    }

    /// Up to three registry names closest to `name`, preferring the same
    /// township.
    pub fn suggest(&self, county: &str, township: &str, name: &str) -> Vec<String> {
        let name = clean_name(name);
        let county = clean_name(county);
        let township = clean_name(township);
        let target: Vec<char> = name.chars().collect();
        let mut scored: Vec<(usize, usize, &Village)> = self
            .villages
            .iter()
            .filter(|v| *v.county == *county && v.merged_into.is_none())
            .map(|v| {
                let d = levenshtein(&target, &v.name.chars().collect::<Vec<_>>());
                let t = usize::from(*v.township != *township);
                (d, t, v)
            })
            .collect();
        scored.sort_by(|a, b| (a.0, a.1, &a.2.code).cmp(&(b.0, b.1, &b.2.code)));
        let limit = target.len().max(2);
        // a new vector, not one collected from `scored`: that would reuse
        // its allocation (a slot per village of the county) for three
        // names, and every unknown village's suggestions kept it alive
        let mut out = Vec::with_capacity(3);
        out.extend(
            scored
                .iter()
                .filter(|(d, _, _)| *d < limit)
                .take(3)
                .map(|(_, _, v)| format!("{}{}", v.township, v.name)),
        );
        out
    }
}

/// Edit distance over characters.
pub(crate) fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry's column names; the first `n` of them.
    fn columns(n: usize) -> Vec<String> {
        let all = [
            "village_code",
            "county",
            "township",
            "village",
            "former_names",
            "kind",
            "merged_into",
        ];
        all[..n].iter().map(|s| s.to_string()).collect()
    }

    fn reg() -> Registry {
        let names = columns(7);
        let t = |s: &str| {
            if s.is_empty() {
                Value::Null
            } else {
                Value::Text(s.to_string())
            }
        };
        let rows = [
            vec![
                t("320682101001"),
                t("如皋市"),
                t("如城街道"),
                t("新华村"),
                t("老庄村"),
                t("村"),
                t(""),
            ],
            vec![
                t("320682101002"),
                t("如皋市"),
                t("如城街道"),
                t("东方社区"),
                t(""),
                t("社区"),
                t(""),
            ],
            vec![
                t("320682101003"),
                t("如皋市"),
                t("如城街道"),
                t("西湾村"),
                t(""),
                t("村"),
                t("320682101001"),
            ],
            vec![
                t("320682102001"),
                t("如皋市"),
                t("白蒲镇"),
                t("新华村"),
                t(""),
                t("村"),
                t(""),
            ],
        ];
        Registry::from_rows(&names, rows.iter().map(|r| r.as_slice()))
    }

    #[test]
    fn a_code_listed_twice_is_the_later_entry_and_keys_never_mix() {
        let names = columns(5);
        let t = |s: &str| Value::Text(s.to_string());
        let rows = [
            vec![
                t("1"),
                t("甲县"),
                t("一镇"),
                t("新华村"),
                t("老庄村;老庄村"),
            ],
            vec![t("1"), t("甲县"), t("二镇"), t("东风村"), Value::Null],
            // the same name in another county is another key
            vec![t("2"), t("乙县"), t("一镇"), t("新华村"), Value::Null],
        ];
        let r = Registry::from_rows(&names, rows.iter().map(|r| r.as_slice()));
        assert_eq!(&*r.by_code("1").unwrap().name, "东风村");
        let m = r.resolve(None, "乙县", "", "新华村").unwrap();
        assert_eq!((&*m.village.code, m.how), ("2", MatchKind::Name));
        // a former name listed twice is still one village
        let m = r.resolve(None, "甲县", "", "老庄村").unwrap();
        assert_eq!((&*m.village.name, m.how), ("新华村", MatchKind::Former));
        assert!(r.resolve(None, "丙县", "一镇", "新华村").is_none());
        assert_eq!(r.counties(), ["乙县", "甲县"]);
        assert_eq!(r.townships("甲县").len(), 2);
    }

    #[test]
    fn matching_order() {
        let r = reg();
        let m = r.resolve(Some("320682101002"), "x", "y", "z").unwrap();
        assert_eq!((&*m.village.name, m.how), ("东方社区", MatchKind::Code));
        let m = r.resolve(None, "如皋市", "白蒲镇", " 新华 村").unwrap();
        assert_eq!(&*m.village.code, "320682102001");
        // same name in two townships and no township given: ambiguous
        assert!(r.resolve(None, "如皋市", "", "新华村").is_none());
        let m = r.resolve(None, "如皋市", "如城街道", "老庄村").unwrap();
        assert_eq!(
            (&*m.village.code, m.how),
            ("320682101001", MatchKind::Former)
        );
        let m = r.resolve(None, "如皋市", "如城街道", "西湾村").unwrap();
        assert_eq!(&*m.village.code, "320682101001");
        assert_eq!(&*m.merged_from.unwrap().name, "西湾村");
        let m = r.resolve(None, "如皋市", "如城街道", "东方村").unwrap();
        assert_eq!((&*m.village.code, m.how), ("320682101002", MatchKind::Stem));
        assert!(r.resolve(None, "如皋市", "如城街道", "新民村").is_none());
        assert_eq!(
            r.suggest("如皋市", "如城街道", "新化村"),
            vec!["如城街道新华村", "白蒲镇新华村"]
        );
        assert_eq!(
            r.find_county_in("如皋市_村级组织架构统计表_2024.xlsx"),
            Some("如皋市".into())
        );
    }
}
