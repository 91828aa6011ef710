//! A bounded property test over the request decoders (paths, query strings, JSON bodies, gRPC
//! frames and credentials): whatever a client sends, the gateway neither panics nor answers a
//! 5xx other than 503 (the worker here never finishes starting), and gRPC never answers INTERNAL.
//! It runs with the unit tests, so CI runs it for a bounded number of cases.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use ferry_connectors::builtin_registry;
use proptest::prelude::*;
use tower::ServiceExt;

use crate::security::auth::Authenticator;
use crate::service::ConnectService;

const PATHS: &[&str] = &[
    "/",
    "/health",
    "/metrics",
    "/cluster",
    "/connectors",
    "/connectors/{}",
    "/connectors/{}/config",
    "/connectors/{}/status",
    "/connectors/{}/tasks",
    "/connectors/{}/tasks/{}/status",
    "/connectors/{}/tasks/{}/restart",
    "/connectors/{}/restart",
    "/connectors/{}/pause",
    "/connectors/{}/resume",
    "/connectors/{}/stop",
    "/connectors/{}/topics",
    "/connectors/{}/topics/reset",
    "/connectors/{}/offsets",
    "/connector-plugins",
    "/connector-plugins/{}/config",
    "/connector-plugins/{}/config/validate",
    "/admin/loggers",
    "/admin/loggers/{}",
];

const GRPC_METHODS: &[&str] = &[
    "/ferry.v1.ConnectorService/CreateConnector",
    "/ferry.v1.ConnectorService/GetConnector",
    "/ferry.v1.ConnectorService/ListConnectors",
    "/ferry.v1.ConnectorService/PatchConnectorConfig",
    "/ferry.v1.ConnectorService/AlterOffsets",
    "/ferry.v1.PluginService/ValidateConfig",
    "/ferry.v1.ClusterService/ListMembers",
    "/ferry.v1.WorkerService/ForwardConfigChange",
];

fn app() -> axum::Router {
    let (service, _status) = ConnectService::new(builtin_registry());
    let (grpc_routes, _health) = crate::grpc::routes(service.clone()).expect("descriptors");
    super::app(
        super::router(service),
        grpc_routes,
        Arc::new(Authenticator::default()),
        Duration::from_secs(5),
    )
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9._-]{1,12}",
        "[^/?#]{0,8}".prop_map(|text| urlencode(&text)),
        Just("%ZZ".to_string()),
        Just("..".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
    ]
}

fn urlencode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let json = prop_oneof![
        Just(serde_json::json!({})),
        Just(serde_json::json!({"name": "x", "config": {"connector.class": "Datagen"}})),
        Just(serde_json::json!({"name": 5, "config": [1, 2]})),
        Just(serde_json::json!({"offsets": [{"partition": {}, "offset": null}]})),
        Just(serde_json::json!({"level": "DEBUG"})),
        Just(serde_json::json!([{"a": {"b": null}}])),
        "[a-z.]{1,10}".prop_map(|key| serde_json::json!({ key: {"nested": true} })),
    ]
    .prop_map(|value| serde_json::to_vec(&value).expect("json"));
    prop_oneof![
        json,
        proptest::collection::vec(any::<u8>(), 0..200),
        Just(b"{\"name\": \"x\", \"config\": {".to_vec()),
        Just(Vec::new()),
    ]
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::PUT),
        Just(Method::PATCH),
        Just(Method::DELETE),
        Just(Method::OPTIONS),
    ]
}

fn fill(template: &str, segments: &[String]) -> String {
    let mut path = String::new();
    let mut parts = template.split("{}");
    if let Some(first) = parts.next() {
        path.push_str(first);
    }
    for (index, part) in parts.enumerate() {
        path.push_str(&segments[index % segments.len()]);
        path.push_str(part);
    }
    path
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn rest_requests_never_panic_nor_answer_5xx_other_than_503(
        method in method(),
        template in proptest::sample::select(PATHS),
        segments in proptest::collection::vec(segment(), 1..3),
        query in proptest::option::of("[a-zA-Z]{1,12}=[a-zA-Z0-9%]{0,8}(&[a-zA-Z]{1,12}=[a-zA-Z0-9]{0,6}){0,2}"),
        trailing_slash in any::<bool>(),
        json_content_type in any::<bool>(),
        body in body(),
    ) {
        let mut uri = fill(template, &segments);
        if trailing_slash {
            uri.push('/');
        }
        if let Some(query) = query {
            uri.push('?');
            uri.push_str(&query);
        }
        if uri.parse::<axum::http::Uri>().is_err() {
            // Not a URI at all: hyper refuses it before routing.
            return Ok(());
        }
        let mut builder = Request::builder().method(method).uri(&uri);
        if json_content_type {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder.body(Body::from(body)).expect("a request");
        let response = runtime().block_on(app().oneshot(request)).expect("infallible");
        let status = response.status();
        prop_assert!(
            !status.is_server_error() || status.as_u16() == 503,
            "{uri}: {status}"
        );
    }

    #[test]
    fn grpc_frames_never_panic_nor_answer_internal(
        method in proptest::sample::select(GRPC_METHODS),
        payload in proptest::collection::vec(any::<u8>(), 0..120),
        framed in any::<bool>(),
        compressed_flag in any::<bool>(),
    ) {
        let mut body = Vec::new();
        if framed {
            body.push(u8::from(compressed_flag));
            let length = u32::try_from(payload.len()).expect("short");
            body.extend_from_slice(&length.to_be_bytes());
        }
        body.extend_from_slice(&payload);
        let request = Request::builder()
            .method(Method::POST)
            .uri(method)
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(Body::from(body))
            .expect("a request");
        let response = runtime().block_on(async {
            let response = app().oneshot(request).await.expect("infallible");
            let (parts, body) = response.into_parts();
            let collected = axum::body::to_bytes(body, 1 << 20).await;
            (parts, collected.is_ok())
        });
        let (parts, _) = response;
        prop_assert!(!parts.status.is_server_error(), "{method}: {}", parts.status);
        let grpc_status = parts
            .headers
            .get("grpc-status")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        prop_assert_ne!(grpc_status, "13", "{}: {:?}", method, parts.headers.get("grpc-message"));
    }

    #[test]
    fn credentials_of_any_shape_are_checked_without_panicking(header in ".{0,80}", basic in any::<bool>()) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let users = dir.path().join("users.properties");
        std::fs::write(&users, "alice: secret\n").expect("written");
        let authenticator = Authenticator::load(&crate::security::AuthSettings {
            basic_credentials_file_opt: Some(users),
            tokens_file_opt: None,
        })
        .expect("loads");
        let value = if basic {
            format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, header.as_bytes()))
        } else {
            header
        };
        let accepted = authenticator.authenticate(Some(&value));
        prop_assert!(accepted.is_none() || value == "Basic YWxpY2U6c2VjcmV0");
    }
}
