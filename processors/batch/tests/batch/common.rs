//! Shared test fixtures: span payloads with numbered spans and a recording next consumer.

use async_trait::async_trait;
use cormorant_core::consumer::Returned;
use cormorant_core::pdata::common::{AnyValue, InstrumentationScope, KeyValue, any_value};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span};
use cormorant_core::{ComponentId, ConsumeError, Consumer, Payload};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// A span whose span_id encodes `n`, so tests can check order and duplicates.
pub fn span(n: u64) -> Span {
    Span {
        trace_id: vec![7; 16],
        span_id: n.to_be_bytes().to_vec(),
        name: format!("span-{n}"),
        ..Default::default()
    }
}

/// One resource (named `service`) holding one scope with spans `ids`.
pub fn resource_spans(service: &str, ids: std::ops::Range<u64>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(service.into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: format!("scope-of-{service}"),
                ..Default::default()
            }),
            spans: ids.map(span).collect(),
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// A traces payload with spans `ids` under one resource.
pub fn spans(ids: std::ops::Range<u64>) -> Payload {
    Payload::Traces(vec![resource_spans("svc", ids)])
}

/// The span numbers of a payload, in order.
pub fn span_ids(payload: &Payload) -> Vec<u64> {
    let Payload::Traces(resources) = payload else {
        panic!("expected traces, got {:?}", payload.signal());
    };
    resources
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| u64::from_be_bytes(s.span_id.as_slice().try_into().unwrap()))
        .collect()
}

/// How the recorder answers the next attempt.
#[derive(Debug, Clone)]
pub enum Answer {
    Accept,
    Refuse,
    RejectPermanently,
}

/// A batch the recorder took, with when it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub ids: Vec<u64>,
    pub at: Instant,
    pub payload: Payload,
}

#[derive(Default)]
struct RecorderState {
    received: Vec<Received>,
    /// Answers for the next attempts, first first; `Accept` once empty unless `refuse_all`.
    script: Vec<Answer>,
    refuse_all: bool,
    attempts: usize,
    /// Address of the span list of every attempt's first scope, to see whether retries copy.
    attempt_addresses: Vec<usize>,
}

/// The next consumer of the processor under test: records what it takes and answers as told.
/// It only implements `consume`, so the processor's retries go through the trait's default
/// `consume_or_return`, which keeps a copy.
#[derive(Clone, Default)]
pub struct Recorder {
    state: Arc<Mutex<RecorderState>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn script(&self, answers: Vec<Answer>) {
        self.state.lock().unwrap().script = answers;
    }

    pub fn refuse_all(&self, refuse: bool) {
        self.state.lock().unwrap().refuse_all = refuse;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn batch_sizes(&self) -> Vec<usize> {
        self.received().iter().map(|r| r.ids.len()).collect()
    }

    pub fn all_ids(&self) -> Vec<u64> {
        self.received().into_iter().flat_map(|r| r.ids).collect()
    }

    pub fn attempts(&self) -> usize {
        self.state.lock().unwrap().attempts
    }

    pub fn attempt_addresses(&self) -> Vec<usize> {
        self.state.lock().unwrap().attempt_addresses.clone()
    }

    /// Waits (in test time) until `items` items have been taken, failing after `limit`.
    pub async fn wait_for_items(&self, items: usize, limit: Duration) {
        let give_up = Instant::now() + limit;
        while self.all_ids().len() < items {
            assert!(
                Instant::now() < give_up,
                "only {} of {items} items arrived within {limit:?}",
                self.all_ids().len()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Decides the answer for `payload` and records it when accepted.
    fn answer(&self, payload: &Payload) -> Result<(), ConsumeError> {
        let mut state = self.state.lock().unwrap();
        state.attempts += 1;
        if let Payload::Traces(resources) = payload {
            let address = resources[0].scope_spans[0].spans.as_ptr() as usize;
            state.attempt_addresses.push(address);
        }
        let answer = if state.script.is_empty() {
            if state.refuse_all {
                Answer::Refuse
            } else {
                Answer::Accept
            }
        } else {
            state.script.remove(0)
        };
        match answer {
            Answer::Accept => {
                state.received.push(Received {
                    ids: span_ids(payload),
                    at: Instant::now(),
                    payload: payload.clone(),
                });
                Ok(())
            }
            Answer::Refuse => Err(ConsumeError::unavailable("downstream is busy")),
            Answer::RejectPermanently => Err(ConsumeError::permanent(
                "downstream rejects this data",
                payload.item_count(),
            )),
        }
    }
}

#[async_trait]
impl Consumer for Recorder {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        self.answer(&payload)
    }
}

/// Like [`Recorder`], but hands refused payloads back itself, as queue-backed exporters do, so
/// tests can see that the processor retries the very same data without copying it.
#[derive(Clone, Default)]
pub struct ReturningRecorder(pub Recorder);

#[async_trait]
impl Consumer for ReturningRecorder {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        self.0.answer(&payload)
    }

    async fn consume_or_return(&self, payload: Payload) -> Result<(), Returned> {
        self.0
            .answer(&payload)
            .map_err(|error| Returned { error, payload })
    }
}

/// The value of a counter (or a histogram's sample count and sum) labelled with `processor`.
pub fn metric(name: &str, processor: &ComponentId) -> Option<(f64, f64)> {
    let processor = processor.to_string();
    cormorant_core::telemetry::registry()
        .gather()
        .into_iter()
        .filter(|family| family.name() == name)
        .flat_map(|family| family.get_metric().to_vec())
        .find(|m| {
            m.get_label()
                .iter()
                .any(|l| l.name() == "processor" && l.value() == processor)
        })
        .map(|m| {
            let histogram = m.get_histogram();
            if histogram.get_sample_count() > 0 {
                (
                    histogram.get_sample_count() as f64,
                    histogram.get_sample_sum(),
                )
            } else {
                (m.get_counter().get_value(), 0.0)
            }
        })
}
