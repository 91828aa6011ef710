//! Datagen: a source of generated records (`io.confluent.kafka.connect.datagen.DatagenConnector`).

use crate::sdk::{
    ConfigDef, ConfigValues, ConnectorError, ConnectorFactory, ConnectorType, TaskConfig,
};

/// `io.confluent.kafka.connect.datagen.DatagenConnector`.
pub struct DatagenFactory;

impl ConnectorFactory for DatagenFactory {
    fn class_names(&self) -> &'static [&'static str] {
        &["io.confluent.kafka.connect.datagen.DatagenConnector"]
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["Datagen"]
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
