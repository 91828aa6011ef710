//! A JSON tree and a writer producing the exact bytes Jackson (Kafka Connect's JSON library)
//! writes: no whitespace, keys in insertion order, Java number forms, Jackson's string escapes.

use super::java;

/// A JSON value as Kafka Connect's JsonConverter builds it before serialising.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    /// Any integral number (int8..int64, Date, Time, Timestamp).
    Integer(i128),
    /// A Java `float`, written with `Float.toString`.
    Float(f32),
    /// A Java `double`, written with `Double.toString`.
    Double(f64),
    /// A number already in its final text form (e.g. a `BigDecimal`).
    Number(String),
    Text(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Node {
    /// Returns the node serialised as Jackson would.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        self.write(&mut out);
        out.into_bytes()
    }

    /// Returns the compact JSON text.
    pub(crate) fn to_json_string(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// Appends the compact JSON text to `out`.
    pub(crate) fn write(&self, out: &mut String) {
        match self {
            Node::Null => out.push_str("null"),
            Node::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
            Node::Integer(number) => out.push_str(&number.to_string()),
            // Jackson quotes non-finite numbers (QUOTE_NON_NUMERIC_NUMBERS is on by default).
            Node::Float(number) if !number.is_finite() => {
                write_string(&java::float_to_string(*number), out);
            }
            Node::Double(number) if !number.is_finite() => {
                write_string(&java::double_to_string(*number), out);
            }
            Node::Float(number) => out.push_str(&java::float_to_string(*number)),
            Node::Double(number) => out.push_str(&java::double_to_string(*number)),
            Node::Number(text) => out.push_str(text),
            Node::Text(text) => write_string(text, out),
            Node::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Node::Object(entries) => {
                out.push('{');
                for (index, (key, value)) in entries.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    write_string(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Writes a quoted string with Jackson's escapes: `\"`, `\\`, `\b`, `\t`, `\n`, `\f`, `\r`,
/// other control characters as `\u00XX` (upper-case hex); everything else verbatim as UTF-8.
fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            control if u32::from(control) < 0x20 => {
                out.push_str(&format!("\\u{:04X}", u32::from(control)));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

/// Appends `text` as a JSON string to `out`, escaped as [`Node::write`] escapes it (runs of
/// plain bytes copied at once).
pub(crate) fn write_string_bytes(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut plain_from = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0x0f)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..index]);
        out.extend_from_slice(escape);
        plain_from = index + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_string_bytes_as_the_node_does() {
        for text in [
            "",
            "plain",
            "q\"\\/\u{8}\t\n\u{c}\r\u{1}\u{1f} é€😀",
            "end\\",
        ] {
            let mut from_node = String::new();
            Node::Text(text.to_string()).write(&mut from_node);
            let mut bytes = b"prefix".to_vec();
            write_string_bytes(text, &mut bytes);
            assert_eq!(
                bytes,
                [b"prefix", from_node.as_bytes()].concat(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn writes_compact_json_in_insertion_order() {
        let node = Node::Object(vec![
            ("b".to_string(), Node::Integer(1)),
            (
                "a".to_string(),
                Node::Array(vec![Node::Double(1.0e10), Node::Null, Node::Bool(false)]),
            ),
            ("s".to_string(), Node::Text("q\"\u{1f}é".to_string())),
        ]);
        assert_eq!(
            String::from_utf8(node.to_bytes()).ok(),
            Some("{\"b\":1,\"a\":[1.0E10,null,false],\"s\":\"q\\\"\\u001Fé\"}".to_string())
        );
        assert_eq!(Node::Double(f64::NAN).to_bytes(), b"\"NaN\"");
    }
}
