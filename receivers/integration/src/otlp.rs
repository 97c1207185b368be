//! The OTLP/HTTP routes: APISIX's `opentelemetry` plugin posts protobuf traces to
//! `/api/v1/otel/trace` (DeepFlow's path; some setups append `/v1/traces`), and plain OTLP/HTTP
//! senders use `/v1/traces`, `/v1/metrics`, `/v1/logs`. Decoding and replies are the `otlp`
//! receiver's (`cormorant_core::server::otlp_http`), so the success reply is exactly 200 with an
//! OTLP response body, which APISIX requires.
//!
//! Resources of trace requests without `service.name` get the configured `service_name`, because
//! APISIX only sets it when the user configures resource attributes, and spans without a service
//! cannot be attributed downstream. Resources without `service.instance.id` get the sender's IP
//! address, which tells APISIX nodes apart the way DeepFlow's `app.host.ip` does.

use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use cormorant_core::client::ClientInfo;
use cormorant_core::pdata::common::{AnyValue, KeyValue, any_value};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::trace::ResourceSpans;
use cormorant_core::server::AcceptedEncodings;
use cormorant_core::server::otlp_http::{decode_request, outcome_response};
use cormorant_core::server::otlp_ingest::{OtlpSignal, Traces, ingest};
use cormorant_core::telemetry::ReceiverTelemetry;
use cormorant_core::{Payload, SharedConsumer};
use std::net::SocketAddr;
use std::sync::Arc;

/// The trace paths, APISIX's first.
pub(crate) const TRACE_PATHS: [&str; 3] = [
    "/api/v1/otel/trace",
    "/api/v1/otel/trace/v1/traces",
    "/v1/traces",
];
pub(crate) const METRICS_PATH: &str = "/v1/metrics";
pub(crate) const LOGS_PATH: &str = "/v1/logs";

const SERVICE_NAME: &str = "service.name";
const SERVICE_INSTANCE_ID: &str = "service.instance.id";

/// One OTLP signal's route.
pub(crate) struct OtlpRoute {
    pub(crate) consumer: SharedConsumer,
    pub(crate) telemetry: ReceiverTelemetry,
    pub(crate) max_body: usize,
    pub(crate) encodings: AcceptedEncodings,
    /// Filled into trace resources that lack `service.name`.
    pub(crate) service_name: String,
}

/// Any OTLP signal, forwarded as decoded.
pub(crate) async fn export<S: OtlpSignal>(
    State(route): State<Arc<OtlpRoute>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    match decode_request::<S>(
        &parts.method,
        &parts.headers,
        body,
        route.max_body,
        &route.encodings,
    )
    .await
    {
        Ok((format, request)) => {
            let client = ClientInfo::of_request(&parts.extensions, &parts.headers, false);
            let outcome = ingest(&route.consumer, &route.telemetry, request.into(), client).await;
            outcome_response::<S>(format, outcome)
        }
        Err(error) => error.into_response(),
    }
}

/// Traces, with `service.name` and `service.instance.id` filled in where missing.
pub(crate) async fn export_traces(
    State(route): State<Arc<OtlpRoute>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_string());
    match decode_request::<Traces>(
        &parts.method,
        &parts.headers,
        body,
        route.max_body,
        &route.encodings,
    )
    .await
    {
        Ok((format, mut request)) => {
            fill_identity(
                &mut request.resource_spans,
                &route.service_name,
                peer.as_deref(),
            );
            let payload = Payload::Traces(request.resource_spans);
            let client = ClientInfo::of_request(&parts.extensions, &parts.headers, false);
            let outcome = ingest(&route.consumer, &route.telemetry, payload, client).await;
            outcome_response::<Traces>(format, outcome)
        }
        Err(error) => error.into_response(),
    }
}

fn fill_identity(resources: &mut [ResourceSpans], service_name: &str, peer: Option<&str>) {
    for resource_spans in resources {
        let resource = resource_spans
            .resource
            .get_or_insert_with(Resource::default);
        insert_if_missing(resource, SERVICE_NAME, service_name);
        if let Some(peer) = peer {
            insert_if_missing(resource, SERVICE_INSTANCE_ID, peer);
        }
    }
}

fn insert_if_missing(resource: &mut Resource, key: &str, value: &str) {
    if !resource.attributes.iter().any(|kv| kv.key == key) {
        resource.attributes.push(KeyValue {
            key: key.to_string(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.to_string())),
            }),
            ..Default::default()
        });
    }
}
