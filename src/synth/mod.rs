//! `zhenxing synth`: a synthetic county inbox with the messiness of real
//! files, and the true values behind it.
//!
//! The generator builds a world (counties, townships, villages with former
//! names and mergers, secretaries, communities, households, stations,
//! projects), then writes every template for every county and period the
//! way that county writes it: its own header spellings, file format,
//! encoding, units, yes/no words, date styles, title and sign-off rows,
//! totals rows, sheets per township, hidden and instruction sheets. A few
//! rows are planted bad on purpose. Next to the inbox it writes
//! `truth/files.json` (per file: expected row counts and every planted
//! problem with its cell) and `truth/<dataset>.csv` (the canonical values
//! of every row that must be accepted). Everything is a function of the
//! seed: the same seed gives the same bytes.

/// The true effect of joining a prosperity community on a household's
/// yearly income in synthetic panels (yuan), constant across years and
/// cohorts: estimators must recover it (tests/it/lake.rs).
pub const MEMBER_INCOME_EFFECT: f64 = 4_000.0;

mod plan;
mod profiles;
pub mod world;
pub mod write;

use plan::*;
pub use profiles::{profiles, Profile, Totals};

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::config::Pipeline;
use crate::normalise::value::Value;
use world::{World, SCALES};

/// How large an inbox `synth` writes.
#[derive(Debug, Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum Scale {
    /// Seven counties, as the sample.
    City,
    /// One province.
    Province,
    /// The whole nation (120,000 files).
    National,
}
use write::{Book, Out};

/// A problem planted on purpose, where a reader must find it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Planted {
    /// Its code.
    pub code: String,
    /// `sheet!D17`, or `sheet!17` for whole-row problems.
    pub cell: String,
}

/// What a correct reader must report for one file.
#[derive(Debug, Clone, Serialize, Default)]
pub(crate) struct FileTruth {
    pub file: String,
    pub template: String,
    pub county: String,
    pub period: String,
    pub read: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub non_data: usize,
    pub records: usize,
    pub planted: Vec<Planted>,
    pub warnings: Vec<Planted>,
    /// Set when this file is a corrected resubmission of another.
    pub resubmits: Option<String>,
}

/// One canonical row: field name → value, plus the source position.
#[derive(Debug, Clone)]
pub(crate) struct TrueRow {
    pub values: BTreeMap<&'static str, Value>,
    pub township: String,
}

/// A row as written, with what the reader should make of it.
struct Line {
    cells: Vec<Out>,
    /// Canonical records this row stands for (none when planted bad).
    records: Vec<BTreeMap<&'static str, Value>>,
    /// Numeric values a reader can parse, for totals (field index → value).
    sums: Vec<Option<f64>>,
    bad: Option<(String, Option<usize>)>,
    warnings: Vec<(String, usize)>,
    township: String,
}

/// What `synth` writes.
pub struct SynthOptions {
    /// The pipeline whose templates the files fill.
    pub pipeline: std::path::PathBuf,
    /// How large an inbox.
    pub scale: crate::synth::Scale,
    /// The folder written to.
    pub out: std::path::PathBuf,
    /// The random seed.
    pub seed: u64,
    /// The first report year.
    pub from: i32,
    /// The last report year.
    pub to: i32,
    /// Also one household-income sheet of this many rows, for benchmarks.
    pub household_sheet_rows: Option<usize>,
}

/// Generates what the options ask for; returns the summary to print.
pub fn run(o: &SynthOptions, pipeline: &Pipeline) -> anyhow::Result<String> {
    let (summary, world) = generate(pipeline, o.scale, &o.out, o.seed, o.from, o.to)?;
    if let Some(n) = o.household_sheet_rows {
        let path = o
            .out
            .join("big")
            .join(format!("如皋市_农户收入监测表_{}.xlsx", o.to));
        write_household_sheet(&world, &path, n, o.seed, o.to)?;
        return Ok(format!(
            "{summary}\nsynth: {n}-row household sheet → {}",
            path.display()
        ));
    }
    Ok(summary)
}

/// Writes the registry, the inbox and the truth under `out`.
pub(crate) fn generate(
    p: &Pipeline,
    scale: crate::synth::Scale,
    out: &Path,
    seed: u64,
    from: i32,
    to: i32,
) -> Result<(String, World)> {
    anyhow::ensure!(
        from <= to && from >= 2000 && to <= 2099,
        "bad year range {from}–{to}"
    );
    let villages_wanted = SCALES
        .iter()
        .find(|(s, _)| *s == scale)
        .map(|(_, n)| *n)
        .unwrap_or(1800);
    let world = World::build(seed, villages_wanted, from, to);
    let profiles = profiles();
    let registry_path = out.join("registry").join("南通市村社区名录.xlsx");
    world.write_registry(p, &registry_path)?;
    // the truth is written as the files are made, one county after another:
    // nothing of a county is kept once its files are out
    let tdir = out.join("truth");
    std::fs::create_dir_all(&tdir)?;
    let mut truth = TruthWriter::new(&tdir)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED);
    // composing needs the one random stream, in order; writing (zip
    // compression for xlsx and ods) goes to the other cores
    let writers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Book>(writers * 4);
    let rx = std::sync::Mutex::new(rx);
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = (0..writers)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let book = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => anyhow::bail!("a writer thread failed"),
                        };
                        let Ok(book) = book else { return Ok(()) };
                        book.write()?;
                    }
                })
            })
            .collect();
        let composed = compose_all(
            p, &world, &profiles, out, from, to, &mut rng, &mut truth, &tx,
        );
        drop(tx);
        let mut first_err = composed.err();
        for h in handles {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a writer thread panicked")));
            if let (Err(e), None) = (r, &first_err) {
                first_err = Some(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    })?;
    let (files, accepted, planted) = truth.finish()?;
    let summary = format!(
        "synth: {} counties, {} villages ({} active), {} files, {} data rows accepted, {} planted problems → {}",
        world.counties.len(),
        world.villages.len(),
        world.villages.iter().filter(|v| v.merged_into.is_none()).count(),
        files,
        accepted,
        planted,
        out.display()
    );
    Ok((summary, world))
}

/// Composes every county's files in order, sending each workbook to the
/// writers and its truth to `truth`.
#[allow(clippy::too_many_arguments)]
fn compose_all(
    p: &Pipeline,
    world: &World,
    profiles: &[Profile],
    out: &Path,
    from: i32,
    to: i32,
    rng: &mut ChaCha8Rng,
    truth: &mut TruthWriter,
    tx: &std::sync::mpsc::SyncSender<Book>,
) -> Result<()> {
    for (ci, county) in world.counties.iter().enumerate() {
        let prof = &profiles[ci % profiles.len()];
        for src in &p.sources {
            if src.dataset == "villages" {
                continue;
            }
            for year in from..=to {
                // T01 is monthly; the inbox keeps each December and the last June
                let months: Vec<Option<u32>> = if src.id == "T01" && year == to {
                    vec![Some(6), Some(12)]
                } else if src.id == "T01" {
                    vec![Some(12)]
                } else {
                    vec![None]
                };
                for month in months {
                    let rows = world.rows(src, ci, year, month);
                    if rows.is_empty() {
                        continue;
                    }
                    let plan = FilePlan {
                        src,
                        county: &county.name,
                        year,
                        month,
                        prof,
                        world,
                    };
                    let resubmit =
                        ci == 6 % world.counties.len() && src.id == "T07" && year == from + 1;
                    let versions: &[bool] = if resubmit { &[false, true] } else { &[false] };
                    for &corrected in versions {
                        let (name, file_truth, recs, book) =
                            plan.write(out, &rows, corrected, rng)?;
                        truth.add(src, &name, file_truth, recs)?;
                        tx.send(book)
                            .map_err(|_| anyhow::anyhow!("the file writers stopped"))?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// `truth/files.json` and `truth/<dataset>.csv`, written as files are made.
struct TruthWriter {
    dir: std::path::PathBuf,
    files: std::io::BufWriter<std::fs::File>,
    datasets: BTreeMap<String, csv::Writer<std::fs::File>>,
    count: usize,
    accepted: usize,
    planted: usize,
}

impl TruthWriter {
    fn new(dir: &Path) -> Result<TruthWriter> {
        let mut files = std::io::BufWriter::new(std::fs::File::create(dir.join("files.json"))?);
        std::io::Write::write_all(&mut files, b"[")?;
        Ok(TruthWriter {
            dir: dir.to_path_buf(),
            files,
            datasets: BTreeMap::new(),
            count: 0,
            accepted: 0,
            planted: 0,
        })
    }

    fn add(
        &mut self,
        src: &crate::config::Source,
        name: &str,
        t: FileTruth,
        recs: Vec<(String, usize, BTreeMap<&'static str, Value>)>,
    ) -> Result<()> {
        if self.count > 0 {
            std::io::Write::write_all(&mut self.files, b",")?;
        }
        serde_json::to_writer(&mut self.files, &t)?;
        self.count += 1;
        self.accepted += t.accepted;
        self.planted += t.planted.len();
        let w = match self.datasets.entry(src.dataset.clone()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let mut w = csv::Writer::from_path(self.dir.join(format!("{}.csv", src.dataset)))?;
                let mut header: Vec<String> = vec!["file".into(), "sheet".into(), "row".into()];
                header.extend(src.fields.iter().map(|f| f.name.clone()));
                w.write_record(&header)?;
                e.insert(w)
            }
        };
        for (sheet, row, vals) in recs {
            let mut rec = vec![name.to_string(), sheet, row.to_string()];
            for f in &src.fields {
                rec.push(
                    vals.get(f.name.as_str())
                        .map(|v| v.render())
                        .unwrap_or_default(),
                );
            }
            w.write_record(&rec)?;
        }
        Ok(())
    }

    /// Closes the files; (files, accepted rows, planted problems).
    fn finish(mut self) -> Result<(usize, usize, usize)> {
        std::io::Write::write_all(&mut self.files, b"]")?;
        std::io::Write::flush(&mut self.files)?;
        for w in self.datasets.values_mut() {
            w.flush()?;
        }
        Ok((self.count, self.accepted, self.planted))
    }
}

/// One large household-income sheet (10 columns) for benchmarks: every row
/// valid, villages of 如皋市 from the city world.
pub(crate) fn write_household_sheet(
    world: &World,
    path: &Path,
    rows: usize,
    seed: u64,
    year: i32,
) -> Result<()> {
    let ci = world
        .counties
        .iter()
        .position(|c| c.name == "如皋市")
        .unwrap_or(0);
    let villages: Vec<&world::Village> = world
        .villages
        .iter()
        .filter(|v| v.county == ci && v.merged_into.is_none())
        .collect();
    anyhow::ensure!(!villages.is_empty(), "no villages for the household sheet");
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let headers = [
        "户编号",
        "县(市、区)",
        "镇(街道)",
        "村(社区)",
        "年度",
        "家庭人口",
        "家庭年纯收入",
        "是否共同体成员",
        "共同体编号",
        "加入年份",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xB16);
    for i in 0..rows {
        let v = villages[i % villages.len()];
        let r = (i + 1) as u32;
        ws.write_string(r, 0, format!("{}{:06}", v.code, i / villages.len() + 1))?;
        ws.write_string(r, 1, "如皋市")?;
        ws.write_string(r, 2, &v.township)?;
        ws.write_string(r, 3, &v.name)?;
        ws.write_number(r, 4, year as f64)?;
        ws.write_number(r, 5, rng.gen_range(1..8) as f64)?;
        ws.write_number(
            r,
            6,
            (rng.gen_range(20_000.0..120_000.0f64) / 100.0).round() * 100.0,
        )?;
        let member = rng.gen_bool(0.3);
        ws.write_string(r, 7, if member { "是" } else { "否" })?;
        if member {
            ws.write_string(
                r,
                8,
                format!("GT{}{:04}", &v.code[..6], rng.gen_range(1..500)),
            )?;
            ws.write_number(r, 9, rng.gen_range(2019..=year) as f64)?;
        }
    }
    wb.save(path)?;
    Ok(())
}
