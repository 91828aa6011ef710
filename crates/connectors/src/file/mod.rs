//! FileStreamSource and FileStreamSink, with Kafka Connect's class names and keys.

use crate::sdk::{
    ConfigDef, ConfigValues, ConnectorError, ConnectorFactory, ConnectorType, TaskConfig,
};

/// `org.apache.kafka.connect.file.FileStreamSourceConnector`.
pub struct FileStreamSourceFactory;
/// `org.apache.kafka.connect.file.FileStreamSinkConnector`.
pub struct FileStreamSinkFactory;

impl ConnectorFactory for FileStreamSourceFactory {
    fn class_names(&self) -> &'static [&'static str] {
        &["org.apache.kafka.connect.file.FileStreamSourceConnector"]
    }
    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Source
    }
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    fn task_configs(
        &self,
        _config: &ConfigValues,
        _max_tasks: usize,
    ) -> Result<Vec<TaskConfig>, ConnectorError> {
        Err(ConnectorError::internal("not built yet"))
    }
}

impl ConnectorFactory for FileStreamSinkFactory {
    fn class_names(&self) -> &'static [&'static str] {
        &["org.apache.kafka.connect.file.FileStreamSinkConnector"]
    }
    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Sink
    }
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    fn task_configs(
        &self,
        _config: &ConfigValues,
        _max_tasks: usize,
    ) -> Result<Vec<TaskConfig>, ConnectorError> {
        Err(ConnectorError::internal("not built yet"))
    }
}
