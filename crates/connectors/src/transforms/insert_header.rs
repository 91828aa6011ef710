//! `InsertHeader`: adds a header with a literal value (parsed as `Values.parseString` does).

use crate::sdk::{
    ConfigDef, ConfigKey, ConfigType, ConfigValues, Header, Importance, SchemaAndValue,
};

use super::{BuildError, TransformError, TransformRecord, Transformation};

const HEADER: &str = "header";
const VALUE_LITERAL: &str = "value.literal";

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(ConfigKey::new(
            HEADER,
            ConfigType::String,
            Importance::High,
            "The name of the header.",
        ))
        .define(ConfigKey::new(
            VALUE_LITERAL,
            ConfigType::String,
            Importance::High,
            "The literal value that is to be set as the header value on all records.",
        ))
}

struct InsertHeader {
    header: String,
    value: SchemaAndValue,
}

impl Transformation for InsertHeader {
    fn apply(
        &self,
        mut record: TransformRecord,
    ) -> Result<Option<TransformRecord>, TransformError> {
        record.headers.push(Header {
            key: self.header.clone(),
            value: self.value.clone(),
        });
        Ok(Some(record))
    }
}

/// Builds the transform.
pub(crate) fn build(config: &ConfigValues) -> Result<Box<dyn Transformation>, BuildError> {
    let header = config.get(HEADER).unwrap_or_default().to_string();
    let literal = config.get(VALUE_LITERAL).unwrap_or_default();
    Ok(Box::new(InsertHeader {
        header,
        value: crate::converters::header::parse_string(literal),
    }))
}
