//! Personal data: keyed pseudonyms and resident ID number checks.
//!
//! Fields marked `pii` in the source definitions never reach the lake in
//! clear. Each value becomes `HMAC-SHA256(key, kind ":" normalised value)`,
//! shown as 32 hex digits, so the same person gets the same pseudonym in
//! every file and year and analysts can still count and join, while nobody
//! without the key can go back. The key lives outside the output folder:
//! in an environment variable, or in a key file that the first run creates
//! (mode 0600). Once a lake exists, its key fingerprint is recorded with
//! it, and a run whose key is missing or different stops before writing.

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::PiiKind;
use crate::text::clean_name;

/// A pseudonym key and where it came from.
#[derive(Clone)]
pub struct Key {
    bytes: Vec<u8>,
    /// `env ZHENXING_KEY` or the key file's path, for messages.
    pub origin: String,
    /// True when this run created the key file.
    pub created: bool,
    /// The key file's permission bits when users other than its owner
    /// may read or write it.
    pub exposed: Option<u32>,
}

impl Key {
    /// What to say of a key file others can read (Chinese, English).
    pub(crate) fn exposure_warning(&self) -> Option<(String, String)> {
        let mode = self.exposed?;
        Some((
            format!(
                "警告：假名化密钥文件 {} 的权限为 {mode:o}，其他用户可读；请执行 chmod 600 {}",
                self.origin, self.origin
            ),
            format!(
                "warning: the pseudonym key file {} has mode {mode:o}, so other users can read it; run chmod 600 {}",
                self.origin, self.origin
            ),
        ))
    }
}

/// A file's permission bits when group or others have any access.
fn exposed_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never print the key itself
        write!(
            f,
            "Key({}, fingerprint {})",
            self.origin,
            self.fingerprint()
        )
    }
}

/// Why the pseudonym key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not 64 hexadecimal digits.
    #[error("the pseudonym key in {origin} must be 64 hexadecimal digits (32 bytes)")]
    Malformed {
        /// Where it came from (a variable or a file).
        origin: String,
    },
    /// The key file cannot be read.
    #[error("cannot read the pseudonym key file {}: {source}", path.display())]
    Unreadable {
        /// The key file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the pseudonym key file {path} does not exist, but the lake was written with key {fingerprint}; \
         restore that key file (or set {env}) — a new key would break every join with earlier data"
    )]
    /// The key file is gone but the lake was written with a key.
    Missing {
        /// The key file.
        path: PathBuf,
        /// The fingerprint of the lake's key.
        fingerprint: String,
        /// The variable that can hold the key instead.
        env: String,
    },
    /// A new key file cannot be written.
    #[error("cannot create the pseudonym key file {}: {source}", path.display())]
    Create {
        /// The key file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The key file lies inside the output folder.
    #[error("the pseudonym key file {path} is inside the output folder {out}; keep it outside")]
    InsideOut {
        /// The key file.
        path: PathBuf,
        /// The output folder.
        out: PathBuf,
    },
}

fn parse_hex(text: &str, origin: &str) -> Result<Vec<u8>, KeyError> {
    let t = text.trim();
    match hex::decode(t) {
        Ok(b) if b.len() == 32 => Ok(b),
        _ => Err(KeyError::Malformed {
            origin: origin.to_string(),
        }),
    }
}

/// An environment variable's value; set but empty counts as unset (a
/// cron line `ZHENXING_KEY_FILE=` means "not given", not "the file ''").
pub(crate) fn env_set(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// Where the key comes from, as configured.
#[derive(Debug, Clone)]
pub(crate) struct KeySource {
    /// Environment variable holding the key (hex), checked first.
    pub env: String,
    pub file: PathBuf,
}

impl KeySource {
    /// The configured key source; `ZHENXING_KEY_FILE` overrides the key
    /// file (tests and one-off runs).
    pub fn configured(p: &crate::config::PrivacySection) -> KeySource {
        if let Some(f) = env_set("ZHENXING_KEY_FILE") {
            return KeySource {
                env: p.key_env.clone(),
                file: PathBuf::from(f),
            };
        }
        let file = match p.key_file.strip_prefix("~/") {
            Some(rest) => env_set("HOME")
                .map(|h| PathBuf::from(h).join(rest))
                .unwrap_or_else(|| PathBuf::from(&p.key_file)),
            None => PathBuf::from(&p.key_file),
        };
        KeySource {
            env: p.key_env.clone(),
            file,
        }
    }
}

impl KeySource {
    /// Loads the key. When neither the variable nor the file exists and
    /// `known` (the fingerprint the lake was written with) is `None`, a new
    /// random key file is created; when the lake already has a key, a
    /// missing key is an error.
    pub fn load(&self, out: &Path, known: Option<&str>) -> Result<Key, KeyError> {
        if let Some(v) = env_set(&self.env) {
            let v = v.to_string_lossy();
            let origin = format!("environment variable {}", self.env);
            let bytes = parse_hex(&v, &origin)?;
            return Ok(Key {
                bytes,
                origin,
                created: false,
                exposed: None,
            });
        }
        if inside(&self.file, out) {
            return Err(KeyError::InsideOut {
                path: self.file.clone(),
                out: out.to_path_buf(),
            });
        }
        let origin = self.file.display().to_string();
        match std::fs::read_to_string(&self.file) {
            Ok(text) => Ok(Key {
                exposed: exposed_mode(&self.file),
                bytes: parse_hex(&text, &origin)?,
                origin,
                created: false,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match known {
                Some(fp) => Err(KeyError::Missing {
                    path: self.file.clone(),
                    fingerprint: fp.to_string(),
                    env: self.env.clone(),
                }),
                None => self.create(origin),
            },
            Err(e) => Err(KeyError::Unreadable {
                path: self.file.clone(),
                source: e,
            }),
        }
    }

    fn create(&self, origin: String) -> Result<Key, KeyError> {
        use rand::RngCore;
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let err = |e: std::io::Error| KeyError::Create {
            path: self.file.clone(),
            source: e,
        };
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut bytes = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        // the key file appears complete or not at all: a temporary file
        // (0600) is written and fsynced, then hard-linked to the key's name,
        // which fails rather than overwrite a key that appeared meanwhile
        let name = self
            .file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let tmp = self
            .file
            .with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(format!("{}\n", hex::encode(&bytes)).as_bytes())?;
                f.sync_all()
            })
            .and_then(|_| std::fs::hard_link(&tmp, &self.file));
        let _ = std::fs::remove_file(&tmp);
        written.map_err(err)?;
        crate::fsio::sync_parent(&self.file).map_err(err)?;
        Ok(Key {
            bytes,
            origin,
            created: true,
            exposed: None,
        })
    }
}

/// Whether `path` lies inside `dir` (both made absolute as far as they exist).
fn inside(path: &Path, dir: &Path) -> bool {
    let abs = |p: &Path| {
        let mut cur = p.to_path_buf();
        let mut tail = Vec::new();
        loop {
            if let Ok(c) = cur.canonicalize() {
                return tail
                    .into_iter()
                    .rev()
                    .fold(c, |acc: PathBuf, t| acc.join(t));
            }
            match (cur.parent(), cur.file_name()) {
                (Some(parent), Some(name)) => {
                    tail.push(name.to_os_string());
                    cur = if parent.as_os_str().is_empty() {
                        PathBuf::from(".")
                    } else {
                        parent.to_path_buf()
                    };
                }
                _ => return p.to_path_buf(),
            }
        }
    };
    abs(path).starts_with(abs(dir))
}

impl Key {
    /// A key for tests and tools, from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key {
            bytes: bytes.to_vec(),
            origin: "given".into(),
            created: false,
            exposed: None,
        }
    }

    fn mac(&self, data: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length; ours is always 32 bytes
        let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(&self.bytes) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        m.update(data);
        m.finalize().into_bytes().into()
    }

    /// Identifies the key without revealing it (16 hex digits).
    pub(crate) fn fingerprint(&self) -> String {
        hex::encode(&self.mac(b"zhenxing key fingerprint")[..8])
    }

    /// The pseudonym of one value: 32 hex digits.
    pub fn pseudonym(&self, kind: PiiKind, value: &str) -> String {
        let (tag, norm) = match kind {
            PiiKind::Name => ("name", clean_name(value).into_owned()),
            PiiKind::IdNumber => ("id", value.trim().to_ascii_uppercase()),
            PiiKind::Phone => (
                "phone",
                value.chars().filter(|c| c.is_ascii_digit()).collect(),
            ),
        };
        let mut data = Vec::with_capacity(tag.len() + 1 + norm.len());
        data.extend_from_slice(tag.as_bytes());
        data.push(b':');
        data.extend_from_slice(norm.as_bytes());
        hex::encode(&self.mac(&data)[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_keyed_and_normalised() {
        let k = Key::from_bytes([7; 32]);
        let a = k.pseudonym(PiiKind::IdNumber, "11010519491231002x");
        assert_eq!(a, k.pseudonym(PiiKind::IdNumber, " 11010519491231002X "));
        assert_eq!(a.len(), 32);
        assert_ne!(
            a,
            Key::from_bytes([8; 32]).pseudonym(PiiKind::IdNumber, "11010519491231002X")
        );
        assert_eq!(
            k.pseudonym(PiiKind::Name, "张 三"),
            k.pseudonym(PiiKind::Name, "张三")
        );
        assert_ne!(
            k.pseudonym(PiiKind::Name, "张三"),
            k.pseudonym(PiiKind::Phone, "张三")
        );
        assert_eq!(k.fingerprint().len(), 16);
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600_and_then_required() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let src = KeySource {
            env: "ZHENXING_TEST_KEY_THAT_IS_NOT_SET".into(),
            file: dir.path().join("keys/nantong.key"),
        };
        let k = src.load(&out, None).unwrap();
        assert!(k.created);
        let mode = std::fs::metadata(&src.file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = src.load(&out, Some(&k.fingerprint())).unwrap();
        assert!(!again.created);
        assert_eq!(again.fingerprint(), k.fingerprint());
        std::fs::remove_file(&src.file).unwrap();
        let err = src.load(&out, Some(&k.fingerprint())).unwrap_err();
        assert!(matches!(err, KeyError::Missing { .. }), "{err}");
        let inside = KeySource {
            env: src.env.clone(),
            file: out.join("k.key"),
        };
        assert!(matches!(
            inside.load(&out, None).unwrap_err(),
            KeyError::InsideOut { .. }
        ));
    }
}
