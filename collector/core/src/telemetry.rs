//! Self-telemetry: otelcol's metric names and labels, so existing collector dashboards work.
//!
//! One process-wide Prometheus registry, served on `localhost:8888/metrics` by the service. Names
//! have no `_total` or unit suffix, as otelcol's default reader emits them.

use crate::component::ComponentId;
use crate::pdata::Signal;
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use std::sync::LazyLock;

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

/// The registry every self-metric is registered in.
pub fn registry() -> &'static Registry {
    &REGISTRY
}

/// Registers a collector; a name clash is a programming error caught by tests.
pub fn register<C: prometheus::core::Collector + Clone + 'static>(collector: C) -> C {
    registry()
        .register(Box::new(collector.clone()))
        .expect("self-metric registered twice");
    collector
}

fn counter_family(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

fn gauge_family(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

/// One counter family per signal (`..._spans`, `..._metric_points`, `..._log_records`).
struct PerSignal([IntCounterVec; 3]);

impl PerSignal {
    fn new(prefix: &str, help: &str, labels: &[&str]) -> Self {
        PerSignal(Signal::ALL.map(|s| {
            counter_family(
                &format!("{prefix}_{}", s.item_name()),
                &format!("{help} ({s})"),
                labels,
            )
        }))
    }

    fn get(&self, signal: Signal, labels: &[&str]) -> IntCounter {
        self.0[signal as usize].with_label_values(labels)
    }
}

struct ReceiverFamilies {
    accepted: PerSignal,
    refused: PerSignal,
    failed: PerSignal,
}

static RECEIVER: LazyLock<ReceiverFamilies> = LazyLock::new(|| {
    let labels = &["receiver", "transport"];
    ReceiverFamilies {
        accepted: PerSignal::new(
            "otelcol_receiver_accepted",
            "Items successfully pushed into the pipeline",
            labels,
        ),
        refused: PerSignal::new(
            "otelcol_receiver_refused",
            "Items that could not be pushed into the pipeline",
            labels,
        ),
        failed: PerSignal::new(
            "otelcol_receiver_failed",
            "Items that failed to be processed by the receiver",
            labels,
        ),
    }
});

/// Counters of one receiver on one transport (`grpc`, `http`).
#[derive(Clone)]
pub struct ReceiverTelemetry {
    id: String,
    transport: &'static str,
}

impl ReceiverTelemetry {
    pub fn new(id: &ComponentId, transport: &'static str) -> Self {
        LazyLock::force(&RECEIVER);
        ReceiverTelemetry {
            id: id.to_string(),
            transport,
        }
    }

    pub fn accepted(&self, signal: Signal, items: usize) {
        RECEIVER
            .accepted
            .get(signal, &[&self.id, self.transport])
            .inc_by(items as u64);
    }

    pub fn refused(&self, signal: Signal, items: usize) {
        RECEIVER
            .refused
            .get(signal, &[&self.id, self.transport])
            .inc_by(items as u64);
    }

    pub fn failed(&self, signal: Signal, items: usize) {
        RECEIVER
            .failed
            .get(signal, &[&self.id, self.transport])
            .inc_by(items as u64);
    }
}

struct ExporterFamilies {
    sent: PerSignal,
    send_failed: PerSignal,
    enqueue_failed: PerSignal,
    queue_size: IntGaugeVec,
    queue_capacity: IntGaugeVec,
}

static EXPORTER: LazyLock<ExporterFamilies> = LazyLock::new(|| {
    let labels = &["exporter"];
    ExporterFamilies {
        sent: PerSignal::new(
            "otelcol_exporter_sent",
            "Items successfully sent to destination",
            labels,
        ),
        send_failed: PerSignal::new(
            "otelcol_exporter_send_failed",
            "Items that failed to be sent to destination",
            labels,
        ),
        enqueue_failed: PerSignal::new(
            "otelcol_exporter_enqueue_failed",
            "Items that failed to be added to the sending queue",
            labels,
        ),
        queue_size: gauge_family(
            "otelcol_exporter_queue_size",
            "Current size of the retry queue (in batches)",
            &["exporter", "data_type"],
        ),
        queue_capacity: gauge_family(
            "otelcol_exporter_queue_capacity",
            "Fixed capacity of the retry queue (in batches)",
            &["exporter", "data_type"],
        ),
    }
});

/// Counters and gauges of one exporter instance (one ID, one signal).
#[derive(Clone)]
pub struct ExporterTelemetry {
    id: String,
    signal: Signal,
}

impl ExporterTelemetry {
    pub fn new(id: &ComponentId, signal: Signal) -> Self {
        LazyLock::force(&EXPORTER);
        ExporterTelemetry {
            id: id.to_string(),
            signal,
        }
    }

    pub fn sent(&self, items: usize) {
        EXPORTER
            .sent
            .get(self.signal, &[&self.id])
            .inc_by(items as u64);
    }

    pub fn send_failed(&self, items: usize) {
        EXPORTER
            .send_failed
            .get(self.signal, &[&self.id])
            .inc_by(items as u64);
    }

    pub fn enqueue_failed(&self, items: usize) {
        EXPORTER
            .enqueue_failed
            .get(self.signal, &[&self.id])
            .inc_by(items as u64);
    }

    pub fn queue_size(&self) -> IntGauge {
        EXPORTER
            .queue_size
            .with_label_values(&[&self.id, self.signal.as_str()])
    }

    pub fn queue_capacity(&self) -> IntGauge {
        EXPORTER
            .queue_capacity
            .with_label_values(&[&self.id, self.signal.as_str()])
    }
}

struct ProcessorFamilies {
    incoming: IntCounterVec,
    outgoing: IntCounterVec,
}

static PROCESSOR: LazyLock<ProcessorFamilies> = LazyLock::new(|| {
    let labels = &["processor", "otelcol_signal"];
    ProcessorFamilies {
        incoming: counter_family(
            "otelcol_processor_incoming_items",
            "Number of items passed to the processor",
            labels,
        ),
        outgoing: counter_family(
            "otelcol_processor_outgoing_items",
            "Number of items emitted from the processor",
            labels,
        ),
    }
});

/// Item counters of one processor instance.
#[derive(Clone)]
pub struct ProcessorTelemetry {
    incoming: IntCounter,
    outgoing: IntCounter,
}

impl ProcessorTelemetry {
    pub fn new(id: &ComponentId, signal: Signal) -> Self {
        let labels = [id.to_string(), signal.as_str().to_string()];
        let labels = [labels[0].as_str(), labels[1].as_str()];
        ProcessorTelemetry {
            incoming: PROCESSOR.incoming.with_label_values(&labels),
            outgoing: PROCESSOR.outgoing.with_label_values(&labels),
        }
    }

    pub fn incoming(&self, items: usize) {
        self.incoming.inc_by(items as u64);
    }

    pub fn outgoing(&self, items: usize) {
        self.outgoing.inc_by(items as u64);
    }
}
