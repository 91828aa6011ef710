//! `ferry ctl`: a command-line client of a cluster's gRPC API (any worker answers).
//!
//! ```text
//! ferry ctl [--server HOST:PORT] [-o table|json] <command>
//!   apply -f FILE        create a connector from a Kafka Connect JSON file, or update its config
//!   get connectors       NAME TYPE STATE TASKS(running/total) WORKERS
//!   describe NAME        connector state and worker, then its tasks
//!   delete|pause|resume|stop NAME
//!   restart NAME [--tasks] [--failed]
//!   offsets NAME         committed offsets
//!   plugins [--all]      installed connector plugins (--all: converters too)
//!   cluster              members (leader marked *) and the assignment epoch
//!   watch                status changes as they happen, one line each
//! ```
//! The server defaults to `127.0.0.1:8083` or `$FERRY_SERVER`; `https://HOST:PORT` or `--cacert`
//! turn TLS on. Credentials: `--user USER:PASSWORD` ($FERRY_USER) or `--token` ($FERRY_TOKEN);
//! `--cert`/`--key` for a worker that requires client certificates. `-o json` prints the response as
//! JSON (one object per line for `watch`); the shapes are documented on the structs of `views`
//! and `watch`.
//!
//! Exit codes scripts can rely on:
//! `0` success; `1` the server answered an error (`error: <CODE>: <message>` on stderr);
//! `2` usage error or unreadable file; `3` the connector does not exist (NOT_FOUND);
//! `4` the server cannot be reached.

mod connectors;
mod output;
mod views;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;

use clap::{Args, Subcommand, ValueEnum};
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

use crate::grpc::proto;
use views::View;

/// Address used when neither `--server` nor `FERRY_SERVER` is given.
pub const DEFAULT_SERVER: &str = "127.0.0.1:8083";
/// How long establishing the connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one call may take (creating a connector waits for Kafka); `watch` has no limit.
const CALL_TIMEOUT: Duration = Duration::from_secs(90);

/// Arguments of `ferry ctl`.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// host:port of a worker's REST/gRPC listener (or an http:// URL).
    #[arg(long, global = true, env = "FERRY_SERVER", default_value = DEFAULT_SERVER)]
    server: String,
    /// Basic credentials USER:PASSWORD (the users of the worker's BasicAuth extension).
    #[arg(
        long,
        global = true,
        env = "FERRY_USER",
        value_name = "USER:PASSWORD",
        hide_env_values = true
    )]
    user: Option<String>,
    /// A bearer token (from the worker's rest.auth.tokens.file).
    #[arg(
        long,
        global = true,
        env = "FERRY_TOKEN",
        hide_env_values = true,
        conflicts_with = "user"
    )]
    token: Option<String>,
    /// PEM file of the CA certificates to trust; implies TLS (https).
    #[arg(long, global = true, env = "FERRY_CACERT", value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// PEM client certificate chain, for workers with ssl.client.auth=required.
    #[arg(
        long,
        global = true,
        env = "FERRY_CERT",
        value_name = "FILE",
        requires = "key"
    )]
    cert: Option<PathBuf>,
    /// PEM private key of --cert.
    #[arg(
        long,
        global = true,
        env = "FERRY_KEY",
        value_name = "FILE",
        requires = "cert"
    )]
    key: Option<PathBuf>,
    /// How to print results: aligned tables for people, or JSON for scripts.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = OutputFormat::Table)]
    output: OutputFormat,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// Creates a connector from a Kafka Connect JSON file ({"name", "config"}), or replaces the
    /// config of the connector of that name.
    Apply {
        /// The connector file.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Lists resources.
    Get {
        #[command(subcommand)]
        resource: GetResource,
    },
    /// Shows a connector's state, worker and tasks.
    Describe { name: String },
    /// Deletes a connector; its tasks stop.
    Delete { name: String },
    /// Pauses a connector and its tasks.
    Pause { name: String },
    /// Resumes a paused or stopped connector.
    Resume { name: String },
    /// Stops a connector and shuts its tasks down.
    Stop { name: String },
    /// Restarts a connector; prints what restarts when --tasks or --failed is given.
    Restart {
        name: String,
        /// Restart the connector's tasks too.
        #[arg(long)]
        tasks: bool,
        /// Restart only the instances that failed.
        #[arg(long)]
        failed: bool,
    },
    /// Shows a connector's committed offsets.
    Offsets { name: String },
    /// Lists the installed connector plugins.
    Plugins {
        /// Also list converters and other non-connector plugins.
        #[arg(long)]
        all: bool,
    },
    /// Shows the cluster's members (the leader marked *) and the assignment epoch.
    Cluster,
    /// Prints status changes of connectors and tasks as they happen, until interrupted.
    Watch {
        /// Only this connector (repeatable); every connector when absent.
        #[arg(long = "connector", value_name = "NAME")]
        connectors: Vec<String>,
        /// Also print membership changes.
        #[arg(long)]
        members: bool,
        /// Do not start with the current status of every watched connector.
        #[arg(long)]
        no_initial: bool,
    },
}

#[derive(Debug, Subcommand)]
enum GetResource {
    /// All connectors with their state, tasks and workers.
    #[command(alias = "connector")]
    Connectors,
}

/// Why a command failed; decides the exit code.
#[derive(Debug, thiserror::Error)]
enum CtlError {
    /// Bad arguments or an unreadable connector file: exit 2.
    #[error("{0}")]
    Usage(String),
    /// The server could not be reached: exit 4.
    #[error("cannot connect to the server at {server}: {reason}")]
    Connect { server: String, reason: String },
    /// The connection failed during a call (e.g. the server refused our TLS certificate after
    /// the handshake): exit 4.
    #[error("the connection to the server failed: {0}")]
    Transport(String),
    /// The server answered an error: exit 3 for NOT_FOUND, 1 otherwise.
    #[error("{}: {}", code_name(.0.code()), .0.message())]
    Server(tonic::Status),
}

impl CtlError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CtlError::Usage(_) => ExitCode::from(2),
            CtlError::Connect { .. } | CtlError::Transport(_) => ExitCode::from(4),
            CtlError::Server(status) if status.code() == Code::NotFound => ExitCode::from(3),
            CtlError::Server(_) => ExitCode::from(1),
        }
    }
}

impl From<tonic::Status> for CtlError {
    fn from(status: tonic::Status) -> Self {
        // tonic reports a broken connection (UNKNOWN or CANCELLED) with its cause in `source`; an
        // answer of the server has none.
        if std::error::Error::source(&status).is_some() {
            return CtlError::Transport(error_chain(&status));
        }
        CtlError::Server(status)
    }
}

/// The canonical gRPC name of `code`, as in `grpc-status` documentation (`NOT_FOUND`).
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Where and how one invocation talks and prints.
struct Session {
    server: String,
    output: OutputFormat,
    /// The `authorization` metadata every call carries.
    authorization_opt: Option<MetadataValue<Ascii>>,
    /// TLS when the server is https (or --cacert is given).
    tls_opt: Option<Arc<rustls::ClientConfig>>,
}

/// A channel whose calls carry the session's credentials.
type CtlChannel = InterceptedService<Channel, Credentials>;

/// Adds the `authorization` metadata to every call.
#[derive(Clone)]
struct Credentials {
    authorization_opt: Option<MetadataValue<Ascii>>,
}

impl Interceptor for Credentials {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(authorization) = &self.authorization_opt {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        Ok(request)
    }
}

/// The `authorization` value and the TLS config of a session.
type SessionSecurity = (
    Option<MetadataValue<Ascii>>,
    Option<Arc<rustls::ClientConfig>>,
);

/// Builds the `authorization` value and TLS config from the flags.
fn session_security(args: &CtlArgs) -> Result<SessionSecurity, CtlError> {
    let authorization_opt = match (&args.user, &args.token) {
        (Some(user), _) => {
            if !user.contains(':') {
                return Err(CtlError::Usage("--user expects USER:PASSWORD".into()));
            }
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(user)
            ))
        }
        (None, Some(token)) => Some(format!("Bearer {}", token.trim())),
        (None, None) => None,
    };
    let authorization_opt = match authorization_opt {
        Some(value) => Some(
            value
                .parse()
                .map_err(|_| CtlError::Usage("credentials must be printable ASCII".into()))?,
        ),
        None => None,
    };
    let https = args.server.starts_with("https://") || args.cacert.is_some();
    if !https {
        return Ok((authorization_opt, None));
    }
    let read = |path: &PathBuf| {
        std::fs::read(path)
            .map_err(|error| CtlError::Usage(format!("cannot read {}: {error}", path.display())))
    };
    let trusted = match &args.cacert {
        Some(path) => crate::security::tls::pem_certificates(&read(path)?)
            .map_err(|reason| CtlError::Usage(format!("--cacert {}: {reason}", path.display())))?,
        None => Vec::new(),
    };
    let identity_opt = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Some(
            crate::security::tls::pem_identity(&read(cert)?, &read(key)?)
                .map_err(|reason| CtlError::Usage(format!("--cert/--key: {reason}")))?,
        ),
        _ => None,
    };
    let config =
        crate::security::tls::ctl_client_config(&trusted, identity_opt).map_err(CtlError::Usage)?;
    Ok((authorization_opt, Some(Arc::new(config))))
}

impl Session {
    /// Connects to the server; calls on the channel time out after `call_timeout_opt`.
    async fn connect(&self, call_timeout_opt: Option<Duration>) -> Result<CtlChannel, CtlError> {
        // TLS is done by our connector; tonic sees a plain URI.
        let host_port = self
            .server
            .strip_prefix("https://")
            .or_else(|| self.server.strip_prefix("http://"))
            .unwrap_or(&self.server)
            .trim_end_matches('/');
        let url = format!("http://{host_port}");
        let endpoint = Endpoint::from_shared(url).map_err(|error| {
            CtlError::Usage(format!("invalid server address `{}`: {error}", self.server))
        })?;
        let mut endpoint = endpoint.connect_timeout(CONNECT_TIMEOUT);
        if let Some(call_timeout) = call_timeout_opt {
            endpoint = endpoint.timeout(call_timeout);
        }
        let connected = match &self.tls_opt {
            Some(tls) => {
                endpoint
                    .connect_with_connector(crate::security::tls::tls_connector(Arc::clone(tls)))
                    .await
            }
            None => endpoint.connect().await,
        };
        let channel = connected.map_err(|error| CtlError::Connect {
            server: self.server.clone(),
            reason: error_chain(&error),
        })?;
        Ok(InterceptedService::new(
            channel,
            Credentials {
                authorization_opt: self.authorization_opt.clone(),
            },
        ))
    }

    /// A connector client whose calls time out after [`CALL_TIMEOUT`].
    async fn connector_client(
        &self,
    ) -> Result<proto::connector_service_client::ConnectorServiceClient<CtlChannel>, CtlError> {
        let channel = self.connect(Some(CALL_TIMEOUT)).await?;
        Ok(proto::connector_service_client::ConnectorServiceClient::new(channel))
    }

    /// Prints `view` as JSON or as text.
    fn print(&self, view: &impl View) {
        let text = match self.output {
            OutputFormat::Table => view.to_text(),
            OutputFormat::Json => {
                let mut json = serde_json::to_string_pretty(view)
                    .expect("views are plain structs with string keys");
                json.push('\n');
                json
            }
        };
        output::write_stdout(&text);
    }
}

/// An error and its causes, `outer: inner: innermost` (tonic's own text is only "transport error").
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source_opt = error.source();
    while let Some(source) = source_opt {
        let source_text = source.to_string();
        // Wrappers often repeat their cause's text; say it once.
        if !text.ends_with(&source_text) {
            text.push_str(": ");
            text.push_str(&source_text);
        }
        source_opt = source.source();
    }
    text
}

/// Runs one `ferry ctl` command; errors are printed to stderr and become the exit code.
pub async fn run(args: CtlArgs) -> ExitCode {
    let (authorization_opt, tls_opt) = match session_security(&args) {
        Ok(security) => security,
        Err(error) => {
            eprintln!("error: {error}");
            return error.exit_code();
        }
    };
    let session = Session {
        server: args.server,
        output: args.output,
        authorization_opt,
        tls_opt,
    };
    match run_command(&session, args.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            error.exit_code()
        }
    }
}

async fn run_command(session: &Session, command: CtlCommand) -> Result<(), CtlError> {
    match command {
        CtlCommand::Apply { file } => connectors::apply(session, &file).await,
        CtlCommand::Get {
            resource: GetResource::Connectors,
        } => connectors::list_connectors(session).await,
        CtlCommand::Describe { name } => connectors::describe(session, name).await,
        CtlCommand::Delete { name } => {
            connectors::change_state(session, name, connectors::StateChange::Delete).await
        }
        CtlCommand::Pause { name } => {
            connectors::change_state(session, name, connectors::StateChange::Pause).await
        }
        CtlCommand::Resume { name } => {
            connectors::change_state(session, name, connectors::StateChange::Resume).await
        }
        CtlCommand::Stop { name } => {
            connectors::change_state(session, name, connectors::StateChange::Stop).await
        }
        CtlCommand::Restart {
            name,
            tasks,
            failed,
        } => connectors::restart(session, name, tasks, failed).await,
        CtlCommand::Offsets { name } => connectors::offsets(session, name).await,
        CtlCommand::Plugins { all } => list_plugins(session, all).await,
        CtlCommand::Cluster => describe_cluster(session).await,
        CtlCommand::Watch {
            connectors,
            members,
            no_initial,
        } => {
            let request = proto::WatchRequest {
                connectors,
                include_initial: !no_initial,
                include_members: members,
            };
            watch::watch(session, request).await
        }
    }
}

async fn list_plugins(session: &Session, all: bool) -> Result<(), CtlError> {
    let channel = session.connect(Some(CALL_TIMEOUT)).await?;
    let mut client = proto::plugin_service_client::PluginServiceClient::new(channel);
    let response = client
        .list_plugins(proto::ListPluginsRequest {
            connectors_only: Some(!all),
        })
        .await?
        .into_inner();
    session.print(&views::PluginsView::from(response));
    Ok(())
}

async fn describe_cluster(session: &Session) -> Result<(), CtlError> {
    let channel = session.connect(Some(CALL_TIMEOUT)).await?;
    let mut client = proto::cluster_service_client::ClusterServiceClient::new(channel);
    let members = client
        .list_members(proto::ListMembersRequest {})
        .await?
        .into_inner();
    let assignment = client
        .get_assignment(proto::GetAssignmentRequest::default())
        .await?
        .into_inner();
    session.print(&views::ClusterView::new(members, assignment));
    Ok(())
}
