//! Java regular expressions as Kafka Connect uses them (`Pattern.matches`, `replaceFirst`),
//! on the `regex` crate: the syntax both share compiles, Java-only constructs (lookaround,
//! backreferences, possessive quantifiers) are refused with the compiler's message.

use regex::Regex;

/// Compiles a pattern for whole-string matching (`Matcher.matches()`) and for `find`.
///
/// # Errors
/// The reason the pattern is invalid or uses a construct Ferry does not support.
pub(crate) fn compile(pattern: &str) -> Result<(Regex, Regex), String> {
    let find = Regex::new(pattern).map_err(|error| error.to_string())?;
    let whole = Regex::new(&format!("^(?:{pattern})$")).map_err(|error| error.to_string())?;
    Ok((whole, find))
}

/// `Matcher.replaceFirst(replacement)` after a successful `matches()`: the first match of
/// `find` in `text` replaced by `replacement` with Java's `$n`, `${name}` and `\x` syntax.
///
/// # Errors
/// A replacement that names a group the pattern lacks (Java throws too).
pub(crate) fn replace_first(find: &Regex, text: &str, replacement: &str) -> Result<String, String> {
    let Some(captures) = find.captures(text) else {
        return Ok(text.to_string());
    };
    let whole = captures.get(0).expect("group 0 always participates");
    let mut out = String::with_capacity(text.len() + replacement.len());
    out.push_str(&text[..whole.start()]);
    let chars: Vec<char> = replacement.chars().collect();
    let group_count = find.captures_len() - 1;
    let mut index = 0;
    while index < chars.len() {
        let current = chars[index];
        if current == '\\' {
            index += 1;
            match chars.get(index) {
                Some(escaped) => out.push(*escaped),
                None => return Err("character to be escaped is missing".to_string()),
            }
            index += 1;
        } else if current == '$' {
            index += 1;
            match chars.get(index) {
                None => return Err("Illegal group reference: group index is missing".to_string()),
                Some('{') => {
                    index += 1;
                    let start = index;
                    while index < chars.len() && chars[index].is_ascii_alphanumeric() {
                        index += 1;
                    }
                    if index == start || chars.get(index) != Some(&'}') {
                        return Err("named capturing group is missing trailing '}'".to_string());
                    }
                    let name: String = chars[start..index].iter().collect();
                    index += 1;
                    if find.capture_names().flatten().all(|known| known != name) {
                        return Err(format!("No group with name {{{name}}}"));
                    }
                    if let Some(group) = captures.name(&name) {
                        out.push_str(group.as_str());
                    }
                }
                Some(digit) if digit.is_ascii_digit() => {
                    let mut number = digit.to_digit(10).unwrap_or(0) as usize;
                    if number > group_count {
                        return Err(format!("No group {number}"));
                    }
                    index += 1;
                    while let Some(next) = chars.get(index).and_then(|c| c.to_digit(10)) {
                        let candidate = number * 10 + next as usize;
                        if candidate > group_count {
                            break;
                        }
                        number = candidate;
                        index += 1;
                    }
                    if let Some(group) = captures.get(number) {
                        out.push_str(group.as_str());
                    }
                }
                Some(_) => return Err("Illegal group reference".to_string()),
            }
        } else {
            out.push(current);
            index += 1;
        }
    }
    out.push_str(&text[whole.end()..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_follows_java_group_syntax() {
        let (_, find) = compile("(\\w+)-(\\w+)").unwrap();
        assert_eq!(
            replace_first(&find, "orders-eu", "$2_$1").unwrap(),
            "eu_orders"
        );
        assert_eq!(replace_first(&find, "orders-eu", "$10").unwrap(), "orders0");
        assert_eq!(replace_first(&find, "orders-eu", "\\$1").unwrap(), "$1");
        let (_, named) = compile("(?<name>\\w+)-x").unwrap();
        assert_eq!(replace_first(&named, "a-x", "${name}!").unwrap(), "a!");
        assert!(replace_first(&find, "a-b", "$3").is_err());
    }
}
