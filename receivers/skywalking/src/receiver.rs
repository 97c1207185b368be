//! The receiver instance: its gRPC and HTTP listeners, bound on start and drained on shutdown.

use crate::config::{DEFAULT_GRPC_ENDPOINT, DEFAULT_HTTP_ENDPOINT, SkyWalkingReceiverConfig};
use crate::grpc::SkyWalkingGrpc;
use crate::http;
use crate::ingest::Ingest;
use async_trait::async_trait;
use cormorant_core::server::ReceiverListener;
use cormorant_core::{ComponentError, ComponentId, Host, Lifecycle, Receiver, ReceiverConsumers};
use std::net::SocketAddr;
use tokio::time::Instant;

pub struct SkyWalkingReceiver {
    consumers: ReceiverConsumers,
    grpc: Option<(ReceiverListener, usize)>,
    http: Option<(ReceiverListener, usize)>,
}

impl SkyWalkingReceiver {
    pub fn new(
        id: ComponentId,
        config: &SkyWalkingReceiverConfig,
        consumers: ReceiverConsumers,
    ) -> Self {
        let protocols = &config.protocols;
        let grpc = protocols.grpc.as_ref().map(|settings| {
            let endpoint = settings.endpoint_or(DEFAULT_GRPC_ENDPOINT);
            let listener = ReceiverListener::grpc(id.clone(), endpoint, settings.tls.clone());
            (listener, settings.max_message_bytes())
        });
        let http = protocols.http.as_ref().map(|settings| {
            let endpoint = settings.endpoint_or(DEFAULT_HTTP_ENDPOINT);
            let listener = ReceiverListener::http(id.clone(), endpoint, settings.tls.clone());
            (listener, settings.max_message_bytes())
        });
        SkyWalkingReceiver {
            consumers,
            grpc,
            http,
        }
    }

    /// The bound gRPC address once started (the real port when the endpoint asked for port 0).
    pub async fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref()?.0.local_addr().await
    }

    /// The bound HTTP address once started.
    pub async fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref()?.0.local_addr().await
    }
}

#[async_trait]
impl Lifecycle for SkyWalkingReceiver {
    async fn start(&self, _host: &Host) -> Result<(), ComponentError> {
        if let Some((listener, limit)) = &self.grpc {
            listener
                .start(|_, telemetry| {
                    let ingest = Ingest::new(&self.consumers, telemetry.clone());
                    axum::Router::new().fallback_service(SkyWalkingGrpc::new(ingest, *limit))
                })
                .await?;
        }
        if let Some((listener, limit)) = &self.http {
            let started = listener
                .start(|_, telemetry| {
                    http::router(Ingest::new(&self.consumers, telemetry.clone()), *limit)
                })
                .await;
            if let Err(error) = started {
                // Do not leave the gRPC port bound when the receiver as a whole failed to start.
                if let Some((grpc, _)) = &self.grpc {
                    let _ = grpc.shutdown(Instant::now()).await;
                }
                return Err(error);
            }
        }
        Ok(())
    }

    async fn shutdown(&self, deadline: Instant) -> Result<(), ComponentError> {
        let (grpc, http) = tokio::join!(
            drain(self.grpc.as_ref(), deadline),
            drain(self.http.as_ref(), deadline)
        );
        grpc.and(http)
    }
}

async fn drain(
    listener: Option<&(ReceiverListener, usize)>,
    deadline: Instant,
) -> Result<(), ComponentError> {
    match listener {
        Some((listener, _)) => listener.shutdown(deadline).await,
        None => Ok(()),
    }
}

impl Receiver for SkyWalkingReceiver {}
