//! The storage contract through the sandbox provider: streaming put and get with ranges, head,
//! list with prefixes and pages, delete, and presigned URLs used over plain HTTP.

use integ_proto::storage::v1::storage_service_client::StorageServiceClient;
use integ_proto::storage::v1::*;
use integ_testkit::{Running, Start};
use tonic::Code;
use tonic::transport::Channel;

async fn client() -> (Running, StorageServiceClient<Channel>) {
    let adapter = Start::new("storage")
        .env("INTEG_SANDBOX_BUCKETS", "default,media")
        .spawn()
        .await
        .unwrap();
    let client = StorageServiceClient::new(adapter.channel().await);
    (adapter, client)
}

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

async fn put(
    c: &mut StorageServiceClient<Channel>,
    key: &str,
    data: &[u8],
    if_none_match: bool,
) -> Result<Object, tonic::Status> {
    let mut messages = vec![PutObjectRequest {
        data: Some(put_object_request::Data::Metadata(PutObjectMetadata {
            bucket: "default".into(),
            key: key.into(),
            content_type: "application/octet-stream".into(),
            metadata: [("owner".to_owned(), "tests".to_owned())].into(),
            if_none_match,
            idempotency_key: format!("put-{key}-{}-{if_none_match}", data.len()),
            ..Default::default()
        })),
    }];
    for chunk in data.chunks(256 * 1024) {
        messages.push(PutObjectRequest {
            data: Some(put_object_request::Data::Chunk(chunk.to_vec())),
        });
    }
    c.put_object(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner().object.unwrap())
}

async fn get(
    c: &mut StorageServiceClient<Channel>,
    key: &str,
    range: Option<ByteRange>,
) -> Result<(GetObjectMetadata, Vec<u8>), tonic::Status> {
    let mut stream = c
        .get_object(GetObjectRequest {
            bucket: "default".into(),
            key: key.into(),
            range,
            ..Default::default()
        })
        .await?
        .into_inner();
    let mut metadata = None;
    let mut bytes = Vec::new();
    while let Some(message) = stream.message().await? {
        match message.data.unwrap() {
            get_object_response::Data::Metadata(m) => metadata = Some(m),
            get_object_response::Data::Chunk(c) => bytes.extend(c),
        }
    }
    Ok((metadata.unwrap(), bytes))
}

#[tokio::test]
async fn objects_stream_in_and_out_with_ranges_head_and_delete() {
    let (_adapter, mut c) = client().await;
    let data = content(3 * 1024 * 1024 + 17);
    let object = put(&mut c, "reports/2026/q4.bin", &data, false)
        .await
        .unwrap();
    assert_eq!(object.size_bytes, data.len() as i64);
    assert!(!object.etag.is_empty());

    let (meta, bytes) = get(&mut c, "reports/2026/q4.bin", None).await.unwrap();
    assert_eq!(bytes, data, "the whole object comes back byte for byte");
    assert_eq!(meta.object.unwrap().metadata["owner"], "tests");

    let (_, middle) = get(
        &mut c,
        "reports/2026/q4.bin",
        Some(ByteRange {
            start: 1000,
            end: Some(2000),
        }),
    )
    .await
    .unwrap();
    assert_eq!(middle, data[1000..2000], "end is exclusive");
    let (_, tail) = get(
        &mut c,
        "reports/2026/q4.bin",
        Some(ByteRange {
            start: 3 * 1024 * 1024,
            end: None,
        }),
    )
    .await
    .unwrap();
    assert_eq!(tail, data[3 * 1024 * 1024..]);

    let refused = put(&mut c, "reports/2026/q4.bin", b"other", true)
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::FailedPrecondition,
        "if_none_match on an existing key"
    );

    let head = c
        .head_object(HeadObjectRequest {
            bucket: "default".into(),
            key: "reports/2026/q4.bin".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .object
        .unwrap();
    assert_eq!(
        (head.size_bytes, head.etag),
        (object.size_bytes, object.etag)
    );

    c.delete_object(DeleteObjectRequest {
        bucket: "default".into(),
        key: "reports/2026/q4.bin".into(),
        idempotency_key: "del-1".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let gone = get(&mut c, "reports/2026/q4.bin", None).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);

    let unknown = c
        .head_object(HeadObjectRequest {
            bucket: "nosuchbucket".into(),
            key: "a".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(unknown.code(), Code::NotFound | Code::InvalidArgument),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn listing_pages_through_prefixes_and_folders() {
    let (_adapter, mut c) = client().await;
    for key in [
        "img/a.png",
        "img/b.png",
        "img/c.png",
        "img/raw/d.cr2",
        "docs/e.pdf",
    ] {
        put(&mut c, key, key.as_bytes(), false).await.unwrap();
    }
    let mut keys = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = c
            .list_objects(ListObjectsRequest {
                bucket: "default".into(),
                prefix: "img/".into(),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        keys.extend(page.objects.into_iter().map(|o| o.key));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        keys,
        ["img/a.png", "img/b.png", "img/c.png", "img/raw/d.cr2"]
    );
    assert!(pages >= 2, "page_size is honoured");

    let folders = c
        .list_objects(ListObjectsRequest {
            bucket: "default".into(),
            prefix: "img/".into(),
            delimiter: "/".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(folders.common_prefixes, ["img/raw/"]);
    assert_eq!(folders.objects.len(), 3);

    let junk = c
        .list_objects(ListObjectsRequest {
            bucket: "default".into(),
            page_token: "not-a-token".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(junk.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn presigned_urls_work_over_plain_http_and_only_as_signed() {
    let (_adapter, mut c) = client().await;
    let presign = |method: PresignedUrlMethod, key: &str| CreatePresignedUrlRequest {
        bucket: "default".into(),
        key: key.into(),
        method: method.into(),
        expires_in: Some(prost_types::Duration {
            seconds: 300,
            nanos: 0,
        }),
        content_type: "text/plain".into(),
        ..Default::default()
    };
    let upload = c
        .create_presigned_url(presign(PresignedUrlMethod::Put, "inbox/note.txt"))
        .await
        .unwrap()
        .into_inner();
    let http = reqwest::Client::new();
    let mut request = http.put(&upload.url).body("hello from a browser");
    for (k, v) in &upload.headers {
        request = request.header(k, v);
    }
    let put = request.send().await.unwrap();
    assert!(put.status().is_success(), "{}", put.status());

    let download = c
        .create_presigned_url(presign(PresignedUrlMethod::Get, "inbox/note.txt"))
        .await
        .unwrap()
        .into_inner();
    let got = http.get(&download.url).send().await.unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.text().await.unwrap(), "hello from a browser");

    let forged = download.url.replace("inbox/note.txt", "inbox/other.txt");
    let refused = http.get(&forged).send().await.unwrap();
    assert_eq!(
        refused.status().as_u16(),
        403,
        "a URL signed for one key opens no other"
    );
    let wrong_method = http.put(&download.url).body("x").send().await.unwrap();
    assert!(wrong_method.status().is_client_error());

    let (_, bytes) = get(&mut c, "inbox/note.txt", None).await.unwrap();
    assert_eq!(bytes, b"hello from a browser");
}
