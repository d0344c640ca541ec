//! How a store is reached: [`StoreOptions`], and opening `s3://` URLs with them.

use std::fmt;

use crate::error::PublishError;
use crate::store::RepoStore;

/// How to reach a store named by URL: endpoint and credentials for S3-compatible servers.
///
/// [`StoreOptions::default`] reads nothing but the URL (and, for `s3://`, the usual `AWS_*`
/// environment variables) and syncs `file://` writes to disk.
#[derive(Clone)]
pub struct StoreOptions {
    /// `file://`: fsync every written file and its directory before the write counts as done,
    /// so the commit order survives a power loss, not only a crash (on by default).
    pub fsync: bool,
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`); `None` for AWS itself.
    pub endpoint: Option<String>,
    /// The region to sign for.
    pub region: Option<String>,
    /// The access key id.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<String>,
    /// Allow plain `http://` endpoints (loopback test servers).
    pub allow_http: bool,
    /// Address buckets as `endpoint/bucket/key` rather than `bucket.endpoint/key`.
    pub path_style: bool,
    /// Further `object_store` configuration keys (`aws_session_token`, …), applied last.
    pub extra: Vec<(String, String)>,
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
            path_style: false,
            extra: Vec::new(),
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
            .field("path_style", &self.path_style)
            .field(
                "extra",
                &self.extra.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
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
    use std::sync::Arc;

    let open_err = |source: Box<dyn std::error::Error + Send + Sync>| PublishError::OpenStore {
        url: url.to_owned(),
        source,
    };
    let bucket = parsed
        .host_str()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| open_err("an s3:// URL must name a bucket: s3://bucket/prefix".into()))?;
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
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
