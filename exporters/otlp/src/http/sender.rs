//! Delivery over OTLP/HTTP with a pooled hyper client (rustls for `https`).

use super::codec::{
    compress, content_type, encode_json, encode_proto, error_message, read_success, retry_after,
};
use super::config::{Encoding, HttpExporterConfig};
use crate::common::{Compression, header_map};
use async_trait::async_trait;
use bytes::Bytes;
use cormorant_core::ConfigError;
use cormorant_core::exporterhelper::{SendError, SendOutcome, Sender};
use cormorant_core::http_client::{HttpVersions, error_chain, https_connector, user_agent};
use cormorant_core::pdata::{Payload, Signal};
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::time::{Duration, SystemTime};

/// Answers larger than this are not read: an OTLP response is a few bytes, and the OTLP
/// specification recommends 4 MiB as the limit.
const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// otelcol's `confighttp` defaults for the connection pool.
const DEFAULT_IDLE_CONN_TIMEOUT: Duration = Duration::from_secs(90);
const DEFAULT_MAX_IDLE_CONNS: usize = 100;

pub(crate) struct HttpSender {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    url: Uri,
    signal: Signal,
    encoding: Encoding,
    compression: Compression,
    headers: HeaderMap,
}

impl HttpSender {
    pub(crate) fn new(config: &HttpExporterConfig, signal: Signal) -> Result<Self, ConfigError> {
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(
                config
                    .idle_conn_timeout
                    .unwrap_or(DEFAULT_IDLE_CONN_TIMEOUT),
            )
            .pool_max_idle_per_host(if config.disable_keep_alives {
                0
            } else {
                config
                    .max_idle_conns_per_host
                    .or(config.max_idle_conns)
                    .unwrap_or(DEFAULT_MAX_IDLE_CONNS)
            });
        if let Some(interval) = config.http2_read_idle_timeout {
            builder.http2_keep_alive_interval(interval);
        }
        if let Some(timeout) = config.http2_ping_timeout {
            builder.http2_keep_alive_timeout(timeout);
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            USER_AGENT,
            HeaderValue::from_str(&user_agent()).expect("the version is a valid header value"),
        );
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(content_type(config.encoding)),
        );
        if config.compression != Compression::None {
            headers.insert(
                CONTENT_ENCODING,
                HeaderValue::from_str(&config.compression.to_string())
                    .expect("compression names are valid header values"),
            );
        }
        headers.extend(header_map(&config.headers)?);
        Ok(HttpSender {
            client: builder.build(https_connector(&config.tls, HttpVersions::Any)?),
            url: config.url(signal)?,
            signal,
            encoding: config.encoding,
            compression: config.compression,
            headers,
        })
    }

    fn body(&self, payload: &Payload) -> Result<Bytes, SendError> {
        let encoded = match self.encoding {
            Encoding::Proto => encode_proto(payload),
            Encoding::Json => encode_json(payload).map_err(|e| {
                SendError::permanent(format!("cannot encode the data as OTLP/JSON: {e}"))
            })?,
        };
        compress(self.compression, encoded)
            .map(Bytes::from)
            .map_err(|e| SendError::permanent(format!("cannot compress the request: {e}")))
    }
}

#[async_trait]
impl Sender for HttpSender {
    async fn send(&self, payload: &Payload) -> Result<SendOutcome, SendError> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .body(Full::new(self.body(payload)?))
            .map_err(|e| SendError::permanent(format!("cannot build the request: {e}")))?;
        request.headers_mut().extend(self.headers.clone());

        let response = self.client.request(request).await.map_err(|e| {
            SendError::retryable(format!("cannot reach {}: {}", self.url, error_chain(&e)))
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .map_err(|e| {
                SendError::retryable(format!("reading the answer of {} failed: {e}", self.url))
            })?;
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if status.is_success() {
            return Ok(read_success(self.signal, content_type, &body));
        }
        let message = format!(
            "HTTP {status} from {}: {}",
            self.url,
            error_message(content_type, &body)
        );
        Err(classify(status, &headers, message))
    }
}

/// OTLP/HTTP retry rules: only 429, 502, 503 and 504 are retried, honouring `Retry-After`.
fn classify(status: StatusCode, headers: &HeaderMap, message: String) -> SendError {
    match status {
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => SendError::Retryable {
            message,
            retry_after: headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after(v, SystemTime::now())),
        },
        _ => SendError::Permanent(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_and_gateway_errors_are_retried() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        for code in [429, 502, 503, 504] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(
                classify(status, &headers, "m".into()),
                SendError::Retryable {
                    message: "m".into(),
                    retry_after: Some(Duration::from_secs(3)),
                }
            );
        }
        for code in [400, 401, 403, 404, 413, 500, 501] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(
                classify(status, &headers, "m".into()),
                SendError::permanent("m")
            );
        }
    }
}
