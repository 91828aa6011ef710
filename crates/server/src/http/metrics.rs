//! `GET /metrics` (Prometheus text format) and the request counters of both APIs.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ferry_actors::metric_names;

use crate::service::ConnectService;

pub(super) fn router() -> Router<ConnectService> {
    Router::new().route("/metrics", get(render))
}

async fn render() -> Response {
    match crate::telemetry::metrics_handle() {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "metrics are not installed").into_response(),
    }
}

/// Counts every request and records its latency, labelled REST or gRPC.
pub(super) async fn count_requests(request: Request, next: Next) -> Response {
    let api = if request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"))
    {
        "grpc"
    } else {
        "rest"
    };
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(metric_names::API_REQUESTS_TOTAL, "api" => api, "method" => method.clone(), "status" => status).increment(1);
    metrics::histogram!(metric_names::API_REQUEST_SECONDS, "api" => api, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}
