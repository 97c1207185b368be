//! The batch processor's self-metrics, under otelcol's names so existing dashboards keep working.

use cormorant_core::telemetry::{ProcessorTelemetry, register};
use cormorant_core::{ComponentId, Signal};
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts};
use std::sync::LazyLock;

/// otelcol's bucket boundaries for `batch_send_size`, so histograms from both collectors compare.
const SEND_SIZE_BUCKETS: [f64; 22] = [
    10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0,
    6000.0, 7000.0, 8000.0, 9000.0, 10000.0, 20000.0, 30000.0, 50000.0, 100000.0,
];

struct Families {
    send_size: HistogramVec,
    size_trigger: IntCounterVec,
    timeout_trigger: IntCounterVec,
    dropped: IntCounterVec,
}

static FAMILIES: LazyLock<Families> = LazyLock::new(|| Families {
    send_size: register(
        HistogramVec::new(
            HistogramOpts::new(
                "otelcol_processor_batch_batch_send_size",
                "Number of units in the batch",
            )
            .buckets(SEND_SIZE_BUCKETS.to_vec()),
            &["processor"],
        )
        .expect("valid metric"),
    ),
    size_trigger: register(
        IntCounterVec::new(
            Opts::new(
                "otelcol_processor_batch_batch_size_trigger_send",
                "Number of times the batch was sent due to a size trigger",
            ),
            &["processor"],
        )
        .expect("valid metric"),
    ),
    timeout_trigger: register(
        IntCounterVec::new(
            Opts::new(
                "otelcol_processor_batch_timeout_trigger_send",
                "Number of times the batch was sent due to a timeout trigger",
            ),
            &["processor"],
        )
        .expect("valid metric"),
    ),
    dropped: register(
        IntCounterVec::new(
            Opts::new(
                "otelcol_processor_batch_dropped_items",
                "Items the next consumer rejected permanently or that were still undelivered \
                 at the shutdown deadline",
            ),
            &["processor", "otelcol_signal"],
        )
        .expect("valid metric"),
    ),
});

/// Why a batch left the processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// `send_batch_size` items were pending (or `timeout` is zero).
    Size,
    /// The oldest pending item waited `timeout`.
    Timeout,
    /// Shutdown is draining everything that is pending.
    Shutdown,
}

/// Metric handles of one processor instance, resolved once so sending a batch does no lookups.
#[derive(Clone)]
pub(crate) struct BatchTelemetry {
    pub(crate) items: ProcessorTelemetry,
    send_size: Histogram,
    size_trigger: IntCounter,
    timeout_trigger: IntCounter,
    dropped: IntCounter,
}

impl BatchTelemetry {
    pub(crate) fn new(id: &ComponentId, signal: Signal) -> Self {
        let families = &*FAMILIES;
        let items = ProcessorTelemetry::new(id, signal);
        let id = id.to_string();
        BatchTelemetry {
            items,
            send_size: families.send_size.with_label_values(&[id.as_str()]),
            size_trigger: families.size_trigger.with_label_values(&[id.as_str()]),
            timeout_trigger: families.timeout_trigger.with_label_values(&[id.as_str()]),
            dropped: families
                .dropped
                .with_label_values(&[id.as_str(), signal.as_str()]),
        }
    }

    /// Records a batch about to be sent for the first time.
    pub(crate) fn batch_formed(&self, items: usize, trigger: Trigger) {
        self.send_size.observe(items as f64);
        match trigger {
            Trigger::Size => self.size_trigger.inc(),
            Trigger::Timeout => self.timeout_trigger.inc(),
            Trigger::Shutdown => {}
        }
    }

    pub(crate) fn dropped(&self, items: usize) {
        self.dropped.inc_by(items as u64);
    }
}
