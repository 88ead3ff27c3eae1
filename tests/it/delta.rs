//! `[lake] format = "delta"` (cargo feature `delta`): every table of the
//! lake and the indicator tables committed as Delta tables, one commit per
//! changed table and run, rollback by restore, `keep_versions` as the
//! vacuum's retention. The Delta log is read here as the spec writes it
//! (JSON lines of `add`/`remove`/`commitInfo`), and every file it adds is
//! read back with polars.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::lake::{county_inbox, run};
use crate::util::last_manifest;

/// The actions of every commit of a Delta table, by version.
fn log(table: &Path) -> BTreeMap<u64, Vec<serde_json::Value>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(table.join("_delta_log")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let Some(v) = name.strip_suffix(".json") else {
            continue;
        };
        let actions = std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        out.insert(v.parse().unwrap(), actions);
    }
    out
}

/// Paths of the actions of one kind (`add`, `remove`) in a commit.
fn paths(actions: &[serde_json::Value], kind: &str) -> BTreeSet<String> {
    actions
        .iter()
        .filter_map(|a| a[kind]["path"].as_str().map(str::to_string))
        .collect()
}

/// The files a table holds at its latest version.
fn live_files(table: &Path) -> BTreeSet<String> {
    files_at(table, u64::MAX)
}

/// Rows of a table at its latest version, counted by reading its files.
fn rows(table: &Path) -> usize {
    rows_at(table, u64::MAX)
}

fn versions(m: &serde_json::Value) -> BTreeMap<String, u64> {
    m["delta"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

/// A pipeline with the Delta format and two kept versions.
fn delta_pipeline(dir: &Path) -> PathBuf {
    crate::util::pipeline_edited(dir, |t| {
        t.replace(
            "[lake]\nkeep_versions = 5 ",
            "[lake]\nformat = \"delta\"\nkeep_versions = 2 ",
        )
    })
}

#[test]
fn each_run_commits_the_tables_it_changed_and_rollback_restores_them() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let root = out.join("delta");
    let inbox = county_inbox(d.path(), "海安市", &[]);
    let pipeline = delta_pipeline(d.path());
    assert!(std::fs::read_to_string(&pipeline)
        .unwrap()
        .contains("format = \"delta\""));
    let extra = ["--pipeline", pipeline.to_str().unwrap()];

    // first run: every table created at version 0 with the lake's rows
    let r = run(&out, &inbox, &extra, &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    let m1 = last_manifest(&out);
    let run1 = m1["run_id"].as_str().unwrap().to_string();
    let v1 = versions(&m1);
    assert_eq!(v1.len(), 15, "13 datasets, rejects and warnings: {v1:?}");
    assert!(v1.values().all(|&v| v == 0), "{v1:?}");
    assert!(
        r.stdout
            .contains("Delta table versions: collective_economy v0"),
        "{}",
        r.stdout
    );
    for (dataset, n) in m1["lake_rows"].as_object().unwrap() {
        let t = root.join(dataset);
        assert_eq!(rows(&t), n.as_u64().unwrap() as usize, "{dataset}");
        // the partitions of the folder lake, each one file named by its writer
        let base = out.join("lake").join(dataset).canonicalize().unwrap();
        let want: BTreeSet<String> = part_files(&base)
            .iter()
            .map(|f| {
                let dir = f.parent().unwrap().strip_prefix(&base).unwrap();
                format!("{}/part-{run1}.parquet", dir.display())
            })
            .collect();
        assert_eq!(live_files(&t), want, "{dataset}");
    }
    assert_eq!(rows(&root.join("villages")), 1800);
    let rejected = m1["totals"]["rejected"].as_u64().unwrap() as usize;
    assert!(rejected > 0);
    assert_eq!(rows(&root.join("rejects")), rejected);
    // the partition values and the schema in the log
    let first = log(&root.join("fuel_stations"));
    let meta = first[&0]
        .iter()
        .find_map(|a| a.get("metaData"))
        .unwrap()
        .clone();
    assert_eq!(
        meta["partitionColumns"],
        serde_json::json!(["county_code", "year"])
    );
    let schema: serde_json::Value =
        serde_json::from_str(meta["schemaString"].as_str().unwrap()).unwrap();
    let types: BTreeMap<String, String> = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(types["county_code"], "string");
    assert_eq!(types["year"], "long");
    assert_eq!(types["source_row"], "long");
    let add = first[&0].iter().find_map(|a| a.get("add")).unwrap();
    assert_eq!(add["partitionValues"]["county_code"], "320685");
    assert_eq!(
        first[&0].iter().find_map(|a| a.get("commitInfo")).unwrap()["zhenxing.lake_version"],
        run1.as_str()
    );
    // indicator tables: committed by the indicator stage, unsigned columns as long
    let ind = root.join("indicators");
    let n_ind = zhenxing::lake::read_parquet(&out.join("indicators/indicators.parquet"))
        .unwrap()
        .height();
    assert_eq!(rows(&ind), n_ind);
    let ind_file = live_files(&ind).into_iter().next().unwrap();
    let df = zhenxing::lake::read_parquet(&ind.join(ind_file)).unwrap();
    assert_eq!(
        df.column("units").unwrap().dtype(),
        &polars::prelude::DataType::Int64
    );
    assert!(rows(&root.join("income_effects")) > 0);

    // a file leaves the inbox: its dataset's partition is rebuilt, the
    // other datasets get no commit
    let gone = inbox.join("海安市/海安市_强村加油站收益台账_2024.ods");
    std::fs::remove_file(&gone).unwrap();
    let r = run(&out, &inbox, &extra, &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    let m2 = last_manifest(&out);
    let run2 = m2["run_id"].as_str().unwrap().to_string();
    let v2 = versions(&m2);
    let changed: BTreeSet<&str> = v2
        .iter()
        .filter(|(t, v)| v1[*t] != **v)
        .map(|(t, _)| t.as_str())
        .collect();
    assert_eq!(
        changed,
        BTreeSet::from(["fuel_stations", "rejects", "warnings"])
    );
    assert_eq!(v2["fuel_stations"], 1);
    let fuel = log(&root.join("fuel_stations"));
    let removed = paths(&fuel[&1], "remove");
    let added = paths(&fuel[&1], "add");
    assert_eq!(
        removed,
        BTreeSet::from([format!("county_code=320685/year=2024/part-{run1}.parquet")])
    );
    // the 2024 partition had this one file: it is dropped, nothing added
    assert!(added.is_empty(), "{added:?}");
    assert_eq!(
        rows(&root.join("fuel_stations")),
        m2["lake_rows"]["fuel_stations"].as_u64().unwrap() as usize
    );
    assert!(rows(&root.join("fuel_stations")) < rows_at(&root.join("fuel_stations"), 0));

    // an unchanged rerun commits nothing
    let r = run(&out, &inbox, &extra, &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    let m3 = last_manifest(&out);
    assert_eq!(m3["outcome"], "unchanged");
    assert_eq!(versions(&m3), v2);
    assert_eq!(log(&root.join("fuel_stations")).len(), 2);

    // rollback: each changed table restored to the version of run 1
    let o = std::process::Command::new(crate::util::bin())
        .args(["rollback", "--pipeline", pipeline.to_str().unwrap()])
        .args(["--out", out.to_str().unwrap()])
        .env("ZHENXING_KEY", crate::lake::KEY)
        .current_dir(crate::util::repo())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mr = last_manifest(&out);
    assert_eq!(mr["outcome"], "rollback");
    assert_eq!(mr["version"], run1.as_str());
    let vr = versions(&mr);
    assert_eq!(vr["fuel_stations"], 2);
    assert_eq!(vr["org_structure"], 0);
    let fuel = log(&root.join("fuel_stations"));
    let info = fuel[&2].iter().find_map(|a| a.get("commitInfo")).unwrap();
    assert_eq!(info["operation"], "RESTORE");
    assert_eq!(
        live_files(&root.join("fuel_stations")),
        files_at(&root.join("fuel_stations"), 0)
    );
    // status names the versions
    let o = std::process::Command::new(crate::util::bin())
        .args(["status", "--json", "--pipeline", pipeline.to_str().unwrap()])
        .args(["--out", out.to_str().unwrap()])
        .current_dir(crate::util::repo())
        .output()
        .unwrap();
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["delta"]["tables"]["fuel_stations"]["version"], 2);
    assert_eq!(
        st["delta"]["tables"]["fuel_stations"]["lake_versions"][run2.as_str()],
        1
    );

    // the file is still gone: the next run rebuilds from run 1 and drops the
    // partition again; two versions kept, so the first run's file of that
    // partition goes (no kept version shows it) and run 2's table stays
    let r = run(&out, &inbox, &extra, &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    let m4 = last_manifest(&out);
    assert_eq!(versions(&m4)["fuel_stations"], 3);
    let dropped = root.join(format!(
        "fuel_stations/county_code=320685/year=2024/part-{run1}.parquet"
    ));
    assert!(!dropped.exists(), "vacuumed: {}", dropped.display());
    let kept = root.join(format!(
        "fuel_stations/county_code=320685/year=2023/part-{run1}.parquet"
    ));
    assert!(kept.exists(), "still in the table: {}", kept.display());
    assert_eq!(
        rows(&root.join("fuel_stations")),
        m4["lake_rows"]["fuel_stations"].as_u64().unwrap() as usize
    );
}

/// Every `part-0.parquet` under a folder lake's dataset.
fn part_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(part_files(&p));
        } else if p.file_name().is_some_and(|n| n == "part-0.parquet") {
            out.push(p);
        }
    }
    out
}

/// The files a table held at `version`.
fn files_at(table: &Path, version: u64) -> BTreeSet<String> {
    let mut live = BTreeSet::new();
    for (_, actions) in log(table).range(..=version) {
        for p in paths(actions, "remove") {
            live.remove(&p);
        }
        live.extend(paths(actions, "add"));
    }
    live
}

fn rows_at(table: &Path, version: u64) -> usize {
    files_at(table, version)
        .iter()
        .map(|p| {
            zhenxing::lake::read_parquet(&table.join(p))
                .unwrap()
                .height()
        })
        .sum()
}

/// The Python of the Delta readers' venv (`.ci/run` makes it), or why not.
fn delta_python() -> Result<String, String> {
    let py = std::env::var("ZHENXING_DELTA_PYTHON")
        .map_err(|_| "ZHENXING_DELTA_PYTHON is not set (.ci/run makes the venv)".to_string())?;
    let ok = std::process::Command::new(&py)
        .args(["-c", "import deltalake, duckdb_extension_delta, polars"])
        .output()
        .map_err(|e| format!("{py}: {e}"))?;
    if ok.status.success() {
        Ok(py)
    } else {
        Err(format!(
            "{py} cannot import deltalake, duckdb_extension_delta, polars"
        ))
    }
}

#[test]
fn duckdb_polars_and_deltalake_read_every_delta_table_as_zhenxing_wrote_it() {
    let py = match delta_python() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let inbox = county_inbox(d.path(), "如皋市", &[]);
    let pipeline = delta_pipeline(d.path());
    let r = run(
        &out,
        &inbox,
        &["--pipeline", pipeline.to_str().unwrap()],
        &[],
    );
    assert!(r.code <= 1, "{}", r.stderr);
    let o = std::process::Command::new(&py)
        .arg("tests/delta_readers.py")
        .arg(out.join("delta"))
        .arg(&out)
        .current_dir(crate::util::repo())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // 13 datasets, rejects, warnings and the two indicator tables, each
    // read by the three engines
    assert!(
        stdout.starts_with("engines: deltalake, polars, duckdb | tables: 17"),
        "{stdout}"
    );
    assert_eq!(stdout.matches(" same ").count(), 17 * 3, "{stdout}");
    assert!(stdout.trim_end().ends_with("all engines agree"), "{stdout}");
}

#[test]
fn a_commit_that_finds_another_writers_commit_publishes_nothing_and_the_next_run_catches_up() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let root = out.join("delta");
    let inbox = county_inbox(d.path(), "海安市", &[]);
    let pipeline = delta_pipeline(d.path());
    let extra = ["--pipeline", pipeline.to_str().unwrap(), "--no-indicators"];
    let r = run(&out, &inbox, &extra, &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    let run1 = last_manifest(&out)["run_id"].as_str().unwrap().to_string();
    std::fs::remove_file(inbox.join("海安市/海安市_强村加油站收益台账_2024.ods")).unwrap();
    // another writer commits version 1 of fuel_stations while this run
    // is between reading the log and committing
    let race = [("ZHENXING_FAULT", "delta-race:fuel_stations")];
    let r = run(&out, &inbox, &extra, &race);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("another writer committed to the table since this run read it"),
        "{}",
        r.stderr
    );
    let failed = last_manifest(&out);
    assert_eq!(failed["outcome"], "failed");
    // the other writer's commit stands, ours is not there, and the folder
    // lake still shows the first run
    let fuel = log(&root.join("fuel_stations"));
    assert_eq!(fuel.keys().copied().collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(
        fuel[&1][0]["commitInfo"]["engineInfo"], "another writer",
        "{:?}",
        fuel[&1]
    );
    let current = std::fs::read_link(out.join("lake")).unwrap();
    assert!(current.ends_with(&run1), "{}", current.display());
    // the next run commits on top of the other writer's version, and
    // every table ends as the published version describes it
    let r = run(&out, &inbox, &extra, &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    let m = last_manifest(&out);
    assert_eq!(m["outcome"], "published");
    assert_eq!(versions(&m)["fuel_stations"], 2);
    for (dataset, n) in m["lake_rows"].as_object().unwrap() {
        assert_eq!(
            rows(&root.join(dataset)),
            n.as_u64().unwrap() as usize,
            "{dataset}"
        );
    }
    assert_eq!(
        rows(&root.join("rejects")),
        m["totals"]["rejected"].as_u64().unwrap() as usize
    );
}
