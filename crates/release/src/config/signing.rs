//! Signing keys per channel and the public key bundle published beside the repositories.

use falco_artifacts_core::{public_key_bundle, PgpSigner, Signer};

use super::{PipelineConfig, SigningConfig};
use crate::PipelineError;

impl SigningConfig {
    /// Whether this section names a key (a file or a variable).
    pub fn names_key(&self) -> bool {
        self.key_file.is_some() || self.key_env.is_some()
    }

    /// Loads the key this section names (`section` names it in errors: `signing`,
    /// `channels.stable.signing`); `None` when it names none.
    pub fn signer(&self, section: &'static str) -> Result<Option<PgpSigner>, PipelineError> {
        let passphrase = match &self.passphrase_env {
            Some(var) => Some(std::env::var(var).map_err(|_| PipelineError::MissingKey {
                source_name: format!("environment variable {var} (passphrase)"),
            })?),
            None => None,
        };
        let signer = match (&self.key_file, &self.key_env) {
            (Some(_), Some(_)) => {
                return Err(PipelineError::Conflict {
                    section,
                    first: "key_file",
                    second: "key_env",
                })
            }
            (Some(file), None) => {
                if !file.exists() {
                    return Err(PipelineError::MissingKey {
                        source_name: format!("key file {}", file.display()),
                    });
                }
                PgpSigner::from_armored_file(file, passphrase.as_deref())?
            }
            (None, Some(var)) => {
                let armored = std::env::var(var).map_err(|_| PipelineError::MissingKey {
                    source_name: format!("environment variable {var}"),
                })?;
                PgpSigner::from_armored(&armored, passphrase.as_deref())?
            }
            (None, None) => return Ok(None),
        };
        Ok(Some(signer))
    }
}

impl PipelineConfig {
    /// The key that signs `channel`: its own `channels.<name>.signing` key when it names one,
    /// else the top-level `signing` key.
    pub fn channel_signer(&self, channel: &str) -> Result<Option<PgpSigner>, PipelineError> {
        match self.channels.get(channel).and_then(|c| c.signing.as_ref()) {
            Some(own) if own.names_key() => own.signer("channels.<name>.signing"),
            _ => self.signer(),
        }
    }

    /// Forgets every channel's own key, keeping their published keys: a key given on the
    /// command line signs every channel.
    pub(crate) fn use_one_key(&mut self) {
        for channel in self.channels.all_mut() {
            if let Some(signing) = channel.signing.as_mut() {
                signing.key_file = None;
                signing.key_env = None;
                signing.passphrase_env = None;
            }
        }
    }

    /// The public key bundle ([`KEY_BUNDLE`](falco_artifacts_core::KEY_BUNDLE)) to publish
    /// when `signer` signs: its key first, then every `published_keys` file of the
    /// top-level section and of each channel, each key once.
    pub fn key_bundle(&self, signer: &dyn Signer) -> Result<String, PipelineError> {
        let own = signer.public_key_armored()?;
        let mut texts = vec![("the signing key".to_owned(), own)];
        let sections = std::iter::once(&self.signing).chain(
            [&self.channels.stable, &self.channels.development]
                .into_iter()
                .chain(self.channels.custom.values())
                .filter_map(|c| c.signing.as_ref()),
        );
        for path in sections.flat_map(|s| &s.published_keys) {
            let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Io {
                path: path.clone(),
                source,
            })?;
            texts.push((path.display().to_string(), text));
        }
        let keys: Vec<(&str, &str)> = texts
            .iter()
            .map(|(origin, text)| (origin.as_str(), text.as_str()))
            .collect();
        Ok(public_key_bundle(&keys)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use falco_artifacts_core::KeyAlgorithm;

    fn key(dir: &std::path::Path, name: &str) -> (PgpSigner, std::path::PathBuf) {
        let key = PgpSigner::generate(
            &format!("{name} <{name}@example.invalid>"),
            KeyAlgorithm::Ed25519,
        )
        .unwrap();
        let path = dir.join(format!("{name}.asc"));
        std::fs::write(&path, key.secret_key_armored().unwrap()).unwrap();
        std::fs::write(
            dir.join(format!("{name}.pub.asc")),
            key.public_key_armored().unwrap(),
        )
        .unwrap();
        (key, path)
    }

    #[test]
    fn a_channel_signs_with_its_own_key_else_the_top_level_one() {
        let dir = tempfile::tempdir().unwrap();
        let (top, _) = key(dir.path(), "top");
        let (stable, _) = key(dir.path(), "stable");
        let yaml = "signing:\n  key_file: top.asc\n  published_keys: [old.pub.asc]\n\
                    channels:\n  stable:\n    signing:\n      key_file: stable.asc\n";
        let (old, _) = key(dir.path(), "old");
        let path = dir.path().join("release.yaml");
        std::fs::write(&path, yaml).unwrap();
        let config = PipelineConfig::load(&path).unwrap();
        let fingerprint = |c: &str| config.channel_signer(c).unwrap().unwrap().fingerprint();
        assert_eq!(fingerprint("stable"), stable.fingerprint());
        assert_eq!(fingerprint("dev"), top.fingerprint());
        let bundle = config.key_bundle(&stable).unwrap();
        let mut one = config.clone();
        one.use_one_key();
        assert_eq!(
            one.channel_signer("stable").unwrap().unwrap().fingerprint(),
            top.fingerprint()
        );
        // The signing key and the published old one, each once.
        assert_eq!(bundle.matches("BEGIN PGP PUBLIC KEY BLOCK").count(), 2);
        let gpg = falco_artifacts_testkit::GpgHome::new().unwrap();
        gpg.import_key(&bundle).unwrap();
        let listed = String::from_utf8(
            gpg.command()
                .args(["--list-keys", "--with-colons"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        for key in [&stable, &old] {
            assert!(
                listed.contains(&key.fingerprint().to_uppercase()),
                "{listed}"
            );
        }
    }

    #[test]
    fn a_missing_published_key_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (top, _) = key(dir.path(), "top");
        let path = dir.path().join("release.yaml");
        std::fs::write(
            &path,
            "signing:\n  key_file: top.asc\n  published_keys: [gone.asc]\n",
        )
        .unwrap();
        let config = PipelineConfig::load(&path).unwrap();
        let err = config.key_bundle(&top).unwrap_err();
        assert!(err.to_string().contains("gone.asc"), "{err}");
    }
}
