//! A worker's life: reach Kafka, create the internal topics, read the stores, start the worker
//! actor, report healthy; on stop, flush and stop every task before the stores close.

use std::sync::Arc;
use std::time::Duration;

use ferry_actors::kafka_client::{ClientRole, KafkaClients};
use ferry_actors::leader::election::{elect_leader, Candidate};
use ferry_actors::leader::{EosSourceFencing, LeaderActor, LeaderDeps, QuorumGate};
use ferry_actors::membership::keys::PluginOffer;
use ferry_actors::membership::{generation_now, Membership, MembershipConfig};
use ferry_actors::runtime::TaskEnv;
use ferry_actors::stores::{
    AdminTopicCreator, ConfigStore, LeaseStore, OffsetStore, OffsetStores, StatusStore,
    TopicCreator, TopicSpec,
};
use ferry_actors::worker::{WorkerActor, WorkerDeps, WorkerMsg};
use ferry_connectors::sdk::framework::ExactlyOnceSourceSupport;
use ractor::Actor;
use tokio_util::sync::CancellationToken;

use crate::config::WorkerConfig;
use crate::service::{ConnectService, Runtime, WorkerHealth, WorkerStatusHandle};

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
    let kafka = Arc::new(KafkaClients::from_worker_properties(
        &config.bootstrap_servers,
        &config.properties,
    )?);
    for (key, timing) in kafka.login_timing_keys_left_to_librdkafka() {
        tracing::info!(
            key = %key,
            librdkafka = timing.librdkafka_behaviour,
            "Java login timing key accepted without effect: librdkafka's own behaviour applies"
        );
    }
    let Some(cluster_id) =
        crate::kafka_probe::connect_to_kafka(&config, &kafka, &status, &stop).await?
    else {
        return Ok(());
    };
    tracing::info!(kafka_cluster_id = %cluster_id, node_id = %config.node_id, "worker connected to kafka");
    status.cluster_id_tx.send_replace(Some(cluster_id));

    // The worker's own clients (stores, internal topics, leader fencing) share one config: the
    // bare client keys, as in Kafka Connect; each sets its role's keys on top.
    let client_config = kafka.client_config_for(ClientRole::Admin, &[], None)?;

    status.health_tx.send_replace(WorkerHealth::Starting(
        "Worker is creating its internal topics.".into(),
    ));
    let embedded = topic_creator_opt.is_some();
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
    let (config_store, status_store) = (Arc::new(config_store), Arc::new(status_store));
    let offset_stores = Arc::new(OffsetStores::new(
        Arc::new(offset_store),
        client_config.clone(),
        Arc::clone(&creator),
        (config.offset_partitions, config.offset_replication_factor),
        stores_stop.clone(),
    ));

    status.health_tx.send_replace(WorkerHealth::Starting(
        "Worker is joining the cluster.".into(),
    ));
    let membership = start_membership(&config).await?;
    // Each worker's liveness lease (and the leader lease) in the lease topic; off under
    // `ferry dev`, a single node on the embedded cluster.
    let leases_opt = if embedded {
        None
    } else {
        Some(
            LeaseStore::start(
                &client_config,
                &config.lease_topic,
                &config.node_id,
                (config.lease_period, config.fence_margin),
                membership.config().generation,
                stores_stop.clone(),
            )
            .await?,
        )
    };
    let quorum = QuorumGate::new(membership.quorum_rx(), leases_opt);
    let generation =
        i64::try_from(membership.config().generation / 1_000_000_000).unwrap_or(i64::MAX);
    membership
        .set_plugins(&plugin_offers(service.registry()))
        .await;
    tokio::spawn(gossip_plugins_when_installed(
        service.registry().clone(),
        membership.clone(),
        stores_stop.clone(),
    ));
    let (running_tx, mut running_rx) = tokio::sync::watch::channel((0, Vec::new()));
    let (gave_up_tx, mut gave_up_rx) = tokio::sync::watch::channel(Vec::new());
    let gossip_gave_up = membership.clone();
    tokio::spawn(async move {
        while gave_up_rx.changed().await.is_ok() {
            let gave_up = gave_up_rx.borrow_and_update().clone();
            gossip_gave_up.set_gave_up_tasks(&gave_up).await;
        }
    });
    let gossip = membership.clone();
    tokio::spawn(async move {
        while running_rx.changed().await.is_ok() {
            let (epoch, running) = running_rx.borrow_and_update().clone();
            gossip.set_running_tasks_at_epoch(epoch, &running).await;
        }
    });
    // Under `ferry dev` (a topic creator is given for the mock cluster) transactions are not
    // reliable, so leader fencing is off there.
    let fencing_opt = (!embedded).then(|| {
        (
            client_config.clone(),
            format!("ferry-leader-{}", config.group_id),
        )
    });
    let eos_source_fencing_opt = (!embedded
        && config.exactly_once_source == ExactlyOnceSourceSupport::Enabled)
        .then(|| EosSourceFencing {
            client_config: client_config.clone(),
            group_id: config.group_id.clone(),
        });
    let (leader, leader_handle) = Actor::spawn(
        None,
        LeaderActor,
        LeaderDeps {
            node_id: config.node_id.clone(),
            registry: service.registry().clone(),
            config_store: Arc::clone(&config_store),
            members_rx: membership.members_rx(),
            rebalance_delay: config.scheduled_rebalance_max_delay,
            lease_enabled: fencing_opt.is_some(),
            config_providers: Arc::clone(&config.security.config_providers),
            status_store: Arc::clone(&status_store),
            worker_id: config.advertised_addr.clone(),
            generation,
            fence_margin: config.fence_margin,
            quorum: quorum.clone(),
            fencing_opt: fencing_opt.clone(),
            eos_source_fencing_opt,
            startup_grace: if config.gossip_seeds.is_empty() {
                Duration::ZERO
            } else {
                membership.dead_after()
            },
        },
    )
    .await?;
    let deps = WorkerDeps {
        node_id: config.node_id.clone(),
        running_tx,
        gave_up_tx,
        worker_id: config.advertised_addr.clone(),
        registry: service.registry().clone(),
        config_store: Arc::clone(&config_store),
        status_store: Arc::clone(&status_store),
        task_env: TaskEnv {
            kafka: Arc::clone(&kafka),
            worker_props: config.properties.clone(),
            offset_stores: Arc::clone(&offset_stores),
            status_store: Arc::clone(&status_store),
            offset_flush_interval: config.offset_flush_interval,
            offset_flush_timeout: config.offset_flush_timeout,
            config_providers: Arc::clone(&config.security.config_providers),
            group_id: config.group_id.clone(),
            exactly_once_source: config.exactly_once_source,
            lease: quorum.lease_gate().start_task(None),
        },
        restart_policy: config.restart_policy,
        task_shutdown_timeout: config.task_shutdown_timeout,
        generation,
        quorum: quorum.clone(),
    };
    let (worker, worker_handle) = Actor::spawn(None, WorkerActor, deps).await?;
    tokio::spawn(
        ferry_actors::plugin::task_config_reporter::run_task_config_reporter(
            service.registry().clone(),
            Arc::clone(&config.security.config_providers),
            Arc::clone(&config_store),
            config.node_id.clone(),
            Arc::new(crate::service::forward::ServiceTaskConfigSender(
                service.clone(),
            )),
            stores_stop.clone(),
        ),
    );
    let rotation_store = Arc::clone(&config_store);
    let rotation_quorum = quorum.clone();
    service.attach_runtime(Arc::new(Runtime {
        node_id: config.node_id.clone(),
        worker_id: config.advertised_addr.clone(),
        group_id: config.group_id.clone(),
        config_store,
        status_store,
        offset_stores,
        worker: worker.clone(),
        leader: leader.clone(),
        kafka,
        membership: membership.clone(),
        quorum,
    }));
    tokio::spawn(crate::security::session_keys::run_key_rotation(
        Arc::clone(&rotation_store),
        config.security.session_keys.clone(),
        leads_now(config.node_id.clone(), membership.clone(), rotation_quorum),
        stores_stop.clone(),
    ));
    membership.set_ready(true).await;
    status.health_tx.send_replace(WorkerHealth::Healthy);
    tracing::info!(worker_id = %config.advertised_addr, node_id = %config.node_id, "worker is ready");

    stop.cancelled().await;
    // Ordered shutdown: readiness off (the leader stops giving us work), tasks flushed and
    // committed, then leave the gossip cluster so the others take over at once.
    status
        .health_tx
        .send_replace(WorkerHealth::Unhealthy("Worker is shutting down.".into()));
    membership.set_ready(false).await;
    leader.stop(None);
    let budget = config.task_shutdown_timeout + Duration::from_secs(1);
    match worker.call(WorkerMsg::Shutdown, Some(budget)).await {
        Ok(ractor::rpc::CallResult::Success(())) => tracing::info!("all tasks stopped"),
        _ => tracing::warn!("tasks did not all stop in time"),
    }
    worker.stop(None);
    let _ = tokio::time::timeout(Duration::from_secs(1), worker_handle).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), leader_handle).await;
    membership.leave().await;
    stores_stop.cancel();
    Ok(())
}

/// Gossips the plugin connector classes again whenever a plugin is installed while the worker
/// runs (the registry only grows).
async fn gossip_plugins_when_installed(
    registry: ferry_connectors::ConnectorRegistry,
    membership: Membership,
    stop: CancellationToken,
) {
    let mut published = registry.generation();
    let mut check = tokio::time::interval(crate::plugin_watch::RESCAN_INTERVAL);
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            _ = check.tick() => {}
        }
        let generation = registry.generation();
        if generation != published {
            published = generation;
            membership.set_plugins(&plugin_offers(&registry)).await;
        }
    }
}

/// The plugin connector classes of `registry` (not the built-ins), for gossip.
fn plugin_offers(registry: &ferry_connectors::ConnectorRegistry) -> Vec<PluginOffer> {
    registry
        .factories()
        .iter()
        .filter(|factory| factory.plans_tasks_on_assigned_worker())
        .flat_map(|factory| {
            factory.class_names().iter().map(|class| PluginOffer {
                class: (*class).to_string(),
                version: factory.version().to_string(),
            })
        })
        .collect()
}

/// Returns a check of whether this node leads now: gossip elects it and no other node holds an
/// unexpired leader lease in the lease topic (the leader's own rule).
fn leads_now(
    node_id: String,
    membership: Membership,
    quorum: QuorumGate,
) -> impl Fn() -> bool + Send + 'static {
    move || {
        let members = membership.members_rx().borrow().clone();
        let candidates: Vec<Candidate> = members
            .values()
            .map(|member| Candidate {
                node_id: member.node_id.clone(),
                generation: member.generation,
                ready: member.ready,
            })
            .collect();
        let elected = elect_leader(&candidates).is_some_and(|leader| leader == node_id);
        let lease_elsewhere = quorum
            .leases()
            .and_then(|leases| leases.leader_lease())
            .and_then(|lease| {
                lease
                    .holder_at(std::time::Instant::now())
                    .map(|holder| holder != node_id)
            })
            .unwrap_or(false);
        elected && !lease_elsewhere
    }
}

async fn start_membership(config: &WorkerConfig) -> anyhow::Result<Membership> {
    let mut membership_config = MembershipConfig::new(
        config.node_id.clone(),
        config.group_id.clone(),
        config.gossip_listen,
        config.advertised_addr.clone(),
    );
    membership_config.generation = generation_now();
    membership_config.seeds.clone_from(&config.gossip_seeds);
    membership_config.member_expiry = config.member_expiry;
    if config.gossip_listen.ip().is_unspecified() {
        let host = config
            .advertised_addr
            .rsplit_once(':')
            .map_or("127.0.0.1", |(host, _)| host);
        let advertise = tokio::net::lookup_host((host, config.gossip_listen.port()))
            .await?
            .next()
            .ok_or_else(|| anyhow::anyhow!("cannot resolve the advertised host {host}"))?;
        membership_config.gossip_advertise = advertise;
    }
    let transport = chitchat::transport::UdpTransport;
    let membership = Membership::start(membership_config, &transport)
        .await
        .map_err(|error| {
            anyhow::anyhow!("cannot start gossip on {}: {error}", config.gossip_listen)
        })?;
    tracing::info!(gossip = %config.gossip_listen, seeds = ?config.gossip_seeds, "gossip started");
    Ok(membership)
}

fn internal_topics(config: &WorkerConfig) -> [TopicSpec; 4] {
    [
        // Ferry's own: the workers' liveness leases and the leader lease (one partition, the
        // config topic's replication).
        TopicSpec {
            name: config.lease_topic.clone(),
            partitions: 1,
            replication_factor: config.config_replication_factor,
        },
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
