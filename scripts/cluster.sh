#!/usr/bin/env bash
# scripts/cluster.sh - a local N-worker Ferry cluster against scripts/kafka.sh, for trying Ferry.
#
#   scripts/cluster.sh start N      build ferry (release), start Kafka if needed, start N workers on
#                                   ports 8083, 8084, ... (gossip on the same port numbers, UDP)
#   scripts/cluster.sh stop         stop every worker this script started
#   scripts/cluster.sh kill NODE    kill -9 worker NODE (1..N), as a crash would
#   scripts/cluster.sh restart NODE start worker NODE again
#   scripts/cluster.sh status       a table of workers, and the cluster as node 1 sees it
#
# State and logs: ${FERRY_CLUSTER_DIR:-/tmp/ferry-cluster} (node-K.log, node-K.pid, node-K.properties).
# FERRY_BIN overrides the binary (default target/release/ferry, built on first start).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
DIR=${FERRY_CLUSTER_DIR:-/tmp/ferry-cluster}
BOOTSTRAP=${FERRY_BOOTSTRAP:-127.0.0.1:9092}
BIN=${FERRY_BIN:-target/release/ferry}
BASE_PORT=8083

say() { printf 'cluster.sh: %s\n' "$*"; }
# Prints GET /cluster as a table; the leader is marked with *.
STATUS_TABLE='
import json, sys
view = json.load(sys.stdin)
print("  assignment epoch", view["assignment_epoch"])
for member in view["members"]:
    mark = "*" if member["is_leader"] else " "
    ready = "ready" if member["ready"] else "not-ready"
    print("  %s %-12s %-22s %-9s tasks=%d" % (mark, member["id"], member["address"], ready, member["task_count"]))
'
die() { printf 'cluster.sh: error: %s\n' "$*" >&2; exit 1; }
port_of() { echo $((BASE_PORT + $1 - 1)); }
pid_of() { [ -f "$DIR/node-$1.pid" ] && cat "$DIR/node-$1.pid" || true; }
alive() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
nodes() { [ -f "$DIR/nodes" ] && cat "$DIR/nodes" || echo 0; }

write_properties() {
  local node=$1 count=$2 seeds="" k
  for ((k = 1; k <= count; k++)); do seeds+="${seeds:+,}127.0.0.1:$(port_of "$k")"; done
  cat > "$DIR/node-$node.properties" <<PROPS
bootstrap.servers=$BOOTSTRAP
group.id=ferry-local
listeners=http://127.0.0.1:$(port_of "$node")
node.id=node-$node
gossip.seeds=$seeds
config.storage.topic=ferry-local-configs
offset.storage.topic=ferry-local-offsets
status.storage.topic=ferry-local-status
offset.flush.interval.ms=10000
PROPS
}

start_node() {
  local node=$1
  if alive "$node"; then say "node $node already running (pid $(pid_of "$node"))"; return; fi
  "$BIN" worker "$DIR/node-$node.properties" >> "$DIR/node-$node.log" 2>&1 &
  echo $! > "$DIR/node-$node.pid"
  say "node $node: pid $!, http://127.0.0.1:$(port_of "$node"), log $DIR/node-$node.log"
}

wait_healthy() {
  local node=$1 port
  port=$(port_of "$node")
  for _ in $(seq 1 150); do
    curl -sf "127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    alive "$node" || die "node $node exited; see $DIR/node-$node.log"
    sleep 0.2
  done
  die "node $node not healthy after 30 s; see $DIR/node-$node.log"
}

cmd=${1:-}
case "$cmd" in
  start)
    count=${2:-3}
    [[ "$count" =~ ^[1-9][0-9]*$ ]] || die "usage: scripts/cluster.sh start N"
    mkdir -p "$DIR"
    if [ ! -x "$BIN" ]; then say "building $BIN"; cargo build --release --quiet --bin ferry; fi
    scripts/kafka.sh status >/dev/null 2>&1 || scripts/kafka.sh start
    echo "$count" > "$DIR/nodes"
    for ((node = 1; node <= count; node++)); do write_properties "$node" "$count"; start_node "$node"; done
    for ((node = 1; node <= count; node++)); do wait_healthy "$node"; done
    say "$count workers ready; logs in $DIR"
    "$0" status
    ;;
  stop)
    for ((node = 1; node <= $(nodes); node++)); do
      if alive "$node"; then
        pid=$(pid_of "$node"); kill -TERM "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        say "node $node stopped"
      fi
      rm -f "$DIR/node-$node.pid"
    done
    ;;
  kill)
    node=${2:?usage: scripts/cluster.sh kill NODE}
    alive "$node" || die "node $node is not running"
    kill -KILL "$(pid_of "$node")"; rm -f "$DIR/node-$node.pid"
    say "node $node killed (kill -9)"
    ;;
  restart)
    node=${2:?usage: scripts/cluster.sh restart NODE}
    [ -f "$DIR/node-$node.properties" ] || die "node $node was never started"
    start_node "$node"; wait_healthy "$node"
    ;;
  status)
    printf '%-6s %-8s %-24s %s\n' NODE PID ADDRESS STATE
    for ((node = 1; node <= $(nodes); node++)); do
      state=stopped; alive "$node" && state=running
      printf '%-6s %-8s %-24s %s\n' "$node" "$(pid_of "$node")" "127.0.0.1:$(port_of "$node")" "$state"
    done
    for ((node = 1; node <= $(nodes); node++)); do
      if alive "$node"; then
        echo; echo "cluster as node $node sees it (GET /cluster):"
        curl -s "127.0.0.1:$(port_of "$node")/cluster" | python3 -c "$STATUS_TABLE" || true
        break
      fi
    done
    ;;
  *) echo "usage: scripts/cluster.sh start N | stop | kill NODE | restart NODE | status" >&2; exit 2 ;;
esac
