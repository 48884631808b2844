//! The sandbox storage provider: objects are files under `INTEG_DATA_DIR/objects/<bucket>/`,
//! written through `object_store`'s local file system (a multipart write goes to a temporary
//! file and is renamed into place when complete, so a reader never sees half an object).
//! Content type and user metadata are kept in the store beside it.
//!
//! Writes and deletes are reported as `object.created` and `object.deleted` webhooks.
//!
//! Buckets are `INTEG_SANDBOX_BUCKETS` (comma-separated, default `default`). Presigned URLs
//! point at the adapter's own HTTP port (`INTEG_SANDBOX_BASE_URL`, default
//! `http://127.0.0.1:<port>`), under `/sandbox/objects/<bucket>/<key>`, signed with HMAC-SHA256
//! and an expiry, and checked there like a cloud provider checks its signatures.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use futures_util::{StreamExt, TryStreamExt};
use integ_core::config::{ConfigError, Env};
use integ_core::family::{CallCtx, OwnUrl, timestamp};
use integ_core::store::Store;
use integ_core::webhook::sandbox::Emitter;
use integ_core::{Error, Kind, Result};
use integ_proto::storage::v1::{Object, PresignedUrlMethod};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    WriteMultipart,
};
use serde::{Deserialize, Serialize};

use crate::provider::{ByteStream, ListPage, Presigned, PutParams, Range, StorageProvider};

/// The provider's name.
pub const NAME: &str = "sandbox";
const FAMILY: &str = "storage";

/// Settings of the sandbox storage provider.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where objects live.
    pub root: PathBuf,
    /// The buckets served.
    pub buckets: Vec<String>,
    /// Where presigned URLs point (`INTEG_SANDBOX_BASE_URL`); unset means the adapter's own
    /// bound HTTP address.
    pub base_url: Option<url::Url>,
}

impl SandboxConfig {
    /// Reads `INTEG_SANDBOX_*` for storage.
    pub fn from_env(env: &Env, data_dir: &std::path::Path) -> Result<Self, ConfigError> {
        let buckets = env.list("INTEG_SANDBOX_BUCKETS", &["default"]);
        if let Some(bad) = buckets.iter().find(|b| !valid_bucket(b)) {
            return Err(ConfigError::new(
                "INTEG_SANDBOX_BUCKETS",
                format!("{bad:?} is not a bucket name (3 to 63 of a-z, 0-9, '-', '.')"),
            ));
        }
        Ok(Self {
            root: data_dir.join("objects"),
            buckets,
            base_url: env.optional_url("INTEG_SANDBOX_BASE_URL")?,
        })
    }
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
}

/// Content type and user metadata of an object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Sidecar {
    content_type: String,
    metadata: BTreeMap<String, String>,
}

/// The sandbox provider.
pub struct Sandbox {
    buckets: HashMap<String, Arc<LocalFileSystem>>,
    store: Store,
    signing: hmac::Key,
    base_url: OwnUrl,
    events: Emitter,
}

impl Sandbox {
    /// Creates the bucket folders and loads (or makes) the URL signing key.
    pub async fn open(
        config: &SandboxConfig,
        base_url: OwnUrl,
        store: Store,
        events: Emitter,
    ) -> Result<Self> {
        let mut buckets = HashMap::new();
        for bucket in &config.buckets {
            let dir = config.root.join(bucket);
            std::fs::create_dir_all(&dir).map_err(|e| {
                Error::internal(format!("cannot create bucket folder: {}", e.kind()))
            })?;
            let fs = LocalFileSystem::new_with_prefix(&dir)
                .map_err(|_| Error::internal("cannot open bucket folder"))?;
            buckets.insert(bucket.clone(), Arc::new(fs));
        }
        let records = store.records(FAMILY);
        let b64 = base64::engine::general_purpose::STANDARD;
        let key = match records.get::<String>("presign_key", "default").await? {
            Some(k) => b64
                .decode(k)
                .map_err(|_| Error::internal("stored signing key is corrupt"))?,
            None => {
                let mut k = vec![0u8; 32];
                SystemRandom::new()
                    .fill(&mut k)
                    .map_err(|_| Error::internal("no randomness"))?;
                records
                    .put("presign_key", "default", &b64.encode(&k))
                    .await?;
                k
            }
        };
        Ok(Self {
            buckets,
            store,
            signing: hmac::Key::new(hmac::HMAC_SHA256, &key),
            base_url,
            events,
        })
    }

    fn bucket(&self, bucket: &str) -> Result<&Arc<LocalFileSystem>> {
        self.buckets
            .get(bucket)
            .ok_or_else(|| Error::not_found("bucket", bucket).with_provider(NAME))
    }

    fn sidecar_id(bucket: &str, key: &str) -> String {
        format!("{bucket}\n{key}")
    }

    async fn sidecar(&self, bucket: &str, key: &str) -> Result<Sidecar> {
        Ok(self
            .store
            .records(FAMILY)
            .get("object", &Self::sidecar_id(bucket, key))
            .await?
            .unwrap_or_default())
    }

    fn object(bucket: &str, meta: &ObjectMeta, sidecar: Sidecar) -> Object {
        let secs = meta.last_modified.timestamp();
        let nanos = meta.last_modified.timestamp_subsec_nanos();
        Object {
            bucket: bucket.to_owned(),
            key: meta.location.to_string(),
            size_bytes: i64::try_from(meta.size).unwrap_or(i64::MAX),
            content_type: sidecar.content_type,
            etag: meta.e_tag.clone().unwrap_or_default(),
            metadata: sidecar.metadata,
            update_time: Some(prost_types::Timestamp {
                seconds: secs,
                nanos: nanos as i32,
            }),
            provider: NAME.to_owned(),
        }
    }

    /// The canonical string a presigned URL signs.
    fn canonical(
        method: &str,
        bucket: &str,
        key: &str,
        expires: u64,
        content_type: &str,
    ) -> String {
        format!("{method}\n{bucket}\n{key}\n{expires}\n{content_type}")
    }

    /// Checks a presigned request: known method, not expired, signature right (constant time).
    pub fn check_signature(
        &self,
        method: &str,
        bucket: &str,
        key: &str,
        expires: u64,
        content_type: &str,
        signature: &str,
    ) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(u64::MAX);
        let Ok(sig) = hex::decode(signature) else {
            return false;
        };
        now <= expires
            && hmac::verify(
                &self.signing,
                Self::canonical(method, bucket, key, expires, content_type).as_bytes(),
                &sig,
            )
            .is_ok()
    }
}

fn path(key: &str) -> Result<Path> {
    Path::parse(key).map_err(|_| Error::invalid("key", "key is not a valid object key"))
}

fn storage_error(e: object_store::Error, what: &str) -> Error {
    match e {
        object_store::Error::NotFound { .. } => {
            Error::not_found("object", what).with_provider(NAME)
        }
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            Error::new(Kind::FailedPrecondition, "the object's precondition failed")
                .with_provider(NAME)
        }
        _ => {
            tracing::warn!(provider = NAME, error = %e, "sandbox storage failed");
            Error::new(Kind::Unavailable, "sandbox storage failed").with_provider(NAME)
        }
    }
}

#[async_trait]
impl StorageProvider for Sandbox {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn put(&self, _ctx: &CallCtx, p: &PutParams, mut body: ByteStream) -> Result<Object> {
        let fs = self.bucket(&p.bucket)?.clone();
        let location = path(&p.key)?;
        let mut written: u64 = 0;
        if p.if_none_match {
            // An atomic create needs the whole payload in one call; the service caps its size.
            let mut parts = Vec::new();
            while let Some(chunk) = body.try_next().await? {
                written += chunk.len() as u64;
                parts.push(chunk);
            }
            check_size(p.size, written)?;
            let opts = PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            fs.put_opts(&location, PutPayload::from_iter(parts), opts)
                .await
                .map_err(|e| storage_error(e, &p.key))?;
        } else {
            let upload = fs
                .put_multipart(&location)
                .await
                .map_err(|e| storage_error(e, &p.key))?;
            let mut writer = WriteMultipart::new(upload);
            let streamed = async {
                while let Some(chunk) = body.try_next().await? {
                    written += chunk.len() as u64;
                    writer.write(&chunk);
                }
                check_size(p.size, written)
            }
            .await;
            match streamed {
                Ok(()) => {
                    writer
                        .finish()
                        .await
                        .map_err(|e| storage_error(e, &p.key))?;
                }
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e);
                }
            }
        }
        let sidecar = Sidecar {
            content_type: p.content_type.clone(),
            metadata: p.metadata.clone(),
        };
        self.store
            .records(FAMILY)
            .put("object", &Self::sidecar_id(&p.bucket, &p.key), &sidecar)
            .await?;
        let meta = fs
            .head(&location)
            .await
            .map_err(|e| storage_error(e, &p.key))?;
        self.events.emit(
            "object.created",
            "object",
            &format!("{}/{}", p.bucket, p.key),
        );
        Ok(Self::object(&p.bucket, &meta, sidecar))
    }

    async fn get(
        &self,
        _ctx: &CallCtx,
        bucket: &str,
        key: &str,
        range: Option<Range>,
        if_match: Option<&str>,
    ) -> Result<(Object, Range, ByteStream)> {
        let fs = self.bucket(bucket)?.clone();
        let location = path(key)?;
        let meta = fs
            .head(&location)
            .await
            .map_err(|e| storage_error(e, key))?;
        if let Some(tag) = if_match
            && meta.e_tag.as_deref() != Some(tag)
        {
            return Err(Error::new(
                Kind::FailedPrecondition,
                "the object changed since the etag was read",
            )
            .with_provider(NAME));
        }
        let size = meta.size;
        let wanted = range.unwrap_or(Range {
            start: 0,
            end: None,
        });
        if range.is_some() && wanted.start >= size {
            return Err(Error::new(
                Kind::OutOfRange,
                "the range starts at or past the end of the object",
            )
            .with_provider(NAME));
        }
        let end = wanted.end.map_or(size, |e| e.min(size));
        let served = Range {
            start: wanted.start,
            end: Some(end),
        };
        let sidecar = self.sidecar(bucket, key).await?;
        let object = Self::object(bucket, &meta, sidecar);
        if size == 0 {
            return Ok((object, served, futures_util::stream::empty().boxed()));
        }
        let opts = GetOptions {
            range: Some(GetRange::Bounded(wanted.start..end)),
            if_match: meta.e_tag.clone(),
            ..GetOptions::default()
        };
        let result = fs
            .get_opts(&location, opts)
            .await
            .map_err(|e| storage_error(e, key))?;
        let owned_key = key.to_owned();
        let stream = result
            .into_stream()
            .map_err(move |e| storage_error(e, &owned_key))
            .boxed();
        Ok((object, served, stream))
    }

    async fn head(&self, _ctx: &CallCtx, bucket: &str, key: &str) -> Result<Object> {
        let fs = self.bucket(bucket)?;
        let meta = fs
            .head(&path(key)?)
            .await
            .map_err(|e| storage_error(e, key))?;
        Ok(Self::object(
            bucket,
            &meta,
            self.sidecar(bucket, key).await?,
        ))
    }

    async fn delete(&self, _ctx: &CallCtx, bucket: &str, key: &str) -> Result<()> {
        let fs = self.bucket(bucket)?;
        match fs.delete(&path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(storage_error(e, key)),
        }
        let existed = self
            .store
            .records(FAMILY)
            .delete("object", &Self::sidecar_id(bucket, key))
            .await?;
        if existed {
            self.events
                .emit("object.deleted", "object", &format!("{bucket}/{key}"));
        }
        Ok(())
    }

    async fn list(
        &self,
        _ctx: &CallCtx,
        bucket: &str,
        prefix: &str,
        delimiter: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<ListPage> {
        let fs = self.bucket(bucket)?;
        // object_store lists by whole path segments; S3-style prefixes are plain strings, so
        // list from the prefix's folder and filter.
        let folder = prefix
            .rsplit_once('/')
            .map(|(dir, _)| dir)
            .filter(|d| !d.is_empty());
        let folder = folder
            .map(Path::parse)
            .transpose()
            .map_err(|_| Error::invalid("prefix", "prefix is not a valid key prefix"))?;
        let mut metas: Vec<ObjectMeta> = fs
            .list(folder.as_ref())
            .try_filter(|m| std::future::ready(m.location.as_ref().starts_with(prefix)))
            .try_collect()
            .await
            .map_err(|e| storage_error(e, prefix))?;
        metas.sort_by(|a, b| a.location.as_ref().cmp(b.location.as_ref()));
        let after = crate::service::decode_token(page_token)?;
        let mut page = ListPage::default();
        let mut last = String::new();
        for meta in metas {
            let key = meta.location.to_string();
            let entry = match (
                delimiter.is_empty(),
                key.get(prefix.len()..)
                    .and_then(|rest| rest.find(delimiter)),
            ) {
                (false, Some(i)) => key
                    .get(..prefix.len() + i + delimiter.len())
                    .unwrap_or(&key)
                    .to_owned(),
                _ => key.clone(),
            };
            if after.as_deref().is_some_and(|a| entry.as_str() <= a) || entry == last {
                continue;
            }
            if page.objects.len() + page.common_prefixes.len() == page_size {
                page.next_page_token = crate::service::encode_token(&last);
                break;
            }
            if entry != key {
                page.common_prefixes.push(entry.clone());
            } else {
                let sidecar = self.sidecar(bucket, &key).await?;
                page.objects.push(Self::object(bucket, &meta, sidecar));
            }
            last = entry;
        }
        Ok(page)
    }

    fn presign(
        &self,
        bucket: &str,
        key: &str,
        method: PresignedUrlMethod,
        expires_in: Duration,
        content_type: &str,
    ) -> Result<Presigned> {
        self.bucket(bucket)?;
        let verb = if method == PresignedUrlMethod::Put {
            "PUT"
        } else {
            "GET"
        };
        let signed_type = if verb == "PUT" { content_type } else { "" };
        let expires = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
            + expires_in.as_secs();
        let tag = hmac::sign(
            &self.signing,
            Self::canonical(verb, bucket, key, expires, signed_type).as_bytes(),
        );
        let mut url = integ_core::http::join(
            &self.base_url.get()?,
            &format!("/sandbox/objects/{bucket}/{key}"),
        )?;
        url.query_pairs_mut()
            .append_pair("expires", &expires.to_string())
            .append_pair("signature", &hex::encode(tag.as_ref()));
        let mut headers = BTreeMap::new();
        if !signed_type.is_empty() {
            headers.insert("content-type".to_owned(), signed_type.to_owned());
        }
        Ok(Presigned {
            url: url.into(),
            headers,
        })
    }
}

fn check_size(declared: Option<u64>, written: u64) -> Result<()> {
    match declared {
        Some(size) if size != written => Err(Error::invalid(
            "metadata.size_bytes",
            format!("declared {size} bytes but {written} arrived"),
        )),
        _ => Ok(()),
    }
}

/// Now, for objects written by presigned requests.
pub fn now() -> Option<prost_types::Timestamp> {
    Some(timestamp(SystemTime::now()))
}
