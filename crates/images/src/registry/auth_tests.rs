//! Where the client sends credentials, against loopback HTTP servers: one plays a registry
//! that answers with URLs on another host (an upload `Location`, a pagination `Link`, a
//! bearer challenge whose realm is elsewhere), the other plays that foreign host and records
//! the `Authorization` header of every request it gets. A real registry cannot be made to
//! answer like a hostile one, so both are small servers written here.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any error")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use ureq::http::Method;

use crate::credentials::Credentials;
use crate::registry::client::{Body, RegistryClient};

/// What one request carried: its path and its `Authorization` header.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A status line, headers and a body.
type Reply = (u16, Vec<(String, String)>, String);

/// Serves `reply(method, path, base_url)` on a free loopback port, recording each request.
fn serve(reply: impl Fn(&str, &str) -> Reply + Send + 'static) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_owned();
            let path = parts.next().unwrap_or_default().to_owned();
            let (mut auth, mut length) = (None, 0usize);
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
                let (name, value) = header.split_once(':').unwrap_or((&header, ""));
                let value = value.trim().to_owned();
                match name.to_ascii_lowercase().as_str() {
                    "authorization" => auth = Some(value),
                    "content-length" => length = value.parse().unwrap_or(0),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            record.lock().unwrap().push((path.clone(), auth));
            let (status, headers, body) = reply(&method, &path);
            let mut out = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
            out.push_str("\r\n");
            out.push_str(&body);
            let _ = stream.write_all(out.as_bytes());
        }
    });
    (base, seen)
}

const PASSWORD: &str = "registry-sentinel-password";

fn client(registry: &str) -> RegistryClient {
    let addr = registry.trim_start_matches("http://").parse().unwrap();
    RegistryClient::new(addr, Some(Credentials::new("ci", PASSWORD)))
        .unwrap()
        .with_retries(1, std::time::Duration::ZERO)
}

fn header(name: &str, value: String) -> Vec<(String, String)> {
    vec![(name.to_owned(), value)]
}

#[test]
fn a_foreign_location_or_link_gets_no_credentials() {
    let (foreign, foreign_seen) = serve(|method, path| match (method, path) {
        ("GET", p) if p.starts_with("/v2/falco/tags/list") => {
            (200, Vec::new(), r#"{"tags":["b"]}"#.to_owned())
        }
        ("PUT", _) => (201, Vec::new(), String::new()),
        _ => (404, Vec::new(), String::new()),
    });
    let foreign_for_registry = foreign.clone();
    let (registry, registry_seen) = serve(move |method, path| match (method, path) {
        ("GET", p) if p.starts_with("/v2/falco/tags/list") => (
            200,
            header(
                "Link",
                format!("<{foreign_for_registry}/v2/falco/tags/list?last=a>; rel=\"next\""),
            ),
            r#"{"tags":["a"]}"#.to_owned(),
        ),
        ("POST", "/v2/falco/blobs/uploads/") => (
            202,
            header("Location", format!("{foreign_for_registry}/upload/1")),
            String::new(),
        ),
        _ => (404, Vec::new(), String::new()),
    });
    let client = client(&registry);
    let inner = &client.inner;
    let tags = inner.tags_sync(&"falco".parse().unwrap()).unwrap();
    assert_eq!(tags.len(), 2, "{tags:?}");
    let digest = format!("sha256:{}", "0".repeat(64));
    inner
        .upload_blob_sync(
            &"falco".parse().unwrap(),
            &digest,
            Box::new(std::io::Cursor::new(b"blob".to_vec())),
            4,
        )
        .unwrap();
    let foreign_seen = foreign_seen.lock().unwrap().clone();
    assert_eq!(foreign_seen.len(), 2, "{foreign_seen:?}");
    for (path, auth) in &foreign_seen {
        assert_eq!(auth, &None, "the foreign host got credentials on {path}");
    }
    // The registry itself did get them.
    let registry_seen = registry_seen.lock().unwrap().clone();
    assert!(
        registry_seen
            .iter()
            .all(|(_, auth)| auth.as_deref().is_some_and(|a| a.starts_with("Basic "))),
        "{registry_seen:?}"
    );
}

#[test]
fn a_bearer_challenge_from_a_foreign_host_is_not_answered() {
    // The registry sends the upload to a foreign host, which asks for a token from its own
    // realm: following it would hand the registry's password to that realm.
    let (realm, realm_seen) = serve(|_, _| (200, Vec::new(), r#"{"token":"t"}"#.to_owned()));
    let challenge = format!("Bearer realm=\"{realm}/token\",service=\"evil\"");
    let (foreign, foreign_seen) = serve(move |_, _| {
        (
            401,
            header("WWW-Authenticate", challenge.clone()),
            String::new(),
        )
    });
    let (registry, _) = serve(move |_, _| {
        (
            202,
            header("Location", format!("{foreign}/upload/1")),
            String::new(),
        )
    });
    let client = client(&registry);
    let err = client
        .inner
        .send(
            Method::PUT,
            &format!("{registry}/v2/falco/blobs/uploads/"),
            &[],
            Body::Empty,
        )
        .and_then(|response| {
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            client.inner.send(Method::PUT, &location, &[], Body::Empty)
        })
        .unwrap_err();
    assert!(
        matches!(err, crate::ImageError::Unauthorized { .. }),
        "{err}"
    );
    assert!(
        realm_seen.lock().unwrap().is_empty(),
        "the foreign realm was asked"
    );
    assert!(foreign_seen
        .lock()
        .unwrap()
        .iter()
        .all(|(_, a)| a.is_none()));
    assert!(!format!("{err:?}").contains(PASSWORD));
}

#[test]
fn a_bearer_realm_of_the_registry_gets_the_password_once_and_the_registry_the_token() {
    let (realm, realm_seen) = serve(|_, _| (200, Vec::new(), r#"{"token":"tok-1"}"#.to_owned()));
    let challenge = format!("Bearer realm=\"{realm}/token\",service=\"registry\"");
    let (registry, registry_seen) = serve(move |_, path| {
        if path == "/v2/falco/tags/list?n=1000" {
            (
                401,
                header("WWW-Authenticate", challenge.clone()),
                String::new(),
            )
        } else {
            (200, Vec::new(), r#"{"tags":["a"]}"#.to_owned())
        }
    });
    // The second request uses another path so that the registry accepts it.
    let client = client(&registry);
    let err = client.inner.tags_sync(&"falco".parse().unwrap());
    // The registry answers 401 again after the token: Unauthorized, but the realm (plain
    // http, allowed because a loopback registry is plain http) got Basic once.
    assert!(err.is_err());
    let realm_seen = realm_seen.lock().unwrap().clone();
    assert_eq!(realm_seen.len(), 1, "{realm_seen:?}");
    assert!(realm_seen[0]
        .1
        .as_deref()
        .is_some_and(|a| a.starts_with("Basic ")));
    let registry_seen = registry_seen.lock().unwrap().clone();
    assert_eq!(
        registry_seen.last().and_then(|(_, a)| a.clone()).as_deref(),
        Some("Bearer tok-1")
    );
}
