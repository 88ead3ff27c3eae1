//! Command-line parsing: each subcommand gets its flags as clap parsed
//! them (an `Args` struct of its module, see [`crate::cmd::args`]) and runs.

use crate::cmd::exit::{self, CommandError};
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "zhenxing",
    version,
    about = "振兴 — county spreadsheets in, a typed and validated lake out",
    long_about = None
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the pipeline definitions and report every problem with file and line.
    Check(crate::cmd::check::CheckArgs),
    /// Check files before sending them: print each problem with its cell. Writes nothing.
    Validate(crate::cmd::validate::ValidateArgs),
    /// Read, normalise and validate the whole inbox and print a summary per file.
    Run(crate::cmd::run::RunArgs),
    /// Publish an earlier kept lake version again (default: the one before the current).
    Rollback(crate::cmd::rollback::RollbackArgs),
    /// Latest period per county and template, what is missing or overdue, and the last runs.
    Status(crate::cmd::status::StatusArgs),
    /// Recompute the indicator tables (OUT/indicators/*.parquet) from the published lake.
    Indicators(crate::cmd::indicators::IndicatorsArgs),
    /// Write the report (Excel workbook, HTML page, SVG charts) of one period to OUT/reports/<period>/.
    Report(crate::cmd::report::ReportArgs),
    /// Show how one figure is made: definition, numerator, denominator and the lake rows behind it.
    Explain(crate::cmd::explain::ExplainArgs),
    /// Run SQL over the lake datasets, villages, rejects, indicators and income_effects.
    Query(crate::cmd::query::QueryArgs),
    /// Write the data dictionary (Markdown and xlsx) of every dataset column and indicator.
    Docs(crate::cmd::docs::DocsArgs),
    /// Write the blank forms the counties fill in (per county and template), generated from the pipeline.
    Template(crate::cmd::template::TemplateArgs),
    /// Write a synthetic inbox with the messiness of real county files, and its true values.
    Synth(crate::cmd::synth::SynthArgs),
    /// Internal: read one file (or, with --serve, the files named on
    /// stdin) in an isolated worker process.
    #[command(name = "__read", hide = true)]
    Read {
        /// The file to read.
        file: Option<PathBuf>,
        /// Read the files named on stdin, one after another.
        #[arg(long)]
        serve: bool,
        /// With --serve: files this reader reads before it is replaced.
        #[arg(long, default_value_t = 1)]
        files: usize,
        /// The reader's memory limit, in MiB.
        #[arg(long, default_value_t = 2048)]
        memory_mb: u64,
        /// The reader's CPU time limit, in seconds.
        #[arg(long, default_value_t = 120)]
        cpu_s: u64,
        /// The reading limits, as JSON.
        #[arg(long)]
        limits: Option<String>,
    },
}

/// The reference page of each command, by name: its whole help as clap
/// prints it (`zhenxing <command> --help`), under a title. The help text
/// is written once, on the option structs above; these pages only show it.
pub(crate) fn command_pages() -> Vec<(String, String)> {
    use clap::CommandFactory;
    let mut cli = Cli::command();
    cli.build();
    let mut pages = Vec::new();
    let mut index = String::from(
        "# Commands\n\nOne page per command, made from the program's own help by\n\
         `zhenxing docs --commands docs/commands` (a test fails when a page is stale).\n\n\
         | command | what it does |\n| --- | --- |\n",
    );
    for sub in cli.get_subcommands_mut() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let name = sub.get_name().to_string();
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        index.push_str(&format!("| [`{name}`]({name}.md) | {about} |\n"));
        let help: String = sub
            .render_long_help()
            .to_string()
            .lines()
            .map(|l| format!("{}\n", l.trim_end()))
            .collect();
        // the first paragraph repeats the title's line
        let help = help.strip_prefix(&format!("{about}\n\n")).unwrap_or(&help);
        let body = format!(
            "# zhenxing {name}\n\n{about}\n\n```text\n{}\n```\n\n\
             Made by `zhenxing docs --commands docs/commands` from `zhenxing {name} --help`.\n",
            help.trim_end()
        );
        pages.push((format!("{name}.md"), body));
    }
    pages.push(("README.md".to_string(), index));
    pages
}

/// Entry point used by `main.rs`: parses the flags, runs the command and
/// returns its exit code (an error is printed here, once).
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::CLEAN
            };
            let _ = e.print();
            return code;
        }
    };
    let (name, outcome) = match cli.command {
        Command::Check(a) => ("check", crate::cmd::check::run(a)),
        Command::Validate(a) => ("validate", crate::cmd::validate::run(a)),
        Command::Run(a) => ("run", crate::cmd::run::run(a)),
        Command::Rollback(a) => ("rollback", crate::cmd::rollback::run(a)),
        Command::Indicators(a) => ("indicators", crate::cmd::indicators::run(a)),
        Command::Report(a) => ("report", crate::cmd::report::run(a)),
        Command::Explain(a) => ("explain", crate::cmd::explain::run(a)),
        Command::Query(a) => ("query", crate::cmd::query::run(a)),
        // the command pages are made from this parser's own help
        Command::Docs(a) => match &a.commands {
            Some(dir) => (
                "docs",
                crate::cmd::docs::write_command_pages(dir, &command_pages()),
            ),
            None => ("docs", crate::cmd::docs::run(a)),
        },
        Command::Status(a) => ("status", crate::cmd::status::run(a)),
        Command::Template(a) => ("template", crate::cmd::template::run(a)),
        Command::Synth(a) => ("synth", crate::cmd::synth::run(a)),
        Command::Read {
            file,
            serve,
            files,
            memory_mb,
            cpu_s,
            limits,
        } => {
            // the reader's process speaks its own protocol and exit codes
            let file = match (file, serve) {
                (_, true) => return crate::worker::serve_main(memory_mb, cpu_s, files),
                (Some(f), false) => f,
                (None, false) => {
                    let e = CommandError::usage("a FILE or --serve");
                    return exit::finish("__read", Err(e));
                }
            };
            // limits that do not parse are refused, never replaced by defaults
            let limits = match limits.map(|l| serde_json::from_str(&l)) {
                None => Default::default(),
                Some(Ok(l)) => l,
                Some(Err(e)) => {
                    let e = CommandError::usage(format!("--limits is not a limits document: {e}"));
                    return exit::finish("__read", Err(e));
                }
            };
            return crate::worker::worker_main(&file, memory_mb, cpu_s, &limits);
        }
    };
    exit::finish(name, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/commands holds exactly the pages the help makes now.
    #[test]
    fn the_command_pages_in_docs_are_the_help_of_today() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/commands");
        let pages = command_pages();
        let mut stale = Vec::new();
        for (name, text) in &pages {
            if std::fs::read_to_string(dir.join(name)).ok().as_deref() != Some(text.as_str()) {
                stale.push(name.clone());
            }
        }
        let kept: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .filter(|n| !pages.iter().any(|(p, _)| p == n))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            stale.is_empty() && kept.is_empty(),
            "docs/commands is stale (changed: {stale:?}, gone: {kept:?}): run \
             `cargo run -- docs --commands docs/commands`"
        );
        assert!(pages
            .iter()
            .any(|(n, t)| n == "validate.md" && t.contains("--annotate")));
        assert!(!pages.iter().any(|(n, _)| n.contains("__read")));
    }
}
