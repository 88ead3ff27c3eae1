//! Feedback to the counties: the annotated workbook that `validate
//! --annotate` (and `run --feedback`) sends back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use super::util::*;
use zhenxing::report::annotate::{
    ERROR_FILL, SUMMARY_SHEET, VERDICT_FIX, VERDICT_OK, WARNING_FILL,
};

/// A county's hand-made T10 workbook: an instruction sheet, the data sheet
/// with a merged title, a unit row, set column widths, a date in an extra
/// column, three bad rows and a totals row, and a hidden old sheet.
fn county_workbook(dir: &Path) -> PathBuf {
    let path = dir.join("如皋市_党员培训与双带统计表_2024.xlsx");
    let mut wb = Workbook::new();
    let s = wb.add_worksheet();
    s.set_name("填表说明").unwrap();
    s.write_string(0, 0, "填表说明：培训人次填写全年合计")
        .unwrap();
    let s = wb.add_worksheet();
    s.set_name("如皋市").unwrap();
    s.merge_range(0, 0, 0, 4, "如皋市2024年度党员培训统计表", &Format::new())
        .unwrap();
    s.write_string(1, 3, "单位：人次").unwrap();
    for (c, h) in ["县(市、区)", "镇(街道)", "村(社区)", "培训人次", "填报日期"]
        .iter()
        .enumerate()
    {
        s.write_string(2, c as u16, *h).unwrap();
    }
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let rows: [(&str, &str, f64); 5] = [
        ("平祥村", "", 12.0),
        ("彭春村", "", 3.0),
        ("启梅村", "", -5.0),
        ("园北村", "十二", 0.0),
        ("兰和社区", "", 7.0),
    ];
    for (i, (village, text, n)) in rows.iter().enumerate() {
        let r = 3 + i as u32;
        s.write_string(r, 0, "如皋市").unwrap();
        s.write_string(r, 1, "义德街道").unwrap();
        s.write_string(r, 2, *village).unwrap();
        if text.is_empty() {
            s.write_number(r, 3, *n).unwrap();
        } else {
            s.write_string(r, 3, *text).unwrap();
        }
        let d = ExcelDateTime::from_ymd(2025, 1, 10 + i as u8).unwrap();
        s.write_datetime_with_format(r, 4, &d, &date).unwrap();
    }
    s.write_string(8, 0, "合计").unwrap();
    s.write_number(8, 3, 17.0).unwrap();
    s.set_column_width(0, 12.0).unwrap();
    s.set_column_width(2, 20.5).unwrap();
    s.set_column_width(3, 9.0).unwrap();
    let s = wb.add_worksheet();
    s.set_name("旧表").unwrap();
    s.write_string(0, 0, "旧数据").unwrap();
    s.set_hidden(true);
    wb.save(&path).unwrap();
    path
}

/// A sheet's used cells with their (row, column), in order.
type Cells = Vec<((u32, u32), Data)>;

/// Every sheet's cells, by sheet name, as calamine reads them.
fn cells(path: &Path) -> BTreeMap<String, Cells> {
    let mut wb: Xlsx<_> = calamine::open_workbook(path).unwrap();
    let names = wb.sheet_names();
    names
        .into_iter()
        .map(|n| {
            let r = wb.worksheet_range(&n).unwrap();
            let (r0, c0) = r.start().unwrap_or((0, 0));
            let mut v: Cells = r
                .used_cells()
                .map(|(r, c, d)| ((r as u32 + r0, c as u32 + c0), d.clone()))
                .collect();
            v.sort_by_key(|(k, _)| *k);
            (n, v)
        })
        .collect()
}

/// A cell of the reasons column an annotated copy prints beside its rows.
fn is_reason(d: &Data) -> bool {
    matches!(d, Data::String(t) if t.starts_with("校验："))
}

/// The notes of the workbook's one comments part: cell → text.
fn notes(path: &Path) -> BTreeMap<String, String> {
    let xml = zip_part(path, "xl/comments1.xml").unwrap_or_default();
    let mut out = BTreeMap::new();
    for c in xml.split("<comment ").skip(1) {
        let r = c.split("ref=\"").nth(1).unwrap().split('"').next().unwrap();
        let text: String = c
            .split("<t")
            .skip(1)
            .filter_map(|t| t.split_once('>').map(|(_, rest)| rest))
            .map(|t| t.split("</t>").next().unwrap())
            .collect();
        out.insert(
            r.to_string(),
            text.replace("&amp;", "&").replace("&quot;", "\""),
        );
    }
    out
}

/// `D17` of a zero-based row and column.
fn a1(row: u32, col: u32) -> String {
    let mut c = col + 1;
    let mut letters = String::new();
    while c > 0 {
        letters.insert(0, (b'A' + ((c - 1) % 26) as u8) as char);
        c = (c - 1) / 26;
    }
    format!("{letters}{}", row + 1)
}

#[test]
fn the_annotated_workbook_marks_every_problem_cell_and_keeps_the_countys_values() {
    let d = tempfile::tempdir().unwrap();
    let input = county_workbook(d.path());
    let back = d.path().join("退回");
    let out = zx(&[
        "validate",
        "--json",
        "--registry",
        &registry(),
        "--annotate",
        back.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let annotated = back.join("如皋市_党员培训与双带统计表_2024_校验.xlsx");
    assert!(
        out.stderr.contains(annotated.to_str().unwrap()),
        "{}",
        out.stderr
    );
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let file = &json[0];
    // read 8 = accepted 2 + rejected 3 + non-data 3 (title, unit, header… totals)
    let [read, accepted, rejected, non_data, _] = counts(file);
    assert_eq!((accepted, rejected), (2, 3));
    assert_eq!(read, accepted + rejected + non_data);
    let issues = file["issues"].as_array().unwrap();
    let codes: Vec<(&str, &str)> = issues
        .iter()
        .map(|i| (i["cell"].as_str().unwrap(), i["code"].as_str().unwrap()))
        .collect();
    for want in [
        ("如皋市!C5", "E_UNKNOWN_VILLAGE"),
        ("如皋市!D6", "E_RANGE"),
        ("如皋市!D7", "E_NOT_INTEGER"),
        ("如皋市!E3", "W_UNKNOWN_COLUMN"),
    ] {
        assert!(codes.contains(&want), "{want:?} in {codes:?}");
    }

    // the county's sheets, values, merges and widths, after 校验结果
    let before = cells(&input);
    let after = cells(&annotated);
    let names: Vec<&String> = after.keys().collect();
    let mut wb: Xlsx<_> = calamine::open_workbook(&annotated).unwrap();
    assert_eq!(
        wb.sheet_names(),
        vec![SUMMARY_SHEET, "填表说明", "如皋市", "旧表"],
        "{names:?}"
    );
    // each problem row's reasons are printed after the county's columns
    for (sheet, v) in &before {
        let values: Cells = after[sheet]
            .iter()
            .filter(|(_, d)| !is_reason(d))
            .cloned()
            .collect();
        assert_eq!(&values, v, "every value of {sheet} as it was");
    }
    let last_col = before["如皋市"].iter().map(|((_, c), _)| *c).max().unwrap();
    let reasons: Vec<(u32, String)> = after["如皋市"]
        .iter()
        .filter(|(_, d)| is_reason(d))
        .map(|((r, c), d)| {
            assert!(*c > last_col, "the reasons column follows the county's");
            (*r, d.to_string())
        })
        .collect();
    let of_row = |row: u32| {
        reasons
            .iter()
            .find(|(r, _)| *r == row)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    assert!(of_row(4).contains("[E_UNKNOWN_VILLAGE]"), "{reasons:?}");
    assert!(of_row(5).contains("[E_RANGE]"), "{reasons:?}");
    assert!(of_row(6).contains("[E_NOT_INTEGER]"), "{reasons:?}");
    let hidden: Vec<(String, calamine::SheetVisible)> = wb
        .sheets_metadata()
        .iter()
        .map(|s| (s.name.clone(), s.visible))
        .collect();
    assert!(
        hidden.contains(&("旧表".into(), calamine::SheetVisible::Hidden)),
        "{hidden:?}"
    );
    let mut orig: Xlsx<_> = calamine::open_workbook(&input).unwrap();
    assert_eq!(
        wb.merge_cells_by_sheet_name("如皋市").unwrap(),
        orig.merge_cells_by_sheet_name("如皋市").unwrap()
    );
    let widths = |p: &Path| {
        zhenxing::read::parts::all_col_widths(&std::fs::read(p).unwrap()).unwrap()["如皋市"]
            .iter()
            .map(|w| (w.first, w.last, (w.width.unwrap() * 100.0).round() as i64))
            .collect::<Vec<_>>()
    };
    assert_eq!(widths(&annotated), widths(&input));
    assert_eq!(widths(&input).len(), 3);

    // every problem cell: its fill and a note with each of its problems
    let styles = wb.worksheet_style("如皋市").unwrap();
    let notes = notes(&annotated);
    let mut marked = 0;
    for i in issues {
        let cell = i["cell"].as_str().unwrap();
        let Some(at) = cell.strip_prefix("如皋市!") else {
            continue;
        };
        let note = &notes[at];
        let code = i["code"].as_str().unwrap();
        assert!(
            note.contains(&format!("[{code}] {}", i["message_zh"].as_str().unwrap())),
            "{note}"
        );
        let (r, c) = (0..20u32)
            .flat_map(|r| (0..8u32).map(move |c| (r, c)))
            .find(|&(r, c)| a1(r, c) == at)
            .unwrap();
        let fill = styles
            .get((r, c))
            .and_then(|s| s.fill.as_ref())
            .and_then(|f| f.get_color())
            .map(|c| c.to_argb() & 0xFFFFFF);
        let want = if i["severity"] == "warning" {
            WARNING_FILL
        } else {
            ERROR_FILL
        };
        assert_eq!(fill, Some(want), "fill of {at} ({code})");
        marked += 1;
    }
    assert_eq!(marked, 4);
    assert_eq!(notes.len(), 4, "{notes:?}");
    // a cell without a problem keeps no fill
    assert!(styles
        .get((3, 2))
        .and_then(|s| s.fill.as_ref())
        .and_then(|f| f.get_color())
        .is_none());

    // the summary: verdict, counts and one linked row per problem
    let summary: Vec<String> = after[SUMMARY_SHEET]
        .iter()
        .map(|(_, d)| d.to_string())
        .collect();
    assert!(summary.contains(&VERDICT_FIX.to_string()), "{summary:?}");
    let line = format!(
        "读取 {read} 行 = 接收 {accepted} + 退回 {rejected} + 非数据行 {non_data}（标题、单位、表头、合计、落款等）"
    );
    assert!(summary.contains(&line), "{summary:?}");
    for (cell, code) in &codes {
        assert!(
            summary.contains(&cell.to_string()) || cell.is_empty(),
            "{cell}"
        );
        assert!(summary.contains(&code.to_string()), "{code}");
    }
    let sheet1 = zip_part(&annotated, "xl/worksheets/sheet1.xml").unwrap();
    for target in ["'如皋市'!C5", "'如皋市'!D6", "'如皋市'!D7", "'如皋市'!E3"] {
        assert!(
            sheet1.contains(&format!("location=\"{target}\"")),
            "{target}: {sheet1}"
        );
    }

    // a clean CSV comes back as xlsx with the verdict to send it
    let clean = write_csv(
        d.path(),
        "如皋市_党员培训与双带统计表_2023.csv",
        "县(市、区),镇(街道),村(社区),培训人次\n如皋市,义德街道,平祥村,5\n",
    );
    let out = zx(&[
        "validate",
        "--registry",
        &registry(),
        "--annotate",
        back.to_str().unwrap(),
        clean.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let copy = cells(&back.join("如皋市_党员培训与双带统计表_2023_校验.xlsx"));
    assert!(copy[SUMMARY_SHEET]
        .iter()
        .any(|(_, d)| *d == Data::String(VERDICT_OK.into())));
    let sheet = &copy["如皋市_党员培训与双带统计表_2023"];
    assert_eq!(sheet.len(), 8);
    assert_eq!(sheet[7], ((1, 3), Data::String("5".into())));

    // a CSV with a warning found first and an error after it: the error
    // is listed first, and its place is the whole cell address
    let both = write_csv(
        d.path(),
        "如皋市_党员培训与双带统计表_2022.csv",
        "县(市、区),镇(街道),村(社区),培训人次,备用\n如皋市,义德街道,平祥村,-5,x\n",
    );
    let out = zx(&[
        "validate",
        "--registry",
        &registry(),
        "--annotate",
        back.to_str().unwrap(),
        both.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let copy = cells(&back.join("如皋市_党员培训与双带统计表_2022_校验.xlsx"));
    let row_of = |text: &str| {
        copy[SUMMARY_SHEET]
            .iter()
            .find(|(_, d)| *d == Data::String(text.into()))
            .map(|((r, _), _)| *r)
            .unwrap_or_else(|| panic!("no {text} in {:?}", copy[SUMMARY_SHEET]))
    };
    assert!(row_of("E_RANGE") < row_of("W_UNKNOWN_COLUMN"));
    assert_eq!(row_of("D2"), row_of("E_RANGE"));
    assert_eq!(row_of("E1"), row_of("W_UNKNOWN_COLUMN"));
}

/// The files under a folder, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn run_feedback_writes_a_copy_per_file_with_returned_rows_and_only_those() {
    let d = tempfile::tempdir().unwrap();
    let inbox = d.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let bad = county_workbook(&inbox);
    write_csv(
        &inbox,
        "如皋市_党员培训与双带统计表_2023.csv",
        "县(市、区),镇(街道),村(社区),培训人次\n如皋市,义德街道,平祥村,5\n",
    );
    let out = d.path().join("out");
    let key = d.path().join("key");
    let args = [
        "--quiet",
        "--no-indicators",
        "--feedback",
        "--registry",
        &registry(),
    ];
    let o = run_in_with(&inbox, &out, &key, &args, &[]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("Annotated copies: 1 file(s)"),
        "{}",
        o.stdout
    );
    let fb = out.join("feedback");
    assert_eq!(
        listing(&fb),
        vec!["如皋市/如皋市_党员培训与双带统计表_2024_校验.xlsx"]
    );
    // the same copy as `validate --annotate` makes: the county's values,
    // and the reasons beside 3 of its rows
    let copy = cells(&fb.join("如皋市/如皋市_党员培训与双带统计表_2024_校验.xlsx"));
    for (sheet, v) in cells(&bad) {
        let values: Cells = copy[&sheet]
            .iter()
            .filter(|(_, d)| !is_reason(d))
            .cloned()
            .collect();
        assert_eq!(values, v, "{sheet}");
        let reasons = copy[&sheet].iter().filter(|(_, d)| is_reason(d)).count();
        let want = if sheet == "如皋市" { 4 } else { 0 };
        assert_eq!(
            reasons, want,
            "{sheet}: the unknown column's header row and 3 returned rows"
        );
    }
    // the county sends a corrected file: the copy of the old one goes
    std::fs::remove_file(&bad).unwrap();
    write_csv(
        &inbox,
        "如皋市_党员培训与双带统计表_2024.csv",
        "县(市、区),镇(街道),村(社区),培训人次\n如皋市,义德街道,平祥村,12\n",
    );
    let o = run_in_with(&inbox, &out, &key, &args, &[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("Annotated copies: 0 file(s)"),
        "{}",
        o.stdout
    );
    assert!(listing(&fb).is_empty(), "{:?}", listing(&fb));
}

/// Computes the indicators and the report of the lake in `out`; the
/// report workbook's path.
fn report_workbook(out: &Path, key: &Path) -> PathBuf {
    let o = zx_env(
        &["indicators", "--report", "--out", out.to_str().unwrap()],
        &[("ZHENXING_KEY_FILE", key.to_str().unwrap())],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    walk(&out.join("reports"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "xlsx"))
        .unwrap()
}

#[test]
fn header_drift_names_a_renamed_an_added_and_a_dropped_column() {
    let d = tempfile::tempdir().unwrap();
    let inbox = d.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    write_csv(
        &inbox,
        "如皋市_党员培训与双带统计表_2023.csv",
        "县(市、区),镇(街道),村(社区),培训人次,双带党员数,领办创办项目数\n如皋市,义德街道,平祥村,5,2,1\n",
    );
    let out = d.path().join("out");
    let key = d.path().join("key");
    let args = ["--quiet", "--no-indicators", "--registry", &registry()];
    let o = run_in_with(&inbox, &out, &key, &args, &[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    // one submission: nothing to compare yet
    let o = zx(&["status", "--headers", "--out", out.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("0 of 0 changed"), "{}", o.stdout);
    // the next year: 培训人次 written as a variant, a new column, and the
    // projects column left out
    write_csv(
        &inbox,
        "如皋市_党员培训与双带统计表_2024.csv",
        "县(市、区),镇(街道),村(社区),培训人数,双带党员数,联系电话\n如皋市,义德街道,平祥村,6,3,13800000000\n",
    );
    let o = run_in_with(&inbox, &out, &key, &args, &[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let o = zx(&["status", "--headers", "--out", out.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("1 of 1 changed"), "{}", o.stdout);
    assert!(
        o.stdout.contains(
            "如皋市 T10 党员培训与双带统计表: 2024 (如皋市_党员培训与双带统计表_2024.csv, hand-made) against 2023 (如皋市_党员培训与双带统计表_2023.csv, hand-made)"
        ),
        "{}",
        o.stdout
    );
    for line in [
        "  training_person_times: now headed \"培训人数\" (matched through a variant; before: \"培训人次\")",
        "    字段 training_person_times 的表头改为“培训人数”（按表头变体识别；之前为 \"培训人次\"）",
        "  new unknown column \"联系电话\" (not read)",
        "  member_led_projects: the column is gone (was \"领办创办项目数\")",
    ] {
        assert!(o.stdout.contains(line), "{line}\n{}", o.stdout);
    }
    // the same as JSON: exactly three changes
    let o = zx(&[
        "status",
        "--headers",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let changes = v["drift"][0]["changes"].as_array().unwrap();
    let kinds: Vec<&str> = changes
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["new_spelling", "new_unknown", "gone"]);
    assert_eq!(changes[0]["official"], false);
    // and as a sheet of the report workbook
    let sheet: Vec<String> = cells(&report_workbook(&out, &key))["表头变化"]
        .iter()
        .map(|(_, d)| d.to_string())
        .collect();
    assert!(
        sheet
            .contains(&"字段 member_led_projects 的列不见了（之前为“领办创办项目数”）".to_string()),
        "{sheet:?}"
    );
    assert_eq!(sheet.iter().filter(|s| s.as_str() == "如皋市").count(), 3);
}

#[test]
fn county_summary_and_scorecard_from_the_published_lake() {
    use chrono::Datelike;
    let year = chrono::Local::now().year();
    let (old, now) = (year - 2, year);
    let d = tempfile::tempdir().unwrap();
    let inbox = d.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let head = "县(市、区),镇(街道),村(社区),培训人次";
    // two years ago, sent only now (late): one unknown village
    write_csv(
        &inbox,
        &format!("如皋市_党员培训与双带统计表_{old}.csv"),
        &format!("{head}\n如皋市,义德街道,平祥村,5\n如皋市,义德街道,彭春村,4\n"),
    );
    // this year, before it is due: the same unknown village again and a negative count
    write_csv(
        &inbox,
        &format!("如皋市_党员培训与双带统计表_{now}.csv"),
        &format!("{head}\n如皋市,义德街道,平祥村,6\n如皋市,义德街道,彭春村,3\n如皋市,义德街道,启梅村,-2\n"),
    );
    let out = d.path().join("out");
    let key = d.path().join("key");
    let args = ["--quiet", "--no-indicators", "--registry", &registry()];
    let o = run_in_with(&inbox, &out, &key, &args, &[]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let o_s = out.to_str().unwrap();

    let o = zx(&["status", "--out", o_s, "--county", "如皋市", "--text"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", o.stdout);
    assert!(
        lines[0].starts_with("如皋市报送情况（截至 "),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        format!("已收到 1 个模板（最新一期）：T10 {now}。")
    );
    assert!(lines[2].starts_with("逾期 8 个："), "{}", lines[2]);
    assert!(
        lines[2].contains("T07 村级集体经济收入统计表（从未报送）"),
        "{}",
        lines[2]
    );
    assert!(!lines[2].contains("T10"), "T10 is up to date: {}", lines[2]);
    assert_eq!(
        lines[3],
        "退回 3 行，涉及 2 个文件：名录中没有该村 2 行，数值超出范围 1 行。"
    );
    assert_eq!(
        lines[4],
        "请按上述原因核对修改后重新报送；需要逐格标注的，可向市里索取批注副本。"
    );
    assert!(
        !o.stdout.contains("zhenxing") && !o.stdout.contains('/'),
        "the clerk's text names no command and no path: {}",
        o.stdout
    );
    // a county the registry does not know is a usage error
    let o = zx(&["status", "--out", o_s, "--county", "如皋", "--text"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("counties: 启东市, 如东县, 如皋市"),
        "{}",
        o.stderr
    );

    let o = zx(&[
        "status",
        "--out",
        o_s,
        "--scorecard",
        "--json",
        "--county",
        "如皋市",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let s = v["scorecard"].as_array().unwrap();
    assert_eq!(s.len(), 2, "{s:?}");
    let brief = |x: &serde_json::Value| {
        (
            x["period"].as_str().unwrap().to_string(),
            x["expected"].as_u64().unwrap(),
            x["received"].as_u64().unwrap(),
            x["on_time"].as_u64().unwrap(),
            x["rows"].as_u64().unwrap(),
            x["returned"].as_u64().unwrap(),
        )
    };
    // two years ago: 8 yearly templates due, one received, late
    assert_eq!(brief(&s[0]), (old.to_string(), 8, 1, 0, 2, 1));
    // this year: not due yet, what came is on time
    assert_eq!(brief(&s[1]), (now.to_string(), 1, 1, 1, 3, 2));
    let top = |x: &serde_json::Value| -> Vec<(String, u64, bool)> {
        x["top"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["code"].as_str().unwrap().to_string(),
                    r["rows"].as_u64().unwrap(),
                    r["repeated"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(top(&s[0]), [("E_UNKNOWN_VILLAGE".to_string(), 1, false)]);
    assert_eq!(
        top(&s[1]),
        [
            ("E_RANGE".to_string(), 1, false),
            ("E_UNKNOWN_VILLAGE".to_string(), 1, true)
        ]
    );
    let o = zx(&["status", "--out", o_s, "--scorecard"]);
    assert!(
        o.stdout.contains(&format!(
            "  {now:<8} on time  1/1  100.0%   returned     2 of      3 rows  66.7%   E_RANGE 数值超出范围 1, E_UNKNOWN_VILLAGE 名录中没有该村 1 (again)"
        )),
        "{}",
        o.stdout
    );
    // every county of the registry, each period
    assert_eq!(o.stdout.lines().filter(|l| l.starts_with("  ")).count(), 14);

    // the report's sheet
    let sheet = cells(&report_workbook(&out, &key))["报送质量"].clone();
    let row_of = |r: u32| -> Vec<String> {
        sheet
            .iter()
            .filter(|((rr, _), _)| *rr == r)
            .map(|(_, d)| d.to_string())
            .collect()
    };
    let rugao: Vec<u32> = sheet
        .iter()
        .filter(|(_, d)| *d == Data::String("如皋市".into()))
        .map(|((r, _), _)| *r)
        .collect();
    assert_eq!(rugao.len(), 2);
    assert_eq!(
        row_of(rugao[1]),
        [
            "如皋市".to_string(),
            now.to_string(),
            format!("{}-01-15", now + 1),
            "1".into(),
            "1".into(),
            "100".into(),
            "3".into(),
            "2".into(),
            "66.66666666666667".into(),
            "数值超出范围 1 行；名录中没有该村 1 行 ↻".into()
        ]
    );
}

#[test]
fn values_are_checked_against_the_same_units_previous_period() {
    let d = tempfile::tempdir().unwrap();
    let inbox = d.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let t07 = "县(市、区),镇(街道),村(社区),年度,集体经营性收入（万元）";
    let t08 = "加油站编号,名称,县(市、区),入股资金（万元）,年度,帮扶村,分红金额（万元）";
    write_csv(
        &inbox,
        "如皋市_村级集体经济收入统计表_2023.csv",
        &format!("{t07}\n如皋市,义德街道,平祥村,2023,50\n如皋市,义德街道,启梅村,2023,40\n"),
    );
    write_csv(
        &inbox,
        "如皋市_强村加油站收益台账_2023.csv",
        &format!("{t08}\nJYZ01,城北站,如皋市,100,2023,平祥村,10\n"),
    );
    let out = d.path().join("out");
    let key = d.path().join("key");
    let args = ["--quiet", "--no-indicators", "--registry", &registry()];
    let o = run_in_with(&inbox, &out, &key, &args, &[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    // the next year: 平祥村's income ×10, 启梅村's ×1.1; the station's capital falls
    let income = write_csv(
        &inbox,
        "如皋市_村级集体经济收入统计表_2024.csv",
        &format!("{t07}\n如皋市,义德街道,平祥村,2024,500\n如皋市,义德街道,启梅村,2024,44\n"),
    );
    let station = write_csv(
        &inbox,
        "如皋市_强村加油站收益台账_2024.csv",
        &format!("{t08}\nJYZ01,城北站,如皋市,80,2024,平祥村,12\n"),
    );
    // validate compares with the lake: two warnings, rows kept
    let back = d.path().join("back");
    let o = zx(&[
        "validate",
        "--json",
        "--registry",
        &registry(),
        "--out",
        out.to_str().unwrap(),
        "--annotate",
        back.to_str().unwrap(),
        income.to_str().unwrap(),
        station.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let across = |f: &serde_json::Value| -> Vec<(String, String, String)> {
        f["issues"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| ["W_CHANGE", "W_DECREASE"].contains(&i["code"].as_str().unwrap()))
            .map(|i| {
                (
                    i["code"].as_str().unwrap().to_string(),
                    i["cell"].as_str().unwrap().to_string(),
                    i["message_zh"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        across(&v[0]),
        [(
            "W_CHANGE".to_string(),
            "如皋市_村级集体经济收入统计表_2024!E2".to_string(),
            "“集体经营性收入”为 5000000 元，是上期（2023，如皋市_村级集体经济收入统计表_2023.csv 如皋市_村级集体经济收入统计表_2023!E2）500000 元 的 10 倍，超出 ×0.2–×5，已保留，请核实".to_string()
        )]
    );
    assert_eq!(
        across(&v[1]),
        [(
            "W_DECREASE".to_string(),
            "如皋市_强村加油站收益台账_2024!D2".to_string(),
            "“入股资金”只增不减，本期 800000 元 小于上期（2023，如皋市_强村加油站收益台账_2023.csv 如皋市_强村加油站收益台账_2023!D2）的 1000000 元，已保留，请核实".to_string()
        )]
    );
    assert_eq!(counts(&v[0])[2], 0, "nothing returned");
    // the annotated copy marks the cell as a warning
    let copy = back.join("如皋市_村级集体经济收入统计表_2024_校验.xlsx");
    let mut wb: Xlsx<_> = calamine::open_workbook(&copy).unwrap();
    let styles = wb
        .worksheet_style("如皋市_村级集体经济收入统计表_2024")
        .unwrap();
    let fill = styles
        .get((1, 4))
        .and_then(|s| s.fill.as_ref())
        .and_then(|f| f.get_color())
        .map(|c| c.to_argb() & 0xFFFFFF);
    assert_eq!(fill, Some(WARNING_FILL));
    assert!(notes(&copy)["E2"].contains("[W_CHANGE] “集体经营性收入”为 5000000 元"));

    // the nightly run: the same two in the warnings table, with both cells
    let o = run_in_with(&inbox, &out, &key, &args, &[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let q = zx(&[
        "query",
        "--out",
        out.to_str().unwrap(),
        "--csv",
        "SELECT code, source_file, cell, field, raw_value FROM warnings WHERE code IN ('W_CHANGE', 'W_DECREASE') ORDER BY code",
    ]);
    assert_eq!(
        q.stdout,
        "code,source_file,cell,field,raw_value\n\
         W_CHANGE,如皋市_村级集体经济收入统计表_2024.csv,如皋市_村级集体经济收入统计表_2024!E2,operating_income,5000000 元\n\
         W_DECREASE,如皋市_强村加油站收益台账_2024.csv,如皋市_强村加油站收益台账_2024!D2,invested,800000 元\n",
        "{}",
        q.stderr
    );
}

/// The cron mail of a night with one unusable file and new rejected rows
/// in two counties: what needs a look first (the file, each county's rows
/// and reasons), then the counts, then where to look; the next night, with
/// nothing new, is one line.
#[test]
fn the_closing_lines_say_what_needs_a_look_first() {
    let d = tempfile::tempdir().unwrap();
    let inbox = d.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let head = "县(市、区),镇(街道),村(社区),培训人次";
    write_csv(
        &inbox,
        "如皋市_党员培训与双带统计表_2024.csv",
        &format!("{head}\n如皋市,义德街道,平祥村,5\n如皋市,义德街道,彭春村,-4\n如皋市,义德街道,无此村,3\n"),
    );
    write_csv(
        &inbox,
        "海安市_党员培训与双带统计表_2024.csv",
        &format!("{head}\n海安市,城东镇,无名村,2\n"),
    );
    std::fs::write(
        inbox.join("启东市_党员培训与双带统计表_2024.xlsx"),
        b"this is not a workbook",
    )
    .unwrap();
    let (out, key) = (d.path().join("out"), d.path().join("key"));
    let args = ["--no-indicators", "--registry", &registry()];
    let o = run_in_with(&inbox, &out, &key, &args, &[]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let text = o.stdout.as_str();
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in {text}"))
    };
    assert!(
        text.contains(
            "; this run found 1 failed file(s) and 2 file(s) with rejected rows: exit 1."
        ),
        "{text}"
    );
    let look = at("Needs a look:\n  not used: 启东市_党员培训与双带统计表_2024.xlsx: ");
    let rugao = at("\n  如皋市: 2 rejected row(s) in 1 file(s) (out of range 1, village not in the registry 1)\n");
    let haian = at("\n  海安市: 1 rejected row(s) in 1 file(s) (village not in the registry 1)\n");
    let counts = at("4 input files (4 read this run;");
    let whereto = at(
        "Where to look: zhenxing status (what is missing or overdue, the scorecard); Manifest: ",
    );
    assert!(
        look < rugao && rugao < haian && haian < counts && counts < whereto,
        "{text}"
    );
    // nothing new: one line, no file lines
    let o = run_in_with(&inbox, &out, &key, &args, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);
    assert!(
        o.stdout
            .contains("; this run found nothing new to reject: exit 0."),
        "{}",
        o.stdout
    );
}
