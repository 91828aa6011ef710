//! `java.text.SimpleDateFormat` in UTC with the US/ROOT symbols, as `TimestampConverter` and
//! `TimestampRouter` use it: format and (lenient) parse.
//!
//! Supported letters: `G y u M L d D E a H k K h m s S z Z X` and quoted literals. The
//! week-based letters (`Y w W F`) are refused when the pattern is configured. Dates use the
//! proleptic Gregorian calendar (Java switches to the Julian calendar before 1582-10-15).

use crate::converters::java::{civil_from_days, days_from_civil, MILLIS_PER_DAY};

use crate::converters::java::{MONTHS, WEEKDAYS};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Field(char, usize),
}

/// A compiled `SimpleDateFormat` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaDateFormat {
    pattern: String,
    tokens: Vec<Token>,
}

impl JavaDateFormat {
    /// Compiles a pattern.
    ///
    /// # Errors
    /// Java's message for an illegal pattern character or an unterminated quote, or the
    /// letters Ferry does not support.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens: Vec<Token> = Vec::new();
        let mut index = 0;
        let push_literal = |tokens: &mut Vec<Token>, text: &str| {
            if let Some(Token::Literal(existing)) = tokens.last_mut() {
                existing.push_str(text);
            } else {
                tokens.push(Token::Literal(text.to_string()));
            }
        };
        while index < chars.len() {
            let current = chars[index];
            if current == '\'' {
                if chars.get(index + 1) == Some(&'\'') {
                    push_literal(&mut tokens, "'");
                    index += 2;
                    continue;
                }
                let mut literal = String::new();
                index += 1;
                loop {
                    match chars.get(index) {
                        None => return Err("Unterminated quote".to_string()),
                        Some('\'') if chars.get(index + 1) == Some(&'\'') => {
                            literal.push('\'');
                            index += 2;
                        }
                        Some('\'') => {
                            index += 1;
                            break;
                        }
                        Some(other) => {
                            literal.push(*other);
                            index += 1;
                        }
                    }
                }
                push_literal(&mut tokens, &literal);
                continue;
            }
            if current.is_ascii_alphabetic() {
                let mut count = 1;
                while chars.get(index + count) == Some(&current) {
                    count += 1;
                }
                match current {
                    'G' | 'y' | 'u' | 'M' | 'L' | 'd' | 'D' | 'E' | 'a' | 'H' | 'k' | 'K' | 'h'
                    | 'm' | 's' | 'S' | 'z' | 'Z' | 'X' => {}
                    'Y' | 'w' | 'W' | 'F' => {
                        return Err(format!(
                        "pattern letter '{current}' (week-based fields) is not supported by Ferry"
                    ))
                    }
                    _ => return Err(format!("Illegal pattern character '{current}'")),
                }
                if current == 'X' && count > 3 {
                    return Err("invalid ISO 8601 format: length=".to_string() + &count.to_string());
                }
                tokens.push(Token::Field(current, count));
                index += count;
                continue;
            }
            push_literal(&mut tokens, &current.to_string());
            index += 1;
        }
        Ok(JavaDateFormat {
            pattern: pattern.to_string(),
            tokens,
        })
    }

    /// Returns the pattern (`toPattern()`).
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Returns true when the formatted text depends only on the UTC day (no hour, minute,
    /// second, millisecond or AM/PM field), so one day's text serves every instant of it.
    pub fn is_day_granular(&self) -> bool {
        self.tokens.iter().all(|token| match token {
            Token::Literal(_) => true,
            Token::Field(letter, _) => {
                matches!(
                    letter,
                    'G' | 'y' | 'u' | 'M' | 'L' | 'd' | 'D' | 'E' | 'z' | 'Z' | 'X'
                )
            }
        })
    }

    /// Formats milliseconds since the epoch, in UTC.
    pub fn format(&self, millis: i64) -> String {
        let days = millis.div_euclid(MILLIS_PER_DAY);
        let of_day = millis.rem_euclid(MILLIS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let hour = of_day / 3_600_000;
        let minute = of_day / 60_000 % 60;
        let second = of_day / 1000 % 60;
        let milli = of_day % 1000;
        // 1970-01-01 was a Thursday (index 3 from Monday).
        let weekday = usize::try_from((days + 3).rem_euclid(7)).unwrap_or(0);
        let day_of_year = days - days_from_civil(year, 1, 1) + 1;
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.push_str(text),
                Token::Field(letter, count) => {
                    let count = *count;
                    let year_of_era = if year <= 0 { 1 - year } else { year };
                    match letter {
                        'G' => out.push_str(if year <= 0 { "BC" } else { "AD" }),
                        'y' | 'u' => {
                            let shown = if *letter == 'u' { year } else { year_of_era };
                            if count == 2 {
                                pad(&mut out, shown.rem_euclid(100), 2);
                            } else {
                                pad(&mut out, shown, count);
                            }
                        }
                        'M' | 'L' => {
                            let name = MONTHS[(month - 1) as usize];
                            match count {
                                1 | 2 => pad(&mut out, i64::from(month), count),
                                3 => out.push_str(&name[..3]),
                                _ => out.push_str(name),
                            }
                        }
                        'd' => pad(&mut out, i64::from(day), count),
                        'D' => pad(&mut out, day_of_year, count),
                        'E' => {
                            let name = WEEKDAYS[weekday];
                            if count <= 3 {
                                out.push_str(&name[..3]);
                            } else {
                                out.push_str(name);
                            }
                        }
                        'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
                        'H' => pad(&mut out, hour, count),
                        'k' => pad(&mut out, if hour == 0 { 24 } else { hour }, count),
                        'K' => pad(&mut out, hour % 12, count),
                        'h' => pad(&mut out, if hour % 12 == 0 { 12 } else { hour % 12 }, count),
                        'm' => pad(&mut out, minute, count),
                        's' => pad(&mut out, second, count),
                        'S' => pad(&mut out, milli, count),
                        'z' => out.push_str(if count >= 4 {
                            "Coordinated Universal Time"
                        } else {
                            "UTC"
                        }),
                        'Z' => out.push_str("+0000"),
                        'X' => out.push('Z'),
                        _ => {}
                    }
                }
            }
        }
        out
    }

    /// Parses text as `DateFormat.parse(String)`: from the start, leniently (out-of-range
    /// fields roll over), trailing text ignored.
    ///
    /// # Errors
    /// When the text does not match the pattern.
    pub fn parse(&self, text: &str) -> Result<i64, String> {
        let chars: Vec<char> = text.chars().collect();
        let unparseable = || format!("Unparseable date: \"{text}\"");
        let mut position = 0;
        let mut year: i64 = 1970;
        let mut bc = false;
        let mut month: i64 = 1;
        let mut day: i64 = 1;
        let mut day_of_year_opt: Option<i64> = None;
        let mut hour: i64 = 0;
        let mut hour12_opt: Option<i64> = None;
        let mut pm_opt: Option<bool> = None;
        let mut minute: i64 = 0;
        let mut second: i64 = 0;
        let mut milli: i64 = 0;
        let mut offset_minutes: i64 = 0;
        for (token_index, token) in self.tokens.iter().enumerate() {
            match token {
                Token::Literal(literal) => {
                    for expected in literal.chars() {
                        if chars.get(position) == Some(&expected) {
                            position += 1;
                        } else if expected.is_whitespace() {
                            // Java skips a literal whitespace mismatch only when lenient and
                            // the text has whitespace; be strict otherwise.
                            return Err(unparseable());
                        } else {
                            return Err(unparseable());
                        }
                    }
                }
                Token::Field(letter, count) => {
                    let abutting = matches!(
                        self.tokens.get(token_index + 1),
                        Some(Token::Field(next, next_count)) if is_numeric(*next, *next_count)
                    );
                    let width_opt = if abutting { Some(*count) } else { None };
                    match letter {
                        'G' => {
                            if starts_with_ci(&chars, position, "AD") {
                                position += 2;
                            } else if starts_with_ci(&chars, position, "BC") {
                                bc = true;
                                position += 2;
                            } else {
                                return Err(unparseable());
                            }
                        }
                        'M' | 'L' if *count >= 3 => {
                            let index = match_name(&chars, &mut position, &MONTHS, *count)
                                .ok_or_else(unparseable)?;
                            month = index as i64 + 1;
                        }
                        'E' => {
                            match_name(&chars, &mut position, &WEEKDAYS, *count)
                                .ok_or_else(unparseable)?;
                        }
                        'a' => {
                            if starts_with_ci(&chars, position, "AM") {
                                pm_opt = Some(false);
                            } else if starts_with_ci(&chars, position, "PM") {
                                pm_opt = Some(true);
                            } else {
                                return Err(unparseable());
                            }
                            position += 2;
                        }
                        'z' | 'Z' | 'X' => {
                            offset_minutes = parse_zone(&chars, &mut position, *letter)
                                .ok_or_else(unparseable)?;
                        }
                        _ => {
                            let number = parse_number(&chars, &mut position, width_opt)
                                .ok_or_else(unparseable)?;
                            match letter {
                                'y' | 'u' => {
                                    if *count <= 2
                                        && number < 100
                                        && !matches!(width_opt, Some(w) if w > 2)
                                    {
                                        return Err(
                                            "two-digit year parsing is not supported by Ferry"
                                                .to_string(),
                                        );
                                    }
                                    year = number;
                                }
                                'M' | 'L' => month = number,
                                'd' => day = number,
                                'D' => day_of_year_opt = Some(number),
                                'H' => hour = number,
                                'k' => hour = if number == 24 { 0 } else { number },
                                'K' | 'h' => {
                                    hour12_opt = Some(if *letter == 'h' && number == 12 {
                                        0
                                    } else {
                                        number
                                    });
                                }
                                'm' => minute = number,
                                's' => second = number,
                                'S' => milli = number,
                                _ => return Err(unparseable()),
                            }
                        }
                    }
                }
            }
        }
        if bc {
            year = 1 - year;
        }
        if let Some(hour12) = hour12_opt {
            hour = hour12 + if pm_opt == Some(true) { 12 } else { 0 };
        } else if pm_opt == Some(true) && hour < 12 {
            // `a` without h/K leaves HOUR_OF_DAY alone in Java.
        }
        // Lenient roll-over: months beyond 12 move into later years, days into later months.
        let month_index = month - 1;
        let normalized_year = year + month_index.div_euclid(12);
        let normalized_month = u32::try_from(month_index.rem_euclid(12) + 1).unwrap_or(1);
        let days = match day_of_year_opt {
            Some(day_of_year) => days_from_civil(normalized_year, 1, 1) + day_of_year - 1,
            None => days_from_civil(normalized_year, normalized_month, 1) + day - 1,
        };
        Ok(
            days * MILLIS_PER_DAY + hour * 3_600_000 + minute * 60_000 + second * 1000 + milli
                - offset_minutes * 60_000,
        )
    }
}

fn is_numeric(letter: char, count: usize) -> bool {
    match letter {
        'M' | 'L' => count <= 2,
        'y' | 'u' | 'd' | 'D' | 'H' | 'k' | 'K' | 'h' | 'm' | 's' | 'S' => true,
        _ => false,
    }
}

fn pad(out: &mut String, value: i64, width: usize) {
    if value < 0 {
        out.push('-');
    }
    let digits = value.unsigned_abs().to_string();
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

fn starts_with_ci(chars: &[char], position: usize, wanted: &str) -> bool {
    let wanted: Vec<char> = wanted.chars().collect();
    chars.len() >= position + wanted.len()
        && chars[position..position + wanted.len()]
            .iter()
            .zip(&wanted)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

fn match_name(
    chars: &[char],
    position: &mut usize,
    names: &[&str],
    _count: usize,
) -> Option<usize> {
    // Longest match first: full names, then three-letter forms.
    for (index, name) in names.iter().enumerate() {
        if starts_with_ci(chars, *position, name) {
            *position += name.len();
            return Some(index);
        }
    }
    for (index, name) in names.iter().enumerate() {
        if starts_with_ci(chars, *position, &name[..3]) {
            *position += 3;
            return Some(index);
        }
    }
    None
}

fn parse_number(chars: &[char], position: &mut usize, width_opt: Option<usize>) -> Option<i64> {
    let start = *position;
    let mut end = start;
    let negative = chars.get(end) == Some(&'-') && width_opt.is_none();
    if negative {
        end += 1;
    }
    let limit = width_opt.map_or(chars.len(), |width| (start + width).min(chars.len()));
    while end < limit && chars[end].is_ascii_digit() {
        end += 1;
    }
    let digits: String = chars[start..end].iter().collect();
    let number = digits.parse::<i64>().ok()?;
    *position = end;
    Some(number)
}

fn parse_zone(chars: &[char], position: &mut usize, letter: char) -> Option<i64> {
    if letter == 'X' && chars.get(*position) == Some(&'Z') {
        *position += 1;
        return Some(0);
    }
    for name in ["UTC", "GMT"] {
        if letter != 'X' && starts_with_ci(chars, *position, name) {
            *position += 3;
            if !matches!(chars.get(*position), Some('+' | '-')) {
                return Some(0);
            }
        }
    }
    let sign = match chars.get(*position) {
        Some('+') => 1,
        Some('-') => -1,
        _ => return None,
    };
    *position += 1;
    let digit = |index: usize| chars.get(index).and_then(|c| c.to_digit(10)).map(i64::from);
    let hours = match (digit(*position), digit(*position + 1)) {
        (Some(a), Some(b)) => {
            *position += 2;
            a * 10 + b
        }
        (Some(a), None) => {
            *position += 1;
            a
        }
        _ => return None,
    };
    if chars.get(*position) == Some(&':') {
        *position += 1;
    }
    let minutes = match (digit(*position), digit(*position + 1)) {
        (Some(a), Some(b)) => {
            *position += 2;
            a * 10 + b
        }
        _ => 0,
    };
    Some(sign * (hours * 60 + minutes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_simple_date_format_in_utc() {
        let format = JavaDateFormat::new("yyyy-MM-dd'T'HH:mm:ss.SSSZ EEE MMM a h D").unwrap();
        assert_eq!(
            format.format(1_700_000_000_123),
            "2023-11-14T22:13:20.123+0000 Tue Nov PM 10 318"
        );
        assert_eq!(
            JavaDateFormat::new("yyyyMMdd").unwrap().format(0),
            "19700101"
        );
        assert!(JavaDateFormat::new("yyyy-bb").is_err());
        assert!(JavaDateFormat::new("'open").is_err());
    }

    #[test]
    fn parses_what_it_formats_and_offsets() {
        let format = JavaDateFormat::new("yyyy-MM-dd HH:mm:ss.SSS").unwrap();
        let millis = 1_700_000_000_123;
        assert_eq!(format.parse(&format.format(millis)).unwrap(), millis);
        let zoned = JavaDateFormat::new("yyyy-MM-dd'T'HH:mmZ").unwrap();
        assert_eq!(
            zoned.parse("1970-01-01T02:00+0200").unwrap(),
            0,
            "the offset is subtracted"
        );
        let abutting = JavaDateFormat::new("yyyyMMddHHmm").unwrap();
        assert_eq!(abutting.parse("197001010001").unwrap(), 60_000);
        assert!(format.parse("nope").is_err());
    }
}
