//! OpenPGP signing: the `Signer` trait and its pure-Rust implementation on the `pgp` crate.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, Deserializable, DetachedSignature, KeyType,
    SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::ser::Serialize as _;
use pgp::types::{KeyDetails, KeyVersion, Password, SigningKey, Timestamp};

/// A signing failure.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The armored key could not be parsed.
    #[error("cannot parse the OpenPGP secret key from {origin}")]
    ParseKey {
        /// Where the key came from (a file path or an environment variable).
        origin: String,
        /// The parser's error.
        #[source]
        source: Box<pgp::errors::Error>,
    },
    /// An armored public key (for a key bundle) could not be parsed.
    #[error("cannot parse the OpenPGP public key(s) from {origin}")]
    ParsePublicKey {
        /// Where the key came from (a file path, a configuration entry).
        origin: String,
        /// The parser's error.
        #[source]
        source: Box<pgp::errors::Error>,
    },
    /// A text given as public keys holds none.
    #[error("{origin} holds no OpenPGP public key")]
    NoPublicKey {
        /// Where the text came from.
        origin: String,
    },
    /// The key file could not be read.
    #[error("cannot read the OpenPGP secret key file {path}")]
    ReadKey {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The environment variable holding the key is not set.
    #[error("environment variable {var} holds no OpenPGP secret key")]
    MissingEnv {
        /// The variable.
        var: String,
    },
    /// Neither the primary key nor any subkey may sign.
    #[error("OpenPGP key {fingerprint} has no key usable for signing")]
    NoSigningKey {
        /// The key's fingerprint.
        fingerprint: String,
    },
    /// The key is locked with another passphrase, or signing failed.
    #[error("signing with OpenPGP key {fingerprint} failed (wrong passphrase?)")]
    Sign {
        /// The key's fingerprint.
        fingerprint: String,
        /// The cryptographic error.
        #[source]
        source: Box<pgp::errors::Error>,
    },
    /// Reading the data to sign failed.
    #[error("cannot read the data to sign")]
    ReadData(#[source] std::io::Error),
    /// Key generation failed.
    #[error("cannot generate an OpenPGP key for {user_id:?}")]
    Generate {
        /// The user id asked for.
        user_id: String,
        /// Why.
        #[source]
        source: Box<pgp::errors::Error>,
    },
    /// Serializing a key or signature failed.
    #[error("cannot serialize {what}")]
    Serialize {
        /// What was serialized.
        what: &'static str,
        /// Why.
        #[source]
        source: Box<pgp::errors::Error>,
    },
}

/// Signs repository indexes, packages and checksums with SHA-256 digests.
///
/// Implementers must produce signatures `gpg --verify`, apt and rpm accept, always with
/// SHA-256 (FIPS systems and RHEL 9 reject SHA-1). The trait is object safe (`Arc<dyn Signer>`).
pub trait Signer: Send + Sync + fmt::Debug {
    /// A binary detached signature of `data` (what rpm headers embed).
    fn sign_detached(&self, data: &mut dyn Read) -> Result<Vec<u8>, SignError>;
    /// An ASCII-armored detached signature of `data` (`.asc`, `Release.gpg`, `repomd.xml.asc`).
    fn sign_detached_armored(&self, data: &mut dyn Read) -> Result<String, SignError>;
    /// A cleartext-signed copy of `text` (APT `InRelease`).
    fn sign_cleartext(&self, text: &str) -> Result<String, SignError>;
    /// The ASCII-armored public key, for users' `signed-by=` and `rpm --import`.
    fn public_key_armored(&self) -> Result<String, SignError>;
    /// The fingerprint of the key that signs, uppercase hex.
    fn fingerprint(&self) -> String;
}

/// The algorithm of a generated key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// Ed25519 (fast; rpm ≥ 4.13, apt, gpg).
    Ed25519,
    /// RSA with the given modulus size (widest compatibility, including EL7's rpm).
    Rsa(u32),
}

/// An OpenPGP [`Signer`] in pure Rust.
///
/// ```
/// use falco_artifacts_core::{KeyAlgorithm, PgpSigner, Signer};
///
/// let signer = PgpSigner::generate("Falco Test <test@example.com>", KeyAlgorithm::Ed25519)?;
/// let asc = signer.sign_detached_armored(&mut &b"hello"[..])?;
/// assert!(asc.starts_with("-----BEGIN PGP SIGNATURE-----"));
/// let inrelease = signer.sign_cleartext("Origin: falco\n")?;
/// assert!(inrelease.starts_with("-----BEGIN PGP SIGNED MESSAGE-----"));
/// # Ok::<(), falco_artifacts_core::SignError>(())
/// ```
#[derive(Clone)]
pub struct PgpSigner {
    key: SignedSecretKey,
    /// Shared so that a copy with another signature time needs no second passphrase.
    password: std::sync::Arc<Password>,
    signature_time: Option<Timestamp>,
}

impl fmt::Debug for PgpSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgpSigner")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

fn fingerprint_hex(key: &impl KeyDetails) -> String {
    hex::encode_upper(key.fingerprint().as_bytes())
}

impl PgpSigner {
    /// Loads an ASCII-armored secret key; `passphrase` unlocks it when it is protected.
    pub fn from_armored(armored: &str, passphrase: Option<&str>) -> Result<Self, SignError> {
        Self::parse(armored, passphrase, "armored text".into())
    }

    /// Loads an ASCII-armored secret key from a file.
    pub fn from_armored_file(path: &Path, passphrase: Option<&str>) -> Result<Self, SignError> {
        let text = std::fs::read_to_string(path).map_err(|source| SignError::ReadKey {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, passphrase, path.display().to_string())
    }

    /// Loads an ASCII-armored secret key from the environment variable `var` (a CI secret), with
    /// the passphrase from `passphrase_var` when given and set.
    pub fn from_env(var: &str, passphrase_var: Option<&str>) -> Result<Self, SignError> {
        let text = std::env::var(var)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| SignError::MissingEnv {
                var: var.to_owned(),
            })?;
        let passphrase = passphrase_var.and_then(|v| std::env::var(v).ok());
        Self::parse(&text, passphrase.as_deref(), format!("${var}"))
    }

    fn parse(armored: &str, passphrase: Option<&str>, origin: String) -> Result<Self, SignError> {
        let (key, _headers) =
            SignedSecretKey::from_string(armored).map_err(|source| SignError::ParseKey {
                origin,
                source: Box::new(source),
            })?;
        let signer = PgpSigner {
            key,
            password: std::sync::Arc::new(passphrase.map_or_else(Password::empty, Password::from)),
            signature_time: None,
        };
        // Fail at load time, not at the first signature, when the key cannot sign or is locked.
        signer.sign_detached(&mut &b""[..])?;
        Ok(signer)
    }

    /// Generates a new key that signs with its primary key, for demos and tests.
    pub fn generate(user_id: &str, algorithm: KeyAlgorithm) -> Result<Self, SignError> {
        let key_type = match algorithm {
            KeyAlgorithm::Ed25519 => KeyType::Ed25519Legacy,
            KeyAlgorithm::Rsa(bits) => KeyType::Rsa(bits),
        };
        let gen_err = |source| SignError::Generate {
            user_id: user_id.to_owned(),
            source: Box::new(source),
        };
        let mut params = SecretKeyParamsBuilder::default();
        params
            .version(KeyVersion::V4)
            .key_type(key_type)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id(user_id.to_owned())
            .preferred_hash_algorithms(vec![HashAlgorithm::Sha256, HashAlgorithm::Sha512].into());
        let params = params.build().map_err(|e| {
            gen_err(pgp::errors::Error::Message {
                message: e.to_string(),
                backtrace: None,
            })
        })?;
        let key = params.generate(rand::thread_rng()).map_err(gen_err)?;
        Ok(PgpSigner {
            key,
            password: std::sync::Arc::new(Password::empty()),
            signature_time: None,
        })
    }

    /// Fixes the creation time written into every signature (for reproducible output, e.g. from
    /// `SOURCE_DATE_EPOCH`). A time earlier than the signing key's own creation is raised to it,
    /// since verifiers reject signatures older than their key. Without it, signatures carry the
    /// time they are made.
    pub fn with_signature_time(mut self, time: SystemTime) -> Self {
        let secs = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        self.signature_time = Some(Timestamp::from_secs(secs));
        self
    }

    /// The secret key, ASCII-armored, to save a generated key.
    pub fn secret_key_armored(&self) -> Result<String, SignError> {
        self.key
            .to_armored_string(ArmorOptions::default())
            .map_err(|source| SignError::Serialize {
                what: "the secret key",
                source: Box::new(source),
            })
    }

    /// The key that signs: the primary key when its self-signature allows signing, otherwise
    /// the first subkey that may sign.
    #[allow(
        clippy::redundant_allocation,
        reason = "pgp implements SigningKey for Box<&dyn SigningKey>, not for &dyn SigningKey"
    )]
    fn signing_key(&self) -> Result<Box<&dyn SigningKey>, SignError> {
        let primary_can_sign = self
            .key
            .details
            .users
            .iter()
            .flat_map(|u| u.signatures.iter())
            .chain(self.key.details.direct_signatures.iter())
            .any(|s| s.key_flags().sign());
        if primary_can_sign {
            return Ok(Box::new(&self.key.primary_key));
        }
        self.key
            .secret_subkeys
            .iter()
            .find(|sub| sub.signatures.iter().any(|s| s.key_flags().sign()))
            .map(|sub| Box::new(&sub.key as &dyn SigningKey))
            .ok_or_else(|| SignError::NoSigningKey {
                fingerprint: fingerprint_hex(&self.key.primary_key),
            })
    }

    fn config(
        &self,
        key: &dyn SigningKey,
        typ: SignatureType,
    ) -> Result<SignatureConfig, SignError> {
        let sub = |data| {
            Subpacket::regular(data).map_err(|source| SignError::Serialize {
                what: "a signature subpacket",
                source: Box::new(source),
            })
        };
        let mut config = SignatureConfig::v4(typ, key.algorithm(), HashAlgorithm::Sha256);
        config.hashed_subpackets = vec![
            sub(SubpacketData::SignatureCreationTime(
                match self.signature_time {
                    // Never before the signing key exists, which verifiers reject; clamped, the
                    // time is still the same on every run with this key.
                    Some(fixed) => fixed.max(key.created_at()),
                    None => Timestamp::now(),
                },
            ))?,
            sub(SubpacketData::IssuerFingerprint(key.fingerprint()))?,
        ];
        config.unhashed_subpackets = vec![sub(SubpacketData::IssuerKeyId(key.legacy_key_id()))?];
        Ok(config)
    }

    fn detached(&self, data: &mut dyn Read) -> Result<DetachedSignature, SignError> {
        let key = self.signing_key()?;
        let config = self.config(*key, SignatureType::Binary)?;
        let mut hasher = config
            .into_hasher()
            .map_err(|source| self.sign_err(source))?;
        std::io::copy(data, &mut hasher).map_err(SignError::ReadData)?;
        let signature = hasher
            .sign(&key, &self.password)
            .map_err(|source| self.sign_err(source))?;
        Ok(DetachedSignature::new(signature))
    }

    fn sign_err(&self, source: pgp::errors::Error) -> SignError {
        SignError::Sign {
            fingerprint: self.fingerprint(),
            source: Box::new(source),
        }
    }
}

impl Signer for PgpSigner {
    fn sign_detached(&self, data: &mut dyn Read) -> Result<Vec<u8>, SignError> {
        self.detached(data)?
            .to_bytes()
            .map_err(|source| SignError::Serialize {
                what: "a signature",
                source: Box::new(source),
            })
    }

    fn sign_detached_armored(&self, data: &mut dyn Read) -> Result<String, SignError> {
        self.detached(data)?
            .to_armored_string(ArmorOptions::default())
            .map_err(|source| SignError::Serialize {
                what: "a signature",
                source: Box::new(source),
            })
    }

    fn sign_cleartext(&self, text: &str) -> Result<String, SignError> {
        let key = self.signing_key()?;
        let config = self.config(*key, SignatureType::Text)?;
        CleartextSignedMessage::new(text, config, &key, &self.password)
            .map_err(|source| self.sign_err(source))?
            .to_armored_string(ArmorOptions::default())
            .map_err(|source| SignError::Serialize {
                what: "a cleartext signature",
                source: Box::new(source),
            })
    }

    fn public_key_armored(&self) -> Result<String, SignError> {
        SignedPublicKey::from(self.key.clone())
            .to_armored_string(ArmorOptions::default())
            .map_err(|source| SignError::Serialize {
                what: "the public key",
                source: Box::new(source),
            })
    }

    fn fingerprint(&self) -> String {
        fingerprint_hex(&self.key.primary_key)
    }
}
