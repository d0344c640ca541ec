//! Validated image references: registry address, repository name, tag.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A string that is not a valid part of an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not a valid {what}: expected {expected}")]
pub struct InvalidReference {
    /// Which part: `image name`, `tag` or `registry address`.
    pub what: &'static str,
    /// The string given.
    pub given: String,
    /// What the grammar wants.
    pub expected: &'static str,
}

const NAME_RULE: &str = "lowercase path components of a-z, 0-9 separated by '.', '_', '__' or \
    '-', joined by '/', 255 characters at most (e.g. falcosecurity/falco)";
const TAG_RULE: &str = "1 to 128 characters of A-Z, a-z, 0-9, '_', '.', '-', not starting with \
    '.' or '-' ('+' is not allowed)";
const REGISTRY_RULE: &str = "a host name or IP address with an optional :port (e.g. \
    ghcr.io, 127.0.0.1:5000), no scheme and no path";

/// A repository name inside a registry, such as `falcosecurity/falco`.
///
/// Follows the distribution reference grammar: each `/`-separated component is lowercase
/// alphanumerics joined by one `.`, one or two `_`, or any number of `-`.
///
/// ```
/// use falco_artifacts_images::ImageName;
///
/// let name: ImageName = "falcosecurity/falco-driver-loader".parse()?;
/// assert_eq!(name.as_ref(), "falcosecurity/falco-driver-loader");
/// assert!("Falco".parse::<ImageName>().is_err());
/// # Ok::<(), falco_artifacts_images::InvalidReference>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageName(String);

fn valid_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or "-"+, always followed by an alphanumeric.
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

impl FromStr for ImageName {
    type Err = InvalidReference;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > 255 || !s.split('/').all(valid_component) {
            return Err(InvalidReference {
                what: "image name",
                given: s.to_owned(),
                expected: NAME_RULE,
            });
        }
        Ok(ImageName(s.to_owned()))
    }
}

/// An image tag such as `0.39.0`, `latest` or `x86_64-master`.
///
/// ```
/// use falco_artifacts_images::Tag;
///
/// assert!("0.39.0".parse::<Tag>().is_ok());
/// assert!("0.45.0-36+1307474".parse::<Tag>().is_err()); // '+' never appears in a tag
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub(crate) String);

impl FromStr for Tag {
    type Err = InvalidReference;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let ok = !s.is_empty()
            && s.len() <= 128
            && word(s.as_bytes()[0])
            && s.bytes().all(|b| word(b) || b == b'.' || b == b'-');
        if !ok {
            return Err(InvalidReference {
                what: "tag",
                given: s.to_owned(),
                expected: TAG_RULE,
            });
        }
        Ok(Tag(s.to_owned()))
    }
}

/// Where a registry is: `host[:port]`, as written in image references (`ghcr.io`,
/// `127.0.0.1:5000`, `docker.io`).
///
/// ```
/// use falco_artifacts_images::RegistryAddr;
///
/// let local: RegistryAddr = "127.0.0.1:5000".parse()?;
/// assert_eq!(local.api_base(), "http://127.0.0.1:5000");
/// let hub: RegistryAddr = "docker.io".parse()?;
/// assert_eq!(hub.api_base(), "https://registry-1.docker.io");
/// # Ok::<(), falco_artifacts_images::InvalidReference>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistryAddr {
    address: String,
    plain_http: bool,
}

impl RegistryAddr {
    /// The host part, without the port.
    pub fn host(&self) -> &str {
        if let Some(rest) = self.address.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        self.address.split(':').next().unwrap_or(&self.address)
    }

    /// Uses plain HTTP for the registry API whatever the host (an "insecure registry").
    /// Loopback addresses and `localhost` use plain HTTP already, as dockerd does.
    pub fn with_plain_http(mut self, plain_http: bool) -> Self {
        self.plain_http = plain_http;
        self
    }

    /// Whether the registry API is spoken over plain HTTP.
    pub fn is_plain_http(&self) -> bool {
        self.plain_http
    }

    /// The base URL of the registry API (without `/v2/`); Docker Hub's API lives at
    /// `registry-1.docker.io`.
    pub fn api_base(&self) -> String {
        let scheme = if self.plain_http { "http" } else { "https" };
        let host = match self.address.as_str() {
            "docker.io" | "index.docker.io" => "registry-1.docker.io",
            other => other,
        };
        format!("{scheme}://{host}")
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl FromStr for RegistryAddr {
    type Err = InvalidReference;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidReference {
            what: "registry address",
            given: s.to_owned(),
            expected: REGISTRY_RULE,
        };
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(invalid)?;
            host.parse::<std::net::Ipv6Addr>().map_err(|_| invalid())?;
            (host, after.strip_prefix(':'))
        } else {
            match s.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (s, None),
            }
        };
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && (host.contains(':')
                || host.split('.').all(|label| {
                    !label.is_empty()
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                }));
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
        if !host_ok || !port_ok {
            return Err(invalid());
        }
        Ok(RegistryAddr {
            address: s.to_owned(),
            plain_http: is_loopback(host),
        })
    }
}

/// A full reference to a tagged image: `registry/name:tag`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// Where the image lives.
    pub registry: RegistryAddr,
    /// The repository inside the registry.
    pub name: ImageName,
    /// The tag.
    pub tag: Tag,
}

impl ImageRef {
    /// A reference from its three parts.
    pub fn new(registry: RegistryAddr, name: ImageName, tag: Tag) -> Self {
        ImageRef {
            registry,
            name,
            tag,
        }
    }

    /// `registry/name`, the repository as the engine names it.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.registry, self.name)
    }
}

macro_rules! string_newtype {
    ($t:ty, $field:tt) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.$field)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.$field
            }
        }
        impl TryFrom<&str> for $t {
            type Error = InvalidReference;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    };
}
string_newtype!(ImageName, 0);
string_newtype!(Tag, 0);
string_newtype!(RegistryAddr, address);

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.registry, self.name, self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_distribution_grammar() {
        for good in [
            "falco",
            "falcosecurity/falco",
            "a/b/c",
            "my_org/x__y",
            "a-b---c/d.e",
            "f0/1",
        ] {
            assert!(good.parse::<ImageName>().is_ok(), "{good}");
        }
        for bad in [
            "", "Falco", "/falco", "falco/", "a//b", "-a", "a_", "a___b", "a..b", "a:b", "a b",
        ] {
            assert!(bad.parse::<ImageName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_follow_the_distribution_grammar() {
        for good in ["latest", "0.39.0", "x86_64-master", "_x", "0.45.0-rc1"] {
            assert!(good.parse::<Tag>().is_ok(), "{good}");
        }
        let long = "a".repeat(129);
        for bad in ["", ".a", "-a", "a+b", "a/b", "a:b", long.as_str()] {
            assert!(bad.parse::<Tag>().is_err(), "{bad}");
        }
        let err = "1+2".parse::<Tag>().unwrap_err().to_string();
        assert!(err.contains("'+' is not allowed"), "{err}");
    }

    #[test]
    fn registries_pick_plain_http_on_loopback_only() {
        let r: RegistryAddr = "127.0.0.1:5000".parse().unwrap();
        assert!(r.is_plain_http());
        assert_eq!(r.host(), "127.0.0.1");
        assert!("localhost:5000"
            .parse::<RegistryAddr>()
            .unwrap()
            .is_plain_http());
        assert!("[::1]:5000"
            .parse::<RegistryAddr>()
            .unwrap()
            .is_plain_http());
        let ghcr: RegistryAddr = "ghcr.io".parse().unwrap();
        assert!(!ghcr.is_plain_http());
        assert_eq!(ghcr.api_base(), "https://ghcr.io");
        for bad in ["", "http://x", "x/y", "x:0", "x:99999", "-x.io", "a..b"] {
            assert!(bad.parse::<RegistryAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn refs_render_as_the_engine_writes_them() {
        let r = ImageRef::new(
            "127.0.0.1:5000".parse().unwrap(),
            "falcosecurity/falco".parse().unwrap(),
            "0.39.0".parse().unwrap(),
        );
        assert_eq!(r.to_string(), "127.0.0.1:5000/falcosecurity/falco:0.39.0");
        assert_eq!(r.repository(), "127.0.0.1:5000/falcosecurity/falco");
    }
}
