//! CORS for browser SDKs posting to OTLP/HTTP (`protocols.http.cors`), with the semantics
//! otelcol gets from `rs/cors`: origins may be exact, `*`, or a pattern with one `*`; the
//! CORS-safelisted headers plus `Origin`, `Accept`, `Content-Type` and `X-Requested-With` are
//! always allowed; a refused preflight is still answered 204, just without CORS headers, so the
//! browser is the one that blocks.

use crate::config::CorsConfig;
use axum::body::Body;
use axum::response::Response;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
    VARY,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

const ALWAYS_ALLOWED_HEADERS: &[&str] = &["origin", "accept", "content-type", "x-requested-with"];

#[derive(Debug, Clone)]
pub(crate) struct Cors {
    origins: Vec<String>,
    any_header: bool,
    headers: Vec<String>,
    max_age: u64,
}

impl Cors {
    /// `None` when no origin is allowed: CORS is then off, as in otelcol.
    pub(crate) fn new(config: &CorsConfig) -> Option<Cors> {
        if config.allowed_origins.is_empty() {
            return None;
        }
        Some(Cors {
            origins: config
                .allowed_origins
                .iter()
                .map(|o| o.to_ascii_lowercase())
                .collect(),
            any_header: config.allowed_headers.iter().any(|h| h == "*"),
            headers: config
                .allowed_headers
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .chain(ALWAYS_ALLOWED_HEADERS.iter().map(|h| h.to_string()))
                .collect(),
            max_age: config.max_age,
        })
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        self.origins
            .iter()
            .any(|allowed| match allowed.split_once('*') {
                None => *allowed == origin,
                Some((prefix, suffix)) => {
                    origin.len() >= prefix.len() + suffix.len()
                        && origin.starts_with(prefix)
                        && origin.ends_with(suffix)
                }
            })
    }

    fn allow_origin_value(&self, origin: &HeaderValue) -> HeaderValue {
        if self.origins.iter().any(|o| o == "*") {
            HeaderValue::from_static("*")
        } else {
            origin.clone()
        }
    }

    /// Answers an `OPTIONS` preflight.
    pub(crate) fn preflight(&self, headers: &HeaderMap) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let out = response.headers_mut();
        for vary in [
            "Origin",
            "Access-Control-Request-Method",
            "Access-Control-Request-Headers",
        ] {
            out.append(VARY, HeaderValue::from_static(vary));
        }
        let Some(origin) = headers.get(ORIGIN) else {
            return response;
        };
        let method_ok = headers
            .get(ACCESS_CONTROL_REQUEST_METHOD)
            .is_some_and(|m| m.as_bytes() == Method::POST.as_str().as_bytes());
        let requested = headers
            .get(ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let headers_ok = self.any_header
            || requested
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .all(|h| self.headers.contains(&h));
        let origin_ok = origin.to_str().is_ok_and(|o| self.origin_allowed(o));
        if !(origin_ok && method_ok && headers_ok) {
            return response;
        }
        out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, self.allow_origin_value(origin));
        out.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        if !requested.trim().is_empty()
            && let Ok(value) = HeaderValue::from_str(requested)
        {
            out.insert(ACCESS_CONTROL_ALLOW_HEADERS, value);
        }
        if self.max_age > 0 {
            out.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(self.max_age));
        }
        response
    }

    /// Adds `Access-Control-Allow-Origin` to an actual response for an allowed origin.
    pub(crate) fn decorate(&self, request_headers: &HeaderMap, response: &mut Response) {
        let Some(origin) = request_headers.get(ORIGIN) else {
            return;
        };
        response
            .headers_mut()
            .append(VARY, HeaderValue::from_static("Origin"));
        if origin.to_str().is_ok_and(|o| self.origin_allowed(o)) {
            response
                .headers_mut()
                .insert(ACCESS_CONTROL_ALLOW_ORIGIN, self.allow_origin_value(origin));
        }
    }
}
