//! OTLP/HTTP with binary protobuf bodies over one kept-alive HTTP/1.1 connection per worker.
//!
//! Each worker owns its connection, like an SDK exporter does, so the collector sees as many
//! concurrent connections as there are workers. A broken connection is dropped and reopened
//! on the next attempt.

use super::{
    Accepted, Compression, SendFailure, Target, TransportError, accepted_from_response, rpc_status,
};
use bytes::Bytes;
use cormorant_core::Signal;
use flate2::write::GzEncoder;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HOST, RETRY_AFTER};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const PROTOBUF: &str = "application/x-protobuf";

pub struct HttpSender {
    signal: Signal,
    endpoint: String,
    path: String,
    compression: Compression,
    timeout: Duration,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    connection: Option<SendRequest<Full<Bytes>>>,
}

impl HttpSender {
    pub(super) fn new(signal: Signal, target: &Target) -> Result<Self, TransportError> {
        if !target.http_path.starts_with('/') {
            return Err(TransportError::InvalidEndpoint {
                endpoint: target.endpoint.clone(),
                reason: format!("URL path {:?} must start with '/'", target.http_path),
            });
        }
        let tls = match &target.tls {
            Some(settings) => Some((
                TlsConnector::from(Arc::new(settings.client_config(&target.endpoint)?)),
                settings.server_name(&target.endpoint)?,
            )),
            None => None,
        };
        Ok(Self {
            signal,
            endpoint: target.endpoint.clone(),
            path: target.http_path.clone(),
            compression: target.compression,
            timeout: target.timeout,
            tls,
            connection: None,
        })
    }

    pub(super) async fn send(&mut self, request: Bytes) -> Result<Accepted, SendFailure> {
        let body = match self.compression {
            Compression::None => request,
            Compression::Gzip => gzip(&request)?,
        };
        match tokio::time::timeout(self.timeout, self.exchange(body)).await {
            Ok(Ok((status, headers, body))) => self.interpret(status, &headers, &body),
            Ok(Err(failure)) => {
                self.connection = None;
                Err(failure)
            }
            Err(_) => {
                self.connection = None;
                Err(SendFailure::retryable(
                    format!("no answer from {} within {:?}", self.endpoint, self.timeout),
                    None,
                ))
            }
        }
    }

    async fn exchange(
        &mut self,
        body: Bytes,
    ) -> Result<(StatusCode, HeaderMap, Bytes), SendFailure> {
        let mut request = Request::post(self.path.as_str())
            .header(HOST, self.endpoint.as_str())
            .header(CONTENT_TYPE, PROTOBUF);
        if self.compression == Compression::Gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| SendFailure::permanent(format!("building HTTP request: {e}")))?;

        let connection = match self.connection.take() {
            Some(open) if !open.is_closed() => open,
            _ => self.connect().await?,
        };
        let connection = self.connection.insert(connection);
        connection.ready().await.map_err(transport_failure)?;
        let response = connection
            .send_request(request)
            .await
            .map_err(transport_failure)?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(transport_failure)?.to_bytes();
        Ok((parts.status, parts.headers, body))
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, SendFailure> {
        let tcp = TcpStream::connect(&self.endpoint).await.map_err(|e| {
            SendFailure::retryable(format!("connecting to {}: {e}", self.endpoint), None)
        })?;
        // Nagle would hold back the tail of every request until the previous ACK arrives.
        tcp.set_nodelay(true)
            .map_err(|e| SendFailure::retryable(format!("setting TCP_NODELAY: {e}"), None))?;
        match &self.tls {
            None => handshake(tcp).await,
            Some((connector, server_name)) => {
                let stream = connector
                    .connect(server_name.clone(), tcp)
                    .await
                    .map_err(|e| {
                        SendFailure::retryable(
                            format!("TLS handshake with {}: {e}", self.endpoint),
                            None,
                        )
                    })?;
                handshake(stream).await
            }
        }
    }

    /// Applies the OTLP/HTTP rules: 200 carries an export response (maybe a partial
    /// success), 429/502/503/504 may be retried (after `Retry-After` seconds), anything
    /// else is permanent.
    fn interpret(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Accepted, SendFailure> {
        if status == StatusCode::OK {
            return accepted_from_response(self.signal, body);
        }
        let detail = rpc_status::message(body).unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            text.chars().take(200).collect()
        });
        let message = format!("HTTP {status}: {detail}");
        match status.as_u16() {
            429 | 502 | 503 | 504 => Err(SendFailure::retryable(message, retry_after(headers))),
            _ => Err(SendFailure::permanent(message)),
        }
    }
}

async fn handshake<S>(stream: S) -> Result<SendRequest<Full<Bytes>>, SendFailure>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(transport_failure)?;
    // The connection task ends when the peer closes; its error also reaches the pending
    // `send_request`, which is where it is reported and retried.
    tokio::spawn(async move {
        let _closed = connection.await;
    });
    Ok(sender)
}

fn transport_failure(error: hyper::Error) -> SendFailure {
    SendFailure::retryable(format!("HTTP transport: {error}"), None)
}

fn gzip(request: &[u8]) -> Result<Bytes, SendFailure> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(request.len() / 3),
        flate2::Compression::default(),
    );
    encoder
        .write_all(request)
        .and_then(|()| encoder.finish())
        .map(Bytes::from)
        .map_err(|e| SendFailure::permanent(format!("gzip: {e}")))
}

/// `Retry-After` in delay-seconds form; the HTTP-date form falls back to the client backoff.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Retry;
    use http::HeaderValue;
    use std::io::Read;

    fn sender() -> HttpSender {
        let target = Target {
            endpoint: "127.0.0.1:4318".to_owned(),
            protocol: crate::transport::Protocol::Http,
            http_path: "/v1/traces".to_owned(),
            compression: Compression::None,
            tls: None,
            timeout: Duration::from_secs(1),
        };
        HttpSender::new(Signal::Traces, &target).unwrap()
    }

    #[test]
    fn throttling_statuses_are_retryable_with_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        let failure = sender()
            .interpret(StatusCode::TOO_MANY_REQUESTS, &headers, b"busy")
            .unwrap_err();
        assert_eq!(failure.retry, Retry::Allowed(Some(Duration::from_secs(3))));
        let failure = sender()
            .interpret(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new(), b"")
            .unwrap_err();
        assert_eq!(failure.retry, Retry::Allowed(None));
    }

    #[test]
    fn other_errors_are_permanent_and_keep_the_server_message() {
        let failure = sender()
            .interpret(StatusCode::BAD_REQUEST, &HeaderMap::new(), b"bad span id")
            .unwrap_err();
        assert_eq!(failure.retry, Retry::Never);
        assert!(failure.message.contains("400") && failure.message.contains("bad span id"));
        let failure = sender()
            .interpret(StatusCode::INTERNAL_SERVER_ERROR, &HeaderMap::new(), b"")
            .unwrap_err();
        assert_eq!(failure.retry, Retry::Never);
    }

    #[test]
    fn a_relative_url_path_is_required() {
        let target = Target {
            endpoint: "127.0.0.1:4318".to_owned(),
            protocol: crate::transport::Protocol::Http,
            http_path: "v1/traces".to_owned(),
            compression: Compression::None,
            tls: None,
            timeout: Duration::from_secs(1),
        };
        assert!(HttpSender::new(Signal::Traces, &target).is_err());
    }

    #[test]
    fn gzip_round_trips() {
        let compressed = gzip(b"hello hello hello").unwrap();
        let mut decoded = String::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_string(&mut decoded)
            .unwrap();
        assert_eq!(decoded, "hello hello hello");
    }
}
