//! Command-line parsing: raw flags become checked options, then one
//! subcommand in [`crate::cmd`] runs.

use crate::cmd::exit;
use crate::synth::Scale;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::validate::issue::Lang;

#[derive(Debug, Parser)]
#[command(
    name = "zhenxing",
    version,
    about = "振兴 — county spreadsheets in, a typed and validated lake out",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// `--pipeline`, which every command that reads the definitions takes.
#[derive(Debug, Args)]
pub struct PipelineArg {
    /// Pipeline definition file.
    #[arg(long, default_value = "pipelines/nantong.toml")]
    pub pipeline: PathBuf,
}

/// `--pipeline` and `--out`: where the definitions and the output are.
#[derive(Debug, Args)]
pub struct Where {
    #[command(flatten)]
    pub p: PipelineArg,
    /// Output folder (default: from the pipeline file).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LangArg {
    Zh,
    En,
}

impl From<LangArg> for Lang {
    fn from(l: LangArg) -> Lang {
        match l {
            LangArg::Zh => Lang::Zh,
            LangArg::En => Lang::En,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the pipeline definitions and report every problem with file and line.
    Check {
        #[command(flatten)]
        p: PipelineArg,
    },
    /// Check files before sending them: print each problem with its cell. Writes nothing.
    Validate {
        #[command(flatten)]
        p: PipelineArg,
        /// Language of the messages.
        #[arg(long, value_enum, default_value = "zh")]
        lang: LangArg,
        /// Also print warnings (unknown columns, skipped sheets, totals).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        warnings: bool,
        /// Village registry file (default: from the pipeline file).
        #[arg(long)]
        registry: Option<PathBuf>,
        /// Print one JSON document (per-file counts and every issue) instead of text.
        #[arg(long)]
        json: bool,
        /// The lake whose earlier periods each file's values are compared
        /// with (default: the pipeline's `out`; none there: no comparison).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write, per file, a copy of the workbook with every problem
        /// cell marked and a first sheet 校验结果 to this folder
        /// (`<file>_校验.xlsx`).
        #[arg(long, value_name = "DIR")]
        annotate: Option<PathBuf>,
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Read, normalise and validate the whole inbox and print a summary per file.
    Run {
        #[command(flatten)]
        p: PipelineArg,
        /// Inbox folder (default: from the pipeline file).
        #[arg(long)]
        inbox: Option<PathBuf>,
        /// Village registry file (default: from the pipeline file).
        #[arg(long)]
        registry: Option<PathBuf>,
        /// Output folder (default: from the pipeline file), or
        /// `s3://bucket/prefix` for Delta tables on S3-compatible storage.
        #[arg(long)]
        out: Option<PathBuf>,
        /// With `--out s3://bucket/prefix`: the local working folder (versions,
        /// segments, run manifests; default: the pipeline's `out`).
        #[arg(long)]
        work: Option<PathBuf>,
        /// Ingest every file again and rebuild the lake (same result as incremental runs).
        #[arg(long)]
        full_refresh: bool,
        /// Seconds to wait for another run to finish (default: the pipeline's lock_wait_s).
        #[arg(long)]
        wait: Option<u64>,
        /// `json`: one JSON object per file and per run on stderr, for log collectors.
        #[arg(long, value_enum, default_value = "text")]
        log_format: LogFormat,
        /// Print only the final summary.
        #[arg(long, short)]
        quiet: bool,
        /// Read files in this process instead of isolated workers (faster, not safe for hostile files).
        #[arg(long)]
        no_isolation: bool,
        /// Parallel files (default: number of cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Language of the messages.
        #[arg(long, value_enum, default_value = "en")]
        lang: LangArg,
        /// Publish the lake only; indicators and reports wait for `zhenxing indicators --report`.
        #[arg(long)]
        no_indicators: bool,
        /// Also write an annotated copy of every current file with returned
        /// rows (or that failed) to OUT/feedback/<county>/, for the city
        /// office to send back.
        #[arg(long)]
        feedback: bool,
    },
    /// Publish an earlier kept lake version again (default: the one before the current).
    Rollback {
        #[command(flatten)]
        at: Where,
        /// With `--out s3://bucket/prefix`: the local working folder (versions,
        /// segments, run manifests; default: the pipeline's `out`).
        #[arg(long)]
        work: Option<PathBuf>,
        /// The version (run id) to publish.
        #[arg(long)]
        to: Option<String>,
    },
    /// Latest period per county and template, what is missing or overdue, and the last runs.
    Status {
        #[command(flatten)]
        at: Where,
        /// With `--out s3://bucket/prefix`: the local working folder (versions,
        /// segments, run manifests; default: the pipeline's `out`).
        #[arg(long)]
        work: Option<PathBuf>,
        /// Judge due dates as of this day (YYYY-MM-DD; default today).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// How many recent runs to list.
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Header drift instead: per county and template, what changed in
        /// the headers of the latest submission against the one before.
        #[arg(long)]
        headers: bool,
        /// The reporting scorecard instead: per county and period, on-time
        /// submissions, rows returned and the most frequent reasons.
        #[arg(long, conflicts_with = "headers")]
        scorecard: bool,
        /// One county only (its name as in the registry, e.g. 如皋市).
        #[arg(long)]
        county: Option<String>,
        /// With --county: a few lines in Chinese to paste into a message.
        #[arg(long, requires = "county", conflicts_with_all = ["json", "headers", "scorecard"])]
        text: bool,
    },
    /// Recompute the indicator tables (OUT/indicators/*.parquet) from the published lake.
    Indicators {
        #[command(flatten)]
        at: Where,
        /// With `--out s3://bucket/prefix`: the local working folder (versions,
        /// segments, run manifests; default: the pipeline's `out`).
        #[arg(long)]
        work: Option<PathBuf>,
        /// Also write the report of the latest year.
        #[arg(long)]
        report: bool,
    },
    /// Write the report (Excel workbook, HTML page, SVG charts) of one period to OUT/reports/<period>/.
    Report {
        #[command(flatten)]
        at: Where,
        /// The year to report (default: the latest year with data).
        #[arg(long)]
        period: Option<String>,
    },
    /// Show how one figure is made: definition, numerator, denominator and the lake rows behind it.
    Explain {
        /// Indicator id, e.g. org_four_in_one (see `zhenxing docs`).
        indicator: String,
        /// Geography code: the city's, a county's 6 digits, a township's 9 or a village's 12.
        #[arg(long)]
        geo: String,
        /// Period as in the indicator table, e.g. 2024 or 2024-06.
        #[arg(long)]
        period: String,
        /// Category, for indicators with a breakdown (e.g. 5星 or 10-30万元).
        #[arg(long)]
        category: Option<String>,
        #[command(flatten)]
        at: Where,
        /// Print the rows as CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
    /// Run SQL over the lake datasets, villages, rejects, indicators and income_effects.
    Query {
        /// The query, e.g. "SELECT county, COUNT(*) FROM org_structure GROUP BY county".
        sql: String,
        #[command(flatten)]
        at: Where,
        /// Print CSV instead of a table.
        #[arg(long)]
        csv: bool,
        /// Write the result to this Parquet file instead of printing it.
        #[arg(long)]
        parquet: Option<PathBuf>,
        /// Rows printed as a table (CSV and Parquet get every row).
        #[arg(long, default_value_t = 50)]
        max_rows: usize,
        /// The tables as the indicator SQL sees them: the years of monthly
        /// datasets (each county's last reported month) and the definitions' [scope].
        #[arg(long)]
        as_indicators: bool,
    },
    /// Write the data dictionary (Markdown and xlsx) of every dataset column and indicator.
    Docs {
        #[command(flatten)]
        p: PipelineArg,
        /// Output folder whose lake the SQL views read (default: from the pipeline file).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Folder to write to (default: OUT/docs).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Also write a PySpark job that computes indicators.parquet from the
        /// lake (job.py, views.sql, indicators.json) to this folder.
        #[arg(long)]
        spark: Option<PathBuf>,
        /// Write only the command reference: one Markdown page per command,
        /// made from this help (the repository keeps them in docs/commands).
        #[arg(long, value_name = "DIR")]
        commands: Option<PathBuf>,
    },
    /// Write the blank forms the counties fill in (per county and template), generated from the pipeline.
    Template {
        #[command(flatten)]
        p: PipelineArg,
        /// Templates (T01 …); none with --all.
        templates: Vec<String>,
        /// Every template of the pipeline (the registry aside).
        #[arg(long)]
        all: bool,
        /// One county (default: every county of the registry).
        #[arg(long)]
        county: Option<String>,
        /// The period the form is for (2025, 2025-06, 2025-Q2; default: the
        /// next one each template is due for).
        #[arg(long)]
        period: Option<String>,
        /// Village registry file (default: from the pipeline file).
        #[arg(long)]
        registry: Option<PathBuf>,
        /// Folder to write to: DIR/<county>/<county>_<title>_<period>.xlsx.
        #[arg(long)]
        out: PathBuf,
        /// Also pack each county's forms with an instruction sheet into DIR/<county>_报表.zip.
        #[arg(long)]
        zip: bool,
        /// Who the counties ask, for the instruction sheet (e.g. "市委组织部 张三 0513-12345678").
        #[arg(long)]
        contact: Option<String>,
    },
    /// Write a synthetic inbox with the messiness of real county files, and its true values.
    Synth {
        #[command(flatten)]
        p: PipelineArg,
        #[arg(long, value_enum, default_value = "city")]
        scale: Scale,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 20211)]
        seed: u64,
        /// First and last report year.
        #[arg(long, default_value_t = 2022)]
        from_year: i32,
        #[arg(long, default_value_t = 2024)]
        to_year: i32,
        /// Also write one household-income sheet with this many rows (for benchmarks) to OUT/big/.
        #[arg(long)]
        household_sheet_rows: Option<usize>,
    },
    /// Internal: read one file (or, with --serve, the files named on
    /// stdin) in an isolated worker process.
    #[command(name = "__read", hide = true)]
    Read {
        file: Option<PathBuf>,
        #[arg(long)]
        serve: bool,
        /// With --serve: files this reader reads before it is replaced.
        #[arg(long, default_value_t = 1)]
        files: usize,
        #[arg(long, default_value_t = 2048)]
        memory_mb: u64,
        #[arg(long, default_value_t = 120)]
        cpu_s: u64,
        #[arg(long)]
        limits: Option<String>,
    },
}

/// Entry point used by `main.rs`; returns the exit code.
/// The reference page of each command, by name: its whole help as clap
/// prints it (`zhenxing <command> --help`), under a title. The help text
/// is written once, on the option structs above; these pages only show it.
pub fn command_pages() -> Vec<(String, String)> {
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
    match cli.command {
        Command::Check { p } => crate::cmd::check::run(&p.pipeline),
        Command::Validate {
            p,
            lang,
            warnings,
            registry,
            json,
            out,
            annotate,
            files,
        } => crate::cmd::validate::run(crate::cmd::validate::ValidateOptions {
            pipeline: p.pipeline,
            lang: lang.into(),
            warnings,
            registry,
            json,
            out,
            annotate,
            files,
        }),
        Command::Run {
            p,
            inbox,
            registry,
            out,
            work,
            full_refresh,
            wait,
            log_format,
            quiet,
            no_isolation,
            jobs,
            lang,
            no_indicators,
            feedback,
        } => crate::cmd::run::run(crate::cmd::run::RunOptions {
            pipeline: p.pipeline,
            inbox,
            registry,
            out,
            work,
            full_refresh,
            wait_s: wait,
            log_json: log_format == LogFormat::Json,
            quiet,
            isolate: !no_isolation,
            jobs,
            lang: lang.into(),
            indicators: !no_indicators,
            feedback,
        }),
        Command::Rollback { at, work, to } => crate::cmd::rollback::run(
            &at.p.pipeline,
            at.out.as_deref(),
            work.as_deref(),
            to.as_deref(),
        ),
        Command::Indicators { at, work, report } => {
            crate::cmd::indicators::run(&at.p.pipeline, at.out.as_deref(), work.as_deref(), report)
        }
        Command::Report { at, period } => {
            crate::cmd::report::run(&at.p.pipeline, at.out.as_deref(), period.as_deref())
        }
        Command::Explain {
            indicator,
            geo,
            period,
            category,
            at,
            csv,
        } => crate::cmd::explain::run(crate::cmd::explain::ExplainOptions {
            indicator,
            geo,
            period,
            category,
            pipeline: at.p.pipeline,
            out: at.out,
            csv,
        }),
        Command::Query {
            sql,
            at,
            csv,
            parquet,
            max_rows,
            as_indicators,
        } => crate::cmd::query::run(
            &at.p.pipeline,
            at.out.as_deref(),
            &sql,
            csv,
            parquet.as_deref(),
            max_rows,
            as_indicators,
        ),
        Command::Docs {
            commands: Some(dir),
            ..
        } => crate::cmd::docs::write_command_pages(&dir, &command_pages()),
        Command::Docs {
            p, out, dir, spark, ..
        } => crate::cmd::docs::run(
            &p.pipeline,
            out.as_deref(),
            dir.as_deref(),
            spark.as_deref(),
        ),
        Command::Status {
            at,
            work,
            as_of,
            json,
            runs,
            headers,
            scorecard,
            county,
            text,
        } => crate::cmd::status::run(
            &at.p.pipeline,
            at.out.as_deref(),
            work.as_deref(),
            crate::cmd::status::StatusOptions {
                as_of,
                json,
                runs,
                view: if headers {
                    crate::cmd::status::View::Headers
                } else if scorecard {
                    crate::cmd::status::View::Scorecard
                } else if text {
                    crate::cmd::status::View::CountyText
                } else {
                    crate::cmd::status::View::Overview
                },
                county,
            },
        ),
        Command::Template {
            p,
            templates,
            all,
            county,
            period,
            registry,
            out,
            zip,
            contact,
        } => crate::cmd::template::run(crate::cmd::template::TemplateOptions {
            pipeline: p.pipeline,
            templates,
            all,
            county,
            period,
            registry,
            out,
            zip,
            contact,
        }),
        Command::Synth {
            p,
            scale,
            out,
            seed,
            from_year,
            to_year,
            household_sheet_rows,
        } => crate::cmd::synth::run(crate::synth::SynthOptions {
            pipeline: p.pipeline,
            scale,
            out,
            seed,
            from: from_year,
            to: to_year,
            household_sheet_rows,
        }),
        Command::Read {
            file,
            serve,
            files,
            memory_mb,
            cpu_s,
            limits,
        } => {
            let file = match (file, serve) {
                (_, true) => return crate::worker::serve_main(memory_mb, cpu_s, files),
                (Some(f), false) => f,
                (None, false) => {
                    eprintln!("zhenxing __read: a FILE or --serve");
                    return 2;
                }
            };
            // limits that do not parse are refused, never replaced by defaults
            let limits = match limits.map(|l| serde_json::from_str(&l)) {
                None => Default::default(),
                Some(Ok(l)) => l,
                Some(Err(e)) => {
                    eprintln!("zhenxing __read: --limits is not a limits document: {e}");
                    return 2;
                }
            };
            crate::worker::worker_main(&file, memory_mb, cpu_s, &limits)
        }
    }
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
