//! The seam between the storage service and its providers.
//!
//! Bodies are streams of byte chunks both ways, so that an object is never held whole in
//! memory. A provider serves the buckets it is configured with; any other is `NOT_FOUND`.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use integ_core::Result;
use integ_core::family::CallCtx;
use integ_proto::storage::v1::{Object, PresignedUrlMethod};

/// A stream of content chunks.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// What a put writes besides the content.
#[derive(Debug, Clone, Default)]
pub struct PutParams {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The media type.
    pub content_type: String,
    /// User metadata.
    pub metadata: std::collections::BTreeMap<String, String>,
    /// Write only if nothing is at the key yet.
    pub if_none_match: bool,
    /// The declared size, when known.
    pub size: Option<u64>,
}

/// A byte range `[start, end)`; `end` `None` means to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// Just past the last byte.
    pub end: Option<u64>,
}

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// Objects in key order.
    pub objects: Vec<Object>,
    /// Prefixes grouped by the delimiter.
    pub common_prefixes: Vec<String>,
    /// The token of the next page, empty at the end.
    pub next_page_token: String,
}

/// A signed URL and the headers its request must carry.
#[derive(Debug, Clone, Default)]
pub struct Presigned {
    /// The URL.
    pub url: String,
    /// Headers the client must send with it.
    pub headers: std::collections::BTreeMap<String, String>,
}

/// A storage provider.
#[async_trait]
pub trait StorageProvider: Send + Sync {
    /// The provider's name.
    fn name(&self) -> &'static str;

    /// Writes an object from `body`.
    async fn put(&self, ctx: &CallCtx, params: &PutParams, body: ByteStream) -> Result<Object>;

    /// Reads an object or a range of it: its metadata, the range served, and the content.
    async fn get(
        &self,
        ctx: &CallCtx,
        bucket: &str,
        key: &str,
        range: Option<Range>,
        if_match: Option<&str>,
    ) -> Result<(Object, Range, ByteStream)>;

    /// Reads an object's metadata.
    async fn head(&self, ctx: &CallCtx, bucket: &str, key: &str) -> Result<Object>;

    /// Deletes an object; deleting a missing object succeeds.
    async fn delete(&self, ctx: &CallCtx, bucket: &str, key: &str) -> Result<()>;

    /// Lists objects under `prefix`, grouping by `delimiter` when it is not empty.
    async fn list(
        &self,
        ctx: &CallCtx,
        bucket: &str,
        prefix: &str,
        delimiter: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<ListPage>;

    /// Signs a URL for `method` on an object, valid for `expires_in`.
    fn presign(
        &self,
        bucket: &str,
        key: &str,
        method: PresignedUrlMethod,
        expires_in: Duration,
        content_type: &str,
    ) -> Result<Presigned>;
}
