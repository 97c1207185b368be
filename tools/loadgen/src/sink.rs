//! An HTTP server that reads every request body, throws it away and answers `200` with an empty
//! body: the far end for an exporter benchmark that must measure the collector alone.
//!
//! ClickHouse answers a successful `INSERT` over its HTTP interface exactly so (status 200, no
//! body, no exception header), which is why the clickhouse exporter accepts the sink as its store.
//! The body is read frame by frame and never buffered whole, so the sink costs little CPU and
//! memory next to the collector it serves, whatever the request size.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// The sink could not start.
#[derive(Debug, Error)]
pub enum SinkError {
    #[error("listening on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
}

/// What the sink received while it ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkSummary {
    /// Requests whose body was read to the end (each answered with 200).
    pub requests: u64,
    /// Body bytes read, as sent (still compressed when the client compressed them).
    pub body_bytes: u64,
    /// Requests cut off while their body was being read (the client went away).
    pub broken_requests: u64,
    pub connections: u64,
    pub elapsed: Duration,
}

impl fmt::Display for SinkSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        write!(
            f,
            "http-sink: requests={} bytes={} broken_requests={} connections={} in {seconds:.2}s \
             ({:.1} MB/s)",
            self.requests,
            self.body_bytes,
            self.broken_requests,
            self.connections,
            self.body_bytes as f64 / seconds.max(f64::EPSILON) / 1e6
        )
    }
}

/// Counters shared by every connection task.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    body_bytes: AtomicU64,
    broken_requests: AtomicU64,
    connections: AtomicU64,
}

/// A bound sink; [`HttpSink::serve`] runs it.
pub struct HttpSink {
    listener: TcpListener,
    counters: Arc<Counters>,
}

impl HttpSink {
    /// Binds `address` (port 0 picks a free port, see [`HttpSink::local_addr`]).
    pub async fn bind(address: SocketAddr) -> Result<Self, SinkError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| SinkError::Bind { address, source })?;
        Ok(HttpSink {
            listener,
            counters: Arc::default(),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then drops every open connection and returns what
    /// was received. A request cut off by the shutdown counts as broken, not as received.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> SinkSummary {
        let started = Instant::now();
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => {
                    // An accept error concerns one connection (e.g. it was reset in the
                    // backlog, or file descriptors ran out for a moment); keep listening.
                    let Ok((tcp, _)) = accepted else { continue };
                    // ClickHouse clients send small requests (queries) as well as large ones;
                    // Nagle would delay the answers to the small ones.
                    let _ = tcp.set_nodelay(true);
                    self.counters.connections.fetch_add(1, Ordering::Relaxed);
                    connections.spawn(serve_connection(tcp, self.counters.clone()));
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.abort_all();
        while connections.join_next().await.is_some() {}
        SinkSummary {
            requests: self.counters.requests.load(Ordering::Relaxed),
            body_bytes: self.counters.body_bytes.load(Ordering::Relaxed),
            broken_requests: self.counters.broken_requests.load(Ordering::Relaxed),
            connections: self.counters.connections.load(Ordering::Relaxed),
            elapsed: started.elapsed(),
        }
    }
}

async fn serve_connection(tcp: tokio::net::TcpStream, counters: Arc<Counters>) {
    let service = service_fn(move |request| discard(request, counters.clone()));
    // The connection ends when the client closes it or breaks it; either is the client's choice
    // and the request counters already tell what was received.
    let _closed = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tcp), service)
        .await;
}

/// Reads the body to its end, counting its bytes, and answers 200 with an empty body.
async fn discard(
    request: Request<Incoming>,
    counters: Arc<Counters>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let mut body = request.into_body();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    counters
                        .body_bytes
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                }
            }
            Err(_) => {
                counters.broken_requests.fetch_add(1, Ordering::Relaxed);
                return Ok(status_only(StatusCode::BAD_REQUEST));
            }
        }
    }
    counters.requests.fetch_add(1, Ordering::Relaxed);
    Ok(status_only(StatusCode::OK))
}

fn status_only(status: StatusCode) -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use hyper::client::conn::http1;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    async fn start() -> (
        SocketAddr,
        oneshot::Sender<()>,
        tokio::task::JoinHandle<SinkSummary>,
    ) {
        let sink = HttpSink::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let address = sink.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(sink.serve(async {
            let _ = stopped.await;
        }));
        (address, stop, serving)
    }

    #[tokio::test]
    async fn counts_and_drops_every_body_over_one_kept_alive_connection() {
        let (address, stop, serving) = start().await;
        let tcp = TcpStream::connect(address).await.unwrap();
        let (mut sender, connection) = http1::handshake(TokioIo::new(tcp)).await.unwrap();
        tokio::spawn(connection);

        let sizes = [0usize, 17, 3 << 20];
        for size in sizes {
            let request = Request::post("/?query=INSERT+INTO+otel_traces+FORMAT+RowBinary")
                .header(http::header::HOST, "sink")
                .body(Full::new(Bytes::from(vec![7u8; size])))
                .unwrap();
            sender.ready().await.unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert!(body.is_empty(), "{body:?}");
        }
        let get = Request::get("/ping")
            .header(http::header::HOST, "sink")
            .body(Full::new(Bytes::new()))
            .unwrap();
        assert_eq!(
            sender.send_request(get).await.unwrap().status(),
            StatusCode::OK
        );

        stop.send(()).unwrap();
        let summary = serving.await.unwrap();
        assert_eq!(summary.requests, 4);
        assert_eq!(summary.body_bytes, sizes.iter().sum::<usize>() as u64);
        assert_eq!(summary.connections, 1);
        assert_eq!(summary.broken_requests, 0);
        let line = summary.to_string();
        assert!(
            line.starts_with(&format!("http-sink: requests=4 bytes={} ", 17 + (3 << 20))),
            "{line}"
        );
    }

    #[tokio::test]
    async fn a_body_cut_short_is_counted_as_broken_not_received() {
        let (address, stop, serving) = start().await;
        let mut tcp = TcpStream::connect(address).await.unwrap();
        tcp.write_all(b"POST / HTTP/1.1\r\nHost: sink\r\nContent-Length: 1000\r\n\r\nonly this")
            .await
            .unwrap();
        tcp.shutdown().await.unwrap();
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.unwrap();
        assert!(
            !answer.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&answer)
        );

        stop.send(()).unwrap();
        let summary = serving.await.unwrap();
        assert_eq!(summary.requests, 0);
        assert_eq!(summary.broken_requests, 1);
        assert_eq!(summary.body_bytes, "only this".len() as u64);
    }

    #[tokio::test]
    async fn binding_a_taken_port_names_the_address() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = taken.local_addr().unwrap();
        let error = HttpSink::bind(address).await.err().unwrap();
        assert!(error.to_string().contains(&address.to_string()), "{error}");
    }
}
