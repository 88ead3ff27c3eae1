//! A temporary directory per test and a helper that runs the real binary
//! from the repository root (so the bundled pipelines are found).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zhenxing"))
}

/// Runs `zhenxing ARGS` in the repository root.
pub fn zx(args: &[&str]) -> Out {
    zx_in(&repo(), args)
}

pub fn zx_in(dir: &Path, args: &[&str]) -> Out {
    zx_full(dir, args, &[])
}

/// Runs `zhenxing ARGS` in the repository root with extra environment.
pub fn zx_env(args: &[&str], env: &[(&str, &str)]) -> Out {
    zx_full(&repo(), args, env)
}

fn zx_full(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let o = Command::new(bin())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("run zhenxing");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).to_string(),
        stderr: String::from_utf8_lossy(&o.stderr).to_string(),
    }
}

pub fn registry() -> String {
    repo()
        .join("sample_data/registry/南通市村社区名录.xlsx")
        .display()
        .to_string()
}

/// A synthetic city inbox generated once per test process.
pub fn synth_city() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("tempdir");
        let out = zx(&[
            "synth",
            "--scale",
            "city",
            "--out",
            d.path().to_str().unwrap(),
        ]);
        assert_eq!(out.code, 0, "synth failed: {}", out.stderr);
        d
    })
    .path()
}

/// Validates files and returns the parsed JSON report.
pub fn validate_json(files: &[PathBuf]) -> (i32, serde_json::Value) {
    let reg = registry();
    let mut args: Vec<String> = vec!["validate".into(), "--json".into(), "--registry".into(), reg];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let out = zx(&refs);
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}\n{}", out.stdout, out.stderr));
    (out.code, v)
}

/// Writes a CSV fixture (UTF-8) and returns its path.
pub fn write_csv(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write fixture");
    p
}

/// (code, cell) of every issue of one severity in one file's JSON.
pub fn issues(file: &serde_json::Value, severity: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = file["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["severity"] == severity)
        .map(|i| {
            (
                i["code"].as_str().unwrap().to_string(),
                i["cell"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

pub fn counts(file: &serde_json::Value) -> [u64; 5] {
    let c = &file["counts"];
    [
        c["read"].as_u64().unwrap(),
        c["accepted"].as_u64().unwrap(),
        c["rejected"].as_u64().unwrap(),
        c["non_data"].as_u64().unwrap(),
        c["records"].as_u64().unwrap(),
    ]
}

/// `zhenxing run` on an inbox into `out` with its own key file.
pub fn run_in(inbox: &Path, out: &Path, key: &Path, env: &[(&str, &str)]) -> Out {
    run_in_with(inbox, out, key, &[], env)
}

/// [`run_in`] with more arguments.
pub fn run_in_with(
    inbox: &Path,
    out: &Path,
    key: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Out {
    let mut e: Vec<(&str, &str)> = vec![("ZHENXING_KEY_FILE", key.to_str().unwrap())];
    e.extend_from_slice(env);
    let mut args = vec![
        "run",
        "--inbox",
        inbox.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    zx_env(&args, &e)
}

/// The bundled pipeline file, changed by `edit`, written into `dir` with
/// its source files and indicator definitions named by absolute path.
pub fn pipeline_edited(dir: &Path, edit: impl FnOnce(String) -> String) -> PathBuf {
    let defs = repo().join("pipelines");
    let text = edit(std::fs::read_to_string(defs.join("nantong.toml")).unwrap())
        .replace("\"sources/", &format!("\"{}/sources/", defs.display()))
        .replace(
            "\"indicators.toml\"",
            &format!("\"{}/indicators.toml\"", defs.display()),
        );
    let p = dir.join("pipeline.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The newest run manifest of an output folder.
pub fn last_manifest(out: &Path) -> serde_json::Value {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    runs.sort();
    serde_json::from_str(&std::fs::read_to_string(runs.last().unwrap()).unwrap()).unwrap()
}

/// The text of a part of a zip container (an xlsx), if it has it.
pub fn zip_part(path: &Path, name: &str) -> Option<String> {
    use std::io::Read;
    let f = std::fs::File::open(path).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    let mut p = z.by_name(name).ok()?;
    let mut s = String::new();
    p.read_to_string(&mut s).unwrap();
    Some(s)
}

/// Every text an output file holds: a Parquet file's string values and
/// key-value metadata, each entry of a zip (an xlsx), or its bytes.
pub fn texts_in_file(path: &Path) -> Vec<String> {
    use std::io::Read;
    let bytes = std::fs::read(path).unwrap();
    let mut found = Vec::new();
    if path.extension().is_some_and(|x| x == "parquet") {
        let df = zhenxing::lake::read_parquet(path).unwrap();
        for c in df.columns() {
            if let Ok(s) = c.str() {
                found.extend(s.iter().flatten().map(str::to_string));
            }
        }
        use polars::prelude::{ParquetReader, SerReader};
        let mut reader = ParquetReader::new(std::fs::File::open(path).unwrap());
        let meta = reader.get_metadata().unwrap().clone();
        for kv in meta.key_value_metadata().iter().flatten() {
            found.push(kv.key.clone());
            found.push(kv.value.clone().unwrap_or_default());
        }
    } else if bytes.starts_with(b"PK\x03\x04") {
        let mut zip = ::zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
        for i in 0..zip.len() {
            let mut e = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            found.push(String::from_utf8_lossy(&data).to_string());
        }
    } else {
        found.push(String::from_utf8_lossy(&bytes).to_string());
    }
    found
}
