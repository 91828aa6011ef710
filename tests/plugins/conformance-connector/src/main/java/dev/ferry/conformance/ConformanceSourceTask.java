package dev.ferry.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.source.SourceTask;

/**
 * Writes {@code records.per.task} records {@code <task>-<n>} (source partition {task}, offset
 * {n}, resuming after the stored offset), then idles. Journals every
 * commitRecord(record, metadata) as {@code ACK <value> <topic> <partition> <offset>} and every
 * commit() as {@code COMMIT <task>}. While the file {@code poll.retriable.while.file} names
 * exists, poll() throws RetriableException (journaled as {@code RETRIABLE <task>}).
 */
public class ConformanceSourceTask extends SourceTask {
  private Journal journal;
  private String topic;
  private String task;
  private int total;
  private int next;
  private String outage;

  @Override
  public String version() {
    return "0.1.0";
  }

  @Override
  public void start(Map<String, String> props) {
    journal = new Journal(props.get(ConformanceSourceConnector.JOURNAL));
    topic = props.get(ConformanceSourceConnector.TOPIC);
    task = props.get(ConformanceSourceConnector.TASK_ID);
    total = Integer.parseInt(props.getOrDefault(ConformanceSourceConnector.RECORDS, "20"));
    outage = props.get(ConformanceSourceConnector.OUTAGE);
    Map<String, Object> stored = context.offsetStorageReader().offset(Map.of("task", task));
    next = stored == null ? 0 : ((Number) stored.get("n")).intValue() + 1;
    journal.write("START " + task + " " + next);
  }

  @Override
  public List<SourceRecord> poll() throws InterruptedException {
    if (outage != null && java.nio.file.Files.exists(java.nio.file.Path.of(outage))) {
      journal.write("RETRIABLE " + task);
      throw new org.apache.kafka.connect.errors.RetriableException("conformance outage of task " + task);
    }
    if (next >= total) {
      Thread.sleep(100);
      return null;
    }
    List<SourceRecord> records = new ArrayList<>();
    for (int i = 0; i < 5 && next < total; i++, next++) {
      records.add(new SourceRecord(Map.of("task", task), Map.of("n", next), topic, null,
          Schema.STRING_SCHEMA, task + "-" + next));
    }
    return records;
  }

  @Override
  public void commitRecord(SourceRecord record, RecordMetadata metadata) {
    if (metadata == null) {
      journal.write("ACK " + record.value() + " null");
    } else {
      journal.write("ACK " + record.value() + " " + metadata.topic() + " " + metadata.partition() + " " + metadata.offset());
    }
  }

  @Override
  public void commit() {
    journal.write("COMMIT " + task);
  }

  @Override
  public void stop() {}
}
