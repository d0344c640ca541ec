//! How a store is reached: [`StoreOptions`], and opening `s3://` URLs with them (`gs://` and
//! `az://`: `cloud.rs`).

use std::fmt;

use crate::cdn::CloudFrontOptions;
use crate::error::PublishError;
use crate::store::{CannedAcl, ObjectHeaders, RepoStore, ServerSideEncryption};

/// How to reach a store named by URL: endpoint and credentials for S3-compatible servers,
/// Google Cloud Storage and Azure Blob Storage (and their emulators).
///
/// [`StoreOptions::default`] reads nothing but the URL (and the usual `AWS_*`, `GOOGLE_*` or
/// `AZURE_*` environment variables of `s3://`, `gs://` and `az://`), syncs `file://` writes to disk, and gives every upload the
/// CDN-ready headers of [`ObjectHeaders::default`], with no ACL, no encryption setting and no
/// CDN to invalidate.
///
/// ```
/// use falco_artifacts_publish::{CannedAcl, CloudFrontOptions, ServerSideEncryption, StoreOptions};
///
/// let options = StoreOptions {
///     acl: Some(CannedAcl::PublicRead),
///     encryption: Some(ServerSideEncryption::S3Managed),
///     cloudfront: Some(CloudFrontOptions::new("E2EXAMPLE1")),
///     ..StoreOptions::default()
/// };
/// assert!(options.headers.is_some());
/// ```
#[derive(Clone)]
pub struct StoreOptions {
    /// `file://`: fsync every written file and its directory before the write counts as done,
    /// so the commit order survives a power loss, not only a crash (on by default).
    pub fsync: bool,
    /// Where the service answers; `None` for the cloud itself. `s3://`: an S3-compatible
    /// endpoint (`http://127.0.0.1:9000`); `gs://`: the API base URL (fake-gcs-server's
    /// `http://127.0.0.1:4443`); `az://`: the account's blob URL (Azurite's
    /// `http://127.0.0.1:10000/devstoreaccount1`).
    pub endpoint: Option<String>,
    /// The region to sign for.
    pub region: Option<String>,
    /// The access key id; for `az://`, the storage account's name.
    pub access_key_id: Option<String>,
    /// The secret access key; for `az://`, the storage account's access key.
    pub secret_access_key: Option<String>,
    /// Allow plain `http://` endpoints (loopback test servers).
    pub allow_http: bool,
    /// Send requests unsigned, with no credentials: a public bucket, or an emulator that
    /// checks none (fake-gcs-server).
    pub anonymous: bool,
    /// Address buckets as `endpoint/bucket/key` rather than `bucket.endpoint/key`.
    pub path_style: bool,
    /// Further `object_store` configuration keys (`aws_session_token`, …), applied last.
    pub extra: Vec<(String, String)>,
    /// The `Content-Type` and `Cache-Control` of every upload (`None`: the backend's
    /// defaults). Kept by S3 and `memory://`; `file://` keeps none: the HTTP server in front
    /// of the directory decides there.
    pub headers: Option<ObjectHeaders>,
    /// `s3://`: the canned ACL of every upload (`x-amz-acl`). It is a default header of the
    /// store's requests, so it is signed; S3 applies it to writes.
    pub acl: Option<CannedAcl>,
    /// `s3://`: how S3 encrypts uploads at rest.
    pub encryption: Option<ServerSideEncryption>,
    /// A CloudFront distribution to invalidate after each commit (needs the `s3` feature,
    /// whatever the store's scheme); signed with the keys above or the `AWS_*` environment.
    pub cloudfront: Option<CloudFrontOptions>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            fsync: true,
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
            anonymous: false,
            path_style: false,
            extra: Vec::new(),
            headers: Some(ObjectHeaders::default()),
            acl: None,
            encryption: None,
            cloudfront: None,
        }
    }
}

impl fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreOptions")
            .field("fsync", &self.fsync)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_http", &self.allow_http)
            .field("anonymous", &self.anonymous)
            .field("path_style", &self.path_style)
            .field(
                "extra",
                &self.extra.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("headers", &self.headers)
            .field("acl", &self.acl)
            .field("encryption", &self.encryption)
            .field("cloudfront", &self.cloudfront)
            .finish()
    }
}

/// Opens `s3://bucket/prefix` with `options` (and the usual `AWS_*` variables).
#[cfg(feature = "s3")]
pub(super) fn open_s3(
    url: &str,
    parsed: &url::Url,
    options: &StoreOptions,
) -> Result<RepoStore, PublishError> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    use object_store::{ClientOptions, HeaderMap, HeaderValue};
    use std::sync::Arc;

    let open_err = |source: Box<dyn std::error::Error + Send + Sync>| PublishError::OpenStore {
        url: url.to_owned(),
        source,
    };
    let bucket = parsed
        .host_str()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| open_err("an s3:// URL must name a bucket: s3://bucket/prefix".into()))?;
    let mut client = ClientOptions::new();
    if let Some(acl) = options.acl {
        // A default header is part of every request before it is signed (S3 refuses unsigned
        // `x-amz-*` headers); `object_store` has no per-put ACL.
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-acl", HeaderValue::from_static(acl.as_str()));
        client = client.with_default_headers(headers);
    }
    // `AmazonS3Builder::from_env`, on top of those client options (setting them afterwards
    // would drop what the environment configured).
    let mut builder = AmazonS3Builder::new().with_client_options(client);
    for (key, value) in std::env::vars() {
        if key.starts_with("AWS_") {
            if let Ok(config) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(config, value);
            }
        }
    }
    builder = builder.with_bucket_name(bucket);
    for (key, value) in options
        .encryption
        .iter()
        .flat_map(ServerSideEncryption::config)
    {
        let key: AmazonS3ConfigKey = key.parse().map_err(|e| open_err(Box::new(e)))?;
        builder = builder.with_config(key, value);
    }
    if let Some(endpoint) = &options.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &options.region {
        builder = builder.with_region(region);
    }
    if let Some(key) = &options.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &options.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    builder = builder
        .with_allow_http(options.allow_http)
        .with_skip_signature(options.anonymous)
        .with_virtual_hosted_style_request(!options.path_style);
    for (key, value) in &options.extra {
        let key: AmazonS3ConfigKey = key.parse().map_err(|e| open_err(Box::new(e)))?;
        builder = builder.with_config(key, value);
    }
    let store = builder.build().map_err(|e| open_err(Box::new(e)))?;
    RepoStore::new(Arc::new(store), parsed.path())
}

/// Without the `s3` feature, `s3://` names a disabled scheme.
#[cfg(not(feature = "s3"))]
pub(super) fn open_s3(
    url: &str,
    parsed: &url::Url,
    _: &StoreOptions,
) -> Result<RepoStore, PublishError> {
    Err(PublishError::SchemeDisabled {
        url: url.to_owned(),
        scheme: parsed.scheme().to_owned(),
        feature: "s3",
    })
}

/// The options that reach a moto S3 server started by the testkit, for unit tests.
#[cfg(all(test, feature = "s3"))]
pub(crate) fn moto_options(s3: &falco_artifacts_testkit::MotoS3) -> StoreOptions {
    StoreOptions {
        endpoint: Some(s3.endpoint()),
        region: Some(s3.region().into()),
        access_key_id: Some(s3.access_key().into()),
        secret_access_key: Some(s3.secret_key().into()),
        allow_http: true,
        path_style: true,
        ..StoreOptions::default()
    }
}
