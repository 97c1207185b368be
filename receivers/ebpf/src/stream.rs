//! Per-socket, per-direction reassembly: turns syscall-sized chunks into timed messages.
//!
//! Chunks arrive split (one message over several reads) and coalesced (several pipelined
//! messages in one write), and each may be cut short by the kernel's capture limit. The stream
//! keeps the unparsed captured bytes, asks a parser for the next head, skips bodies with
//! [`BodySkipper`] (counting uncaptured bytes as body), and stamps every message with the time
//! of the syscall that carried its first byte and of the one that carried its last byte.

use std::collections::VecDeque;

use crate::body::{BodySkipper, GapOutcome};
use crate::protocol::{Framed, ParseError, Parsed, Protocol};

/// Unparsed bytes beyond this are dropped as unparseable: no supported message head is larger,
/// and a bound keeps a garbage stream from growing memory.
pub const DEFAULT_MAX_BUFFER: usize = 64 * 1024;

/// One syscall's worth of payload.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    /// When the syscall happened (send entry or receive exit), in nanoseconds.
    pub timestamp_ns: u64,
    /// The captured bytes: the first `data.len()` bytes of the syscall's payload.
    pub data: &'a [u8],
    /// How many bytes the syscall really moved (≥ `data.len()`).
    pub length: usize,
}

impl<'a> Chunk<'a> {
    /// A fully captured chunk.
    pub fn whole(timestamp_ns: u64, data: &'a [u8]) -> Chunk<'a> {
        Chunk {
            timestamp_ns,
            data,
            length: data.len(),
        }
    }
}

/// A message with the times of its first and last bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame<M> {
    pub message: M,
    pub first_byte_ns: u64,
    pub last_byte_ns: u64,
    /// False when the body's end could not be found (uncaptured framing, malformed chunks, a
    /// connection closed mid-body) or was not awaited (a response came first); the head is
    /// still valid.
    pub body_complete: bool,
}

/// How payload maps to messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A byte stream (TCP, Unix stream sockets): messages may span and share chunks.
    Stream,
    /// Datagrams (UDP): every chunk is exactly one message.
    Datagram,
}

struct PendingBody<M> {
    /// `None` once handed out early by [`MessageStream::detach_pending`]; the body is still
    /// skipped so the next message is found.
    message: Option<M>,
    first_byte_ns: u64,
    skipper: BodySkipper,
}

/// Counters for self-telemetry.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StreamStats {
    /// Messages emitted.
    pub messages: u64,
    /// Parse errors (each discards the buffered bytes).
    pub invalid: u64,
    /// Payload bytes the kernel did not capture and that could not be accounted as body.
    pub lost_bytes: u64,
}

/// Reassembly state for one direction of one connection.
pub struct MessageStream<M> {
    protocol: Protocol,
    transport: Transport,
    max_buffer: usize,
    buffer: Vec<u8>,
    /// Stream offset of `buffer[0]`, counting uncaptured bytes too.
    buffer_offset: u64,
    /// (stream offset where a chunk started, its timestamp), oldest first.
    chunk_starts: VecDeque<(u64, u64)>,
    pending: Option<PendingBody<M>>,
    stats: StreamStats,
}

impl<M: Framed> MessageStream<M> {
    pub fn new(protocol: Protocol, transport: Transport) -> MessageStream<M> {
        MessageStream {
            protocol,
            transport,
            max_buffer: DEFAULT_MAX_BUFFER,
            buffer: Vec::new(),
            buffer_offset: 0,
            chunk_starts: VecDeque::new(),
            pending: None,
            stats: StreamStats::default(),
        }
    }

    /// Changes the unparsed-bytes bound (default [`DEFAULT_MAX_BUFFER`]).
    pub fn with_max_buffer(mut self, max_buffer: usize) -> MessageStream<M> {
        self.max_buffer = max_buffer.max(1);
        self
    }

    /// The message whose head was parsed but whose body has not ended yet.
    pub fn pending(&self) -> Option<&M> {
        self.pending.as_ref()?.message.as_ref()
    }

    /// Hands out the message whose body is still arriving, before the body ends: a server may
    /// answer a request (401, 413, 417) without waiting for its body. The body is still
    /// skipped; the frame's last byte is the latest chunk's, with `body_complete: false`.
    pub fn detach_pending(&mut self) -> Option<Frame<M>> {
        let last_byte_ns = self
            .chunk_starts
            .back()
            .map_or(0, |(_, timestamp)| *timestamp);
        let pending = self.pending.as_mut()?;
        let message = pending.message.take()?;
        self.stats.messages += 1;
        Some(Frame {
            message,
            first_byte_ns: pending.first_byte_ns,
            last_byte_ns,
            body_complete: false,
        })
    }

    pub fn stats(&self) -> StreamStats {
        self.stats
    }

    /// Adds one chunk and returns the messages it completed, in stream order, with any parse
    /// errors in between. `parse` is called with the front of the unparsed bytes; it is a
    /// closure so that response parsing can see the request each response answers.
    pub fn push(
        &mut self,
        chunk: Chunk<'_>,
        parse: impl FnMut(&[u8]) -> Parsed<M>,
    ) -> Vec<Result<Frame<M>, ParseError>> {
        let mut out = Vec::new();
        self.push_into(chunk, parse, &mut out);
        out
    }

    /// [`MessageStream::push`] appending to `out`, so a caller reuses one list for every
    /// chunk instead of allocating one per chunk.
    pub fn push_into(
        &mut self,
        chunk: Chunk<'_>,
        mut parse: impl FnMut(&[u8]) -> Parsed<M>,
        out: &mut Vec<Result<Frame<M>, ParseError>>,
    ) {
        if self.transport == Transport::Datagram {
            self.push_datagram(chunk, &mut parse, out);
            return;
        }
        let chunk_offset = self.buffer_offset + self.buffer.len() as u64;
        self.chunk_starts
            .push_back((chunk_offset, chunk.timestamp_ns));
        if self.buffer.is_empty() {
            // Nothing is left over from earlier chunks (the usual case): the chunk is parsed
            // where it lies, and only what it leaves unparsed is copied.
            let used = self.drain(chunk.data, &mut parse, out);
            self.buffer.extend_from_slice(&chunk.data[used..]);
            self.buffer_offset += used as u64;
        } else {
            self.buffer.extend_from_slice(chunk.data);
            let buffer = std::mem::take(&mut self.buffer);
            let used = self.drain(&buffer, &mut parse, out);
            self.buffer = buffer;
            self.consume(used);
        }
        let gap = chunk.length.saturating_sub(chunk.data.len()) as u64;
        if gap > 0 {
            self.account_gap(gap, chunk.timestamp_ns, out);
        }
        self.prune_chunk_starts();
    }

    /// Ends the stream (socket closed): a body that runs until close ends here; anything else
    /// still pending is emitted with `body_complete: false`.
    pub fn close(&mut self, timestamp_ns: u64) -> Option<Frame<M>> {
        self.buffer.clear();
        self.chunk_starts.clear();
        let pending = self.pending.take()?;
        let message = pending.message?;
        self.stats.messages += 1;
        Some(Frame {
            message,
            first_byte_ns: pending.first_byte_ns,
            last_byte_ns: timestamp_ns,
            body_complete: pending.skipper.until_close(),
        })
    }

    fn push_datagram(
        &mut self,
        chunk: Chunk<'_>,
        parse: &mut impl FnMut(&[u8]) -> Parsed<M>,
        out: &mut Vec<Result<Frame<M>, ParseError>>,
    ) {
        let result = match parse(chunk.data) {
            Parsed::Complete { message, .. } => {
                self.stats.messages += 1;
                Ok(Frame {
                    message,
                    first_byte_ns: chunk.timestamp_ns,
                    last_byte_ns: chunk.timestamp_ns,
                    body_complete: true,
                })
            }
            Parsed::NeedMore => {
                self.stats.invalid += 1;
                Err(ParseError::Truncated {
                    protocol: self.protocol,
                })
            }
            // A datagram the kernel captured only in part fails for that reason.
            Parsed::Invalid(_) if chunk.data.len() < chunk.length => {
                self.stats.invalid += 1;
                Err(ParseError::Truncated {
                    protocol: self.protocol,
                })
            }
            Parsed::Invalid(error) => {
                self.stats.invalid += 1;
                Err(error)
            }
        };
        out.push(result);
    }

    /// Parses heads and skips bodies over `data`, the unparsed bytes from stream offset
    /// `buffer_offset` on; returns how many were used.
    fn drain(
        &mut self,
        data: &[u8],
        parse: &mut impl FnMut(&[u8]) -> Parsed<M>,
        out: &mut Vec<Result<Frame<M>, ParseError>>,
    ) -> usize {
        let mut position = 0;
        loop {
            if let Some(pending) = self.pending.as_mut() {
                match pending.skipper.feed(&data[position..]) {
                    Ok(Some(used)) => {
                        position += used;
                        let end = self.offset_at(position) - 1;
                        self.finish_pending(end, true, out);
                    }
                    Ok(None) => return data.len(),
                    Err(error) => {
                        let end = self.offset_at(data.len()).saturating_sub(1);
                        self.finish_pending(end, false, out);
                        self.stats.invalid += 1;
                        out.push(Err(error));
                        return data.len();
                    }
                }
            }
            if position == data.len() {
                return position;
            }
            match parse(&data[position..]) {
                Parsed::Complete { consumed, message } => {
                    let consumed = consumed.clamp(1, data.len() - position);
                    let first = self.timestamp_at(self.offset_at(position));
                    position += consumed;
                    match BodySkipper::new(message.body()) {
                        Some(skipper) => {
                            self.pending = Some(PendingBody {
                                message: Some(message),
                                first_byte_ns: first,
                                skipper,
                            })
                        }
                        None => {
                            let last = self.timestamp_at(self.offset_at(position) - 1);
                            self.stats.messages += 1;
                            out.push(Ok(Frame {
                                message,
                                first_byte_ns: first,
                                last_byte_ns: last,
                                body_complete: true,
                            }));
                        }
                    }
                }
                Parsed::NeedMore => {
                    if data.len() - position > self.max_buffer {
                        self.stats.invalid += 1;
                        out.push(Err(ParseError::TooLarge {
                            protocol: self.protocol,
                            limit: self.max_buffer,
                        }));
                        return data.len();
                    }
                    return position;
                }
                Parsed::Invalid(error) => {
                    self.stats.invalid += 1;
                    out.push(Err(error));
                    return data.len();
                }
            }
        }
    }

    /// Handles the uncaptured tail of a chunk. When bytes a message head needs were lost, a
    /// [`ParseError::Truncated`] tells the caller that a message went missing here, so
    /// in-order pairing can give up the request it answered instead of shifting every later
    /// response onto the wrong request.
    fn account_gap(
        &mut self,
        gap: u64,
        timestamp_ns: u64,
        out: &mut Vec<Result<Frame<M>, ParseError>>,
    ) {
        let gap_start = self.buffer_offset + self.buffer.len() as u64;
        let lost = if let Some(pending) = self.pending.as_mut() {
            match pending.skipper.skip_uncaptured(gap) {
                GapOutcome::InsideBody => 0,
                GapOutcome::BodyEnded { overflow } => {
                    self.finish_at(timestamp_ns, true, out);
                    overflow
                }
                GapOutcome::LostSync => {
                    self.finish_at(timestamp_ns, false, out);
                    gap
                }
            }
        } else {
            // The head being buffered (or one starting in the gap) lost bytes it needs.
            gap + self.buffer.len() as u64
        };
        if lost > 0 {
            self.stats.lost_bytes += lost;
            out.push(Err(ParseError::Truncated {
                protocol: self.protocol,
            }));
        }
        self.buffer.clear();
        self.buffer_offset = gap_start + gap;
    }

    fn finish_pending(
        &mut self,
        end_offset: u64,
        complete: bool,
        out: &mut Vec<Result<Frame<M>, ParseError>>,
    ) {
        let last = self.timestamp_at(end_offset);
        self.finish_at(last, complete, out);
    }

    fn finish_at(
        &mut self,
        last_byte_ns: u64,
        complete: bool,
        out: &mut Vec<Result<Frame<M>, ParseError>>,
    ) {
        if let Some(PendingBody {
            message: Some(message),
            first_byte_ns,
            ..
        }) = self.pending.take()
        {
            self.stats.messages += 1;
            out.push(Ok(Frame {
                message,
                first_byte_ns,
                last_byte_ns,
                body_complete: complete,
            }));
        }
    }

    fn consume(&mut self, used: usize) {
        self.buffer.drain(..used);
        self.buffer_offset += used as u64;
    }

    fn offset_at(&self, position: usize) -> u64 {
        self.buffer_offset + position as u64
    }

    /// The timestamp of the chunk that carried the byte at stream offset `offset`.
    fn timestamp_at(&self, offset: u64) -> u64 {
        self.chunk_starts
            .iter()
            .rev()
            .find(|(start, _)| *start <= offset)
            .or(self.chunk_starts.front())
            .map_or(0, |(_, timestamp)| *timestamp)
    }

    /// Forgets chunk starts before the one holding the oldest byte still needed.
    fn prune_chunk_starts(&mut self) {
        let oldest_needed = self.buffer_offset;
        while self.chunk_starts.len() > 1 && self.chunk_starts[1].0 <= oldest_needed {
            self.chunk_starts.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{BodyFraming, Framed};

    /// A toy protocol: `L<digit>` heads announce a body of that many bytes.
    #[derive(Debug, PartialEq)]
    struct Toy(u64);

    impl Framed for Toy {
        fn body(&self) -> BodyFraming {
            BodyFraming::Length(self.0)
        }
    }

    fn parse(buf: &[u8]) -> Parsed<Toy> {
        match buf {
            [] | [b'L'] => Parsed::NeedMore,
            [b'L', digit, ..] if digit.is_ascii_digit() => Parsed::Complete {
                consumed: 2,
                message: Toy(u64::from(digit - b'0')),
            },
            _ => Parsed::Invalid(ParseError::Malformed {
                protocol: Protocol::Http1,
                detail: "not toy",
            }),
        }
    }

    type Summary = Result<(u64, u64, u64, bool), ParseError>;

    const TRUNCATED: Summary = Err(ParseError::Truncated {
        protocol: Protocol::Http1,
    });

    fn push(stream: &mut MessageStream<Toy>, chunk: Chunk<'_>) -> Vec<Summary> {
        stream
            .push(chunk, parse)
            .into_iter()
            .map(|result| {
                result.map(|frame| {
                    (
                        frame.message.0,
                        frame.first_byte_ns,
                        frame.last_byte_ns,
                        frame.body_complete,
                    )
                })
            })
            .collect()
    }

    #[test]
    fn timestamps_follow_the_chunks_that_carried_each_message() {
        let mut stream = MessageStream::new(Protocol::Http1, Transport::Stream);
        assert_eq!(
            push(&mut stream, Chunk::whole(1, b"L2ab")),
            [Ok((2, 1, 1, true))]
        );
        assert_eq!(push(&mut stream, Chunk::whole(2, b"L3a")), []);
        assert_eq!(
            push(&mut stream, Chunk::whole(3, b"bcL0L")),
            [Ok((3, 2, 3, true)), Ok((0, 3, 3, true))]
        );
        assert_eq!(
            push(&mut stream, Chunk::whole(4, b"1x")),
            [Ok((1, 3, 4, true))]
        );
        assert_eq!(stream.stats().messages, 4);
    }

    #[test]
    fn gaps_count_as_body_or_drop_the_head() {
        let mut stream = MessageStream::new(Protocol::Http1, Transport::Stream);
        let gapped = Chunk {
            timestamp_ns: 1,
            data: b"L9ab",
            length: 11,
        };
        assert_eq!(push(&mut stream, gapped), [Ok((9, 1, 1, true))]);
        let next_head_lost = Chunk {
            timestamp_ns: 2,
            data: b"L2",
            length: 10,
        };
        assert_eq!(
            push(&mut stream, next_head_lost),
            [Ok((2, 2, 2, true)), TRUNCATED]
        );
        let head_cut = Chunk {
            timestamp_ns: 3,
            data: b"L",
            length: 5,
        };
        assert_eq!(push(&mut stream, head_cut), [TRUNCATED]);
        assert_eq!(stream.stats().lost_bytes, 6 + 5);
        assert_eq!(
            push(&mut stream, Chunk::whole(4, b"L1z")),
            [Ok((1, 4, 4, true))]
        );
    }

    #[test]
    fn invalid_bytes_are_dropped_and_buffer_is_bounded() {
        let mut stream = MessageStream::new(Protocol::Http1, Transport::Stream).with_max_buffer(4);
        let results = stream.push(Chunk::whole(1, b"xyzL1a"), parse);
        assert!(matches!(results[..], [Err(ParseError::Malformed { .. })]));
        assert_eq!(
            push(&mut stream, Chunk::whole(2, b"L1a")),
            [Ok((1, 2, 2, true))]
        );

        let mut endless = MessageStream::new(Protocol::Http1, Transport::Stream).with_max_buffer(4);
        let never_complete = |_: &[u8]| Parsed::<Toy>::NeedMore;
        assert!(
            endless
                .push(Chunk::whole(1, b"abcd"), never_complete)
                .is_empty()
        );
        let results = endless.push(Chunk::whole(2, b"e"), never_complete);
        assert!(matches!(
            results[..],
            [Err(ParseError::TooLarge { limit: 4, .. })]
        ));
        assert_eq!(endless.stats().invalid, 1);
    }

    #[test]
    fn close_ends_pending_bodies() {
        let mut stream = MessageStream::new(Protocol::Http1, Transport::Stream);
        assert_eq!(push(&mut stream, Chunk::whole(1, b"L5ab")), []);
        let frame = stream.close(9).expect("pending message");
        assert_eq!(
            (frame.message.0, frame.last_byte_ns, frame.body_complete),
            (5, 9, false)
        );
        assert!(stream.close(10).is_none());
    }
}
