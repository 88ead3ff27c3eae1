//! `zhenxing synth --scale city|province|national --out DIR [--seed N]`
//!
//! Writes a synthetic inbox (`DIR/inbox/<county>/…`), the registry
//! (`DIR/registry/…`) and the true values (`DIR/truth/`); with
//! `--household-sheet-rows N` also one large household-income sheet for
//! benchmarks (`DIR/big/`). See [`crate::synth`].

use crate::cmd::exit::{CommandError, Done, Outcome};
use crate::synth::SynthOptions;

use crate::cmd::args::PipelineArg;
use crate::synth::Scale;
use std::path::PathBuf;

/// The flags of `zhenxing synth`, as clap reads them.
#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// The pipeline definition.
    #[command(flatten)]
    pub p: PipelineArg,
    /// How large an inbox: a city (7 counties), a province or the nation.
    #[arg(long, value_enum, default_value = "city")]
    pub scale: Scale,
    /// The folder to write the inbox, the registry and the truth to.
    #[arg(long)]
    pub out: PathBuf,
    /// The random seed: the same seed writes the same files.
    #[arg(long, default_value_t = 20211)]
    pub seed: u64,
    /// First and last report year.
    #[arg(long, default_value_t = 2022)]
    pub from_year: i32,
    /// The last report year.
    #[arg(long, default_value_t = 2024)]
    pub to_year: i32,
    /// Also write one household-income sheet with this many rows (for benchmarks) to OUT/big/.
    #[arg(long)]
    pub household_sheet_rows: Option<usize>,
}

/// `zhenxing synth` with its flags.
pub fn run(a: SynthArgs) -> Outcome {
    let o = SynthOptions {
        pipeline: a.p.pipeline,
        scale: a.scale,
        out: a.out,
        seed: a.seed,
        from: a.from_year,
        to: a.to_year,
        household_sheet_rows: a.household_sheet_rows,
    };
    let pipeline = super::load_pipeline(&o.pipeline)?;
    let summary = crate::synth::run(&o, &pipeline).map_err(CommandError::failed)?;
    println!("{summary}");
    Ok(Done::Clean)
}
