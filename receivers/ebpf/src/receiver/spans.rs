//! Building OTLP spans from paired exchanges, with the attribute names the contract and the
//! ClickHouse exporter's eBPF columns expect.

use std::net::{IpAddr, SocketAddr};

use cormorant_core::pdata::common::{AnyValue, ArrayValue, KeyValue, any_value::Value};
use cormorant_core::pdata::trace::{Span, Status, span::SpanKind, status::StatusCode};
use cormorant_core::pdata::{int_attribute, string_attribute};

use super::autotrace::SpanIds;
use crate::dns::DnsMessage;
use crate::http1::HttpRequest;
use crate::protocol::{Request, Response, Role};

/// Marks spans captured by the kernel rather than written by an SDK.
pub const SPAN_SOURCE: &str = "system";

/// Where and by whom a request was captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureSite {
    pub role: Role,
    /// `"tcp"` or `"udp"`.
    pub transport: &'static str,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub thread_id: u32,
    /// TCP sequence of the request's first byte (client `write_seq`, server `copied_seq`).
    pub request_seq: Option<u32>,
    /// TCP sequence of the response's first byte.
    pub response_seq: Option<u32>,
}

/// A span's start and end in Unix nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub start_unix_ns: u64,
    pub end_unix_ns: u64,
}

/// `url.path` cut to its first two segments: `/api/v1/users/42` → `/api/v1`. Endpoints keep
/// span names and metric labels low-cardinality while still telling routes apart.
pub fn http_endpoint(path: &str) -> String {
    http_endpoint_of(path).to_owned()
}

/// [`http_endpoint`] as a slice of `path`, for the span name that embeds it.
fn http_endpoint_of(path: &str) -> &str {
    let mut end = path.len();
    let mut slashes = 0;
    for (index, byte) in path.bytes().enumerate() {
        if byte == b'/' {
            slashes += 1;
            if slashes == 3 {
                end = index;
                break;
            }
        }
    }
    let endpoint = &path[..end];
    if endpoint.is_empty() { "/" } else { endpoint }
}

/// The RED `cormorant.endpoint` of a request: HTTP endpoint, Redis command, DNS query type.
pub fn endpoint(request: &Request) -> String {
    match request {
        Request::Http(http) => http_endpoint(http.path().unwrap_or(&http.target)),
        Request::Redis(command) => command.name.clone(),
        Request::Dns(message) => dns_type(message),
    }
}

/// `"1xx"`..`"5xx"` for HTTP, `"ok"`/`"error"` otherwise; `None` for an unanswered request,
/// which counts as an error.
pub fn status_class(response: Option<&Response>) -> &'static str {
    match response {
        Some(Response::Http(http)) => match http.status / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        },
        Some(response) if !response.is_error() => "ok",
        _ => "error",
    }
}

fn dns_type(message: &DnsMessage) -> String {
    match (message.query_type_name(), message.query_type) {
        (Some(name), _) => name.to_owned(),
        (None, Some(number)) => format!("TYPE{number}"),
        (None, None) => "UNKNOWN".to_owned(),
    }
}

/// Most attributes a span gets (the HTTP case with a request id); reserved up front so the
/// list is not regrown while it is built.
const TYPICAL_ATTRIBUTES: usize = 20;

/// An address as text, IPv4 without going through `fmt` (three of these per span).
fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut text = String::with_capacity(15);
            let mut digits = itoa::Buffer::new();
            for (index, octet) in v4.octets().into_iter().enumerate() {
                if index > 0 {
                    text.push('.');
                }
                text.push_str(digits.format(octet));
            }
            text
        }
        IpAddr::V6(v6) => v6.to_string(),
    }
}

/// `"GET /api/v1"`: the method and the endpoint, the span name of an HTTP request.
fn joined(first: &str, second: &str) -> String {
    let mut name = String::with_capacity(first.len() + 1 + second.len());
    name.push_str(first);
    name.push(' ');
    name.push_str(second);
    name
}

/// Header values are string arrays in the semantic conventions (a header may repeat).
fn string_array(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        key_strindex: 0,
        value: Some(AnyValue {
            value: Some(Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(Value::StringValue(value)),
                }],
            })),
        }),
    }
}

/// The span of an answered request. It takes the request, whose strings move into the
/// attributes instead of being copied.
pub fn exchange_span(
    ids: SpanIds,
    site: &CaptureSite,
    request: Request,
    response: &Response,
    timing: Timing,
) -> Span {
    let mut span = base_span(ids, site, request, timing);
    match response {
        Response::Http(http) => {
            span.attributes.push(int_attribute(
                "http.response.status_code",
                i64::from(http.status),
            ));
        }
        Response::Dns(dns) => {
            span.attributes.push(string_attribute(
                "cormorant.dns.response_code",
                dns.rcode_name(),
            ));
            span.attributes.push(int_attribute(
                "cormorant.dns.answers",
                i64::from(dns.answer_count),
            ));
        }
        Response::Redis(_) => {}
    }
    if response.is_error() {
        let message = match response {
            Response::Redis(reply) => reply.error.clone().unwrap_or_default(),
            Response::Dns(dns) => dns.rcode_name().to_owned(),
            Response::Http(_) => String::new(),
        };
        span.status = Some(Status {
            message,
            code: StatusCode::Error as i32,
        });
    }
    span
}

/// The span of a request that got no response (timed out or closed).
pub fn unanswered_span(ids: SpanIds, site: &CaptureSite, request: Request, timing: Timing) -> Span {
    let mut span = base_span(ids, site, request, timing);
    span.status = Some(Status {
        message: "no response".to_owned(),
        code: StatusCode::Error as i32,
    });
    span
}

fn base_span(ids: SpanIds, site: &CaptureSite, request: Request, timing: Timing) -> Span {
    let (server, client) = match site.role {
        Role::Server => (site.local, site.remote),
        Role::Client => (site.remote, site.local),
    };
    let mut attributes = Vec::with_capacity(TYPICAL_ATTRIBUTES);
    attributes.extend([
        string_attribute("cormorant.span.source", SPAN_SOURCE),
        string_attribute("cormorant.l7.protocol", request.protocol().as_str()),
        string_attribute("network.transport", site.transport),
        string_attribute("network.peer.address", ip_text(site.remote.ip())),
        int_attribute("network.peer.port", i64::from(site.remote.port())),
        int_attribute("server.port", i64::from(server.port())),
        int_attribute("client.port", i64::from(client.port())),
        int_attribute("thread.id", i64::from(site.thread_id)),
    ]);
    // An unconnected UDP socket, or one bound to the wildcard, has no address of its own until
    // the kernel routes each datagram: the wildcard would name no host, so it is left out.
    for (key, address) in [("server.address", server), ("client.address", client)] {
        if !address.ip().is_unspecified() {
            attributes.push(string_attribute(key, ip_text(address.ip())));
        }
    }
    if let Some(seq) = site.request_seq {
        attributes.push(int_attribute("cormorant.tcp.seq.request", i64::from(seq)));
    }
    if let Some(seq) = site.response_seq {
        attributes.push(int_attribute("cormorant.tcp.seq.response", i64::from(seq)));
    }
    let name = request_attributes(request, &mut attributes);
    Span {
        trace_id: ids.trace_id.to_vec(),
        span_id: ids.span_id.to_vec(),
        parent_span_id: ids.parent_span_id.map(|id| id.to_vec()).unwrap_or_default(),
        name,
        kind: match site.role {
            Role::Server => SpanKind::Server,
            Role::Client => SpanKind::Client,
        } as i32,
        start_time_unix_nano: timing.start_unix_ns,
        end_time_unix_nano: timing.end_unix_ns.max(timing.start_unix_ns),
        attributes,
        ..Span::default()
    }
}

/// Adds the protocol's request attributes and returns the span name.
fn request_attributes(request: Request, attributes: &mut Vec<KeyValue>) -> String {
    match request {
        Request::Http(http) => {
            let name = joined(
                &http.method,
                http_endpoint_of(http.path().unwrap_or(&http.target)),
            );
            // `Some(None)`: the target (origin form, no query) is its own path, moved below
            // rather than copied.
            let path = http
                .path()
                .map(|path| (path.len() < http.target.len()).then(|| path.to_owned()));
            let query = http.query().map(str::to_owned);
            let HttpRequest {
                method,
                target,
                minor_version,
                user_agent,
                request_id,
                extra_headers,
                ..
            } = *http;
            attributes.push(string_attribute("http.request.method", method));
            if let Some(copied) = path {
                attributes.push(string_attribute("url.path", copied.unwrap_or(target)));
            }
            if let Some(query) = query {
                attributes.push(string_attribute("url.query", query));
            }
            if let Some(agent) = user_agent {
                attributes.push(string_attribute("user_agent.original", agent));
            }
            let version = match minor_version {
                0 => "1.0",
                _ => "1.1",
            };
            attributes.push(string_attribute("network.protocol.version", version));
            if let Some(id) = request_id {
                attributes.push(string_array("http.request.header.x-request-id", id));
            }
            for (name, value) in extra_headers {
                attributes.push(string_array(&format!("http.request.header.{name}"), value));
            }
            name
        }
        Request::Redis(command) => {
            attributes.push(string_attribute("db.system.name", "redis"));
            attributes.push(string_attribute("db.operation.name", command.name.clone()));
            if let Some(key) = &command.key {
                attributes.push(string_attribute(
                    "db.query.summary",
                    joined(&command.name, key),
                ));
            }
            command.name
        }
        Request::Dns(message) => {
            let qtype = dns_type(&message);
            if let Some(name) = message.query_name {
                attributes.push(string_attribute("dns.question.name", name));
            }
            let name = joined("DNS", &qtype);
            attributes.push(string_attribute("cormorant.dns.question.type", qtype));
            name
        }
    }
}

#[cfg(test)]
#[path = "spans_tests.rs"]
mod tests;
