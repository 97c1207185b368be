//! A small client for ClickHouse's HTTP interface: statements in the body, inserts with the SQL
//! in the `query` URL parameter and RowBinary rows (optionally in compressed blocks) in the body.
//!
//! Only documented behaviour of the HTTP interface is used, so the same client works against
//! `clickhouse-server`, ClickHouse Cloud and the chdb-backed test server: credentials in the
//! `X-ClickHouse-User`/`X-ClickHouse-Key` headers, settings as URL parameters, `decompress=1`
//! for compressed bodies, and errors read from the status, `X-ClickHouse-Exception-Code` and the
//! body.

use crate::compress::Compression;
use crate::config::ClickHouseConfig;
use crate::endpoint::Endpoint;
use crate::error::ClickHouseError;
use crate::schema::quote_identifier;
use bytes::Bytes;
use cormorant_core::ConfigError;
use cormorant_core::http_client::{HttpVersions, error_chain, https_connector, user_agent};
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::time::Duration;

const USER_HEADER: HeaderName = HeaderName::from_static("x-clickhouse-user");
const KEY_HEADER: HeaderName = HeaderName::from_static("x-clickhouse-key");
const EXCEPTION_CODE_HEADER: &str = "x-clickhouse-exception-code";

/// Everything but unreserved characters is escaped in URL parameters: SQL is full of `=`, `&`,
/// spaces and quotes.
const PARAM_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Answers beyond this are cut: the exporter reads short results (versions, exception texts).
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Idle connections are closed well before ClickHouse's own `keep_alive_timeout` (10 s by
/// default), so a request never goes out on a connection the server is closing.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// One insert: `rows` RowBinary rows for `columns` of `database.table`.
pub struct Insert<'a> {
    pub table: &'a str,
    pub columns: &'a [&'a str],
    pub rows: &'a [u8],
    /// `insert_deduplication_token`: the same token for the same rows makes a retried insert a
    /// no-op on tables that keep a deduplication window.
    pub dedup_token: &'a str,
}

pub struct ClickHouseClient {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// `scheme://host:port/path`.
    base: String,
    headers: HeaderMap,
    /// Settings sent with every request: the endpoint's, then `connection_params`.
    settings: Vec<(String, String)>,
    /// Settings sent with inserts only.
    insert_settings: Vec<(String, String)>,
    database: String,
    compression: Compression,
}

impl ClickHouseClient {
    pub fn new(config: &ClickHouseConfig) -> Result<Self, ConfigError> {
        let Endpoint {
            base,
            user,
            password,
            settings: endpoint_settings,
            ignored_options,
        } = config.endpoint()?;
        if !ignored_options.is_empty() {
            tracing::warn!(
                options = ?ignored_options,
                "endpoint: ignoring clickhouse-go driver options, which do not apply to the HTTP \
                 interface"
            );
        }
        let mut settings: Vec<(String, String)> = endpoint_settings
            .into_iter()
            .filter(|(key, _)| !config.connection_params.contains_key(key))
            .collect();
        settings.extend(
            config
                .connection_params
                .iter()
                .map(|(key, value)| (key.clone(), value.clone())),
        );
        let mut insert_settings = Vec::new();
        let user_chose_async = settings.iter().any(|(key, _)| key == "async_insert");
        if !user_chose_async {
            if config.async_insert {
                // Waiting for the flush keeps "acknowledged" meaning "stored"; deduplication of
                // async inserts has to be asked for.
                for (key, value) in [
                    ("async_insert", "1"),
                    ("wait_for_async_insert", "1"),
                    ("async_insert_deduplicate", "1"),
                ] {
                    insert_settings.push((key.to_string(), value.to_string()));
                }
            } else {
                insert_settings.push(("async_insert".to_string(), "0".to_string()));
            }
        }

        let mut headers = HeaderMap::new();
        headers.insert(
            USER_AGENT,
            HeaderValue::from_str(&user_agent()).expect("the version is a valid header value"),
        );
        let user = Some(config.username.clone())
            .filter(|u| !u.is_empty())
            .or(user);
        let password = Some(config.password.clone())
            .filter(|p| !p.is_empty())
            .or(password);
        for (name, value, key) in [
            (USER_HEADER, user, "username"),
            (KEY_HEADER, password, "password"),
        ] {
            if let Some(value) = value {
                let mut value = HeaderValue::from_str(&value).map_err(|_| {
                    ConfigError::Invalid(format!("{key} contains characters a header cannot carry"))
                })?;
                value.set_sensitive(true);
                headers.insert(name, value);
            }
        }

        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT);
        Ok(ClickHouseClient {
            http: builder.build(https_connector(&config.tls, HttpVersions::Any)?),
            base,
            headers,
            settings,
            insert_settings,
            database: config.database.clone(),
            compression: config.compress,
        })
    }

    /// The endpoint without credentials, for messages.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Runs one statement (DDL or a query) and returns its output. The statement goes in the
    /// body, where its length is not limited by URL size.
    pub async fn execute(&self, sql: &str, limit: Duration) -> Result<Bytes, ClickHouseError> {
        let url = self.url(&[]);
        let request = tokio::time::timeout(
            limit,
            self.post(url, Bytes::copy_from_slice(sql.as_bytes())),
        );
        request.await.map_err(|_| ClickHouseError::Timeout(limit))?
    }

    /// Inserts RowBinary rows; the rows are framed in compressed blocks per `compress`.
    pub async fn insert(&self, insert: &Insert<'_>) -> Result<(), ClickHouseError> {
        let columns = insert
            .columns
            .iter()
            .map(|column| quote_identifier(column))
            .collect::<Vec<_>>()
            .join(", ");
        let query = format!(
            "INSERT INTO {}.{} ({columns}) FORMAT RowBinary",
            quote_identifier(&self.database),
            quote_identifier(insert.table)
        );
        let framed = self.compression.frame(insert.rows)?;
        let mut params: Vec<(&str, &str)> = vec![
            ("database", &self.database),
            ("query", &query),
            ("insert_deduplication_token", insert.dedup_token),
        ];
        if framed.is_some() {
            params.push(("decompress", "1"));
        }
        params.extend(
            self.insert_settings
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
        );
        let body = match framed {
            Some(framed) => Bytes::from(framed),
            None => Bytes::copy_from_slice(insert.rows),
        };
        self.post(self.url(&params), body).await.map(drop)
    }

    /// The request URL: the base, the request's own parameters, then the configured settings.
    fn url(&self, params: &[(&str, &str)]) -> String {
        let mut url = self.base.clone();
        let all = params.iter().copied().chain(
            self.settings
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
        );
        for (index, (key, value)) in all.enumerate() {
            url.push(if index == 0 { '?' } else { '&' });
            url.push_str(key);
            url.push('=');
            url.extend(utf8_percent_encode(value, PARAM_VALUE));
        }
        url
    }

    async fn post(&self, url: String, body: Bytes) -> Result<Bytes, ClickHouseError> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(&url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(Full::new(body))
            .map_err(|e| ClickHouseError::Unreachable {
                url: self.base.clone(),
                message: format!("cannot build the request: {e}"),
            })?;
        request.headers_mut().extend(self.headers.clone());
        let response =
            self.http
                .request(request)
                .await
                .map_err(|e| ClickHouseError::Unreachable {
                    url: self.base.clone(),
                    message: error_chain(&e),
                })?;
        let status = response.status();
        let code = response
            .headers()
            .get(EXCEPTION_CODE_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u32>().ok());
        let answer = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .map_err(|e| ClickHouseError::Answer(e.to_string()))?;
        // ClickHouse may set the exception code with a 200 when the failure came after the
        // headers were sent; either way the request failed.
        if status.is_success() && code.is_none() {
            return Ok(answer);
        }
        let text = String::from_utf8_lossy(&answer).trim().to_string();
        Err(ClickHouseError::Server {
            status: status.as_u16(),
            code,
            message: if text.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("no details")
                    .to_string()
            } else {
                text
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(yaml: &str) -> ClickHouseClient {
        let raw = cormorant_confmap::parse_yaml(yaml).unwrap();
        ClickHouseClient::new(&cormorant_core::parse_config(&raw).unwrap()).unwrap()
    }

    #[test]
    fn urls_escape_sql_and_carry_settings_in_order() {
        let client = client(
            "endpoint: http://u:p@h:8123/?max_insert_threads=2&dial_timeout=5s\n\
             connection_params: {max_insert_threads: 4, log_comment: 'a&b'}",
        );
        assert_eq!(
            client.url(&[("query", "SELECT 1 = 1")]),
            "http://h:8123/?query=SELECT%201%20%3D%201&max_insert_threads=4&log_comment=a%26b"
        );
        assert_eq!(client.headers[&USER_HEADER], "u");
        assert_eq!(client.headers[&KEY_HEADER], "p");
        assert_eq!(
            client.insert_settings,
            [("async_insert".into(), "0".into())]
        );
    }

    #[test]
    fn configured_credentials_win_over_the_endpoint() {
        let client = client("endpoint: http://u:p@h\nusername: ingest\npassword: s3cret");
        assert_eq!(client.headers[&USER_HEADER], "ingest");
        assert_eq!(client.headers[&KEY_HEADER], "s3cret");
        assert!(client.headers[&KEY_HEADER].is_sensitive());
        let anonymous = super::tests::client("endpoint: http://h");
        assert!(!anonymous.headers.contains_key(&USER_HEADER));
    }

    #[test]
    fn async_insert_waits_and_deduplicates_unless_params_decide() {
        let client = client("endpoint: http://h\nasync_insert: true");
        let keys: Vec<&str> = client
            .insert_settings
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "async_insert",
                "wait_for_async_insert",
                "async_insert_deduplicate"
            ]
        );
        let chosen = super::tests::client(
            "endpoint: http://h\nasync_insert: true\nconnection_params: {async_insert: 0}",
        );
        assert!(chosen.insert_settings.is_empty());
    }
}
