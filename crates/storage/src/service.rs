//! `integ.storage.v1.StorageService`: streaming uploads and downloads, listing and presigned
//! URLs over the family's providers.
//!
//! An object lives at one provider, so storage never fails over: an empty `provider` means the
//! first configured one. Uploads stream to the provider as chunks arrive (no whole-object
//! buffer) except conditional creates, which are capped at [`MAX_CONDITIONAL_BYTES`].

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use integ_core::family::{self, CallCtx, Reply, provider_health, reply, required};
use integ_core::idempotent;
use integ_core::resilience::{Deadline, Providers, Repeat};
use integ_core::store::Store;
use integ_core::{Error, Kind, Result};
use integ_proto::storage::v1::storage_service_server::StorageService;
use integ_proto::storage::v1::*;
use tonic::{Request, Response, Status, Streaming};

use crate::provider::{ByteStream, PutParams, Range, StorageProvider};

/// Largest chunk in either direction, in bytes.
pub const MAX_CHUNK: usize = 1 << 20;
/// Largest object, in bytes.
pub const MAX_OBJECT: u64 = 5 << 30;
/// Largest conditional (`if_none_match`) upload, which is held in memory for an atomic create.
pub const MAX_CONDITIONAL_BYTES: u64 = 64 << 20;
/// Longest presigned URL lifetime.
pub const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

/// The storage service.
pub struct Storage {
    providers: Providers<dyn StorageProvider>,
    store: Store,
}

impl Storage {
    /// A service over `providers`, keeping idempotency records in `store`.
    pub fn new(providers: Providers<dyn StorageProvider>, store: Store) -> Self {
        Self { providers, store }
    }

    fn pick(&self, requested: &str) -> Result<String> {
        if !requested.is_empty() {
            return self.providers.get(requested).map(|e| e.name.clone());
        }
        self.providers
            .entries()
            .first()
            .map(|e| e.name.clone())
            .ok_or_else(|| Error::internal("no provider configured"))
    }

    async fn call<T, F, Fut>(
        &self,
        provider: &str,
        deadline: Deadline,
        repeat: Repeat,
        op: F,
    ) -> Result<T>
    where
        F: Fn(Arc<dyn StorageProvider>, CallCtx) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let served = self
            .providers
            .call(provider, deadline, repeat, |p, attempt| {
                op(
                    p,
                    CallCtx {
                        idempotency_key: String::new(),
                        attempt,
                    },
                )
            })
            .await?;
        Ok(served.value)
    }

    async fn put(
        &self,
        deadline: Deadline,
        meta: PutObjectMetadata,
        chunks: Streaming<PutObjectRequest>,
    ) -> Result<PutObjectResponse> {
        let provider = self.pick(&meta.provider)?;
        let params = PutParams {
            bucket: meta.bucket.clone(),
            key: meta.key.clone(),
            content_type: meta.content_type.clone(),
            metadata: meta.metadata.clone(),
            if_none_match: meta.if_none_match,
            size: meta.size_bytes.map(|s| s as u64),
        };
        let limit = if meta.if_none_match {
            MAX_CONDITIONAL_BYTES
        } else {
            MAX_OBJECT
        };
        let body = Mutex::new(Some(body_stream(chunks, limit)));
        let object = self
            .call(&provider, deadline, Repeat::Unsafe, |p, ctx| {
                let taken = body.lock().ok().and_then(|mut b| b.take());
                let params = params.clone();
                async move {
                    let body = taken.ok_or_else(|| {
                        Error::new(Kind::Unavailable, "upload interrupted; send it again")
                            .retryable(false)
                    })?;
                    p.put(&ctx, &params, body).await
                }
            })
            .await?;
        Ok(PutObjectResponse {
            object: Some(object),
            provider,
        })
    }
}

/// The chunks after the first message, checked and capped at `limit` bytes in all.
fn body_stream(chunks: Streaming<PutObjectRequest>, limit: u64) -> ByteStream {
    let mut total: u64 = 0;
    chunks
        .map(move |message| {
            let message = message.map_err(|s| {
                Error::invalid("chunk", format!("upload stream failed: {}", s.message()))
            })?;
            let Some(put_object_request::Data::Chunk(chunk)) = message.data else {
                return Err(Error::invalid(
                    "metadata",
                    "only the first message may carry metadata",
                ));
            };
            if chunk.is_empty() || chunk.len() > MAX_CHUNK {
                return Err(Error::invalid("chunk", "chunks hold 1 byte to 1 MiB"));
            }
            total += chunk.len() as u64;
            if total > limit {
                return Err(Error::invalid(
                    "chunk",
                    format!("the object exceeds {limit} bytes"),
                ));
            }
            Ok(Bytes::from(chunk))
        })
        .boxed()
}

fn validate_location(bucket: &str, key: &str) -> Result<()> {
    required("bucket", bucket)?;
    required("key", key)?;
    let bad = key.len() > 1024
        || key.starts_with('/')
        || key.ends_with('/')
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        || key.chars().any(char::is_control);
    if bad {
        return Err(Error::invalid(
            "key",
            "key must be 1 to 1024 bytes of '/'-separated non-empty segments, without . or ..",
        ));
    }
    Ok(())
}

/// The page token after `last`.
pub fn encode_token(last: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last)
}

/// The entry a page token continues after (`None` for the first page).
pub fn decode_token(token: &str) -> Result<Option<String>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| Error::invalid("page_token", "page_token is not one we issued"))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| Error::invalid("page_token", "page_token is not one we issued"))
}

type GetStream = Pin<Box<dyn Stream<Item = std::result::Result<GetObjectResponse, Status>> + Send>>;

#[tonic::async_trait]
impl StorageService for Storage {
    async fn put_object(
        &self,
        request: Request<Streaming<PutObjectRequest>>,
    ) -> Reply<PutObjectResponse> {
        let deadline = family::deadline(&request);
        let scope = idempotent::scope(request.metadata(), "PutObject");
        let mut chunks = request.into_inner();
        reply(async {
            let first = chunks
                .message()
                .await
                .map_err(|s| Error::invalid("metadata", s.message().to_owned()))?;
            let Some(PutObjectRequest {
                data: Some(put_object_request::Data::Metadata(meta)),
            }) = first
            else {
                return Err(Error::invalid(
                    "metadata",
                    "the first message must carry the object's metadata",
                ));
            };
            validate_location(&meta.bucket, &meta.key)?;
            family::validate_metadata("metadata.metadata", &meta.metadata)?;
            if meta
                .size_bytes
                .is_some_and(|s| s < 0 || s as u64 > MAX_OBJECT)
            {
                return Err(Error::invalid(
                    "metadata.size_bytes",
                    "size must be between 0 and 5 GiB",
                ));
            }
            let key = family::idempotency_key(&meta.idempotency_key)?.to_owned();
            // The fingerprint covers the metadata: the content is still streaming when the key
            // is claimed.
            let fingerprint_of = meta.clone();
            idempotent::once(&self.store, &scope, &key, &fingerprint_of, || {
                self.put(deadline, meta, chunks)
            })
            .await
        })
        .await
    }

    type GetObjectStream = GetStream;

    async fn get_object(&self, request: Request<GetObjectRequest>) -> Reply<GetStream> {
        let deadline = family::deadline(&request);
        let req = request.into_inner();
        let result: Result<GetStream> = async {
            validate_location(&req.bucket, &req.key)?;
            let range = match &req.range {
                None => None,
                Some(r) if r.start < 0 || r.end.is_some_and(|e| e <= r.start) => {
                    return Err(Error::invalid("range", "range needs 0 <= start < end"));
                }
                Some(r) => Some(Range {
                    start: r.start as u64,
                    end: r.end.map(|e| e as u64),
                }),
            };
            let provider = self.pick(&req.provider)?;
            let if_match = Some(req.if_match.clone()).filter(|t| !t.is_empty());
            let (object, served, body) = self
                .call(&provider, deadline, Repeat::Safe, |p, ctx| {
                    let (bucket, key, if_match) =
                        (req.bucket.clone(), req.key.clone(), if_match.clone());
                    async move { p.get(&ctx, &bucket, &key, range, if_match.as_deref()).await }
                })
                .await?;
            let head = GetObjectResponse {
                data: Some(get_object_response::Data::Metadata(GetObjectMetadata {
                    object: Some(object),
                    range: Some(ByteRange {
                        start: served.start as i64,
                        end: served.end.map(|e| e as i64),
                    }),
                    provider,
                })),
            };
            let chunks = body.flat_map(|chunk| {
                let out: Vec<std::result::Result<GetObjectResponse, Status>> = match chunk {
                    Ok(bytes) => split(bytes)
                        .map(|c| {
                            Ok(GetObjectResponse {
                                data: Some(get_object_response::Data::Chunk(c.to_vec())),
                            })
                        })
                        .collect(),
                    Err(e) => vec![Err(Status::from(e))],
                };
                futures_util::stream::iter(out)
            });
            Ok(futures_util::stream::once(async { Ok(head) })
                .chain(chunks)
                .boxed())
        }
        .await;
        result.map(Response::new).map_err(Status::from)
    }

    async fn head_object(&self, request: Request<HeadObjectRequest>) -> Reply<HeadObjectResponse> {
        let deadline = family::deadline(&request);
        let req = request.into_inner();
        reply(async {
            validate_location(&req.bucket, &req.key)?;
            let provider = self.pick(&req.provider)?;
            let object = self
                .call(&provider, deadline, Repeat::Safe, |p, ctx| {
                    let (bucket, key) = (req.bucket.clone(), req.key.clone());
                    async move { p.head(&ctx, &bucket, &key).await }
                })
                .await?;
            Ok(HeadObjectResponse {
                object: Some(object),
                provider,
            })
        })
        .await
    }

    async fn delete_object(
        &self,
        request: Request<DeleteObjectRequest>,
    ) -> Reply<DeleteObjectResponse> {
        family::mutate(
            &self.store,
            request,
            "DeleteObject",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |deadline, req| async move {
                validate_location(&req.bucket, &req.key)?;
                let provider = self.pick(&req.provider)?;
                self.call(&provider, deadline, Repeat::Safe, |p, ctx| {
                    let (bucket, key) = (req.bucket.clone(), req.key.clone());
                    async move { p.delete(&ctx, &bucket, &key).await }
                })
                .await?;
                Ok(DeleteObjectResponse { provider })
            },
        )
        .await
    }

    async fn list_objects(
        &self,
        request: Request<ListObjectsRequest>,
    ) -> Reply<ListObjectsResponse> {
        let deadline = family::deadline(&request);
        let req = request.into_inner();
        reply(async {
            required("bucket", &req.bucket)?;
            let page_size = match req.page_size {
                0 => 1000,
                n @ 1..=1000 => n as usize,
                _ => return Err(Error::invalid("page_size", "page_size must be 0 to 1000")),
            };
            decode_token(&req.page_token)?;
            let provider = self.pick(&req.provider)?;
            let page = self
                .call(&provider, deadline, Repeat::Safe, |p, ctx| {
                    let req = req.clone();
                    async move {
                        p.list(
                            &ctx,
                            &req.bucket,
                            &req.prefix,
                            &req.delimiter,
                            page_size,
                            &req.page_token,
                        )
                        .await
                    }
                })
                .await?;
            Ok(ListObjectsResponse {
                objects: page.objects,
                common_prefixes: page.common_prefixes,
                next_page_token: page.next_page_token,
                provider,
            })
        })
        .await
    }

    async fn create_presigned_url(
        &self,
        request: Request<CreatePresignedUrlRequest>,
    ) -> Reply<CreatePresignedUrlResponse> {
        let req = request.into_inner();
        reply(async {
            validate_location(&req.bucket, &req.key)?;
            let method = req.method();
            if method == PresignedUrlMethod::Unspecified {
                return Err(Error::invalid("method", "method must be GET or PUT"));
            }
            let expires_in = family::std_duration("expires_in", req.expires_in.as_ref())?
                .unwrap_or(Duration::from_secs(900));
            if expires_in < Duration::from_secs(1) || expires_in > MAX_PRESIGN {
                return Err(Error::invalid(
                    "expires_in",
                    "expires_in must be 1 second to 7 days",
                ));
            }
            let provider = self.pick(&req.provider)?;
            let entry = self.providers.get(&provider)?;
            let signed = entry.provider.presign(
                &req.bucket,
                &req.key,
                method,
                expires_in,
                &req.content_type,
            )?;
            Ok(CreatePresignedUrlResponse {
                url: signed.url,
                expire_time: Some(family::timestamp(SystemTime::now() + expires_in)),
                headers: signed.headers,
                provider,
            })
        })
        .await
    }

    async fn get_provider_health(
        &self,
        request: Request<GetProviderHealthRequest>,
    ) -> Reply<GetProviderHealthResponse> {
        let providers =
            provider_health(&self.providers, &request.get_ref().provider).map_err(Status::from)?;
        Ok(Response::new(GetProviderHealthResponse { providers }))
    }
}

/// Splits a chunk into pieces of at most [`MAX_CHUNK`] bytes.
fn split(bytes: Bytes) -> impl Iterator<Item = Bytes> {
    let len = bytes.len();
    (0..len)
        .step_by(MAX_CHUNK)
        .map(move |at| bytes.slice(at..(at + MAX_CHUNK).min(len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(validate_location("b", "a/b.txt").is_ok());
        for bad in ["", "/a", "a/", "a//b", "a/../b", "./a"] {
            assert!(validate_location("b", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn page_tokens_round_trip_and_reject_junk() {
        assert_eq!(
            decode_token(&encode_token("a/b")).ok().flatten().as_deref(),
            Some("a/b")
        );
        assert!(decode_token("***").is_err());
        assert_eq!(decode_token("").ok().flatten(), None);
    }

    #[test]
    fn big_chunks_are_split() {
        let pieces: Vec<_> = split(Bytes::from(vec![0u8; MAX_CHUNK * 2 + 1]))
            .map(|b| b.len())
            .collect();
        assert_eq!(pieces, [MAX_CHUNK, MAX_CHUNK, 1]);
    }
}
