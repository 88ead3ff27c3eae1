//! A generated inbox where every typed column of every template receives
//! hostile and odd strings, one changed cell per row. Every changed cell
//! must come out either accepted with the value it should have or rejected
//! with a problem on exactly that cell; every file keeps
//! read = accepted + rejected + non-data; `run` ends with 0 or 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use zhenxing::config::{Context, Field, FieldType, Pipeline, Source};
use zhenxing::synth::write::{write_book, FileKind, Out, SheetOut};
use zhenxing::text::{clean_name, is_placeholder, to_half_width};
use zhenxing::validate::issue::Severity;
use zhenxing::validate::{load_registry, Engine, FileResult};
use zhenxing::worker::Isolation;

use super::util::*;

/// The hostile and odd strings each typed cell receives.
pub fn hostile() -> Vec<String> {
    let mut v: Vec<String> = [
        "待定",
        "不详",
        "六月",
        "今年",
        "暂无",
        "—",
        "N/A",
        "  ",
        "\u{3000}",
        "２０２４年１３月３２日",
        "2024-02-30",
        "2024/13/01",
        "0000-00-00",
        "9999-12-31",
        "1e400",
        "-1e400",
        "123456789012345678901234567890",
        "1,2,3",
        "12..5",
        "--5",
        "+",
        "三百",
        "NaN",
        "inf",
        "=1+1",
        "+SUM(A1)",
        "@cmd",
        "-2+3",
        "'quoted'",
        "\"dq\"",
        "a\nb",
        "a\r\nb",
        "\u{202E}abc",
        "\u{200F}12",
        "😀",
        "👨\u{200D}👩\u{200D}👧",
        "0x1F",
        "1/0",
        "是否",
        "√×",
        "10万万元",
        "-5",
        "99999999999999999999万元",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("X".repeat(5000));
    v.push("村".repeat(5000));
    v
}

pub(crate) fn pipeline() -> Pipeline {
    let p = zhenxing::config::load(&repo().join("pipelines/nantong.toml")).unwrap();
    Pipeline {
        registry: repo().join("sample_data/registry/南通市村社区名录.xlsx"),
        ..p
    }
}

/// A valid resident ID number with the given sequence digits.
fn id_number(seq: usize) -> String {
    let body = format!("32068219800101{:03}", seq % 1000);
    let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(w)
        .map(|(b, w)| (b - b'0') as u32 * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

/// One registry village: county, township, village, code.
pub(crate) type Village = (String, String, String, String);

pub(crate) fn villages(p: &Pipeline) -> BTreeMap<String, Vec<Village>> {
    let (_, res) = load_registry(p, Isolation::in_process()).unwrap();
    let src = p.registry_source().unwrap();
    let at = |n: &str| src.field_index(n).unwrap();
    let mut by_county: BTreeMap<String, Vec<Village>> = BTreeMap::new();
    for r in &res.records {
        if !r.values[at("merged_into")].is_null() {
            continue;
        }
        let t = |n: &str| r.values[at(n)].render();
        by_county.entry(t("county")).or_default().push((
            t("county"),
            t("township"),
            t("village"),
            t("village_code"),
        ));
    }
    by_county
}

pub(crate) const LOCATION: [&str; 4] = ["county", "township", "village", "village_code"];

/// A valid value for a field in row `i` of a file about village `v`.
pub(crate) fn good(f: &Field, i: usize, v: &Village) -> String {
    match f.name.as_str() {
        "county" => return v.0.clone(),
        "township" => return v.1.clone(),
        "village" => return v.2.clone(),
        "village_code" => return v.3.clone(),
        _ => {}
    }
    // money must also be plausible in yuan after the template's unit
    let per_yuan = f.unit.map_or(1.0, |u| u.to_yuan());
    let lo = f
        .min
        .unwrap_or(1.0)
        .max(1.0)
        .max((f.plausible.0.unwrap_or(0.0) / per_yuan).ceil());
    let n = if f.max.is_some_and(|m| m < lo) {
        f.min.unwrap_or(0.0)
    } else {
        lo
    };
    match f.ty {
        FieldType::Text if f.pii == Some(zhenxing::config::PiiKind::IdNumber) => id_number(i),
        FieldType::Text => format!("测试{i}"),
        FieldType::Name => format!("名称{i}"),
        FieldType::List => "甲;乙".into(),
        FieldType::Enum => f.values[0].clone(),
        FieldType::Bool => "是".into(),
        FieldType::Date => "2024-03-01".into(),
        FieldType::Month => "2024-06".into(),
        FieldType::Year => "2024".into(),
        FieldType::Code => v.3.clone(),
        FieldType::Percent if f.max.is_some_and(|m| m <= 1.0) => "0.5".into(),
        FieldType::Percent => "50".into(),
        _ => format!("{}", n as i64),
    }
}

/// The fields a generated file has a column for (spread fields once).
fn columns(src: &Source) -> Vec<usize> {
    (0..src.fields.len()).collect()
}

/// Writes one file per template and county; returns (path, source id,
/// changed cells: (row, column, field, hostile value)).
pub struct Planted {
    pub path: PathBuf,
    pub changed: Vec<(usize, usize, usize, String)>,
}

pub fn write_inbox(dir: &Path, kind: FileKind) -> Vec<Planted> {
    let p = pipeline();
    let vs = villages(&p);
    let mut hostile = hostile();
    if kind.is_csv() {
        // a NUL byte makes a CSV binary: that file error is tested elsewhere
        hostile.retain(|h| !h.contains('\0'));
    } else {
        hostile.push("a\0b".into());
    }
    let mut out = Vec::new();
    for src in p.sources.iter().filter(|s| s.dataset != "villages") {
        let cols = columns(src);
        let typed: Vec<usize> = cols
            .iter()
            .copied()
            .filter(|&f| !LOCATION.contains(&src.fields[f].name.as_str()))
            .collect();
        // every (typed field, hostile value) pair, spread over the counties
        let mut todo: Vec<(usize, String)> = Vec::new();
        for &f in &typed {
            for h in &hostile {
                todo.push((f, h.clone()));
            }
        }
        // as many changed rows per county as it has villages (keys are unique)
        let mut rest = todo.as_slice();
        for (county, villages) in &vs {
            if rest.is_empty() {
                break;
            }
            let take = rest.len().min(villages.len().saturating_sub(2));
            let mine: Vec<&(usize, String)> = rest[..take].iter().collect();
            rest = &rest[take..];
            let mut rows: Vec<Vec<Out>> = vec![
                vec![Out::s(format!("{county}{}", src.title))],
                cols.iter()
                    .map(|&f| Out::s(src.fields[f].header.clone()))
                    .collect(),
            ];
            let mut changed = Vec::new();
            // two clean rows, then one changed cell per row
            for (i, v) in villages.iter().enumerate().take(mine.len() + 2) {
                let mut row: Vec<Out> = cols
                    .iter()
                    .map(|&f| Out::s(good(&src.fields[f], i, v)))
                    .collect();
                if i >= 2 {
                    let (f, h) = mine[i - 2];
                    let c = cols.iter().position(|x| x == f).unwrap();
                    row[c] = Out::s(h.clone());
                    changed.push((rows.len(), c, *f, h.clone()));
                }
                rows.push(row);
            }
            let path = write_county_file(dir, src, county, rows, kind);
            out.push(Planted { path, changed });
        }
    }
    out
}

/// What a hostile string may become in a field when the row is accepted;
/// `None`: the row must be rejected on that cell.
fn accepted_value(f: &Field, h: &str) -> Option<String> {
    let context = |f: &Field| match f.context {
        Some(Context::Year) => Some("2024".to_string()),
        Some(Context::Period) => Some("2024-06-01".to_string()),
        _ => Some(String::new()),
    };
    if is_placeholder(h) && !(f.ty == FieldType::Enum && f.values.iter().any(|v| v == h)) {
        return context(f);
    }
    match f.ty {
        FieldType::Text if f.pii.is_some() => None,
        FieldType::Text => Some(to_half_width(h).trim().to_string()),
        FieldType::Name => Some(clean_name(h).into_owned()),
        FieldType::List => Some(
            h.split([';', '；', ',', '，', '、'])
                .map(|p| clean_name(p).into_owned())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(";"),
        ),
        // values in the typed columns that are numbers or dates after all
        _ => match (f.ty, h) {
            (FieldType::Int | FieldType::Number | FieldType::Money, "-5")
                if f.min.is_none_or(|m| m <= -5.0) =>
            {
                Some("-5".into())
            }
            (FieldType::Bool, "是否" | "√×") => None,
            _ => None,
        },
    }
}

fn check_file(p: &Pipeline, res: &FileResult, planted: &Planted) -> Vec<String> {
    let c = &res.counts;
    assert_eq!(
        c.read,
        c.accepted + c.rejected + c.non_data,
        "{}: rows not accounted for",
        res.name
    );
    assert!(!res.failed(), "{}: {:?}", res.name, res.issues);
    let src = p.source(res.template.as_deref().unwrap()).unwrap();
    // the two clean rows are accepted
    for r in [2usize, 3] {
        assert!(
            res.records.iter().any(|x| x.row == r + 1),
            "{}: clean row {} not accepted: {:?}",
            res.name,
            r + 1,
            res.issues
                .iter()
                .filter(|i| i.row == Some(r))
                .map(|i| i.render(zhenxing::validate::issue::Lang::En))
                .collect::<Vec<_>>()
        );
    }
    let mut bad = Vec::new();
    for (row, col, f, h) in &planted.changed {
        let field = &src.fields[*f];
        let rejected_here = res.issues.iter().any(|i| {
            i.severity() == Severity::Reject && i.row == Some(*row) && i.col == Some(*col)
        });
        let rec = res.records.iter().find(|x| x.row == row + 1);
        let at = format!(
            "{} row {}: {} ({:?}) = {h:?}",
            res.name,
            row + 1,
            field.name,
            field.ty
        );
        match (rec, accepted_value(field, h)) {
            (Some(rec), Some(want)) if rec.values[*f].render() != want => bad.push(format!(
                "{at}: accepted as {:?}, expected {want:?}",
                rec.values[*f]
            )),
            (Some(rec), None) => bad.push(format!("{at}: accepted as {:?}", rec.values[*f])),
            (None, _) if !rejected_here => bad.push(format!(
                "{at}: rejected, but not on its cell: {:?}",
                res.issues
                    .iter()
                    .filter(|i| i.row == Some(*row))
                    .map(|i| i.render(zhenxing::validate::issue::Lang::En))
                    .collect::<Vec<_>>()
            )),
            _ => {}
        }
    }
    bad
}

fn ingest_all(kind: FileKind) {
    let d = tempfile::tempdir().unwrap();
    let planted = write_inbox(d.path(), kind);
    let p = pipeline();
    let (reg, _) = load_registry(&p, Isolation::in_process()).unwrap();
    let engine = Engine::new(&p, Some(&reg), Isolation::in_process());
    let mut cells = 0;
    let mut bad = Vec::new();
    for pl in &planted {
        let res = engine.ingest(&pl.path, None);
        bad.extend(check_file(&p, &res, pl));
        cells += pl.changed.len();
    }
    assert!(
        bad.is_empty(),
        "{} of {cells} changed cells went wrong:\n{}",
        bad.len(),
        bad.iter().take(80).cloned().collect::<Vec<_>>().join("\n")
    );
    // every typed field of the 12 templates × every hostile value
    assert!(planted.len() >= 12);
    assert!(cells > 4000, "only {cells} changed cells");
}

#[test]
fn hostile_cells_in_xlsx_are_accepted_right_or_rejected_on_their_cell() {
    ingest_all(FileKind::Xlsx);
}

#[test]
fn hostile_cells_in_csv_are_accepted_right_or_rejected_on_their_cell() {
    ingest_all(FileKind::CsvUtf8);
}

#[test]
fn the_nightly_run_takes_the_hostile_inbox() {
    let d = tempfile::tempdir().unwrap();
    let inbox = d.path().join("inbox");
    write_inbox(&inbox, FileKind::Xlsx);
    let out = d.path().join("out");
    let key = d.path().join("key");
    let r = run_in(&inbox, &out, &key, &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let m = last_manifest(&out);
    assert_eq!(m["outcome"], "published");
    let files = m["files"].as_array().unwrap();
    assert!(files.len() >= 12);
    for f in files {
        let n = |k: &str| f[k].as_u64().unwrap();
        assert_eq!(
            n("rows_read"),
            n("rows_accepted") + n("rows_rejected") + n("rows_non_data"),
            "{}",
            f["path"]
        );
        assert_eq!(f["status"], "current", "{}: {}", f["path"], f["error"]);
        if f["dataset"] != "villages" {
            assert!(n("rows_rejected") > 0, "{}", f["path"]);
        }
    }
}

/// A file of `n` clean rows of one template for 如皋市, as a county would
/// send it; `drop` names fields whose column the file leaves out, `set`
/// overrides a field's value in every row.
pub fn clean_file(
    dir: &Path,
    template: &str,
    n: usize,
    kind: FileKind,
    drop: &[&str],
    set: &[(&str, &str)],
) -> PathBuf {
    let p = pipeline();
    let vs = villages(&p);
    let county = "如皋市".to_string();
    let src = p.source(template).unwrap();
    let cols: Vec<usize> = columns(src)
        .into_iter()
        .filter(|&f| !drop.contains(&src.fields[f].name.as_str()))
        .collect();
    let mut rows: Vec<Vec<Out>> = vec![
        vec![Out::s(format!("{county}{}", src.title))],
        cols.iter()
            .map(|&f| Out::s(src.fields[f].header.clone()))
            .collect(),
    ];
    for (i, v) in vs[&county].iter().enumerate().take(n) {
        rows.push(
            cols.iter()
                .map(|&f| {
                    let field = &src.fields[f];
                    match set.iter().find(|(k, _)| *k == field.name) {
                        Some((_, val)) => Out::s(val.to_string()),
                        None => Out::s(good(field, i, v)),
                    }
                })
                .collect(),
        );
    }
    write_county_file(dir, src, &county, rows, kind)
}

/// Writes one sheet of rows as a county's file of a template for 2024
/// (June 2024 for monthly templates), named as counties name them.
pub(crate) fn write_county_file(
    dir: &Path,
    src: &Source,
    county: &str,
    rows: Vec<Vec<Out>>,
    kind: FileKind,
) -> PathBuf {
    let period = if src.frequency == zhenxing::config::Frequency::Monthly {
        "2024_06"
    } else {
        "2024"
    };
    let path = dir.join(format!("{county}_{}_{period}.{}", src.title, kind.ext()));
    let sheet = SheetOut {
        name: county.to_string(),
        hidden: false,
        rows,
        merges: Vec::new(),
    };
    write_book(&path, kind, &[sheet]).unwrap();
    path
}
