package dev.ferry.pluginhost;

import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.kafka.common.metrics.Metrics;
import org.apache.kafka.common.metrics.PluginMetrics;
import org.apache.kafka.common.metrics.internals.PluginMetricsImpl;
import org.apache.kafka.connect.util.ConnectorTaskId;

/** KIP-877 plugin metrics: one registry for the host, tagged per connector and task. */
final class HostMetrics {
  private static final Metrics METRICS = new Metrics();

  private HostMetrics() {}

  static PluginMetrics forConnector(String connector) {
    Map<String, String> tags = new LinkedHashMap<>();
    tags.put("connector", connector);
    return new PluginMetricsImpl(METRICS, tags);
  }

  static PluginMetrics forTask(ConnectorTaskId id) {
    Map<String, String> tags = new LinkedHashMap<>();
    tags.put("connector", id.connector());
    tags.put("task", Integer.toString(id.task()));
    return new PluginMetricsImpl(METRICS, tags);
  }
}
