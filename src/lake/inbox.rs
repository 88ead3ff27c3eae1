//! The county inbox: which files a run considers.

use std::path::{Path, PathBuf};

/// Every file under `dir`, sorted; Office lock files (`~$…`) and hidden
/// files are left out.
pub fn list_inbox(dir: &Path, skip: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    // the files to skip, known once: a nation's inbox is 120,000 files, and
    // resolving two paths for each took a second of every run
    let skip: Vec<FileId> = skip.iter().filter_map(|s| file_id(s)).collect();
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let path = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name.starts_with("~$") {
                continue;
            }
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file()
                && (skip.is_empty() || !entry_id(&e, &path).is_ok_and(|id| skip.contains(&id)))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
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

#[cfg(unix)]
fn entry_id(e: &std::fs::DirEntry, _path: &Path) -> std::io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    e.metadata().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn entry_id(_e: &std::fs::DirEntry, path: &Path) -> std::io::Result<FileId> {
    path.canonicalize()
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
        let names = |v: Vec<PathBuf>| -> Vec<String> {
            v.iter()
                .map(|p| p.strip_prefix(inbox).unwrap().display().to_string())
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
}
