//! Files written whole or not at all, durably, and files identified by
//! their bytes. Every stage that publishes a file goes through here.

use std::fs::File;
use std::path::{Path, PathBuf};

/// Writes a file whole or not at all, durably: a temporary file of its own
/// in the same folder, fsynced, renamed over the target, and the folder
/// fsynced so that the rename survives a crash.
pub fn write_durable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_durable_with(path, |f| {
        use std::io::Write;
        f.write_all(bytes)
    })
}

/// As `write_durable`, with the content written by `fill` through a buffer
/// (a large document is not built in memory first).
pub fn write_durable_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}-{n}.tmp", std::process::id()));
    let written = File::create(&tmp).and_then(|f| {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
        fill(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()
    });
    if let Err(e) = written.and_then(|_| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_parent(path)
}

/// fsyncs the folder that holds `path`.
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|f| f.sync_all())
}

/// fsyncs a directory so that renames inside it survive a crash.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir).and_then(|f| f.sync_all())
}

/// Makes everything written on the filesystem that holds `dir` durable, in
/// one call (syncfs(2)): files and the folders that name them.
pub fn sync_filesystem(dir: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = File::open(dir)?;
    // SAFETY: syncfs only reads the descriptor, which `f` keeps open
    if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    Ok((hex::encode(h.finalize()), n))
}

/// An I/O error with the path it happened at.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct PathError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// `.at(path)`: names the path an I/O error happened at.
pub trait At<T> {
    fn at(self, path: &Path) -> Result<T, PathError>;
}

impl<T> At<T> for std::io::Result<T> {
    fn at(self, path: &Path) -> Result<T, PathError> {
        self.map_err(|source| PathError {
            path: path.to_path_buf(),
            source,
        })
    }
}
