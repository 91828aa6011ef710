//! The gRPC API: Ferry's services, server reflection (v1 and v1alpha, so grpcurl of any age works
//! without .proto files) and `grpc.health.v1.Health`.

mod cluster;
mod connectors;
pub(crate) mod convert;
mod plugins;
mod worker;

use tonic::service::Routes;

use crate::service::ConnectService;

type ClusterServer = proto::cluster_service_server::ClusterServiceServer<cluster::ClusterApi>;
type ConnectorServer =
    proto::connector_service_server::ConnectorServiceServer<connectors::ConnectorApi>;
type PluginServer = proto::plugin_service_server::PluginServiceServer<plugins::PluginApi>;
type WorkerServer = proto::worker_service_server::WorkerServiceServer<worker::WorkerApi>;

/// Generated protobuf and gRPC code for package `ferry.v1`.
#[allow(unreachable_pub, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("ferry.v1");

    /// Encoded descriptors of every Ferry service, for reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("ferry_descriptor");
}

/// Health of the gRPC services, flipped to NOT_SERVING when the worker drains.
pub struct GrpcHealth {
    reporter: tonic_health::server::HealthReporter,
}

impl GrpcHealth {
    /// Marks every Ferry service SERVING.
    pub async fn set_serving(&self) {
        self.reporter.set_serving::<ClusterServer>().await;
        self.reporter.set_serving::<ConnectorServer>().await;
        self.reporter.set_serving::<PluginServer>().await;
    }

    /// Marks every Ferry service NOT_SERVING.
    pub async fn set_not_serving(&self) {
        self.reporter.set_not_serving::<ClusterServer>().await;
        self.reporter.set_not_serving::<ConnectorServer>().await;
        self.reporter.set_not_serving::<PluginServer>().await;
    }
}

/// Builds the gRPC routes served on the shared listener.
///
/// # Errors
/// Fails only if the embedded descriptor sets are corrupt (a build bug).
pub fn routes(service: ConnectService) -> anyhow::Result<(Routes, GrpcHealth)> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let routes = Routes::new(ClusterServer::new(cluster::ClusterApi::new(
        service.clone(),
    )))
    .add_service(ConnectorServer::new(connectors::ConnectorApi::new(
        service.clone(),
    )))
    .add_service(PluginServer::new(plugins::PluginApi::new(service.clone())))
    .add_service(WorkerServer::new(worker::WorkerApi::new(service)))
    .add_service(health_service)
    .add_service(reflection_v1)
    .add_service(reflection_v1alpha);
    Ok((routes, GrpcHealth { reporter }))
}
