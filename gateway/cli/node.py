"""``clubhub ray-node``: one Ray node (head or worker) of a ClubHoloHub cluster, ``ray start --block`` with the
project's settings: token authentication (RAY_AUTH_MODE=token, as every gateway requires), the object store
size of ``CLUBHUB_RAY_OBJECT_STORE_MB``, the CPUs of ``CLUBHUB_RAY_NUM_CPUS``, and the custom resources that
``CLUBHUB_RAY_SHARD_RESOURCE`` / ``CLUBHUB_RAY_RANKER_RESOURCE`` steer actors to.

Runs ``ray start`` as a child and forwards SIGTERM/SIGINT to it: Ray stops its processes and exits 1 on
SIGTERM, which this command reports as a clean stop (0), so an orchestrator does not log a failed container.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from storage.settings import Settings, is_loopback

# What `ray start --block` exits with after the SIGTERM/SIGINT we forwarded: its own sys.exit(1), or the
# signal itself when it died of it before its handler was installed.
STOPPED_BY_SIGNAL = {0, 1, -signal.SIGTERM, -signal.SIGINT, 128 + signal.SIGTERM, 128 + signal.SIGINT}


class NodeError(ValueError):
    """A node that must not start as asked; one line for a person."""


def parse_resources(text: str | None) -> dict[str, float]:
    """``--resources '{"clubhub_shard": 1}'``: a JSON object of custom resource names to amounts."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NodeError(f"--resources is not JSON: {exc.msg} (e.g. '{{\"clubhub_shard\": 1}}')") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
        for k, v in value.items()
    ):
        raise NodeError(
            '--resources must be a JSON object of names to non-negative numbers, e.g. {"clubhub_shard": 1}'
        )
    return value


def ray_executable() -> str:
    beside = Path(sys.executable).parent / "ray"
    found = str(beside) if beside.exists() else shutil.which("ray")
    if not found:
        raise NodeError("the `ray` command is not installed beside clubhub")
    return found


def ray_start_argv(
    settings: Settings,
    *,
    head: bool,
    address: str | None,
    resources: dict[str, float],
    num_cpus: int | None,
    extra: list[str],
    ray: str = "ray",
) -> list[str]:
    """The ``ray start`` command line for this node (pure: the tests check it without Ray)."""
    argv = [ray, "start", "--block", "--disable-usage-stats"]
    argv += ["--head"] if head else [f"--address={address}"]
    cpus = num_cpus if num_cpus is not None else settings.ray_num_cpus
    if cpus is not None:
        argv.append(f"--num-cpus={cpus}")
    argv.append(f"--object-store-memory={settings.ray_object_store_mb * 1024 * 1024}")
    if resources:
        argv.append(f"--resources={json.dumps(resources, sort_keys=True)}")
    return argv + extra


def token_environment(settings: Settings, *, head: bool) -> None:
    """Token auth for the node about to start (its processes inherit this process's environment).

    A head without a configured token generates one into the data dir, as a local instance does; a worker
    must be given the cluster's (RAY_AUTH_TOKEN, or RAY_AUTH_TOKEN_PATH naming a mounted Secret)."""
    from actors.runtime import RayConfigError, require_token_auth

    try:
        require_token_auth(settings, local=head)
    except RayConfigError as exc:
        raise NodeError(str(exc)) from None
    if not (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")):
        raise NodeError(
            "a worker node joins with the cluster's token: set RAY_AUTH_TOKEN, or RAY_AUTH_TOKEN_PATH naming a file"
        )


# Ray (2.60) turns a loopback node or GCS address into the machine's routable one
# (``services.resolve_ip_for_localhost``), and refuses to join a cluster when told the machine is alone
# (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, what keeps a local instance on loopback). A cluster whose nodes
# share one machine's loopback (a laptop, the node-loss test) runs ``ray start`` with that one
# conversion switched off, so every node listens on 127.0.0.1 and dials the GCS there.
LOOPBACK_RAY_START = (
    "import sys\n"
    "from ray._private import services\n"
    "services.resolve_ip_for_localhost = lambda host: host\n"
    "from ray.scripts.scripts import main\n"
    "sys.argv[0] = 'ray'\n"
    "sys.exit(main())\n"
)


def on_loopback(argv: list[str]) -> bool:
    """The node is asked to live on loopback: ``--node-ip-address`` names a loopback address."""
    ips = [a.split("=", 1)[1] for a in argv if a.startswith("--node-ip-address=")]
    ips += [b for a, b in zip(argv, argv[1:], strict=False) if a == "--node-ip-address"]
    return bool(ips) and all(is_loopback(ip) for ip in ips)


def loopback_argv(argv: list[str]) -> list[str]:
    """``argv`` (a ``ray start`` line) run so that a loopback node address stays loopback."""
    if not on_loopback(argv):
        return argv
    return [sys.executable, "-c", LOOPBACK_RAY_START, *argv[1:]]


def run_node(argv: list[str]) -> int:
    """Run ``ray start --block`` until it ends; a stop we forwarded a signal for is a clean exit."""
    # The argv built above, no shell.
    proc = subprocess.Popen(argv)  # nosec B603
    forwarded: list[int] = []

    def forward(signum, frame) -> None:
        forwarded.append(signum)
        if proc.poll() is None:
            proc.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    code = proc.wait()
    if forwarded and code in STOPPED_BY_SIGNAL:
        return 0
    return code if code >= 0 else 128 - code


def ray_node(
    settings: Settings, *, head: bool, address: str | None, resources: str | None, num_cpus, extra
) -> int:
    extra = extra[1:] if extra[:1] == ["--"] else extra
    argv = ray_start_argv(
        settings,
        head=head,
        address=address,
        resources=parse_resources(resources),
        num_cpus=num_cpus,
        extra=extra,
        ray=ray_executable(),
    )
    token_environment(settings, head=head)
    print(f"clubhub ray-node: {' '.join(argv)}", flush=True)
    return run_node(loopback_argv(argv))
