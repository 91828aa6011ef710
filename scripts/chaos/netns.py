"""Network namespaces for scripts/chaos.sh --partition (Linux, root; `ip` from iproute2).

Layout (S = a subnet number unique to the run):

    root namespace                          namespace fc<id>-<i> (one per worker)
    bridge fcb<id> ── veth fch<id>x<i> ──── veth fcn<id>x<i> 10.203.S.<i>/24   ferry worker :8083
                                            lo 127.0.0.1:<broker ports> ─┐ (sockets made in the ns)
    127.0.0.1:9092 (Kafka) ◄───────────── relay thread ◄────────────────┘
    127.0.0.1:<ctl port>  ─────────────── relay thread ──► 127.0.0.1:8083 in the ns (the harness'
                                                           own HTTP access to the worker)

Workers gossip and call each other (HTTP/gRPC) over the bridge only. Kafka and the harness
reach each worker through relays that bypass the bridge: sockets are created inside a namespace
by a thread that entered it with setns(2) (network namespaces are per thread), then used from
any thread. Cutting worker i off = `ip link set fch<id>x<i> down` (its gossip and RPCs to and
from the others fail, Kafka and the harness still reach it); healing = `up` again. No packet
filter needed.
"""

import ctypes
import os
import socket
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

CLONE_NEWNET = 0x40000000
WORKER_PORT = 8083
_LIBC = ctypes.CDLL(None, use_errno=True)


def run(*cmd):
    """Runs an `ip` command; raises with its stderr on failure."""
    out = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), out.stderr.strip()))


def _enter_namespace(name):
    fd = os.open("/run/netns/%s" % name, os.O_RDONLY)
    try:
        if _LIBC.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, "setns(%s): %s" % (name, os.strerror(errno)))
    finally:
        os.close(fd)


def _pump(source, target):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    for sock in (source, target):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    source.close()


class Relay(threading.Thread):
    """Accepts on `listener` and pipes each connection to a socket from `connect()`."""

    def __init__(self, listener, connect, label):
        super().__init__(daemon=True, name="relay-%s" % label)
        self.listener = listener
        self.connect = connect
        self.closed = False

    def run(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = self.connect()
            except OSError:
                client.close()
                continue
            threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()

    def close(self):
        self.closed = True
        try:
            self.listener.close()
        except OSError:
            pass


class Network:
    """A bridge and one namespace per worker; see the module docs."""

    def __init__(self, count, broker_ports, log):
        self.log = log
        self.id = os.getpid() % 100000
        self.subnet = 200 + os.getpid() % 50  # 10.203.<subnet>.0/24
        self.bridge = "fcb%d" % self.id
        self.count = count
        self.broker_ports = broker_ports
        self.namespaces = []
        self.host_links = []
        self.executors = []
        self.relays = []

    def namespace(self, index):
        return "fc%d-%d" % (self.id, index)

    def host_link(self, index):
        return "fch%dx%d" % (self.id, index)

    def ip(self, index):
        return "10.203.%d.%d" % (self.subnet, index)

    def setup(self):
        """Creates the bridge and the namespaces; returns each worker's control address."""
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "link", "set", self.bridge, "up")
        controls = []
        for index in range(1, self.count + 1):
            ns, host, peer = self.namespace(index), self.host_link(index), "fcn%dx%d" % (self.id, index)
            run("ip", "netns", "add", ns)
            self.namespaces.append(ns)
            run("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
            self.host_links.append(host)
            run("ip", "link", "set", peer, "netns", ns)
            run("ip", "link", "set", host, "master", self.bridge)
            run("ip", "link", "set", host, "up")
            run("ip", "netns", "exec", ns, "ip", "addr", "add", "%s/24" % self.ip(index), "dev", peer)
            run("ip", "netns", "exec", ns, "ip", "link", "set", peer, "up")
            run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            executor = ThreadPoolExecutor(max_workers=1, initializer=_enter_namespace, initargs=(ns,))
            self.executors.append(executor)
            for port in self.broker_ports:
                listener = executor.submit(self._listen, "127.0.0.1", port).result()
                relay = Relay(listener, lambda port=port: socket.create_connection(("127.0.0.1", port), timeout=10),
                              "%s-kafka-%d" % (ns, port))
                relay.start()
                self.relays.append(relay)
            control = self._listen("127.0.0.1", 0)
            connect_in_ns = lambda executor=executor: executor.submit(  # noqa: E731
                self._connect, "127.0.0.1", WORKER_PORT).result()
            relay = Relay(control, connect_in_ns, "%s-control" % ns)
            relay.start()
            self.relays.append(relay)
            controls.append("127.0.0.1:%d" % control.getsockname()[1])
        self.log("network: bridge %s, namespaces %s on 10.203.%d.0/24; Kafka (ports %s) and the harness"
                 " reach each worker through relays, the workers reach each other over the bridge"
                 % (self.bridge, ", ".join(self.namespaces), self.subnet,
                    ",".join(str(p) for p in self.broker_ports)))
        return controls

    @staticmethod
    def _listen(host, port):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(128)
        return listener

    @staticmethod
    def _connect(host, port):
        return socket.create_connection((host, port), timeout=5)

    def command_prefix(self, index):
        return ["ip", "netns", "exec", self.namespace(index)]

    def cut(self, index):
        run("ip", "link", "set", self.host_link(index), "down")

    def heal(self, index):
        run("ip", "link", "set", self.host_link(index), "up")

    def teardown(self):
        for relay in self.relays:
            relay.close()
        for executor in self.executors:
            executor.shutdown(wait=False)
        for link in self.host_links:
            subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        if self.namespaces:
            self.log("network: removed bridge %s, %d veth pairs and namespaces %s"
                     % (self.bridge, len(self.host_links), ", ".join(self.namespaces)))
        self.namespaces, self.host_links = [], []
