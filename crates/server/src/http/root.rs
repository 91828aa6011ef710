//! `GET /` and `GET /health`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::service::{ConnectService, ServerInfo, WorkerHealth};

pub(super) fn router() -> Router<ConnectService> {
    Router::new()
        .route("/", get(server_info))
        .route("/health", get(health))
}

async fn server_info(State(service): State<ConnectService>) -> Json<ServerInfo> {
    Json(service.server_info())
}

#[derive(Serialize)]
struct HealthBody {
    status: &'static str,
    message: String,
}

async fn health(State(service): State<ConnectService>) -> Response {
    let (status, body) = match service.health() {
        WorkerHealth::Healthy => (
            StatusCode::OK,
            HealthBody {
                status: "healthy",
                message: "Worker has completed startup and is ready to handle requests.".into(),
            },
        ),
        WorkerHealth::Starting(stage) => (
            StatusCode::SERVICE_UNAVAILABLE,
            HealthBody { status: "starting", message: format!("Worker is still starting up. {stage}") },
        ),
        WorkerHealth::Unhealthy(reason) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            HealthBody {
                status: "unhealthy",
                message: format!(
                    "Worker was unable to handle this request and may be unable to handle other requests. {reason}"
                ),
            },
        ),
    };
    (status, Json(body)).into_response()
}
