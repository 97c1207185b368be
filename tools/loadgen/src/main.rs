//! `cormorant-loadgen`: see `cormorant-loadgen --help`.

use clap::Parser;
use cormorant_core::Signal;
use cormorant_loadgen::cli::{
    Cli, Command, DecodeBenchArgs, GenerateArgs, HttpSinkArgs, RemoteWriteArgs,
};
use cormorant_loadgen::payload::RequestTemplate;
use cormorant_loadgen::sink::HttpSink;
use cormorant_loadgen::{decode_bench, remote_write, run};
use std::process::ExitCode;
use tokio::signal::unix::{SignalKind, signal};

/// The collector's allocator, so the decode limit measured here is comparable with it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for arguments that parse but cannot be used (clap itself exits 2 as well).
const USAGE_ERROR: u8 = 2;

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Traces(args) => generate(Signal::Traces, args),
        Command::Metrics(args) => generate(Signal::Metrics, args),
        Command::Logs(args) => generate(Signal::Logs, args),
        Command::DecodeBench(args) => bench_decode(&args),
        Command::HttpSink(args) => http_sink(&args),
        Command::RemoteWrite(args) => send_remote_write(args),
    }
}

fn runtime(threads: u64) -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads as usize)
        .enable_all()
        .build()
        .map_err(|error| {
            eprintln!("cormorant-loadgen: starting the runtime: {error}");
            ExitCode::FAILURE
        })
}

fn generate(signal: Signal, args: GenerateArgs) -> ExitCode {
    let threads = args.threads;
    let allow_failures = args.allow_failures;
    let config = match args.into_run_config(signal) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("cormorant-loadgen: {error}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    let runtime = match runtime(threads) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(run::run(config)) {
        Ok(summary) => {
            println!("{summary}");
            if let Some(error) = &summary.first_error {
                eprintln!("cormorant-loadgen: first error: {error}");
            }
            if summary.is_clean() || allow_failures {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("cormorant-loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}

fn send_remote_write(args: RemoteWriteArgs) -> ExitCode {
    let allow_failures = args.allow_failures;
    let runtime = match runtime(args.threads) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(remote_write::run(args.into_config())) {
        Ok(summary) => {
            println!("{summary}");
            for (url, stats) in &summary.targets {
                if let Some(error) = &stats.first_error {
                    eprintln!("cormorant-loadgen: {url}: first error: {error}");
                }
            }
            if summary.is_clean() || allow_failures {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("cormorant-loadgen: remote-write: {error}");
            ExitCode::FAILURE
        }
    }
}

fn bench_decode(args: &DecodeBenchArgs) -> ExitCode {
    let report = RequestTemplate::build(args.signal, &args.payload.spec())
        .map_err(|e| e.to_string())
        .and_then(|template| {
            decode_bench::run(&template, args.bench_duration).map_err(|e| e.to_string())
        });
    match report {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cormorant-loadgen: decode bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn http_sink(args: &HttpSinkArgs) -> ExitCode {
    let runtime = match runtime(args.threads) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let sink = match HttpSink::bind(args.listen).await {
            Ok(sink) => sink,
            Err(error) => {
                eprintln!("cormorant-loadgen: http-sink: {error}");
                return ExitCode::FAILURE;
            }
        };
        let mut terminate = match signal(SignalKind::terminate()) {
            Ok(terminate) => terminate,
            Err(error) => {
                eprintln!("cormorant-loadgen: http-sink: watching SIGTERM: {error}");
                return ExitCode::FAILURE;
            }
        };
        match sink.local_addr() {
            Ok(address) => eprintln!("http-sink: listening on {address}"),
            Err(error) => {
                eprintln!("cormorant-loadgen: http-sink: reading the bound address: {error}");
                return ExitCode::FAILURE;
            }
        }
        let summary = sink
            .serve(async {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            })
            .await;
        println!("{summary}");
        ExitCode::SUCCESS
    })
}
