// Generates crates/connectors/tests/golden/*.jsonl with the real Kafka Connect converters.
// Run via generate.sh (needs Java 17+ and Maven); the Rust tests only read the output.

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.connect.data.Date;
import org.apache.kafka.connect.data.Decimal;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.data.Time;
import org.apache.kafka.connect.data.Timestamp;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.storage.SimpleHeaderConverter;

public class GenerateGolden {
    record Case(String name, Schema schema, Object value) {}

    static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                default -> {
                    if (c < 0x20 || c > 0x7e) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"').toString();
    }

    static String describe(SchemaAndValue sv) {
        if (sv == null) return "null";
        String type = sv.schema() == null ? "none" : sv.schema().type().getName()
            + (sv.schema().name() == null ? "" : ":" + sv.schema().name());
        if (sv.schema() != null && sv.schema().type() == Schema.Type.ARRAY) {
            type += "<" + (sv.schema().valueSchema() == null ? "none" : sv.schema().valueSchema().type().getName()) + ">";
        }
        if (sv.schema() != null && sv.schema().type() == Schema.Type.MAP) {
            type += "<" + (sv.schema().keySchema() == null ? "none" : sv.schema().keySchema().type().getName()) + ","
                + (sv.schema().valueSchema() == null ? "none" : sv.schema().valueSchema().type().getName()) + ">";
        }
        Object v = sv.value();
        String value;
        if (v instanceof byte[] b) value = Arrays.toString(b);
        else if (v instanceof java.util.Date d) value = Long.toString(d.getTime());
        else value = String.valueOf(v);
        return type + " " + value;
    }

    static List<Case> cases() {
        Schema inner = SchemaBuilder.struct().name("com.example.Inner")
            .field("x", Schema.INT32_SCHEMA)
            .field("label", Schema.OPTIONAL_STRING_SCHEMA)
            .build();
        Schema outer = SchemaBuilder.struct().name("com.example.Outer").version(2).doc("outer doc")
            .field("id", Schema.INT64_SCHEMA)
            .field("name", Schema.OPTIONAL_STRING_SCHEMA)
            .field("inner", inner)
            .field("maybe", SchemaBuilder.struct().field("y", Schema.BOOLEAN_SCHEMA).optional().build())
            .field("tags", SchemaBuilder.array(Schema.STRING_SCHEMA).build())
            .build();
        Struct innerValue = new Struct(inner).put("x", 7).put("label", null);
        Struct outerValue = new Struct(outer).put("id", 42L).put("name", "n\u00e9\"q\"")
            .put("inner", innerValue).put("maybe", null).put("tags", List.of("a", "b"));

        Map<String, Integer> stringMap = new LinkedHashMap<>();
        stringMap.put("one", 1);
        stringMap.put("two", 2);
        Map<Integer, String> intMap = new LinkedHashMap<>();
        intMap.put(1, "one");
        intMap.put(-2, "minus two");

        Schema decimal = Decimal.schema(2);
        Schema withDefault = SchemaBuilder.int32().optional().defaultValue(5).build();
        Schema withParams = SchemaBuilder.string().name("com.example.Tagged").parameter("k", "v").build();
        Schema everything = SchemaBuilder.string().optional().name("com.example.All").version(3).doc("all keys")
            .parameter("a", "1").parameter("b", "2").defaultValue("dflt").build();

        List<Case> list = new ArrayList<>();
        list.add(new Case("int8", Schema.INT8_SCHEMA, (byte) -8));
        list.add(new Case("int16", Schema.INT16_SCHEMA, (short) 1600));
        list.add(new Case("int32", Schema.INT32_SCHEMA, -320000));
        list.add(new Case("int64", Schema.INT64_SCHEMA, 6400000000000L));
        list.add(new Case("float32", Schema.FLOAT32_SCHEMA, 1.5f));
        list.add(new Case("float32_small", Schema.FLOAT32_SCHEMA, 0.1f));
        list.add(new Case("float64", Schema.FLOAT64_SCHEMA, 3.25));
        list.add(new Case("float64_big", Schema.FLOAT64_SCHEMA, 1.0e10));
        list.add(new Case("float64_tiny", Schema.FLOAT64_SCHEMA, 1.25e-5));
        list.add(new Case("float64_whole", Schema.FLOAT64_SCHEMA, 100.0));
        list.add(new Case("boolean", Schema.BOOLEAN_SCHEMA, true));
        list.add(new Case("string", Schema.STRING_SCHEMA, "hello"));
        list.add(new Case("string_escapes", Schema.STRING_SCHEMA, "tab\there \"q\" back\\slash \u0001 \u001f caf\u00e9 / \u2028"));
        list.add(new Case("bytes", Schema.BYTES_SCHEMA, new byte[] {0, 1, 2, (byte) 0xff, (byte) 0xfe}));
        list.add(new Case("array", SchemaBuilder.array(Schema.INT32_SCHEMA).build(), List.of(1, 2, 3)));
        list.add(new Case("map_string_keys", SchemaBuilder.map(Schema.STRING_SCHEMA, Schema.INT32_SCHEMA).build(), stringMap));
        list.add(new Case("map_int_keys", SchemaBuilder.map(Schema.INT32_SCHEMA, Schema.STRING_SCHEMA).build(), intMap));
        list.add(new Case("struct", outer, outerValue));
        list.add(new Case("decimal", decimal, new BigDecimal("12345.67")));
        list.add(new Case("decimal_negative", decimal, new BigDecimal("-1.28")));
        list.add(new Case("date", Date.SCHEMA, Date.toLogical(Date.SCHEMA, 19000)));
        list.add(new Case("time", Time.SCHEMA, Time.toLogical(Time.SCHEMA, 45296789)));
        list.add(new Case("timestamp", Timestamp.SCHEMA, Timestamp.toLogical(Timestamp.SCHEMA, 1700000000123L)));
        list.add(new Case("optional_null", Schema.OPTIONAL_STRING_SCHEMA, null));
        list.add(new Case("default_null", withDefault, null));
        list.add(new Case("parameters", withParams, "tagged"));
        list.add(new Case("all_schema_keys", everything, "x"));
        list.add(new Case("all_schema_keys_null", everything, null));
        return list;
    }

    static String converterCase(String name, boolean schemasEnable, String decimalFormat, byte[] bytes) {
        String text = bytes == null ? "null" : quote(new String(bytes, StandardCharsets.UTF_8));
        return "{\"case\":" + quote(name) + ",\"schemas_enable\":" + schemasEnable
            + ",\"decimal_format\":" + quote(decimalFormat) + ",\"bytes\":" + text + "}";
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : ".");
        List<String> json = new ArrayList<>();
        for (String format : List.of("BASE64", "NUMERIC")) {
            for (boolean schemasEnable : List.of(true, false)) {
                JsonConverter converter = new JsonConverter();
                converter.configure(Map.of("schemas.enable", Boolean.toString(schemasEnable),
                    "decimal.format", format), false);
                for (Case c : cases()) {
                    if (format.equals("NUMERIC") && !c.name().startsWith("decimal")) continue;
                    json.add(converterCase(c.name(), schemasEnable, format,
                        converter.fromConnectData("topic", c.schema(), c.value())));
                }
            }
        }
        Files.write(dir.resolve("json_converter.jsonl"), json, StandardCharsets.UTF_8);

        // Header converter: serialise values, and parse header strings back.
        SimpleHeaderConverter headers = new SimpleHeaderConverter();
        headers.configure(Map.of());
        List<String> headerLines = new ArrayList<>();
        for (Case c : cases()) {
            byte[] bytes = headers.fromConnectHeader("topic", "h", c.schema(), c.value());
            String text = bytes == null ? "null" : quote(new String(bytes, StandardCharsets.UTF_8));
            headerLines.add("{\"case\":" + quote(c.name()) + ",\"kind\":\"serialize\",\"bytes\":" + text + "}");
        }
        for (String input : List.of("true", "false", "0", "127", "128", "-129", "40000", "3000000000",
                "1.5", "1.0", "3.4028236E38", "12345678901234567890", "hello", "hello world", " padded ",
                "[1,2,3]", "[\"a\",\"b\"]", "{\"a\":1,\"b\":2}", "{1:\"x\"}", "[1,", "2024-01-02",
                "12:34:56.789Z", "2024-01-02T12:34:56.789Z", "null", "-", "1e3", "\"quoted\"", "[1,\"a\"]", "[]", "{}", "[1, 2]")) {
            SchemaAndValue parsed = headers.toConnectHeader("topic", "h", input.getBytes(StandardCharsets.UTF_8));
            headerLines.add("{\"case\":" + quote(input) + ",\"kind\":\"parse\",\"bytes\":" + quote(input)
                + ",\"parsed\":" + quote(describe(parsed)) + "}");
        }
        Files.write(dir.resolve("simple_header_converter.jsonl"), headerLines, StandardCharsets.UTF_8);
    }
}
