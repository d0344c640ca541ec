//! The public key bundle published beside the repositories: every key a client may need to
//! trust, during a key rotation the old one and the new one.

use std::collections::BTreeSet;

use pgp::composed::{ArmorOptions, Deserializable, SignedPublicKey};
use pgp::types::KeyDetails;

use crate::sign::SignError;

/// The bundle's name at the root of the published site, as Falco publishes it
/// (`https://falco.org/repo/falcosecurity-packages.asc`).
pub const KEY_BUNDLE: &str = "falcosecurity-packages.asc";

/// One ASCII-armored file holding every public key of `keys` (each entry `(origin, armored
/// text)`, one key or several), each key once, in the order first given: one armored block
/// per key, the form `gpg --import`, apt's `signed-by=` and dnf's `gpgkey=` all read whole.
///
/// ```
/// use falco_artifacts_core::{public_key_bundle, KeyAlgorithm, PgpSigner, Signer};
///
/// let a = PgpSigner::generate("A <a@example.org>", KeyAlgorithm::Ed25519)?.public_key_armored()?;
/// let b = PgpSigner::generate("B <b@example.org>", KeyAlgorithm::Ed25519)?.public_key_armored()?;
/// let bundle = public_key_bundle(&[("a", &a), ("b", &b), ("a again", &a)])?;
/// assert_eq!(bundle.matches("BEGIN PGP PUBLIC KEY BLOCK").count(), 2);
/// # Ok::<(), falco_artifacts_core::SignError>(())
/// ```
pub fn public_key_bundle(keys: &[(&str, &str)]) -> Result<String, SignError> {
    let mut seen = BTreeSet::new();
    let mut out = String::new();
    for (origin, armored) in keys {
        let parse_err = |source| SignError::ParsePublicKey {
            origin: (*origin).to_owned(),
            source: Box::new(source),
        };
        let (parsed, _headers) = SignedPublicKey::from_string_many(armored).map_err(parse_err)?;
        let mut any = false;
        for key in parsed {
            let key = key.map_err(parse_err)?;
            any = true;
            if !seen.insert(key.primary_key.fingerprint().to_string()) {
                continue;
            }
            let text = key
                .to_armored_string(ArmorOptions::default())
                .map_err(|source| SignError::Serialize {
                    what: "a public key of the bundle",
                    source: Box::new(source),
                })?;
            out.push_str(&text);
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        if !any {
            return Err(SignError::NoPublicKey {
                origin: (*origin).to_owned(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_without_a_key_is_refused_with_its_origin() {
        let err =
            public_key_bundle(&[("config signing.published_keys[0]", "not a key")]).unwrap_err();
        assert!(
            err.to_string().contains("signing.published_keys[0]"),
            "{err}"
        );
    }
}
