//! `GET /cluster`: Ferry's own endpoint (not in Kafka Connect).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiError;
use crate::service::ConnectService;

pub(super) fn router() -> Router<ConnectService> {
    Router::new().route("/cluster", get(cluster))
}

async fn cluster(State(service): State<ConnectService>) -> Result<Response, ApiError> {
    Ok(Json(service.cluster_view()?).into_response())
}
