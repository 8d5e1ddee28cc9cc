"""A real multi-node Ray cluster on this machine: one head and N worker nodes, each a ``clubhub ray-node``
process (``ray start --block``) in a session of its own, so a test can SIGKILL one node whole.

Every node listens on loopback only and on ports of its own: Ray's defaults (6379, 8265, 10001, 52365, …)
would collide between nodes of one machine and with other clusters running beside this one. The head
offers no CPU, so nothing but the GCS and its raylet live there (a gateway's driver attaches to it, so
killing a worker node never takes a gateway down with it); worker nodes offer the shard resource that
``CLUBHUB_RAY_SHARD_RESOURCE`` names, so room and session shards live only on them.

Node death is noticed fast: the GCS health-checks each raylet every ``HEALTH_CHECK_PERIOD_MS`` and declares
it dead after ``HEALTH_CHECK_FAILURES`` failed checks of at most ``HEALTH_CHECK_TIMEOUT_MS`` each (Ray's
defaults, 3 s x 5 with a 10 s timeout, take 15-60 s), set through the ``RAY_health_check_*`` variables
the head's GCS reads at start-up.

Never ``ray stop`` here: it kills every Ray process of the machine, other tests' and other people's.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

CLUBHUB = str(Path(sys.executable).parent / "clubhub")

HEALTH_CHECK_PERIOD_MS = 1000
HEALTH_CHECK_TIMEOUT_MS = 1000
HEALTH_CHECK_FAILURES = 3
AGENT_REGISTER_TIMEOUT_MS = 90_000
WORKER_CPUS = 2
WORKER_PORTS = 40  # worker processes (one per actor, plus idle ones) per node
OBJECT_STORE_MB = 100  # the shards pass small messages; Ray's floor is about 75 MB

# Asked by a process of its own: this one may already be a driver of another Ray instance, and Ray reads
# its token once per process. It stays up and answers one line per request: importing Ray takes seconds.
WATCHER_TIMEOUT_S = 15.0

NODES_SCRIPT = """
import json, sys
from ray._raylet import GcsClient
from ray.core.generated.gcs_pb2 import GcsNodeInfo
client = GcsClient(address=sys.argv[1])
for _ in sys.stdin:
    try:
        infos = client.get_all_node_info(timeout=5)
    except Exception as exc:
        print(json.dumps({"error": repr(exc)}), flush=True)
        continue
    print(json.dumps([
        {
            "node_id": node_id.hex(),
            "alive": info.state == GcsNodeInfo.ALIVE,
            "node_manager_port": info.node_manager_port,
            "address": info.node_manager_address,
            "resources": dict(info.resources_total),
        }
        for node_id, info in infos.items()
    ]), flush=True)
"""


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_ports(count: int, taken: set[int]) -> list[int]:
    """``count`` consecutive free loopback ports none of which is in ``taken`` (a worker port range
    must be contiguous); ``taken`` grows by them."""
    rng = random.Random()  # nosec B311: spreading port choices, not security
    for _ in range(200):
        base = rng.randrange(20_000, 60_000 - count)
        ports = list(range(base, base + count))
        if not taken.intersection(ports) and all(_port_free(p) for p in ports):
            taken.update(ports)
            return ports
    raise RuntimeError(f"no {count} consecutive free ports found")


class NodeExited(AssertionError):
    """A node's ``clubhub ray-node`` ended by itself."""


@dataclass
class RayNode:
    """One ``clubhub ray-node`` process and everything it started (all in its session)."""

    name: str
    head: bool
    ports: dict[str, int]
    worker_ports: list[int]
    log: Path
    proc: subprocess.Popen | None = None
    node_id: str | None = None  # Ray's id, known once the GCS lists the node
    killed_at: float | None = None

    def port_args(self) -> list[str]:
        args = [f"--{name}={port}" for name, port in self.ports.items()]
        return args + [
            f"--min-worker-port={self.worker_ports[0]}",
            f"--max-worker-port={self.worker_ports[-1]}",
        ]

    @property
    def node_manager_port(self) -> int:
        return self.ports["node-manager-port"]

    def processes(self) -> list[psutil.Process]:
        """Every live process of this node: its session is the one ``clubhub ray-node`` leads (a process
        group inside it, as Ray's own could make, is still in the session)."""
        if self.proc is None:
            return []
        found = []
        for proc in psutil.process_iter():
            try:
                if os.getsid(proc.pid) == self.proc.pid and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
            except (OSError, psutil.Error):
                continue
        return found

    def kill(self) -> None:
        """SIGKILL the node's whole process group (and any straggler of its session): a machine lost at
        once, no clean shutdown, nothing told to the GCS."""
        assert self.proc is not None
        self.killed_at = time.monotonic()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._kill_rest()

    def stop(self, timeout: float = 30.0) -> None:
        """A clean stop (SIGTERM: ``clubhub ray-node`` forwards it to ``ray start``), then SIGKILL to
        whatever is left."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._kill_rest()

    def _kill_rest(self) -> None:
        deadline = time.monotonic() + 20
        while (left := self.processes()) and time.monotonic() < deadline:
            for proc in left:
                try:
                    proc.kill()
                except psutil.Error:
                    pass
            psutil.wait_procs(left, timeout=2)
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        assert not self.processes(), f"{self.name}: processes survived SIGKILL: {self.processes()}"

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class LocalCluster:
    """A head and ``workers`` worker nodes on loopback, all with token auth (one token file)."""

    root: Path
    workers: int = 2
    shard_resource: str = "clubhub_shard"
    worker_cpus: int = WORKER_CPUS
    object_store_mb: int = OBJECT_STORE_MB
    nodes: list[RayNode] = field(default_factory=list)
    _watcher: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.token_path = self.root / "auth_token"
        fd = os.open(self.token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))  # the format `ray get-auth-token --generate` writes
        # Unix socket paths are limited to 107 bytes: Ray's session dir (sockets inside) goes short.
        self.temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
        taken: set[int] = set()

        def ports(head: bool) -> tuple[dict[str, int], list[int]]:
            names = [
                "node-manager-port",
                "object-manager-port",
                "dashboard-agent-listen-port",
                "dashboard-agent-grpc-port",
                "runtime-env-agent-port",
                "metrics-export-port",
            ]
            if head:
                names += ["port"]
            single = free_ports(len(names), taken)
            return dict(zip(names, single, strict=True)), free_ports(WORKER_PORTS, taken)

        head_ports, head_workers = ports(head=True)
        self.head = RayNode("head", True, head_ports, head_workers, self.root / "head.log")
        self.worker_nodes = []
        for i in range(self.workers):
            p, w = ports(head=False)
            self.worker_nodes.append(RayNode(f"worker-{i}", False, p, w, self.root / f"worker-{i}.log"))
        self.nodes = [self.head, *self.worker_nodes]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.head.ports['port']}"

    def env(self) -> dict[str, str]:
        """The environment of a process of this cluster (a node, a gateway, a query): its token, and
        nothing of another ClubHoloHub or Ray instance the test process may belong to."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("CLUBHUB_")
            and k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
        }
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(self.token_path))
        return env

    def gateway_env(self) -> dict[str, str]:
        """What a gateway (``GatewayProcess`` ``extra_env``) needs to join this cluster with its shards
        placed on the worker nodes."""
        return {
            # In the environment from the start: set later by the gateway itself (actors/runtime.py
            # require_token_auth), Ray's GCS client still joins without the token and is refused.
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(self.token_path),
            "CLUBHUB_RAY_ADDRESS": self.address,
            "CLUBHUB_RAY_SHARD_RESOURCE": self.shard_resource,
            "CLUBHUB_DETACHED_ACTORS": "1",
        }

    # -- starting ----------------------------------------------------------------------------------
    def _spawn(self, node: RayNode) -> None:
        env = self.env()
        env.update(
            CLUBHUB_DATA_DIR=str(self.root / node.name),
            CLUBHUB_RAY_OBJECT_STORE_MB=str(self.object_store_mb),
            # A raylet gives up (and crashes) when its dashboard agent has not said its port within 15 s,
            # which a busy 2-core machine can take just to import the agent.
            RAY_agent_register_timeout_ms=str(AGENT_REGISTER_TIMEOUT_MS),
        )
        if node.head:
            env.update(
                RAY_health_check_period_ms=str(HEALTH_CHECK_PERIOD_MS),
                RAY_health_check_timeout_ms=str(HEALTH_CHECK_TIMEOUT_MS),
                RAY_health_check_failure_threshold=str(HEALTH_CHECK_FAILURES),
                RAY_health_check_initial_delay_ms="0",
            )
            argv = [CLUBHUB, "ray-node", "--head", "--num-cpus", "0", "--"]
            argv += ["--include-dashboard=false"]
        else:
            # Two CPUs though every actor of ours asks for none: a raylet starts at most as many worker
            # processes at once as it has CPUs, and after a node loss each moved shard needs one.
            argv = [CLUBHUB, "ray-node", "--address", self.address, "--num-cpus", str(self.worker_cpus)]
            argv += ["--resources", json.dumps({self.shard_resource: 1}), "--"]
        argv += ["--node-ip-address=127.0.0.1", f"--temp-dir={self.temp_dir}", *node.port_args()]
        with open(node.log, "ab") as out:
            # A session of its own: the node's processes can be killed together, and none of them
            # shares the test's group.
            node.proc = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def start(self, timeout: float = 120.0) -> None:
        """Start the head, then the workers together; return once the GCS lists every node alive."""
        deadline = time.monotonic() + timeout
        self._spawn(self.head)
        while not _accepts(self.head.ports["port"]):
            self._check_running()
            if time.monotonic() > deadline:
                raise AssertionError(f"the head's GCS did not listen within {timeout}s:\n{self.head.tail()}")
            time.sleep(0.2)
        self._start_watcher()
        # One at a time, and once more when a start fails: a raylet must register with the GCS within
        # 30 s (fixed in Ray), which two nodes starting together on a busy 2-core machine can miss.
        for alive, node in enumerate(self.worker_nodes, start=2):
            for attempt in (1, 2):
                self._spawn(node)
                try:
                    self.wait_nodes(alive, max(1.0, deadline - time.monotonic()))
                    break
                except NodeExited:
                    if attempt == 2:
                        raise
                    node.stop()

    def _start_watcher(self) -> None:
        self._watcher = subprocess.Popen(
            [sys.executable, "-c", NODES_SCRIPT, self.address],
            env=self.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def _stop_watcher(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is None:
            return
        watcher.kill()
        watcher.wait(10)
        for stream in (watcher.stdin, watcher.stdout):
            if stream is not None:
                stream.close()

    def _check_running(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.killed_at is None and node.proc.poll() is not None:
                raise NodeExited(f"{node.name} exited with {node.proc.returncode}:\n{node.tail()}")

    # -- watching ----------------------------------------------------------------------------------
    def query_nodes(self) -> list[dict]:
        """Every node the GCS knows, alive or dead."""
        watcher = self._watcher
        assert watcher is not None and watcher.stdin is not None and watcher.stdout is not None
        if watcher.poll() is not None:
            raise RuntimeError(f"the node watcher exited with {watcher.returncode}")
        watcher.stdin.write("\n")
        watcher.stdin.flush()
        # A bounded wait: once after a node kill the GCS call hung past its own timeout, and a blocking
        # readline held the test's event loop (and the whole suite) for 16 minutes. A watcher that does
        # not answer is replaced, so no stale answer is read later.
        ready, _, _ = select.select([watcher.stdout], [], [], WATCHER_TIMEOUT_S)
        if not ready:
            self._stop_watcher()
            self._start_watcher()
            raise RuntimeError(f"the node watcher did not answer within {WATCHER_TIMEOUT_S}s")
        answer = json.loads(watcher.stdout.readline())
        if isinstance(answer, dict):
            raise RuntimeError(answer["error"])
        return answer

    def wait_nodes(self, alive: int, timeout: float) -> list[dict]:
        """Poll the GCS until exactly ``alive`` nodes are alive; learn each node's id."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            self._check_running()
            try:
                listed = self.query_nodes()
            except (RuntimeError, json.JSONDecodeError) as exc:
                last = exc
            else:
                live = [n for n in listed if n["alive"]]
                last = live
                if len(live) == alive:
                    # A node that failed to start may be listed dead with the same port: the live one wins.
                    by_port = {
                        n["node_manager_port"]: n["node_id"] for n in sorted(listed, key=lambda n: n["alive"])
                    }
                    for node in self.nodes:
                        node.node_id = by_port.get(node.node_manager_port, node.node_id)
                    return live
            time.sleep(0.5)
        raise AssertionError(f"{alive} live nodes not reached within {timeout}s (last: {last!r})")

    def node_of(self, node_id: str) -> RayNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(node_id)

    # -- stopping ----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Workers first (they would otherwise spend their time reconnecting to a gone GCS), then the head."""
        self._stop_watcher()
        for node in [*self.worker_nodes, self.head]:
            node.stop()
        # Ray's logs (every node's raylet, the GCS, the actors' workers) stay beside the test's files.
        logs = self.temp_dir / "session_latest" / "logs"
        try:
            shutil.copytree(logs, self.root / "ray-logs", dirs_exist_ok=True, ignore_dangling_symlinks=True)
        except OSError:
            pass  # no logs (a head that never started) or a file gone meanwhile: nothing to keep
        shutil.rmtree(self.temp_dir, ignore_errors=True)
