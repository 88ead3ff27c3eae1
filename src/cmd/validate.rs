//! `zhenxing validate [--pipeline FILE] [--lang zh|en] FILE...`
//!
//! For a county officer before sending: reads each file exactly as the
//! nightly run would, prints every problem with its cell reference (in
//! Chinese by default), and a summary per file. Writes nothing. Exit 0 when
//! every file is clean, 1 when rows were rejected or a file failed, 2 on a
//! usage or configuration error.
//!
//! ```text
//! zhenxing validate 如皋市_村级组织架构统计表_2024_06.xlsx
//! zhenxing validate --lang en inbox/*.csv
//! ```

use std::path::PathBuf;

use crate::cli::exit;
use crate::ingest::{load_registry, Engine};
use crate::issue::{Lang, Severity};

pub fn run(pipeline: &std::path::Path, lang: Lang, warnings: bool, files: &[PathBuf]) -> i32 {
    let p = match super::load_pipeline(pipeline) {
        Ok(p) => p,
        Err(code) => return code,
    };
    for f in files {
        if !f.is_file() {
            eprintln!("{}: no such file", f.display());
            return exit::USAGE;
        }
    }
    let iso = super::isolation(&p, true);
    let registry = match load_registry(&p, iso.clone()) {
        Ok((r, _)) => Some(r),
        Err(e) => {
            eprintln!("{e}");
            return exit::USAGE;
        }
    };
    let engine = Engine::new(&p, registry.as_ref(), iso);
    let mut any_bad = false;
    for f in files {
        let res = engine.ingest(f, None);
        let shown: Vec<_> = res
            .issues
            .iter()
            .filter(|i| warnings || i.severity() != Severity::Warning)
            .collect();
        println!("== {}", f.display());
        for i in &shown {
            println!("  {}", i.render(lang));
        }
        println!("  {}", super::run::summary_line(&res, lang));
        if res.failed() || res.counts.rejected > 0 {
            any_bad = true;
        }
    }
    if any_bad {
        exit::REJECTS
    } else {
        exit::CLEAN
    }
}
