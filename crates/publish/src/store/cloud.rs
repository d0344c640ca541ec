//! Opening `gs://` (Google Cloud Storage) and `az://` (Azure Blob Storage) URLs through
//! `object_store`'s own backends, with [`StoreOptions`].

use crate::error::PublishError;
use crate::store::{RepoStore, StoreOptions};

/// The error of a URL whose store could not be configured.
#[cfg(any(feature = "gcs", feature = "azure"))]
fn open_err(
    url: &str,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> PublishError {
    PublishError::OpenStore {
        url: url.to_owned(),
        source: source.into(),
    }
}

/// `std::env::vars` whose lowercased names parse as `K` and start with `prefix`: what the
/// backends' own `from_env` reads, applied before the options so those win.
#[cfg(any(feature = "gcs", feature = "azure"))]
fn env_config<K: std::str::FromStr>(prefix: &str) -> Vec<(K, String)> {
    std::env::vars()
        .filter(|(key, _)| key.starts_with(prefix))
        .filter_map(|(key, value)| Some((key.to_ascii_lowercase().parse().ok()?, value)))
        .collect()
}

/// Opens `gs://bucket/prefix` with `options` (and the usual `GOOGLE_*` variables).
///
/// [`StoreOptions::endpoint`] is the JSON/XML API base URL (`http://127.0.0.1:4443` for an
/// emulator), [`StoreOptions::anonymous`] sends requests unsigned; credentials otherwise come
/// from `GOOGLE_SERVICE_ACCOUNT`/`GOOGLE_APPLICATION_CREDENTIALS` or `extra`
/// (`google_service_account_key`).
#[cfg(feature = "gcs")]
pub(super) fn open_gcs(
    url: &str,
    parsed: &url::Url,
    options: &StoreOptions,
) -> Result<RepoStore, PublishError> {
    use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
    use std::sync::Arc;

    let bucket = parsed
        .host_str()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| open_err(url, "a gs:// URL must name a bucket: gs://bucket/prefix"))?;
    let mut builder = GoogleCloudStorageBuilder::new();
    for (key, value) in env_config::<GoogleConfigKey>("GOOGLE_") {
        builder = builder.with_config(key, value);
    }
    builder = builder.with_bucket_name(bucket);
    if let Some(endpoint) = &options.endpoint {
        builder = builder.with_base_url(endpoint);
    }
    let client = object_store::ClientOptions::new().with_allow_http(options.allow_http);
    builder = builder.with_client_options(client);
    if options.anonymous {
        // Unsigned requests, and no token fetched for them either: object_store's documented
        // emulator key (`disable_oauth`), which skips the OAuth token exchange.
        builder = builder.with_skip_signature(true).with_service_account_key(
            r#"{"disable_oauth":true,"client_email":"","private_key":"","private_key_id":""}"#,
        );
    }
    for (key, value) in &options.extra {
        let key: GoogleConfigKey = key.parse().map_err(|e| open_err(url, Box::new(e)))?;
        builder = builder.with_config(key, value);
    }
    let store = builder.build().map_err(|e| open_err(url, Box::new(e)))?;
    RepoStore::new(Arc::new(store), parsed.path())
}

/// Without the `gcs` feature, `gs://` names a disabled scheme.
#[cfg(not(feature = "gcs"))]
pub(super) fn open_gcs(
    url: &str,
    parsed: &url::Url,
    _: &StoreOptions,
) -> Result<RepoStore, PublishError> {
    Err(PublishError::SchemeDisabled {
        url: url.to_owned(),
        scheme: parsed.scheme().to_owned(),
        feature: "gcs",
    })
}

/// Opens `az://container/prefix` (also `azure://`, and `abfs[s]://container@account…`) with
/// `options` (and the usual `AZURE_*` variables).
///
/// [`StoreOptions::access_key_id`] is the storage account, [`StoreOptions::secret_access_key`]
/// its access key, [`StoreOptions::endpoint`] the account's blob URL
/// (`http://127.0.0.1:10000/devstoreaccount1` for Azurite).
#[cfg(feature = "azure")]
pub(super) fn open_azure(
    url: &str,
    parsed: &url::Url,
    options: &StoreOptions,
) -> Result<RepoStore, PublishError> {
    use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
    use std::sync::Arc;

    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(open_err(
            url,
            "an az:// URL must name a container: az://container/prefix",
        ));
    }
    let mut builder = MicrosoftAzureBuilder::new();
    for (key, value) in env_config::<AzureConfigKey>("AZURE_") {
        builder = builder.with_config(key, value);
    }
    // The container (and for abfs, the account) from the URL; the path is the store's root.
    let mut container_url = parsed.clone();
    container_url.set_path("");
    builder = builder.with_url(container_url.as_str());
    if let Some(account) = &options.access_key_id {
        builder = builder.with_account(account);
    }
    if let Some(key) = &options.secret_access_key {
        builder = builder.with_access_key(key);
    }
    if let Some(endpoint) = &options.endpoint {
        builder = builder.with_endpoint(endpoint.clone());
    }
    builder = builder
        .with_allow_http(options.allow_http)
        .with_skip_signature(options.anonymous);
    for (key, value) in &options.extra {
        let key: AzureConfigKey = key.parse().map_err(|e| open_err(url, Box::new(e)))?;
        builder = builder.with_config(key, value);
    }
    let store = builder.build().map_err(|e| open_err(url, Box::new(e)))?;
    RepoStore::new(Arc::new(store), parsed.path())
}

/// Without the `azure` feature, `az://` names a disabled scheme.
#[cfg(not(feature = "azure"))]
pub(super) fn open_azure(
    url: &str,
    parsed: &url::Url,
    _: &StoreOptions,
) -> Result<RepoStore, PublishError> {
    Err(PublishError::SchemeDisabled {
        url: url.to_owned(),
        scheme: parsed.scheme().to_owned(),
        feature: "azure",
    })
}

/// The options that reach an Azurite server started by the testkit, for unit tests.
#[cfg(all(test, feature = "azure"))]
pub(crate) fn azurite_options(azurite: &falco_artifacts_testkit::Azurite) -> StoreOptions {
    StoreOptions {
        endpoint: Some(azurite.endpoint()),
        access_key_id: Some(azurite.account().into()),
        secret_access_key: Some(azurite.account_key().into()),
        allow_http: true,
        ..StoreOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "gcs")]
    #[test]
    fn a_gs_url_without_a_bucket_is_refused_naming_the_url() {
        let err = RepoStore::from_url("gs:///prefix").unwrap_err();
        assert!(
            matches!(&err, PublishError::OpenStore { url, .. } if url == "gs:///prefix"),
            "{err:?}"
        );
    }

    #[cfg(feature = "azure")]
    #[test]
    fn an_az_url_without_a_container_is_refused_naming_the_url() {
        let err = RepoStore::from_url("az:///prefix").unwrap_err();
        assert!(
            matches!(&err, PublishError::OpenStore { url, .. } if url == "az:///prefix"),
            "{err:?}"
        );
    }

    #[cfg(feature = "azure")]
    #[test]
    fn an_az_url_roots_the_store_at_its_path() {
        let options = StoreOptions {
            endpoint: Some("http://127.0.0.1:9/devstoreaccount1".into()),
            access_key_id: Some("devstoreaccount1".into()),
            secret_access_key: Some("a2V5".into()),
            allow_http: true,
            ..StoreOptions::default()
        };
        let store = RepoStore::from_url_with("az://releases/falco/repo", &options).unwrap();
        assert_eq!(store.root(), "falco/repo");
    }

    #[cfg(feature = "gcs")]
    #[test]
    fn a_gs_url_roots_the_store_at_its_path() {
        let options = StoreOptions {
            endpoint: Some("http://127.0.0.1:9".into()),
            allow_http: true,
            anonymous: true,
            ..StoreOptions::default()
        };
        let store = RepoStore::from_url_with("gs://releases/falco", &options).unwrap();
        assert_eq!(store.root(), "falco");
    }

    #[test]
    fn debug_redacts_the_account_key() {
        let options = StoreOptions {
            secret_access_key: Some("account-key-bytes".into()),
            anonymous: true,
            ..StoreOptions::default()
        };
        let shown = format!("{options:?}");
        assert!(!shown.contains("account-key-bytes"), "{shown}");
        assert!(shown.contains("anonymous: true"), "{shown}");
    }
}
