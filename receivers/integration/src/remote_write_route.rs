//! The remote_write endpoint, shared by the `integration` and `prometheusremotewrite` receivers
//! so both validate, convert and answer identically.
//!
//! The message version is chosen by `Content-Type`, as remote_write 2.0 asks of receivers:
//! `application/x-protobuf` alone or with `proto=prometheus.WriteRequest` is 1.0,
//! `proto=io.prometheus.write.v2.Request` is 2.0; anything else is 415 before the body is read.
//! 2.0 series are translated into the 1.0 shape ([`crate::remote_write_v2`]), so one validation
//! and one conversion serve both.

use crate::convert::MetricTypes;
use crate::remote_write::{self, DecodeError, validate};
use crate::remote_write_telemetry::{Counts, Outcome, Protocol, RemoteWriteTelemetry};
use crate::remote_write_v2::{self, RequestError};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::{MethodRouter, any};
use cormorant_core::server::otlp_http::{RequestError as HttpRequestError, text_response};
use cormorant_core::server::read_limited;
use cormorant_core::telemetry::ReceiverTelemetry;
use cormorant_core::{ComponentId, Payload, SharedConsumer, Signal};
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use std::sync::Arc;

/// The remote_write 1.0 message name in `Content-Type`'s `proto` parameter.
const V1_PROTO: &str = "prometheus.WriteRequest";
/// The remote_write 2.0 message name in `Content-Type`'s `proto` parameter.
const V2_PROTO: &str = "io.prometheus.write.v2.Request";

/// The response headers remote_write 2.0 receivers must send; a 2.0 sender takes a 2xx without
/// them for a 1.0-only receiver.
const SAMPLES_WRITTEN: HeaderName =
    HeaderName::from_static("x-prometheus-remote-write-samples-written");
const HISTOGRAMS_WRITTEN: HeaderName =
    HeaderName::from_static("x-prometheus-remote-write-histograms-written");
const EXEMPLARS_WRITTEN: HeaderName =
    HeaderName::from_static("x-prometheus-remote-write-exemplars-written");

/// What the remote_write route needs.
struct RemoteWriteRoute {
    consumer: SharedConsumer,
    telemetry: ReceiverTelemetry,
    prometheus_telemetry: RemoteWriteTelemetry,
    max_body: usize,
    types: MetricTypes,
}

/// The remote_write endpoint of receiver `id`, which serves both message versions.
pub(crate) fn remote_write_route(
    id: &ComponentId,
    consumer: &SharedConsumer,
    telemetry: &ReceiverTelemetry,
    max_body: usize,
) -> MethodRouter {
    let route = Arc::new(RemoteWriteRoute {
        consumer: consumer.clone(),
        telemetry: telemetry.clone(),
        prometheus_telemetry: RemoteWriteTelemetry::new(id),
        max_body,
        types: MetricTypes::default(),
    });
    any(receive).with_state(route)
}

async fn receive(State(route): State<Arc<RemoteWriteRoute>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        return HttpRequestError::MethodNotAllowed.into_response();
    }
    let protocol = match message_version(&parts.headers) {
        Ok(protocol) => protocol,
        Err(error) => {
            return text_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, error.to_string());
        }
    };
    let received = match read_limited(body, route.max_body).await {
        Ok(received) => received,
        Err(error) => {
            let response = text_response(error.http_status(), error.to_string());
            return with_written_headers(protocol, response, Counts::default());
        }
    };
    match protocol {
        Protocol::V1 => receive_v1(&route, &received).await,
        Protocol::V2 => {
            let (response, written) = receive_v2(&route, &received).await;
            with_written_headers(protocol, response, written)
        }
    }
}

/// Why a request's headers do not describe a remote_write body (415).
#[derive(Debug, thiserror::Error)]
enum UnsupportedFormat {
    #[error("415 unsupported Content-Encoding {0:?}, supported: [snappy]")]
    Encoding(String),
    #[error(
        "415 unsupported Content-Type {0:?}, supported: \
         [application/x-protobuf;proto={V1_PROTO} (remote_write 1.0), \
         application/x-protobuf;proto={V2_PROTO} (remote_write 2.0)]"
    )]
    ContentType(String),
}

/// remote_write is snappy-compressed protobuf of one of the two messages; anything else is
/// refused before the body is read.
fn message_version(headers: &HeaderMap) -> Result<Protocol, UnsupportedFormat> {
    let encoding = header_text(headers, &CONTENT_ENCODING);
    if !encoding.trim().eq_ignore_ascii_case("snappy") {
        return Err(UnsupportedFormat::Encoding(encoding.to_string()));
    }
    let content_type = header_text(headers, &CONTENT_TYPE);
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim();
    let proto = parts.find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("proto")
            .then(|| value.trim().trim_matches('"'))
    });
    match proto {
        _ if !essence.eq_ignore_ascii_case("application/x-protobuf") => {}
        None | Some(V1_PROTO) => return Ok(Protocol::V1),
        Some(V2_PROTO) => return Ok(Protocol::V2),
        Some(_) => {}
    }
    Err(UnsupportedFormat::ContentType(content_type.to_string()))
}

fn header_text<'a>(headers: &'a HeaderMap, name: &HeaderName) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

async fn receive_v1(route: &RemoteWriteRoute, body: &[u8]) -> Response {
    let request = match remote_write::decode(body, route.max_body) {
        Ok(request) => request,
        Err(error) => return decode_error_response(&error),
    };
    route.types.remember(&request.metadata);
    let mut batch = Batch::default();
    for series in request.timeseries {
        match validate(&series) {
            Ok(()) => batch.valid.push(series),
            Err(error) => batch.refuse(&series, &error),
        }
    }
    write(route, Protocol::V1, batch).await.0
}

async fn receive_v2(route: &RemoteWriteRoute, body: &[u8]) -> (Response, Counts) {
    let request = match remote_write_v2::decode(body, route.max_body) {
        Ok(request) => request,
        Err(RequestError::Body(error)) => {
            return (decode_error_response(&error), Counts::default());
        }
        Err(error) => {
            return (
                text_response(StatusCode::BAD_REQUEST, error.to_string()),
                Counts::default(),
            );
        }
    };
    if let Err(error) = request.check_symbols() {
        let mut refused = Counts::default();
        for series in &request.timeseries {
            refused.add(v2_counts(series));
        }
        route
            .prometheus_telemetry
            .record(Protocol::V2, Outcome::Refused, refused);
        route
            .telemetry
            .refused(Signal::Metrics, refused.samples + refused.histograms);
        return (
            text_response(StatusCode::BAD_REQUEST, error.to_string()),
            Counts::default(),
        );
    }
    let mut batch = Batch::default();
    let mut metadata = Vec::new();
    for series in request.timeseries {
        let counts = v2_counts(&series);
        match remote_write_v2::translate(series, &request.symbols) {
            Ok(translated) => match validate(&translated.series) {
                Ok(()) => {
                    metadata.extend(translated.metadata);
                    batch.valid.push(translated.series);
                }
                Err(error) => batch.refuse(&translated.series, &error),
            },
            Err(error) => batch.refuse_counted(counts, &error),
        }
    }
    route.types.remember(&metadata);
    write(route, Protocol::V2, batch).await
}

fn v2_counts(series: &remote_write_v2::TimeSeries) -> Counts {
    Counts::of(
        series.samples.len(),
        series.histograms.len(),
        series.exemplars.len(),
    )
}

fn decode_error_response(error: &DecodeError) -> Response {
    let status = match error {
        DecodeError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        DecodeError::Snappy(_) | DecodeError::Protobuf(_) => StatusCode::BAD_REQUEST,
    };
    text_response(status, error.to_string())
}

/// The series of one request that passed the checks, and what was refused.
#[derive(Default)]
struct Batch {
    valid: Vec<remote_write::TimeSeries>,
    refused: Counts,
    first_error: Option<String>,
}

impl Batch {
    fn refuse(&mut self, series: &remote_write::TimeSeries, error: &dyn std::fmt::Display) {
        let counts = Counts::of(
            series.samples.len(),
            series.histograms.len(),
            series.exemplars.len(),
        );
        self.refuse_counted(counts, error);
    }

    fn refuse_counted(&mut self, counts: Counts, error: &dyn std::fmt::Display) {
        self.refused.add(counts);
        if self.first_error.is_none() {
            self.first_error = Some(error.to_string());
        }
    }
}

/// Forwards the valid series and answers for the whole request, returning what was written.
///
/// A series that breaks the rules is dropped and the others are still written, as both versions
/// allow; the reply is then 400 naming the first problem, which senders never retry, so the
/// written series are not duplicated. A pipeline refusal writes nothing and keeps its retryable
/// status, so the sender sends the whole request again.
async fn write(route: &RemoteWriteRoute, protocol: Protocol, batch: Batch) -> (Response, Counts) {
    let refused = batch.refused;
    route
        .telemetry
        .refused(Signal::Metrics, refused.samples + refused.histograms);
    route
        .prometheus_telemetry
        .record(protocol, Outcome::Refused, refused);
    let conversion = route.types.convert(&batch.valid);
    let written = Counts {
        series: batch.valid.len(),
        samples: conversion.samples,
        histograms: conversion.histograms,
        exemplars: conversion.exemplars,
    };
    let payload = Payload::Metrics(conversion.resource_metrics);
    let points = payload.item_count();
    if points > 0 {
        if let Err(error) = route.consumer.consume(payload).await {
            route
                .prometheus_telemetry
                .record(protocol, Outcome::Refused, written);
            return (
                crate::http::metrics_pipeline_error(&route.telemetry, &error, points),
                Counts::default(),
            );
        }
        route.telemetry.accepted(Signal::Metrics, points);
    }
    route
        .prometheus_telemetry
        .record(protocol, Outcome::Accepted, written);
    let response = match batch.first_error {
        None => empty(StatusCode::NO_CONTENT),
        Some(error) => text_response(
            StatusCode::BAD_REQUEST,
            format!(
                "{} series ({} samples, {} histograms) rejected, the first because {error}; \
                 {} valid series were written",
                refused.series, refused.samples, refused.histograms, written.series
            ),
        ),
    };
    (response, written)
}

/// Adds remote_write 2.0's written-counts headers to every 2.0 reply, refusals included, so a
/// sender always learns how much of its request was stored.
fn with_written_headers(protocol: Protocol, mut response: Response, written: Counts) -> Response {
    if protocol == Protocol::V2 {
        let headers = response.headers_mut();
        headers.insert(SAMPLES_WRITTEN, HeaderValue::from(written.samples));
        headers.insert(HISTOGRAMS_WRITTEN, HeaderValue::from(written.histograms));
        headers.insert(EXEMPLARS_WRITTEN, HeaderValue::from(written.exemplars));
    }
    response
}

fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}
