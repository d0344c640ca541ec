//! An Azure Blob Storage server on loopback: Azurite's `azurite-blob` (npm `azurite`).

use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tempfile::TempDir;

use crate::client;
use crate::process::Service;
use crate::{free_port, require_tool, TestkitError, READY_TIMEOUT};

/// Azurite's well-known development account and its key (public, the same in every install).
const ACCOUNT: &str = "devstoreaccount1";
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The REST API version the helpers speak.
const API_VERSION: &str = "2021-08-06";
/// The container the start-up self-check creates.
const SELFCHECK_CONTAINER: &str = "testkit-selfcheck";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `azurite-blob` answering Azure Blob Storage requests on 127.0.0.1, in memory.
///
/// It serves the development account [`Azurite::account`] with [`Azurite::account_key`],
/// path-style: blobs are at `{endpoint}/{container}/{blob}` where
/// [`Azurite::endpoint`] already names the account.
///
/// Dropping it stops the server and removes its temporary directory.
///
/// ```no_run
/// use falco_artifacts_testkit::Azurite;
///
/// let azurite = Azurite::start()?;
/// azurite.create_public_container("falco-downloads")?;
/// // An `az://falco-downloads` store reaches it with endpoint `azurite.endpoint()`, account
/// // `azurite.account()` and key `azurite.account_key()`; anyone reads its blobs:
/// assert!(azurite.get_public_blob("falco-downloads", "index.json")?.is_none());
/// # Ok::<(), falco_artifacts_testkit::TestkitError>(())
/// ```
#[derive(Debug)]
pub struct Azurite {
    service: Service,
    port: u16,
    _dir: TempDir,
}

impl Azurite {
    /// Starts `azurite-blob --inMemoryPersistence` on a free port, waits until it answers, and
    /// checks that it refuses a second `PUT` with `If-None-Match: *` (HTTP 409) and a `PUT`
    /// with a stale `If-Match` (HTTP 412), which publishing relies on.
    pub fn start() -> Result<Self, TestkitError> {
        let program = require_tool("azurite-blob", "npm package azurite")?;
        let dir = tempfile::Builder::new()
            .prefix("tk-azurite-")
            .tempdir()
            .map_err(|source| TestkitError::io("create a temporary directory", source))?;
        let port = free_port()?;
        let mut command = Command::new(program);
        command
            .args(["--blobHost", "127.0.0.1", "--blobPort"])
            .arg(port.to_string())
            .args([
                "--inMemoryPersistence",
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--silent",
            ])
            // Its `__azurite_db_*` files, if any, land in the temporary directory.
            .current_dir(dir.path());
        let mut service = Service::spawn(
            "azurite-blob",
            command,
            &dir.path().join("azurite.log"),
            Duration::from_secs(5),
        )?;
        let root = format!("http://127.0.0.1:{port}/{ACCOUNT}?comp=list");
        service.wait_ready(READY_TIMEOUT, || client::probe_status(&root).is_some())?;
        let azurite = Self {
            service,
            port,
            _dir: dir,
        };
        azurite.self_check()?;
        Ok(azurite)
    }

    /// The account's blob endpoint, `http://127.0.0.1:PORT/devstoreaccount1`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.service.pid()
    }

    /// The storage account: `devstoreaccount1`.
    pub fn account(&self) -> &'static str {
        ACCOUNT
    }

    /// The account's well-known access key.
    pub fn account_key(&self) -> &'static str {
        ACCOUNT_KEY
    }

    /// Creates the container `name`, private.
    pub fn create_container(&self, name: &str) -> Result<(), TestkitError> {
        self.put_container(name, None)
    }

    /// Creates the container `name` with anonymous read access to its blobs, like a public
    /// download container that apt and dnf fetch from over plain HTTP.
    pub fn create_public_container(&self, name: &str) -> Result<(), TestkitError> {
        self.put_container(name, Some("blob"))
    }

    /// Reads `container`/`blob` anonymously (a public container); `Ok(None)` when absent.
    pub fn get_public_blob(
        &self,
        container: &str,
        blob: &str,
    ) -> Result<Option<Vec<u8>>, TestkitError> {
        let url = format!("{}/{container}/{blob}", self.endpoint());
        let request = format!("GET {url}");
        let reply = client::reply(&request, client::agent(REQUEST_TIMEOUT).get(&url).call())?;
        match reply.status {
            200 => Ok(Some(reply.body)),
            404 => Ok(None),
            _ => Err(reply.unexpected(&request)),
        }
    }

    fn put_container(&self, name: &str, public: Option<&str>) -> Result<(), TestkitError> {
        let url = format!("{}/{name}?restype=container", self.endpoint());
        let request = format!("PUT {url}");
        let mut headers = vec![
            ("x-ms-date", http_date()),
            ("x-ms-version", API_VERSION.to_owned()),
        ];
        if let Some(access) = public {
            headers.push(("x-ms-blob-public-access", access.to_owned()));
        }
        let resource = format!("/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container");
        let signature = self.sign("PUT", "", &[], &headers, &resource)?;
        let mut call = client::agent(REQUEST_TIMEOUT)
            .put(&url)
            .header("Authorization", signature);
        for (key, value) in &headers {
            call = call.header(*key, value);
        }
        client::reply(&request, call.send_empty())?.expect(&request, 201)?;
        Ok(())
    }

    /// A blob `PUT` with the conditional headers `conditions`; the reply's status and `ETag`.
    fn put_blob(
        &self,
        container: &str,
        blob: &str,
        body: &[u8],
        conditions: &[(&'static str, String)],
    ) -> Result<(u16, Option<String>), TestkitError> {
        let url = format!("{}/{container}/{blob}", self.endpoint());
        let request = format!("PUT {url} with {conditions:?}");
        let headers = vec![
            ("x-ms-blob-type", "BlockBlob".to_owned()),
            ("x-ms-date", http_date()),
            ("x-ms-version", API_VERSION.to_owned()),
        ];
        let resource = format!("/{ACCOUNT}/{ACCOUNT}/{container}/{blob}");
        let length = body.len().to_string();
        let signature = self.sign("PUT", &length, conditions, &headers, &resource)?;
        let mut call = client::agent(REQUEST_TIMEOUT)
            .put(&url)
            .header("Authorization", signature);
        for (key, value) in headers.iter().chain(conditions) {
            call = call.header(*key, value);
        }
        let response = call.send(body).map_err(|source| TestkitError::Http {
            request: request.clone(),
            source,
        })?;
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let status = response.status().as_u16();
        Ok((status, etag))
    }

    /// `Authorization: SharedKey` for a request (the Blob service's string to sign).
    fn sign(
        &self,
        verb: &str,
        content_length: &str,
        conditions: &[(&'static str, String)],
        ms_headers: &[(&'static str, String)],
        resource: &str,
    ) -> Result<String, TestkitError> {
        let condition = |name: &str| {
            conditions
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map_or("", |(_, value)| value.as_str())
        };
        let mut canonical: Vec<_> = ms_headers.iter().collect();
        canonical.sort_by_key(|(key, _)| *key);
        let canonical: String = canonical
            .iter()
            .map(|(key, value)| format!("{key}:{value}\n"))
            .collect();
        let to_sign = format!(
            "{verb}\n\n\n{content_length}\n\n\n\n\n{}\n{}\n\n\n{canonical}{resource}",
            condition("If-Match"),
            condition("If-None-Match"),
        );
        let key = base64::engine::general_purpose::STANDARD
            .decode(ACCOUNT_KEY)
            .map_err(|e| TestkitError::Check {
                what: "the Azurite account key".to_owned(),
                detail: e.to_string(),
            })?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| TestkitError::Check {
            what: "the Azurite account key".to_owned(),
            detail: e.to_string(),
        })?;
        mac.update(to_sign.as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        Ok(format!("SharedKey {ACCOUNT}:{signature}"))
    }

    fn self_check(&self) -> Result<(), TestkitError> {
        let what = "Azure conditional writes (If-None-Match: *, If-Match)";
        let check = |detail: String| TestkitError::Check {
            what: what.to_owned(),
            detail,
        };
        self.create_container(SELFCHECK_CONTAINER)?;
        let create = [("If-None-Match", "*".to_owned())];
        let (first, etag) = self.put_blob(SELFCHECK_CONTAINER, "probe", b"probe", &create)?;
        if first != 201 {
            return Err(check(format!("creating a new blob answered {first}")));
        }
        let (second, _) = self.put_blob(SELFCHECK_CONTAINER, "probe", b"probe", &create)?;
        if second != 409 && second != 412 {
            return Err(check(format!(
                "the server does not honour conditional creates: overwriting an existing blob \
                 answered {second} instead of 409"
            )));
        }
        let etag = etag.ok_or_else(|| check("a created blob came back without an ETag".into()))?;
        let (updated, _) = self.put_blob(
            SELFCHECK_CONTAINER,
            "probe",
            b"next",
            &[("If-Match", etag.clone())],
        )?;
        if updated != 201 {
            return Err(check(format!(
                "replacing a blob with its current ETag answered {updated}"
            )));
        }
        let (stale, _) =
            self.put_blob(SELFCHECK_CONTAINER, "probe", b"late", &[("If-Match", etag)])?;
        if stale != 412 {
            return Err(check(format!(
                "the server does not honour If-Match: replacing a blob with a stale ETag \
                 answered {stale} instead of 412"
            )));
        }
        Ok(())
    }
}

/// Now as an RFC 1123 date (`x-ms-date`).
fn http_date() -> String {
    chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}
