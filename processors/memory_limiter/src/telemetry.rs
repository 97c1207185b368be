//! Counters of data the memory limiter refused, under otelcol's names.

use cormorant_core::telemetry::register;
use cormorant_core::{ComponentId, Signal};
use prometheus::{IntCounter, IntCounterVec, Opts};
use std::sync::LazyLock;

/// `otelcol_processor_memory_limiter_refused_{spans,metric_points,log_records}`.
static REFUSED: LazyLock<[IntCounterVec; 3]> = LazyLock::new(|| {
    Signal::ALL.map(|signal| {
        register(
            IntCounterVec::new(
                Opts::new(
                    format!(
                        "otelcol_processor_memory_limiter_refused_{}",
                        signal.item_name()
                    ),
                    format!("Number of {signal} items refused because memory usage was too high"),
                ),
                &["processor"],
            )
            .expect("valid metric"),
        )
    })
});

/// The refusal counter of one processor instance.
pub(crate) fn refused_counter(id: &ComponentId, signal: Signal) -> IntCounter {
    REFUSED[signal as usize].with_label_values(&[id.to_string().as_str()])
}
