package dev.ferry.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.source.SourceTask;
import org.apache.kafka.connect.source.TransactionContext;

/** BoundarySourceConnector's task: see there for the transactions it defines. */
public class BoundarySourceTask extends SourceTask {
  private String topic;
  private long max;
  private int size;
  private long delayMs;
  private Map<String, String> partition;
  /** The last number written (the stored offset, when the task starts). */
  private long last;

  @Override
  public void start(Map<String, String> props) {
    topic = props.get(BoundarySourceConnector.TOPIC);
    max = Long.parseLong(props.get(BoundarySourceConnector.MAX_MESSAGES));
    size = Integer.parseInt(props.getOrDefault(BoundarySourceConnector.TRANSACTION_SIZE, "100"));
    delayMs = Long.parseLong(props.getOrDefault(BoundarySourceConnector.POLL_DELAY_MS, "0"));
    partition = Map.of("task", props.getOrDefault(BoundarySourceConnector.TASK_ID, "0"));
    Map<String, Object> offset = context.offsetStorageReader().offset(partition);
    last = offset == null ? 0 : ((Number) offset.get("last")).longValue();
    if (context.transactionContext() == null) {
      throw new IllegalStateException("BoundarySourceTask runs only with transaction.boundary=connector under exactly-once");
    }
  }

  @Override
  public List<SourceRecord> poll() throws InterruptedException {
    Thread.sleep(delayMs > 0 ? delayMs : (last >= max ? 100 : 0));
    List<SourceRecord> records = new ArrayList<>();
    TransactionContext transactions = context.transactionContext();
    // Up to the end of the current transaction (a task restarts at a transaction's end: its
    // offsets are committed only there).
    while (last < max) {
      last++;
      SourceRecord record = new SourceRecord(partition, Map.of("last", last), topic, null,
          Schema.STRING_SCHEMA, partition.get("task") + "-" + last, Schema.STRING_SCHEMA, Long.toString(last));
      records.add(record);
      if (last % size == 0 || last == max) {
        long transaction = (last + size - 1) / size;
        boolean abort = transaction % 3 == 0;
        boolean byRecord = transaction % 2 == 1;
        if (abort && byRecord) {
          transactions.abortTransaction(record);
        } else if (abort) {
          transactions.abortTransaction();
        } else if (byRecord) {
          transactions.commitTransaction(record);
        } else {
          transactions.commitTransaction();
        }
        break;
      }
    }
    return records;
  }

  @Override
  public void stop() {}

  @Override
  public String version() {
    return "0.1.0";
  }
}
