//! Redis (RESP2 and RESP3): command name, subcommand and first key of each request; kind and
//! error text of each reply. Argument values other than the key are never kept: they may hold
//! user data.
//!
//! Large values are common (`SET key <blob>`, `GET` of a blob) and the kernel captures only the
//! first bytes of a syscall, so a bulk string at the very end of a command or reply is handed to
//! the stream as a body to skip ([`BodyFraming::Length`]) once the parts a span needs are seen.

mod commands;
pub mod resp;

use crate::protocol::{
    BodyFraming, Confidence, Inference, L7Parser, MessageKind, ParseError, Parsed, Protocol,
    Request, Response,
};
use commands::{first_key, has_subcommand, is_known_command};
use resp::{MAX_ELEMENTS, MAX_LINE, bulk_end, bulk_length, malformed, read_line, value_end};

/// Keys and error texts longer than this are cut (attributes should stay small).
const MAX_TEXT: usize = 1024;
/// Trailing bulk values larger than this are skipped as a body rather than buffered. The
/// decision depends on the declared length only, so a message parses the same however its
/// bytes were split into chunks.
const SKIP_VALUES_OVER: usize = 512;
/// Command names longer than this are not Redis commands (the longest real ones are ~30).
const MAX_COMMAND_NAME: usize = 64;

/// One command sent to Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisCommand {
    /// Uppercase command name (`db.operation.name`), e.g. `GET`, `JSON.SET`.
    pub name: String,
    /// Uppercase subcommand of container commands (`CLIENT SETNAME`, `CONFIG GET`).
    pub subcommand: Option<String>,
    /// The first key the command touches, when it has one.
    pub key: Option<String>,
    /// Number of arguments after the command name.
    pub argument_count: usize,
    /// Sent as an inline command (a plain text line) rather than a RESP array.
    pub inline: bool,
    pub body: BodyFraming,
}

impl RedisCommand {
    /// `NAME` or `NAME SUBCOMMAND`.
    pub fn operation(&self) -> String {
        match &self.subcommand {
            Some(subcommand) => format!("{} {subcommand}", self.name),
            None => self.name.clone(),
        }
    }
}

/// The RESP type of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    SimpleString,
    Error,
    Integer,
    BulkString,
    Null,
    Array,
    Map,
    Set,
    Double,
    Boolean,
    BigNumber,
    BulkError,
    Verbatim,
    Push,
}

/// One reply from Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisReply {
    pub kind: ReplyKind,
    /// The error text of an error reply (`ERR unknown command`, `WRONGTYPE ...`).
    pub error: Option<String>,
    pub body: BodyFraming,
}

impl RedisReply {
    /// RESP3 push messages are sent unsolicited (pub/sub, client tracking) and answer nothing.
    pub fn is_push(&self) -> bool {
        self.kind == ReplyKind::Push
    }
}

/// The Redis parser.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedisParser;

fn bounded_text(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(MAX_TEXT)];
    String::from_utf8_lossy(cut).into_owned()
}

fn command_name(raw: &[u8]) -> Result<String, ParseError> {
    let valid = !raw.is_empty()
        && raw.len() <= MAX_COMMAND_NAME
        && raw[0].is_ascii_alphabetic()
        && raw
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._-|".contains(byte));
    if !valid {
        return Err(malformed("not a command name"));
    }
    Ok(String::from_utf8_lossy(raw).to_ascii_uppercase())
}

fn build_command(
    arguments: &[&[u8]],
    total_arguments: usize,
    inline: bool,
    body: BodyFraming,
) -> Result<RedisCommand, ParseError> {
    let name = command_name(arguments.first().copied().unwrap_or_default())?;
    let subcommand = if has_subcommand(&name) {
        arguments
            .get(1)
            .map(|raw| bounded_text(raw).to_ascii_uppercase())
    } else {
        None
    };
    let key = first_key(&name, arguments).map(bounded_text);
    Ok(RedisCommand {
        name,
        subcommand,
        key,
        argument_count: total_arguments.saturating_sub(1),
        inline,
        body,
    })
}

impl RedisParser {
    /// Parses a RESP array command (`*N` of bulk strings).
    fn parse_array_command(&self, buf: &[u8]) -> Result<Parsed<RedisCommand>, ParseError> {
        let Some((line, mut position)) = read_line(buf, 1)? else {
            return Ok(Parsed::NeedMore);
        };
        let count = resp::parse_integer(line)?;
        if !(1..=MAX_ELEMENTS).contains(&count) {
            return Err(malformed("command array must have at least one element"));
        }
        let count = count as usize;
        let mut arguments: Vec<&[u8]> = Vec::with_capacity(count.min(16));
        for index in 0..count {
            match buf.get(position) {
                None => return Ok(Parsed::NeedMore),
                Some(b'$') => {}
                Some(_) => return Err(malformed("command argument is not a bulk string")),
            }
            let Some((line, payload_start)) = read_line(buf, position + 1)? else {
                return Ok(Parsed::NeedMore);
            };
            let length = bulk_length(b'$', line)?.ok_or(malformed("null command argument"))?;
            // A large last argument of a command whose name and key are known is a value: skip
            // it as a body instead of waiting for bytes the kernel may not capture.
            if index == count - 1 && index >= 2 && length > SKIP_VALUES_OVER {
                let command = build_command(
                    &arguments,
                    count,
                    false,
                    BodyFraming::Length(length as u64 + 2),
                )?;
                return Ok(Parsed::Complete {
                    consumed: payload_start,
                    message: command,
                });
            }
            match bulk_end(buf, payload_start, length)? {
                Some(end) => {
                    arguments.push(&buf[payload_start..end - 2]);
                    position = end;
                }
                None => return Ok(Parsed::NeedMore),
            }
        }

        let command = build_command(&arguments, count, false, BodyFraming::None)?;
        Ok(Parsed::Complete {
            consumed: position,
            message: command,
        })
    }

    /// Parses an inline command: a text line of space-separated words.
    fn parse_inline_command(&self, buf: &[u8]) -> Result<Parsed<RedisCommand>, ParseError> {
        let Some(end) = buf.iter().position(|byte| *byte == b'\n') else {
            if buf.len() > MAX_LINE {
                return Err(malformed("inline command too long"));
            }
            if !buf
                .iter()
                .all(|byte| byte.is_ascii_graphic() || b" \t\r".contains(byte))
            {
                return Err(malformed("inline command is not text"));
            }
            return Ok(Parsed::NeedMore);
        };
        let line = &buf[..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line
            .iter()
            .all(|byte| byte.is_ascii_graphic() || *byte == b' ' || *byte == b'\t')
        {
            return Err(malformed("inline command is not text"));
        }
        let arguments: Vec<&[u8]> = line
            .split(|byte| *byte == b' ' || *byte == b'\t')
            .filter(|word| !word.is_empty())
            .collect();
        let command = build_command(&arguments, arguments.len(), true, BodyFraming::None)?;
        Ok(Parsed::Complete {
            consumed: end + 1,
            message: command,
        })
    }

    /// Parses the command at the front of `buf`.
    pub fn parse_command(&self, buf: &[u8]) -> Parsed<RedisCommand> {
        let result = match buf.first() {
            None => Ok(Parsed::NeedMore),
            Some(b'*') => self.parse_array_command(buf),
            Some(byte) if byte.is_ascii_alphabetic() => self.parse_inline_command(buf),
            Some(_) => Err(malformed("not a RESP array or inline command")),
        };
        result.unwrap_or_else(Parsed::Invalid)
    }

    /// Parses the reply at the front of `buf`.
    pub fn parse_reply(&self, buf: &[u8]) -> Parsed<RedisReply> {
        self.reply(buf).unwrap_or_else(Parsed::Invalid)
    }

    fn reply(&self, buf: &[u8]) -> Result<Parsed<RedisReply>, ParseError> {
        // Attributes (`|`) annotate the reply that follows; the reply's own type is what counts.
        let mut start = 0;
        while buf.get(start) == Some(&b'|') {
            let Some((line, after)) = read_line(buf, start + 1)? else {
                return Ok(Parsed::NeedMore);
            };
            let values = resp::aggregate_values(b'|', line)?.unwrap_or_default();
            match resp::values_end(buf, after, values, 1)? {
                Some(end) => start = end,
                None => return Ok(Parsed::NeedMore),
            }
        }
        let Some(&tag) = buf.get(start) else {
            return Ok(Parsed::NeedMore);
        };
        let Some((line, after)) = read_line(buf, start + 1)? else {
            // Still validate the type byte so garbage is rejected before its line ends.
            value_end(buf, start, 0)?;
            return Ok(Parsed::NeedMore);
        };
        let kind = match tag {
            b'+' => ReplyKind::SimpleString,
            b'-' => ReplyKind::Error,
            b':' => ReplyKind::Integer,
            b'$' if line == b"-1" => ReplyKind::Null,
            b'*' if line == b"-1" => ReplyKind::Null,
            b'_' => ReplyKind::Null,
            b'$' => ReplyKind::BulkString,
            b'*' => ReplyKind::Array,
            b'%' => ReplyKind::Map,
            b'~' => ReplyKind::Set,
            b',' => ReplyKind::Double,
            b'#' => ReplyKind::Boolean,
            b'(' => ReplyKind::BigNumber,
            b'!' => ReplyKind::BulkError,
            b'=' => ReplyKind::Verbatim,
            b'>' => ReplyKind::Push,
            _ => return Err(malformed("unknown RESP type")),
        };
        let mut error = (tag == b'-').then(|| bounded_text(line));
        if matches!(
            kind,
            ReplyKind::BulkString | ReplyKind::Verbatim | ReplyKind::BulkError
        ) && line != b"?"
        {
            let length = bulk_length(tag, line)?.unwrap_or_default();
            if kind == ReplyKind::BulkError {
                if bulk_end(buf, after, length)?.is_none() {
                    return Ok(Parsed::NeedMore);
                }
                error = Some(bounded_text(&buf[after..after + length]));
            } else if length > SKIP_VALUES_OVER {
                // A large value: its head is all a span needs.
                return Ok(Parsed::Complete {
                    consumed: after,
                    message: RedisReply {
                        kind,
                        error,
                        body: BodyFraming::Length(length as u64 + 2),
                    },
                });
            }
        }
        match value_end(buf, start, 0)? {
            Some(end) => Ok(Parsed::Complete {
                consumed: end,
                message: RedisReply {
                    kind,
                    error,
                    body: BodyFraming::None,
                },
            }),
            None => Ok(Parsed::NeedMore),
        }
    }
}

impl L7Parser for RedisParser {
    fn protocol(&self) -> Protocol {
        Protocol::Redis
    }

    fn infer(&self, first_bytes: &[u8]) -> Option<Inference> {
        let request = |confidence| {
            Some(Inference {
                confidence,
                kind: MessageKind::Request,
            })
        };
        match first_bytes.first()? {
            b'*' => {
                let command = match self.parse_command(first_bytes) {
                    Parsed::Complete { message, .. } => message.name,
                    // Redis clients write a command in one syscall; a capture cut short still
                    // shows the name when it is near the front.
                    Parsed::NeedMore => {
                        let mut name_line = first_bytes.split(|byte| *byte == b'\n').nth(2)?;
                        name_line = name_line.strip_suffix(b"\r").unwrap_or(name_line);
                        command_name(name_line).ok()?
                    }
                    Parsed::Invalid(_) => return None,
                };
                request(if is_known_command(&command) {
                    Confidence::Certain
                } else {
                    Confidence::Strong
                })
            }
            byte if byte.is_ascii_alphabetic() => match self.parse_command(first_bytes) {
                Parsed::Complete { message, .. } if is_known_command(&message.name) => {
                    request(Confidence::Weak)
                }
                _ => None,
            },
            _ => {
                let Parsed::Complete { message, .. } = self.parse_reply(first_bytes) else {
                    return None;
                };
                let telling = message.error.as_deref().is_some_and(|error| {
                    error.starts_with("ERR ") || error.starts_with("WRONGTYPE")
                }) || first_bytes.starts_with(b"+OK\r\n")
                    || first_bytes.starts_with(b"+PONG\r\n");
                Some(Inference {
                    confidence: if telling {
                        Confidence::Strong
                    } else {
                        Confidence::Weak
                    },
                    kind: MessageKind::Response,
                })
            }
        }
    }

    fn parse_request(&self, buf: &[u8]) -> Parsed<Request> {
        self.parse_command(buf).map(Request::Redis)
    }

    fn parse_response(&self, buf: &[u8], _request: Option<&Request>) -> Parsed<Response> {
        self.parse_reply(buf).map(Response::Redis)
    }
}
