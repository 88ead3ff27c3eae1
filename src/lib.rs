//! zhenxing (振兴): county spreadsheets in, a typed and validated lake out.
//!
//! The modules follow the data: [`read`] (bytes → raw cells, isolated in a
//! [`worker`] process) → [`header`] (header band → fields) → [`value`]
//! (cells → typed values) → [`ingest`] (rows → records, rejects, counts),
//! with [`registry`] for village matching, [`config`] for the pipeline
//! definitions and [`issue`] for problems as values.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod effects;
pub mod header;
pub mod indicators;
pub mod ingest;
pub mod issue;
pub mod lake;
pub mod lock;
pub mod nightly;
pub mod pseudo;
pub mod read;
pub mod registry;
pub mod report;
pub mod synth;
pub mod value;
pub mod worker;
pub mod xlsx_lean;
pub mod xlsx_parts;
pub mod xml_scan;
