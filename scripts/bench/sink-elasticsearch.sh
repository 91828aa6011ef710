#!/usr/bin/env bash
# bench-service: elasticsearch
# scripts/bench/sink-elasticsearch.sh - throughput of the Elasticsearch sink (Kafka ->
# Elasticsearch/OpenSearch) on a running Ferry worker.
#
# Produces COUNT schemaless JSON records (~60 bytes: {"id":N,"name":"name-N","score":M}) to a
# fresh topic with kcat, creates an ElasticsearchSink connector (JsonConverter with
# schemas.enable=false, key.ignore=true, schema.ignore=true, read.timeout.ms=$READ_TIMEOUT_MS,
# Confluent's defaults otherwise),
# polls the index's document count until it reaches COUNT, then deletes the connector and the
# index. The time runs from the connector's creation to the last document being searchable, so
# it includes task start-up, the consumer-group join and index creation.
#
# Prints exactly one line on stdout:  elasticsearch<TAB><records><TAB><seconds>
# Progress goes to stderr. Exit 1 on failure (nothing on stdout).
#
# Environment:
#   FERRY_URL    REST base URL of a running ferry worker (default http://127.0.0.1:8083)
#   BOOTSTRAP    Kafka bootstrap servers the worker uses (default 127.0.0.1:9092)
#   COUNT        records (default 100000)
#   ES_URL       the search server (default http://127.0.0.1:9200; scripts/services.sh start elasticsearch)
#   TIMEOUT      seconds to wait for the documents (default 900)
#   READ_TIMEOUT_MS  the connector's read.timeout.ms (default 30000; Confluent's default, 3000, is
#                what users get without the key: on a loaded 2-core box with a 512 MiB OpenSearch
#                five concurrent 2000-record bulks can take longer than 3 s, and each timed-out
#                bulk is sent again while the server is still working on it)
#   FERRY_BENCH  accepted for symmetry with the other sink benches and unused: ferry-bench's
#                payloads are not JSON, so records are produced with kcat
set -euo pipefail

FERRY_URL=${FERRY_URL:-http://127.0.0.1:8083}
FERRY_URL=${FERRY_URL%/}
BOOTSTRAP=${BOOTSTRAP:-127.0.0.1:9092}
COUNT=${COUNT:-100000}
ES_URL=${ES_URL:-http://127.0.0.1:9200}
ES_URL=${ES_URL%/}
TIMEOUT=${TIMEOUT:-900}
READ_TIMEOUT_MS=${READ_TIMEOUT_MS:-30000}

say() { printf 'sink-elasticsearch.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a positive integer, got '$COUNT'"
command -v kcat >/dev/null || die "kcat is missing (apt-get install -y kcat)"
command -v curl >/dev/null || die "curl is missing"
curl -sf -m 5 "$ES_URL" >/dev/null || die "no Elasticsearch/OpenSearch at $ES_URL (scripts/services.sh start elasticsearch)"
curl -sf -m 5 "$FERRY_URL/connectors" >/dev/null || die "no ferry worker at $FERRY_URL"

RUN=bench-es-$(date +%s)-$$
TOPIC=$RUN
INDEX=$RUN # topic names here are lower-case already: the index is the topic name
CONNECTOR=$RUN
created=0

cleanup() {
  if [ "$created" = 1 ]; then
    curl -s -o /dev/null -X DELETE "$FERRY_URL/connectors/$CONNECTOR" || true
  fi
  curl -s -o /dev/null -X DELETE "$ES_URL/$INDEX" || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

say "producing $COUNT JSON records to topic $TOPIC on $BOOTSTRAP"
awk -v n="$COUNT" 'BEGIN { for (i = 0; i < n; i++) printf "{\"id\":%d,\"name\":\"name-%d\",\"score\":%d}\n", i, i, (i * 7919) % 10007 }' |
  kcat -P -b "$BOOTSTRAP" -t "$TOPIC" -X linger.ms=5 -X acks=all ||
  die "producing with kcat failed"

config=$(cat <<EOF
{"name": "$CONNECTOR", "config": {
  "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
  "tasks.max": "1",
  "topics": "$TOPIC",
  "connection.url": "$ES_URL",
  "key.ignore": "true",
  "schema.ignore": "true",
  "read.timeout.ms": "$READ_TIMEOUT_MS",
  "key.converter": "org.apache.kafka.connect.storage.StringConverter",
  "value.converter": "org.apache.kafka.connect.json.JsonConverter",
  "value.converter.schemas.enable": "false"
}}
EOF
)

say "creating connector $CONNECTOR on $FERRY_URL"
start=$(now)
status=$(curl -s -o /dev/stderr -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data "$config" "$FERRY_URL/connectors") || die "POST /connectors failed"
printf '\n' >&2
[ "$status" = 201 ] || die "POST /connectors answered $status"
created=1

say "waiting for $COUNT documents in index $INDEX (up to $TIMEOUT s)"
count=0
last_report=0
while :; do
  # Refresh first so that the count includes everything written so far.
  curl -s -o /dev/null -X POST "$ES_URL/$INDEX/_refresh" || true
  count=$(curl -s "$ES_URL/$INDEX/_count" | sed -n 's/.*"count":\([0-9]*\).*/\1/p')
  count=${count:-0}
  if [ "$count" -ge "$COUNT" ]; then
    break
  fi
  waited=$(elapsed "$start" "$(now)")
  if awk -v w="$waited" -v t="$TIMEOUT" 'BEGIN { exit !(w > t) }'; then
    die "only $count of $COUNT documents after $TIMEOUT s"
  fi
  if awk -v w="$waited" -v l="$last_report" 'BEGIN { exit !(w - l >= 5) }'; then
    say "$count documents after ${waited} s"
    last_report=$waited
  fi
  sleep 0.2
done
seconds=$(elapsed "$start" "$(now)")
[ "$count" -eq "$COUNT" ] || die "the index holds $count documents for $COUNT records"
say "$COUNT documents in $seconds s ($(awk -v c="$COUNT" -v s="$seconds" 'BEGIN { printf "%.0f", c / s }') records/s)"
printf 'elasticsearch\t%s\t%s\n' "$COUNT" "$seconds"
