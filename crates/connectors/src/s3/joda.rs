//! Joda-Time `DateTimeFormat` patterns (what `path.format` is written in), formatted with chrono.
//!
//! Supported letters: `G` era, `C` century, `Y` year of era, `y` year, `x` week year, `w` week of
//! week year, `e` day of week (1 = Monday), `E` day of week name, `D` day of year, `M` month
//! (`MMM` short name, `MMMM` full name), `d` day of month, `a` AM/PM, `K` `h` `H` `k` hours, `m`
//! minute, `s` second, `S` fraction of second, `z` zone abbreviation, `Z` offset (`Z` +0100,
//! `ZZ` +01:00, `ZZZ` zone id). Text in single quotes is literal, `''` is a quote, and any other
//! non-letter character stands for itself. Names are English.

use chrono::{DateTime, Datelike, Offset, TimeZone, Timelike};
use chrono_tz::{OffsetName, Tz};

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Field { letter: char, count: usize },
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JodaPattern {
    tokens: Vec<Token>,
}

const FIELD_LETTERS: &str = "GCYyxweEDMdaKhHkmsSzZ";
/// Letters whose output is a name (month, weekday, era, AM/PM, zone), not digits.
const TEXT_LETTERS: &str = "GEaz";

use crate::converters::java::{MONTHS, WEEKDAYS};

impl JodaPattern {
    /// Parses a pattern.
    ///
    /// # Errors
    /// The reason, for a letter Joda does not know or an unclosed quote.
    pub(crate) fn parse(pattern: &str) -> Result<Self, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut index = 0;
        while index < chars.len() {
            let current = chars[index];
            if current == '\'' {
                if chars.get(index + 1) == Some(&'\'') {
                    literal.push('\'');
                    index += 2;
                    continue;
                }
                index += 1;
                loop {
                    match chars.get(index) {
                        None => return Err(format!("unclosed quote in pattern \"{pattern}\"")),
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
            } else if current.is_ascii_alphabetic() {
                if !FIELD_LETTERS.contains(current) {
                    return Err(format!("Illegal pattern component: {current}"));
                }
                let mut count = 1;
                while chars.get(index + count) == Some(&current) {
                    count += 1;
                }
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                tokens.push(Token::Field {
                    letter: current,
                    count,
                });
                index += count;
            } else {
                literal.push(current);
                index += 1;
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(JodaPattern { tokens })
    }

    /// Returns true when the pattern prints names (months, weekdays, ...), which depend on the
    /// locale.
    pub(crate) fn has_text_fields(&self) -> bool {
        self.tokens.iter().any(|token| match token {
            Token::Field { letter, count } => {
                TEXT_LETTERS.contains(*letter) || (*letter == 'M' && *count >= 3)
            }
            Token::Literal(_) => false,
        })
    }

    /// Formats an instant in its zone.
    pub(crate) fn format(&self, time: &DateTime<Tz>) -> String {
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.push_str(text),
                Token::Field { letter, count } => format_field(&mut out, *letter, *count, time),
            }
        }
        out
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

fn text(out: &mut String, full: &str, count: usize) {
    if count >= 4 {
        out.push_str(full);
    } else {
        out.extend(full.chars().take(3));
    }
}

fn format_field(out: &mut String, letter: char, count: usize, time: &DateTime<Tz>) {
    let year = i64::from(time.year());
    match letter {
        'G' => out.push_str(if year > 0 { "AD" } else { "BC" }),
        'C' => pad(out, year.abs() / 100, count),
        // Joda prints a two-letter year field as the last two digits.
        'y' | 'Y' if count == 2 => pad(out, year.rem_euclid(100), 2),
        'y' => pad(out, year, count),
        'Y' => pad(out, if year > 0 { year } else { 1 - year }, count),
        'x' if count == 2 => pad(out, i64::from(time.iso_week().year()).rem_euclid(100), 2),
        'x' => pad(out, i64::from(time.iso_week().year()), count),
        'w' => pad(out, i64::from(time.iso_week().week()), count),
        'e' => pad(out, i64::from(time.weekday().number_from_monday()), count),
        'E' => text(
            out,
            WEEKDAYS[time.weekday().num_days_from_monday() as usize],
            count,
        ),
        'D' => pad(out, i64::from(time.ordinal()), count),
        'M' if count >= 3 => text(out, MONTHS[time.month0() as usize], count),
        'M' => pad(out, i64::from(time.month()), count),
        'd' => pad(out, i64::from(time.day()), count),
        'a' => out.push_str(if time.hour() < 12 { "AM" } else { "PM" }),
        'K' => pad(out, i64::from(time.hour() % 12), count),
        'h' => pad(out, i64::from(time.hour12().1), count),
        'H' => pad(out, i64::from(time.hour()), count),
        'k' => pad(
            out,
            i64::from(if time.hour() == 0 { 24 } else { time.hour() }),
            count,
        ),
        'm' => pad(out, i64::from(time.minute()), count),
        's' => pad(out, i64::from(time.second()), count),
        'S' => {
            // Fraction of second, truncated to `count` digits (Joda pads milliseconds).
            let millis = format!("{:03}", time.timestamp_subsec_millis());
            let digits: String = millis
                .chars()
                .chain(std::iter::repeat('0'))
                .take(count)
                .collect();
            out.push_str(&digits);
        }
        'z' => {
            let offset = time.offset();
            if count >= 4 {
                out.push_str(offset.tz_id());
            } else {
                out.push_str(offset.abbreviation().unwrap_or_else(|| offset.tz_id()));
            }
        }
        'Z' => {
            if count >= 3 {
                out.push_str(time.offset().tz_id());
            } else {
                let seconds = time.offset().fix().local_minus_utc();
                let sign = if seconds < 0 { '-' } else { '+' };
                let minutes = seconds.unsigned_abs() / 60;
                out.push(sign);
                pad(out, i64::from(minutes / 60), 2);
                if count == 2 {
                    out.push(':');
                }
                pad(out, i64::from(minutes % 60), 2);
            }
        }
        _ => {}
    }
}

/// Returns the instant at `millis` since the epoch in `zone`.
pub(crate) fn instant_in(zone: Tz, millis: i64) -> Option<DateTime<Tz>> {
    zone.timestamp_millis_opt(millis).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(zone: &str, millis: i64) -> DateTime<Tz> {
        instant_in(zone.parse().unwrap(), millis).unwrap()
    }

    // 2024-03-05T07:08:09.123Z, a Tuesday.
    const T: i64 = 1_709_622_489_123;

    #[test]
    fn formats_confluents_hourly_path() {
        let pattern = JodaPattern::parse("'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH").unwrap();
        assert_eq!(
            pattern.format(&at("UTC", T)),
            "year=2024/month=03/day=05/hour=07"
        );
        assert_eq!(
            pattern.format(&at("Asia/Tokyo", T)),
            "year=2024/month=03/day=05/hour=16"
        );
        assert!(!pattern.has_text_fields());
    }

    #[test]
    fn formats_every_field() {
        let pattern = JodaPattern::parse(
            "G C yy yyyy xxxx-'W'ww-e E EEEE D MMM MMMM M d a K h H k m s SSS z ZZ Z ZZZ",
        )
        .unwrap();
        assert_eq!(
            pattern.format(&at("Europe/Paris", T)),
            "AD 20 24 2024 2024-W10-2 Tue Tuesday 65 Mar March 3 5 AM 8 8 8 8 8 9 123 CET +01:00 +0100 Europe/Paris"
        );
        assert!(pattern.has_text_fields());
    }

    #[test]
    fn quotes_and_punctuation() {
        let pattern = JodaPattern::parse("'it''s' dd-MM_''").unwrap();
        assert_eq!(pattern.format(&at("UTC", T)), "it's 05-03_'");
    }

    #[test]
    fn rejects_unknown_letters_and_open_quotes() {
        assert_eq!(
            JodaPattern::parse("YYYY/qq").unwrap_err(),
            "Illegal pattern component: q"
        );
        assert!(JodaPattern::parse("'year=YYYY")
            .unwrap_err()
            .contains("unclosed quote"));
    }

    #[test]
    fn midnight_hours() {
        let midnight = 1_709_596_800_000; // 2024-03-05T00:00:00Z
        let pattern = JodaPattern::parse("HH kk KK hh a").unwrap();
        assert_eq!(pattern.format(&at("UTC", midnight)), "00 24 00 12 AM");
    }
}
