#!/usr/bin/env bash
# scripts/bench.sh [--quick] [--count N] [--json FILE] [--plot FILE.png] [--no-sinks]
#                  [--no-kafka-connect] [--no-failover] [--no-debezium] [--debezium-changes N] [--only debezium]
#
# Ferry against raw librdkafka and Apache Kafka Connect 4.3.1, in one run on the same broker and
# machine; prints markdown tables (stdout; progress on stderr).
#
#   raw librdkafka produce / consume   N records of 100 bytes (ferry-bench: a BaseProducer with
#                                      Ferry's producer settings, a BaseConsumer)
#   FileStreamSource -> Kafka          a file of the same N lines, for Ferry and for Kafka Connect
#   Kafka -> FileStreamSink            the topic raw produce wrote, for Ferry and for Kafka Connect
#   the same two with JsonConverter    schemas.enable=true: the source writes the lines as JSON
#                                      envelopes with a schema, the sink reads them back
#   the sink with 3 transforms         N schemaless JSON objects of about 100 bytes (ferry-bench
#                                      produce-json) -> FileStreamSink through InsertField$Value
#                                      (a static field), ReplaceField$Value (a rename) and
#                                      TimestampRouter (topic per day), the same chain in both
#   the same two, connect-file jar     Ferry running Apache's connect-file 4.3.1 jar from plugin.path
#                                      through its JVM plugin host (connector.plugin.version=4.3.1
#                                      selects it over the built-in) vs Kafka Connect's FileStream
#                                      rows above (the same connect-file 4.3.1 classes and pipeline:
#                                      those figures are reused, the row says so)
#   Kafka -> <sink>                    every scripts/bench/sink-*.sh, against the Ferry worker,
#                                      with N/10 records (--no-sinks skips them)
#   Debezium PostgreSQL -> Kafka       streaming: Debezium's PostgreSQL connector 3.6.1.Final jar
#                                      (scripts/fetch-test-plugins.sh debezium) in Ferry (plugin
#                                      host) and in Kafka Connect, in turn, the same plugin.path,
#                                      PostgreSQL and broker; N changes (--debezium-changes,
#                                      default 100,000) written while the connector runs; RSS of
#                                      each at the end (--no-debezium skips it, --only debezium
#                                      runs nothing else; about 1.5 min)
#   idle RSS, start-to-ready           one Ferry worker, one Kafka Connect worker
#   idle RSS, worker + plugin host     the Ferry worker with plugin.path = the connect-file location
#                                      (worker and host listed) vs a Kafka Connect worker with the
#                                      same plugin.path; both plugin.discovery=service_load
#   failover after kill -9             two workers of each system, default settings and
#                                      scheduled.rebalance.max.delay.ms=0
#
# N is 5,000,000 (--quick: 200,000, and the Kafka Connect failover with default settings, which
# waits scheduled.rebalance.max.delay.ms = 300 s by design, is skipped; the whole --quick run
# takes under 10 minutes on 2 cores). --json FILE writes the figures (keys ratios, rss_mb,
# ready_s, failover_s, rows, ...); --plot FILE.png draws them (matplotlib, installed with pip into
# a venv under ~/.cache/ferry on first use).
#
# How each figure is taken (scripts/bench/bench.py):
#  - Both systems run with their default settings, StringConverter for keys and values (the bytes
#    on the wire are the raw rows'), the same worker properties (bootstrap.servers, group.id,
#    listeners, the three storage topics unique to the run with replication factor 1) and the
#    connectors' default configs (FileStreamSource batch.size is 2000 in both).
#  - Pipeline seconds run from the POST /connectors until the topic holds N records (source) or
#    the file has N lines (sink): they include task start-up and the sink's consumer-group join,
#    as the raw consumer's time does. The steady-state rate is 80 % of N over the time from 10 %
#    to 90 % of the records; the longest gap is the longest time without output after the first
#    record (ferry-bench samples the topic's watermarks or the file every 5 ms), and a Ferry
#    pipeline with a gap of 100 ms or more is a stall: the run prints STALL and exits 1 after the
#    tables. CPU µs/record: the worker's user + system CPU time (/proc/<pid>/stat) from the POST
#    until the last record, over N (ferry-bench's own for the raw rows); for the connect-file jar
#    rows the worker's plus its plugin host JVM's (the worker's child running
#    dev.ferry.pluginhost.Main).
#  - Kafka Connect: org.apache.kafka.connect.cli.ConnectDistributed from the Maven Central jars
#    connect-runtime, connect-file and connect-json 4.3.1 (+ their dependencies, fetched with mvn
#    into ~/.cache/ferry/connect-4.3.1/lib on first use by scripts/kafka-connect.sh fetch, the
#    script the migration tests start Kafka Connect with), with the official start script's JVM
#    flags: -Xms256M -Xmx2G (KAFKA_HEAP_OPTS of connect-distributed.sh; FERRY_BENCH_CONNECT_HEAP_OPTS
#    overrides) and kafka-run-class.sh's G1 flags; log level INFO, as released.
#  - Ready: seconds from spawning the process until GET / answers 200 (and GET /health, both
#    systems' "worker has completed startup"). Idle RSS: VmRSS of the worker process (the JVM for
#    Kafka Connect) after /health = 200, sampled every 0.5 s until 6 samples are within 2 %.
#    Worker + plugin host: after GET /connector-plugins lists the jar's FileStreamSourceConnector
#    4.3.1, both VmRSS sampled together until 6 sums are within 2 %; the plugin.path holds one
#    symlink to $FERRY_CACHE_DIR/plugins/connect-file-4.3.1 (scripts/fetch-test-plugins.sh).
#  - Failover: two workers, FileStreamSink with tasks.max=2 over a 2-partition topic, a task on
#    each; kill -9 of the second worker; seconds until both tasks are RUNNING on the survivor
#    (GET /connectors/<c>/status on the survivor, every 100 ms; cap 60 s, 360 s for Kafka
#    Connect's default settings).
#  - Debezium: a database of the run's own on the PostgreSQL of scripts/services.sh (PG_HOST,
#    PG_PORT, PG_USER; default 127.0.0.1:15432, postgres; started with services.sh when it does
#    not answer), a table per system with 1,000 rows (the snapshot), the connector (pgoutput, a
#    slot and a publication of the run's own, JsonConverter with schemas for key and value, the
#    topic created by the worker with 3 partitions and lz4), one probe insert waited for in the
#    topic (streaming is live), then the changes as INSERT ... SELECT generate_series in
#    transactions of 1,000 rows with psql -f. Seconds run from the writer's start (ferry-bench
#    has seen the snapshot and the probe) to the last change in the topic (end offsets every
#    5 ms): changes/s is "from commit to Kafka", the writer's own time is shown beside it. CPU
#    µs/change: the Ferry worker + its plugin host JVM, the Kafka Connect JVM, over that time.
#    RSS: VmRSS (and VmHWM, the peak) of the same processes when the last change is in. The
#    longest gap is reported but is no STALL here (Debezium's poll sets the pace). Each system's
#    worker is stopped and its replication slot dropped before the next starts; the database
#    (and its publications) at the end.
#  - Sink scripts: scripts/bench/sink-<name>.sh gets FERRY_URL, BOOTSTRAP, COUNT and FERRY_BENCH
#    and prints one line `<label>\t<records>\t<seconds>`; a `# bench-service: NAME` line in it
#    makes this script run `scripts/services.sh start NAME` first (when services.sh exists). A
#    script that fails gives a row "skipped: <its last stderr line>".
#
# Starts Kafka with scripts/kafka.sh when it is not running (and stops it at the end only then).
# Every process it starts is stopped by pid on exit or Ctrl-C; the run's topics are deleted.
# Environment: FERRY_BOOTSTRAP (default 127.0.0.1:9092), FERRY_CACHE_DIR (default ~/.cache/ferry),
# CARGO_TARGET_DIR, FERRY_JAVA (default /usr/bin/java).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly CACHE=${FERRY_CACHE_DIR:-$HOME/.cache/ferry}
readonly VENV=$CACHE/bench-venv

say() { printf 'bench.sh: %s\n' "$*" >&2; }
die() { printf 'bench.sh: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,3p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}/usage: /;2s/^usage: /       /' >&2; exit 2; }

plot=0
connect=1
debezium=1
args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --quick | --no-sinks | --no-failover) ;;
    --no-kafka-connect) connect=0 ;;
    --no-debezium) debezium=0 ;;
    --count | --json | --debezium-changes) [ $# -ge 2 ] || usage; shift ;;
    --only) [ $# -ge 2 ] || usage; [ "$2" = debezium ] || usage; shift ;;
    --plot) [ $# -ge 2 ] || usage; plot=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
  esac
  shift
done

started_kafka=0
tmp_dirs=()
cleanup() {
  local dir
  for dir in "${tmp_dirs[@]+"${tmp_dirs[@]}"}"; do rm -rf -- "$dir"; done
  if [ "$started_kafka" = 1 ]; then
    say "stopping the Kafka this run started"
    scripts/kafka.sh stop >&2 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A Python venv with matplotlib for --plot (pip, first use only).
plot_python() {
  if [ -f "$VENV/.ready" ] && "$VENV/bin/python" -c 'import matplotlib' 2>/dev/null; then return; fi
  say "installing matplotlib into $VENV (first use)"
  rm -rf -- "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install -y python3-venv)"
  "$VENV/bin/python" -m pip install -q matplotlib >&2 || die "pip install matplotlib failed"
  touch "$VENV/.ready"
}

command -v python3 >/dev/null || die "python3 not found"
say "building release binaries (ferry, ferry-bench)"
cargo build --release --quiet -p ferry-server -p ferry-tests --bins
TARGET_DIR=${CARGO_TARGET_DIR:-target}
export FERRY_BIN=$TARGET_DIR/release/ferry FERRY_BENCH=$TARGET_DIR/release/ferry-bench
if [ "$connect" = 1 ]; then
  [ -x "${FERRY_JAVA:-/usr/bin/java}" ] || die "java not found (apt-get install -y openjdk-17-jre-headless)"
  # The Kafka Connect 4.3.1 worker jars (fetched with mvn on first use, cached).
  FERRY_CONNECT_LIB=$(scripts/kafka-connect.sh fetch)
  export FERRY_CONNECT_LIB
fi
# The connect-file 4.3.1 jar and Ferry's JVM plugin host (both cached; no-ops after first use).
[ -x "${FERRY_JAVA:-/usr/bin/java}" ] || die "java not found (apt-get install -y openjdk-17-jre-headless)"
FERRY_PLUGIN_HOST_DIR=$(scripts/build-plugin-host.sh)
FERRY_CONNECT_FILE_LOCATION=$(scripts/fetch-test-plugins.sh)/connect-file-4.3.1
export FERRY_PLUGIN_HOST_DIR FERRY_CONNECT_FILE_LOCATION
# Debezium's jars (cached); a failed fetch leaves the Debezium row "skipped" with the reason.
if [ "$debezium" = 1 ]; then
  if FERRY_DEBEZIUM_PLUGIN_PATH=$(scripts/fetch-test-plugins.sh debezium); then
    export FERRY_DEBEZIUM_PLUGIN_PATH
  else
    say "scripts/fetch-test-plugins.sh debezium failed: the Debezium row is skipped"
  fi
fi
if [ "$plot" = 1 ]; then
  plot_python
  export FERRY_BENCH_PLOT_PYTHON=$VENV/bin/python
fi
if [ -z "${FERRY_BOOTSTRAP:-}" ] && ! scripts/kafka.sh status >/dev/null 2>&1; then
  say "starting Kafka"
  scripts/kafka.sh start >&2
  started_kafka=1
fi
python3 scripts/bench/bench.py "${args[@]+"${args[@]}"}"
