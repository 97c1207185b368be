//! Cormorant's own logs and metrics: `service.telemetry`.
//!
//! Metrics are served in Prometheus text format on `/metrics` (default `localhost:8888`) with
//! otelcol's names, plus the process metrics otelcol's dashboards chart.

use crate::service::config::LogsSpec;
use axum::Router;
use axum::routing::get;
use cormorant_core::telemetry::{register, registry};
use prometheus::{Encoder, Gauge, Opts, TextEncoder};
use std::io::IsTerminal;
use std::sync::LazyLock;
use std::time::Instant;
use tokio::net::TcpListener;

/// Installs the log subscriber for `service.telemetry.logs`. `RUST_LOG` overrides the level.
pub fn init_logs(spec: &LogsSpec) {
    let level = match spec.level.to_ascii_lowercase().as_str() {
        "debug" => "debug",
        "warn" => "warn",
        "error" | "dpanic" | "panic" | "fatal" => "error",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if spec.encoding == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

struct ProcessMetrics {
    uptime: Gauge,
    rss: Gauge,
    cpu_seconds: Gauge,
    started: Instant,
}

static PROCESS: LazyLock<ProcessMetrics> = LazyLock::new(|| {
    let gauge = |name: &str, help: &str| {
        register(Gauge::with_opts(Opts::new(name, help)).expect("valid metric"))
    };
    ProcessMetrics {
        uptime: gauge("otelcol_process_uptime", "Uptime of the process (seconds)"),
        rss: gauge(
            "otelcol_process_memory_rss",
            "Total physical memory (resident set size) (bytes)",
        ),
        cpu_seconds: gauge(
            "otelcol_process_cpu_seconds",
            "Total CPU user and system time (seconds)",
        ),
        started: Instant::now(),
    }
});

/// Starts the uptime clock at process start rather than at the first scrape.
pub fn start_process_clock() {
    LazyLock::force(&PROCESS);
}

fn refresh_process_metrics() {
    PROCESS.uptime.set(PROCESS.started.elapsed().as_secs_f64());
    if let Some((rss, cpu)) = read_proc_self() {
        PROCESS.rss.set(rss);
        PROCESS.cpu_seconds.set(cpu);
    }
}

/// RSS bytes and CPU seconds of this process from `/proc/self`.
fn read_proc_self() -> Option<(f64, f64)> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after_comm = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads system constants.
    let (page_size, ticks_per_second) = unsafe {
        (
            libc::sysconf(libc::_SC_PAGESIZE),
            libc::sysconf(libc::_SC_CLK_TCK),
        )
    };
    Some((pages * page_size as f64, ticks / ticks_per_second as f64))
}

async fn metrics_text() -> ([(axum::http::HeaderName, &'static str); 1], Vec<u8>) {
    refresh_process_metrics();
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(e) = encoder.encode(&registry().gather(), &mut body) {
        tracing::warn!(error = %e, "cannot encode self-metrics");
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
}

/// Binds the self-metrics endpoint and serves it in the background until the process exits.
pub async fn serve_metrics(address: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(address).await?;
    let app = Router::new().route("/metrics", get(metrics_text));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "self-metrics server stopped");
        }
    });
    Ok(())
}
