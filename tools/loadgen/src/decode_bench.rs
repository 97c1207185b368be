//! The per-core decode limit: how fast one thread turns the generator's own request bytes
//! back into OTLP structs with prost.
//!
//! A collector cannot accept spans faster per CPU-second than it can decode them, so the
//! benchmark divides the collector's spans per CPU-second by this number (performance.md §5
//! and §7 put it at ≈1–1.6 M small spans/s on the reference VM).

use crate::payload::RequestTemplate;
use cormorant_core::Signal;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::fmt;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Result of one decode benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeReport {
    pub signal: Signal,
    pub request_bytes: usize,
    pub items_per_request: usize,
    pub decoded_requests: u64,
    pub elapsed: Duration,
}

impl DecodeReport {
    pub fn items_per_second(&self) -> f64 {
        self.decoded_requests as f64 * self.items_per_request as f64 / self.elapsed.as_secs_f64()
    }

    /// Decimal megabytes of encoded request per second, the unit performance.md uses.
    pub fn megabytes_per_second(&self) -> f64 {
        self.decoded_requests as f64 * self.request_bytes as f64 / self.elapsed.as_secs_f64() / 1e6
    }
}

impl fmt::Display for DecodeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = self.signal.item_name();
        write!(
            f,
            "decode: {:.0} {unit}/s, {:.1} MB/s ({} bytes per request, {} {unit} per request, \
             {} requests in {:.2}s)",
            self.items_per_second(),
            self.megabytes_per_second(),
            self.request_bytes,
            self.items_per_request,
            self.decoded_requests,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Decodes `template`'s request on the calling thread for `duration`, after a warm-up of a
/// tenth of that (so caches and the allocator are in steady state).
pub fn run(
    template: &RequestTemplate,
    duration: Duration,
) -> Result<DecodeReport, prost::DecodeError> {
    let encoded = template.encoded();
    let decode_once: fn(&[u8]) -> Result<(), prost::DecodeError> = match template.signal() {
        Signal::Traces => |bytes| decode_and_drop::<ExportTraceServiceRequest>(bytes),
        Signal::Metrics => |bytes| decode_and_drop::<ExportMetricsServiceRequest>(bytes),
        Signal::Logs => |bytes| decode_and_drop::<ExportLogsServiceRequest>(bytes),
    };
    let warm_up = Instant::now();
    while warm_up.elapsed() < duration / 10 {
        decode_once(encoded)?;
    }
    let start = Instant::now();
    let mut decoded_requests = 0u64;
    let elapsed = loop {
        decode_once(encoded)?;
        decoded_requests += 1;
        let elapsed = start.elapsed();
        if elapsed >= duration {
            break elapsed;
        }
    };
    Ok(DecodeReport {
        signal: template.signal(),
        request_bytes: encoded.len(),
        items_per_request: template.item_count(),
        decoded_requests,
        elapsed,
    })
}

/// Decoding includes freeing the result: a collector pays for both.
fn decode_and_drop<M: Message + Default>(bytes: &[u8]) -> Result<(), prost::DecodeError> {
    drop(black_box(M::decode(black_box(bytes))?));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::PayloadSpec;

    #[test]
    fn measures_every_signal_and_reports_consistent_rates() {
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            let spec = PayloadSpec {
                items_per_request: 64,
                attributes_per_item: 3,
                attribute_value_size: 20,
                service_name: "bench".to_owned(),
            };
            let template = RequestTemplate::build(signal, &spec).unwrap();
            let report = run(&template, Duration::from_millis(50)).unwrap();
            assert!(report.elapsed >= Duration::from_millis(50));
            assert!(report.decoded_requests > 0);
            assert_eq!(report.items_per_request, 64);
            assert_eq!(report.request_bytes, template.encoded().len());
            let per_request = report.megabytes_per_second() * 1e6 / report.items_per_second();
            let expected = report.request_bytes as f64 / 64.0;
            assert!((per_request - expected).abs() < 1e-6 * expected);
            assert!(report.to_string().starts_with("decode: "));
        }
    }
}
