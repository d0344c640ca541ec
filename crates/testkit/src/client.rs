//! A tiny HTTP client for talking to the started services.

use std::time::Duration;

use ureq::http::Response;
use ureq::{Agent, Body};

use crate::TestkitError;

/// The largest body read from a service (test fixtures are small).
const BODY_LIMIT: u64 = 256 * 1024 * 1024;

/// An HTTP status and body as received.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// Fails with [`TestkitError::UnexpectedStatus`] unless the status is `expected`.
    pub(crate) fn expect(self, request: &str, expected: u16) -> Result<Self, TestkitError> {
        if self.status == expected {
            Ok(self)
        } else {
            Err(self.unexpected(request))
        }
    }

    pub(crate) fn unexpected(&self, request: &str) -> TestkitError {
        TestkitError::UnexpectedStatus {
            request: request.to_owned(),
            status: self.status,
            body: String::from_utf8_lossy(&self.body[..self.body.len().min(2000)]).into_owned(),
        }
    }
}

/// An agent that reports every status as a value, never goes through a proxy from the
/// environment (everything here is on loopback) and gives up after `timeout`.
pub(crate) fn agent(timeout: Duration) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// Turns ureq's outcome into a [`Reply`], reading the whole body.
pub(crate) fn reply(
    request: &str,
    result: Result<Response<Body>, ureq::Error>,
) -> Result<Reply, TestkitError> {
    let http = |source| TestkitError::Http {
        request: request.to_owned(),
        source,
    };
    let response = result.map_err(http)?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_vec()
        .map_err(http)?;
    Ok(Reply { status, body })
}

/// The status of `GET url`, or `None` when nothing answers yet.
pub(crate) fn probe_status(url: &str) -> Option<u16> {
    agent(Duration::from_secs(2))
        .get(url)
        .call()
        .ok()
        .map(|response| response.status().as_u16())
}
