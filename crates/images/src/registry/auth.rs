//! `WWW-Authenticate` challenges, the bearer-token exchange of the distribution spec, and
//! where credentials may go.
//!
//! A registry answers with URLs of its choosing: an upload `Location`, a pagination `Link`, a
//! token `realm`. Credentials follow none of them blindly: the registry's password or token
//! goes only to the registry's own origin (scheme, host and port), and the password goes to a
//! token realm only over https, or over http for a registry configured as insecure (plain
//! http, as loopback registries are).

use std::collections::BTreeMap;

use url::Url;

use crate::reference::RegistryAddr;

/// Whether a request to `target` may carry the credentials (Basic or Bearer) of the registry
/// whose API lives at `base`: only when both have the same scheme, host and port.
pub(crate) fn is_registry_origin(base: &str, target: &str) -> bool {
    match (Url::parse(base), Url::parse(target)) {
        (Ok(base), Ok(target)) => {
            base.scheme() == target.scheme()
                && base.host_str() == target.host_str()
                && base.port_or_known_default() == target.port_or_known_default()
        }
        _ => false,
    }
}

/// Why the registry's password may not be sent to a token realm, if it may not.
pub(crate) fn realm_refusal(realm: &Url, registry: &RegistryAddr) -> Option<&'static str> {
    match realm.scheme() {
        "https" => None,
        "http" if registry.is_plain_http() => None,
        "http" => Some(
            "the token realm is plain http and the registry is not configured as insecure: \
             credentials are not sent there",
        ),
        _ => Some("the token realm is neither https nor http"),
    }
}

/// A parsed `WWW-Authenticate` header: the scheme (`basic`, `bearer`, lowercased) and its
/// parameters (`realm`, `service`, `scope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub(crate) scheme: String,
    pub(crate) params: BTreeMap<String, String>,
}

/// Parses `Scheme k="v",k2=v2`. Quoted values may hold commas and `\"` escapes.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = match header.split_once(char::is_whitespace) {
        Some((scheme, rest)) => (scheme, rest.trim()),
        None => (header, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    other => value.push(other),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim().to_owned();
        }
        params.insert(key, value);
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_stay_with_the_registry_origin() {
        let base = "https://ghcr.io";
        assert!(is_registry_origin(base, "https://ghcr.io/v2/a/tags/list"));
        assert!(is_registry_origin(base, "https://ghcr.io:443/v2/"));
        assert!(!is_registry_origin(base, "http://ghcr.io/v2/"));
        assert!(!is_registry_origin(base, "https://ghcr.io:8443/v2/"));
        assert!(!is_registry_origin(base, "https://evil.example/v2/"));
        assert!(!is_registry_origin(
            base,
            "https://ghcr.io.evil.example/v2/"
        ));
        assert!(!is_registry_origin(base, "not a url"));
        let local = "http://127.0.0.1:5000";
        assert!(is_registry_origin(
            local,
            "http://127.0.0.1:5000/v2/x/blobs/uploads/u"
        ));
        assert!(!is_registry_origin(local, "http://127.0.0.1:5001/upload"));
    }

    #[test]
    fn the_password_goes_to_a_realm_on_https_or_to_an_insecure_registrys_http_realm() {
        let hub: RegistryAddr = "docker.io".parse().unwrap();
        let local: RegistryAddr = "127.0.0.1:5000".parse().unwrap();
        let insecure: RegistryAddr = "registry.internal:5000"
            .parse::<RegistryAddr>()
            .unwrap()
            .with_plain_http(true);
        let https = Url::parse("https://auth.docker.io/token").unwrap();
        let http = Url::parse("http://auth.example/token").unwrap();
        assert_eq!(realm_refusal(&https, &hub), None);
        assert!(realm_refusal(&http, &hub).is_some());
        assert_eq!(realm_refusal(&http, &local), None);
        assert_eq!(realm_refusal(&http, &insecure), None);
        assert!(realm_refusal(&Url::parse("ftp://x/t").unwrap(), &local).is_some());
    }

    #[test]
    fn parses_docker_hub_and_basic_challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:falcosecurity/falco:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["service"], "registry.docker.io");
        assert_eq!(
            c.params["scope"],
            "repository:falcosecurity/falco:pull,push"
        );
        let b = parse_challenge(r#"Basic realm="testkit""#).unwrap();
        assert_eq!(b.scheme, "basic");
        assert_eq!(b.params["realm"], "testkit");
        let bare = parse_challenge("Bearer realm=x, service = y").unwrap();
        assert_eq!(bare.params["realm"], "x");
        assert_eq!(bare.params["service"], "y");
        assert!(parse_challenge("").is_none());
    }
}
