//! The health_check extension: an HTTP(S) listener that answers with the collector's readiness.

use crate::config::HealthCheckConfig;
use crate::status::Responder;
use async_trait::async_trait;
use cormorant_core::{ComponentError, ComponentId, Extension, Host, Lifecycle};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// How long a client may take to finish the TLS handshake before it is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// A started server: where it listens and how to stop it.
struct Running {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Serves `GET <path>` with 200 while the collector is ready and 503 otherwise, for load balancers
/// and Kubernetes probes.
pub struct HealthCheckExtension {
    id: ComponentId,
    config: HealthCheckConfig,
    running: Mutex<Option<Running>>,
}

impl HealthCheckExtension {
    pub fn new(id: ComponentId, config: HealthCheckConfig) -> Self {
        HealthCheckExtension {
            id,
            config,
            running: Mutex::new(None),
        }
    }

    /// The address the server listens on once started (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|running| running.local_addr)
    }

    fn tls_acceptor(&self) -> Result<Option<TlsAcceptor>, ComponentError> {
        let Some(tls) = &self.config.tls else {
            return Ok(None);
        };
        let server_config = tls.server_config().map_err(|err| {
            ComponentError::Failed(format!("health_check {}: tls: {err}", self.id))
        })?;
        Ok(Some(TlsAcceptor::from(server_config)))
    }
}

#[async_trait]
impl Lifecycle for HealthCheckExtension {
    async fn start(&self, host: &Host) -> Result<(), ComponentError> {
        if self
            .config
            .check_collector_pipeline
            .as_ref()
            .is_some_and(|check| check.enabled)
        {
            tracing::warn!(
                extension = %self.id,
                "check_collector_pipeline has no effect; the status follows the service's readiness"
            );
        }
        let tls = self.tls_acceptor()?;
        let endpoint = &self.config.endpoint;
        let listener = TcpListener::bind(endpoint.as_str())
            .await
            .map_err(|source| ComponentError::Listen {
                endpoint: endpoint.clone(),
                source,
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ComponentError::Listen {
                endpoint: endpoint.clone(),
                source,
            })?;
        let responder = Arc::new(Responder {
            health: host.health.clone(),
            path: self.config.path.clone(),
            bodies: self.config.response_body.clone(),
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, tls, responder, stopped));
        tracing::info!(
            extension = %self.id,
            endpoint = %local_addr,
            path = %self.config.path,
            tls = self.config.tls.is_some(),
            "health check server listening"
        );
        let previous = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(Running {
                local_addr,
                stop,
                task,
            });
        if let Some(previous) = previous {
            previous.task.abort();
        }
        Ok(())
    }

    /// Closes the listener and drops open connections; health requests are too short to drain.
    async fn shutdown(&self, deadline: Instant) -> Result<(), ComponentError> {
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut running) = running else {
            return Ok(());
        };
        running.stop.send_replace(true);
        if tokio::time::timeout_at(deadline, &mut running.task)
            .await
            .is_err()
        {
            running.task.abort();
        }
        Ok(())
    }
}

impl Extension for HealthCheckExtension {}

/// Accepts connections until told to stop, then aborts the ones still open.
async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    responder: Arc<Responder>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            // Stop on the signal, or when the extension is gone without shutting down.
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve(stream, tls.clone(), Arc::clone(&responder)));
                }
                Err(err) => {
                    tracing::warn!(error = %err, "health check server cannot accept a connection");
                    tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn serve(stream: TcpStream, tls: Option<TlsAcceptor>, responder: Arc<Responder>) {
    match tls {
        None => serve_http(stream, responder).await,
        Some(acceptor) => {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => serve_http(stream, responder).await,
                Ok(Err(err)) => tracing::debug!(error = %err, "health check TLS handshake failed"),
                Err(_) => tracing::debug!("health check TLS handshake timed out"),
            }
        }
    }
}

async fn serve_http<S>(stream: S, responder: Arc<Responder>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: http::Request<Incoming>| {
        let response = responder.respond(request.uri().path());
        async move { Ok::<_, Infallible>(response) }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // With a timer, hyper closes connections that do not send their headers in time.
    builder.http1().timer(TokioTimer::new());
    if let Err(err) = builder
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(error = %err, "health check connection ended with an error");
    }
}
