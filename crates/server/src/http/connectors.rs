//! `/connectors` resources, with Kafka Connect's status codes and shapes.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use ferry_actors::stores::TargetState;
use serde::Deserialize;
use serde_json::{Map, Value as JsonValue};

use super::error::{ApiError, ApiJson};
use crate::service::types::CreateConnector;
use crate::service::ConnectService;

pub(super) fn router() -> Router<ConnectService> {
    Router::new()
        .route("/connectors", get(list_connectors).post(create_connector))
        .route(
            "/connectors/{name}",
            get(connector_info).delete(delete_connector),
        )
        .route(
            "/connectors/{name}/config",
            get(connector_config).put(put_config).patch(patch_config),
        )
        .route("/connectors/{name}/status", get(connector_status))
        .route("/connectors/{name}/tasks", get(connector_tasks))
        .route("/connectors/{name}/tasks/{task}/status", get(task_status))
        .route(
            "/connectors/{name}/tasks/{task}/restart",
            post(restart_task),
        )
        .route("/connectors/{name}/restart", post(restart_connector))
        .route("/connectors/{name}/pause", put(pause_connector))
        .route("/connectors/{name}/resume", put(resume_connector))
        .route("/connectors/{name}/stop", put(stop_connector))
        .route("/connectors/{name}/fence", put(fence_connector))
        .route("/connectors/{name}/topics", get(connector_topics))
        .route("/connectors/{name}/topics/reset", put(reset_topics))
        .route(
            "/connectors/{name}/offsets",
            get(connector_offsets)
                .patch(alter_offsets)
                .delete(reset_offsets),
        )
}

/// Turns a JSON config object into string values: numbers and booleans are accepted as Kafka
/// Connect's Jackson does; a null or nested value is a 400 naming the key.
pub(super) fn config_from_json(
    object: &Map<String, JsonValue>,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut config = BTreeMap::new();
    for (key, value) in object {
        let text = match value {
            JsonValue::String(text) => text.clone(),
            JsonValue::Number(number) => number.to_string(),
            JsonValue::Bool(flag) => flag.to_string(),
            JsonValue::Null => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("Config value for `{key}` must not be null"),
                ));
            }
            JsonValue::Array(_) | JsonValue::Object(_) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("Config value for `{key}` must be a string, number or boolean"),
                ));
            }
        };
        config.insert(key.clone(), text);
    }
    Ok(config)
}

async fn list_connectors(
    State(service): State<ConnectService>,
    raw_query: axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    // `expand` may repeat (`?expand=status&expand=info`), which serde_urlencoded maps cannot hold.
    let expand: Vec<String> = raw_query
        .0
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| *key == "expand")
        .map(|(_, value)| value.to_string())
        .collect();
    let names = service.list_connectors()?;
    let with_status = expand.iter().any(|value| value == "status");
    let with_info = expand.iter().any(|value| value == "info");
    if !with_status && !with_info {
        return Ok(Json(names).into_response());
    }
    let mut expanded = Map::new();
    for name in names {
        let mut entry = Map::new();
        if with_status {
            match service.connector_status(&name) {
                Ok(status) => entry.insert(
                    "status".into(),
                    serde_json::to_value(status).unwrap_or_default(),
                ),
                Err(_) => continue,
            };
        }
        if with_info {
            match service.connector_info(&name) {
                Ok(info) => entry.insert(
                    "info".into(),
                    serde_json::to_value(info).unwrap_or_default(),
                ),
                Err(_) => continue,
            };
        }
        expanded.insert(name, JsonValue::Object(entry));
    }
    Ok(Json(expanded).into_response())
}

#[derive(Deserialize)]
struct CreateConnectorBody {
    name: Option<JsonValue>,
    config: Option<Map<String, JsonValue>>,
    initial_state: Option<String>,
}

async fn create_connector(
    State(service): State<ConnectService>,
    ApiJson(body): ApiJson<CreateConnectorBody>,
) -> Result<Response, ApiError> {
    let name = match body.name {
        Some(JsonValue::String(name)) => name,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Connector name must be a string",
            ))
        }
        None => {
            // Kafka Connect takes the name from the config when the top-level one is missing.
            body.config
                .as_ref()
                .and_then(|config| config.get("name"))
                .and_then(JsonValue::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "Connector name is required: set \"name\"",
                    )
                })?
        }
    };
    let config = config_from_json(body.config.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Connector config is required: set \"config\"",
        )
    })?)?;
    let info = service
        .create_connector(CreateConnector {
            name,
            config,
            initial_state: body.initial_state,
        })
        .await?;
    let location = format!("/connectors/{}", info.name);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(info),
    )
        .into_response())
}

async fn connector_info(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(service.connector_info(&name)?).into_response())
}

async fn connector_config(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(service.connector_config(&name)?).into_response())
}

async fn put_config(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Map<String, JsonValue>>,
) -> Result<Response, ApiError> {
    let config = config_from_json(&body)?;
    let (created, info) = service.put_connector_config(&name, config).await?;
    if created {
        let location = format!("/connectors/{}", info.name);
        Ok((
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(info),
        )
            .into_response())
    } else {
        Ok(Json(info).into_response())
    }
}

async fn patch_config(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Map<String, JsonValue>>,
) -> Result<Response, ApiError> {
    let mut patch = BTreeMap::new();
    for (key, value) in &body {
        let value_opt = match value {
            JsonValue::Null => None,
            other => Some(
                config_from_json(&Map::from_iter([(key.clone(), other.clone())]))?
                    .remove(key)
                    .unwrap_or_default(),
            ),
        };
        patch.insert(key.clone(), value_opt);
    }
    Ok(Json(service.patch_connector_config(&name, patch).await?).into_response())
}

async fn connector_status(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(service.connector_status(&name)?).into_response())
}

async fn connector_tasks(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(service.connector_tasks(&name)?).into_response())
}

fn parse_task(task: &str) -> Result<u32, ApiError> {
    task.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Task {task} not found: task ids are numbers"),
        )
    })
}

async fn task_status(
    State(service): State<ConnectService>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(Json(service.task_status(&name, parse_task(&task)?)?).into_response())
}

async fn restart_task(
    State(service): State<ConnectService>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    service.restart_task(&name, parse_task(&task)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestartQuery {
    #[serde(default, deserialize_with = "super::java_boolean")]
    include_tasks: bool,
    #[serde(default, deserialize_with = "super::java_boolean")]
    only_failed: bool,
}

async fn restart_connector(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
    Query(query): Query<RestartQuery>,
) -> Result<Response, ApiError> {
    match service
        .restart_connector(&name, query.include_tasks, query.only_failed)
        .await?
    {
        None => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(plan) => Ok((StatusCode::ACCEPTED, Json(plan)).into_response()),
    }
}

async fn pause_connector(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    service.set_target_state(&name, TargetState::Paused).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn resume_connector(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    service
        .set_target_state(&name, TargetState::Started)
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn stop_connector(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    service
        .set_target_state(&name, TargetState::Stopped)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Kafka Connect's `PUT /connectors/{name}/fence` (KIP-618): fences the transactional
/// producers of every task of a source connector; 204 when done.
async fn fence_connector(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    service.fence_connector(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_connector(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    service.delete_connector(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn connector_offsets(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(service.connector_offsets(&name).await?).into_response())
}

#[derive(Deserialize)]
struct OffsetsBody {
    offsets: Option<Vec<OffsetEntry>>,
}

#[derive(Deserialize)]
struct OffsetEntry {
    partition: Map<String, JsonValue>,
    offset: Option<Map<String, JsonValue>>,
}

async fn alter_offsets(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<OffsetsBody>,
) -> Result<Response, ApiError> {
    let offsets = body
        .offsets
        .unwrap_or_default()
        .into_iter()
        .map(|entry| crate::service::types::ConnectorOffset {
            partition: entry.partition,
            offset: entry.offset,
        })
        .collect();
    let message = service.alter_offsets(&name, offsets).await?;
    Ok(Json(serde_json::json!({ "message": message })).into_response())
}

async fn reset_offsets(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let message = service.reset_offsets(&name).await?;
    Ok(Json(serde_json::json!({ "message": message })).into_response())
}

async fn connector_topics(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let topics = service.connector_topics(&name)?;
    Ok(Json(serde_json::json!({ name: { "topics": topics } })).into_response())
}

async fn reset_topics(
    State(service): State<ConnectService>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    service.reset_connector_topics(&name).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
