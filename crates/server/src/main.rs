//! `ferry`: a Kafka Connect–compatible worker.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use ferry_server::config::WorkerConfig;
use ferry_server::dev::EmbeddedKafka;
use ferry_server::{shutdown, telemetry, RunError, Worker};

#[derive(Parser)]
#[command(
    name = "ferry",
    version,
    about = "A Kafka Connect-compatible data integration cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a worker on an embedded, in-memory Kafka (not durable): nothing to install.
    Dev {
        /// Address of the REST + gRPC listener.
        #[arg(long, default_value = "127.0.0.1:8083")]
        listen: String,
    },
    /// Runs a distributed worker against a real Kafka.
    Worker {
        /// A Kafka Connect-style worker properties file.
        properties_file: Option<PathBuf>,
        /// Sets or overrides one worker property (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Talks to a running cluster over gRPC: connectors, plugins, members, status events.
    Ctl(ferry_server::ctl::CtlArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(cli));
    // librdkafka handles can linger in their destructors; the ordered shutdown already flushed
    // what matters, so do not wait for background threads.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}

async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Dev { listen } => run_dev(&listen).await,
        Command::Worker {
            properties_file,
            overrides,
        } => run_worker(properties_file.as_deref(), &overrides).await,
        // A client: no telemetry, its own exit codes.
        Command::Ctl(args) => return ferry_server::ctl::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    /// Bad configuration or an unusable address: exit 2.
    Usage(String),
    /// The worker failed while running: exit 1.
    Runtime(String),
}

/// Installs logging and tracing for a worker process.
fn init_telemetry() -> Result<telemetry::Telemetry, Failure> {
    telemetry::init().map_err(|error| Failure::Usage(format!("cannot set up telemetry: {error}")))
}

impl From<RunError> for Failure {
    fn from(error: RunError) -> Self {
        match error {
            RunError::Bind { .. } | RunError::Security(_) => Failure::Usage(error.to_string()),
            RunError::Other(error) => Failure::Runtime(format!("{error:#}")),
        }
    }
}

async fn run_dev(listen: &str) -> Result<(), Failure> {
    let _telemetry = init_telemetry()?;
    let embedded =
        EmbeddedKafka::start(1).map_err(|error| Failure::Runtime(format!("{error:#}")))?;
    let overrides = vec![
        format!("bootstrap.servers={}", embedded.bootstrap_servers()),
        format!("listeners=http://{listen}"),
        "group.id=ferry-dev".to_string(),
        "offset.flush.interval.ms=5000".to_string(),
    ];
    let config =
        WorkerConfig::load(None, &overrides).map_err(|error| Failure::Usage(error.to_string()))?;
    let worker = Worker::bind(config)
        .await?
        .with_topic_creator(Arc::new(embedded.topic_creator()));
    let addr = worker.local_addr();
    println!("ferry dev: a worker on an embedded Kafka (in memory, not durable)");
    println!("  REST (Kafka Connect API)  http://{addr}/");
    println!("  gRPC (reflection on)      {addr}");
    println!(
        "  Kafka bootstrap servers   {}",
        embedded.bootstrap_servers()
    );
    println!("try:  curl -s http://{addr}/ && curl -s http://{addr}/health");
    println!("stop: Ctrl-C");
    worker.run(shutdown::shutdown_signal()).await?;
    embedded.stop_without_waiting();
    Ok(())
}

async fn run_worker(
    path_opt: Option<&std::path::Path>,
    overrides: &[String],
) -> Result<(), Failure> {
    let _telemetry = init_telemetry()?;
    let config = WorkerConfig::load(path_opt, overrides)
        .map_err(|error| Failure::Usage(error.to_string()))?;
    tracing::info!(
        node_id = %config.node_id,
        bootstrap = %config.bootstrap_servers,
        listen = %config.listen_addr,
        "starting worker"
    );
    let worker = Worker::bind(config).await?;
    worker.run(shutdown::shutdown_signal()).await?;
    Ok(())
}
