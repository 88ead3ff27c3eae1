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
