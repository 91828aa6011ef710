//! Compiles `proto/ferry/plugin/v1/*.proto` (client side only: Ferry drives plugins) with the
//! vendored protoc.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from("../../proto");
    let mut protos = Vec::new();
    for entry in std::fs::read_dir(proto_root.join("ferry/plugin/v1"))? {
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
    tonic_prost_build::configure()
        .build_server(false)
        // A put that the task answers with Retry is sent again: with `Bytes` its copy shares the
        // record bytes instead of copying them (and the runtime's Vec moves in without a copy).
        .bytes(".ferry.plugin.v1.SinkRecord.key")
        .bytes(".ferry.plugin.v1.SinkRecord.value")
        .compile_protos(&protos, &[proto_root])?;
    Ok(())
}
