//! The one HTTP/1.1 + h2c (or TLS) listener both receivers of this crate run; each only decides
//! which routes it serves.

use axum::Router;
use cormorant_core::server::{RunningServer, ServeOptions, bind, serve};
use cormorant_core::telemetry::ReceiverTelemetry;
use cormorant_core::tls::TlsServerSetting;
use cormorant_core::{ComponentError, ComponentId};
use std::net::SocketAddr;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Binds on start, drains on shutdown; holds the server in between.
pub(crate) struct HttpListener {
    id: ComponentId,
    endpoint: String,
    tls: Option<TlsServerSetting>,
    server: Mutex<Option<RunningServer>>,
}

impl HttpListener {
    pub(crate) fn new(id: ComponentId, endpoint: String, tls: Option<TlsServerSetting>) -> Self {
        HttpListener {
            id,
            endpoint,
            tls,
            server: Mutex::new(None),
        }
    }

    /// Binds the endpoint and serves the router `routes` builds for this receiver (its ID, for
    /// route-specific telemetry, and its otelcol telemetry).
    pub(crate) async fn start(
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
        let telemetry = ReceiverTelemetry::new(&self.id, "http");
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
        tracing::info!(receiver = %self.id, endpoint = %running.local_addr(), "receiver listening");
        *server = Some(running);
        Ok(())
    }

    pub(crate) async fn shutdown(&self, deadline: Instant) -> Result<(), ComponentError> {
        match self.server.lock().await.take() {
            Some(server) => server.shutdown(deadline).await,
            None => Ok(()),
        }
    }

    /// The bound address once started (the real port when the endpoint asked for port 0).
    pub(crate) async fn local_addr(&self) -> Option<SocketAddr> {
        self.server
            .lock()
            .await
            .as_ref()
            .map(RunningServer::local_addr)
    }
}
