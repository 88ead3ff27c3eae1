//! `zhenxing synth --scale city|province|national --out DIR [--seed N]`
//!
//! Writes a synthetic inbox (`DIR/inbox/<county>/…`), the registry
//! (`DIR/registry/…`) and the true values (`DIR/truth/`); with
//! `--household-sheet-rows N` also one large household-income sheet for
//! benchmarks (`DIR/big/`). See [`crate::synth`].

use super::exit;
use crate::synth::SynthOptions;

pub fn run(o: SynthOptions) -> i32 {
    let pipeline = match super::load_pipeline(&o.pipeline) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match crate::synth::run(&o, &pipeline) {
        Ok(summary) => {
            println!("{summary}");
            exit::CLEAN
        }
        Err(e) => {
            eprintln!("synth failed: {e:#}");
            exit::FAILED
        }
    }
}
