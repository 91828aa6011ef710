//! Java's `sasl.jaas.config`: `<LoginModule class> <flag> key="value" ...;`, parsed into the
//! login module and its options (the values stay secret).

use std::collections::BTreeMap;

use ferry_connectors::sdk::Secret;

/// One JAAS login module entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JaasEntry {
    pub(crate) login_module: String,
    pub(crate) options: BTreeMap<String, Secret<String>>,
}

/// Parses a `sasl.jaas.config` value holding exactly one login module (what a Kafka client
/// takes).
///
/// # Errors
/// A syntax error, no module or several; the reason never quotes an option's value.
pub(crate) fn parse_jaas_config(text: &str) -> Result<JaasEntry, String> {
    let mut chars = text.trim().chars().peekable();
    let login_module = read_word(&mut chars);
    if login_module.is_empty() {
        return Err("expected a login module class name".to_string());
    }
    skip_whitespace(&mut chars);
    let flag = read_word(&mut chars);
    if !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) {
        return Err(format!(
            "expected a control flag (required, requisite, sufficient or optional) after `{login_module}`"
        ));
    }
    let mut options = BTreeMap::new();
    loop {
        skip_whitespace(&mut chars);
        match chars.peek() {
            None => return Err("missing the closing `;`".to_string()),
            Some(';') => {
                chars.next();
                break;
            }
            Some(_) => {}
        }
        let name = read_word(&mut chars);
        if name.is_empty() {
            return Err("expected an option name".to_string());
        }
        skip_whitespace(&mut chars);
        if chars.next() != Some('=') {
            return Err(format!("expected `=` after option `{name}`"));
        }
        skip_whitespace(&mut chars);
        let value = if chars.peek() == Some(&'"') {
            chars.next();
            let mut value = String::new();
            loop {
                match chars.next() {
                    None => return Err(format!("unterminated quoted value of option `{name}`")),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(escaped) => value.push(escaped),
                        None => {
                            return Err(format!("unterminated quoted value of option `{name}`"))
                        }
                    },
                    Some(other) => value.push(other),
                }
            }
            value
        } else {
            let value = read_word(&mut chars);
            if value.is_empty() {
                return Err(format!("expected a value for option `{name}`"));
            }
            value
        };
        options.insert(name, Secret::new(value));
    }
    skip_whitespace(&mut chars);
    if chars.peek().is_some() {
        return Err("a Kafka client takes a single login module".to_string());
    }
    Ok(JaasEntry {
        login_module,
        options,
    })
}

fn skip_whitespace(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.peek().is_some_and(|c| c.is_whitespace()) {
        chars.next();
    }
}

fn read_word(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut word = String::new();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() || c == '=' || c == ';' || c == '"' {
            break;
        }
        word.push(c);
        chars.next();
    }
    word
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_scram_login_module() {
        let entry = parse_jaas_config(
            "org.apache.kafka.common.security.scram.ScramLoginModule required\n  username=\"alice\" password=\"p@ss \\\"word\\\";\";",
        )
        .expect("valid");
        assert_eq!(
            entry.login_module,
            "org.apache.kafka.common.security.scram.ScramLoginModule"
        );
        assert_eq!(entry.options["username"].expose(), "alice");
        assert_eq!(entry.options["password"].expose(), "p@ss \"word\";");
    }

    #[test]
    fn unquoted_values_and_no_options_parse() {
        let entry = parse_jaas_config("a.B optional user=bob;").expect("valid");
        assert_eq!(entry.options["user"].expose(), "bob");
        assert!(parse_jaas_config("a.B required;")
            .expect("valid")
            .options
            .is_empty());
    }

    #[test]
    fn syntax_errors_never_show_values() {
        for (text, expected) in [
            ("", "login module"),
            ("a.B maybe x=1;", "control flag"),
            ("a.B required password=\"secret", "unterminated"),
            ("a.B required password=\"secret\"", "closing"),
            ("a.B required x=1; c.D required;", "single login module"),
        ] {
            let error = parse_jaas_config(text).expect_err(text);
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains("secret"), "{error}");
        }
    }
}
