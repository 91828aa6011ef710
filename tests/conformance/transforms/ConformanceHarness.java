// Test-only harness: applies Kafka Connect's own transformations and predicates
// (connect-transforms 4.3.1) to cases read as JSON lines on stdin and writes each
// result as one JSON line on stdout. Ferry's conformance test feeds the same cases to
// Ferry's transforms and requires identical output. Build: scripts/conformance.sh.
//
// Case:   {"class": "...Cast$Value", "kind": "transformation"|"predicate",
//          "config": {...}, "record": RECORD}
// RECORD: {"topic", "partition": int|null, "offset": long|null (sink record when set),
//          "timestamp": long|null, "key_schema": SCHEMA|null, "key": VALUE,
//          "value_schema": SCHEMA|null, "value": VALUE,
//          "headers": [{"key", "schema": SCHEMA|null, "value": VALUE}]}
// Output: {"record": RECORD|null} | {"test": bool} | {"config_error": msg} | {"error": msg}
// SCHEMA: {"type", "optional", "name", "version", "doc", "parameters", "default": VALUE,
//          "fields": [{"name", "schema"}], "keys": SCHEMA, "values": SCHEMA}
// VALUE:  null | {"boolean": b} | {"int8".."int64": n} | {"float32": bits} |
//         {"float64": bits} | {"string": s} | {"bytes": base64} | {"array": [VALUE]} |
//         {"map": [[VALUE, VALUE]]} | {"struct": [[name, VALUE]]} |
//         {"decimal": unscaled, "scale": n} | {"date_ms": millis}

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.connector.ConnectRecord;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.header.ConnectHeaders;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.transforms.Transformation;
import org.apache.kafka.connect.transforms.predicates.Predicate;

public final class ConformanceHarness {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, false, "UTF-8");
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            ObjectNode result = NODES.objectNode();
            try {
                result = run(MAPPER.readTree(line));
            } catch (Throwable error) {
                result.put("error", error.getClass().getName() + ": " + error.getMessage());
            }
            out.println(MAPPER.writeValueAsString(result));
            out.flush();
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static ObjectNode run(JsonNode testCase) throws Exception {
        ObjectNode result = NODES.objectNode();
        Map<String, String> config = new HashMap<>();
        Iterator<Map.Entry<String, JsonNode>> entries = testCase.get("config").fields();
        while (entries.hasNext()) {
            Map.Entry<String, JsonNode> entry = entries.next();
            config.put(entry.getKey(), entry.getValue().asText());
        }
        Class<?> cls = Class.forName(testCase.get("class").asText());
        ConnectRecord record = decodeRecord(testCase.get("record"));
        if ("predicate".equals(testCase.path("kind").asText())) {
            Predicate predicate = (Predicate) cls.getDeclaredConstructor().newInstance();
            try {
                predicate.configure(config);
            } catch (Throwable error) {
                result.put("config_error", error.getMessage());
                return result;
            }
            result.put("test", predicate.test(record));
            return result;
        }
        Transformation transformation = (Transformation) cls.getDeclaredConstructor().newInstance();
        try {
            transformation.configure(config);
        } catch (Throwable error) {
            result.put("config_error", error.getMessage());
            return result;
        }
        ConnectRecord output = transformation.apply(record);
        result.set("record", output == null ? NODES.nullNode() : encodeRecord(output));
        return result;
    }

    private static ConnectRecord<?> decodeRecord(JsonNode node) {
        Schema keySchema = decodeSchema(node.get("key_schema"));
        Schema valueSchema = decodeSchema(node.get("value_schema"));
        Object key = decodeValue(node.get("key"), keySchema);
        Object value = decodeValue(node.get("value"), valueSchema);
        Integer partition = nullable(node.get("partition")) ? null : node.get("partition").asInt();
        Long timestamp = nullable(node.get("timestamp")) ? null : node.get("timestamp").asLong();
        ConnectHeaders headers = new ConnectHeaders();
        for (JsonNode header : node.get("headers")) {
            Schema schema = decodeSchema(header.get("schema"));
            headers.add(header.get("key").asText(), decodeValue(header.get("value"), schema), schema);
        }
        String topic = node.get("topic").asText();
        if (!nullable(node.get("offset"))) {
            return new SinkRecord(topic, partition == null ? 0 : partition, keySchema, key, valueSchema, value,
                    node.get("offset").asLong(), timestamp,
                    org.apache.kafka.common.record.TimestampType.CREATE_TIME, headers);
        }
        return new SourceRecord(null, null, topic, partition, keySchema, key, valueSchema, value, timestamp, headers);
    }

    private static boolean nullable(JsonNode node) {
        return node == null || node.isNull();
    }

    private static ObjectNode encodeRecord(ConnectRecord<?> record) {
        ObjectNode node = NODES.objectNode();
        node.put("topic", record.topic());
        if (record.kafkaPartition() == null) {
            node.putNull("partition");
        } else {
            node.put("partition", record.kafkaPartition());
        }
        if (record instanceof SinkRecord) {
            node.put("offset", ((SinkRecord) record).kafkaOffset());
        } else {
            node.putNull("offset");
        }
        if (record.timestamp() == null) {
            node.putNull("timestamp");
        } else {
            node.put("timestamp", record.timestamp());
        }
        node.set("key_schema", encodeSchema(record.keySchema()));
        node.set("key", encodeValue(record.key()));
        node.set("value_schema", encodeSchema(record.valueSchema()));
        node.set("value", encodeValue(record.value()));
        ArrayNode headers = node.putArray("headers");
        for (Header header : record.headers()) {
            ObjectNode encoded = headers.addObject();
            encoded.put("key", header.key());
            encoded.set("schema", encodeSchema(header.schema()));
            encoded.set("value", encodeValue(header.value()));
        }
        return node;
    }

    private static Schema decodeSchema(JsonNode node) {
        if (nullable(node)) {
            return null;
        }
        String type = node.get("type").asText();
        SchemaBuilder builder;
        switch (type) {
            case "array":
                builder = SchemaBuilder.array(decodeSchema(node.get("values")));
                break;
            case "map":
                builder = SchemaBuilder.map(decodeSchema(node.get("keys")), decodeSchema(node.get("values")));
                break;
            case "struct":
                builder = SchemaBuilder.struct();
                for (JsonNode field : node.get("fields")) {
                    builder.field(field.get("name").asText(), decodeSchema(field.get("schema")));
                }
                break;
            default:
                builder = new SchemaBuilder(Schema.Type.valueOf(type.toUpperCase()));
        }
        if (node.path("optional").asBoolean(false)) {
            builder.optional();
        }
        if (!nullable(node.get("name"))) {
            builder.name(node.get("name").asText());
        }
        if (!nullable(node.get("version"))) {
            builder.version(node.get("version").asInt());
        }
        if (!nullable(node.get("doc"))) {
            builder.doc(node.get("doc").asText());
        }
        if (!nullable(node.get("parameters"))) {
            Iterator<Map.Entry<String, JsonNode>> params = node.get("parameters").fields();
            while (params.hasNext()) {
                Map.Entry<String, JsonNode> param = params.next();
                builder.parameter(param.getKey(), param.getValue().asText());
            }
        }
        if (!nullable(node.get("default"))) {
            Schema withoutDefault = builder.build();
            builder.defaultValue(decodeValue(node.get("default"), withoutDefault));
        }
        return builder.build();
    }

    private static JsonNode encodeSchema(Schema schema) {
        if (schema == null) {
            return NODES.nullNode();
        }
        ObjectNode node = NODES.objectNode();
        node.put("type", schema.type().getName());
        node.put("optional", schema.isOptional());
        if (schema.name() == null) node.putNull("name"); else node.put("name", schema.name());
        if (schema.version() == null) node.putNull("version"); else node.put("version", schema.version());
        if (schema.doc() == null) node.putNull("doc"); else node.put("doc", schema.doc());
        if (schema.parameters() == null || schema.parameters().isEmpty()) {
            node.putNull("parameters");
        } else {
            ObjectNode params = node.putObject("parameters");
            schema.parameters().forEach(params::put);
        }
        node.set("default", schema.defaultValue() == null ? NODES.nullNode() : encodeValue(schema.defaultValue()));
        switch (schema.type()) {
            case ARRAY:
                node.set("values", encodeSchema(schema.valueSchema()));
                break;
            case MAP:
                node.set("keys", encodeSchema(schema.keySchema()));
                node.set("values", encodeSchema(schema.valueSchema()));
                break;
            case STRUCT:
                ArrayNode fields = node.putArray("fields");
                for (Field field : schema.fields()) {
                    ObjectNode encoded = fields.addObject();
                    encoded.put("name", field.name());
                    encoded.set("schema", encodeSchema(field.schema()));
                }
                break;
            default:
        }
        return node;
    }

    private static Object decodeValue(JsonNode node, Schema schema) {
        if (nullable(node)) {
            return null;
        }
        String tag = node.fieldNames().next();
        JsonNode body = node.get(tag);
        switch (tag) {
            case "boolean": return body.asBoolean();
            case "int8": return (byte) body.asInt();
            case "int16": return (short) body.asInt();
            case "int32": return body.asInt();
            case "int64": return body.asLong();
            case "float32": return Float.intBitsToFloat((int) body.asLong());
            case "float64": return Double.longBitsToDouble(body.asLong());
            case "string": return body.asText();
            case "bytes": return Base64.getDecoder().decode(body.asText());
            case "date_ms": return new java.util.Date(body.asLong());
            case "decimal":
                return new BigDecimal(new BigInteger(body.asText()), node.get("scale").asInt());
            case "array": {
                List<Object> list = new ArrayList<>();
                Schema element = schema == null ? null : schema.valueSchema();
                for (JsonNode item : body) list.add(decodeValue(item, element));
                return list;
            }
            case "map": {
                Map<Object, Object> map = new LinkedHashMap<>();
                for (JsonNode pair : body) {
                    map.put(decodeValue(pair.get(0), schema == null ? null : schema.keySchema()),
                            decodeValue(pair.get(1), schema == null ? null : schema.valueSchema()));
                }
                return map;
            }
            case "struct": {
                Struct struct = new Struct(schema);
                for (JsonNode pair : body) {
                    String name = pair.get(0).asText();
                    Field field = schema.field(name);
                    Object value = decodeValue(pair.get(1), field.schema());
                    if (value != null) struct.put(field, value);
                }
                return struct;
            }
            default:
                throw new IllegalArgumentException("unknown value tag " + tag);
        }
    }

    @SuppressWarnings("unchecked")
    private static JsonNode encodeValue(Object value) {
        if (value == null) return NODES.nullNode();
        ObjectNode node = NODES.objectNode();
        if (value instanceof Boolean) node.put("boolean", (Boolean) value);
        else if (value instanceof Byte) node.put("int8", (Byte) value);
        else if (value instanceof Short) node.put("int16", (Short) value);
        else if (value instanceof Integer) node.put("int32", (Integer) value);
        else if (value instanceof Long) node.put("int64", (Long) value);
        else if (value instanceof Float) node.put("float32", Float.floatToIntBits((Float) value) & 0xffffffffL);
        else if (value instanceof Double) node.put("float64", Double.doubleToLongBits((Double) value));
        else if (value instanceof String) node.put("string", (String) value);
        else if (value instanceof byte[]) node.put("bytes", Base64.getEncoder().encodeToString((byte[]) value));
        else if (value instanceof ByteBuffer) {
            ByteBuffer buffer = ((ByteBuffer) value).duplicate();
            byte[] bytes = new byte[buffer.remaining()];
            buffer.get(bytes);
            node.put("bytes", Base64.getEncoder().encodeToString(bytes));
        } else if (value instanceof java.util.Date) node.put("date_ms", ((java.util.Date) value).getTime());
        else if (value instanceof BigDecimal) {
            node.put("decimal", ((BigDecimal) value).unscaledValue().toString());
            node.put("scale", ((BigDecimal) value).scale());
        } else if (value instanceof List) {
            ArrayNode array = node.putArray("array");
            for (Object item : (List<Object>) value) array.add(encodeValue(item));
        } else if (value instanceof Map) {
            ArrayNode map = node.putArray("map");
            for (Map.Entry<Object, Object> entry : ((Map<Object, Object>) value).entrySet()) {
                ArrayNode pair = map.addArray();
                pair.add(encodeValue(entry.getKey()));
                pair.add(encodeValue(entry.getValue()));
            }
        } else if (value instanceof Struct) {
            Struct struct = (Struct) value;
            ArrayNode fields = node.putArray("struct");
            for (Field field : struct.schema().fields()) {
                ArrayNode pair = fields.addArray();
                pair.add(field.name());
                pair.add(encodeValue(struct.getWithoutDefault(field.name())));
            }
        } else {
            node.put("unknown", value.getClass().getName());
        }
        return node;
    }
}
