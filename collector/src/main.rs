//! `cormorant`: the collector binary. Parses the command line, resolves and validates the
//! otelcol-style config, runs the pipelines until SIGINT/SIGTERM, then shuts down gracefully.

mod components;
mod registry;
mod self_telemetry;
mod service;

use clap::{Parser, Subcommand, ValueEnum};
use cormorant_confmap::{ConfValue, Resolved};
use registry::Registry;
use service::Service;
use std::process::ExitCode;
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "cormorant",
    version,
    about = "Cormorant: an OpenTelemetry-native collector"
)]
struct Cli {
    /// Config URI: a file path, `file:PATH`, `env:VAR` or `yaml:KEY::KEY: VALUE`. Repeatable; later
    /// sources are merged over earlier ones.
    #[arg(long = "config", global = true)]
    configs: Vec<String>,
    /// Override one setting after all configs, e.g. `--set processors.batch.timeout=2s`.
    #[arg(long = "set", global = true)]
    sets: Vec<String>,
    /// Feature gates (accepted for otelcol compatibility; none defined yet).
    #[arg(long = "feature-gates", global = true)]
    feature_gates: Vec<String>,
    /// How long a graceful shutdown may take to deliver what is in flight.
    #[arg(long, global = true, default_value = "20s", value_parser = parse_duration)]
    shutdown_timeout: Duration,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Checks the configuration and exits non-zero listing every error.
    Validate,
    /// Prints the configuration after expansion and merging, secrets redacted.
    #[command(alias = "print-initial-config")]
    PrintConfig {
        #[arg(long, value_enum, default_value = "redacted")]
        mode: PrintMode,
        #[arg(long, value_enum, default_value = "yaml")]
        format: PrintFormat,
        /// Also validate before printing.
        #[arg(long)]
        validate: bool,
    },
    /// Lists every receiver, processor, exporter and extension with its stability.
    Components,
}

#[derive(Clone, Copy, ValueEnum)]
enum PrintMode {
    Redacted,
    Unredacted,
}

#[derive(Clone, Copy, ValueEnum)]
enum PrintFormat {
    Yaml,
    Json,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    cormorant_core::config::parse_duration(s)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let registry = Registry::builtin();
    match cli.command {
        Some(Command::Components) => {
            print!("{}", components::render(&registry));
            ExitCode::SUCCESS
        }
        Some(Command::Validate) => match load(&cli, &registry) {
            Ok((_, warnings)) => {
                warnings.iter().for_each(|w| eprintln!("warning: {w}"));
                ExitCode::SUCCESS
            }
            Err(errors) => report(&errors),
        },
        Some(Command::PrintConfig {
            mode,
            format,
            validate,
        }) => print_config(&cli, &registry, mode, format, validate),
        None => run(&cli, &registry),
    }
}

fn report(errors: &[String]) -> ExitCode {
    eprintln!("Error: invalid configuration:");
    for e in errors {
        eprintln!("  {e}");
    }
    ExitCode::FAILURE
}

fn resolve(cli: &Cli) -> Result<Resolved, Vec<String>> {
    cormorant_confmap::resolve(&cli.configs, &cli.sets).map_err(|e| vec![e.to_string()])
}

fn load(
    cli: &Cli,
    registry: &Registry,
) -> Result<(service::config::Config, Vec<String>), Vec<String>> {
    let resolved = resolve(cli)?;
    let (config, mut warnings) = service::config::validate(&resolved.value, registry)?;
    warnings.splice(0..0, resolved.warnings);
    Ok((config, warnings))
}

fn print_config(
    cli: &Cli,
    registry: &Registry,
    mode: PrintMode,
    format: PrintFormat,
    validate: bool,
) -> ExitCode {
    let resolved = match resolve(cli) {
        Ok(r) => r,
        Err(errors) => return report(&errors),
    };
    if validate && let Err(errors) = service::config::validate(&resolved.value, registry) {
        return report(&errors);
    }
    let value: ConfValue = match mode {
        PrintMode::Redacted => cormorant_confmap::redact(&resolved.value),
        PrintMode::Unredacted => resolved.value,
    };
    match format {
        PrintFormat::Yaml => print!("{}", cormorant_confmap::to_yaml_string(&value)),
        PrintFormat::Json => println!("{}", cormorant_confmap::to_json_string(&value)),
    }
    ExitCode::SUCCESS
}

fn run(cli: &Cli, registry: &Registry) -> ExitCode {
    self_telemetry::start_process_clock();
    let (config, warnings) = match load(cli, registry) {
        Ok(loaded) => loaded,
        Err(errors) => return report(&errors),
    };
    self_telemetry::init_logs(&config.telemetry.logs);
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config, registry, cli.shutdown_timeout))
}

async fn serve(
    config: service::config::Config,
    registry: &Registry,
    shutdown_timeout: Duration,
) -> ExitCode {
    let metrics_address = config
        .telemetry
        .metrics
        .listen_address()
        .expect("validated");
    if let Some(address) = &metrics_address
        && let Err(e) = self_telemetry::serve_metrics(address).await
    {
        tracing::error!("service::telemetry::metrics: cannot listen on {address}: {e}");
        return ExitCode::FAILURE;
    }
    let service = match Service::build(&config, registry) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = service.start().await {
        tracing::error!("{e}");
        return ExitCode::FAILURE;
    }
    tracing::info!(
        version = cormorant_core::VERSION,
        pipelines = config.pipelines.len(),
        metrics = metrics_address.as_deref().unwrap_or("off"),
        "Everything is ready. Begin running and processing data."
    );
    let signal = wait_for_signal().await;
    tracing::info!(signal, "Received signal from OS, shutting down");
    let problems = service.shutdown(shutdown_timeout).await;
    if problems.is_empty() {
        tracing::info!("Shutdown complete.");
        ExitCode::SUCCESS
    } else {
        for p in &problems {
            tracing::error!("shutdown: {p}");
        }
        ExitCode::FAILURE
    }
}

async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
