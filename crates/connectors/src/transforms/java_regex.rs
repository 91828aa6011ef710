//! Java regular expressions as Kafka Connect uses them (`Pattern.matches`, `replaceFirst`).
//!
//! A pattern compiles with the `regex` crate (linear time) unless it uses Java constructs that
//! crate lacks (lookahead and lookbehind, backreferences, atomic groups) or reads differently
//! (possessive quantifiers); those compile with `fancy-regex`, a backtracking engine, which
//! hands the plain parts of the pattern to `regex`. What neither accepts (e.g. `\Q…\E`
//! quoting, or a pattern Java refuses too) is refused with the compiler's message.

/// Steps a backtracking match may take before it is abandoned (an error, never a silent
/// non-match); `fancy-regex`'s default is a tenth of this. Topic names are at most 249
/// characters, so only a pathological pattern gets near it.
const BACKTRACK_LIMIT: usize = 10_000_000;

enum Engine {
    Linear(regex::Regex),
    Backtracking(fancy_regex::Regex),
}

/// A compiled Java pattern: a whole-string matcher (`Matcher.matches()`) and a finder.
pub(crate) struct JavaRegex {
    whole: Engine,
    find: Engine,
}

/// Returns true when `pattern` needs the backtracking engine: Java constructs the `regex`
/// crate refuses (lookaround, backreferences, atomic groups) or accepts with another meaning
/// (a possessive quantifier `a++` is `(a+)+` there).
fn needs_backtracking(pattern: &str) -> bool {
    use regex_syntax::ast::ErrorKind;
    if has_possessive_quantifier(pattern) {
        return true;
    }
    match regex_syntax::ast::parse::Parser::new().parse(pattern) {
        Ok(_) => false,
        Err(error) => match error.kind() {
            ErrorKind::UnsupportedLookAround | ErrorKind::UnsupportedBackreference => true,
            ErrorKind::FlagUnrecognized => pattern.contains("(?>"),
            _ => false,
        },
    }
}

/// Returns true when a quantifier (`*`, `+`, `?`, `{n,m}`) outside a character class is
/// followed by `+`. A false positive (e.g. `\p{L}+`) only costs speed: the backtracking engine
/// reads the pattern correctly too.
fn has_possessive_quantifier(pattern: &str) -> bool {
    let chars: Vec<char> = pattern.chars().collect();
    let mut class_depth = 0usize;
    let mut index = 0;
    while index < chars.len() {
        match chars[index] {
            '\\' => index += 1,
            '[' => class_depth += 1,
            ']' if class_depth > 0 => class_depth -= 1,
            '*' | '+' | '?' | '}' if class_depth == 0 => {
                let opens_group = chars[index] == '?' && index > 0 && chars[index - 1] == '(';
                if !opens_group && chars.get(index + 1) == Some(&'+') {
                    return true;
                }
            }
            _ => {}
        }
        index += 1;
    }
    false
}

/// Compiles `pattern` for whole-string matching and for `find`.
///
/// # Errors
/// The reason the pattern is invalid or uses a construct Ferry does not support.
pub(crate) fn compile(pattern: &str) -> Result<JavaRegex, String> {
    let whole_pattern = format!("^(?:{pattern})$");
    if needs_backtracking(pattern) {
        let backtracking = |text: &str| {
            fancy_regex::RegexBuilder::new(text)
                .backtrack_limit(BACKTRACK_LIMIT)
                .build()
                .map_err(|error| error.to_string())
        };
        return Ok(JavaRegex {
            whole: Engine::Backtracking(backtracking(&whole_pattern)?),
            find: Engine::Backtracking(backtracking(pattern)?),
        });
    }
    let linear = |text: &str| regex::Regex::new(text).map_err(|error| error.to_string());
    Ok(JavaRegex {
        whole: Engine::Linear(linear(&whole_pattern)?),
        find: Engine::Linear(linear(pattern)?),
    })
}

/// The groups of one match: their spans (`None` when a group did not participate) and names.
struct Groups {
    spans: Vec<Option<(usize, usize)>>,
    names: Vec<Option<String>>,
}

impl Groups {
    fn get(&self, index: usize) -> Option<(usize, usize)> {
        self.spans.get(index).copied().flatten()
    }

    fn named(&self, name: &str) -> Option<Option<(usize, usize)>> {
        let index = self
            .names
            .iter()
            .position(|known| known.as_deref() == Some(name))?;
        Some(self.get(index))
    }
}

impl JavaRegex {
    /// `Pattern.matches(regex, text)`.
    ///
    /// # Errors
    /// A backtracking match that exceeded its step limit.
    pub(crate) fn matches(&self, text: &str) -> Result<bool, String> {
        match &self.whole {
            Engine::Linear(regex) => Ok(regex.is_match(text)),
            Engine::Backtracking(regex) => regex.is_match(text).map_err(|error| error.to_string()),
        }
    }

    fn first_groups(&self, text: &str) -> Result<Option<Groups>, String> {
        let span = |found: Option<(usize, usize)>| found;
        match &self.find {
            Engine::Linear(regex) => Ok(regex.captures(text).map(|captures| Groups {
                spans: (0..captures.len())
                    .map(|index| span(captures.get(index).map(|m| (m.start(), m.end()))))
                    .collect(),
                names: regex
                    .capture_names()
                    .map(|name| name.map(str::to_string))
                    .collect(),
            })),
            Engine::Backtracking(regex) => {
                let captures = regex.captures(text).map_err(|error| error.to_string())?;
                Ok(captures.map(|captures| Groups {
                    spans: (0..captures.len())
                        .map(|index| span(captures.get(index).map(|m| (m.start(), m.end()))))
                        .collect(),
                    names: regex
                        .capture_names()
                        .map(|name| name.map(str::to_string))
                        .collect(),
                }))
            }
        }
    }

    /// `Matcher.replaceFirst(replacement)`: the first match in `text` replaced by `replacement`
    /// with Java's `$n`, `${name}` and `\x` syntax.
    ///
    /// # Errors
    /// A replacement that names a group the pattern lacks (Java throws too), or a backtracking
    /// match that exceeded its step limit.
    pub(crate) fn replace_first(&self, text: &str, replacement: &str) -> Result<String, String> {
        let Some(groups) = self.first_groups(text)? else {
            return Ok(text.to_string());
        };
        let (start, end) = groups.get(0).expect("group 0 always participates");
        let mut out = String::with_capacity(text.len() + replacement.len());
        out.push_str(&text[..start]);
        let chars: Vec<char> = replacement.chars().collect();
        let group_count = groups.spans.len() - 1;
        let push_group = |out: &mut String, found: Option<(usize, usize)>| {
            if let Some((from, to)) = found {
                out.push_str(&text[from..to]);
            }
        };
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
                    None => {
                        return Err("Illegal group reference: group index is missing".to_string())
                    }
                    Some('{') => {
                        index += 1;
                        let name_start = index;
                        while index < chars.len() && chars[index].is_ascii_alphanumeric() {
                            index += 1;
                        }
                        if index == name_start || chars.get(index) != Some(&'}') {
                            return Err("named capturing group is missing trailing '}'".to_string());
                        }
                        let name: String = chars[name_start..index].iter().collect();
                        index += 1;
                        let Some(found) = groups.named(&name) else {
                            return Err(format!("No group with name {{{name}}}"));
                        };
                        push_group(&mut out, found);
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
                        push_group(&mut out, groups.get(number));
                    }
                    Some(_) => return Err("Illegal group reference".to_string()),
                }
            } else {
                out.push(current);
                index += 1;
            }
        }
        out.push_str(&text[end..]);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_follows_java_group_syntax() {
        let find = compile("(\\w+)-(\\w+)").unwrap();
        assert_eq!(
            find.replace_first("orders-eu", "$2_$1").unwrap(),
            "eu_orders"
        );
        assert_eq!(find.replace_first("orders-eu", "$10").unwrap(), "orders0");
        assert_eq!(find.replace_first("orders-eu", "\\$1").unwrap(), "$1");
        let named = compile("(?<name>\\w+)-x").unwrap();
        assert_eq!(named.replace_first("a-x", "${name}!").unwrap(), "a!");
        assert!(find.replace_first("a-b", "$3").is_err());
    }

    #[test]
    fn java_only_constructs_compile_on_the_backtracking_engine() {
        // Lookahead, lookbehind, a backreference, possessive quantifiers, an atomic group.
        let cases = [
            ("(?!internal)(.*)-eu", "orders-eu", true),
            ("(?!internal)(.*)-eu", "internal-eu", false),
            ("(?<=orders)-eu", "orders-eu", false),
            ("(.*)(?<=s)-eu", "orders-eu", true),
            ("(\\w+)-\\1", "eu-eu", true),
            ("(\\w+)-\\1", "eu-us", false),
            ("a++b", "aab", true),
            ("a++ab", "aab", false),
            ("(?>ab|a)c", "ac", true),
            ("(?>a|ab)c", "abc", false),
        ];
        for (pattern, text, expected) in cases {
            let regex = compile(pattern).unwrap();
            assert!(matches!(regex.whole, Engine::Backtracking(_)), "{pattern}");
            assert_eq!(regex.matches(text), Ok(expected), "{pattern} on {text}");
        }
        let router = compile("(?!internal)(\\w+)-(eu|us)").unwrap();
        assert_eq!(
            router.replace_first("orders-eu", "$2.$1").unwrap(),
            "eu.orders"
        );
    }

    #[test]
    fn shared_syntax_stays_on_the_linear_engine_and_invalid_patterns_are_refused() {
        for linear in ["orders(.*)", "a+?b", "[+*]+", "(?i)x+", "\\++"] {
            let regex = compile(linear).unwrap();
            assert!(matches!(regex.whole, Engine::Linear(_)), "{linear}");
        }
        for invalid in ["[", "(", "a{2", "\\Qa.b\\E", "(?!x"] {
            assert!(compile(invalid).is_err(), "{invalid}");
        }
    }
}
