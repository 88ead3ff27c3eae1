//! Flags several commands share: `--pipeline`, `--out`, the message
//! language and the log format. Each command's own flags are a clap
//! `Args` struct in its module; `cli` only parses and dispatches.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::validate::issue::Lang;

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
    /// The pipeline definition.
    #[command(flatten)]
    pub p: PipelineArg,
    /// Output folder (default: from the pipeline file).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// How the nightly run logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for a person.
    Text,
    /// One JSON object per event.
    Json,
}

/// The language of messages.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LangArg {
    /// Chinese.
    Zh,
    /// English.
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
