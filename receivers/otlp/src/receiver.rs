//! The receiver instance: binds its listeners on start and drains them on shutdown.

use crate::config::OtlpReceiverConfig;
use crate::{grpc, http};
use async_trait::async_trait;
use cormorant_core::server::{RunningServer, ServeOptions, bind, serve};
use cormorant_core::telemetry::ReceiverTelemetry;
use cormorant_core::tls::TlsServerSetting;
use cormorant_core::{ComponentError, ComponentId, Host, Lifecycle, Receiver, ReceiverConsumers};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// One `otlp` receiver: a gRPC and/or an HTTP listener feeding every pipeline that names it.
pub struct OtlpReceiver {
    id: ComponentId,
    config: OtlpReceiverConfig,
    consumers: ReceiverConsumers,
    servers: Mutex<Servers>,
}

#[derive(Default)]
struct Servers {
    grpc: Option<RunningServer>,
    http: Option<RunningServer>,
}

impl OtlpReceiver {
    pub fn new(id: ComponentId, config: OtlpReceiverConfig, consumers: ReceiverConsumers) -> Self {
        OtlpReceiver {
            id,
            config,
            consumers,
            servers: Mutex::new(Servers::default()),
        }
    }

    /// The bound gRPC address once started (the real port when the endpoint asked for port 0).
    pub async fn grpc_addr(&self) -> Option<SocketAddr> {
        self.servers
            .lock()
            .await
            .grpc
            .as_ref()
            .map(RunningServer::local_addr)
    }

    /// The bound HTTP address once started.
    pub async fn http_addr(&self) -> Option<SocketAddr> {
        self.servers
            .lock()
            .await
            .http
            .as_ref()
            .map(RunningServer::local_addr)
    }

    async fn start_grpc(&self) -> Result<Option<RunningServer>, ComponentError> {
        let Some(config) = &self.config.protocols.grpc else {
            return Ok(None);
        };
        let telemetry = ReceiverTelemetry::new(&self.id, "grpc");
        let router = grpc::router(config, &self.consumers, &telemetry);
        let options = ServeOptions {
            tls: server_tls(config.tls.as_ref(), "grpc")?,
            ..grpc::serve_options(config)
        };
        listen(&config.endpoint, router, options).await.map(Some)
    }

    async fn start_http(&self) -> Result<Option<RunningServer>, ComponentError> {
        let Some(config) = &self.config.protocols.http else {
            return Ok(None);
        };
        let telemetry = ReceiverTelemetry::new(&self.id, "http");
        let router = http::router(config, &self.consumers, &telemetry)
            .map_err(|e| ComponentError::Failed(e.to_string()))?;
        let options = ServeOptions {
            tls: server_tls(config.tls.as_ref(), "http")?,
            ..ServeOptions::default()
        };
        listen(&config.endpoint, router, options).await.map(Some)
    }
}

fn server_tls(
    setting: Option<&TlsServerSetting>,
    protocol: &str,
) -> Result<Option<Arc<rustls::ServerConfig>>, ComponentError> {
    setting
        .map(|tls| {
            tls.server_config()
                .map_err(|e| ComponentError::Failed(format!("protocols.{protocol}.tls: {e}")))
        })
        .transpose()
}

async fn listen(
    endpoint: &str,
    router: axum::Router,
    options: ServeOptions,
) -> Result<RunningServer, ComponentError> {
    let listener = bind(endpoint).await?;
    serve(listener, router, options).map_err(|source| ComponentError::Listen {
        endpoint: endpoint.to_string(),
        source,
    })
}

#[async_trait]
impl Lifecycle for OtlpReceiver {
    async fn start(&self, _host: &Host) -> Result<(), ComponentError> {
        let mut servers = self.servers.lock().await;
        if servers.grpc.is_some() || servers.http.is_some() {
            return Err(ComponentError::Failed(format!(
                "{} already started",
                self.id
            )));
        }
        let grpc = self.start_grpc().await?;
        let http = match self.start_http().await {
            Ok(http) => http,
            Err(error) => {
                // Do not leave the gRPC port bound when the receiver as a whole failed to start.
                if let Some(grpc) = grpc {
                    let _ = grpc.shutdown(Instant::now()).await;
                }
                return Err(error);
            }
        };
        if let Some(server) = &grpc {
            tracing::info!(receiver = %self.id, endpoint = %server.local_addr(), "OTLP/gRPC listening");
        }
        if let Some(server) = &http {
            tracing::info!(receiver = %self.id, endpoint = %server.local_addr(), "OTLP/HTTP listening");
        }
        *servers = Servers { grpc, http };
        Ok(())
    }

    async fn shutdown(&self, deadline: Instant) -> Result<(), ComponentError> {
        let Servers { grpc, http } = std::mem::take(&mut *self.servers.lock().await);
        let drain = |server: Option<RunningServer>| async move {
            match server {
                Some(server) => server.shutdown(deadline).await,
                None => Ok(()),
            }
        };
        let (grpc, http) = tokio::join!(drain(grpc), drain(http));
        grpc.and(http)
    }
}

impl Receiver for OtlpReceiver {}
