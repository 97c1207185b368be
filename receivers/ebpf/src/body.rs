//! Skipping message bodies byte by byte, across chunk boundaries and capture gaps.
//!
//! Bodies are never buffered: a span needs the head only, and the kernel captures only the
//! first bytes of each syscall anyway. What matters is finding exactly where the body ends so
//! the next pipelined message head is parsed from the right byte. Chunked coding is therefore
//! walked with a resumable state machine (sizes, extensions, data, trailers) rather than parsed
//! from a complete buffer.

use crate::protocol::{BodyFraming, ParseError, Protocol};

/// A chunk-size line longer than this (hex digits plus extensions) is not HTTP.
const MAX_CHUNK_LINE: u32 = 4096;
/// A trailer field line longer than this is not HTTP.
const MAX_TRAILER_LINE: u32 = 16 * 1024;

/// What the uncaptured bytes of a syscall did to a body being skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapOutcome {
    /// The gap lies inside the body; the body continues after it.
    InsideBody,
    /// The body ended inside the gap; the `overflow` gap bytes after it (the start of the next
    /// message) are lost.
    BodyEnded { overflow: u64 },
    /// The gap fell on chunk framing: the end of the body can no longer be found.
    LostSync,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Length(u64),
    UntilClose,
    ChunkSize { value: u64, digits: u8, line: u32 },
    ChunkExtension { value: u64, line: u32 },
    ChunkSizeLf { value: u64 },
    ChunkData(u64),
    ChunkDataCr,
    ChunkDataLf,
    TrailerLineStart,
    TrailerLine { line: u32 },
    TrailerLf,
    FinalLf,
    Done,
}

/// Resumable skipper for one message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodySkipper {
    state: State,
}

fn malformed(detail: &'static str) -> ParseError {
    ParseError::Malformed {
        protocol: Protocol::Http1,
        detail,
    }
}

impl BodySkipper {
    /// A skipper for `framing`; `None` when there is no body to skip.
    pub fn new(framing: BodyFraming) -> Option<BodySkipper> {
        let state = match framing {
            BodyFraming::None | BodyFraming::Length(0) => return None,
            BodyFraming::Length(length) => State::Length(length),
            BodyFraming::Chunked => State::ChunkSize {
                value: 0,
                digits: 0,
                line: 0,
            },
            BodyFraming::UntilClose => State::UntilClose,
        };
        Some(BodySkipper { state })
    }

    /// Whether the body runs until the connection closes.
    pub fn until_close(&self) -> bool {
        self.state == State::UntilClose
    }

    /// Consumes body bytes from the front of `bytes`. Returns how many bytes belonged to the
    /// body once it ended, or `None` when every byte was body and more is to come.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Option<usize>, ParseError> {
        let mut position = 0;
        while position < bytes.len() {
            if let State::Length(remaining) | State::ChunkData(remaining) = self.state {
                let available = (bytes.len() - position) as u64;
                let taken = remaining.min(available);
                position += taken as usize;
                let left = remaining - taken;
                self.state = match self.state {
                    State::Length(_) if left == 0 => State::Done,
                    State::Length(_) => State::Length(left),
                    _ if left == 0 => State::ChunkDataCr,
                    _ => State::ChunkData(left),
                };
            } else if self.state == State::UntilClose {
                return Ok(None);
            } else {
                self.step(bytes[position])?;
                position += 1;
            }
            if self.state == State::Done {
                return Ok(Some(position));
            }
        }
        Ok(None)
    }

    /// Accounts for `length` body bytes the kernel did not capture.
    pub fn skip_uncaptured(&mut self, length: u64) -> GapOutcome {
        match self.state {
            State::UntilClose => GapOutcome::InsideBody,
            State::Length(remaining) | State::ChunkData(remaining) if length < remaining => {
                let left = remaining - length;
                self.state = match self.state {
                    State::Length(_) => State::Length(left),
                    _ => State::ChunkData(left),
                };
                GapOutcome::InsideBody
            }
            State::ChunkData(remaining) if length == remaining => {
                self.state = State::ChunkDataCr;
                GapOutcome::InsideBody
            }
            State::Length(remaining) => {
                self.state = State::Done;
                GapOutcome::BodyEnded {
                    overflow: length - remaining,
                }
            }
            _ => {
                self.state = State::Done;
                GapOutcome::LostSync
            }
        }
    }

    /// Advances the chunked-coding state machine by one framing byte.
    fn step(&mut self, byte: u8) -> Result<(), ParseError> {
        self.state = match self.state {
            State::ChunkSize {
                value,
                digits,
                line,
            } => {
                if line >= MAX_CHUNK_LINE {
                    return Err(malformed("chunk-size line too long"));
                }
                match byte {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if digits >= 15 {
                            return Err(malformed("chunk size overflows"));
                        }
                        let nibble = u64::from((byte as char).to_digit(16).unwrap_or(0));
                        State::ChunkSize {
                            value: value << 4 | nibble,
                            digits: digits + 1,
                            line: line + 1,
                        }
                    }
                    _ if digits == 0 => return Err(malformed("chunk size is not hex")),
                    b';' | b' ' | b'\t' => State::ChunkExtension {
                        value,
                        line: line + 1,
                    },
                    b'\r' => State::ChunkSizeLf { value },
                    b'\n' => Self::after_size_line(value),
                    _ => return Err(malformed("chunk size is not hex")),
                }
            }
            State::ChunkExtension { value, line } => match byte {
                _ if line >= MAX_CHUNK_LINE => return Err(malformed("chunk extension too long")),
                b'\r' => State::ChunkSizeLf { value },
                b'\n' => Self::after_size_line(value),
                0 => return Err(malformed("NUL in chunk extension")),
                _ => State::ChunkExtension {
                    value,
                    line: line + 1,
                },
            },
            State::ChunkSizeLf { value } if byte == b'\n' => Self::after_size_line(value),
            State::ChunkDataCr if byte == b'\r' => State::ChunkDataLf,
            State::ChunkDataCr | State::ChunkDataLf if byte == b'\n' => State::ChunkSize {
                value: 0,
                digits: 0,
                line: 0,
            },
            State::TrailerLineStart => match byte {
                b'\r' => State::FinalLf,
                b'\n' => State::Done,
                _ => State::TrailerLine { line: 1 },
            },
            State::TrailerLine { line } => match byte {
                _ if line >= MAX_TRAILER_LINE => return Err(malformed("trailer line too long")),
                b'\r' => State::TrailerLf,
                b'\n' => State::TrailerLineStart,
                _ => State::TrailerLine { line: line + 1 },
            },
            State::TrailerLf if byte == b'\n' => State::TrailerLineStart,
            State::FinalLf if byte == b'\n' => State::Done,
            State::ChunkSizeLf { .. }
            | State::ChunkDataCr
            | State::ChunkDataLf
            | State::TrailerLf
            | State::FinalLf => return Err(malformed("bare CR in chunked framing")),
            State::Length(_) | State::ChunkData(_) | State::UntilClose | State::Done => {
                return Ok(());
            }
        };
        Ok(())
    }

    fn after_size_line(size: u64) -> State {
        if size == 0 {
            State::TrailerLineStart
        } else {
            State::ChunkData(size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip_all(framing: BodyFraming, bytes: &[u8]) -> Result<Option<usize>, ParseError> {
        BodySkipper::new(framing).expect("has a body").feed(bytes)
    }

    #[test]
    fn length_body_ends_exactly() {
        assert_eq!(skip_all(BodyFraming::Length(5), b"helloGET"), Ok(Some(5)));
        assert_eq!(skip_all(BodyFraming::Length(5), b"hel"), Ok(None));
        assert!(BodySkipper::new(BodyFraming::Length(0)).is_none());
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let body = b"4;name=\"va;lue\"\r\nWiki\r\n5 ; x=y\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0;last\r\nExpires: never\r\nX-Checksum: 1\r\n\r\nNEXT";
        assert_eq!(
            skip_all(BodyFraming::Chunked, body),
            Ok(Some(body.len() - 4))
        );
    }

    #[test]
    fn chunked_split_at_every_byte() {
        let body =
            b"1a\r\nabcdefghijklmnopqrstuvwxyz\r\n10\r\n1234567890abcdef\r\n0\r\nT: v\r\n\r\n";
        for split in 0..=body.len() {
            let mut skipper = BodySkipper::new(BodyFraming::Chunked).expect("body");
            let first = skipper.feed(&body[..split]).expect("valid");
            let total = match first {
                Some(used) => used,
                None => split + skipper.feed(&body[split..]).expect("valid").expect("ends"),
            };
            assert_eq!(total, body.len(), "split at {split}");
        }
    }

    #[test]
    fn chunked_rejects_garbage() {
        assert!(skip_all(BodyFraming::Chunked, b"zz\r\n").is_err());
        assert!(skip_all(BodyFraming::Chunked, b"3\r\nabcX").is_err());
        assert!(skip_all(BodyFraming::Chunked, b"ffffffffffffffffff\r\n").is_err());
        assert!(skip_all(BodyFraming::Chunked, b"\r\n").is_err());
    }

    #[test]
    fn gaps_inside_and_past_bodies() {
        let mut skipper = BodySkipper::new(BodyFraming::Length(100)).expect("body");
        assert_eq!(skipper.feed(&[0; 10]), Ok(None));
        assert_eq!(skipper.skip_uncaptured(50), GapOutcome::InsideBody);
        assert_eq!(
            skipper.skip_uncaptured(40),
            GapOutcome::BodyEnded { overflow: 0 }
        );

        let mut chunked = BodySkipper::new(BodyFraming::Chunked).expect("body");
        assert_eq!(chunked.feed(b"400\r\nabc"), Ok(None));
        assert_eq!(chunked.skip_uncaptured(1021), GapOutcome::InsideBody);
        assert_eq!(chunked.feed(b"\r\n0\r\n\r\n"), Ok(Some(7)));

        let mut framing_lost = BodySkipper::new(BodyFraming::Chunked).expect("body");
        assert_eq!(framing_lost.feed(b"4\r\nab"), Ok(None));
        assert_eq!(framing_lost.skip_uncaptured(10), GapOutcome::LostSync);
        let mut past_end = BodySkipper::new(BodyFraming::Length(3)).expect("body");
        assert_eq!(
            past_end.skip_uncaptured(10),
            GapOutcome::BodyEnded { overflow: 7 }
        );
    }
}
