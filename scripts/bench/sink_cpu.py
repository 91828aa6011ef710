#!/usr/bin/env python3
"""CPU per record of one Ferry sink pipeline on the real broker, optionally under callgrind.

    scripts/bench/sink_cpu.py FERRY_BINARY PIPELINE COUNT [--callgrind OUT]

PIPELINE is `string` (StringConverter -> FileStreamSink), `json` (JsonConverter with schemas,
envelopes of a string as the JSON source writes them), `transforms` (schemaless JSON through
scripts/bench/bench.py's TRANSFORM_CHAIN) or `jar` (Apache's connect-file 4.3.1 FileStreamSink jar
through the JVM plugin host, StringConverter: needs FERRY_PLUGIN_HOST_DIR and
FERRY_CONNECT_FILE_LOCATION as scripts/bench.sh sets them; the CPU is the worker's plus the plugin
host's; FERRY_JAR_JFR=FILE.jfr records a JFR profile of the host with JAVA_TOOL_OPTIONS). Produces COUNT records of about 100 bytes into a new
topic, starts one worker, creates the sink and waits for COUNT lines; prints seconds and the
worker's CPU microseconds per record (user + system, /proc). With --callgrind the worker runs
under valgrind, collecting only inside the sink task's per-batch path (SinkState::put: convert,
transforms, put), and the instructions per record are printed from OUT.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (TRANSFORM_CHAIN, converter names)

BOOTSTRAP = os.environ.get("FERRY_BENCH_BOOTSTRAP", "127.0.0.1:9092")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FERRY_BENCH = os.environ.get("FERRY_BENCH_TOOL", os.path.join(ROOT, "target", "release", "ferry-bench"))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


def thread_cpu(pid):
    """CPU seconds of each thread of `pid` by thread name (the busiest first)."""
    found = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            found[name] = round(found.get(name, 0.0) + cpu_s_path("/proc/%d/task/%s/stat" % (pid, tid)), 2)
        except OSError:
            continue
    return dict(sorted(found.items(), key=lambda item: -item[1])[:12])


def cpu_s_path(path):
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


def lines(path):
    try:
        with open(path, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def request(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as response:
        return response.status


def produce(pipeline, topic, count, work):
    if pipeline == "transforms":
        subprocess.run([FERRY_BENCH, "produce-json", BOOTSTRAP, topic, str(count), "100"],
                       check=True, stdout=subprocess.DEVNULL)
    elif pipeline in ("string", "jar"):
        subprocess.run([FERRY_BENCH, "produce", BOOTSTRAP, topic, str(count), "100"],
                       check=True, stdout=subprocess.DEVNULL)
    else:
        path = os.path.join(work, "envelopes.txt")
        with open(path, "w") as f:
            for index in range(count):
                text = ("record-%09d " % index).ljust(100, "a")
                f.write('{"schema":{"type":"string","optional":false},"payload":"%s"}\n' % text)
        subprocess.run(["kcat", "-P", "-b", BOOTSTRAP, "-t", topic, "-l", path], check=True)


def connector_config(pipeline, topic, output):
    base = {"connector.class": "FileStreamSink", "file": output, "topics": topic}
    if pipeline == "transforms":
        return dict(bench.TRANSFORM_CHAIN, **base)
    if pipeline == "jar":
        base["connector.plugin.version"] = bench.CONNECT_FILE_VERSION
    converter = bench.STRING_CONVERTER if pipeline in ("string", "jar") else bench.JSON_CONVERTER
    config = dict(base, **{"key.converter": converter, "value.converter": converter})
    if pipeline == "json":
        config.update({"key.converter.schemas.enable": "true", "value.converter.schemas.enable": "true"})
    return config


def wait_jar_listed(port, worker, log_name):
    """The plugin host's pid, once GET /connector-plugins lists the jar's FileStreamSinkConnector."""
    deadline = time.monotonic() + 180
    while True:
        hosts = bench.children_running(worker.pid, bench.PLUGIN_HOST_MAIN)
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/connector-plugins" % port, timeout=10) as response:
                plugins = json.load(response)
        except OSError:
            plugins = []
        if len(hosts) == 1 and any(p.get("class") == "org.apache.kafka.connect.file.FileStreamSinkConnector"
                                   and p.get("version") == bench.CONNECT_FILE_VERSION for p in plugins):
            return hosts[0]
        if time.monotonic() > deadline or worker.poll() is not None:
            sys.exit("no plugin host listing the connect-file jar; see " + log_name)
        time.sleep(0.1)


def main():
    if len(sys.argv) not in (4, 6) or sys.argv[2] not in ("string", "json", "transforms", "jar"):
        sys.exit(__doc__)
    ferry, pipeline, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    callgrind_out = sys.argv[5] if len(sys.argv) == 6 and sys.argv[4] == "--callgrind" else None
    run = "sinkcpu-%d-%d" % (os.getpid(), int(time.time()))
    work = tempfile.mkdtemp(prefix=run)
    topic = run + "-in"
    produce(pipeline, topic, count, work)
    port = free_port()
    props = os.path.join(work, "worker.properties")
    with open(props, "w") as f:
        f.write("\n".join([
            "bootstrap.servers=" + BOOTSTRAP, "group.id=" + run, "listeners=http://127.0.0.1:%d" % port,
            "config.storage.topic=%s-configs" % run, "offset.storage.topic=%s-offsets" % run,
            "status.storage.topic=%s-status" % run, "config.storage.replication.factor=1",
            "offset.storage.replication.factor=1", "status.storage.replication.factor=1",
            "key.converter=" + bench.STRING_CONVERTER, "value.converter=" + bench.STRING_CONVERTER,
        ]) + "\n")
        if pipeline == "jar":
            plugin_path = os.path.join(work, "plugin-path")
            os.makedirs(plugin_path)
            location = os.environ["FERRY_CONNECT_FILE_LOCATION"].rstrip("/")
            os.symlink(os.path.abspath(location), os.path.join(plugin_path, os.path.basename(location)))
            f.write("plugin.path=%s\nplugin.discovery=service_load\n" % plugin_path)
            if os.environ.get("FERRY_JAR_JAVA"):
                f.write("plugin.host.java=%s\n" % os.environ["FERRY_JAR_JAVA"])
    env = dict(os.environ)
    if pipeline == "jar" and os.environ.get("FERRY_JAR_JFR"):
        env["JAVA_TOOL_OPTIONS"] = "-XX:StartFlightRecording=filename=%s,settings=profile" % os.environ["FERRY_JAR_JFR"]
    command = [ferry, "worker", props]
    if callgrind_out:
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + callgrind_out,
                   "--toggle-collect=*SinkState*put*"] + command
    log = open(os.path.join(work, "worker.log"), "wb")
    worker = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              start_new_session=True, env=env)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if request("GET", "http://127.0.0.1:%d/health" % port) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or worker.poll() is not None:
                sys.exit("worker not ready; see " + log.name)
            time.sleep(0.05)
        pids = [worker.pid]
        if pipeline == "jar":
            pids.append(wait_jar_listed(port, worker, log.name))
            idle_mb, _ = bench.stable_rss_mb(pids[1])
            print(json.dumps({"plugin_host_idle_rss_mb": round(idle_mb, 1)}))
        output = os.path.join(work, "out.txt")
        cpu_before_each = [cpu_s(pid) for pid in pids]
        cpu_before = sum(cpu_before_each)
        started = time.monotonic()
        request("POST", "http://127.0.0.1:%d/connectors" % port,
                {"name": run + "-sink", "config": connector_config(pipeline, topic, output)})
        deadline = time.monotonic() + (3000 if callgrind_out else 300)
        while lines(output) < count:
            if time.monotonic() > deadline or worker.poll() is not None:
                sys.exit("only %d of %d lines; see %s" % (lines(output), count, log.name))
            time.sleep(0.05)
        seconds = time.monotonic() - started
        cpu_each = [cpu_s(pid) for pid in pids]
        cpu = sum(cpu_each) - cpu_before
        print(json.dumps({"pipeline": pipeline, "records": count, "seconds": round(seconds, 3),
                          "records_per_s": round(count / seconds), "cpu_s": cpu,
                          "cpu_us_per_record": round(cpu * 1e6 / count, 3),
                          "cpu_s_worker_host": [round(after - before, 2) for before, after in zip(cpu_before_each, cpu_each)]
                          if pipeline == "jar" else None}))
        if os.environ.get("FERRY_SINK_CPU_THREADS"):
            for pid in pids:
                print(json.dumps({"pid": pid, "threads_cpu_s": thread_cpu(pid)}))
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=120)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        subprocess.run([FERRY_BENCH, "delete-topics", BOOTSTRAP, run + "-"], stdout=subprocess.DEVNULL)
    if callgrind_out:
        summary = subprocess.run(["callgrind_annotate", callgrind_out], capture_output=True, text=True).stdout
        for line in summary.splitlines():
            if "PROGRAM TOTALS" in line:
                total = int(line.split()[0].replace(",", ""))
                print(json.dumps({"callgrind_instructions_in_put": total,
                                  "instructions_per_record": round(total / count)}))


if __name__ == "__main__":
    main()
