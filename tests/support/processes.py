"""Finding the processes a test started, so it can prove they are gone."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import psutil


def terminate(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM (a gateway drains and stops what it started), then SIGKILL after ``grace_s``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def processes_using(data_dir: Path) -> list[psutil.Process]:
    """Every process whose command line or working directory lies in the data dir."""
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            if str(data_dir) in cmd or (proc.info["cwd"] or "").startswith(str(data_dir)):
                found.append(proc)
        except psutil.Error:
            continue
    return found
