//! The nightly run: lake layout and contents, incremental reruns,
//! supersession, atomic publish under injected failures and SIGKILL, the
//! lock, and personal data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use polars::prelude::*;

use crate::util::{registry, repo, Out};

/// A fixed test key (never a real one).
pub(crate) const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Runs `zhenxing run --quiet` to completion.
pub(crate) fn run(out: &Path, inbox: &Path, extra: &[&str], env: &[(&str, &str)]) -> Out {
    output(run_cmd(out, inbox, extra).envs(env.iter().copied()))
}

/// A command run to completion.
pub(crate) fn output(c: &mut Command) -> Out {
    let o = c.output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).to_string(),
        stderr: String::from_utf8_lossy(&o.stderr).to_string(),
    }
}

/// `zhenxing run --quiet` on this inbox and output, as a command to start.
fn run_cmd(out: &Path, inbox: &Path, extra: &[&str]) -> Command {
    let mut c = loud_run_cmd(out, inbox, extra);
    c.arg("--quiet");
    c
}

/// `zhenxing run` on this inbox and output, printing a line per file.
pub(crate) fn loud_run_cmd(out: &Path, inbox: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(crate::util::bin());
    c.args([
        "run",
        "--out",
        out.to_str().unwrap(),
        "--inbox",
        inbox.to_str().unwrap(),
        "--registry",
        &registry(),
    ])
    .args(extra)
    .env("ZHENXING_KEY", KEY)
    .current_dir(repo());
    c
}

/// A dataset of the published lake, read the way an analyst would: a
/// hive-partitioned scan of `OUT/lake/<dataset>`.
fn lake(out: &Path, dataset: &str) -> DataFrame {
    let glob = format!("{}/lake/{dataset}/**/*.parquet", out.display());
    let args = ScanArgsParquet {
        hive_options: HiveOptions {
            enabled: Some(true),
            ..Default::default()
        },
        ..Default::default()
    };
    LazyFrame::scan_parquet(PlRefPath::new(glob), args)
        .unwrap()
        .collect()
        .unwrap()
}

/// sha256 of every file reachable under `OUT/lake`, by relative path.
fn lake_hashes(out: &Path) -> BTreeMap<String, String> {
    use sha2::Digest;
    let root = out.join("lake").canonicalize().unwrap();
    let mut m = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let h = hex::encode(sha2::Sha256::digest(std::fs::read(&p).unwrap()));
                m.insert(p.strip_prefix(&root).unwrap().display().to_string(), h);
            }
        }
    }
    m
}

fn manifest(out: &Path, stdout: &str) -> serde_json::Value {
    let id = stdout
        .split("zhenxing run ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .unwrap_or_else(|| panic!("no run id in {stdout}"));
    let text = std::fs::read_to_string(out.join("runs").join(format!("{id}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn current_version(out: &Path) -> String {
    std::fs::read_link(out.join("lake"))
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string()
}

/// Copies the files of one county folder of the bundled inbox.
pub(crate) fn county_inbox(dir: &Path, county: &str, skip: &[&str]) -> PathBuf {
    let inbox = dir.join("inbox");
    let to = inbox.join(county);
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(repo().join("sample_data/inbox").join(county)).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !skip.iter().any(|s| name.contains(s)) {
            std::fs::copy(&p, to.join(&name)).unwrap();
        }
    }
    inbox
}

/// ID numbers in any output file (see [`crate::util::texts_in_file`]).
fn id_numbers_in_file(path: &Path) -> Vec<String> {
    crate::util::texts_in_file(path)
        .iter()
        .flat_map(|t| id_numbers_in(t))
        .collect()
}

/// 18 characters that pass the resident ID check (digits, check digit,
/// birth date), standing alone (not inside a longer code or hash).
fn id_numbers_in(text: &str) -> Vec<String> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    // cheap test first: most values are short or have no run of 17 digits
    if text.len() < 18
        || !text
            .as_bytes()
            .windows(17)
            .any(|w| w.iter().all(u8::is_ascii_digit))
    {
        return Vec::new();
    }
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"(?:^|[^0-9A-Za-z])([0-9]{17}[0-9Xx])(?:$|[^0-9A-Za-z])").unwrap()
    });
    re.captures_iter(text)
        .map(|c| c[1].to_string())
        .filter(|s| zhenxing::validate::pii::id_number_valid(s))
        .collect()
}

#[test]
fn the_sample_inbox_becomes_a_lake_with_exact_rows_and_real_types() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let inbox = repo().join("sample_data/inbox");
    let r = run(&out, &inbox, &[], &[]);
    assert_eq!(
        r.code, 1,
        "planted rejects make the run exit 1: {}",
        r.stderr
    );
    assert!(
        r.stdout
            .contains("261 input files (261 read this run; 260 current, 1 superseded, 0 failed"),
        "{}",
        r.stdout
    );
    let m = manifest(&out, &r.stdout);
    assert_eq!(m["outcome"], "published");
    // conservation in the manifest, per file and in total
    for f in m["files"].as_array().unwrap() {
        let n = |k: &str| f[k].as_u64().unwrap();
        assert_eq!(
            n("rows_read"),
            n("rows_accepted") + n("rows_rejected") + n("rows_non_data"),
            "{}",
            f["path"]
        );
    }
    let t = &m["totals"];
    assert_eq!(
        (
            t["read"].as_u64(),
            t["accepted"].as_u64(),
            t["rejected"].as_u64(),
            t["non_data"].as_u64()
        ),
        (Some(60073), Some(57344), Some(173), Some(2556))
    );
    // the superseded original (如东县 T07 2023) is counted apart: 60388
    // rows read in all, 175 rejected
    let st = &m["superseded_totals"];
    assert_eq!(
        (st["read"].as_u64(), st["rejected"].as_u64()),
        (Some(315), Some(2))
    );
    // one count of rejects: the manifest's is the rejects table's; and
    // the warnings are a table of their own with the same lineage
    let rejects = lake(&out, "rejects").height() as u64;
    assert_eq!(t["rejected"].as_u64(), Some(rejects));
    // … and the closing paragraph's, status's and the report's
    assert!(
        r.stdout.contains("rejected 173 + non-data 2556 (superseded files, not in the lake: rows read 315, rejected 2)"),
        "{}",
        r.stdout
    );
    let st = crate::util::zx(&["status", "--json", "--out", out.to_str().unwrap()]);
    let st: serde_json::Value = serde_json::from_str(&st.stdout).unwrap();
    assert_eq!(st["lake"]["rejected_rows"].as_u64(), Some(173));
    assert_eq!(st["lake"]["rejects"].as_u64(), Some(rejects));
    assert_eq!(st["lake"]["failed_files"].as_u64(), Some(0));
    let xlsx = std::fs::read_dir(out.join("reports/2024"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "xlsx"))
        .unwrap();
    let notes = {
        use calamine::{open_workbook, Reader, Xlsx};
        let mut wb: Xlsx<_> = open_workbook(&xlsx).unwrap();
        wb.worksheet_range("说明").unwrap()
    };
    let fact = |label: &str| {
        notes
            .rows()
            .find(|r| matches!(&r[0], calamine::Data::String(s) if s == label))
            .map(|r| r[1].to_string())
    };
    assert_eq!(fact("拒收行数（表 rejects）").as_deref(), Some("173"));
    assert_eq!(fact("无法使用的文件").as_deref(), Some("0"));
    assert_eq!(
        fact("警告（表 warnings，数据已保留）"),
        m["warnings"].as_u64().map(|w| w.to_string())
    );
    let warnings = lake(&out, "warnings");
    assert_eq!(m["warnings"].as_u64(), Some(warnings.height() as u64));
    for c in [
        "source_file",
        "source_sheet",
        "source_row",
        "cell",
        "code",
        "message_zh",
    ] {
        assert!(warnings.column(c).is_ok(), "{c}");
    }

    // expected rows per dataset and county: the truth of every file whose
    // rows are current (the corrected resubmission replaces the original)
    let p = zhenxing::config::load(&repo().join("pipelines/nantong.toml")).unwrap();
    let truth: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(repo().join("sample_data/truth/files.json")).unwrap(),
    )
    .unwrap();
    let replaced: Vec<&str> = truth
        .iter()
        .filter_map(|f| f["resubmits"].as_str())
        .collect();
    let mut want: BTreeMap<(String, String), usize> = BTreeMap::new();
    for f in &truth {
        if replaced.contains(&f["file"].as_str().unwrap()) {
            continue;
        }
        let ds = p
            .source(f["template"].as_str().unwrap())
            .unwrap()
            .dataset
            .clone();
        *want
            .entry((ds, f["county"].as_str().unwrap().to_string()))
            .or_default() += f["records"].as_u64().unwrap() as usize;
    }
    let mut got: BTreeMap<(String, String), usize> = BTreeMap::new();
    for src in &p.sources {
        if src.dataset == "villages" {
            continue;
        }
        let df = lake(&out, &src.dataset);
        let by = df
            .clone()
            .lazy()
            .group_by([col("county")])
            .agg([len().alias("n")])
            .collect()
            .unwrap();
        let counties = by.column("county").unwrap().str().unwrap().clone();
        let ns = by.column("n").unwrap().u32().unwrap().clone();
        for (c, n) in counties.iter().zip(ns.iter()) {
            got.insert(
                (src.dataset.clone(), c.unwrap().to_string()),
                n.unwrap() as usize,
            );
        }
        // every row sits in the partition of its own county code
        let codes = df.column("village_code").unwrap().str().unwrap().clone();
        let parts = df
            .column("county_code")
            .unwrap()
            .cast(&DataType::String)
            .unwrap();
        let parts = parts.str().unwrap().clone();
        for (c, p) in codes.iter().zip(parts.iter()) {
            assert_eq!(&c.unwrap()[..6], p.unwrap(), "{}", src.dataset);
        }
    }
    assert_eq!(got, want);
    assert_eq!(lake(&out, "villages").height(), 1800);

    // real types, lineage, pseudonyms
    let hh = lake(&out, "household_income");
    let ty = |c: &str| hh.column(c).unwrap().dtype().clone();
    assert_eq!(ty("income"), DataType::Float64);
    assert_eq!(ty("persons"), DataType::Int64);
    assert_eq!(ty("member"), DataType::Boolean);
    assert_eq!(ty("year"), DataType::Int64);
    assert_eq!(ty("source_row"), DataType::Int64);
    assert!(hh.column("head_id_number").is_err());
    assert_eq!(ty("head_id_number_pseudonym"), DataType::String);
    let sec = lake(&out, "secretaries");
    assert_eq!(sec.column("appointed_on").unwrap().dtype(), &DataType::Date);
    let rej = lake(&out, "rejects");
    assert_eq!(rej.height(), 173);

    // a partition file: the metadata names run and pipeline, the unit of money
    let f = std::fs::File::open(
        out.join("lake/household_income/county_code=320682/year=2024/part-0.parquet"),
    )
    .unwrap();
    let mut reader = ParquetReader::new(f);
    let kv = reader
        .get_metadata()
        .unwrap()
        .key_value_metadata()
        .clone()
        .unwrap();
    let get = |k: &str| kv.iter().find(|x| x.key == k).and_then(|x| x.value.clone());
    assert_eq!(get("zhenxing.run_id").as_deref(), m["version"].as_str());
    assert_eq!(get("zhenxing.pipeline_hash"), Some(p.hash.clone()));
    assert_eq!(
        get("zhenxing.units").as_deref(),
        Some("{\"income\":\"元 (yuan)\"}")
    );

    // no ID number in clear anywhere in the output: every Parquet file's
    // values and key-value metadata, every part of every xlsx, every text
    let mut stack = vec![out.clone()];
    let (mut parquet_files, mut xlsx_files) = (0, 0);
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_symlink() {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_some_and(|x| x == "parquet") {
                parquet_files += 1;
            }
            if path.extension().is_some_and(|x| x == "xlsx") {
                xlsx_files += 1;
            }
            let found = id_numbers_in_file(&path);
            assert!(found.is_empty(), "{found:?} in {}", path.display());
        }
    }
    assert!(parquet_files > 100, "{parquet_files}");
    assert!(xlsx_files >= 1, "{xlsx_files}");
    // the scan itself finds ID numbers where they are: in text, and inside
    // the county workbooks (zip) of the inbox
    assert_eq!(
        id_numbers_in("身份证 11010519491231002X。"),
        vec!["11010519491231002X"]
    );
    let with_ids = repo().join("sample_data/inbox/如皋市/如皋市_农户收入监测表_2024.xlsx");
    assert!(!id_numbers_in_file(&with_ids).is_empty());

    // the synthetic panel's true effect of joining (4,000 yuan a year) lies
    // in the 95 % interval of the DiD and Callaway-Sant'Anna estimates
    let eff = zhenxing::lake::read_parquet(&out.join("indicators/income_effects.parquet")).unwrap();
    let truth = zhenxing::synth::MEMBER_INCOME_EFFECT;
    let mut checked = Vec::new();
    for i in 0..eff.height() {
        let s = |n: &str| {
            eff.column(n)
                .unwrap()
                .str()
                .unwrap()
                .get(i)
                .unwrap_or("")
                .to_string()
        };
        let f = |n: &str| eff.column(n).unwrap().f64().unwrap().get(i);
        let est = s("estimator");
        if s("scope_level") == "city"
            && s("outcome") == "income"
            && ["twfe_did", "cs_simple"].contains(&est.as_str())
        {
            let (lo, hi) = (f("ci_low").unwrap(), f("ci_high").unwrap());
            assert!(
                lo <= truth && truth <= hi,
                "{est}: [{lo}, {hi}] misses {truth}"
            );
            assert_eq!(
                eff.column("n_clusters").unwrap().u64().unwrap().get(i),
                Some(103)
            );
            checked.push(est);
        }
    }
    assert_eq!(checked, ["twfe_did", "cs_simple"]);
    // and the report folder of the latest year is there
    let reports = out.join("reports/2024");
    assert!(reports.join("index.html").is_file());
    assert!(reports.join("nantong_2024_指标报表.xlsx").is_file());

    // a rerun with nothing new reads nothing and changes no byte
    let before = lake_hashes(&out);
    let again = run(&out, &inbox, &[], &[]);
    // and exits 0: the standing rejects were reported by the first run
    // (cron mails on what a run finds; `status` keeps the standing state)
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert!(
        again
            .stdout
            .contains("this run found nothing new to reject: exit 0"),
        "{}",
        again.stdout
    );
    let m2 = manifest(&out, &again.stdout);
    assert_eq!(m2["outcome"], "unchanged");
    assert_eq!(m2["files_read_this_run"], 0);
    assert_eq!(m2["files_with_rejects"], m["files_with_rejects"]);
    assert_eq!(m2["new_files_with_rejects"], 0);
    assert_eq!(lake_hashes(&out), before);
}

#[test]
fn resubmissions_supersede_and_full_refresh_equals_incremental() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let inbox = county_inbox(d.path(), "如东县", &["_更正"]);
    let first = run(&out, &inbox, &[], &[]);
    assert!(first.code == 0 || first.code == 1, "{}", first.stderr);
    let v1 = current_version(&out);
    let ce = |out: &Path| lake(out, "collective_economy");
    let original = "如东县/如东县_村级集体经济收入统计表_2023.xlsx";
    let corrected = "如东县/如东县_村级集体经济收入统计表_2023_更正.xlsx";
    let rows_from = |df: &DataFrame, f: &str| {
        df.column("source_file")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .filter(|x| *x == Some(f))
            .count()
    };
    assert!(rows_from(&ce(&out), original) > 0);

    // the corrected file arrives
    std::fs::copy(
        repo().join("sample_data/inbox").join(corrected),
        inbox.join(corrected),
    )
    .unwrap();
    let rejects_before = lake(&out, "rejects").height() as u64;
    let second = run(&out, &inbox, &[], &[]);
    let m = manifest(&out, &second.stdout);
    assert_eq!(m["files_read_this_run"], 1, "only the new file is read");
    // the corrected file is clean: this run found nothing to reject, and
    // the superseded file's rejects leave every count at once
    assert_eq!(second.code, 0, "{}", second.stdout);
    let rejects = lake(&out, "rejects").height() as u64;
    assert_eq!(m["totals"]["rejected"].as_u64(), Some(rejects));
    let gone = m["superseded_totals"]["rejected"].as_u64().unwrap();
    assert_eq!(rejects + gone, rejects_before);
    assert!(
        second
            .stdout
            .contains(&format!("rejected {rejects} + non-data")),
        "{}",
        second.stdout
    );
    let files = m["files"].as_array().unwrap();
    let entry = |p: &str| files.iter().find(|f| f["path"] == p).unwrap().clone();
    assert_eq!(entry(original)["status"], "superseded");
    assert_eq!(entry(original)["superseded_by"], corrected);
    assert_eq!(entry(corrected)["supersedes"][0], original);
    let df = ce(&out);
    assert_eq!(rows_from(&df, original), 0);
    assert_eq!(
        rows_from(&df, corrected),
        entry(corrected)["records"].as_u64().unwrap() as usize
    );
    assert_ne!(current_version(&out), v1);
    // the previous version is kept, complete, for rollback
    assert!(out
        .join(".zhenxing/versions")
        .join(&v1)
        .join("_zhenxing/version.json")
        .is_file());

    // --full-refresh reads everything again and gives the same lake
    let p = zhenxing::config::load(&repo().join("pipelines/nantong.toml")).unwrap();
    let before: Vec<DataFrame> = p
        .sources
        .iter()
        .map(|s| sorted(lake(&out, &s.dataset)))
        .collect();
    let full = run(&out, &inbox, &["--full-refresh"], &[]);
    let mf = manifest(&out, &full.stdout);
    assert_eq!(mf["files_read_this_run"].as_u64(), Some(files.len() as u64));
    for (s, b) in p.sources.iter().zip(before) {
        assert!(
            sorted(lake(&out, &s.dataset)).equals_missing(&b),
            "{}",
            s.dataset
        );
    }
}

#[test]
fn a_failure_before_publishing_leaves_the_previous_version() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let inbox = county_inbox(d.path(), "海安市", &["2024"]);
    assert!(run(&out, &inbox, &[], &[]).code <= 1);
    let v1 = current_version(&out);
    let before = lake_hashes(&out);
    // new files arrive, and the run fails after writing, before publishing
    let all = county_inbox(d.path(), "海安市", &[]);
    assert_eq!(all, inbox);
    let r = run(&out, &inbox, &[], &[("ZHENXING_FAULT", "before-publish")]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("nothing was published"), "{}", r.stderr);
    assert_eq!(current_version(&out), v1);
    assert_eq!(lake_hashes(&out), before);
    // the next run cleans up and publishes; its log is JSON lines
    let r = run(&out, &inbox, &["--log-format", "json"], &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    let events: Vec<serde_json::Value> = r
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let last = &events[events.len() - 1]["fields"];
    assert_eq!(last["event"], "run");
    assert_eq!(last["outcome"], "published");
    let files = events
        .iter()
        .filter(|e| e["fields"]["event"] == "file")
        .count();
    assert_eq!(files as u64, last["files"].as_u64().unwrap());
    assert_ne!(current_version(&out), v1);
    assert!(std::fs::read_dir(out.join(".zhenxing/staging"))
        .unwrap()
        .next()
        .is_none());
}

/// A dataset's rows in source order, whatever order the files were scanned in.
fn sorted(df: DataFrame) -> DataFrame {
    df.sort(
        ["source_file", "source_sheet", "source_row"],
        Default::default(),
    )
    .unwrap()
}

/// Every partition file a version lists exists and has its rows.
fn assert_complete(out: &Path) -> String {
    let v = current_version(out);
    let layout = zhenxing::lake::Layout::new(out);
    let meta = layout.version_meta(&v).unwrap();
    for (ds, parts) in &meta.datasets {
        for p in parts {
            let f = out
                .join("lake")
                .join(ds)
                .join(&p.dir)
                .join("part-0.parquet");
            let df = zhenxing::lake::read_parquet(&f).unwrap();
            assert_eq!(df.height(), p.rows, "{}", f.display());
        }
    }
    v
}

#[test]
fn a_killed_run_leaves_a_readable_lake_and_the_next_run_recovers() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let inbox = county_inbox(d.path(), "启东市", &[]);
    assert!(run(&out, &inbox, &[], &[]).code <= 1);
    let mut seen = vec![assert_complete(&out)];
    for delay_ms in [30u64, 150, 400, 900, 1600] {
        let mut child = run_cmd(&out, &inbox, &["--full-refresh"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let v = assert_complete(&out);
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    let r = run(&out, &inbox, &[], &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    assert_complete(&out);
    assert!(std::fs::read_dir(out.join(".zhenxing/staging"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn two_runs_at_once_do_not_both_write() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let inbox = county_inbox(d.path(), "崇川区", &[]);
    let spawn = || run_cmd(&out, &inbox, &[]).output();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    let codes = [a.status.code(), b.status.code()];
    let refused: Vec<&std::process::Output> = [&a, &b]
        .into_iter()
        .filter(|o| o.status.code() == Some(3))
        .collect();
    assert_eq!(refused.len(), 1, "{codes:?}");
    let msg = String::from_utf8_lossy(&refused[0].stderr);
    assert!(msg.contains("another zhenxing run holds"), "{msg}");
    let versions = std::fs::read_dir(out.join(".zhenxing/versions"))
        .unwrap()
        .count();
    assert_eq!(versions, 1);
}

#[test]
fn the_pseudonym_key_is_created_once_and_then_required() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let key_file = d.path().join("keys/pseudonym.key");
    let inbox = county_inbox(d.path(), "海门区", &["2023", "2024"]);
    let env = [("ZHENXING_KEY_FILE", key_file.to_str().unwrap())];
    let run_nokey = |out: &Path| {
        run_cmd(out, &inbox, &[])
            .env_remove("ZHENXING_KEY")
            .envs(env)
            .output()
            .unwrap()
    };
    let first = run_nokey(&out);
    assert!(first.status.code().unwrap() <= 1);
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(err.contains("created a new pseudonym key"), "{err}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let before = lake_hashes(&out);
    std::fs::remove_file(&key_file).unwrap();
    let second = run_nokey(&out);
    assert_eq!(second.status.code(), Some(2));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("does not exist, but the lake was written with key"),
        "{err}"
    );
    assert!(!key_file.exists(), "no new key was made");
    assert_eq!(lake_hashes(&out), before);
}

#[test]
fn rollback_publishes_the_previous_version_and_status_reports_it() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let inbox = county_inbox(d.path(), "如皋市", &["2024"]);
    assert!(run(&out, &inbox, &[], &[]).code <= 1);
    let v1 = current_version(&out);
    let rows_v1 = lake(&out, "training").height();
    // right after the first run there is nothing to go back to: said, exit 0
    let r = crate::util::zx_env(
        &["rollback", "--out", out.to_str().unwrap()],
        &[("ZHENXING_KEY", KEY)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "zhenxing rollback: no version older than {v1} is kept"
        )),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("nothing was changed"), "{}", r.stdout);
    assert_eq!(current_version(&out), v1);
    county_inbox(d.path(), "如皋市", &[]);
    assert!(run(&out, &inbox, &[], &[]).code <= 1);
    let v2 = current_version(&out);
    assert!(lake(&out, "training").height() > rows_v1);

    let zx = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--out", out.to_str().unwrap()]);
        crate::util::zx_env(&a, &[("ZHENXING_KEY", KEY)])
    };
    // a configured key that is not the lake's: refused, the lake as it was
    let other = "ff".repeat(32);
    let r = crate::util::zx_env(
        &["rollback", "--out", out.to_str().unwrap()],
        &[("ZHENXING_KEY", &other)],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("nothing was rolled back"), "{}", r.stderr);
    assert_eq!(current_version(&out), v2);
    let r = zx(&["rollback"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(current_version(&out), v1);
    // status names the rollback that made v1 live again
    let s = zx(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(v["version"], serde_json::json!(v1));
    let by = v["live_by_rollback"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(by.len() > 20 && by != v1 && by != v2, "{by}");
    let s = zx(&["status"]);
    assert!(
        s.stdout.contains(&format!("lake version {v1}"))
            && s.stdout.contains(&format!(
                "the live version was published again by rollback {by}"
            )),
        "{}",
        s.stdout
    );
    assert_eq!(lake(&out, "training").height(), rows_v1);
    assert!(
        r.stdout.contains(&format!("zhenxing rollback --to {v2}")),
        "{}",
        r.stdout
    );
    // the indicator tables and the report follow: every run id is v1's
    let run_ids = |out: &Path| {
        let q = zx(&[
            "query",
            "--csv",
            "SELECT DISTINCT run_id FROM indicators UNION ALL SELECT DISTINCT run_id FROM income_effects",
        ]);
        assert_eq!(q.code, 0, "{}", q.stderr);
        let notes = std::fs::read_dir(out.join("reports"))
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("index.html")).ok())
            .collect::<Vec<_>>()
            .join("");
        (q.stdout, notes)
    };
    let (ids, html) = run_ids(&out);
    assert_eq!(ids, format!("run_id\n{v1}\n{v1}\n"));
    assert!(html.contains(&v1) && !html.contains(&v2), "{html}");
    assert_eq!(
        zx(&["rollback", "--to", "20990101T000000000Z-0000"]).code,
        2
    );
    assert_eq!(zx(&["rollback", "--to", &v2]).code, 0);
    assert_eq!(current_version(&out), v2);

    // status: 如皋市 has reported the 2024 yearly templates; the other
    // counties of the registry never reported anything here
    let s = zx(&["status", "--as-of", "2025-03-01", "--json"]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    let cell = |v: &serde_json::Value, county: &str, t: &str| {
        v["submissions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["county"] == county && c["template"] == t)
            .unwrap()
            .clone()
    };
    let training = cell(&v, "如皋市", "T10");
    assert_eq!(training["latest"], "2024");
    assert_eq!(training["expected"], "2024");
    assert_eq!(training["state"], "ok");
    assert_eq!(training["missing"], serde_json::json!([]));
    assert_eq!(cell(&v, "海门区", "T10")["state"], "never");
    // T01 is monthly and 如皋市 sent 2022-12, 2023-12, 2024-06 and
    // 2024-12: on 2025-01-10 the latest due month (2024-11) is covered, the
    // 21 months between are gaps, not `ok`
    let s = zx(&["status", "--as-of", "2025-01-10", "--json"]);
    let early: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    let t01 = cell(&early, "如皋市", "T01");
    assert_eq!(t01["latest"], "2024-12");
    assert_eq!(t01["expected"], "2024-11");
    assert_eq!(t01["state"], "gaps");
    assert_eq!(t01["missing"].as_array().unwrap().len(), 21);
    // the standing state: what the rejects and warnings tables hold
    let lake_now = &v["lake"];
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("lake/_zhenxing/version.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(lake_now["rejects"], meta["rejects"]);
    assert_eq!(lake_now["warnings"], meta["warnings"]);
    assert_eq!(
        lake_now["warnings"].as_u64(),
        Some(lake(&out, "warnings").height() as u64)
    );
    assert_eq!(lake_now["failed_files"], 0);
    // a year later the 2025 reports are due and missing
    let s = zx(&["status", "--as-of", "2026-02-01", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    let t = cell(&v, "如皋市", "T10");
    assert_eq!(t["state"], "overdue");
    assert_eq!(t["missing"], serde_json::json!(["2025"]));
    let outcomes: Vec<String> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["rollback", "rollback", "published", "published"]);
}

#[test]
fn copies_of_the_same_bytes_under_two_names_do_not_collide() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let inbox = county_inbox(d.path(), "崇川区", &["2022", "2023"]);
    let files: Vec<PathBuf> = std::fs::read_dir(inbox.join("崇川区"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    std::fs::create_dir_all(inbox.join("copies")).unwrap();
    for f in &files {
        std::fs::copy(f, inbox.join("copies").join(f.file_name().unwrap())).unwrap();
    }
    let r = run(&out, &inbox, &[], &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    let m = manifest(&out, &r.stdout);
    let n = files.len() as u64;
    // the registry and both names of every file (their content was read this run)
    assert_eq!(m["files_read_this_run"].as_u64(), Some(2 * n + 1));
    let superseded = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "superseded")
        .count() as u64;
    assert_eq!(superseded, n, "each copy and its original: one is current");
}

#[test]
fn a_registry_in_the_inbox_is_refused_with_the_way_to_use_it() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let inbox = county_inbox(d.path(), "崇川区", &["2022", "2023"]);
    // a newer registry, as a city office might drop it beside the county files
    std::fs::write(
        inbox.join("村（社区）名录.csv"),
        "区划代码,县(市、区),镇(街道),村(社区),曾用名,类型,撤并情况,撤并时间,户籍户数\n\
         320602001001,崇川区,新城街道,新村,,村,,,400\n\
         320602001002,崇川区,新城街道,又一新村,,村,,,300\n",
    )
    .unwrap();
    // and a copy of the configured registry's very bytes
    std::fs::copy(registry(), inbox.join("名录副本.xlsx")).unwrap();
    let r = run(&out, &inbox, &[], &[]);
    assert_eq!(r.code, 1, "a failed file this run: {}", r.stderr);
    let m = manifest(&out, &r.stdout);
    let files = m["files"].as_array().unwrap();
    let refused: Vec<&serde_json::Value> =
        files.iter().filter(|f| f["status"] == "failed").collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(refused[0]["path"], "名录副本.xlsx");
    assert_eq!(refused[1]["path"], "村（社区）名录.csv");
    assert!(refused
        .iter()
        .all(|f| f["rows_accepted"].as_u64() == Some(0)));
    // the reject row names the code and says what to do instead
    let rejects = lake(&out, "rejects");
    let codes = rejects.column("code").unwrap().str().unwrap().clone();
    let msgs = rejects.column("message_zh").unwrap().str().unwrap().clone();
    let hit: Vec<String> = codes
        .iter()
        .zip(msgs.iter())
        .filter(|(c, _)| *c == Some("F_REGISTRY_IN_INBOX"))
        .map(|(_, m)| m.unwrap_or_default().to_string())
        .collect();
    assert_eq!(hit.len(), 2, "{hit:?}");
    assert!(hit[0].contains("--registry"), "{}", hit[0]);
    // one registry in the lake: the configured file's rows only
    let villages = lake(&out, "villages");
    let sources = villages
        .column("source_file")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(|s| s.to_string())
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(sources.len(), 1, "{sources:?}");
    assert!(!sources.iter().any(|s| s.contains("村（社区）名录")));
    // validate still reads a registry file on its own
    let v = Command::new(crate::util::bin())
        .args(["validate", &registry()])
        .current_dir(repo())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(!text.contains("F_REGISTRY_IN_INBOX"), "{text}");
}

#[test]
fn a_run_that_dies_midway_keeps_its_batches_and_the_next_run_reads_only_the_rest() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let inbox = county_inbox(d.path(), "海安市", &[]);
    let n_files = std::fs::read_dir(inbox.join("海安市")).unwrap().count();
    assert_eq!(n_files, 37);
    // batches of four files, one job: the first batch is four files
    let pipeline = crate::util::pipeline_edited(d.path(), |t| {
        t.replace("batch_files = 200", "batch_files = 4")
    });
    let pl = pipeline.to_str().unwrap();
    let extra = ["--pipeline", pl, "--jobs", "1"];
    let r = run(
        &out,
        &inbox,
        &extra,
        &[("ZHENXING_FAULT", "die-after-batch")],
    );
    assert_eq!(r.code, 137, "{}", r.stderr);
    assert!(!out.join("lake").exists(), "nothing is published");
    // what the dead run kept: the registry's batch and one of four files
    let seg_dir = std::fs::read_dir(out.join(".zhenxing/segments"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let batches: Vec<zhenxing::lake::nightly::BatchInfo> = std::fs::read_dir(&seg_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    let mut sizes: Vec<usize> = batches.iter().map(|b| b.segments.len()).collect();
    sizes.sort();
    assert_eq!(sizes, vec![1, 4]);
    // the next run reads the other 33 and publishes all 37
    let r = run(&out, &inbox, &extra, &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    let m = manifest(&out, &r.stdout);
    assert_eq!(m["files_read_this_run"].as_u64(), Some(33));
    assert_eq!(m["files"].as_array().unwrap().len(), 38);
    assert_complete(&out);
    // the same lake as one uninterrupted run
    let whole = d.path().join("whole");
    assert!(run(&whole, &inbox, &[], &[]).code <= 1);
    let p = zhenxing::config::load(&repo().join("pipelines/nantong.toml")).unwrap();
    for s in &p.sources {
        assert!(
            sorted(lake(&out, &s.dataset)).equals_missing(&sorted(lake(&whole, &s.dataset))),
            "{}",
            s.dataset
        );
    }
}

#[test]
fn run_no_indicators_publishes_the_lake_and_leaves_the_indicators_to_their_command() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let inbox = county_inbox(d.path(), "海安市", &["2021", "2022", "2023"]);
    let r = run(&out, &inbox, &["--no-indicators"], &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    assert!(r.stdout.contains("published lake version"), "{}", r.stdout);
    assert!(!r.stdout.contains("indicators:"), "{}", r.stdout);
    assert!(!out.join("indicators").exists());
    let o = crate::util::zx(&["indicators", "--out", out.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(out.join("indicators/indicators.parquet").is_file());
}

#[test]
fn the_runs_table_gains_a_row_per_run_and_is_rebuilt_when_missing() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let inbox = county_inbox(d.path(), "海安市", &["2021", "2022", "2023"]);
    let table = || {
        let df = zhenxing::lake::read_parquet(&out.join("runs/runs.parquet")).unwrap();
        let col = |n: &str| -> Vec<String> {
            df.column(n)
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|x| x.unwrap_or("").to_string())
                .collect()
        };
        (col("run_id"), col("outcome"))
    };
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = run(&out, &inbox, &["--no-indicators"], &[]);
        assert!(r.code <= 1, "{}", r.stderr);
        ids.push(
            manifest(&out, &r.stdout)["run_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        table(),
        (ids.clone(), vec!["published".into(), "unchanged".into()])
    );
    // without the table, the next run rebuilds it from every manifest
    std::fs::remove_file(out.join("runs/runs.parquet")).unwrap();
    let r = run(&out, &inbox, &["--no-indicators"], &[]);
    ids.push(
        manifest(&out, &r.stdout)["run_id"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let (got, outcomes) = table();
    assert_eq!(got, ids);
    assert_eq!(outcomes, vec!["published", "unchanged", "unchanged"]);
}

/// The OpenLineage events of a run (`[lineage] file`), one JSON per line.
fn lineage_events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn each_run_writes_openlineage_events_that_agree_with_its_manifest() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let inbox = county_inbox(d.path(), "海安市", &[]);
    let file = d.path().join("lineage/events.jsonl");
    let pipeline = crate::util::pipeline_edited(d.path(), |t| {
        format!(
            "{t}\n[lineage]\nfile = \"{}\"\nnamespace = \"nantong-city\"\n",
            file.display()
        )
    });
    let extra = ["--pipeline", pipeline.to_str().unwrap(), "--no-indicators"];
    let r = run(&out, &inbox, &extra, &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    let m = crate::util::last_manifest(&out);
    let ev = lineage_events(&file);
    assert_eq!(ev.len(), 2);
    assert_eq!(
        (&ev[0]["eventType"], &ev[1]["eventType"]),
        (&"START".into(), &"COMPLETE".into())
    );
    assert_eq!(ev[0]["run"]["runId"], ev[1]["run"]["runId"]);
    assert_eq!(ev[1]["job"]["namespace"], "nantong-city");
    assert_eq!(ev[1]["job"]["name"], "nantong.run");
    assert_eq!(ev[1]["run"]["facets"]["zhenxing"]["run_id"], m["run_id"]);
    // inputs: the files read this run, with their rows read
    let want: BTreeMap<String, u64> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["read_this_run"] == true)
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["rows_read"].as_u64().unwrap(),
            )
        })
        .collect();
    // name → rowCount of an event's inputs or outputs
    let counts = |e: &serde_json::Value, list: &str, facets: &str, facet: &str| {
        e[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                let rows = x[facets][facet]["rowCount"].as_u64().unwrap();
                (x["name"].as_str().unwrap().to_string(), rows)
            })
            .collect::<BTreeMap<String, u64>>()
    };
    let inputs = |e| counts(e, "inputs", "inputFacets", "dataQualityMetrics");
    let outputs = |e| counts(e, "outputs", "outputFacets", "outputStatistics");
    assert_eq!(want.len(), 38, "37 county files and the registry");
    assert_eq!(inputs(&ev[1]), want);
    // outputs: the lake's tables, with the rows the manifest counts
    let lake_rows: BTreeMap<String, u64> = m["lake_rows"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(outputs(&ev[1]), lake_rows);
    assert_eq!(lake_rows["villages"], 1800);
    let lake_ns = ev[1]["outputs"][0]["namespace"].as_str().unwrap();
    assert!(
        lake_ns.starts_with("file:///") && lake_ns.ends_with("/out/lake"),
        "{lake_ns}"
    );
    // an unchanged rerun: a new run, nothing read, the same tables
    let r = run(&out, &inbox, &extra, &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    let ev = lineage_events(&file);
    assert_eq!(ev.len(), 4);
    assert_ne!(ev[2]["run"]["runId"], ev[0]["run"]["runId"]);
    assert_eq!(ev[3]["run"]["facets"]["zhenxing"]["outcome"], "unchanged");
    assert!(inputs(&ev[3]).is_empty());
    assert_eq!(outputs(&ev[3]), lake_rows);
    // a run that fails before publishing says so, and no COMPLETE follows
    let fault = [("ZHENXING_FAULT", "before-publish")];
    let r = run(
        &out,
        &inbox,
        &[&extra[..], &["--full-refresh"]].concat(),
        &fault,
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let ev = lineage_events(&file);
    assert_eq!(ev.len(), 6);
    assert_eq!(
        (&ev[4]["eventType"], &ev[5]["eventType"]),
        (&"START".into(), &"FAIL".into())
    );
    let msg = ev[5]["run"]["facets"]["errorMessage"]["message"]
        .as_str()
        .unwrap();
    assert!(msg.contains("fault injected"), "{msg}");
    assert!(ev[5]["outputs"].as_array().unwrap().is_empty());
}

/// A one-thread HTTP server that answers every request with 201 and hands
/// over its request line, `Authorization` header and JSON body.
fn lineage_server() -> (
    String,
    std::sync::mpsc::Receiver<(String, String, serde_json::Value)>,
) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let (head, body) = loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break (String::new(), Vec::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break (head, buf[end + 4..end + 4 + len].to_vec());
                }
            };
            let _ = s.write_all(
                b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            let line = head.lines().next().unwrap_or_default().to_string();
            let auth = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("authorization")
                        .then(|| v.trim().to_string())
                })
                .unwrap_or_default();
            let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            if tx.send((line, auth, json)).is_err() {
                break;
            }
        }
    });
    (format!("http://127.0.0.1:{port}/api/v1/lineage"), rx)
}

#[test]
fn lineage_events_are_posted_to_the_endpoint_and_a_dead_endpoint_costs_nothing() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let inbox = county_inbox(d.path(), "海安市", &[]);
    let file = d.path().join("events.jsonl");
    let (url, rx) = lineage_server();
    let pipeline = crate::util::pipeline_edited(d.path(), |t| {
        format!(
            "{t}\n[lineage]\nfile = \"{}\"\nurl = \"{url}\"\n",
            file.display()
        )
    });
    let extra = ["--pipeline", pipeline.to_str().unwrap(), "--no-indicators"];
    let r = run(&out, &inbox, &extra, &[("OPENLINEAGE_API_KEY", "k-123")]);
    assert!(r.code <= 1, "{}", r.stderr);
    let wait = std::time::Duration::from_secs(10);
    let posted: Vec<(String, String, serde_json::Value)> =
        (0..2).map(|_| rx.recv_timeout(wait).unwrap()).collect();
    // the same two events as the file, in order, each a POST with the key
    let written = lineage_events(&file);
    assert_eq!(written.len(), 2);
    for ((line, auth, body), w) in posted.iter().zip(&written) {
        assert_eq!(line, "POST /api/v1/lineage HTTP/1.1");
        assert_eq!(auth, "Bearer k-123");
        assert_eq!(body, w);
    }
    assert_eq!(posted[1].2["eventType"], "COMPLETE");
    assert_eq!(
        posted[1].2["run"]["facets"]["zhenxing"]["run_id"],
        crate::util::last_manifest(&out)["run_id"]
    );
    // nobody listening: the run publishes, exits as before and says why
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        format!("http://127.0.0.1:{port}/api/v1/lineage")
    };
    let pipeline =
        crate::util::pipeline_edited(d.path(), |t| format!("{t}\n[lineage]\nurl = \"{dead}\"\n"));
    std::fs::remove_file(inbox.join("海安市/海安市_强村加油站收益台账_2024.ods")).unwrap();
    let extra = ["--pipeline", pipeline.to_str().unwrap(), "--no-indicators"];
    let r = run(&out, &inbox, &extra, &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    assert_eq!(crate::util::last_manifest(&out)["outcome"], "published");
    assert!(
        r.stderr.contains(&format!("lineage endpoint {dead}")),
        "{}",
        r.stderr
    );
}
