//! `zhenxing synth --scale city|province|national --out DIR [--seed N]`
//!
//! Writes a synthetic inbox (`DIR/inbox/<county>/…`), the registry
//! (`DIR/registry/…`) and the true values (`DIR/truth/`); with
//! `--household-sheet-rows N` also one large household-income sheet for
//! benchmarks (`DIR/big/`). See [`crate::synth`].

pub use crate::synth::run;
