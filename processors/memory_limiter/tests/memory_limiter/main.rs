//! The memory limiter with injected memory readings (in paused tokio time, so sampling ticks are
//! exact), with the real RSS reader, and its settings.

mod config;
mod gate;
mod system;

use async_trait::async_trait;
use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span};
use cormorant_core::{ConsumeError, Consumer, Payload};
use cormorant_processor_memory_limiter::MemoryUsage;
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

const MIB: u64 = 1024 * 1024;

/// Memory usage the test sets; after `fail` the read returns an error.
#[derive(Default)]
struct SetUsage(AtomicU64);

impl SetUsage {
    const FAILING: u64 = u64::MAX;

    fn set_mib(&self, mib: u64) {
        self.0.store(mib * MIB, Ordering::SeqCst);
    }

    fn fail(&self) {
        self.0.store(Self::FAILING, Ordering::SeqCst);
    }
}

impl MemoryUsage for SetUsage {
    fn used_bytes(&self) -> io::Result<u64> {
        match self.0.load(Ordering::SeqCst) {
            Self::FAILING => Err(io::Error::other("usage source unavailable")),
            bytes => Ok(bytes),
        }
    }
}

/// The next consumer: counts the items it takes.
#[derive(Default)]
struct Sink(Mutex<usize>);

impl Sink {
    fn items(&self) -> usize {
        *self.0.lock().unwrap()
    }
}

#[async_trait]
impl Consumer for Sink {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        *self.0.lock().unwrap() += payload.item_count();
        Ok(())
    }
}

/// A traces payload with `n` spans.
fn spans(n: usize) -> Payload {
    Payload::Traces(vec![ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: vec![Span::default(); n],
            ..Default::default()
        }],
        ..Default::default()
    }])
}
