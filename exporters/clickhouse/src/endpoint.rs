//! `endpoint`: the URL of ClickHouse's HTTP interface, as contrib users write it.
//!
//! contrib's exporter hands `endpoint` to clickhouse-go as a DSN, so configs carry user info
//! (`http://user:pass@host:8123`) and query parameters that are partly ClickHouse settings and
//! partly driver options. Cormorant keeps the settings (they become URL parameters of every
//! request), takes the credentials as a fallback for `username`/`password`, and drops the driver
//! options, which mean nothing over HTTP, naming them in a warning.

use percent_encoding::percent_decode_str;

/// ClickHouse's HTTP port, suggested when someone configures the native TCP protocol.
pub const HTTP_PORT: u16 = 8123;
/// ClickHouse's HTTPS port.
pub const HTTPS_PORT: u16 = 8443;

/// URL parameters the exporter sets itself on every request; configuring them would change what
/// a request means, so they are refused wherever settings are accepted.
pub const RESERVED_PARAMS: [&str; 7] = [
    "query",
    "database",
    "user",
    "username",
    "password",
    "decompress",
    "insert_deduplication_token",
];

/// clickhouse-go DSN options: they tune the Go driver, not the server.
const DRIVER_OPTIONS: [&str; 15] = [
    "dial_timeout",
    "read_timeout",
    "connection_open_strategy",
    "debug",
    "compress",
    "compress_level",
    "secure",
    "skip_verify",
    "block_buffer_size",
    "max_compression_buffer",
    "max_open_conns",
    "max_idle_conns",
    "conn_max_lifetime",
    "client_info_product",
    "http_proxy",
];

/// A parsed `endpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `scheme://host:port/path`, without user info or query; requests add their parameters.
    pub base: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// ClickHouse settings from the query string, in their order.
    pub settings: Vec<(String, String)>,
    /// Driver options from the query string that are dropped.
    pub ignored_options: Vec<String>,
}

impl Endpoint {
    pub fn parse(endpoint: &str) -> Result<Endpoint, String> {
        let endpoint = endpoint.trim();
        if endpoint.is_empty() {
            return Err(format!(
                "endpoint must be set to ClickHouse's HTTP interface, e.g. http://localhost:{HTTP_PORT}"
            ));
        }
        let Some((scheme, rest)) = endpoint.split_once("://") else {
            return Err(format!(
                "endpoint \"{endpoint}\" must be an http:// or https:// URL, e.g. http://localhost:{HTTP_PORT}"
            ));
        };
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "http" => HTTP_PORT,
            "https" => HTTPS_PORT,
            "tcp" | "clickhouse" => {
                return Err(format!(
                    "endpoint \"{endpoint}\": the native TCP protocol is not supported; Cormorant \
                     talks to ClickHouse's HTTP interface: use http://HOST:{HTTP_PORT} (or \
                     https://HOST:{HTTPS_PORT})"
                ));
            }
            other => {
                return Err(format!(
                    "endpoint \"{endpoint}\": unsupported scheme \"{other}\"; use http:// or https://"
                ));
            }
        };
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = match location.find('/') {
            Some(slash) => location.split_at(slash),
            None => (location, "/"),
        };
        let (user_info, host_port) = match authority.rsplit_once('@') {
            Some((user_info, host_port)) => (Some(user_info), host_port),
            None => (None, authority),
        };
        if host_port.contains(',') {
            return Err(format!(
                "endpoint \"{endpoint}\": several hosts are not supported; put a load balancer in \
                 front of the replicas or configure one exporter per host"
            ));
        }
        let parsed: http::uri::Authority = host_port
            .parse()
            .map_err(|_| format!("endpoint \"{endpoint}\" has no valid host"))?;
        if parsed.host().is_empty() {
            return Err(format!("endpoint \"{endpoint}\" has no host"));
        }
        if let Some((_, port)) = host_port.rsplit_once(':')
            && !host_port.ends_with(']')
            && port.parse::<u16>().is_err()
        {
            return Err(format!(
                "endpoint \"{endpoint}\" has an invalid port \"{port}\""
            ));
        }
        let port = parsed.port_u16().unwrap_or(default_port);
        let host = parsed.host();
        let base = format!("{}://{host}:{port}{path}", scheme.to_ascii_lowercase());
        base.parse::<http::Uri>()
            .map_err(|e| format!("endpoint \"{endpoint}\" is not a valid URL: {e}"))?;

        let (user, password) = match user_info {
            None => (None, None),
            Some(info) => {
                let (user, password) = match info.split_once(':') {
                    Some((user, password)) => (user, Some(decode(password, false)?)),
                    None => (info, None),
                };
                (Some(decode(user, false)?), password)
            }
        };

        let mut settings = Vec::new();
        let mut ignored_options = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(key, true)?;
            if DRIVER_OPTIONS.contains(&key.as_str()) {
                ignored_options.push(key);
                continue;
            }
            check_setting_name(&key, "endpoint")?;
            settings.push((key, decode(value, true)?));
        }
        Ok(Endpoint {
            base,
            user,
            password,
            settings,
            ignored_options,
        })
    }
}

/// A ClickHouse setting name given in `where`: plain, and not one the exporter sets itself.
pub fn check_setting_name(name: &str, place: &str) -> Result<(), String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!(
            "{place}: \"{name}\" is not a ClickHouse setting name (letters, digits and _)"
        ));
    }
    if RESERVED_PARAMS.contains(&name) {
        return Err(format!(
            "{place}: \"{name}\" is set by the exporter itself (use the `database`, `username`, \
             `password` and `compress` keys)"
        ));
    }
    Ok(())
}

/// Percent-decodes a URL component; query components also turn `+` into a space.
fn decode(text: &str, query: bool) -> Result<String, String> {
    let spaced;
    let text = if query && text.contains('+') {
        spaced = text.replace('+', " ");
        spaced.as_str()
    } else {
        text
    };
    percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| format!("endpoint: \"{text}\" is not valid percent-encoded UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_gets_the_default_port() {
        let endpoint = Endpoint::parse("http://clickhouse").unwrap();
        assert_eq!(endpoint.base, "http://clickhouse:8123/");
        assert_eq!(endpoint.user, None);
        assert!(endpoint.settings.is_empty());
        assert_eq!(
            Endpoint::parse("https://ch.example:9443/proxy/")
                .unwrap()
                .base,
            "https://ch.example:9443/proxy/"
        );
        assert_eq!(
            Endpoint::parse("https://ch.example").unwrap().base,
            "https://ch.example:8443/"
        );
        assert_eq!(
            Endpoint::parse("http://[::1]").unwrap().base,
            "http://[::1]:8123/"
        );
    }

    #[test]
    fn dsn_credentials_settings_and_driver_options() {
        let endpoint = Endpoint::parse(
            "http://ingest:p%40ss@10.0.0.5:8123?dial_timeout=10s&max_insert_threads=4&compress=lz4&log_comment=a+b",
        )
        .unwrap();
        assert_eq!(endpoint.base, "http://10.0.0.5:8123/");
        assert_eq!(endpoint.user.as_deref(), Some("ingest"));
        assert_eq!(endpoint.password.as_deref(), Some("p@ss"));
        assert_eq!(
            endpoint.settings,
            [
                ("max_insert_threads".to_string(), "4".to_string()),
                ("log_comment".to_string(), "a b".to_string())
            ]
        );
        assert_eq!(endpoint.ignored_options, ["dial_timeout", "compress"]);
    }

    #[test]
    fn native_protocol_is_refused_with_the_http_port() {
        for url in ["tcp://localhost:9000", "clickhouse://localhost:9000"] {
            let error = Endpoint::parse(url).unwrap_err();
            assert!(
                error.contains("native TCP protocol is not supported"),
                "{error}"
            );
            assert!(error.contains("8123"), "{error}");
        }
    }

    #[test]
    fn malformed_endpoints() {
        for (url, expected) in [
            ("", "must be set"),
            ("localhost:8123", "must be an http:// or https:// URL"),
            ("ftp://host", "unsupported scheme \"ftp\""),
            ("http://a:8123,b:8123", "several hosts"),
            ("http://", "no valid host"),
            ("http://host:notaport", "invalid port \"notaport\""),
            ("http://host:70000", "invalid port"),
            ("http://host?query=SELECT+1", "set by the exporter itself"),
            ("http://host?bad-name=1", "not a ClickHouse setting name"),
        ] {
            let error = Endpoint::parse(url).unwrap_err();
            assert!(error.contains(expected), "{url}: {error}");
        }
    }
}
