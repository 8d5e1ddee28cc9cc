"""Ray bootstrap: a local instance sized to the machine, or the cluster at ``CLUBHUB_RAY_ADDRESS``.

Every actor of ClubHoloHub lives in the ``clubhub`` namespace so that several gateways find the
same named actors.
"""
from __future__ import annotations

import logging
import os

import ray

from storage.settings import Settings

log = logging.getLogger(__name__)

NAMESPACE = "clubhub"
PROBE_NAME = "clubhub-health-probe"


@ray.remote(num_cpus=0, max_restarts=-1)
class HealthProbe:
    """A zero-CPU actor whose answer proves the cluster can schedule and run actor calls."""

    def ping(self) -> str:
        return "pong"


def start_ray(settings: Settings) -> bool:
    """Connect to or start Ray; True when this process started a local instance (and must stop it)."""
    if ray.is_initialized():
        return False
    common = dict(namespace=NAMESPACE, logging_level=logging.WARNING, log_to_driver=True,
                  configure_logging=False, ignore_reinit_error=True)
    if settings.ray_address:
        ray.init(address=settings.ray_address, **common)
        log.info("joined ray cluster", extra={"address": settings.ray_address})
        return False
    # An inherited RAY_ADDRESS would silently attach us to some other cluster.
    os.environ.pop("RAY_ADDRESS", None)
    ray.init(
        num_cpus=settings.ray_num_cpus or os.cpu_count() or 1,
        include_dashboard=False,
        # Loopback only: this machine is the whole cluster, nothing should listen on other interfaces.
        _node_ip_address="127.0.0.1",
        object_store_memory=settings.ray_object_store_mb * 1024 * 1024,
        **common,
    )
    log.info("started local ray", extra={"gcs_address": gcs_address()})
    return True


def gcs_address() -> str | None:
    """The address other processes (a second gateway) pass as ``CLUBHUB_RAY_ADDRESS``."""
    try:
        return ray.get_runtime_context().gcs_address
    except Exception:
        return None


def health_probe():
    return HealthProbe.options(name=PROBE_NAME, get_if_exists=True, lifetime="detached").remote()


async def ping_ray(probe) -> None:
    if not ray.is_initialized():
        raise RuntimeError("ray is not initialized")
    answer = await probe.ping.remote()
    if answer != "pong":
        raise RuntimeError(f"unexpected answer {answer!r}")


def stop_ray() -> None:
    if ray.is_initialized():
        ray.shutdown()
