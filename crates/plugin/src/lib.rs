//! Ferry's plugin protocol and plugin processes.
//!
//! A connector that is not compiled into Ferry runs in a plugin process: the JVM plugin host
//! (`plugin-host/`, Kafka Connect connector jars) or a native plugin in any language. Both speak
//! `proto/ferry/plugin/v1` over a Unix socket; this crate holds the generated client, launches
//! and supervises the process ([`host::PluginHost`]) and turns what it describes into the SDK's
//! types ([`catalog`]).
//!
//! Non-goals: the data path. The task adapters that implement the SDK's `SourceTask` and
//! `SinkTask` over the protocol live with the runtime (`ferry-actors`), which keeps every Kafka
//! read and write.
//!
//! ```text
//!  worker ──spawn (setpriv --pdeathsig KILL, stdin pipe, token)──► plugin process
//!         ◄── stdout: FERRY-PLUGIN|1|unix|<socket>|grpc ─────────
//!         ◄── stderr: LEVEL|logger|connector.context|message ──► tracing
//!         ── gRPC over the socket: Describe, Validate, Connector/SourceTask/SinkTask streams
//!         ── grpc.health.v1 every second; a missed deadline kills the process, its streams
//!            fail, and the task supervisors restart the tasks from stored offsets
//! ```

pub mod catalog;
pub mod host;
mod logs;

/// The code generated from `proto/ferry/plugin/v1/plugin.proto`.
#[allow(clippy::all, unreachable_pub, missing_docs)]
pub mod proto {
    tonic::include_proto!("ferry.plugin.v1");
}

/// The protocol version this Ferry speaks.
pub const PROTOCOL_VERSION: u32 = 1;

pub use host::{
    parse_jvm_options, PluginClient, PluginHost, PluginHostConfig, PluginHostError,
    JVM_DEFAULT_OPTIONS, JVM_OPTIONS_KEY,
};
