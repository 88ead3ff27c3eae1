//! Other engines on the lake as it lies: DuckDB, polars, pyarrow (and
//! Spark where Java is installed) read every dataset with the same rows and
//! types (tests/lake_readers.py), and the published indicator SQL, through
//! the views `zhenxing docs` writes, gives every column of zhenxing's unit
//! rows (tests/sql_duckdb.py). The Python comes from `ZHENXING_PYTHON`,
//! a venv that `.ci/run` makes with pinned versions; without it the tests
//! say why they did not run.

use std::process::Command;

use super::util::{bin, repo};

/// The venv's Python with `module` importable, or why not.
fn python_with(module: &str) -> Result<String, String> {
    python_in("ZHENXING_PYTHON", module)
}

/// The Python named by the variable `var` (a venv `.ci/run` makes) with
/// `modules` (comma-separated) importable, or why not.
pub(crate) fn python_in(var: &str, modules: &str) -> Result<String, String> {
    let py =
        std::env::var(var).map_err(|_| format!("{var} is not set (.ci/run makes the venv)"))?;
    let ok = Command::new(&py)
        .args(["-c", &format!("import {modules}")])
        .output()
        .map_err(|e| format!("{py}: {e}"))?;
    if ok.status.success() {
        Ok(py)
    } else {
        Err(format!("{py} cannot import {modules}"))
    }
}

/// `--spark` when pyspark and a Java runtime are both there.
fn spark(py: &str) -> Option<&'static str> {
    let java = Command::new("java").arg("-version").output();
    let pyspark = Command::new(py).args(["-c", "import pyspark"]).output();
    match (java, pyspark) {
        (Ok(j), Ok(p)) if j.status.success() && p.status.success() => Some("--spark"),
        _ => {
            eprintln!("Spark SQL not checked: needs java and pyspark");
            None
        }
    }
}

/// Runs a script of tests/ with the venv's Python; its stdout, after
/// asserting that it succeeded.
fn run_script(py: &str, args: &[String]) -> String {
    let o = Command::new(py)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

#[test]
fn the_published_sql_gives_zhenxings_rows_on_duckdb_and_spark() {
    let py = match python_with("duckdb") {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let out = super::indicators::out_dir();
    let mut args = vec![
        "tests/sql_duckdb.py".to_string(),
        out.display().to_string(),
        bin().display().to_string(),
    ];
    args.extend(spark(&py).map(str::to_string));
    let stdout = run_script(&py, &args);
    let last = stdout.lines().last().unwrap_or_default();
    let n: Vec<&str> = last.split(' ').collect();
    // "N of N queries give the same rows …", every query of the definitions
    assert_eq!(n[0], n[2], "{stdout}");
    assert!(n[0].parse::<usize>().unwrap() > 100, "{stdout}");
}

#[test]
fn every_engine_reads_the_lake_with_the_same_rows_and_types() {
    let py = match python_with("duckdb") {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let lake = super::indicators::out_dir().join("lake");
    let stdout = run_script(
        &py,
        &[
            "tests/lake_readers.py".to_string(),
            lake.display().to_string(),
        ],
    );
    let engines = stdout.lines().next().unwrap_or_default();
    for e in ["polars", "pyarrow", "duckdb"] {
        assert!(engines.contains(e), "{stdout}");
    }
    assert!(!stdout.contains("DIFFERENT"), "{stdout}");
}

#[test]
fn the_spark_job_of_docs_computes_zhenxings_indicator_table() {
    // skipped, with the reason printed, without the venv, pyspark or Java
    let Some(py) = python_with("duckdb").ok().filter(|py| spark(py).is_some()) else {
        eprintln!("skipped: the Spark job needs ZHENXING_PYTHON with pyspark, and java");
        return;
    };
    // the sample inbox as a lake, with zhenxing's own indicator table
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let o = Command::new(bin())
        .args(["run", "--quiet", "--out", out.to_str().unwrap()])
        .env("ZHENXING_KEY", crate::lake::KEY)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        o.status.code().unwrap_or(9) <= 1,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        spark_job_rows(&py, &out, d.path()),
        53367,
        "the sample's indicator rows"
    );
    // the indicator tests' small city: a village merged in 2024 (in the
    // registry of the periods before), a county whose year ended in
    // November (`period_used` 2024-11,2024-12 for the city), ranks with
    // unreported villages
    let d = tempfile::tempdir().unwrap();
    let small = crate::indicators::out_dir();
    assert_eq!(
        spark_job_rows(&py, &small, d.path()),
        920,
        "the small city's rows"
    );
}

/// Writes the Spark job for the lake of `out`, runs it on two local cores
/// and compares its table with zhenxing's, every column row by row: text
/// and counts exactly, figures to 1e-9 (Spark adds in another order).
/// Returns the number of rows.
fn spark_job_rows(py: &str, out: &std::path::Path, tmp: &std::path::Path) -> usize {
    let job = tmp.join("spark");
    let o = Command::new(bin())
        .args(["docs", "--out", out.to_str().unwrap()])
        .args(["--dir", tmp.join("docs").to_str().unwrap()])
        .args(["--spark", job.to_str().unwrap()])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["job.py", "views.sql", "indicators.json"] {
        assert!(job.join(f).is_file(), "{f}");
    }
    // the job, as a cluster would run it, on two local cores
    let spark_out = tmp.join("spark_indicators.parquet");
    let o = Command::new(py)
        .arg(job.join("job.py"))
        .args(["--out", spark_out.to_str().unwrap(), "--master", "local[2]"])
        .current_dir(tmp)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let ours = zhenxing::lake::read_parquet(&out.join("indicators/indicators.parquet")).unwrap();
    let theirs = spark_rows(&spark_out);
    assert_eq!(theirs.height(), ours.height());
    assert_eq!(
        theirs.get_column_names(),
        ours.get_column_names(),
        "the same columns in the same order"
    );
    use polars::prelude::*;
    let text = |df: &DataFrame, c: &str| -> Vec<Option<String>> {
        let s = df.column(c).unwrap().cast(&DataType::String).unwrap();
        s.str()
            .unwrap()
            .iter()
            .map(|x| x.map(str::to_string))
            .collect()
    };
    let num = |df: &DataFrame, c: &str| -> Vec<Option<f64>> {
        let s = df.column(c).unwrap().cast(&DataType::Float64).unwrap();
        s.f64().unwrap().iter().collect()
    };
    let mut checked = 0;
    for c in ours.get_column_names() {
        let c = c.as_str();
        if ["value", "numerator", "denominator"].contains(&c) {
            let (a, b) = (num(&ours, c), num(&theirs, c));
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                let same = match (x, y) {
                    (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                    (None, None) => true,
                    _ => false,
                };
                assert!(
                    same,
                    "{c} of row {i}: zhenxing {x:?}, Spark {y:?}\n{:?}",
                    ours.get(i)
                );
            }
        } else {
            let (a, b) = (text(&ours, c), text(&theirs, c));
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                assert_eq!(x, y, "{c} of row {i}\n{:?}", ours.get(i));
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 21);
    ours.height()
}

/// The Parquet files Spark wrote into one output folder, as one frame in
/// their order.
fn spark_rows(dir: &std::path::Path) -> polars::prelude::DataFrame {
    let mut parts: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    parts.sort();
    let mut frames = parts
        .iter()
        .map(|p| zhenxing::lake::read_parquet(p).unwrap());
    let mut df = frames.next().unwrap();
    for f in frames {
        df.vstack_mut(&f).unwrap();
    }
    df
}
