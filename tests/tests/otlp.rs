//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, a worker exports its spans over OTLP: a receiver stub
//! on loopback sees them arrive.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_tests::{free_local_addr, Api, FerryProcess};
use nix::sys::signal::Signal;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;

#[derive(Clone, Default)]
struct Receiver {
    /// (service name, span name) of every span received.
    spans: Arc<Mutex<Vec<(String, String)>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| resource.attributes.iter())
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref())
                .and_then(|value| match &value.value {
                    Some(Value::StringValue(text)) => Some(text.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    spans.push((service.clone(), span.name));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tokio::test]
async fn spans_reach_an_otlp_receiver() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_addr = listener.local_addr().unwrap();
    let receiver = Receiver::default();
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(receiver.clone()))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);

    let addr = free_local_addr();
    let endpoint = format!("http://{receiver_addr}");
    let mut dev = FerryProcess::spawn_with_env(
        &["dev", "--listen", &addr.to_string()],
        addr,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())],
    )
    .unwrap();
    dev.wait_healthy(Duration::from_secs(20)).await.unwrap();
    let api = Api::new(addr);
    for _ in 0..3 {
        assert_eq!(api.get("/connectors").await.unwrap().0, 200);
    }
    // Stopping flushes the batch exporter.
    dev.signal(Signal::SIGTERM).unwrap();
    assert!(
        dev.wait_exit(Duration::from_secs(20))
            .await
            .unwrap()
            .success(),
        "{}",
        dev.stderr()
    );
    let spans = ferry_tests::wait_until(Duration::from_secs(20), "spans at the receiver", || {
        let spans = receiver.spans.lock().unwrap().clone();
        async move { (!spans.is_empty()).then_some(spans) }
    })
    .await
    .unwrap();
    assert!(
        spans.iter().all(|(service, _)| service == "ferry"),
        "{spans:?}"
    );
    assert!(
        spans.iter().any(|(_, name)| name == "request"),
        "an API request span: {spans:?}"
    );
}
