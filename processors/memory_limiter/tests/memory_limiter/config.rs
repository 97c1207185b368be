//! Settings decoding, otelcol's validation messages, limit arithmetic and the factory.

use super::{MIB, Sink};
use cormorant_core::config::ConfValue;
use cormorant_core::{ComponentId, CreateSettings, Signal, Stability, parse_config};
use cormorant_processor_memory_limiter::{Limits, MemoryLimiterConfig, factory};
use std::sync::Arc;
use std::time::Duration;

fn conf(entries: &[(&str, ConfValue)]) -> ConfValue {
    let mut value = ConfValue::empty_map();
    let map = value.as_map_mut().unwrap();
    for (key, entry) in entries {
        map.insert(key.to_string(), entry.clone());
    }
    value
}

fn text(value: &str) -> ConfValue {
    ConfValue::String(value.into())
}

fn error_of(entries: &[(&str, ConfValue)]) -> String {
    parse_config::<MemoryLimiterConfig>(&conf(entries))
        .unwrap_err()
        .to_string()
}

#[test]
fn reads_otelcol_keys_including_the_gc_intervals() {
    let config: MemoryLimiterConfig = parse_config(&conf(&[
        ("check_interval", text("1s")),
        ("limit_mib", ConfValue::Int(4000)),
        ("spike_limit_mib", ConfValue::Int(800)),
        ("min_gc_interval_when_soft_limited", text("10s")),
        ("max_gc_interval_when_soft_limited", text("30s")),
        ("min_gc_interval_when_hard_limited", text("0s")),
        ("max_gc_interval_when_hard_limited", text("30s")),
    ]))
    .unwrap();
    assert_eq!(config.check_interval, Duration::from_secs(1));
    assert_eq!(config.limit_mib, 4000);
    assert_eq!(config.spike_limit_mib, 800);
    assert_eq!(
        config.min_gc_interval_when_soft_limited,
        Duration::from_secs(10)
    );
}

#[test]
fn validation_errors_use_otelcol_wording() {
    assert_eq!(
        error_of(&[("limit_mib", ConfValue::Int(100))]),
        "checkInterval must be greater than zero"
    );
    assert_eq!(
        error_of(&[("check_interval", text("1s"))]),
        "memLimitMiB or memLimitPercentage must be greater than zero"
    );
    assert_eq!(
        error_of(&[
            ("check_interval", text("1s")),
            ("limit_mib", ConfValue::Int(100)),
            ("spike_limit_mib", ConfValue::Int(100)),
        ]),
        "memSpikeLimitMiB must be smaller than memLimitMiB"
    );
    assert_eq!(
        error_of(&[
            ("check_interval", text("1s")),
            ("limit_percentage", ConfValue::Int(50)),
            ("spike_limit_percentage", ConfValue::Int(60)),
        ]),
        "memSpikeLimitMiB must be smaller than memLimitMiB"
    );
    assert!(
        error_of(&[
            ("check_interval", text("1s")),
            ("limit_percentage", ConfValue::Int(150)),
        ])
        .contains("less than or equal to hundred")
    );
    assert_eq!(
        error_of(&[("limit_mb", ConfValue::Int(1))]),
        "'' has invalid keys: limit_mb"
    );
}

#[test]
fn the_soft_limit_leaves_the_spike_below_the_hard_limit() {
    let mut config = MemoryLimiterConfig {
        check_interval: Duration::from_secs(1),
        limit_mib: 100,
        limit_percentage: 10,
        ..MemoryLimiterConfig::default()
    };
    let unused_total = || Err(std::io::Error::other("limit_mib wins; total not needed"));
    assert_eq!(
        config.limits(unused_total).unwrap(),
        Limits {
            hard_bytes: 100 * MIB,
            soft_bytes: 80 * MIB,
        },
        "the spike defaults to 20 % of the limit"
    );
    config.spike_limit_mib = 30;
    assert_eq!(config.limits(unused_total).unwrap().soft_bytes, 70 * MIB);
}

#[test]
fn factory_describes_validates_and_builds() {
    let factory = factory();
    let meta = factory.meta();
    assert_eq!(meta.ty, "memory_limiter");
    assert_eq!(meta.signals, &Signal::ALL);
    assert_eq!(meta.stability, Stability::Beta);

    let good = conf(&[
        ("check_interval", text("1s")),
        ("limit_percentage", ConfValue::Int(80)),
        ("spike_limit_percentage", ConfValue::Int(20)),
    ]);
    assert!(factory.validate(&good).is_ok());
    assert!(factory.validate(&ConfValue::empty_map()).is_err());

    let settings = CreateSettings {
        id: ComponentId::parse("memory_limiter").unwrap(),
    };
    assert!(
        factory
            .create(
                settings.clone(),
                &good,
                Signal::Logs,
                Arc::new(Sink::default())
            )
            .is_ok()
    );
    let bad = factory.create(
        settings,
        &ConfValue::empty_map(),
        Signal::Logs,
        Arc::new(Sink::default()),
    );
    assert!(bad.is_err());
}
