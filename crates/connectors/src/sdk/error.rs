//! Typed connector errors: supervisors decide from the kind alone whether to retry.
//!
//! | kind | example | what the runtime does |
//! |---|---|---|
//! | `User` | bad config, a record the sink cannot write | FAILED at once |
//! | `External` | the server is down or busy (Kafka Connect's `RetriableException`) | a sink retries in place (same consumer, batch redelivered), indefinitely unless `errors.retry.timeout`; not counted toward `task.restart.max.failures` |
//! | `Fatal` | the server refused for good, or `errors.retry.timeout` ran out | FAILED at once |
//! | `Local` | a full disk or a missing file on this node | restarted with backoff; after too many failures the task moves to another worker |
//! | `Internal` | a bug, a panic | restarted with backoff, counted like `Local` |

/// Who is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad configuration or bad input data: retrying will not help.
    User,
    /// The external system failed or is unreachable, for now: retry with backoff.
    External,
    /// The external system refused in a way retrying cannot fix, or retries ran out: the task
    /// fails.
    Fatal,
    /// Something on this node (a full disk, a missing file): another worker may do better.
    Local,
    /// A bug in Ferry or the connector: retry, and report.
    Internal,
}

/// An error from a connector or task.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ConnectorError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ConnectorError {
    /// A user error (bad config or bad data): not retried.
    pub fn user(message: impl Into<String>) -> Self {
        ConnectorError {
            kind: ErrorKind::User,
            message: message.into(),
        }
    }

    /// An external-system error: retried with backoff.
    pub fn external(message: impl Into<String>) -> Self {
        ConnectorError {
            kind: ErrorKind::External,
            message: message.into(),
        }
    }

    /// An internal error: retried, and worth a bug report.
    pub fn internal(message: impl Into<String>) -> Self {
        ConnectorError {
            kind: ErrorKind::Internal,
            message: message.into(),
        }
    }

    /// An error of the external system that retrying cannot fix: fails the task.
    pub fn fatal(message: impl Into<String>) -> Self {
        ConnectorError {
            kind: ErrorKind::Fatal,
            message: message.into(),
        }
    }

    /// A failure of this node (disk full, file missing): retried, elsewhere if need be.
    pub fn local(message: impl Into<String>) -> Self {
        ConnectorError {
            kind: ErrorKind::Local,
            message: message.into(),
        }
    }

    /// Returns true when retrying may help.
    pub fn is_retryable(&self) -> bool {
        !matches!(self.kind, ErrorKind::User | ErrorKind::Fatal)
    }

    /// Returns true for a retriable failure of the external system (Kafka Connect's
    /// `RetriableException`): retried in place, without counting toward the restart limit.
    pub fn is_retriable_external(&self) -> bool {
        self.kind == ErrorKind::External
    }
}

/// A converter failed to turn bytes into data or back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConversionError(pub String);

impl From<ConversionError> for ConnectorError {
    fn from(error: ConversionError) -> Self {
        ConnectorError::user(error.0)
    }
}
