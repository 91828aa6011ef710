//! The REST gateway: Kafka Connect's REST API as an axum router, plus the gRPC services on the same
//! port (requests with a `application/grpc` content type are handed to tonic).

mod cluster;
mod connectors;
mod error;
mod loggers;
mod metrics;
mod plugins;
mod root;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::IntoResponse;
use axum::Router;
use tower::ServiceExt;

pub use error::{ApiError, ApiJson};

use crate::security::auth::Authenticator;
use crate::service::ConnectService;

/// Largest request body the gateway accepts; larger ones get a 413.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Returns the REST routes (no fallback; see [`app`]).
pub fn router(service: ConnectService) -> Router {
    Router::new()
        .merge(root::router())
        .merge(connectors::router())
        .merge(cluster::router())
        .merge(loggers::router())
        .merge(metrics::router())
        .merge(plugins::router())
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(service)
}

/// Serves REST and gRPC on one router: gRPC requests go to `grpc_routes`, any other unknown path
/// gets Kafka Connect's 404 body.
pub fn app(
    rest: Router,
    grpc_routes: tonic::service::Routes,
    authenticator: Arc<Authenticator>,
    body_timeout: Duration,
) -> Router {
    let grpc_routes = grpc_routes.prepare();
    rest.fallback(move |request: Request| {
        let grpc_routes = grpc_routes.clone();
        async move {
            if is_grpc(&request) {
                let response: Result<_, Infallible> = grpc_routes.oneshot(request).await;
                match response {
                    Ok(response) => response.map(Body::new),
                    Err(never) => match never {},
                }
            } else {
                ApiError::unknown_path().into_response()
            }
        }
    })
    // A client that sends its body slower than this is cut off (408).
    .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        body_timeout,
    ))
    .layer(axum::middleware::from_fn_with_state(
        authenticator,
        crate::security::auth::require_credentials,
    ))
    .layer(axum::middleware::from_fn(metrics::count_requests))
    // One span per request (REST and gRPC), exported over OTLP when it is configured.
    .layer(
        tower_http::trace::TraceLayer::new_for_http()
            .make_span_with(tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO)),
    )
}

pub(crate) fn is_grpc(request: &Request) -> bool {
    request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"))
}
