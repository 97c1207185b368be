//! What both transports do with decoded SkyWalking data: convert it, hand it to the pipeline of
//! its signal, and count it.

use crate::logs::convert_logs;
use crate::proto::{Ignored, LogData, SegmentObject};
use crate::traces::convert_segments;
use cormorant_core::pdata::{Payload, Signal};
use cormorant_core::server::ErrorReply;
use cormorant_core::server::otlp_ingest::{Outcome, ingest};
use cormorant_core::telemetry::ReceiverTelemetry;
use cormorant_core::{ReceiverConsumers, SharedConsumer};
use tonic::Code;

/// The pipelines a receiver feeds, with the telemetry of one transport.
pub(crate) struct Ingest {
    traces: Option<SharedConsumer>,
    logs: Option<SharedConsumer>,
    telemetry: ReceiverTelemetry,
}

impl Ingest {
    pub(crate) fn new(consumers: &ReceiverConsumers, telemetry: ReceiverTelemetry) -> Self {
        Ingest {
            traces: consumers.traces.clone(),
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
        match ingest(consumer, &self.telemetry, payload).await {
            Outcome::Accepted | Outcome::Partial { .. } => Ok(()),
            Outcome::Failed(reply) => Err(reply),
        }
    }
}

/// What a decoded message is handed to: one kind of message, one method of [`Ingest`].
pub(crate) trait Deliver: Sized + Send + 'static {
    fn deliver(
        ingest: &Ingest,
        messages: Vec<Self>,
    ) -> impl Future<Output = Result<(), ErrorReply>> + Send;
}

impl Deliver for SegmentObject {
    async fn deliver(ingest: &Ingest, segments: Vec<Self>) -> Result<(), ErrorReply> {
        ingest.segments(segments).await
    }
}

impl Deliver for LogData {
    async fn deliver(ingest: &Ingest, lines: Vec<Self>) -> Result<(), ErrorReply> {
        ingest.logs(lines).await
    }
}

/// The data of calls that are answered only.
impl Deliver for Ignored {
    async fn deliver(_ingest: &Ingest, _messages: Vec<Self>) -> Result<(), ErrorReply> {
        Ok(())
    }
}
