//! A receiver's listener across its lifecycle: bound with its TLS settings on start, serving the
//! routes the receiver builds, drained on shutdown. Receivers only decide which routes they
//! serve; every one binds, logs, reports errors and shuts down the same way.

use super::listener::{RunningServer, ServeOptions, bind, serve};
use crate::component::{ComponentError, ComponentId};
use crate::telemetry::ReceiverTelemetry;
use crate::tls::TlsServerSetting;
use axum::Router;
use std::net::SocketAddr;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Binds on start, drains on shutdown; holds the server in between.
pub struct ReceiverListener {
    id: ComponentId,
    endpoint: String,
    /// `http` or `grpc`: the `transport` label of the receiver's self-metrics.
    transport: &'static str,
    tls: Option<TlsServerSetting>,
    server: Mutex<Option<RunningServer>>,
}

impl ReceiverListener {
    /// An HTTP listener (HTTP/1.1 and h2c, or TLS with ALPN).
    pub fn http(id: ComponentId, endpoint: String, tls: Option<TlsServerSetting>) -> Self {
        Self::new(id, endpoint, "http", tls)
    }

    /// A gRPC listener: the same server, counted under transport `grpc`.
    pub fn grpc(id: ComponentId, endpoint: String, tls: Option<TlsServerSetting>) -> Self {
        Self::new(id, endpoint, "grpc", tls)
    }

    fn new(
        id: ComponentId,
        endpoint: String,
        transport: &'static str,
        tls: Option<TlsServerSetting>,
    ) -> Self {
        ReceiverListener {
            id,
            endpoint,
            transport,
            tls,
            server: Mutex::new(None),
        }
    }

    /// Binds the endpoint and serves the router `routes` builds for this receiver (its ID, for
    /// route-specific telemetry, and its otelcol telemetry).
    pub async fn start(
        &self,
        routes: impl FnOnce(&ComponentId, &ReceiverTelemetry) -> Router,
    ) -> Result<(), ComponentError> {
        let mut server = self.server.lock().await;
        if server.is_some() {
            return Err(ComponentError::Failed(format!(
                "{} already started",
                self.id
            )));
        }
        let tls = self
            .tls
            .as_ref()
            .map(|tls| {
                tls.server_config()
                    .map_err(|e| ComponentError::Failed(format!("tls: {e}")))
            })
            .transpose()?;
        let telemetry = ReceiverTelemetry::new(&self.id, self.transport);
        let router = routes(&self.id, &telemetry);
        let listener = bind(&self.endpoint).await?;
        let options = ServeOptions {
            tls,
            ..ServeOptions::default()
        };
        let running =
            serve(listener, router, options).map_err(|source| ComponentError::Listen {
                endpoint: self.endpoint.clone(),
                source,
            })?;
        tracing::info!(
            receiver = %self.id,
            transport = self.transport,
            endpoint = %running.local_addr(),
            "receiver listening"
        );
        *server = Some(running);
        Ok(())
    }

    pub async fn shutdown(&self, deadline: Instant) -> Result<(), ComponentError> {
        match self.server.lock().await.take() {
            Some(server) => server.shutdown(deadline).await,
            None => Ok(()),
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
