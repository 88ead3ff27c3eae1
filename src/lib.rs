//! zhenxing (振兴): county spreadsheets in, a typed and validated lake out.
//!
//! The folders follow the data, and imports run one way only, from the top
//! of this list down (docs/architecture.md):
//!
//! - [`cmd`]: the commands, thin: flags → one stage → exit code;
//! - [`report`]: the Excel and HTML reports, from the analysis output;
//! - [`analysis`]: indicators and income effects, from the lake's tables;
//! - [`lake`]: the nightly job: inbox, segments, versions, manifests, lock,
//!   pseudonyms;
//! - [`validate`]: one file in, records, rejects and counts out: template
//!   choice, the sheet pass, village matching, problems and their messages;
//! - [`normalise`]: cells to typed values, and the header band;
//! - [`worker`]: the reader in its own process, and its protocol;
//! - [`read`]: bytes to raw cells: formats, the zip guard, CSV, calamine,
//!   the lean xlsx reader;
//! - [`config`]: the pipeline definitions, a model every stage may read;
//! - [`catalogue`]: every problem code with its level and reasons in
//!   both languages;
//! - [`text`], [`fsio`] and [`progress`]: text normalisation, durable file
//!   writes and terminal progress bars, the foundation;
//! - [`synth`]: the synthetic inbox generator, used only by `cmd::synth`.

#![warn(missing_docs)]

pub mod analysis;
pub mod catalogue;
pub mod cmd;
pub mod config;
pub mod fsio;
pub mod lake;
pub mod normalise;
pub mod progress;
pub mod read;
pub mod report;
pub mod synth;
pub mod text;
pub mod validate;
pub mod worker;
