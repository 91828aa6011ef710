//! `/admin/loggers`: read and change log levels at run time.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::error::{ApiError, ApiJson};
use crate::log_levels::{self, LevelError};
use crate::service::ConnectService;

pub(super) fn router() -> Router<ConnectService> {
    Router::new()
        .route("/admin/loggers", get(list_loggers))
        .route("/admin/loggers/{name}", get(get_logger).put(set_logger))
}

fn levels() -> Result<&'static log_levels::LogLevels, ApiError> {
    log_levels::get().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Log levels are not available",
        )
    })
}

async fn list_loggers() -> Result<Response, ApiError> {
    Ok(Json(levels()?.all()).into_response())
}

async fn get_logger(Path(name): Path<String>) -> Result<Response, ApiError> {
    levels()?
        .logger(&name)
        .map(|level| Json(level).into_response())
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("Logger {name} not found.")))
}

#[derive(Deserialize)]
struct ScopeQuery {
    scope: Option<String>,
}

#[derive(Deserialize)]
struct LevelBody {
    level: Option<String>,
}

async fn set_logger(
    Path(name): Path<String>,
    Query(query): Query<ScopeQuery>,
    ApiJson(body): ApiJson<LevelBody>,
) -> Result<Response, ApiError> {
    if query
        .scope
        .as_deref()
        .is_some_and(|scope| scope.eq_ignore_ascii_case("cluster"))
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "scope=cluster is not supported yet; set the level on each worker (scope=worker)",
        ));
    }
    let level = body.level.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Desired 'level' parameter was not specified in request.",
        )
    })?;
    match levels()?.set(&name, &level) {
        Ok(affected) => Ok(Json(affected).into_response()),
        Err(LevelError::InvalidLevel(level)) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("invalid log level '{level}'."),
        )),
        Err(LevelError::Internal(message)) => {
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message))
        }
    }
}
