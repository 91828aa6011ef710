#!/usr/bin/env bash
# scripts/fetch-test-plugins.sh - fetch the connector jars the plugin tests run, from Maven
# Central, into a plugin.path outside the repository, and print that directory.
#
# Usage: scripts/fetch-test-plugins.sh            prints the main plugin.path
#        scripts/fetch-test-plugins.sh debezium   also fetches the Debezium jars and prints
#                                                 their plugin.path instead
#
# Layout (each child of the directory is one plugin location, as Kafka Connect's plugin.path):
#   $FERRY_CACHE_DIR/plugins/connect-file-4.3.1/connect-file-4.3.1.jar
#       Apache Kafka's FileStreamSource/FileStreamSink (org.apache.kafka:connect-file:4.3.1)
#   $FERRY_CACHE_DIR/plugins/ferry-conformance/ferry-conformance-connector.jar
#       Ferry's conformance connectors, built from tests/plugins/conformance-connector (Maven,
#       connect-api 4.3.1), rebuilt when its sources change (keyed by their hash)
# and a second plugin.path beside it:
#   $FERRY_CACHE_DIR/plugins-old-api/connect-file-2.8.2/connect-file-2.8.2.jar
#       the same file connectors built against connect-api 2.8.2 (org.apache.kafka:connect-file:2.8.2)
# and, with `debezium`, a third, for the Debezium tests (tests/tests/debezium.rs), each location a connector with
# its runtime dependency tree (mvn dependency:copy-dependencies), less what the Connect runtime
# provides and its plugin isolation loads from the runtime anyway (org.apache.kafka:*, slf4j,
# kafka-clients' compression libraries, Jackson's core), as Debezium's own plugin archives
# leave them out (the .complete marker holds the exclusion list: a change refetches):
#   $FERRY_CACHE_DIR/plugins-debezium/debezium-connector-postgres-3.6.1.Final/*.jar
#       io.debezium:debezium-connector-postgres:3.6.1.Final (ExtractNewRecordState and the
#       other Debezium transforms come with it, in debezium-connect-plugins)
#   $FERRY_CACHE_DIR/plugins-debezium/debezium-connector-jdbc-3.5.0.Final/*.jar
#       io.debezium:debezium-connector-jdbc:3.5.0.Final: 3.6.1.Final is not on the Maven mirror
#       this project reaches and 3.6.0.Final's tree names a relocated hibernate-agroal pom that
#       is not either; 3.5.0.Final is the newest whose whole tree resolves
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
# A plugin.path of its own (a sibling of $DIR, tests/tests/plugin_old_api.rs): the same
# connectors as released with Kafka 2.8.2, compiled against connect-api 2.8.2. Their version()
# is kafka-clients' (the host's 4.3.1), so beside the 4.3.1 jar no version could tell them apart.
readonly OLD_API_DIR=${FERRY_CACHE_DIR:-$HOME/.cache/ferry}/plugins-old-api
readonly OLD_API_ARTIFACTS=(
  "connect-file-2.8.2|org.apache.kafka:connect-file:2.8.2"
)
readonly DEBEZIUM_DIR=${FERRY_CACHE_DIR:-$HOME/.cache/ferry}/plugins-debezium
readonly DEBEZIUM_ARTIFACTS=(
  "debezium-connector-postgres-3.6.1.Final|io.debezium:debezium-connector-postgres:3.6.1.Final"
  "debezium-connector-jdbc-3.5.0.Final|io.debezium:debezium-connector-jdbc:3.5.0.Final"
)
# What the runtime provides (never isolated, or a duplicate of the runtime's own jars).
# Jackson's core jars too, as Debezium's plugin archives leave them out: a location with its
# own jackson-databind breaks Hibernate's Jackson integration in the JDBC sink, because the
# runtime's classpath also lists jackson-module-blackbird as a ServiceLoader Module, which then
# loads from the runtime against the runtime's Module ("BlackbirdModule not a subtype"); the
# same happens in Kafka Connect, whose classpath has the same jars.
readonly RUNTIME_GROUPS=org.apache.kafka,org.slf4j,org.lz4,org.xerial.snappy,com.github.luben,com.fasterxml.jackson.core

want=${1:-}
case $want in
  ''|debezium) ;;
  *) printf 'usage: %s [debezium]\n' "$0" >&2; exit 2 ;;
esac

say() { printf 'fetch-test-plugins: %s\n' "$*" >&2; }

command -v mvn >/dev/null || { say "error: mvn not found"; exit 1; }
# fetch DIR ENTRY...: each "location|group:artifact:version" into DIR/location.
fetch() {
  local dir=$1 entry location coords tmp
  shift
  mkdir -p -- "$dir"
  for entry in "$@"; do
    location=${entry%%|*}
    coords=${entry#*|}
    if [ -f "$dir/$location/.complete" ]; then
      continue
    fi
    say "fetching $coords into $dir/$location"
    tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
    if ! mvn -B -q "$DEPENDENCY_PLUGIN:copy" -Dartifact="$coords" -DoutputDirectory="$tmp" \
        </dev/null >"$tmp.log" 2>&1; then
      cat -- "$tmp.log" >&2
      rm -rf -- "$tmp" "$tmp.log"
      say "error: mvn failed to fetch $coords"
      exit 1
    fi
    rm -f -- "$tmp.log"
    touch "$tmp/.complete"
    rm -rf -- "${dir:?}/$location"
    mv -T -- "$tmp" "$dir/$location"
  done
}
# fetch_tree DIR ENTRY...: each "location|group:artifact:version" with its runtime dependency
# tree into DIR/location, less RUNTIME_GROUPS.
fetch_tree() {
  local dir=$1 entry location coords tmp group artifact version count
  shift
  mkdir -p -- "$dir"
  for entry in "$@"; do
    location=${entry%%|*}
    coords=${entry#*|}
    if [ "$(cat "$dir/$location/.complete" 2>/dev/null)" = "$RUNTIME_GROUPS" ]; then
      continue
    fi
    IFS=: read -r group artifact version <<<"$coords"
    say "fetching $coords and its runtime dependencies into $dir/$location"
    tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
    cat >"$tmp.pom" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.ferry.fetch</groupId><artifactId>fetch</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>$group</groupId><artifactId>$artifact</artifactId><version>$version</version></dependency>
  </dependencies>
</project>
POM
    if ! mvn -B -f "$tmp.pom" "$DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime \
        -DexcludeGroupIds="$RUNTIME_GROUPS" -DoutputDirectory="$tmp" </dev/null >"$tmp.log" 2>&1; then
      cat -- "$tmp.log" >&2
      rm -rf -- "$tmp" "$tmp.log" "$tmp.pom"
      say "error: mvn failed to fetch $coords"
      exit 1
    fi
    rm -f -- "$tmp.log" "$tmp.pom"
    count=$(find "$tmp" -name '*.jar' | wc -l)
    say "$location: $count jars"
    echo "$RUNTIME_GROUPS" >"$tmp/.complete"
    rm -rf -- "${dir:?}/$location"
    mv -T -- "$tmp" "$dir/$location"
  done
}

# Tests run this script concurrently: one fetch at a time.
mkdir -p -- "$DIR"
exec 9>"$DIR/.fetch.lock"
flock 9
fetch "$DIR" "${ARTIFACTS[@]}"
fetch "$OLD_API_DIR" "${OLD_API_ARTIFACTS[@]}"
if [ "$want" = debezium ]; then
  fetch_tree "$DEBEZIUM_DIR" "${DEBEZIUM_ARTIFACTS[@]}"
fi

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
if [ "$want" = debezium ]; then
  echo "$DEBEZIUM_DIR"
else
  echo "$DIR"
fi
