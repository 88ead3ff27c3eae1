//! Nothing a county's file carries escapes its place: a form's properties
//! are data, never paths; personal data is masked wherever it is typed;
//! one inbox entry's fault (permissions, links, FIFOs, odd names) is that
//! entry's; the feedback folder is written whole under the run lock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use zhenxing::config::FieldType;
use zhenxing::synth::write::{FileKind, Out as Cell};

use super::bad_inbox::{good, pipeline, villages, write_county_file, LOCATION};
use super::hostile::{add_to_zip, patch_zip};
use super::lake::{loud_run_cmd, output, KEY};
use super::util::*;

/// `zhenxing run --no-indicators` on this inbox and output (not quiet:
/// the run lines are part of what is checked).
fn run(out: &Path, inbox: &Path, extra: &[&str]) -> Out {
    output(&mut run_cmd(out, inbox, extra))
}

fn run_cmd(out: &Path, inbox: &Path, extra: &[&str]) -> Command {
    let mut c = loud_run_cmd(out, inbox, &["--no-indicators"]);
    c.args(extra);
    c
}

/// The published rejects table.
fn rejects(out: &Path) -> polars::prelude::DataFrame {
    zhenxing::lake::read_parquet(&out.join("lake/rejects/part-0.parquet")).unwrap()
}

fn col(df: &polars::prelude::DataFrame, name: &str) -> Vec<Option<String>> {
    df.column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

/// source file → the code of its file error, from `rejects`.
fn file_errors(out: &Path) -> BTreeMap<String, String> {
    let df = rejects(out);
    let (files, codes, sev) = (
        col(&df, "source_file"),
        col(&df, "code"),
        col(&df, "severity"),
    );
    files
        .into_iter()
        .zip(codes)
        .zip(sev)
        .filter(|(_, s)| s.as_deref() == Some("file"))
        .map(|((f, c), _)| (f.unwrap(), c.unwrap()))
        .collect()
}

/// Every path under `dir`, relative.
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.insert(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out
}

/// The form `zhenxing template` makes for T07, 启东市, 2024.
fn form(dir: &Path) -> PathBuf {
    let o = zx(&[
        "template",
        "T07",
        "--county",
        "启东市",
        "--period",
        "2024",
        "--registry",
        &registry(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let county = dir.join("启东市");
    let f = std::fs::read_dir(&county).unwrap().next().unwrap().unwrap();
    f.path()
}

#[test]
fn a_forms_properties_are_checked_and_never_become_paths() {
    let d = tempfile::tempdir().unwrap();
    let top = d.path();
    let blank = form(&top.join("forms"));
    let inbox = top.join("inbox");
    let qidong = inbox.join("启东市");
    std::fs::create_dir_all(&qidong).unwrap();
    let abs = top.join("abs_target");
    // (file name, property value replaced, by what)
    let cases: Vec<(&str, &str, String)> = vec![
        (
            "启东市_集体经济_2024_a.xlsx",
            ">启东市<",
            ">../../../x<".into(),
        ),
        (
            "启东市_集体经济_2024_b.xlsx",
            ">启东市<",
            format!(">{}<", abs.display()),
        ),
        ("启东市_集体经济_2024_c.xlsx", ">启东市<", ">启东<".into()),
        ("启东市_集体经济_2024_d.xlsx", ">T07<", ">../T07<".into()),
        (
            "启东市_集体经济_2024_e.xlsx",
            ">2024<",
            ">../../2024<".into(),
        ),
        ("启东市_集体经济_2024_f.xlsx", ">启东市<", ">如皋市<".into()),
        ("启东市_集体经济_2023_g.xlsx", ">启东市<", ">启东市<".into()),
        ("启东市_组织架构_2024_h.xlsx", ">启东市<", ">启东市<".into()),
    ];
    for (name, from, to) in &cases {
        patch_zip(&blank, &qidong.join(name), "docProps/custom.xml", |x| {
            assert!(x.contains(from), "{x}");
            x.replace(from, to)
        });
    }
    // the form as the city sent it
    std::fs::copy(&blank, qidong.join("启东市_集体经济_2024.xlsx")).unwrap();
    let out = top.join("a/b/c/out");
    let o = run(&out, &inbox, &["--feedback"]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let errors = file_errors(&out);
    let want: BTreeMap<String, String> = [
        ("a", "F_FORM_PROPERTY"),
        ("b", "F_FORM_PROPERTY"),
        ("c", "F_FORM_PROPERTY"),
        ("d", "F_FORM_PROPERTY"),
        ("e", "F_FORM_PROPERTY"),
        ("f", "F_FORM_MISMATCH"),
        ("g", "F_FORM_MISMATCH"),
        ("h", "F_FORM_MISMATCH"),
    ]
    .iter()
    .map(|(k, c)| {
        let name = cases
            .iter()
            .find(|x| x.0.ends_with(&format!("_{k}.xlsx")))
            .unwrap()
            .0;
        (format!("启东市/{name}"), c.to_string())
    })
    .collect();
    assert_eq!(errors, want);
    // the message names the property and its value, in both languages
    let df = rejects(&out);
    let zh = col(&df, "message_zh");
    let en = col(&df, "message_en");
    let files = col(&df, "source_file");
    let at = files
        .iter()
        .position(|f| f.as_deref() == Some("启东市/启东市_集体经济_2024_a.xlsx"))
        .unwrap();
    assert_eq!(
        zh[at].as_deref().unwrap(),
        "报表属性 zhenxing.county 的值 \"../../../x\" 无效（应为名录中的县（市、区）名称），文件未使用；请用市里下发的报表填报"
    );
    assert!(en[at].as_deref().unwrap().starts_with(
        "the form's property zhenxing.county is \"../../../x\", which is not a county of the registry"
    ));
    let f_at = files
        .iter()
        .position(|f| f.as_deref() == Some("启东市/启东市_集体经济_2024_f.xlsx"))
        .unwrap();
    assert!(en[f_at].as_deref().unwrap().starts_with(
        "the form's property zhenxing.county says \"如皋市\" but it came in under 启东市, which names 启东市"
    ));
    // no county in the lake but the registry's
    let counties: BTreeSet<String> = col(&df, "county").into_iter().flatten().collect();
    assert_eq!(counties, BTreeSet::from(["启东市".to_string()]));
    let m = last_manifest(&out);
    for f in m["files"].as_array().unwrap() {
        if let Some(c) = f["county"].as_str() {
            assert_eq!(c, "启东市", "{f}");
        }
    }
    // the one real form is read; nothing was written outside OUT
    let current: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "current" && f["template"] != "T00")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(current, ["启东市/启东市_集体经济_2024.xlsx"]);
    let outside: Vec<String> = tree(top)
        .into_iter()
        .filter(|p| !["forms", "inbox", "a"].iter().any(|k| p.starts_with(k)))
        .collect();
    assert_eq!(outside, Vec::<String>::new());
    assert_eq!(
        tree(&top.join("a")).into_iter().take(3).collect::<Vec<_>>(),
        ["b", "b/c", "b/c/out"]
    );
    assert!(!abs.exists() && !top.join("x").exists());
    let fb = tree(&out.join("feedback"));
    let folders: BTreeSet<&str> = fb.iter().filter_map(|p| p.split('/').next()).collect();
    assert_eq!(folders, BTreeSet::from(["启东市"]));
    // one copy per failed file and for the form with returned rows
    assert_eq!(fb.iter().filter(|p| p.ends_with("_校验.xlsx")).count(), 9);
}

/// Copies 如东县 of the sample inbox, giving the uncorrected and the
/// corrected collective-economy file of 2023 modification times in the
/// given order.
fn rudong(dir: &Path, corrected_newer: bool) -> PathBuf {
    let inbox = super::lake::county_inbox(dir, "如东县", &[]);
    let county = inbox.join("如东县");
    let old = county.join("如东县_村级集体经济收入统计表_2023.xlsx");
    let new = county.join("如东县_村级集体经济收入统计表_2023_更正.xlsx");
    let t0 = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let t1 = t0 + std::time::Duration::from_secs(60);
    let (to_old, to_new) = if corrected_newer { (t0, t1) } else { (t1, t0) };
    for (p, t) in [(old, to_old), (new, to_new)] {
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }
    inbox
}

/// Every dataset of a lake as sorted rows of text.
fn lake_rows(out: &Path) -> BTreeMap<String, Vec<String>> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(out.join("lake")).unwrap() {
        let dataset = e.unwrap().file_name().to_string_lossy().to_string();
        if dataset.starts_with('_') {
            continue;
        }
        let q = format!("SELECT * FROM {dataset}");
        let o = zx(&["query", "--out", out.to_str().unwrap(), "--csv", &q]);
        assert_eq!(o.code, 0, "{dataset}: {}", o.stderr);
        let mut rows: Vec<String> = o.stdout.lines().map(str::to_string).collect();
        rows.sort();
        m.insert(dataset, rows);
    }
    m
}

#[test]
fn which_file_wins_never_depends_on_how_the_inbox_was_copied() {
    let d = tempfile::tempdir().unwrap();
    let a = rudong(&d.path().join("a"), true);
    let b = rudong(&d.path().join("b"), false);
    let (oa, ob) = (d.path().join("out_a"), d.path().join("out_b"));
    for (inbox, out) in [(&a, &oa), (&b, &ob)] {
        let o = run(out, inbox, &["--quiet"]);
        assert!(o.code <= 1, "{}", o.stderr);
    }
    let superseded = |out: &Path| -> Vec<(String, String)> {
        last_manifest(out)["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["status"] == "superseded")
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_string(),
                    f["superseded_by"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let want = vec![(
        "如东县/如东县_村级集体经济收入统计表_2023.xlsx".to_string(),
        "如东县/如东县_村级集体经济收入统计表_2023_更正.xlsx".to_string(),
    )];
    assert_eq!(superseded(&oa), want);
    assert_eq!(superseded(&ob), want);
    let (ra, rb) = (lake_rows(&oa), lake_rows(&ob));
    assert!(ra.contains_key("collective_economy") && ra.contains_key("rejects"));
    assert_eq!(ra, rb);
}

const MOBILE: &str = "13912345678";
const ID: &str = "320682198001010015";
const LANDLINE: &str = "85123456";

/// The personal data typed into the `k`-th planted cell.
fn planted(k: usize) -> String {
    match k % 3 {
        0 => format!("联系人{MOBILE}"),
        1 => format!("身份证{ID}"),
        _ => format!("电话0513-{LANDLINE}"),
    }
}

#[test]
fn personal_data_typed_into_any_cell_is_masked_everywhere() {
    let d = tempfile::tempdir().unwrap();
    let p = pipeline();
    let vs = villages(&p);
    let county = "如皋市";
    let villages = &vs[county];
    let inbox = d.path().join("inbox");
    let dir = inbox.join(county);
    std::fs::create_dir_all(&dir).unwrap();
    let mut k = 0;
    let mut expected_warnings = 0;
    for src in p.sources.iter().filter(|s| s.dataset != "villages") {
        let mut rows: Vec<Vec<Cell>> = vec![
            vec![Cell::s(format!("{county}{}", src.title))],
            src.fields
                .iter()
                .map(|f| Cell::s(f.header.clone()))
                .collect(),
        ];
        let typed: Vec<usize> = (0..src.fields.len())
            .filter(|&f| !LOCATION.contains(&src.fields[f].name.as_str()))
            .collect();
        // one row per typed column with personal data in it, then one
        // with a mobile number as the village's name
        for (i, v) in villages.iter().enumerate().take(typed.len() + 1) {
            let mut row: Vec<Cell> = src.fields.iter().map(|f| Cell::s(good(f, i, v))).collect();
            match typed.get(i) {
                Some(&f) => {
                    let field = &src.fields[f];
                    if field.pii.is_none()
                        && matches!(
                            field.ty,
                            FieldType::Text | FieldType::Name | FieldType::List
                        )
                    {
                        expected_warnings += 1;
                    }
                    row[f] = Cell::s(planted(k));
                    k += 1;
                }
                None => {
                    // the village comes from its code: the row is kept and
                    // the name typed is masked, with the warning
                    let at = src.field_index("village").unwrap();
                    row[at] = Cell::s(MOBILE.to_string());
                    assert!(src.field_index("village_code").is_some());
                    expected_warnings += 1;
                }
            }
            rows.push(row);
        }
        write_county_file(&dir, src, county, rows, FileKind::CsvUtf8);
    }
    let out = d.path().join("out");
    let o = run(&out, &inbox, &["--quiet", "--feedback"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    // the warnings name each cell where the data was typed
    let q = |sql: &str| {
        let o = zx(&["query", "--out", out.to_str().unwrap(), "--csv", sql]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        o.stdout
    };
    let w = q("SELECT count(*) AS n FROM warnings WHERE code = 'W_PII_IN_TEXT'");
    assert_eq!(
        w.lines().nth(1),
        Some(expected_warnings.to_string().as_str())
    );
    assert_eq!(expected_warnings, 23);
    let all = q("SELECT * FROM rejects");
    assert!(all.contains("139****5678"), "{all}");
    // no byte of OUT outside the counties' own copies holds them in clear
    let mut checked = 0;
    let mut stack = vec![out.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.starts_with(out.join("feedback")) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            for t in texts_in_file(&path) {
                for clear in [MOBILE, ID, LANDLINE] {
                    assert!(!t.contains(clear), "{clear} in {}", path.display());
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked}");
    for text in [&all, &q("SELECT * FROM warnings"), &o.stdout, &o.stderr] {
        for clear in [MOBILE, ID, LANDLINE] {
            assert!(!text.contains(clear), "{clear} in {text}");
        }
    }
}

/// A small T10 CSV of 如皋市 with one good row and one returned row.
fn t10_csv(path: &Path) {
    std::fs::write(
        path,
        "县(市、区),镇(街道),村(社区),培训人次\n如皋市,义德街道,平祥村,12\n如皋市,义德街道,彭春村,-5\n",
    )
    .unwrap();
}

/// Whether this process may make a file it cannot read itself (not as
/// root, where permissions are not checked).
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn each_inbox_entrys_fault_is_its_own_and_the_night_goes_on() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let d = tempfile::tempdir().unwrap();
    let top = d.path();
    let inbox = super::lake::county_inbox(top, "如皋市", &["2022", "2023"]);
    let outside = top.join("elsewhere");
    std::fs::create_dir_all(outside.join("启东市")).unwrap();
    t10_csv(&outside.join("启东市").join("启东市_培训_2024.csv"));
    t10_csv(&outside.join("secret.csv"));
    // a county folder that is a link out of the inbox, a file link out of
    // it, a dangling link, a loop, a FIFO, a link inside that is followed
    symlink(outside.join("启东市"), inbox.join("启东市")).unwrap();
    symlink(
        outside.join("secret.csv"),
        inbox.join("如皋市").join("link.csv"),
    )
    .unwrap();
    symlink(top.join("gone.csv"), inbox.join("dangling.csv")).unwrap();
    symlink(inbox.join("loop_b"), inbox.join("loop_a")).unwrap();
    symlink(inbox.join("loop_a"), inbox.join("loop_b")).unwrap();
    let fifo = std::ffi::CString::new(inbox.join("pipe.csv").to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    // a hidden folder is not listed, but a link to a file in it is followed
    std::fs::create_dir_all(inbox.join(".store")).unwrap();
    t10_csv(&inbox.join(".store").join("链接目标.csv"));
    symlink(
        inbox.join(".store").join("链接目标.csv"),
        inbox.join("followed.csv"),
    )
    .unwrap();
    // an unreadable file and folder: only where the run is not root, or
    // can be made to run as nobody
    let as_nobody = is_root() && Path::new("/usr/bin/setpriv").exists();
    let permissions = !is_root() || as_nobody;
    if permissions {
        let locked = inbox.join("如皋市").join("locked.csv");
        t10_csv(&locked);
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        std::fs::create_dir_all(inbox.join("通州区")).unwrap();
        t10_csv(&inbox.join("通州区").join("通州区_培训_2024.csv"));
        std::fs::set_permissions(inbox.join("通州区"), std::fs::Permissions::from_mode(0o000))
            .unwrap();
    }
    let out = top.join("out");
    let o = if as_nobody {
        // the tree is the test's: let nobody in
        for p in [top, &inbox, &inbox.join("如皋市"), &inbox.join(".store")] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let c = run_cmd(&out, &inbox, &[]);
        let prog = c.get_program().to_os_string();
        let args: Vec<_> = c.get_args().map(|a| a.to_os_string()).collect();
        let mut s = Command::new("/usr/bin/setpriv");
        s.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(prog)
            .args(args)
            .env("ZHENXING_KEY", KEY)
            .current_dir(repo());
        output(&mut s)
    } else {
        run(&out, &inbox, &[])
    };
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let mut want: BTreeMap<String, String> = [
        ("启东市", "F_LINK_OUTSIDE"),
        ("如皋市/link.csv", "F_LINK_OUTSIDE"),
        ("dangling.csv", "F_LINK_DANGLING"),
        ("loop_a", "F_LINK_LOOP"),
        ("loop_b", "F_LINK_LOOP"),
        ("pipe.csv", "F_NOT_A_FILE"),
        // followed and read: it names no county or year, which a T10 needs
        ("followed.csv", "F_MISSING_FIELD"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    if permissions {
        want.insert("如皋市/locked.csv".into(), "F_UNREADABLE".into());
        want.insert("通州区".into(), "F_FOLDER_UNREADABLE".into());
    }
    assert_eq!(file_errors(&out), want);
    // each is a line of the run, and a failed file in the manifest and status
    for (path, code) in &want {
        let line = o
            .stdout
            .lines()
            .find(|l| l.ends_with(&format!("  {path}")))
            .unwrap_or_else(|| panic!("no line for {path}: {}", o.stdout));
        assert!(line.starts_with(&format!("FAIL {code}")), "{line}");
    }
    let m = last_manifest(&out);
    let failed: BTreeSet<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "failed")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(failed, want.keys().map(String::as_str).collect());
    // the rest of the night: 如皋市's 2024 files
    let current = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "current" && f["template"] != "T00")
        .count();
    assert_eq!(current, 13);
    let st = zx(&["status", "--json", "--out", out.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&st.stdout).unwrap();
    assert_eq!(v["lake"]["failed_files"], want.len());
    // an unchanged rerun is unchanged, faults and all
    let again = run(&out, &inbox, &["--quiet"]);
    assert!(
        again.stdout.contains("unchanged") || again.stdout.contains("nothing new"),
        "{}",
        again.stdout
    );
    if permissions {
        let _ =
            std::fs::set_permissions(inbox.join("通州区"), std::fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn any_name_survives_the_run_the_feedback_and_validate() {
    use std::os::unix::ffi::OsStrExt;
    let d = tempfile::tempdir().unwrap();
    let top = d.path();
    let inbox = top.join("inbox");
    let county = inbox.join("如皋市");
    std::fs::create_dir_all(&county).unwrap();
    let long = format!("如皋市_培训_2020_{}.csv", "长".repeat(75));
    assert!(long.len() > 230 && long.len() <= 255, "{}", long.len());
    let names: Vec<std::ffi::OsString> = vec![
        "如皋市_培训_2024[1].csv".into(),
        "如皋市_培训_2023_a:b*?.csv".into(),
        long.clone().into(),
        "如皋市_培训_2022\n第二行.csv".into(),
        // two names from a zip made on Windows: GBK bytes, not UTF-8
        std::ffi::OsStr::from_bytes(b"\xc8\xe7\xb8\xde_2021_a.csv").into(),
        std::ffi::OsStr::from_bytes(b"\xc8\xe7\xb8\xde_2019_b.csv").into(),
    ];
    let mut paths = Vec::new();
    for (k, n) in names.iter().enumerate() {
        let p = county.join(n);
        // different bytes each: no two are one submission
        std::fs::write(
            &p,
            format!(
                "县(市、区),镇(街道),村(社区),培训人次,年度\n如皋市,义德街道,平祥村,12,{y}\n如皋市,义德街道,彭春村,-5,{y}\n",
                y = 2015 + k
            ),
        )
        .unwrap();
        paths.push(p);
    }
    let out = top.join("out");
    let o = run(&out, &inbox, &["--feedback"]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    // a newline in a name is shown escaped: one line per file
    assert!(
        o.stdout.contains("如皋市/如皋市_培训_2022\\n第二行.csv"),
        "{}",
        o.stdout
    );
    let file_lines = o.stdout.lines().filter(|l| l.contains("  如皋市/")).count();
    assert_eq!(file_lines, names.len(), "{}", o.stdout);
    // the GBK names stay two different paths, kept byte for byte
    let m = last_manifest(&out);
    let stored: BTreeSet<String> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert!(
        stored.contains("如皋市/\\xC8\\xE7\\xB8\\xDE_2021_a.csv"),
        "{stored:?}"
    );
    assert!(
        stored.contains("如皋市/\\xC8\\xE7\\xB8\\xDE_2019_b.csv"),
        "{stored:?}"
    );
    // one annotated copy per file, with names a file system takes
    // (the GBK names name no county: their copies are under 未识别)
    let fb: BTreeSet<String> = tree(&out.join("feedback"))
        .into_iter()
        .filter_map(|p| p.split_once('/').map(|(_, n)| n.to_string()))
        .collect();
    assert_eq!(fb.len(), names.len(), "{fb:?}");
    assert!(fb.contains("如皋市_培训_2024[1]_校验.xlsx"), "{fb:?}");
    assert!(fb.contains("如皋市_培训_2023_a_b___校验.xlsx"), "{fb:?}");
    assert!(fb.contains("如皋市_培训_2022_第二行_校验.xlsx"), "{fb:?}");
    assert!(fb.iter().all(|n| n.len() <= 200), "{fb:?}");
    assert_eq!(
        tree(&out)
            .iter()
            .filter(|p| p.starts_with("feedback."))
            .count(),
        0
    );
    // validate --annotate writes every copy and checks every file
    let ann = top.join("ann");
    let mut args: Vec<String> = vec![
        "validate".into(),
        "--registry".into(),
        registry(),
        "--annotate".into(),
        ann.display().to_string(),
    ];
    let mut cmd = Command::new(bin());
    cmd.args(&args).args(&paths).current_dir(repo());
    args.clear();
    let v = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&v.stdout);
    assert_eq!(
        v.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&v.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("== ")).count(),
        names.len()
    );
    assert_eq!(tree(&ann).len(), names.len());
}

#[test]
fn overlapping_runs_leave_one_whole_feedback_folder() {
    let d = tempfile::tempdir().unwrap();
    let inbox = super::lake::county_inbox(d.path(), "如皋市", &[]);
    let out = d.path().join("out");
    let start = |_: usize| {
        run_cmd(&out, &inbox, &["--quiet", "--feedback", "--wait", "600"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(0), start(1));
    // one reads and publishes (1: rows returned), the other waits for the
    // lock and finds nothing new (0)
    let mut codes: Vec<i32> = [a, b]
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().status.code().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, [0, 1]);
    let m = last_manifest(&out);
    let returned = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["status"] == "failed"
                || (f["status"] == "current" && f["rows_rejected"].as_u64() > Some(0))
        })
        .count();
    let copies = tree(&out.join("feedback"))
        .into_iter()
        .filter(|p| p.ends_with("_校验.xlsx"))
        .count();
    assert!(returned > 0);
    assert_eq!(copies, returned);
    let left: Vec<String> = tree(&out)
        .into_iter()
        .filter(|p| p.starts_with("feedback.") || p.contains(".tmp"))
        .collect();
    assert_eq!(left, Vec::<String>::new());
}

#[test]
fn a_web_page_named_xls_and_formulas_into_other_workbooks_are_named() {
    let d = tempfile::tempdir().unwrap();
    let html = d.path().join("如皋市_党员培训与双带统计表_2024.xls");
    std::fs::write(
        &html,
        "\u{feff}<html><head><meta charset=\"utf-8\"></head><body><table><tr><td>县(市、区)</td></tr></table></body></html>",
    )
    .unwrap();
    let xml = d.path().join("如皋市_党员培训与双带统计表_2023.xls");
    std::fs::write(
        &xml,
        "<?xml version=\"1.0\"?>\n<Workbook xmlns=\"urn:schemas-microsoft-com:office:spreadsheet\"></Workbook>",
    )
    .unwrap();
    let linked = d.path().join("如皋市_党员培训与双带统计表_2022.xlsx");
    let sample = repo().join("sample_data/inbox/如皋市/如皋市_党员培训与双带统计表_2022.xlsx");
    add_to_zip(
        &sample,
        &linked,
        "xl/externalLinks/_rels/externalLink1.xml.rels",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLinkPath\" Target=\"file:///D:/汇总/乡镇汇总.xlsx\" TargetMode=\"External\"/></Relationships>",
    );
    let (code, v) = validate_json(&[html, xml, linked]);
    assert_eq!(code, 1);
    let files = v.as_array().unwrap();
    for f in &files[..2] {
        assert_eq!(issues(f, "file_error")[0].0, "F_WEB_PAGE");
    }
    let zh = |f: &serde_json::Value| f["issues"][0]["message_zh"].as_str().unwrap().to_string();
    assert_eq!(
        zh(&files[0]),
        "此文件是以 Excel 文件名保存的网页（HTML 表格），不是真正的 Excel 工作簿，无法读取；请用 Excel 打开后“另存为”Excel 工作簿（.xlsx）再报送"
    );
    assert!(zh(&files[1]).contains("Excel 2003 XML 表格"));
    let w: Vec<&serde_json::Value> = files[2]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["code"] == "W_EXTERNAL_LINK")
        .collect();
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0]["message_zh"],
        "此工作簿的公式引用了其他工作簿（file:///D:/汇总/乡镇汇总.xlsx），读取的是上次保存时的缓存值，可能已过时；请将公式改为数值后报送"
    );
    // the rows are read as they were cached
    assert_eq!(files[2]["failed"], false);
}

#[test]
fn an_open_key_file_is_said_and_stale_indicators_are_said() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("key");
    std::fs::write(&key, format!("{KEY}\n")).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let inbox = super::lake::county_inbox(d.path(), "海安市", &["2022", "2023"]);
    let out = d.path().join("out");
    let mut c = run_cmd(&out, &inbox, &["--quiet"]);
    c.env_remove("ZHENXING_KEY").env("ZHENXING_KEY_FILE", &key);
    let o = output(&mut c);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!(
            "the pseudonym key file {} has mode 644, so other users can read it; run chmod 600 {}",
            key.display(),
            key.display()
        )),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("其他用户可读"), "{}", o.stderr);
    // the lake is published without its indicators: status says so
    let status = |args: &[&str]| {
        let mut a = vec!["status", "--out", out.to_str().unwrap()];
        a.extend(args);
        zx(&a)
    };
    let s = status(&[]);
    assert!(
        s.stdout.contains("the indicators and reports are STALE"),
        "{}",
        s.stdout
    );
    let j: serde_json::Value = serde_json::from_str(&status(&["--json"]).stdout).unwrap();
    assert_eq!(j["indicators_current"], false);
    let i = zx_env(
        &["indicators", "--report", "--out", out.to_str().unwrap()],
        &[("ZHENXING_KEY", KEY)],
    );
    assert_eq!(i.code, 0, "{}", i.stderr);
    let j: serde_json::Value = serde_json::from_str(&status(&["--json"]).stdout).unwrap();
    assert_eq!(j["indicators_current"], true);
    assert!(!status(&[]).stdout.contains("STALE"));
}

#[test]
fn a_file_of_many_returned_rows_is_written_in_pieces_and_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, out) = (dir.path().join("inbox"), dir.path().join("out"));
    let county = inbox.join("如皋市");
    std::fs::create_dir_all(&county).unwrap();
    // one good row, 45,000 unknown villages (two chunks of row problems
    // go to disk while the file is read, the rest stays), one range error
    let mut csv =
        String::from("县(市、区),镇(街道),村(社区),培训人次\n如皋市,义德街道,平祥村,12\n");
    for k in 0..45_000 {
        csv.push_str(&format!("如皋市,义德街道,无此村{k},12\n"));
    }
    csv.push_str("如皋市,义德街道,彭春村,-5\n");
    std::fs::write(county.join("如皋市_党员培训与双带统计表_2024.csv"), csv).unwrap();
    let o = run(&out, &inbox, &[]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stdout
            .contains("read 45003 = accepted 1 + rejected 45001 + non-data 1"),
        "{}",
        o.stdout
    );
    let df = rejects(&out);
    let file = "如皋市/如皋市_党员培训与双带统计表_2024.csv";
    let mine: Vec<usize> = col(&df, "source_file")
        .iter()
        .enumerate()
        .filter(|(_, f)| f.as_deref() == Some(file))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(mine.len(), 45_001);
    let rows: Vec<i64> = df
        .column("source_row")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .map(|r| r.unwrap())
        .collect();
    let codes = col(&df, "code");
    let raw = col(&df, "raw_value");
    // every returned row once, in the order of the file
    let got: Vec<i64> = mine.iter().map(|&k| rows[k]).collect();
    assert_eq!(got, (3..=45_003).collect::<Vec<i64>>());
    let unknown = mine
        .iter()
        .filter(|&&k| codes[k].as_deref() == Some("E_UNKNOWN_VILLAGE"))
        .count();
    assert_eq!(unknown, 45_000);
    assert_eq!(raw[mine[0]].as_deref(), Some("无此村0"));
    assert_eq!(raw[mine[44_999]].as_deref(), Some("无此村44999"));
    let last = mine[45_000];
    assert_eq!((rows[last], raw[last].as_deref()), (45_003, Some("-5")));
    assert_ne!(codes[last].as_deref(), Some("E_UNKNOWN_VILLAGE"));
    // the chunks on disk are gone with the run
    let staging: Vec<String> = tree(&out)
        .into_iter()
        .filter(|p| p.starts_with("staging") || p.ends_with(".issues"))
        .collect();
    assert!(staging.iter().all(|p| p == "staging"), "{staging:?}");
}

#[test]
fn an_annotated_copy_of_many_problems_notes_the_first_ten_thousand_cells() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("如皋市_党员培训与双带统计表_2023.csv");
    let mut csv = String::from("县(市、区),镇(街道),村(社区),培训人次\n");
    for k in 0..10_050 {
        csv.push_str(&format!("如皋市,义德街道,无此村{k},12\n"));
    }
    std::fs::write(&file, csv).unwrap();
    let ann = dir.path().join("ann");
    let v = Command::new(bin())
        .args(["validate", "--registry", &registry(), "--annotate"])
        .arg(&ann)
        .arg(&file)
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(1));
    let copy = ann.join("如皋市_党员培训与双带统计表_2023_校验.xlsx");
    let notes = zip_part(&copy, "xl/comments1.xml").unwrap();
    assert_eq!(notes.matches("<comment ").count(), 10_000);
    // the first problem cell has its note, the 10,001st none
    assert!(notes.contains("ref=\"C2\""));
    assert!(notes.contains("ref=\"C10001\""));
    assert!(!notes.contains("ref=\"C10002\""));
    let summary = zip_part(&copy, "xl/worksheets/sheet1.xml").unwrap();
    assert!(
        summary.contains("问题单元格共 10050 个，批注只加在前 10000 个，其余请看下表"),
        "{}",
        &summary[..2000.min(summary.len())]
    );
    // every problem cell keeps its fill: one style for all 10,050
    let sheet = zip_part(&copy, "xl/worksheets/sheet2.xml").unwrap();
    let styled = |cell: &str| {
        let at = sheet.find(&format!("<c r=\"{cell}\"")).unwrap();
        let tag = &sheet[at..at + sheet[at..].find('>').unwrap()];
        tag.split(" s=\"")
            .nth(1)
            .map(|s| s.split('"').next().unwrap().to_string())
    };
    assert!(styled("C10051").is_some());
    assert_eq!(styled("C10051"), styled("C2"));
    assert_eq!(styled("D2"), None);
}
