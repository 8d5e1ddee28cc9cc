"""The chat benchmark leaves no process behind: every process of the ClubHoloHub it ran (the gateway,
its embedded PostgreSQL, MongoDB-wire server and Redis, Ray's raylet, agents and workers) is gone when it
exits. A short run of ``loadtest/bench_chat.py`` in a subprocess, as ``make bench-chat`` runs it."""

import json
import subprocess
import sys
from pathlib import Path

import psutil

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
