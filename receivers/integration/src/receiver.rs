//! The receiver instance: binds the listener on start and drains it on shutdown.

use crate::config::IntegrationReceiverConfig;
use crate::http;
use async_trait::async_trait;
use cormorant_core::server::ReceiverListener;
use cormorant_core::{ComponentError, ComponentId, Host, Lifecycle, Receiver, ReceiverConsumers};
use std::net::SocketAddr;
use tokio::time::Instant;

/// One `integration` receiver: a single HTTP/1.1 + h2c (or TLS) listener.
pub struct IntegrationReceiver {
    config: IntegrationReceiverConfig,
    consumers: ReceiverConsumers,
    listener: ReceiverListener,
}

impl IntegrationReceiver {
    pub fn new(
        id: ComponentId,
        config: IntegrationReceiverConfig,
        consumers: ReceiverConsumers,
    ) -> Self {
        let listener = ReceiverListener::http(id, config.endpoint.clone(), config.tls.clone());
        IntegrationReceiver {
            config,
            consumers,
            listener,
        }
    }

    /// The bound address once started (the real port when the endpoint asked for port 0).
    pub async fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().await
    }
}

#[async_trait]
impl Lifecycle for IntegrationReceiver {
    async fn start(&self, _host: &Host) -> Result<(), ComponentError> {
        self.listener
            .start(|id, telemetry| http::router(id, &self.config, &self.consumers, telemetry))
            .await
    }

    async fn shutdown(&self, deadline: Instant) -> Result<(), ComponentError> {
        self.listener.shutdown(deadline).await
    }
}

impl Receiver for IntegrationReceiver {}
