//! Settings decoding and validation, and the factory the collector registers.

use super::common::{Recorder, spans};
use cormorant_core::config::ConfValue;
use cormorant_core::pdata::logs::{LogRecord, ResourceLogs, ScopeLogs};
use cormorant_core::{
    ComponentId, ConsumeError, CreateSettings, Payload, Signal, Stability, parse_config,
};
use cormorant_processor_batch::{BatchConfig, factory};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

fn conf(entries: &[(&str, ConfValue)]) -> ConfValue {
    let mut value = ConfValue::empty_map();
    let map = value.as_map_mut().unwrap();
    for (key, entry) in entries {
        map.insert(key.to_string(), entry.clone());
    }
    value
}

#[test]
fn defaults_match_otelcol() {
    let config: BatchConfig = parse_config(&ConfValue::empty_map()).unwrap();
    assert_eq!(config.send_batch_size, 8192);
    assert_eq!(config.timeout, Duration::from_millis(200));
    assert_eq!(config.send_batch_max_size, 0);
    assert_eq!(config.max_batch(), None);
    assert_eq!(config.metadata_cardinality_limit, 1000);
    assert_eq!(config.pending_limit(), 2 * 8192);
}

#[test]
fn reads_otelcol_keys() {
    let config: BatchConfig = parse_config(&conf(&[
        ("send_batch_size", ConfValue::Int(100)),
        ("timeout", ConfValue::String("1s".into())),
        ("send_batch_max_size", ConfValue::Int(20000)),
        ("metadata_cardinality_limit", ConfValue::Int(10)),
    ]))
    .unwrap();
    assert_eq!(config.send_batch_size, 100);
    assert_eq!(config.timeout, Duration::from_secs(1));
    assert_eq!(config.max_batch(), Some(20000));
    assert_eq!(config.pending_limit(), 40000);
}

#[test]
fn max_size_below_size_is_rejected() {
    let err = parse_config::<BatchConfig>(&conf(&[
        ("send_batch_size", ConfValue::Int(100)),
        ("send_batch_max_size", ConfValue::Int(50)),
    ]))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "send_batch_max_size must be greater or equal to send_batch_size"
    );
}

#[test]
fn unknown_keys_and_bad_durations_are_rejected() {
    let err =
        parse_config::<BatchConfig>(&conf(&[("send_batch_sise", ConfValue::Int(1))])).unwrap_err();
    assert_eq!(err.to_string(), "'' has invalid keys: send_batch_sise");
    let err = parse_config::<BatchConfig>(&conf(&[("timeout", ConfValue::String("5".into()))]))
        .unwrap_err();
    assert!(err.to_string().contains("missing unit"), "{err}");
}

#[test]
fn factory_describes_the_component() {
    let factory = factory();
    let meta = factory.meta();
    assert_eq!(meta.ty, "batch");
    assert_eq!(meta.signals, &Signal::ALL);
    assert_eq!(meta.stability, Stability::Beta);
    assert!(factory.validate(&ConfValue::empty_map()).is_ok());
    assert!(
        factory
            .validate(&conf(&[("send_batch_max_size", ConfValue::Int(1))]))
            .is_err()
    );
}

#[tokio::test]
async fn factory_builds_a_working_processor() {
    let recorder = Recorder::new();
    let processor = factory()
        .create(
            CreateSettings {
                id: ComponentId::parse("batch/from_factory").unwrap(),
            },
            &conf(&[("timeout", ConfValue::String("1h".into()))]),
            Signal::Traces,
            Arc::new(recorder.clone()),
        )
        .unwrap();
    processor
        .start(&cormorant_core::Host::default())
        .await
        .unwrap();

    processor.consume(spans(0..4)).await.unwrap();
    let logs = Payload::Logs(vec![ResourceLogs {
        scope_logs: vec![ScopeLogs {
            log_records: vec![LogRecord::default()],
            ..Default::default()
        }],
        ..Default::default()
    }]);
    match processor.consume(logs).await.unwrap_err() {
        ConsumeError::Permanent {
            message,
            rejected_items,
        } => {
            assert_eq!(rejected_items, 1);
            assert!(message.contains("handles traces, not logs"), "{message}");
        }
        other => panic!("a payload of another signal must be rejected, got {other:?}"),
    }

    processor
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(recorder.all_ids(), (0..4).collect::<Vec<_>>());
    let after = processor.consume(spans(4..5)).await.unwrap_err();
    assert!(matches!(after, ConsumeError::Refused { .. }));
}
