//! Connector jars (Apache's `connect-file` 4.3.1, through the plugin host) on two-worker
//! clusters against the real broker: a connector instance on a worker that is not the leader
//! sends its task configs to the leader; a plugin present on one worker only is only ever
//! assigned there, waits (with a status that says why) while that worker is gone, and is
//! placed again when it returns; `kill -9` of a worker mid-stream loses nothing and leaves no
//! plugin host behind.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use ferry_tests::plugins::{
    append_lines, children_running, create_jar_pipeline, distinct_lines, plugin_properties,
    process_exists, wait_for_lines, HOST_MAIN_CLASS, JAR_VERSION,
};
use ferry_tests::{
    all_running, as_refs, free_local_addr, node_id_of, unique_name, Api, FerryProcess,
};
use nix::sys::signal::Signal;
use serde_json::json;

/// Waits until `api` sees `count` ready members and `leader` leading.
async fn wait_for_cluster(api: &Api, count: usize, leader: &str) {
    ferry_tests::wait_until(Duration::from_secs(60), "the cluster to form", || async {
        let (_, view) = api.get("/cluster").await.ok()?;
        let ready = view["members"]
            .as_array()?
            .iter()
            .filter(|member| member["ready"] == true)
            .count();
        (ready == count && view["leader"] == leader).then_some(())
    })
    .await
    .unwrap();
}

/// The worker ids a connector's status names: its own, then each task's.
fn status_workers(status: &serde_json::Value) -> Vec<String> {
    let mut workers = vec![status["connector"]["worker_id"]
        .as_str()
        .unwrap_or_default()
        .to_string()];
    for task in status["tasks"].as_array().into_iter().flatten() {
        workers.push(task["worker_id"].as_str().unwrap_or_default().to_string());
    }
    workers
}

#[tokio::test]
async fn a_plugin_on_one_worker_is_only_assigned_there_and_waits_for_it_while_it_is_gone() {
    let plugins = plugin_properties();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("plugone");
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    append_lines(&input, "before", 0, 2_000);

    // The worker with the plugin starts first, so it is the oldest and leads (the leader
    // validates configs, and Kafka Connect's leader needs the plugin for that too).
    let with_addr = free_local_addr();
    let without_addr = free_local_addr();
    let seeds = [with_addr, without_addr];
    let mut with_plugin =
        FerryProcess::cluster_worker(dir.path(), &prefix, with_addr, &seeds, &as_refs(&plugins))
            .unwrap();
    with_plugin
        .wait_healthy(Duration::from_secs(60))
        .await
        .unwrap();
    let mut without_plugin =
        FerryProcess::cluster_worker(dir.path(), &prefix, without_addr, &seeds, &[]).unwrap();
    without_plugin
        .wait_healthy(Duration::from_secs(60))
        .await
        .unwrap();
    let api = Api::new(without_addr);
    wait_for_cluster(&api, 2, &node_id_of(with_addr)).await;

    // Submitted to the worker without the plugin (forwarded to the leader). A built-in with
    // four tasks competes for the same two workers: unconstrained, balance would put one of
    // the jar connectors (or its task) on the worker without the plugin.
    create_jar_pipeline(&api, &prefix, &input, &output).await;
    api.create_connector(
        &format!("{prefix}-gen"),
        json!({"connector.class": "Datagen", "kafka.topic": format!("{prefix}-gen"), "quickstart": "sequence",
               "tasks.max": 4, "max.interval": 200}),
    )
    .await
    .unwrap();
    let jar_connectors = [format!("{prefix}-source"), format!("{prefix}-sink")];
    let with_id = with_addr.to_string();
    for name in &jar_connectors {
        api.wait_status(name, Duration::from_secs(60), |status| {
            all_running(status, 1) && status_workers(status).iter().all(|w| *w == with_id)
        })
        .await
        .unwrap();
    }
    let expected_before = distinct_lines(&input);
    wait_for_lines(&output, &expected_before, Duration::from_secs(60)).await;

    // Over a rebalance (another built-in connector), every status keeps naming the worker
    // with the plugin; the built-ins do use the other worker.
    api.create_connector(
        &format!("{prefix}-gen2"),
        json!({"connector.class": "Datagen", "kafka.topic": format!("{prefix}-gen2"), "quickstart": "sequence",
               "tasks.max": 3, "max.interval": 200}),
    )
    .await
    .unwrap();
    // Checked on every poll until the rebalance is over (both Datagen connectors running all
    // their tasks), and once more after it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut checks = 0;
    let mut settled_checks = 0;
    while settled_checks < 2 {
        assert!(
            Instant::now() < deadline,
            "the rebalance did not finish within 30 s"
        );
        let mut settled = true;
        for (name, tasks) in [(format!("{prefix}-gen"), 4), (format!("{prefix}-gen2"), 3)] {
            let (_, status) = api
                .get(&format!("/connectors/{name}/status"))
                .await
                .unwrap();
            settled &= all_running(&status, tasks);
        }
        if settled {
            settled_checks += 1;
        }
        for name in &jar_connectors {
            let (_, status) = api
                .get(&format!("/connectors/{name}/status"))
                .await
                .unwrap();
            let workers = status_workers(&status);
            assert!(
                workers.iter().all(|worker| *worker == with_id),
                "{name} placed on a worker without its plugin: {status}"
            );
            checks += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let gen2 = api
        .wait_status(
            &format!("{prefix}-gen2"),
            Duration::from_secs(30),
            |status| all_running(status, 3),
        )
        .await
        .unwrap();
    let gen = api
        .wait_status(
            &format!("{prefix}-gen"),
            Duration::from_secs(30),
            |status| all_running(status, 4),
        )
        .await
        .unwrap();
    let without_id = without_addr.to_string();
    assert!(
        status_workers(&gen)
            .iter()
            .chain(status_workers(&gen2).iter())
            .any(|worker| *worker == without_id),
        "the built-ins use the other worker: {gen} {gen2}"
    );
    println!("{checks} status checks: the jar connectors stayed on {with_id}");

    // The worker with the plugin dies: nothing else can run the jar connectors, and their
    // status says why.
    with_plugin.signal(Signal::SIGKILL).unwrap();
    with_plugin
        .wait_exit(Duration::from_secs(10))
        .await
        .unwrap();
    let waiting = api
        .wait_status(&jar_connectors[0], Duration::from_secs(60), |status| {
            status["connector"]["state"] == "UNASSIGNED"
                && status["connector"]["trace"]
                    .as_str()
                    .is_some_and(|trace| trace.contains("no live worker has the plugin"))
        })
        .await
        .unwrap();
    println!("while the plugin's worker is gone: {waiting}");
    append_lines(&input, "while-gone", 2_000, 1_000);

    // It comes back (same node id, new incarnation): the jar connectors are placed there again
    // and resume from their stored offsets; the leader is now the worker without the plugin.
    let mut returned =
        FerryProcess::cluster_worker(dir.path(), &prefix, with_addr, &seeds, &as_refs(&plugins))
            .unwrap();
    returned
        .wait_healthy(Duration::from_secs(60))
        .await
        .unwrap();
    for name in &jar_connectors {
        api.wait_status(name, Duration::from_secs(60), |status| {
            all_running(status, 1) && status_workers(status).iter().all(|w| *w == with_id)
        })
        .await
        .unwrap();
    }
    let expected_all = distinct_lines(&input);
    assert_eq!(expected_all.len(), 3_000);
    wait_for_lines(&output, &expected_all, Duration::from_secs(60)).await;
}

#[tokio::test]
async fn a_jar_pipeline_with_an_instance_off_the_leader_survives_kill_9_of_a_worker() {
    let plugins = plugin_properties();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("plugtwo");
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    append_lines(&input, "first", 0, 20_000);

    let addrs: Vec<SocketAddr> = vec![free_local_addr(), free_local_addr()];
    let mut workers = Vec::new();
    for addr in &addrs {
        workers.push(
            FerryProcess::cluster_worker(dir.path(), &prefix, *addr, &addrs, &as_refs(&plugins))
                .unwrap(),
        );
    }
    for worker in &mut workers {
        worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
    }
    let api = Api::new(addrs[0]);
    let leader = ferry_tests::wait_until(Duration::from_secs(60), "a leader", || async {
        let (_, view) = api.get("/cluster").await.ok()?;
        let ready = view["members"]
            .as_array()?
            .iter()
            .filter(|member| member["ready"] == true)
            .count();
        (ready == 2).then(|| view["leader"].as_str().map(str::to_string))?
    })
    .await
    .unwrap();
    let follower_index = addrs
        .iter()
        .position(|addr| node_id_of(*addr) != leader)
        .unwrap();
    let follower_id = addrs[follower_index].to_string();

    // Two connectors on two workers: one instance runs on the follower, whose task configs
    // reach the leader (else its task never exists).
    create_jar_pipeline(&api, &prefix, &input, &output).await;
    let mut on_follower = Vec::new();
    for name in [format!("{prefix}-source"), format!("{prefix}-sink")] {
        let status = api
            .wait_status(&name, Duration::from_secs(60), |status| {
                all_running(status, 1)
            })
            .await
            .unwrap();
        if status["connector"]["worker_id"] == follower_id.as_str() {
            on_follower.push(name);
        }
    }
    assert_eq!(
        on_follower.len(),
        1,
        "one connector instance on the follower {follower_id}"
    );
    println!("connector instance on the follower: {on_follower:?}");

    // kill -9 of the follower mid-stream; its plugin host goes with it.
    ferry_tests::wait_until(Duration::from_secs(60), "the first lines out", || async {
        (!distinct_lines(&output).is_empty()).then_some(())
    })
    .await
    .unwrap();
    let follower = &mut workers[follower_index];
    let hosts = children_running(follower.pid(), HOST_MAIN_CLASS);
    assert_eq!(hosts.len(), 1, "one plugin host per worker: {hosts:?}");
    follower.signal(Signal::SIGKILL).unwrap();
    let lines_at_kill = distinct_lines(&output).len();
    follower.wait_exit(Duration::from_secs(10)).await.unwrap();
    println!("killed the follower with {lines_at_kill} of 20000 lines out");
    ferry_tests::wait_until(
        Duration::from_secs(10),
        "the dead worker's plugin host to exit",
        || async { (!process_exists(hosts[0])).then_some(()) },
    )
    .await
    .unwrap();

    // The survivor runs both connectors; nothing is missing, also of what came after.
    append_lines(&input, "after", 20_000, 5_000);
    let leader_addr = addrs[1 - follower_index].to_string();
    let survivor = Api::new(addrs[1 - follower_index]);
    for name in [format!("{prefix}-source"), format!("{prefix}-sink")] {
        survivor
            .wait_status(&name, Duration::from_secs(60), |status| {
                all_running(status, 1) && status_workers(status).iter().all(|w| *w == leader_addr)
            })
            .await
            .unwrap();
    }
    let expected = distinct_lines(&input);
    assert_eq!(expected.len(), 25_000);
    wait_for_lines(&output, &expected, Duration::from_secs(90)).await;
}

/// Copies the directory `from` to `to` (a plugin location, file by file, as an operator would).
fn copy_location(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_location(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn a_jar_copied_into_plugin_path_of_a_running_worker_is_listed_gossiped_and_used() {
    let plugins = plugin_properties();
    let cached_plugins = plugins
        .iter()
        .find(|(key, _)| key == "plugin.path")
        .map(|(_, value)| std::path::PathBuf::from(value))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("plughot");
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir(&plugin_dir).unwrap();
    // Empty plugin.path at start: no plugin host runs until a location appears.
    let properties: Vec<(String, String)> = plugins
        .iter()
        .map(|(key, value)| {
            let value = if key == "plugin.path" {
                plugin_dir.display().to_string()
            } else {
                value.clone()
            };
            (key.clone(), value)
        })
        .collect();
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    append_lines(&input, "hot", 0, 1_000);

    let with_addr = free_local_addr();
    let without_addr = free_local_addr();
    let seeds = [with_addr, without_addr];
    let mut hot = FerryProcess::cluster_worker(
        dir.path(),
        &prefix,
        with_addr,
        &seeds,
        &as_refs(&properties),
    )
    .unwrap();
    hot.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let mut other =
        FerryProcess::cluster_worker(dir.path(), &prefix, without_addr, &seeds, &[]).unwrap();
    other.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let api = Api::new(with_addr);
    wait_for_cluster(&api, 2, &node_id_of(with_addr)).await;
    assert!(
        children_running(hot.pid(), HOST_MAIN_CLASS).is_empty(),
        "no plugin host before a plugin is installed"
    );
    let jar_listed = |plugins: &serde_json::Value| {
        plugins.as_array().is_some_and(|listed| {
            listed.iter().any(|plugin| {
                plugin["class"] == "org.apache.kafka.connect.file.FileStreamSourceConnector"
                    && plugin["version"] == JAR_VERSION
            })
        })
    };
    let (_, before) = api.get("/connector-plugins").await.unwrap();
    assert!(!jar_listed(&before), "{before}");

    // Deploy: copy the jar's location into plugin.path; no restart.
    let copied_at = Instant::now();
    copy_location(
        &cached_plugins.join("connect-file-4.3.1"),
        &plugin_dir.join("connect-file-4.3.1"),
    );
    ferry_tests::wait_until(
        Duration::from_secs(60),
        "the copied jar in GET /connector-plugins",
        || async {
            let (_, plugins) = api.get("/connector-plugins").await.ok()?;
            jar_listed(&plugins).then_some(())
        },
    )
    .await
    .unwrap();
    println!("jar listed {:?} after the copy", copied_at.elapsed());

    // Precedence: without a version the built-in answers FileStreamSource; with the jar's
    // version the jar does. The jar pipeline runs only where the jar was installed (gossip),
    // next to a built-in that uses both workers.
    api.create_connector(
        &format!("{prefix}-builtin"),
        json!({"connector.class": "FileStreamSource", "file": input,
               "topic": format!("{prefix}-builtin"), "tasks.max": 1}),
    )
    .await
    .unwrap();
    api.create_connector(
        &format!("{prefix}-gen"),
        json!({"connector.class": "Datagen", "kafka.topic": format!("{prefix}-gen"), "quickstart": "sequence",
               "tasks.max": 3, "max.interval": 200}),
    )
    .await
    .unwrap();
    create_jar_pipeline(&api, &prefix, &input, &output).await;
    let builtin = api
        .wait_status(
            &format!("{prefix}-builtin"),
            Duration::from_secs(60),
            |status| all_running(status, 1),
        )
        .await
        .unwrap();
    assert_ne!(builtin["connector"]["version"], JAR_VERSION, "{builtin}");
    let with_id = with_addr.to_string();
    for name in [format!("{prefix}-source"), format!("{prefix}-sink")] {
        let status = api
            .wait_status(&name, Duration::from_secs(60), |status| {
                all_running(status, 1) && status_workers(status).iter().all(|w| *w == with_id)
            })
            .await
            .unwrap();
        assert_eq!(status["connector"]["version"], JAR_VERSION, "{status}");
    }
    let expected = distinct_lines(&input);
    wait_for_lines(&output, &expected, Duration::from_secs(60)).await;
    let gen = api
        .wait_status(
            &format!("{prefix}-gen"),
            Duration::from_secs(30),
            |status| all_running(status, 3),
        )
        .await
        .unwrap();
    assert!(
        status_workers(&gen).contains(&without_addr.to_string()),
        "the built-ins use the worker without the jar: {gen}"
    );
}
