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
    crate::readers::python_in(
        "ZHENXING_DELTA_PYTHON",
        "deltalake, duckdb_extension_delta, polars",
    )
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

/// A local S3-compatible server (moto, from the Delta readers' venv),
/// stopped when dropped.
struct S3Server {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    /// Starts the server on a free port and creates `bucket`; or why not.
    fn start(py: &str, bucket: &str) -> Result<S3Server, String> {
        let bin = Path::new(py).with_file_name("moto_server");
        if !bin.exists() {
            return Err(format!(
                "{} is missing (pip install moto[server])",
                bin.display()
            ));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = std::process::Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let t0 = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if t0.elapsed().as_secs() > 30 {
                return Err("moto_server did not start in 30 s".into());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        server.python(
            py,
            &format!("import boto3; boto3.client('s3').create_bucket(Bucket='{bucket}')"),
        )?;
        Ok(server)
    }

    /// The `AWS_*` settings a client of this server needs.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
        ]
    }

    /// Runs Python with this server's settings; its stdout.
    fn python(&self, py: &str, code: &str) -> Result<String, String> {
        let o = std::process::Command::new(py)
            .args(["-c", code])
            .envs(self.env())
            .output()
            .map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(String::from_utf8_lossy(&o.stderr).to_string());
        }
        Ok(String::from_utf8_lossy(&o.stdout).to_string())
    }

    /// The object keys under a prefix.
    fn keys(&self, py: &str, bucket: &str, prefix: &str) -> Vec<String> {
        let code = format!(
            "import boto3\nfor p in boto3.client('s3').get_paginator('list_objects_v2').paginate(Bucket='{bucket}', Prefix='{prefix}'):\n    [print(o['Key']) for o in p.get('Contents', [])]"
        );
        let mut k: Vec<String> = self
            .python(py, &code)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        k.sort();
        k
    }
}

/// `zhenxing <verb>` with `--out URL --work DIR` and the server's settings.
fn remote(
    verb: &str,
    url: &str,
    work: &Path,
    args: &[&str],
    s3: &S3Server,
) -> std::process::Command {
    let mut c = std::process::Command::new(crate::util::bin());
    c.arg(verb)
        .args(["--out", url, "--work", work.to_str().unwrap()])
        .args(args)
        .envs(s3.env())
        .env("ZHENXING_KEY", crate::lake::KEY)
        .current_dir(crate::util::repo());
    c
}

/// Runs the Delta readers on the S3 tables against the working folder.
fn readers_agree(py: &str, url: &str, work: &Path, s3: &S3Server) {
    let o = std::process::Command::new(py)
        .arg("tests/delta_readers.py")
        .arg(url)
        .arg(work)
        .envs(s3.env())
        .current_dir(crate::util::repo())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && stdout.trim_end().ends_with("all engines agree"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("| tables: 17"), "{stdout}");
}

#[test]
fn on_s3_a_killed_run_a_second_writer_rollback_and_an_unchanged_rerun_keep_the_tables_whole() {
    let py = match delta_python() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let s3 = match S3Server::start(&py, "zhenxing-lake") {
        Ok(s) => s,
        Err(why) => {
            eprintln!("skipped: no local S3 server: {why}");
            return;
        }
    };
    let d = tempfile::tempdir().unwrap();
    let work = d.path().join("work");
    let url = "s3://zhenxing-lake/nantong";
    let inbox = county_inbox(d.path(), "海安市", &[]);
    let pipeline = crate::util::pipeline_edited(d.path(), |t| t);
    let registry = crate::util::registry();
    let run_args = [
        "--quiet",
        "--inbox",
        inbox.to_str().unwrap(),
        "--registry",
        &registry,
        "--pipeline",
        pipeline.to_str().unwrap(),
    ];
    let at = ["--pipeline", pipeline.to_str().unwrap()];
    let nightly = |env: &[(&str, &str)]| {
        let o = remote("run", url, &work, &run_args, &s3)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };

    // the nightly job: every table on the server, read alike by all readers
    let (code, err) = nightly(&[]);
    assert!(code <= 1, "{err}");
    let run1 = last_manifest(&work)["run_id"].as_str().unwrap().to_string();
    assert_eq!(versions(&last_manifest(&work)).len(), 15);
    readers_agree(&py, url, &work, &s3);
    let fuel_log = "nantong/fuel_stations/_delta_log/";
    assert_eq!(s3.keys(&py, "zhenxing-lake", fuel_log).len(), 1);

    // a file leaves: one commit to its table
    let a = inbox.join("海安市/海安市_强村加油站收益台账_2024.ods");
    let a_bytes = std::fs::read(&a).unwrap();
    std::fs::remove_file(&a).unwrap();
    let (code, err) = nightly(&[]);
    assert!(code <= 1, "{err}");
    assert_eq!(versions(&last_manifest(&work))["fuel_stations"], 1);
    readers_agree(&py, url, &work, &s3);

    // a second writer: its commit of version 1 is there first, and the
    // server refuses ours (put-if-absent); nothing of this run is published
    // (June of the two 2024 reports: the 2024 partition is rebuilt from December's)
    let b = inbox.join("海安市/海安市_村级组织架构统计表_2024_06.ods");
    let b_bytes = std::fs::read(&b).unwrap();
    std::fs::remove_file(&b).unwrap();
    let (code, err) = nightly(&[("ZHENXING_FAULT", "delta-race:org_structure")]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("another writer committed"), "{err}");
    let org_log = "nantong/org_structure/_delta_log/";
    let before_kill = s3.keys(&py, "zhenxing-lake", org_log);
    assert_eq!(before_kill.len(), 2, "{before_kill:?}");
    readers_agree(&py, url, &work, &s3);

    // kill -9 after the files are written and before the commit: the
    // table keeps its version, the readers see the published lake
    let mut child = remote("run", url, &work, &run_args, &s3)
        .env("ZHENXING_FAULT", "delta-stall:org_structure")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let stderr = child.stderr.take().unwrap();
        let mut lines = std::io::BufReader::new(stderr).lines();
        assert!(
            lines.any(|l| l.is_ok_and(|l| l.starts_with("delta-stall: org_structure"))),
            "the run never reached the commit"
        );
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    assert_eq!(s3.keys(&py, "zhenxing-lake", org_log), before_kill);
    // (the roster is partitioned by county only)
    let part = "nantong/org_structure/county_code=320685/";
    let orphans: Vec<String> = s3
        .keys(&py, "zhenxing-lake", part)
        .into_iter()
        .filter(|k| !k.ends_with(&format!("part-{run1}.parquet")))
        .collect();
    // the refused writer's file and the killed run's, in no version
    assert_eq!(orphans.len(), 2, "{orphans:?}");
    readers_agree(&py, url, &work, &s3);

    // rollback: the tables restored to the first run's versions
    let o = remote("rollback", url, &work, &at, &s3).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = last_manifest(&work);
    assert_eq!(m["version"], run1.as_str());
    assert_eq!(versions(&m)["fuel_stations"], 2);
    assert_eq!(versions(&m)["org_structure"], 2);
    readers_agree(&py, url, &work, &s3);

    // the files back: the inbox of the first run, an unchanged rerun that
    // commits nothing
    std::fs::write(&a, a_bytes).unwrap();
    std::fs::write(&b, b_bytes).unwrap();
    let logs_before = s3.keys(&py, "zhenxing-lake", "nantong/");
    let (code, err) = nightly(&[]);
    assert!(code <= 1, "{err}");
    let m = last_manifest(&work);
    assert_eq!(m["outcome"], "unchanged");
    assert_eq!(versions(&m)["fuel_stations"], 2);
    let logs_after = s3.keys(&py, "zhenxing-lake", "nantong/");
    let new: Vec<&String> = logs_after
        .iter()
        .filter(|k| k.contains("/_delta_log/") && !logs_before.contains(k))
        .collect();
    assert!(new.is_empty(), "{new:?}");
    readers_agree(&py, url, &work, &s3);
    // status names the root and the versions
    let o = remote(
        "status",
        url,
        &work,
        &["--json", "--pipeline", pipeline.to_str().unwrap()],
        &s3,
    )
    .output()
    .unwrap();
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["delta"]["root"], url);
    assert_eq!(st["delta"]["tables"]["org_structure"]["version"], 2);
    // the next published run's vacuum deletes the killed run's file
    std::fs::remove_file(&b).unwrap();
    let (code, err) = nightly(&[]);
    assert!(code <= 1, "{err}");
    assert_eq!(versions(&last_manifest(&work))["org_structure"], 3);
    let left = s3.keys(&py, "zhenxing-lake", part);
    assert!(orphans.iter().all(|o| !left.contains(o)), "{left:?}");
    assert_eq!(
        left.len(),
        2,
        "this run's file and the first run's: {left:?}"
    );
    readers_agree(&py, url, &work, &s3);
}
