package dev.ferry.conformance;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Appends one line per event to a file the test reads (each line written and flushed whole). */
final class Journal {
  private final Path path;

  Journal(String path) {
    this.path = Path.of(path);
  }

  synchronized void write(String line) {
    try {
      Files.write(path, (line + "\n").getBytes(StandardCharsets.UTF_8),
          StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
