//! Config decoding and validation, through the factory as the collector uses it.

use crate::common::{Recorder, conf, consumers};
use cormorant_core::{ComponentError, ComponentId, CreateSettings, Host, Signal, Stability};
use cormorant_receiver_otlp::{OtlpReceiverConfig, factory};
use serde_json::json;

fn parse(value: serde_json::Value) -> Result<OtlpReceiverConfig, String> {
    cormorant_core::parse_config(&conf(value)).map_err(|e| e.to_string())
}

#[test]
fn factory_describes_a_stable_receiver_for_every_signal() {
    let meta = factory().meta();
    assert_eq!(meta.ty, "otlp");
    assert_eq!(meta.signals, &Signal::ALL);
    assert_eq!(meta.stability, Stability::Stable);
}

#[test]
fn a_protocol_is_required() {
    let expected = "must specify at least one protocol when using the OTLP receiver";
    assert_eq!(parse(json!({})).unwrap_err(), expected);
    assert_eq!(parse(json!(null)).unwrap_err(), expected);
    assert_eq!(parse(json!({"protocols": {}})).unwrap_err(), expected);
    assert!(
        factory()
            .validate(&conf(json!({"protocols": null})))
            .is_err()
    );
}

#[test]
fn bare_protocol_keys_enable_defaults() {
    let config = parse(json!({"protocols": {"grpc": null, "http": null}})).unwrap();
    let grpc = config.protocols.grpc.unwrap();
    assert_eq!(grpc.endpoint, "localhost:4317");
    assert_eq!(grpc.max_message_bytes(), 4 * 1024 * 1024);
    let http = config.protocols.http.unwrap();
    assert_eq!(http.endpoint, "localhost:4318");
    assert_eq!(http.max_request_body_size, 20_971_520);
    assert_eq!(
        (
            http.traces_url_path.as_str(),
            http.metrics_url_path.as_str(),
            http.logs_url_path.as_str()
        ),
        ("/v1/traces", "/v1/metrics", "/v1/logs")
    );

    let only_http = parse(json!({"protocols": {"http": {}}})).unwrap();
    assert!(only_http.protocols.grpc.is_none());
}

#[test]
fn full_otelcol_config_is_accepted() {
    let config = parse(json!({"protocols": {
        "grpc": {
            "endpoint": "0.0.0.0:4317",
            "transport": "tcp",
            "max_recv_msg_size_mib": 16,
            "max_concurrent_streams": 100,
            "read_buffer_size": 524288,
            "write_buffer_size": 0,
            "include_metadata": true,
            "keepalive": {
                "server_parameters": {"max_connection_idle": "11s", "max_connection_age": "12s",
                    "max_connection_age_grace": "13s", "time": "30s", "timeout": "5s"},
                "enforcement_policy": {"min_time": "10s", "permit_without_stream": true}
            },
            "tls": {"cert_file": "/etc/cert.pem", "key_file": "/etc/key.pem",
                "client_ca_file": "/etc/ca.pem", "min_version": "1.3", "reload_interval": "1h"}
        },
        "http": {
            "endpoint": "0.0.0.0:4318",
            "traces_url_path": "/otlp/v1/traces",
            "cors": {"allowed_origins": ["http://localhost:*"], "allowed_headers": ["*"], "max_age": 7200},
            "response_headers": {"X-Served-By": "cormorant"},
            "compression_algorithms": ["", "gzip", "zstd"],
            "include_metadata": true,
            "read_header_timeout": "10s",
            "idle_timeout": "1m"
        }
    }}))
    .unwrap();
    let grpc = config.protocols.grpc.unwrap();
    assert_eq!(grpc.max_message_bytes(), 16 * 1024 * 1024);
    let keepalive = grpc.keepalive.unwrap().server_parameters.unwrap();
    assert_eq!(keepalive.time, Some(std::time::Duration::from_secs(30)));
    assert_eq!(grpc.tls.unwrap().min_version.as_deref(), Some("1.3"));
}

#[test]
fn mistakes_are_reported_with_their_key() {
    let error = parse(json!({"protocols": {"grpc": {"endpont": "x:1"}}})).unwrap_err();
    assert!(error.contains("endpont"), "{error}");
    let error = parse(json!({"protocols": {"http": {"auth": {"authenticator": "basicauth"}}}}))
        .unwrap_err();
    assert_eq!(
        error,
        "protocols.http.auth: auth extensions are not supported yet"
    );
    let error = parse(json!({"protocols": {"grpc": {"transport": "unix"}}})).unwrap_err();
    assert!(error.contains("unix"), "{error}");
    let error = parse(json!({"protocols": {"http": {"endpoint": "localhost"}}})).unwrap_err();
    assert!(error.contains("localhost"), "{error}");
    let error =
        parse(json!({"protocols": {"http": {"compression_algorithms": ["brotli"]}}})).unwrap_err();
    assert!(error.contains("brotli"), "{error}");
    let error = parse(json!({"protocols": {"grpc": {"tls": {"cert_fil": "x"}}}})).unwrap_err();
    assert!(error.contains("cert_fil"), "{error}");
}

#[tokio::test]
async fn start_fails_with_listen_error_naming_a_busy_endpoint() {
    let busy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = busy.local_addr().unwrap().to_string();
    let recorder = Recorder::new();
    let receiver = factory()
        .create(
            CreateSettings {
                id: ComponentId::parse("otlp/busy").unwrap(),
            },
            &conf(json!({"protocols": {
                "grpc": {"endpoint": "127.0.0.1:0"},
                "http": {"endpoint": endpoint}
            }})),
            consumers(&recorder, &["traces"]),
        )
        .unwrap();
    let error = receiver.start(&Host::default()).await.unwrap_err();
    assert!(matches!(error, ComponentError::Listen { .. }), "{error}");
    assert!(error.to_string().contains(&endpoint), "{error}");
}

#[tokio::test]
async fn start_reports_unreadable_tls_files() {
    let recorder = Recorder::new();
    let receiver = factory()
        .create(
            CreateSettings {
                id: ComponentId::parse("otlp/tls-missing").unwrap(),
            },
            &conf(
                json!({"protocols": {"grpc": {"endpoint": "127.0.0.1:0", "tls": {
                    "cert_file": "/nonexistent/server.pem", "key_file": "/nonexistent/server.key"
                }}}}),
            ),
            consumers(&recorder, &["traces"]),
        )
        .unwrap();
    let error = receiver.start(&Host::default()).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("protocols.grpc.tls"), "{message}");
    assert!(message.contains("/nonexistent/server.pem"), "{message}");
}
