//! Logging and tracing: `tracing` to stderr (`RUST_LOG` filters, `FERRY_LOG_FORMAT=json` for JSON
//! lines) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, OTLP trace export.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

const DEFAULT_FILTER: &str = "info,rdkafka=warn,chitchat=warn";

/// Keeps the trace exporter alive; flushes it on drop.
pub struct Telemetry {
    provider_opt: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider_opt.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("failed to flush traces: {error}");
            }
        }
    }
}

/// Installs the global subscriber. Call once, inside the tokio runtime.
///
/// # Errors
/// Fails when the OTLP exporter cannot be built from the environment.
pub fn init() -> anyhow::Result<Telemetry> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let json = std::env::var("FERRY_LOG_FORMAT").is_ok_and(|format| format == "json");
    let fmt_layer = if json {
        fmt::layer().json().with_writer(std::io::stderr).boxed()
    } else {
        fmt::layer().compact().with_writer(std::io::stderr).boxed()
    };
    let provider_opt = if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()?;
        Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name("ferry")
                        .build(),
                )
                .build(),
        )
    } else {
        None
    };
    let otel_layer = provider_opt
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("ferry")));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer)
        .with(otel_layer)
        .try_init()?;
    Ok(Telemetry { provider_opt })
}
