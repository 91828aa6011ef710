//! Signal handling: SIGINT (Ctrl-C) and SIGTERM both start the ordered shutdown.

use tokio::signal::unix::{signal, SignalKind};

/// Resolves when the process receives SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(stream) => Some(stream),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the worker");
            None
        }
    };
    let terminated = async {
        match terminate.as_mut() {
            Some(stream) => {
                stream.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("received SIGINT, shutting down"),
        () = terminated => tracing::info!("received SIGTERM, shutting down"),
    }
}
