//! `zhenxing check`: bundled definitions pass; broken ones report every
//! problem with file and line.

use super::util::*;

#[test]
fn bundled_pipeline_is_valid() {
    let out = zx(&["check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("13 sources"), "{}", out.stdout);
    for id in ["T00", "T01", "T06", "T12"] {
        assert!(out.stdout.contains(id));
    }
}

#[test]
fn every_problem_is_reported_with_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::create_dir_all(p.join("sources")).unwrap();
    std::fs::write(
        p.join("city.toml"),
        r#"[pipeline]
name = "t"
city = "南通市"
inbox = "inbox"
out = "out"
registry = "reg.xlsx"
sources = ["sources/a.toml", "sources/b.toml", "sources/missing.toml"]
"#,
    )
    .unwrap();
    // a: unknown key on line 9, bad unit, a check naming an unknown field
    std::fs::write(
        p.join("sources/a.toml"),
        r#"id = "T00"
dataset = "villages"
title = "名录"
title_en = "registry"
frequency = "roster"
grain = "village"

[[fields]]
colour = "red"
name = "village_code"
header = "区划代码"
type = "code"
"#,
    )
    .unwrap();
    std::fs::write(
        p.join("sources/b.toml"),
        r#"id = "T01"
dataset = "org"
title = "组织"
title_en = "org"
frequency = "monthly"
grain = "village"
keys = ["nope"]

[[fields]]
name = "income"
header = "收入"
type = "money"
unit = "美元"

[[fields]]
name = "grids"
header = "收入"
type = "int"
min = 5
max = 1

[[checks]]
rule = "le"
left = "grids"
right = "ghost"
"#,
    )
    .unwrap();
    let out = zx(&["check", "--pipeline", p.join("city.toml").to_str().unwrap()]);
    assert_eq!(out.code, 2);
    let e = &out.stderr;
    assert!(e.contains("city.toml:7: source definition"), "{e}");
    assert!(e.contains("a.toml:9: unknown field `colour`"), "{e}");
    assert!(
        e.contains("b.toml:9: field income: unknown unit \"美元\""),
        "{e}"
    );
    assert!(
        e.contains("b.toml:15: header \"收入\" of field grids is also a header of field income"),
        "{e}"
    );
    assert!(e.contains("b.toml:15: field grids: min 5 > max 1"), "{e}");
    assert!(e.contains("b.toml: key column nope is not a field"), "{e}");
    assert!(
        e.contains("b.toml:22: check refers to unknown field ghost"),
        "{e}"
    );
    assert!(e.starts_with("zhenxing check: 7 problem(s)"), "{e}");
}
