package dev.ferry.conformance;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.ErrantRecordReporter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;

/**
 * Records every record it accepts as {@code REC <partition> <offset> <value>} in the journal, and
 * acts on special values (string values):
 * <ul>
 *   <li>{@code retry}: the first time, context.timeout(retry.timeout.ms) and a
 *       RetriableException before accepting anything of the batch ({@code RETRY}); the
 *       redelivery is journaled as {@code REDELIVERED <offset> <ms since the retry>};
 *   <li>{@code rewind}: the first time, context.offset(partition, its offset) and the rest of
 *       the batch is left for the redelivery ({@code REWIND});
 *   <li>{@code errant}: reported to errantRecordReporter() instead of accepted; journals
 *       {@code ERRANT-HANDLED <offset>} once its future completed;
 *   <li>{@code commit}: context.requestCommit() ({@code COMMIT-REQUESTED});
 *   <li>{@code pause}: context.pause(partition) after the batch ({@code PAUSE}); resumed by the
 *       first call after pause.for.ms ({@code RESUME <ms paused>}).
 * </ul>
 * Each put journals {@code PUT <records>} first, each preCommit {@code PRECOMMIT}.
 */
public class ConformanceSinkTask extends SinkTask {
  private Journal journal;
  private long retryTimeoutMs;
  private long pauseForMs;
  private final Set<String> retried = new HashSet<>();
  private final Set<String> rewound = new HashSet<>();
  private final Map<String, Long> retriedAt = new HashMap<>();
  private final Map<Long, Future<Void>> errant = new HashMap<>();
  private final Map<TopicPartition, Long> pausedAt = new HashMap<>();

  @Override
  public String version() {
    return "0.1.0";
  }

  @Override
  public void start(Map<String, String> props) {
    journal = new Journal(props.get(ConformanceSinkConnector.JOURNAL));
    retryTimeoutMs = Long.parseLong(props.getOrDefault(ConformanceSinkConnector.RETRY_TIMEOUT, "300"));
    pauseForMs = Long.parseLong(props.getOrDefault(ConformanceSinkConnector.PAUSE_FOR, "1500"));
  }

  @Override
  public void open(Collection<TopicPartition> partitions) {
    journal.write("OPEN " + partitions.size());
  }

  private static String id(SinkRecord record) {
    return record.kafkaPartition() + "@" + record.kafkaOffset();
  }

  @Override
  public void put(Collection<SinkRecord> records) {
    journal.write("PUT " + records.size());
    checkCompletions();
    for (SinkRecord record : records) {
      if ("retry".equals(record.value()) && retried.add(id(record))) {
        retriedAt.put(id(record), System.nanoTime());
        journal.write("RETRY " + record.kafkaOffset());
        context.timeout(retryTimeoutMs);
        throw new RetriableException("conformance retry of offset " + record.kafkaOffset());
      }
    }
    Set<TopicPartition> toPause = new HashSet<>();
    for (SinkRecord record : records) {
      Object value = record.value();
      TopicPartition tp = new TopicPartition(record.topic(), record.kafkaPartition());
      Long retryStarted = retriedAt.remove(id(record));
      if (retryStarted != null) {
        journal.write("REDELIVERED " + record.kafkaOffset() + " " + (System.nanoTime() - retryStarted) / 1_000_000);
      }
      if ("rewind".equals(value) && rewound.add(id(record))) {
        journal.write("REWIND " + record.kafkaOffset());
        context.offset(tp, record.kafkaOffset());
        break;
      }
      if ("errant".equals(value)) {
        ErrantRecordReporter reporter = context.errantRecordReporter();
        if (reporter == null) {
          throw new DataException("errant record but no errantRecordReporter (no DLQ configured)");
        }
        errant.put(record.kafkaOffset(), reporter.report(record, new DataException("conformance errant " + record.kafkaOffset())));
        continue;
      }
      journal.write("REC " + record.kafkaPartition() + " " + record.kafkaOffset() + " " + value);
      if ("commit".equals(value)) {
        context.requestCommit();
        journal.write("COMMIT-REQUESTED " + record.kafkaOffset());
      }
      if ("pause".equals(value)) {
        toPause.add(tp);
      }
    }
    for (TopicPartition tp : toPause) {
      context.pause(tp);
      pausedAt.put(tp, System.nanoTime());
      journal.write("PAUSE " + tp.partition());
    }
  }

  /** Journals completed errant futures; resumes partitions paused long enough. */
  private void checkCompletions() {
    List<Long> done = new ArrayList<>();
    for (Map.Entry<Long, Future<Void>> entry : errant.entrySet()) {
      if (entry.getValue().isDone()) {
        done.add(entry.getKey());
      }
    }
    for (Long offset : done) {
      errant.remove(offset);
      journal.write("ERRANT-HANDLED " + offset);
    }
    List<TopicPartition> resume = new ArrayList<>();
    for (Map.Entry<TopicPartition, Long> entry : pausedAt.entrySet()) {
      long pausedMs = (System.nanoTime() - entry.getValue()) / 1_000_000;
      if (pausedMs >= pauseForMs) {
        resume.add(entry.getKey());
        journal.write("RESUME " + entry.getKey().partition() + " " + pausedMs);
      }
    }
    for (TopicPartition tp : resume) {
      pausedAt.remove(tp);
      context.resume(tp);
    }
  }

  @Override
  public Map<TopicPartition, OffsetAndMetadata> preCommit(Map<TopicPartition, OffsetAndMetadata> currentOffsets) {
    journal.write("PRECOMMIT");
    checkCompletions();
    return currentOffsets;
  }

  @Override
  public void flush(Map<TopicPartition, OffsetAndMetadata> currentOffsets) {}

  @Override
  public void stop() {}
}
