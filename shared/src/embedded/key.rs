//! The key that encrypts instance secrets at rest.
//!
//! It must live apart from the database: a copy of `sage-events.db` alone (a backup, a
//! disk image) must not reveal OAuth tokens or signing keys.

use crate::secret::Secret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::TryRngCore;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, Zeroizing};

/// Why a [`SecretKey`] could not be had. Never contains key material.
#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    #[error("{source_name} is not valid base64")]
    Encoding { source_name: String },
    #[error("{source_name} holds {len} bytes; the secret key must be exactly 32")]
    Length { source_name: String, len: usize },
    #[error("environment variable {0} is not valid unicode")]
    EnvNotUnicode(String),
    #[error("key file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

/// A 256-bit key for XChaCha20-Poly1305. `Debug` is masked; the bytes are wiped on drop.
#[derive(Clone)]
pub struct SecretKey([u8; SecretKey::LEN]);

impl SecretKey {
    /// Key length in bytes.
    pub const LEN: usize = 32;

    pub fn from_bytes(bytes: [u8; Self::LEN]) -> SecretKey {
        SecretKey(bytes)
    }

    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<SecretKey, SecretKeyError> {
        let mut bytes = [0u8; Self::LEN];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| SecretKeyError::Random(e.to_string()))?;
        Ok(SecretKey(bytes))
    }

    /// Parse standard base64 (surrounding whitespace ignored) of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<SecretKey, SecretKeyError> {
        Self::parse(text, "secret key")
    }

    /// The key as standard base64, for writing a key file or an environment variable.
    pub fn to_base64(&self) -> Secret {
        Secret::new(STANDARD.encode(self.0))
    }

    /// The key for the standalone runner, from (in this order):
    ///
    /// 1. the environment variable `env_var` (e.g. `SAGE_EVENTS_SECRET_KEY`), base64 of 32
    ///    bytes — an empty value counts as unset;
    /// 2. the file `key_file`, holding the same base64 text;
    /// 3. otherwise a fresh random key, written to `key_file` (created with mode 0600,
    ///    never overwriting a file, flushed to disk together with its directory entry so a
    ///    crash cannot lose the key of data already encrypted with it). Missing parent
    ///    directories are created.
    ///
    /// Keep the key file (or the variable) with your backups of the database, but not in
    /// the same place: losing it makes every stored secret unreadable (instances must then
    /// be registered again).
    pub fn from_env_or_file(env_var: &str, key_file: &Path) -> Result<SecretKey, SecretKeyError> {
        match std::env::var(env_var) {
            Ok(value) if !value.trim().is_empty() => {
                return Self::parse(&value, &format!("environment variable {env_var}"));
            }
            Ok(_) | Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(SecretKeyError::EnvNotUnicode(env_var.to_owned()));
            }
        }
        match Self::read_file(key_file) {
            Ok(key) => Ok(key),
            Err(SecretKeyError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Self::create_file(key_file)
            }
            Err(other) => Err(other),
        }
    }

    fn read_file(key_file: &Path) -> Result<SecretKey, SecretKeyError> {
        let io_error = |source| SecretKeyError::Io {
            path: key_file.to_owned(),
            source,
        };
        let mut file = std::fs::File::open(key_file).map_err(io_error)?;
        warn_if_shared(&file, key_file);
        let mut text = Zeroizing::new(String::new());
        file.read_to_string(&mut text).map_err(io_error)?;
        Self::parse(&text, &format!("key file {}", key_file.display()))
    }

    fn create_file(key_file: &Path) -> Result<SecretKey, SecretKeyError> {
        let io_error = |source| SecretKeyError::Io {
            path: key_file.to_owned(),
            source,
        };
        let parent = key_file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io_error)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = match options.open(key_file) {
            Ok(file) => file,
            // Another process created it between our read and our create: use theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Self::read_file(key_file);
            }
            Err(e) => return Err(io_error(e)),
        };
        let key = Self::generate()?;
        let mut text = Zeroizing::new(key.to_base64().expose().to_owned());
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io_error)?;
        // Make the new directory entry durable too.
        std::fs::File::open(parent)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error)?;
        tracing::info!(path = %key_file.display(), "created a new secret key file");
        Ok(key)
    }

    fn parse(text: &str, source_name: &str) -> Result<SecretKey, SecretKeyError> {
        let bytes =
            Zeroizing::new(
                STANDARD
                    .decode(text.trim())
                    .map_err(|_| SecretKeyError::Encoding {
                        source_name: source_name.to_owned(),
                    })?,
            );
        <[u8; Self::LEN]>::try_from(bytes.as_slice())
            .map(SecretKey)
            .map_err(|_| SecretKeyError::Length {
                source_name: source_name.to_owned(),
                len: bytes.len(),
            })
    }

    pub(super) fn aead_key(&self) -> chacha20poly1305::Key {
        chacha20poly1305::Key::from(self.0)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", crate::secret::MASK)
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// The key file should be readable by its owner only; say so (without the key) if not.
fn warn_if_shared(file: &std::fs::File, path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = file.metadata()
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "secret key file is readable by group or others; chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (file, path);
}
