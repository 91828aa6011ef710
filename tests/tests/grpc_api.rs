//! The gRPC API through a generated tonic client, on a worker against the real broker: the
//! connector lifecycle (visible over REST on the same port), plugins, and the status codes and
//! messages of bad requests, which store nothing.

use std::collections::HashMap;
use std::time::Duration;

use ferry_tests::{free_local_addr, unique_name, wait_until, Api, FerryProcess};
use serde_json::json;
use tonic::transport::Channel;
use tonic::Code;

#[allow(unreachable_pub, dead_code, clippy::all, clippy::pedantic)]
mod proto {
    tonic::include_proto!("ferry.v1");
}

use proto::cluster_service_client::ClusterServiceClient;
use proto::connector_service_client::ConnectorServiceClient;
use proto::plugin_service_client::PluginServiceClient;

const STATUS_TIMEOUT: Duration = Duration::from_secs(30);

async fn channel(worker: &FerryProcess) -> Channel {
    tonic::transport::Endpoint::from_shared(worker.url())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn started_worker(dir: &std::path::Path, prefix: &str) -> FerryProcess {
    let mut worker = FerryProcess::worker(dir, prefix, free_local_addr(), &[]).unwrap();
    worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
    worker
}

fn config(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
        .collect()
}

fn create_request(name: &str, pairs: &[(&str, &str)]) -> proto::CreateConnectorRequest {
    proto::CreateConnectorRequest {
        name: name.to_string(),
        config: config(pairs),
        initial_state: String::new(),
    }
}

fn connector_state(status: &proto::ConnectorStatus) -> &str {
    status
        .connector
        .as_ref()
        .map_or("", |state| state.state.as_str())
}

/// True when the connector and all of its (at least one) tasks are in `state`.
fn all_in_state(status: &proto::ConnectorStatus, state: &str) -> bool {
    connector_state(status) == state
        && !status.tasks.is_empty()
        && status.tasks.iter().all(|task| task.state == state)
}

async fn wait_grpc_status(
    client: &ConnectorServiceClient<Channel>,
    name: &str,
    what: &str,
    predicate: impl Fn(&proto::ConnectorStatus) -> bool,
) -> proto::ConnectorStatus {
    let result = wait_until(STATUS_TIMEOUT, what, || {
        let mut client = client.clone();
        let request = proto::GetConnectorStatusRequest {
            name: name.to_string(),
        };
        let predicate = &predicate;
        async move {
            let status = client
                .get_connector_status(request)
                .await
                .ok()?
                .into_inner();
            predicate(&status).then_some(status)
        }
    })
    .await;
    match result {
        Ok(status) => status,
        Err(error) => {
            let last = client
                .clone()
                .get_connector_status(proto::GetConnectorStatusRequest {
                    name: name.to_string(),
                })
                .await;
            panic!("{error}; last status: {last:?}")
        }
    }
}

#[tokio::test]
async fn a_datagen_connector_lives_its_whole_life_over_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("grpc-life");
    let worker = started_worker(dir.path(), &prefix).await;
    let api = Api::new(worker.addr);
    let mut client = ConnectorServiceClient::new(channel(&worker).await);
    let topic = format!("{prefix}-gen");
    let datagen = [
        ("connector.class", "Datagen"),
        ("kafka.topic", topic.as_str()),
        ("quickstart", "sequence"),
        ("max.interval", "50"),
    ];

    // Create: answered with the stored config, and visible over REST on the same worker.
    let created = client
        .create_connector(create_request("gen", &datagen))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.name, "gen");
    assert_eq!(created.config["kafka.topic"], topic);
    assert_eq!(created.config["name"], "gen");
    assert_eq!(created.r#type, "source");
    let (status, rest_info) = api.get("/connectors/gen").await.unwrap();
    assert_eq!(status, 200, "{rest_info}");
    assert_eq!(rest_info["name"], "gen");
    assert_eq!(rest_info["config"]["kafka.topic"], topic.as_str());

    // Get and list.
    let info = client
        .get_connector(proto::GetConnectorRequest { name: "gen".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.config["connector.class"], "Datagen");
    let listed = client
        .list_connectors(proto::ListConnectorsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.names, vec!["gen".to_string()]);
    assert!(listed.connectors.is_empty(), "not expanded: {listed:?}");

    // Status reaches RUNNING, with worker ids; tasks and their configs are listed.
    let running = wait_grpc_status(&client, "gen", "gen RUNNING", |status| {
        all_in_state(status, "RUNNING")
    })
    .await;
    assert_eq!(running.name, "gen");
    assert_eq!(running.r#type, "source");
    assert!(!running.connector.as_ref().unwrap().worker_id.is_empty());
    assert_eq!(running.tasks[0].id, 0);
    assert!(!running.tasks[0].worker_id.is_empty());
    assert_eq!(running.tasks[0].trace, None);
    let expanded = client
        .list_connectors(proto::ListConnectorsRequest {
            expand_status: true,
            expand_info: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(expanded.connectors.len(), 1, "{expanded:?}");
    assert_eq!(expanded.connectors[0].name, "gen");
    assert!(expanded.connectors[0].status.is_some());
    assert_eq!(
        expanded.connectors[0].info.as_ref().unwrap().config["quickstart"],
        "sequence"
    );
    let tasks = client
        .list_tasks(proto::ListTasksRequest { name: "gen".into() })
        .await
        .unwrap()
        .into_inner()
        .tasks;
    assert!(!tasks.is_empty());
    let first_task_id = tasks[0].id.clone().unwrap();
    assert_eq!(
        (first_task_id.connector.as_str(), first_task_id.task),
        ("gen", 0)
    );
    assert_eq!(tasks[0].config["kafka.topic"], topic);
    let task_state = client
        .get_task_status(proto::GetTaskStatusRequest {
            name: "gen".into(),
            task: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(task_state.state, "RUNNING");

    // Source offsets are committed and readable.
    let offsets = wait_until(STATUS_TIMEOUT, "committed Datagen offsets", || {
        let mut client = client.clone();
        async move {
            let offsets = client
                .get_offsets(proto::GetOffsetsRequest { name: "gen".into() })
                .await
                .ok()?
                .into_inner();
            (!offsets.offsets.is_empty()).then_some(offsets)
        }
    })
    .await
    .unwrap();
    assert!(offsets.offsets[0].partition.is_some(), "{offsets:?}");
    assert!(offsets.offsets[0].offset.is_some(), "{offsets:?}");

    // Pause and resume.
    client
        .pause_connector(proto::PauseConnectorRequest { name: "gen".into() })
        .await
        .unwrap();
    wait_grpc_status(&client, "gen", "gen PAUSED", |status| {
        all_in_state(status, "PAUSED")
    })
    .await;
    client
        .resume_connector(proto::ResumeConnectorRequest { name: "gen".into() })
        .await
        .unwrap();
    wait_grpc_status(&client, "gen", "gen RUNNING after resume", |status| {
        all_in_state(status, "RUNNING")
    })
    .await;

    // Restart one task, then the connector with its tasks (which answers the plan).
    client
        .restart_task(proto::RestartTaskRequest {
            name: "gen".into(),
            task: 0,
        })
        .await
        .unwrap();
    wait_grpc_status(
        &client,
        "gen",
        "gen RUNNING after a task restart",
        |status| all_in_state(status, "RUNNING"),
    )
    .await;
    let restarted = client
        .restart_connector(proto::RestartConnectorRequest {
            name: "gen".into(),
            include_tasks: true,
            only_failed: false,
        })
        .await
        .unwrap()
        .into_inner();
    let plan = restarted.plan.expect("flags given, so a plan");
    assert_eq!(connector_state(&plan), "RESTARTING");
    assert!(
        plan.tasks.iter().all(|task| task.state == "RESTARTING"),
        "{plan:?}"
    );
    let only_failed = client
        .restart_connector(proto::RestartConnectorRequest {
            name: "gen".into(),
            include_tasks: true,
            only_failed: true,
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert!(
        only_failed
            .tasks
            .iter()
            .all(|task| task.state != "RESTARTING"),
        "nothing failed, so nothing restarts: {only_failed:?}"
    );
    wait_grpc_status(&client, "gen", "gen RUNNING after a restart", |status| {
        all_in_state(status, "RUNNING")
    })
    .await;

    // Stop, then resume.
    client
        .stop_connector(proto::StopConnectorRequest { name: "gen".into() })
        .await
        .unwrap();
    wait_grpc_status(&client, "gen", "gen STOPPED", |status| {
        connector_state(status) == "STOPPED"
    })
    .await;
    client
        .resume_connector(proto::ResumeConnectorRequest { name: "gen".into() })
        .await
        .unwrap();
    wait_grpc_status(&client, "gen", "gen RUNNING after stop", |status| {
        all_in_state(status, "RUNNING")
    })
    .await;

    // Put (create, then replace) and patch.
    let put = client
        .put_connector_config(proto::PutConnectorConfigRequest {
            name: "put".into(),
            config: config(&datagen),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(put.created);
    let mut replaced_config = config(&datagen);
    replaced_config.insert("max.interval".into(), "100".into());
    let replaced = client
        .put_connector_config(proto::PutConnectorConfigRequest {
            name: "put".into(),
            config: replaced_config,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!replaced.created);
    assert_eq!(replaced.info.unwrap().config["max.interval"], "100");
    let patched = client
        .patch_connector_config(proto::PatchConnectorConfigRequest {
            name: "put".into(),
            set: config(&[("iterations", "1000")]),
            delete_keys: vec!["max.interval".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(patched.config["iterations"], "1000");
    assert!(!patched.config.contains_key("max.interval"), "{patched:?}");
    let (_, rest_config) = api.get("/connectors/put/config").await.unwrap();
    assert_eq!(rest_config["iterations"], "1000");

    // Offsets change only while the connector is STOPPED.
    let running = client
        .reset_offsets(proto::ResetOffsetsRequest { name: "gen".into() })
        .await
        .unwrap_err();
    assert_eq!(running.code(), Code::FailedPrecondition);
    assert!(
        running.message().contains("STOPPED"),
        "{}",
        running.message()
    );

    // Delete: gone over gRPC and REST.
    for name in ["gen", "put"] {
        client
            .delete_connector(proto::DeleteConnectorRequest { name: name.into() })
            .await
            .unwrap();
    }
    let gone = client
        .get_connector(proto::GetConnectorRequest { name: "gen".into() })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
    assert_eq!(api.get("/connectors/gen").await.unwrap().0, 404);
    let listed = client
        .list_connectors(proto::ListConnectorsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.names.is_empty(), "{listed:?}");
}

#[tokio::test]
async fn bad_requests_get_grpc_codes_with_the_rest_message_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("grpc-bad");
    let worker = started_worker(dir.path(), &prefix).await;
    let api = Api::new(worker.addr);
    let mut client = ConnectorServiceClient::new(channel(&worker).await);
    let file = dir.path().join("x.txt").display().to_string();

    let invalid_configs: [(&[(&str, &str)], &str); 6] = [
        (
            &[
                ("connector.class", "FileStreamSinkk"),
                ("file", &file),
                ("topics", "t"),
            ],
            "FileStreamSinkk",
        ),
        (
            &[("connector.class", "FileStreamSink"), ("topics", "t")],
            "file",
        ),
        (
            &[
                ("connector.class", "FileStreamSink"),
                ("file", &file),
                ("topics", "t"),
                ("tasks.max", "many"),
            ],
            "tasks.max",
        ),
        (
            &[
                ("connector.class", "Datagen"),
                ("kafka.topic", "t"),
                ("quickstart", "nope"),
            ],
            "quickstart",
        ),
        (
            &[("connector.class", "FileStreamSink"), ("file", &file)],
            "topics",
        ),
        (
            &[
                ("connector.class", "FileStreamSource"),
                ("file", &file),
                ("topic", "t"),
                ("transaction.boundary", "connector"),
            ],
            "transaction.boundary=connector: The connector does not support connector-defined transaction boundaries",
        ),
    ];
    for (index, (pairs, named)) in invalid_configs.iter().enumerate() {
        let name = format!("bad-{index}");
        let error = client
            .create_connector(create_request(&name, pairs))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument, "{pairs:?}: {error:?}");
        assert!(
            error.message().contains(named),
            "message for {pairs:?} should name `{named}`: {}",
            error.message()
        );
        // REST gives the same message.
        let rest_config: serde_json::Map<String, serde_json::Value> = pairs
            .iter()
            .map(|(key, value)| ((*key).to_string(), json!(value)))
            .collect();
        let (status, rest) = api
            .call(
                reqwest::Method::POST,
                "/connectors",
                Some(&json!({"name": name, "config": rest_config})),
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{rest}");
        assert_eq!(rest["message"], error.message(), "same message over REST");
    }

    // A missing name, a bad name and a bad initial state.
    let nameless = client
        .create_connector(create_request("", &[("connector.class", "Datagen")]))
        .await
        .unwrap_err();
    assert_eq!(nameless.code(), Code::InvalidArgument, "{nameless:?}");
    let slashed = client
        .create_connector(create_request(
            "a/b",
            &[("connector.class", "Datagen"), ("kafka.topic", "t")],
        ))
        .await
        .unwrap_err();
    assert_eq!(slashed.code(), Code::InvalidArgument, "{slashed:?}");
    let mut bad_state = create_request(
        "bad-state",
        &[("connector.class", "Datagen"), ("kafka.topic", "t")],
    );
    bad_state.initial_state = "SLEEPING".into();
    let bad_state_error = client.create_connector(bad_state).await.unwrap_err();
    assert_eq!(bad_state_error.code(), Code::InvalidArgument);
    assert!(bad_state_error.message().contains("SLEEPING"));

    // Nothing was stored.
    let listed = client
        .list_connectors(proto::ListConnectorsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.names.is_empty(), "{listed:?}");
    assert_eq!(api.get("/connectors").await.unwrap().1, json!([]));
    let keys = ferry_tests::topic_keys(&format!("{prefix}-configs"));
    assert!(
        keys.iter()
            .all(|key| !key.starts_with("connector-bad") && !key.contains("bad-state")),
        "nothing written: {keys:?}"
    );

    // Duplicate: ALREADY_EXISTS. An initial state is honoured.
    let mut paused = create_request(
        "dup",
        &[
            ("connector.class", "Datagen"),
            ("kafka.topic", &format!("{prefix}-dup")),
            ("quickstart", "sequence"),
        ],
    );
    paused.initial_state = "PAUSED".into();
    client.create_connector(paused.clone()).await.unwrap();
    let duplicate = client.create_connector(paused).await.unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists, "{duplicate:?}");
    assert!(duplicate.message().contains("dup"), "{duplicate:?}");
    wait_grpc_status(&client, "dup", "dup PAUSED", |status| {
        connector_state(status) == "PAUSED"
    })
    .await;

    // Unknown connector or task: NOT_FOUND, everywhere.
    let unknown = "nope".to_string();
    let codes = [
        client
            .get_connector(proto::GetConnectorRequest {
                name: unknown.clone(),
            })
            .await
            .map(|_| ()),
        client
            .get_connector_status(proto::GetConnectorStatusRequest {
                name: unknown.clone(),
            })
            .await
            .map(|_| ()),
        client
            .list_tasks(proto::ListTasksRequest {
                name: unknown.clone(),
            })
            .await
            .map(|_| ()),
        client
            .pause_connector(proto::PauseConnectorRequest {
                name: unknown.clone(),
            })
            .await
            .map(|_| ()),
        client
            .restart_connector(proto::RestartConnectorRequest {
                name: unknown.clone(),
                include_tasks: true,
                only_failed: false,
            })
            .await
            .map(|_| ()),
        client
            .restart_task(proto::RestartTaskRequest {
                name: unknown.clone(),
                task: 0,
            })
            .await
            .map(|_| ()),
        client
            .patch_connector_config(proto::PatchConnectorConfigRequest {
                name: unknown.clone(),
                set: config(&[("a", "b")]),
                delete_keys: Vec::new(),
            })
            .await
            .map(|_| ()),
        client
            .delete_connector(proto::DeleteConnectorRequest {
                name: unknown.clone(),
            })
            .await
            .map(|_| ()),
        client
            .get_task_status(proto::GetTaskStatusRequest {
                name: "dup".into(),
                task: 99,
            })
            .await
            .map(|_| ()),
    ];
    for (index, result) in codes.into_iter().enumerate() {
        let error = result.expect_err("unknown names fail");
        assert_eq!(error.code(), Code::NotFound, "call {index}: {error:?}");
    }
    let (status, rest) = api.get("/connectors/nope").await.unwrap();
    assert_eq!(status, 404);
    let not_found = client
        .get_connector(proto::GetConnectorRequest { name: unknown })
        .await
        .unwrap_err();
    assert_eq!(
        rest["message"],
        not_found.message(),
        "same message over REST"
    );

    // The cluster view: this single worker, leading.
    let mut cluster = ClusterServiceClient::new(channel(&worker).await);
    let members = cluster
        .list_members(proto::ListMembersRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(members.members.len(), 1, "{members:?}");
    assert!(
        members.members[0].leader && members.members[0].ready,
        "{members:?}"
    );
    assert_eq!(members.leader_id, members.members[0].node_id);
    let assignment = cluster
        .get_assignment(proto::GetAssignmentRequest {
            worker_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(assignment.leader_epoch >= 1, "{assignment:?}");
    assert_eq!(assignment.leader_id, members.leader_id);
    let info = cluster
        .get_server_info(proto::GetServerInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!info.version.is_empty());
    assert!(!info.kafka_cluster_id.is_empty(), "{info:?}");
}

#[tokio::test]
async fn plugins_are_listed_described_and_validate_configs() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("grpc-plugins");
    let worker = started_worker(dir.path(), &prefix).await;
    let api = Api::new(worker.addr);
    let mut client = PluginServiceClient::new(channel(&worker).await);

    let connectors = client
        .list_plugins(proto::ListPluginsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .plugins;
    let (_, rest_plugins) = api.get("/connector-plugins").await.unwrap();
    assert_eq!(
        connectors.len(),
        rest_plugins.as_array().unwrap().len(),
        "connectors only by default, as REST"
    );
    assert!(connectors
        .iter()
        .all(|plugin| plugin.r#type == "source" || plugin.r#type == "sink"));
    assert!(
        connectors
            .iter()
            .any(|plugin| plugin.class.contains("Datagen")),
        "{connectors:?}"
    );
    let everything = client
        .list_plugins(proto::ListPluginsRequest {
            connectors_only: Some(false),
        })
        .await
        .unwrap()
        .into_inner()
        .plugins;
    assert!(
        everything.len() > connectors.len(),
        "converters too: {everything:?}"
    );
    assert!(everything.iter().any(|plugin| plugin.r#type == "converter"));

    let keys = client
        .get_plugin_config(proto::GetPluginConfigRequest {
            plugin: "Datagen".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .configs;
    assert!(keys.iter().any(|key| key.name == "kafka.topic"), "{keys:?}");
    assert!(
        keys.iter().any(|key| key.name == "connector.class"),
        "framework keys too"
    );
    let unknown = client
        .get_plugin_config(proto::GetPluginConfigRequest {
            plugin: "NoSuchConnector".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let invalid = client
        .validate_config(proto::ValidateConfigRequest {
            plugin: "Datagen".into(),
            config: config(&[("kafka.topic", "t"), ("quickstart", "nope")]),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(invalid.error_count >= 1, "{invalid:?}");
    let quickstart = invalid
        .configs
        .iter()
        .find(|info| info.definition.as_ref().unwrap().name == "quickstart")
        .expect("quickstart is described");
    assert!(
        !quickstart.value.as_ref().unwrap().errors.is_empty(),
        "{quickstart:?}"
    );
    let valid = client
        .validate_config(proto::ValidateConfigRequest {
            plugin: "Datagen".into(),
            config: config(&[
                ("name", "valid"),
                ("kafka.topic", "t"),
                ("quickstart", "sequence"),
            ]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(valid.error_count, 0, "{valid:?}");
    let mismatch = client
        .validate_config(proto::ValidateConfigRequest {
            plugin: "Datagen".into(),
            config: config(&[("connector.class", "FileStreamSink")]),
        })
        .await
        .unwrap_err();
    assert_eq!(mismatch.code(), Code::InvalidArgument);
}

/// `FenceConnector`, the gRPC twin of `PUT /connectors/{name}/fence`: on a worker with
/// exactly-once sources it fences the running task's transactional producer (the broker refuses
/// its next transaction, the task starts again with a new producer); NOT_FOUND for an unknown
/// connector, INVALID_ARGUMENT for a sink, with the REST API's messages.
#[tokio::test]
async fn fence_connector_fences_an_exactly_once_source_over_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("grpc-fence");
    let topic = format!("{prefix}-seq");
    let (worker, api) = ferry_tests::start_worker(
        dir.path(),
        &prefix,
        &[("exactly.once.source.support", "enabled")],
    )
    .await;
    let mut client = ConnectorServiceClient::new(channel(&worker).await);
    api.create_connector(
        "gen",
        json!({"connector.class": "Datagen", "kafka.topic": topic, "quickstart": "sequence",
               "tasks.max": "1", "max.interval": "5", "exactly.once.support": "required"}),
    )
    .await
    .unwrap();
    wait_grpc_status(&client, "gen", "gen RUNNING", |status| {
        all_in_state(status, "RUNNING")
    })
    .await;
    // RUNNING is reported before the task's producer initialised its transactions: fenced
    // before that, the task's own init_transactions would fence the fencer instead. Committed
    // records mean the task's producer is the one the fence hits.
    wait_until(
        Duration::from_secs(60),
        "committed records of the task",
        || async { (ferry_tests::topic_record_count(&topic) >= 50).then_some(()) },
    )
    .await
    .unwrap();
    client
        .fence_connector(proto::FenceConnectorRequest { name: "gen".into() })
        .await
        .unwrap();
    let log_of = |worker: &FerryProcess| worker.stderr() + &worker.stdout();
    wait_until(
        Duration::from_secs(60),
        "the fencing logged, the task's producer fenced and the task restarted",
        || {
            let log = log_of(&worker);
            async move {
                (log.contains("zombie fencing: every task's transactional producer fenced")
                    && log
                        .matches("exactly-once source task: zombies fenced")
                        .count()
                        >= 2)
                    .then_some(())
            }
        },
    )
    .await
    .unwrap();

    let unknown = client
        .fence_connector(proto::FenceConnectorRequest {
            name: format!("{prefix}-no-such-connector"),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    api.create_connector(
        "sink",
        json!({"connector.class": "FileStreamSink", "topics": topic,
               "file": dir.path().join("sink.txt").display().to_string()}),
    )
    .await
    .unwrap();
    let sink = client
        .fence_connector(proto::FenceConnectorRequest {
            name: "sink".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(sink.code(), Code::InvalidArgument, "{sink:?}");
    assert_eq!(sink.message(), "Connector sink is not a source connector");
}
