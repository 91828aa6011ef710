//! Typed connector errors: supervisors decide from the kind alone whether to retry.

/// Who is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad configuration or bad input data: retrying will not help.
    User,
    /// The external system failed or is unreachable: retry with backoff.
    External,
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

    /// Returns true when retrying may help.
    pub fn is_retryable(&self) -> bool {
        self.kind != ErrorKind::User
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
