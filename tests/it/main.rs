//! Integration tests: each module runs the real `zhenxing` binary (or the
//! library on whole inboxes) in its own temporary directory.

mod bad_inbox;
mod boundary;
mod check;
#[cfg(feature = "delta")]
mod delta;
mod effects;
mod feedback;
mod forms;
mod hostile;
mod indicators;
mod lake;
mod messy;
mod parent;
mod print;
mod props;
mod readers;
mod truth;
mod util;
mod validate;
