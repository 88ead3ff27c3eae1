//! The parent process against hostile content: a panic is one file's
//! error, limits hold whatever a file declares, a rule without its column
//! is a warning, and the small things a cron job trips over.

use std::path::{Path, PathBuf};

use zhenxing::synth::write::FileKind;

use super::bad_inbox::clean_file;
use super::hostile::patch_zip;
use super::util::*;

fn file_entry<'a>(m: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().contains(name))
        .unwrap_or_else(|| panic!("{name} not in the manifest"))
}

#[test]
fn a_word_in_a_date_column_is_a_rejected_cell_not_a_crash() {
    let d = tempfile::tempdir().unwrap();
    let words = ["待定", "不详", "六月", "今年"];
    for w in words {
        let dir = d.path().join(w);
        std::fs::create_dir_all(&dir).unwrap();
        let f = clean_file(
            &dir,
            "T03",
            3,
            FileKind::CsvUtf8,
            &[],
            &[("transformed_on", w)],
        );
        let out = zx(&["validate", "--registry", &registry(), f.to_str().unwrap()]);
        assert_eq!(out.code, 1, "{w}: {}{}", out.stdout, out.stderr);
        // three rows, each rejected on its 转化时间 cell
        let cells: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.contains("E_NOT_DATE"))
            .collect();
        assert_eq!(cells.len(), 3, "{w}: {}", out.stdout);
        assert!(
            out.stdout.contains(&format!("（原值：{w}）")),
            "{}",
            out.stdout
        );
    }
}

#[test]
fn a_panic_while_validating_is_the_files_error_and_the_next_run_retries_it() {
    let d = tempfile::tempdir().unwrap();
    let inbox = d.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    clean_file(&inbox, "T04", 5, FileKind::Xlsx, &[], &[]);
    clean_file(&inbox, "T07", 4, FileKind::CsvUtf8, &[], &[]);
    let out = d.path().join("out");
    let key = d.path().join("key");
    let r = run_in(
        &inbox,
        &out,
        &key,
        &[("ZHENXING_FAULT", "ingest-panic:村书记专职化管理台账")],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let m = last_manifest(&out);
    assert_eq!(m["outcome"], "published");
    let bad = file_entry(&m, "村书记专职化管理台账");
    assert_eq!(bad["status"], "failed");
    let err = bad["error"].as_str().unwrap();
    assert!(
        err.contains("internal error in zhenxing while validating rows")
            && err.contains("injected fault"),
        "{err}"
    );
    let good = file_entry(&m, "村级集体经济收入统计表");
    assert_eq!(good["status"], "current");
    assert_eq!(good["rows_accepted"], 4);
    let q = zx(&[
        "query",
        "--out",
        out.to_str().unwrap(),
        "--csv",
        "SELECT code, source_file FROM rejects WHERE code = 'F_INTERNAL'",
    ]);
    assert_eq!(q.code, 0, "{}", q.stderr);
    assert_eq!(q.stdout.lines().count(), 2, "{}", q.stdout);
    assert!(q.stdout.contains("村书记专职化管理台账"), "{}", q.stdout);
    // the next run (the bug fixed) reads that file again, and only that one
    let r = run_in(&inbox, &out, &key, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let m = last_manifest(&out);
    let again = file_entry(&m, "村书记专职化管理台账");
    assert_eq!(again["status"], "current");
    assert_eq!(again["read_this_run"], true);
    assert_eq!(again["rows_accepted"], 5);
    assert_eq!(
        file_entry(&m, "村级集体经济收入统计表")["read_this_run"],
        false
    );
}

#[test]
fn a_rule_without_its_column_is_one_warning_and_keeps_the_rows() {
    let d = tempfile::tempdir().unwrap();
    // 选聘事业编制 = 是 for every secretary, no 选聘时间 column
    let f = clean_file(
        d.path(),
        "T04",
        6,
        FileKind::Xlsx,
        &["career_post_on"],
        &[("career_post", "是")],
    );
    let (code, v) = validate_json(&[f]);
    assert_eq!(code, 0, "{v}");
    let file = &v[0];
    assert_eq!(counts(file), [8, 6, 0, 2, 6]);
    let warnings: Vec<&serde_json::Value> = file["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["severity"] == "warning")
        .collect();
    // the generated file also states no money unit (one W_NO_UNIT)
    let codes: Vec<&str> = warnings
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["W_NO_UNIT", "W_MISSING_COLUMN"], "{warnings:?}");
    let warnings = &warnings[1..];
    let msg = warnings[0]["message_zh"].as_str().unwrap();
    assert!(msg.contains("选聘时间"), "{msg}");
    // with the column present and empty, the rule holds: six rejects, each with its cell
    let f = clean_file(
        d.path(),
        "T04",
        6,
        FileKind::Xlsx,
        &[],
        &[("career_post", "是"), ("career_post_on", "")],
    );
    let (code, v) = validate_json(&[f]);
    assert_eq!(code, 1);
    let rejects = issues(&v[0], "reject");
    assert_eq!(rejects.len(), 6, "{rejects:?}");
    for (code, cell) in rejects {
        assert_eq!(code, "E_REQUIRED_IF");
        let col = cell.split('!').nth(1).unwrap();
        assert!(col.starts_with(|c: char| c.is_ascii_uppercase()), "{cell}");
    }
}

/// Writes the attack files next to a good one; returns the good file's name.
fn attacks(inbox: &Path) -> String {
    let scratch = inbox.parent().unwrap().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let good = clean_file(inbox, "T04", 20, FileKind::Xlsx, &[], &[]);
    let base = clean_file(&scratch, "T07", 5, FileKind::Xlsx, &[], &[]);
    // each attack: what goes at the end of <sheetData>, and after it
    let patched = |year: u32, rows: &str, after: &str| {
        patch_zip(
            &base,
            &inbox.join(format!("如皋市_村级集体经济收入统计表_{year}.xlsx")),
            "xl/worksheets/sheet1.xml",
            |xml: String| xml.replace("</sheetData>", &format!("{rows}</sheetData>{after}")),
        )
    };
    // a row number far below the last one, beyond Excel's last row
    patched(
        2023,
        r#"<row r="999999999"><c r="A999999999" t="inlineStr"><is><t>x</t></is></c></row>"#,
        "",
    );
    // a legal but distant row: a gap, never filled
    patched(
        2022,
        r#"<row r="1048000"><c r="A1048000" t="inlineStr"><is><t>说明</t></is></c></row>"#,
        "",
    );
    // a cell beyond column XFD
    patched(
        2021,
        r#"<row r="9"><c r="XFE9" t="inlineStr"><is><t>x</t></is></c></row>"#,
        "",
    );
    // 50,000 merged regions over the header
    let merges: String = (0..50_000)
        .map(|i| format!(r#"<mergeCell ref="A{}:XFD{}"/>"#, 1 + i % 20, 2 + i % 20))
        .collect();
    patched(
        2020,
        "",
        &format!("<mergeCells count=\"50000\">{merges}</mergeCells>"),
    );
    // 9,000 overlapping regions, each the whole header area: under the
    // limit, so header detection must stay bounded
    let merges = r#"<mergeCell ref="A1:XFD28"/>"#.repeat(9_000);
    patched(
        2019,
        "",
        &format!("<mergeCells count=\"9000\">{merges}</mergeCells>"),
    );
    // one CSV row with two million fields
    let mut wide = String::from("县(市、区),村(社区),村级集体经营性收入\n");
    wide.push_str(&",1".repeat(2_000_000));
    wide.push('\n');
    std::fs::write(inbox.join("如皋市_村级集体经济收入统计表_2018.csv"), wide).unwrap();
    // a header as wide as a sheet may be, every extra column an unknown label
    let base_csv = clean_file(&scratch, "T07", 1, FileKind::CsvUtf8, &[], &[]);
    let text = std::fs::read_to_string(&base_csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(|l| l.to_string()).collect();
    let width = lines[1].split(',').count();
    for k in width..16_384 {
        lines[1].push_str(&format!(",备注{k}"));
    }
    std::fs::write(
        inbox.join("如皋市_村级集体经济收入统计表_2017.csv"),
        lines.join("\n") + "\n",
    )
    .unwrap();
    good.file_name().unwrap().to_string_lossy().to_string()
}

#[test]
fn attacks_stay_in_their_files_and_the_parent_stays_small() {
    let d = tempfile::tempdir().unwrap();
    let inbox = d.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let good = attacks(&inbox);
    let out = d.path().join("out");
    let key = d.path().join("key");
    let r = run_in(&inbox, &out, &key, &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let m = last_manifest(&out);
    assert_eq!(file_entry(&m, &good)["rows_accepted"], 20);
    assert_eq!(file_entry(&m, &good)["status"], "current");
    let status = |name: &str| -> (String, String) {
        let f = file_entry(&m, name);
        (
            f["status"].as_str().unwrap().to_string(),
            f["error"].as_str().unwrap_or("").to_string(),
        )
    };
    for (name, what) in [
        ("_2023.xlsx", "at most 1048576 rows"),
        ("_2021.xlsx", "at most 16384 columns"),
        ("_2020.xlsx", "50000 merged regions"),
        ("_2018.csv", "at most 16384 columns"),
    ] {
        let (s, e) = status(name);
        assert_eq!(s, "failed", "{name}: {e}");
        assert!(e.contains(what), "{name}: {e}");
    }
    // the distant row is a row like any other, after a gap
    // (the same county, template and year as the others: superseded by
    // the newest of them, which is how resubmissions work)
    let (s, e) = status("_2022.xlsx");
    assert_ne!(s, "failed", "{e}");
    let f = file_entry(&m, "_2022.xlsx");
    assert_eq!(f["rows_accepted"], 5);
    assert_eq!(f["rows_read"], 8);
    // the wide header and the piled-up merges are read or refused, not fatal
    for name in ["_2019.xlsx", "_2017.csv"] {
        let f = file_entry(&m, name);
        let n = |k: &str| f[k].as_u64().unwrap();
        assert_eq!(
            n("rows_read"),
            n("rows_accepted") + n("rows_rejected") + n("rows_non_data")
        );
    }
    assert_eq!(
        file_entry(&m, "_2017.csv")["rows_accepted"],
        1,
        "{}",
        file_entry(&m, "_2017.csv")
    );
    // the parent's peak, as the run reports it
    let peak: u64 = r
        .stdout
        .split("peak memory ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no peak in {}", r.stdout));
    assert!(peak < 300, "parent peak {peak} MiB");
    eprintln!("attack run: parent peak {peak} MiB");
}

#[test]
fn a_chatty_or_lying_reader_takes_only_its_file_down() {
    let d = tempfile::tempdir().unwrap();
    let inbox = d.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let chatty = clean_file(&inbox, "T04", 5, FileKind::Xlsx, &[], &[]);
    let liar = clean_file(&inbox, "T07", 4, FileKind::CsvUtf8, &[], &[]);
    let fault = format!(
        "worker-chatty:{},worker-bigframe:{}",
        chatty.file_name().unwrap().to_string_lossy(),
        liar.file_name().unwrap().to_string_lossy()
    );
    let out = d.path().join("out");
    let key = d.path().join("key");
    let r = run_in(&inbox, &out, &key, &[("ZHENXING_FAULT", &fault)]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let m = last_manifest(&out);
    // 1 MiB on stderr does not stall the reader: the file is read
    assert_eq!(file_entry(&m, "村书记专职化管理台账")["rows_accepted"], 5);
    let liar = file_entry(&m, "村级集体经济收入统计表");
    assert_eq!(liar["status"], "failed");
    let e = liar["error"].as_str().unwrap();
    assert!(e.contains("a frame of 4294967295 bytes"), "{e}");
}

#[test]
fn the_readers_time_limit_counts_its_reading_not_the_parents_validation() {
    let d = tempfile::tempdir().unwrap();
    let inbox = d.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let f = clean_file(&inbox, "T04", 5, FileKind::Xlsx, &[], &[]);
    let pipeline = super::hostile::pipeline_with(
        d.path(),
        "isolate = true\nworker_memory_mb = 1024\nworker_timeout_s = 1",
    );
    // validating the file's rows takes two seconds, the reader has one
    let out = zx_env(
        &[
            "validate",
            "--pipeline",
            pipeline.to_str().unwrap(),
            "--registry",
            &registry(),
            f.to_str().unwrap(),
        ],
        &[("ZHENXING_FAULT", "ingest-slow:村书记专职化管理台账")],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("接收 5 + 退回 0"), "{}", out.stdout);
}

#[test]
fn limits_that_do_not_parse_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let f = clean_file(d.path(), "T04", 2, FileKind::Xlsx, &[], &[]);
    let out = zx(&["__read", f.to_str().unwrap(), "--limits", "{not json"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--limits"), "{}", out.stderr);
}

#[test]
fn an_empty_key_file_variable_counts_as_unset() {
    let d = tempfile::tempdir().unwrap();
    let inbox = d.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    clean_file(&inbox, "T07", 3, FileKind::CsvUtf8, &[], &[]);
    let home = d.path().join("home");
    let out = d.path().join("out");
    let r = zx_env(
        &[
            "run",
            "--inbox",
            inbox.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[
            ("ZHENXING_KEY_FILE", ""),
            ("ZHENXING_KEY", ""),
            ("HOME", home.to_str().unwrap()),
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let key = home.join(".config/zhenxing/pseudonym.key");
    let text = std::fs::read_to_string(&key).unwrap();
    assert_eq!(text.trim().len(), 64);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // no temporary file is left beside it
    let names: Vec<String> = std::fs::read_dir(key.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, vec!["pseudonym.key".to_string()]);
}

#[test]
fn csv_output_escapes_text_that_a_spreadsheet_would_run() {
    let d = tempfile::tempdir().unwrap();
    let inbox = d.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    // a village name that starts like a formula is rejected; its raw value
    // lands in the rejects table and comes back through `query --csv`
    clean_file(
        &inbox,
        "T07",
        2,
        FileKind::CsvUtf8,
        &[],
        &[("village_code", ""), ("village", "=HYPERLINK(\"x\")")],
    );
    let out = d.path().join("out");
    let key = d.path().join("key");
    let r = run_in(&inbox, &out, &key, &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let q = zx(&[
        "query",
        "--out",
        out.to_str().unwrap(),
        "--csv",
        "SELECT raw_value, source_row FROM rejects WHERE code = 'E_UNKNOWN_VILLAGE' ORDER BY source_row",
    ]);
    assert_eq!(q.code, 0, "{}", q.stderr);
    assert_eq!(
        q.stdout,
        "raw_value,source_row\n\"'=HYPERLINK(\"\"x\"\")\",3\n\"'=HYPERLINK(\"\"x\"\")\",4\n"
    );
}

#[test]
fn a_reader_process_reads_file_after_file_and_a_crash_costs_only_its_file() {
    let d = tempfile::tempdir().unwrap();
    let inbox = d.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let files: Vec<PathBuf> = ["T04", "T07", "T10", "T12", "T08"]
        .iter()
        .enumerate()
        .map(|(i, t)| clean_file(&inbox, t, 3 + i, FileKind::CsvUtf8, &[], &[]))
        .collect();
    let pipeline = super::hostile::pipeline_with(
        d.path(),
        "isolate = true\nworker_memory_mb = 1024\nworker_timeout_s = 60\nworker_files = 2",
    );
    let key = d.path().join("key");
    let reg = registry();
    let run = |out: &str, env: &[(&str, &str)]| {
        let extra = [
            "--pipeline",
            pipeline.to_str().unwrap(),
            "--registry",
            &reg,
            "--jobs",
            "1",
            "--log-format",
            "json",
        ];
        run_in_with(&inbox, &d.path().join(out), &key, &extra, env)
    };
    let last_event = |r: &Out| -> serde_json::Value {
        let line = r.stderr.lines().last().unwrap();
        serde_json::from_str::<serde_json::Value>(line).unwrap()["fields"].clone()
    };
    // the registry and five files, two to a reader: three readers
    let r = run("out1", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let ev = last_event(&r);
    assert_eq!(ev["reader_processes"], 3, "{ev}");
    // (the registry's 1,800 villages are rows read too)
    assert_eq!(ev["rows_accepted"], 1800 + 3 + 4 + 5 + 6 + 7);
    // a reader that aborts takes its file down; the next reader reads on.
    // Files are read in path order after the registry: the second file is
    // the first of the second reader, which then dies having read one
    let mut sorted = files.clone();
    sorted.sort();
    let victim = sorted[1].file_name().unwrap().to_string_lossy().to_string();
    let r = run(
        "out2",
        &[("ZHENXING_FAULT", &format!("worker-abort:{victim}"))],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let ev = last_event(&r);
    let lost = files.iter().position(|f| f == &sorted[1]).unwrap() + 3;
    assert_eq!(ev["rows_accepted"], 1800 + 3 + 4 + 5 + 6 + 7 - lost);
    let m = last_manifest(&d.path().join("out2"));
    let failed = file_entry(&m, &victim);
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"].as_str().unwrap().contains("signal 6"),
        "{failed}"
    );
    // readers: (registry, file 1), (file 2: crash), (files 3, 4), (file 5)
    assert_eq!(ev["reader_processes"], 4, "{ev}");
}
