package dev.ferry.pluginhost;

import dev.ferry.plugin.v1.ErrorKind;
import dev.ferry.plugin.v1.PluginError;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.connector.Connector;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.runtime.isolation.LoaderSwap;
import org.apache.kafka.connect.runtime.isolation.Plugins;
import org.apache.kafka.connect.storage.Converter;
import org.apache.kafka.connect.storage.HeaderConverter;
import org.apache.maven.artifact.versioning.VersionRange;

/** What connector and task runners share: instantiation, converters, errors, offset JSON. */
final class Runners {
  static final String PLUGIN_VERSION = "connector.plugin.version";
  static final String JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter";
  static final String SIMPLE_HEADER_CONVERTER = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

  private Runners() {}

  /** Instantiates the connector class, of the version {@code connector.plugin.version} names. */
  static Connector newConnector(Plugins plugins, String className, Map<String, String> config) throws Exception {
    String version = config.get(PLUGIN_VERSION);
    if (version == null || version.isBlank()) {
      return plugins.newConnector(className);
    }
    String spec = version.trim();
    if (!spec.startsWith("[") && !spec.startsWith("(")) {
      spec = "[" + spec + "]";
    }
    return plugins.newConnector(className, VersionRange.createFromVersionSpec(spec));
  }

  /** The key or value converter: the connector's (with its sub-keys) over the worker's. */
  static Converter converter(
      Plugins plugins, String key, boolean isKey, Map<String, String> connector, Map<String, String> worker)
      throws Exception {
    Map<String, String> level = connector.containsKey(key) ? connector : worker;
    String className = level.getOrDefault(key, JSON_CONVERTER).trim();
    Object plugin = plugins.newPlugin(className, (VersionRange) null);
    if (!(plugin instanceof Converter)) {
      throw new ConfigException(key, className, "not a Converter");
    }
    Converter converter = (Converter) plugin;
    try (LoaderSwap swap = plugins.withClassLoader(converter.getClass().getClassLoader())) {
      converter.configure(subConfig(level, key + "."), isKey);
    }
    return converter;
  }

  /** The header converter: the connector's over the worker's; SimpleHeaderConverter by default. */
  static HeaderConverter headerConverter(Plugins plugins, Map<String, String> connector, Map<String, String> worker)
      throws Exception {
    String key = "header.converter";
    Map<String, String> level = connector.containsKey(key) ? connector : worker;
    String className = level.getOrDefault(key, SIMPLE_HEADER_CONVERTER).trim();
    Object plugin = plugins.newPlugin(className, (VersionRange) null);
    if (!(plugin instanceof HeaderConverter)) {
      throw new ConfigException(key, className, "not a HeaderConverter");
    }
    HeaderConverter converter = (HeaderConverter) plugin;
    Map<String, String> sub = subConfig(level, key + ".");
    sub.put("converter.type", "header");
    try (LoaderSwap swap = plugins.withClassLoader(converter.getClass().getClassLoader())) {
      converter.configure(sub);
    }
    return converter;
  }

  static Map<String, String> subConfig(Map<String, String> config, String prefix) {
    Map<String, String> sub = new HashMap<>();
    for (Map.Entry<String, String> entry : config.entrySet()) {
      if (entry.getKey().startsWith(prefix)) {
        sub.put(entry.getKey().substring(prefix.length()), entry.getValue());
      }
    }
    return sub;
  }

  static PluginError error(Throwable e) {
    ErrorKind kind;
    if (e instanceof ConfigException || e instanceof DataException) {
      kind = ErrorKind.ERROR_KIND_USER;
    } else if (e instanceof RetriableException || e instanceof org.apache.kafka.connect.errors.ConnectException) {
      kind = ErrorKind.ERROR_KIND_EXTERNAL;
    } else {
      kind = ErrorKind.ERROR_KIND_INTERNAL;
    }
    StringWriter trace = new StringWriter();
    e.printStackTrace(new PrintWriter(trace));
    String message = e.getMessage() == null ? e.getClass().getName() : e.getClass().getName() + ": " + e.getMessage();
    return PluginError.newBuilder().setKind(kind).setMessage(message).setTrace(trace.toString()).build();
  }

  /** Kafka Connect's offsets-topic JSON (schemaless JsonConverter) for partitions and offsets. */
  static final class OffsetJson {
    private final JsonConverter json = new JsonConverter();

    OffsetJson() {
      json.configure(Map.of("schemas.enable", "false"), true);
    }

    String encode(Map<String, ?> map) {
      byte[] bytes = json.fromConnectData("", null, map);
      return bytes == null ? "null" : new String(bytes, StandardCharsets.UTF_8);
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> decode(String text) {
      Object value = json.toConnectData("", text.getBytes(StandardCharsets.UTF_8)).value();
      return (Map<String, Object>) value;
    }
  }
}
