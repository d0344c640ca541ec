//! Who may read uploaded objects and how S3 encrypts them: a canned ACL and server-side
//! encryption, set once per store.

use std::fmt;
use std::str::FromStr;

/// An S3 canned ACL sent with every upload (`x-amz-acl`).
///
/// Buckets with S3 Object Ownership "bucket owner enforced" (the AWS default since 2023)
/// refuse every ACL but `bucket-owner-full-control`: grant public reads there with a bucket
/// policy instead.
///
/// ```
/// use falco_artifacts_publish::CannedAcl;
///
/// let acl: CannedAcl = "public-read".parse()?;
/// assert_eq!(acl, CannedAcl::PublicRead);
/// assert_eq!(acl.to_string(), "public-read");
/// assert!("world-writable".parse::<CannedAcl>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CannedAcl {
    /// `private`
    Private,
    /// `public-read`
    PublicRead,
    /// `authenticated-read`
    AuthenticatedRead,
    /// `bucket-owner-read`
    BucketOwnerRead,
    /// `bucket-owner-full-control`
    BucketOwnerFullControl,
}

const ACLS: [(CannedAcl, &str); 5] = [
    (CannedAcl::Private, "private"),
    (CannedAcl::PublicRead, "public-read"),
    (CannedAcl::AuthenticatedRead, "authenticated-read"),
    (CannedAcl::BucketOwnerRead, "bucket-owner-read"),
    (
        CannedAcl::BucketOwnerFullControl,
        "bucket-owner-full-control",
    ),
];

impl CannedAcl {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        ACLS.iter()
            .find(|(acl, _)| *acl == self)
            .map_or("private", |(_, name)| name)
    }
}

impl fmt::Display for CannedAcl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for CannedAcl {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// A name that is not an S3 canned ACL offered here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a canned ACL (private, public-read, authenticated-read, bucket-owner-read, bucket-owner-full-control)")]
pub struct UnknownAcl {
    /// The name given.
    pub name: String,
}

impl FromStr for CannedAcl {
    type Err = UnknownAcl;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ACLS.iter()
            .find(|(_, name)| *name == s)
            .map(|(acl, _)| *acl)
            .ok_or_else(|| UnknownAcl { name: s.to_owned() })
    }
}

/// How S3 encrypts uploaded objects at rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSideEncryption {
    /// SSE-S3: keys managed by S3 (`AES256`).
    S3Managed,
    /// SSE-KMS with the key `key_id` (an id or ARN; `None`: the account's default key);
    /// `bucket_key`: use an S3 Bucket Key, which cuts KMS requests.
    Kms {
        /// The KMS key.
        key_id: Option<String>,
        /// Whether S3 Bucket Keys are used.
        bucket_key: bool,
    },
}

impl ServerSideEncryption {
    /// The `object_store` configuration keys and values that select it.
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    pub(crate) fn config(&self) -> Vec<(&'static str, String)> {
        match self {
            ServerSideEncryption::S3Managed => {
                vec![("aws_server_side_encryption", "AES256".into())]
            }
            ServerSideEncryption::Kms { key_id, bucket_key } => {
                let mut config = vec![
                    ("aws_server_side_encryption", "aws:kms".into()),
                    ("aws_sse_bucket_key_enabled", bucket_key.to_string()),
                ];
                if let Some(key_id) = key_id {
                    config.push(("aws_sse_kms_key_id", key_id.clone()));
                }
                config
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_acl_round_trips() {
        for (acl, name) in ACLS {
            assert_eq!(name.parse::<CannedAcl>(), Ok(acl));
            assert_eq!(acl.to_string(), name);
        }
    }
}
