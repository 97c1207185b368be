//! The `prometheusremotewrite` receiver: the shared remote_write route on its configured path only.

use super::{Recorder, attributes, find, pairs, series, write_to};
use cormorant_core::config::ConfValue;
use cormorant_core::{ComponentId, Host, Lifecycle, ReceiverConsumers};
use cormorant_receiver_integration::remote_write::WriteRequest;
use cormorant_receiver_integration::{
    PrometheusRemoteWriteConfig, PrometheusRemoteWriteReceiver, prometheusremotewrite_factory,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

async fn exchange(path: Option<&str>, posts: &[&str]) -> (Vec<u16>, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let consumers = ReceiverConsumers {
        traces: None,
        metrics: Some(recorder.clone()),
        logs: None,
    };
    let mut config = PrometheusRemoteWriteConfig {
        endpoint: "127.0.0.1:0".into(),
        ..Default::default()
    };
    if let Some(path) = path {
        config.path = path.to_string();
    }
    let receiver = PrometheusRemoteWriteReceiver::new(
        ComponentId::parse("prometheusremotewrite").unwrap(),
        config,
        consumers,
    );
    receiver.start(&Host::default()).await.unwrap();
    let addr = receiver.local_addr().await.unwrap();
    let request = WriteRequest {
        timeseries: vec![series(
            &[("__name__", "up"), ("instance", "h:9100"), ("job", "node")],
            &[(1.0, 1_700_000_000_000)],
        )],
        metadata: Vec::new(),
    };
    let mut statuses = Vec::new();
    for post in posts {
        statuses.push(write_to(addr, post, &request).await.status);
    }
    receiver
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    (statuses, recorder)
}

fn assert_up_received(recorder: &Recorder, times: usize) {
    let resources = recorder.resources();
    assert_eq!(resources.len(), times);
    let (resource, metric) = find(&resources, "up");
    let resource_attributes = attributes(&resource.resource.as_ref().unwrap().attributes);
    let expected = pairs(&[("service.name", "node"), ("service.instance.id", "h:9100")]);
    for attribute in &expected {
        assert!(
            resource_attributes.contains(attribute),
            "{resource_attributes:?}"
        );
    }
    assert_eq!(metric.name, "up");
}

#[tokio::test]
async fn default_path_gets_204_and_other_paths_404() {
    let (statuses, recorder) = exchange(
        None,
        &["/api/v1/write", "/api/v1/prometheus", "/v1/metrics"],
    )
    .await;
    assert_eq!(statuses, [204, 404, 404]);
    assert_up_received(&recorder, 1);
}

#[tokio::test]
async fn custom_path_replaces_the_default() {
    let (statuses, recorder) = exchange(
        Some("/prometheus/write"),
        &["/prometheus/write", "/api/v1/write"],
    )
    .await;
    assert_eq!(statuses, [204, 404]);
    assert_up_received(&recorder, 1);
}

#[test]
fn config_defaults_unknown_keys_and_bad_paths() {
    let factory = prometheusremotewrite_factory();
    assert_eq!(factory.meta().ty, "prometheusremotewrite");
    let map = |key: &str, value: &str| {
        ConfValue::Map(
            [(key.to_string(), ConfValue::String(value.into()))]
                .into_iter()
                .collect(),
        )
    };
    assert!(factory.validate(&ConfValue::Null).is_ok());
    assert!(factory.validate(&map("path", "/custom")).is_ok());
    assert!(factory.validate(&map("pth", "/custom")).is_err());
    assert!(factory.validate(&map("service_name", "x")).is_err());
    assert!(factory.validate(&map("path", "api/v1/write")).is_err());
    assert!(factory.validate(&map("path", "/{name}")).is_err());
    let defaults = PrometheusRemoteWriteConfig::default();
    assert_eq!(defaults.endpoint, "localhost:9090");
    assert_eq!(defaults.path, "/api/v1/write");
    assert_eq!(defaults.max_request_body_size, 20 * 1024 * 1024);
    assert_eq!(defaults.tls, None);
}
