package dev.ferry.pluginhost;

import dev.ferry.plugin.v1.ConnectorIn;
import dev.ferry.plugin.v1.ConnectorOut;
import dev.ferry.plugin.v1.ConnectorStart;
import dev.ferry.plugin.v1.ConnectorStarted;
import dev.ferry.plugin.v1.ConnectorStopped;
import dev.ferry.plugin.v1.ReconfigurationRequested;
import dev.ferry.plugin.v1.TaskConfig;
import dev.ferry.plugin.v1.TaskConfigs;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.kafka.connect.connector.Connector;
import org.apache.kafka.connect.connector.ConnectorContext;
import org.apache.kafka.connect.runtime.isolation.LoaderSwap;
import org.apache.kafka.connect.runtime.isolation.Plugins;
import org.apache.kafka.connect.sink.SinkConnectorContext;
import org.apache.kafka.connect.source.SourceConnectorContext;
import org.apache.kafka.connect.storage.OffsetStorageReader;
import org.apache.kafka.connect.util.LoggingContext;

/** One connector instance ({@code Connector} stream): every call on one thread, in order. */
final class ConnectorRunner implements StreamObserver<ConnectorIn> {
  private final Plugins plugins;
  private final Outbox<ConnectorOut> out;
  private final ExecutorService thread;
  private Connector connector;
  private String name = "";

  ConnectorRunner(Plugins plugins, StreamObserver<ConnectorOut> out) {
    this.plugins = plugins;
    this.out = new Outbox<>(out);
    this.thread = Executors.newSingleThreadExecutor(r -> new Thread(r, "ferry-connector"));
  }

  @Override
  public void onNext(ConnectorIn message) {
    try {
      thread.execute(() -> handle(message));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // Stopped: nothing more to do.
    }
  }

  private void handle(ConnectorIn message) {
    try (LoggingContext logging = LoggingContext.forConnector(name)) {
      switch (message.getMessageCase()) {
        case START -> start(message.getStart());
        case TASK_CONFIGS -> taskConfigs(message.getTaskConfigs().getMaxTasks());
        case STOP -> stop();
        default -> { }
      }
    } catch (Throwable e) {
      out.send(ConnectorOut.newBuilder().setRaisedError(Runners.error(e)).build());
    }
  }

  private void start(ConnectorStart start) throws Exception {
    name = start.getConnector();
    try (LoggingContext logging = LoggingContext.forConnector(name)) {
      Map<String, String> config = start.getConfigMap();
      connector = Runners.newConnector(plugins, start.getClassName(), config);
      try (LoaderSwap swap = plugins.withClassLoader(connector.getClass().getClassLoader())) {
        connector.initialize(new Context());
        connector.start(config);
      }
      out.send(ConnectorOut.newBuilder().setStarted(ConnectorStarted.getDefaultInstance()).build());
    }
  }

  private void taskConfigs(int maxTasks) {
    List<Map<String, String>> configs;
    String taskClass;
    try (LoaderSwap swap = plugins.withClassLoader(connector.getClass().getClassLoader())) {
      configs = connector.taskConfigs(Math.max(1, maxTasks));
      taskClass = connector.taskClass().getName();
    }
    TaskConfigs.Builder tasks = TaskConfigs.newBuilder();
    for (Map<String, String> config : configs) {
      // As a Kafka Connect worker stores them: each task config names the task class, so a
      // Kafka Connect worker reading the config topic can start the task.
      tasks.addTasks(TaskConfig.newBuilder().putAllConfig(config).putConfig("task.class", taskClass));
    }
    out.send(ConnectorOut.newBuilder().setTaskConfigs(tasks).build());
  }

  private void stop() {
    try {
      if (connector != null) {
        try (LoaderSwap swap = plugins.withClassLoader(connector.getClass().getClassLoader())) {
          connector.stop();
        }
      }
      out.send(ConnectorOut.newBuilder().setStopped(ConnectorStopped.getDefaultInstance()).build());
    } finally {
      connector = null;
      out.complete();
      thread.shutdown();
    }
  }

  @Override
  public void onError(Throwable t) {
    // Ferry went away: stop the connector.
    onCompleted();
  }

  @Override
  public void onCompleted() {
    try {
      thread.execute(this::stop);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // Already stopped.
    }
  }

  /** ConnectorContext for both kinds (source connectors also get an offset reader stub). */
  private final class Context implements SourceConnectorContext, SinkConnectorContext, ConnectorContext {
    @Override
    public void requestTaskReconfiguration() {
      out.send(ConnectorOut.newBuilder().setReconfigurationRequested(ReconfigurationRequested.getDefaultInstance()).build());
    }

    @Override
    public org.apache.kafka.common.metrics.PluginMetrics pluginMetrics() {
      return HostMetrics.forConnector(name);
    }

    @Override
    public void raiseError(Exception e) {
      out.send(ConnectorOut.newBuilder().setRaisedError(Runners.error(e)).build());
    }

    @Override
    public OffsetStorageReader offsetStorageReader() {
      throw new UnsupportedOperationException(
          "SourceConnectorContext.offsetStorageReader() is not supported by this Ferry version (tasks have theirs)");
    }
  }
}
