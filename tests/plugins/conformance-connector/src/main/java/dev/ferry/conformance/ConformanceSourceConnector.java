package dev.ferry.conformance;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.source.SourceConnector;

/**
 * A source whose connector watches {@code control.file}: a number is the task count (a change
 * calls context.requestTaskReconfiguration()), {@code fail} calls context.raiseError(). Its
 * tasks are ConformanceSourceTask.
 */
public class ConformanceSourceConnector extends SourceConnector {
  static final String CONTROL = "control.file";
  static final String TOPIC = "topic";
  static final String JOURNAL = "journal.file";
  static final String RECORDS = "records.per.task";
  static final String TASK_ID = "conformance.task.id";
  static final String OUTAGE = "poll.retriable.while.file";
  static final ConfigDef CONFIG = new ConfigDef()
      .define(CONTROL, ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "The task count, or `fail`.")
      .define(TOPIC, ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "Where the tasks write.")
      .define(JOURNAL, ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "Where the tasks record commitRecord calls.")
      .define(RECORDS, ConfigDef.Type.INT, 20, ConfigDef.Importance.LOW, "Records each task writes.")
      .define(OUTAGE, ConfigDef.Type.STRING, null, ConfigDef.Importance.LOW,
          "While a file exists at this path, poll() throws RetriableException (an outage).");

  private Map<String, String> config;
  private volatile boolean running;
  private volatile String control;
  private Thread watcher;

  @Override
  public void start(Map<String, String> props) {
    CONFIG.parse(props);
    config = props;
    control = read();
    running = true;
    watcher = new Thread(this::watch, "conformance-watcher");
    watcher.setDaemon(true);
    watcher.start();
  }

  private String read() {
    try {
      return Files.readString(Path.of(config.get(CONTROL)), StandardCharsets.UTF_8).trim();
    } catch (IOException e) {
      throw new ConnectException("cannot read " + config.get(CONTROL), e);
    }
  }

  private void watch() {
    while (running) {
      try {
        Thread.sleep(100);
        String now = read();
        if (now.equals(control)) {
          continue;
        }
        control = now;
        if (now.equals("fail")) {
          context.raiseError(new ConnectException("conformance raised an error"));
          return;
        }
        context.requestTaskReconfiguration();
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        // A half-written control file: read it again.
      }
    }
  }

  @Override
  public Class<? extends Task> taskClass() {
    return ConformanceSourceTask.class;
  }

  @Override
  public List<Map<String, String>> taskConfigs(int maxTasks) {
    int count;
    try {
      count = Integer.parseInt(control);
    } catch (NumberFormatException e) {
      count = 1;
    }
    List<Map<String, String>> configs = new ArrayList<>();
    for (int i = 0; i < Math.min(count, maxTasks); i++) {
      Map<String, String> task = new HashMap<>(config);
      task.put(TASK_ID, Integer.toString(i));
      configs.add(task);
    }
    return configs;
  }

  @Override
  public void stop() {
    running = false;
    if (watcher != null) {
      watcher.interrupt();
    }
  }

  @Override
  public ConfigDef config() {
    return CONFIG;
  }

  @Override
  public String version() {
    return "0.1.0";
  }
}
