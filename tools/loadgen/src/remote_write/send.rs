//! Sending one compressed body to one remote_write receiver the way Alloy does, and counting
//! how the receiver answered.

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, USER_AGENT};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::fmt;
use std::time::Duration;
use thiserror::Error;

/// How much of an error answer's body is kept for the report.
const ERROR_BODY_LIMIT: usize = 200;

/// A receiver URL the generator cannot send to.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("--url {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
}

/// One receiver: where it listens and a pooled HTTP/1.1 client (one connection per concurrent
/// request, kept alive, as Alloy's `enable_http2=false` default does).
#[derive(Debug, Clone)]
pub struct Target {
    uri: Uri,
    client: Client<HttpConnector, Full<Bytes>>,
    user_agent: String,
    timeout: Duration,
}

impl Target {
    /// `url` must be `http://host:port/path`; TLS is not offered, since the benchmark runs on
    /// one machine.
    pub fn new(url: &str, user_agent: &str, timeout: Duration) -> Result<Self, TargetError> {
        let invalid = |reason: &str| TargetError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(invalid("only http:// URLs are supported"));
        }
        if uri.authority().is_none() {
            return Err(invalid("the URL has no host"));
        }
        let mut connector = HttpConnector::new();
        // Nagle would hold back the tail of every request until the previous ACK arrives.
        connector.set_nodelay(true);
        Ok(Target {
            uri,
            client: Client::builder(TokioExecutor::new()).build(connector),
            user_agent: user_agent.to_owned(),
            timeout,
        })
    }

    pub fn url(&self) -> String {
        self.uri.to_string()
    }

    /// POSTs one snappy-compressed `WriteRequest` with Alloy's headers.
    pub async fn send(&self, body: Bytes) -> Outcome {
        let request = Request::post(self.uri.clone())
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header(CONTENT_ENCODING, "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .header(USER_AGENT, self.user_agent.as_str())
            .body(Full::new(body));
        let request = match request {
            Ok(request) => request,
            Err(error) => return Outcome::TransportError(format!("building the request: {error}")),
        };
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok((status, body))) => Outcome::from_answer(status, &body),
            Ok(Err(error)) => Outcome::TransportError(error.to_string()),
            Err(_) => Outcome::TransportError(format!("no answer within {:?}", self.timeout)),
        }
    }
}

/// How a receiver answered one request, sorted the way a remote_write sender acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: the samples are written.
    Accepted,
    /// 429 or 5xx: back-pressure that Alloy would retry.
    Refused(StatusCode, String),
    /// Any other status: the receiver rejected the data, and Alloy would drop it.
    Rejected(StatusCode, String),
    /// No HTTP answer (connection refused or broken, timeout).
    TransportError(String),
}

impl Outcome {
    fn from_answer(status: StatusCode, body: &[u8]) -> Self {
        if status.is_success() {
            return Outcome::Accepted;
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_LIMIT)])
            .trim()
            .to_owned();
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Outcome::Refused(status, text)
        } else {
            Outcome::Rejected(status, text)
        }
    }
}

/// What one receiver made of the requests sent to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetStats {
    pub requests: u64,
    pub accepted_requests: u64,
    pub refused_requests: u64,
    pub rejected_requests: u64,
    pub transport_errors: u64,
    pub samples_sent: u64,
    pub samples_accepted: u64,
    /// The first failure, to say why.
    pub first_error: Option<String>,
}

impl TargetStats {
    pub fn record(&mut self, samples: u64, outcome: Outcome) {
        self.requests += 1;
        self.samples_sent += samples;
        let error = match outcome {
            Outcome::Accepted => {
                self.accepted_requests += 1;
                self.samples_accepted += samples;
                return;
            }
            Outcome::Refused(status, text) => {
                self.refused_requests += 1;
                format!("{status}: {text}")
            }
            Outcome::Rejected(status, text) => {
                self.rejected_requests += 1;
                format!("{status}: {text}")
            }
            Outcome::TransportError(text) => {
                self.transport_errors += 1;
                text
            }
        };
        self.first_error.get_or_insert(error);
    }

    pub fn failed_requests(&self) -> u64 {
        self.refused_requests + self.rejected_requests + self.transport_errors
    }

    pub fn merge(&mut self, other: TargetStats) {
        self.requests += other.requests;
        self.accepted_requests += other.accepted_requests;
        self.refused_requests += other.refused_requests;
        self.rejected_requests += other.rejected_requests;
        self.transport_errors += other.transport_errors;
        self.samples_sent += other.samples_sent;
        self.samples_accepted += other.samples_accepted;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

impl fmt::Display for TargetStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "requests={} accepted_requests={} refused_requests={} rejected_requests={} \
             transport_errors={} samples_sent={} samples_accepted={}",
            self.requests,
            self.accepted_requests,
            self.refused_requests,
            self.rejected_requests,
            self.transport_errors,
            self.samples_sent,
            self.samples_accepted
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_sorted_as_a_sender_acts_on_them() {
        assert_eq!(
            Outcome::from_answer(StatusCode::NO_CONTENT, b""),
            Outcome::Accepted
        );
        assert!(matches!(
            Outcome::from_answer(StatusCode::TOO_MANY_REQUESTS, b"slow down"),
            Outcome::Refused(_, text) if text == "slow down"
        ));
        assert!(matches!(
            Outcome::from_answer(StatusCode::SERVICE_UNAVAILABLE, b""),
            Outcome::Refused(..)
        ));
        assert!(matches!(
            Outcome::from_answer(StatusCode::BAD_REQUEST, b"out of order sample\n"),
            Outcome::Rejected(_, text) if text == "out of order sample"
        ));
    }

    #[test]
    fn stats_count_samples_by_outcome_and_keep_the_first_error() {
        let mut stats = TargetStats::default();
        stats.record(2000, Outcome::Accepted);
        stats.record(
            2000,
            Outcome::Rejected(StatusCode::BAD_REQUEST, "too old".into()),
        );
        stats.record(1000, Outcome::TransportError("reset".into()));
        assert_eq!(stats.samples_sent, 5000);
        assert_eq!(stats.samples_accepted, 2000);
        assert_eq!(stats.failed_requests(), 2);
        assert_eq!(
            stats.first_error.as_deref(),
            Some("400 Bad Request: too old")
        );
    }

    #[test]
    fn only_plain_http_urls_with_a_host_are_targets() {
        let timeout = Duration::from_secs(1);
        assert!(Target::new("http://127.0.0.1:9090/api/v1/write", "a", timeout).is_ok());
        for bad in ["https://h:1/api/v1/write", "/api/v1/write", "not a url", ""] {
            assert!(Target::new(bad, "a", timeout).is_err(), "{bad}");
        }
    }
}
