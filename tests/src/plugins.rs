//! Helpers for tests of connector jars run by the plugin host: the project scripts that build
//! the host and fetch the test jars, the host processes of a worker, a jar pipeline, and line
//! files.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::{repo_root, Api};

/// The marker in a plugin host's command line.
pub const HOST_MAIN_CLASS: &str = "dev.ferry.pluginhost.Main";
/// The version of Apache's `connect-file` jar that `fetch-test-plugins.sh` fetches; naming it
/// in `connector.plugin.version` selects the jar over the built-in FileStream connectors.
pub const JAR_VERSION: &str = "4.3.1";
/// Kafka Connect's StringConverter, for keys and values of the jar pipelines.
pub const STRING_CONVERTER: &str = "org.apache.kafka.connect.storage.StringConverter";

/// Creates the jar FileStreamSource `<prefix>-source` (input → topic `<prefix>-lines`) and
/// FileStreamSink `<prefix>-sink` (topic → output), both selected over the built-ins by
/// version.
///
/// # Panics
/// Panics when a connector is refused.
pub async fn create_jar_pipeline(api: &Api, prefix: &str, input: &Path, output: &Path) {
    let topic = format!("{prefix}-lines");
    api.create_connector(
        &format!("{prefix}-source"),
        json!({"connector.class": "FileStreamSource", "connector.plugin.version": JAR_VERSION,
               "file": input, "topic": topic,
               "key.converter": STRING_CONVERTER, "value.converter": STRING_CONVERTER}),
    )
    .await
    .unwrap();
    api.create_connector(
        &format!("{prefix}-sink"),
        json!({"connector.class": "FileStreamSink", "connector.plugin.version": JAR_VERSION,
               "file": output, "topics": topic,
               "key.converter": STRING_CONVERTER, "value.converter": STRING_CONVERTER}),
    )
    .await
    .unwrap();
}

/// Waits until the file at `path` holds every line of `expected` (duplicates allowed).
///
/// # Panics
/// Panics when it does not within `within`.
pub async fn wait_for_lines(path: &Path, expected: &BTreeSet<String>, within: Duration) {
    crate::wait_until(within, "every input line in the output", || async {
        distinct_lines(path).is_superset(expected).then_some(())
    })
    .await
    .unwrap();
}

/// Runs a project script that prints a directory on stdout (`build-plugin-host.sh`,
/// `fetch-test-plugins.sh`) and returns that directory.
///
/// # Panics
/// Panics when the script fails.
pub fn script_dir(script: &str) -> PathBuf {
    let output = Command::new(repo_root().join("scripts").join(script))
        .output()
        .expect("script runs");
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// The worker properties that give a worker the test jars: `plugin.path`, the host build, and
/// `plugin.discovery=service_load` (KIP-898: the jars' ServiceLoader manifests instead of a
/// reflective scan of every class, which takes the host many seconds on a loaded machine).
pub fn plugin_properties() -> Vec<(String, String)> {
    let host_dir = script_dir("build-plugin-host.sh");
    let plugin_path = script_dir("fetch-test-plugins.sh");
    vec![
        ("plugin.path".to_string(), plugin_path.display().to_string()),
        (
            "plugin.host.dir".to_string(),
            host_dir.display().to_string(),
        ),
        ("plugin.discovery".to_string(), "service_load".to_string()),
    ]
}

/// The pids of the processes whose parent is `parent` and whose command line mentions `needle`.
pub fn children_running(parent: u32, needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command: state, ppid, ...
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let ppid = after.split_whitespace().nth(1).and_then(|f| f.parse().ok());
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == Some(parent) && String::from_utf8_lossy(&cmdline).contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

/// Whether process `pid` exists and is not a zombie.
pub fn process_exists(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_string));
            state.as_deref() != Some("Z")
        })
        .unwrap_or(false)
}

/// Appends lines `first..first + count` (`line <n> <tag>`) to `path`.
///
/// # Panics
/// Panics when the file cannot be written.
pub fn append_lines(path: &Path, tag: &str, first: usize, count: usize) {
    let mut bytes = Vec::new();
    for index in first..first + count {
        bytes.extend_from_slice(format!("line {index:07} {tag}\n").as_bytes());
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(&bytes).unwrap();
}

/// The distinct lines of a file (empty when it does not exist).
pub fn distinct_lines(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
