package dev.ferry.pluginhost;

import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.connect.runtime.isolation.Plugins;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ferry's JVM plugin host: one process per Ferry worker. It loads every location of the worker's
 * {@code plugin.path} with Kafka Connect's own isolation ({@link Plugins}: a child-first loader
 * per location) and serves {@code ferry.plugin.v1.Plugin} on a Unix socket.
 *
 * <p>Environment: {@code FERRY_PLUGIN_SOCKET}, {@code FERRY_PLUGIN_TOKEN}, {@code
 * FERRY_PLUGIN_PATH} (the worker's plugin.path), {@code FERRY_PLUGIN_DISCOVERY} (plugin.discovery).
 * It exits when stdin reaches EOF: the worker that started it is gone.
 */
public final class Main {
  static final int PROTOCOL_VERSION = 1;
  static final Metadata.Key<String> TOKEN_KEY =
      Metadata.Key.of("ferry-plugin-token", Metadata.ASCII_STRING_MARSHALLER);
  private static final Logger log = LoggerFactory.getLogger(Main.class);

  private Main() {}

  public static void main(String[] args) throws Exception {
    String socket = requireEnv("FERRY_PLUGIN_SOCKET");
    String token = requireEnv("FERRY_PLUGIN_TOKEN");
    String pluginPath = System.getenv().getOrDefault("FERRY_PLUGIN_PATH", "");
    String discovery = System.getenv().getOrDefault("FERRY_PLUGIN_DISCOVERY", "hybrid_warn");

    Map<String, String> props = new HashMap<>();
    props.put("plugin.path", pluginPath);
    props.put("plugin.discovery", discovery);
    log.info("scanning plugin.path {}", pluginPath);
    Plugins plugins = new Plugins(props);

    HealthStatusManager health = new HealthStatusManager();
    EventLoopGroup group = new EpollEventLoopGroup(2);
    PluginService service = new PluginService(plugins, () -> shutdown(health));
    Server server =
        NettyServerBuilder.forAddress(new DomainSocketAddress(socket))
            .channelType(EpollServerDomainSocketChannel.class)
            .bossEventLoopGroup(group)
            .workerEventLoopGroup(group)
            .maxInboundMessageSize(256 << 20)
            .addService(ServerInterceptors.intercept(service, new TokenCheck(token)))
            .addService(ServerInterceptors.intercept(health.getHealthService(), new TokenCheck(token)))
            .build()
            .start();
    health.setStatus("", io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
    watchStdin();
    System.out.println("FERRY-PLUGIN|" + PROTOCOL_VERSION + "|unix|" + socket + "|grpc");
    System.out.flush();
    log.info("serving ferry.plugin.v1 on {}", socket);
    server.awaitTermination();
  }

  private static void shutdown(HealthStatusManager health) {
    health.enterTerminalState();
    Thread exit =
        new Thread(
            () -> {
              log.info("shutting down on request");
              System.exit(0);
            },
            "ferry-shutdown");
    exit.setDaemon(true);
    exit.start();
  }

  /** Exits when stdin closes: the worker died (even by kill -9) and nothing may outlive it. */
  private static void watchStdin() {
    Thread watcher =
        new Thread(
            () -> {
              InputStream in = System.in;
              byte[] buffer = new byte[256];
              try {
                while (in.read(buffer) >= 0) {
                  // The worker writes nothing; reading only detects EOF.
                }
              } catch (IOException e) {
                // Same as EOF.
              }
              log.info("stdin closed: the worker is gone, exiting");
              Runtime.getRuntime().halt(0);
            },
            "ferry-stdin-watch");
    watcher.setDaemon(true);
    watcher.start();
  }

  private static String requireEnv(String name) {
    String value = System.getenv(name);
    if (value == null || value.isEmpty()) {
      System.err.println("ERROR|dev.ferry.pluginhost.Main||" + name + " is not set");
      System.exit(2);
    }
    return value;
  }

  /** Refuses every call that does not carry this launch's token. */
  static final class TokenCheck implements ServerInterceptor {
    private final byte[] token;

    TokenCheck(String token) {
      this.token = token.getBytes(StandardCharsets.US_ASCII);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(
        ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
      String given = headers.get(TOKEN_KEY);
      if (given == null
          || !MessageDigest.isEqual(token, given.getBytes(StandardCharsets.US_ASCII))) {
        call.close(Status.UNAUTHENTICATED.withDescription("missing or wrong ferry-plugin-token"), new Metadata());
        return new ServerCall.Listener<Q>() {};
      }
      return next.startCall(call, headers);
    }
  }
}
