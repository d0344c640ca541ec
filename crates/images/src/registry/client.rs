//! A small client for the registry HTTP API (distribution spec v2) on blocking `ureq`:
//! basic and bearer-token auth, retries, streamed blob bodies.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use ureq::http::{self, Method, Response};

use crate::credentials::Credentials;
use crate::error::ImageError;
use crate::reference::RegistryAddr;
use crate::registry::auth::{is_registry_origin, parse_challenge, realm_refusal};

/// How often a request is tried when the registry cannot be reached or answers 5xx/429.
const DEFAULT_ATTEMPTS: u32 = 3;
/// The first pause between attempts; it doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Connecting and reading headers; blob bodies are not bounded (they can be large).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// How much of an error body goes into an error message.
const BODY_SHOWN: usize = 300;

/// A request body.
pub(crate) enum Body {
    Empty,
    Bytes(Vec<u8>),
    /// Streamed once, with a known length; cannot be replayed on retry.
    Stream(Box<dyn Read + Send>, u64),
}

impl Body {
    fn replayable(&self) -> bool {
        !matches!(self, Body::Stream(..))
    }
}

pub(crate) struct Inner {
    pub(crate) registry: RegistryAddr,
    base: String,
    agent: ureq::Agent,
    credentials: Option<Credentials>,
    token: Mutex<Option<String>>,
    attempts: u32,
    backoff: Duration,
}

/// A client for one registry's HTTP API, with optional credentials.
///
/// Cheap to clone (shared state). Its async methods run the blocking HTTP calls on tokio's
/// blocking pool. Plain HTTP is used for loopback registries and for those marked with
/// [`RegistryAddr::with_plain_http`]; HTTPS needs the crate's `tls` feature.
///
/// ```no_run
/// use falco_artifacts_images::{Credentials, RegistryClient};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = RegistryClient::new("127.0.0.1:5000".parse()?, Some(Credentials::new("ci", "secret")))?;
/// let tags = client.list_tags(&"falcosecurity/falco".parse()?).await?;
/// println!("{tags:?}");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RegistryClient {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("registry", &self.inner.registry)
            .field("credentials", &self.inner.credentials)
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// A client for `registry`. Fails if the registry needs HTTPS and the `tls` feature is off.
    pub fn new(
        registry: RegistryAddr,
        credentials: Option<Credentials>,
    ) -> Result<Self, ImageError> {
        if !registry.is_plain_http() && !cfg!(feature = "tls") {
            return Err(ImageError::TlsDisabled {
                registry: registry.to_string(),
            });
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(RESPONSE_TIMEOUT))
            // A redirect is a URL the registry chose: it gets no credentials.
            .redirect_auth_headers(ureq::config::RedirectAuthHeaders::Never)
            .build()
            .into();
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                base: registry.api_base(),
                registry,
                agent,
                credentials,
                token: Mutex::new(None),
                attempts: DEFAULT_ATTEMPTS,
                backoff: FIRST_BACKOFF,
            }),
        })
    }

    /// Tries each request `attempts` times (at least once) when the registry cannot be
    /// reached or answers 5xx/429, pausing `backoff`, then twice as long, between tries.
    pub fn with_retries(self, attempts: u32, backoff: Duration) -> Self {
        let inner = &self.inner;
        RegistryClient {
            inner: Arc::new(Inner {
                registry: inner.registry.clone(),
                base: inner.base.clone(),
                agent: inner.agent.clone(),
                credentials: inner.credentials.clone(),
                token: Mutex::new(None),
                attempts: attempts.max(1),
                backoff,
            }),
        }
    }

    /// The registry this client talks to.
    pub fn registry(&self) -> &RegistryAddr {
        &self.inner.registry
    }

    /// Runs `f` with the shared state on tokio's blocking pool.
    pub(crate) async fn blocking<T, F>(&self, what: &'static str, f: F) -> Result<T, ImageError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, ImageError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|_| ImageError::Interrupted { what })?
    }
}

/// The start of a body, for error messages.
pub(crate) fn body_text(response: &mut Response<ureq::Body>) -> String {
    let bytes = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_vec()
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    match text.char_indices().nth(BODY_SHOWN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

impl Inner {
    /// The absolute URL of an API path (`/v2/...`) or of a `Location` the registry sent.
    pub(crate) fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_owned()
        } else {
            format!("{}{}", self.base, path_or_url)
        }
    }

    fn authorization(&self) -> Option<String> {
        let token = self.token.lock().ok().and_then(|t| t.clone());
        match token {
            Some(token) => Some(format!("Bearer {token}")),
            None => self.credentials.as_ref().map(Credentials::basic_header),
        }
    }

    pub(crate) fn unauthorized(&self, detail: String) -> ImageError {
        ImageError::Unauthorized {
            registry: self.registry.to_string(),
            had_credentials: self.credentials.is_some(),
            detail,
        }
    }

    pub(crate) fn status_error(
        &self,
        request: String,
        response: &mut Response<ureq::Body>,
    ) -> ImageError {
        ImageError::RegistryStatus {
            registry: self.registry.to_string(),
            request,
            status: response.status().as_u16(),
            body: body_text(response),
        }
    }

    pub(crate) fn protocol_error(&self, request: String, problem: impl Into<String>) -> ImageError {
        ImageError::RegistryProtocol {
            registry: self.registry.to_string(),
            request,
            problem: problem.into(),
        }
    }

    /// Sends one request, with auth, retries and the bearer-token dance. Returns every
    /// response but 401 (which becomes [`ImageError::Unauthorized`]); the caller judges the
    /// status.
    pub(crate) fn send(
        &self,
        method: Method,
        path_or_url: &str,
        headers: &[(&str, &str)],
        mut body: Body,
    ) -> Result<Response<ureq::Body>, ImageError> {
        let url = self.url(path_or_url);
        let request_name = format!("{method} {url}");
        // A Location or Link the registry sent may point anywhere; only its own origin gets
        // our credentials.
        let own_origin = is_registry_origin(&self.base, &url);
        let mut attempt = 0;
        let mut fetched_token = false;
        loop {
            attempt += 1;
            let mut builder = http::Request::builder()
                .method(method.clone())
                .uri(url.as_str());
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            if let Some(auth) = self.authorization().filter(|_| own_origin) {
                builder = builder.header("Authorization", auth);
            }
            let replayable = body.replayable();
            let result = match std::mem::replace(&mut body, Body::Empty) {
                Body::Empty => self.agent.run(
                    builder
                        .body(())
                        .map_err(|e| self.protocol_error(request_name.clone(), e.to_string()))?,
                ),
                Body::Bytes(bytes) => {
                    let request = builder
                        .header("Content-Length", bytes.len())
                        .body(bytes.as_slice())
                        .map_err(|e| self.protocol_error(request_name.clone(), e.to_string()))?;
                    let result = self.agent.run(request);
                    body = Body::Bytes(bytes);
                    result
                }
                Body::Stream(reader, len) => {
                    let request = builder
                        .header("Content-Length", len)
                        .body(ureq::SendBody::from_owned_reader(reader))
                        .map_err(|e| self.protocol_error(request_name.clone(), e.to_string()))?;
                    self.agent.run(request)
                }
            };
            let retry_left = replayable && attempt < self.attempts;
            match result {
                Err(source) => {
                    if retry_left {
                        self.pause(attempt);
                        continue;
                    }
                    return Err(ImageError::RegistryUnreachable {
                        registry: self.registry.to_string(),
                        request: request_name,
                        attempts: attempt,
                        source,
                    });
                }
                Ok(mut response) if response.status() == 401 => {
                    let challenge = response
                        .headers()
                        .get("www-authenticate")
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_challenge);
                    let detail = body_text(&mut response);
                    match challenge {
                        Some(c)
                            if c.scheme == "bearer"
                                && !fetched_token
                                && replayable
                                && own_origin =>
                        {
                            fetched_token = true;
                            attempt -= 1;
                            self.fetch_token(&c.params)?;
                        }
                        _ => return Err(self.unauthorized(detail)),
                    }
                }
                Ok(response)
                    if retry_left
                        && (response.status().is_server_error() || response.status() == 429) =>
                {
                    self.pause(attempt);
                }
                Ok(response) => return Ok(response),
            }
        }
    }

    fn pause(&self, attempt: u32) {
        thread::sleep(self.backoff * 2u32.saturating_pow(attempt.saturating_sub(1)));
    }

    /// Gets a bearer token from the challenge's realm, with our credentials if any.
    fn fetch_token(
        &self,
        params: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), ImageError> {
        let realm = params.get("realm").ok_or_else(|| {
            self.protocol_error(
                "token challenge".to_owned(),
                "a Bearer challenge without realm",
            )
        })?;
        let mut url = url::Url::parse(realm).map_err(|e| {
            self.protocol_error(format!("token realm {realm}"), format!("bad URL: {e}"))
        })?;
        {
            let mut query = url.query_pairs_mut();
            for key in ["service", "scope"] {
                if let Some(value) = params.get(key) {
                    query.append_pair(key, value);
                }
            }
        }
        let request = format!("GET {url}");
        if self.credentials.is_some() {
            if let Some(problem) = realm_refusal(&url, &self.registry) {
                return Err(self.protocol_error(request, problem));
            }
        }
        let mut builder = http::Request::builder()
            .method(Method::GET)
            .uri(url.as_str());
        if let Some(credentials) = &self.credentials {
            builder = builder.header("Authorization", credentials.basic_header());
        }
        let built = builder
            .body(())
            .map_err(|e| self.protocol_error(request.clone(), e.to_string()))?;
        let mut response =
            self.agent
                .run(built)
                .map_err(|source| ImageError::RegistryUnreachable {
                    registry: self.registry.to_string(),
                    request: request.clone(),
                    attempts: 1,
                    source,
                })?;
        match response.status().as_u16() {
            200 => {}
            401 | 403 => return Err(self.unauthorized(body_text(&mut response))),
            _ => return Err(self.status_error(request, &mut response)),
        }
        #[derive(serde::Deserialize)]
        struct TokenReply {
            token: Option<String>,
            access_token: Option<String>,
        }
        let bytes = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| self.protocol_error(request.clone(), e.to_string()))?;
        let reply: TokenReply = serde_json::from_slice(&bytes)
            .map_err(|e| self.protocol_error(request.clone(), format!("not a token reply: {e}")))?;
        let token = reply.token.or(reply.access_token).ok_or_else(|| {
            self.protocol_error(
                request,
                "the token reply holds neither token nor access_token",
            )
        })?;
        if let Ok(mut slot) = self.token.lock() {
            *slot = Some(token);
        }
        Ok(())
    }
}
