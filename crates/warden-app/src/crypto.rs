//! Personal data at rest (AUD-4): AES-256-GCM with a random 96-bit nonce per value.
//!
//! Sealed format: `0x01 || nonce (12 bytes) || ciphertext+tag`. The key comes from the
//! configuration (base64 of 32 bytes) or from `<data_dir>/warden.key`, created with mode 0600 on
//! first start. Losing the key loses the personal data, not the rest of the database.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;

/// Why a key or a sealed value could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The configured key is not base64 of 32 bytes.
    #[error("crypto key must be base64 of exactly 32 bytes")]
    BadKey,
    /// The key file could not be read or written.
    #[error("key file {0}: {1}")]
    KeyFile(String, std::io::Error),
    /// The OS random source failed.
    #[error("no randomness available")]
    NoRandom,
    /// A sealed value is corrupt or was sealed with another key.
    #[error("sealed value cannot be opened (corrupt, or sealed with another key)")]
    Open,
}

/// Seals and opens personal data.
pub struct Sealer {
    cipher: Aes256Gcm,
    /// A second key derived from the first, for MACs (CSRF tokens): never the cipher key itself.
    mac_key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key hidden>)")
    }
}

impl Sealer {
    /// A sealer over a raw 32-byte key.
    pub fn from_key(key: &[u8; 32]) -> Sealer {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(b"warden mac key v1\0");
        h.update(key);
        Sealer {
            cipher: Aes256Gcm::new(key.into()),
            mac_key: h.finalize().into(),
        }
    }

    /// A sealer from base64 key text.
    pub fn from_base64(text: &str) -> Result<Sealer, CryptoError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::BadKey)?;
        let key: [u8; 32] = raw.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(Sealer::from_key(&key))
    }

    /// Loads `path`, or creates it (mode 0600) with a new random key.
    pub fn load_or_create(path: &Path) -> Result<Sealer, CryptoError> {
        let err = |e| CryptoError::KeyFile(path.display().to_string(), e);
        match std::fs::read_to_string(path) {
            Ok(text) => Sealer::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::getrandom(&mut key).map_err(|_| CryptoError::NoRandom)?;
                let text = base64::engine::general_purpose::STANDARD.encode(key);
                write_private(path, text.as_bytes()).map_err(err)?;
                Ok(Sealer::from_key(&key))
            }
            Err(e) => Err(err(e)),
        }
    }

    /// HMAC-SHA256 of `data` for `purpose` under the key's MAC subkey, as hex. Tokens made this
    /// way (CSRF) cannot be computed by anyone who does not hold the key file, even one who can
    /// set a cookie.
    pub fn mac(&self, purpose: &str, data: &[u8]) -> String {
        use hmac::Mac as _;
        let Ok(mut m) = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.mac_key)
        else {
            return String::new(); // HMAC takes keys of any length; cannot happen
        };
        m.update(purpose.as_bytes());
        m.update(b"\0");
        m.update(data);
        hex::encode(m.finalize().into_bytes())
    }

    /// Encrypts `plain`.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; 12];
        getrandom::getrandom(&mut nonce).map_err(|_| CryptoError::NoRandom)?;
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .map_err(|_| CryptoError::Open)?;
        let mut out = Vec::with_capacity(1 + 12 + ct.len());
        out.push(1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts a sealed value.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match sealed.split_first() {
            Some((1, rest)) if rest.len() > 12 => {
                let (nonce, ct) = rest.split_at(12);
                self.cipher
                    .decrypt(Nonce::from_slice(nonce), ct)
                    .map_err(|_| CryptoError::Open)
            }
            _ => Err(CryptoError::Open),
        }
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AUD-4: sealed values round-trip, differ each time, and fail under another key.
    #[test]
    fn seal_open() {
        let s = Sealer::from_key(&[7; 32]);
        let a = s.seal(b"alice@example.com").unwrap();
        let b = s.seal(b"alice@example.com").unwrap();
        assert_ne!(a, b);
        assert!(!a.windows(5).any(|w| w == b"alice"));
        assert_eq!(s.open(&a).unwrap(), b"alice@example.com");
        assert!(Sealer::from_key(&[8; 32]).open(&a).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile_dir();
        let p = dir.join("warden.key");
        let s1 = Sealer::load_or_create(&p).unwrap();
        let sealed = s1.seal(b"x").unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let s2 = Sealer::load_or_create(&p).unwrap();
        assert_eq!(s2.open(&sealed).unwrap(), b"x");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let mut r = [0u8; 8];
        getrandom::getrandom(&mut r).unwrap();
        let d = std::env::temp_dir().join(format!("warden-key-{}", hex::encode(r)));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
