//! Progress bars for the long stages, on a terminal only: a cron job, a
//! pipe or `--quiet` / `--log-format json` sees none.

use std::sync::atomic::{AtomicBool, Ordering};

static ON: AtomicBool = AtomicBool::new(false);

/// Turns bars on for this process when `wanted` and stderr is a terminal.
pub(crate) fn enable(wanted: bool) {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    ON.store(wanted && tty, Ordering::Relaxed);
}

/// A bar of `len` steps labelled `what`, or `None` when bars are off.
pub fn bar(len: u64, what: &str) -> Option<indicatif::ProgressBar> {
    if !ON.load(Ordering::Relaxed) {
        return None;
    }
    let b = indicatif::ProgressBar::new(len);
    let template = format!("{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {what} {{msg}}");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        b.set_style(style.progress_chars("=> "));
    }
    Some(b)
}
