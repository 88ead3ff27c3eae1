//! `zhenxing validate` and `zhenxing run` as a county officer and cron see them.

use super::util::*;

#[test]
fn validate_prints_chinese_cell_references_and_exits_by_outcome() {
    let d = tempfile::tempdir().unwrap();
    let clean = write_csv(
        d.path(),
        "如皋市_党员培训与双带统计表_2024.csv",
        "县(市、区),镇(街道),村(社区),培训人次\n如皋市,义德街道,平祥村,5\n",
    );
    let out = zx(&[
        "validate",
        "--registry",
        &registry(),
        clean.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("OK   T10 training 如皋市 2024  读取 2 行 = 接收 1 + 退回 0 + 非数据 1"),
        "{}",
        out.stdout
    );

    let bad = write_csv(
        d.path(),
        "如皋市_党员培训与双带统计表_2023.csv",
        "县(市、区),镇(街道),村(社区),培训人次\n如皋市,义德街道,平祥村,-5\n",
    );
    let out = zx(&["validate", "--registry", &registry(), bad.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("如皋市_党员培训与双带统计表_2023!D2  E_RANGE  “培训人次”的值 -5 超出范围（≥ 0）（原值：-5）"),
        "{}",
        out.stdout
    );
    let out = zx(&[
        "validate",
        "--lang",
        "en",
        "--registry",
        &registry(),
        bad.to_str().unwrap(),
    ]);
    assert!(
        out.stdout
            .contains("D2  E_RANGE  training_person_times = -5 is out of range (≥ 0) (value: -5)"),
        "{}",
        out.stdout
    );
    // validate writes nothing
    let listing: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
    assert_eq!(listing.len(), 2);
}

#[test]
fn usage_and_configuration_errors_exit_2() {
    assert_eq!(zx(&["validate", "/no/such/file.xlsx"]).code, 2);
    assert_eq!(zx(&["validate"]).code, 2);
    assert_eq!(zx(&["frobnicate"]).code, 2);
    assert_eq!(
        zx(&["validate", "--pipeline", "/no/such.toml", "x.csv"]).code,
        2
    );
    let d = tempfile::tempdir().unwrap();
    let f = write_csv(d.path(), "a.csv", "x\n");
    let out = zx(&[
        "validate",
        "--registry",
        "/no/registry.xlsx",
        f.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("registry file /no/registry.xlsx does not exist"),
        "{}",
        out.stderr
    );
}
