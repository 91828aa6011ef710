#!/usr/bin/env python3
"""Ferry chaos harness: SIGKILL workers of a live N-worker cluster under a sequence pipeline and
check that no record is lost. Run through scripts/chaos.sh (which builds the binary); standard
library only.

Pipeline: Datagen `sequence` (tasks.max = N, unlimited iterations, max.interval 20 ms) into a
topic created with N partitions, and FileStreamSink (tasks.max = N) into a file in the state dir.
Every --kill-every seconds one worker is killed with SIGKILL (round k kills the current leader
when k % 3 == 2, otherwise a non-leader picked by random.Random(--seed)); failover is measured
from /status; the worker is restarted after a 3 s pause. At the end the Datagen is stopped, the
sink drains, and the sink output is compared with what Kafka acknowledged (the topic read back
with kcat). See scripts/chaos.sh --help for the metrics.
"""

import argparse
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import netns

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BOOTSTRAP = os.environ.get("FERRY_BOOTSTRAP", "127.0.0.1:9092")
FAILOVER_DEADLINE_S = 60.0
# --majority-loss: a survivor takes over once the dead workers' Kafka leases expired on its clock:
# cluster.lease.ms (4 s) + cluster.fence.margin.ms (1 s) + a confirming read (<= 1 s) + leadership
# claim and task start; well under cluster.member.expiry.ms (30 s), the old behaviour.
MAJORITY_TAKEOVER_BOUND_S = 15.0
# --partition: the cut-off worker must have stopped its tasks, and they must run elsewhere, within
# these; after the heal the cluster must be back to one instance per task within STEADY.
PARTITION_STOP_DEADLINE_S = 30.0
PARTITION_STEADY_DEADLINE_S = 60.0
RESTART_PAUSE_S = 3.0
POLL_S = 0.1
SAMPLE_S = 0.25
# A SIGKILLed sink task's consumer keeps its partitions until the group coordinator expires its
# session (consumer session.timeout.ms, 45 s by default): the drain must outwait that.
DRAIN_STABLE_S = 10.0
DRAIN_IDLE_GIVE_UP_S = 150.0
DRAIN_DEADLINE_S = 240.0
HARD_CAP_EXTRA_S = 300
MAX_INTERVAL_MS = 20
LINE_RE = re.compile(r"task=(\d+),seq=(\d+)")

START = time.monotonic()


def log(msg):
    print("[chaos %7.1fs] %s" % (time.monotonic() - START, msg), flush=True)


class Abort(Exception):
    """Raised by the signal handlers and the hard cap: stop everything and clean up."""


# ------------------------------------------------------------------------------------ HTTP


def http(method, addr, path, body=None, timeout=3.0):
    """Returns (status, parsed JSON or None); raises OSError when the worker does not answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request("http://%s%s" % (addr, path), data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw = error.read()
        status = error.code
    try:
        return status, (json.loads(raw) if raw else None)
    except ValueError:
        return status, None


def try_get(addr, path, timeout=2.0):
    try:
        status, body = http("GET", addr, path, timeout=timeout)
        return body if status == 200 else None
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------------------ Kafka


def create_topic(name, partitions):
    """CreateTopics v4 (non-flexible; replication factor -1 = broker default) over a raw socket.
    Returns None on success, or an error string (the topic is then auto-created by the producer,
    with the broker's num.partitions)."""
    host, port = BOOTSTRAP.split(",")[0].rsplit(":", 1)

    def string(text):
        raw = text.encode()
        return struct.pack(">h", len(raw)) + raw

    body = struct.pack(">i", 1) + string(name) + struct.pack(">ihii", partitions, -1, 0, 0)
    body += struct.pack(">ib", 15000, 0)
    header = struct.pack(">hhi", 19, 4, 7) + string("ferry-chaos")
    payload = header + body
    try:
        with socket.create_connection((host, int(port)), timeout=20) as sock:
            sock.sendall(struct.pack(">i", len(payload)) + payload)
            size = struct.unpack(">i", recv_exact(sock, 4))[0]
            response = recv_exact(sock, size)
    except OSError as error:
        return "CreateTopics failed: %s" % error
    # correlation id, throttle, topics count, name, error code
    offset = 4 + 4 + 4
    name_len = struct.unpack_from(">h", response, offset)[0]
    offset += 2 + name_len
    code = struct.unpack_from(">h", response, offset)[0]
    if code in (0, 36):  # none, TOPIC_ALREADY_EXISTS
        return None
    return "CreateTopics error code %d" % code


def recv_exact(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def read_topic(topic, isolation=None, counts=None):
    """Reads the topic from the beginning to its end with kcat. `isolation`: the consumer's
    isolation.level when given (read_committed skips aborted and open transactions' records
    and ends at the last stable offset; librdkafka's default is read_committed too). Returns
    (set of (task, seq), records read, {partition: next offset read}); `counts`, a dict, gets how
    many times each (task, seq) was read."""
    isolation = ["-X", "isolation.level=%s" % isolation] if isolation else []
    out = subprocess.run(
        ["kcat", "-b", BOOTSTRAP, "-C", "-t", topic, "-o", "beginning", "-e", "-q"] + isolation
        + ["-f", "%p %o %s\n"],
        capture_output=True, text=True, timeout=120, check=False)
    if out.returncode != 0:
        raise RuntimeError("kcat failed: %s" % out.stderr.strip())
    produced, records, ends = set(), 0, {}
    for line in out.stdout.splitlines():
        parts = line.split(" ", 2)
        if len(parts) < 3:
            continue
        partition, offset = int(parts[0]), int(parts[1])
        ends[partition] = max(ends.get(partition, 0), offset + 1)
        try:
            payload = json.loads(parts[2])["payload"]
            pair = (int(payload["task"]), int(payload["seq"]))
            produced.add(pair)
            records += 1
            if counts is not None:
                counts[pair] = counts.get(pair, 0) + 1
        except (ValueError, KeyError, TypeError):
            pass
    return produced, records, ends


def last_stable_offsets(topic, partitions):
    """{partition: last stable offset} (kcat -Q asks for the end offsets with librdkafka's
    default isolation, read_committed: the first offset of the earliest open transaction, or
    the high watermark when none is open)."""
    args = ["kcat", "-b", BOOTSTRAP, "-Q"]
    for partition in partitions:
        args += ["-t", "%s:%d:-1" % (topic, partition)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    offsets = {}
    for match in re.finditer(r"\[(\d+)\] offset (-?\d+)", out.stdout):
        offsets[int(match.group(1))] = int(match.group(2))
    return offsets


def wait_transactions_ended(topic, timeout_s):
    """Waits until no transaction is open in `topic`: each partition's last stable offset is
    past its last record (read_uncommitted). A read_committed read before that stops at the
    first open transaction and misses what committed behind it (the last commits of a task
    that was just stopped, whose markers the broker is still writing, or a killed task's
    transaction until its successor fences it). Returns the seconds waited, None on timeout."""
    start = time.monotonic()
    while True:
        _, _, ends = read_topic(topic, "read_uncommitted")
        stable = last_stable_offsets(topic, sorted(ends))
        if all(stable.get(partition, -1) >= end for partition, end in ends.items()):
            return round(time.monotonic() - start, 1)
        if time.monotonic() - start > timeout_s:
            return None
        time.sleep(0.5)


def broker_ports():
    """Ports of every broker of the cluster (from its metadata, via kcat): a worker in a network
    namespace needs a relay for each, since the brokers advertise loopback addresses."""
    ports = {int(BOOTSTRAP.split(",")[0].rsplit(":", 1)[1])}
    out = subprocess.run(["kcat", "-b", BOOTSTRAP, "-L", "-t", "__ferry_chaos_none__"],
                         capture_output=True, text=True, timeout=30, check=False)
    for match in re.finditer(r"broker \d+ at ([^:\s]+):(\d+)", out.stdout):
        if match.group(1) not in ("127.0.0.1", "localhost"):
            raise RuntimeError("broker %s advertises a non-loopback address; --partition relays"
                               " loopback brokers only" % match.group(0))
        ports.add(int(match.group(2)))
    return sorted(ports)


def count_lines(path):
    if path is None:
        return 0
    try:
        with open(path, "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def read_sink(path):
    """Returns (set of (task, seq), lines with a (task, seq))."""
    delivered, lines = set(), 0
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                match = LINE_RE.search(line)
                if match:
                    delivered.add((int(match.group(1)), int(match.group(2))))
                    lines += 1
    except FileNotFoundError:
        pass
    return delivered, lines


# ------------------------------------------------------------------------------------ workers


def free_port():
    """A port free for both TCP (REST/gRPC) and UDP (gossip) a moment ago."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


class Worker:
    def __init__(self, index, port, state_dir, host="127.0.0.1", http_addr=None):
        self.index = index
        self.port = port
        # `addr`: what the worker advertises (its worker_id in statuses); `http`: where this
        # harness reaches it (the same on loopback; a relay into its namespace with --partition).
        self.addr = "%s:%d" % (host, port)
        self.http = http_addr or self.addr
        self.node_id = "chaos-node-%d" % index
        self.properties = os.path.join(state_dir, "worker-%d.properties" % index)
        self.log_path = os.path.join(state_dir, "worker-%d.log" % index)
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Cluster:
    def __init__(self, args, state_dir, prefix, network=None):
        self.args = args
        self.state_dir = state_dir
        self.prefix = prefix
        self.network = network
        self.binary = os.path.abspath(os.environ.get("FERRY_BIN", os.path.join(REPO, "target/release/ferry")))
        if network is None:
            self.workers = [Worker(i + 1, free_port(), state_dir) for i in range(args.nodes)]
        else:
            controls = network.setup()
            self.workers = [Worker(i + 1, netns.WORKER_PORT, state_dir, host=network.ip(i + 1),
                                   http_addr=controls[i]) for i in range(args.nodes)]
        self.lock = threading.Lock()
        seeds = ",".join(w.addr for w in self.workers)
        for w in self.workers:
            if network is None:
                listen = ["listeners=http://%s" % w.addr]
            else:
                listen = ["listeners=http://0.0.0.0:%d" % w.port,
                          "rest.advertised.host.name=%s" % w.addr.rsplit(":", 1)[0]]
            with open(w.properties, "w", encoding="utf-8") as handle:
                handle.write("\n".join([
                    "bootstrap.servers=%s" % BOOTSTRAP,
                    "group.id=%s" % prefix,
                ] + listen + [
                    "node.id=%s" % w.node_id,
                    "gossip.seeds=%s" % seeds,
                    "config.storage.topic=%s-configs" % prefix,
                    "offset.storage.topic=%s-offsets" % prefix,
                    "status.storage.topic=%s-status" % prefix,
                    "offset.storage.partitions=5",
                    "status.storage.partitions=2",
                    "offset.flush.interval.ms=1000",
                    "task.restart.max.failures=5",
                    "task.restart.initial.backoff.ms=100",
                    "task.restart.max.backoff.ms=1000",
                ] + (["consumer.session.timeout.ms=%d" % args.session_timeout_ms]
                     if args.session_timeout_ms else [])
                  + (["exactly.once.source.support=enabled"] if args.exactly_once else []) + [""]))

    def start(self, w):
        with open(w.log_path, "ab") as log_file:
            prefix = [] if self.network is None else self.network.command_prefix(w.index)
            # `ip netns exec` execs the worker: the pid is the worker's.
            w.proc = subprocess.Popen(
                prefix + [self.binary, "worker", w.properties], stdout=log_file, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        where = "" if w.http == w.addr else " (reached through %s)" % w.http
        log("worker %d (%s): started pid %d, http://%s%s, log %s"
            % (w.index, w.node_id, w.proc.pid, w.addr, where, w.log_path))

    def kill(self, w):
        with self.lock:
            pid = w.proc.pid
            w.proc.kill()  # SIGKILL
        w.proc.wait(timeout=10)
        return pid

    def live(self):
        with self.lock:
            return [w for w in self.workers if w.alive()]

    def wait_healthy(self, w, deadline):
        while time.monotonic() < deadline:
            if not w.alive():
                raise RuntimeError("worker %d exited (code %s); see %s" % (w.index, w.proc.returncode, w.log_path))
            try:
                status, _ = http("GET", w.http, "/health", timeout=1.0)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("worker %d not healthy in time; see %s" % (w.index, w.log_path))

    def wait_members(self, deadline, expected=None):
        """Until every live worker sees `expected` (default: all live) ready members."""
        while time.monotonic() < deadline:
            live = self.live()
            want = {w.node_id for w in live} if expected is None else expected
            ok = True
            for w in live:
                view = try_get(w.http, "/cluster")
                ready = {m["id"] for m in (view or {}).get("members", []) if m.get("ready")}
                if view is None or not want <= ready or len(ready) != len(want):
                    ok = False
                    break
            if ok:
                return True
            time.sleep(0.2)
        return False

    def stop_all(self):
        for w in self.workers:
            if w.alive():
                try:
                    w.proc.terminate()
                except OSError:
                    pass
        end = time.monotonic() + 10
        for w in self.workers:
            if w.proc is None:
                continue
            try:
                w.proc.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                log("worker %d (pid %d) still alive after SIGTERM; SIGKILL" % (w.index, w.proc.pid))
                w.proc.kill()
                w.proc.wait(timeout=5)
        log("stopped every worker this run started")


# ------------------------------------------------------------------------------------ sampler


class DoubleRunningSampler(threading.Thread):
    """Every SAMPLE_S, asks each live worker for GET /cluster and takes the task_count of its own
    entry (what it gossips as running: its local supervisor state), sums over the live workers
    and counts the samples where the sum exceeds the tasks of both connectors."""

    def __init__(self, cluster, expected):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.expected = expected
        self.samples = 0
        self.over = 0
        self.max_sum = 0
        self.sink_path = None
        self.sink_lines = -1
        self.sink_changed = time.monotonic()
        self.sink_stall_max = 0.0
        self.stop_event = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=max(2, len(cluster.workers)))

    def own_count(self, w):
        view = try_get(w.http, "/cluster", timeout=1.0)
        if view is None:
            return None
        for member in view.get("members", []):
            if member.get("id") == w.node_id:
                return int(member.get("task_count", 0))
        return None

    def run(self):
        while not self.stop_event.wait(SAMPLE_S):
            lines = count_lines(self.sink_path)
            now = time.monotonic()
            if lines != self.sink_lines:
                self.sink_lines, self.sink_changed = lines, now
            self.sink_stall_max = max(self.sink_stall_max, now - self.sink_changed)
            live = self.cluster.live()
            counts = list(self.pool.map(self.own_count, live))
            if any(c is None for c in counts):
                continue  # a worker did not answer (just killed, starting): no sample
            total = sum(counts)
            self.samples += 1
            self.max_sum = max(self.max_sum, total)
            if total > self.expected:
                self.over += 1

    def stop(self):
        self.stop_event.set()
        self.join(timeout=5)
        self.pool.shutdown(wait=False)


# ------------------------------------------------------------------------------------ run


def percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 1)) - 1))
    return round(ordered[rank], 3)


def running_tasks(addr, connectors):
    """{(connector, task id): worker_id} of RUNNING tasks per /status, or None if no answer."""
    result = {}
    for name in connectors:
        status = try_get(addr, "/connectors/%s/status" % name)
        if status is None:
            return None
        for task in status.get("tasks", []):
            if task.get("state") == "RUNNING":
                result[(name, task["id"])] = task.get("worker_id")
    return result


class Run:
    def __init__(self, args):
        self.args = args
        self.started_kafka = False
        stamp = time.strftime("%H%M%S")
        self.prefix = "chaos-%d-%s" % (os.getpid(), stamp)
        self.state_dir = args.state_dir or "/tmp/ferry-chaos-%d" % os.getpid()
        os.makedirs(self.state_dir, exist_ok=True)
        self.report_path = args.report or os.path.join(self.state_dir, "chaos-report.json")
        self.topic = "%s-seq" % self.prefix
        self.source = "%s-datagen" % self.prefix
        self.sink = "%s-sink" % self.prefix
        # --exactly-once: the Datagen alone (the topic is checked with a read_committed consumer).
        self.connectors = [self.source] if args.exactly_once else [self.source, self.sink]
        self.expected_tasks = len(self.connectors) * args.nodes
        self.output = None if args.exactly_once else os.path.join(self.state_dir, "sink-output.txt")
        self.cluster = None
        self.rounds = []
        self.failover_timeouts = 0
        self.sampler = None
        self.drain_s = None
        self.partitions = []
        self.partition_failures = []
        self.network = None

    # -------------------------------------------------------------- setup
    def setup(self, deadline):
        args = self.args
        log("state dir %s, names prefix %s, seed %d" % (self.state_dir, self.prefix, args.seed))
        kafka = [os.path.join(REPO, "scripts/kafka.sh")]
        if subprocess.run(kafka + ["status"], capture_output=True, check=False).returncode != 0:
            log("Kafka is not running: scripts/kafka.sh start (this run will stop it at the end)")
            self.started_kafka = True
            subprocess.run(kafka + ["start"], check=True)
        else:
            log("Kafka already running on %s (left running at the end)" % BOOTSTRAP)
        error = create_topic(self.topic, args.nodes)
        if error:
            log("warning: could not create %s with %d partitions (%s); the producer auto-creates it"
                % (self.topic, args.nodes, error))
        else:
            log("topic %s: %d partitions" % (self.topic, args.nodes))
        if args.partition:
            self.network = netns.Network(args.nodes, broker_ports(), log)
        self.cluster = Cluster(args, self.state_dir, self.prefix, self.network)
        for w in self.cluster.workers:
            self.cluster.start(w)
        for w in self.cluster.workers:
            self.cluster.wait_healthy(w, deadline)
        if not self.cluster.wait_members(min(deadline, time.monotonic() + 60)):
            raise RuntimeError("workers did not all see %d ready members in /cluster" % args.nodes)
        log("%d workers healthy; each sees %d ready members" % (args.nodes, args.nodes))
        first = self.cluster.workers[0].http
        datagen = {"connector.class": "Datagen", "kafka.topic": self.topic,
                   "quickstart": "sequence", "tasks.max": str(args.nodes),
                   "max.interval": str(MAX_INTERVAL_MS), "iterations": "-1"}
        if args.exactly_once:
            datagen.update({"exactly.once.support": "required",
                            "transaction.boundary": args.boundary})
            connectors = [(self.source, datagen)]
        else:
            connectors = [(self.source, datagen),
                          (self.sink, {"connector.class": "FileStreamSink", "topics": self.topic,
                                       "file": self.output, "tasks.max": str(args.nodes)})]
        for name, config in connectors:
            status, body = http("POST", first, "/connectors", {"name": name, "config": config}, timeout=30)
            if status not in (200, 201):
                raise RuntimeError("creating %s: HTTP %d %s" % (name, status, body))
            log("created %s: %s" % (name, json.dumps(config)))
        if not self.wait_all_running(min(deadline, time.monotonic() + 60)):
            raise RuntimeError("connectors' tasks not all RUNNING within 60 s")
        log("all %d tasks RUNNING; expected rate ~%d records/s (%d tasks, mean %d ms per record)"
            % (self.expected_tasks, args.nodes * 2000 // MAX_INTERVAL_MS, args.nodes, MAX_INTERVAL_MS // 2))

    def wait_all_running(self, deadline):
        want = self.expected_tasks
        while time.monotonic() < deadline:
            for w in self.cluster.live():
                tasks = running_tasks(w.http, self.connectors)
                if tasks is not None:
                    if len(tasks) == want:
                        return True
                    break
            time.sleep(0.2)
        return False

    # -------------------------------------------------------------- chaos
    def chaos(self, deadline):
        args = self.args
        rng = random.Random(args.seed)
        self.sampler = DoubleRunningSampler(self.cluster, self.expected_tasks)
        self.sampler.sink_path = self.output
        self.sampler.start()
        t0 = time.monotonic()
        end = t0 + args.duration
        print()
        if args.partition:
            print("%-5s %-7s %-13s %-6s %-5s %-9s %-9s %-10s %-10s %-7s %s" % (
                "round", "t(s)", "cut off", "leader", "tasks", "no_quorum", "stopped", "elsewhere",
                "steady", "double", "lease holders (majority's view)"), flush=True)
        else:
            print("%-5s %-8s %-14s %-6s %-6s %-10s %-9s %s" % ("round", "t(s)", "victim", "leader", "tasks", "failover", "sink_out", "moved to"), flush=True)
        round_no = 0
        while True:
            next_kill = t0 + (round_no + 1) * args.kill_every
            if next_kill > end:
                break
            while time.monotonic() < next_kill:
                time.sleep(min(0.2, next_kill - time.monotonic()))
            round_no += 1
            if time.monotonic() > deadline:
                raise Abort("hard cap reached")
            if args.partition:
                self.partition_round(round_no, rng, t0)
            else:
                self.one_round(round_no, rng, t0)
        self.sampler.stop()
        if args.partition:
            log("chaos phase over: %d partitions in %.0f s" % (len(self.partitions), time.monotonic() - t0))
        else:
            log("chaos phase over: %d kills in %.0f s" % (len(self.rounds), time.monotonic() - t0))

    def one_round(self, round_no, rng, t0):
        cluster = self.cluster
        live = cluster.live()
        # Steady state before the kill: every task RUNNING (bounded wait), then the leader.
        if not self.wait_all_running(time.monotonic() + 20):
            log("round %d: not every task RUNNING before the kill (after 20 s); killing anyway" % round_no)
        view = None
        for w in live:
            view = try_get(w.http, "/cluster")
            if view:
                break
        leader_id = (view or {}).get("leader")
        leader_round = round_no % 3 == 2
        candidates = [w for w in live if w.node_id != leader_id] or live
        pick = rng.choice(candidates)  # drawn every round, so the sequence only depends on the seed
        if self.args.majority_loss:
            # A majority at once: the leader (every other round) and followers drawn from the seed.
            count = len(live) // 2 + 1
            rest = [w for w in candidates if w is not pick]
            rng.shuffle(rest)
            leader = next((w for w in live if w.node_id == leader_id), None)
            first = [leader] if (round_no % 2 == 1 and leader is not None) else []
            victims = (first + [pick] + rest)[:count]
        else:
            victims = [next((w for w in live if w.node_id == leader_id), pick) if leader_round else pick]
        is_leader = any(v.node_id == leader_id for v in victims)
        survivors = [w for w in live if w not in victims]
        before = None
        for w in survivors:
            before = running_tasks(w.http, self.connectors)
            if before is not None:
                break
        victim_addrs = {v.addr for v in victims}
        on_victim = sorted(k for k, v in (before or {}).items() if v in victim_addrs)
        sink_out = count_lines(self.output)
        pids = [cluster.kill(victim) for victim in victims]
        killed_at = time.monotonic()
        log("round %d: SIGKILL worker(s) %s (pid %s)%s with %d RUNNING tasks: %s"
            % (round_no, ",".join("%d (%s)" % (v.index, v.node_id) for v in victims),
               ",".join(str(pid) for pid in pids), " [leader]" if is_leader else "",
               len(on_victim), ", ".join("%s/%d" % (c[len(self.prefix) + 1:], t) for c, t in on_victim) or "-"))
        failover, moved = None, {}
        timed_out = False
        while True:
            now = time.monotonic()
            if now - killed_at > FAILOVER_DEADLINE_S:
                timed_out = True
                break
            current = None
            for w in survivors:
                current = running_tasks(w.http, self.connectors)
                if current is not None:
                    break
            if current is not None and all(
                    k in current and current[k] not in victim_addrs for k in on_victim):
                failover = time.monotonic() - killed_at
                moved = {k: current[k] for k in on_victim}
                break
            time.sleep(POLL_S)
        if timed_out:
            self.failover_timeouts += 1
        targets = sorted({a for a in moved.values()})
        victim_ids = ",".join(v.node_id for v in victims)
        self.rounds.append({
            "round": round_no, "t_s": round(killed_at - t0, 1), "victim": victim_ids,
            "victim_addr": ",".join(v.addr for v in victims), "victims": len(victims),
            "leader": is_leader, "tasks_on_victim": len(on_victim),
            "failover_s": None if failover is None else round(failover, 3), "timed_out": timed_out,
            "moved_to": targets, "sink_lines_at_kill": sink_out,
        })
        shown = "TIMEOUT" if timed_out else "%.3fs" % failover
        print("%-5d %-8.1f %-14s %-6s %-6d %-10s %-9d %s" % (
            round_no, killed_at - t0, victim_ids, "yes" if is_leader else "no",
            len(on_victim), shown, sink_out, ",".join(targets) or "-"), flush=True)
        pause = RESTART_PAUSE_S - (time.monotonic() - killed_at)
        if pause > 0:
            time.sleep(pause)
        for victim in victims:
            cluster.start(victim)
        for victim in victims:
            cluster.wait_healthy(victim, time.monotonic() + 60)
        if not cluster.wait_members(time.monotonic() + 30):
            log("round %d: not every worker sees every member ready after 30 s" % round_no)
        log("round %d: worker(s) %s back (healthy, %.1f s after the kill)"
            % (round_no, ",".join(str(v.index) for v in victims), time.monotonic() - killed_at))

    # -------------------------------------------------------------- partitions
    def partition_round(self, round_no, rng, t0):
        """Cuts one worker off from the others' gossip and RPCs (it still reaches Kafka), checks
        its tasks stop and run elsewhere, holds the partition, heals it and waits until every task
        runs exactly once again."""
        cluster, network = self.cluster, self.network
        workers = cluster.workers
        connectors = self.connectors
        if not self.wait_all_running(time.monotonic() + 30):
            log("round %d: not every task RUNNING before the cut (after 30 s); cutting anyway" % round_no)
        view = None
        for w in workers:
            view = try_get(w.http, "/cluster")
            if view:
                break
        leader_id = (view or {}).get("leader")
        leader_round = round_no % 2 == 0
        followers = [w for w in workers if w.node_id != leader_id] or workers
        pick = rng.choice(followers)
        victim = next((w for w in workers if w.node_id == leader_id), pick) if leader_round else pick
        majority = [w for w in workers if w is not victim]
        before = running_tasks(victim.http, connectors) or {}
        on_victim = sorted(k for k, v in before.items() if v == victim.addr)
        own_before = self.sampler.own_count(victim)
        over_before = self.sampler.over
        network.cut(victim.index)
        cut_at = time.monotonic()
        log("round %d: CUT worker %d (%s)%s off the others (Kafka still reachable); it runs %s tasks: %s"
            % (round_no, victim.index, victim.node_id, " [leader]" if victim.node_id == leader_id else "",
               own_before, ", ".join("%s/%d" % (c[len(self.prefix) + 1:], t) for c, t in on_victim) or "-"))
        stopped_s = elsewhere_s = quorum_lost_s = None
        lease_holders = []
        hold_until = cut_at + self.args.partition_for
        while True:
            now = time.monotonic()
            if stopped_s is None:
                victim_view = try_get(victim.http, "/cluster", timeout=1.0)
                if victim_view is not None:
                    if quorum_lost_s is None and not victim_view.get("quorum", {}).get("has_quorum", True):
                        quorum_lost_s = now - cut_at
                    own = [m for m in victim_view.get("members", []) if m.get("id") == victim.node_id]
                    if own and int(own[0].get("task_count", 0)) == 0:
                        stopped_s = now - cut_at
            if elsewhere_s is None:
                current = None
                for w in majority:
                    current = running_tasks(w.http, connectors)
                    if current is not None:
                        break
                if current is not None and all(k in current and current[k] != victim.addr for k in on_victim):
                    elsewhere_s = now - cut_at
            for w in majority:
                majority_view = try_get(w.http, "/cluster", timeout=1.0)
                if majority_view is not None:
                    holder = majority_view.get("quorum", {}).get("lease_holder")
                    if holder and (not lease_holders or lease_holders[-1] != holder):
                        lease_holders.append(holder)
                    break
            done = stopped_s is not None and elsewhere_s is not None
            if done and now >= hold_until:
                break
            if now - cut_at > FAILOVER_DEADLINE_S:
                break
            time.sleep(POLL_S)
        victim_view = try_get(victim.http, "/cluster", timeout=1.0) or {}
        victim_quorum = victim_view.get("quorum", {})
        victim_own = [m for m in victim_view.get("members", []) if m.get("id") == victim.node_id]
        network.heal(victim.index)
        heal_at = time.monotonic()
        over_partition = self.sampler.over - over_before
        log("round %d: HEAL worker %d after %.1f s (its view at the heal: quorum %s, %s task(s) running)"
            % (round_no, victim.index, heal_at - cut_at, victim_quorum.get("has_quorum"),
               victim_own[0].get("task_count") if victim_own else "?"))
        steady_s = self.wait_steady(heal_at + PARTITION_STEADY_DEADLINE_S)
        steady_s = None if steady_s is None else steady_s - heal_at
        failures = []
        if stopped_s is None or stopped_s > PARTITION_STOP_DEADLINE_S:
            failures.append("round %d: the cut-off worker's tasks did not stop within %.0f s" % (round_no, PARTITION_STOP_DEADLINE_S))
        if elsewhere_s is None or elsewhere_s > PARTITION_STOP_DEADLINE_S:
            failures.append("round %d: the cut-off worker's tasks did not run elsewhere within %.0f s" % (round_no, PARTITION_STOP_DEADLINE_S))
        if steady_s is None:
            failures.append("round %d: no steady state (each task once, all members) %.0f s after the heal" % (round_no, PARTITION_STEADY_DEADLINE_S))
        self.partition_failures.extend(failures)
        fmt = lambda v: "-" if v is None else "%.2fs" % v  # noqa: E731
        self.partitions.append({
            "round": round_no, "t_s": round(cut_at - t0, 1), "victim": victim.node_id,
            "leader": victim.node_id == leader_id, "tasks_on_victim": own_before,
            "quorum_lost_s": None if quorum_lost_s is None else round(quorum_lost_s, 2),
            "stopped_s": None if stopped_s is None else round(stopped_s, 2),
            "elsewhere_s": None if elsewhere_s is None else round(elsewhere_s, 2),
            "held_s": round(heal_at - cut_at, 1),
            "victim_had_quorum_at_heal": victim_quorum.get("has_quorum"),
            "lease_holders": lease_holders,
            "double_running_samples": over_partition,
            "steady_after_heal_s": None if steady_s is None else round(steady_s, 2),
            "failures": failures,
        })
        print("%-5d %-7.1f %-13s %-6s %-5s %-9s %-9s %-10s %-10s %-7d %s" % (
            round_no, cut_at - t0, victim.node_id, "yes" if victim.node_id == leader_id else "no",
            own_before, fmt(quorum_lost_s), fmt(stopped_s), fmt(elsewhere_s), fmt(steady_s),
            over_partition, "->".join(lease_holders) or "-"), flush=True)
        for failure in failures:
            log("FAIL " + failure)

    def wait_steady(self, deadline):
        """Until every worker sees every member ready and has the quorum, every task is RUNNING
        per /status, and each worker runs exactly the tasks /status gives it (its own gossiped
        count), summing to all tasks: each task runs once. Returns the time or None."""
        cluster = self.cluster
        want = self.expected_tasks
        connectors = self.connectors
        while time.monotonic() < deadline:
            if not cluster.wait_members(min(deadline, time.monotonic() + 1)):
                continue
            views = [try_get(w.http, "/cluster", timeout=1.0) for w in cluster.workers]
            status = running_tasks(cluster.workers[0].http, connectors)
            if status is not None and len(status) == want and all(v is not None for v in views):
                ok = True
                total = 0
                for w, view in zip(cluster.workers, views):
                    if not view.get("quorum", {}).get("has_quorum"):
                        ok = False
                        break
                    own = [m for m in view.get("members", []) if m.get("id") == w.node_id]
                    count = int(own[0].get("task_count", -1)) if own else -1
                    total += count
                    if count != sum(1 for owner in status.values() if owner == w.addr):
                        ok = False
                        break
                if ok and total == want:
                    return time.monotonic()
            time.sleep(0.2)
        return None

    # -------------------------------------------------------------- drain and verify
    def stop_source(self):
        """PUT /connectors/<datagen>/stop and waits (<= 60 s) until it is STOPPED without tasks
        (with exactly-once, each task's stop commits its open transaction)."""
        any_addr = lambda: self.cluster.live()[0].http  # noqa: E731
        status, _ = http("PUT", any_addr(), "/connectors/%s/stop" % self.source, timeout=30)
        log("PUT /connectors/%s/stop: HTTP %d" % (self.source, status))
        stop_deadline = time.monotonic() + 60
        while time.monotonic() < stop_deadline:
            st = try_get(any_addr(), "/connectors/%s/status" % self.source)
            if st and st.get("connector", {}).get("state") == "STOPPED" and not st.get("tasks"):
                break
            time.sleep(0.2)
        else:
            log("warning: %s not STOPPED without tasks after 60 s" % self.source)

    def drain(self, deadline):
        any_addr = lambda: self.cluster.live()[0].http  # noqa: E731
        self.stop_source()
        log("datagen stopped; reading %s back from Kafka" % self.topic)
        produced, _, ends = read_topic(self.topic)
        log("topic end offsets %s (%d records)" % (ends, sum(ends.values())))
        drain_end = min(deadline, time.monotonic() + DRAIN_DEADLINE_S)
        last_count, last_change = -1, time.monotonic()
        caught_up_logged = False
        last_report = time.monotonic()
        drain_start = time.monotonic()
        while time.monotonic() < drain_end:
            delivered, _ = read_sink(self.output)
            if len(delivered) != last_count:
                last_count, last_change = len(delivered), time.monotonic()
            offsets = try_get(any_addr(), "/connectors/%s/offsets" % self.sink, timeout=15) or {}
            committed = {o["partition"]["kafka_partition"]: o["offset"]["kafka_offset"]
                         for o in offsets.get("offsets", []) if o.get("offset")}
            caught_up = all(committed.get(p, 0) >= e for p, e in ends.items())
            if caught_up and not caught_up_logged:
                log("sink consumer group caught up with the end offsets: %s" % committed)
                caught_up_logged = True
            if caught_up and produced <= delivered:
                log("every produced record is in the sink output")
                break
            if time.monotonic() - last_change >= DRAIN_STABLE_S and caught_up:
                log("sink output unchanged for %.0f s and group caught up" % DRAIN_STABLE_S)
                break
            if time.monotonic() - last_change >= DRAIN_IDLE_GIVE_UP_S:
                log("giving up: sink output unchanged for %.0f s (group committed %s, ends %s)"
                    % (DRAIN_IDLE_GIVE_UP_S, committed, ends))
                break
            if time.monotonic() - last_report >= 10:
                last_report = time.monotonic()
                log("draining: sink output %d/%d distinct, committed %s, end offsets %s"
                    % (len(delivered), len(produced), committed, ends))
            time.sleep(1.0)
        else:
            log("warning: drain deadline reached")
        self.drain_s = round(time.monotonic() - drain_start, 1)
        log("drain took %.1f s" % self.drain_s)
        produced_again, produced_records, _ = read_topic(self.topic)
        return produced_again, produced_records

    def verify(self, produced, produced_records):
        delivered, lines = read_sink(self.output)
        missing = produced - delivered
        gaps = 0
        by_task = {}
        for task, seq in produced:
            by_task.setdefault(task, []).append(seq)
        for task, seqs in by_task.items():
            gaps += (max(seqs) + 1) - len(seqs)
        failovers = [r["failover_s"] for r in self.rounds if r["failover_s"] is not None and r["tasks_on_victim"] > 0]
        report = {
            "kills": len(self.rounds),
            "produced": len(produced),
            "delivered": len(delivered),
            "missing": len(missing),
            "duplicates": lines - len(delivered),
            "failover_s": {"p50": percentile(failovers, 0.50), "p99": percentile(failovers, 0.99),
                           "max": round(max(failovers), 3) if failovers else None},
            "double_running": self.sampler.over if self.sampler else 0,
            # extras
            "double_running_samples": self.sampler.samples if self.sampler else 0,
            "double_running_max_sum": self.sampler.max_sum if self.sampler else 0,
            "expected_tasks": self.expected_tasks,
            "failover_timeouts": self.failover_timeouts,
            "produced_records": produced_records,
            "produced_duplicates": produced_records - len(produced),
            "produced_sequence_gaps": gaps,
            "delivered_not_produced": len(delivered - produced),
            "sink_lines": lines,
            "sink_stall_max_s": round(self.sampler.sink_stall_max, 1) if self.sampler else None,
            "abandoned_task_stops": self.abandoned(),
            "drain_s": self.drain_s,
            "missing_examples": sorted(missing)[:20],
            "rounds": self.rounds,
            "partitions": self.partitions,
            "partition_summary": partition_summary(self.partitions),
            "partition_failures": self.partition_failures,
            "settings": {"nodes": self.args.nodes, "duration_s": self.args.duration,
                         "kill_every_s": self.args.kill_every, "seed": self.args.seed,
                         "max_interval_ms": MAX_INTERVAL_MS, "topic": self.topic,
                         "consumer_session_timeout_ms": self.args.session_timeout_ms,
                         "partition": self.args.partition, "partition_for_s": self.args.partition_for,
                         "majority_loss": self.args.majority_loss,
                         "state_dir": self.state_dir},
        }
        return report

    def verify_exactly_once(self):
        """--exactly-once: reads the topic as a read_committed consumer and checks each task's
        committed sequence (0..max, each number once); also reads it read_uncommitted to count
        the records of aborted transactions (a fenced or killed producer's)."""
        # A killed producer's transaction ends when its successor fences it, or after
        # transaction.timeout.ms (60 s).
        waited = wait_transactions_ended(self.topic, 90)
        if waited is None:
            log("warning: transactions still open in %s after 90 s; reading it anyway" % self.topic)
        else:
            log("no transaction open in %s (waited %.1f s)" % (self.topic, waited))
        counts = {}
        committed, committed_records, ends = read_topic(self.topic, "read_committed", counts)
        _, all_records, _ = read_topic(self.topic, "read_uncommitted")
        by_task = {}
        for task, seq in committed:
            by_task.setdefault(task, []).append(seq)
        missing, gap_examples = 0, []
        for task, seqs in sorted(by_task.items()):
            present = set(seqs)
            task_missing = [seq for seq in range(max(seqs) + 1) if seq not in present]
            missing += len(task_missing)
            gap_examples.extend((task, seq) for seq in task_missing[:5])
        duplicated = sorted(pair for pair, count in counts.items() if count > 1)
        failovers = [r["failover_s"] for r in self.rounds if r["failover_s"] is not None and r["tasks_on_victim"] > 0]
        return {
            "kills": len(self.rounds),
            "produced": len(committed),
            "missing": missing,
            "duplicates": committed_records - len(committed),
            "failover_s": {"p50": percentile(failovers, 0.50), "p99": percentile(failovers, 0.99),
                           "max": round(max(failovers), 3) if failovers else None},
            "double_running": self.sampler.over if self.sampler else 0,
            # extras
            "committed_records": committed_records,
            "tasks_seen": sorted(by_task),
            "per_task": {str(task): {"committed": len(seqs), "max_seq": max(seqs)}
                         for task, seqs in sorted(by_task.items())},
            "records_in_log": all_records,
            "aborted_records": all_records - committed_records,
            "committed_end_offsets": ends,
            "missing_examples": gap_examples[:20],
            "duplicate_examples": duplicated[:20],
            "double_running_samples": self.sampler.samples if self.sampler else 0,
            "double_running_max_sum": self.sampler.max_sum if self.sampler else 0,
            "expected_tasks": self.expected_tasks,
            "failover_timeouts": self.failover_timeouts,
            "abandoned_task_stops": self.abandoned(),
            "fenced_producer_logs": self.log_matches(("fenced by a newer instance", "fenced by newer producer")),
            "rounds": self.rounds,
            "settings": {"nodes": self.args.nodes, "duration_s": self.args.duration,
                         "kill_every_s": self.args.kill_every, "seed": self.args.seed,
                         "max_interval_ms": MAX_INTERVAL_MS, "topic": self.topic,
                         "exactly_once": True, "transaction_boundary": self.args.boundary,
                         "state_dir": self.state_dir},
        }

    def log_matches(self, needles):
        """Worker log lines containing one of `needles`."""
        count = 0
        for w in self.cluster.workers:
            try:
                with open(w.log_path, encoding="utf-8", errors="replace") as handle:
                    count += sum(1 for line in handle if any(n in line for n in needles))
            except FileNotFoundError:
                pass
        return count

    def abandoned(self):
        """'task did not stop in time; abandoning it' warnings in the workers' logs."""
        count = 0
        for w in self.cluster.workers:
            try:
                with open(w.log_path, encoding="utf-8", errors="replace") as handle:
                    count += sum(1 for line in handle if "abandoning it" in line)
            except FileNotFoundError:
                pass
        return count

    def cleanup(self):
        if self.sampler is not None:
            self.sampler.stop_event.set()
        if self.cluster is not None:
            self.cluster.stop_all()
        if self.network is not None:
            self.network.teardown()
        if self.started_kafka:
            log("stopping the Kafka this run started")
            subprocess.run([os.path.join(REPO, "scripts/kafka.sh"), "stop"], check=False)


def partition_summary(partitions):
    def stats(key):
        values = [p[key] for p in partitions if p[key] is not None]
        return {"p50": percentile(values, 0.5), "max": max(values) if values else None}
    return {"partitions": len(partitions), "quorum_lost_s": stats("quorum_lost_s"),
            "stopped_s": stats("stopped_s"), "elsewhere_s": stats("elsewhere_s"),
            "steady_after_heal_s": stats("steady_after_heal_s"),
            "double_running_samples": sum(p["double_running_samples"] for p in partitions)}


def print_exactly_once_summary(report, report_path):
    fo = report["failover_s"]
    fmt = lambda v: "-" if v is None else "%.3f s" % v  # noqa: E731
    rows = [
        ("kills", report["kills"]),
        ("produced (distinct task,seq committed)", report["produced"]),
        ("missing (gaps in each task's sequence)", report["missing"]),
        ("duplicates (committed records - distinct)", report["duplicates"]),
        ("failover p50 / p99 / max", "%s / %s / %s" % (fmt(fo["p50"]), fmt(fo["p99"]), fmt(fo["max"]))),
        ("failover timeouts (> %.0f s)" % FAILOVER_DEADLINE_S, report["failover_timeouts"]),
        ("double_running (samples over %d tasks)" % report["expected_tasks"],
         "%d of %d (max sum %d)" % (report["double_running"], report["double_running_samples"], report["double_running_max_sum"])),
        ("tasks with committed records", ",".join(str(t) for t in report["tasks_seen"])),
        ("records in the log (read_uncommitted)", report["records_in_log"]),
        ("aborted records (log - committed)", report["aborted_records"]),
        ("fenced-producer lines (worker logs)", report["fenced_producer_logs"]),
        ("task stops abandoned (worker logs)", report["abandoned_task_stops"]),
    ]
    print()
    print("%-46s %s" % ("metric", "value"))
    print("-" * 70)
    for name, value in rows:
        print("%-46s %s" % (name, value))
    print()
    print("report: %s" % report_path, flush=True)


def exactly_once_failures(report, nodes):
    failures = []
    if report["missing"] > 0:
        failures.append("%d sequence numbers missing from the committed records, e.g. %s"
                        % (report["missing"], report["missing_examples"][:5]))
    if report["duplicates"] > 0:
        failures.append("%d committed duplicates, e.g. %s"
                        % (report["duplicates"], report["duplicate_examples"][:5]))
    if report["tasks_seen"] != list(range(nodes)):
        failures.append("committed records of tasks %s, expected 0..%d" % (report["tasks_seen"], nodes - 1))
    if report["failover_timeouts"] > 0:
        failures.append("%d failover(s) took longer than %.0f s" % (report["failover_timeouts"], FAILOVER_DEADLINE_S))
    return failures


def print_summary(report, report_path):
    fo = report["failover_s"]
    fmt = lambda v: "-" if v is None else "%.3f s" % v  # noqa: E731
    ps = report["partition_summary"]
    pfmt = lambda d: "%s / %s" % (fmt(d["p50"]), fmt(d["max"]))  # noqa: E731
    partition_rows = [
        ("partitions", ps["partitions"]),
        ("cut -> cut-off worker lost quorum p50 / max", pfmt(ps["quorum_lost_s"])),
        ("cut -> its tasks stopped p50 / max", pfmt(ps["stopped_s"])),
        ("cut -> its tasks RUNNING elsewhere p50 / max", pfmt(ps["elsewhere_s"])),
        ("heal -> each task once, all members p50 / max", pfmt(ps["steady_after_heal_s"])),
        ("double_running samples while cut off", ps["double_running_samples"]),
        ("partition failures", len(report["partition_failures"])),
    ] if ps["partitions"] else []
    rows = partition_rows + [
        ("kills", report["kills"]),
        ("produced (distinct task,seq acked by Kafka)", report["produced"]),
        ("delivered (distinct task,seq in sink file)", report["delivered"]),
        ("missing (produced - delivered)", report["missing"]),
        ("duplicates (sink lines - distinct)", report["duplicates"]),
        ("failover p50 / p99 / max", "%s / %s / %s" % (fmt(fo["p50"]), fmt(fo["p99"]), fmt(fo["max"]))),
        ("failover timeouts (> %.0f s)" % FAILOVER_DEADLINE_S, report["failover_timeouts"]),
        ("double_running (samples over %d tasks)" % report["expected_tasks"],
         "%d of %d (max sum %d)" % (report["double_running"], report["double_running_samples"], report["double_running_max_sum"])),
        ("produced: duplicate records in topic", report["produced_duplicates"]),
        ("produced: sequence gaps in topic", report["produced_sequence_gaps"]),
        ("drain (datagen stop -> sink caught up)", "%s s" % report["drain_s"]),
        ("longest sink output stall during kills", "%s s" % report["sink_stall_max_s"]),
        ("task stops abandoned (worker logs)", report["abandoned_task_stops"]),
    ]
    print()
    print("%-46s %s" % ("metric", "value"))
    print("-" * 70)
    for name, value in rows:
        print("%-46s %s" % (name, value))
    print()
    print("report: %s" % report_path, flush=True)


def main():
    parser = argparse.ArgumentParser(prog="scripts/chaos.sh")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--duration", type=int, default=120)
    parser.add_argument("--kill-every", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report")
    parser.add_argument("--state-dir")
    parser.add_argument("--session-timeout-ms", type=int, default=None,
                        help="consumer.session.timeout.ms for the sink tasks (default: Kafka's 45000)")
    parser.add_argument("--partition", action="store_true",
                        help="cut a worker off the others' gossip (network namespaces) instead of killing it")
    parser.add_argument("--partition-for", type=int, default=10,
                        help="seconds each partition is held (at least until the tasks moved)")
    parser.add_argument("--majority-loss", action="store_true",
                        help="kill a majority of the workers at once each round (2 of 3)")
    parser.add_argument("--exactly-once", action="store_true",
                        help="exactly-once Datagen alone, checked with a read_committed consumer")
    parser.add_argument("--boundary", choices=["poll", "interval"], default=None,
                        help="--exactly-once: transaction.boundary (default poll)")
    args = parser.parse_args()
    if args.boundary is not None and not args.exactly_once:
        parser.error("--boundary needs --exactly-once")
    args.boundary = args.boundary or "poll"
    if args.exactly_once and (args.partition or args.majority_loss):
        parser.error("--exactly-once kills one worker a round; it excludes --partition and --majority-loss")
    if args.majority_loss and args.partition:
        parser.error("--majority-loss and --partition are exclusive")
    if args.majority_loss and args.nodes < 3:
        parser.error("--majority-loss needs at least 3 nodes (one must survive a majority's loss)")
    if args.partition:
        if os.geteuid() != 0:
            parser.error("--partition needs root (it creates network namespaces)")
        if subprocess.run(["ip", "netns", "list"], capture_output=True, check=False).returncode != 0:
            parser.error("--partition needs `ip netns` (iproute2)")
        if args.nodes < 3:
            parser.error("--partition needs at least 3 nodes (a majority must remain)")
    if args.nodes < 2:
        parser.error("--nodes must be at least 2 (a killed worker's tasks need somewhere to go)")
    if args.kill_every < 1 or args.duration < 1:
        parser.error("--duration and --kill-every must be positive")

    run = Run(args)
    hard_cap = args.duration + HARD_CAP_EXTRA_S
    deadline = START + hard_cap

    def on_signal(signum, _frame):
        raise Abort("signal %d" % signum)

    def on_alarm(_signum, _frame):
        raise Abort("hard cap of %d s reached" % hard_cap)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(hard_cap)
    code = 0
    try:
        run.setup(deadline)
        run.chaos(deadline)
        if args.exactly_once:
            run.stop_source()
            signal.alarm(0)
            log("datagen stopped; reading %s back with read_committed" % run.topic)
            report = run.verify_exactly_once()
            with open(run.report_path, "w", encoding="utf-8") as handle:
                json.dump(report, handle, indent=2)
                handle.write("\n")
            print_exactly_once_summary(report, run.report_path)
            failures = exactly_once_failures(report, args.nodes)
            for failure in failures:
                log("FAIL: %s" % failure)
            if not failures:
                log("PASS: exactly once (%s boundary): %d committed records, 0 missing, 0 duplicates,"
                    " every failover within %.0f s" % (args.boundary, report["produced"], FAILOVER_DEADLINE_S))
            return 1 if failures else 0
        produced, records = run.drain(deadline)
        signal.alarm(0)
        report = run.verify(produced, records)
        with open(run.report_path, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
            handle.write("\n")
        print_summary(report, run.report_path)
        if report["missing"] > 0:
            log("FAIL: %d produced records missing from the sink output, e.g. %s"
                % (report["missing"], report["missing_examples"][:5]))
            code = 1
        if report["failover_timeouts"] > 0:
            log("FAIL: %d failover(s) took longer than %.0f s" % (report["failover_timeouts"], FAILOVER_DEADLINE_S))
            code = 1
        if args.majority_loss:
            slow = [r for r in run.rounds if r["failover_s"] is not None and r["failover_s"] > MAJORITY_TAKEOVER_BOUND_S]
            if slow:
                log("FAIL: %d majority-loss takeover(s) slower than %.0f s (the dead members' leases"
                    " should expire long before cluster.member.expiry.ms)" % (len(slow), MAJORITY_TAKEOVER_BOUND_S))
                code = 1
            if report["double_running"] > 0:
                log("FAIL: %d double_running samples" % report["double_running"])
                code = 1
        for failure in report["partition_failures"]:
            log("FAIL: %s" % failure)
            code = 1
        if code == 0 and args.partition:
            log("PASS: no record missing; every cut-off worker stopped its tasks, they ran elsewhere,"
                " and after each heal every task ran exactly once")
        elif code == 0 and args.majority_loss:
            log("PASS: no record missing, every majority-loss takeover within %.0f s, double_running 0"
                % MAJORITY_TAKEOVER_BOUND_S)
        elif code == 0:
            log("PASS: no record missing, every failover within %.0f s" % FAILOVER_DEADLINE_S)
    except Abort as reason:
        log("aborting: %s" % reason)
        code = 130
    except Exception as error:  # noqa: BLE001 - report and clean up
        log("error: %s" % error)
        code = 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        run.cleanup()
        log("state and logs kept in %s; took %.0f s" % (run.state_dir, time.monotonic() - START))
    return code


if __name__ == "__main__":
    sys.exit(main())
