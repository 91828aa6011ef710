//! A strict JSON parser into [`Node`] that keeps numbers as their source text, so doubles
//! round-trip exactly and NUMERIC decimals keep every digit (as Jackson's `BigDecimal` mode).

use super::jackson::Node;
use crate::sdk::Value;

/// Deepest nesting accepted (Jackson's default `StreamReadConstraints` limit).
const MAX_DEPTH: usize = 1000;

/// Parses one JSON document. Numbers become [`Node::Number`] with their exact text.
pub(crate) fn parse(bytes: &[u8]) -> Result<Node, String> {
    let text = std::str::from_utf8(bytes).map_err(|error| format!("invalid UTF-8: {error}"))?;
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        position: 0,
    };
    let node = parser.value(0)?;
    parser.skip_whitespace();
    if parser.position < parser.bytes.len() {
        return Err(parser.error("unexpected trailing content"));
    }
    Ok(node)
}

/// Parses one document straight into a schemaless Connect value, as `parse` followed by
/// JsonConverter's schemaless conversion would (objects become maps keyed by strings, integral
/// numbers `Int64`, other numbers `Float64`), without building the [`Node`] tree first.
/// `None` for any input that path would refuse: the caller then takes it to learn the exact
/// error.
pub(crate) fn parse_schemaless(bytes: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        position: 0,
    };
    let value = parser.schemaless_value(0)?;
    parser.skip_whitespace();
    (parser.position == parser.bytes.len()).then_some(value)
}

/// The `schema` and `payload` members of a JsonConverter envelope, as their JSON text.
pub(crate) struct EnvelopeParts<'a> {
    pub(crate) schema: &'a str,
    pub(crate) payload: &'a str,
}

/// Splits a JsonConverter envelope (`{"schema":…,"payload":…}`, members in any order) into its
/// two members' text, checking the whole document as `parse` does without building anything.
/// `None` for anything else (another member, a missing one, invalid JSON): the caller then
/// takes the full path, which words the error.
pub(crate) fn split_envelope(bytes: &[u8]) -> Option<EnvelopeParts<'_>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        position: 0,
    };
    parser.skip_whitespace();
    if parser.peek() != Some(b'{') {
        return None;
    }
    parser.position += 1;
    let (mut schema_opt, mut payload_opt) = (None, None);
    loop {
        parser.skip_whitespace();
        if parser.peek() != Some(b'"') {
            return None;
        }
        let key_start = parser.position;
        parser.skip_string()?;
        let key = &text[key_start..parser.position];
        parser.skip_whitespace();
        if parser.peek() != Some(b':') {
            return None;
        }
        parser.position += 1;
        parser.skip_whitespace();
        let value_start = parser.position;
        parser.skip_value(1)?;
        let member = &text[value_start..parser.position];
        // A repeated member takes the later value, as `object` does; escaped names go the
        // full way.
        match key {
            "\"schema\"" => schema_opt = Some(member),
            "\"payload\"" => payload_opt = Some(member),
            _ => return None,
        }
        parser.skip_whitespace();
        match parser.peek()? {
            b',' => parser.position += 1,
            b'}' => {
                parser.position += 1;
                break;
            }
            _ => return None,
        }
    }
    parser.skip_whitespace();
    if parser.position != parser.bytes.len() {
        return None;
    }
    Some(EnvelopeParts {
        schema: schema_opt?,
        payload: payload_opt?,
    })
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    position: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> String {
        format!("{message} at byte {}", self.position)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.position += 1;
        }
    }

    fn expect_literal(&mut self, literal: &str, node: Node) -> Result<Node, String> {
        if self.text[self.position..].starts_with(literal) {
            self.position += literal.len();
            Ok(node)
        } else {
            Err(self.error("unrecognized token"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("document nested too deeply"));
        }
        self.skip_whitespace();
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Node::Text),
            Some(b't') => self.expect_literal("true", Node::Bool(true)),
            Some(b'f') => self.expect_literal("false", Node::Bool(false)),
            Some(b'n') => self.expect_literal("null", Node::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn schemaless_value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_whitespace();
        match self.peek()? {
            b'{' => self.schemaless_object(depth),
            b'[' => self.schemaless_array(depth),
            b'"' => self.string().ok().map(Value::String),
            b't' => self
                .expect_literal("true", Node::Null)
                .ok()
                .map(|_| Value::Boolean(true)),
            b'f' => self
                .expect_literal("false", Node::Null)
                .ok()
                .map(|_| Value::Boolean(false)),
            b'n' => self
                .expect_literal("null", Node::Null)
                .ok()
                .map(|_| Value::Null),
            b'-' | b'0'..=b'9' => {
                let number = self.number_text().ok()?;
                if number.contains(['.', 'e', 'E']) {
                    Some(Value::Float64(number.parse().unwrap_or(f64::NAN)))
                } else {
                    // An integer beyond int64 is an error the slow path words.
                    number.parse().ok().map(Value::Int64)
                }
            }
            _ => None,
        }
    }

    fn schemaless_object(&mut self, depth: usize) -> Option<Value> {
        self.position += 1;
        let mut entries: Vec<(Value, Value)> = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.position += 1;
            return Some(Value::Map(entries));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return None;
            }
            let key = self.string().ok()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return None;
            }
            self.position += 1;
            let value = self.schemaless_value(depth + 1)?;
            // As `object`: a repeated key keeps its place and takes the new value.
            match entries
                .iter_mut()
                .find(|(existing, _)| existing.as_str() == Some(key.as_str()))
            {
                Some(entry) => entry.1 = value,
                None => entries.push((Value::String(key), value)),
            }
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.position += 1,
                b'}' => {
                    self.position += 1;
                    return Some(Value::Map(entries));
                }
                _ => return None,
            }
        }
    }

    fn schemaless_array(&mut self, depth: usize) -> Option<Value> {
        self.position += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.position += 1;
            return Some(Value::Array(items));
        }
        loop {
            items.push(self.schemaless_value(depth + 1)?);
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.position += 1,
                b']' => {
                    self.position += 1;
                    return Some(Value::Array(items));
                }
                _ => return None,
            }
        }
    }

    /// Checks one value as `value` would accept it, building nothing.
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_whitespace();
        match self.peek()? {
            b'{' => {
                self.position += 1;
                self.skip_whitespace();
                if self.peek() == Some(b'}') {
                    self.position += 1;
                    return Some(());
                }
                loop {
                    self.skip_whitespace();
                    if self.peek() != Some(b'"') {
                        return None;
                    }
                    self.skip_string()?;
                    self.skip_whitespace();
                    if self.peek() != Some(b':') {
                        return None;
                    }
                    self.position += 1;
                    self.skip_value(depth + 1)?;
                    self.skip_whitespace();
                    match self.peek()? {
                        b',' => self.position += 1,
                        b'}' => {
                            self.position += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.position += 1;
                self.skip_whitespace();
                if self.peek() == Some(b']') {
                    self.position += 1;
                    return Some(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    self.skip_whitespace();
                    match self.peek()? {
                        b',' => self.position += 1,
                        b']' => {
                            self.position += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => self.skip_string(),
            b't' => self.expect_literal("true", Node::Null).ok().map(drop),
            b'f' => self.expect_literal("false", Node::Null).ok().map(drop),
            b'n' => self.expect_literal("null", Node::Null).ok().map(drop),
            b'-' | b'0'..=b'9' => self.number_text().ok().map(drop),
            _ => None,
        }
    }

    /// Checks one string as `string` would accept it (escapes included), building nothing.
    fn skip_string(&mut self) -> Option<()> {
        self.position += 1;
        loop {
            match self.peek()? {
                b'"' => {
                    self.position += 1;
                    return Some(());
                }
                b'\\' => {
                    self.position += 1;
                    let escaped = self.peek()?;
                    self.position += 1;
                    match escaped {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            self.unicode_escape().ok()?;
                        }
                        _ => return None,
                    }
                }
                byte if byte < 0x20 => return None,
                _ => self.position += 1,
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Node, String> {
        self.position += 1;
        let mut entries: Vec<(String, Node)> = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.position += 1;
            return Ok(Node::Object(entries));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a field name"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':'"));
            }
            self.position += 1;
            let value = self.value(depth + 1)?;
            // Like Jackson's ObjectNode, a repeated key keeps its place and takes the new value.
            match entries.iter_mut().find(|(existing, _)| *existing == key) {
                Some(entry) => entry.1 = value,
                None => entries.push((key, value)),
            }
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b'}') => {
                    self.position += 1;
                    return Ok(Node::Object(entries));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Node, String> {
        self.position += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.position += 1;
            return Ok(Node::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b']') => {
                    self.position += 1;
                    return Ok(Node::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn number(&mut self) -> Result<Node, String> {
        self.number_text()
            .map(|text| Node::Number(text.to_string()))
    }

    /// Scans a number and returns its text.
    fn number_text(&mut self) -> Result<&str, String> {
        let start = self.position;
        let digits = |parser: &mut Self| {
            let from = parser.position;
            while parser.peek().is_some_and(|b| b.is_ascii_digit()) {
                parser.position += 1;
            }
            parser.position - from
        };
        if self.peek() == Some(b'-') {
            self.position += 1;
        }
        let leading_zero = self.peek() == Some(b'0');
        let int_digits = digits(self);
        if int_digits == 0 || (leading_zero && int_digits > 1) {
            return Err(self.error("invalid number"));
        }
        if self.peek() == Some(b'.') {
            self.position += 1;
            if digits(self) == 0 {
                return Err(self.error("invalid number: no digits after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.position += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.position += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("invalid number: no digits in exponent"));
            }
        }
        Ok(&self.text[start..self.position])
    }

    fn string(&mut self) -> Result<String, String> {
        self.position += 1;
        let mut out = String::new();
        loop {
            let start = self.position;
            while self
                .peek()
                .is_some_and(|b| b != b'"' && b != b'\\' && b >= 0x20)
            {
                self.position += 1;
            }
            out.push_str(&self.text[start..self.position]);
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.position += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.position += 1;
                    let escaped = self
                        .peek()
                        .ok_or_else(|| self.error("unterminated string"))?;
                    self.position += 1;
                    match escaped {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{08}'),
                        b'f' => out.push('\u{0c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                Some(_) => return Err(self.error("unescaped control character in string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let hex = self
            .text
            .get(self.position..self.position + 4)
            .ok_or_else(|| self.error("truncated \\u escape"))?;
        let code = u32::from_str_radix(hex, 16).map_err(|_| self.error("invalid \\u escape"))?;
        self.position += 4;
        Ok(code)
    }

    fn unicode_escape(&mut self) -> Result<char, String> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) && self.text[self.position..].starts_with("\\u") {
            let mark = self.position;
            self.position += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return char::from_u32(code).ok_or_else(|| self.error("invalid surrogate pair"));
            }
            self.position = mark;
        }
        // A lone surrogate cannot be held in a Rust string; Java would keep it.
        Ok(char::from_u32(first).unwrap_or('\u{fffd}'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documents_keeping_number_text() {
        let node = parse(br#" {"a":[1,-2.50e3,true,null],"s":"x\u00e9\ud83d\ude00\n","a":{}} "#);
        assert_eq!(
            node,
            Ok(Node::Object(vec![
                ("a".to_string(), Node::Object(vec![])),
                ("s".to_string(), Node::Text("xé😀\n".to_string())),
            ]))
        );
        let node = parse(b"[1,-2.50e3]");
        assert_eq!(
            node,
            Ok(Node::Array(vec![
                Node::Number("1".into()),
                Node::Number("-2.50e3".into())
            ]))
        );
        for bad in [
            "",
            "{",
            "[1,]",
            "01",
            "1.",
            "\"a",
            "tru",
            "{\"a\" 1}",
            "1 2",
            "\"\u{1}\"",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
