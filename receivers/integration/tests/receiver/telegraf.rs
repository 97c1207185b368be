//! InfluxDB line protocol from Telegraf on `/api/v1/telegraf`.

use super::{Recorder, Running, attributes, find, pairs, send_with, start};
use cormorant_core::pdata::metrics::{NumberDataPoint, ResourceMetrics, metric, number_data_point};
use cormorant_core::{ComponentId, Host, Lifecycle, ReceiverConsumers};
use cormorant_receiver_integration::{IntegrationReceiver, IntegrationReceiverConfig};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::sync::Arc;

const BODY: &str = "# telegraf batch\n\
cpu,cpu=cpu0,host=web\\ 1 usage_idle=97.5,usage_user=2.5 1700000000123\n\
\n\
mem,host=web\\ 1 used=1024i,available=7u,swap_on=true,note=\"ok\" 1700000000456\n";

fn gzip(body: &str) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(body.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

fn gauge_points<'a>(resources: &'a [ResourceMetrics], name: &str) -> &'a [NumberDataPoint] {
    match &find(resources, name).1.data {
        Some(metric::Data::Gauge(gauge)) => &gauge.data_points,
        other => panic!("{name} is not a gauge: {other:?}"),
    }
}

fn assert_batch(resources: &[ResourceMetrics]) {
    use number_data_point::Value::{AsDouble, AsInt};
    assert_eq!(resources.len(), 1);
    assert_eq!(
        attributes(&resources[0].resource.as_ref().unwrap().attributes),
        pairs(&[("service.name", "unknown_service")])
    );
    let names: Vec<&str> = resources[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "cpu_usage_idle",
            "cpu_usage_user",
            "mem_used",
            "mem_available",
            "mem_swap_on"
        ]
    );
    let idle = gauge_points(resources, "cpu_usage_idle");
    assert_eq!(idle.len(), 1);
    assert_eq!(idle[0].value, Some(AsDouble(97.5)));
    assert_eq!(idle[0].time_unix_nano, 1_700_000_000_123_000_000);
    assert_eq!(
        attributes(&idle[0].attributes),
        pairs(&[
            ("cpu", "cpu0"),
            ("host", "web 1"),
            ("measurement", "cpu"),
            ("field", "usage_idle"),
        ])
    );
    let used = gauge_points(resources, "mem_used");
    assert_eq!(used[0].value, Some(AsInt(1024)));
    assert_eq!(used[0].time_unix_nano, 1_700_000_000_456_000_000);
    assert_eq!(
        gauge_points(resources, "mem_available")[0].value,
        Some(AsInt(7))
    );
    assert_eq!(
        gauge_points(resources, "mem_swap_on")[0].value,
        Some(AsInt(1))
    );
}

#[tokio::test]
async fn plain_and_gzip_bodies_become_gauges() {
    let path = "/api/v1/telegraf?db=telegraf&precision=ms";
    for (encoding, body) in [(None, BODY.as_bytes().to_vec()), (Some("gzip"), gzip(BODY))] {
        let running = start(1 << 20).await;
        let mut headers = vec![("content-type", "text/plain; charset=utf-8")];
        headers.extend(encoding.map(|name| ("content-encoding", name)));
        let reply = send_with(running.addr, "POST", path, &headers, body).await;
        assert_eq!(reply.status, 204, "{encoding:?}: {}", reply.body);
        assert!(reply.raw.is_empty());
        assert_batch(&running.recorder.resources());
        running.stop().await;
    }
}

#[tokio::test]
async fn a_bad_line_gets_400_and_the_good_lines_are_delivered() {
    let running = start(1 << 20).await;
    let body = "disk,path=/ used=5i 1700000000\nmem used=oops 1700000000\nload avg=0.5\n";
    let reply = send_with(
        running.addr,
        "POST",
        "/api/v1/telegraf?precision=s",
        &[],
        body.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body.contains("line 2:") && reply.body.contains("\"oops\""),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("2 valid lines"), "{}", reply.body);
    let resources = running.recorder.resources();
    let disk = gauge_points(&resources, "disk_used");
    assert_eq!(disk[0].time_unix_nano, 1_700_000_000_000_000_000);
    let load = gauge_points(&resources, "load_avg");
    assert!(
        load[0].time_unix_nano > 1_700_000_000_000_000_000,
        "receive time"
    );
    assert_eq!(resources[0].scope_metrics[0].metrics.len(), 2);
    running.stop().await;
}

#[tokio::test]
async fn bad_precision_method_and_compression_are_refused() {
    let running = start(1 << 20).await;
    let reply = send_with(
        running.addr,
        "POST",
        "/api/v1/telegraf?precision=h",
        &[],
        b"m v=1 1".to_vec(),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("precision"), "{}", reply.body);

    let reply = send_with(running.addr, "GET", "/api/v1/telegraf", &[], Vec::new()).await;
    assert_eq!(reply.status, 405);

    let reply = send_with(
        running.addr,
        "POST",
        "/api/v1/telegraf",
        &[("content-encoding", "gzip")],
        b"m v=1 1".to_vec(),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("gzip"), "{}", reply.body);
    assert!(running.recorder.resources().is_empty());
    running.stop().await;
}

/// The sum of one self-telemetry counter of the receiver `id`.
fn counter(name: &str, id: &str) -> u64 {
    cormorant_core::telemetry::registry()
        .gather()
        .iter()
        .filter(|family| family.name() == name)
        .flat_map(|family| family.get_metric())
        .filter(|metric| {
            metric
                .get_label()
                .iter()
                .any(|label| label.name() == "receiver" && label.value() == id)
        })
        .map(|metric| metric.get_counter().get_value() as u64)
        .sum()
}

#[tokio::test]
async fn self_telemetry_counts_points_bad_lines_and_string_fields() {
    let id = "integration/telegraf-telemetry";
    let recorder = Arc::new(Recorder::default());
    let consumers = ReceiverConsumers {
        traces: None,
        metrics: Some(recorder.clone()),
        logs: None,
    };
    let config = IntegrationReceiverConfig {
        endpoint: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let receiver = IntegrationReceiver::new(ComponentId::parse(id).unwrap(), config, consumers);
    receiver.start(&Host::default()).await.unwrap();
    let addr = receiver.local_addr().await.unwrap();
    let running = Running {
        receiver,
        addr,
        recorder,
    };
    let body = "m a=1,b=2i,c=t,s=\"text\"\nm a=\n";
    let reply = send_with(addr, "POST", "/api/v1/telegraf", &[], body.into()).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(counter("otelcol_receiver_accepted_metric_points", id), 3);
    assert_eq!(counter("otelcol_receiver_refused_metric_points", id), 2);
    running.stop().await;
}
