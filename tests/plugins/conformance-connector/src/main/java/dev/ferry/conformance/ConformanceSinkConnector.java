package dev.ferry.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.sink.SinkConnector;

/** A sink whose task exercises every SinkTaskContext method (see ConformanceSinkTask). */
public class ConformanceSinkConnector extends SinkConnector {
  static final String JOURNAL = "journal.file";
  static final String RETRY_TIMEOUT = "retry.timeout.ms";
  static final String PAUSE_FOR = "pause.for.ms";
  static final ConfigDef CONFIG = new ConfigDef()
      .define(JOURNAL, ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "The file the task records what it saw in.")
      .define(RETRY_TIMEOUT, ConfigDef.Type.LONG, 300L, ConfigDef.Importance.LOW, "SinkTaskContext.timeout before a RetriableException.")
      .define(PAUSE_FOR, ConfigDef.Type.LONG, 1500L, ConfigDef.Importance.LOW, "How long a partition stays paused.");

  private Map<String, String> config;

  @Override
  public void start(Map<String, String> props) {
    CONFIG.parse(props);
    config = props;
  }

  @Override
  public Class<? extends Task> taskClass() {
    return ConformanceSinkTask.class;
  }

  @Override
  public List<Map<String, String>> taskConfigs(int maxTasks) {
    List<Map<String, String>> configs = new ArrayList<>();
    configs.add(config);
    return configs;
  }

  @Override
  public void stop() {}

  @Override
  public ConfigDef config() {
    return CONFIG;
  }

  @Override
  public String version() {
    return "0.1.0";
  }
}
