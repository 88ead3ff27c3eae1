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

use std::collections::HashMap;

use crate::normalise::value::Value;
use crate::text::{clean_name, stem};

#[derive(Debug, Clone)]
pub struct Village {
    pub code: String,
    pub county: String,
    pub township: String,
    pub name: String,
    pub former: Vec<String>,
    pub kind: String,
    pub merged_into: Option<String>,
    /// When the merge took effect (撤并时间); none: merged for every period.
    pub merged_on: Option<chrono::NaiveDate>,
    pub households: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct Registry {
    pub villages: Vec<Village>,
    by_code: HashMap<String, usize>,
    // keys join their parts with KEY_SEP so one borrowed &str can look them up
    by_full: HashMap<String, usize>,
    by_county: HashMap<String, Vec<usize>>,
    by_former: HashMap<String, Vec<usize>>,
    by_stem: HashMap<String, Vec<usize>>,
    townships: HashMap<String, Vec<String>>,
}

/// How a village was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Code,
    Name,
    Former,
    Stem,
}

#[derive(Debug, Clone)]
pub struct Matched<'a> {
    pub village: &'a Village,
    pub how: MatchKind,
    /// Set when the named village was merged into `village`.
    pub merged_from: Option<&'a Village>,
}

const KEY_SEP: char = '\u{1F}';

/// `a␟b` or `a␟b␟c`: one string key from parts.
fn key(parts: &[&str]) -> String {
    let mut k = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(KEY_SEP);
        }
        k.push_str(p);
    }
    k
}

impl Registry {
    /// Builds the registry from rows of the `villages` dataset, whose
    /// columns are named in `names`.
    pub fn from_rows(names: &[String], rows: &[Vec<Value>]) -> Registry {
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
        let text = |row: &Vec<Value>, c: Option<usize>| -> String {
            c.and_then(|c| row.get(c))
                .map(|v| v.render())
                .unwrap_or_default()
        };
        let mut reg = Registry::default();
        for row in rows {
            let former = text(row, c_former)
                .split([';', '；', ',', '，', '、'])
                .map(|p| clean_name(p).into_owned())
                .filter(|s| !s.is_empty())
                .collect();
            let merged = text(row, c_merged);
            reg.villages.push(Village {
                code: text(row, c_code),
                county: clean_name(&text(row, c_county)).into_owned(),
                township: clean_name(&text(row, c_town)).into_owned(),
                name: clean_name(&text(row, c_name)).into_owned(),
                former,
                kind: text(row, c_kind),
                merged_into: if merged.is_empty() {
                    None
                } else {
                    Some(merged)
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
        for (i, v) in self.villages.iter().enumerate() {
            self.by_code.insert(v.code.clone(), i);
            self.by_full
                .insert(key(&[&v.county, &v.township, &v.name]), i);
            self.by_county
                .entry(key(&[&v.county, &v.name]))
                .or_default()
                .push(i);
            self.by_stem
                .entry(key(&[&v.county, &stem(&v.name)]))
                .or_default()
                .push(i);
            for f in &v.former {
                self.by_former
                    .entry(key(&[&v.county, f]))
                    .or_default()
                    .push(i);
            }
            let t = self.townships.entry(v.county.clone()).or_default();
            if !t.contains(&v.township) {
                t.push(v.township.clone());
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.villages.is_empty()
    }

    pub fn counties(&self) -> Vec<String> {
        let mut c: Vec<String> = self.townships.keys().cloned().collect();
        c.sort();
        c
    }

    pub fn townships(&self, county: &str) -> &[String] {
        self.townships
            .get(county)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }

    /// The county named in `text` (a file name, a title), longest first.
    pub fn find_county_in(&self, text: &str) -> Option<String> {
        let mut hits: Vec<&String> = self
            .townships
            .keys()
            .filter(|c| text.contains(c.as_str()))
            .collect();
        hits.sort_by_key(|c| std::cmp::Reverse(c.chars().count()));
        hits.first().map(|s| s.to_string())
    }

    pub fn by_code(&self, code: &str) -> Option<&Village> {
        self.by_code.get(code).map(|&i| &self.villages[i])
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
            match v.merged_into.as_ref().and_then(|c| self.by_code.get(c)) {
                Some(&next) if next != cur => cur = next,
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

    fn pick(&self, ids: Option<&Vec<usize>>, township: &str) -> Option<usize> {
        let ids = ids?;
        if ids.len() == 1 {
            return Some(ids[0]);
        }
        let in_town: Vec<usize> = ids
            .iter()
            .copied()
            .filter(|&i| self.villages[i].township == township)
            .collect();
        (in_town.len() == 1).then(|| in_town[0])
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
    pub fn resolve_as_of(
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
            if let Some(&i) = self.by_code.get(code) {
                return Some((i, MatchKind::Code));
            }
        }
        let county = clean_name(county);
        let township = clean_name(township);
        let name = clean_name(name);
        if name.is_empty() {
            return None;
        }
        if let Some(&i) = self.by_full.get(&key(&[&county, &township, &name])) {
            return Some((i, MatchKind::Name));
        }
        let in_county = key(&[&county, &name]);
        if let Some(i) = self.pick(self.by_county.get(&in_county), &township) {
            return Some((i, MatchKind::Name));
        }
        if let Some(i) = self.pick(self.by_former.get(&in_county), &township) {
            return Some((i, MatchKind::Former));
        }
        if let Some(i) = self.pick(self.by_stem.get(&key(&[&county, &stem(&name)])), &township) {
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
            .filter(|v| v.county == county && v.merged_into.is_none())
            .map(|v| {
                let d = levenshtein(&target, &v.name.chars().collect::<Vec<_>>());
                let t = usize::from(v.township != township);
                (d, t, v)
            })
            .collect();
        scored.sort_by(|a, b| (a.0, a.1, &a.2.code).cmp(&(b.0, b.1, &b.2.code)));
        let limit = target.len().max(2);
        scored
            .into_iter()
            .filter(|(d, _, _)| *d < limit)
            .take(3)
            .map(|(_, _, v)| format!("{}{}", v.township, v.name))
            .collect()
    }
}

/// Edit distance over characters.
pub fn levenshtein(a: &[char], b: &[char]) -> usize {
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

    fn reg() -> Registry {
        let names: Vec<String> = [
            "village_code",
            "county",
            "township",
            "village",
            "former_names",
            "kind",
            "merged_into",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let t = |s: &str| {
            if s.is_empty() {
                Value::Null
            } else {
                Value::Text(s.to_string())
            }
        };
        let rows = vec![
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
        Registry::from_rows(&names, &rows)
    }

    #[test]
    fn matching_order() {
        let r = reg();
        let m = r.resolve(Some("320682101002"), "x", "y", "z").unwrap();
        assert_eq!(
            (m.village.name.as_str(), m.how),
            ("东方社区", MatchKind::Code)
        );
        let m = r.resolve(None, "如皋市", "白蒲镇", " 新华 村").unwrap();
        assert_eq!(m.village.code, "320682102001");
        // same name in two townships and no township given: ambiguous
        assert!(r.resolve(None, "如皋市", "", "新华村").is_none());
        let m = r.resolve(None, "如皋市", "如城街道", "老庄村").unwrap();
        assert_eq!(
            (m.village.code.as_str(), m.how),
            ("320682101001", MatchKind::Former)
        );
        let m = r.resolve(None, "如皋市", "如城街道", "西湾村").unwrap();
        assert_eq!(m.village.code, "320682101001");
        assert_eq!(m.merged_from.unwrap().name, "西湾村");
        let m = r.resolve(None, "如皋市", "如城街道", "东方村").unwrap();
        assert_eq!(
            (m.village.code.as_str(), m.how),
            ("320682101002", MatchKind::Stem)
        );
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
