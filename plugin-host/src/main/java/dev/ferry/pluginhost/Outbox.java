package dev.ferry.pluginhost;

import io.grpc.stub.StreamObserver;

/** Serialises writes to one response stream (gRPC observers are not thread-safe). */
final class Outbox<T> {
  private final StreamObserver<T> out;
  private boolean closed;

  Outbox(StreamObserver<T> out) {
    this.out = out;
  }

  synchronized void send(T message) {
    if (!closed) {
      try {
        out.onNext(message);
      } catch (RuntimeException e) {
        closed = true;
      }
    }
  }

  synchronized void complete() {
    if (!closed) {
      closed = true;
      try {
        out.onCompleted();
      } catch (RuntimeException e) {
        // The caller is gone.
      }
    }
  }
}
