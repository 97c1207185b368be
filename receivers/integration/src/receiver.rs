//! The receiver instance: binds the listener on start and drains it on shutdown.

use crate::config::IntegrationReceiverConfig;
use crate::http;
use async_trait::async_trait;
use cormorant_core::server::{RunningServer, ServeOptions, bind, serve};
use cormorant_core::telemetry::ReceiverTelemetry;
use cormorant_core::{ComponentError, ComponentId, Host, Lifecycle, Receiver, ReceiverConsumers};
use std::net::SocketAddr;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// One `integration` receiver: a single HTTP/1.1 + h2c (or TLS) listener.
pub struct IntegrationReceiver {
    id: ComponentId,
    config: IntegrationReceiverConfig,
    consumers: ReceiverConsumers,
    server: Mutex<Option<RunningServer>>,
}

impl IntegrationReceiver {
    pub fn new(
        id: ComponentId,
        config: IntegrationReceiverConfig,
        consumers: ReceiverConsumers,
    ) -> Self {
        IntegrationReceiver {
            id,
            config,
            consumers,
            server: Mutex::new(None),
        }
    }

    /// The bound address once started (the real port when the endpoint asked for port 0).
    pub async fn local_addr(&self) -> Option<SocketAddr> {
        self.server
            .lock()
            .await
            .as_ref()
            .map(RunningServer::local_addr)
    }
}

#[async_trait]
impl Lifecycle for IntegrationReceiver {
    async fn start(&self, _host: &Host) -> Result<(), ComponentError> {
        let mut server = self.server.lock().await;
        if server.is_some() {
            return Err(ComponentError::Failed(format!(
                "{} already started",
                self.id
            )));
        }
        let tls = self
            .config
            .tls
            .as_ref()
            .map(|tls| {
                tls.server_config()
                    .map_err(|e| ComponentError::Failed(format!("tls: {e}")))
            })
            .transpose()?;
        let telemetry = ReceiverTelemetry::new(&self.id, "http");
        let router = http::router(&self.config, &self.consumers, &telemetry);
        let endpoint = &self.config.endpoint;
        let listener = bind(endpoint).await?;
        let options = ServeOptions {
            tls,
            ..ServeOptions::default()
        };
        let running =
            serve(listener, router, options).map_err(|source| ComponentError::Listen {
                endpoint: endpoint.clone(),
                source,
            })?;
        tracing::info!(receiver = %self.id, endpoint = %running.local_addr(), "integration receiver listening");
        *server = Some(running);
        Ok(())
    }

    async fn shutdown(&self, deadline: Instant) -> Result<(), ComponentError> {
        match self.server.lock().await.take() {
            Some(server) => server.shutdown(deadline).await,
            None => Ok(()),
        }
    }
}

impl Receiver for IntegrationReceiver {}
