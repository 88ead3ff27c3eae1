//! `zhenxing validate [--pipeline FILE] [--lang zh|en] [--json] FILE...`
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
//! zhenxing validate --json inbox/如皋市/*.xlsx > check.json
//! zhenxing validate --annotate 退回/ inbox/如皋市/*.xlsx
//! ```
//!
//! With `--annotate DIR`, each file also comes back as `DIR/<file>_校验.xlsx`:
//! the county's workbook with every problem cell marked (see
//! [`crate::report::annotate`]).

use std::path::PathBuf;

use serde::Serialize;

use crate::cmd::exit::{CommandError, Done, Outcome};
use crate::validate::issue::{Lang, Severity};
use crate::validate::{load_registry, Counts, Engine, FileResult};

use crate::cmd::args::{LangArg, PipelineArg};

/// The flags of `zhenxing validate`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The pipeline definition.
    #[command(flatten)]
    pub p: PipelineArg,
    /// Language of the messages.
    #[arg(long, value_enum, default_value = "zh")]
    pub lang: LangArg,
    /// Also print warnings (unknown columns, skipped sheets, totals).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub warnings: bool,
    /// Village registry file (default: from the pipeline file).
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// Print one JSON document (per-file counts and every issue) instead of text.
    #[arg(long)]
    pub json: bool,
    /// The lake whose earlier periods each file's values are compared
    /// with (default: the pipeline's `out`; none there: no comparison).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write, per file, a copy of the workbook with every problem
    /// cell marked and a first sheet 校验结果 to this folder
    /// (`<file>_校验.xlsx`).
    #[arg(long, value_name = "DIR")]
    pub annotate: Option<PathBuf>,
    /// Files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Writes the file's annotated copy and says where, on stderr (stdout
/// stays the report or the JSON document); a copy that cannot be written
/// is this file's problem (false): the other files are still checked.
fn annotate(
    res: &FileResult,
    f: &std::path::Path,
    p: &crate::config::Pipeline,
    dir: &std::path::Path,
    taken: &mut std::collections::HashSet<String>,
) -> bool {
    match crate::report::annotate::write(res, f, p, dir, taken) {
        Ok(path) => {
            eprintln!(
                "批注副本 annotated copy: {}",
                crate::fsio::printable(&path.display().to_string())
            );
            true
        }
        Err(e) => {
            eprintln!(
                "批注副本无法写入 the annotated copy could not be written: {}",
                crate::fsio::printable(&e.to_string())
            );
            false
        }
    }
}

/// A file's problems (warnings too, unless turned off) and its summary line.
fn print_file(f: &std::path::Path, res: &FileResult, warnings: bool, lang: Lang) {
    println!("== {}", crate::fsio::printable(&f.display().to_string()));
    for i in res
        .issues
        .iter()
        .filter(|i| warnings || i.severity() != Severity::Warning)
    {
        println!("  {}", i.render(lang));
    }
    println!("  {}", super::run::summary_line(res, lang));
}

/// The JSON form of one file's result.
#[derive(Serialize)]
pub(crate) struct FileJson {
    pub file: String,
    pub template: Option<String>,
    pub dataset: Option<String>,
    pub county: Option<String>,
    pub period: Option<String>,
    pub format: Option<String>,
    pub encoding: Option<String>,
    pub failed: bool,
    pub counts: Counts,
    /// Milliseconds spent reading the file, and in all.
    pub read_ms: u64,
    pub total_ms: u64,
    pub issues: Vec<IssueJson>,
}

#[derive(Serialize)]
pub(crate) struct IssueJson {
    pub severity: &'static str,
    pub code: String,
    pub cell: String,
    pub field: Option<String>,
    pub raw: Option<String>,
    pub message_zh: String,
    pub message_en: String,
}

pub(crate) fn file_json(res: &FileResult) -> FileJson {
    FileJson {
        file: res.path.display().to_string(),
        template: res.template.clone(),
        dataset: res.dataset.clone(),
        county: res.county.clone(),
        period: res.period.clone(),
        format: res.format.clone(),
        encoding: res.encoding.clone(),
        failed: res.failed(),
        counts: res.counts,
        read_ms: res.read_ms,
        total_ms: res.total_ms,
        issues: res
            .issues
            .iter()
            .map(|i| IssueJson {
                severity: match i.severity() {
                    Severity::FileError => "file_error",
                    Severity::Reject => "reject",
                    Severity::Warning => "warning",
                },
                code: i.code().to_string(),
                cell: i.cell_ref(),
                field: i.field.clone(),
                raw: i.raw.clone(),
                message_zh: i.message(Lang::Zh),
                message_en: i.message(Lang::En),
            })
            .collect(),
    }
}

/// `zhenxing validate` with its flags: rejected rows or a failed file
/// are [`Done::Rejects`], an annotated copy that could not be written a
/// stage that failed.
pub fn run(opts: ValidateArgs) -> Outcome {
    let lang: Lang = opts.lang.into();
    let mut p = super::load_pipeline(&opts.p.pipeline)?;
    if let Some(r) = &opts.registry {
        p.registry = r.clone();
    }
    if let Some(f) = opts.files.iter().find(|f| !f.is_file()) {
        return Err(CommandError::usage(format!(
            "{}: no such file",
            f.display()
        )));
    }
    let iso = super::isolation(&p, true);
    let (registry, _) = load_registry(&p, iso.clone()).map_err(CommandError::usage)?;
    let engine = Engine::new(&p, Some(&registry), iso);
    let mut any_bad = false;
    let mut docs = Vec::new();
    // values against the same unit's previous period in the published lake
    let lake_out = opts.out.clone().unwrap_or_else(|| p.out.clone());
    let mut previous = super::PreviousValues::new(&p, &lake_out);
    let mut taken = std::collections::HashSet::new();
    let mut copy_failed = false;
    for f in &opts.files {
        let mut res = engine.ingest(f, None);
        previous.check(&mut res);
        res.records = Vec::new();
        if res.failed() || res.counts.rejected > 0 {
            any_bad = true;
        }
        if let Some(dir) = &opts.annotate {
            copy_failed |= !annotate(&res, f, &p, dir, &mut taken);
        }
        if opts.json {
            docs.push(file_json(&res));
        } else {
            print_file(f, &res, opts.warnings, lang);
        }
    }
    if opts.json {
        let s = serde_json::to_string_pretty(&docs).map_err(CommandError::failed)?;
        println!("{s}");
    }
    Ok(match (copy_failed, any_bad) {
        (true, _) => Done::StageFailed,
        (false, true) => Done::Rejects,
        (false, false) => Done::Clean,
    })
}
