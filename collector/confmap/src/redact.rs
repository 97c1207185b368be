//! Hiding secrets in `cormorant print-config` output.
//!
//! otelcol redacts through typed "opaque" fields; we print the untyped tree, so secrets are
//! recognised by key name instead. The rule errs on the side of hiding: a false positive only
//! costs a `[REDACTED]` in a diagnostic dump, a false negative leaks a credential into a ticket.

use crate::value::ConfValue;

/// What a redacted value is printed as.
pub const REDACTED: &str = "[REDACTED]";

/// Keys whose value is a secret wherever they appear (compared case-insensitively, `-` as `_`).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "key_pem",
    "client_secret",
    "bearer_token",
    "authorization",
    "private_key",
    "secret_key",
];

/// Suffixes that make a compound key secret too, e.g. `db_password`, `refresh_token`.
const SECRET_SUFFIXES: &[&str] = &["_password", "_secret", "_token", "_api_key", "_apikey"];

/// Fragments that make an HTTP/gRPC header name look like a credential.
const SECRET_HEADER_FRAGMENTS: &[&str] = &["auth", "token", "key", "secret", "password", "cookie"];

/// A copy of `value` with every secret-looking value replaced by [`REDACTED`]. Nulls stay null:
/// an unset secret reveals nothing and "not set" is useful to see.
pub fn redact(value: &ConfValue) -> ConfValue {
    redact_node(value, false)
}

fn redact_node(value: &ConfValue, in_headers: bool) -> ConfValue {
    match value {
        ConfValue::Map(entries) => ConfValue::Map(
            entries
                .iter()
                .map(|(key, item)| {
                    let hidden = if in_headers {
                        is_secret_header(key)
                    } else {
                        is_secret_key(key)
                    };
                    let item = if hidden && !item.is_null() {
                        ConfValue::String(REDACTED.to_string())
                    } else {
                        redact_node(item, key.eq_ignore_ascii_case("headers"))
                    };
                    (key.clone(), item)
                })
                .collect(),
        ),
        ConfValue::Seq(items) => {
            ConfValue::Seq(items.iter().map(|i| redact_node(i, false)).collect())
        }
        scalar => scalar.clone(),
    }
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    SECRET_KEYS.contains(&key.as_str()) || SECRET_SUFFIXES.iter().any(|s| key.ends_with(s))
}

fn is_secret_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_HEADER_FRAGMENTS.iter().any(|f| name.contains(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rules() {
        for secret in [
            "password",
            "Client_Secret",
            "API-KEY",
            "db_password",
            "refresh_token",
        ] {
            assert!(is_secret_key(secret), "{secret}");
        }
        for plain in [
            "endpoint",
            "key_file",
            "tokens_per_second",
            "keepalive",
            "secretive",
        ] {
            assert!(!is_secret_key(plain), "{plain}");
        }
    }

    #[test]
    fn header_rules() {
        for secret in [
            "Authorization",
            "X-API-Key",
            "x-auth-token",
            "Cookie",
            "DD-API-KEY",
        ] {
            assert!(is_secret_header(secret), "{secret}");
        }
        for plain in ["x-scope-orgid", "content-type", "user-agent"] {
            assert!(!is_secret_header(plain), "{plain}");
        }
    }
}
