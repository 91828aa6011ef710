package dev.ferry.pluginhost;

import dev.ferry.plugin.v1.ConfigKeyDef;
import dev.ferry.plugin.v1.ConfigValueResult;
import dev.ferry.plugin.v1.ConnectorIn;
import dev.ferry.plugin.v1.ConnectorOut;
import dev.ferry.plugin.v1.DescribeRequest;
import dev.ferry.plugin.v1.DescribeResponse;
import dev.ferry.plugin.v1.PluginDescriptor;
import dev.ferry.plugin.v1.PreflightAnswer;
import dev.ferry.plugin.v1.PreflightQuestion;
import dev.ferry.plugin.v1.PluginGrpc;
import dev.ferry.plugin.v1.PluginType;
import dev.ferry.plugin.v1.ShutdownRequest;
import dev.ferry.plugin.v1.ShutdownResponse;
import dev.ferry.plugin.v1.SinkIn;
import dev.ferry.plugin.v1.SinkOut;
import dev.ferry.plugin.v1.SourceIn;
import dev.ferry.plugin.v1.SourceOut;
import dev.ferry.plugin.v1.SourcePreflightRequest;
import dev.ferry.plugin.v1.SourcePreflightResponse;
import dev.ferry.plugin.v1.ValidateRequest;
import dev.ferry.plugin.v1.ValidateResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.config.Config;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigValue;
import org.apache.kafka.connect.connector.Connector;
import org.apache.kafka.connect.runtime.isolation.LoaderSwap;
import org.apache.kafka.connect.runtime.isolation.PluginDesc;
import org.apache.kafka.connect.runtime.isolation.Plugins;
import org.apache.kafka.connect.source.ConnectorTransactionBoundaries;
import org.apache.kafka.connect.source.ExactlyOnceSupport;
import org.apache.kafka.connect.source.SourceConnector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The {@code ferry.plugin.v1.Plugin} service over Kafka Connect's {@link Plugins}. */
final class PluginService extends PluginGrpc.PluginImplBase {
  private static final Logger log = LoggerFactory.getLogger(PluginService.class);
  static final String CLASSPATH = "classpath";

  private final Plugins plugins;
  private final Runnable onShutdown;

  PluginService(Plugins plugins, Runnable onShutdown) {
    this.plugins = plugins;
    this.onShutdown = onShutdown;
  }

  @Override
  public void describe(DescribeRequest request, StreamObserver<DescribeResponse> response) {
    DescribeResponse.Builder out =
        DescribeResponse.newBuilder()
            .setProtocolVersion(Main.PROTOCOL_VERSION)
            .setRuntime("ferry-plugin-host (Kafka Connect " + org.apache.kafka.common.utils.AppInfoParser.getVersion() + " API)");
    // Only what plugin.path brought: the host's own classpath (connect-runtime's test connectors,
    // its converters and transforms) is not a plugin the worker installed.
    addAll(out, plugins.sourceConnectors(), PluginType.PLUGIN_TYPE_SOURCE);
    addAll(out, plugins.sinkConnectors(), PluginType.PLUGIN_TYPE_SINK);
    addAll(out, plugins.converters(), PluginType.PLUGIN_TYPE_CONVERTER);
    addAll(out, plugins.headerConverters(), PluginType.PLUGIN_TYPE_HEADER_CONVERTER);
    addAll(out, plugins.transformations(), PluginType.PLUGIN_TYPE_TRANSFORMATION);
    addAll(out, plugins.predicates(), PluginType.PLUGIN_TYPE_PREDICATE);
    response.onNext(out.build());
    response.onCompleted();
  }

  private <T> void addAll(DescribeResponse.Builder out, Set<PluginDesc<T>> descs, PluginType type) {
    for (PluginDesc<T> desc : descs) {
      if (CLASSPATH.equals(desc.location())) {
        continue;
      }
      PluginDescriptor.Builder plugin =
          PluginDescriptor.newBuilder()
              .setClassName(desc.className())
              .setType(type)
              .setVersion(desc.version())
              .setLocation(desc.location());
      if (type == PluginType.PLUGIN_TYPE_SOURCE || type == PluginType.PLUGIN_TYPE_SINK) {
        try (LoaderSwap swap = plugins.withClassLoader(desc.loader())) {
          Connector connector = (Connector) desc.pluginClass().getDeclaredConstructor().newInstance();
          ConfigDef def = connector.config();
          if (def != null) {
            plugin.addAllConfigKeys(configKeys(def));
          }
        } catch (Throwable e) {
          log.warn("skipping connector {}: cannot read its ConfigDef: {}", desc.className(), e.toString());
          continue;
        }
      }
      out.addPlugins(plugin.build());
    }
  }

  static List<ConfigKeyDef> configKeys(ConfigDef def) {
    List<ConfigKeyDef> keys = new ArrayList<>();
    for (ConfigDef.ConfigKey key : def.configKeys().values()) {
      ConfigKeyDef.Builder out =
          ConfigKeyDef.newBuilder()
              .setName(key.name)
              .setType(key.type.name())
              .setHasDefault(key.hasDefault())
              .setImportance(key.importance == null ? "LOW" : key.importance.name())
              .setDocumentation(key.documentation == null ? "" : key.documentation)
              .setOrderInGroup(key.orderInGroup)
              .setWidth(key.width == null ? "NONE" : key.width.name())
              .setDisplayName(key.displayName == null ? key.name : key.displayName)
              .addAllDependents(key.dependents);
      if (key.hasDefault() && key.defaultValue != null) {
        out.setDefaultValue(ConfigDef.convertToString(key.defaultValue, key.type));
      }
      if (key.group != null) {
        out.setGroup(key.group);
      }
      keys.add(out.build());
    }
    return keys;
  }

  @Override
  public void validate(ValidateRequest request, StreamObserver<ValidateResponse> response) {
    try {
      Connector connector = Runners.newConnector(plugins, request.getClassName(), request.getConfigMap());
      Config config;
      try (LoaderSwap swap = plugins.withClassLoader(connector.getClass().getClassLoader())) {
        config = connector.validate(request.getConfigMap());
      }
      ValidateResponse.Builder out = ValidateResponse.newBuilder();
      // The chain runs here, so it is checked here (Ferry's own registry does not know a
      // jar's transforms, such as Debezium's ExtractNewRecordState).
      for (Map.Entry<String, String> error : Transforms.check(plugins, request.getConfigMap())) {
        out.addValues(
            ConfigValueResult.newBuilder()
                .setName(error.getKey())
                .setVisible(true)
                .addErrors(error.getValue())
                .setValue(request.getConfigMap().getOrDefault(error.getKey(), ""))
                .build());
      }
      for (ConfigValue value : config.configValues()) {
        ConfigValueResult.Builder result =
            ConfigValueResult.newBuilder()
                .setName(value.name())
                .setVisible(value.visible())
                .addAllErrors(value.errorMessages());
        if (value.value() != null) {
          result.setValue(String.valueOf(value.value()));
        }
        for (Object recommended : value.recommendedValues()) {
          result.addRecommendedValues(String.valueOf(recommended));
        }
        out.addValues(result.build());
      }
      response.onNext(out.build());
      response.onCompleted();
    } catch (Throwable e) {
      response.onError(Status.INVALID_ARGUMENT.withDescription(String.valueOf(e.getMessage())).asRuntimeException());
    }
  }

  @Override
  public void sourcePreflight(
      SourcePreflightRequest request, StreamObserver<SourcePreflightResponse> response) {
    Connector connector;
    try {
      connector = Runners.newConnector(plugins, request.getClassName(), request.getConfigMap());
    } catch (Throwable e) {
      response.onError(Status.INVALID_ARGUMENT.withDescription(String.valueOf(e.getMessage())).asRuntimeException());
      return;
    }
    if (!(connector instanceof SourceConnector)) {
      response.onError(
          Status.INVALID_ARGUMENT
              .withDescription(request.getClassName() + " is not a source connector")
              .asRuntimeException());
      return;
    }
    SourceConnector source = (SourceConnector) connector;
    SourcePreflightResponse.Builder out = SourcePreflightResponse.newBuilder();
    // As Kafka Connect's herder: the connector's own method, in its class loader; null is an
    // answer of its own, and a throw is reported with its message.
    try (LoaderSwap swap = plugins.withClassLoader(source.getClass().getClassLoader())) {
      Object answer;
      Object supported;
      if (request.getQuestion() == PreflightQuestion.PREFLIGHT_QUESTION_TRANSACTION_BOUNDARIES) {
        answer = source.canDefineTransactionBoundaries(request.getConfigMap());
        supported = ConnectorTransactionBoundaries.SUPPORTED;
      } else if (request.getQuestion() == PreflightQuestion.PREFLIGHT_QUESTION_EXACTLY_ONCE_SUPPORT) {
        answer = source.exactlyOnceSupport(request.getConfigMap());
        supported = ExactlyOnceSupport.SUPPORTED;
      } else {
        response.onError(
            Status.INVALID_ARGUMENT.withDescription("unknown preflight question").asRuntimeException());
        return;
      }
      if (answer == null) {
        out.setAnswer(PreflightAnswer.PREFLIGHT_ANSWER_UNDECLARED);
      } else if (answer.equals(supported)) {
        out.setAnswer(PreflightAnswer.PREFLIGHT_ANSWER_SUPPORTED);
      } else {
        out.setAnswer(PreflightAnswer.PREFLIGHT_ANSWER_UNSUPPORTED);
      }
    } catch (Throwable e) {
      log.error("Failed while asking {} a preflight question", request.getClassName(), e);
      out.setAnswer(PreflightAnswer.PREFLIGHT_ANSWER_FAILED)
          .setError(e.getMessage() == null ? "" : e.getMessage());
    }
    response.onNext(out.build());
    response.onCompleted();
  }

  @Override
  public StreamObserver<ConnectorIn> connector(StreamObserver<ConnectorOut> out) {
    return new ConnectorRunner(plugins, out);
  }

  @Override
  public StreamObserver<SourceIn> sourceTask(StreamObserver<SourceOut> out) {
    return new SourceTaskRunner(plugins, out);
  }

  @Override
  public StreamObserver<SinkIn> sinkTask(StreamObserver<SinkOut> out) {
    return new SinkTaskRunner(plugins, out);
  }

  @Override
  public void shutdown(ShutdownRequest request, StreamObserver<ShutdownResponse> response) {
    response.onNext(ShutdownResponse.getDefaultInstance());
    response.onCompleted();
    onShutdown.run();
  }

}
