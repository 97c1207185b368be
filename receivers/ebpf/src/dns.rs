//! DNS over UDP (one datagram, one message) and TCP (two-byte length prefix, RFC 1035 §4.2.2):
//! id, flags, counts and the first question. Only the header and question are parsed; answer
//! records are skipped as a body, so a response larger than the kernel's capture still yields
//! its rcode and answer count.

use crate::protocol::{
    BodyFraming, Confidence, Inference, L7Parser, MessageKind, ParseError, Parsed, Protocol,
    Request, Response,
};
use crate::stream::Transport;

const HEADER_LENGTH: usize = 12;
/// RFC 1035 §2.3.4: a name is at most 255 octets on the wire.
const MAX_NAME_LENGTH: usize = 255;
/// More compression jumps than labels a name can have means a pointer loop.
const MAX_POINTER_JUMPS: usize = 128;
/// No real message has more records than fit in 64 KiB at 11 bytes each.
const MAX_RECORD_COUNT: u16 = 6000;

/// A DNS query or response: header fields and the first question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsMessage {
    /// Pairs a response with its query.
    pub id: u16,
    pub is_response: bool,
    pub opcode: u8,
    /// Response code (the 4 header bits; 0 = NOERROR, 3 = NXDOMAIN).
    pub rcode: u8,
    /// TC: the answer did not fit and the client should retry over TCP.
    pub truncated: bool,
    pub question_count: u16,
    pub answer_count: u16,
    /// The first question's name, without trailing dot (`.` for the root); bytes that are not
    /// letters, digits, `-`, `_` or `*` are escaped as `\DDD`, dots inside labels as `\.`.
    pub query_name: Option<String>,
    pub query_type: Option<u16>,
    pub body: BodyFraming,
}

impl DnsMessage {
    /// The mnemonic of the query type (`A`, `AAAA`, `HTTPS`...), when it is a common one.
    pub fn query_type_name(&self) -> Option<&'static str> {
        Some(match self.query_type? {
            1 => "A",
            2 => "NS",
            5 => "CNAME",
            6 => "SOA",
            12 => "PTR",
            13 => "HINFO",
            15 => "MX",
            16 => "TXT",
            28 => "AAAA",
            33 => "SRV",
            35 => "NAPTR",
            39 => "DNAME",
            43 => "DS",
            46 => "RRSIG",
            47 => "NSEC",
            48 => "DNSKEY",
            52 => "TLSA",
            64 => "SVCB",
            65 => "HTTPS",
            251 => "IXFR",
            252 => "AXFR",
            255 => "ANY",
            257 => "CAA",
            _ => return None,
        })
    }

    /// The mnemonic of the response code (`NOERROR`, `NXDOMAIN`...).
    pub fn rcode_name(&self) -> &'static str {
        match self.rcode {
            0 => "NOERROR",
            1 => "FORMERR",
            2 => "SERVFAIL",
            3 => "NXDOMAIN",
            4 => "NOTIMP",
            5 => "REFUSED",
            6 => "YXDOMAIN",
            7 => "YXRRSET",
            8 => "NXRRSET",
            9 => "NOTAUTH",
            10 => "NOTZONE",
            _ => "UNKNOWN",
        }
    }
}

fn malformed(detail: &'static str) -> ParseError {
    ParseError::Malformed {
        protocol: Protocol::Dns,
        detail,
    }
}

/// Reading a name needs more bytes than the message holds so far.
struct NeedMore;

fn append_label(name: &mut String, label: &[u8]) {
    if !name.is_empty() {
        name.push('.');
    }
    for &byte in label {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'*' => name.push(byte as char),
            b'.' | b'\\' => {
                name.push('\\');
                name.push(byte as char);
            }
            _ => name.push_str(&format!("\\{byte:03}")),
        }
    }
}

/// Reads the (possibly compressed) name at `start` of `message`; returns it and the offset
/// right after it in place. Pointers must point backwards and are counted, so a loop fails.
fn read_name(
    message: &[u8],
    start: usize,
) -> Result<Result<(String, usize), NeedMore>, ParseError> {
    let mut name = String::new();
    let mut position = start;
    let mut end_in_place = None;
    let mut wire_length = 0usize;
    let mut jumps = 0;
    loop {
        let Some(&length) = message.get(position) else {
            return Ok(Err(NeedMore));
        };
        match length & 0xC0 {
            0x00 if length == 0 => {
                let end = *end_in_place.get_or_insert(position + 1);
                if name.is_empty() {
                    name.push('.');
                }
                return Ok(Ok((name, end)));
            }
            0x00 => {
                let label_end = position + 1 + usize::from(length);
                let Some(label) = message.get(position + 1..label_end) else {
                    return Ok(Err(NeedMore));
                };
                wire_length += 1 + label.len();
                if wire_length > MAX_NAME_LENGTH {
                    return Err(malformed("name longer than 255 bytes"));
                }
                append_label(&mut name, label);
                position = label_end;
            }
            0xC0 => {
                let Some(&low) = message.get(position + 1) else {
                    return Ok(Err(NeedMore));
                };
                let target = usize::from(length & 0x3F) << 8 | usize::from(low);
                end_in_place.get_or_insert(position + 2);
                jumps += 1;
                if target >= position || target < HEADER_LENGTH || jumps > MAX_POINTER_JUMPS {
                    return Err(malformed("bad compression pointer"));
                }
                position = target;
            }
            _ => return Err(malformed("unsupported label type")),
        }
    }
}

/// The DNS parser for one transport.
#[derive(Debug, Clone, Copy)]
pub struct DnsParser {
    transport: Transport,
}

impl DnsParser {
    pub fn new(transport: Transport) -> DnsParser {
        DnsParser { transport }
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Parses the message at the front of `buf` (a datagram, or a TCP stream position).
    pub fn parse_message(&self, buf: &[u8]) -> Parsed<DnsMessage> {
        match self.transport {
            Transport::Datagram => match parse_header_and_question(buf, buf.len()) {
                Ok(Ok((message, _))) => Parsed::Complete {
                    consumed: buf.len(),
                    message,
                },
                // The datagram is the whole message, so running out of bytes is malformed.
                Ok(Err(NeedMore)) => Parsed::Invalid(malformed("question overruns message")),
                Err(error) => Parsed::Invalid(error),
            },
            Transport::Stream => {
                let Some(prefix) = buf.get(..2) else {
                    return Parsed::NeedMore;
                };
                let length = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
                if length < HEADER_LENGTH {
                    return Parsed::Invalid(malformed("TCP length shorter than a header"));
                }
                let available = &buf[2..buf.len().min(2 + length)];
                match parse_header_and_question(available, length) {
                    Ok(Ok((mut message, question_end))) => {
                        let rest = (length - question_end) as u64;
                        message.body = if rest == 0 {
                            BodyFraming::None
                        } else {
                            BodyFraming::Length(rest)
                        };
                        Parsed::Complete {
                            consumed: 2 + question_end,
                            message,
                        }
                    }
                    Ok(Err(NeedMore)) if available.len() < length => Parsed::NeedMore,
                    Ok(Err(NeedMore)) => Parsed::Invalid(malformed("question overruns message")),
                    Err(error) => Parsed::Invalid(error),
                }
            }
        }
    }
}

/// Parses the header and first question of `message` (whose full length is `length`; only a
/// prefix may be present). Returns the message and the offset where the question ended.
fn parse_header_and_question(
    message: &[u8],
    length: usize,
) -> Result<Result<(DnsMessage, usize), NeedMore>, ParseError> {
    let Some(header) = message.get(..HEADER_LENGTH) else {
        return if length < HEADER_LENGTH {
            Err(malformed("shorter than a header"))
        } else {
            Ok(Err(NeedMore))
        };
    };
    let word = |index: usize| u16::from_be_bytes([header[index], header[index + 1]]);
    let flags = word(2);
    let opcode = ((flags >> 11) & 0x0F) as u8;
    if !matches!(opcode, 0 | 1 | 2 | 4 | 5 | 6) {
        return Err(malformed("unknown opcode"));
    }
    let counts = [word(4), word(6), word(8), word(10)];
    if counts[0] > 4 || counts.iter().any(|count| *count > MAX_RECORD_COUNT) {
        return Err(malformed("implausible record counts"));
    }
    let mut dns = DnsMessage {
        id: word(0),
        is_response: flags & 0x8000 != 0,
        opcode,
        rcode: (flags & 0x000F) as u8,
        truncated: flags & 0x0200 != 0,
        question_count: counts[0],
        answer_count: counts[1],
        query_name: None,
        query_type: None,
        body: BodyFraming::None,
    };
    if dns.question_count == 0 {
        return Ok(Ok((dns, HEADER_LENGTH)));
    }
    let (name, name_end) = match read_name(message, HEADER_LENGTH)? {
        Ok(read) => read,
        Err(NeedMore) if message.len() >= length => {
            return Err(malformed("question overruns message"));
        }
        Err(NeedMore) => return Ok(Err(NeedMore)),
    };
    let Some(type_and_class) = message.get(name_end..name_end + 4) else {
        return if message.len() >= length {
            Err(malformed("question overruns message"))
        } else {
            Ok(Err(NeedMore))
        };
    };
    dns.query_name = Some(name);
    dns.query_type = Some(u16::from_be_bytes([type_and_class[0], type_and_class[1]]));
    Ok(Ok((dns, name_end + 4)))
}

impl L7Parser for DnsParser {
    fn protocol(&self) -> Protocol {
        Protocol::Dns
    }

    fn infer(&self, first_bytes: &[u8]) -> Option<Inference> {
        let Parsed::Complete { message, .. } = self.parse_message(first_bytes) else {
            return None;
        };
        // A binary header matches many things by accident: demand a standard query shape.
        let standard = message.question_count == 1
            && message.opcode == 0
            && message.query_type_name().is_some()
            && (message.is_response || (message.answer_count == 0 && message.rcode == 0));
        standard.then_some(Inference {
            confidence: Confidence::Strong,
            kind: if message.is_response {
                MessageKind::Response
            } else {
                MessageKind::Request
            },
        })
    }

    fn parse_request(&self, buf: &[u8]) -> Parsed<Request> {
        match self.parse_message(buf) {
            Parsed::Complete { message, .. } if message.is_response => {
                Parsed::Invalid(malformed("response where a query was expected"))
            }
            parsed => parsed.map(Request::Dns),
        }
    }

    fn parse_response(&self, buf: &[u8], _request: Option<&Request>) -> Parsed<Response> {
        match self.parse_message(buf) {
            Parsed::Complete { message, .. } if !message.is_response => {
                Parsed::Invalid(malformed("query where a response was expected"))
            }
            parsed => parsed.map(Response::Dns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_at(message: &[u8], start: usize) -> Result<String, ParseError> {
        match read_name(message, start)? {
            Ok((name, _)) => Ok(name),
            Err(NeedMore) => Err(ParseError::Truncated {
                protocol: Protocol::Dns,
            }),
        }
    }

    #[test]
    fn compressed_names_and_loops() {
        let mut message = vec![0u8; HEADER_LENGTH];
        message.extend_from_slice(b"\x07example\x03com\x00");
        message.extend_from_slice(b"\x03www\xC0\x0C");
        assert_eq!(name_at(&message, 12).as_deref(), Ok("example.com"));
        assert_eq!(name_at(&message, 25).as_deref(), Ok("www.example.com"));

        let mut looping = vec![0u8; HEADER_LENGTH];
        looping.extend_from_slice(b"\x01a\xC0\x0C");
        assert!(name_at(&looping, 12).is_err(), "pointer to itself's label");
        let mut forward = vec![0u8; HEADER_LENGTH];
        forward.extend_from_slice(b"\xC0\x20");
        assert!(name_at(&forward, 12).is_err());
    }

    #[test]
    fn odd_labels_are_escaped() {
        let mut message = vec![0u8; HEADER_LENGTH];
        message.extend_from_slice(b"\x03a.b\x01\x03\x00");
        assert_eq!(name_at(&message, 12).as_deref(), Ok("a\\.b.\\003"));
        let mut root = vec![0u8; HEADER_LENGTH];
        root.push(0);
        assert_eq!(name_at(&root, 12).as_deref(), Ok("."));
        let mut long = vec![0u8; HEADER_LENGTH];
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'x'; 63]);
        }
        long.push(0);
        assert!(name_at(&long, 12).is_err());
    }
}
