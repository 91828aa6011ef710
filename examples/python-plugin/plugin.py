"""A Ferry plugin in Python: a counter source and a file sink, speaking Ferry's plugin protocol
(proto/ferry/plugin/v1/plugin.proto) with grpcio.

- dev.ferry.examples.CounterSource writes the values 0, 1, 2... (as UTF-8 text) to `topic`, up
  to `count` records, and resumes after its stored offset ({"n": last}) when restarted.
- dev.ferry.examples.FileSink appends each record's value as one line to `file`, and makes it
  durable (fsync) before answering preCommit, so Ferry commits only what is on disk.

Records cross as Kafka-ready bytes: the plugin is its own converter.
"""

import json
import os
import queue
import sys
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ferry.plugin.v1 import plugin_pb2 as pb
from ferry.plugin.v1 import plugin_pb2_grpc as pb_grpc

PROTOCOL_VERSION = 1
VERSION = "0.1.0"
SOURCE = "dev.ferry.examples.CounterSource"
SINK = "dev.ferry.examples.FileSink"
LOCATION = os.path.dirname(os.path.abspath(__file__))


def key(name, type_, doc, default=None, required=False):
    return pb.ConfigKeyDef(
        name=name,
        type=type_,
        has_default=not required,
        default_value=default,
        importance="HIGH",
        documentation=doc,
        order_in_group=-1,
        width="NONE",
        display_name=name,
    )


CONFIG = {
    SOURCE: [
        key("topic", "STRING", "The topic to write to.", required=True),
        key("count", "LONG", "How many records to write.", default="1000"),
    ],
    SINK: [key("file", "STRING", "The file to append values to.", required=True)],
}


class TokenCheck(grpc.ServerInterceptor):
    """Refuses calls without the per-launch token (UNAUTHENTICATED)."""

    def __init__(self, token):
        self.token = token

        def deny(_request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong ferry-plugin-token")

        self.deny = grpc.unary_unary_rpc_method_handler(deny)

    def intercept_service(self, continuation, details):
        metadata = dict(details.invocation_metadata)
        if details.method.startswith("/grpc.health.v1.Health/"):
            return continuation(details)
        if metadata.get("ferry-plugin-token") != self.token:
            return self.deny
        return continuation(details)


def drain(requests, inbox):
    """Moves a request stream into a queue (None at its end), on its own thread."""

    def run():
        try:
            for request in requests:
                inbox.put(request)
        except grpc.RpcError:
            pass
        inbox.put(None)

    threading.Thread(target=run, daemon=True).start()


class Plugin(pb_grpc.PluginServicer):
    def __init__(self, server_stop):
        self.server_stop = server_stop

    def Describe(self, request, context):
        plugins = [
            pb.PluginDescriptor(
                class_name=SOURCE,
                type=pb.PLUGIN_TYPE_SOURCE,
                version=VERSION,
                location=LOCATION,
                config_keys=CONFIG[SOURCE],
            ),
            pb.PluginDescriptor(
                class_name=SINK,
                type=pb.PLUGIN_TYPE_SINK,
                version=VERSION,
                location=LOCATION,
                config_keys=CONFIG[SINK],
            ),
        ]
        return pb.DescribeResponse(
            protocol_version=PROTOCOL_VERSION,
            runtime="ferry python example " + VERSION,
            plugins=plugins,
        )

    def Validate(self, request, context):
        values = []
        for definition in CONFIG.get(request.class_name, []):
            value = request.config.get(definition.name)
            errors = []
            if value is None and not definition.has_default:
                errors.append(f'Missing required configuration "{definition.name}" which has no default value.')
            if value is not None and definition.type == "LONG":
                try:
                    int(value)
                except ValueError:
                    errors.append(f'Invalid value {value} for configuration {definition.name}: Not a number of type LONG')
            values.append(pb.ConfigValueResult(name=definition.name, value=value, errors=errors, visible=True))
        return pb.ValidateResponse(values=values)

    def Connector(self, request_iterator, context):
        # One task, with the connector's own config.
        config = {}
        for message in request_iterator:
            kind = message.WhichOneof("message")
            if kind == "start":
                config = dict(message.start.config)
                yield pb.ConnectorOut(started=pb.ConnectorStarted())
            elif kind == "task_configs":
                yield pb.ConnectorOut(task_configs=pb.TaskConfigs(tasks=[pb.TaskConfig(config=config)]))
            elif kind == "stop":
                yield pb.ConnectorOut(stopped=pb.ConnectorStopped())
                return

    def SourceTask(self, request_iterator, context):
        inbox = queue.Queue()
        drain(request_iterator, inbox)
        first = inbox.get()
        if first is None or first.WhichOneof("message") != "start":
            return
        config = dict(first.start.config)
        topic = config["topic"]
        count = int(config.get("count", "1000"))
        partition_json = json.dumps({"counter": topic})
        yield pb.SourceOut(started=pb.TaskStarted())
        # OffsetStorageReader: where the last run stopped.
        yield pb.SourceOut(offset_read=pb.OffsetRead(request_id=1, partitions_json=[partition_json]))
        credit = 0
        following = None
        while following is None:
            message = inbox.get()
            if message is None:
                return
            kind = message.WhichOneof("message")
            if kind == "credit":
                credit += message.credit.records
            elif kind == "offset_reply":
                stored = message.offset_reply.offsets[0]
                following = json.loads(stored.offset_json)["n"] + 1 if stored.HasField("offset_json") else 0
            elif kind == "stop":
                yield pb.SourceOut(stopped=pb.TaskStopped())
                return
        seq = 0
        while True:
            if following < count and credit > 0:
                batch = []
                while following < count and credit > 0 and len(batch) < 500:
                    batch.append(
                        pb.SourceRecord(
                            seq=seq,
                            topic=topic,
                            value=str(following).encode(),
                            source_partition_json=partition_json,
                            source_offset_json=json.dumps({"n": following}),
                        )
                    )
                    seq += 1
                    following += 1
                    credit -= 1
                yield pb.SourceOut(batch=pb.SourceBatch(records=batch))
                continue
            # Nothing to send (done, or no credit): wait for Ferry, never spin.
            try:
                message = inbox.get(timeout=1.0)
            except queue.Empty:
                continue
            if message is None:
                return
            kind = message.WhichOneof("message")
            if kind == "credit":
                credit += message.credit.records
            elif kind == "stop":
                yield pb.SourceOut(stopped=pb.TaskStopped())
                return

    def SinkTask(self, request_iterator, context):
        out = None
        try:
            for message in request_iterator:
                kind = message.WhichOneof("message")
                if kind == "start":
                    out = open(dict(message.start.config)["file"], "ab")
                    yield pb.SinkOut(started=pb.TaskStarted())
                elif kind in ("open", "close"):
                    yield pb.SinkOut(done=pb.Done())
                elif kind == "put":
                    for record in message.put.records:
                        value = record.value if record.HasField("value") else b"null"
                        out.write(value + b"\n")
                    yield pb.SinkOut(done=pb.Done())
                elif kind == "pre_commit":
                    out.flush()
                    os.fsync(out.fileno())
                    yield pb.SinkOut(committable=pb.Committable(offsets=message.pre_commit.current))
                elif kind == "stop":
                    yield pb.SinkOut(stopped=pb.TaskStopped())
                    return
        finally:
            if out is not None:
                out.close()

    def Shutdown(self, request, context):
        threading.Timer(0.2, self.server_stop).start()
        return pb.ShutdownResponse()


def main():
    socket = os.environ["FERRY_PLUGIN_SOCKET"]
    token = os.environ["FERRY_PLUGIN_TOKEN"]
    versions = os.environ.get("FERRY_PLUGIN_PROTOCOL", "1").split(",")
    if str(PROTOCOL_VERSION) not in versions:
        print(f"ERROR|python-example||protocol versions {versions} do not include {PROTOCOL_VERSION}", file=sys.stderr)
        sys.exit(1)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), interceptors=[TokenCheck(token)])
    done = threading.Event()

    def stop():
        server.stop(grace=1)
        done.set()

    pb_grpc.add_PluginServicer_to_server(Plugin(stop), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.add_insecure_port("unix:" + socket)
    server.start()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)

    # The worker died when stdin reaches EOF: so does the plugin.
    def watch_stdin():
        while sys.stdin.buffer.read(4096):
            pass
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"FERRY-PLUGIN|{PROTOCOL_VERSION}|unix|{socket}|grpc", flush=True)
    done.wait()


if __name__ == "__main__":
    main()
