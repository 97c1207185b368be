//! Self-telemetry of the remote_write route, in Prometheus' own units (series, samples, native
//! histograms, exemplars) per protocol version, next to otelcol's per-point receiver counters:
//! a remote_write operator thinks in series and wants to see which senders already speak 2.0.

use cormorant_core::ComponentId;
use cormorant_core::telemetry::register;
use prometheus::{IntCounterVec, Opts};
use std::sync::LazyLock;

/// The remote_write message version a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `prometheus.WriteRequest`.
    V1,
    /// `io.prometheus.write.v2.Request`.
    V2,
}

impl Protocol {
    fn label(self) -> &'static str {
        match self {
            Protocol::V1 => "1.0",
            Protocol::V2 => "2.0",
        }
    }
}

/// What happened to the counted items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Handed to the pipeline, which took them.
    Accepted,
    /// Broke a rule of the protocol, or the pipeline refused them.
    Refused,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Refused => "refused",
        }
    }
}

/// How much of a request something happened to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) series: usize,
    pub(crate) samples: usize,
    pub(crate) histograms: usize,
    pub(crate) exemplars: usize,
}

impl Counts {
    /// What one series carries.
    pub(crate) fn of(samples: usize, histograms: usize, exemplars: usize) -> Counts {
        Counts {
            series: 1,
            samples,
            histograms,
            exemplars,
        }
    }

    pub(crate) fn add(&mut self, other: Counts) {
        self.series += other.series;
        self.samples += other.samples;
        self.histograms += other.histograms;
        self.exemplars += other.exemplars;
    }
}

/// `cormorant_receiver_prometheus_{series,samples,histograms,exemplars}_total`.
static FAMILIES: LazyLock<[IntCounterVec; 4]> = LazyLock::new(|| {
    [
        ("series", "Prometheus series received over remote_write"),
        (
            "samples",
            "Prometheus float samples received over remote_write",
        ),
        (
            "histograms",
            "Prometheus native histogram samples received over remote_write",
        ),
        (
            "exemplars",
            "Prometheus exemplars received over remote_write",
        ),
    ]
    .map(|(item, help)| {
        register(
            IntCounterVec::new(
                Opts::new(format!("cormorant_receiver_prometheus_{item}_total"), help),
                &["receiver", "protocol", "outcome"],
            )
            .expect("valid metric"),
        )
    })
});

/// The counters of one receiver.
#[derive(Clone)]
pub(crate) struct RemoteWriteTelemetry {
    receiver: String,
}

impl RemoteWriteTelemetry {
    pub(crate) fn new(id: &ComponentId) -> Self {
        LazyLock::force(&FAMILIES);
        RemoteWriteTelemetry {
            receiver: id.to_string(),
        }
    }

    pub(crate) fn record(&self, protocol: Protocol, outcome: Outcome, counts: Counts) {
        let labels = [self.receiver.as_str(), protocol.label(), outcome.label()];
        let values = [
            counts.series,
            counts.samples,
            counts.histograms,
            counts.exemplars,
        ];
        for (family, value) in FAMILIES.iter().zip(values) {
            family.with_label_values(&labels).inc_by(value as u64);
        }
    }
}
