//! The lake and the nightly job that keeps it: the store (layout,
//! Parquet, versions, publish), the run itself ([`nightly`]), the inbox it
//! reads, the run lock and the pseudonym key ([`privacy`]).

pub mod delta;
pub mod drift;
pub mod inbox;
pub mod lineage;
pub mod lock;
pub mod manifest;
pub mod nightly;
pub mod privacy;
pub mod quality;
pub mod store;
pub mod submissions;

pub use store::*;
