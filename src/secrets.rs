//! Secrets at rest: passwords, client secrets and tokens are sealed with XChaCha20-Poly1305
//! (a fresh random nonce each time, the field's name as associated data) before they are
//! stored or put into a job payload, and opened only where they are sent to Acumatica.
//!
//! The key comes from `BRIDGE_SECRET_KEY` (32 bytes, hex or base64) or from the key file
//! `<data-dir>/secret.key` (generated on first start, mode 0600). A key-check record in the
//! store makes a wrong key a clear error at start instead of garbage later.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};

pub use crate::domain::secret::Secret;
use crate::store::{Store, trees};

const KEY_FILE: &str = "secret.key";
const CHECK_KEY: &str = "secret_key_check";
const CHECK_FIELD: &str = "key-check";
const CHECK_TEXT: &str = "acumatica-bridge secret key check";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("BRIDGE_SECRET_KEY must be 32 bytes written as 64 hex digits or as base64")]
    BadEnvKey,
    #[error("the key file {0} must hold 32 bytes as 64 hex digits")]
    BadKeyFile(String),
    #[error("cannot read or create the key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the secret key does not match the key this store's secrets were sealed with; \
         use the original BRIDGE_SECRET_KEY or key file (secrets sealed under another key cannot be read)"
    )]
    WrongKey,
    #[error(
        "a stored secret ({0}) could not be opened: it is damaged or was sealed under another key"
    )]
    Open(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl From<sled::Error> for SecretsError {
    fn from(e: sled::Error) -> Self {
        SecretsError::Store(e.into())
    }
}

/// A sealed secret as stored: base64 of nonce ‖ ciphertext.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(String);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealed(…)")
    }
}

/// Seals and opens secrets under the service's key. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    cipher: XChaCha20Poly1305,
}

impl Vault {
    /// The vault for `data_dir`: key from `env_key` (BRIDGE_SECRET_KEY) or the key file,
    /// checked against the store's key-check record (written on first use).
    pub fn open(
        data_dir: &Path,
        env_key: Option<&str>,
        store: &Store,
    ) -> Result<Vault, SecretsError> {
        let key = match env_key.filter(|k| !k.trim().is_empty()) {
            Some(text) => parse_key(text.trim()).ok_or(SecretsError::BadEnvKey)?,
            None => key_file(data_dir)?,
        };
        let vault = Vault::from_key(&key);
        let meta = store.raw_tree(trees::META)?;
        match meta.get(CHECK_KEY)? {
            Some(bytes) => {
                let sealed = Sealed(String::from_utf8_lossy(&bytes).into_owned());
                match vault.open_secret(CHECK_FIELD, &sealed) {
                    Ok(s) if s.expose() == CHECK_TEXT => {}
                    _ => return Err(SecretsError::WrongKey),
                }
            }
            None => {
                let sealed = vault.seal(CHECK_FIELD, &Secret::new(CHECK_TEXT));
                meta.insert(CHECK_KEY, sealed.0.as_bytes())?;
                store.db().flush()?;
            }
        }
        Ok(vault)
    }

    pub fn from_key(key: &[u8; 32]) -> Vault {
        Vault {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// Seals `secret`; `field` (e.g. "password") is bound as associated data, so a sealed
    /// value cannot be moved to another field.
    pub fn seal(&self, field: &str, secret: &Secret) -> Sealed {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.expose().as_bytes(),
                    aad: field.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption does not fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Sealed(STANDARD.encode(out))
    }

    pub fn open_secret(&self, field: &str, sealed: &Sealed) -> Result<Secret, SecretsError> {
        let bytes = STANDARD
            .decode(&sealed.0)
            .map_err(|_| SecretsError::Open(field.into()))?;
        if bytes.len() < 24 {
            return Err(SecretsError::Open(field.into()));
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: field.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Open(field.into()))?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| SecretsError::Open(field.into()))
    }
}

fn parse_key(text: &str) -> Option<[u8; 32]> {
    let bytes = if text.len() == 64 {
        hex::decode(text).ok()?
    } else {
        STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .ok()?
    };
    bytes.try_into().ok()
}

/// Reads the key file, or creates it (mode 0600) with a fresh random key.
fn key_file(data_dir: &Path) -> Result<[u8; 32], SecretsError> {
    let path = data_dir.join(KEY_FILE);
    let shown = path.display().to_string();
    let io = |source| SecretsError::KeyFile {
        path: shown.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            if let Some(mode) = crate::store::private::lax_mode(&path) {
                tracing::warn!(
                    path = %shown,
                    mode = format!("{mode:o}"),
                    "the secret key file can be read by other users: run `chmod 600` on it, \
                     or better keep the key outside the data dir in BRIDGE_SECRET_KEY"
                );
            }
            let bytes =
                hex::decode(text.trim()).map_err(|_| SecretsError::BadKeyFile(shown.clone()))?;
            bytes
                .try_into()
                .map_err(|_| SecretsError::BadKeyFile(shown.clone()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&path).map_err(io)?;
            file.write_all(hex::encode(key).as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            // The file's directory entry must be durable too, or a crash loses the key.
            crate::store::private::sync_dir(data_dir).map_err(io)?;
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_with_fresh_nonces() {
        let v = Vault::from_key(&[7; 32]);
        let s = Secret::new("hunter2");
        let a = v.seal("password", &s);
        let b = v.seal("password", &s);
        assert_ne!(a, b, "the same value seals to different bytes");
        assert_eq!(v.open_secret("password", &a).unwrap(), s);
        assert!(
            v.open_secret("client_secret", &a).is_err(),
            "bound to its field"
        );
        assert!(
            Vault::from_key(&[8; 32])
                .open_secret("password", &a)
                .is_err()
        );
        assert_eq!(format!("{s:?} {s}"), "*** ***");
    }

    #[test]
    fn keys_parse_from_hex_and_base64() {
        assert_eq!(parse_key(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(parse_key(&STANDARD.encode([1u8; 32])), Some([1; 32]));
        assert_eq!(parse_key("short"), None);
    }

    #[test]
    fn a_wrong_key_is_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let one = hex::encode([1u8; 32]);
        Vault::open(dir.path(), Some(&one), &store).unwrap();
        Vault::open(dir.path(), Some(&one), &store).unwrap();
        let two = hex::encode([2u8; 32]);
        assert!(matches!(
            Vault::open(dir.path(), Some(&two), &store),
            Err(SecretsError::WrongKey)
        ));
    }

    #[test]
    fn the_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = key_file(dir.path()).unwrap();
        let b = key_file(dir.path()).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
