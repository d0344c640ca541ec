//! CloudFront's `CreateInvalidation`, signed with SigV4 by `object_store`'s own signer and
//! sent through its HTTP client (both already built for S3: no AWS SDK).

use http::header::CONTENT_TYPE;
use http::{Method, Request};
use object_store::aws::{AmazonS3Builder, AwsAuthorizer, AwsCredentialProvider};
use object_store::client::{
    HttpClient, HttpConnector as _, HttpError, HttpRequestBody, ReqwestConnector,
};
use object_store::ClientOptions;
use quick_xml::events::Event;
use quick_xml::Reader;

use super::{CloudFrontOptions, SetupError};

const AWS_ENDPOINT: &str = "https://cloudfront.amazonaws.com";
const API: &str = "2020-05-31";
/// CloudFront is a global service: every request is signed for `us-east-1`.
const SIGNING_REGION: &str = "us-east-1";

/// Why CloudFront did not accept an invalidation.
#[derive(Debug, thiserror::Error)]
pub enum CdnError {
    /// No credentials could be found to sign with.
    #[error("no AWS credentials to sign the request to {url}")]
    Credentials {
        /// The request's URL.
        url: String,
        /// What the credential chain said.
        #[source]
        source: object_store::Error,
    },
    /// The request could not be built or signed.
    #[error("cannot build the request to {url}")]
    Build {
        /// The request's URL.
        url: String,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The request did not get an answer.
    #[error("cannot reach {url}")]
    Request {
        /// The request's URL.
        url: String,
        /// The transport's error.
        #[source]
        source: HttpError,
    },
    /// CloudFront answered with an error (`NoSuchDistribution`, `TooManyInvalidationsInProgress`, …).
    #[error("{url} answered {status}: {code} {message}")]
    Refused {
        /// The request's URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The error code of the answer.
        code: String,
        /// Its message.
        message: String,
    },
    /// CloudFront accepted the invalidation without saying its id.
    #[error("{url} answered {status} without an invalidation id")]
    NoId {
        /// The request's URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
}

/// A CloudFront API client for one distribution.
#[derive(Debug)]
pub(crate) struct Client {
    http: HttpClient,
    credentials: AwsCredentialProvider,
    url: String,
}

impl Client {
    pub(crate) fn new(
        options: &CloudFrontOptions,
        (key_id, secret): (Option<&str>, Option<&str>),
    ) -> Result<Client, SetupError> {
        let endpoint = options
            .endpoint
            .as_deref()
            .unwrap_or(AWS_ENDPOINT)
            .trim_end_matches('/');
        let client_options = ClientOptions::new()
            .with_allow_http(endpoint.starts_with("http://"))
            .with_timeout(options.timeout);
        // object_store's credential chain (keys, AWS_* variables, web identity, ECS, IMDS),
        // through an S3 client that makes no request of its own.
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name("cloudfront-credentials")
            .with_region(SIGNING_REGION);
        if let Some(key_id) = key_id {
            builder = builder.with_access_key_id(key_id);
        }
        if let Some(secret) = secret {
            builder = builder.with_secret_access_key(secret);
        }
        let credentials = builder.build()?.credentials().clone();
        Ok(Client {
            http: ReqwestConnector::default().connect(&client_options)?,
            credentials,
            url: format!(
                "{endpoint}/{API}/distribution/{}/invalidation",
                options.distribution_id
            ),
        })
    }

    /// Creates an invalidation of `paths`; its id.
    pub(crate) async fn create(
        &self,
        paths: &[String],
        reference: &str,
    ) -> Result<String, CdnError> {
        let url = &self.url;
        let build = |source: Box<dyn std::error::Error + Send + Sync>| CdnError::Build {
            url: url.clone(),
            source,
        };
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(url.as_str())
            .header(CONTENT_TYPE, "application/xml")
            .body(HttpRequestBody::from(batch(paths, reference)))
            .map_err(|e| build(Box::new(e)))?;
        let credential =
            self.credentials
                .get_credential()
                .await
                .map_err(|source| CdnError::Credentials {
                    url: url.clone(),
                    source,
                })?;
        AwsAuthorizer::new(&credential, "cloudfront", SIGNING_REGION)
            .try_authorize(&mut request, None)
            .map_err(|e| build(Box::new(e)))?;
        let request_err = |source| CdnError::Request {
            url: url.clone(),
            source,
        };
        let response = self.http.execute(request).await.map_err(request_err)?;
        let status = response.status().as_u16();
        let body = response.into_body().bytes().await.map_err(request_err)?;
        if !(200..300).contains(&status) {
            return Err(CdnError::Refused {
                url: url.clone(),
                status,
                code: element(&body, b"Code").unwrap_or_default(),
                message: element(&body, b"Message").unwrap_or_default(),
            });
        }
        element(&body, b"Id").ok_or_else(|| CdnError::NoId {
            url: url.clone(),
            status,
        })
    }
}

/// The `InvalidationBatch` document.
fn batch(paths: &[String], reference: &str) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <InvalidationBatch xmlns=\"http://cloudfront.amazonaws.com/doc/{API}/\">\
         <Paths><Quantity>{}</Quantity><Items>",
        paths.len()
    );
    for path in paths {
        xml.push_str("<Path>");
        xml.push_str(&quick_xml::escape::escape(path.as_str()));
        xml.push_str("</Path>");
    }
    xml.push_str("</Items></Paths><CallerReference>");
    xml.push_str(&quick_xml::escape::escape(reference));
    xml.push_str("</CallerReference></InvalidationBatch>");
    xml
}

/// The text of the first element named `name` in `xml`.
fn element(xml: &[u8], name: &[u8]) -> Option<String> {
    let mut reader = Reader::from_reader(xml);
    let mut inside = false;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == name => inside = true,
            Event::Text(t) if inside => {
                return Some(String::from_utf8_lossy(t.as_ref()).trim().to_owned())
            }
            Event::End(_) if inside => return Some(String::new()),
            Event::Eof => return None,
            _ => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_names_every_path_once_escaped() {
        let xml = batch(&["/a&b".into(), "/c".into()], "ref-1");
        assert!(xml.contains("<Quantity>2</Quantity>"), "{xml}");
        assert!(
            xml.contains("<Path>/a&amp;b</Path><Path>/c</Path>"),
            "{xml}"
        );
        assert!(
            xml.contains("<CallerReference>ref-1</CallerReference>"),
            "{xml}"
        );
    }

    #[test]
    fn answers_are_read() {
        let ok = br#"<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>I2J0I21PCUYOIK</Id><Status>InProgress</Status></Invalidation>"#;
        assert_eq!(element(ok, b"Id").as_deref(), Some("I2J0I21PCUYOIK"));
        let refused = br#"<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchDistribution</Code><Message>The specified distribution does not exist.</Message></Error></ErrorResponse>"#;
        assert_eq!(
            element(refused, b"Code").as_deref(),
            Some("NoSuchDistribution")
        );
        assert_eq!(element(b"<a>", b"Id"), None);
    }
}
