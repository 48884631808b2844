//! Serves the sandbox's presigned URLs: `GET` and `PUT /sandbox/objects/{bucket}/{*key}`
//! with `expires` and `signature` query parameters. A missing, wrong or expired signature is
//! 403, as at a cloud provider; nothing about which check failed is said.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{StreamExt, TryStreamExt};
use integ_core::Error;
use integ_core::family::CallCtx;

use crate::provider::{PutParams, StorageProvider};
use crate::sandbox::Sandbox;

/// Largest body a presigned PUT accepts, in bytes.
pub const MAX_PRESIGNED_PUT: usize = 64 << 20;

pub(crate) fn router(sandbox: Arc<Sandbox>) -> axum::Router {
    axum::Router::new()
        .route(
            "/sandbox/objects/{bucket}/{*key}",
            get(download).put(upload),
        )
        .layer(DefaultBodyLimit::max(MAX_PRESIGNED_PUT))
        .with_state(sandbox)
}

fn signed(
    sandbox: &Sandbox,
    method: &str,
    bucket: &str,
    key: &str,
    content_type: &str,
    q: &HashMap<String, String>,
) -> bool {
    let expires = q.get("expires").and_then(|e| e.parse::<u64>().ok());
    let signature = q.get("signature").map(String::as_str).unwrap_or_default();
    expires
        .is_some_and(|e| sandbox.check_signature(method, bucket, key, e, content_type, signature))
}

fn failed(e: &Error) -> Response {
    let status = match e.kind {
        integ_core::Kind::NotFound => StatusCode::NOT_FOUND,
        integ_core::Kind::InvalidArgument => StatusCode::BAD_REQUEST,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, e.message.clone()).into_response()
}

async fn download(
    State(sandbox): State<Arc<Sandbox>>,
    Path((bucket, key)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !signed(&sandbox, "GET", &bucket, &key, "", &q) {
        return StatusCode::FORBIDDEN.into_response();
    }
    match sandbox
        .get(&CallCtx::default(), &bucket, &key, None, None)
        .await
    {
        Ok((object, _, body)) => {
            let body = Body::from_stream(body.map_err(|e| std::io::Error::other(e.message)));
            let content_type = if object.content_type.is_empty() {
                "application/octet-stream".to_owned()
            } else {
                object.content_type
            };
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::ETAG, object.etag),
                ],
                body,
            )
                .into_response()
        }
        Err(e) => failed(&e),
    }
}

async fn upload(
    State(sandbox): State<Arc<Sandbox>>,
    Path((bucket, key)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !signed(&sandbox, "PUT", &bucket, &key, &content_type, &q) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let stream = body
        .into_data_stream()
        .map_err(|_| Error::invalid("body", "upload was cut off"))
        .boxed();
    let params = PutParams {
        bucket,
        key,
        content_type,
        ..PutParams::default()
    };
    match sandbox.put(&CallCtx::default(), &params, stream).await {
        Ok(object) => (StatusCode::OK, [(header::ETAG, object.etag)]).into_response(),
        Err(e) => failed(&e),
    }
}
