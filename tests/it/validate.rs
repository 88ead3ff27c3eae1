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

#[test]
fn money_without_a_unit_is_warned_and_implausible_amounts_are_refused() {
    let d = tempfile::tempdir().unwrap();
    // a county that reports in 元 without saying so: the template's unit
    // is 万元, so 1200000 reads as ¥12 billion, refused; 0.005 万元 = ¥50 is
    // below ¥100, refused; 0 is a real value; 60 万元 = ¥600,000 is kept
    let f = write_csv(
        d.path(),
        "如皋市_村级集体经济收入统计表_2024.csv",
        "县(市、区),镇(街道),村(社区),年度,集体经营性收入\n\
         如皋市,义德街道,平祥村,2024,1200000\n\
         如皋市,义德街道,平祥村,2023,0.005\n\
         如皋市,义德街道,平祥村,2022,0\n\
         如皋市,义德街道,平祥村,2021,60\n",
    );
    let (code, v) = validate_json(std::slice::from_ref(&f));
    assert_eq!(code, 1, "{v}");
    let file = &v[0];
    assert_eq!(counts(file), [5, 2, 2, 1, 2]);
    let name = "如皋市_村级集体经济收入统计表_2024";
    assert_eq!(
        issues(file, "reject"),
        vec![
            ("E_IMPLAUSIBLE".to_string(), format!("{name}!E2")),
            ("E_IMPLAUSIBLE".to_string(), format!("{name}!E3")),
        ]
    );
    // (W_MISSING_COLUMN: the file has no 集体总收入 for the ≤ rule)
    assert_eq!(
        issues(file, "warning"),
        vec![
            ("W_MISSING_COLUMN".to_string(), String::new()),
            ("W_NO_UNIT".to_string(), format!("{name}!1"))
        ]
    );
    let msgs: Vec<&str> = file["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["message_zh"].as_str().unwrap())
        .collect();
    assert!(
        msgs.contains(&"“集体经营性收入”的值 12000000000 元不合理（应为 0 或 100–100000000 元），请检查金额单位（元/万元）"),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&"未注明金额单位：集体经营性收入 按模板单位“万元”读取；请在表头或单位行注明“单位：元”或“单位：万元”"),
        "{msgs:?}"
    );
    // the same amounts with the unit stated in the header: no warning
    let f = write_csv(
        d.path(),
        "如皋市_村级集体经济收入统计表_2025.csv",
        "县(市、区),镇(街道),村(社区),年度,集体经营性收入（元）\n\
         如皋市,义德街道,平祥村,2024,1200000\n",
    );
    let (code, v) = validate_json(&[f]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(counts(&v[0]), [2, 1, 0, 1, 1]);
    assert!(
        !issues(&v[0], "warning").iter().any(|w| w.0 == "W_NO_UNIT"),
        "{v}"
    );
}

#[test]
fn a_negative_household_income_is_kept_with_a_warning() {
    let d = tempfile::tempdir().unwrap();
    // a business loss: −3000 元 is a real net income
    let f = write_csv(
        d.path(),
        "如皋市_农户收入监测表_2024.csv",
        "县(市、区),镇(街道),村(社区),年度,户编号,家庭年纯收入（元）,是否共同体成员\n\
         如皋市,义德街道,平祥村,2024,H1,-3000,否\n\
         如皋市,义德街道,平祥村,2024,H2,42000,否\n",
    );
    let (code, v) = validate_json(&[f]);
    assert_eq!(code, 0, "{v}");
    let file = &v[0];
    assert_eq!(counts(file), [3, 2, 0, 1, 2]);
    assert_eq!(
        issues(file, "warning"),
        vec![(
            "W_UNUSUAL".to_string(),
            "如皋市_农户收入监测表_2024!F2".to_string()
        )]
    );
    let msg = file["issues"][0]["message_en"].as_str().unwrap();
    assert_eq!(
        msg,
        "income = -3000 is unusual (usually ≥ 0); kept, please check it"
    );
}

/// `run --lang zh` speaks Chinese to the end: the closing paragraph too.
#[test]
fn the_closing_paragraph_follows_the_language() {
    let d = tempfile::tempdir().unwrap();
    let inbox = d.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    write_csv(
        &inbox,
        "如皋市_党员培训与双带统计表_2024.csv",
        "县(市、区),镇(街道),村(社区),培训人次\n如皋市,义德街道,平祥村,5\n如皋市,义德街道,平祥村,-5\n",
    );
    let out = d.path().join("out");
    let key = d.path().join("key");
    let o = zx_env(
        &[
            "run",
            "--quiet",
            "--lang",
            "zh",
            "--inbox",
            inbox.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--registry",
            &registry(),
        ],
        &[("ZHENXING_KEY_FILE", key.to_str().unwrap())],
    );
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    // the registry is an input file too: 1,800 rows and 2 non-data rows
    assert!(
        o.stdout
            .contains("输入文件 2 个（本次读取 2；现行 2，被更正替代 0，无法使用 0，有退回行 1）"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains("读取 1805 行 = 接收 1801 + 退回 1 + 非数据 3"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains("本次发现 0 个文件无法使用、1 个文件有退回行：退出码 1。"),
        "{}",
        o.stdout
    );
    assert!(!o.stdout.contains("input files"), "{}", o.stdout);
    // the indicator stage's line too
    assert!(o.stdout.contains("指标：由湖版本 "), "{}", o.stdout);
    assert!(o.stdout.contains("；报表："), "{}", o.stdout);
    assert!(!o.stdout.contains("indicators:"), "{}", o.stdout);
}
