//! The REST gateway: Kafka Connect's REST API as an axum router, plus the gRPC services on the same
//! port (requests with a `application/grpc` content type are handed to tonic).

mod cluster;
mod connectors;
#[cfg(test)]
mod decoder_fuzz;
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
use axum::http::StatusCode;
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
    let app = rest
        .fallback(move |request: Request| {
            let grpc_routes = grpc_routes.clone();
            async move {
                if is_grpc(&request) {
                    let response: Result<_, Infallible> = grpc_routes.oneshot(request).await;
                    match response {
                        Ok(mut response) => {
                            malformed_messages_are_invalid_arguments(&mut response);
                            response.map(Body::new)
                        }
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
        // One span per request (REST and gRPC), exported over OTLP when it is configured. Expected
        // answers are not errors: a 503 (e.g. `/health` polled during start-up) logs at debug.
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(
                    tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO),
                )
                .on_failure(log_failure),
        );
    // Jersey answers `/connectors/name/` like `/connectors/name`: strip one trailing slash before
    // routing.
    Router::new().fallback_service(app.map_request(strip_trailing_slash))
}

fn log_failure(
    class: tower_http::classify::ServerErrorsFailureClass,
    latency: Duration,
    _span: &tracing::Span,
) {
    use tower_http::classify::ServerErrorsFailureClass;
    match class {
        ServerErrorsFailureClass::StatusCode(code) if code == StatusCode::SERVICE_UNAVAILABLE => {
            tracing::debug!(status = %code, ?latency, "service unavailable");
        }
        other => tracing::error!(classification = %other, ?latency, "response failed"),
    }
}

/// tonic answers a request message it cannot decode (or a missing or cut one) with INTERNAL; it
/// is the client's mistake,
/// so answer INVALID_ARGUMENT (the status is in the headers of such a trailers-only answer).
fn malformed_messages_are_invalid_arguments<B>(response: &mut axum::http::Response<B>) {
    let headers = response.headers_mut();
    let internal = headers
        .get("grpc-status")
        .is_some_and(|status| status.as_bytes() == b"13");
    // The message is percent-encoded (spaces as %20).
    let decode_error = headers.get("grpc-message").is_some_and(|message| {
        let bytes = message.as_bytes();
        [
            &b"failed%20to%20decode"[..],
            b"failed to decode",
            b"protocol%20error",
            b"Missing%20request%20message",
            b"Unexpected%20EOF",
        ]
        .iter()
        .any(|prefix| bytes.starts_with(prefix))
    });
    if internal && decode_error {
        headers.insert("grpc-status", axum::http::HeaderValue::from_static("3"));
    }
}

/// Removes a trailing `/` from the path (not from `/` itself), keeping the query.
fn strip_trailing_slash(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let path_and_query = match request.uri().query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_string(),
        };
        let mut parts = request.uri().clone().into_parts();
        if let Ok(value) = path_and_query.parse() {
            parts.path_and_query = Some(value);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request
}

/// Reads a query flag as Java's `Boolean.parseBoolean` (what Kafka Connect's Jersey does):
/// `true` in any case is true, anything else false. Python clients send `True`/`False`.
pub(crate) fn java_boolean<'de, D>(deserializer: D) -> Result<bool, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let text = <String as serde::Deserialize>::deserialize(deserializer)?;
    Ok(text.eq_ignore_ascii_case("true"))
}

pub(crate) fn is_grpc(request: &Request) -> bool {
    request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"))
}
