//! Files written whole or not at all, durably, and files identified by
//! their bytes. Every stage that publishes a file goes through here.

use std::fs::File;
use std::path::{Path, PathBuf};

/// Writes a file whole or not at all, durably: a temporary file of its own
/// in the same folder, fsynced, renamed over the target, and the folder
/// fsynced so that the rename survives a crash.
pub(crate) fn write_durable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_durable_with(path, |f| {
        use std::io::Write;
        f.write_all(bytes)
    })
}

/// As `write_durable`, with the content written by `fill` through a buffer
/// (a large document is not built in memory first).
pub(crate) fn write_durable_with(
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
    // not named after the target: a 255-byte name has no room for a suffix
    let tmp = dir.join(format!(".zx-{}-{n}.tmp", std::process::id()));
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
pub(crate) fn sync_parent(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|f| f.sync_all())
}

/// fsyncs a directory so that renames inside it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir).and_then(|f| f.sync_all())
}

/// Makes everything written on the filesystem that holds `dir` durable, in
/// one call (syncfs(2)): files and the folders that name them.
pub(crate) fn sync_filesystem(dir: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = File::open(dir)?;
    // SAFETY: syncfs only reads the descriptor, which `f` keeps open
    if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

pub(crate) fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
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

/// Longest name, in bytes, that [`safe_component`] makes (file systems
/// allow 255; room is left for a suffix such as `_校验.xlsx`).
pub(crate) const MAX_NAME_BYTES: usize = 180;

/// A name that came from a county's file (a county, a file stem, a sheet)
/// made fit to be one path component inside a folder of ours: path
/// separators, control characters and the characters Windows refuses
/// become `_`, leading dots and spaces go, and a name longer than
/// [`MAX_NAME_BYTES`] is cut and given a short hash of the whole so that
/// two long names stay apart. `None` when nothing usable is left (``,
/// `.`, `..`).
pub(crate) fn safe_component(name: &str) -> Option<String> {
    let mut s: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let trimmed = s
        .trim_start_matches(['.', ' '])
        .trim_end_matches([' ', '.']);
    if trimmed.is_empty() {
        return None;
    }
    s = trimmed.to_string();
    if s.len() > MAX_NAME_BYTES {
        use sha2::Digest;
        let tag = hex::encode(&sha2::Sha256::digest(name.as_bytes())[..4]);
        let mut cut = MAX_NAME_BYTES - tag.len() - 1;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s = format!("{}~{tag}", &s[..cut]);
    }
    Some(s)
}

/// `dir/name` where `name` came from a county's file: made safe by
/// [`safe_component`] (or `fallback`), so the path cannot leave `dir`.
pub(crate) fn join_inside(dir: &Path, name: &str, fallback: &str) -> PathBuf {
    let part = safe_component(name).unwrap_or_else(|| fallback.to_string());
    let p = dir.join(&part);
    debug_assert!(p.parent() == Some(dir));
    p
}

/// A name for one line of a log or terminal: control characters (a
/// newline would split the line) shown as escapes, the rest as it is.
pub(crate) fn printable(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(name);
    }
    std::borrow::Cow::Owned(
        name.chars()
            .flat_map(|c| {
                if c.is_control() {
                    c.escape_default().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect(),
    )
}

/// A path as text, losslessly: a name that is not UTF-8 (a zip made on
/// Windows leaves GBK bytes) keeps its bytes, each undecodable one shown
/// as `\xNN` (and a backslash as `\\`), so two such names never become
/// the same text. [`path_from_text`] turns it back.
pub(crate) fn path_text(p: &Path) -> String {
    if let Some(s) = p.to_str() {
        return s.to_string();
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut out = String::new();
        for chunk in p.as_os_str().as_bytes().utf8_chunks() {
            out.push_str(&chunk.valid().replace('\\', "\\\\"));
            for b in chunk.invalid() {
                out.push_str(&format!("\\x{b:02X}"));
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        p.to_string_lossy().into_owned()
    }
}

/// The path [`path_text`] wrote as `text`.
pub(crate) fn path_from_text(text: &str) -> PathBuf {
    #[cfg(unix)]
    if text.contains("\\x") {
        use std::os::unix::ffi::OsStrExt;
        let b = text.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
            } else if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
                match std::str::from_utf8(b.get(i + 2..i + 4).unwrap_or(&[]))
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 4;
                    }
                    None => {
                        out.push(b[i]);
                        i += 1;
                    }
                }
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        // only a name that was not UTF-8 was written escaped
        if std::str::from_utf8(&out).is_err() {
            return PathBuf::from(std::ffi::OsStr::from_bytes(&out));
        }
    }
    PathBuf::from(text)
}

/// An I/O error with the path it happened at.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct PathError {
    /// Where.
    pub path: PathBuf,
    /// What the system said.
    #[source]
    pub source: std::io::Error,
}

/// `.at(path)`: names the path an I/O error happened at.
pub trait At<T> {
    /// The error, with the path it happened at.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_files_stay_one_component() {
        assert_eq!(safe_component("启东市").as_deref(), Some("启东市"));
        assert_eq!(safe_component("../../../x").as_deref(), Some("_.._.._x"));
        assert_eq!(
            safe_component("/etc/passwd").as_deref(),
            Some("_etc_passwd")
        );
        assert_eq!(safe_component("a:b*c?[1]").as_deref(), Some("a_b_c_[1]"));
        assert_eq!(safe_component("a\nb").as_deref(), Some("a_b"));
        assert_eq!(safe_component(".."), None);
        assert_eq!(safe_component(" . "), None);
        let long = "村".repeat(100);
        let a = safe_component(&long).unwrap();
        let b = safe_component(&format!("{long}x")).unwrap();
        assert!(a.len() <= MAX_NAME_BYTES && b.len() <= MAX_NAME_BYTES);
        assert_ne!(a, b);
        let d = Path::new("/out/feedback");
        assert_eq!(join_inside(d, "..", "未识别"), d.join("未识别"));
        assert_eq!(printable("a\nb.csv"), "a\\nb.csv");
    }

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_keep_their_bytes() {
        use std::os::unix::ffi::OsStrExt;
        // 启东 in GBK, then two different undecodable names
        let a = Path::new(std::ffi::OsStr::from_bytes(b"x/\xc6\xf4\xb6\xab.csv"));
        let b = Path::new(std::ffi::OsStr::from_bytes(b"x/\xc6\xf4\xb6\xac.csv"));
        let (ta, tb) = (path_text(a), path_text(b));
        assert_eq!(ta, "x/\\xC6\\xF4\\xB6\\xAB.csv");
        assert_ne!(ta, tb);
        assert_eq!(path_from_text(&ta), a);
        assert_eq!(path_from_text(&tb), b);
        // a UTF-8 name that looks escaped is kept as it is
        assert_eq!(path_from_text("a\\x41.csv"), Path::new("a\\x41.csv"));
        assert_eq!(path_text(Path::new("如皋市/a.csv")), "如皋市/a.csv");
    }
}
