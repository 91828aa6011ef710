#!/usr/bin/env bash
# scripts/test.sh - the README's test command (and all that CI runs).
#
# Installs what is missing, starts a real Apache Kafka with scripts/kafka.sh and
# PostgreSQL, S3 (moto) and OpenSearch with scripts/services.sh, runs cargo fmt
# --check, cargo clippy -D warnings and the whole test suite against them, then a
# CI-sized chaos run (kills, majority losses, exactly-once kills with both transaction boundaries,
# and partitions when root), then stops what it started
# (also on failure or Ctrl-C).
#
# Environment: FERRY_TEST_BOOTSTRAP (default 127.0.0.1:9092) is passed to the tests.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT=$PWD
export FERRY_TEST_BOOTSTRAP=${FERRY_TEST_BOOTSTRAP:-127.0.0.1:9092}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

say() { printf 'test.sh: %s\n' "$*"; }
started=()
step_started=$SECONDS

step() {
  say "[$((SECONDS - step_started))s] $*"
}

cleanup() {
  local status=$?
  local i
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    say "stopping ${started[$i]}"
    # shellcheck disable=SC2086
    ${started[$i]} || say "warning: '${started[$i]}' failed"
  done
  if [ "$status" -eq 0 ]; then
    say "all checks passed in $((SECONDS - step_started))s"
  else
    say "FAILED (exit $status) after $((SECONDS - step_started))s"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

install_prerequisites() {
  local missing=()
  command -v cargo >/dev/null || { say "error: cargo is not installed"; exit 1; }
  command -v java >/dev/null || { say "error: java (17+) is not installed"; exit 1; }
  command -v mvn >/dev/null || { say "error: mvn is not installed"; exit 1; }
  if ! cargo fmt --version >/dev/null 2>&1; then missing+=(rustfmt); fi
  if ! cargo clippy --version >/dev/null 2>&1; then missing+=(clippy); fi
  if [ ${#missing[@]} -gt 0 ]; then
    step "installing rust components: ${missing[*]}"
    rustup component add "${missing[@]}"
  fi
  local packages=()
  command -v kcat >/dev/null || packages+=(kcat)
  # librdkafka is built with CMake (rdkafka's cmake-build feature: the only build of it that
  # links the static libcurl of its OIDC flow), which needs cmake and a C++ compiler.
  command -v cmake >/dev/null || packages+=(cmake)
  command -v g++ >/dev/null || packages+=(g++)
  if [ ${#packages[@]} -gt 0 ]; then
    step "installing ${packages[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  fi
}

start_kafka() {
  if scripts/kafka.sh status >/dev/null 2>&1; then
    step "Kafka is already running on 127.0.0.1:9092; using it (not stopping it afterwards)"
  else
    step "starting Kafka"
    started+=("scripts/kafka.sh stop --nodes 1")
    scripts/kafka.sh start --nodes 1
  fi
}

# The secured broker (SASL_SSL 19094, mTLS 19095, OAUTHBEARER 19098/19099) for
# tests/tests/secure_kafka.rs;
# reused when running, stopped afterwards only when started here.
start_secure_kafka() {
  if scripts/kafka.sh status --secure >/dev/null 2>&1; then
    step "secured Kafka is already running (127.0.0.1:19094-19099); using it"
  else
    step "starting the secured Kafka (SASL_SSL 127.0.0.1:19094, mTLS 19095, OAUTHBEARER 19098/19099)"
    started+=("scripts/kafka.sh stop --secure")
    scripts/kafka.sh start --secure
  fi
}

# PostgreSQL, S3 (moto) and OpenSearch for the sink tests, on fixed loopback
# addresses (see scripts/services.sh). services.sh reports which of them it
# really started; only those are stopped afterwards (a running one is reused).
start_services() {
  local list t0=$SECONDS rc=0 svc here=""
  list=$(mktemp)
  step "starting postgres, s3, elasticsearch (those not running yet)"
  FERRY_SERVICES_STARTED_FILE=$list scripts/services.sh start postgres s3 elasticsearch || rc=$?
  for svc in $(<"$list"); do
    started+=("scripts/services.sh stop $svc")
    here+=" $svc"
  done
  rm -f -- "$list"
  [ "$rc" -eq 0 ] || exit "$rc"
  step "services ready in $((SECONDS - t0))s (started here:${here:- none}): postgres 127.0.0.1:15432," \
    "s3 http://127.0.0.1:9000, elasticsearch http://127.0.0.1:9200"
}

install_prerequisites
step "grpcurl (for the gRPC script tests)"
scripts/install-grpcurl.sh
export PATH="$PATH:$HOME/go/bin"
start_kafka
start_secure_kafka
start_services

step "Kafka Connect transforms conformance harness (scripts/conformance.sh)"
scripts/conformance.sh build

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "plugin host and test plugin jars, Debezium included (scripts/build-plugin-host.sh, scripts/fetch-test-plugins.sh debezium; cached)"
scripts/build-plugin-host.sh >/dev/null
scripts/fetch-test-plugins.sh debezium >/dev/null
step "Python venv with grpcio for examples/python-plugin (scripts/setup-python-plugin.sh; cached)"
scripts/setup-python-plugin.sh >/dev/null

step "Kafka Connect 4.3.1 worker jars for the migration tests (scripts/kafka-connect.sh fetch; cached)"
scripts/kafka-connect.sh fetch >/dev/null

step "cargo build (binaries the process tests start)"
cargo build --workspace --bins --quiet

step "cargo test --workspace (broker: $FERRY_TEST_BOOTSTRAP)"
cargo test --workspace --no-fail-fast

# --- chaos (CI size): kill -9 under load, then network partitions; exits non-zero on any lost
# record, failover timeout or split brain, and stops every process and namespace it created.
ferry_debug_bin="${CARGO_TARGET_DIR:-target}/debug/ferry"
step "chaos: 3 workers, 60 s, kill -9 every 10 s (scripts/chaos.sh, debug binary)"
scripts/chaos.sh --ferry "$ferry_debug_bin" --duration 60 --kill-every 10 --session-timeout-ms 6000
step "chaos: 3 workers, 2 killed at once twice (scripts/chaos.sh --majority-loss)"
scripts/chaos.sh --ferry "$ferry_debug_bin" --majority-loss --duration 40 --kill-every 20 --session-timeout-ms 6000
for boundary in poll interval; do
  step "chaos: exactly-once Datagen (transaction.boundary=$boundary), 3 workers, 40 s, kill -9 every 10 s, read_committed check"
  scripts/chaos.sh --ferry "$ferry_debug_bin" --exactly-once --boundary "$boundary" --duration 40 --kill-every 10
done
if [ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1; then
  step "chaos: 3 workers, a worker cut off from the others' gossip twice (scripts/chaos.sh --partition)"
  scripts/chaos.sh --ferry "$ferry_debug_bin" --partition --duration 30 --kill-every 15 --partition-for 8
else
  step "chaos --partition SKIPPED: it needs root and ip netns (network namespaces)"
fi

cd "$ROOT"
