//! OTLP/gRPC with tonic's generated clients.

use crate::common::{Recorder, counter, logs, metrics, start, traces};
use cormorant_core::pdata::ExportTracePartialSuccess;
use cormorant_core::{ConsumeError, Payload};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use std::net::SocketAddr;
use std::time::Duration;
use tonic::Code;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Decodes the `google.rpc.RetryInfo` delay a status carries.
fn retry_delay(status: &tonic::Status) -> Option<Duration> {
    #[derive(Clone, PartialEq, Message)]
    struct RpcStatus {
        #[prost(message, repeated, tag = "3")]
        details: Vec<AnyDetail>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct AnyDetail {
        #[prost(string, tag = "1")]
        type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        value: Vec<u8>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        retry_delay: Option<ProtoDuration>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct ProtoDuration {
        #[prost(int64, tag = "1")]
        seconds: i64,
        #[prost(int32, tag = "2")]
        nanos: i32,
    }
    let details = RpcStatus::decode(status.details()).ok()?;
    let detail = details
        .details
        .iter()
        .find(|d| d.type_url == "type.googleapis.com/google.rpc.RetryInfo")?;
    let delay = RetryInfo::decode(detail.value.as_slice())
        .ok()?
        .retry_delay?;
    Some(Duration::new(delay.seconds as u64, delay.nanos as u32))
}

#[tokio::test]
async fn all_three_signals_arrive_unchanged_plain_and_gzip() {
    let recorder = Recorder::new();
    let running = start(
        "grpc-signals",
        &recorder,
        &["traces", "metrics", "logs"],
        serde_json::json!({}),
    )
    .await;
    let channel = channel(running.grpc).await;

    for compression in [
        None,
        Some(CompressionEncoding::Gzip),
        Some(CompressionEncoding::Zstd),
    ] {
        let mut trace_client = TraceServiceClient::new(channel.clone());
        let mut metrics_client = MetricsServiceClient::new(channel.clone());
        let mut logs_client = LogsServiceClient::new(channel.clone());
        if let Some(encoding) = compression {
            trace_client = trace_client.send_compressed(encoding);
            metrics_client = metrics_client.send_compressed(encoding);
            logs_client = logs_client.send_compressed(encoding);
        }
        let response = trace_client.export(traces()).await.unwrap().into_inner();
        assert_eq!(response.partial_success, None);
        metrics_client.export(metrics()).await.unwrap();
        logs_client.export(logs()).await.unwrap();
    }

    let expected = [
        Payload::from(traces()),
        Payload::from(metrics()),
        Payload::from(logs()),
    ];
    let expected: Vec<Payload> = expected.iter().cycle().take(9).cloned().collect();
    assert_eq!(recorder.received(), expected);
    assert_eq!(
        counter(
            "otelcol_receiver_accepted_spans",
            "otlp/grpc-signals",
            "grpc"
        ),
        6
    );
    assert_eq!(
        counter(
            "otelcol_receiver_accepted_metric_points",
            "otlp/grpc-signals",
            "grpc"
        ),
        9
    );
    assert_eq!(
        counter(
            "otelcol_receiver_accepted_log_records",
            "otlp/grpc-signals",
            "grpc"
        ),
        3
    );
    running.stop().await;
}

#[tokio::test]
async fn signal_without_pipeline_is_unimplemented() {
    let recorder = Recorder::new();
    let running = start("grpc-unimpl", &recorder, &["traces"], serde_json::json!({})).await;
    let status = LogsServiceClient::new(channel(running.grpc).await)
        .export(logs())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(recorder.received().is_empty());
    running.stop().await;
}

#[tokio::test]
async fn empty_request_succeeds_without_reaching_the_pipeline() {
    let recorder = Recorder::new();
    let running = start("grpc-empty", &recorder, &["traces"], serde_json::json!({})).await;
    TraceServiceClient::new(channel(running.grpc).await)
        .export(cormorant_core::pdata::ExportTraceServiceRequest::default())
        .await
        .unwrap();
    assert!(recorder.received().is_empty());
    running.stop().await;
}

#[tokio::test]
async fn refusal_is_unavailable_and_throttling_is_resource_exhausted_with_retry_info() {
    let recorder = Recorder::new();
    let running = start(
        "grpc-refused",
        &recorder,
        &["traces"],
        serde_json::json!({}),
    )
    .await;
    let mut client = TraceServiceClient::new(channel(running.grpc).await);

    recorder.fail_with(ConsumeError::unavailable(
        "data refused due to high memory usage",
    ));
    let status = client.export(traces()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(status.message(), "data refused due to high memory usage");
    assert_eq!(retry_delay(&status), None);

    recorder.fail_with(ConsumeError::throttled("slow down", Duration::from_secs(7)));
    let status = client.export(traces()).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(retry_delay(&status), Some(Duration::from_secs(7)));

    assert_eq!(
        counter(
            "otelcol_receiver_refused_spans",
            "otlp/grpc-refused",
            "grpc"
        ),
        4
    );
    running.stop().await;
}

#[tokio::test]
async fn permanent_rejection_of_some_items_is_a_partial_success() {
    let recorder = Recorder::new();
    let running = start(
        "grpc-partial",
        &recorder,
        &["traces"],
        serde_json::json!({}),
    )
    .await;
    let mut client = TraceServiceClient::new(channel(running.grpc).await);

    recorder.fail_with(ConsumeError::permanent("span name too long", 1));
    let response = client.export(traces()).await.unwrap().into_inner();
    assert_eq!(
        response.partial_success,
        Some(ExportTracePartialSuccess {
            rejected_spans: 1,
            error_message: "span name too long".into(),
        })
    );

    recorder.fail_with(ConsumeError::permanent("all spans invalid", 2));
    let status = client.export(traces()).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), "all spans invalid");
    running.stop().await;
}

#[tokio::test]
async fn messages_over_max_recv_msg_size_are_rejected() {
    let recorder = Recorder::new();
    let running = start(
        "grpc-size",
        &recorder,
        &["traces"],
        serde_json::json!({"grpc": {"max_recv_msg_size_mib": 1}}),
    )
    .await;
    let mut big = traces();
    big.resource_spans[0].scope_spans[0].spans[0].name = "x".repeat(2 * 1024 * 1024);
    let channel = channel(running.grpc).await;
    let status = TraceServiceClient::new(channel.clone())
        .export(big.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("too large"), "{status:?}");

    // Small on the wire, too large once decompressed.
    let status = TraceServiceClient::new(channel)
        .send_compressed(CompressionEncoding::Gzip)
        .export(big)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(recorder.received().is_empty());
    running.stop().await;
}
