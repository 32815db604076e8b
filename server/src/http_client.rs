//! The server's outgoing HTTP (CRL repositories, OCSP responders): one request whose answer
//! must be 2xx, with a body within a size limit, all within a time limit.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use std::time::Duration;

pub type Client = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

/// A plain-HTTP client (CRLs and OCSP answers are signed; the GPKI serves them over http).
pub fn client() -> Client {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("cannot connect or read: {0}")]
    Network(String),
    #[error("timed out after {0} s")]
    Timeout(u64),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("larger than {0} bytes")]
    TooLarge(usize),
}

/// Sends `req` and reads the answer's body (at most `limit` bytes) within `timeout`.
pub async fn exchange(
    client: &Client,
    req: hyper::Request<Full<Bytes>>,
    timeout: Duration,
    limit: usize,
) -> Result<Vec<u8>, HttpError> {
    let work = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| HttpError::Network(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(HttpError::Status(resp.status().as_u16()));
        }
        let body = Limited::new(resp.into_body(), limit)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    HttpError::TooLarge(limit)
                } else {
                    HttpError::Network(e.to_string())
                }
            })?;
        Ok(body.to_bytes().to_vec())
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| HttpError::Timeout(timeout.as_secs()))?
}
