#!/usr/bin/env bash
# bench-service: s3
# scripts/bench/sink-s3.sh - how fast Ferry's S3 sink moves COUNT JSON records from a topic into
# S3 objects, against a running worker and a running S3 server.
#
# Environment:
#   FERRY_URL    REST base of a running ferry worker (default http://127.0.0.1:8083)
#   BOOTSTRAP    Kafka bootstrap servers the worker uses (default 127.0.0.1:9092)
#   COUNT        records (default 100000); a multiple of FLUSH_SIZE, or less than it
#   FERRY_BENCH  path of the ferry-bench binary (optional: confirms the topic holds COUNT records
#                before the clock starts)
#   S3_URL       S3 endpoint (default http://127.0.0.1:9000, `scripts/services.sh start s3`)
#   S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY   (default us-east-1, ferry, ferrysecret); the
#                script signs its own S3 requests with them (curl --aws-sigv4)
#   FLUSH_SIZE   records per object (default 10000)
#
# Steps: produce COUNT JSON records (~110 bytes) with kcat to a fresh one-partition topic, create
# a fresh bucket, create an S3 sink (JsonFormat, flush.size FLUSH_SIZE), and time from the
# connector's creation until the bucket holds COUNT/FLUSH_SIZE objects (each object holds exactly
# FLUSH_SIZE records: only flush.size closes objects here); then check the last object's line
# count, delete the connector, the objects and the bucket.
#
# Output: exactly one line on stdout, `s3<TAB><records><TAB><seconds>`; progress on stderr.
set -euo pipefail

FERRY_URL=${FERRY_URL:-http://127.0.0.1:8083}
BOOTSTRAP=${BOOTSTRAP:-127.0.0.1:9092}
COUNT=${COUNT:-100000}
S3_URL=${S3_URL:-http://127.0.0.1:9000}
FLUSH_SIZE=${FLUSH_SIZE:-10000}
S3_REGION=${S3_REGION:-us-east-1}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-ferry}
S3_SECRET_KEY=${S3_SECRET_KEY:-ferrysecret}
TIMEOUT_SECS=${TIMEOUT_SECS:-600}

say() { printf 'sink-s3.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v kcat >/dev/null || die "kcat is missing (apt-get install -y kcat)"
command -v curl >/dev/null || die "curl is missing"
[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a positive integer (got '$COUNT')"
if [ "$COUNT" -lt "$FLUSH_SIZE" ]; then
  FLUSH_SIZE=$COUNT
elif [ $((COUNT % FLUSH_SIZE)) -ne 0 ]; then
  say "COUNT ($COUNT) must be a multiple of FLUSH_SIZE ($FLUSH_SIZE): a last partial object is only closed by more records"
  exit 2
fi
curl -sf -o /dev/null "$FERRY_URL/" || die "no ferry worker answers at $FERRY_URL"
curl -s -o /dev/null "$S3_URL/" || die "no S3 server answers at $S3_URL (scripts/services.sh start s3)"

RUN=$(date +%s)-$$
TOPIC=bench-s3-$RUN
BUCKET=ferry-bench-$RUN
CONNECTOR=bench-s3-$RUN

now() { date +%s.%N; }
s3() { curl -s --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" "$@"; }

cleanup() {
  curl -s -o /dev/null -X DELETE "$FERRY_URL/connectors/$CONNECTOR" || true
  local key
  for key in $(list_keys 2>/dev/null); do
    s3 -o /dev/null -X DELETE "$S3_URL/$BUCKET/$(urlencode "$key")" || true
  done
  s3 -o /dev/null -X DELETE "$S3_URL/$BUCKET" || true
}
trap cleanup EXIT

# Keys under the topic's folder (ListObjectsV2, following continuation tokens).
list_keys() {
  local token="" page
  while :; do
    page=$(s3 -f "$S3_URL/$BUCKET?list-type=2&prefix=topics/$TOPIC/${token:+&continuation-token=$(urlencode "$token")}") || return 1
    grep -o '<Key>[^<]*</Key>' <<<"$page" | sed -e 's/<Key>//' -e 's/<\/Key>//' || true
    grep -q '<IsTruncated>true</IsTruncated>' <<<"$page" || break
    token=$(grep -o '<NextContinuationToken>[^<]*' <<<"$page" | sed 's/<NextContinuationToken>//')
  done
}

urlencode() {
  local text=$1 out="" char i
  for ((i = 0; i < ${#text}; i++)); do
    char=${text:i:1}
    case $char in
      [a-zA-Z0-9._~/-]) out+=$char ;;
      *) out+=$(printf '%%%02X' "'$char") ;;
    esac
  done
  printf '%s' "$out"
}

say "producing $COUNT JSON records to $TOPIC ($BOOTSTRAP)"
seq 0 $((COUNT - 1)) |
  awk '{printf "{\"id\":%d,\"name\":\"record-%09d\",\"amount\":%d,\"note\":\"the quick brown fox jumps over the lazy dog\"}\n", $1, $1, $1 % 997}' |
  kcat -P -b "$BOOTSTRAP" -t "$TOPIC" -p 0 -X linger.ms=5 -X batch.num.messages=10000
if [ -n "${FERRY_BENCH:-}" ]; then
  "$FERRY_BENCH" wait-topic "$BOOTSTRAP" "$TOPIC" "$COUNT" >/dev/null
fi

say "creating bucket $BUCKET at $S3_URL"
s3 -f -o /dev/null -X PUT "$S3_URL/$BUCKET" || die "could not create bucket $BUCKET"

config=$(cat <<JSON
{"name": "$CONNECTOR", "config": {
  "connector.class": "io.confluent.connect.s3.S3SinkConnector",
  "topics": "$TOPIC", "tasks.max": "1",
  "s3.bucket.name": "$BUCKET", "s3.region": "$S3_REGION", "store.url": "$S3_URL",
  "aws.access.key.id": "$S3_ACCESS_KEY", "aws.secret.access.key": "$S3_SECRET_KEY",
  "storage.class": "io.confluent.connect.s3.storage.S3Storage",
  "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
  "flush.size": "$FLUSH_SIZE",
  "key.converter": "org.apache.kafka.connect.storage.StringConverter",
  "value.converter": "org.apache.kafka.connect.json.JsonConverter",
  "value.converter.schemas.enable": "false"}}
JSON
)
objects_wanted=$((COUNT / FLUSH_SIZE))
say "creating connector $CONNECTOR (flush.size $FLUSH_SIZE); waiting for $objects_wanted objects"
started=$(now)
status=$(curl -s -o /dev/null -w "%{http_code}" -X POST -H "Content-Type: application/json" \
  "$FERRY_URL/connectors" -d "$config") || true
[ "$status" = 201 ] || die "creating the connector answered HTTP $status"

deadline=$(( $(date +%s) + TIMEOUT_SECS ))
objects=0
last_report=0
while :; do
  objects=$(list_keys | grep -c '\.json$' || true)
  [ "$objects" -ge "$objects_wanted" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    die "timed out after ${TIMEOUT_SECS}s with $objects of $objects_wanted objects ($(curl -s "$FERRY_URL/connectors/$CONNECTOR/status"))"
  fi
  if [ "$objects" -ne "$last_report" ]; then
    say "$objects of $objects_wanted objects"
    last_report=$objects
  fi
  sleep 0.1
done
finished=$(now)
seconds=$(awk -v a="$started" -v b="$finished" 'BEGIN {printf "%.3f", b - a}')

last_key=$(list_keys | sort | tail -n 1)
lines=$(s3 -f "$S3_URL/$BUCKET/$(urlencode "$last_key")" | wc -l)
[ "$lines" -eq "$FLUSH_SIZE" ] || die "$last_key holds $lines lines, expected $FLUSH_SIZE"
say "$COUNT records in $objects objects in ${seconds}s ($(awk -v n="$COUNT" -v s="$seconds" 'BEGIN {printf "%.0f", n / s}') records/s)"
printf 's3\t%s\t%s\n' "$COUNT" "$seconds"
