//! Logging and tracing: `tracing` to stderr (`RUST_LOG` filters, `FERRY_LOG_FORMAT=json` for JSON
//! lines) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, OTLP trace export.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

static METRICS: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
    std::sync::OnceLock::new();

/// Returns the Prometheus registry's handle (rendered by `GET /metrics`), once installed.
pub fn metrics_handle() -> Option<&'static metrics_exporter_prometheus::PrometheusHandle> {
    METRICS.get()
}

/// Installs the process-wide metrics recorder (idempotent).
pub fn install_metrics() {
    if METRICS.get().is_some() {
        return;
    }
    match metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder() {
        Ok(handle) => {
            let _ = METRICS.set(handle);
        }
        Err(error) => tracing::warn!(%error, "metrics are not available"),
    }
}

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
    let root_level = filter
        .max_level_hint()
        .map_or_else(|| "INFO".to_string(), |level| level.to_string());
    let (filter, reload_handle) = tracing_subscriber::reload::Layer::new(filter);
    crate::log_levels::install(reload_handle, &root_level);
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
    install_metrics();
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    Ok(Telemetry { provider_opt })
}
