//! Row problems moved to disk while a long file is read.
//!
//! A file of a million rejected rows would otherwise hold a million
//! problems in memory until its batch is written. With a spill folder
//! (`Engine::spill`, which `run` sets), each sheet's row problems go to a
//! chunk file every [`SPILL_AT`] problems; the batch writer reads the
//! chunks back one at a time. The chunk files are removed when the last
//! copy of the result that names them is dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::issue::{Issue, Severity};

/// Row problems a sheet holds before they go to a chunk file.
pub(crate) const SPILL_AT: usize = 20_000;

/// The chunk files of one result; dropping the last owner removes them.
#[derive(Debug, Default)]
struct Files(Vec<PathBuf>);

impl Drop for Files {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The row problems of a result that are on disk, in the order found.
#[derive(Debug, Clone, Default)]
pub struct Spilled {
    files: Arc<Files>,
    /// How many of them return their row, and how many are warnings.
    pub rejects: usize,
    /// Of them, warnings.
    pub warnings: usize,
}

impl Spilled {
    /// Nothing is on disk.
    pub fn is_empty(&self) -> bool {
        self.files.0.is_empty()
    }

    /// The problems, one chunk at a time; a chunk that cannot be read
    /// back is an error naming its file.
    pub fn chunks(&self) -> impl Iterator<Item = Result<Vec<Issue>, SpillError>> + '_ {
        self.files.0.iter().map(|p| read_chunk(p))
    }

    /// How many problems of `sev` are on disk.
    pub fn count(&self, sev: Severity) -> usize {
        match sev {
            Severity::Reject => self.rejects,
            Severity::Warning => self.warnings,
            Severity::FileError => 0,
        }
    }
}

/// A chunk of row problems that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    /// The chunk file cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The chunk file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The chunk does not decode.
    #[error("{}: {source}", path.display())]
    Decode {
        /// The chunk file.
        path: PathBuf,
        /// What the decoder said.
        #[source]
        source: postcard::Error,
    },
}

fn read_chunk(p: &Path) -> Result<Vec<Issue>, SpillError> {
    let bytes = std::fs::read(p).map_err(|source| SpillError::Read {
        path: p.to_path_buf(),
        source,
    })?;
    postcard::from_bytes(&bytes).map_err(|source| SpillError::Decode {
        path: p.to_path_buf(),
        source,
    })
}

/// Writes one file's chunks as its sheets are read.
#[derive(Debug)]
pub(super) struct Spiller {
    dir: PathBuf,
    files: Files,
    rejects: usize,
    warnings: usize,
    /// A chunk could not be written: the rest stays in memory.
    broken: bool,
}

impl Spiller {
    pub(super) fn new(dir: &Path) -> Spiller {
        Spiller {
            dir: dir.to_path_buf(),
            files: Files::default(),
            rejects: 0,
            warnings: 0,
            broken: false,
        }
    }

    /// Moves the row problems of `issues` to a new chunk file when there
    /// are at least [`SPILL_AT`]; the file's own problems stay. When the
    /// chunk cannot be written, everything stays in memory (nothing is
    /// lost, only memory is spent).
    pub(super) fn offer(&mut self, issues: &mut Vec<Issue>) {
        let rows = issues
            .iter()
            .filter(|i| i.row.is_some() && i.severity() != Severity::FileError)
            .count();
        if rows < SPILL_AT || self.broken {
            return;
        }
        let (out, keep): (Vec<Issue>, Vec<Issue>) = std::mem::take(issues)
            .into_iter()
            .partition(|i| i.row.is_some() && i.severity() != Severity::FileError);
        *issues = keep;
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{}-{n}.issues", std::process::id()));
        let written = postcard::to_stdvec(&out)
            .map_err(|e| e.to_string())
            .and_then(|b| std::fs::write(&path, b).map_err(|e| e.to_string()));
        match written {
            Ok(()) => {
                self.rejects += out
                    .iter()
                    .filter(|i| i.severity() == Severity::Reject)
                    .count();
                self.warnings += out
                    .iter()
                    .filter(|i| i.severity() == Severity::Warning)
                    .count();
                self.files.0.push(path);
            }
            Err(_) => {
                self.broken = true;
                let _ = std::fs::remove_file(&path);
                let mut all = out;
                all.append(issues);
                *issues = all;
            }
        }
    }

    pub(super) fn done(self) -> Spilled {
        Spilled {
            files: Arc::new(self.files),
            rejects: self.rejects,
            warnings: self.warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Code;
    use crate::validate::issue::Problem;

    fn at_row(r: usize, problem: Problem) -> Issue {
        let mut i = Issue::file(problem, "a.csv");
        i.sheet = Some("a".into());
        i.row = Some(r);
        i.col = Some(2);
        i.raw = Some(format!("无此村{r}"));
        i
    }

    fn unknown(r: usize) -> Issue {
        at_row(
            r,
            Problem::UnknownVillage {
                name: format!("无此村{r}"),
                county: "如皋市".into(),
                township: "义德街道".into(),
                suggestions: vec!["平祥村".into()],
            },
        )
    }

    #[test]
    fn row_problems_go_to_disk_in_order_and_the_files_go_with_the_result() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spiller::new(dir.path());
        let mut issues: Vec<Issue> = (0..SPILL_AT - 1).map(unknown).collect();
        s.offer(&mut issues);
        assert_eq!(issues.len(), SPILL_AT - 1, "fewer than SPILL_AT stay");
        // a file problem stays; the row problems, a warning among them, go
        issues.insert(5, Issue::file(Problem::NoDataSheet, "a.csv"));
        issues.push(at_row(
            SPILL_AT - 1,
            Problem::PiiInText {
                found: vec!["mobile".into()],
            },
        ));
        s.offer(&mut issues);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].code(), Code::NoDataSheet);
        let mut more: Vec<Issue> = (SPILL_AT..3 * SPILL_AT).map(unknown).collect();
        s.offer(&mut more);
        assert!(more.is_empty());
        let spilled = s.done();
        assert_eq!((spilled.rejects, spilled.warnings), (3 * SPILL_AT - 1, 1));
        assert_eq!(spilled.count(Severity::Reject), 3 * SPILL_AT - 1);
        let chunks: Vec<Vec<Issue>> = spilled.chunks().map(|c| c.unwrap()).collect();
        assert_eq!(
            chunks.iter().map(Vec::len).collect::<Vec<_>>(),
            [SPILL_AT, 2 * SPILL_AT]
        );
        let rows: Vec<usize> = chunks.iter().flatten().map(|i| i.row.unwrap()).collect();
        assert_eq!(rows, (0..3 * SPILL_AT).collect::<Vec<_>>());
        assert_eq!(chunks[1][7], unknown(SPILL_AT + 7));
        assert_eq!(chunks[0][SPILL_AT - 1].code(), Code::PiiInText);
        let copy = spilled.clone();
        drop(spilled);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        drop(copy);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_chunk_that_cannot_be_written_keeps_everything_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spiller::new(&dir.path().join("missing"));
        let mut issues: Vec<Issue> = (0..SPILL_AT).map(unknown).collect();
        s.offer(&mut issues);
        assert_eq!(issues.len(), SPILL_AT);
        assert_eq!(issues[9], unknown(9));
        let spilled = s.done();
        assert!(spilled.is_empty());
        assert_eq!(spilled.count(Severity::Reject), 0);
    }
}
