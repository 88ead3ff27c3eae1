//! The generator's true values against what the reader makes of its files:
//! every file's counts, every planted problem and warning with its cell,
//! and every accepted value.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rayon::prelude::*;
use zhenxing::validate::{load_registry, Engine};
use zhenxing::worker::Isolation;

use super::util::*;

fn truth_files(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("truth/files.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn sample_data_is_what_the_generator_writes() {
    // the bundled inbox is `synth --scale city` with the default seed, byte for byte
    let gen = synth_city();
    let mut n = 0;
    for t in truth_files(gen) {
        let rel = t["file"].as_str().unwrap();
        let a = std::fs::read(gen.join("inbox").join(rel)).unwrap();
        let b = std::fs::read(repo().join("sample_data/inbox").join(rel))
            .unwrap_or_else(|_| panic!("sample_data lacks {rel}"));
        assert!(a == b, "{rel} differs from the generator's output");
        n += 1;
    }
    assert_eq!(n, 260);
    let a = std::fs::read(gen.join("truth/files.json")).unwrap();
    let b = std::fs::read(repo().join("sample_data/truth/files.json")).unwrap();
    assert!(a == b);
}

#[test]
fn every_file_matches_its_truth() {
    let gen = synth_city();
    let truths = truth_files(gen);
    let files: Vec<PathBuf> = truths
        .iter()
        .map(|t| gen.join("inbox").join(t["file"].as_str().unwrap()))
        .collect();
    let reg = gen.join("registry/南通市村社区名录.xlsx");
    let mut args: Vec<String> = vec![
        "validate".into(),
        "--json".into(),
        "--registry".into(),
        reg.display().to_string(),
    ];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let out = zx(&refs);
    assert_eq!(
        out.code, 1,
        "planted rows must make validate exit 1: {}",
        out.stderr
    );
    let got: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(got.len(), truths.len());
    let mut planted = 0;
    for (g, t) in got.iter().zip(&truths) {
        let name = t["file"].as_str().unwrap();
        assert_eq!(g["template"], t["template"], "{name}");
        assert_eq!(g["period"], t["period"], "{name}");
        assert_eq!(g["county"], t["county"], "{name}");
        let expect = [
            t["read"].as_u64().unwrap(),
            t["accepted"].as_u64().unwrap(),
            t["rejected"].as_u64().unwrap(),
            t["non_data"].as_u64().unwrap(),
            t["records"].as_u64().unwrap(),
        ];
        let c = counts(g);
        assert_eq!(
            c, expect,
            "{name}: read, accepted, rejected, non-data, records"
        );
        // conservation on every file
        assert_eq!(c[0], c[1] + c[2] + c[3], "{name}");
        let want = |key: &str| -> Vec<(String, String)> {
            let mut v: Vec<(String, String)> = t[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["code"].as_str().unwrap().into(),
                        p["cell"].as_str().unwrap().into(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(issues(g, "reject"), want("planted"), "{name}");
        assert_eq!(issues(g, "warning"), want("warnings"), "{name}");
        planted += t["planted"].as_array().unwrap().len();
    }
    assert_eq!(planted, 175);
}

#[test]
fn accepted_values_equal_the_true_values() {
    let gen = synth_city();
    let mut p = zhenxing::config::load(&repo().join("pipelines/nantong.toml")).unwrap();
    p.registry = gen.join("registry/南通市村社区名录.xlsx");
    let (registry, reg_res) = load_registry(&p, Isolation::in_process()).unwrap();
    assert_eq!(registry.villages.len(), 1800);
    assert_eq!(reg_res.counts.accepted, 1800);
    let engine = Engine::new(&p, Some(&registry), Isolation::in_process());
    let truths = truth_files(gen);
    // dataset → file → sorted rendered rows
    let got: Vec<(String, String, Vec<Vec<String>>)> = truths
        .par_iter()
        .map(|t| {
            let rel = t["file"].as_str().unwrap().to_string();
            let res = engine.ingest(&gen.join("inbox").join(&rel), None);
            let mut rows: Vec<Vec<String>> = res
                .records
                .iter()
                .map(|r| {
                    let mut v = vec![r.sheet.to_string(), r.row.to_string()];
                    v.extend(r.values.iter().map(|x| x.render()));
                    v
                })
                .collect();
            rows.sort();
            (res.dataset.unwrap_or_default(), rel, rows)
        })
        .collect();
    let mut by_dataset: BTreeMap<String, BTreeMap<String, Vec<Vec<String>>>> = BTreeMap::new();
    for (ds, file, rows) in got {
        by_dataset.entry(ds).or_default().insert(file, rows);
    }
    let mut compared = 0;
    for (ds, files) in &by_dataset {
        let mut rdr = csv::Reader::from_path(gen.join(format!("truth/{ds}.csv"))).unwrap();
        let mut want: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
        for rec in rdr.records() {
            let rec = rec.unwrap();
            let file = rec[0].to_string();
            want.entry(file)
                .or_default()
                .push(rec.iter().skip(1).map(|s| s.to_string()).collect());
        }
        for (file, rows) in files {
            let mut w = want.remove(file).unwrap_or_default();
            w.sort();
            assert_eq!(rows.len(), w.len(), "{file}: record count");
            for (a, b) in rows.iter().zip(&w) {
                assert_eq!(a, b, "{file}");
            }
            compared += rows.len();
        }
    }
    assert_eq!(compared, 55958);
}
