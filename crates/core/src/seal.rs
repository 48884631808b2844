//! Sealing stored records that hold credentials (tokens in identity replies): AES-256-GCM.
//!
//! The key is `INTEG_RECORD_KEY` (or `_FILE`): 32 bytes, base64. Without it, a random key is
//! made at start-up and lives only in memory, so sealed records cannot be opened after a
//! restart or by another replica; such a record counts as gone. Several replicas sharing a
//! PostgreSQL store should share a configured key.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;

use crate::config::{ConfigError, Env};
use crate::error::{Error, Result};

/// Seals and opens records with one key.
pub struct Sealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    /// The sealer of `INTEG_RECORD_KEY`, or one with a fresh in-memory key.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let Some(secret) = env.secret("INTEG_RECORD_KEY")? else {
            let mut key = [0u8; 32];
            SystemRandom::new()
                .fill(&mut key)
                .map_err(|_| ConfigError::new("INTEG_RECORD_KEY", "no randomness"))?;
            return Self::new(&key)
                .map_err(|_| ConfigError::new("INTEG_RECORD_KEY", "cannot build a key"));
        };
        let bytes = secret
            .with_value(|v| base64::engine::general_purpose::STANDARD.decode(v))
            .map_err(|_| ConfigError::new("INTEG_RECORD_KEY", "must be 32 bytes in base64"))?;
        Self::new(&bytes)
            .map_err(|_| ConfigError::new("INTEG_RECORD_KEY", "must be 32 bytes in base64"))
    }

    /// A sealer with a raw 32-byte key.
    pub fn new(key: &[u8]) -> Result<Self> {
        let unbound = UnboundKey::new(&AES_256_GCM, key)
            .map_err(|_| Error::internal("record key must be 32 bytes"))?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Seals `plain` bound to `context` (for example the record's scope and key).
    pub fn seal(&self, context: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::internal("no randomness"))?;
        let mut data = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| Error::internal("cannot seal record"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// Opens what [`Sealer::seal`] made with the same key and context; `None` otherwise.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, data) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut data)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_with_the_same_key_and_context() {
        let a = Sealer::new(&[7; 32]).unwrap();
        let sealed = a.seal("scope:key", b"refresh-token").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"refresh"));
        assert_eq!(a.open("scope:key", &sealed).unwrap(), b"refresh-token");
        assert!(a.open("scope:other", &sealed).is_none());
        assert!(
            Sealer::new(&[8; 32])
                .unwrap()
                .open("scope:key", &sealed)
                .is_none()
        );
        assert!(a.open("scope:key", &sealed[..5]).is_none());
    }

    #[test]
    fn configured_keys_must_be_32_bytes() {
        let env = Env::from_pairs([("INTEG_RECORD_KEY", "c2hvcnQ=")]);
        assert_eq!(Sealer::from_env(&env).unwrap_err().key, "INTEG_RECORD_KEY");
        let key = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
        assert!(Sealer::from_env(&Env::from_pairs([("INTEG_RECORD_KEY", key)])).is_ok());
        assert!(Sealer::from_env(&Env::default()).is_ok());
    }
}
