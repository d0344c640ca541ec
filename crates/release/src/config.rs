//! The pipeline's configuration file (YAML). Everything a flag can say can be said here;
//! flags override it. Secrets never live in it: it names the environment variable or file
//! that holds them.
//!
//! ```yaml
//! repository: s3://falco-distribution/   # or file:///srv/falco
//! manifest: packaging/falco.yaml          # relative to this file
//! arches: [x86_64, aarch64]
//! main_branch: master
//! work_dir: build/release
//! signing:
//!   key_env: FALCO_SIGNING_KEY            # armored secret key in this variable
//!   passphrase_env: FALCO_SIGNING_PASSPHRASE
//!   # key_file: /run/secrets/falco.asc    # or in this file
//!   published_keys: []                    # public keys kept in falcosecurity-packages.asc
//!                                         # beside the signing key (the old key while
//!                                         # rotating; drop it from here to retire it)
//! gate:
//!   command: [make, test]                 # or: evidence: test-results.json
//! pass_env: [CCACHE_DIR]                  # more variables the gate and builds may see
//! store:                                  # S3-compatible, GCS or Azure endpoints
//!   endpoint: https://s3.example.com
//!   region: us-east-1
//!   path_style: true
//!   acl: public-read                      # a canned ACL on every upload (optional)
//!   encryption: AES256                    # or aws:kms (with kms_key_id), optional
//!   cache_control:                        # defaults: a year immutable / a minute
//!     mutable: "public, max-age=300"
//!   cloudfront:                           # invalidated after each commit (optional)
//!     distribution_id: E2EXAMPLE1
//! channels:                              # `stable` and `development` (or `dev`) adjust the
//!   development:                          # built-in channels; any other name is a channel of
//!     retention: { deb: 50, rpm: 50, bin: 10 }   # your own (`--channel nightly`)
//!   stable:
//!     retention: { deb: all, rpm: all, bin: all }
//!   nightly:
//!     repositories: { deb: deb-nightly }  # default: <kind>-<name>
//!     retention: { deb: 5, rpm: 5, bin: 5 }
//!     overwrite: replace                  # default: immutable
//!     accepts: development                # stable, development or any (default)
//! drivers:                                # defaults of `release drivers`
//!   configs: driverkit/config
//!   releases: falco-releases.txt
//!   driver_source: libs/driver            # local kbuild/clang builds
//!   work_dir: build/drivers
//!   workers: 2
//!   require_https: true                   # refuse plain-http kernelurls
//! prebuilt:                               # `release publish`: packages built elsewhere
//!   deb: [build/falco-0.45.0-x86_64.deb]
//!   rpm: [build/falco-0.45.0-x86_64.rpm]
//!   tarball: [build/falco-0.45.0-x86_64.tar.gz]
//!   rpm_signature: replace                # keep, or require (refuse unsigned RPMs)
//! images:                                 # optional
//!   name: falcosecurity/falco
//!   registry: registry.example.com
//!   mirrors: [mirror.example.com]
//!   engine: unix:///run/docker.sock       # default: DOCKER_HOST
//!   docker_config: /root/.docker/config.json
//!   runtime:                              # images from Debian packages, no engine
//!     debs: debs/
//!     variants: [falco]
//!     signing_key: cosign.key             # cosign-format signatures (PKCS#8 P-256)
//! ```

mod channels;
mod signing;

use std::path::{Path, PathBuf};

use falco_artifacts_core::{Arch, ChildEnv, PgpSigner};
use serde::Deserialize;

pub use channels::{
    AcceptsName, AllKeyword, ChannelOverride, ChannelRegistry, ChannelsConfig, Keep, OverwriteName,
    RepoKindName,
};

use crate::{Gate, PipelineError};

/// The configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Repository root URL (`file:///…`, `s3://bucket/prefix`, `gs://bucket/prefix`,
    /// `az://container/prefix`).
    #[serde(default)]
    pub repository: Option<String>,
    /// The package manifest.
    #[serde(default)]
    pub manifest: Option<PathBuf>,
    /// Architectures to package (default: all).
    #[serde(default)]
    pub arches: Vec<Arch>,
    /// The branch whose merges make development releases (default `master`).
    #[serde(default)]
    pub main_branch: Option<String>,
    /// Where packages are built before publishing.
    #[serde(default)]
    pub work_dir: Option<PathBuf>,
    /// Where the signing key comes from.
    #[serde(default)]
    pub signing: SigningConfig,
    /// The test gate.
    #[serde(default)]
    pub gate: GateConfig,
    /// Variables of this environment that the programs the run starts (the gate command,
    /// make, clang, driverkit) may see besides `PATH`, `HOME`, `LANG`, `TMPDIR`,
    /// `SOURCE_DATE_EPOCH` (see [`falco_artifacts_core::BASE_VARIABLES`]); every other
    /// variable, secrets included, is withheld from them.
    #[serde(default)]
    pub pass_env: Vec<String>,
    /// Per-channel overrides.
    #[serde(default)]
    pub channels: ChannelsConfig,
    /// How to reach an S3, GCS or Azure repository (endpoint, region, addressing);
    /// credentials come from the usual environment: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
    /// `GOOGLE_SERVICE_ACCOUNT`/`GOOGLE_APPLICATION_CREDENTIALS`,
    /// `AZURE_STORAGE_ACCOUNT_NAME`/`AZURE_STORAGE_ACCOUNT_KEY`.
    #[serde(default)]
    pub store: StoreConfig,
    /// The drivers step's defaults.
    #[serde(default)]
    pub drivers: DriversConfig,
    /// Container images; no images are built without this section.
    #[serde(default)]
    pub images: Option<crate::ImagesConfig>,
    /// The packages built elsewhere that `release publish` publishes when no file flag is
    /// given.
    #[serde(default)]
    pub prebuilt: crate::PrebuiltFlags,
}

/// The `store:` section: S3, GCS and Azure settings (all optional; the clouds themselves
/// need none).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Where the service answers: an S3-compatible endpoint (`http://127.0.0.1:9000`), a GCS
    /// API base URL (`http://127.0.0.1:4443`), an Azure account's blob URL
    /// (`http://127.0.0.1:10000/devstoreaccount1`).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The region.
    #[serde(default)]
    pub region: Option<String>,
    /// Allow a plain `http://` endpoint.
    #[serde(default)]
    pub allow_http: bool,
    /// `endpoint/bucket/key` addressing instead of `bucket.endpoint/key`.
    #[serde(default)]
    pub path_style: bool,
    /// Unsigned requests, no credentials: an emulator that checks none (fake-gcs-server).
    #[serde(default)]
    pub anonymous: bool,
    /// The canned ACL of every upload (`public-read`).
    #[serde(default, deserialize_with = "canned_acl")]
    pub acl: Option<falco_artifacts_publish::CannedAcl>,
    /// Server-side encryption of every upload.
    #[serde(default)]
    pub encryption: Option<EncryptionName>,
    /// The KMS key of `encryption: aws:kms` (default: the account's).
    #[serde(default)]
    pub kms_key_id: Option<String>,
    /// `Cache-Control` overrides.
    #[serde(default)]
    pub cache_control: CacheControlConfig,
    /// A CloudFront distribution invalidated after each commit.
    #[serde(default)]
    pub cloudfront: Option<CloudFrontConfig>,
}

/// `store.encryption`: how S3 encrypts uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum EncryptionName {
    /// SSE-S3.
    #[serde(rename = "AES256")]
    Aes256,
    /// SSE-KMS.
    #[serde(rename = "aws:kms")]
    Kms,
}

/// `store.cache_control`: the `Cache-Control` of each class of object.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheControlConfig {
    /// Packages and content-addressed files.
    #[serde(default)]
    pub immutable: Option<String>,
    /// `InRelease`, `Release*`, `Packages*`, `repomd.xml*`, `index.json`, `index.html`, site files.
    #[serde(default)]
    pub mutable: Option<String>,
}

/// `store.cloudfront`: the distribution in front of the repository.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudFrontConfig {
    /// The distribution's id.
    pub distribution_id: String,
    /// The API's address (default: AWS).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The key prefix the distribution's origin maps to `/`.
    #[serde(default)]
    pub origin_path: String,
}

fn canned_acl<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<falco_artifacts_publish::CannedAcl>, D::Error> {
    let name: Option<String> = Deserialize::deserialize(d)?;
    name.map(|n| n.parse().map_err(serde::de::Error::custom))
        .transpose()
}

impl StoreConfig {
    /// The publish crate's options for these settings.
    pub fn options(&self) -> falco_artifacts_publish::StoreOptions {
        use falco_artifacts_publish::{
            CloudFrontOptions, ObjectHeaders, ServerSideEncryption, StoreOptions,
        };
        let defaults = ObjectHeaders::default();
        let headers = ObjectHeaders {
            immutable_cache_control: self
                .cache_control
                .immutable
                .clone()
                .unwrap_or(defaults.immutable_cache_control.clone()),
            mutable_cache_control: self
                .cache_control
                .mutable
                .clone()
                .unwrap_or(defaults.mutable_cache_control.clone()),
            ..defaults
        };
        StoreOptions {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            allow_http: self.allow_http,
            path_style: self.path_style,
            anonymous: self.anonymous,
            headers: Some(headers),
            acl: self.acl,
            encryption: self.encryption.map(|e| match e {
                EncryptionName::Aes256 => ServerSideEncryption::S3Managed,
                EncryptionName::Kms => ServerSideEncryption::Kms {
                    key_id: self.kms_key_id.clone(),
                    bucket_key: false,
                },
            }),
            cloudfront: self.cloudfront.as_ref().map(|c| CloudFrontOptions {
                endpoint: c.endpoint.clone(),
                origin_path: c.origin_path.clone(),
                ..CloudFrontOptions::new(c.distribution_id.clone())
            }),
            ..StoreOptions::default()
        }
    }
}

/// The `drivers:` section: defaults for `release drivers`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriversConfig {
    /// The driverkit config directory.
    #[serde(default)]
    pub configs: Option<PathBuf>,
    /// The release list (`<falco version> <driver version>` per line).
    #[serde(default)]
    pub releases: Option<PathBuf>,
    /// The driver source for local builds (Falco's `driver/`).
    #[serde(default)]
    pub driver_source: Option<PathBuf>,
    /// Downloads, kernels, logs and outputs of the builds.
    #[serde(default)]
    pub work_dir: Option<PathBuf>,
    /// Builds at a time.
    #[serde(default)]
    pub workers: Option<usize>,
    /// Refuse `http://` kernelurls (headers are downloaded code that the build runs).
    #[serde(default)]
    pub require_https: bool,
}

/// Where the signing key comes from; the key itself is never in the file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// An armored secret key file.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// An environment variable holding the armored secret key.
    #[serde(default)]
    pub key_env: Option<String>,
    /// An environment variable holding the key's passphrase.
    #[serde(default)]
    pub passphrase_env: Option<String>,
    /// Armored public key files published in the key bundle
    /// ([`KEY_BUNDLE`](falco_artifacts_core::KEY_BUNDLE)) next to the key that signs: the
    /// other channels' keys, and an old key during a rotation until it is retired (removed
    /// from this list).
    #[serde(default)]
    pub published_keys: Vec<PathBuf>,
}

/// The test gate: a command to run, or an evidence file CI wrote.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// Program and arguments.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// `{"passed": bool, "commit": "<sha>"}`.
    #[serde(default)]
    pub evidence: Option<PathBuf>,
}

impl PipelineConfig {
    /// Reads a configuration file; relative paths in it are taken from its directory.
    pub fn load(path: &Path) -> Result<PipelineConfig, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut config: PipelineConfig =
            serde_yaml::from_str(&text).map_err(|source| PipelineError::Config {
                path: path.to_owned(),
                source,
            })?;
        config.check_stable_retention().map_err(|e| match e {
            PipelineError::StableRetention { field, keep, .. } => PipelineError::StableRetention {
                file: Some(path.to_owned()),
                field,
                keep,
            },
            PipelineError::StableOverwrite { .. } => PipelineError::StableOverwrite {
                file: Some(path.to_owned()),
            },
            other => other,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for field in [
            &mut config.manifest,
            &mut config.work_dir,
            &mut config.gate.evidence,
            &mut config.drivers.configs,
            &mut config.drivers.releases,
            &mut config.drivers.driver_source,
            &mut config.drivers.work_dir,
        ] {
            if let Some(p) = field.as_mut() {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        for p in config.prebuilt.paths_mut() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        // The top-level key and each channel's, and the keys published beside them.
        let channel_signing = std::iter::once(&mut config.signing)
            .chain(config.channels.all_mut().filter_map(|c| c.signing.as_mut()));
        for signing in channel_signing {
            let files = signing
                .published_keys
                .iter_mut()
                .chain(signing.key_file.as_mut());
            for p in files {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        for field in config
            .images
            .iter_mut()
            .flat_map(|i| [&mut i.credentials, &mut i.docker_config])
        {
            if let Some(p) = field.as_mut() {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        Ok(config)
    }

    /// The environment of the programs a run starts: the base allow-list plus `pass_env`.
    pub fn child_env(&self) -> Result<ChildEnv, PipelineError> {
        ChildEnv::default()
            .with_pass_envs(&self.pass_env)
            .map_err(PipelineError::PassEnv)
    }

    /// The gate this file describes, if any.
    pub fn gate(&self) -> Result<Option<Gate>, PipelineError> {
        match (&self.gate.command, &self.gate.evidence) {
            (Some(_), Some(_)) => Err(PipelineError::Conflict {
                section: "gate",
                first: "command",
                second: "evidence",
            }),
            (Some(words), None) => Gate::command(words).map(Some),
            (None, Some(path)) => Ok(Some(Gate::Evidence(path.clone()))),
            (None, None) => Ok(None),
        }
    }

    /// Loads the signing key this file names (the `signing` section). The key and
    /// passphrase are read from the file or environment and never printed.
    pub fn signer(&self) -> Result<Option<PgpSigner>, PipelineError> {
        self.signing.signer("signing")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use falco_artifacts_core::{Channel, ChannelConfig, RepoKind, Retention};
    use std::num::NonZeroUsize;

    #[test]
    fn the_documented_example_loads_and_applies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("release.yaml");
        let doc = include_str!("config.rs")
            .lines()
            .skip_while(|l| !l.starts_with("//! ```yaml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").strip_prefix(' ').unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&path, doc).unwrap();
        let config = PipelineConfig::load(&path).unwrap();
        assert_eq!(
            config.manifest,
            Some(dir.path().join("packaging/falco.yaml"))
        );
        assert_eq!(config.arches, vec![Arch::X86_64, Arch::Aarch64]);
        let dev = config.apply(ChannelConfig::development()).unwrap();
        assert_eq!(
            dev.retention(RepoKind::Bin),
            Retention::KeepLast(NonZeroUsize::new(10).unwrap())
        );
        let stable = config.apply(ChannelConfig::stable()).unwrap();
        assert_eq!(stable.retention(RepoKind::Deb), Retention::KeepAll);
        assert!(matches!(config.gate().unwrap(), Some(Gate::Command { .. })));
        let store = config.store.options();
        assert_eq!(
            store.acl,
            Some(falco_artifacts_publish::CannedAcl::PublicRead)
        );
        assert_eq!(
            store.encryption,
            Some(falco_artifacts_publish::ServerSideEncryption::S3Managed)
        );
        let headers = store.headers.unwrap();
        assert_eq!(headers.mutable_cache_control, "public, max-age=300");
        assert!(headers.immutable_cache_control.contains("immutable"));
        assert_eq!(store.cloudfront.unwrap().distribution_id, "E2EXAMPLE1");
    }

    fn chain(e: &dyn std::error::Error) -> String {
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        text
    }

    #[test]
    fn unknown_fields_and_bad_values_name_the_file_and_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("release.yaml");
        std::fs::write(&path, "repository: file:///x\nchanels: {}\n").unwrap();
        let err = chain(&PipelineConfig::load(&path).unwrap_err());
        assert!(
            err.contains("release.yaml") && err.contains("chanels"),
            "{err}"
        );
        std::fs::write(&path, "channels:\n  stable:\n    retention: { deb: 0 }\n").unwrap();
        let err = chain(&PipelineConfig::load(&path).unwrap_err());
        assert!(
            err.contains("release.yaml") && err.contains("line 3"),
            "{err}"
        );
    }

    #[test]
    fn a_stable_retention_that_prunes_is_refused_with_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("release.yaml");
        std::fs::write(
            &path,
            "channels:\n  stable:\n    retention: { deb: all, rpm: 5 }\n  development:\n    retention: { rpm: 5 }\n",
        )
        .unwrap();
        let err = PipelineConfig::load(&path).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(&err, PipelineError::StableRetention { field, keep: 5, .. } if field == "channels.stable.retention.rpm"),
            "{err:?}"
        );
        assert!(
            text.contains("release.yaml") && text.contains("stable keeps every release"),
            "{text}"
        );
        // `all` on stable and numbers on development are fine.
        std::fs::write(
            &path,
            "channels:\n  stable:\n    retention: { deb: all }\n  development:\n    retention: { rpm: 5 }\n",
        )
        .unwrap();
        let config = PipelineConfig::load(&path).unwrap();
        assert!(config.apply(ChannelConfig::stable()).is_ok());
        // A configuration built in code is checked when applied.
        let mut config = PipelineConfig::default();
        config
            .channels
            .stable
            .retention
            .insert(RepoKindName::Bin, Keep::Last(NonZeroUsize::new(3).unwrap()));
        assert!(matches!(
            config.apply(ChannelConfig::development()),
            Err(PipelineError::StableRetention { .. })
        ));
    }

    #[test]
    fn a_missing_key_is_named_without_its_content() {
        let config = PipelineConfig {
            signing: SigningConfig {
                key_env: Some("FALCO_ARTIFACTS_TEST_NO_SUCH_KEY".into()),
                ..SigningConfig::default()
            },
            ..PipelineConfig::default()
        };
        let err = config.signer().unwrap_err().to_string();
        assert!(err.contains("FALCO_ARTIFACTS_TEST_NO_SUCH_KEY"), "{err}");
    }
}
