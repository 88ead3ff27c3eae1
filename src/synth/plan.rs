//! One file as a county would make it: its rows laid out with that
//! county's habits, a few bad rows planted, and the truth of every row.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::catalogue::Code;
use crate::config::{Field, FieldType, Source};
use crate::normalise::value::{cell_ref, Value};
use crate::text::format_number;
use world::World;

use write::{Book, FileKind, Out, SheetOut};

use super::*;

pub(super) struct FilePlan<'a> {
    pub(super) src: &'a Source,
    pub(super) county: &'a str,
    pub(super) year: i32,
    pub(super) month: Option<u32>,
    pub(super) prof: &'a Profile,
    pub(super) world: &'a World,
}

/// Full-width digits for a number's text.
pub(super) fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_digit() || c == '.' || c == ',' || c == '-' {
                char::from_u32(c as u32 + 0xFEE0).unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

pub(super) fn thousands(n: f64) -> String {
    let neg = n < 0.0;
    let s = format_number(n.abs());
    let (int, frac) = match s.split_once('.') {
        Some((a, b)) => (a.to_string(), format!(".{b}")),
        None => (s.clone(), String::new()),
    };
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}{}{}", if neg { "-" } else { "" }, out, frac)
}

pub(super) const LEVEL_WORDS: [&str; 19] = [
    "零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三",
    "十四", "十五", "十六", "十七", "十八",
];

/// Which group header a field sits under in two- and three-row headers.
pub(super) fn group_of(src: &Source, f: &Field) -> &'static str {
    match (src.id.as_str(), f.name.as_str()) {
        (_, "county" | "township" | "village" | "village_code") => "",
        ("T01", "households" | "party_members" | "org_type") => "基本情况",
        ("T01", _) => "组织设置",
        ("T02", n) if n.starts_with('s') && n.len() == 3 => {
            let i: usize = n[1..].parse().unwrap_or(1);
            [
                "组织设置",
                "班子建设",
                "党员队伍",
                "作用发挥",
                "阵地建设",
                "基础保障",
            ][((i - 1) / 4).min(5)]
        }
        ("T02", _) => "星级评定",
        ("T03", n) if n.starts_with("a_") => "八个一",
        ("T04", "level" | "grade" | "monthly_base_pay" | "annual_pay" | "full_time") => {
            "专职化管理"
        }
        ("T07", _) => "收入情况",
        _ => "主要指标",
    }
}

impl FilePlan<'_> {
    pub(super) fn header_text(&self, f: &Field, pos: usize) -> String {
        let v = self.prof.variant;
        let mut h = if v == 0 || f.variants.is_empty() {
            f.header.clone()
        } else {
            f.variants[(v - 1 + pos) % f.variants.len()].clone()
        };
        if f.ty == FieldType::Money {
            if self.prof.money_in_yuan {
                h.push_str("（元）");
            } else if self.prof.variant == 1 && f.unit == Some(crate::text::Unit::WanYuan) {
                h.push_str("（万元）");
            }
        }
        if self.prof.stray_spaces && pos % 5 == 1 {
            h = format!(" {h}\n");
        }
        h
    }

    /// The columns this county writes for this template.
    pub(super) fn columns(&self) -> Vec<usize> {
        let src = self.src;
        let mut cols: Vec<usize> = Vec::new();
        for (i, f) in src.fields.iter().enumerate() {
            let skip = match f.name.as_str() {
                "county" => self.prof.omit_county,
                "township" => self.prof.township_sheets,
                "village_code" => self.prof.omit_code || src.id == "T08",
                "period" | "year" => self.prof.omit_period,
                _ => false,
            };
            if !skip {
                cols.push(i);
            }
        }
        if self.prof.reverse_columns {
            // location first, the rest in reverse order
            let (loc, mut rest): (Vec<usize>, Vec<usize>) = cols.into_iter().partition(|&i| {
                matches!(
                    src.fields[i].name.as_str(),
                    "county" | "township" | "village"
                )
            });
            rest.reverse();
            cols = loc;
            cols.extend(rest);
        }
        cols
    }

    pub(super) fn render(&self, f: &Field, v: &Value, rng: &mut ChaCha8Rng) -> Out {
        let p = self.prof;
        let num_text = |n: f64| -> Out {
            if p.thousands && n.abs() >= 1000.0 {
                Out::S(thousands(n))
            } else if p.fullwidth {
                Out::S(fullwidth(&format_number(n)))
            } else if p.kind.is_csv() {
                Out::S(format_number(n))
            } else {
                Out::N(n)
            }
        };
        match (f.ty, v) {
            (_, Value::Null) => {
                if p.placeholders && !f.required {
                    Out::s(["—", "/", "无", ""][rng.gen_range(0..4)])
                } else {
                    Out::Empty
                }
            }
            (FieldType::Money, Value::Float(y)) => {
                let unit = if p.money_in_yuan {
                    crate::text::Unit::Yuan
                } else {
                    f.unit.unwrap_or(crate::text::Unit::Yuan)
                };
                let amount = y / unit.to_yuan();
                let amount = (amount * 100.0).round() / 100.0;
                if p.cell_units {
                    Out::S(format!("{}{}", format_number(amount), unit.label()))
                } else {
                    num_text(amount)
                }
            }
            (FieldType::Percent, Value::Float(x)) => {
                if p.pct_fraction {
                    Out::N(x / 100.0)
                } else if p.kind.is_csv() {
                    Out::S(format!("{}%", format_number(*x)))
                } else {
                    Out::N(*x)
                }
            }
            (FieldType::Int | FieldType::Number, Value::Int(i)) => num_text(*i as f64),
            (FieldType::Int | FieldType::Number, Value::Float(x)) => num_text(*x),
            (FieldType::Level, Value::Int(i)) => {
                if p.level_words && f.name == "level" {
                    Out::S(format!(
                        "{}级",
                        LEVEL_WORDS.get(*i as usize).copied().unwrap_or("零")
                    ))
                } else if p.level_words && f.name == "grade" {
                    Out::S(format!("{i}档"))
                } else {
                    num_text(*i as f64)
                }
            }
            (FieldType::Year, Value::Int(y)) => {
                if p.level_words {
                    Out::S(format!("{y}年"))
                } else if p.kind.is_csv() {
                    Out::S(y.to_string())
                } else {
                    Out::N(*y as f64)
                }
            }
            (FieldType::Bool, Value::Bool(b)) => {
                let (yes, no) =
                    if f.name.len() == 3 && f.name.starts_with('s') && p.kind == FileKind::Ods {
                        ("达标", "不达标")
                    } else {
                        p.yes_no
                    };
                Out::s(if *b { yes } else { no })
            }
            (FieldType::Date, Value::Date(d)) => match p.date_style {
                0 if !p.kind.is_csv() => Out::D(*d),
                1 | 0 => Out::S(format!("{}-{}-{}", d.year(), d.month(), d.day())),
                2 => Out::S(format!("{}年{}月{}日", d.year(), d.month(), d.day())),
                _ => Out::S(d.format("%Y/%m/%d").to_string()),
            },
            (FieldType::Month, Value::Date(d)) => match p.month_style {
                0 if !p.kind.is_csv() => Out::D(*d),
                1 | 0 => Out::S(d.format("%Y-%m").to_string()),
                2 => Out::S(format!("{}年{}月", d.year(), d.month())),
                _ => Out::S(d.format("%Y.%m").to_string()),
            },
            (FieldType::Name, Value::Text(t)) if p.stray_spaces => {
                let chars: Vec<char> = t.chars().collect();
                if chars.len() > 2 && rng.gen_bool(0.2) {
                    Out::S(format!(
                        " {} {} ",
                        chars[..2].iter().collect::<String>(),
                        chars[2..].iter().collect::<String>()
                    ))
                } else {
                    Out::S(t.clone())
                }
            }
            (_, v) => Out::S(v.render()),
        }
    }

    /// The reader's parse of a written numeric value, for totals.
    pub(super) fn sum_value(f: &Field, v: &Value) -> Option<f64> {
        if !f.total {
            return None;
        }
        v.as_f64()
    }

    pub(super) fn file_name(&self, corrected: bool) -> String {
        let src = self.src;
        let period = match self.month {
            Some(m) => format!("{}_{:02}", self.year, m),
            None => self.year.to_string(),
        };
        let fix = if corrected { "_更正" } else { "" };
        let ext = self.prof.kind.ext();
        if self.prof.anonymous_names && matches!(src.id.as_str(), "T10" | "T11") {
            return format!(
                "{}_{}_报表{}{}.{}",
                self.county,
                period,
                &src.id[1..],
                fix,
                ext
            );
        }
        format!("{}_{}_{}{}.{}", self.county, src.title, period, fix, ext)
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn write(
        &self,
        out: &Path,
        rows: &[TrueRow],
        corrected: bool,
        rng: &mut ChaCha8Rng,
    ) -> Result<(
        String,
        FileTruth,
        Vec<(String, usize, BTreeMap<&'static str, Value>)>,
        Book,
    )> {
        let src = self.src;
        let p = self.prof;
        let cols = self.columns();
        let name = self.file_name(corrected);
        let rel = format!("{}/{}", self.county, name);
        let path = out.join("inbox").join(self.county).join(&name);
        let fields = &src.fields;
        let field_pos = |n: &str| cols.iter().position(|&i| fields[i].name == n);

        // 1. data lines (with plants), in township order
        let mut lines: Vec<Line> = Vec::new();
        let wide = src.id == "T08" && p.wide_stations;
        let village_idx = src.field_index("village");
        let mut i = 0;
        while i < rows.len() {
            let group: Vec<&TrueRow> = if wide {
                // one line per station: its supported villages side by side
                let sid = rows[i].values.get("station_id").cloned();
                let mut g = vec![&rows[i]];
                while i + g.len() < rows.len()
                    && rows[i + g.len()].values.get("station_id").cloned() == sid
                    && g.len() < 3
                {
                    g.push(&rows[i + g.len()]);
                }
                g
            } else {
                vec![&rows[i]]
            };
            i += group.len();
            let first = group[0];
            let mut cells = Vec::new();
            let mut sums = vec![None; fields.len()];
            for &fi in &cols {
                let f = &fields[fi];
                let v = first
                    .values
                    .get(f.name.as_str())
                    .cloned()
                    .unwrap_or(Value::Null);
                sums[fi] = Self::sum_value(f, &v);
                cells.push(self.render(f, &v, rng));
            }
            if wide {
                // replace the single village column by 帮扶村1..3
                if let Some(vpos) = field_pos("village") {
                    cells.remove(vpos);
                    for (k, r) in group.iter().enumerate() {
                        let v = r.values.get("village").cloned().unwrap_or(Value::Null);
                        cells.insert(vpos + k, Out::S(v.render()));
                    }
                    for _ in group.len()..3 {
                        cells.insert(vpos + group.len(), Out::Empty);
                    }
                }
            }
            if p.extra_column {
                cells.push(Out::s(format!("片区{}", (lines.len() % 4) + 1)));
            }
            lines.push(Line {
                cells,
                records: group.iter().map(|r| r.values.clone()).collect(),
                sums,
                bad: None,
                warnings: Vec::new(),
                township: first.township.clone(),
            });
        }
        let _ = village_idx;
        // the column of a field in the written layout
        let layout_col = |name: &str| -> Option<usize> {
            let pos = field_pos(name)?;
            if wide {
                let vpos = field_pos("village")?;
                if name == "village" || pos < vpos {
                    Some(pos)
                } else {
                    Some(pos + 2)
                }
            } else {
                Some(pos)
            }
        };
        self.plant(&mut lines, rng, &layout_col, corrected)?;

        // 2. sheets
        let headers: Vec<String> = {
            let mut h: Vec<String> = Vec::new();
            for (pos, &fi) in cols.iter().enumerate() {
                let f = &fields[fi];
                if wide && f.name == "village" {
                    for k in 1..=3 {
                        h.push(format!("帮扶村{k}"));
                    }
                } else {
                    h.push(self.header_text(f, pos));
                }
            }
            if p.extra_column {
                h.push("所属片区".to_string());
            }
            h
        };
        let groups: Vec<String> = {
            let mut g: Vec<String> = Vec::new();
            for &fi in &cols {
                let f = &fields[fi];
                let n = if wide && f.name == "village" { 3 } else { 1 };
                for _ in 0..n {
                    g.push(group_of(src, f).to_string());
                }
            }
            if p.extra_column {
                g.push(String::new());
            }
            g
        };
        let unit_note = if p.money_in_yuan || p.cell_units {
            None
        } else if src.fields.iter().any(|f| f.ty == FieldType::Money) {
            src.fields
                .iter()
                .find(|f| f.ty == FieldType::Money)
                .and_then(|f| f.unit)
                .map(|u| format!("单位：{}", u.label()))
        } else {
            Some("单位：户、个、人".to_string())
        };
        let period_label = match self.month {
            Some(m) => format!("{}年{}月", self.year, m),
            None => format!("{}年度", self.year),
        };
        let title = format!("{}{}{}", self.county, period_label, src.title);
        let sheet_groups: Vec<(String, Vec<usize>)> = if p.township_sheets && !p.kind.is_csv() {
            let mut by: Vec<(String, Vec<usize>)> = Vec::new();
            for (k, l) in lines.iter().enumerate() {
                match by.iter_mut().find(|(t, _)| *t == l.township) {
                    Some((_, v)) => v.push(k),
                    None => by.push((l.township.clone(), vec![k])),
                }
            }
            by
        } else {
            let name = if p.kind.is_csv() {
                Path::new(&name)
                    .file_stem()
                    .map(|s| s.to_string_lossy().chars().take(31).collect())
                    .unwrap_or_default()
            } else {
                "Sheet1".to_string()
            };
            vec![(name, (0..lines.len()).collect())]
        };
        let mut truth = FileTruth {
            file: rel.clone(),
            template: src.id.clone(),
            county: self.county.to_string(),
            period: match self.month {
                Some(m) => format!("{}-{:02}", self.year, m),
                None => self.year.to_string(),
            },
            resubmits: corrected.then(|| format!("{}/{}", self.county, self.file_name(false))),
            ..FileTruth::default()
        };
        let mut sheets: Vec<SheetOut> = Vec::new();
        let mut recs: Vec<(String, usize, BTreeMap<&'static str, Value>)> = Vec::new();
        if p.extra_sheets {
            sheets.push(SheetOut {
                name: "填表说明".into(),
                rows: vec![
                    vec![Out::s("填表说明")],
                    vec![Out::s("1. 本表由各镇（街道）按月汇总填报。")],
                    vec![Out::s("2. 金额单位为万元，保留两位小数。")],
                ],
                ..SheetOut::default()
            });
        }
        let width = headers.len();
        for (sheet_name, idx) in &sheet_groups {
            let mut s = SheetOut {
                name: sheet_name.clone(),
                ..SheetOut::default()
            };
            if p.title {
                s.rows.push(vec![Out::S(title.clone())]);
                if !p.kind.is_csv() && width > 1 {
                    s.merges.push((0, 0, 0, (width - 1) as u16));
                }
                truth.non_data += 1;
            }
            if p.unit_row {
                if let Some(u) = &unit_note {
                    let mut r = vec![Out::Empty; width.max(1)];
                    let at = width.saturating_sub(2);
                    r[at] = Out::S(u.clone());
                    s.rows.push(r);
                    truth.non_data += 1;
                }
            }
            // header band
            let top = s.rows.len() as u32;
            match p.header_rows {
                1 => s
                    .rows
                    .push(headers.iter().map(|h| Out::S(h.clone())).collect()),
                n => {
                    let mut band: Vec<Vec<Out>> = vec![vec![Out::Empty; width]; n];
                    let last = n - 1;
                    for c in 0..width {
                        if groups[c].is_empty() {
                            // a location column spans the whole band
                            band[0][c] = Out::S(headers[c].clone());
                            s.merges.push((top, c as u16, top + last as u32, c as u16));
                        } else {
                            band[last][c] = Out::S(headers[c].clone());
                        }
                    }
                    // group headers in the row above the field headers
                    let grow = last - 1;
                    for (c, e) in runs(&groups, |a, b| a == b) {
                        band[grow][c] = Out::S(groups[c].clone());
                        if e > c {
                            let r = top + grow as u32;
                            s.merges.push((r, c as u16, r, e as u16));
                        }
                    }
                    if n == 3 {
                        // a top row over each run of indicator columns
                        for (c, e) in runs(&groups, |_, _| true) {
                            band[0][c] = Out::s("统计指标");
                            if e > c {
                                s.merges.push((top, c as u16, top, e as u16));
                            }
                        }
                    }
                    s.rows.extend(band);
                }
            }
            truth.non_data += p.header_rows;
            // data, with subtotals and totals
            let mut sub = vec![0.0f64; fields.len()];
            let mut all = vec![0.0f64; fields.len()];
            let mut cur_town: Option<String> = None;
            let label_col = layout_col("village").unwrap_or(0);
            let town_col = layout_col("township");
            let totals_line = |sums: &[f64], label: &str, town: Option<&str>| -> Vec<Out> {
                let mut r = vec![Out::Empty; width];
                r[label_col] = Out::s(label);
                if let (Some(tc), Some(t)) = (town_col, town) {
                    r[tc] = Out::s(t);
                }
                for (pos, &fi) in cols.iter().enumerate() {
                    let f = &fields[fi];
                    if f.total && f.name != "village" {
                        let c = if wide && pos > field_pos("village").unwrap_or(usize::MAX) {
                            pos + 2
                        } else {
                            pos
                        };
                        let v = if f.ty == FieldType::Money {
                            Value::Float((sums[fi] * 100.0).round() / 100.0)
                        } else {
                            Value::Int(sums[fi].round() as i64)
                        };
                        r[c] = match self.render(f, &v, &mut ChaCha8Rng::seed_from_u64(0)) {
                            Out::Empty => Out::Empty,
                            o => o,
                        };
                    }
                }
                r
            };
            let has_totals = p.totals != Totals::None && cols.iter().any(|&fi| fields[fi].total);
            for &k in idx {
                let l = &lines[k];
                if p.totals == Totals::SubAndTotal && has_totals {
                    if let Some(t) = &cur_town {
                        if *t != l.township {
                            s.rows.push(totals_line(&sub, "小计", Some(t)));
                            truth.non_data += 1;
                            sub.iter_mut().for_each(|x| *x = 0.0);
                        }
                    }
                }
                cur_town = Some(l.township.clone());
                let r = s.rows.len();
                s.rows.push(l.cells.clone());
                for (fi, v) in l.sums.iter().enumerate() {
                    if let Some(x) = v {
                        sub[fi] += x;
                        all[fi] += x;
                    }
                }
                match &l.bad {
                    Some((code, col)) => {
                        truth.rejected += 1;
                        truth.planted.push(Planted {
                            code: code.clone(),
                            cell: match col {
                                Some(c) => cell_ref(&s.name, r, *c),
                                None => format!("{}!{}", s.name, r + 1),
                            },
                        });
                    }
                    None => {
                        truth.accepted += 1;
                        truth.records += l.records.len();
                        for rec in &l.records {
                            recs.push((s.name.clone(), r + 1, rec.clone()));
                        }
                    }
                }
                for (code, c) in &l.warnings {
                    truth.warnings.push(Planted {
                        code: code.clone(),
                        cell: cell_ref(&s.name, r, *c),
                    });
                }
            }
            if has_totals {
                if p.totals == Totals::SubAndTotal {
                    if let Some(t) = &cur_town {
                        s.rows.push(totals_line(&sub, "小计", Some(t)));
                        truth.non_data += 1;
                    }
                }
                let mut line = totals_line(&all, "合计", None);
                // one county misadds one total a year: a warning, not a reject
                if self.county_index() == 0 && self.month.is_none() && src.id == "T10" {
                    if let Some(c) = layout_col("training_person_times") {
                        let stated =
                            all[src.field_index("training_person_times").unwrap_or(0)] + 7.0;
                        line[c] = Out::N(stated);
                        truth.warnings.push(Planted {
                            code: Code::TotalsMismatch.to_string(),
                            cell: cell_ref(&s.name, s.rows.len(), c),
                        });
                    }
                }
                s.rows.push(line);
                truth.non_data += 1;
            }
            if p.signoff {
                s.rows.push(vec![]);
                s.rows.push(vec![
                    Out::s("填报人：王敏"),
                    Out::Empty,
                    Out::Empty,
                    Out::s("审核人：陈刚"),
                ]);
                s.rows.push(vec![Out::s(format!(
                    "填报日期：{}年{}月{}日",
                    self.year,
                    self.month.unwrap_or(12),
                    28
                ))]);
                truth.non_data += 2;
            }
            sheets.push(s);
        }
        if p.extra_sheets {
            sheets.push(SheetOut {
                name: "旧表(勿删)".into(),
                hidden: true,
                rows: vec![vec![Out::s("旧数据")], vec![Out::s("作废")]],
                ..SheetOut::default()
            });
            truth.warnings.push(Planted {
                code: Code::HiddenSheet.to_string(),
                cell: "旧表(勿删)".into(),
            });
            truth.warnings.push(Planted {
                code: Code::InstructionSheet.to_string(),
                cell: "填表说明".into(),
            });
        }
        if p.extra_column {
            let first_sheet = &sheets[0];
            let header_row = if p.title { 1 } else { 0 };
            truth.warnings.push(Planted {
                code: Code::UnknownColumn.to_string(),
                cell: cell_ref(&first_sheet.name, header_row, width - 1),
            });
        }
        // money that nothing gives a unit for is read in the template's
        // unit, with one warning on the first sheet's header row
        let unit_stated = |f: &Field| {
            p.money_in_yuan
                || p.cell_units
                || (p.unit_row && unit_note.is_some())
                || (p.variant == 1 && f.unit == Some(crate::text::Unit::WanYuan))
        };
        if cols
            .iter()
            .any(|&fi| fields[fi].ty == FieldType::Money && !unit_stated(&fields[fi]))
        {
            truth.warnings.push(Planted {
                code: Code::NoUnit.to_string(),
                cell: format!("{}!{}", sheets[0].name, if p.title { 2 } else { 1 }),
            });
        }
        truth.read = truth.accepted + truth.rejected + truth.non_data;
        truth.planted.sort();
        truth.warnings.sort();
        let book = Book {
            path,
            kind: p.kind,
            sheets,
        };
        Ok((rel, truth, recs, book))
    }

    pub(super) fn county_index(&self) -> usize {
        self.world
            .counties
            .iter()
            .position(|c| c.name == self.county)
            .unwrap_or(usize::MAX)
    }

    /// Plants bad rows and harmless oddities (old names) into the lines.
    pub(super) fn plant(
        &self,
        lines: &mut Vec<Line>,
        rng: &mut ChaCha8Rng,
        col: &dyn Fn(&str) -> Option<usize>,
        corrected: bool,
    ) -> Result<()> {
        let src = self.src;
        let p = self.prof;
        let fields = &src.fields;
        // old names: harmless, reported as warnings
        if p.aliases && src.match_village {
            if let Some(vc) = col("village") {
                for l in lines.iter_mut() {
                    if l.records.len() != 1 {
                        continue;
                    }
                    let code = l.records[0]
                        .get("village_code")
                        .map(|v| v.render())
                        .unwrap_or_default();
                    if let Some(v) = self.world.by_code(&code) {
                        if let Some(alias) = self.world.old_name_for(v) {
                            if rng.gen_bool(0.5) {
                                l.cells[vc] = Out::S(alias.1.clone());
                                l.warnings.push((alias.0.to_string(), vc));
                            }
                        }
                    }
                }
            }
        }
        if corrected || lines.len() < 6 {
            return Ok(());
        }
        // about a third of files carry one or two planted problems
        let n_plants = match rng.gen_range(0..6) {
            0 | 1 => 1,
            2 => 2,
            _ => 0,
        };
        let mut used: Vec<usize> = Vec::new();
        for _ in 0..n_plants {
            let free = |k: usize, lines: &[Line]| {
                !used.contains(&k)
                    && !used.contains(&(k + 1))
                    && k > 0
                    && !used.contains(&(k - 1))
                    && lines[k].records.len() == 1
                    && lines[k].warnings.is_empty()
                    && lines[k].bad.is_none()
            };
            let Some(k) = (0..100)
                .map(|_| rng.gen_range(1..lines.len() - 1))
                .find(|&k| free(k, lines))
            else {
                continue;
            };
            used.push(k);
            let kinds = plant_kinds(&src.id);
            let kind = kinds[rng.gen_range(0..kinds.len())];
            let fidx = |n: &str| src.field_index(n);
            match kind {
                "unknown_village" => {
                    let (Some(vc), Some(vi)) = (col("village"), fidx("village")) else {
                        continue;
                    };
                    let name = lines[k].records[0]
                        .get("village")
                        .map(|v| v.render())
                        .unwrap_or_default();
                    let mut ch: Vec<char> = name.chars().collect();
                    if ch.is_empty() {
                        continue;
                    }
                    ch[0] = '彭';
                    lines[k].cells[vc] = Out::S(ch.into_iter().collect());
                    if let Some(cc) = col("village_code") {
                        lines[k].cells[cc] = Out::Empty;
                    }
                    let _ = vi;
                    lines[k].bad = Some((Code::UnknownVillage.to_string(), Some(vc)));
                }
                "duplicate" => {
                    let mut copy = Line {
                        cells: lines[k].cells.clone(),
                        records: Vec::new(),
                        sums: lines[k].sums.clone(),
                        // named at the first key column the sheet has
                        // (else the village's), as the reader reports it
                        bad: Some((
                            Code::DuplicateKey.to_string(),
                            src.keys
                                .iter()
                                .find_map(|&k| col(&fields[k].name))
                                .or_else(|| col("village")),
                        )),
                        warnings: Vec::new(),
                        township: lines[k].township.clone(),
                    };
                    if src.id == "T08" {
                        continue;
                    }
                    copy.records.clear();
                    lines.insert(k + 1, copy);
                    used.push(k + 1);
                }
                other => {
                    let (field, bad_out, code): (&str, Out, &str) = match other {
                        "negative" => {
                            let f = negative_field(&src.id);
                            (f, Out::N(-3.0), Code::Range.as_str())
                        }
                        "cross" => {
                            let g = lines[k].records[0]
                                .get("grids")
                                .and_then(|v| v.as_f64())
                                .unwrap_or(0.0);
                            ("grid_branches", Out::N(g + 2.0), Code::CrossField.as_str())
                        }
                        "text_in_number" => (
                            text_field(&src.id),
                            Out::s("待核实"),
                            if text_field_is_int(&src.id) {
                                Code::NotInteger.as_str()
                            } else {
                                Code::NotNumber.as_str()
                            },
                        ),
                        "level" => ("level", Out::s("七级"), Code::Range.as_str()),
                        "required_if" => ("transformed_on", Out::Empty, Code::RequiredIf.as_str()),
                        "bad_date" => (
                            date_field(&src.id),
                            Out::s("2024-13-45"),
                            Code::NotDate.as_str(),
                        ),
                        "percent" => ("satisfaction", Out::N(120.0), Code::Range.as_str()),
                        "score" => ("public_score", Out::N(105.0), Code::Range.as_str()),
                        "required" => {
                            (required_field(&src.id), Out::Empty, Code::Required.as_str())
                        }
                        _ => continue,
                    };
                    let Some(c) = col(field) else { continue };
                    if other == "required_if" {
                        // only a transformed village can miss its date
                        let t = col("transformed");
                        let Some(tc) = t else { continue };
                        lines[k].cells[tc] = Out::s(p.yes_no.0);
                    }
                    if other == "cross" && !lines[k].records[0].contains_key("grids") {
                        continue;
                    }
                    let fi = fidx(field);
                    // the reader still sums what it can parse
                    if let Some(fi) = fi {
                        lines[k].sums[fi] = match (&bad_out, fields[fi].total) {
                            (Out::N(x), true) => Some(if fields[fi].ty == FieldType::Money {
                                let unit = if p.money_in_yuan {
                                    1.0
                                } else {
                                    fields[fi].unit.map(|u| u.to_yuan()).unwrap_or(1.0)
                                };
                                x * unit
                            } else {
                                *x
                            }),
                            _ => None,
                        };
                    }
                    lines[k].cells[c] = bad_out;
                    lines[k].bad = Some((code.to_string(), Some(c)));
                }
            }
        }
        Ok(())
    }
}

/// Maximal runs `(first, last)` of non-empty labels in which each label
/// `joins` the one before it.
pub(super) fn runs(labels: &[String], joins: impl Fn(&str, &str) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut c = 0;
    while c < labels.len() {
        if labels[c].is_empty() {
            c += 1;
            continue;
        }
        let mut e = c;
        while e + 1 < labels.len() && !labels[e + 1].is_empty() && joins(&labels[e], &labels[e + 1])
        {
            e += 1;
        }
        out.push((c, e));
        c = e + 1;
    }
    out
}

pub(super) fn plant_kinds(id: &str) -> &'static [&'static str] {
    match id {
        "T01" => &["unknown_village", "negative", "cross", "duplicate"],
        "T02" => &["unknown_village", "duplicate"],
        "T03" => &["required_if", "percent", "unknown_village"],
        "T04" => &["level", "unknown_village", "duplicate"],
        "T05" => &["negative", "bad_date", "duplicate"],
        "T06" => &["negative", "required", "unknown_village", "duplicate"],
        "T07" => &["required", "text_in_number", "unknown_village"],
        "T08" => &["text_in_number"],
        "T09" => &["bad_date", "negative", "duplicate"],
        "T10" => &["negative", "text_in_number", "unknown_village"],
        "T11" => &["score", "unknown_village"],
        "T12" => &["bad_date", "unknown_village"],
        _ => &[],
    }
}

pub(super) fn negative_field(id: &str) -> &'static str {
    match id {
        "T01" => "party_groups",
        "T05" => "member_households",
        "T06" => "persons",
        "T09" => "investment",
        _ => "training_person_times",
    }
}

pub(super) fn text_field(id: &str) -> &'static str {
    match id {
        "T07" => "pairing_income",
        "T08" => "dividend",
        _ => "dual_lead_members",
    }
}

pub(super) fn text_field_is_int(id: &str) -> bool {
    !matches!(id, "T07" | "T08")
}

pub(super) fn date_field(id: &str) -> &'static str {
    match id {
        "T05" => "founded_on",
        "T12" => "established_on",
        _ => "signed_on",
    }
}

pub(super) fn required_field(id: &str) -> &'static str {
    match id {
        "T06" => "income",
        _ => "operating_income",
    }
}

/// A date within a year, deterministic from the generator.
pub(crate) fn date_in(rng: &mut ChaCha8Rng, year: i32) -> NaiveDate {
    let day = rng.gen_range(0..360);
    NaiveDate::from_ymd_opt(year, 1, 1)
        .and_then(|d| d.checked_add_signed(chrono::Duration::days(day)))
        .unwrap_or_default()
}
