//! The one place where a configuration file and a front end's flags become what a subcommand
//! runs: the release (event, main branch, channel), the job, the repositories and their key,
//! the drivers job. `plan` and `run` both resolve through [`Settings`], so they cannot
//! disagree about a version, a channel or its policy, and every channel of the configuration
//! (its own ones included) is reachable from every subcommand.
//!
//! Precedence, everywhere: a flag, else the configuration file, else the built-in default.

use std::path::PathBuf;
use std::sync::Arc;

use falco_artifacts_core::package::{SourceDate, SourceDateError};
use falco_artifacts_core::{
    version_from_git, Arch, ChannelConfig, PgpSigner, Release, ReleaseEvent, ReleasePolicy,
};
use falco_artifacts_driver_grid::build::DriverkitMode;

use crate::{
    plan_release, Backend, ChannelRegistry, DriverBuild, DriversJob, Gate, Pipeline,
    PipelineConfig, PipelineError, PrebuiltFiles, PublishJob, ReleaseJob, ReleasePlan,
    RpmSignature,
};

/// The configuration file and the flags that override it for every subcommand.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct RepoFlags {
    /// The configuration file (YAML).
    #[cfg_attr(feature = "cli", arg(long, value_name = "FILE"))]
    pub config: Option<PathBuf>,
    /// The repository root URL (`file:///srv/falco`, `s3://bucket/prefix`).
    #[cfg_attr(feature = "cli", arg(long = "repo", value_name = "URL"))]
    pub repository: Option<String>,
    /// An armored secret key file (replaces the configuration's `signing` key).
    #[cfg_attr(
        feature = "cli",
        arg(long, value_name = "FILE", conflicts_with = "key_env")
    )]
    pub key_file: Option<PathBuf>,
    /// An environment variable holding the armored secret key (same).
    #[cfg_attr(feature = "cli", arg(long, value_name = "VAR"))]
    pub key_env: Option<String>,
    /// Let the programs the run starts (the gate command, make, clang, driverkit) see this
    /// variable too (added to `pass_env`); every other one, secrets included, is withheld.
    #[cfg_attr(feature = "cli", arg(long, value_name = "NAME"))]
    pub pass_env: Vec<String>,
}

/// A release event as flags.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct EventFlags {
    /// A tag event (`0.39.0`, `v0.39.0`, `0.45.0-rc1`).
    #[cfg_attr(feature = "cli", arg(long, conflicts_with = "merge"))]
    pub tag: Option<String>,
    /// A merge event: the version is computed from the git repository at this path.
    #[cfg_attr(feature = "cli", arg(long, value_name = "REPO"))]
    pub merge: Option<PathBuf>,
    /// The branch the merge went into (default: the main branch, which is the
    /// configuration's `main_branch`, else `master`).
    #[cfg_attr(feature = "cli", arg(long))]
    pub branch: Option<String>,
    /// Publish into this channel (`stable`, `dev` or one of the configuration's) instead of
    /// the one the event picks; it must accept the version.
    #[cfg_attr(feature = "cli", arg(long))]
    pub channel: Option<String>,
}

/// What `plan` and `run` take besides the event.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct JobFlags {
    /// The package manifest (overrides the configuration's).
    #[cfg_attr(feature = "cli", arg(long))]
    pub manifest: Option<PathBuf>,
    /// The manifest when neither the flag nor the configuration names one (a front end's
    /// embedded sample, for `plan`).
    #[cfg_attr(feature = "cli", arg(skip))]
    pub fallback_manifest: Option<PathBuf>,
    /// The test command, run before anything else (`"make test"`, split on spaces).
    #[cfg_attr(
        feature = "cli",
        arg(long, value_name = "COMMAND", conflicts_with = "evidence")
    )]
    pub gate_command: Option<String>,
    /// A test evidence file written by CI: `{"passed": true, "commit": "<sha>"}`.
    #[cfg_attr(feature = "cli", arg(long, value_name = "FILE"))]
    pub evidence: Option<PathBuf>,
    /// The commit released, checked against the evidence's.
    #[cfg_attr(feature = "cli", arg(long))]
    pub commit: Option<String>,
    /// Where packages are built (default `build/release`).
    #[cfg_attr(feature = "cli", arg(long))]
    pub work_dir: Option<PathBuf>,
    /// The packages' timestamps (default: `SOURCE_DATE_EPOCH`, which `run` requires; `plan`
    /// falls back to a fixed date so that two plans of one event print the same).
    #[cfg_attr(feature = "cli", arg(skip))]
    pub source_date: Option<SourceDate>,
}

/// The packages `publish` takes, built elsewhere; also the configuration's `prebuilt:`
/// section (paths relative to the configuration file). Files given as flags replace every
/// file the configuration lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(deny_unknown_fields)]
pub struct PrebuiltFlags {
    /// `.deb` files (`dpkg-deb -b`, CPack's DEB generator).
    #[cfg_attr(feature = "cli", arg(long, value_name = "FILE", num_args = 1..))]
    #[serde(default)]
    pub deb: Vec<PathBuf>,
    /// `.rpm` files (`rpmbuild -bb`, CPack's RPM generator).
    #[cfg_attr(feature = "cli", arg(long, value_name = "FILE", num_args = 1..))]
    #[serde(default)]
    pub rpm: Vec<PathBuf>,
    /// Release tarballs (`<name>-<version>-<arch>.tar.gz`, CPack's TGZ generator).
    #[cfg_attr(feature = "cli", arg(long, value_name = "FILE", num_args = 1..))]
    #[serde(default)]
    pub tarball: Vec<PathBuf>,
    /// What happens to a signature an `.rpm` already has (default `replace`).
    #[cfg_attr(feature = "cli", arg(long, value_enum))]
    #[serde(default)]
    pub rpm_signature: Option<RpmSignature>,
}

impl From<PrebuiltFiles> for PrebuiltFlags {
    fn from(files: PrebuiltFiles) -> Self {
        PrebuiltFlags {
            deb: files.deb,
            rpm: files.rpm,
            tarball: files.tarball,
            rpm_signature: None,
        }
    }
}

impl PrebuiltFlags {
    /// The files named, without the signature option.
    pub fn files(&self) -> PrebuiltFiles {
        PrebuiltFiles {
            deb: self.deb.clone(),
            rpm: self.rpm.clone(),
            tarball: self.tarball.clone(),
        }
    }

    /// Every path, to resolve against a configuration file's directory.
    pub(crate) fn paths_mut(&mut self) -> impl Iterator<Item = &mut PathBuf> {
        self.deb
            .iter_mut()
            .chain(self.rpm.iter_mut())
            .chain(self.tarball.iter_mut())
    }
}

/// What `drivers` takes; unset fields come from the configuration's `drivers:` section.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct DriversFlags {
    /// The driverkit config directory.
    #[cfg_attr(feature = "cli", arg(long, value_name = "DIR"))]
    pub configs: Option<PathBuf>,
    /// The release list (`<falco version> <driver version>` per line): only the driver
    /// versions of the last two stable releases are planned.
    #[cfg_attr(feature = "cli", arg(long, value_name = "FILE"))]
    pub releases: Option<PathBuf>,
    /// Drivers already built (`output/<driverversion>/<arch>/`).
    #[cfg_attr(feature = "cli", arg(long, value_name = "DIR"))]
    pub built: Option<PathBuf>,
    /// Only configs added or changed since this commit.
    #[cfg_attr(feature = "cli", arg(long, value_name = "COMMIT"))]
    pub since: Option<String>,
    /// Build with kbuild and clang here, from this driver source (Falco's `driver/`).
    #[cfg_attr(
        feature = "cli",
        arg(long, value_name = "DIR", conflicts_with = "build_driverkit")
    )]
    pub build_local: Option<PathBuf>,
    /// Build with the `driverkit docker` CLI.
    #[cfg_attr(feature = "cli", arg(long))]
    pub build_driverkit: bool,
    /// Downloads, kernels, logs and outputs of the builds (default `build/drivers`).
    #[cfg_attr(feature = "cli", arg(long, value_name = "DIR"))]
    pub work_dir: Option<PathBuf>,
    /// Builds at a time (default: every core).
    #[cfg_attr(feature = "cli", arg(long))]
    pub workers: Option<usize>,
    /// Refuse plain-`http://` kernelurls (header packages are code the build runs).
    #[cfg_attr(feature = "cli", arg(long))]
    pub require_https: bool,
}

/// A configuration with the flags applied, and its channels.
#[derive(Debug, Clone)]
pub struct Settings {
    config: PipelineConfig,
    channels: ChannelRegistry,
}

/// The source date of a plan when `SOURCE_DATE_EPOCH` is not set: fixed, so that two plans of
/// one event print the same.
const PLAN_SOURCE_DATE: u64 = 1_700_000_000;

impl Settings {
    /// Reads the configuration file (if any) and applies `flags`.
    pub fn load(flags: &RepoFlags) -> Result<Settings, PipelineError> {
        let mut config = match &flags.config {
            Some(path) => PipelineConfig::load(path)?,
            None => PipelineConfig::default(),
        };
        if let Some(repo) = &flags.repository {
            config.repository = Some(repo.clone());
        }
        if flags.key_file.is_some() || flags.key_env.is_some() {
            config.signing.key_file = flags.key_file.clone();
            config.signing.key_env = flags.key_env.clone();
            config.use_one_key();
        }
        config.pass_env.extend(flags.pass_env.iter().cloned());
        Settings::new(config)
    }

    /// Settings of a configuration built in code.
    pub fn new(config: PipelineConfig) -> Result<Settings, PipelineError> {
        let channels = config.channels()?;
        Ok(Settings { config, channels })
    }

    /// The configuration, flags applied.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// The channels: `stable`, `dev` and the configuration's own.
    pub fn channels(&self) -> &ChannelRegistry {
        &self.channels
    }

    /// The channel called `name`, with the configuration's settings.
    pub fn channel(&self, name: &str) -> Result<ChannelConfig, PipelineError> {
        self.channels.get(name).cloned()
    }

    /// Which merges release: the configuration's `main_branch`, else `master`.
    pub fn policy(&self) -> ReleasePolicy {
        match &self.config.main_branch {
            Some(branch) => ReleasePolicy::new(branch.clone()),
            None => ReleasePolicy::default(),
        }
    }

    /// The version and channel of `event`.
    pub fn release(&self, event: &EventFlags) -> Result<Release, PipelineError> {
        let policy = self.policy();
        let resolved = match (&event.tag, &event.merge) {
            (Some(name), _) => ReleaseEvent::Tag { name: name.clone() },
            (None, Some(repo)) => ReleaseEvent::Merge {
                branch: event
                    .branch
                    .clone()
                    .unwrap_or_else(|| policy.main_branch().to_owned()),
                version: version_from_git(repo).map_err(|source| PipelineError::GitVersion {
                    repo: repo.clone(),
                    source,
                })?,
            },
            (None, None) => return Err(PipelineError::NoEvent),
        };
        let mut release = resolved.resolve(&policy)?;
        release.channel = match &event.channel {
            Some(name) => self.channel(name)?,
            None => self.channel(release.channel.name().as_ref())?,
        };
        use falco_artifacts_core::Channel;
        if !release.channel.accepts(&release.version) {
            return Err(PipelineError::ChannelRefuses {
                channel: release.channel.name().to_string(),
                version: release.version.to_string(),
            });
        }
        Ok(release)
    }

    /// The architectures to package: the configuration's, else all.
    pub fn arches(&self) -> Vec<Arch> {
        if self.config.arches.is_empty() {
            Arch::ALL.to_vec()
        } else {
            self.config.arches.clone()
        }
    }

    fn manifest(&self, flags: &JobFlags) -> Result<PathBuf, PipelineError> {
        flags
            .manifest
            .clone()
            .or_else(|| self.config.manifest.clone())
            .or_else(|| flags.fallback_manifest.clone())
            .ok_or(PipelineError::Missing {
                what: "manifest",
                flag: "--manifest",
                field: "manifest",
            })
    }

    /// What `event` would produce (and the drivers of `drivers`), resolved exactly as
    /// [`Settings::release_job`] resolves it. The source date is `SOURCE_DATE_EPOCH`, else a
    /// fixed one.
    pub fn plan(
        &self,
        event: &EventFlags,
        flags: &JobFlags,
        drivers: Option<&DriversJob>,
    ) -> Result<ReleasePlan, PipelineError> {
        let date = match flags
            .source_date
            .map(Ok)
            .unwrap_or_else(SourceDate::from_env)
        {
            Err(SourceDateError::Missing) => SourceDate::from_secs(PLAN_SOURCE_DATE),
            other => other?,
        };
        let release = self.release(event)?;
        plan_release(
            &release,
            &self.manifest(flags)?,
            &self.arches(),
            date,
            drivers,
        )
    }

    /// The signing key the configuration names; required.
    pub fn signer(&self) -> Result<PgpSigner, PipelineError> {
        self.config.signer()?.ok_or(PipelineError::Missing {
            what: "signing key",
            flag: "--key-file or --key-env",
            field: "signing",
        })
    }

    /// The key that signs `channel` (`channels.<name>.signing`, else `signing`; a key given
    /// on the command line signs every channel); required.
    pub fn channel_signer(&self, channel: &str) -> Result<PgpSigner, PipelineError> {
        self.config
            .channel_signer(channel)?
            .ok_or(PipelineError::Missing {
                what: "signing key",
                flag: "--key-file or --key-env",
                field: "signing",
            })
    }

    /// The repositories the configuration names, signing `channel` with its key, and writing
    /// the public key bundle (that key and every `published_keys` file) at the root after
    /// each publish and re-sign.
    pub fn channel_pipeline(&self, channel: &str) -> Result<Pipeline, PipelineError> {
        let signer = self.channel_signer(channel)?;
        let bundle = self.config.key_bundle(&signer)?;
        Ok(self.pipeline_with(signer)?.with_key_bundle(bundle))
    }

    /// The repositories the configuration names, signing indexes with its key at the time
    /// they are made.
    pub fn pipeline(&self) -> Result<Pipeline, PipelineError> {
        self.pipeline_with(self.signer()?)
    }

    fn pipeline_with(&self, signer: PgpSigner) -> Result<Pipeline, PipelineError> {
        let url = self
            .config
            .repository
            .as_deref()
            .ok_or(PipelineError::Missing {
                what: "repository",
                flag: "--repo",
                field: "repository",
            })?;
        Pipeline::with_options(url, &self.config.store.options(), Arc::new(signer))
    }

    /// The job of `run` and the repositories it publishes into. Packages are signed at the
    /// source date: the same release gives the same bytes, so publishing it again finds
    /// everything unchanged.
    pub fn release_job(
        &self,
        event: &EventFlags,
        flags: &JobFlags,
    ) -> Result<(ReleaseJob, Pipeline), PipelineError> {
        let release = self.release(event)?;
        let gate = self.gate(flags)?;
        let manifest = self.manifest(&JobFlags {
            fallback_manifest: None,
            ..flags.clone()
        })?;
        let channel = falco_artifacts_core::Channel::name(&release.channel).to_string();
        let pipeline = self.channel_pipeline(&channel)?;
        let (source_date, signer) = self.dated_signer(flags, &channel)?;
        let job = ReleaseJob {
            release,
            manifest,
            arches: self.arches(),
            source_date,
            gate,
            commit: flags.commit.clone(),
            env: self.config.child_env()?,
            work_dir: self.work_dir(flags),
            images: self.config.images.clone(),
            signer,
        };
        Ok((job, pipeline))
    }

    /// The job of `publish` (packages built elsewhere: `files`, else the configuration's
    /// `prebuilt:` files) and the repositories it publishes into. `flags` gives the gate,
    /// the commit, the work directory and the source date (the signatures' time, so that the
    /// same files give the same signed bytes); its manifest is not read.
    pub fn publish_job(
        &self,
        event: &EventFlags,
        flags: &JobFlags,
        files: &PrebuiltFlags,
    ) -> Result<(PublishJob, Pipeline), PipelineError> {
        let release = self.release(event)?;
        let gate = self.gate(flags)?;
        let channel = falco_artifacts_core::Channel::name(&release.channel).to_string();
        let pipeline = self.channel_pipeline(&channel)?;
        let (_, signer) = self.dated_signer(flags, &channel)?;
        let configured = &self.config.prebuilt;
        let chosen = if files.files().is_empty() {
            configured.files()
        } else {
            files.files()
        };
        let job = PublishJob {
            release,
            files: chosen,
            rpm_signature: files
                .rpm_signature
                .or(configured.rpm_signature)
                .unwrap_or_default(),
            arches: self.arches(),
            gate,
            commit: flags.commit.clone(),
            env: self.config.child_env()?,
            work_dir: self.work_dir(flags),
            signer,
        };
        Ok((job, pipeline))
    }

    /// The gate: a flag's command or evidence, else the configuration's.
    fn gate(&self, flags: &JobFlags) -> Result<Option<Gate>, PipelineError> {
        match (&flags.gate_command, &flags.evidence) {
            (Some(command), _) => Ok(Some(Gate::command(
                &command
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            )?)),
            (None, Some(file)) => Ok(Some(Gate::Evidence(file.clone()))),
            (None, None) => self.config.gate(),
        }
    }

    /// The source date (the flag's, else `SOURCE_DATE_EPOCH`) and the key signing at it.
    /// The source date of a job and `channel`'s key, signing at that date (so the same
    /// release gives the same bytes).
    fn dated_signer(
        &self,
        flags: &JobFlags,
        channel: &str,
    ) -> Result<(SourceDate, Arc<dyn falco_artifacts_core::Signer>), PipelineError> {
        let source_date = match flags.source_date {
            Some(date) => date,
            None => SourceDate::from_env()?,
        };
        let signer = self
            .channel_signer(channel)?
            .with_signature_time(source_date.system_time());
        Ok((source_date, Arc::new(signer)))
    }

    fn work_dir(&self, flags: &JobFlags) -> PathBuf {
        flags
            .work_dir
            .clone()
            .or_else(|| self.config.work_dir.clone())
            .unwrap_or_else(|| PathBuf::from("build/release"))
    }

    /// The job of `drivers`.
    pub fn drivers_job(&self, flags: DriversFlags) -> Result<DriversJob, PipelineError> {
        let defaults = &self.config.drivers;
        let backend = match (flags.build_local, flags.build_driverkit) {
            (Some(source), _) => Some(Backend::Local(source)),
            (None, true) => Some(Backend::Driverkit(DriverkitMode::Docker)),
            (None, false) => defaults.driver_source.clone().map(Backend::Local),
        };
        let build = match backend {
            Some(backend) => Some(DriverBuild {
                backend,
                work_dir: flags
                    .work_dir
                    .or_else(|| defaults.work_dir.clone())
                    .unwrap_or_else(|| PathBuf::from("build/drivers")),
                workers: flags.workers.or(defaults.workers),
                timeout: None,
                env: self.config.child_env()?,
                require_https: flags.require_https || defaults.require_https,
            }),
            None => None,
        };
        Ok(DriversJob {
            configs: flags
                .configs
                .or_else(|| defaults.configs.clone())
                .ok_or(PipelineError::NoDriverConfigs)?,
            releases: flags.releases.or_else(|| defaults.releases.clone()),
            built: flags.built,
            since: flags.since,
            build,
        })
    }
}

/// A command line quoted for a POSIX shell (the command that completes a partial release is
/// the one that started it).
pub fn shell_command(args: impl IntoIterator<Item = String>) -> String {
    args.into_iter()
        .map(|arg| {
            let plain = !arg.is_empty()
                && arg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_./:=+-@,%".contains(&b));
            if plain {
                arg
            } else {
                format!("'{}'", arg.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
