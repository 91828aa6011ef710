//! `/connector-plugins` resources.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value as JsonValue};

use super::connectors::config_from_json;
use super::error::{ApiError, ApiJson};
use crate::service::ConnectService;

pub(super) fn router() -> Router<ConnectService> {
    Router::new()
        .route("/connector-plugins", get(list_plugins))
        .route("/connector-plugins/{plugin}/config", get(plugin_config))
        .route("/connector-plugins/{plugin}/config/validate", put(validate))
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PluginsQuery {
    #[serde(default = "default_true", deserialize_with = "super::java_boolean")]
    connectors_only: bool,
}

async fn list_plugins(
    State(service): State<ConnectService>,
    Query(query): Query<PluginsQuery>,
) -> Response {
    Json(service.plugins(query.connectors_only)).into_response()
}

async fn plugin_config(
    State(service): State<ConnectService>,
    Path(plugin): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(service.plugin_config(&plugin)?).into_response())
}

async fn validate(
    State(service): State<ConnectService>,
    Path(plugin): Path<String>,
    ApiJson(body): ApiJson<Map<String, JsonValue>>,
) -> Result<Response, ApiError> {
    let config = config_from_json(&body)?;
    Ok(Json(service.validate_config(&plugin, &config)?).into_response())
}
