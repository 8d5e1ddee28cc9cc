"""The chat benchmark leaves no process behind: every process of the ClubHoloHub it ran (the gateway,
its embedded PostgreSQL, MongoDB-wire server and Redis, Ray's raylet, agents and workers) is gone when it
exits. A short run of ``loadtest/bench_chat.py`` in a subprocess, as ``make bench-chat`` runs it; the same for
``loadtest/bench_audio.py`` (its Janus and its aiortc listener processes)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_a_benchmark_run_leaves_no_process_running(tmp_path):
    argv = [
        sys.executable,
        str(ROOT / "loadtest" / "bench_chat.py"),
        "--only",
        "clubholohub",
        "--quick",
        "--max-steps",
        "1",
        "--step-seconds",
        "1",
        "--idle-sockets",
        "50",
        "--results",
        str(tmp_path),
    ]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
    out = tmp_path / "bench_chat_only.json"
    assert out.exists(), run.stderr[-3000:]
    results = json.loads(out.read_text())
    seen = results["processes_seen"]["clubholohub"]
    # The gateway, Ray's own processes, its actors' workers and the three embedded stores at least.
    assert len(seen) >= 8, seen
    # The benchmark's own account (it names and kills what outlived the server's stop)...
    assert results["left_behind"] == {"clubholohub": []}, results["left_behind"]
    assert run.returncode == 0, run.stderr[-3000:]
    # ...and this test's: none of the processes it met still runs.
    alive = [pid for pid in seen if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert alive == [], [" ".join(psutil.Process(p).cmdline())[:200] for p in alive]


@pytest.mark.skipif(shutil.which("janus") is None, reason="no janus binary (make janus)")
def test_the_audio_benchmark_leaves_no_process_running(tmp_path):
    """``loadtest/bench_audio.py`` at its smallest (0 and 5 listeners, 1-s windows; ~15 s): its Janus and its
    listener processes are gone when it exits, and the listeners heard the stage through both designs."""
    argv = [
        sys.executable,
        str(ROOT / "loadtest" / "bench_audio.py"),
        "--quick",
        "--max-listeners",
        "5",
        "--window",
        "1",
        "--settle",
        "1",
        "--results",
        str(tmp_path),
    ]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=180)
    out = tmp_path / "bench_audio.json"
    assert out.exists(), run.stderr[-3000:]
    results = json.loads(out.read_text())
    seen = results["processes_seen"]
    assert set(seen) == {"janus", "listeners_0", "listeners_1"}, seen
    assert results["left_behind"] == [], results["left_behind"]
    assert run.returncode == 0, run.stderr[-3000:]
    alive = [p for p in seen.values() if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert alive == [], [" ".join(psutil.Process(p).cmdline())[:200] for p in alive]
    for design in (
        "stream",
        "bridge",
    ):  # every listener decoded the stage's mix (a busy machine may drop some)
        last = results["designs"][design]["steps"][-1]
        assert last["listeners_seen"] == 5 and last["rms"]["min"] > 200, (design, last)
