//! How a command ends: the process exit codes (docs/operator.md, "Exit
//! codes"), what a finished command reports ([`Done`]) and why one stopped
//! ([`CommandError`]). Every command returns `Result<Done, CommandError>`;
//! `cli::main` is the one place that prints an error with its causes and
//! turns the outcome into the exit code.

use std::error::Error;

/// Every file read, no row rejected; the lake is published or current.
pub(crate) const CLEAN: i32 = 0;
/// Published (or current), but rows were rejected or a file failed.
pub(crate) const REJECTS: i32 = 1;
/// Usage or configuration error: nothing was read or written.
pub(crate) const USAGE: i32 = 2;
/// The run failed; the previous version is still the lake.
pub(crate) const FAILED: i32 = 3;

/// A command that went to its end and said what it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Nothing to report (exit 0).
    Clean,
    /// Rows were rejected or a file could not be used (exit 1).
    Rejects,
    /// The lake was published but a later stage failed (the indicators,
    /// the feedback folder), and the command said which (exit 3).
    StageFailed,
}

impl Done {
    /// The outcome of an exit code a stage computed (the nightly run's).
    pub(crate) fn of_code(code: i32) -> Done {
        match code {
            CLEAN => Done::Clean,
            REJECTS => Done::Rejects,
            _ => Done::StageFailed,
        }
    }

    /// The process exit code.
    pub(crate) fn exit_code(self) -> i32 {
        match self {
            Done::Clean => CLEAN,
            Done::Rejects => REJECTS,
            Done::StageFailed => FAILED,
        }
    }
}

/// Whether a stopped command was asked something it cannot do (nothing
/// was read or written) or failed on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A usage or configuration error (exit 2).
    Usage,
    /// A step failed; the lake is as it was (exit 3).
    Failed,
}

/// Why a command stopped: the typed error of the step that stopped it,
/// kept with its sources, and whether that is a usage error or a failure.
#[derive(Debug)]
pub struct CommandError {
    stop: Stop,
    error: Box<dyn Error + Send + Sync>,
    /// The command has said it already in its own log format (a JSON
    /// event): nothing more is printed.
    said: bool,
}

impl CommandError {
    /// A usage or configuration error (exit 2).
    pub fn usage(error: impl Into<Box<dyn Error + Send + Sync>>) -> CommandError {
        CommandError {
            stop: Stop::Usage,
            error: error.into(),
            said: false,
        }
    }

    /// A failure on the way (exit 3).
    pub fn failed(error: impl Into<Box<dyn Error + Send + Sync>>) -> CommandError {
        CommandError {
            stop: Stop::Failed,
            error: error.into(),
            said: false,
        }
    }

    /// Marks the error as said already by the command (its JSON event).
    pub fn said(mut self) -> CommandError {
        self.said = true;
        self
    }

    /// The process exit code.
    pub(crate) fn exit_code(&self) -> i32 {
        match self.stop {
            Stop::Usage => USAGE,
            Stop::Failed => FAILED,
        }
    }

    /// What stderr shows: `zhenxing COMMAND: error`, then each cause the
    /// message does not already contain on its own `  caused by:` line;
    /// nothing when the command said it already.
    pub fn report(&self, command: &str) -> String {
        if self.said {
            return String::new();
        }
        let head = self.error.to_string();
        let mut out = if head.contains('\n') {
            // a list of problems (the pipeline's) starts on its own line
            format!("zhenxing {command}: {head}")
        } else {
            format!("zhenxing {command}: {head}\n")
        };
        if !out.ends_with('\n') {
            out.push('\n');
        }
        let mut cause = self.error.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !out.contains(&text) {
                out.push_str(&format!("  caused by: {text}\n"));
            }
            cause = c.source();
        }
        out
    }
}

/// An error and its causes on one line, `error: cause: cause` (a cause
/// the text already says is not repeated): for a stage whose failure is
/// one line of a longer report.
pub(crate) fn chain(e: &(dyn Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// What a command returns.
pub type Outcome = Result<Done, CommandError>;

/// The exit code of an outcome, after printing an error on stderr.
pub fn finish(command: &str, outcome: Outcome) -> i32 {
    match outcome {
        Ok(done) => done.exit_code(),
        Err(e) => {
            eprint!("{}", e.report(command));
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot write the report")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn an_error_is_printed_once_with_the_causes_it_does_not_say() {
        let e = CommandError::failed(Outer(std::io::Error::other("disk full")));
        assert_eq!(e.exit_code(), 3);
        assert_eq!(
            e.report("report"),
            "zhenxing report: cannot write the report\n  caused by: disk full\n"
        );
        let e = CommandError::usage(format!("no lake in {}", "/tmp/x"));
        assert_eq!(e.exit_code(), 2);
        assert_eq!(e.report("status"), "zhenxing status: no lake in /tmp/x\n");
        assert_eq!(CommandError::usage("x").said().report("run"), "");
        assert_eq!(Done::of_code(1), Done::Rejects);
        assert_eq!(Done::of_code(3).exit_code(), 3);
    }
}
