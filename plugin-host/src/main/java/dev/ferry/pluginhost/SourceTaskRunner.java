package dev.ferry.pluginhost;

import com.google.protobuf.ByteString;
import dev.ferry.plugin.v1.Header;
import dev.ferry.plugin.v1.OffsetRead;
import dev.ferry.plugin.v1.OffsetReply;
import dev.ferry.plugin.v1.PollRetrying;
import dev.ferry.plugin.v1.RecordAck;
import dev.ferry.plugin.v1.SourceBatch;
import dev.ferry.plugin.v1.SourceIn;
import dev.ferry.plugin.v1.SourceOut;
import dev.ferry.plugin.v1.StoredOffset;
import dev.ferry.plugin.v1.TaskStart;
import dev.ferry.plugin.v1.TaskStarted;
import dev.ferry.plugin.v1.TaskStopped;
import dev.ferry.plugin.v1.TransactionRequest;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.connector.Connector;
import org.apache.kafka.connect.runtime.isolation.LoaderSwap;
import org.apache.kafka.connect.runtime.isolation.Plugins;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.source.SourceTask;
import org.apache.kafka.connect.source.SourceTaskContext;
import org.apache.kafka.connect.source.TransactionContext;
import org.apache.kafka.connect.storage.Converter;
import org.apache.kafka.connect.storage.HeaderConverter;
import org.apache.kafka.connect.storage.OffsetStorageReader;
import org.apache.kafka.connect.util.ConnectorTaskId;
import org.apache.kafka.connect.util.LoggingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One source task ({@code SourceTask} stream). A poll thread calls {@code poll()} while it holds
 * credit and sends converted batches; acks call {@code commitRecord} with Kafka's metadata and
 * {@code OffsetsCommitted} calls {@code commit()}, on a second thread, in order.
 */
final class SourceTaskRunner implements StreamObserver<SourceIn> {
  private static final Logger log = LoggerFactory.getLogger(SourceTaskRunner.class);
  private static final long OFFSET_READ_TIMEOUT_SECONDS = 60;
  /** The first and the longest wait before polling again after a retriable failure. */
  private static final long RETRY_DELAY_MIN_MS = 300;
  private static final long RETRY_DELAY_MAX_MS = 5_000;

  private final Plugins plugins;
  private final Outbox<SourceOut> out;
  private final ExecutorService acks = Executors.newSingleThreadExecutor(r -> new Thread(r, "ferry-source-acks"));
  private final Object creditLock = new Object();
  private final Map<Long, SourceRecord> inFlight = new ConcurrentHashMap<>();
  private final Map<Long, CompletableFuture<List<StoredOffset>>> offsetReads = new ConcurrentHashMap<>();
  private final AtomicLong nextRequestId = new AtomicLong();
  private final Runners.OffsetJson offsetJson = new Runners.OffsetJson();
  private long credit;
  private volatile boolean running = true;
  private volatile SourceTask task;
  /**
   * Whether the task overrides {@code commitRecord}: only then are the records kept until their
   * acks (a task that does not gets SourceTask's no-op, and holding tens of thousands of
   * records for it made every young GC copy them: pauses of 0.25 s on a busy machine).
   */
  private volatile boolean keepRecords = true;
  private Transforms<SourceRecord> transforms;
  /**
   * The task's {@code TransactionContext}: set when the worker runs exactly-once sources and
   * the connector's {@code transaction.boundary} is {@code connector}; otherwise null, as
   * Kafka Connect gives it.
   */
  private volatile Transactions transactions;
  private ClassLoader loader;
  private ConnectorTaskId id = new ConnectorTaskId("", 0);
  private Thread pollThread;

  SourceTaskRunner(Plugins plugins, StreamObserver<SourceOut> out) {
    this.plugins = plugins;
    this.out = new Outbox<>(out);
  }

  @Override
  public void onNext(SourceIn message) {
    switch (message.getMessageCase()) {
      case START -> {
        TaskStart start = message.getStart();
        id = new ConnectorTaskId(start.getConnector(), start.getTaskIndex());
        pollThread = new Thread(() -> run(start), "ferry-source-" + id);
        pollThread.setDaemon(true);
        pollThread.start();
      }
      case CREDIT -> {
        synchronized (creditLock) {
          credit += message.getCredit().getRecords();
          creditLock.notifyAll();
        }
      }
      case ACKS -> {
        List<RecordAck> list = message.getAcks().getAcksList();
        submit(() -> commitRecords(list));
      }
      case OFFSETS_COMMITTED -> submit(this::commit);
      case OFFSET_REPLY -> {
        OffsetReply reply = message.getOffsetReply();
        CompletableFuture<List<StoredOffset>> pending = offsetReads.remove(reply.getRequestId());
        if (pending != null) {
          pending.complete(reply.getOffsetsList());
        }
      }
      case STOP -> stop();
      default -> { }
    }
  }

  private void submit(Runnable work) {
    try {
      acks.execute(work);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // Stopped.
    }
  }

  private void run(TaskStart start) {
    try (LoggingContext logging = LoggingContext.forTask(id)) {
      Map<String, String> config = start.getConfigMap();
      Map<String, String> worker = start.getWorkerConfigMap();
      // Converters, transforms and errors.* are connector-level keys, as in Kafka Connect.
      Map<String, String> connectorConfig = start.getConnectorConfigMap();
      Connector connector = Runners.newConnector(plugins, start.getClassName(), connectorConfig);
      boolean connectorTransactions =
          "enabled".equalsIgnoreCase(worker.getOrDefault("exactly.once.source.support", "").trim())
              && "connector".equalsIgnoreCase(connectorConfig.getOrDefault("transaction.boundary", "").trim());
      transactions = connectorTransactions ? new Transactions() : null;
      loader = connector.getClass().getClassLoader();
      Converter keyConverter;
      Converter valueConverter;
      HeaderConverter headerConverter;
      try (LoaderSwap swap = plugins.withClassLoader(loader)) {
        SourceTask created = (SourceTask) plugins.newTask(connector.taskClass());
        keyConverter = Runners.converter(plugins, "key.converter", true, connectorConfig, worker);
        valueConverter = Runners.converter(plugins, "value.converter", false, connectorConfig, worker);
        headerConverter = Runners.headerConverter(plugins, connectorConfig, worker);
        transforms = Transforms.build(plugins, connectorConfig);
        created.initialize(new Context(config));
        keepRecords = overridesCommitRecord(created.getClass());
        task = created;
        created.start(config);
      }
      out.send(SourceOut.newBuilder().setStarted(TaskStarted.getDefaultInstance()).build());
      long seq = 0;
      long retryDelayMs = 0;
      boolean tolerateAll = "all".equals(connectorConfig.getOrDefault("errors.tolerance", "none").trim());
      while (running) {
        synchronized (creditLock) {
          while (running && credit <= 0) {
            creditLock.wait(1000);
          }
        }
        if (!running) {
          break;
        }
        List<SourceRecord> records;
        try (LoaderSwap swap = plugins.withClassLoader(loader)) {
          records = task.poll();
        } catch (org.apache.kafka.connect.errors.RetriableException
            | org.apache.kafka.common.errors.RetriableException e) {
          // As Kafka Connect's worker: a retriable failure of poll() is not the task's end; it
          // is polled again (after a capped backoff here, so an outage does not spin), and
          // Ferry shows the retries in the task's status.
          log.warn("source task failed to poll records; will retry: {}", e.toString());
          out.send(SourceOut.newBuilder()
              .setPollRetrying(PollRetrying.newBuilder().setError(Runners.error(e)))
              .build());
          retryDelayMs = retryDelayMs == 0 ? RETRY_DELAY_MIN_MS : Math.min(retryDelayMs * 2, RETRY_DELAY_MAX_MS);
          // stop() notifies creditLock: a stop during the backoff ends it at once.
          long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(retryDelayMs);
          synchronized (creditLock) {
            long left;
            while (running && (left = until - System.nanoTime()) > 0) {
              creditLock.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            }
          }
          continue;
        }
        if (retryDelayMs != 0) {
          // Recovered: an empty batch tells Ferry so even when the poll returned nothing.
          retryDelayMs = 0;
          if (records == null || records.isEmpty()) {
            out.send(SourceOut.newBuilder().setBatch(SourceBatch.getDefaultInstance()).build());
          }
        }
        if (records == null || records.isEmpty()) {
          continue;
        }
        SourceBatch.Builder batch = SourceBatch.newBuilder();
        for (SourceRecord record : records) {
          // Kafka Connect's order: poll, then transforms, then convert.
          dev.ferry.plugin.v1.SourceRecord converted = null;
          try {
            SourceRecord transformed = transforms.apply(record);
            if (transformed != null) {
              converted = convert(seq, transformed, keyConverter, valueConverter, headerConverter);
            }
          } catch (RuntimeException e) {
            if (!tolerateAll) {
              throw e;
            }
            log.warn("skipping a record that failed its transforms or conversion (errors.tolerance=all): {}", e.toString());
          }
          TransactionRequest request = transactions == null ? TransactionRequest.TRANSACTION_REQUEST_NONE : transactions.requestFor(record);
          if (converted == null) {
            // Dropped: Ferry commits its offset in order; no ack will come for it.
            batch.addRecords(dropped(seq, record).toBuilder().setTransaction(request));
            commitDropped(record);
          } else {
            if (keepRecords) {
              inFlight.put(seq, record);
            }
            batch.addRecords(request == TransactionRequest.TRANSACTION_REQUEST_NONE ? converted : converted.toBuilder().setTransaction(request).build());
          }
          seq++;
        }
        if (transactions != null) {
          // A commit or abort of the batch ends the transaction at its last record, unless
          // that record ends it already.
          TransactionRequest request = transactions.takeBatchRequest();
          int last = batch.getRecordsCount() - 1;
          if (request != TransactionRequest.TRANSACTION_REQUEST_NONE
              && batch.getRecords(last).getTransaction() == TransactionRequest.TRANSACTION_REQUEST_NONE) {
            batch.setRecords(last, batch.getRecords(last).toBuilder().setTransaction(request));
          }
        }
        synchronized (creditLock) {
          credit -= batch.getRecordsCount();
        }
        out.send(SourceOut.newBuilder().setBatch(batch).build());
      }
    } catch (Throwable e) {
      if (running) {
        log.error("source task failed", e);
        out.send(SourceOut.newBuilder().setError(Runners.error(e)).build());
        out.complete();
        running = false;
        stopTask();
        acks.shutdown();
        return;
      }
    }
    stopTask();
    acks.shutdown();
    try {
      acks.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    out.send(SourceOut.newBuilder().setStopped(TaskStopped.getDefaultInstance()).build());
    out.complete();
  }

  private dev.ferry.plugin.v1.SourceRecord dropped(long seq, SourceRecord record) {
    return dev.ferry.plugin.v1.SourceRecord.newBuilder()
        .setSeq(seq)
        .setTopic(record.topic())
        .setSourcePartitionJson(offsetJson.encode(record.sourcePartition()))
        .setSourceOffsetJson(offsetJson.encode(record.sourceOffset()))
        .setDropped(true)
        .build();
  }

  /** commitRecord(record, null), as Kafka Connect calls it for a record that was not written. */
  private void commitDropped(SourceRecord record) {
    try (LoaderSwap swap = plugins.withClassLoader(loader)) {
      task.commitRecord(record, null);
    } catch (Exception e) {
      log.warn("commitRecord failed", e);
    }
  }

  private dev.ferry.plugin.v1.SourceRecord convert(
      long seq, SourceRecord record, Converter keyConverter, Converter valueConverter, HeaderConverter headerConverter) {
    String topic = record.topic();
    dev.ferry.plugin.v1.SourceRecord.Builder out =
        dev.ferry.plugin.v1.SourceRecord.newBuilder()
            .setSeq(seq)
            .setTopic(topic)
            .setSourcePartitionJson(offsetJson.encode(record.sourcePartition()))
            .setSourceOffsetJson(offsetJson.encode(record.sourceOffset()));
    if (record.kafkaPartition() != null) {
      out.setPartition(record.kafkaPartition());
    }
    if (record.timestamp() != null) {
      out.setTimestamp(record.timestamp());
    }
    byte[] key = keyConverter.fromConnectData(topic, record.keySchema(), record.key());
    if (key != null) {
      out.setKey(ByteString.copyFrom(key));
    }
    byte[] value = valueConverter.fromConnectData(topic, record.valueSchema(), record.value());
    if (value != null) {
      out.setValue(ByteString.copyFrom(value));
    }
    for (org.apache.kafka.connect.header.Header header : record.headers()) {
      Header.Builder h = Header.newBuilder().setKey(header.key());
      byte[] bytes = headerConverter.fromConnectHeader(topic, header.key(), header.schema(), header.value());
      if (bytes != null) {
        h.setValue(ByteString.copyFrom(bytes));
      }
      out.addHeaders(h);
    }
    return out.build();
  }

  /** Whether {@code taskClass} or a superclass below SourceTask declares a commitRecord. */
  static boolean overridesCommitRecord(Class<?> taskClass) {
    try {
      for (Class<?> c = taskClass; c != null && c != SourceTask.class; c = c.getSuperclass()) {
        for (java.lang.reflect.Method method : c.getDeclaredMethods()) {
          if (method.getName().equals("commitRecord")) {
            return true;
          }
        }
      }
      return false;
    } catch (Throwable e) {
      // A method signature names a class the plugin lacks: keep the records, to be safe.
      return true;
    }
  }

  private void commitRecords(List<RecordAck> list) {
    SourceTask current = task;
    if (current == null || !keepRecords) {
      return;
    }
    try (LoggingContext logging = LoggingContext.forTask(id);
        LoaderSwap swap = plugins.withClassLoader(loader)) {
      for (RecordAck ack : list) {
        SourceRecord record = inFlight.remove(ack.getSeq());
        if (record == null) {
          continue;
        }
        RecordMetadata metadata =
            new RecordMetadata(
                new TopicPartition(ack.getTopic(), ack.getPartition()), ack.getOffset(), 0, ack.getTimestamp(), -1, -1);
        current.commitRecord(record, metadata);
      }
    } catch (Throwable e) {
      log.warn("commitRecord failed", e);
    }
  }

  private void commit() {
    SourceTask current = task;
    if (current == null) {
      return;
    }
    try (LoggingContext logging = LoggingContext.forTask(id);
        LoaderSwap swap = plugins.withClassLoader(loader)) {
      current.commit();
    } catch (Throwable e) {
      log.warn("commit failed", e);
    }
  }

  /** Stop arrives from another thread while poll() may block, as in Kafka Connect. */
  private void stop() {
    running = false;
    synchronized (creditLock) {
      creditLock.notifyAll();
    }
    if (pollThread == null) {
      out.send(SourceOut.newBuilder().setStopped(TaskStopped.getDefaultInstance()).build());
      out.complete();
      return;
    }
    SourceTask current = task;
    if (current != null) {
      try (LoggingContext logging = LoggingContext.forTask(id);
          LoaderSwap swap = plugins.withClassLoader(loader)) {
        current.stop();
      } catch (Throwable e) {
        log.warn("stop failed", e);
      }
    }
  }

  private void stopTask() {
    // stop() already called SourceTask.stop() when Ferry asked; a failed task is stopped here.
    if (running) {
      return;
    }
    if (transforms != null) {
      transforms.close();
    }
    for (CompletableFuture<List<StoredOffset>> pending : offsetReads.values()) {
      pending.cancel(true);
    }
  }

  @Override
  public void onError(Throwable t) {
    if (running) {
      stop();
    }
  }

  @Override
  public void onCompleted() {
    if (running) {
      stop();
    }
  }

  private final class Context implements SourceTaskContext {
    private final Map<String, String> config;

    Context(Map<String, String> config) {
      this.config = config;
    }

    @Override
    public Map<String, String> configs() {
      return config;
    }

    @Override
    public org.apache.kafka.common.metrics.PluginMetrics pluginMetrics() {
      return HostMetrics.forTask(id);
    }

    @Override
    public TransactionContext transactionContext() {
      return transactions;
    }

    @Override
    public OffsetStorageReader offsetStorageReader() {
      return new OffsetStorageReader() {
        @Override
        public <T> Map<String, Object> offset(Map<String, T> partition) {
          return offsets(List.of(partition)).get(partition);
        }

        @Override
        public <T> Map<Map<String, T>, Map<String, Object>> offsets(Collection<Map<String, T>> partitions) {
          List<Map<String, T>> ordered = new ArrayList<>(partitions);
          long requestId = nextRequestId.incrementAndGet();
          CompletableFuture<List<StoredOffset>> reply = new CompletableFuture<>();
          offsetReads.put(requestId, reply);
          OffsetRead.Builder read = OffsetRead.newBuilder().setRequestId(requestId);
          for (Map<String, T> partition : ordered) {
            read.addPartitionsJson(offsetJson.encode(partition));
          }
          out.send(SourceOut.newBuilder().setOffsetRead(read).build());
          List<StoredOffset> stored;
          try {
            stored = reply.get(OFFSET_READ_TIMEOUT_SECONDS, TimeUnit.SECONDS);
          } catch (Exception e) {
            throw new org.apache.kafka.connect.errors.ConnectException("failed to read source offsets from Ferry", e);
          } finally {
            offsetReads.remove(requestId);
          }
          Map<Map<String, T>, Map<String, Object>> result = new HashMap<>();
          for (int i = 0; i < ordered.size() && i < stored.size(); i++) {
            StoredOffset offset = stored.get(i);
            result.put(ordered.get(i), offset.hasOffsetJson() ? offsetJson.decode(offset.getOffsetJson()) : null);
          }
          return result;
        }
      };
    }
  }

  /**
   * The connector's transaction requests, as Kafka Connect's worker keeps them: records it asked
   * to commit or abort after (matched by {@code equals}, when the poll returns them), and a
   * commit or abort of the current batch; asking for both of one record or one batch fails
   * the task.
   */
  private static final class Transactions implements TransactionContext {
    private final Set<SourceRecord> commitAfter = new HashSet<>();
    private final Set<SourceRecord> abortAfter = new HashSet<>();
    private boolean commitBatch;
    private boolean abortBatch;

    @Override
    public synchronized void commitTransaction() {
      commitBatch = true;
    }

    @Override
    public synchronized void commitTransaction(SourceRecord record) {
      commitAfter.add(Objects.requireNonNull(record, "the record to commit a transaction after must not be null"));
    }

    @Override
    public synchronized void abortTransaction() {
      abortBatch = true;
    }

    @Override
    public synchronized void abortTransaction(SourceRecord record) {
      abortAfter.add(Objects.requireNonNull(record, "the record to abort a transaction after must not be null"));
    }

    synchronized TransactionRequest requestFor(SourceRecord record) {
      boolean commit = commitAfter.remove(record);
      boolean abort = abortAfter.remove(record);
      if (commit && abort) {
        throw new IllegalStateException("the connector asked both to commit and to abort the transaction after the same record");
      }
      return commit ? TransactionRequest.TRANSACTION_REQUEST_COMMIT
          : abort ? TransactionRequest.TRANSACTION_REQUEST_ABORT
          : TransactionRequest.TRANSACTION_REQUEST_NONE;
    }

    synchronized TransactionRequest takeBatchRequest() {
      if (commitBatch && abortBatch) {
        throw new IllegalStateException("the connector asked both to commit and to abort the same batch's transaction");
      }
      TransactionRequest request = commitBatch ? TransactionRequest.TRANSACTION_REQUEST_COMMIT
          : abortBatch ? TransactionRequest.TRANSACTION_REQUEST_ABORT
          : TransactionRequest.TRANSACTION_REQUEST_NONE;
      commitBatch = false;
      abortBatch = false;
      return request;
    }
  }
}
