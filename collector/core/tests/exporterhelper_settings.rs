//! `timeout`, `retry_on_failure` and `sending_queue` as an exporter config declares them.

use cormorant_confmap::{decode, parse_yaml};
use cormorant_core::exporterhelper::{
    BatchSetting, QueueSetting, QueueSizer, RetrySetting, TimeoutSetting,
};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExampleExporterConfig {
    #[serde(default)]
    timeout: TimeoutSetting,
    #[serde(default)]
    retry_on_failure: RetrySetting,
    #[serde(default)]
    sending_queue: QueueSetting,
}

fn parse(yaml: &str) -> ExampleExporterConfig {
    decode(&parse_yaml(yaml).unwrap()).unwrap()
}

fn decode_error(yaml: &str) -> String {
    decode::<ExampleExporterConfig>(&parse_yaml(yaml).unwrap())
        .unwrap_err()
        .to_string()
}

#[test]
fn defaults_match_otelcol() {
    let config = parse("{}");
    assert_eq!(config.timeout, TimeoutSetting(Duration::from_secs(5)));
    let retry = config.retry_on_failure;
    assert!(retry.enabled);
    assert_eq!(retry.initial_interval, Duration::from_secs(5));
    assert_eq!(retry.max_interval, Duration::from_secs(30));
    assert_eq!(retry.max_elapsed_time, Duration::from_secs(300));
    assert_eq!(retry.multiplier, 1.5);
    assert_eq!(retry.randomization_factor, 0.5);
    let queue = config.sending_queue;
    assert!(queue.enabled);
    assert_eq!(queue.num_consumers, 10);
    assert_eq!(queue.queue_size, 1000);
    assert_eq!(queue.sizer, QueueSizer::Requests);
    assert!(!queue.block_on_overflow && !queue.wait_for_result);
    assert!(queue.validate().is_ok());
}

#[test]
fn explicit_values_are_read() {
    let config = parse(
        "timeout: 0\n\
         retry_on_failure: {initial_interval: 250ms, max_elapsed_time: 0, multiplier: 2}\n\
         sending_queue: {queue_size: 5000, sizer: items, block_on_overflow: true}\n",
    );
    assert_eq!(config.timeout.limit(), None);
    assert_eq!(
        config.retry_on_failure.initial_interval,
        Duration::from_millis(250)
    );
    assert_eq!(config.retry_on_failure.max_elapsed_time, Duration::ZERO);
    assert_eq!(config.retry_on_failure.multiplier, 2.0);
    assert_eq!(config.sending_queue.queue_size, 5000);
    assert_eq!(config.sending_queue.sizer, QueueSizer::Items);
    assert!(config.sending_queue.block_on_overflow);
    assert_eq!(
        parse("timeout: 10s").timeout.limit(),
        Some(Duration::from_secs(10))
    );
}

#[test]
fn unknown_keys_are_rejected_with_their_path() {
    assert_eq!(
        decode_error("retry_on_failure: {max_intervall: 1s}"),
        "'retry_on_failure' has invalid keys: max_intervall"
    );
    assert_eq!(
        decode_error("sending_queue: {queue_sise: 10}"),
        "'sending_queue' has invalid keys: queue_sise"
    );
    assert!(decode_error("timeout: soon").contains("invalid duration"));
}

#[test]
fn unsupported_and_invalid_settings_are_explained() {
    let queue = |yaml: &str| {
        parse(&format!("sending_queue: {yaml}"))
            .sending_queue
            .validate()
            .unwrap_err()
            .to_string()
    };
    assert!(queue("{storage: file_storage/q}").contains("persistent queues are not supported yet"));
    assert!(queue("{sizer: bytes}").contains("bytes is not supported"));
    assert!(queue("{batch: {sizer: requests}}").contains("sizer: requests is not supported"));
    assert!(queue("{batch: {sizer: bytes}}").contains("sizer: bytes is not supported"));
    assert!(
        queue("{batch: {partition: {metadata_keys: [tenant]}}}")
            .contains("partition is not supported yet")
    );
    assert!(queue("{batch: {flush_timeout: 0s}}").contains("flush_timeout must be positive"));
    assert!(
        queue("{batch: {min_size: 10, max_size: 5}}")
            .contains("max_size (5) must be 0 or at least min_size (10)")
    );
    assert!(queue("{batch: {}, wait_for_result: true}").contains("wait_for_result"));
    assert!(queue("{batch: {}, block_on_overflow: true}").contains("block_on_overflow"));
    assert!(queue("{enabled: false, batch: {}}").contains("needs the sending queue"));
    assert!(queue("{num_consumers: 0}").contains("num_consumers must be positive"));
    assert!(queue("{queue_size: 0}").contains("queue_size must be positive"));
    assert!(
        parse("sending_queue: {enabled: false, storage: file_storage/q}")
            .sending_queue
            .validate()
            .is_ok()
    );

    let retry = |yaml: &str| {
        parse(&format!("retry_on_failure: {yaml}"))
            .retry_on_failure
            .validate()
            .unwrap_err()
            .to_string()
    };
    assert!(retry("{randomization_factor: 1.5}").contains("within [0, 1]"));
    assert!(retry("{multiplier: 0}").contains("positive"));
}

#[test]
fn batch_keys_and_defaults() {
    let config = parse("sending_queue: {batch: {}}");
    let batch = config.sending_queue.batch.clone().unwrap();
    assert_eq!(batch, BatchSetting::default());
    assert_eq!(batch.flush_timeout, Duration::from_millis(200));
    assert_eq!(batch.min_size, 8192);
    assert_eq!(batch.max_size, 0);
    assert_eq!(batch.sizer, QueueSizer::Items);
    assert!(config.sending_queue.validate().is_ok());
    assert!(parse("sending_queue: {}").sending_queue.batch.is_none());

    let config = parse(
        "sending_queue: {batch: {min_size: 5000, max_size: 6000, flush_timeout: 5s, sizer: items}}",
    );
    let batch = config.sending_queue.batch.clone().unwrap();
    assert_eq!(batch.min_size, 5000);
    assert_eq!(batch.max_size, 6000);
    assert_eq!(batch.flush_timeout, Duration::from_secs(5));
    assert!(config.sending_queue.validate().is_ok());

    assert!(decode_error("sending_queue: {batch: {min_items: 5}}").contains("min_items"));
}
