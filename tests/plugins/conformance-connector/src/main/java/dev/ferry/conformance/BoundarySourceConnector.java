package dev.ferry.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.source.ConnectorTransactionBoundaries;
import org.apache.kafka.connect.source.ExactlyOnceSupport;
import org.apache.kafka.connect.source.SourceConnector;

/**
 * A source that defines its own transactions ({@code transaction.boundary=connector}): each
 * task writes the numbers 1 to {@code max.messages}, {@code transaction.size} to a transaction,
 * and ends transaction k (numbers (k-1)*size+1 to k*size) with every call of Kafka Connect's
 * TransactionContext: k divisible by 3 is aborted (by the record when k is odd, by the batch
 * when it is even), the others committed (by the record when k is odd, by the batch when it is
 * even). A poll returns at most one transaction's records, so a batch-level request ends the
 * transaction at the same record a record-level one would. Its tasks are BoundarySourceTask.
 */
public class BoundarySourceConnector extends SourceConnector {
  static final String TOPIC = "topic";
  static final String MAX_MESSAGES = "max.messages";
  static final String TRANSACTION_SIZE = "transaction.size";
  static final String POLL_DELAY_MS = "poll.delay.ms";
  static final String TASK_ID = "boundary.task.id";
  static final ConfigDef CONFIG = new ConfigDef()
      .define(TOPIC, ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "Where the tasks write.")
      .define(MAX_MESSAGES, ConfigDef.Type.LONG, ConfigDef.Importance.HIGH, "The last number each task writes.")
      .define(TRANSACTION_SIZE, ConfigDef.Type.INT, 100, ConfigDef.Importance.LOW, "Numbers per transaction.")
      .define(POLL_DELAY_MS, ConfigDef.Type.LONG, 0L, ConfigDef.Importance.LOW, "How long each poll waits first.");

  private Map<String, String> config;

  @Override
  public void start(Map<String, String> props) {
    CONFIG.parse(props);
    config = props;
  }

  @Override
  public Class<? extends Task> taskClass() {
    return BoundarySourceTask.class;
  }

  @Override
  public List<Map<String, String>> taskConfigs(int maxTasks) {
    List<Map<String, String>> configs = new ArrayList<>();
    for (int task = 0; task < maxTasks; task++) {
      Map<String, String> taskConfig = new java.util.HashMap<>(config);
      taskConfig.put(TASK_ID, Integer.toString(task));
      configs.add(taskConfig);
    }
    return configs;
  }

  @Override
  public ExactlyOnceSupport exactlyOnceSupport(Map<String, String> props) {
    return ExactlyOnceSupport.SUPPORTED;
  }

  @Override
  public ConnectorTransactionBoundaries canDefineTransactionBoundaries(Map<String, String> props) {
    return ConnectorTransactionBoundaries.SUPPORTED;
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
