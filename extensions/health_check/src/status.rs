//! What the endpoint answers: otelcol's status document (or the configured fixed bodies), 200
//! while the collector is ready and 503 otherwise.

use crate::config::ResponseBody;
use bytes::Bytes;
use cormorant_core::Health;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;
use std::fmt::Write;
use std::time::{Duration, SystemTime};

/// otelcol's JSON status document.
#[derive(Serialize)]
struct StatusDocument<'a> {
    status: &'a str,
    #[serde(rename = "upSince")]
    up_since: String,
    uptime: String,
}

/// Answers health requests for one endpoint.
#[derive(Clone)]
pub(crate) struct Responder {
    pub(crate) health: Health,
    pub(crate) path: String,
    pub(crate) bodies: Option<ResponseBody>,
}

impl Responder {
    /// Whether `request_path` is served: exactly the configured path, or anything below it when
    /// the path ends in `/`, as Go's HTTP mux treats patterns.
    fn serves(&self, request_path: &str) -> bool {
        if self.path.ends_with('/') {
            request_path.starts_with(&self.path)
        } else {
            request_path == self.path
        }
    }

    pub(crate) fn respond(&self, request_path: &str) -> Response<Full<Bytes>> {
        if !self.serves(request_path) {
            return response(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                Bytes::from_static(b"404 page not found\n"),
            );
        }
        let ready = self.health.is_ready();
        let status = if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        match &self.bodies {
            Some(bodies) => {
                let body = if ready {
                    &bodies.healthy
                } else {
                    &bodies.unhealthy
                };
                response(
                    status,
                    "text/plain; charset=utf-8",
                    Bytes::from(body.clone()),
                )
            }
            None => {
                let since = self.health.since();
                let document = StatusDocument {
                    status: if ready {
                        "Server available"
                    } else {
                        "Server not available"
                    },
                    up_since: humantime::format_rfc3339_nanos(since).to_string(),
                    uptime: go_duration(
                        SystemTime::now().duration_since(since).unwrap_or_default(),
                    ),
                };
                let json = serde_json::to_vec(&document).expect("the status document serializes");
                response(status, "application/json", Bytes::from(json))
            }
        }
    }
}

fn response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Formats a duration the way Go's `time.Duration.String` does (`1h2m3.5s`, `250ms`, `0s`), so
/// tools that parse otelcol's `uptime` keep working.
pub(crate) fn go_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    match nanos {
        0 => "0s".into(),
        1..1_000 => format!("{nanos}ns"),
        1_000..1_000_000 => format!("{}µs", decimal(nanos, 1_000)),
        1_000_000..1_000_000_000 => format!("{}ms", decimal(nanos, 1_000_000)),
        _ => {
            let seconds = nanos / 1_000_000_000;
            let (hours, minutes) = (seconds / 3600, seconds % 3600 / 60);
            let mut out = String::new();
            if hours > 0 {
                write!(out, "{hours}h").expect("writing to a String");
            }
            if hours > 0 || minutes > 0 {
                write!(out, "{minutes}m").expect("writing to a String");
            }
            let rest = nanos % 60_000_000_000;
            out.push_str(&decimal(rest, 1_000_000_000));
            out.push('s');
            out
        }
    }
}

/// `value / unit` with the remainder as a decimal fraction without trailing zeros.
fn decimal(value: u128, unit: u128) -> String {
    let (whole, fraction) = (value / unit, value % unit);
    if fraction == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::go_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_like_go() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_micros(250_000), "250ms"),
            (Duration::from_nanos(1_234_567), "1.234567ms"),
            (Duration::from_millis(62_345), "1m2.345s"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_nanos(49_013_251_800), "49.0132518s"),
            (Duration::from_secs(3 * 3600 + 5), "3h0m5s"),
            (Duration::from_nanos(1_000_000_001), "1.000000001s"),
        ];
        for (duration, expected) in cases {
            assert_eq!(go_duration(duration), expected, "{duration:?}");
        }
    }
}
