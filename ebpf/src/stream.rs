//! Asynchronous reading of the ring buffer through the tokio reactor and a drain timer.
//!
//! The kernel side wakes the reader at most once per 10 ms, or when the unread data
//! reaches a quarter of the ring (`wakeup_flags` in `socket_trace.bpf.c`): a wakeup per record
//! cost more than the rest of the probe. Records written between wakeups are picked up by
//! draining the ring every [`DRAIN_INTERVAL`] as well, which bounds their delay.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use aya::maps::{MapData, RingBuf};
use futures::Stream;
use thiserror::Error;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::time::{Interval, MissedTickBehavior};

use crate::event::{DecodeError, TracerEvent};

/// A failure while reading events; the stream stays usable after either kind.
#[derive(Debug, Error)]
pub enum EventError {
    /// A record did not decode; it is skipped.
    #[error("undecodable tracer event: {0}")]
    Decode(#[from] DecodeError),
    /// Waiting on the ring buffer fd failed.
    #[error("waiting for the eBPF ring buffer: {0}")]
    Io(#[from] io::Error),
}

/// How often the stream drains the ring buffer without a kernel wakeup. 10 ms keeps the added
/// latency far below the receiver's span flush interval and the idle cost at 100 cheap timer
/// wakeups per second (each one an empty-ring check: two atomic loads).
const DRAIN_INTERVAL: Duration = Duration::from_millis(10);

/// Endless stream of tracer events in ring buffer (commit) order. Must be created and
/// polled inside a tokio runtime with I/O and time enabled.
pub struct EventStream {
    ring: AsyncFd<RingBuf<MapData>>,
    drain: Interval,
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
        let mut drain = tokio::time::interval(DRAIN_INTERVAL);
        drain.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Ok(EventStream { ring, drain })
    }
}

impl Stream for EventStream {
    type Item = Result<TracerEvent, EventError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(record) = this.ring.get_mut().next() {
                return Poll::Ready(Some(TracerEvent::decode(&record).map_err(EventError::from)));
            }
            // Empty: wait for a kernel wakeup (the unread data crossed the threshold) or for
            // the drain timer, whichever comes first; both lead back to reading the ring.
            match this.ring.poll_read_ready_mut(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    if let Some(record) = guard.get_inner_mut().next() {
                        return Poll::Ready(Some(
                            TracerEvent::decode(&record).map_err(EventError::from),
                        ));
                    }
                    // Empty under the guard: only now is it safe to forget the notification.
                    guard.clear_ready();
                    continue;
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Some(Err(error.into()))),
                Poll::Pending => {}
            }
            if this.drain.poll_tick(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}
