//! Byte streams shaped like real captures: what curl sends to nginx, what nginx forwards to a
//! Python `http.server` backend and what that answers, `redis-cli` traffic, `dig` queries.

/// `curl -s http://localhost:8080/index.html` (curl 8.14).
pub const CURL_GET: &[u8] = b"GET /index.html HTTP/1.1\r\n\
Host: localhost:8080\r\n\
User-Agent: curl/8.14.1\r\n\
Accept: */*\r\n\
\r\n";

/// The nginx page body size of the default Debian index.
pub const NGINX_INDEX_LENGTH: usize = 615;

/// nginx 1.26 answering CURL_GET (headers; the body follows).
pub fn nginx_index_response() -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 200 OK\r\n\
Server: nginx/1.26.3\r\n\
Date: Sun, 22 Nov 2026 06:00:00 GMT\r\n\
Content-Type: text/html\r\n\
Content-Length: {NGINX_INDEX_LENGTH}\r\n\
Last-Modified: Mon, 03 Feb 2025 10:00:00 GMT\r\n\
Connection: keep-alive\r\n\
ETag: \"67a09360-267\"\r\n\
Accept-Ranges: bytes\r\n\
\r\n"
    )
    .into_bytes();
    let mut body = b"<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n".to_vec();
    body.resize(NGINX_INDEX_LENGTH, b'.');
    response.extend_from_slice(&body);
    response
}

/// nginx proxying to a backend (`proxy_pass`, default HTTP/1.0, `proxy_set_header X-Request-ID
/// $request_id`), with the caller's `traceparent` passed through.
pub const NGINX_TO_BACKEND: &[u8] = b"GET /api/items?id=7 HTTP/1.0\r\n\
X-Request-ID: 5f1c0b6e0d6b4c4e9b7b3f0c2d1a9e8f\r\n\
Host: backend\r\n\
Connection: close\r\n\
User-Agent: curl/8.14.1\r\n\
Accept: */*\r\n\
traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\
tracestate: congo=t61rcWkgMzE\r\n\
\r\n";

/// Python 3.13 `http.server` (HTTP/1.0) answering NGINX_TO_BACKEND with a length.
pub const PYTHON_JSON_RESPONSE: &[u8] = b"HTTP/1.0 200 OK\r\n\
Server: SimpleHTTP/0.6 Python/3.13.5\r\n\
Date: Sun, 22 Nov 2026 06:00:00 GMT\r\n\
Content-type: application/json\r\n\
Content-Length: 27\r\n\
\r\n\
{\"id\": 7, \"name\": \"widget\"}";

/// Python `http.server` writing a body without a length: it ends when the socket closes.
pub const PYTHON_UNTIL_CLOSE_RESPONSE: &[u8] = b"HTTP/1.0 500 Internal Server Error\r\n\
Server: SimpleHTTP/0.6 Python/3.13.5\r\n\
Date: Sun, 22 Nov 2026 06:00:00 GMT\r\n\
Content-Type: text/plain\r\n\
\r\n\
Traceback (most recent call last):\n  redis.exceptions.ConnectionError\n";

/// A pipelined keep-alive session: POST with a length body, a chunked upload with extensions
/// and trailers, HEAD, a conditional GET and a DELETE.
pub const PIPELINED_REQUESTS: &[u8] = b"POST /api/orders HTTP/1.1\r\n\
Host: shop.local\r\n\
User-Agent: python-requests/2.32.3\r\n\
Content-Type: application/json\r\n\
Content-Length: 18\r\n\
X-Request-ID: 11111111-2222-4333-8444-555555555555\r\n\
\r\n\
{\"sku\": \"A-1\", \"n\"\
POST /upload HTTP/1.1\r\n\
Host: shop.local\r\n\
Transfer-Encoding: chunked\r\n\
b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\r\n\
\r\n\
5;part=1\r\nhello\r\n7\r\n, world\r\n0\r\nDigest: sha-256=abc\r\n\r\n\
HEAD /index.html HTTP/1.1\r\n\
Host: shop.local\r\n\
\r\n\
GET /logo.png HTTP/1.1\r\n\
Host: shop.local\r\n\
If-None-Match: \"abc\"\r\n\
uber-trace-id: 3ce929d0e0e4736%3A4a1d1a96d312%3A0%3A1\r\n\
\r\n\
DELETE /api/orders/9 HTTP/1.1\r\n\
Host: shop.local\r\n\
\r\n";

/// The responses to PIPELINED_REQUESTS, in order: 201 with a chunked body (extensions and a
/// trailer), 100 Continue then 200, a HEAD answer whose Content-Length announces no body, 304,
/// and 204.
pub const PIPELINED_RESPONSES: &[u8] = b"HTTP/1.1 201 Created\r\n\
Transfer-Encoding: chunked\r\n\
X-Request-ID: 11111111-2222-4333-8444-555555555555\r\n\
\r\n\
d;ext=\"a b\"\r\n{\"order\": 9}\n\r\n0\r\nServer-Timing: db;dur=3\r\n\r\n\
HTTP/1.1 100 Continue\r\n\
\r\n\
HTTP/1.1 200 OK\r\n\
Content-Length: 2\r\n\
\r\n\
ok\
HTTP/1.1 200 OK\r\n\
Content-Type: text/html\r\n\
Content-Length: 615\r\n\
\r\n\
HTTP/1.1 304 Not Modified\r\n\
ETag: \"abc\"\r\n\
\r\n\
HTTP/1.1 204 No Content\r\n\
\r\n";

/// RESP2 traffic from `redis-cli` (RESP arrays of bulk strings), pipelined.
pub const REDIS_CLI_COMMANDS: &[u8] = b"*3\r\n$3\r\nSET\r\n$8\r\nuser:100\r\n$5\r\nalice\r\n\
*2\r\n$3\r\nGET\r\n$8\r\nuser:100\r\n\
*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n\
*2\r\n$4\r\nINCR\r\n$8\r\nuser:100\r\n\
*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$3\r\ncli\r\n\
*5\r\n$4\r\nHSET\r\n$8\r\nprofile1\r\n$4\r\nname\r\n$3\r\nbob\r\n$3\r\nage\r\n\
PING\r\n";

/// The RESP2 replies to REDIS_CLI_COMMANDS.
pub const REDIS_CLI_REPLIES: &[u8] = b"+OK\r\n\
$5\r\nalice\r\n\
$-1\r\n\
-ERR value is not an integer or out of range\r\n\
+OK\r\n\
:2\r\n\
+PONG\r\n";

/// A RESP3 session after `HELLO 3`: a map reply, a set, a double, a boolean, a verbatim
/// string, a RESP3 null, and a push message (client tracking invalidation) in between.
pub const REDIS_RESP3_COMMANDS: &[u8] = b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n\
*2\r\n$7\r\nHGETALL\r\n$8\r\nprofile1\r\n\
*2\r\n$8\r\nSMEMBERS\r\n$4\r\ntags\r\n\
*3\r\n$11\r\nINCRBYFLOAT\r\n$5\r\nprice\r\n$3\r\n0.5\r\n\
*3\r\n$9\r\nSISMEMBER\r\n$4\r\ntags\r\n$1\r\na\r\n\
*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n\
*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n\
*2\r\n$5\r\nLPUSH\r\n$4\r\nlist\r\n";

pub const REDIS_RESP3_REPLIES: &[u8] =
    b"%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n\
%2\r\n$4\r\nname\r\n$3\r\nbob\r\n$3\r\nage\r\n$2\r\n30\r\n\
~2\r\n$1\r\na\r\n$1\r\nb\r\n\
>2\r\n$10\r\ninvalidate\r\n*1\r\n$5\r\nprice\r\n\
,10.5\r\n\
#t\r\n\
=22\r\ntxt:# Server\nversion:8\r\n\
_\r\n\
!41\r\nERR wrong number of arguments for 'lpush'\r\n";

/// Encodes a DNS name in wire format.
fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|label| !label.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// `dig example.com A`: recursion desired, AD, and an EDNS OPT record with a client cookie.
pub fn dig_query(id: u16, name: &str, query_type: u16) -> Vec<u8> {
    let mut message = Vec::new();
    message.extend_from_slice(&id.to_be_bytes());
    message.extend_from_slice(&[0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1]);
    message.extend_from_slice(&wire_name(name));
    message.extend_from_slice(&query_type.to_be_bytes());
    message.extend_from_slice(&[0, 1]);
    message.extend_from_slice(&[0, 0, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0, 0x0c]);
    message.extend_from_slice(&[
        0, 0x0a, 0, 0x08, 0x5e, 0x61, 0x1c, 0x0f, 0x3a, 0x2b, 0x90, 0x11,
    ]);
    message
}

/// A resolver's answer: `answers` A records (compressed owner name pointing at the question)
/// and, for NXDOMAIN, an SOA in the authority section.
pub fn resolver_response(id: u16, name: &str, query_type: u16, rcode: u8, answers: u16) -> Vec<u8> {
    let mut message = Vec::new();
    message.extend_from_slice(&id.to_be_bytes());
    message.extend_from_slice(&[0x81, 0x80 | rcode]);
    let authority: u16 = if rcode == 3 { 1 } else { 0 };
    for count in [1, answers, authority, 1] {
        message.extend_from_slice(&count.to_be_bytes());
    }
    message.extend_from_slice(&wire_name(name));
    message.extend_from_slice(&query_type.to_be_bytes());
    message.extend_from_slice(&[0, 1]);
    for index in 0..answers {
        message.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        message.extend_from_slice(&[93, 184, 215, 14 + index as u8]);
    }
    if rcode == 3 {
        message.extend_from_slice(&[0xc0, 0x0c, 0, 6, 0, 1, 0, 0, 0x03, 0x84, 0, 32]);
        message.extend_from_slice(b"\x02ns\xc0\x0c\x04root\xc0\x0c");
        for field in [2026112201u32, 3600, 900, 604800, 86400] {
            message.extend_from_slice(&field.to_be_bytes());
        }
    }
    message.extend_from_slice(&[0, 0, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    message
}

/// Frames a DNS message for TCP (`dig +tcp`): two-byte big-endian length, then the message.
pub fn tcp_framed(message: &[u8]) -> Vec<u8> {
    let mut framed = (message.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(message);
    framed
}
