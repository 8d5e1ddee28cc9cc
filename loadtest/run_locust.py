"""``make loadtest``: a local stack, a seeded world sized to the user count, every Locust persona headless.

    python loadtest/run_locust.py [--users 100] [--spawn-rate 20] [--duration 60] [--workers 2]
                                  [--max-failure-pct 1] [--host http://127.0.0.1:8080]

1. The world: ``clubhub seed`` in ``.clubhub-bench/locust`` with an account per simulated user (at least
   50), a club per ten users and an event per two, and three days of history; kept between runs and made
   again only when a run needs more accounts than it has.
2. The stack: ``clubhub run`` on that data dir and a free loopback port, in a session of its own, with the
   per-address limits lifted (every simulated member connects and logs in from 127.0.0.1; a deployment
   keeps them for clients that each have an address of their own). ``--host`` skips both steps and loads
   a gateway that is already running (and seeded with ``clubhub seed``).
3. Locust headless with every persona of ``locustfile.py``: one process, or with ``--workers N`` a master
   and N worker processes (Locust's distributed mode, as on several machines: each worker takes its share
   of the accounts, ``LOADTEST_WORKERS``).
4. Under ``loadtest/results/locust/``: Locust's CSVs (``locust_stats.csv``, ``locust_stats_history.csv``,
   ``locust_failures.csv``), its HTML report (``report.html``), ``summary.json`` and ``locust.png``
   (messages sent per second, ``message:send`` ack p99 and ``deliver`` p99 over the run).
5. A summary table on stdout (requests/s, failures, p50/p95/p99 per name, ``deliver`` included), then every
   process this run started is stopped by its own id. The exit code is 1 when more than
   ``--max-failure-pct`` of the requests failed (or Locust recorded nothing), else 0.

The defaults come from ``LOADTEST_USERS``, ``LOADTEST_SPAWN_RATE``, ``LOADTEST_DURATION``,
``LOADTEST_MAX_FAILURE_PCT`` and ``LOADTEST_LOCUST_WORKERS``; every ``LOADTEST_*`` setting of the personas
(``locustfile.py``) passes through.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import signal
import subprocess  # nosec B404: runs this checkout's own clubhub and locust
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_chat import load_gateway_env, log, wait_http  # noqa: E402

DATA = ROOT / ".clubhub-bench" / "locust"
OUT = HERE / "results" / "locust"
BIN = Path(sys.executable).parent
SEED = 1
WORLD_MARK = "loadtest-world.json"


def env_number(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


# -- the world and the stack -------------------------------------------------------------------------------


def world_size(users: int) -> dict[str, int]:
    """Each simulated user takes an account of its own (``locust_personas.common``)."""
    accounts = max(50, users)
    return {"users": accounts, "clubs": max(5, accounts // 10), "events": max(20, accounts // 2)}


def ensure_world(data: Path, users: int) -> dict:
    """``clubhub seed`` once per size: the accounts are ``member<i>.s1@demo.clubhub.example``."""
    size = world_size(users)
    mark = data / WORLD_MARK
    if mark.exists():
        have = json.loads(mark.read_text())
        if have.get("users", 0) >= size["users"] and have.get("seed") == SEED:
            log(f"world: {have['users']} accounts already seeded in {data}")
            return have
    log(f"world: seeding {size} into {data}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBHUB_")}
    env["CLUBHUB_DATA_DIR"] = str(data)
    started = time.monotonic()
    subprocess.run(  # nosec B603: fixed arguments
        [
            str(BIN / "clubhub"),
            "seed",
            "--users",
            str(size["users"]),
            "--clubs",
            str(size["clubs"]),
            "--events",
            str(size["events"]),
            "--days",
            "3",
            "--seed",
            str(SEED),
        ],
        env=env,
        check=True,
        timeout=1800,
    )
    world = {**size, "seed": SEED, "seconds": round(time.monotonic() - started, 1)}
    mark.write_text(json.dumps(world))
    return world


class Stack:
    """``clubhub run`` in a session of its own; stopped with SIGTERM (it stops Ray and the services it
    started), then SIGKILL by pid to anything of its session still alive."""

    def __init__(self, data: Path, log_path: Path) -> None:
        self.data, self.log_path = data, log_path

    async def start(self) -> str:
        from storage.services import free_port

        port = free_port()
        env = load_gateway_env(self.data, port)
        env.update(CLUBHUB_AUTH_RATE_LIMIT="1000000", CLUBHUB_USER_ACTION_BURST="100000")
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(  # nosec B603: this checkout's clubhub
                [str(BIN / "clubhub"), "run"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        await wait_http(f"{url}/readyz", self.proc, timeout=300)
        return url

    def stop(self) -> None:
        if not hasattr(self, "proc"):
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                log("the gateway did not stop within 90 s of SIGTERM: killing its session")
        kill_session(self.proc.pid)


def kill_session(leader: int) -> None:
    """SIGKILL to every process of the session ``leader`` started (none when all exited)."""
    try:
        os.killpg(leader, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- Locust ------------------------------------------------------------------------------------------------


def run_locust(
    host: str,
    users: int,
    spawn_rate: float,
    duration_s: int,
    out: Path,
    workers: int = 0,
    env: dict[str, str] | None = None,
    grace_s: float = 120,
) -> int:
    """Locust headless against ``host``; its CSVs and HTML report under ``out``. ``workers`` > 0: a master
    and that many worker processes. Every process in a session of its own, stopped by its id."""
    from storage.services import free_port

    out.mkdir(parents=True, exist_ok=True)
    run_env = {**os.environ, **(env or {})}
    base = [str(BIN / "locust"), "-f", str(HERE / "locustfile.py")]
    main = [
        *base,
        "--host",
        host,
        "--headless",
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        "-t",
        f"{duration_s}s",
        "--stop-timeout",
        "10",
        "--csv",
        str(out / "locust"),
        "--csv-full-history",
        "--html",
        str(out / "report.html"),
        "--only-summary",
    ]
    procs: list[subprocess.Popen] = []
    try:
        if workers:
            port = free_port()
            run_env["LOADTEST_WORKERS"] = str(workers)
            main += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
            main += ["--expect-workers", str(workers), "--expect-workers-max-wait", "60"]
        master = subprocess.Popen(main, env=run_env, start_new_session=True)  # nosec B603
        procs.append(master)
        for _ in range(workers):
            worker = [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
            procs.append(subprocess.Popen(worker, env=run_env, start_new_session=True))  # nosec B603
        try:
            code = master.wait(duration_s + grace_s + (60 if workers else 0))
        except subprocess.TimeoutExpired:
            log(f"locust did not finish within {duration_s + grace_s} s of its {duration_s} s run")
            code = -1
        for p in procs[1:]:
            try:
                p.wait(30)  # workers quit when the master does
            except subprocess.TimeoutExpired:
                pass
        return code
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    pass
            kill_session(p.pid)


def read_stats(out: Path) -> list[dict]:
    path = out / "locust_stats.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summarize(rows: list[dict]) -> dict:
    """Per name: requests, failures, requests/s and p50/p95/p99 (ms); the aggregated row as ``total``."""

    def num(row: dict, key: str) -> float:
        value = row.get(key) or "0"
        return float(value) if value != "N/A" else 0.0

    names = []
    total = None
    for row in rows:
        entry = {
            "type": row["Type"],
            "name": row["Name"],
            "requests": int(num(row, "Request Count")),
            "failures": int(num(row, "Failure Count")),
            "requests_per_s": round(num(row, "Requests/s"), 2),
            "p50_ms": num(row, "50%"),
            "p95_ms": num(row, "95%"),
            "p99_ms": num(row, "99%"),
        }
        if row["Name"] == "Aggregated":
            total = entry
        else:
            names.append(entry)
    requests = total["requests"] if total else 0
    failures = total["failures"] if total else 0
    return {
        "names": names,
        "total": total,
        "failure_pct": round(100.0 * failures / requests, 3) if requests else None,
    }


def table(summary: dict) -> str:
    lines = [
        f"{'type':<9} {'name':<34} {'reqs':>7} {'fails':>6} {'req/s':>7} {'p50':>7} {'p95':>7} {'p99':>7}",
    ]
    rows = sorted(summary["names"], key=lambda r: (r["type"], r["name"]))
    if summary["total"]:
        rows.append(summary["total"])
    for r in rows:
        lines.append(
            f"{r['type'][:9]:<9} {r['name'][:34]:<34} {r['requests']:>7} {r['failures']:>6} "
            f"{r['requests_per_s']:>7.1f} {r['p50_ms']:>7.0f} {r['p95_ms']:>7.0f} {r['p99_ms']:>7.0f}"
        )
    lines.append("(times in ms)")
    return "\n".join(lines)


def plot(out: Path) -> Path | None:
    """Messages sent per second, the ``message:send`` ack p99 and the ``deliver`` p99 over the run, from
    Locust's full history (cumulative percentiles per row, as Locust's own charts show them)."""
    path = out / "locust_stats_history.csv"
    if not path.exists():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[float, float, float]]] = {"message:send": [], "deliver": []}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("Name") in series:
                try:
                    t = float(row["Timestamp"])
                    rate = float(row["Requests/s"])
                    p99 = float(row["99%"]) if row["99%"] not in ("N/A", "") else float("nan")
                except (KeyError, ValueError):
                    continue
                series[row["Name"]].append((t, rate, p99))
    if not any(series.values()):
        return None
    t0 = min(s[0][0] for s in series.values() if s)
    fig, (rate_ax, p99_ax) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    sends = series["message:send"]
    rate_ax.plot([t - t0 for t, _, _ in sends], [r for _, r, _ in sends], label="messages sent/s")
    rate_ax.set_ylabel("messages/s")
    rate_ax.legend(loc="upper left")
    for name, label in (("message:send", "ack p99"), ("deliver", "deliver p99")):
        points = series[name]
        p99_ax.plot([t - t0 for t, _, _ in points], [p for _, _, p in points], label=label)
    # Logarithmic past 10 ms: the spawn's login storm (argon2) would otherwise flatten the steady state.
    p99_ax.set_yscale("symlog", linthresh=10)
    p99_ax.set_ylabel("ms (log)")
    p99_ax.set_xlabel("seconds into the run")
    p99_ax.legend(loc="upper right")
    fig.suptitle("make loadtest: every persona")
    fig.tight_layout()
    png = out / "locust.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


async def amain(args: argparse.Namespace) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    stack = None
    world = None
    try:
        if args.host:
            host = args.host
        else:
            DATA.mkdir(parents=True, exist_ok=True)
            world = ensure_world(DATA, args.users)
            stack = Stack(DATA, OUT / "gateway.log")
            host = await stack.start()
            log(f"stack: {host} (log: {stack.log_path})")
        log(
            f"locust: {args.users} users at {args.spawn_rate}/s for {args.duration} s"
            + (f", a master and {args.workers} workers" if args.workers else "")
        )
        code = run_locust(
            host,
            args.users,
            args.spawn_rate,
            args.duration,
            OUT,
            workers=args.workers,
            env={"CLUBHUB_LOCUST_SEED": str(SEED)},
        )
    finally:
        if stack is not None:
            stack.stop()
    summary = summarize(read_stats(OUT))
    png = plot(OUT)
    result = {
        "users": args.users,
        "spawn_rate": args.spawn_rate,
        "duration_s": args.duration,
        "workers": args.workers,
        "world": world,
        "locust_exit": code,
        "max_failure_pct": args.max_failure_pct,
        **summary,
        "plot": str(png) if png else None,
    }
    (OUT / "summary.json").write_text(json.dumps(result, indent=2))
    print(table(summary) if summary["total"] else "locust recorded no requests")
    print(f"failures: {summary['failure_pct']} % (threshold {args.max_failure_pct} %); report: {OUT}")
    if summary["failure_pct"] is None or summary["failure_pct"] > args.max_failure_pct:
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=int(env_number("LOADTEST_USERS", 100)))
    parser.add_argument("--spawn-rate", type=float, default=env_number("LOADTEST_SPAWN_RATE", 20))
    parser.add_argument("--duration", type=int, default=int(env_number("LOADTEST_DURATION", 60)))
    parser.add_argument("--workers", type=int, default=int(env_number("LOADTEST_LOCUST_WORKERS", 0)))
    parser.add_argument("--max-failure-pct", type=float, default=env_number("LOADTEST_MAX_FAILURE_PCT", 1))
    parser.add_argument("--host", help="a running gateway (seeded with clubhub seed): no stack, no seeding")
    return asyncio.run(amain(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
