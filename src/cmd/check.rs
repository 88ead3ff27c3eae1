//! `zhenxing check [--pipeline FILE]`
//!
//! Loads the pipeline file and every source definition it names, checks
//! them (unknown keys, types, units, ranges, headers claimed by two fields,
//! keys and checks naming fields that do not exist, filename patterns) and
//! the indicator definitions (unknown datasets or parameters, duplicate
//! ids), and reports every problem at once, each with file and line. Exit 0 when all
//! is well, 2 otherwise.

use std::path::Path;

use crate::cmd::exit;

use crate::cmd::args::PipelineArg;

/// The flags of `zhenxing check`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub p: PipelineArg,
}

/// `zhenxing check` with its flags.
pub fn run(a: CheckArgs) -> i32 {
    check(&a.p.pipeline)
}

fn check(pipeline: &Path) -> i32 {
    let p = match super::load_pipeline(pipeline) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut problems = 0;
    if !p.registry.is_file() {
        eprintln!(
            "{}: registry file {} does not exist",
            pipeline.display(),
            p.registry.display()
        );
        problems += 1;
    }
    if !p.inbox.is_dir() {
        eprintln!(
            "{}: inbox folder {} does not exist",
            pipeline.display(),
            p.inbox.display()
        );
        problems += 1;
    }
    let defs = match super::load_definitions(&p) {
        Ok(d) => Some(d),
        Err(_) => {
            problems += 1;
            None
        }
    };
    if problems > 0 {
        return exit::USAGE;
    }
    println!(
        "{}: pipeline {} ({}) is valid — {} sources, definition hash {}",
        pipeline.display(),
        p.name,
        p.city,
        p.sources.len(),
        &p.hash[..12]
    );
    for s in &p.sources {
        let required = s.fields.iter().filter(|f| f.required).count();
        let pii = s.fields.iter().filter(|f| f.pii.is_some()).count();
        println!(
            "  {}  {:<20} {:>2} fields ({} required, {} PII)  {:?}  {}",
            s.id,
            s.dataset,
            s.fields.len(),
            required,
            pii,
            s.frequency,
            s.title
        );
    }
    if let Some(d) = defs {
        println!(
            "{}: {} indicators in {} families, {} parameters",
            d.path.display(),
            d.indicators.len(),
            d.families().len(),
            d.params.len()
        );
    }
    exit::CLEAN
}
