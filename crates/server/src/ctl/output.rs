//! Rendering for people: aligned tables, first lines of traces, timestamps; and writing to stdout
//! without panicking when the reader has gone (`ferry ctl watch | head`).

use std::io::Write;

/// Spaces between two columns.
const COLUMN_GAP: usize = 2;
/// Longest error text shown in a table cell; `-o json` has the whole text.
const MAX_CELL_CHARS: usize = 80;

/// A table with a header row; columns are as wide as their widest cell.
pub(super) struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn new(headers: &[&'static str]) -> Self {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; it must have one cell per header.
    pub(super) fn push_row(&mut self, row: Vec<String>) {
        debug_assert_eq!(row.len(), self.headers.len(), "one cell per column");
        self.rows.push(row);
    }

    /// Renders the header and the rows, one line each, without trailing spaces.
    pub(super) fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|header| header.len()).collect();
        for row in &self.rows {
            for (index, cell) in row.iter().enumerate() {
                widths[index] = widths[index].max(cell.chars().count());
            }
        }
        let header_row: Vec<String> = self.headers.iter().map(ToString::to_string).collect();
        let mut text = String::new();
        for row in std::iter::once(&header_row).chain(&self.rows) {
            let mut line = String::new();
            for (index, cell) in row.iter().enumerate() {
                if index > 0 {
                    line.push_str(&" ".repeat(COLUMN_GAP));
                }
                line.push_str(cell);
                let padding = widths[index] - cell.chars().count();
                line.push_str(&" ".repeat(padding));
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }
}

/// The first line of an error or stack trace, shortened to fit a table cell.
pub(super) fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    if line.chars().count() <= MAX_CELL_CHARS {
        return line.to_string();
    }
    let shortened: String = line.chars().take(MAX_CELL_CHARS - 1).collect();
    format!("{shortened}…")
}

/// Milliseconds since the epoch as an RFC 3339 UTC time, e.g. `2025-03-01T12:34:56.789Z`.
pub(super) fn format_timestamp(timestamp_ms: i64) -> String {
    const MS_PER_DAY: i64 = 86_400_000;
    let days = timestamp_ms.div_euclid(MS_PER_DAY);
    let ms_of_day = timestamp_ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_date_from_days(days);
    let hours = ms_of_day / 3_600_000;
    let minutes = ms_of_day / 60_000 % 60;
    let seconds = ms_of_day / 1000 % 60;
    let millis = ms_of_day % 1000;
    format!("{year:04}-{month:02}-{day:02}T{hours:02}:{minutes:02}:{seconds:02}.{millis:03}Z")
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_date_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Writes `text` to stdout. Returns false when stdout is closed (the reader went away), which is
/// not an error for a command-line tool.
pub(super) fn write_stdout(text: &str) -> bool {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_lines_have_no_trailing_spaces() {
        let mut table = Table::new(&["NAME", "STATE", "TASKS"]);
        table.push_row(vec!["gen".into(), "RUNNING".into(), "2/2".into()]);
        table.push_row(vec!["a-longer-name".into(), "PAUSED".into(), String::new()]);
        assert_eq!(
            table.render(),
            "NAME           STATE    TASKS\n\
             gen            RUNNING  2/2\n\
             a-longer-name  PAUSED\n"
        );
    }

    #[test]
    fn first_line_drops_the_stack_and_shortens() {
        assert_eq!(first_line("boom\n  at x\n  at y"), "boom");
        let long = "x".repeat(200);
        assert_eq!(first_line(&long).chars().count(), MAX_CELL_CHARS);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_timestamp(951_782_400_123),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            format_timestamp(1_740_832_496_789),
            "2025-03-01T12:34:56.789Z"
        );
    }
}
