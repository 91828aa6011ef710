#!/usr/bin/env bash
# scripts/fetch-test-plugins.sh - fetch the connector jars the plugin tests run, from Maven
# Central, into a plugin.path outside the repository, and print that directory.
#
# Usage: scripts/fetch-test-plugins.sh
#
# Layout (each child of the directory is one plugin location, as Kafka Connect's plugin.path):
#   $FERRY_CACHE_DIR/plugins/connect-file-4.3.1/connect-file-4.3.1.jar
#       Apache Kafka's FileStreamSource/FileStreamSink (org.apache.kafka:connect-file:4.3.1)
# Idempotent: an artifact already there is not fetched again.
#
# Environment: FERRY_CACHE_DIR (default $HOME/.cache/ferry).
set -euo pipefail

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
echo "$DIR"
