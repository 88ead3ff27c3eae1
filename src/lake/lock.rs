//! One run at a time: an exclusive `flock` on `OUT/.zhenxing/lock`.
//!
//! The lock belongs to the open file, so it is released by the kernel when
//! the process ends in any way, including SIGKILL: a crashed run never
//! leaves a stale lock behind. The file records who holds it, for the
//! message the second run prints.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

pub(crate) struct RunLock {
    _file: File,
}

/// Why the run lock could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another zhenxing run holds {path} ({holder}); waited {waited_s} s. Nothing was changed."
    )]
    /// Another run holds it.
    Busy {
        /// The lock file.
        path: String,
        /// Who holds it: the process and its start.
        holder: String,
        /// How long this run waited, in seconds.
        waited_s: u64,
    },
    /// The lock file cannot be opened.
    #[error("cannot open the lock file {path}: {source}")]
    Io {
        /// The lock file.
        path: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

impl RunLock {
    /// Takes the lock, waiting up to `wait` for another run to finish.
    pub(crate) fn acquire(path: &Path, wait: Duration) -> Result<RunLock, LockError> {
        let io = |e: std::io::Error| LockError::Io {
            path: path.display().to_string(),
            source: e,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let start = Instant::now();
        loop {
            // SAFETY: flock on a file descriptor we own; no memory is involved.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if r == 0 {
                break;
            }
            if start.elapsed() >= wait {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(LockError::Busy {
                    path: path.display().to_string(),
                    holder: holder.trim().to_string(),
                    waited_s: start.elapsed().as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = writeln!(
            file,
            "pid {} since {}",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
        Ok(RunLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state/lock");
        let first = RunLock::acquire(&p, Duration::ZERO).unwrap();
        let err = RunLock::acquire(&p, Duration::from_millis(300))
            .err()
            .unwrap();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        drop(first);
        assert!(RunLock::acquire(&p, Duration::ZERO).is_ok());
    }
}
