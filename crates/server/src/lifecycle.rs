//! A worker's life: reach Kafka, create the internal topics, read the stores, start the worker
//! actor, report healthy; on stop, flush and stop every task before the stores close.

use std::sync::Arc;
use std::time::Duration;

use ferry_actors::runtime::TaskEnv;
use ferry_actors::stores::{
    AdminTopicCreator, ConfigStore, OffsetStore, StatusStore, TopicCreator, TopicSpec,
};
use ferry_actors::worker::restart_policy::RestartPolicy;
use ferry_actors::worker::{WorkerActor, WorkerDeps, WorkerMsg};
use ferry_connectors::builtin_registry;
use ractor::Actor;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio_util::sync::CancellationToken;

use crate::config::WorkerConfig;
use crate::service::{ConnectService, Runtime, WorkerHealth, WorkerStatusHandle};

/// Pause between attempts to reach Kafka at start-up.
const KAFKA_RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// Runs the worker until `stop` fires.
///
/// # Errors
/// Fails when the internal topics or stores cannot be set up, or the worker actor cannot start.
pub(crate) async fn run(
    config: WorkerConfig,
    service: ConnectService,
    status: WorkerStatusHandle,
    topic_creator_opt: Option<Arc<dyn TopicCreator>>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let Some(cluster_id) = connect_to_kafka(&config, &status, &stop).await? else {
        return Ok(());
    };
    tracing::info!(kafka_cluster_id = %cluster_id, node_id = %config.node_id, "worker connected to kafka");
    status.cluster_id_tx.send_replace(Some(cluster_id));

    let mut client_config = ClientConfig::new();
    client_config.set("bootstrap.servers", &config.bootstrap_servers);

    status.health_tx.send_replace(WorkerHealth::Starting(
        "Worker is creating its internal topics.".into(),
    ));
    let creator: Arc<dyn TopicCreator> = match topic_creator_opt {
        Some(creator) => creator,
        None => Arc::new(AdminTopicCreator::new(&client_config)?),
    };
    for spec in internal_topics(&config) {
        creator.create_compacted(&spec).await?;
    }

    status.health_tx.send_replace(WorkerHealth::Starting(
        "Worker is reading its config, offset and status topics.".into(),
    ));
    let stores_stop = CancellationToken::new();
    let (config_store, offset_store, status_store) = tokio::try_join!(
        ConfigStore::start(&client_config, &config.config_topic, stores_stop.clone()),
        OffsetStore::start(&client_config, &config.offset_topic, stores_stop.clone()),
        StatusStore::start(&client_config, &config.status_topic, stores_stop.clone()),
    )?;
    let (config_store, offset_store, status_store) = (
        Arc::new(config_store),
        Arc::new(offset_store),
        Arc::new(status_store),
    );

    let generation = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|since| since.as_secs())
            .unwrap_or(0),
    )
    .unwrap_or(i64::MAX);
    let deps = WorkerDeps {
        worker_id: config.advertised_addr.clone(),
        registry: builtin_registry(),
        config_store: Arc::clone(&config_store),
        status_store: Arc::clone(&status_store),
        task_env: TaskEnv {
            client_config: client_config.clone(),
            worker_props: config.properties.clone(),
            offset_store: Arc::clone(&offset_store),
            offset_flush_interval: config.offset_flush_interval,
            offset_flush_timeout: config.offset_flush_timeout,
        },
        restart_policy: RestartPolicy::default(),
        task_shutdown_timeout: config.task_shutdown_timeout,
        generation,
    };
    let (worker, worker_handle) = Actor::spawn(None, WorkerActor, deps).await?;
    service.attach_runtime(Arc::new(Runtime {
        worker_id: config.advertised_addr.clone(),
        config_store,
        status_store,
        offset_store,
        worker: worker.clone(),
        client_config,
    }));
    status.health_tx.send_replace(WorkerHealth::Healthy);
    tracing::info!(worker_id = %config.advertised_addr, "worker is ready");

    stop.cancelled().await;
    status
        .health_tx
        .send_replace(WorkerHealth::Unhealthy("Worker is shutting down.".into()));
    let budget = config.task_shutdown_timeout + Duration::from_secs(1);
    match worker.call(WorkerMsg::Shutdown, Some(budget)).await {
        Ok(ractor::rpc::CallResult::Success(())) => tracing::info!("all tasks stopped"),
        _ => tracing::warn!("tasks did not all stop in time"),
    }
    worker.stop(None);
    let _ = tokio::time::timeout(Duration::from_secs(1), worker_handle).await;
    stores_stop.cancel();
    Ok(())
}

fn internal_topics(config: &WorkerConfig) -> [TopicSpec; 3] {
    [
        TopicSpec {
            name: config.config_topic.clone(),
            partitions: 1,
            replication_factor: config.config_replication_factor,
        },
        TopicSpec {
            name: config.offset_topic.clone(),
            partitions: config.offset_partitions,
            replication_factor: config.offset_replication_factor,
        },
        TopicSpec {
            name: config.status_topic.clone(),
            partitions: config.status_partitions,
            replication_factor: config.status_replication_factor,
        },
    ]
}

/// Fetches the Kafka cluster id, retrying until it succeeds; `None` when stopped first.
async fn connect_to_kafka(
    config: &WorkerConfig,
    status: &WorkerStatusHandle,
    stop: &CancellationToken,
) -> anyhow::Result<Option<String>> {
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let bootstrap = config.bootstrap_servers.clone();
        let probe = tokio::task::spawn_blocking(move || fetch_kafka_cluster_id(&bootstrap));
        let result = tokio::select! {
            () = stop.cancelled() => return Ok(None),
            result = probe => result?,
        };
        match result {
            Ok(cluster_id) => return Ok(Some(cluster_id)),
            Err(error) => {
                tracing::warn!(attempt, bootstrap = %config.bootstrap_servers, %error, "cannot reach kafka yet");
                status
                    .health_tx
                    .send_replace(WorkerHealth::Starting(format!(
                        "Worker is connecting to Kafka at {} (attempt {attempt}: {error}).",
                        config.bootstrap_servers
                    )));
            }
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(None),
            () = tokio::time::sleep(KAFKA_RETRY_BACKOFF) => {}
        }
    }
}

fn fetch_kafka_cluster_id(bootstrap_servers: &str) -> anyhow::Result<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        .set("client.id", "ferry-worker-probe")
        .create()?;
    consumer.fetch_metadata(None, Duration::from_secs(5))?;
    consumer
        .client()
        .fetch_cluster_id(Duration::from_secs(5))
        .ok_or_else(|| anyhow::anyhow!("broker did not report a cluster id"))
}
