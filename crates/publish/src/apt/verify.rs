//! Reading an APT repository the way apt does: what `Release` names.

use falco_artifacts_core::Sha256Digest;

use super::AptRepository;
use crate::error::PublishError;
use crate::store::RepoStore;
use falco_artifacts_core::Problem;

/// Checks every index the live `Release` names, at its canonical name and by hash, and the
/// signatures. The pool is checked by the protocol, from the `Packages` read by hash.
pub(super) async fn check_top(
    apt: &AptRepository,
    store: &RepoStore,
    problems: &mut Vec<Problem>,
) -> Result<bool, PublishError> {
    let layout = &apt.layout;
    let release = store.get(&layout.release()).await?;
    if let Some(release) = &release {
        let text = String::from_utf8_lossy(release).into_owned();
        // Every index Release names, at its canonical name and by hash.
        for (path, sha, size) in super::release::sha256_list(&text) {
            let by_hash = format!("{}/{}/by-hash/SHA256/{sha}", layout.dists(), parent(&path));
            let canonical = format!("{}/{path}", layout.dists());
            for (key, strict) in [(by_hash, true), (canonical, false)] {
                let problem = match store.get(&key).await? {
                    None => Some(Problem::MissingFile { path: key }),
                    Some(bytes)
                        if bytes.len() as u64 != size || Sha256Digest::of_bytes(&bytes) != sha =>
                    {
                        Some(if strict {
                            Problem::HashMismatch {
                                path: key,
                                indexed: sha,
                                stored: Sha256Digest::of_bytes(&bytes),
                            }
                        } else {
                            Problem::CanonicalAhead { path: key }
                        })
                    }
                    Some(_) => None,
                };
                problems.extend(problem);
            }
        }
        if apt.signer.is_some() {
            for key in [layout.in_release(), layout.release_gpg()] {
                match store.get(&key).await? {
                    None => problems.push(Problem::MissingSignature { path: key }),
                    Some(bytes) if key.ends_with("InRelease") => {
                        let signed = String::from_utf8_lossy(&bytes);
                        if !signed.contains(text.trim_end()) {
                            problems.push(Problem::SignatureBehind { path: key });
                        }
                    }
                    Some(_) => {}
                }
            }
        }
    }
    // A Packages file that cannot be read is an error of the read that follows, as apt's.
    Ok(true)
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}
