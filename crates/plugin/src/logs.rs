//! A plugin's stdout/stderr lines, re-emitted through Ferry's tracing.
//!
//! The JVM host writes `LEVEL|logger|connector.context|message` (log4j2, newlines escaped);
//! `connector.context` is Kafka Connect's MDC value, e.g. `[my-connector|task-0] `, from which
//! the connector and task names are taken. Any other line is logged as it is.

/// Logs one line of plugin output.
pub(crate) fn emit(plugin: &str, stream: &str, line: &str) {
    let Some(parsed) = parse(line) else {
        tracing::info!(plugin, stream, "{line}");
        return;
    };
    let ParsedLine {
        level,
        logger,
        connector,
        task,
        message,
    } = parsed;
    match level {
        "ERROR" | "FATAL" => {
            tracing::error!(plugin, logger, connector, task, "{message}")
        }
        "WARN" => tracing::warn!(plugin, logger, connector, task, "{message}"),
        "INFO" => tracing::info!(plugin, logger, connector, task, "{message}"),
        "DEBUG" => tracing::debug!(plugin, logger, connector, task, "{message}"),
        _ => tracing::trace!(plugin, logger, connector, task, "{message}"),
    }
}

#[derive(Debug, PartialEq)]
struct ParsedLine<'a> {
    level: &'a str,
    logger: &'a str,
    connector: &'a str,
    task: &'a str,
    message: String,
}

fn parse(line: &str) -> Option<ParsedLine<'_>> {
    let (level, rest) = line.split_once('|')?;
    if !matches!(
        level,
        "ERROR" | "FATAL" | "WARN" | "INFO" | "DEBUG" | "TRACE"
    ) {
        return None;
    }
    let (logger, rest) = rest.split_once('|')?;
    // Kafka Connect's connector.context, "[name|task-N] " or "[name|worker] ", itself holds a
    // `|`: it ends at "] |"; an empty context is just the separator.
    let (context, raw_message) = if let Some(after) = rest.strip_prefix('|') {
        ("", after)
    } else {
        let end = rest.find("] |")?;
        (&rest[1..end], &rest[end + 3..])
    };
    let message = raw_message.replace("\\r\\n", "\n").replace("\\n", "\n");
    let (connector, scope) = context.rsplit_once('|').unwrap_or((context, ""));
    let task = scope.strip_prefix("task-").unwrap_or("");
    Some(ParsedLine {
        level,
        logger,
        connector,
        task,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_lines_keep_level_logger_connector_and_task() {
        let parsed = parse("WARN|org.example.Task|[files|task-2] |disk full\\nretrying").unwrap();
        assert_eq!(
            parsed,
            ParsedLine {
                level: "WARN",
                logger: "org.example.Task",
                connector: "files",
                task: "2",
                message: "disk full\nretrying".to_string(),
            }
        );
        let worker = parse("INFO|dev.ferry.pluginhost.Main||serving").unwrap();
        assert_eq!((worker.connector, worker.task), ("", ""));
        assert!(parse("SLF4J: no binding").is_none());
    }
}
