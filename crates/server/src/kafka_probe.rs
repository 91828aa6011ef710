//! Reaching Kafka at start-up with the worker's client settings: the cluster id is fetched
//! until it answers, and every failed attempt says why (a TLS handshake, a SASL login, an
//! unreadable trust store) in the log and on `/health`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_actors::kafka_client::{ClientConfigError, ClientRole, KafkaClients};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::ClientContext;
use tokio_util::sync::CancellationToken;

use crate::config::WorkerConfig;
use crate::service::{WorkerHealth, WorkerStatusHandle};

/// Pause between attempts to reach Kafka at start-up.
const KAFKA_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// How long one attempt waits for the cluster's metadata.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How librdkafka's error event of a failed OAUTHBEARER token refresh begins.
const TOKEN_FAILURE_PREFIX: &str = "Failed to acquire SASL OAUTHBEARER token: ";

/// Keeps the last error librdkafka reported (the cause behind a metadata time-out).
#[derive(Default)]
struct ProbeContext {
    last_error: Mutex<Option<String>>,
    /// librdkafka's log line of a failed OIDC token request: unlike the error event that
    /// follows, it names the token endpoint.
    token_request_failure: Mutex<Option<String>>,
}

impl ProbeContext {
    fn record(&self, cause: String) {
        let mut last_error = self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *last_error = Some(cause);
    }
}

impl ClientContext for ProbeContext {
    // librdkafka logs a failed connection (TLS handshake, SASL login) as a `FAIL` line from its
    // broker thread at once, while error events wait for a poll the probe never makes.
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let is_error = (level as i32) <= (RDKafkaLogLevel::Error as i32);
        if facility == "OIDC" && is_error {
            *self
                .token_request_failure
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(message.to_string());
        }
        if facility == "FAIL" || is_error {
            self.record(message.to_string());
        }
        tracing::debug!(facility, message, "librdkafka (start-up probe)");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // "All brokers are down" follows the real cause (a handshake or login failure): keep
        // the cause.
        let all_brokers_down =
            error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::AllBrokersDown);
        let has_cause = self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some();
        if all_brokers_down && has_cause {
            return;
        }
        let token_request_failure = self
            .token_request_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match token_request_failure {
            // "Failed to retrieve OIDC token from "https://idp/token": <cause>": say which
            // endpoint failed (a TLS failure's cause does not).
            Some(failure) if reason.starts_with(TOKEN_FAILURE_PREFIX) => {
                self.record(format!("{TOKEN_FAILURE_PREFIX}{failure}"));
            }
            _ => self.record(reason.to_string()),
        }
    }
}

impl ConsumerContext for ProbeContext {}

/// Fetches the Kafka cluster id, retrying until it succeeds; `None` when stopped first.
///
/// # Errors
/// A client setting that is wrong (fixing the config is the only way out); an unreadable store
/// is retried instead, as it may be fixed on disk.
pub(crate) async fn connect_to_kafka(
    config: &WorkerConfig,
    kafka: &Arc<KafkaClients>,
    status: &WorkerStatusHandle,
    stop: &CancellationToken,
) -> anyhow::Result<Option<String>> {
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let probe_kafka = Arc::clone(kafka);
        let probe = tokio::task::spawn_blocking(move || fetch_kafka_cluster_id(&probe_kafka));
        let result = tokio::select! {
            () = stop.cancelled() => return Ok(None),
            result = probe => result?,
        };
        let error = match result {
            Ok(cluster_id) => return Ok(Some(cluster_id)),
            Err(ProbeError::Config(error @ ClientConfigError::Store { .. })) => error.to_string(),
            Err(ProbeError::Config(error)) => return Err(error.into()),
            Err(ProbeError::Kafka(error)) => error,
        };
        tracing::warn!(attempt, bootstrap = %config.bootstrap_servers, %error, "cannot reach kafka yet");
        status
            .health_tx
            .send_replace(WorkerHealth::Starting(format!(
                "Worker is connecting to Kafka at {} (attempt {attempt}: {error}).",
                config.bootstrap_servers
            )));
        tokio::select! {
            () = stop.cancelled() => return Ok(None),
            () = tokio::time::sleep(KAFKA_RETRY_BACKOFF) => {}
        }
    }
}

enum ProbeError {
    Config(ClientConfigError),
    Kafka(String),
}

fn fetch_kafka_cluster_id(kafka: &KafkaClients) -> Result<String, ProbeError> {
    // Every role's settings are checked (and the stores read) on each attempt, so a fixed
    // trust store is picked up without a restart.
    kafka
        .validate_worker_settings()
        .map_err(ProbeError::Config)?;
    let consumer: BaseConsumer<ProbeContext> = kafka
        .client_config_for(
            ClientRole::Admin,
            &[("client.id", "ferry-worker-probe")],
            None,
        )
        .map_err(ProbeError::Config)?
        .create_with_context(ProbeContext::default())
        .map_err(|error| ProbeError::Kafka(error.to_string()))?;
    let cause = |error: KafkaError| {
        // Error events are served by polling; the connection's cause is among them.
        for _ in 0..5 {
            let _ = consumer.poll(Duration::from_millis(50));
        }
        let last_error = consumer
            .context()
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        ProbeError::Kafka(last_error.unwrap_or_else(|| error.to_string()))
    };
    consumer
        .fetch_metadata(None, PROBE_TIMEOUT)
        .map_err(cause)?;
    consumer
        .client()
        .fetch_cluster_id(PROBE_TIMEOUT)
        .ok_or_else(|| ProbeError::Kafka("broker did not report a cluster id".to_string()))
}
