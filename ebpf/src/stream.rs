//! Asynchronous reading of the ring buffer through the tokio reactor.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use aya::maps::{MapData, RingBuf};
use futures::Stream;
use thiserror::Error;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::event::{DecodeError, SocketEvent};

/// A failure while reading events; the stream stays usable after either kind.
#[derive(Debug, Error)]
pub enum EventError {
    /// A record did not decode; it is skipped.
    #[error("undecodable socket event: {0}")]
    Decode(#[from] DecodeError),
    /// Waiting on the ring buffer fd failed.
    #[error("waiting for the eBPF ring buffer: {0}")]
    Io(#[from] io::Error),
}

/// Endless stream of socket events in ring buffer (commit) order. Must be created and
/// polled inside a tokio runtime with I/O enabled.
pub struct EventStream {
    ring: AsyncFd<RingBuf<MapData>>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl EventStream {
    /// Registers the ring buffer fd with the current tokio reactor (the caller checks
    /// that there is one: registering outside a runtime panics).
    pub(crate) fn new(ring: RingBuf<MapData>) -> io::Result<EventStream> {
        // SAFETY: the RingBuf owns its map's fd (MapData holds an OwnedFd), so the fd stays
        // open and `as_raw_fd` keeps returning it until the AsyncFd, and with it the
        // RingBuf, is dropped.
        let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(|error| error.into_parts().1)?;
        Ok(EventStream { ring })
    }
}

impl Stream for EventStream {
    type Item = Result<SocketEvent, EventError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.ring.poll_read_ready_mut(cx))?;
            if let Some(record) = guard.get_inner_mut().next() {
                return Poll::Ready(Some(SocketEvent::decode(&record).map_err(EventError::from)));
            }
            // Empty: only now is it safe to wait for the next epoll notification.
            guard.clear_ready();
        }
    }
}
