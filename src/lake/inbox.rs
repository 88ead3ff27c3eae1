//! The county inbox: which files a run considers.
//!
//! Every entry under the inbox is either a file to read or a fault of its
//! own (a folder or file that cannot be read, a link that leaves the inbox,
//! dangles or loops, a FIFO or device): one entry's fault is reported as
//! that entry's and never stops the listing. A symbolic link whose target
//! lies inside the inbox is followed (a folder's once); any other link is
//! refused. Names starting with `.` (hidden) or `~$` (Office lock files)
//! are left out.

use std::path::{Path, PathBuf};

use crate::validate::issue::EntryFault;

/// One entry of the inbox listing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Listed {
    /// A regular file (perhaps reached through a link inside the inbox).
    File(PathBuf),
    /// An entry that is not read, and why.
    Fault {
        path: PathBuf,
        fault: EntryFault,
        detail: String,
    },
}

impl Listed {
    pub fn path(&self) -> &Path {
        match self {
            Listed::File(p) => p,
            Listed::Fault { path, .. } => path,
        }
    }
}

/// Every entry under `dir`, sorted by path. `skip` names files left out
/// (the registry, when it lies in the inbox). Only the inbox itself
/// failing to open is an error. Real folders are walked first and links
/// after, in path order, so what a link leads to never depends on the
/// order the file system lists names in.
pub(crate) fn list_inbox(dir: &Path, skip: &[PathBuf]) -> std::io::Result<Vec<Listed>> {
    // the files to skip, known once: a nation's inbox is 120,000 files, and
    // resolving two paths for each took a second of every run
    let skip: Vec<FileId> = skip.iter().filter_map(|s| file_id(s)).collect();
    let root = dir.canonicalize()?;
    // the inbox itself must open: that is the night's input
    std::fs::read_dir(dir)?;
    let mut w = Walk {
        root,
        skip,
        out: Vec::new(),
        seen_dirs: file_id(dir).into_iter().collect(),
        links: std::collections::VecDeque::new(),
    };
    w.walk(dir.to_path_buf());
    while let Some(link) = w.links.pop_front() {
        match follow(&link, &w.root) {
            Ok(meta) if meta.is_dir() => match file_id(&link) {
                Some(id) if w.seen_dirs.contains(&id) => w.out.push(Listed::Fault {
                    path: link,
                    fault: EntryFault::LinkLoop,
                    detail: "the link leads to a folder that is read already".into(),
                }),
                id => {
                    w.seen_dirs.extend(id);
                    w.walk(link);
                }
            },
            Ok(meta) if meta.is_file() => w.file(link),
            Ok(_) => w.out.push(Listed::Fault {
                path: link,
                fault: EntryFault::NotAFile,
                detail: "the link points at a FIFO, socket or device".into(),
            }),
            Err(f) => w.out.push(f.at(link)),
        }
    }
    let mut out = w.out;
    out.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(out)
}

struct Walk {
    root: PathBuf,
    skip: Vec<FileId>,
    out: Vec<Listed>,
    seen_dirs: Vec<FileId>,
    /// Links met, followed once every real folder is read.
    links: std::collections::VecDeque<PathBuf>,
}

impl Walk {
    fn file(&mut self, path: PathBuf) {
        if self.skip.is_empty() || !file_id(&path).is_some_and(|id| self.skip.contains(&id)) {
            self.out.push(Listed::File(path));
        }
    }

    /// Reads `top` and the real folders under it; links are queued.
    fn walk(&mut self, top: PathBuf) {
        let mut stack = vec![top];
        while let Some(d) = stack.pop() {
            let rd = match std::fs::read_dir(&d) {
                Ok(rd) => rd,
                Err(e) => {
                    self.out.push(fault(d, EntryFault::FolderUnreadable, &e));
                    continue;
                }
            };
            let mut entries = Vec::new();
            for e in rd {
                match e {
                    Ok(e) => entries.push(e),
                    Err(err) => {
                        self.out
                            .push(fault(d.clone(), EntryFault::FolderUnreadable, &err));
                        break;
                    }
                }
            }
            entries.sort_by_key(|e| e.file_name());
            let mut links = Vec::new();
            let mut dirs = Vec::new();
            for e in entries {
                let path = e.path();
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') || name.starts_with("~$") {
                    continue;
                }
                match e.file_type() {
                    Err(err) => self.out.push(fault(path, EntryFault::Unreadable, &err)),
                    Ok(ft) if ft.is_symlink() => links.push(path),
                    Ok(ft) if ft.is_dir() => {
                        self.seen_dirs.extend(file_id(&path));
                        dirs.push(path);
                    }
                    Ok(ft) if ft.is_file() => self.file(path),
                    Ok(_) => self.out.push(Listed::Fault {
                        path,
                        fault: EntryFault::NotAFile,
                        detail: "a FIFO, socket or device".into(),
                    }),
                }
            }
            self.links.extend(links);
            // popped in name order
            stack.extend(dirs.into_iter().rev());
        }
    }
}

fn fault(path: PathBuf, fault: EntryFault, e: &std::io::Error) -> Listed {
    Listed::Fault {
        path,
        fault,
        detail: e.to_string(),
    }
}

/// Why a link is not followed.
struct LinkFault(EntryFault, String);

impl LinkFault {
    fn at(self, path: PathBuf) -> Listed {
        Listed::Fault {
            path,
            fault: self.0,
            detail: self.1,
        }
    }
}

/// The metadata of a link's target when it lies inside the inbox.
fn follow(link: &Path, root: &Path) -> Result<std::fs::Metadata, LinkFault> {
    let target = match link.canonicalize() {
        Ok(t) => t,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(LinkFault(EntryFault::LinkLoop, e.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let to = std::fs::read_link(link)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            return Err(LinkFault(
                EntryFault::LinkDangling,
                format!("the link points at {to}, which does not exist"),
            ));
        }
        Err(e) => return Err(LinkFault(EntryFault::Unreadable, e.to_string())),
    };
    if !target.starts_with(root) {
        return Err(LinkFault(
            EntryFault::LinkOutside,
            format!("the link points outside the inbox, at {}", target.display()),
        ));
    }
    std::fs::metadata(&target).map_err(|e| LinkFault(EntryFault::Unreadable, e.to_string()))
}

/// What makes two paths the same file: device and inode on Unix, the
/// resolved path elsewhere.
#[cfg(unix)]
type FileId = (u64, u64);
#[cfg(not(unix))]
type FileId = PathBuf;

#[cfg(unix)]
fn file_id(p: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(p: &Path) -> Option<FileId> {
    p.canonicalize().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_inside_the_inbox_is_skipped_and_a_copy_of_it_is_not() {
        let d = tempfile::tempdir().unwrap();
        let inbox = d.path();
        std::fs::create_dir_all(inbox.join("如皋市")).unwrap();
        let reg = inbox.join("名录.xlsx");
        std::fs::write(&reg, b"registry").unwrap();
        std::fs::write(inbox.join("如皋市").join("名录副本.xlsx"), b"registry").unwrap();
        std::fs::write(inbox.join("如皋市").join("a.csv"), b"x").unwrap();
        std::fs::write(inbox.join("~$a.xlsx"), b"lock").unwrap();
        std::fs::write(inbox.join(".hidden"), b"h").unwrap();
        let names = |v: Vec<Listed>| -> Vec<String> {
            v.iter()
                .map(|p| p.path().strip_prefix(inbox).unwrap().display().to_string())
                .collect()
        };
        // named by another path to the same file, it is still skipped
        let other = inbox.join("如皋市").join("..").join("名录.xlsx");
        for skip in [reg.clone(), other] {
            assert_eq!(
                names(list_inbox(inbox, &[skip]).unwrap()),
                ["如皋市/a.csv", "如皋市/名录副本.xlsx"]
            );
        }
        assert_eq!(
            names(list_inbox(inbox, &[]).unwrap()),
            ["名录.xlsx", "如皋市/a.csv", "如皋市/名录副本.xlsx"]
        );
    }

    #[cfg(unix)]
    #[test]
    fn each_odd_entry_is_its_own_fault() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        let inbox = d.path().join("inbox");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(inbox.join("如皋市")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.csv"), b"x").unwrap();
        std::fs::write(inbox.join("如皋市").join("a.csv"), b"a").unwrap();
        symlink(outside.join("secret.csv"), inbox.join("out.csv")).unwrap();
        symlink(&outside, inbox.join("外")).unwrap();
        symlink(inbox.join("nothing.csv"), inbox.join("dangling.csv")).unwrap();
        symlink(inbox.join("loop2"), inbox.join("loop1")).unwrap();
        symlink(inbox.join("loop1"), inbox.join("loop2")).unwrap();
        symlink(inbox.join("如皋市"), inbox.join("如皋")).unwrap();
        symlink(&inbox, inbox.join("如皋市").join("up")).unwrap();
        symlink(inbox.join("如皋市").join("a.csv"), inbox.join("copy.csv")).unwrap();
        let fifo = std::ffi::CString::new(inbox.join("pipe.csv").to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let got: Vec<(String, Option<EntryFault>)> = list_inbox(&inbox, &[])
            .unwrap()
            .into_iter()
            .map(|l| {
                let p = l.path().strip_prefix(&inbox).unwrap().display().to_string();
                match l {
                    Listed::File(_) => (p, None),
                    Listed::Fault { fault, .. } => (p, Some(fault)),
                }
            })
            .collect();
        assert_eq!(
            got,
            vec![
                // a file link inside the inbox is followed
                ("copy.csv".to_string(), None),
                ("dangling.csv".to_string(), Some(EntryFault::LinkDangling)),
                ("loop1".to_string(), Some(EntryFault::LinkLoop)),
                ("loop2".to_string(), Some(EntryFault::LinkLoop)),
                ("out.csv".to_string(), Some(EntryFault::LinkOutside)),
                ("pipe.csv".to_string(), Some(EntryFault::NotAFile)),
                // a link inside the inbox is followed; a folder it names that
                // was read already under its own name is not read again
                ("外".to_string(), Some(EntryFault::LinkOutside)),
                ("如皋".to_string(), Some(EntryFault::LinkLoop)),
                ("如皋市/a.csv".to_string(), None),
                ("如皋市/up".to_string(), Some(EntryFault::LinkLoop)),
            ]
        );
    }
}
