//! Running a mutating RPC at most once per idempotency key.
//!
//! [`once`] claims the caller's key, runs the operation, and stores its encoded response; a
//! later call with the same key and the same request gets the stored response without the
//! operation running again. Keys are scoped by caller (the `integ-caller` metadata, or
//! `default`) and by method, and a request is identified by the SHA-256 of its protobuf
//! encoding (maps are ordered, so the encoding is deterministic).

use std::future::Future;
use std::time::Duration;

use prost::Message;

use crate::error::{Error, Result};
use crate::seal::Sealer;
use crate::store::{Claim, Store};

/// The metadata key naming the calling service, which scopes idempotency keys.
pub const CALLER_METADATA: &str = "integ-caller";

/// Longest idempotency key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 255;

/// The scope of a key: caller and method.
pub fn scope(metadata: &tonic::metadata::MetadataMap, method: &str) -> String {
    let caller = metadata
        .get(CALLER_METADATA)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("default");
    format!("{caller}:{method}")
}

/// The fingerprint of a request.
pub fn fingerprint(request: &impl Message) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &request.encode_to_vec());
    hex::encode(digest.as_ref())
}

/// The idempotency key sent to a provider for the caller's `key` in `scope`: unique per
/// caller and method, so that two callers who happen to pick the same key never collide at the
/// provider, and free of characters a provider might refuse. It is 38 characters (`integ-` and
/// 128 bits in hex), inside the shortest limit of the providers we call (Square: 45).
pub fn provider_key(scope: &str, key: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{scope}\n{key}").as_bytes(),
    );
    let half = digest.as_ref().get(..16).unwrap_or_default();
    format!("integ-{}", hex::encode(half))
}

/// Checks a key's shape (empty means no key).
pub fn validate_key(key: &str) -> Result<()> {
    if key.len() > MAX_KEY_LEN || !key.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(Error::invalid(
            "idempotency_key",
            "idempotency key must be at most 255 printable ASCII characters",
        ));
    }
    Ok(())
}

/// Runs `op` once per (`scope`, `key`) for requests equal to `request`. An empty key runs `op`
/// every time.
pub async fn once<Req, Resp, F, Fut>(
    store: &Store,
    scope: &str,
    key: &str,
    request: &Req,
    op: F,
) -> Result<Resp>
where
    Req: Message,
    Resp: Message + Default,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Resp>>,
{
    once_with(store, scope, key, request, &Keep::default(), op).await
}

/// How a response is kept for replay.
#[derive(Default)]
pub struct Keep<'a, Resp> {
    /// Seals the stored response (it holds credentials); `None` stores it as is.
    pub sealer: Option<&'a Sealer>,
    /// How long to keep it, when shorter than the 24 hours keys are remembered.
    pub ttl: Option<fn(&Resp) -> Duration>,
}

/// Like [`once`], keeping the response as `keep` says. A sealed response that cannot be
/// opened (the key changed) is treated as gone: the operation runs again.
pub async fn once_with<Req, Resp, F, Fut>(
    store: &Store,
    scope: &str,
    key: &str,
    request: &Req,
    keep: &Keep<'_, Resp>,
    op: F,
) -> Result<Resp>
where
    Req: Message,
    Resp: Message + Default,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Resp>>,
{
    validate_key(key)?;
    if key.is_empty() {
        return op().await;
    }
    let records = store.idempotency();
    let context = format!("{scope}\n{key}");
    let mut claim = records.claim(scope, key, &fingerprint(request)).await?;
    if let (Claim::Replay(bytes), Some(sealer)) = (&claim, keep.sealer) {
        match sealer.open(&context, bytes) {
            Some(plain) => claim = Claim::Replay(plain),
            None => {
                records.release(scope, key).await?;
                claim = records.claim(scope, key, &fingerprint(request)).await?;
            }
        }
    }
    match claim {
        Claim::Replay(bytes) => {
            metrics::counter!("integ_idempotent_replays_total").increment(1);
            Resp::decode(bytes.as_slice())
                .map_err(|_| Error::internal("stored idempotent response is corrupt"))
        }
        Claim::New => match op().await {
            Ok(response) => {
                let mut bytes = response.encode_to_vec();
                if let Some(sealer) = keep.sealer {
                    bytes = sealer.seal(&context, &bytes)?;
                }
                let ttl = keep.ttl.map(|f| f(&response));
                records.finish(scope, key, &bytes, ttl).await?;
                Ok(response)
            }
            Err(error) => {
                records.release(scope, key).await?;
                Err(error)
            }
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn provider_keys_are_short_plain_and_scoped() {
        let key = provider_key("checkout:CreatePayment", "order-42");
        assert_eq!(key.len(), 38, "Square allows 45 characters");
        assert!(key.starts_with("integ-"));
        assert!(key[6..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(key, provider_key("checkout:CreatePayment", "order-42"));
        assert_ne!(key, provider_key("billing:CreatePayment", "order-42"));
        assert_ne!(key, provider_key("checkout:CreateRefund", "order-42"));
    }
}
