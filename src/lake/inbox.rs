//! The county inbox: which files a run considers.

use std::path::{Path, PathBuf};

/// Every file under `dir`, sorted; Office lock files (`~$…`) and hidden
/// files are left out.
pub fn list_inbox(dir: &Path, skip: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
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
            } else if ft.is_file() && !skip.iter().any(|s| same_file(s, &path)) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
