//! Converters wire-compatible with Kafka Connect's, selected by Java class name or alias.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::sdk::{ConnectorError, Converter, HeaderConverter};

/// The key, value and header converters of one connector.
#[derive(Clone)]
pub struct Converters {
    pub key: Arc<dyn Converter>,
    pub value: Arc<dyn Converter>,
    pub header: Arc<dyn HeaderConverter>,
}

/// Builds a connector's converters: connector-level `key.converter`, `value.converter`,
/// `header.converter` (and their `*.converter.*` sub-keys) override the worker's; the worker's
/// default is JsonConverter with `schemas.enable=true`, and SimpleHeaderConverter for headers.
///
/// # Errors
/// A user error naming the key when a class is unknown or a sub-key is invalid.
pub fn build_converters(
    _worker_props: &BTreeMap<String, String>,
    _connector_props: &BTreeMap<String, String>,
) -> Result<Converters, ConnectorError> {
    Err(ConnectorError::internal("converters are not built yet"))
}

/// Converter classes for `GET /connector-plugins?connectorsOnly=false`: (class, plugin type).
pub fn converter_plugins() -> Vec<(&'static str, &'static str)> {
    Vec::new()
}
