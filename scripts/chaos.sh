#!/usr/bin/env bash
# scripts/chaos.sh - kill Ferry workers at random (or cut them off the cluster's network) under a
# live pipeline and check no record is lost and no task runs twice.
#
#   scripts/chaos.sh [--nodes N] [--duration SECS] [--kill-every SECS] [--seed S] [--report FILE]
#                    [--state-dir DIR] [--session-timeout-ms MS] [--ferry PATH]
#                    [--partition [--partition-for SECS]] [--majority-loss]
#                    [--exactly-once [--boundary poll|interval]]
#   defaults: 3 nodes, 120 s, a kill every 15 s, seed 1, report <state dir>/chaos-report.json,
#   state dir /tmp/ferry-chaos-<pid>. CI size (scripts/test.sh): --duration 60 --kill-every 10
#   --session-timeout-ms 6000, --majority-loss --duration 40 --kill-every 20, --exactly-once
#   --duration 40 --kill-every 10 (each boundary), then --partition --duration 30
#   --kill-every 15 --partition-for 8.
#
# What it does (scripts/chaos/chaos.py, Python 3 standard library only):
#  1. Starts Kafka with scripts/kafka.sh if it is not running (and stops it at the end only then),
#     creates a topic with N partitions, starts N `ferry worker`s on free loopback ports with
#     config/offset/status topics and group unique to the run, waits until each is healthy and
#     every worker sees N ready members in GET /cluster.
#  2. Creates Datagen (quickstart=sequence, tasks.max=N, max.interval=20 ms, iterations=-1) and
#     FileStreamSink (tasks.max=N) writing <state dir>/sink-output.txt.
#  3. Every --kill-every s (until --duration): waits (<= 20 s) for every task to be RUNNING, picks
#     a victim (round k kills the current leader of GET /cluster when k % 3 == 2, otherwise a
#     non-leader drawn from random.Random(seed)), SIGKILLs it, measures failover, restarts it
#     after 3 s and waits until it is healthy and seen ready by every worker.
#  4. Stops the Datagen (PUT /connectors/<datagen>/stop), reads the topic back with kcat, waits
#     until the sink's committed offsets (GET /connectors/<sink>/offsets) reach the topic's end
#     offsets and the output has every produced record (or, failing that, has not grown for 10 s
#     with the group caught up; it gives up after 150 s without growth or 240 s in all), then
#     reports. A SIGKILLed sink task's consumer keeps its partitions until the group coordinator
#     expires its session (consumer session.timeout.ms, Kafka's default 45 s), so the sink can
#     stall that long after a kill; --session-timeout-ms sets consumer.session.timeout.ms on the
#     workers (>= the broker's group.min.session.timeout.ms, 6000) to shorten it.
#
# Metrics (JSON report keys):
#  kills           workers SIGKILLed.
#  produced        distinct (task, seq) pairs in the Datagen topic read from the beginning with
#                  kcat after the Datagen stopped: exactly the records Kafka acknowledged.
#  delivered       distinct (task, seq) pairs in the sink's file (lines `Struct{task=N,seq=I}`).
#  missing         |produced - delivered|: acknowledged records never written by the sink. Must be 0.
#  duplicates      sink lines with a (task, seq) minus delivered: records the sink wrote more than
#                  once (at-least-once redelivery after a kill; allowed, reported).
#  failover_s      p50/p99/max (nearest rank) over the rounds whose victim ran >= 1 task: seconds
#                  from the SIGKILL until every task that GET /connectors/{c}/status (asked of a
#                  survivor just before the kill) showed RUNNING on the victim shows RUNNING with
#                  another worker_id, polled every 100 ms on a survivor; deadline 60 s (a timeout
#                  fails the run). Includes failure detection (gossip), reassignment, task start
#                  and the new owner's RUNNING status reaching the status topic and the survivor.
#  double_running  samples (every 250 ms during the kill phase) in which the sum over live
#                  workers of their own running task count (each worker's own entry in its own
#                  GET /cluster, `task_count`: the tasks its supervisors run, as it gossips them)
#                  exceeds the tasks of both connectors (2N). Limits: counts, not task ids (a task
#                  running twice while another is not running at all is not seen); a sample is N
#                  requests, not an atomic snapshot, so a handover between two requests can be
#                  over- or under-counted; a killed worker is excluded from the moment of the kill;
#                  overlaps shorter than 250 ms can be missed. A non-zero value is a hint to look
#                  at the logs, not a proof.
#  Extras: drain_s (datagen stop until the sink caught up), sink_stall_max_s (longest time the
#  sink file did not grow during the kill phase, sampled every 250 ms), abandoned_task_stops
#  ("task did not stop in time; abandoning it" in the worker logs), failover_timeouts, produced_duplicates and produced_sequence_gaps (of the topic itself),
#  delivered_not_produced, double_running_samples/max_sum, every round, the settings.
#
# --partition (root, Linux `ip netns`; at least 3 nodes): instead of killing, every --kill-every s
#  cuts one worker off the others (round 1 a follower, round 2 the leader, alternating) for
#  --partition-for s (default 10, at least until its tasks moved), then heals. Each worker runs
#  in its own network namespace on a bridge (10.203.S.0/24); Kafka and this harness reach it
#  through relays that bypass the bridge (scripts/chaos/netns.py), so a cut worker loses the
#  others' gossip and RPCs but still reaches Kafka: the split-brain case. Per round it reports
#  (polled every ~100 ms): no_quorum (cut -> the cut-off worker's GET /cluster shows quorum
#  lost), stopped (cut -> it gossips 0 running tasks), elsewhere (cut -> every task it ran is
#  RUNNING with another worker_id per the majority), steady (heal -> every worker sees every
#  member and has the quorum, every task RUNNING, and each worker runs exactly the tasks the
#  status gives it: each task once), double (double_running samples while cut off), and the
#  lease holders the majority saw (a ping-pong would show here). A round fails when stopped or
#  elsewhere exceeds 30 s or steady is not reached within 60 s. Namespaces, veths, the bridge
#  and the relays are removed on exit, Ctrl-C too.
#
# --majority-loss (at least 3 nodes): every --kill-every s, SIGKILLs a majority of the workers at
#  once (2 of 3; odd rounds the leader among them), measures the takeover (failover_s: every task
#  the victims ran RUNNING on a survivor), restarts them after 3 s. The survivor has no gossip
#  majority; it goes on once the victims' liveness leases expired in Kafka on its clock
#  (cluster.lease.ms + cluster.fence.margin.ms, see docs/failure-model.md). A round fails when the
#  takeover exceeds 15 s; the run fails when double_running > 0.
#
# --exactly-once [--boundary poll|interval] (kill mode): the workers run with
#  exactly.once.source.support=enabled and the pipeline is the Datagen alone (quickstart=sequence,
#  tasks.max=N, exactly.once.support=required, transaction.boundary=poll by default; interval
#  commits every offset.flush.interval.ms, 1 s here): each task's records and source offsets go
#  in the transactions of its producer (transactional.id ${group.id}-${connector}-${task}).
#  Killed every --kill-every s as in the kill mode (failover_s, double_running the same). At the
#  end the Datagen is stopped (each task commits what is open); once no transaction is open in
#  the topic (each partition's last stable offset past its last record, up to 90 s: a read
#  before that stops at the first open transaction, one whose commit markers are still being
#  written, and misses what committed behind it) the topic is read from the beginning with kcat
#  -X isolation.level=read_committed. Report keys:
#   produced        distinct (task, seq) pairs committed.
#   missing         per task, the sequence numbers 0..max(seq) absent from the committed
#                   records (summed over the tasks): a record whose offset was committed without
#                   it, or a gap. Must be 0.
#   duplicates      committed records minus distinct (task, seq): a record committed twice (a
#                   zombie's transaction, or a restart from an offset older than what it had
#                   committed). Must be 0.
#   extras          records_in_log (read_uncommitted) and aborted_records (log - committed: the
#                   killed producers' open transactions, aborted when the task's new producer
#                   fenced its transactional.id), per_task, fenced_producer_logs.
#  The run also fails when a task has no committed record or a failover timed out.
#
# Exits 1 if missing > 0 (with --exactly-once: or duplicates > 0), a failover timed out or a
# partition round failed, 2 on usage errors,
# 130 when interrupted. Hard cap: duration + 300 s. Every process it started is stopped on exit
# (by pid), Ctrl-C too.
# --ferry PATH (or FERRY_BIN) runs that binary as is; otherwise `cargo build --release --bin
# ferry` runs first (a no-op when up to date; it honours CARGO_TARGET_DIR);
# FERRY_BOOTSTRAP the broker (default 127.0.0.1:9092).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

args=()
BIN=${FERRY_BIN:-}
while [ $# -gt 0 ]; do
  case $1 in
    --ferry) [ $# -ge 2 ] || { echo "chaos.sh: --ferry needs a path" >&2; exit 2; }; BIN=$2; shift 2 ;;
    --ferry=*) BIN=${1#--ferry=}; shift ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) args+=("$1"); shift ;;
  esac
done

if [ -z "$BIN" ]; then
  # Always ask cargo: it rebuilds when a source changed and returns at once otherwise.
  BIN=${CARGO_TARGET_DIR:-target}/release/ferry
  echo "chaos.sh: cargo build --release --bin ferry (-> $BIN)"
  cargo build --release --bin ferry
fi
[ -x "$BIN" ] || { echo "chaos.sh: $BIN is not an executable" >&2; exit 2; }
export FERRY_BIN=$BIN
command -v kcat >/dev/null || echo "chaos.sh: kcat missing; scripts/kafka.sh start installs it"
exec python3 scripts/chaos/chaos.py "${args[@]}"
