//! Command line, modelled on otelcol's telemetrygen.

use crate::payload::PayloadSpec;
use crate::remote_write::RemoteWriteConfig;
use crate::run::RunConfig;
use crate::schedule::StopCondition;
use crate::transport::{Compression, Protocol, Target, TlsSettings};
use clap::{Args, Parser, Subcommand};
use cormorant_core::Signal;
use cormorant_core::config::parse_duration;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

const DEFAULT_DURATION: Duration = Duration::from_secs(10);

#[derive(Debug, Parser)]
#[command(
    name = "cormorant-loadgen",
    version,
    about = "Sends synthetic OTLP traces, metrics or logs to a collector"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send spans.
    Traces(GenerateArgs),
    /// Send metric data points (counters and gauges).
    Metrics(GenerateArgs),
    /// Send access-log records.
    Logs(GenerateArgs),
    /// Measure how fast one thread decodes the request the generator sends (the per-core
    /// decode limit the throughput benchmark compares against).
    DecodeBench(DecodeBenchArgs),
    /// Serve HTTP that reads and discards every request body and answers 200 with an empty
    /// body (what ClickHouse answers to an INSERT), counting requests and bytes; prints a
    /// summary on SIGTERM or SIGINT. The far end of an exporter benchmark.
    HttpSink(HttpSinkArgs),
    /// Send Prometheus remote_write 1.0 requests shaped like Grafana Alloy's (node_exporter
    /// series, 2000 one-sample series per request, snappy) to one or more receivers, the same
    /// requests to each.
    RemoteWrite(RemoteWriteArgs),
}

/// The shape of each request.
#[derive(Debug, Clone, Args)]
pub struct PayloadArgs {
    /// Spans, data points or log records per request.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    /// Attributes per item: http.request.method, url.path, http.response.status_code, then
    /// loadgen.attribute.N strings.
    #[arg(long, default_value_t = 3)]
    pub attributes: usize,
    /// Length of the values of attributes beyond the first three.
    #[arg(long, default_value_t = 20)]
    pub attribute_value_size: usize,
    /// The service.name resource attribute.
    #[arg(long, default_value = "cormorant-loadgen")]
    pub service_name: String,
}

impl PayloadArgs {
    pub fn spec(&self) -> PayloadSpec {
        PayloadSpec {
            items_per_request: self.batch_size as usize,
            attributes_per_item: self.attributes,
            attribute_value_size: self.attribute_value_size,
            service_name: self.service_name.clone(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub payload: PayloadArgs,
    /// host:port of the collector [default: 127.0.0.1:4317 for grpc, 127.0.0.1:4318 for http]
    #[arg(long)]
    pub otlp_endpoint: Option<String>,
    #[arg(long, value_enum, default_value_t = Protocol::Grpc)]
    pub protocol: Protocol,
    /// Request path for --protocol http [default: /v1/traces, /v1/metrics or /v1/logs]
    #[arg(long)]
    pub otlp_http_url_path: Option<String>,
    /// Items per second across all workers; 0 sends as fast as the collector answers.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// How long to send (Go duration such as 10s or 1m30s) [default: 10s]
    #[arg(long, value_parser = parse_duration, conflicts_with = "requests")]
    pub duration: Option<Duration>,
    /// Send exactly this many requests in total instead of running for a duration.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Concurrent senders, each with its own connection.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub workers: u64,
    /// Runtime threads for the generator; one is enough for most runs and leaves the other
    /// cores to the collector under test.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub threads: u64,
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub compression: Compression,
    /// Send plaintext instead of TLS.
    #[arg(long)]
    pub insecure: bool,
    /// PEM file with the CA certificates that sign the collector's certificate (TLS).
    #[arg(long, conflicts_with = "insecure")]
    pub ca_file: Option<PathBuf>,
    /// Name expected in the collector's certificate [default: the endpoint's host]
    #[arg(long, requires = "ca_file")]
    pub tls_server_name: Option<String>,
    /// Limit for one attempt of one request.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Extra attempts for a request that failed with a retryable error.
    #[arg(long, default_value_t = 3)]
    pub max_retries: u32,
    /// Exit 0 even when requests failed or items were rejected.
    #[arg(long)]
    pub allow_failures: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DecodeBenchArgs {
    /// Which request to decode.
    #[arg(long, default_value = "traces", value_parser = parse_signal)]
    pub signal: Signal,
    #[command(flatten)]
    pub payload: PayloadArgs,
    /// How long to decode after a warm-up of a tenth of that.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub bench_duration: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct HttpSinkArgs {
    /// host:port to listen on (e.g. 127.0.0.1:18123); port 0 picks a free port. The address
    /// bound is printed on stderr at start.
    #[arg(long)]
    pub listen: SocketAddr,
    /// Runtime threads; one keeps the sink off the cores of the collector under test.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub threads: u64,
}

#[derive(Debug, Clone, Args)]
pub struct RemoteWriteArgs {
    /// Receiver URL, e.g. http://127.0.0.1:9090/api/v1/write; repeat it to send every request
    /// to several receivers (concurrently, the same bytes).
    #[arg(long = "url", required = true)]
    pub urls: Vec<String>,
    /// Distinct series sent round after round (rounded up to whole requests).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub series: u64,
    /// Series per request, one sample each (Alloy's max_samples_per_send).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub series_per_request: u64,
    /// Samples per second across all workers; 0 sends as fast as the slowest receiver answers.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// How long to send (Go duration such as 10s or 1m30s) [default: 10s]
    #[arg(long, value_parser = parse_duration, conflicts_with = "requests")]
    pub duration: Option<Duration>,
    /// Send exactly this many requests (to each receiver) instead of running for a duration.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Concurrent senders (Alloy's shards), each owning a fixed share of the series.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    pub workers: u64,
    /// Runtime threads for the generator.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub threads: u64,
    /// The User-Agent header; Alloy sends `Alloy/<version> (<os>)`.
    #[arg(long, default_value = "Alloy/v1.8.0 (linux)")]
    pub user_agent: String,
    /// Limit for one request (Alloy's remote_timeout).
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub timeout: Duration,
    /// Exit 0 even when a receiver refused or rejected requests.
    #[arg(long)]
    pub allow_failures: bool,
}

impl RemoteWriteArgs {
    pub fn into_config(self) -> RemoteWriteConfig {
        RemoteWriteConfig {
            urls: self.urls,
            series: self.series as usize,
            series_per_request: self.series_per_request as usize,
            samples_per_second: self.rate,
            stop: match self.requests {
                Some(requests) => StopCondition::Requests(requests),
                None => StopCondition::After(self.duration.unwrap_or(DEFAULT_DURATION)),
            },
            workers: self.workers as usize,
            user_agent: self.user_agent,
            timeout: self.timeout,
        }
    }
}

/// Arguments that parse but do not make a runnable configuration.
#[derive(Debug, Error)]
pub enum CliError {
    #[error("--otlp-endpoint {0:?} must be host:port (no scheme)")]
    InvalidEndpoint(String),
    #[error("TLS needs --ca-file with the collector's CA; pass --insecure for plaintext")]
    TlsRequiresCaFile,
    #[error("reading --ca-file {path}: {source}")]
    ReadCaFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl GenerateArgs {
    pub fn into_run_config(self, signal: Signal) -> Result<RunConfig, CliError> {
        let endpoint = self.otlp_endpoint.unwrap_or_else(|| {
            match self.protocol {
                Protocol::Grpc => "127.0.0.1:4317",
                Protocol::Http => "127.0.0.1:4318",
            }
            .to_owned()
        });
        let host = endpoint_host(&endpoint)?;
        let tls = match (self.insecure, self.ca_file) {
            (true, _) => None,
            (false, None) => return Err(CliError::TlsRequiresCaFile),
            (false, Some(path)) => {
                let ca_pem =
                    std::fs::read(&path).map_err(|source| CliError::ReadCaFile { path, source })?;
                Some(TlsSettings {
                    ca_pem,
                    server_name: self.tls_server_name.unwrap_or(host),
                })
            }
        };
        let stop = match self.requests {
            Some(requests) => StopCondition::Requests(requests),
            None => StopCondition::After(self.duration.unwrap_or(DEFAULT_DURATION)),
        };
        Ok(RunConfig {
            signal,
            payload: self.payload.spec(),
            target: Target {
                endpoint,
                protocol: self.protocol,
                http_path: self
                    .otlp_http_url_path
                    .unwrap_or_else(|| format!("/v1/{}", signal.as_str())),
                compression: self.compression,
                tls,
                timeout: self.timeout,
            },
            items_per_second: self.rate,
            stop,
            workers: self.workers as usize,
            max_retries: self.max_retries,
        })
    }
}

/// The host of `host:port` (brackets stripped from IPv6 literals).
fn endpoint_host(endpoint: &str) -> Result<String, CliError> {
    let invalid = || CliError::InvalidEndpoint(endpoint.to_owned());
    if endpoint.contains("://") {
        return Err(invalid());
    }
    let (host, port) = endpoint.rsplit_once(':').ok_or_else(invalid)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(invalid());
    }
    Ok(host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned())
}

fn parse_signal(value: &str) -> Result<Signal, String> {
    Signal::parse(value)
        .ok_or_else(|| format!("unknown signal {value:?} (traces, metrics or logs)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(args: &[&str]) -> (Signal, GenerateArgs) {
        let cli = Cli::try_parse_from(args).unwrap();
        match cli.command {
            Command::Traces(a) => (Signal::Traces, a),
            Command::Metrics(a) => (Signal::Metrics, a),
            Command::Logs(a) => (Signal::Logs, a),
            Command::DecodeBench(_) | Command::HttpSink(_) | Command::RemoteWrite(_) => {
                panic!("not a generate command")
            }
        }
    }

    #[test]
    fn defaults_follow_the_protocol_and_signal() {
        let (signal, args) = generate(&["loadgen", "logs", "--protocol", "http", "--insecure"]);
        let config = args.into_run_config(signal).unwrap();
        assert_eq!(config.target.endpoint, "127.0.0.1:4318");
        assert_eq!(config.target.http_path, "/v1/logs");
        assert_eq!(config.stop, StopCondition::After(Duration::from_secs(10)));
        assert_eq!(config.payload.items_per_request, 100);
        assert_eq!(config.payload.attributes_per_item, 3);
        assert!(config.target.tls.is_none());

        let (signal, args) = generate(&["loadgen", "traces", "--insecure"]);
        assert_eq!(
            args.into_run_config(signal).unwrap().target.endpoint,
            "127.0.0.1:4317"
        );
    }

    #[test]
    fn run_limits_parse() {
        let (signal, args) = generate(&[
            "loadgen",
            "traces",
            "--insecure",
            "--duration",
            "1m30s",
            "--rate",
            "10000",
            "--workers",
            "4",
            "--batch-size",
            "512",
        ]);
        let config = args.into_run_config(signal).unwrap();
        assert_eq!(config.stop, StopCondition::After(Duration::from_secs(90)));
        assert_eq!(config.items_per_second, 10_000);
        assert_eq!(config.workers, 4);
        assert_eq!(config.payload.items_per_request, 512);

        let (signal, args) = generate(&["loadgen", "metrics", "--insecure", "--requests", "7"]);
        assert_eq!(
            args.into_run_config(signal).unwrap().stop,
            StopCondition::Requests(7)
        );
    }

    #[test]
    fn contradictory_or_invalid_flags_are_rejected() {
        for bad in [
            &["loadgen", "traces", "--duration", "5s", "--requests", "3"][..],
            &["loadgen", "traces", "--insecure", "--ca-file", "ca.pem"],
            &["loadgen", "traces", "--workers", "0"],
            &["loadgen", "traces", "--batch-size", "0"],
            &["loadgen", "traces", "--duration", "5 parsecs"],
            &["loadgen", "traces", "--protocol", "udp"],
            &["loadgen", "decode-bench", "--signal", "profiles"],
            &["loadgen", "http-sink"],
            &["loadgen", "http-sink", "--listen", "localhost"],
            &["loadgen", "http-sink", "--threads", "0"],
            &["loadgen", "remote-write"],
            &[
                "loadgen",
                "remote-write",
                "--url",
                "http://h:1/",
                "--series",
                "0",
            ],
            &[
                "loadgen",
                "remote-write",
                "--url",
                "http://h:1/",
                "--duration",
                "1s",
                "--requests",
                "2",
            ],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn tls_needs_a_ca_file_and_a_readable_one() {
        let (signal, args) = generate(&["loadgen", "traces"]);
        assert!(matches!(
            args.into_run_config(signal),
            Err(CliError::TlsRequiresCaFile)
        ));
        let (signal, args) = generate(&["loadgen", "traces", "--ca-file", "/nonexistent/ca.pem"]);
        assert!(matches!(
            args.into_run_config(signal),
            Err(CliError::ReadCaFile { .. })
        ));
    }

    #[test]
    fn endpoints_must_be_host_and_port() {
        assert_eq!(endpoint_host("127.0.0.1:4317").unwrap(), "127.0.0.1");
        assert_eq!(endpoint_host("[::1]:4317").unwrap(), "::1");
        assert_eq!(
            endpoint_host("collector.local:4318").unwrap(),
            "collector.local"
        );
        for bad in ["http://127.0.0.1:4317", "127.0.0.1", ":4317", "host:port"] {
            assert!(endpoint_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decode_bench_takes_the_payload_flags() {
        let cli = Cli::try_parse_from([
            "loadgen",
            "decode-bench",
            "--batch-size",
            "512",
            "--signal",
            "logs",
        ])
        .unwrap();
        let Command::DecodeBench(args) = cli.command else {
            panic!("expected decode-bench");
        };
        assert_eq!(args.signal, Signal::Logs);
        assert_eq!(args.payload.spec().items_per_request, 512);
        assert_eq!(args.bench_duration, Duration::from_secs(2));
    }

    #[test]
    fn http_sink_takes_an_address_and_one_thread_by_default() {
        let cli = Cli::try_parse_from(["loadgen", "http-sink", "--listen", "127.0.0.1:18123"]);
        let Command::HttpSink(args) = cli.unwrap().command else {
            panic!("expected http-sink");
        };
        assert_eq!(args.listen, "127.0.0.1:18123".parse().unwrap());
        assert_eq!(args.threads, 1);
    }

    #[test]
    fn remote_write_takes_several_urls_and_alloy_defaults() {
        let cli = Cli::try_parse_from([
            "loadgen",
            "remote-write",
            "--url",
            "http://127.0.0.1:9090/api/v1/write",
            "--url",
            "http://127.0.0.1:38086/api/v1/prometheus",
            "--rate",
            "200000",
            "--requests",
            "40",
        ])
        .unwrap();
        let Command::RemoteWrite(args) = cli.command else {
            panic!("expected remote-write");
        };
        let config = args.into_config();
        assert_eq!(config.urls.len(), 2);
        assert_eq!(config.series, 100_000);
        assert_eq!(config.series_per_request, 2000);
        assert_eq!(config.samples_per_second, 200_000);
        assert_eq!(config.stop, StopCondition::Requests(40));
        assert_eq!(config.workers, 4);
        assert!(config.user_agent.starts_with("Alloy/v1."));
        assert_eq!(config.timeout, Duration::from_secs(30));
    }
}
