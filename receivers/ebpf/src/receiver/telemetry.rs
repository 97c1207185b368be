//! The receiver's self-telemetry, labelled by receiver id, in the process-wide registry.

use std::sync::LazyLock;

use cormorant_core::ComponentId;
use cormorant_core::telemetry::register;
use prometheus::{IntCounter, IntCounterVec, Opts};

struct Families {
    events: IntCounterVec,
    lost_events: IntCounterVec,
    parse_errors: IntCounterVec,
    spans: IntCounterVec,
}

fn family(name: &str, help: &str) -> IntCounterVec {
    register(IntCounterVec::new(Opts::new(name, help), &["receiver"]).expect("valid metric"))
}

static FAMILIES: LazyLock<Families> = LazyLock::new(|| Families {
    events: family(
        "cormorant_ebpf_events_total",
        "Socket events read from the eBPF ring buffer",
    ),
    lost_events: family(
        "cormorant_ebpf_lost_events_total",
        "Socket events dropped in the kernel because the ring buffer was full",
    ),
    parse_errors: family(
        "cormorant_ebpf_parse_errors_total",
        "Captured bytes that no enabled protocol parser accepted",
    ),
    spans: family(
        "cormorant_ebpf_spans_total",
        "Spans built from captured request/response exchanges",
    ),
});

/// Counters of one `ebpf` receiver.
#[derive(Clone)]
pub struct EbpfTelemetry {
    pub events: IntCounter,
    pub lost_events: IntCounter,
    pub parse_errors: IntCounter,
    pub spans: IntCounter,
}

impl EbpfTelemetry {
    pub fn new(id: &ComponentId) -> Self {
        let id = id.to_string();
        let labels = [id.as_str()];
        EbpfTelemetry {
            events: FAMILIES.events.with_label_values(&labels),
            lost_events: FAMILIES.lost_events.with_label_values(&labels),
            parse_errors: FAMILIES.parse_errors.with_label_values(&labels),
            spans: FAMILIES.spans.with_label_values(&labels),
        }
    }

    /// Brings the lost-events counter up to the tracer's running total (the kernel counts;
    /// this mirrors it).
    pub fn set_lost_events(&self, total: u64) {
        let current = self.lost_events.get();
        if total > current {
            self.lost_events.inc_by(total - current);
        }
    }
}
