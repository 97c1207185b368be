//! `metadata_keys`: one batch per tenant, each sent on with its tenant as the client.

use super::common::spans;
use super::id;
use async_trait::async_trait;
use cormorant_core::client::{self, ClientInfo};
use cormorant_core::{ConsumeError, Consumer, Host, Lifecycle, Payload, Signal};
use cormorant_processor_batch::{BatchConfig, PartitionedBatch, TOO_MANY_COMBINATIONS};
use http::{HeaderMap, HeaderValue};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Notes each batch's size and the tenant of the client it was sent within.
#[derive(Default)]
struct TenantRecorder(Mutex<Vec<(Option<String>, usize)>>);

#[async_trait]
impl Consumer for TenantRecorder {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        let tenant = client::current().and_then(|c| c.value("metadata.x-tenant"));
        self.0.lock().unwrap().push((tenant, payload.item_count()));
        Ok(())
    }
}

fn tenant(name: &str) -> ClientInfo {
    let mut headers = HeaderMap::new();
    headers.insert("x-tenant", HeaderValue::from_str(name).unwrap());
    headers.insert(
        "x-request-id",
        HeaderValue::from_static("not a batching key"),
    );
    ClientInfo::new(None, &headers, true)
}

fn config(limit: u32) -> BatchConfig {
    BatchConfig {
        send_batch_size: 4,
        timeout: Duration::from_secs(60),
        metadata_keys: vec!["X-Tenant".into()],
        metadata_cardinality_limit: limit,
        ..BatchConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn each_tenant_gets_its_own_batches_and_keeps_its_metadata() {
    let next = Arc::new(TenantRecorder::default());
    let batch = PartitionedBatch::new(id("tenants"), Signal::Traces, &config(10), next.clone());
    batch.start(&Host::default()).await.unwrap();
    for (name, ids) in [
        ("acme", 0..2),
        ("globex", 10..12),
        ("acme", 2..4),
        ("globex", 12..13),
    ] {
        client::within(tenant(name), batch.consume(spans(ids)))
            .await
            .unwrap();
    }
    batch.consume(spans(20..21)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(
        *next.0.lock().unwrap(),
        [(Some("acme".to_owned()), 4)],
        "acme reached the size trigger alone; globex's 3 spans wait"
    );

    batch
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    let mut sent = next.0.lock().unwrap().clone();
    sent.sort();
    assert_eq!(
        sent,
        [
            (None, 1),
            (Some("acme".to_owned()), 4),
            (Some("globex".to_owned()), 3)
        ],
        "shutdown flushes every tenant, the request without the key as its own"
    );
}

#[tokio::test(start_paused = true)]
async fn a_combination_past_the_limit_is_refused_for_good() {
    let next = Arc::new(TenantRecorder::default());
    let batch = PartitionedBatch::new(id("limited"), Signal::Traces, &config(1), next.clone());
    batch.start(&Host::default()).await.unwrap();
    client::within(tenant("acme"), batch.consume(spans(0..1)))
        .await
        .unwrap();
    let refused = client::within(tenant("globex"), batch.consume(spans(1..3)))
        .await
        .unwrap_err();
    assert_eq!(refused, ConsumeError::permanent(TOO_MANY_COMBINATIONS, 2));
    client::within(tenant("acme"), batch.consume(spans(3..4)))
        .await
        .unwrap();
    batch
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(*next.0.lock().unwrap(), [(Some("acme".to_owned()), 2)]);
}
