package dev.ferry.pluginhost;

import dev.ferry.plugin.v1.Committable;
import dev.ferry.plugin.v1.Done;
import dev.ferry.plugin.v1.ErrantReport;
import dev.ferry.plugin.v1.Retry;
import dev.ferry.plugin.v1.SinkContextRequests;
import dev.ferry.plugin.v1.SinkIn;
import dev.ferry.plugin.v1.SinkOut;
import dev.ferry.plugin.v1.TaskStart;
import dev.ferry.plugin.v1.TaskStarted;
import dev.ferry.plugin.v1.TaskStopped;
import dev.ferry.plugin.v1.TopicPartitionOffset;
import io.grpc.stub.StreamObserver;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.connect.connector.Connector;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.header.ConnectHeaders;
import org.apache.kafka.connect.runtime.isolation.LoaderSwap;
import org.apache.kafka.connect.runtime.isolation.Plugins;
import org.apache.kafka.connect.sink.ErrantRecordReporter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.apache.kafka.connect.sink.SinkTaskContext;
import org.apache.kafka.connect.storage.Converter;
import org.apache.kafka.connect.storage.HeaderConverter;
import org.apache.kafka.connect.util.ConnectorTaskId;
import org.apache.kafka.connect.util.LoggingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One sink task ({@code SinkTask} stream): every call on one thread, in order. Records arrive as
 * Kafka bytes and are converted here with the connector's converters before {@code put}.
 */
final class SinkTaskRunner implements StreamObserver<SinkIn> {
  private static final Logger log = LoggerFactory.getLogger(SinkTaskRunner.class);
  /** WorkerSinkTask's redelivery delay when the task never called context.timeout(). */
  private static final long DEFAULT_RETRY_MS = 1000;

  private final Plugins plugins;
  private final Outbox<SinkOut> out;
  private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> new Thread(r, "ferry-sink"));
  private SinkTask task;
  private ClassLoader loader;
  private ConnectorTaskId id = new ConnectorTaskId("", 0);
  private Converter keyConverter;
  private Converter valueConverter;
  private HeaderConverter headerConverter;
  private boolean tolerateAll;
  private Transforms<SinkRecord> transforms;
  private ErrantReporter errantReporter;
  private final Set<TopicPartition> assignment = new HashSet<>();
  private final Context context = new Context();
  private boolean stopped;
  private Map<String, String> taskConfig = Map.of();

  SinkTaskRunner(Plugins plugins, StreamObserver<SinkOut> out) {
    this.plugins = plugins;
    this.out = new Outbox<>(out);
  }

  @Override
  public void onNext(SinkIn message) {
    if (message.getMessageCase() == SinkIn.MessageCase.ERRANT_HANDLED) {
      // Not queued behind the task's current call: a task may wait for these futures.
      ErrantReporter reporter = errantReporter;
      if (reporter != null) {
        reporter.handled(message.getErrantHandled().getHandled());
      }
      return;
    }
    try {
      thread.execute(() -> handle(message));
    } catch (RejectedExecutionException e) {
      // Stopped.
    }
  }

  private void handle(SinkIn message) {
    if (stopped) {
      return;
    }
    try (LoggingContext logging = LoggingContext.forTask(id)) {
      switch (message.getMessageCase()) {
        case START -> start(message.getStart());
        case OPEN -> {
          List<TopicPartition> partitions = partitions(message.getOpen().getPartitionsList());
          assignment.addAll(partitions);
          try (LoaderSwap swap = plugins.withClassLoader(loader)) {
            task.open(partitions);
          }
          done();
        }
        case CLOSE -> {
          List<TopicPartition> partitions = partitions(message.getClose().getPartitionsList());
          try (LoaderSwap swap = plugins.withClassLoader(loader)) {
            task.close(partitions);
          }
          partitions.forEach(assignment::remove);
          done();
        }
        case PUT -> put(message.getPut().getRecordsList());
        case PRE_COMMIT -> preCommit(message.getPreCommit().getCurrentList());
        case STOP -> stop(null);
        default -> { }
      }
    } catch (Throwable e) {
      log.error("sink task failed", e);
      stop(e);
    }
  }

  private void start(TaskStart start) throws Exception {
    id = new ConnectorTaskId(start.getConnector(), start.getTaskIndex());
    try (LoggingContext logging = LoggingContext.forTask(id)) {
      Map<String, String> config = start.getConfigMap();
      taskConfig = config;
      Map<String, String> worker = start.getWorkerConfigMap();
      // Converters, transforms and errors.* are connector-level keys, as in Kafka Connect.
      Map<String, String> connectorConfig = start.getConnectorConfigMap();
      String dlq = connectorConfig.getOrDefault("errors.deadletterqueue.topic.name", "").trim();
      boolean errorLog = "true".equals(connectorConfig.getOrDefault("errors.log.enable", "false").trim());
      // As Kafka Connect: a reporter exists when there is a DLQ or an error log.
      if (!dlq.isEmpty() || errorLog) {
        errantReporter = new ErrantReporter();
      }
      tolerateAll = "all".equals(connectorConfig.getOrDefault("errors.tolerance", "none").trim());
      Connector connector = Runners.newConnector(plugins, start.getClassName(), connectorConfig);
      loader = connector.getClass().getClassLoader();
      try (LoaderSwap swap = plugins.withClassLoader(loader)) {
        task = (SinkTask) plugins.newTask(connector.taskClass());
        keyConverter = Runners.converter(plugins, "key.converter", true, connectorConfig, worker);
        valueConverter = Runners.converter(plugins, "value.converter", false, connectorConfig, worker);
        headerConverter = Runners.headerConverter(plugins, connectorConfig, worker);
        transforms = Transforms.build(plugins, connectorConfig);
        task.initialize(context);
        task.start(config);
      }
      out.send(SinkOut.newBuilder().setStarted(TaskStarted.getDefaultInstance()).build());
    }
  }

  private void put(List<dev.ferry.plugin.v1.SinkRecord> batch) {
    List<SinkRecord> records = new ArrayList<>(batch.size());
    for (dev.ferry.plugin.v1.SinkRecord record : batch) {
      try {
        // Kafka Connect's order: convert, then transforms, then put.
        SinkRecord transformed = transforms.apply(convert(record));
        if (transformed != null) {
          records.add(transformed);
        }
      } catch (RuntimeException e) {
        if (!tolerateAll) {
          throw e;
        }
        // Ferry logs it (errors.log.enable) and writes it to the dead letter queue.
        if (errantReporter != null) {
          errantReporter.reportFailed(record.getTopic(), record.getPartition(), record.getOffset(), e);
        } else {
          sendErrant(record.getTopic(), record.getPartition(), record.getOffset(), e);
        }
      }
    }
    try (LoaderSwap swap = plugins.withClassLoader(loader)) {
      task.put(records);
    } catch (RetriableException e) {
      long timeout = context.timeoutMs > 0 ? context.timeoutMs : DEFAULT_RETRY_MS;
      log.info("put threw a RetriableException; Ferry redelivers the batch in {} ms: {}", timeout, e.getMessage());
      out.send(SinkOut.newBuilder().setRetry(Retry.newBuilder().setTimeoutMs(timeout).setMessage(String.valueOf(e.getMessage()))).build());
      return;
    }
    done();
  }

  /** The topic of the last record converted, as bytes and as the String handed to the task. */
  private com.google.protobuf.ByteString lastTopicBytes;
  private String lastTopic;

  /** The record's topic, decoded once per run of records of the same topic (not per record). */
  private String topicOf(dev.ferry.plugin.v1.SinkRecord record) {
    com.google.protobuf.ByteString bytes = record.getTopicBytes();
    if (!bytes.equals(lastTopicBytes)) {
      lastTopicBytes = bytes;
      lastTopic = bytes.toStringUtf8();
    }
    return lastTopic;
  }

  private SinkRecord convert(dev.ferry.plugin.v1.SinkRecord record) {
    String topic = topicOf(record);
    ConnectHeaders headers = new ConnectHeaders();
    for (dev.ferry.plugin.v1.Header header : record.getHeadersList()) {
      byte[] bytes = header.hasValue() ? header.getValue().toByteArray() : null;
      SchemaAndValue value = headerConverter.toConnectHeader(topic, header.getKey(), bytes);
      headers.add(header.getKey(), value);
    }
    SchemaAndValue key = keyConverter.toConnectData(topic, null, record.hasKey() ? record.getKey().toByteArray() : null);
    SchemaAndValue value = valueConverter.toConnectData(topic, null, record.hasValue() ? record.getValue().toByteArray() : null);
    TimestampType timestampType =
        switch (record.getTimestampType()) {
          case 1 -> TimestampType.CREATE_TIME;
          case 2 -> TimestampType.LOG_APPEND_TIME;
          default -> TimestampType.NO_TIMESTAMP_TYPE;
        };
    Long timestamp = record.hasTimestamp() ? record.getTimestamp() : null;
    return new SinkRecord(
        topic, record.getPartition(), key.schema(), key.value(), value.schema(), value.value(),
        record.getOffset(), timestamp, timestampType, headers);
  }

  private void preCommit(List<TopicPartitionOffset> current) {
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    for (TopicPartitionOffset offset : current) {
      offsets.put(new TopicPartition(offset.getTopic(), offset.getPartition()), new OffsetAndMetadata(offset.getOffset()));
    }
    Map<TopicPartition, OffsetAndMetadata> committable;
    try (LoaderSwap swap = plugins.withClassLoader(loader)) {
      committable = task.preCommit(offsets);
    }
    Committable.Builder answer = Committable.newBuilder().setContext(context.drain());
    if (committable != null) {
      for (Map.Entry<TopicPartition, OffsetAndMetadata> entry : committable.entrySet()) {
        answer.addOffsets(
            TopicPartitionOffset.newBuilder()
                .setTopic(entry.getKey().topic())
                .setPartition(entry.getKey().partition())
                .setOffset(entry.getValue().offset()));
      }
    }
    out.send(SinkOut.newBuilder().setCommittable(answer).build());
  }

  private void done() {
    out.send(SinkOut.newBuilder().setDone(Done.newBuilder().setContext(context.drain())).build());
  }

  private void stop(Throwable error) {
    if (stopped) {
      return;
    }
    stopped = true;
    if (task != null) {
      try (LoaderSwap swap = plugins.withClassLoader(loader)) {
        task.stop();
      } catch (Throwable e) {
        log.warn("stop failed", e);
      }
    }
    if (transforms != null) {
      transforms.close();
    }
    if (error != null) {
      out.send(SinkOut.newBuilder().setError(Runners.error(error)).build());
    } else {
      out.send(SinkOut.newBuilder().setStopped(TaskStopped.getDefaultInstance()).build());
    }
    out.complete();
    thread.shutdown();
  }

  private static List<TopicPartition> partitions(List<dev.ferry.plugin.v1.TopicPartition> list) {
    List<TopicPartition> partitions = new ArrayList<>(list.size());
    for (dev.ferry.plugin.v1.TopicPartition tp : list) {
      partitions.add(new TopicPartition(tp.getTopic(), tp.getPartition()));
    }
    return partitions;
  }

  @Override
  public void onError(Throwable t) {
    onCompleted();
  }

  @Override
  public void onCompleted() {
    try {
      thread.execute(() -> stop(null));
    } catch (RejectedExecutionException e) {
      // Already stopped.
    }
  }

  /** SinkTaskContext: its requests go back to Ferry with the answer to the current call. */
  private final class Context implements SinkTaskContext {
    long timeoutMs;
    private SinkContextRequests.Builder pending = SinkContextRequests.newBuilder();
    // The last of pause and resume wins for a partition.
    private final Set<TopicPartition> pausing = new LinkedHashSet<>();
    private final Set<TopicPartition> resuming = new LinkedHashSet<>();

    synchronized SinkContextRequests drain() {
      for (TopicPartition tp : pausing) {
        pending.addPause(dev.ferry.plugin.v1.TopicPartition.newBuilder().setTopic(tp.topic()).setPartition(tp.partition()));
      }
      for (TopicPartition tp : resuming) {
        pending.addResume(dev.ferry.plugin.v1.TopicPartition.newBuilder().setTopic(tp.topic()).setPartition(tp.partition()));
      }
      pausing.clear();
      resuming.clear();
      SinkContextRequests requests = pending.build();
      pending = SinkContextRequests.newBuilder();
      return requests;
    }

    @Override
    public Map<String, String> configs() {
      return taskConfig;
    }

    @Override
    public synchronized void offset(Map<TopicPartition, Long> offsets) {
      for (Map.Entry<TopicPartition, Long> entry : offsets.entrySet()) {
        pending.addRewind(
            TopicPartitionOffset.newBuilder()
                .setTopic(entry.getKey().topic())
                .setPartition(entry.getKey().partition())
                .setOffset(entry.getValue()));
      }
    }

    @Override
    public void offset(TopicPartition partition, long offset) {
      offset(Map.of(partition, offset));
    }

    @Override
    public org.apache.kafka.common.metrics.PluginMetrics pluginMetrics() {
      return HostMetrics.forTask(id);
    }

    @Override
    public void timeout(long timeoutMs) {
      this.timeoutMs = timeoutMs;
    }

    @Override
    public Set<TopicPartition> assignment() {
      return Set.copyOf(assignment);
    }

    @Override
    public synchronized void pause(TopicPartition... partitions) {
      for (TopicPartition tp : partitions) {
        checkAssigned(tp);
        resuming.remove(tp);
        pausing.add(tp);
      }
    }

    @Override
    public synchronized void resume(TopicPartition... partitions) {
      for (TopicPartition tp : partitions) {
        checkAssigned(tp);
        pausing.remove(tp);
        resuming.add(tp);
      }
    }

    private void checkAssigned(TopicPartition tp) {
      // As Kafka Connect's consumer: a partition not assigned to this task cannot be paused.
      if (!assignment.contains(tp)) {
        throw new IllegalStateException("No current assignment for partition " + tp);
      }
    }

    @Override
    public synchronized void requestCommit() {
      pending.setRequestCommit(true);
    }

    @Override
    public ErrantRecordReporter errantRecordReporter() {
      // Null without a dead letter queue or errors.log.enable, as in Kafka Connect.
      return errantReporter;
    }
  }

  /** Reports an errant record to Ferry (numbered by the order of these messages). */
  private void sendErrant(String topic, int partition, long offset, Throwable error) {
    String reason = error == null ? "" : error.getClass().getName() + ": " + error.getMessage();
    out.send(SinkOut.newBuilder().setErrant(ErrantReport.newBuilder()
        .setTopic(topic).setPartition(partition).setOffset(offset).setError(reason)).build());
  }

  /**
   * ErrantRecordReporter: each report goes to Ferry at once (the runtime applies
   * errors.tolerance and writes the record as consumed to the dead letter queue); its future
   * completes when Ferry says the record is handled (its DLQ write acknowledged).
   */
  private final class ErrantReporter implements ErrantRecordReporter {
    /** Futures of reported records not handled yet, oldest first. */
    private final ArrayDeque<CompletableFuture<Void>> waiting = new ArrayDeque<>();
    private long handled;

    @Override
    public synchronized Future<Void> report(SinkRecord record, Throwable error) {
      CompletableFuture<Void> future = new CompletableFuture<>();
      waiting.add(future);
      sendErrant(record.originalTopic(), record.originalKafkaPartition(), record.originalKafkaOffset(), error);
      return future;
    }

    /** A record the host itself skipped (a conversion failure): reported, nobody waits. */
    synchronized void reportFailed(String topic, int partition, long offset, Throwable error) {
      waiting.add(new CompletableFuture<>());
      sendErrant(topic, partition, offset, error);
    }

    /** The first {@code count} reported records are handled. */
    synchronized void handled(long count) {
      while (handled < count && !waiting.isEmpty()) {
        waiting.poll().complete(null);
        handled++;
      }
    }
  }

}
