//! `SingleFieldPath` (KIP-821): `field.syntax.version` V1 (a top-level name) or V2 (dotted
//! paths, backticks around names that contain dots).

use crate::sdk::{ConfigKey, ConfigType, Field, Importance, Schema, Struct, Validator, Value};

use super::values::{field_value_named, map_get, require_map};
use super::{BuildError, TransformError};

/// `field.syntax.version`.
pub(crate) const FIELD_SYNTAX_VERSION: &str = "field.syntax.version";

/// Returns the `field.syntax.version` key.
pub(crate) fn field_syntax_version_key() -> ConfigKey {
    ConfigKey::new(
        FIELD_SYNTAX_VERSION,
        ConfigType::String,
        Importance::High,
        "Defines the version of the syntax to access fields. If set to `V1`, then the field paths are limited to access the elements at the root level of the struct or map. If set to `V2`, the syntax will support accessing nested elements. To access nested elements, dotted notation is used. If dots are already included in the field name, then backtick pairs can be used to wrap field names containing dots. E.g. to access the subfield `baz` from a field named \"foo.bar\" in a struct/map the following format can be used to access its elements: \"`foo.bar`.baz\".",
    )
    .default_value("V1")
    .validator(Validator::OneOf(vec!["V1", "V2"]))
}

/// A path to a (possibly nested) field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SingleFieldPath {
    steps: Vec<String>,
}

impl SingleFieldPath {
    /// Parses `path` with the configured syntax version (`V1` or `V2`, any case).
    ///
    /// # Errors
    /// An incomplete backtick pair (V2).
    pub(crate) fn parse(path: &str, version: &str) -> Result<Self, BuildError> {
        if version.eq_ignore_ascii_case("V2") {
            Ok(SingleFieldPath {
                steps: parse_v2(path)?,
            })
        } else {
            Ok(SingleFieldPath {
                steps: vec![path.to_string()],
            })
        }
    }

    fn split(&self) -> (&[String], &str) {
        let (last, init) = self
            .steps
            .split_last()
            .expect("a field path has at least one step");
        (init, last)
    }

    /// `fieldFrom(schema)`: the field at the path, `None` when absent.
    pub(crate) fn field_from<'s>(&self, schema: &'s Schema) -> Option<&'s Field> {
        let (init, last) = self.split();
        let mut current = schema;
        for step in init {
            current = &current.field(step)?.schema;
        }
        current.field(last)
    }

    /// `valueFrom(struct, withDefault)`.
    ///
    /// # Errors
    /// An intermediate value that is not a struct.
    pub(crate) fn value_from_struct(
        &self,
        value: &Struct,
        with_default: bool,
    ) -> Result<Value, TransformError> {
        let (init, last) = self.split();
        let mut current = value.clone();
        for step in init {
            let Some(sub) = field_value_named(&current, step, true) else {
                return Ok(Value::Null);
            };
            match sub {
                Value::Null => return Ok(Value::Null),
                Value::Struct(inner) => current = inner,
                other => {
                    return Err(TransformError::data(format!(
                        "Only Struct objects supported for [nested field access], found: {}",
                        super::values::java_class_name(&other)
                    )))
                }
            }
        }
        Ok(field_value_named(&current, last, with_default).unwrap_or(Value::Null))
    }

    /// `valueFrom(map)`.
    ///
    /// # Errors
    /// An intermediate value that is not a map.
    pub(crate) fn value_from_map(
        &self,
        entries: &[(Value, Value)],
    ) -> Result<Value, TransformError> {
        let (init, last) = self.split();
        let mut current = entries.to_vec();
        for step in init {
            let sub = map_get(&current, step);
            if sub.is_null() {
                return Ok(Value::Null);
            }
            current = require_map(&sub, "nested field access")?.clone();
        }
        Ok(map_get(&current, last))
    }
}

fn incomplete(path: &str, backtick_at: usize) -> BuildError {
    BuildError::general(format!(
        "Incomplete backtick pair in path: [{path}], consider adding a backslash before backtick at position {backtick_at} to escape it"
    ))
}

fn parse_v2(path: &str) -> Result<Vec<String>, BuildError> {
    let chars: Vec<char> = path.chars().collect();
    let index_of = |from: usize, wanted: char| -> Option<usize> {
        (from..chars.len()).find(|&index| chars[index] == wanted)
    };
    let text = |from: usize, to: usize| -> String { chars[from..to].iter().collect() };
    let mut steps = Vec::new();
    let mut idx = 0usize;
    while idx < chars.len() {
        if chars[idx] != '`' {
            let start = idx;
            match index_of(idx, '.') {
                Some(dot) => {
                    steps.push(text(start, dot));
                    idx = dot + 1;
                }
                None => {
                    steps.push(text(start, chars.len()));
                    idx = chars.len();
                }
            }
        } else {
            let backtick_at = idx;
            idx += 1;
            let mut field = String::new();
            let mut start = idx;
            loop {
                let Some(found) = index_of(idx, '`') else {
                    return Err(incomplete(path, backtick_at));
                };
                idx = found;
                let escaped = chars[idx - 1] == '\\';
                if idx >= chars.len() - 1 {
                    if escaped {
                        return Err(incomplete(path, backtick_at));
                    }
                    field.push_str(&text(start, idx));
                    steps.push(field);
                    idx += 1;
                    break;
                }
                if chars[idx + 1] != '.' {
                    idx += 1;
                    continue;
                }
                if escaped {
                    field.push_str(&text(start, idx - 1));
                    field.push('`');
                    idx += 1;
                    start = idx;
                    continue;
                }
                field.push_str(&text(start, idx));
                steps.push(field);
                idx += 2;
                break;
            }
        }
    }
    if path.ends_with('.') {
        steps.push(String::new());
    }
    if steps.is_empty() {
        steps.push(String::new());
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(path: &str) -> Vec<String> {
        SingleFieldPath::parse(path, "V2").unwrap().steps
    }

    #[test]
    fn v2_paths_split_on_dots_and_keep_backticked_names() {
        assert_eq!(steps("a.b.c"), vec!["a", "b", "c"]);
        assert_eq!(steps("`a.b`.c"), vec!["a.b", "c"]);
        assert_eq!(steps("a."), vec!["a", ""]);
        assert_eq!(steps("`a\\`.b`.c"), vec!["a`.b", "c"]);
        assert!(SingleFieldPath::parse("`a.b", "V2").is_err());
        assert_eq!(
            SingleFieldPath::parse("a.b", "v1").unwrap().steps,
            vec!["a.b"]
        );
    }
}
