//! One error type for the application facade, mapped to both an HTTP status and a gRPC code.

use axum::http::StatusCode;

/// An error returned by [`crate::service::ConnectService`].
///
/// The REST gateway renders it as Kafka Connect's `{"error_code","message"}` body, the gRPC API as
/// a `tonic::Status` with the same message.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed or names an invalid value (400, `INVALID_ARGUMENT`).
    #[error("{0}")]
    InvalidArgument(String),
    /// The connector, task or plugin does not exist (404, `NOT_FOUND`).
    #[error("{0}")]
    NotFound(String),
    /// The connector already exists (409, `ALREADY_EXISTS`).
    #[error("{0}")]
    AlreadyExists(String),
    /// The request is valid but not in the current state, e.g. offsets of a running connector
    /// (400 as in Kafka Connect, `FAILED_PRECONDITION`).
    #[error("{0}")]
    FailedPrecondition(String),
    /// No leader is known yet or the cluster is rebalancing (409 as in Kafka Connect, `UNAVAILABLE`).
    #[error("{0}")]
    Rebalancing(String),
    /// The worker cannot serve the request now, e.g. Kafka is unreachable (503, `UNAVAILABLE`).
    #[error("{0}")]
    Unavailable(String),
    /// The request did not finish in time (500 as in Kafka Connect, `DEADLINE_EXCEEDED`).
    #[error("{0}")]
    Timeout(String),
    /// A bug or an unexpected failure; the detail goes to the log, not to the client.
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    /// Returns the HTTP status Kafka Connect uses for this kind of error.
    pub fn http_status(&self) -> StatusCode {
        match self {
            ServiceError::InvalidArgument(_) | ServiceError::FailedPrecondition(_) => {
                StatusCode::BAD_REQUEST
            }
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::AlreadyExists(_) | ServiceError::Rebalancing(_) => StatusCode::CONFLICT,
            ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Timeout(_) | ServiceError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Returns the gRPC status code for this kind of error.
    pub fn grpc_code(&self) -> tonic::Code {
        match self {
            ServiceError::InvalidArgument(_) => tonic::Code::InvalidArgument,
            ServiceError::NotFound(_) => tonic::Code::NotFound,
            ServiceError::AlreadyExists(_) => tonic::Code::AlreadyExists,
            ServiceError::FailedPrecondition(_) => tonic::Code::FailedPrecondition,
            ServiceError::Rebalancing(_) | ServiceError::Unavailable(_) => tonic::Code::Unavailable,
            ServiceError::Timeout(_) => tonic::Code::DeadlineExceeded,
            ServiceError::Internal(_) => tonic::Code::Internal,
        }
    }

    /// Returns the message safe to show a client: internal details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            ServiceError::Internal(detail) => {
                tracing::error!(detail = %detail, "internal error");
                "Internal error; see the worker log for details".to_string()
            }
            other => other.to_string(),
        }
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(error: ServiceError) -> Self {
        tonic::Status::new(error.grpc_code(), error.public_message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_to_kafka_connect_status_and_a_grpc_code() {
        let cases = [
            (
                ServiceError::InvalidArgument("x".into()),
                400,
                tonic::Code::InvalidArgument,
            ),
            (
                ServiceError::NotFound("x".into()),
                404,
                tonic::Code::NotFound,
            ),
            (
                ServiceError::AlreadyExists("x".into()),
                409,
                tonic::Code::AlreadyExists,
            ),
            (
                ServiceError::FailedPrecondition("x".into()),
                400,
                tonic::Code::FailedPrecondition,
            ),
            (
                ServiceError::Rebalancing("x".into()),
                409,
                tonic::Code::Unavailable,
            ),
            (
                ServiceError::Unavailable("x".into()),
                503,
                tonic::Code::Unavailable,
            ),
            (
                ServiceError::Timeout("x".into()),
                500,
                tonic::Code::DeadlineExceeded,
            ),
            (
                ServiceError::Internal("x".into()),
                500,
                tonic::Code::Internal,
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.http_status().as_u16(), status, "{error:?}");
            assert_eq!(error.grpc_code(), code, "{error:?}");
        }
    }

    #[test]
    fn internal_details_are_not_shown_to_clients() {
        let error = ServiceError::Internal("db password is hunter2".into());
        assert!(!error.public_message().contains("hunter2"));
    }
}
