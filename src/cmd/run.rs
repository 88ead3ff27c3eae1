//! `zhenxing run [--pipeline FILE] [--inbox DIR] [--out DIR]`
//!
//! The nightly job. Loads the registry, reads every file of the inbox in
//! parallel (each in an isolated worker), normalises and validates it, and
//! prints one line per file and a closing summary. Exit 0 when everything
//! was clean, 1 when rows or files were rejected, 2 on a usage or
//! configuration error, 3 when the run failed.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::cli::exit;
use crate::ingest::{load_registry, Counts, Engine, FileResult};
use crate::issue::{Lang, Severity};

pub struct RunOptions {
    pub pipeline: PathBuf,
    pub inbox: Option<PathBuf>,
    pub registry: Option<PathBuf>,
    pub quiet: bool,
    pub isolate: bool,
    pub jobs: Option<usize>,
    pub lang: Lang,
}

/// Every file under `dir`, sorted; Office lock files (`~$…`) and hidden
/// files are left out.
pub fn list_inbox(dir: &Path, skip: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let path = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name.starts_with("~$") {
                continue;
            }
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() && !skip.iter().any(|s| same_file(s, &path)) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// `OK   T01 org_structure 如皋市 2024-06  read 270 = accepted 262 + rejected 2 + non-data 6`
pub fn summary_line(res: &FileResult, lang: Lang) -> String {
    let c = &res.counts;
    let status = if res.failed() {
        "FAIL"
    } else if c.rejected > 0 {
        "REJ "
    } else {
        "OK  "
    };
    if res.failed() {
        let why = res
            .issues
            .iter()
            .find(|i| i.severity() == Severity::FileError)
            .map(|i| i.render(lang))
            .unwrap_or_default();
        return format!("{status} {}", why);
    }
    let w = res.count(Severity::Warning);
    let head = format!(
        "{status} {} {} {} {}",
        res.template.as_deref().unwrap_or("?"),
        res.dataset.as_deref().unwrap_or("?"),
        res.county.as_deref().unwrap_or("-"),
        res.period.as_deref().unwrap_or("-"),
    );
    let (read, acc, rej, non, rec, warn) =
        (c.read, c.accepted, c.rejected, c.non_data, c.records, w);
    match lang {
        Lang::Zh => format!(
            "{head}  读取 {read} 行 = 接收 {acc} + 退回 {rej} + 非数据 {non}（记录 {rec}，提示 {warn}）"
        ),
        Lang::En => format!(
            "{head}  read {read} = accepted {acc} + rejected {rej} + non-data {non} (records {rec}, warnings {warn})"
        ),
    }
}

pub fn run(opts: RunOptions) -> i32 {
    let mut p = match super::load_pipeline(&opts.pipeline) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(r) = &opts.registry {
        p.registry = r.clone();
    }
    let inbox = opts.inbox.clone().unwrap_or_else(|| p.inbox.clone());
    if !inbox.is_dir() {
        eprintln!("inbox {} is not a folder", inbox.display());
        return exit::USAGE;
    }
    let start = std::time::Instant::now();
    let iso = super::isolation(&p, opts.isolate);
    let registry = match load_registry(&p, iso.clone()) {
        Ok((r, _)) => r,
        Err(e) => {
            eprintln!("{e}");
            return exit::USAGE;
        }
    };
    let files = match list_inbox(&inbox, std::slice::from_ref(&p.registry)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot list inbox {}: {e}", inbox.display());
            return exit::FAILED;
        }
    };
    let engine = Engine::new(&p, Some(&registry), iso);
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
    {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("cannot start worker threads: {e}");
            return exit::FAILED;
        }
    };
    // records are dropped as soon as a file is counted, so memory stays flat
    let results: Vec<FileResult> = pool.install(|| {
        files
            .par_iter()
            .map(|f| {
                let mut r = engine.ingest(f, None);
                r.records = Vec::new();
                r
            })
            .collect()
    });
    let mut total = Counts::default();
    let (mut failed, mut with_rejects) = (0, 0);
    for r in &results {
        total.read += r.counts.read;
        total.accepted += r.counts.accepted;
        total.rejected += r.counts.rejected;
        total.non_data += r.counts.non_data;
        total.records += r.counts.records;
        if r.failed() {
            failed += 1;
        } else if r.counts.rejected > 0 {
            with_rejects += 1;
        }
        if !opts.quiet {
            let shown = r.path.strip_prefix(&inbox).unwrap_or(&r.path);
            println!("{}  {}", summary_line(r, opts.lang), shown.display());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let (own, readers) = crate::worker::peak_rss_mib();
    println!(
        "zhenxing run: {} files in {:.1} s ({} clean, {} with rejected rows, {} failed); \
         rows read {} = accepted {} + rejected {} + non-data {}; {} records; registry {} villages; \
         {:.0} rows/s; peak memory {} MiB (largest reader process {} MiB).",
        results.len(),
        secs,
        results.len() - failed - with_rejects,
        with_rejects,
        failed,
        total.read,
        total.accepted,
        total.rejected,
        total.non_data,
        total.records,
        registry.villages.len(),
        total.read as f64 / secs.max(1e-9),
        own,
        readers
    );
    if failed > 0 || with_rejects > 0 {
        exit::REJECTS
    } else {
        exit::CLEAN
    }
}
