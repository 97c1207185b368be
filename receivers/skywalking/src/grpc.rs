//! The SkyWalking gRPC services (port 11800), under both names agents use: `skywalking.v3.X`
//! and, for agents older than SkyWalking 8.4, the bare `X`.
//!
//! Segments (`TraceSegmentReportService/collect` and `collectInSync`), meters
//! (`MeterReportService/collect` and `collectBatch`) and logs (`LogReportService/collect`) go to
//! the pipelines. Every other service an agent calls (management, profiling, configuration discovery, events, JVM and CLR metrics, browser
//! data) is answered with an empty `Commands` and its data is not kept: Java agents stop sending
//! segments on a channel that answered an error, so nothing they call may fail. A client stream
//! is handed on in chunks of what has arrived, so a long-lived stream does not hold data back.

use crate::ingest::{Deliver, Ingest};
use crate::proto::{
    Commands, Ignored, LogData, MeterData, MeterDataCollection, SegmentCollection, SegmentObject,
};
use axum::body::Body;
use cormorant_core::client::{self, ClientInfo};
use futures::StreamExt;
use futures::future::BoxFuture;
use http::{Request, Response};
use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::codec::CompressionEncoding;
use tonic::server::{ClientStreamingService, Grpc, UnaryService};
use tonic::{Code, Status, Streaming};
use tonic_prost::ProstCodec;

/// The package prefix of current agents' paths.
const PACKAGE_PREFIX: &str = "skywalking.v3.";

/// Most messages handed to the pipeline at once from one stream.
const MAX_CHUNK: usize = 256;

/// Services agents call whose data this receiver does not keep, as `Service/method`.
const ANSWERED_ONLY: [&str; 20] = [
    "ManagementService/reportInstanceProperties",
    "ManagementService/keepAlive",
    "JVMMetricReportService/collect",
    "CLRMetricReportService/collect",
    "ConfigurationDiscoveryService/fetchConfigurations",
    "ProfileTask/getProfileTaskCommands",
    "ProfileTask/collectSnapshot",
    "ProfileTask/goProfileReport",
    "ProfileTask/reportTaskFinish",
    "EventService/collect",
    "BrowserPerfService/collectPerfData",
    "BrowserPerfService/collectWebVitalsPerfData",
    "BrowserPerfService/collectResourcePerfData",
    "BrowserPerfService/collectWebInteractionsPerfData",
    "BrowserPerfService/collectErrorLogs",
    "SpanAttachedEventReportService/collect",
    "AsyncProfilerTask/getAsyncProfilerTaskCommands",
    "AsyncProfilerTask/collect",
    "ContinuousProfilingService/queryPolicies",
    "ContinuousProfilingService/reportProfilingTask",
];

/// The tower service behind every gRPC path of the listener.
#[derive(Clone)]
pub(crate) struct SkyWalkingGrpc {
    ingest: Arc<Ingest>,
    max_message_bytes: usize,
}

impl SkyWalkingGrpc {
    pub(crate) fn new(ingest: Ingest, max_message_bytes: usize) -> Self {
        SkyWalkingGrpc {
            ingest: Arc::new(ingest),
            max_message_bytes,
        }
    }
}

fn grpc<Decoded: prost::Message + Default + Send + 'static>(
    max_message_bytes: usize,
) -> Grpc<ProstCodec<Commands, Decoded>> {
    Grpc::new(ProstCodec::default())
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message_bytes)
}

impl tower_service::Service<Request<Body>> for SkyWalkingGrpc {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let path = request.uri().path().trim_start_matches('/');
        let method = path.strip_prefix(PACKAGE_PREFIX).unwrap_or(path).to_owned();
        let ingest = Arc::clone(&self.ingest);
        let limit = self.max_message_bytes;
        let sender = ClientInfo::of_request(request.extensions(), request.headers(), false);
        Box::pin(client::within(sender, async move {
            let response = match method.as_str() {
                "TraceSegmentReportService/collect" => {
                    grpc::<SegmentObject>(limit)
                        .client_streaming(StreamInto::new(ingest), request)
                        .await
                }
                "TraceSegmentReportService/collectInSync" => {
                    grpc(limit).unary(SegmentBatch(ingest), request).await
                }
                "MeterReportService/collect" => {
                    grpc::<MeterData>(limit)
                        .client_streaming(StreamInto::new(ingest), request)
                        .await
                }
                "MeterReportService/collectBatch" => {
                    grpc::<MeterDataCollection>(limit)
                        .client_streaming(StreamInto::new(ingest), request)
                        .await
                }
                "LogReportService/collect" => {
                    grpc::<LogData>(limit)
                        .client_streaming(StreamInto::new(ingest), request)
                        .await
                }
                known if ANSWERED_ONLY.contains(&known) => {
                    grpc::<Ignored>(limit)
                        .client_streaming(StreamInto::new(ingest), request)
                        .await
                }
                _ => {
                    Status::unimplemented(format!("unknown SkyWalking method {method}")).into_http()
                }
            };
            Ok(response.map(Body::new))
        }))
    }
}

/// A client stream read in chunks of what has arrived, each chunk delivered before the next is
/// read; a broken stream still delivers what came before the break. Unary calls are streams of
/// one message on the wire, so this serves them too.
struct StreamInto<T>(Arc<Ingest>, PhantomData<fn() -> T>);

impl<T> StreamInto<T> {
    fn new(ingest: Arc<Ingest>) -> Self {
        StreamInto(ingest, PhantomData)
    }
}

impl<T: Deliver> ClientStreamingService<T> for StreamInto<T> {
    type Response = Commands;
    type Future = BoxFuture<'static, Result<tonic::Response<Commands>, Status>>;

    fn call(&mut self, request: tonic::Request<Streaming<T>>) -> Self::Future {
        let ingest = Arc::clone(&self.0);
        Box::pin(async move {
            let mut chunks = request.into_inner().ready_chunks(MAX_CHUNK);
            let mut carry = T::Carry::default();
            while let Some(chunk) = chunks.next().await {
                let mut messages = Vec::with_capacity(chunk.len());
                let mut broken = None;
                for message in chunk {
                    match message {
                        Ok(mut message) => {
                            message.inherit(&mut carry);
                            messages.push(message);
                        }
                        Err(status) => {
                            broken = Some(status);
                            break;
                        }
                    }
                }
                T::deliver(&ingest, messages)
                    .await
                    .map_err(|r| r.to_grpc())?;
                if let Some(status) = broken {
                    return Err(client_fault(status));
                }
            }
            Ok(tonic::Response::new(Commands::default()))
        })
    }
}

/// tonic reports a message it cannot decode as INTERNAL; the bytes were the client's, so the
/// client is told INVALID_ARGUMENT, as for any other bad input.
fn client_fault(status: Status) -> Status {
    if status.code() == Code::Internal {
        Status::invalid_argument(status.message())
    } else {
        status
    }
}

struct SegmentBatch(Arc<Ingest>);

impl UnaryService<SegmentCollection> for SegmentBatch {
    type Response = Commands;
    type Future = BoxFuture<'static, Result<tonic::Response<Commands>, Status>>;

    fn call(&mut self, request: tonic::Request<SegmentCollection>) -> Self::Future {
        let ingest = Arc::clone(&self.0);
        Box::pin(async move {
            let segments = request.into_inner().segments;
            SegmentObject::deliver(&ingest, segments)
                .await
                .map_err(|r| r.to_grpc())?;
            Ok(tonic::Response::new(Commands::default()))
        })
    }
}
