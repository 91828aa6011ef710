package dev.ferry.pluginhost;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.connector.ConnectRecord;
import org.apache.kafka.connect.runtime.isolation.LoaderSwap;
import org.apache.kafka.connect.runtime.isolation.Plugins;
import org.apache.kafka.connect.transforms.Transformation;
import org.apache.kafka.connect.transforms.predicates.Predicate;
import org.apache.maven.artifact.versioning.VersionRange;

/**
 * A connector's transformation chain ({@code transforms}, {@code transforms.<alias>.*},
 * {@code predicates}, {@code predicates.<alias>.*}), of Kafka Connect's own Transformation and
 * Predicate classes (connect-transforms, or any plugin location), applied in order with each
 * stage's predicate and {@code negate}, every call under the plugin's class loader.
 */
final class Transforms<R extends ConnectRecord<R>> implements AutoCloseable {
  private record Stage<R extends ConnectRecord<R>>(
      String alias, Transformation<R> transformation, Predicate<R> predicate, boolean negate) {}

  private final Plugins plugins;
  private final List<Stage<R>> stages;

  private Transforms(Plugins plugins, List<Stage<R>> stages) {
    this.plugins = plugins;
    this.stages = stages;
  }

  boolean isEmpty() {
    return stages.isEmpty();
  }

  private static List<String> aliases(Map<String, String> config, String key) {
    List<String> aliases = new ArrayList<>();
    for (String alias : config.getOrDefault(key, "").split(",")) {
      if (!alias.isBlank()) {
        aliases.add(alias.trim());
      }
    }
    return aliases;
  }

  private static Object instantiate(Plugins plugins, Map<String, String> config, String prefix) throws Exception {
    String typeKey = prefix + "type";
    String type = config.get(typeKey);
    if (type == null || type.isBlank()) {
      throw new ConfigException(typeKey, null, "Missing required configuration \"" + typeKey + "\" which has no default value.");
    }
    String version = config.get(prefix + "version");
    VersionRange range = null;
    if (version != null && !version.isBlank()) {
      String spec = version.trim();
      range = VersionRange.createFromVersionSpec(spec.startsWith("[") || spec.startsWith("(") ? spec : "[" + spec + "]");
    }
    return plugins.newPlugin(type.trim(), range);
  }

  /** Builds the chain; a missing or wrong class is a ConfigException naming the key. */
  @SuppressWarnings("unchecked")
  static <R extends ConnectRecord<R>> Transforms<R> build(Plugins plugins, Map<String, String> config) throws Exception {
    List<String> predicateAliases = aliases(config, "predicates");
    List<Stage<R>> stages = new ArrayList<>();
    for (String alias : aliases(config, "transforms")) {
      String prefix = "transforms." + alias + ".";
      Object plugin = instantiate(plugins, config, prefix);
      if (!(plugin instanceof Transformation)) {
        throw new ConfigException(prefix + "type", config.get(prefix + "type"), "not a Transformation");
      }
      Transformation<R> transformation = (Transformation<R>) plugin;
      Map<String, String> sub = Runners.subConfig(config, prefix);
      sub.remove("type");
      sub.remove("version");
      String predicateAlias = sub.remove("predicate");
      boolean negate = Boolean.parseBoolean(sub.remove("negate"));
      try (LoaderSwap swap = plugins.withClassLoader(transformation.getClass().getClassLoader())) {
        transformation.configure(sub);
      }
      Predicate<R> predicate = null;
      if (predicateAlias != null && !predicateAlias.isBlank()) {
        predicateAlias = predicateAlias.trim();
        if (!predicateAliases.contains(predicateAlias)) {
          throw new ConfigException(prefix + "predicate", predicateAlias, "not listed in predicates");
        }
        String predicatePrefix = "predicates." + predicateAlias + ".";
        Object predicatePlugin = instantiate(plugins, config, predicatePrefix);
        if (!(predicatePlugin instanceof Predicate)) {
          throw new ConfigException(predicatePrefix + "type", config.get(predicatePrefix + "type"), "not a Predicate");
        }
        predicate = (Predicate<R>) predicatePlugin;
        Map<String, String> predicateConfig = new HashMap<>(Runners.subConfig(config, predicatePrefix));
        predicateConfig.remove("type");
        predicateConfig.remove("version");
        try (LoaderSwap swap = plugins.withClassLoader(predicate.getClass().getClassLoader())) {
          predicate.configure(predicateConfig);
        }
      }
      stages.add(new Stage<>(alias, transformation, predicate, negate));
    }
    return new Transforms<>(plugins, stages);
  }

  /**
   * Validates the chain as Kafka Connect's enriched ConnectorConfig does: each {@code
   * transforms.<alias>.type} and {@code predicates.<alias>.type} must name a class of that kind
   * that accepts its sub-config. Returns (key, message) pairs; every instance made is closed.
   */
  static List<Map.Entry<String, String>> check(Plugins plugins, Map<String, String> config) {
    List<Map.Entry<String, String>> errors = new ArrayList<>();
    checkAliases(plugins, config, "transforms", Transformation.class, errors);
    checkAliases(plugins, config, "predicates", Predicate.class, errors);
    for (String alias : aliases(config, "transforms")) {
      String key = "transforms." + alias + ".predicate";
      String predicate = config.get(key);
      if (predicate != null && !predicate.isBlank() && !aliases(config, "predicates").contains(predicate.trim())) {
        errors.add(Map.entry(key, "Invalid value " + predicate.trim() + " for configuration " + key
            + ": no predicate with this alias is listed in 'predicates'"));
      }
    }
    return errors;
  }

  private static void checkAliases(
      Plugins plugins, Map<String, String> config, String listKey, Class<?> kind, List<Map.Entry<String, String>> errors) {
    for (String alias : aliases(config, listKey)) {
      String prefix = listKey + "." + alias + ".";
      String typeKey = prefix + "type";
      Object plugin;
      try {
        plugin = instantiate(plugins, config, prefix);
      } catch (ConfigException e) {
        errors.add(Map.entry(typeKey, e.getMessage()));
        continue;
      } catch (Throwable e) {
        errors.add(Map.entry(typeKey, "Invalid value " + config.get(typeKey) + " for configuration " + typeKey
            + ": Class " + config.get(typeKey) + " could not be found (" + e.getMessage() + ")"));
        continue;
      }
      if (!kind.isInstance(plugin)) {
        errors.add(Map.entry(typeKey, "Invalid value " + config.get(typeKey) + " for configuration " + typeKey
            + ": Not a " + kind.getSimpleName()));
        continue;
      }
      Map<String, String> sub = Runners.subConfig(config, prefix);
      sub.remove("type");
      sub.remove("version");
      sub.remove("predicate");
      sub.remove("negate");
      try (LoaderSwap swap = plugins.withClassLoader(plugin.getClass().getClassLoader())) {
        if (plugin instanceof Transformation<?> transformation) {
          transformation.configure(sub);
          transformation.close();
        } else if (plugin instanceof Predicate<?> predicate) {
          predicate.configure(sub);
          predicate.close();
        }
      } catch (Throwable e) {
        errors.add(Map.entry(typeKey, "Invalid configuration of " + typeKey + " " + config.get(typeKey).trim()
            + ": " + e.getMessage()));
      }
    }
  }

  /** Returns the transformed record, or null when a stage dropped it. */
  R apply(R record) {
    R current = record;
    for (Stage<R> stage : stages) {
      if (current == null) {
        return null;
      }
      if (stage.predicate() != null) {
        boolean matches;
        try (LoaderSwap swap = plugins.withClassLoader(stage.predicate().getClass().getClassLoader())) {
          matches = stage.predicate().test(current);
        }
        if (matches == stage.negate()) {
          continue;
        }
      }
      try (LoaderSwap swap = plugins.withClassLoader(stage.transformation().getClass().getClassLoader())) {
        current = stage.transformation().apply(current);
      }
    }
    return current;
  }

  @Override
  public void close() {
    for (Stage<R> stage : stages) {
      try {
        stage.transformation().close();
        if (stage.predicate() != null) {
          stage.predicate().close();
        }
      } catch (RuntimeException e) {
        // Closing is best effort.
      }
    }
  }
}
