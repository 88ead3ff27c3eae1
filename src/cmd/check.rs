//! `zhenxing check [--pipeline FILE]`
//!
//! Loads the pipeline file and every source definition it names, checks
//! them (unknown keys, types, units, ranges, headers claimed by two fields,
//! keys and checks naming fields that do not exist, filename patterns) and
//! the indicator definitions (unknown datasets or parameters, duplicate
//! ids), and reports every problem at once, each with file and line. Exit 0 when all
//! is well, 2 otherwise.

use std::path::Path;

use crate::cmd::exit::{CommandError, Done, Outcome};
use crate::config::{ConfigErrors, ConfigProblem};

use crate::cmd::args::PipelineArg;

/// The flags of `zhenxing check`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The pipeline definition.
    #[command(flatten)]
    pub p: PipelineArg,
}

/// `zhenxing check` with its flags.
pub fn run(a: CheckArgs) -> Outcome {
    check(&a.p.pipeline)
}

/// Every problem of the pipeline, its registry and inbox and its
/// indicator definitions at once (a usage error), or what was checked.
fn check(pipeline: &Path) -> Outcome {
    let p = super::load_pipeline(pipeline)?;
    let mut problems = Vec::new();
    let mut said = |message: String| {
        problems.push(ConfigProblem {
            file: pipeline.to_path_buf(),
            line: None,
            message,
        })
    };
    if !p.registry.is_file() {
        said(format!(
            "registry file {} does not exist",
            p.registry.display()
        ));
    }
    if !p.inbox.is_dir() {
        said(format!("inbox folder {} does not exist", p.inbox.display()));
    }
    let datasets: Vec<String> = p.sources.iter().map(|s| s.dataset.clone()).collect();
    let defs = match crate::analysis::indicators::defs::load(&p.indicators, &datasets) {
        Ok(d) => Some(d),
        Err(e) => {
            problems.extend(e.0);
            None
        }
    };
    if !problems.is_empty() {
        return Err(CommandError::usage(ConfigErrors(problems)));
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
    Ok(Done::Clean)
}
