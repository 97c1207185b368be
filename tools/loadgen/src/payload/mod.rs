//! Request payloads: built and encoded once, then refreshed in place for every send.
//!
//! A [`RequestTemplate`] holds one encoded `Export*ServiceRequest` plus the byte offsets of
//! its ids and timestamps. [`RequestTemplate::refresh`] writes new random ids and current
//! timestamps over those bytes, so each request is unique to the collector (no dedup or
//! cache effects) while the generator spends almost nothing per request.

mod attributes;
mod logs;
mod metrics;
mod traces;
mod wire;

pub use wire::WireError;

use cormorant_core::Signal;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use prost::Message;
use rand::{Rng, RngCore};
use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};
use wire::{FieldLayout, locate};

/// The shape of every request the generator sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadSpec {
    /// Spans, data points or log records per request.
    pub items_per_request: usize,
    /// Attributes on each span, data point or log record.
    pub attributes_per_item: usize,
    /// Length of the values of the attributes beyond the HTTP method/path/status trio.
    pub attribute_value_size: usize,
    /// The `service.name` resource attribute.
    pub service_name: String,
}

/// One encoded request plus where its ids and timestamps live.
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    signal: Signal,
    encoded: Vec<u8>,
    item_count: usize,
    ids: Vec<Range<usize>>,
    timestamps: Vec<TimestampSlot>,
}

/// A `fixed64` timestamp and how far before the build time it was, so refreshing keeps the
/// spread of start/end times the template was built with.
#[derive(Debug, Clone, Copy)]
struct TimestampSlot {
    offset: usize,
    age_nanos: u64,
}

impl RequestTemplate {
    /// Builds and encodes a request of `signal` shaped by `spec`, stamped with the current time.
    pub fn build(signal: Signal, spec: &PayloadSpec) -> Result<Self, WireError> {
        Self::build_at(signal, spec, &mut rand::rng(), unix_nanos_now())
    }

    fn build_at(
        signal: Signal,
        spec: &PayloadSpec,
        rng: &mut impl Rng,
        now_nanos: u64,
    ) -> Result<Self, WireError> {
        let (encoded, layout) = match signal {
            Signal::Traces => (
                traces::build(spec, rng, now_nanos).encode_to_vec(),
                traces::LAYOUT,
            ),
            Signal::Metrics => (
                metrics::build(spec, rng, now_nanos).encode_to_vec(),
                metrics::LAYOUT,
            ),
            Signal::Logs => (
                logs::build(spec, rng, now_nanos).encode_to_vec(),
                logs::LAYOUT,
            ),
        };
        Self::from_encoded(signal, encoded, spec.items_per_request, &layout, now_nanos)
    }

    fn from_encoded(
        signal: Signal,
        encoded: Vec<u8>,
        item_count: usize,
        layout: &FieldLayout<'_>,
        now_nanos: u64,
    ) -> Result<Self, WireError> {
        let offsets = locate(&encoded, layout)?;
        let timestamps = offsets
            .fixed64
            .iter()
            .map(|&offset| TimestampSlot {
                offset,
                age_nanos: now_nanos.saturating_sub(read_fixed64(&encoded, offset)),
            })
            .collect();
        Ok(Self {
            signal,
            encoded,
            item_count,
            ids: offsets.ids,
            timestamps,
        })
    }

    /// Writes fresh random ids and timestamps relative to `now_nanos` into the request.
    pub fn refresh(&mut self, rng: &mut impl RngCore, now_nanos: u64) {
        for range in &self.ids {
            rng.fill_bytes(&mut self.encoded[range.clone()]);
        }
        for slot in &self.timestamps {
            let value = now_nanos.saturating_sub(slot.age_nanos);
            self.encoded[slot.offset..slot.offset + 8].copy_from_slice(&value.to_le_bytes());
        }
    }

    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// The encoded `Export*ServiceRequest`, as sent on the wire before compression.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }

    /// Spans, data points or log records in the request.
    pub fn item_count(&self) -> usize {
        self.item_count
    }
}

/// Nanoseconds since the Unix epoch, the unit of every OTLP timestamp.
pub fn unix_nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

fn read_fixed64(encoded: &[u8], offset: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&encoded[offset..offset + 8]);
    u64::from_le_bytes(bytes)
}

fn instrumentation_scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "cormorant-loadgen".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
    }
}

#[cfg(test)]
mod tests;
