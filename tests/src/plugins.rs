//! Helpers for tests of connector jars run by the plugin host: the project scripts that build
//! the host and fetch the test jars, the host processes of a worker, and line files.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::repo_root;

/// The marker in a plugin host's command line.
pub const HOST_MAIN_CLASS: &str = "dev.ferry.pluginhost.Main";

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
