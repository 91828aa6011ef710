//! Compiles `proto/ferry/v1/*.proto` with the vendored protoc and records the git commit that
//! `GET /` reports.

use std::path::PathBuf;
use std::process::Command;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from("../../proto");
    let mut protos = Vec::new();
    for entry in std::fs::read_dir(proto_root.join("ferry/v1"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "proto") {
            println!("cargo:rerun-if-changed={}", path.display());
            protos.push(path);
        }
    }
    protos.sort();
    if std::env::var_os("PROTOC").is_none() {
        std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("ferry_descriptor.bin"))
        .compile_protos(&protos, &[proto_root])?;

    println!("cargo:rerun-if-env-changed=FERRY_GIT_COMMIT");
    // Asked of git rather than assumed to be ../../.git/HEAD and ../../.git/refs/heads: in a
    // worktree `.git` is a file, and a rerun-if-changed path that does not exist makes cargo
    // rebuild this crate every time; the branch's own ref file (not the refs directory, which
    // changes with every commit on any branch of a shared repository) marks a new commit.
    let branch_ref = git_rev_parse(&["--symbolic-full-name", "HEAD"]);
    let watched = [
        git_path(&["--git-path", "HEAD"]),
        branch_ref.and_then(|name| git_path(&["--git-path", &name])),
    ];
    for path in watched.into_iter().flatten() {
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let commit = std::env::var("FERRY_GIT_COMMIT").ok().or_else(git_commit);
    println!(
        "cargo:rustc-env=FERRY_GIT_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
    Ok(())
}

fn git_commit() -> Option<String> {
    git_rev_parse(&["--short=12", "HEAD"])
}

/// A path `git rev-parse` prints (relative to this crate when git prints it relative).
fn git_path(args: &[&str]) -> Option<PathBuf> {
    git_rev_parse(args).map(PathBuf::from)
}

fn git_rev_parse(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("rev-parse")
        .args(args)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}
