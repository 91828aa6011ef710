//! Java's text forms, reproduced so Ferry writes the same bytes as Kafka Connect: `Double` and
//! `Float` `toString`, `BigDecimal.toString`, and the ISO-8601 formats of `Values`.

use crate::sdk::Decimal;

/// English month names, January first (Java's and Joda's `MMMM` in the ROOT/English locale).
pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
/// English weekday names, Monday first (ISO order).
pub(crate) const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Milliseconds in a day.
pub(crate) const MILLIS_PER_DAY: i64 = 86_400_000;

/// Formats like Java's `Double.toString` (JDK 19+ shortest-digit algorithm).
pub(crate) fn double_to_string(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let magnitude = value.abs();
    let plain = value == 0.0 || (1e-3..1e7).contains(&magnitude);
    java_float_text(&format!("{value:e}"), plain)
}

/// Formats like Java's `Float.toString` (JDK 19+ shortest-digit algorithm).
pub(crate) fn float_to_string(value: f32) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let magnitude = value.abs();
    let plain = value == 0.0 || (1e-3..1e7).contains(&magnitude);
    java_float_text(&format!("{value:e}"), plain)
}

/// Turns Rust's shortest scientific form (`-1.25e-5`) into Java's layout.
fn java_float_text(scientific: &str, plain: bool) -> String {
    let (sign, unsigned) = match scientific.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", scientific),
    };
    let (mantissa, exponent) = unsigned.split_once('e').unwrap_or((unsigned, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if plain {
        if digits.chars().all(|digit| digit == '0') {
            return format!("{sign}0.0");
        }
        if exponent >= 0 {
            let int_len = usize::try_from(exponent).unwrap_or(0) + 1;
            let padded = format!("{digits:0<int_len$}");
            let (int_part, frac_part) = padded.split_at(int_len);
            let frac_part = if frac_part.is_empty() { "0" } else { frac_part };
            format!("{sign}{int_part}.{frac_part}")
        } else {
            let zeros = "0".repeat(usize::try_from(-exponent - 1).unwrap_or(0));
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exponent}")
    }
}

/// Formats like Java's `BigDecimal.toString` (scientific notation for negative scales and
/// very small numbers, as Java does).
pub(crate) fn big_decimal_to_string(decimal: &Decimal) -> String {
    let digits = decimal.unscaled.unsigned_abs().to_string();
    let adjusted = -i64::from(decimal.scale) + i64::try_from(digits.len()).unwrap_or(0) - 1;
    if decimal.scale >= 0 && adjusted >= -6 {
        return decimal.to_string();
    }
    let sign = if decimal.unscaled < 0 { "-" } else { "" };
    let (first, rest) = digits.split_at(1);
    let point = if rest.is_empty() { "" } else { "." };
    let exponent_sign = if adjusted >= 0 { "+" } else { "" };
    format!("{sign}{first}{point}{rest}E{exponent_sign}{adjusted}")
}

/// Parses Java `BigDecimal` syntax (`-12.5`, `1e3`, `+4.0E-2`) into an unscaled value and scale.
pub(crate) fn parse_big_decimal(text: &str) -> Option<Decimal> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(index) => (&text[..index], text[index + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (negative, unsigned) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let magnitude: i128 = format!("{int_part}{frac_part}").parse().ok()?;
    let scale = i32::try_from(frac_part.len()).ok()?.checked_sub(exponent)?;
    Some(Decimal {
        unscaled: if negative { -magnitude } else { magnitude },
        scale,
    })
}

/// Returns `decimal` with `scale` when that loses no digits.
pub(crate) fn rescale(decimal: Decimal, scale: i32) -> Option<Decimal> {
    let mut unscaled = decimal.unscaled;
    let mut current = decimal.scale;
    while current < scale {
        unscaled = unscaled.checked_mul(10)?;
        current += 1;
    }
    while current > scale {
        if unscaled % 10 != 0 {
            return None;
        }
        unscaled /= 10;
        current -= 1;
    }
    Some(Decimal { unscaled, scale })
}

/// Converts days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Converts (year, month, day) to days since 1970-01-01 (proleptic Gregorian).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats milliseconds since the epoch the way Kafka Connect's `Values` formats a
/// `java.util.Date`: under one day as a time (`HH:mm:ss.SSSZ`), whole days as a date
/// (`yyyy-MM-dd`), anything else as a timestamp (`yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`), all in UTC.
pub(crate) fn format_java_date(millis: i64) -> String {
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let of_day = millis.rem_euclid(MILLIS_PER_DAY);
    let time = format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    );
    if millis < MILLIS_PER_DAY {
        return time;
    }
    let (year, month, day) = civil_from_days(days);
    let date = format!("{year:04}-{month:02}-{day:02}");
    if of_day == 0 {
        date
    } else {
        format!("{date}T{time}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_format_like_java() {
        let cases = [
            (1.5, "1.5"),
            (100.0, "100.0"),
            (1.0e10, "1.0E10"),
            (1.25e-5, "1.25E-5"),
            (0.001, "0.001"),
            (9_999_999.0, "9999999.0"),
            (1.0e7, "1.0E7"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (-3.25, "-3.25"),
        ];
        for (value, expected) in cases {
            assert_eq!(double_to_string(value), expected, "{value}");
        }
        assert_eq!(float_to_string(0.1), "0.1");
        assert_eq!(float_to_string(3.402_823_5e38), "3.4028235E38");
    }

    #[test]
    fn big_decimals_format_like_java() {
        let decimal = |unscaled, scale| Decimal { unscaled, scale };
        assert_eq!(big_decimal_to_string(&decimal(12345, 2)), "123.45");
        assert_eq!(big_decimal_to_string(&decimal(12, -3)), "1.2E+4");
        assert_eq!(big_decimal_to_string(&decimal(1, 10)), "1E-10");
        assert_eq!(parse_big_decimal("1e3"), Some(decimal(1, -3)));
        assert_eq!(parse_big_decimal("-12.50"), Some(decimal(-1250, 2)));
        assert_eq!(parse_big_decimal("abc"), None);
        assert_eq!(parse_big_decimal("-"), None);
    }

    #[test]
    fn dates_round_trip_through_civil() {
        for days in [-800_000, -1, 0, 1, 19_000, 2_932_896] {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
        assert_eq!(format_java_date(19_000 * MILLIS_PER_DAY), "2022-01-08");
        assert_eq!(format_java_date(45_296_789), "12:34:56.789Z");
        assert_eq!(
            format_java_date(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
    }
}
