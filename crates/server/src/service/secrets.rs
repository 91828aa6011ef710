//! Validation of configs that hold config provider placeholders: the connector is validated with
//! the resolved values (as Kafka Connect does), but no resolved value leaves the worker — error
//! messages have them replaced with `[hidden]` and the validate answer shows the placeholders.

use std::collections::BTreeMap;

use ferry_actors::config_providers::redact_resolved;
use ferry_connectors::validation::{
    check_connector_config_for, validate_connector_config_for, ConfigInfos, InvalidConfig,
};

use super::ConnectService;
use crate::error::ServiceError;

impl ConnectService {
    fn resolve_for_validation(
        &self,
        raw: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, ServiceError> {
        self.config_providers()
            .resolve(raw)
            .map_err(|error| ServiceError::InvalidArgument(error.to_string()))
    }

    /// Checks a config for create/update after resolving its placeholders.
    ///
    /// # Errors
    /// `InvalidArgument` for an unresolvable placeholder or an invalid config (without secrets).
    pub(crate) fn check_config_resolved(
        &self,
        raw: &BTreeMap<String, String>,
    ) -> Result<(), ServiceError> {
        let resolved = self.resolve_for_validation(raw)?;
        check_connector_config_for(self.registry(), &resolved, self.exactly_once_source())
            .map_err(|error| {
                let message = match error {
                    InvalidConfig::UnknownClass(message) => message,
                    errors @ InvalidConfig::Errors(_) => errors.to_string(),
                };
                ServiceError::InvalidArgument(redact_resolved(raw, &resolved, &message))
            })?;
        Ok(())
    }

    /// Validates a config for the validate endpoint after resolving its placeholders; the answer
    /// carries the raw (placeholder) values.
    ///
    /// # Errors
    /// `InvalidArgument` for an unresolvable placeholder or an unknown class.
    pub(crate) fn validate_config_resolved(
        &self,
        raw: &BTreeMap<String, String>,
    ) -> Result<ConfigInfos, ServiceError> {
        let resolved = self.resolve_for_validation(raw)?;
        let mut infos =
            validate_connector_config_for(self.registry(), &resolved, self.exactly_once_source())
                .map_err(|error| {
                ServiceError::InvalidArgument(redact_resolved(raw, &resolved, &error.to_string()))
            })?;
        for config in &mut infos.configs {
            let name = config.value.name.clone();
            if let (Some(raw_value), Some(resolved_value)) = (raw.get(&name), resolved.get(&name)) {
                if raw_value != resolved_value && config.value.value.as_deref() != Some("[hidden]")
                {
                    config.value.value = Some(raw_value.clone());
                }
            }
            for error in &mut config.value.errors {
                *error = redact_resolved(raw, &resolved, error);
            }
        }
        Ok(infos)
    }
}
