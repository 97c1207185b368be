//! Binding an endpoint and serving an axum `Router` (plain HTTP routes, tonic gRPC services via
//! `tonic::service::Routes::into_axum_router`, or both) over HTTP/1.1 and HTTP/2 — cleartext h2c
//! or TLS with ALPN — with a graceful, deadline-bounded shutdown.
//!
//! One accept loop per listener owns every connection task, so shutdown can stop accepting, ask
//! each connection to finish its in-flight requests (HTTP/2 GOAWAY, HTTP/1.1 close after the
//! current response), wait until the caller's deadline, and only then cut what is left.

use crate::component::ComponentError;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

/// A TLS client that has not finished its handshake by then is disconnected.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// How a listener serves its connections.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Terminate TLS with this config; `None` serves cleartext (HTTP/1.1 and h2c).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`; `None` keeps hyper's default.
    pub http2_max_concurrent_streams: Option<u32>,
    /// Send HTTP/2 pings this often on idle connections to detect dead peers.
    pub http2_keepalive_interval: Option<Duration>,
    /// Close the connection when a keepalive ping is not answered within this time.
    pub http2_keepalive_timeout: Option<Duration>,
}

/// Binds `endpoint` (`host:port`, `[v6]:port`, or `:port` for all interfaces), trying each
/// address the host resolves to, IPv4 first, as Go's listener does for `localhost`.
pub async fn bind(endpoint: &str) -> Result<TcpListener, ComponentError> {
    let listen_error = |source| ComponentError::Listen {
        endpoint: endpoint.to_string(),
        source,
    };
    let (host, port) = endpoint.rsplit_once(':').ok_or_else(|| {
        listen_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "endpoint must be host:port",
        ))
    })?;
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    let mut addresses: Vec<SocketAddr> = tokio::net::lookup_host(format!("{host}:{port}"))
        .await
        .map_err(listen_error)?
        .collect();
    addresses.sort_by_key(|address| !address.is_ipv4());
    let mut last_error = std::io::Error::new(
        std::io::ErrorKind::AddrNotAvailable,
        "host resolved to no address",
    );
    for address in addresses {
        match TcpListener::bind(address).await {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = error,
        }
    }
    Err(listen_error(last_error))
}

/// A listener being served; dropping it without [`RunningServer::shutdown`] stops accepting and
/// closes connections at once.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    stop: oneshot::Sender<Instant>,
    task: JoinHandle<usize>,
}

impl RunningServer {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets in-flight requests finish until `deadline`, then closes whatever is
    /// still open and reports it.
    pub async fn shutdown(self, deadline: Instant) -> Result<(), ComponentError> {
        // The loop may already have ended; then there is nothing left to drain.
        let _ = self.stop.send(deadline);
        let cut = self
            .task
            .await
            .map_err(|e| ComponentError::Failed(format!("server task failed: {e}")))?;
        match cut {
            0 => Ok(()),
            cut => Err(ComponentError::Failed(format!(
                "{cut} connection(s) on {} were still busy at the shutdown deadline and were closed",
                self.local_addr
            ))),
        }
    }
}

/// Serves `router` on `listener` until [`RunningServer::shutdown`].
pub fn serve(
    listener: TcpListener,
    router: axum::Router,
    options: ServeOptions,
) -> std::io::Result<RunningServer> {
    let local_addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, router, options, stopped));
    Ok(RunningServer {
        local_addr,
        stop,
        task,
    })
}

fn connection_builder(options: &ServeOptions) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    // The timer enables hyper's HTTP/1 header-read timeout, which bounds slow-header clients.
    builder.http1().timer(TokioTimer::new());
    let mut http2 = builder.http2();
    http2
        .timer(TokioTimer::new())
        .max_concurrent_streams(options.http2_max_concurrent_streams)
        .keep_alive_interval(options.http2_keepalive_interval);
    if let Some(timeout) = options.http2_keepalive_timeout {
        http2.keep_alive_timeout(timeout);
    }
    builder
}

/// Returns how many connections had to be cut at the deadline.
async fn accept_loop(
    listener: TcpListener,
    router: axum::Router,
    options: ServeOptions,
    mut stopped: oneshot::Receiver<Instant>,
) -> usize {
    let builder = Arc::new(connection_builder(&options));
    let acceptor = options.tls.map(TlsAcceptor::from);
    let (draining, drain_signal) = watch::channel(false);
    let mut connections = JoinSet::new();
    let deadline = loop {
        tokio::select! {
            deadline = &mut stopped => break deadline.unwrap_or_else(|_| Instant::now()),
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    connections.spawn(serve_connection(
                        tcp,
                        peer,
                        acceptor.clone(),
                        builder.clone(),
                        TowerToHyperService::new(WithPeer {
                            router: router.clone(),
                            peer,
                        }),
                        drain_signal.clone(),
                    ));
                }
                Err(error) => {
                    tracing::warn!(%error, "failed to accept a connection");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    };
    drop(listener);
    // Receivers may all be gone already; the connections then see the channel close instead.
    let _ = draining.send(true);
    let drained = tokio::time::timeout_at(deadline, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    match drained {
        Ok(()) => 0,
        Err(_) => {
            let cut = connections.len();
            connections.abort_all();
            cut
        }
    }
}

async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    builder: Arc<Builder<TokioExecutor>>,
    service: TowerToHyperService<WithPeer>,
    mut drain_signal: watch::Receiver<bool>,
) {
    // Small OTLP responses should not wait for Nagle's algorithm.
    let _ = tcp.set_nodelay(true);
    let Some(acceptor) = acceptor else {
        return drive(&builder, tcp, service, drain_signal, peer).await;
    };
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
    let tls = tokio::select! {
        result = handshake => match result {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        _ = drain_signal.wait_for(|draining| *draining) => return,
    };
    drive(&builder, tls, service, drain_signal, peer).await;
}

/// The router of one connection, handing every request the connection's peer address as axum's
/// `ConnectInfo`, so routes can attribute what they receive to its sender.
#[derive(Clone)]
struct WithPeer {
    router: axum::Router,
    peer: SocketAddr,
}

impl<B> Service<http::Request<B>> for WithPeer
where
    axum::Router: Service<http::Request<B>>,
{
    type Response = <axum::Router as Service<http::Request<B>>>::Response;
    type Error = <axum::Router as Service<http::Request<B>>>::Error;
    type Future = <axum::Router as Service<http::Request<B>>>::Future;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::<http::Request<B>>::poll_ready(&mut self.router, context)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        self.router.call(request)
    }
}

/// Serves one connection until the peer closes it or the server drains.
async fn drive<I>(
    builder: &Builder<TokioExecutor>,
    io: I,
    service: TowerToHyperService<WithPeer>,
    mut drain_signal: watch::Receiver<bool>,
    peer: SocketAddr,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            return;
        }
        _ = drain_signal.wait_for(|draining| *draining) => {}
    }
    connection.as_mut().graceful_shutdown();
    if let Err(error) = connection.await {
        tracing::debug!(%peer, %error, "connection ended with an error while draining");
    }
}
