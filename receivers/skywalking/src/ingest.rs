//! What both transports do with decoded SkyWalking data: convert it, hand it to the pipeline of
//! its signal, and count it.

use crate::logs::convert_logs;
use crate::meters::{MeterCarry, convert_meters};
use crate::proto::{Ignored, LogData, MeterData, MeterDataCollection, SegmentObject};
use crate::traces::convert_segments;
use cormorant_core::client::{self, ClientInfo};
use cormorant_core::pdata::{Payload, Signal};
use cormorant_core::server::ErrorReply;
use cormorant_core::server::otlp_ingest::{Outcome, ingest};
use cormorant_core::telemetry::ReceiverTelemetry;
use cormorant_core::{ReceiverConsumers, SharedConsumer};
use tonic::Code;

/// The pipelines a receiver feeds, with the telemetry of one transport.
pub(crate) struct Ingest {
    traces: Option<SharedConsumer>,
    metrics: Option<SharedConsumer>,
    logs: Option<SharedConsumer>,
    telemetry: ReceiverTelemetry,
}

impl Ingest {
    pub(crate) fn new(consumers: &ReceiverConsumers, telemetry: ReceiverTelemetry) -> Self {
        Ingest {
            traces: consumers.traces.clone(),
            metrics: consumers.metrics.clone(),
            logs: consumers.logs.clone(),
            telemetry,
        }
    }

    /// Converts and sends `segments`. Spans whose ids map to zero are counted as failed and
    /// left out; the rest go on. Without a traces pipeline the data is refused for good.
    pub(crate) async fn segments(&self, segments: Vec<SegmentObject>) -> Result<(), ErrorReply> {
        if segments.is_empty() {
            return Ok(());
        }
        let consumer = self.consumer(self.traces.as_ref(), Signal::Traces)?;
        let converted = convert_segments(segments);
        if converted.dropped > 0 {
            self.telemetry.failed(Signal::Traces, converted.dropped);
            tracing::debug!(
                spans = converted.dropped,
                "SkyWalking spans without a valid trace or segment id left out"
            );
        }
        self.send(consumer, Payload::Traces(converted.resources))
            .await
    }

    /// Converts and sends `lines`. Without a logs pipeline they are dropped quietly: agents send
    /// logs by default, and a collector set up for traces only should not fail them.
    pub(crate) async fn logs(&self, lines: Vec<LogData>) -> Result<(), ErrorReply> {
        let Some(consumer) = self.logs.as_ref() else {
            return Ok(());
        };
        if lines.is_empty() {
            return Ok(());
        }
        self.send(consumer, Payload::Logs(convert_logs(lines)))
            .await
    }

    /// Converts and sends meter readings. Without a metrics pipeline they are dropped quietly:
    /// agents report meters by default.
    pub(crate) async fn meters(&self, readings: Vec<MeterData>) -> Result<(), ErrorReply> {
        let Some(consumer) = self.metrics.as_ref() else {
            return Ok(());
        };
        if readings.is_empty() {
            return Ok(());
        }
        self.send(consumer, Payload::Metrics(convert_meters(readings)))
            .await
    }

    fn consumer<'a>(
        &self,
        consumer: Option<&'a SharedConsumer>,
        signal: Signal,
    ) -> Result<&'a SharedConsumer, ErrorReply> {
        consumer.ok_or_else(|| {
            ErrorReply::new(
                Code::Unimplemented,
                format!("this receiver feeds no {signal} pipeline"),
            )
        })
    }

    async fn send(&self, consumer: &SharedConsumer, payload: Payload) -> Result<(), ErrorReply> {
        // The transports run each request within its client ([`cormorant_core::client`]).
        let client = client::current().map_or_else(ClientInfo::default, |c| (*c).clone());
        match ingest(consumer, &self.telemetry, payload, client).await {
            Outcome::Accepted | Outcome::Partial { .. } => Ok(()),
            Outcome::Failed(reply) => Err(reply),
        }
    }
}

/// What a decoded message is handed to: one kind of message, one method of [`Ingest`].
pub(crate) trait Deliver: Sized + Send + 'static {
    /// What a stream's earlier messages tell its later ones.
    type Carry: Default + Send;

    /// Completes a message from `carry`, before it is delivered.
    fn inherit(&mut self, _carry: &mut Self::Carry) {}

    fn deliver(
        ingest: &Ingest,
        messages: Vec<Self>,
    ) -> impl Future<Output = Result<(), ErrorReply>> + Send;
}

impl Deliver for SegmentObject {
    type Carry = ();

    async fn deliver(ingest: &Ingest, segments: Vec<Self>) -> Result<(), ErrorReply> {
        ingest.segments(segments).await
    }
}

impl Deliver for LogData {
    type Carry = ();

    async fn deliver(ingest: &Ingest, lines: Vec<Self>) -> Result<(), ErrorReply> {
        ingest.logs(lines).await
    }
}

/// The data of calls that are answered only.
impl Deliver for Ignored {
    type Carry = ();

    async fn deliver(_ingest: &Ingest, _messages: Vec<Self>) -> Result<(), ErrorReply> {
        Ok(())
    }
}

impl Deliver for MeterData {
    type Carry = MeterCarry;

    fn inherit(&mut self, carry: &mut MeterCarry) {
        carry.fill(self);
    }

    async fn deliver(ingest: &Ingest, readings: Vec<Self>) -> Result<(), ErrorReply> {
        ingest.meters(readings).await
    }
}

/// `collectBatch`: the readings of each collection, completed in stream order.
impl Deliver for MeterDataCollection {
    type Carry = MeterCarry;

    fn inherit(&mut self, carry: &mut MeterCarry) {
        for reading in &mut self.meter_data {
            carry.fill(reading);
        }
    }

    async fn deliver(ingest: &Ingest, collections: Vec<Self>) -> Result<(), ErrorReply> {
        let readings = collections.into_iter().flat_map(|c| c.meter_data).collect();
        ingest.meters(readings).await
    }
}
