// Kafka's Java client, driven by Ferry's tests (compiled with javac at test time against the
// broker's kafka-clients jar): what a Java producer or consumer does with the same records.
//
//   place <bootstrap> <topic>                 keys (hex, one a line on stdin) sent with the
//                                             default partitioner; prints "<hex> <partition>"
//   produce <bootstrap> <topic> <codec> <n>   n records key "key-<i>", value "value-<i>",
//                                             compression.type=<codec>
//   consume <bootstrap> <topic> <n> <ms>      prints the values of the first n records of all
//                                             partitions (from the beginning), one a line
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class FerryJavaClient {
    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "place" -> place(args[1], args[2]);
            case "produce" -> produce(args[1], args[2], args[3], Integer.parseInt(args[4]));
            case "consume" -> consume(args[1], args[2], Integer.parseInt(args[3]), Long.parseLong(args[4]));
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
    }

    static KafkaProducer<byte[], byte[]> producer(String bootstrap, String codec) {
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("compression.type", codec);
        props.put("acks", "all");
        props.put("key.serializer", ByteArraySerializer.class.getName());
        props.put("value.serializer", ByteArraySerializer.class.getName());
        return new KafkaProducer<>(props);
    }

    static void place(String bootstrap, String topic) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        HexFormat hex = HexFormat.of();
        try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap, "none")) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isBlank()) continue;
                byte[] key = hex.parseHex(line.trim());
                RecordMetadata metadata = producer.send(new ProducerRecord<>(topic, key, "java".getBytes(StandardCharsets.UTF_8))).get();
                System.out.println(line.trim() + " " + metadata.partition());
            }
        }
    }

    static void produce(String bootstrap, String topic, String codec, int count) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap, codec)) {
            for (int i = 0; i < count; i++) {
                producer.send(new ProducerRecord<>(topic, ("key-" + i).getBytes(StandardCharsets.UTF_8), ("value-" + i).getBytes(StandardCharsets.UTF_8)));
            }
            producer.flush();
        }
    }

    static void consume(String bootstrap, String topic, int count, long timeoutMs) {
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("key.deserializer", ByteArrayDeserializer.class.getName());
        props.put("value.deserializer", ByteArrayDeserializer.class.getName());
        props.put("enable.auto.commit", "false");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo info : consumer.partitionsFor(topic, Duration.ofMillis(timeoutMs))) {
                partitions.add(new TopicPartition(topic, info.partition()));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.currentTimeMillis() + timeoutMs;
            int seen = 0;
            while (seen < count && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    System.out.println(new String(record.value(), StandardCharsets.UTF_8));
                    seen++;
                }
            }
        }
    }
}
