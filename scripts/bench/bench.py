#!/usr/bin/env python3
"""Ferry against raw librdkafka and Apache Kafka Connect, in one run on the same broker and machine.
Run through scripts/bench.sh (which builds the binaries, starts Kafka and fetches the Kafka Connect
jars); standard library only. See scripts/bench.sh for what is measured and how.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BOOTSTRAP = os.environ.get("FERRY_BOOTSTRAP", "127.0.0.1:9092")
FERRY = os.environ.get("FERRY_BIN", os.path.join(REPO, "target", "release", "ferry"))
FERRY_BENCH = os.environ.get("FERRY_BENCH", os.path.join(REPO, "target", "release", "ferry-bench"))
CONNECT_LIB = os.environ.get("FERRY_CONNECT_LIB", "")
# The plugin location of Apache's connect-file 4.3.1 jar (scripts/fetch-test-plugins.sh prints its
# parent); the worker finds the plugin host through FERRY_PLUGIN_HOST_DIR or its default.
CONNECT_FILE_LOCATION = os.environ.get("FERRY_CONNECT_FILE_LOCATION", "")
CONNECT_FILE_VERSION = "4.3.1"
PLUGIN_HOST_MAIN = "dev.ferry.pluginhost.Main"
PLUGIN_HOST_DEADLINE_S = 120.0
JAR_SOURCE = "source (connect-file jar)"
JAR_SINK = "sink (connect-file jar)"
JAVA = os.environ.get("FERRY_JAVA", "/usr/bin/java")
# The official bin/connect-distributed.sh default heap, and kafka-run-class.sh's JVM flags.
CONNECT_HEAP_OPTS = os.environ.get("FERRY_BENCH_CONNECT_HEAP_OPTS", "-Xms256M -Xmx2G")
CONNECT_JVM_OPTS = (
    "-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 "
    "-XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true"
)
CONNECT_MAIN = "org.apache.kafka.connect.cli.ConnectDistributed"
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
RECORD_BYTES = 100
# The sink pipeline with a transformation chain (the same config for both systems): schemaless
# JSON objects in, a static field added, a field renamed, the topic routed by the record's day.
TRANSFORMS_PIPELINE = "sink (JSON, 3 transforms)"
TRANSFORM_CHAIN = {
    "key.converter": STRING_CONVERTER,
    "value.converter": JSON_CONVERTER,
    "value.converter.schemas.enable": "false",
    "transforms": "insert,replace,route",
    "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
    "transforms.insert.static.field": "pipeline",
    "transforms.insert.static.value": "bench",
    "transforms.replace.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
    "transforms.replace.renames": "name:label",
    "transforms.route.type": "org.apache.kafka.connect.transforms.TimestampRouter",
    "transforms.route.topic.format": "${topic}-${timestamp}",
    "transforms.route.timestamp.format": "yyyyMMdd",
}
# Debezium PostgreSQL streaming (Debezium's own jar from plugin.path in both systems).
DEBEZIUM_PLUGIN_PATH = os.environ.get("FERRY_DEBEZIUM_PLUGIN_PATH", "")
DEBEZIUM_CONNECTOR = "io.debezium.connector.postgresql.PostgresConnector"
DEBEZIUM_PIPELINE = "debezium streaming"
DEBEZIUM_SNAPSHOT_ROWS = 1_000
DEBEZIUM_CHANGES = 100_000
DEBEZIUM_ROWS_PER_TRANSACTION = 1_000
DEBEZIUM_DEADLINE_S = 600.0
SLOT_RELEASE_DEADLINE_S = 30.0
PG_HOST = os.environ.get("PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("PG_PORT", "15432")
PG_USER = os.environ.get("PG_USER", "postgres")
FULL_COUNT = 5_000_000
QUICK_COUNT = 200_000
READY_DEADLINE_S = 120.0
STOP_GRACE_S = 30.0
FAILOVER_DEADLINE_S = 60.0
# Kafka Connect's default scheduled.rebalance.max.delay.ms is 300 s; its worker session timeout
# (10 s) comes on top of it.
FAILOVER_DEFAULT_KC_DEADLINE_S = 360.0
TASKS_SPREAD_DEADLINE_S = 120.0
RSS_SAMPLE_S = 0.5
RSS_WINDOW = 6  # samples (3 s) within RSS_STABLE_FRACTION of each other count as stable
RSS_STABLE_FRACTION = 0.02
RSS_DEADLINE_S = 30.0
SINK_SCRIPT_DEADLINE_S = 900.0
# A Ferry pipeline with no output for this long after its first record is a stall: the run fails.
STALL_S = 0.1

START = time.monotonic()


def log(msg):
    print("[bench %6.1fs] %s" % (time.monotonic() - START, msg), file=sys.stderr, flush=True)


class Abort(Exception):
    """Raised by the signal handlers: stop everything and clean up."""


class Failed(Exception):
    """A measurement could not be taken; its row says why."""


# ------------------------------------------------------------------------------------ helpers


def http(method, base, path, body=None, timeout=5.0):
    """Returns (status, parsed JSON or None); raises OSError when nothing answers."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    try:
        return status, (json.loads(raw) if raw else None)
    except ValueError:
        return status, None


def status_of(base, path):
    try:
        return http("GET", base, path, timeout=2.0)[0]
    except OSError:
        return None


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_bench_tool(*args):
    """Runs ferry-bench and returns the seconds it prints."""
    return run_bench_detail(*args)[0]


def run_bench_detail(*args):
    """Runs ferry-bench; returns the seconds it prints and the progress JSON line before them
    (first_s, t10_s, t90_s, max_gap_s, gap_at_s, cpu_s), or {} for commands without one."""
    command = [FERRY_BENCH] + [str(arg) for arg in args]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise Failed("%s failed: %s" % (" ".join(command[:2]), result.stderr.strip()[-300:]))
    lines = result.stdout.strip().splitlines()
    detail = {}
    if len(lines) >= 2 and lines[-2].startswith("{"):
        detail = json.loads(lines[-2])
    return float(lines[-1]), detail


def cpu_s(pid):
    """User + system CPU seconds of a process (/proc/<pid>/stat, USER_HZ = 100), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / 100.0
    except (OSError, IndexError, ValueError):
        return None


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def stable_rss_mb(pid):
    """Samples VmRSS every 0.5 s until 6 consecutive samples are within 2 % of each other (or
    30 s passed) and returns their mean in MB (MiB), and whether it settled."""
    means, settled = stable_rss_mb_of([pid])
    return means[0], settled


def stable_rss_mb_of(pids):
    """stable_rss_mb for processes taken together: samples each VmRSS every 0.5 s until 6
    consecutive sums are within 2 % of each other (or 30 s passed); returns each process's mean
    over those samples in MB (MiB), and whether the sum settled."""
    samples = []
    deadline = time.monotonic() + RSS_DEADLINE_S
    while True:
        values = [rss_kb(pid) for pid in pids]
        for pid, value in zip(pids, values):
            if value is None:
                raise Failed("process %d is gone" % pid)
        samples.append(values)
        window = samples[-RSS_WINDOW:]
        sums = [sum(sample) for sample in window]
        settled = len(window) == RSS_WINDOW and max(sums) - min(sums) <= RSS_STABLE_FRACTION * max(sums)
        if settled or time.monotonic() >= deadline:
            means = [sum(sample[i] for sample in window) / len(window) / 1024.0 for i in range(len(pids))]
            return means, settled
        time.sleep(RSS_SAMPLE_S)


def cpu_s_of(pids):
    """cpu_s summed over processes (a worker and its plugin host), or None if one is gone."""
    values = [cpu_s(pid) for pid in pids]
    return None if any(value is None for value in values) else sum(values)


def children_running(parent, needle):
    """Pids of the live child processes of `parent` whose command line contains `needle`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != parent:
                continue
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if needle in cmdline:
            found.append(int(entry))
    return found


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def status_kb(pid, field):
    """A `field:` line of /proc/<pid>/status in kB (VmRSS, VmHWM), or None."""
    try:
        with open("/proc/%d/status" % pid) as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def thread_cpu(pid):
    """CPU seconds of each thread of `pid`: {tid: (name, seconds)}."""
    found = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return found
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            found[tid] = (name, (int(fields[11]) + int(fields[12])) / 100.0)
        except (OSError, IndexError, ValueError):
            continue
    return found


def busiest_threads(before, after, limit=8):
    """CPU seconds spent between two thread_cpu samples, by thread name, the busiest first."""
    spent = {}
    for tid, (name, seconds) in after.items():
        delta = seconds - before.get(tid, (name, 0.0))[1]
        spent[name] = round(spent.get(name, 0.0) + delta, 2)
    return dict(sorted(((n, c) for n, c in spent.items() if c > 0), key=lambda item: -item[1])[:limit])


def psql(sql, db="postgres", timeout=120.0):
    """Runs `sql` with psql against the bench's PostgreSQL; returns its unaligned output."""
    command = ["psql", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", db, "-X", "-v", "ON_ERROR_STOP=1", "-Atqc", sql]
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failed("psql gave no answer within %.0f s to %s" % (timeout, sql[:80]))
    if result.returncode != 0:
        raise Failed("psql %s: %s" % (sql[:60], result.stderr.strip()[-300:]))
    return result.stdout.strip()


def drop_slot(slot):
    """Drops a replication slot once its connector let go of it (the server polls for up to
    SLOT_RELEASE_DEADLINE_S): a slot left behind holds the server's WAL forever."""
    tries = int(SLOT_RELEASE_DEADLINE_S / 0.2)
    psql("DO $$ BEGIN FOR i IN 1..%d LOOP "
         "IF NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '%s' AND active) THEN "
         "PERFORM pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '%s'; "
         "RETURN; END IF; PERFORM pg_sleep(0.2); END LOOP; END $$" % (tries, slot, slot),
         timeout=SLOT_RELEASE_DEADLINE_S + 30)
    if psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s'" % slot) != "0":
        raise Failed("replication slot %s is still active after %.0f s: drop it by hand "
                     "(SELECT pg_drop_replication_slot('%s'))" % (slot, SLOT_RELEASE_DEADLINE_S, slot))


# ------------------------------------------------------------------------------------ workers


class Worker:
    """A `ferry worker` or a Kafka Connect ConnectDistributed process started by this run."""

    def __init__(self, system, name, work, group, port, extra):
        self.system = system  # "ferry" or "kafka_connect"
        self.name = name
        self.port = port
        self.base = "http://127.0.0.1:%d" % port
        self.log_path = os.path.join(work, "%s.log" % name)
        props = [
            "bootstrap.servers=%s" % BOOTSTRAP,
            "group.id=%s" % group,
            "listeners=http://127.0.0.1:%d" % port,
            "config.storage.topic=%s-configs" % group,
            "offset.storage.topic=%s-offsets" % group,
            "status.storage.topic=%s-status" % group,
            "config.storage.replication.factor=1",
            "offset.storage.replication.factor=1",
            "status.storage.replication.factor=1",
            "key.converter=%s" % STRING_CONVERTER,
            "value.converter=%s" % STRING_CONVERTER,
        ] + ["%s=%s" % item for item in extra]
        self.props_path = os.path.join(work, "%s.properties" % name)
        with open(self.props_path, "w") as f:
            f.write("\n".join(props) + "\n")
        # the worker id GET /connectors/<c>/status shows, in both systems
        self.worker_id = "127.0.0.1:%d" % port
        if system == "ferry":
            self.command = [FERRY, "worker", self.props_path]
        else:
            log4j = os.path.join(work, "connect-log4j2.properties")
            if not os.path.exists(log4j):
                with open(log4j, "w") as f:
                    f.write(CONNECT_LOG4J)
            self.command = (
                [JAVA]
                + shlex.split(CONNECT_HEAP_OPTS)
                + shlex.split(CONNECT_JVM_OPTS)
                + ["-Dlog4j2.configurationFile=file:" + log4j, "-cp", CONNECT_LIB + "/*", CONNECT_MAIN]
                + [self.props_path]
            )
        self.process = None
        self.started_at = None

    def start(self):
        log("%s: %s" % (self.name, " ".join(self.command[:1] + self.command[-2:])))
        self.log_file = open(self.log_path, "ab")
        self.started_at = time.monotonic()
        # its own session: Ctrl-C reaches only this script, which stops the worker by pid
        self.process = subprocess.Popen(
            self.command, stdout=self.log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def wait_ready(self):
        """Polls every 10 ms; returns (seconds to GET / = 200, seconds to GET /health = 200)."""
        root_s = None
        deadline = self.started_at + READY_DEADLINE_S
        while time.monotonic() < deadline:
            if not self.alive():
                raise Failed("%s exited during start-up: %s" % (self.name, self.last_log_line()))
            if root_s is None and status_of(self.base, "/") == 200:
                root_s = time.monotonic() - self.started_at
            if root_s is not None and status_of(self.base, "/health") == 200:
                return root_s, time.monotonic() - self.started_at
            time.sleep(0.01)
        raise Failed("%s not ready after %.0f s; see %s" % (self.name, READY_DEADLINE_S, self.log_path))

    def last_log_line(self):
        """The last line of the worker's log (for an error: the run deletes the log)."""
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return re.sub(r"\x1b\[[0-9;]*m", "", lines[-1])[-300:] if lines else "(empty log)"

    def create(self, name, config):
        status, body = http("POST", self.base, "/connectors", {"name": name, "config": config}, timeout=60)
        if status not in (200, 201):
            raise Failed("creating %s on %s: HTTP %s %s" % (name, self.name, status, body))

    def tasks(self, connector):
        try:
            status, body = http("GET", self.base, "/connectors/%s/status" % connector, timeout=2.0)
        except OSError:
            return None
        if status != 200 or not isinstance(body, dict):
            return None
        return body.get("tasks") or []

    def kill(self):
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self):
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                log("%s did not stop in %.0f s; SIGKILL" % (self.name, STOP_GRACE_S))
                self.kill()
        if getattr(self, "log_file", None):
            self.log_file.close()


CONNECT_LOG4J = """# Kafka Connect worker logging for scripts/bench.sh: INFO, as the release's connect-log4j2
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
"""


# ------------------------------------------------------------------------------------ the run


class Bench:
    def __init__(self, args):
        self.args = args
        self.count = args.count or (QUICK_COUNT if args.quick else FULL_COUNT)
        self.run = "bench-%d" % int(time.time())
        self.work = tempfile.mkdtemp(prefix="ferry-bench.")
        self.workers = []
        self.rows = []
        self.notes = []
        self.rss = {}
        self.ready = {}
        self.failover = {}
        self.failover_detail = {}
        self.sinks = []
        self.stalls = []
        self.debezium_result = {}
        self.load_end = None

    def worker(self, system, name, extra=()):
        group = "%s-%s" % (self.run, name)
        worker = Worker(system, name, self.work, group, free_port(), list(extra))
        self.workers.append(worker)
        return worker

    def cleanup(self):
        for worker in self.workers:
            try:
                worker.stop()
            except Exception as error:  # keep stopping the others
                log("stopping %s: %s" % (worker.name, error))
        try:
            run_bench_tool("delete-topics", BOOTSTRAP, self.run + "-")
        except Failed as error:
            log("could not delete this run's topics: %s" % error)
        subprocess.run(["rm", "-rf", self.work])

    def row(self, system, pipeline, records, seconds, note="", detail=None, cpu=None, stall_check=True):
        """One throughput row. `detail` is ferry-bench's progress (steady-state rate between 10 %
        and 90 % of the records, the longest gap without output); `cpu` the CPU seconds the
        process doing the work spent on the pipeline. `stall_check=False`: a long gap is
        reported, not a stall (the Debezium row, where the connector's own polling sets the pace)."""
        detail = detail or {}
        steady = None
        if detail.get("t10_s") is not None and detail.get("t90_s") is not None and detail["t90_s"] > detail["t10_s"]:
            steady = 0.8 * records / (detail["t90_s"] - detail["t10_s"])
        self.rows.append({
            "system": system, "pipeline": pipeline, "records": records, "seconds": seconds, "note": note,
            "steady_records_per_s": steady,
            "max_gap_s": detail.get("max_gap_s"), "gap_at_s": detail.get("gap_at_s"),
            "cpu_us_per_record": cpu * 1e6 / records if cpu is not None and records else None,
        })
        if seconds:
            log("%s %s: %d records in %.2f s = %.0f records/s (steady %s, longest gap %s, CPU %s µs/record)" % (
                system, pipeline, records, seconds, records / seconds, fmt(steady, "%.0f/s"),
                fmt(detail.get("max_gap_s"), "%.3f s"), fmt(self.rows[-1]["cpu_us_per_record"], "%.2f")))
            gap = detail.get("max_gap_s")
            if stall_check and system == "ferry" and gap is not None and gap >= STALL_S:
                self.stalls.append("%s %s: no output for %.3f s from %.3f s after its first record" % (
                    system, pipeline, gap, detail.get("gap_at_s") or 0.0))
                log("STALL: " + self.stalls[-1])
        else:
            log("%s %s: %s" % (system, pipeline, note))

    def steady_of(self, system, pipeline):
        for row in self.rows:
            if row["system"] == system and row["pipeline"] == pipeline and row["steady_records_per_s"]:
                return row["steady_records_per_s"]
        return None

    def seconds_of(self, system, pipeline):
        for row in self.rows:
            if row["system"] == system and row["pipeline"] == pipeline and row["seconds"]:
                return row["seconds"]
        return None

    # ------------------------------------------------------------------------ throughput

    def raw(self):
        topic = self.run + "-raw"
        self.raw_topic = topic
        log("raw produce: %d records of %d bytes into %s" % (self.count, RECORD_BYTES, topic))
        seconds, detail = run_bench_detail("produce", BOOTSTRAP, topic, self.count, RECORD_BYTES)
        self.row("raw librdkafka", "produce", self.count, seconds, detail=detail, cpu=detail.get("cpu_s"))
        log("raw consume")
        seconds, detail = run_bench_detail("consume", BOOTSTRAP, topic, self.count)
        self.row("raw librdkafka", "consume", self.count, seconds, detail=detail, cpu=detail.get("cpu_s"))
        self.input_path = os.path.join(self.work, "input.txt")
        run_bench_tool("write-lines", self.input_path, self.count, RECORD_BYTES)
        # JSON objects for the transforms pipeline (not timed: its input, like the file above).
        self.json_topic = self.run + "-json-objects"
        log("producing %d JSON objects of about %d bytes into %s" % (self.count, RECORD_BYTES, self.json_topic))
        run_bench_tool("produce-json", BOOTSTRAP, self.json_topic, self.count, RECORD_BYTES)

    def pipelines(self, system, label):
        """Idle RSS, start-to-ready, FileStreamSource -> Kafka and Kafka -> FileStreamSink."""
        worker = self.worker(system, "%s-single" % system).start()
        root_s, health_s = worker.wait_ready()
        self.ready[system] = root_s
        self.ready[system + "_health"] = health_s
        log("%s ready: GET / after %.2f s, /health after %.2f s" % (label, root_s, health_s))
        idle_mb, settled = stable_rss_mb(worker.pid)
        self.rss[system + "_idle"] = idle_mb
        if not settled:
            self.notes.append("%s idle RSS had not settled within %.0f s" % (label, RSS_DEADLINE_S))
        log("%s idle RSS %.1f MB" % (label, idle_mb))

        for converter, suffix in ((STRING_CONVERTER, ""), (JSON_CONVERTER, " (JSON)")):
            converters = {"key.converter": converter, "value.converter": converter}
            if converter == JSON_CONVERTER:
                converters.update({"key.converter.schemas.enable": "true", "value.converter.schemas.enable": "true"})
            tag = "json-" if converter == JSON_CONVERTER else ""
            # FileStreamSource -> Kafka: the input file's lines (as JSON envelopes with schemas
            # for the JSON row).
            topic = "%s-%s-%ssource" % (self.run, system, tag)
            cpu_before = cpu_s(worker.pid)
            started = time.monotonic()
            worker.create("%s-source" % topic, dict(converters, **{
                "connector.class": "FileStreamSource", "file": self.input_path, "topic": topic,
            }))
            created = time.monotonic() - started
            seconds, detail = run_bench_detail("wait-topic", BOOTSTRAP, topic, self.count)
            self.row(label, "source" + suffix, self.count, created + seconds, detail=detail,
                     cpu=cpu_delta(cpu_before, cpu_s(worker.pid)))
            # Kafka -> FileStreamSink: the raw topic, or for JSON what the JSON source wrote.
            output = os.path.join(self.work, "%s-%soutput.txt" % (system, tag))
            source_topic = topic if converter == JSON_CONVERTER else self.raw_topic
            cpu_before = cpu_s(worker.pid)
            started = time.monotonic()
            worker.create("%s-%s-%ssink" % (self.run, system, tag), dict(converters, **{
                "connector.class": "FileStreamSink", "file": output, "topics": source_topic,
            }))
            created = time.monotonic() - started
            seconds, detail = run_bench_detail("wait-lines", output, self.count)
            self.row(label, "sink" + suffix, self.count, created + seconds, detail=detail,
                     cpu=cpu_delta(cpu_before, cpu_s(worker.pid)))
        # Kafka -> FileStreamSink through InsertField, ReplaceField and TimestampRouter.
        output = os.path.join(self.work, "%s-transforms-output.txt" % system)
        cpu_before = cpu_s(worker.pid)
        started = time.monotonic()
        worker.create("%s-%s-transforms-sink" % (self.run, system), dict(TRANSFORM_CHAIN, **{
            "connector.class": "FileStreamSink", "file": output, "topics": self.json_topic,
        }))
        created = time.monotonic() - started
        seconds, detail = run_bench_detail("wait-lines", output, self.count)
        self.row(label, TRANSFORMS_PIPELINE, self.count, created + seconds, detail=detail,
                 cpu=cpu_delta(cpu_before, cpu_s(worker.pid)))
        self.rss[system + "_after_load"] = (rss_kb(worker.pid) or 0) / 1024.0
        return worker

    # ------------------------------------------------------------------------ connect-file jar

    def plugin_path(self):
        """A plugin.path holding only the connect-file location (a symlink, which both systems
        follow), the same for Ferry and Kafka Connect; None when the location is not given."""
        if not CONNECT_FILE_LOCATION:
            return None
        if not os.path.isdir(CONNECT_FILE_LOCATION):
            raise Failed("FERRY_CONNECT_FILE_LOCATION is not a directory: %r" % CONNECT_FILE_LOCATION)
        path = os.path.join(self.work, "plugin-path")
        if not os.path.isdir(path):
            os.makedirs(path)
            os.symlink(os.path.abspath(CONNECT_FILE_LOCATION), os.path.join(path, os.path.basename(CONNECT_FILE_LOCATION.rstrip("/"))))
        return path

    def plugin_worker_extra(self):
        # service_load: the connect-file jar has its META-INF/services manifests
        return [("plugin.path", self.plugin_path()), ("plugin.discovery", "service_load")]

    def wait_plugin_listed(self, worker, connector_class, version=None):
        """Polls until GET /connector-plugins lists `connector_class` (of `version`, if given)
        and, for a Ferry worker, one plugin host JVM runs as its child; returns the host's pid
        (None for Kafka Connect, whose plugins run in its own JVM)."""
        deadline = time.monotonic() + PLUGIN_HOST_DEADLINE_S
        while True:
            hosts = children_running(worker.pid, PLUGIN_HOST_MAIN) if worker.system == "ferry" else [None]
            try:
                status, plugins = http("GET", worker.base, "/connector-plugins", timeout=5.0)
            except OSError:
                status, plugins = None, None
            listed = status == 200 and isinstance(plugins, list) and any(
                p.get("class") == connector_class and (version is None or p.get("version") == version)
                for p in plugins)
            if len(hosts) == 1 and listed:
                return hosts[0]
            if not worker.alive():
                raise Failed("%s exited during start-up; see %s" % (worker.name, worker.log_path))
            if time.monotonic() >= deadline:
                raise Failed("%s: %s%s not listed within %.0f s (plugin hosts %s); see %s" % (
                    worker.name, connector_class, " " + version if version else "", PLUGIN_HOST_DEADLINE_S,
                    hosts, worker.log_path))
            time.sleep(0.1)

    def jar_pipelines(self):
        """A Ferry worker with plugin.path = the connect-file location: idle RSS of the worker and
        its plugin host, then FileStreamSource -> Kafka and Kafka -> FileStreamSink through the
        jar (connector.plugin.version selects it over the built-in), CPU of both processes."""
        label = "ferry (connect-file jar)"
        worker = self.worker("ferry", "ferry-jar", self.plugin_worker_extra()).start()
        root_s, health_s = worker.wait_ready()
        self.ready["ferry_plugin_host_health"] = health_s
        # ready for the jar: the host is up and GET /connector-plugins lists the jar's connectors
        host = self.wait_plugin_listed(worker, "org.apache.kafka.connect.file.FileStreamSourceConnector",
                                       CONNECT_FILE_VERSION)
        self.ready["ferry_plugin_host_jar_listed"] = time.monotonic() - worker.started_at
        log("%s: plugin host pid %d; jar listed %.2f s after start" % (label, host, self.ready["ferry_plugin_host_jar_listed"]))
        (worker_mb, host_mb), settled = stable_rss_mb_of([worker.pid, host])
        self.rss["ferry_plugin_host_idle_worker"] = worker_mb
        self.rss["ferry_plugin_host_idle_host"] = host_mb
        self.rss["ferry_plugin_host_idle"] = worker_mb + host_mb
        if not settled:
            self.notes.append("%s idle RSS had not settled within %.0f s" % (label, RSS_DEADLINE_S))
        log("%s idle RSS %.1f MB (worker %.1f + plugin host %.1f)" % (label, worker_mb + host_mb, worker_mb, host_mb))

        pids = [worker.pid, host]
        note = "Ferry worker + plugin host JVM (pid %d) CPU" % host
        jar = {"connector.plugin.version": CONNECT_FILE_VERSION,
               "key.converter": STRING_CONVERTER, "value.converter": STRING_CONVERTER}
        topic = "%s-ferry-jar-source" % self.run
        source_name, sink_name = topic + "-connector", "%s-ferry-jar-sink" % self.run
        cpu_before = cpu_s_of(pids)
        started = time.monotonic()
        worker.create(source_name, dict(jar, **{
            "connector.class": "FileStreamSource", "file": self.input_path, "topic": topic,
        }))
        created = time.monotonic() - started
        seconds, detail = run_bench_detail("wait-topic", BOOTSTRAP, topic, self.count)
        self.row("ferry", JAR_SOURCE, self.count, created + seconds, note=note, detail=detail,
                 cpu=cpu_delta(cpu_before, cpu_s_of(pids)))
        output = os.path.join(self.work, "ferry-jar-output.txt")
        cpu_before = cpu_s_of(pids)
        started = time.monotonic()
        worker.create(sink_name, dict(jar, **{
            "connector.class": "FileStreamSink", "file": output, "topics": self.raw_topic,
        }))
        created = time.monotonic() - started
        seconds, detail = run_bench_detail("wait-lines", output, self.count)
        self.row("ferry", JAR_SINK, self.count, created + seconds, note=note, detail=detail,
                 cpu=cpu_delta(cpu_before, cpu_s_of(pids)))
        # the jar ran them, not the built-in: status carries the plugin version, as Kafka Connect's
        for name in (source_name, sink_name):
            status, body = http("GET", worker.base, "/connectors/%s/status" % name, timeout=5.0)
            version = (body or {}).get("connector", {}).get("version") if isinstance(body, dict) else None
            if status != 200 or version != CONNECT_FILE_VERSION:
                raise Failed("%s: expected the connect-file %s jar, status says HTTP %s %s" % (
                    name, CONNECT_FILE_VERSION, status, body))
        if children_running(worker.pid, PLUGIN_HOST_MAIN) != [host]:
            self.notes.append("the plugin host (pid %d) was replaced during the jar pipelines: their CPU "
                              "figures miss the replacement's" % host)
        return worker

    def connect_plugin_path_idle(self):
        """A Kafka Connect worker with the same plugin.path (and plugin.discovery) as the Ferry
        worker that ran the jar: idle RSS of its JVM."""
        worker = self.worker("kafka_connect", "kafka_connect-plugin-path", self.plugin_worker_extra()).start()
        try:
            _, health_s = worker.wait_ready()
            self.ready["kafka_connect_plugin_path_health"] = health_s
            idle_mb, settled = stable_rss_mb(worker.pid)
            self.rss["kafka_connect_plugin_path_idle"] = idle_mb
            if not settled:
                self.notes.append("Kafka Connect (plugin.path) idle RSS had not settled within %.0f s" % RSS_DEADLINE_S)
            log("Kafka Connect with plugin.path: idle RSS %.1f MB" % idle_mb)
        finally:
            worker.stop()

    def sink_scripts(self, worker):
        """Runs every scripts/bench/sink-*.sh against the running Ferry worker."""
        scripts = sorted(glob.glob(os.path.join(REPO, "scripts", "bench", "sink-*.sh")))
        count = max(1, self.count // 10)
        services = os.path.join(REPO, "scripts", "services.sh")
        for script in scripts:
            name = os.path.basename(script)[len("sink-"):-len(".sh")]
            entry = {"script": os.path.relpath(script, REPO), "label": name, "records": None, "seconds": None}
            self.sinks.append(entry)
            try:
                for service in declared_services(script):
                    if not os.path.exists(services):
                        break
                    log("sink %s: scripts/services.sh start %s" % (name, service))
                    result = subprocess.run(["bash", services, "start", service], stdout=sys.stderr, stderr=subprocess.STDOUT)
                    if result.returncode != 0:
                        raise Failed("skipped: scripts/services.sh start %s failed (exit %d)" % (service, result.returncode))
                log("sink %s: %s with COUNT=%d" % (name, entry["script"], count))
                env = dict(os.environ, FERRY_URL=worker.base, BOOTSTRAP=BOOTSTRAP, COUNT=str(count), FERRY_BENCH=FERRY_BENCH)
                try:
                    result = subprocess.run(
                        ["bash", script], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True, timeout=SINK_SCRIPT_DEADLINE_S,
                    )
                except subprocess.TimeoutExpired:
                    raise Failed("skipped: no result within %.0f s" % SINK_SCRIPT_DEADLINE_S)
                sys.stderr.write(result.stderr)
                if result.returncode != 0:
                    reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
                    raise Failed("skipped: exit %d: %s" % (result.returncode, reason[:160]))
                lines = [line for line in result.stdout.splitlines() if line.strip()]
                fields = lines[-1].split("\t") if lines else []
                if len(fields) != 3:
                    raise Failed("skipped: expected one line `label<TAB>records<TAB>seconds`, got %r" % result.stdout[-200:])
                entry["label"] = fields[0]
                entry["records"] = int(fields[1])
                entry["seconds"] = float(fields[2])
                self.row("ferry", "Kafka → " + fields[0], entry["records"], entry["seconds"])
            except Failed as error:
                entry["note"] = str(error)
                self.row("ferry", "Kafka → " + name, count, None, str(error))

    # ------------------------------------------------------------------------ Debezium streaming

    def debezium(self):
        """Debezium's PostgreSQL connector (its own jar, from plugin.path) in Ferry and in Kafka
        Connect in turn, each on a table of its own in one database: a snapshot of
        DEBEZIUM_SNAPSHOT_ROWS rows and one probe insert (streaming is live end to end), then
        `changes` inserts in transactions of DEBEZIUM_ROWS_PER_TRANSACTION rows, timed from the
        writer's start to the last change in the topic."""
        changes = self.args.debezium_changes or DEBEZIUM_CHANGES
        systems = [("ferry", "ferry")]
        if not self.args.no_kafka_connect:
            systems.append(("kafka_connect", "Kafka Connect"))
        self.debezium_result = {
            "changes": changes, "snapshot_rows": DEBEZIUM_SNAPSHOT_ROWS,
            "rows_per_transaction": DEBEZIUM_ROWS_PER_TRANSACTION, "plugin_path": DEBEZIUM_PLUGIN_PATH,
        }
        self.debezium_slots = []
        self.debezium_db = None
        try:
            self.debezium_prepare()
        except Failed as error:
            for _, label in systems:
                self.row(label, DEBEZIUM_PIPELINE, changes, None, "skipped: %s" % error)
            return
        try:
            for system, label in systems:
                try:
                    self.debezium_run(system, label, changes)
                except Failed as error:
                    self.row(label, DEBEZIUM_PIPELINE, changes, None, "failed: %s" % error)
        finally:
            self.debezium_cleanup()

    def debezium_prepare(self):
        if not DEBEZIUM_PLUGIN_PATH or not os.path.isdir(DEBEZIUM_PLUGIN_PATH):
            raise Failed("FERRY_DEBEZIUM_PLUGIN_PATH is not a directory (%r; scripts/bench.sh sets it "
                         "from scripts/fetch-test-plugins.sh debezium)" % DEBEZIUM_PLUGIN_PATH)
        if not glob.glob(os.path.join(DEBEZIUM_PLUGIN_PATH, "debezium-connector-postgres-*")):
            raise Failed("no debezium-connector-postgres-* location in %s" % DEBEZIUM_PLUGIN_PATH)
        if subprocess.run(["sh", "-c", "command -v psql"], stdout=subprocess.DEVNULL).returncode != 0:
            raise Failed("psql not found (apt-get install -y postgresql-client)")
        try:
            psql("SELECT 1", timeout=10)
        except Failed:
            services = os.path.join(REPO, "scripts", "services.sh")
            if not os.path.exists(services):
                raise Failed("PostgreSQL is not reachable at %s:%s" % (PG_HOST, PG_PORT))
            log("debezium: PostgreSQL not reachable; scripts/services.sh start postgres")
            subprocess.run(["bash", services, "start", "postgres"], stdout=sys.stderr, stderr=subprocess.STDOUT)
            psql("SELECT 1", timeout=10)
        wal_level = psql("SHOW wal_level")
        if wal_level != "logical":
            raise Failed("PostgreSQL at %s:%s has wal_level=%s; Debezium needs logical (scripts/services.sh "
                         "configures it)" % (PG_HOST, PG_PORT, wal_level))
        self.debezium_db = self.run.replace("-", "_") + "_debezium"
        psql("CREATE DATABASE %s" % self.debezium_db)
        self.debezium_result["database"] = self.debezium_db

    def debezium_config(self, table, prefix, slot):
        """The same connector config for both systems: the raw Debezium envelope through
        JsonConverter (schemas on), the topic created by the worker (3 partitions, lz4)."""
        return {
            "connector.class": DEBEZIUM_CONNECTOR,
            "tasks.max": "1",
            "database.hostname": PG_HOST,
            "database.port": PG_PORT,
            "database.user": PG_USER,
            "database.password": "",
            "database.dbname": self.debezium_db,
            "topic.prefix": prefix,
            "plugin.name": "pgoutput",
            "slot.name": slot,
            "publication.name": slot + "_pub",
            "publication.autocreate.mode": "filtered",
            "table.include.list": "public." + table,
            "topic.creation.default.partitions": "3",
            "topic.creation.default.replication.factor": "1",
            "topic.creation.default.compression.type": "lz4",
            "key.converter": JSON_CONVERTER,
            "value.converter": JSON_CONVERTER,
        }

    def debezium_run(self, system, label, changes):
        tag = "ferry" if system == "ferry" else "kc"
        db, table = self.debezium_db, "items_" + tag
        slot = "%s_%s" % (db, tag)
        prefix = "%s-debezium-%s" % (self.run, tag)
        topic = "%s.public.%s" % (prefix, table)
        snapshot = DEBEZIUM_SNAPSHOT_ROWS
        psql("CREATE TABLE %s (id bigint PRIMARY KEY, name text NOT NULL, qty int NOT NULL); "
             "INSERT INTO %s SELECT g, 'snapshot row ' || g || repeat('x', 64), (g %% 10)::int "
             "FROM generate_series(1, %d) g" % (table, table, snapshot), db=db)
        # The writer: `changes` inserts after the probe row, one transaction per statement.
        script = os.path.join(self.work, "debezium-%s.sql" % tag)
        with open(script, "w") as f:
            first = snapshot + 2
            for start in range(first, first + changes, DEBEZIUM_ROWS_PER_TRANSACTION):
                end = min(start + DEBEZIUM_ROWS_PER_TRANSACTION, first + changes) - 1
                f.write("INSERT INTO %s SELECT g, 'streamed row ' || g || repeat('y', 64), (g %% 10)::int "
                        "FROM generate_series(%d, %d) g;\n" % (table, start, end))
        self.debezium_slots.append(slot)
        worker = self.worker(system, "%s-debezium" % system, [
            ("plugin.path", DEBEZIUM_PLUGIN_PATH), ("plugin.discovery", "service_load")]).start()
        try:
            worker.wait_ready()
            host = self.wait_plugin_listed(worker, DEBEZIUM_CONNECTOR)
            pids = [worker.pid] + ([host] if host else [])
            started = time.monotonic()
            worker.create(prefix + "-source", self.debezium_config(table, prefix, slot))
            run_bench_tool("wait-topic", BOOTSTRAP, topic, snapshot)
            snapshot_s = time.monotonic() - started
            started = time.monotonic()
            psql("INSERT INTO %s VALUES (%d, 'probe', 0)" % (table, snapshot + 1), db=db)
            run_bench_tool("wait-topic", BOOTSTRAP, topic, snapshot + 1)
            probe_s = time.monotonic() - started
            log("%s debezium: snapshot of %d rows in the topic %.2f s after the POST, probe change %.2f s; "
                "streaming %d changes" % (label, snapshot, snapshot_s, probe_s, changes))
            # ferry-bench prints `ready` once it sees the snapshot and the probe, then times the rest
            waiter = subprocess.Popen(
                [FERRY_BENCH, "wait-topic", BOOTSTRAP, topic, str(changes), str(snapshot + 1)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                ready = waiter.stdout.readline().strip()
                if ready != "ready":
                    waiter.wait()
                    raise Failed("ferry-bench wait-topic: %s" % waiter.stderr.read().strip()[-300:])
                cpu_before_each = [cpu_s(pid) for pid in pids]
                threads_before = [thread_cpu(pid) for pid in pids]
                writer_started = time.monotonic()
                writer = subprocess.run(
                    ["psql", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", db, "-X", "-q",
                     "-v", "ON_ERROR_STOP=1", "-f", script],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                writer_s = time.monotonic() - writer_started
                if writer.returncode != 0:
                    raise Failed("the writer (psql -f %s) failed: %s" % (script, writer.stderr.strip()[-300:]))
                try:
                    out, err = waiter.communicate(timeout=DEBEZIUM_DEADLINE_S)
                except subprocess.TimeoutExpired:
                    raise Failed("not all %d changes in %s within %.0f s; see %s" % (
                        changes, topic, DEBEZIUM_DEADLINE_S, worker.log_path))
                cpu_after_each = [cpu_s(pid) for pid in pids]
                threads = [busiest_threads(b, thread_cpu(pid)) for b, pid in zip(threads_before, pids)]
                rss_end = [status_kb(pid, "VmRSS") for pid in pids]
                rss_peak = [status_kb(pid, "VmHWM") for pid in pids]
            finally:
                if waiter.poll() is None:
                    waiter.kill()
                    waiter.wait()
            if waiter.returncode != 0:
                raise Failed("ferry-bench wait-topic: %s" % err.strip()[-300:])
            lines = out.strip().splitlines()
            seconds, detail = float(lines[-1]), json.loads(lines[-2])
            cpu_each = [cpu_delta(b, a) for b, a in zip(cpu_before_each, cpu_after_each)]
            cpu = None if None in cpu_each else sum(cpu_each)
            note = "Ferry worker + plugin host JVM (pid %d) CPU" % host if host else ""
            self.row(label, DEBEZIUM_PIPELINE, changes, seconds, note=note, detail=detail, cpu=cpu,
                     stall_check=False)
            if None in rss_end or None in rss_peak:
                raise Failed("a process of %s is gone" % worker.name)
            mb = lambda kb: kb / 1024.0
            figures = {
                "seconds": seconds, "changes_per_s": changes / seconds,
                "steady_changes_per_s": self.rows[-1]["steady_records_per_s"],
                "first_change_s": detail.get("first_s"), "max_gap_s": detail.get("max_gap_s"),
                "gap_at_s": detail.get("gap_at_s"), "writer_s": writer_s,
                "snapshot_s": snapshot_s, "probe_s": probe_s,
                "cpu_us_per_change": self.rows[-1]["cpu_us_per_record"],
                "rss_end_mb": mb(sum(rss_end)), "rss_peak_mb": mb(sum(rss_peak)),
                "busiest_threads_cpu_s": threads[0],
            }
            log("%s debezium: busiest threads (CPU s while streaming): %s" % (
                label, "; ".join(json.dumps(t) for t in threads)))
            self.rss["debezium_%s" % system] = mb(sum(rss_end))
            self.rss["debezium_%s_peak" % system] = mb(sum(rss_peak))
            if host:
                figures.update({
                    "cpu_us_per_change_worker": cpu_each[0] * 1e6 / changes,
                    "cpu_us_per_change_host": cpu_each[1] * 1e6 / changes,
                    "rss_end_mb_worker": mb(rss_end[0]), "rss_end_mb_host": mb(rss_end[1]),
                    "rss_peak_mb_worker": mb(rss_peak[0]), "rss_peak_mb_host": mb(rss_peak[1]),
                    "busiest_threads_cpu_s_host": threads[1],
                })
                for key in ("worker", "host"):
                    self.rss["debezium_ferry_%s" % key] = figures["rss_end_mb_" + key]
                    self.rss["debezium_ferry_peak_%s" % key] = figures["rss_peak_mb_" + key]
                if children_running(worker.pid, PLUGIN_HOST_MAIN) != [host]:
                    self.notes.append("the plugin host (pid %d) was replaced during the Debezium row: its "
                                      "CPU and RSS miss the replacement's" % host)
            self.debezium_result[system] = figures
            log("%s debezium: the writer committed %d changes in %.2f s; first change in Kafka after %s s; "
                "RSS at the end %.1f MB%s, peak %.1f MB" % (
                    label, changes, writer_s, fmt(detail.get("first_s"), "%.3f"), mb(sum(rss_end)),
                    " (worker %.1f + plugin host %.1f)" % (mb(rss_end[0]), mb(rss_end[1])) if host else "",
                    mb(sum(rss_peak))))
            if writer_s > 0.8 * seconds:
                self.notes.append("Debezium row, %s: the writer took %.2f s of the %.2f s, so PostgreSQL, "
                                  "not the connector, may have set the pace" % (label, writer_s, seconds))
        finally:
            worker.stop()
            # the slot now, not at the end: it would hold the WAL of the next system's changes
            self.debezium_slots.remove(slot)
            try:
                drop_slot(slot)
            except Failed as error:
                log("debezium: %s" % error)
                self.notes.append(str(error))

    def debezium_cleanup(self):
        for slot in list(self.debezium_slots):
            try:
                drop_slot(slot)
            except Failed as error:
                log("debezium: %s" % error)
                self.notes.append(str(error))
        if self.debezium_db:
            try:
                psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.debezium_db)
            except Failed as error:
                log("debezium: dropping database %s: %s" % (self.debezium_db, error))

    # ------------------------------------------------------------------------ failover

    def failover_run(self, system, label, key, extra, deadline_s):
        """Two workers, FileStreamSink with tasks.max=2 over a 2-partition topic, one task on each;
        kill -9 the second worker; seconds until its task is RUNNING on the survivor."""
        name = "%s-fo-%s" % (system, key)
        topic = "%s-%s" % (self.run, name)
        run_bench_tool("create-topic", BOOTSTRAP, topic, 2)
        first_port, second_port = free_port(), free_port()
        if system == "ferry":
            seeds = "127.0.0.1:%d,127.0.0.1:%d" % (first_port, second_port)
            extras = [
                [("gossip.seeds", seeds), ("node.id", name + "-a")] + extra,
                [("gossip.seeds", seeds), ("node.id", name + "-b")] + extra,
            ]
        else:
            extras = [extra, extra]
        group = "%s-%s" % (self.run, name)
        first = Worker(system, name + "-a", self.work, group, first_port, extras[0])
        second = Worker(system, name + "-b", self.work, group, second_port, extras[1])
        self.workers += [first, second]
        try:
            first.start().wait_ready()
            second.start().wait_ready()
            connector = topic + "-sink"
            first.create(connector, {
                "connector.class": "FileStreamSink", "tasks.max": "2", "topics": topic,
                "file": os.path.join(self.work, name + ".txt"),
            })
            spread = time.monotonic() + TASKS_SPREAD_DEADLINE_S
            while True:
                tasks = first.tasks(connector) or []
                running = [t for t in tasks if t.get("state") == "RUNNING"]
                owners = {t.get("worker_id") for t in running}
                if len(running) == 2 and len(owners) == 2:
                    break
                if time.monotonic() >= spread:
                    raise Failed("the 2 tasks were not RUNNING on 2 workers within %.0f s: %s" % (TASKS_SPREAD_DEADLINE_S, tasks))
                time.sleep(0.1)
            if second.worker_id not in owners:
                raise Failed("no task on %s (tasks on %s)" % (second.worker_id, sorted(owners)))
            victim_ids = {second.worker_id}
            log("%s: tasks on %s; kill -9 %s (pid %d)" % (label, sorted(owners), second.worker_id, second.pid))
            second.kill()
            killed = time.monotonic()
            while True:
                tasks = first.tasks(connector) or []
                moved = len(tasks) == 2 and all(
                    t.get("state") == "RUNNING" and t.get("worker_id") not in victim_ids for t in tasks
                )
                elapsed = time.monotonic() - killed
                if moved:
                    return elapsed, None
                if elapsed >= deadline_s:
                    return None, "not moved within %.0f s (cap)" % deadline_s
                time.sleep(0.1)
        finally:
            second.stop()
            first.stop()

    def failovers(self):
        plans = [
            ("ferry", "ferry", "default", [], FAILOVER_DEADLINE_S),
            ("ferry", "ferry", "delay_0", [("scheduled.rebalance.max.delay.ms", "0")], FAILOVER_DEADLINE_S),
        ]
        if not self.args.no_kafka_connect:
            plans.append(("kafka_connect", "Kafka Connect", "delay_0", [("scheduled.rebalance.max.delay.ms", "0")], FAILOVER_DEADLINE_S))
            plans.append(("kafka_connect", "Kafka Connect", "default", [], FAILOVER_DEFAULT_KC_DEADLINE_S))
        for system, label, key, extra, deadline in plans:
            result_key = "%s_%s" % (system, key)
            if system == "kafka_connect" and key == "default" and self.args.quick:
                self.failover[result_key] = None
                self.failover_detail[result_key] = "skipped (--quick): ≥ 300 s by design (scheduled.rebalance.max.delay.ms=300000)"
                continue
            log("failover %s, %s: two workers" % (label, key.replace("_", " ")))
            try:
                seconds, note = self.failover_run(system, label, key, extra, deadline)
            except Failed as error:
                seconds, note = None, "failed: %s" % error
            self.failover[result_key] = seconds
            if note:
                self.failover_detail[result_key] = note
            log("failover %s, %s: %s" % (label, key, "%.2f s" % seconds if seconds is not None else note))

    # ------------------------------------------------------------------------ main

    def go(self):
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.load_start = loadavg()
        if self.args.only == "debezium":
            self.debezium()
            self.load_end = loadavg()
            return self.report()
        self.raw()
        ferry = self.pipelines("ferry", "ferry")
        if not self.args.no_sinks:
            self.sink_scripts(ferry)
        ferry.stop()
        if CONNECT_FILE_LOCATION:
            self.jar_pipelines().stop()
        else:
            self.notes.append("connect-file jar rows skipped: FERRY_CONNECT_FILE_LOCATION is not set "
                              "(scripts/bench.sh sets it)")
        if not self.args.no_kafka_connect:
            connect = self.pipelines("kafka_connect", "Kafka Connect")
            connect.stop()
            if CONNECT_FILE_LOCATION:
                self.connect_plugin_path_idle()
        if not self.args.no_debezium:
            self.debezium()
        if not self.args.no_failover:
            self.failovers()
        self.load_end = loadavg()
        return self.report()

    def report(self):
        def ratio(numerator, denominator):
            return numerator / denominator if numerator and denominator else None

        raw_p, raw_c = self.seconds_of("raw librdkafka", "produce"), self.seconds_of("raw librdkafka", "consume")
        ratios = {}
        for pipeline, raw, key in (("source", raw_p, "source"), ("sink", raw_c, "sink"),
                                   ("source (JSON)", None, "source_json"), ("sink (JSON)", None, "sink_json"),
                                   (TRANSFORMS_PIPELINE, None, "sink_json_transforms"),
                                   (DEBEZIUM_PIPELINE, None, "debezium")):
            ferry, connect = self.seconds_of("ferry", pipeline), self.seconds_of("Kafka Connect", pipeline)
            # throughput ratios: the same records, so the inverse ratio of the seconds
            if raw is not None:
                ratios["ferry_vs_raw_" + key] = ratio(raw, ferry)
            ratios["ferry_vs_kafka_connect_" + key] = ratio(connect, ferry)
            steady = lambda system, p=pipeline: self.steady_of(system, p)
            if raw is not None:
                ratios["steady_ferry_vs_raw_" + key] = ratio(steady("ferry"), self.steady_of("raw librdkafka", "produce" if pipeline == "source" else "consume"))
            ratios["steady_ferry_vs_kafka_connect_" + key] = ratio(steady("ferry"), steady("Kafka Connect"))
        # The jar through Ferry's host against the same connect-file classes inside Kafka Connect:
        # Kafka Connect's FileStreamSource/FileStreamSink rows are that pipeline (connect-file
        # 4.3.1, the same input file and topic, StringConverter), so their figures are reused.
        for pipeline, connect_pipeline, key in ((JAR_SOURCE, "source", "jar_source"), (JAR_SINK, "sink", "jar_sink")):
            ratios["ferry_vs_kafka_connect_" + key] = ratio(
                self.seconds_of("Kafka Connect", connect_pipeline), self.seconds_of("ferry", pipeline))
            ratios["steady_ferry_vs_kafka_connect_" + key] = ratio(
                self.steady_of("ferry", pipeline), self.steady_of("Kafka Connect", connect_pipeline))
        for row in self.rows:
            row["records_per_s"] = row["records"] / row["seconds"] if row["seconds"] else None
            row["mb_per_s"] = row["records"] * RECORD_BYTES / row["seconds"] / 1e6 if row["seconds"] else None
        return {
            "date": self.started.strftime("%Y-%m-%d %H:%M UTC"),
            "command": "scripts/bench.sh " + " ".join(self.args.argv),
            "machine": {
                "cpus": os.cpu_count(), "kernel": platform.release(),
                "loadavg_start": self.load_start, "loadavg_end": self.load_end,
            },
            "records": self.count,
            "record_bytes": RECORD_BYTES,
            "quick": self.args.quick,
            "rows": self.rows,
            "ratios": ratios,
            "rss_mb": self.rss,
            "ready_s": self.ready,
            "failover_s": self.failover,
            "failover_notes": self.failover_detail,
            "sinks": self.sinks,
            "notes": self.notes,
            "stalls": self.stalls,
            "only": self.args.only,
            "debezium": self.debezium_result,
            "settings": {
                "broker": BOOTSTRAP,
                "kafka_connect_jvm": CONNECT_HEAP_OPTS + " " + CONNECT_JVM_OPTS,
                "converters": "StringConverter (key and value), both systems",
                "connector_configs": "defaults (FileStreamSource batch.size 2000 in both)",
                "idle_rss": "VmRSS sampled every 0.5 s after /health = 200 until 6 samples are within 2 %",
                "connect_file_jar": "Ferry: plugin.path = one symlink to %s, plugin.discovery=service_load, "
                "connector.plugin.version %s, CPU of the worker and its plugin host JVM; Kafka Connect: its "
                "FileStream rows (the same connect-file %s classes, from its class path) are reused; idle RSS "
                "with plugin.path: the same plugin.path and plugin.discovery for both" % (
                    CONNECT_FILE_LOCATION or "(not set)", CONNECT_FILE_VERSION, CONNECT_FILE_VERSION),
                "failover": "2 workers, FileStreamSink tasks.max=2 over a 2-partition topic, kill -9 of "
                "the second worker, until both tasks are RUNNING on the survivor (GET /connectors/<c>/status)",
                "debezium": "%s from plugin.path %s (plugin.discovery=service_load) in both systems, "
                "pgoutput, JsonConverter (schemas on) for key and value, topic created with 3 partitions "
                "and lz4; a table of its own per system with a snapshot of %d rows and one probe insert, "
                "then the changes as INSERT ... generate_series in transactions of %d rows (psql -f), "
                "timed from the writer's start to the last change in the topic (watermarks every 5 ms); "
                "CPU and RSS: the Ferry worker + its plugin host JVM, the Kafka Connect JVM" % (
                    DEBEZIUM_CONNECTOR, DEBEZIUM_PLUGIN_PATH or "(not set)", DEBEZIUM_SNAPSHOT_ROWS,
                    DEBEZIUM_ROWS_PER_TRANSACTION),
            },
        }


def cpu_delta(before, after):
    return after - before if before is not None and after is not None else None


def declared_services(script):
    """Services a sink script names in a `# bench-service: NAME [NAME...]` line."""
    names = []
    with open(script) as f:
        for line in f:
            match = re.match(r"#\s*bench-services?:\s*(.+)", line)
            if match:
                names += match.group(1).split()
    return names


# ------------------------------------------------------------------------------------ output


def fmt(value, pattern, missing="-"):
    return pattern % value if value is not None else missing


def markdown(result):
    rows = result["rows"]
    ratios = result["ratios"]
    only = result.get("only")
    debezium = result.get("debezium") or {}
    out = []
    if only == "debezium":
        out.append("Debezium PostgreSQL streaming only: %s changes, %s, %d CPUs, load average %s at start, %s at end"
                   % ("{:,}".format(debezium.get("changes", 0)), result["date"], result["machine"]["cpus"],
                      fmt_load(result["machine"]["loadavg_start"]), fmt_load(result["machine"]["loadavg_end"])))
    else:
        out.append("%s records of %d bytes, %s, %d CPUs, load average %s at start, %s at end"
                   % ("{:,}".format(result["records"]), result["record_bytes"], result["date"],
                      result["machine"]["cpus"], fmt_load(result["machine"]["loadavg_start"]),
                      fmt_load(result["machine"]["loadavg_end"])))
    out.append("")
    out.append("| pipeline | records | seconds | records/s | steady records/s | longest gap (s) | CPU µs/record | Ferry/raw | Ferry/Kafka Connect |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    order = [
        ("raw librdkafka", "produce", "raw librdkafka produce", None, None),
        ("ferry", "source", "Ferry FileStreamSource → Kafka", "source", "source"),
        ("Kafka Connect", "source", "Kafka Connect FileStreamSource → Kafka", None, None),
        ("raw librdkafka", "consume", "raw librdkafka consume", None, None),
        ("ferry", "sink", "Ferry Kafka → FileStreamSink", "sink", "sink"),
        ("Kafka Connect", "sink", "Kafka Connect Kafka → FileStreamSink", None, None),
        ("ferry", "source (JSON)", "Ferry FileStreamSource → Kafka, JsonConverter", None, "source_json"),
        ("Kafka Connect", "source (JSON)", "Kafka Connect FileStreamSource → Kafka, JsonConverter", None, None),
        ("ferry", "sink (JSON)", "Ferry Kafka → FileStreamSink, JsonConverter", None, "sink_json"),
        ("Kafka Connect", "sink (JSON)", "Kafka Connect Kafka → FileStreamSink, JsonConverter", None, None),
        ("ferry", TRANSFORMS_PIPELINE, "Ferry Kafka → FileStreamSink, JSON, InsertField + ReplaceField + TimestampRouter", None, "sink_json_transforms"),
        ("Kafka Connect", TRANSFORMS_PIPELINE, "Kafka Connect Kafka → FileStreamSink, JSON, InsertField + ReplaceField + TimestampRouter", None, None),
        ("ferry", JAR_SOURCE, "Ferry FileStreamSource → Kafka (connect-file jar, plugin host; CPU: worker + host)", None, "jar_source"),
        ("Kafka Connect", "source", "Kafka Connect FileStreamSource → Kafka (connect-file jar: its FileStreamSource row above, the same classes and pipeline)", None, None),
        ("ferry", JAR_SINK, "Ferry Kafka → FileStreamSink (connect-file jar, plugin host; CPU: worker + host)", None, "jar_sink"),
        ("Kafka Connect", "sink", "Kafka Connect Kafka → FileStreamSink (connect-file jar: its FileStreamSink row above, the same classes and pipeline)", None, None),
        ("ferry", DEBEZIUM_PIPELINE, "Ferry Debezium PostgreSQL → Kafka, streaming (plugin host; CPU: worker + host)", None, "debezium"),
        ("Kafka Connect", DEBEZIUM_PIPELINE, "Kafka Connect Debezium PostgreSQL → Kafka, streaming", None, None),
    ]
    for system, pipeline, title, vs_raw, vs_kc in order:
        for row in rows:
            if row["system"] == system and row["pipeline"] == pipeline:
                out.append(table_row(title, row, ratio_pair(ratios, "raw", vs_raw), ratio_pair(ratios, "kafka_connect", vs_kc)))
    for row in rows:
        if row["pipeline"].startswith("Kafka → "):
            out.append(table_row("Ferry " + row["pipeline"], row, None, None))
    out.append("")
    rss, ready, failover, notes = result["rss_mb"], result["ready_s"], result["failover_s"], result["failover_notes"]
    out.append("| worker | Ferry | Kafka Connect | Ferry/Kafka Connect |")
    out.append("|---|---:|---:|---:|")
    if debezium.get("ferry") or debezium.get("kafka_connect"):
        for key, title in (("", "RSS at the end of Debezium streaming (MB)"),
                           ("_peak", "peak RSS (VmHWM) of the Debezium workers (MB)")):
            ferry, connect = rss.get("debezium_ferry" + key), rss.get("debezium_kafka_connect" + key)
            worker_mb, host_mb = rss.get("debezium_ferry%s_worker" % key), rss.get("debezium_ferry%s_host" % key)
            parts = "%s (worker %s + plugin host %s)" % (fmt(ferry, "%.1f"), fmt(worker_mb, "%.1f"), fmt(host_mb, "%.1f"))
            out.append("| %s | %s | %s | %s |" % (title, parts if ferry is not None else "-", fmt(connect, "%.1f"),
                                                  "%.2f" % (ferry / connect) if ferry is not None and connect else "-"))
        cells = []
        for system in ("ferry", "kafka_connect"):
            figures = debezium.get(system)
            cells.append("%.2f, %s" % (figures["writer_s"], fmt(figures.get("first_change_s"), "%.3f"))
                         if figures else "-")
        out.append("| Debezium: the writer's commit time, first change in Kafka after (s) | %s | %s | |" % tuple(cells))
    debezium_text = (
        "Debezium streaming: %s changes (INSERT ... generate_series, %s rows per transaction, psql -f) into "
        "a table of the system's own after a snapshot of %s rows and one probe change; seconds from the "
        "writer's start to the last change in the topic (its end offsets, every 5 ms); the longest gap "
        "includes the wait for the first change and is no stall here. Both systems run Debezium's own jar "
        "from the same plugin.path against the same PostgreSQL and broker. CPU µs/record: the Ferry worker "
        "and its plugin host JVM, the Kafka Connect JVM, over the changes; RSS Ferry: worker + plugin host." % (
            "{:,}".format(debezium.get("changes", 0)), "{:,}".format(debezium.get("rows_per_transaction", 0)),
            "{:,}".format(debezium.get("snapshot_rows", 0))))
    if only == "debezium":
        out.append("")
        out.append(debezium_text)
        for note in result["notes"]:
            out.append("Note: " + note)
        return "\n".join(out)
    out.append(pair_row("idle RSS (MB)", rss.get("ferry_idle"), rss.get("kafka_connect_idle"), "%.1f"))
    if rss.get("ferry_plugin_host_idle") is not None or rss.get("kafka_connect_plugin_path_idle") is not None:
        worker_mb, host_mb = rss.get("ferry_plugin_host_idle_worker"), rss.get("ferry_plugin_host_idle_host")
        parts = "%s (worker %s + plugin host %s)" % (fmt(rss.get("ferry_plugin_host_idle"), "%.1f"),
                                                    fmt(worker_mb, "%.1f"), fmt(host_mb, "%.1f"))
        connect = rss.get("kafka_connect_plugin_path_idle")
        ferry = rss.get("ferry_plugin_host_idle")
        out.append("| idle RSS, worker + plugin host, plugin.path = connect-file (MB) | %s | %s | %s |" % (
            parts, fmt(connect, "%.1f"), "%.2f" % (ferry / connect) if ferry is not None and connect else "-"))
    out.append(pair_row("RSS after both pipelines (MB)", rss.get("ferry_after_load"), rss.get("kafka_connect_after_load"), "%.1f"))
    out.append(pair_row("start → GET / = 200 (s)", ready.get("ferry"), ready.get("kafka_connect"), "%.2f"))
    out.append(pair_row("start → GET /health = 200 (s)", ready.get("ferry_health"), ready.get("kafka_connect_health"), "%.2f"))
    for key, title in (("default", "failover after kill -9, default settings (s)"),
                       ("delay_0", "failover after kill -9, scheduled.rebalance.max.delay.ms=0 (s)")):
        out.append(pair_row(title, failover.get("ferry_" + key), failover.get("kafka_connect_" + key), "%.2f",
                            notes.get("ferry_" + key), notes.get("kafka_connect_" + key)))
    out.append("")
    out.append("Ratios are throughput ratios (records/s), whole run (steady state between 10 % and 90 % of "
               "the records in parentheses); for RSS and seconds Ferry/Kafka Connect is Ferry's figure "
               "over Kafka Connect's (lower is better). Longest gap: the longest time without output after "
               "the first record; CPU µs/record: user + system CPU of the process doing the work (the "
               "worker, the worker and its plugin host JVM for the connect-file jar rows, or "
               "ferry-bench for raw) over the records. The connect-file jar rows: Ferry runs Apache's "
               "connect-file 4.3.1 jar from plugin.path through its plugin host (connector.plugin.version "
               "4.3.1); Kafka Connect runs the same connect-file 4.3.1 classes in its FileStream rows "
               "(from its class path), whose figures those rows reuse. Both idle RSS rows with "
               "plugin.path use the same plugin.path (the connect-file location only) and "
               "plugin.discovery=service_load.")
    if debezium.get("changes"):
        out.append("")
        out.append(debezium_text)
    for stall in result["stalls"]:
        out.append("**STALL**: " + stall)
    for note in result["notes"]:
        out.append("Note: " + note)
    return "\n".join(out)


def ratio_pair(ratios, against, key):
    """`total (steady)` ratio text for a table cell, or None."""
    if key is None:
        return None
    total = ratios.get("ferry_vs_%s_%s" % (against, key))
    steady = ratios.get("steady_ferry_vs_%s_%s" % (against, key))
    if total is None and steady is None:
        return None
    return "%s (%s)" % (fmt(total, "%.2f×"), fmt(steady, "%.2f×"))


def fmt_load(load):
    return "/".join("%.2f" % x for x in load) if load else "?"


def table_row(title, row, vs_raw, vs_kc):
    if not row["seconds"]:
        return "| %s | %s | %s | | | | | | |" % (title, "{:,}".format(row["records"]), row["note"])
    return "| %s | %s | %.2f | %s | %s | %s | %s | %s | %s |" % (
        title, "{:,}".format(row["records"]), row["seconds"], "{:,.0f}".format(row["records_per_s"]),
        "{:,.0f}".format(row["steady_records_per_s"]) if row.get("steady_records_per_s") else "-",
        fmt(row.get("max_gap_s"), "%.3f"), fmt(row.get("cpu_us_per_record"), "%.2f"),
        vs_raw or "", vs_kc or "",
    )


def pair_row(title, ferry, connect, pattern, ferry_note=None, connect_note=None):
    ratio = "%.2f" % (ferry / connect) if ferry is not None and connect else "-"
    return "| %s | %s | %s | %s |" % (
        title, fmt(ferry, pattern, ferry_note or "-"), fmt(connect, pattern, connect_note or "-"), ratio,
    )


# ------------------------------------------------------------------------------------ main


def main():
    parser = argparse.ArgumentParser(prog="scripts/bench.sh")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--count", type=int)
    parser.add_argument("--json")
    parser.add_argument("--plot")
    parser.add_argument("--no-sinks", action="store_true")
    parser.add_argument("--no-kafka-connect", action="store_true")
    parser.add_argument("--no-failover", action="store_true")
    parser.add_argument("--no-debezium", action="store_true")
    parser.add_argument("--debezium-changes", type=int)
    parser.add_argument("--only", choices=["debezium"])
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    if args.count is not None and args.count < 1:
        parser.error("--count must be at least 1")
    if args.debezium_changes is not None and args.debezium_changes < 1:
        parser.error("--debezium-changes must be at least 1")
    if args.only == "debezium" and args.no_debezium:
        parser.error("--only debezium and --no-debezium exclude each other")
    if not args.no_kafka_connect and not os.path.isdir(CONNECT_LIB):
        parser.error("FERRY_CONNECT_LIB (the Kafka Connect jars) is not a directory: %r" % CONNECT_LIB)

    def on_signal(signum, _frame):
        raise Abort("signal %d" % signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    bench = Bench(args)
    try:
        result = bench.go()
    except Abort as error:
        log("interrupted (%s); stopping what this run started" % error)
        bench.cleanup()
        return 130
    except Failed as error:
        log("error: %s" % error)
        bench.cleanup()
        return 1
    except BaseException:
        bench.cleanup()
        raise
    bench.cleanup()
    table = markdown(result)
    failed = bool(result["stalls"])
    result["markdown"] = table
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, ensure_ascii=False)
            f.write("\n")
        log("wrote %s" % args.json)
    if args.plot:
        python = os.environ.get("FERRY_BENCH_PLOT_PYTHON", sys.executable)
        plot = subprocess.run([python, os.path.join(REPO, "scripts", "bench", "plot.py"), args.plot],
                              input=json.dumps(result), text=True)
        if plot.returncode != 0:
            log("error: plotting failed")
            return 1
        log("wrote %s" % args.plot)
    if failed:
        log("error: %d Ferry pipeline(s) stalled (no output for >= %.1f s after the first record): %s"
            % (len(result["stalls"]), STALL_S, "; ".join(result["stalls"])))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
