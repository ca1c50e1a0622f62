//! Shared by the S3 adapter tests: a moto emulator with a fresh bucket, a raw SDK client
//! for looking behind the adapter's back, and body helpers.

#![allow(dead_code)] // each test file uses its own subset

use std::io;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream;
use tfr_blob_s3::{S3BlobStore, S3Config, S3Credentials};
use tfr_emulators::{Emulator, MOTO_ACCESS_KEY, MOTO_REGION, MOTO_SECRET_KEY};
use tfr_ports::stream::ByteStream;

pub const MIB: usize = 1024 * 1024;

/// A bucket name valid for S3 and unique per test.
pub fn bucket_name() -> String {
    format!("tfr-test-{}", uuid::Uuid::new_v4().simple())
}

/// A plain SDK client on the emulator (path style, static keys).
pub fn sdk_client(endpoint: &str, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(MOTO_REGION))
        .credentials_provider(Credentials::new(access_key, secret_key, None, None, "test"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub fn moto_client(emulator: &Emulator) -> aws_sdk_s3::Client {
    sdk_client(&emulator.endpoint(), MOTO_ACCESS_KEY, MOTO_SECRET_KEY)
}

pub async fn create_bucket(client: &aws_sdk_s3::Client, bucket: &str) {
    client
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "creating bucket {bucket}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        });
}

/// The adapter's settings for `bucket` on `endpoint` with static keys.
pub fn config(
    endpoint: &str,
    bucket: &str,
    prefix: &str,
    access_key: &str,
    secret_key: &str,
) -> S3Config {
    S3Config {
        bucket: bucket.to_string(),
        region: Some(MOTO_REGION.to_string()),
        prefix: prefix.to_string(),
        endpoint: Some(endpoint.to_string()),
        force_path_style: true,
        credentials: S3Credentials::Static {
            access_key_id: access_key.to_string(),
            secret_access_key: secret_key.to_string(),
            session_token: None,
        },
    }
}

/// A running moto, a fresh bucket on it, the adapter over that bucket and a raw client.
pub struct Moto {
    pub emulator: Emulator,
    pub bucket: String,
    pub store: S3BlobStore,
    pub client: aws_sdk_s3::Client,
}

impl Moto {
    pub async fn start(prefix: &str) -> Self {
        let emulator = Emulator::moto().await.expect("starting moto");
        let client = moto_client(&emulator);
        let bucket = bucket_name();
        create_bucket(&client, &bucket).await;
        let store = S3BlobStore::connect(config(
            &emulator.endpoint(),
            &bucket,
            prefix,
            MOTO_ACCESS_KEY,
            MOTO_SECRET_KEY,
        ))
        .await
        .expect("connecting the store");
        Self {
            emulator,
            bucket,
            store,
            client,
        }
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub async fn uploads_left(&self) -> Vec<String> {
        let out = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .send()
            .await
            .expect("ListMultipartUploads");
        out.uploads()
            .iter()
            .map(|u| u.key().unwrap_or_default().to_string())
            .collect()
    }

    /// Every object name in the bucket (not just tfr's).
    pub async fn object_names(&self) -> Vec<String> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await
            .expect("ListObjectsV2");
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    }
}

/// GETs a URL with a plain client (no credentials): `(status, body)`.
pub fn fetcher() -> impl Fn(String) -> BoxFuture<'static, (u16, Vec<u8>)> + Send + Sync {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client");
    move |url: String| -> BoxFuture<'static, (u16, Vec<u8>)> {
        let client = client.clone();
        Box::pin(async move {
            let resp = client.get(url).send().await.expect("GET the presigned url");
            let status = resp.status().as_u16();
            (
                status,
                resp.bytes().await.expect("reading the body").to_vec(),
            )
        })
    }
}

/// `data` as a body in 256 KiB chunks, failing with `err` after `fail_after` bytes.
pub fn body_failing_after(data: Vec<u8>, fail_after: Option<usize>) -> ByteStream {
    let data = Bytes::from(data);
    let end = fail_after.unwrap_or(data.len()).min(data.len());
    let mut items: Vec<io::Result<Bytes>> = (0..end)
        .step_by(256 * 1024)
        .map(|start| Ok(data.slice(start..(start + 256 * 1024).min(end))))
        .collect();
    if fail_after.is_some() {
        items.push(Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "client went away",
        )));
    }
    Box::pin(stream::iter(items))
}
