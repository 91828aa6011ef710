#!/usr/bin/env bash
# scripts/fetch-test-plugins.sh - fetch the connector jars the plugin tests run, from Maven
# Central, into a plugin.path outside the repository, and print that directory.
#
# Usage: scripts/fetch-test-plugins.sh
#
# Layout (each child of the directory is one plugin location, as Kafka Connect's plugin.path):
#   $FERRY_CACHE_DIR/plugins/connect-file-4.3.1/connect-file-4.3.1.jar
#       Apache Kafka's FileStreamSource/FileStreamSink (org.apache.kafka:connect-file:4.3.1)
#   $FERRY_CACHE_DIR/plugins/ferry-conformance/ferry-conformance-connector.jar
#       Ferry's conformance connectors, built from tests/plugins/conformance-connector (Maven,
#       connect-api 4.3.1), rebuilt when its sources change (keyed by their hash)
# Idempotent: an artifact already there is not fetched (or built) again.
#
# Environment: FERRY_CACHE_DIR (default $HOME/.cache/ferry).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly DIR=${FERRY_CACHE_DIR:-$HOME/.cache/ferry}/plugins
readonly DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
# location name | group:artifact:version
readonly ARTIFACTS=(
  "connect-file-4.3.1|org.apache.kafka:connect-file:4.3.1"
)

say() { printf 'fetch-test-plugins: %s\n' "$*" >&2; }

command -v mvn >/dev/null || { say "error: mvn not found"; exit 1; }
mkdir -p -- "$DIR"
for entry in "${ARTIFACTS[@]}"; do
  location=${entry%%|*}
  coords=${entry#*|}
  if [ -f "$DIR/$location/.complete" ]; then
    continue
  fi
  say "fetching $coords into $DIR/$location"
  tmp=$(mktemp -d "$DIR/.fetch.XXXXXX")
  if ! mvn -B -q "$DEPENDENCY_PLUGIN:copy" -Dartifact="$coords" -DoutputDirectory="$tmp" \
      </dev/null >"$tmp.log" 2>&1; then
    cat -- "$tmp.log" >&2
    rm -rf -- "$tmp" "$tmp.log"
    say "error: mvn failed to fetch $coords"
    exit 1
  fi
  rm -f -- "$tmp.log"
  touch "$tmp/.complete"
  rm -rf -- "${DIR:?}/$location"
  mv -T -- "$tmp" "$DIR/$location"
done

# The conformance connector jar, built in a copy so that target/ never appears in the repository.
conformance=tests/plugins/conformance-connector
hash=$(cd "$ROOT" && find "$conformance/pom.xml" "$conformance/src" -type f -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
if [ "$(cat "$DIR/ferry-conformance/.complete" 2>/dev/null)" != "$hash" ]; then
  say "building the conformance connector ($conformance)"
  work=$(mktemp -d "$DIR/.build.XXXXXX")
  cp -a "$ROOT/$conformance" "$work/src"
  rm -rf -- "$work/src/target"
  if ! mvn -B -q -o -f "$work/src/pom.xml" package </dev/null >"$work/mvn.log" 2>&1 \
      && ! mvn -B -q -f "$work/src/pom.xml" package </dev/null >"$work/mvn.log" 2>&1; then
    cat -- "$work/mvn.log" >&2
    rm -rf -- "$work"
    say "error: mvn failed to build $conformance"
    exit 1
  fi
  mkdir -p "$work/out"
  cp "$work/src/target/ferry-conformance-connector-0.1.0.jar" "$work/out/ferry-conformance-connector.jar"
  echo "$hash" >"$work/out/.complete"
  rm -rf -- "$DIR/ferry-conformance"
  mv -T -- "$work/out" "$DIR/ferry-conformance"
  rm -rf -- "$work"
fi
echo "$DIR"
