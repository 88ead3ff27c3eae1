//! One test per kind of messiness real county files have, each on a small
//! hand-made file with exact expected counts, values and reject reasons.

use std::path::Path;

use chrono::NaiveDate;
use zhenxing::synth::write::{write_book, FileKind, Out, SheetOut};

use super::util::*;

fn s(v: &str) -> Out {
    Out::S(v.to_string())
}

fn n(v: f64) -> Out {
    Out::N(v)
}

/// Ingests one file in-process and returns its records rendered as text.
fn records(path: &Path) -> (zhenxing::validate::FileResult, Vec<Vec<String>>) {
    let p = zhenxing::config::load(&repo().join("pipelines/nantong.toml")).unwrap();
    let p = zhenxing::config::Pipeline {
        registry: repo().join("sample_data/registry/南通市村社区名录.xlsx"),
        ..p
    };
    let iso = zhenxing::worker::Isolation::in_process();
    let (reg, _) = zhenxing::validate::load_registry(&p, iso.clone()).unwrap();
    let engine = zhenxing::validate::Engine::new(&p, Some(&reg), iso);
    let res = engine.ingest(path, None);
    let src = p.source(res.template.as_deref().unwrap_or("")).cloned();
    let rows = res
        .records
        .iter()
        .map(|r| {
            r.values
                .iter()
                .zip(src.as_ref().unwrap().fields.iter())
                .map(|(v, f)| format!("{}={}", f.name, v.render()))
                .collect()
        })
        .collect();
    (res, rows)
}

/// (code, cell) of every issue of a file, in order.
fn issue_cells(res: &zhenxing::validate::FileResult) -> Vec<(String, String)> {
    res.issues
        .iter()
        .map(|i| (i.code().to_string(), i.cell_ref()))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn field<'a>(row: &'a [String], name: &str) -> &'a str {
    let prefix = format!("{name}=");
    row.iter()
        .find_map(|c| c.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no field {name} in {row:?}"))
}

const ECONOMY: &str = "如皋市2024年度村级集体经济收入统计表
,,,,单位：万元
县(市、区),镇(街道),村(社区),集体经营性收入,集体总收入,是否经济薄弱村
如皋市,义德街道,平祥村,35.5,50,否
如皋市,义德街道,启梅村,\"1,200.25\",1300,否
如皋市,义德街道,园北村,12万元,20,是
合计,,,1247.75,1370,
填报人：张三,,审核人：李四
";

#[test]
fn title_unit_signoff_and_totals_rows_are_not_data() {
    let d = tempfile::tempdir().unwrap();
    let f = write_csv(d.path(), "如皋市_村级集体经济收入统计表_2024.csv", ECONOMY);
    let (res, rows) = records(&f);
    assert_eq!(res.template.as_deref(), Some("T07"));
    let c = res.counts;
    assert_eq!((c.read, c.accepted, c.rejected, c.non_data), (8, 3, 0, 5));
    assert!(res.issues.is_empty(), "{:?}", res.issues);
    // 万元 from the unit row; a unit inside the cell wins
    let income: Vec<&str> = rows.iter().map(|r| field(r, "operating_income")).collect();
    assert_eq!(income, ["355000", "12002500", "120000"]);
    assert_eq!(field(&rows[2], "weak_economy"), "true");
    assert_eq!(field(&rows[0], "year"), "2024");
    assert_eq!(field(&rows[0], "village_code"), "320682001001");
}

#[test]
fn a_totals_row_that_does_not_add_up_is_reported_with_both_numbers() {
    let d = tempfile::tempdir().unwrap();
    let text = ECONOMY.replace("合计,,,1247.75,1370,", "合计,,,1250,1370,");
    let f = write_csv(d.path(), "如皋市_村级集体经济收入统计表_2024.csv", &text);
    let (code, v) = validate_json(&[f]);
    assert_eq!(code, 0, "a totals mismatch is a warning, not a reject");
    let file = &v[0];
    assert_eq!(counts(file), [8, 3, 0, 5, 3]);
    let w = &file["issues"][0];
    assert_eq!(w["code"], "W_TOTALS_MISMATCH");
    assert_eq!(w["cell"], "如皋市_村级集体经济收入统计表_2024!D7");
    assert_eq!(
        w["message_zh"],
        "合计行“集体经营性收入”为 12500000，明细合计为 12477500"
    );
}

#[test]
fn gb18030_csv_reads_the_same_as_utf8() {
    let d = tempfile::tempdir().unwrap();
    let (bytes, _, _) = encoding_rs::GB18030.encode(ECONOMY);
    let f = d.path().join("如皋市_村级集体经济收入统计表_2024.csv");
    std::fs::write(&f, &bytes).unwrap();
    let (res, rows) = records(&f);
    assert_eq!(res.encoding.as_deref(), Some("GB18030"));
    assert_eq!(res.counts.accepted, 3);
    assert_eq!(field(&rows[1], "village"), "启梅村");
}

#[test]
fn text_in_no_known_encoding_is_a_file_error() {
    let d = tempfile::tempdir().unwrap();
    let mut bytes = "县,村\n".as_bytes().to_vec();
    bytes.extend_from_slice(&[0xC3, 0x28, 0xFF, 0xFE, 0x0A]);
    let f = d.path().join("如皋市_村级集体经济收入统计表_2024.csv");
    std::fs::write(&f, &bytes).unwrap();
    let (code, v) = validate_json(&[f]);
    assert_eq!(code, 1);
    assert_eq!(v[0]["failed"], true);
    assert_eq!(v[0]["issues"][0]["code"], "F_ENCODING");
    assert!(v[0]["issues"][0]["message_en"]
        .as_str()
        .unwrap()
        .contains("neither UTF-8 nor GB18030"));
}

/// An xlsx like 如皋市 sends: an instruction sheet, one sheet per township
/// with a merged two-row header, full-width digits, a hidden sheet.
fn township_workbook(path: &Path, kind: FileKind) {
    let mut sheet = SheetOut {
        name: "义德街道".into(),
        ..SheetOut::default()
    };
    sheet.rows = vec![
        vec![s("如皋市2024年3月村级组织架构统计表")],
        vec![
            s("村(社区)"),
            s("组织设置"),
            Out::Empty,
            Out::Empty,
            Out::Empty,
        ],
        vec![
            Out::Empty,
            s("网格数量"),
            s("网格党支部"),
            s("党小组"),
            s("中心户数量"),
        ],
        vec![s("平祥村"), n(5.0), n(3.0), n(10.0), n(40.0)],
        vec![s("启梅村"), s("６"), n(4.0), n(12.0), s("1,050")],
        vec![s("园北村"), n(5.0), n(7.0), n(9.0), n(30.0)],
    ];
    sheet.merges = vec![(0, 0, 0, 4), (1, 0, 2, 0), (1, 1, 1, 4)];
    let help = SheetOut {
        name: "填表说明".into(),
        rows: vec![vec![s("请按镇分表填报")]],
        ..SheetOut::default()
    };
    let hidden = SheetOut {
        name: "旧表".into(),
        hidden: true,
        rows: vec![vec![s("作废")], vec![s("作废")]],
        ..SheetOut::default()
    };
    write_book(path, kind, &[help, sheet, hidden]).unwrap();
}

/// The values of the township workbook (`township_workbook`, and the .xls
/// fixture made from it), whatever the format.
fn assert_township_rows(rows: &[Vec<String>]) {
    assert_eq!(field(&rows[0], "township"), "义德街道");
    assert_eq!(field(&rows[0], "county"), "如皋市");
    assert_eq!(field(&rows[0], "period"), "2024-03-01");
    assert_eq!(field(&rows[1], "grids"), "6");
    assert_eq!(field(&rows[1], "central_households"), "1050");
}

#[test]
fn merged_two_row_headers_and_one_sheet_per_township() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("如皋市_村级组织架构统计表_2024_03.xlsx");
    township_workbook(&f, FileKind::Xlsx);
    let (res, rows) = records(&f);
    let c = res.counts;
    assert_eq!((c.read, c.accepted, c.rejected, c.non_data), (6, 2, 1, 3));
    // township from the sheet name, county and period from the file name
    assert_township_rows(&rows);
    let codes = issue_cells(&res);
    assert_eq!(
        codes,
        pairs(&[
            ("W_INSTRUCTION_SHEET", "填表说明"),
            ("W_HIDDEN_SHEET", "旧表"),
            ("E_CROSS_FIELD", "义德街道!C6"),
        ])
    );
    let msg = res.issues[2].message(zhenxing::validate::issue::Lang::Zh);
    assert_eq!(msg, "“网格党支部”（7）不应大于“网格数量”（5）");
}

#[test]
fn ods_without_merge_information_still_joins_group_headers() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("如皋市_村级组织架构统计表_2024_03.ods");
    township_workbook(&f, FileKind::Ods);
    let (res, rows) = records(&f);
    assert_eq!(res.format.as_deref(), Some("ods"));
    assert_eq!((res.counts.accepted, res.counts.rejected), (2, 1));
    assert_eq!(field(&rows[0], "party_groups"), "10");
}

#[test]
fn numbers_units_placeholders_yes_no_dates_and_the_1904_system() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("如皋市_软弱涣散村党组织整顿台账_2024.xlsx");
    let date = |y, m, dd| Out::D(NaiveDate::from_ymd_opt(y, m, dd).unwrap());
    let header = [
        "县（市、区）",
        "镇（街道）",
        "村（社区）",
        "认定年度",
        "组建工作班子",
        "选派第一书记",
        "考察研判",
        "整顿清单",
        "专题组织生活会",
        "教育培训",
        "解决突出问题",
        "整改报告",
        "是否转化",
        "转化时间",
        "书记调整",
        "群众满意度（%）",
    ];
    let mut rows = vec![header.iter().map(|h| s(h)).collect::<Vec<_>>()];
    let yes8 = |w: &str| vec![s(w); 8];
    let mut r1 = vec![s("如皋市"), s("义德街道"), s("平祥村"), n(2024.0)];
    r1.extend(yes8("√"));
    r1.extend([s("√"), date(2024, 3, 5), s("×"), s("98%")]);
    let mut r2 = vec![s("如皋市"), s("义德街道"), s("启梅村"), s("2024年")];
    r2.extend(yes8("1"));
    r2.extend([s("是"), s("2024年6月1日"), s("—"), n(0.96)]);
    let mut r3 = vec![s("如皋市"), s("义德街道"), s("园北村"), n(2024.0)];
    r3.extend(yes8("是"));
    r3.extend([s("否"), s("/"), s("否"), n(91.5)]);
    let mut r4 = vec![s("如皋市"), s("义德街道"), s("兰和社区"), n(2024.0)];
    r4.extend(yes8("是"));
    r4.extend([s("是"), Out::Empty, s("否"), n(120.0)]);
    rows.extend([r1, r2, r3, r4]);
    let sheet = SheetOut {
        name: "台账".into(),
        rows,
        ..SheetOut::default()
    };
    write_book(&f, FileKind::Xlsx1904, &[sheet]).unwrap();
    let (res, rows) = records(&f);
    assert_eq!((res.counts.accepted, res.counts.rejected), (3, 1));
    // a real date cell in a 1904 workbook
    assert_eq!(field(&rows[0], "transformed_on"), "2024-03-05");
    assert_eq!(field(&rows[1], "transformed_on"), "2024-06-01");
    assert_eq!(field(&rows[2], "transformed_on"), "");
    assert_eq!(field(&rows[0], "satisfaction"), "98");
    assert_eq!(field(&rows[1], "satisfaction"), "96");
    assert_eq!(field(&rows[0], "a_team"), "true");
    assert_eq!(field(&rows[1], "a_team"), "true");
    assert_eq!(field(&rows[0], "secretary_replaced"), "false");
    assert_eq!(
        field(&rows[1], "secretary_replaced"),
        "",
        "— is a blank, not a no"
    );
    assert_eq!(field(&rows[1], "year_identified"), "2024");
    let codes = issue_cells(&res);
    // both problems of the bad row are reported
    assert_eq!(
        codes,
        pairs(&[("E_RANGE", "台账!P5"), ("E_REQUIRED_IF", "台账!N5"),])
    );
}

#[test]
fn villages_match_by_code_name_former_name_and_merger() {
    let d = tempfile::tempdir().unwrap();
    let text = "区划代码,县市区,镇街,村名,培训人次,双带党员,领办创办项目
320682001002,如皋市,义德街道,,30,2,1
,如皋市,义德街道, 平 祥村 ,40,3,2
,如皋市,丰丰镇,秋湖村,50,4,3
,如皋市,顺滨镇,滨中村,60,5,4
,如皋市,义德街道,彭祥村,70,6,5
";
    let f = write_csv(d.path(), "如皋市_党员培训与双带统计表_2023.csv", text);
    let (res, rows) = records(&f);
    assert_eq!((res.counts.accepted, res.counts.rejected), (4, 1));
    let names: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (field(r, "village"), field(r, "village_code")))
        .collect();
    assert_eq!(
        names,
        [
            ("启梅村", "320682001002"),
            ("平祥村", "320682001001"),
            ("东吉村", "320682003073"),
            ("仁光村", "320682004083"),
        ]
    );
    let sheet = "如皋市_党员培训与双带统计表_2023";
    let codes = issue_cells(&res);
    assert_eq!(
        codes,
        [
            ("W_VILLAGE_ALIAS".to_string(), format!("{sheet}!D4")),
            ("W_VILLAGE_MERGED".to_string(), format!("{sheet}!D5")),
            ("E_UNKNOWN_VILLAGE".to_string(), format!("{sheet}!D6")),
        ]
    );
    let unknown = res.issues[2].message(zhenxing::validate::issue::Lang::Zh);
    assert!(
        unknown.starts_with("名录中没有“如皋市义德街道彭祥村”；是否为：义德街道平祥村"),
        "{unknown}"
    );
}

/// The first issue of a file's JSON report with this code.
fn issue_with_code<'a>(file: &'a serde_json::Value, code: &str) -> &'a serde_json::Value {
    file["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == code)
        .unwrap()
}

#[test]
fn secretaries_levels_grades_conditional_dates_and_duplicates() {
    let d = tempfile::tempdir().unwrap();
    let text = "县(市、区),镇(街道),村(社区),年度,姓名,身份证号,等级,档次,月基本报酬,选聘事业编制,选聘时间,是否专职
如皋市,义德街道,平祥村,2024,王敏,320682198001010015,三级,9档,\"5,000\",否,,是
如皋市,义德街道,启梅村,2024,陈刚,,七级,10,5200,否,,是
如皋市,义德街道,园北村,2024,李强,320682198001010013,二级,19,5300,否,,是
如皋市,义德街道,兰和社区,2024,赵丽,,一级,2,4800,是,,可能
如皋市,义德街道,平祥村,2024,王敏,,三级,9,5000,否,,是
如皋市,义德街道,石瑞村,2024,孙伟,,四级,12,6000,是,2023-13-01,是
";
    let f = write_csv(d.path(), "如皋市_村书记专职化管理台账_2024.csv", text);
    let (code, v) = validate_json(std::slice::from_ref(&f));
    assert_eq!(code, 1);
    let sheet = "如皋市_村书记专职化管理台账_2024";
    let got = issues(&v[0], "reject");
    let want: Vec<(String, String)> = [
        ("E_DUPLICATE_KEY", format!("{sheet}!D6")),
        ("E_ID_NUMBER", format!("{sheet}!F4")),
        ("E_NOT_DATE", format!("{sheet}!K7")),
        ("E_NOT_YESNO", format!("{sheet}!L5")),
        ("E_RANGE", format!("{sheet}!G3")),
        ("E_RANGE", format!("{sheet}!H4")),
        ("E_REQUIRED_IF", format!("{sheet}!K5")),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.clone()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(counts(&v[0]), [7, 1, 5, 1, 1]);
    // a wrong check digit is a reject, and the number is shown masked
    let bad_id = issue_with_code(&v[0], "E_ID_NUMBER");
    assert_eq!(bad_id["raw"], "3206**********0013");
    let (_, rows) = records(&f);
    assert_eq!(field(&rows[0], "level"), "3");
    assert_eq!(field(&rows[0], "grade"), "9");
    assert_eq!(field(&rows[0], "monthly_base_pay"), "5000");
    let dup = issue_with_code(&v[0], "E_DUPLICATE_KEY");
    assert_eq!(
        dup["message_zh"],
        format!("与 {sheet}!D2 重复（village_code+year = 320682001001|2024）")
    );
}

#[test]
fn a_missing_required_column_fails_the_file_and_names_what_was_found() {
    let d = tempfile::tempdir().unwrap();
    let text = "县(市、区),镇(街道),村(社区),网格数,网格党支部数,党小组数,电话
如皋市,义德街道,平祥村,5,3,10,1
";
    let f = write_csv(d.path(), "如皋市_村级组织架构统计表_2024_03.csv", text);
    let (code, v) = validate_json(&[f]);
    assert_eq!(code, 1);
    let e = &v[0]["issues"][0];
    assert_eq!(e["code"], "F_MISSING_FIELD");
    assert_eq!(
        e["message_zh"],
        "缺少必填列：党员中心户数；找到的表头：县(市、区)、镇(街道)、村(社区)、网格数、网格党支部数、党小组数、电话"
    );
    assert_eq!(counts(&v[0]), [0, 0, 0, 0, 0]);
}

#[test]
fn an_unknown_column_is_reported_not_fatal() {
    let d = tempfile::tempdir().unwrap();
    let text = "县(市、区),镇(街道),村(社区),培训人次,联系电话
如皋市,义德街道,平祥村,5,13800000000
";
    let f = write_csv(d.path(), "如皋市_党员培训与双带统计表_2024.csv", text);
    let (code, v) = validate_json(&[f]);
    assert_eq!(code, 0);
    assert_eq!(counts(&v[0]), [2, 1, 0, 1, 1]);
    assert_eq!(
        issues(&v[0], "warning"),
        [(
            "W_UNKNOWN_COLUMN".to_string(),
            "如皋市_党员培训与双带统计表_2024!E1".to_string()
        )]
    );
}

#[test]
fn a_template_is_recognised_by_its_headers_when_the_name_says_nothing() {
    let d = tempfile::tempdir().unwrap();
    let text = "县(市、区),镇(街道),村(社区),年度,自我评价,督导组评价,社会公众评价,党建观察员评价,发展得分,党建得分
如皋市,义德街道,平祥村,2024,90,88.5,92,91,85,95
";
    let f = write_csv(d.path(), "报表1.csv", text);
    let (res, rows) = records(&f);
    assert_eq!(res.template.as_deref(), Some("T11"));
    assert_eq!(field(&rows[0], "supervisor_score"), "88.5");
    let g = write_csv(d.path(), "随便.csv", "甲,乙,丙\n1,2,3\n");
    let (code, v) = validate_json(&[g]);
    assert_eq!(code, 1);
    assert_eq!(v[0]["issues"][0]["code"], "F_NO_TEMPLATE");
}

#[test]
fn wide_station_rows_become_one_record_per_supported_village() {
    let d = tempfile::tempdir().unwrap();
    let text = "加油站编号,名称,入股资金（万元）,帮扶村1,帮扶村2,帮扶村3,分红金额（万元）
JYZ32068201,如皋市强村加油站1号,300,平祥村,启梅村,园北村,36.5
";
    let f = write_csv(d.path(), "如皋市_强村加油站收益台账_2024.csv", text);
    let (res, rows) = records(&f);
    assert_eq!((res.counts.accepted, res.counts.records), (1, 3));
    let v: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (field(r, "village"), field(r, "dividend"), field(r, "year")))
        .collect();
    assert_eq!(
        v,
        [
            ("平祥村", "365000", "2024"),
            ("启梅村", "365000", "2024"),
            ("园北村", "365000", "2024")
        ]
    );
}

#[test]
fn legacy_xls_with_merged_headers_hidden_and_instruction_sheets() {
    let f = repo().join("tests/fixtures/xls-merged-header-township-sheet.xls");
    let (res, rows) = records(&f);
    assert_eq!(res.format.as_deref(), Some("xls"));
    assert_eq!(res.template.as_deref(), Some("T01"));
    let c = res.counts;
    assert_eq!((c.read, c.accepted, c.rejected, c.non_data), (7, 2, 1, 4));
    // county and period from the title row, township from the sheet name
    assert_township_rows(&rows);
    let codes = issue_cells(&res);
    assert_eq!(
        codes,
        pairs(&[
            ("W_INSTRUCTION_SHEET", "填表说明"),
            ("W_HIDDEN_SHEET", "旧表"),
            ("E_CROSS_FIELD", "义德街道!C6"),
            ("W_TOTALS_MISMATCH", "义德街道!B7"),
        ])
    );
    assert_eq!(
        res.issues[3].message(zhenxing::validate::issue::Lang::Zh),
        "合计行“网格数量”为 15，明细合计为 16"
    );
}
