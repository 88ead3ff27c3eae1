//! The process exit codes every command returns (docs/operator.md, "Exit codes").

/// Every file read, no row rejected; the lake is published or current.
pub const CLEAN: i32 = 0;
/// Published (or current), but rows were rejected or a file failed.
pub const REJECTS: i32 = 1;
/// Usage or configuration error: nothing was read or written.
pub const USAGE: i32 = 2;
/// The run failed; the previous version is still the lake.
pub const FAILED: i32 = 3;
