#!/usr/bin/env bash
# scripts/bench.sh [--quick] [--count N] - Ferry's throughput against raw librdkafka, in one run on
# the same broker and machine, printed as a table.
#
#   raw produce / raw consume   librdkafka (BaseProducer with Ferry's producer settings, BaseConsumer)
#   ferry source                FileStreamSource -> Kafka (file of N lines of ~100 bytes)
#   ferry sink                  Kafka -> FileStreamSink (the topic raw produce wrote)
#
# Both Ferry pipelines use StringConverter so the bytes on the wire match the raw rows. Times are
# from the connector's creation to the last record in the topic / line in the file, so they include
# task start-up (and the sink's consumer-group join, as the raw consumer's time does).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
COUNT=1000000
SIZE=100
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) COUNT=200000 ;;
    --count) COUNT=$2; shift ;;
    *) echo "usage: scripts/bench.sh [--quick] [--count N]" >&2; exit 2 ;;
  esac
  shift
done

say() { printf 'bench.sh: %s\n' "$*"; }
BOOTSTRAP=${FERRY_BENCH_BOOTSTRAP:-127.0.0.1:9092}
WORK=$(mktemp -d /tmp/ferry-bench.XXXXXX)
RUN=bench-$(date +%s)
started_kafka=0
worker_pid=

cleanup() {
  if [ -n "$worker_pid" ] && kill -0 "$worker_pid" 2>/dev/null; then
    kill -TERM "$worker_pid" 2>/dev/null || true
    wait "$worker_pid" 2>/dev/null || true
  fi
  if [ "$started_kafka" = 1 ]; then scripts/kafka.sh stop >/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building release binaries (ferry, ferry-bench)"
cargo build --release --quiet -p ferry-server -p ferry-tests --bins
TARGET_DIR=${CARGO_TARGET_DIR:-target}
FERRY=$TARGET_DIR/release/ferry
BENCH=$TARGET_DIR/release/ferry-bench

if ! scripts/kafka.sh status >/dev/null 2>&1; then
  say "starting Kafka"
  scripts/kafka.sh start >/dev/null
  started_kafka=1
fi

say "raw produce: $COUNT records of $SIZE bytes"
raw_produce=$($BENCH produce "$BOOTSTRAP" "$RUN-raw" "$COUNT" "$SIZE")
say "raw consume"
raw_consume=$($BENCH consume "$BOOTSTRAP" "$RUN-raw" "$COUNT")

say "writing the source file"
$BENCH write-lines "$WORK/input.txt" "$COUNT" "$SIZE" >/dev/null

PORT=18099
cat > "$WORK/worker.properties" <<PROPS
bootstrap.servers=$BOOTSTRAP
group.id=$RUN
listeners=http://127.0.0.1:$PORT
config.storage.topic=$RUN-configs
offset.storage.topic=$RUN-offsets
status.storage.topic=$RUN-status
offset.storage.partitions=1
status.storage.partitions=1
offset.flush.interval.ms=1000
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
PROPS
say "starting a ferry worker"
RUST_LOG=warn $FERRY worker "$WORK/worker.properties" > "$WORK/worker.log" 2>&1 &
worker_pid=$!
for _ in $(seq 1 100); do
  curl -sf "127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf "127.0.0.1:$PORT/health" >/dev/null || { cat "$WORK/worker.log"; exit 1; }

create() {
  curl -sf -XPOST -H 'Content-Type: application/json' "127.0.0.1:$PORT/connectors" -d "$1" >/dev/null
}

say "ferry source: FileStreamSource -> $RUN-source"
create "{\"name\":\"$RUN-source\",\"config\":{\"connector.class\":\"FileStreamSource\",\"file\":\"$WORK/input.txt\",\"topic\":\"$RUN-source\",\"batch.size\":\"10000\"}}"
ferry_source=$($BENCH wait-topic "$BOOTSTRAP" "$RUN-source" "$COUNT")

say "ferry sink: $RUN-raw -> FileStreamSink"
create "{\"name\":\"$RUN-sink\",\"config\":{\"connector.class\":\"FileStreamSink\",\"file\":\"$WORK/output.txt\",\"topics\":\"$RUN-raw\"}}"
ferry_sink=$($BENCH wait-lines "$WORK/output.txt" "$COUNT")

rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$worker_pid/status")

python3 - "$COUNT" "$SIZE" "$raw_produce" "$raw_consume" "$ferry_source" "$ferry_sink" "$rss_kb" <<'PY'
import sys
count, size = int(sys.argv[1]), int(sys.argv[2])
raw_p, raw_c, f_src, f_sink = map(float, sys.argv[3:7])
rss_mb = int(sys.argv[7]) / 1024
def row(name, secs, base):
    rate = count / secs
    mbs = count * size / secs / 1e6
    ratio = f"{base / secs:.2f}x" if base else "-"
    return f"| {name} | {count:,} | {secs:.2f} | {rate:,.0f} | {mbs:.1f} | {ratio} |"
print()
print("| pipeline | records | seconds | records/s | MB/s | vs raw |")
print("|---|---:|---:|---:|---:|---:|")
print(row("raw librdkafka produce", raw_p, None))
print(row("ferry FileStreamSource -> Kafka", f_src, raw_p))
print(row("raw librdkafka consume", raw_c, None))
print(row("ferry Kafka -> FileStreamSink", f_sink, raw_c))
print()
print(f"ferry worker RSS after both pipelines: {rss_mb:.1f} MB")
PY
