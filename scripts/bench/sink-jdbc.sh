#!/usr/bin/env bash
# bench-service: postgres
# scripts/bench/sink-jdbc.sh - throughput of the JDBC sink (PostgreSQL) on a running ferry worker.
#
# Produces COUNT JSON records with schemas (JsonConverter's {"schema","payload"} envelope: an
# int64 id, a string, a double, a boolean and a Timestamp) to a fresh topic with kcat, creates a
# JdbcSink connector (upsert, pk.mode=record_value, pk.fields=id, auto.create=true), and times
# from the connector's creation until `SELECT count(*)` of its table reaches COUNT. Then it
# deletes the connector and drops the table.
#
# Prints exactly one line on stdout: postgres<TAB><records><TAB><seconds>; progress on stderr.
#
# Environment:
#   FERRY_URL     REST base of a running ferry worker (default http://127.0.0.1:8083)
#   BOOTSTRAP     Kafka bootstrap servers (default 127.0.0.1:9092)
#   COUNT         records (default 100000)
#   PG_HOST, PG_PORT, PG_USER, PG_DB  the PostgreSQL of `scripts/services.sh start postgres`
#                 (defaults 127.0.0.1, 15432, postgres, postgres)
#   TIMEOUT       seconds to wait for the rows (default 600)
#   FERRY_BENCH   unused (records are produced with kcat); accepted for symmetry with the others
set -euo pipefail

FERRY_URL=${FERRY_URL:-http://127.0.0.1:8083}
BOOTSTRAP=${BOOTSTRAP:-127.0.0.1:9092}
COUNT=${COUNT:-100000}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-15432}
PG_USER=${PG_USER:-postgres}
PG_DB=${PG_DB:-postgres}
TIMEOUT=${TIMEOUT:-600}

say() { printf 'sink-jdbc.sh: %s\n' "$*" >&2; }
die() { printf 'sink-jdbc.sh: error: %s\n' "$*" >&2; exit 1; }

for tool in kcat psql curl awk; do
  command -v "$tool" >/dev/null || die "$tool is required (apt-get install -y kcat postgresql-client curl gawk)"
done
psql_q() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -Atqc "$1"; }
psql_q 'SELECT 1' >/dev/null 2>&1 \
  || die "PostgreSQL is not reachable at $PG_HOST:$PG_PORT: start it with scripts/services.sh start postgres"
curl -sf "$FERRY_URL/" >/dev/null || die "no ferry worker answers at $FERRY_URL"

RUN=bench-jdbc-$(date +%s)-$$
TOPIC=$RUN
CONNECTOR=$RUN
WORK=$(mktemp -d /tmp/sink-jdbc.XXXXXX)
connector_created=0

cleanup() {
  if [ "$connector_created" = 1 ]; then
    curl -s -o /dev/null -X DELETE "$FERRY_URL/connectors/$CONNECTOR" || true
  fi
  psql_q "DROP TABLE IF EXISTS \"$TOPIC\"" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "writing $COUNT records"
awk -v count="$COUNT" 'BEGIN {
  schema = "{\"type\":\"struct\",\"name\":\"bench\",\"optional\":false,\"fields\":[" \
    "{\"field\":\"id\",\"type\":\"int64\",\"optional\":false}," \
    "{\"field\":\"name\",\"type\":\"string\",\"optional\":true}," \
    "{\"field\":\"score\",\"type\":\"double\",\"optional\":false}," \
    "{\"field\":\"active\",\"type\":\"boolean\",\"optional\":false}," \
    "{\"field\":\"created\",\"type\":\"int64\",\"optional\":false,\"name\":\"org.apache.kafka.connect.data.Timestamp\",\"version\":1}]}"
  for (i = 0; i < count; i++) {
    printf "{\"schema\":%s,\"payload\":{\"id\":%d,\"name\":\"name-%d\",\"score\":%d.5,\"active\":%s,\"created\":%d}}\n",
      schema, i, i, i % 1000, (i % 2 ? "true" : "false"), 1700000000000 + i
  }
}' > "$WORK/records.json"

say "producing to $TOPIC"
kcat -P -b "$BOOTSTRAP" -t "$TOPIC" -l "$WORK/records.json" \
  -X acks=all -X linger.ms=5 -X queue.buffering.max.messages=500000
say "creating connector $CONNECTOR"
config=$(cat <<JSON
{"name": "$CONNECTOR", "config": {
  "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
  "topics": "$TOPIC",
  "connection.url": "jdbc:postgresql://$PG_HOST:$PG_PORT/$PG_DB",
  "connection.user": "$PG_USER",
  "key.converter": "org.apache.kafka.connect.storage.StringConverter",
  "value.converter": "org.apache.kafka.connect.json.JsonConverter",
  "value.converter.schemas.enable": "true",
  "insert.mode": "upsert",
  "pk.mode": "record_value",
  "pk.fields": "id",
  "auto.create": "true"}}
JSON
)
started=$(date +%s.%N)
status=$(curl -s -o "$WORK/create.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  "$FERRY_URL/connectors" -d "$config")
[ "$status" = 201 ] || die "creating the connector answered $status: $(cat "$WORK/create.out")"
connector_created=1

deadline=$(( $(date +%s) + TIMEOUT ))
rows=0
while :; do
  rows=$(psql_q "SELECT count(*) FROM \"$TOPIC\"" 2>/dev/null || echo 0)
  [ "$rows" -ge "$COUNT" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    die "only $rows of $COUNT rows after ${TIMEOUT}s; status: $(curl -s "$FERRY_URL/connectors/$CONNECTOR/status")"
  fi
  sleep 0.2
done
finished=$(date +%s.%N)
seconds=$(awk -v a="$started" -v b="$finished" 'BEGIN { printf "%.3f", b - a }')
say "$rows rows in ${seconds}s ($(awk -v n="$rows" -v s="$seconds" 'BEGIN { printf "%d", n / s }') records/s)"
printf 'postgres\t%s\t%s\n' "$rows" "$seconds"
