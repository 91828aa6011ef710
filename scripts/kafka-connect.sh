#!/usr/bin/env bash
# scripts/kafka-connect.sh - run real Apache Kafka Connect 4.3.1 workers (ConnectDistributed) on
# this machine, for the migration tests, the benchmark and users trying a switch. The jars come
# from Maven Central via mvn and are cached outside the repository.
#
# Usage: scripts/kafka-connect.sh fetch
#        scripts/kafka-connect.sh start --name N --port P --group G --dir D [--prop KEY=VALUE]...
#        scripts/kafka-connect.sh stop --name N --dir D
#        scripts/kafka-connect.sh status --name N --dir D
#        scripts/kafka-connect.sh report --url URL
#
#   fetch    download connect-runtime, connect-file and connect-json 4.3.1 with their
#            dependencies (first use only) into $FERRY_CACHE_DIR/connect-4.3.1/lib and print
#            that directory. Idempotent; an interrupted download leaves no half lib.
#   start    fetch, write D/N.properties (bootstrap.servers, group.id, listeners on
#            127.0.0.1:P, the three storage topics <G>-configs/-offsets/-status with
#            replication factor 1, StringConverter for keys and values,
#            plugin.discovery=service_load (the jars have manifests), then every --prop,
#            which may override any of them), start ConnectDistributed in the background (its
#            own session; log in D/N.log, pid in D/N.pid) and wait until GET / answers 200.
#            No-op when D/N.pid names a running process.
#   stop     SIGTERM the pid in D/N.pid (a graceful stop: tasks commit their offsets), SIGKILL
#            after $FERRY_CONNECT_STOP_TIMEOUT seconds (default 30).
#   status   print running/stopped; exit 0 if running, 3 if not.
#   report   ask the REST API at URL (a Kafka Connect or a Ferry worker; any worker of the
#            cluster) for every connector's type, state, tasks and stored offsets (source
#            offsets, and a sink's `connect-<name>` consumer-group offsets), and print them as
#            one JSON object per line, sorted: run it before a switch and after it, on the
#            old and on the new system, and compare (see the README's "Moving from Kafka
#            Connect to Ferry"). Needs curl and python3.
#
# The JVM runs with the official bin/connect-distributed.sh heap (-Xms256M -Xmx2G; override with
# FERRY_CONNECT_HEAP_OPTS) and kafka-run-class.sh's G1 flags; log level INFO, as released.
#
# Environment: FERRY_BOOTSTRAP (default 127.0.0.1:9092), FERRY_CACHE_DIR (default
# $HOME/.cache/ferry), FERRY_JAVA (default /usr/bin/java), FERRY_CONNECT_START_TIMEOUT (seconds,
# default 120).
#
# Exit codes: 0 ok, 1 failure, 2 usage error, 3 (status) not running.
set -euo pipefail

readonly CONNECT_VERSION=4.3.1
readonly LOG4J_VERSION=2.26.1
readonly SLF4J_VERSION=2.0.20
readonly CONNECT_ARTIFACTS=(
  "org.apache.kafka:connect-runtime:${CONNECT_VERSION}"
  "org.apache.kafka:connect-file:${CONNECT_VERSION}"
  "org.apache.kafka:connect-json:${CONNECT_VERSION}"
  "org.slf4j:slf4j-api:${SLF4J_VERSION}"
  "org.apache.logging.log4j:log4j-api:${LOG4J_VERSION}"
  "org.apache.logging.log4j:log4j-core:${LOG4J_VERSION}"
  "org.apache.logging.log4j:log4j-slf4j2-impl:${LOG4J_VERSION}"
)
readonly DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
readonly CACHE=${FERRY_CACHE_DIR:-$HOME/.cache/ferry}
readonly CONNECT_HOME=$CACHE/connect-$CONNECT_VERSION
readonly LIB=$CONNECT_HOME/lib
readonly JAVA=${FERRY_JAVA:-/usr/bin/java}
readonly BOOTSTRAP=${FERRY_BOOTSTRAP:-127.0.0.1:9092}
readonly HEAP_OPTS=${FERRY_CONNECT_HEAP_OPTS:--Xms256M -Xmx2G}
readonly JVM_OPTS="-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
-XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true"
readonly MAIN=org.apache.kafka.connect.cli.ConnectDistributed

say() { printf 'kafka-connect.sh: %s\n' "$*" >&2; }
die() { printf 'kafka-connect.sh: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '6,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# The worker jars, fetched once with mvn into $LIB (built in a temporary directory and moved into
# place). A stamp with the artifact list makes a changed list fetch again. Runs started at the
# same time (two workers of a test) fetch one after the other: the second finds the stamp.
fetch_jars() {
  local stamp tmp a g art v
  stamp=$(printf '%s\n' "${CONNECT_ARTIFACTS[@]}")
  if [ -f "$LIB/.artifacts" ] && [ "$(<"$LIB/.artifacts")" = "$stamp" ]; then return; fi
  command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
  mkdir -p -- "$CONNECT_HOME"
  exec 8>"$CONNECT_HOME/.fetch.lock"
  flock -w 600 8 || die "timed out waiting for another fetch ($CONNECT_HOME/.fetch.lock)"
  if [ -f "$LIB/.artifacts" ] && [ "$(<"$LIB/.artifacts")" = "$stamp" ]; then
    say "another run fetched the Kafka Connect jars meanwhile"
    exec 8>&-
    return
  fi
  tmp=$(mktemp -d "$CONNECT_HOME/.lib.tmp.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf -- '$tmp'" EXIT
  {
    echo '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
    echo "<!-- generated by ferry scripts/kafka-connect.sh: a Kafka Connect $CONNECT_VERSION worker -->"
    echo '<groupId>local.ferry</groupId><artifactId>connect-worker</artifactId><version>1</version>'
    echo '<packaging>pom</packaging><dependencies>'
    for a in "${CONNECT_ARTIFACTS[@]}"; do
      IFS=: read -r g art v <<<"$a"
      echo "<dependency><groupId>$g</groupId><artifactId>$art</artifactId><version>$v</version></dependency>"
    done
    echo '</dependencies></project>'
  } >"$tmp/pom.xml"
  say "downloading the Kafka Connect $CONNECT_VERSION jars with mvn (first use) into $LIB"
  if ! mvn -q -B -f "$tmp/pom.xml" "$DEPENDENCY_PLUGIN:copy-dependencies" \
      -DoutputDirectory="$tmp/lib" -DincludeScope=runtime </dev/null >"$tmp/mvn.log" 2>&1; then
    cat -- "$tmp/mvn.log" >&2
    die "mvn failed to fetch the Kafka Connect jars (output above)"
  fi
  [ -f "$tmp/lib/connect-runtime-$CONNECT_VERSION.jar" ] || die "mvn finished but connect-runtime is missing"
  echo "$stamp" >"$tmp/lib/.artifacts"
  if [ -e "$LIB" ]; then mv -T -- "$LIB" "$tmp/old"; fi
  mv -T -- "$tmp/lib" "$LIB"
  exec 8>&-
  say "$(find "$LIB" -name '*.jar' | wc -l) jars in $LIB"
}

running_pid() {
  local pid_file=$1 pid
  [ -f "$pid_file" ] || return 1
  pid=$(<"$pid_file")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

http_status() {
  curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
}

start_worker() {
  local name=$1 port=$2 group=$3 dir=$4
  shift 4
  local pid_file=$dir/$name.pid log=$dir/$name.log props=$dir/$name.properties pid
  if pid=$(running_pid "$pid_file"); then
    say "$name is already running (pid $pid)"
    return
  fi
  fetch_jars
  [ -x "$JAVA" ] || die "java not found at $JAVA (apt-get install -y openjdk-17-jre-headless)"
  mkdir -p -- "$dir"
  {
    echo "bootstrap.servers=$BOOTSTRAP"
    echo "group.id=$group"
    echo "listeners=http://127.0.0.1:$port"
    echo "rest.advertised.host.name=127.0.0.1"
    echo "rest.advertised.port=$port"
    echo "config.storage.topic=$group-configs"
    echo "offset.storage.topic=$group-offsets"
    echo "status.storage.topic=$group-status"
    echo "config.storage.replication.factor=1"
    echo "offset.storage.replication.factor=1"
    echo "status.storage.replication.factor=1"
    echo "key.converter=org.apache.kafka.connect.storage.StringConverter"
    echo "value.converter=org.apache.kafka.connect.storage.StringConverter"
    # The jars all have ServiceLoader manifests: skip the slow reflective scan (about 10 s).
    echo "plugin.discovery=service_load"
    local prop
    for prop in "$@"; do echo "$prop"; done
  } >"$props"
  cat >"$dir/connect-log4j2.properties" <<'EOF'
# Kafka Connect worker logging for scripts/kafka-connect.sh: INFO, as the release's connect-log4j2
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
EOF
  # shellcheck disable=SC2086
  setsid "$JAVA" $HEAP_OPTS $JVM_OPTS "-Dlog4j2.configurationFile=file:$dir/connect-log4j2.properties" \
    -cp "$LIB/*" "$MAIN" "$props" </dev/null >>"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$pid_file"
  local deadline=$((SECONDS + ${FERRY_CONNECT_START_TIMEOUT:-120}))
  while [ "$(http_status "http://127.0.0.1:$port/")" != 200 ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 -- "$log" >&2 || true
      die "$name (pid $pid) exited during start-up; log: $log"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 -- "$log" >&2 || true
      die "$name (pid $pid) not answering on port $port after ${FERRY_CONNECT_START_TIMEOUT:-120} s; log: $log"
    fi
    sleep 0.2
  done
  say "$name running (pid $pid, http://127.0.0.1:$port, group $group, log $log)"
}

stop_worker() {
  local name=$1 dir=$2 pid
  local pid_file=$dir/$name.pid
  if ! pid=$(running_pid "$pid_file"); then
    say "$name is not running"
    rm -f -- "$pid_file"
    return
  fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + ${FERRY_CONNECT_STOP_TIMEOUT:-30}))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "$name (pid $pid) still running after SIGTERM; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f -- "$pid_file"
  say "$name stopped"
}

# Every connector of the cluster behind $1 with its status and offsets, one JSON line each.
report_connectors() {
  local url=${1%/}
  command -v python3 >/dev/null || die "python3 not found"
  FERRY_REPORT_URL=$url python3 - <<'PY'
import json, os, sys, urllib.request

base = os.environ["FERRY_REPORT_URL"]

def get(path):
    with urllib.request.urlopen(base + path, timeout=30) as response:
        return json.load(response)

try:
    names = get("/connectors")
except OSError as error:
    sys.exit("kafka-connect.sh: error: cannot reach %s: %s" % (base, error))
for name in sorted(names):
    status = get("/connectors/%s/status" % name)
    offsets = get("/connectors/%s/offsets" % name).get("offsets", [])
    offsets.sort(key=lambda entry: json.dumps(entry.get("partition"), sort_keys=True))
    print(json.dumps({
        "connector": name,
        "type": status.get("type"),
        "state": status.get("connector", {}).get("state"),
        "tasks": [task.get("state") for task in status.get("tasks", [])],
        "offsets": offsets,
    }, sort_keys=True))
PY
}

[ $# -ge 1 ] || usage
action=$1
shift
name="" port="" group="" dir="" url=""
props=()
while [ $# -gt 0 ]; do
  case "$1" in
    --name) [ $# -ge 2 ] || usage; name=$2; shift ;;
    --port) [ $# -ge 2 ] || usage; port=$2; shift ;;
    --group) [ $# -ge 2 ] || usage; group=$2; shift ;;
    --dir) [ $# -ge 2 ] || usage; dir=$2; shift ;;
    --prop) [ $# -ge 2 ] || usage; props+=("$2"); shift ;;
    --url) [ $# -ge 2 ] || usage; url=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
  esac
  shift
done

case "$action" in
  fetch)
    fetch_jars
    echo "$LIB"
    ;;
  start)
    [ -n "$name" ] && [ -n "$port" ] && [ -n "$group" ] && [ -n "$dir" ] || usage
    start_worker "$name" "$port" "$group" "$dir" "${props[@]+"${props[@]}"}"
    ;;
  stop)
    [ -n "$name" ] && [ -n "$dir" ] || usage
    stop_worker "$name" "$dir"
    ;;
  status)
    [ -n "$name" ] && [ -n "$dir" ] || usage
    if pid=$(running_pid "$dir/$name.pid"); then
      echo "$name: running (pid $pid)"
    else
      echo "$name: stopped"
      exit 3
    fi
    ;;
  report)
    [ -n "$url" ] || usage
    report_connectors "$url"
    ;;
  *) usage ;;
esac
