//! HTTP/1.0 and HTTP/1.1: request and status lines, the headers a span needs, and body framing
//! (Content-Length, chunked, until-close, and the bodiless cases: HEAD, 1xx, 204, 304).
//!
//! Heads are tokenised with `httparse` (the parser under hyper), which rejects garbage at the
//! first invalid byte; the head size is bounded so a stream that never ends a head is dropped.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use crate::protocol::{
    BodyFraming, Confidence, Inference, L7Parser, MessageKind, ParseError, Parsed, Protocol,
    Request, Response,
};
use crate::trace_context::{TraceContext, TraceFormat, TraceHeaders};

/// Header lines beyond this many make a head invalid (nginx and hyper default to ~100).
const MAX_HEADERS: usize = 128;

/// Methods that make a connection's first bytes unmistakably HTTP.
const KNOWN_METHODS: [&[u8]; 14] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
];

/// Room for a head's header lines, left for `httparse` to fill: initialising all
/// [`MAX_HEADERS`] slots (4 KiB) would cost more than parsing a typical head.
fn unfilled_headers<'buf>() -> [MaybeUninit<httparse::Header<'buf>>; MAX_HEADERS] {
    [const { MaybeUninit::uninit() }; MAX_HEADERS]
}

/// Settings for [`Http1Parser`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http1Config {
    /// A request or status line plus headers longer than this is rejected.
    pub max_head_bytes: usize,
    /// Extra header names (any case) whose values are kept on requests and responses.
    pub extra_headers: Vec<String>,
}

impl Default for Http1Config {
    fn default() -> Http1Config {
        Http1Config {
            max_head_bytes: 16 * 1024,
            extra_headers: Vec::new(),
        }
    }
}

/// An HTTP/1.x request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// The request target as sent: origin form (`/a?b`), absolute form, authority form
    /// (CONNECT) or `*`.
    pub target: String,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    pub host: Option<String>,
    pub user_agent: Option<String>,
    pub content_length: Option<u64>,
    pub body: BodyFraming,
    /// `X-Request-ID`: how proxies (nginx `$request_id`, Envoy) tag a request across hops.
    pub request_id: Option<String>,
    pub trace_headers: TraceHeaders,
    /// Values of the configured extra headers, keyed by the configured name (lowercase).
    pub extra_headers: Vec<(String, String)>,
}

impl HttpRequest {
    /// The path of the target without query or fragment (`url.path`); absolute-form targets
    /// lose their scheme and authority. `None` for authority-form and asterisk-form targets.
    pub fn path(&self) -> Option<&str> {
        let target = self.target.as_str();
        let origin = if target.starts_with('/') {
            target
        } else if let Some((_, rest)) = target.split_once("://") {
            rest.find('/').map_or("/", |slash| &rest[slash..])
        } else {
            return None;
        };
        let end = origin.find(['?', '#']).unwrap_or(origin.len());
        Some(&origin[..end])
    }

    /// The query of an origin-form or absolute-form target, without `?`.
    pub fn query(&self) -> Option<&str> {
        let (_, query) = self.target.split_once('?')?;
        Some(query.split('#').next().unwrap_or(query))
    }

    /// The caller's trace context, from the first valid trace header.
    pub fn trace_context(&self) -> Option<(TraceContext, TraceFormat)> {
        self.trace_headers.context()
    }
}

/// An HTTP/1.x response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub minor_version: u8,
    pub content_length: Option<u64>,
    pub body: BodyFraming,
    pub request_id: Option<String>,
    pub extra_headers: Vec<(String, String)>,
}

impl HttpResponse {
    /// 1xx responses other than 101 precede the final response to the same request.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// The HTTP/1.x parser.
#[derive(Debug, Clone)]
pub struct Http1Parser {
    max_head_bytes: usize,
    extra_headers: Vec<String>,
}

impl Default for Http1Parser {
    fn default() -> Http1Parser {
        Http1Parser::new(Http1Config::default())
    }
}

fn malformed(detail: &'static str) -> ParseError {
    ParseError::Malformed {
        protocol: Protocol::Http1,
        detail,
    }
}

fn httparse_error(error: httparse::Error) -> ParseError {
    malformed(match error {
        httparse::Error::HeaderName => "invalid byte in header name",
        httparse::Error::HeaderValue => "invalid byte in header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status code",
        httparse::Error::Token => "invalid method or token",
        httparse::Error::TooManyHeaders => "too many header lines",
        httparse::Error::Version => "not HTTP/1.0 or HTTP/1.1",
    })
}

/// What the headers of one message say, gathered in a single pass.
#[derive(Default)]
struct HeaderFacts {
    host: Option<String>,
    user_agent: Option<String>,
    content_length: Option<u64>,
    /// Present when Transfer-Encoding was sent: whether `chunked` is its final coding.
    chunked_last: Option<bool>,
    request_id: Option<String>,
    trace_headers: TraceHeaders,
    extra_headers: Vec<(String, String)>,
}

/// A header value as text: borrowed when it is valid UTF-8 (the ASCII check is much faster
/// than the lossy conversion's), else with replacement characters.
fn text(value: &[u8]) -> Cow<'_, str> {
    std::str::from_utf8(value).map_or_else(|_| String::from_utf8_lossy(value), Cow::Borrowed)
}

fn header_text(value: &[u8]) -> String {
    text(value).trim().to_owned()
}

/// Parses a Content-Length value; a list of identical values (`5, 5`, sent by some proxies
/// after merging) counts as one.
fn content_length(value: &[u8]) -> Result<u64, ParseError> {
    let text = std::str::from_utf8(value).map_err(|_| malformed("invalid content-length"))?;
    let mut length = None;
    for part in text.split(',') {
        let part = part.trim_matches([' ', '\t']);
        if part.is_empty() || part.len() > 19 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed("invalid content-length"));
        }
        let parsed: u64 = part
            .parse()
            .map_err(|_| malformed("invalid content-length"))?;
        if length.is_some_and(|previous| previous != parsed) {
            return Err(malformed("conflicting content-length values"));
        }
        length = Some(parsed);
    }
    length.ok_or(malformed("invalid content-length"))
}

impl Http1Parser {
    pub fn new(config: Http1Config) -> Http1Parser {
        Http1Parser {
            max_head_bytes: config.max_head_bytes.max(64),
            extra_headers: config
                .extra_headers
                .iter()
                .map(|name| name.trim().to_ascii_lowercase())
                .filter(|name| !name.is_empty())
                .collect(),
        }
    }

    fn too_large(&self) -> ParseError {
        ParseError::TooLarge {
            protocol: Protocol::Http1,
            limit: self.max_head_bytes,
        }
    }

    fn scan_headers(&self, headers: &[httparse::Header<'_>]) -> Result<HeaderFacts, ParseError> {
        let mut facts = HeaderFacts::default();
        for header in headers {
            let name = header.name;
            // None of these is a trace header, so they are matched first; the trace header
            // check then converts a value to text only when its name matched.
            if name.eq_ignore_ascii_case("host") {
                facts.host.get_or_insert_with(|| header_text(header.value));
            } else if name.eq_ignore_ascii_case("user-agent") {
                facts
                    .user_agent
                    .get_or_insert_with(|| header_text(header.value));
            } else if name.eq_ignore_ascii_case("x-request-id") {
                facts
                    .request_id
                    .get_or_insert_with(|| header_text(header.value));
            } else if name.eq_ignore_ascii_case("content-length") {
                let length = content_length(header.value)?;
                if facts
                    .content_length
                    .is_some_and(|previous| previous != length)
                {
                    return Err(malformed("conflicting content-length values"));
                }
                facts.content_length = Some(length);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                // Repeated Transfer-Encoding lines form one list; the last coding decides.
                let last = text(header.value);
                let last = last.rsplit(',').next().unwrap_or_default().trim();
                if !last.is_empty() {
                    facts.chunked_last = Some(last.eq_ignore_ascii_case("chunked"));
                }
            } else if facts.trace_headers.record(name, header.value) {
                continue;
            }
            if let Some(configured) = self
                .extra_headers
                .iter()
                .find(|configured| name.eq_ignore_ascii_case(configured))
            {
                facts
                    .extra_headers
                    .push((configured.clone(), header_text(header.value)));
            }
        }
        Ok(facts)
    }

    /// The length of a complete head within the size limit, or what the parse reports instead:
    /// more bytes needed, a head over the limit, or malformed bytes.
    fn head_length<T>(
        &self,
        status: httparse::Result<usize>,
        buffered: usize,
    ) -> Result<usize, Parsed<T>> {
        match status {
            Ok(httparse::Status::Complete(length)) if length <= self.max_head_bytes => Ok(length),
            Ok(httparse::Status::Partial) if buffered <= self.max_head_bytes => {
                Err(Parsed::NeedMore)
            }
            Ok(_) => Err(Parsed::Invalid(self.too_large())),
            Err(error) => Err(Parsed::Invalid(httparse_error(error))),
        }
    }

    /// Parses a request head; public under a protocol-specific name so callers that know the
    /// protocol need not go through [`Request`].
    pub fn parse_http_request(&self, buf: &[u8]) -> Parsed<HttpRequest> {
        let mut headers = unfilled_headers();
        let mut request = httparse::Request::new(&mut []);
        let status = request.parse_with_uninit_headers(buf, &mut headers);
        let head_length = match self.head_length(status, buf.len()) {
            Ok(length) => length,
            Err(outcome) => return outcome,
        };
        let facts = match self.scan_headers(request.headers) {
            Ok(facts) => facts,
            Err(error) => return Parsed::Invalid(error),
        };
        let body = match (facts.chunked_last, facts.content_length) {
            (Some(true), _) => BodyFraming::Chunked,
            (Some(false), _) => {
                return Parsed::Invalid(malformed("request transfer-encoding is not chunked"));
            }
            (None, Some(length)) => BodyFraming::Length(length),
            (None, None) => BodyFraming::None,
        };
        Parsed::Complete {
            consumed: head_length,
            message: HttpRequest {
                method: request.method.unwrap_or_default().to_owned(),
                target: request.path.unwrap_or_default().to_owned(),
                minor_version: request.version.unwrap_or_default(),
                host: facts.host,
                user_agent: facts.user_agent,
                content_length: facts.content_length,
                body,
                request_id: facts.request_id,
                trace_headers: facts.trace_headers,
                extra_headers: facts.extra_headers,
            },
        }
    }

    /// Parses a response head; `request_method` is the method of the request it answers, when
    /// known (responses to HEAD, and successful CONNECT, have no body).
    pub fn parse_http_response(
        &self,
        buf: &[u8],
        request_method: Option<&str>,
    ) -> Parsed<HttpResponse> {
        let mut headers = unfilled_headers();
        let mut response = httparse::Response::new(&mut []);
        let mut config = httparse::ParserConfig::default();
        config
            .allow_spaces_after_header_name_in_responses(true)
            .allow_multiple_spaces_in_response_status_delimiters(true);
        let status = config.parse_response_with_uninit_headers(&mut response, buf, &mut headers);
        let head_length = match self.head_length(status, buf.len()) {
            Ok(length) => length,
            Err(outcome) => return outcome,
        };
        let facts = match self.scan_headers(response.headers) {
            Ok(facts) => facts,
            Err(error) => return Parsed::Invalid(error),
        };
        let status = response.code.unwrap_or_default();
        let bodiless_status = (100..200).contains(&status) || status == 204 || status == 304;
        let body = match request_method {
            _ if bodiless_status => BodyFraming::None,
            Some("HEAD") => BodyFraming::None,
            Some("CONNECT") if (200..300).contains(&status) => BodyFraming::None,
            _ => match (facts.chunked_last, facts.content_length) {
                (Some(true), _) => BodyFraming::Chunked,
                (Some(false), _) => BodyFraming::UntilClose,
                (None, Some(length)) => BodyFraming::Length(length),
                (None, None) => BodyFraming::UntilClose,
            },
        };
        Parsed::Complete {
            consumed: head_length,
            message: HttpResponse {
                status,
                minor_version: response.version.unwrap_or_default(),
                content_length: facts.content_length,
                body,
                request_id: facts.request_id,
                extra_headers: facts.extra_headers,
            },
        }
    }
}

impl L7Parser for Http1Parser {
    fn protocol(&self) -> Protocol {
        Protocol::Http1
    }

    fn infer(&self, first_bytes: &[u8]) -> Option<Inference> {
        let line_end = first_bytes.len().min(1024);
        let line = &first_bytes[..line_end];
        let line = line
            .iter()
            .position(|byte| *byte == b'\n')
            .map_or(line, |end| &line[..end]);
        if KNOWN_METHODS.iter().any(|method| line.starts_with(method)) {
            let has_version = line.windows(8).any(|window| window == b" HTTP/1.");
            return Some(Inference {
                confidence: if has_version {
                    Confidence::Certain
                } else {
                    Confidence::Strong
                },
                kind: MessageKind::Request,
            });
        }
        let status_line = (line.starts_with(b"HTTP/1.0 ") || line.starts_with(b"HTTP/1.1 "))
            && line.len() >= 12
            && line[9..12].iter().all(u8::is_ascii_digit);
        status_line.then_some(Inference {
            confidence: Confidence::Certain,
            kind: MessageKind::Response,
        })
    }

    fn parse_request(&self, buf: &[u8]) -> Parsed<Request> {
        self.parse_http_request(buf)
            .map(|request| Request::Http(Box::new(request)))
    }

    fn parse_response(&self, buf: &[u8], request: Option<&Request>) -> Parsed<Response> {
        let method = match request {
            Some(Request::Http(request)) => Some(request.method.as_str()),
            _ => None,
        };
        self.parse_http_response(buf, method).map(Response::Http)
    }
}
