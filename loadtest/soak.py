"""The soak benchmark: half load for a long time, and nothing may grow (``make soak``; not part of ``make test``).

It starts its own stack (``clubhub run`` in a temporary data directory: embedded services, a local Ray
instance with its room-shard actors, the gateway), seeds users, clubs and rooms through the storage layer
(as ``bench_chat.py`` does), and connects Socket.IO clients to several rooms with the chat benchmark's Node
load generator (``peers/node/loadgen.js``). A short stepped calibration finds the send rate at which
delivered messages/s stop growing (saturation, measured in this run on this machine: other processes
sharing the CPU lower it) unless ``--saturation`` gives one; then it sends at ``--load`` (0.5) of it for
``--minutes``, and every ``--sample-s`` seconds records:

- the gateway process's RSS, USS and open file descriptors,
- each room-shard actor process's RSS, USS and fds (found with psutil by the ``ray::RoomShardHost``
  process title Ray gives actor workers),
- delivered messages/s, acks/s, refusals, and ack and end-to-end delivery latency p50/p99.

Writes ``results/soak.json`` and ``results/soak.png``, prints the RSS and fds at start, after warm-up and at
the end with the ratio end/warm-up, and exits 1 when, comparing the median of the last three samples with
the median of the first three after warm-up, a process's RSS grew by more than ``--max-rss-growth``
(20 %), its fds by more than ``--max-fd-growth`` (10), a shard process was replaced, or more than 1 % of
sends were not acked. Every process it started (the stack's whole process tree and the load generators)
is stopped by pid before it exits, also on Ctrl-C or SIGTERM.

    python loadtest/soak.py [--minutes 30] [--load 0.5] [--saturation SENDS_PER_S | --rate SENDS_PER_S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_chat import RESULTS, LoadGen, ensure_node_deps, load_gateway_env, log, wait_http  # noqa: E402

SHARD_TITLE = "RoomShardHost"  # actors/room_shard.py: RoomShard = ray.remote(RoomShardHost)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)


class Stack:
    """``clubhub run`` in its own session and data directory; stopped with its whole process tree."""

    def __init__(self, extra_env: dict[str, str]) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="clubhub-soak-")
        self.data = Path(self.tmp.name) / "data"
        self.log_path = RESULTS / "soak_gateway.log"
        self.extra_env = extra_env
        self.tree: set[int] = set()  # every descendant seen, so none is left behind

    async def start(self) -> None:
        from storage.services import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = load_gateway_env(self.data, self.port)
        env.update(self.extra_env)
        with open(self.log_path, "wb") as out:
            # Its own session: the stack's processes are told apart from the load generators'.
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "clubhub"), "run"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.gateway = psutil.Process(self.proc.pid)
        self.remember_tree()
        await wait_http(f"{self.url}/readyz", self.proc, timeout=240)
        self.remember_tree()

    def remember_tree(self) -> None:
        try:
            self.tree.update(p.pid for p in self.gateway.children(recursive=True))
        except psutil.NoSuchProcess:
            pass

    def shards(self) -> list[psutil.Process]:
        """Room-shard actor workers of this stack (descendants of the gateway, titled ray::RoomShardHost)."""
        found = []
        for p in self.gateway.children(recursive=True):
            try:
                if any(SHARD_TITLE in part for part in p.cmdline()):
                    found.append(p)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return sorted(found, key=lambda p: p.pid)

    async def seed(self, rooms: int, members: int) -> list[dict]:
        """Users, one club, rooms and memberships written through the storage layer; access tokens signed
        with the gateway's own keys. Returns one socket spec per member: {room, token}."""
        from argon2 import PasswordHasher

        from gateway.core.tokens import AccessTokens, KeyRing
        from storage.models import Club, Membership, Role, Room, User
        from storage.postgres import close_postgres, init_postgres
        from storage.services import Services
        from storage.settings import Settings

        settings = Settings(data_dir=self.data)
        await init_postgres(Services(settings).urls()["postgres"], migrate=False)
        try:
            tag, n = uuid.uuid4().hex[:6], rooms * members
            pw = PasswordHasher().hash("clubhub-soak")
            await User.bulk_create(
                [
                    User(email=f"soak-{tag}-{i}@example.org", password_hash=pw, display_name=f"Soak {i}")
                    for i in range(n)
                ]
            )
            users = await User.filter(email__startswith=f"soak-{tag}-").order_by("id")
            # Long enough for any run: the soak measures memory, not token expiry.
            tokens = AccessTokens(KeyRing.from_settings(settings), 24 * 3600)
            club = await Club.create(name=f"soak-{tag}", created_by=users[0])
            await Membership.bulk_create(
                [
                    Membership(club=club, user=u, role=Role.owner if i == 0 else Role.member)
                    for i, u in enumerate(users)
                ]
            )
            room_ids = [(await Room.create(club=club, name=f"room-{r}")).id for r in range(rooms)]
            return [
                {"room": room_ids[i % rooms], "token": tokens.issue(u.id, uuid.uuid4().hex)}
                for i, u in enumerate(users)
            ]
        finally:
            await close_postgres()

    def stop(self) -> None:
        """SIGTERM to the gateway (it stops Ray and the services it started), then SIGKILL by pid to
        anything of its tree still alive."""
        self.shutdown = {"clean": None}
        if not hasattr(self, "proc"):  # start() failed before the gateway was launched
            return
        self.remember_tree()
        started = time.monotonic()
        self.shutdown = {"clean": True}
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                log("the gateway did not stop within 90 s of SIGTERM: killing it")
                self.shutdown["clean"] = False
                self.proc.kill()
                self.proc.wait(10)
        self.shutdown["seconds"] = round(time.monotonic() - started, 1)
        left = []
        for pid in sorted(self.tree):
            try:
                p = psutil.Process(pid)
                if p.status() != psutil.STATUS_ZOMBIE:
                    left.append(p)
            except psutil.NoSuchProcess:
                pass
        # Servers that daemonize (PostgreSQL's postmaster) leave the tree: they name our data directory.
        for p in psutil.process_iter(["pid", "cmdline"]):
            if p.pid not in self.tree and any(str(self.data) in part for part in p.info["cmdline"] or ()):
                left.append(p)
        for p in left:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        self.shutdown["leftover_killed"] = len(left)
        if left:
            log(f"killed {len(left)} leftover processes of the stack: {[p.pid for p in left]}")
        self.tmp.cleanup()


def proc_sample(p: psutil.Process) -> dict:
    with p.oneshot():
        mem = p.memory_full_info()
        return {
            "pid": p.pid,
            "rss_mb": round(mem.rss / 2**20, 1),
            "uss_mb": round(mem.uss / 2**20, 1),
            "fds": p.num_fds(),
            "threads": p.num_threads(),
        }


class SoakGen(LoadGen):
    """The chat benchmark's load generator; a step also reports ack latency samples."""

    async def step(self, rate: float, seconds: float, drain_ms: int = 1500) -> dict:
        for p in self.procs:
            p.stdin.write(
                json.dumps(
                    {"cmd": "step", "rate": rate / len(self.procs), "seconds": seconds, "drain_ms": drain_ms}
                )
                + "\n"
            )
            p.stdin.flush()
        parts = []
        for p in self.procs:
            line = await asyncio.to_thread(p.stdout.readline)
            if not line:
                raise RuntimeError(f"load generator {p.pid} exited with {p.poll()}")
            parts.append(json.loads(line))
        total = {k: sum(part[k] for part in parts) for k in ("sent", "acked", "refused", "delivered")}
        deliveries = [s for part in parts for s in part["samples"]]
        acks = [s for part in parts for s in part.get("ack_samples", [])]
        return {
            "rate": rate,
            **total,
            "delivered_per_s": round(total["delivered"] / seconds, 1),
            "acked_per_s": round(total["acked"] / seconds, 1),
            "ack_p50_ms": percentile(acks, 0.50),
            "ack_p99_ms": percentile(acks, 0.99),
            "delivery_p50_ms": percentile(deliveries, 0.50),
            "delivery_p99_ms": percentile(deliveries, 0.99),
        }


async def calibrate(gen: SoakGen, seconds: float) -> float:
    """Stepped send rates (×1.6) until delivered/s stops growing, p99 passes 3 s or acks fall behind (the
    rule bench_chat.py uses). The saturation is the send rate of the best step whose sends were all acked
    within the step (a step whose acks fall behind is past saturation, however much it delivered)."""
    rate, best, best_rate, flat = 50.0, 0.0, 50.0, 0
    for _ in range(14):
        r = await gen.step(rate, seconds)
        log(
            f"  calibration: offered {rate:7.1f}/s  delivered {r['delivered_per_s']:9.1f}/s  "
            f"ack p99 {r['ack_p99_ms']} ms  acked {r['acked']}/{r['sent']}"
        )
        grew = r["delivered_per_s"] > best * 1.05
        kept_up = r["acked"] >= 0.98 * r["sent"]
        if kept_up and r["delivered_per_s"] > best:
            best, best_rate = r["delivered_per_s"], rate
        flat = 0 if grew and kept_up else flat + 1
        if flat >= 2 or (r["delivery_p99_ms"] or 0) > 3000 or not kept_up:
            break
        rate = round(rate * 1.6, 1)
    return best_rate


def series(samples: list[dict]) -> dict[str, list[dict | None]]:
    """Per process (gateway, shard0, shard1, …), its sample at each time (None where it was missing)."""
    width = max(len(s["shards"]) for s in samples)
    out = {"gateway": [s["gateway"] for s in samples]}
    for i in range(width):
        out[f"shard{i}"] = [s["shards"][i] if i < len(s["shards"]) else None for s in samples]
    return out


def verdict(samples: list[dict], drain: dict, warmup_s: float, args) -> dict:
    """Compare the median of the first three samples after warm-up with the median of the last three."""
    start = next((i for i, s in enumerate(samples) if s["t"] >= warmup_s), len(samples))
    if len(samples) - start < 6:
        return {
            "ok": False,
            "problems": [f"only {len(samples) - start} samples after warm-up: run longer"],
            "processes": {},
        }
    out, problems = {}, []
    for name, points in series(samples).items():
        after = points[start:]
        if any(p is None or p["pid"] != after[0]["pid"] for p in after):
            problems.append(f"{name}: process missing or replaced during the run")
            continue
        first = points[0] if points[0] is not None else after[0]
        base, end = after[:3], after[-3:]
        rss0, rss1 = (statistics.median(p["rss_mb"] for p in w) for w in (base, end))
        fd0, fd1 = (statistics.median(p["fds"] for p in w) for w in (base, end))
        out[name] = {
            "pid": first["pid"],
            "rss_mb_start": first["rss_mb"],
            "rss_mb_after_warmup": rss0,
            "rss_mb_end": rss1,
            "rss_ratio": round(rss1 / rss0, 3),
            "uss_mb_after_warmup": statistics.median(p["uss_mb"] for p in base),
            "uss_mb_end": statistics.median(p["uss_mb"] for p in end),
            "fds_start": first["fds"],
            "fds_after_warmup": fd0,
            "fds_end": fd1,
        }
        if rss1 > rss0 * (1 + args.max_rss_growth):
            problems.append(f"{name}: RSS {rss0} -> {rss1} MB (more than +{args.max_rss_growth:.0%})")
        if fd1 - fd0 > args.max_fd_growth:
            problems.append(f"{name}: open fds {fd0} -> {fd1} (more than +{args.max_fd_growth})")
    # Acks arriving after their step are counted by the next one; the drain step counts the last ones.
    sent, acked = (sum(s[k] for s in samples) + drain[k] for k in ("sent", "acked"))
    if sent and acked < 0.99 * sent:
        problems.append(f"only {acked} of {sent} sends acked")
    return {
        "ok": not problems,
        "problems": problems,
        "processes": out,
        "sent": sent,
        "acked": acked,
        "refused": sum(s["refused"] for s in samples) + drain["refused"],
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = result["samples"]
    minutes = [s["t"] / 60 for s in samples]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for name, points in series(samples).items():
        label = name.replace("shard", "room shard ")
        axes[0][0].plot(minutes, [p and p["rss_mb"] for p in points], label=label)
        axes[0][1].plot(minutes, [p and p["fds"] for p in points], label=label)
    axes[0][0].set_ylabel("RSS (MB)")
    axes[0][1].set_ylabel("open file descriptors")
    for ax in axes[0]:
        ax.set_ylim(bottom=0)  # growth shown against the whole, not against a zoomed-in band
    axes[1][0].plot(minutes, [s["delivered_per_s"] for s in samples], label="delivered/s")
    axes[1][0].plot(minutes, [s["acked_per_s"] for s in samples], label="acked sends/s")
    axes[1][0].set_ylabel("messages/s")
    axes[1][1].plot(minutes, [s["ack_p50_ms"] for s in samples], label="ack p50")
    axes[1][1].plot(minutes, [s["ack_p99_ms"] for s in samples], label="ack p99")
    axes[1][1].plot(minutes, [s["delivery_p99_ms"] for s in samples], label="delivery p99")
    axes[1][1].set_ylabel("latency (ms)")
    axes[1][1].set_yscale("log")
    for ax in (a for row in axes for a in row):
        ax.axvline(result["config"]["warmup_s"] / 60, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("minutes")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    c = result["config"]
    fig.suptitle(
        f"soak: {c['rate']} sends/s ({c['load']:.0%} of {c['saturation']}/s) into {c['rooms']} rooms × "
        f"{c['members']} members for {c['minutes']} min (dotted: end of warm-up)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


async def soak(args) -> int:
    ensure_node_deps()
    RESULTS.mkdir(exist_ok=True)
    extra_env = dict(kv.split("=", 1) for kv in args.env)
    stack = Stack(extra_env)
    gen, loadavg_at_start = None, os.getloadavg()
    try:
        log(f"starting the stack (log: {stack.log_path})…")
        await stack.start()
        sockets = await stack.seed(args.rooms, args.members)
        gen = SoakGen(stack.url, "clubhub", sockets, args.senders, args.parts)
        await gen.ready()
        stack.remember_tree()
        log(
            f"{len(sockets)} sockets in {args.rooms} rooms; shard processes: {[p.pid for p in stack.shards()]}; "
            f"load average {os.getloadavg()}"
        )
        if args.rate:
            saturation, rate = None, args.rate
        else:
            saturation = args.saturation or await calibrate(gen, args.calibrate_seconds)
            rate = round(saturation * args.load, 1)
            # A pause longer than the load generator's 10-s ack timeout: every calibration send is settled
            # (acked or timed out) and counted here, not in the soak's first sample.
            await gen.step(0.0, 1.0, drain_ms=11000)
        warmup_s = min(180.0, args.minutes * 60 * 0.2)
        log(
            f"soak: {rate} sends/s for {args.minutes} min (saturation {saturation}), warm-up {warmup_s:.0f} s"
        )
        samples, t0 = [], time.monotonic()
        while time.monotonic() - t0 < args.minutes * 60:
            step = await gen.step(rate, args.sample_s, drain_ms=50)
            stack.remember_tree()
            sample = {
                "t": round(time.monotonic() - t0, 1),
                **step,
                "loadavg_1m": os.getloadavg()[0],
                "gateway": proc_sample(stack.gateway),
                "shards": [proc_sample(p) for p in stack.shards()],
            }
            samples.append(sample)
            log(
                f"  {sample['t']:7.0f}s  gateway {sample['gateway']['rss_mb']:7.1f} MB {sample['gateway']['fds']:4} fds"
                f"  shards "
                + " ".join(f"{s['rss_mb']:.0f}MB/{s['fds']}fd" for s in sample["shards"])
                + f"  delivered {step['delivered_per_s']:8.1f}/s  ack p50 {step['ack_p50_ms']} p99 {step['ack_p99_ms']} ms"
                f"  refused {step['refused']}"
            )
            if stack.proc.poll() is not None:
                raise RuntimeError(f"the gateway exited with {stack.proc.returncode}")
        # Nothing sent for a second, then past the 10-s ack timeout: the last sends' acks are counted.
        drain = await gen.step(0.0, 1.0, drain_ms=11000)
    finally:
        if gen is not None:
            gen.close()
        stack.stop()
    result = {
        "config": {
            "minutes": args.minutes,
            "rate": rate,
            "saturation": saturation,
            "load": args.load,
            "rooms": args.rooms,
            "members": args.members,
            "senders": args.senders,
            "sample_s": args.sample_s,
            "warmup_s": warmup_s,
            "max_rss_growth": args.max_rss_growth,
            "max_fd_growth": args.max_fd_growth,
            "cpus": os.cpu_count(),
            "loadavg_at_start": loadavg_at_start,
            "loadavg_at_end": os.getloadavg(),
        },
        "verdict": verdict(samples, drain, warmup_s, args),
        "samples": samples,
        "drain": drain,
        # Not part of the verdict (which is about growth), but a stop that needs SIGKILL is a finding.
        "shutdown": stack.shutdown,
    }
    out = Path(args.out)
    out.write_text(json.dumps(result, indent=1))
    plot(result, out.with_suffix(".png"))
    v = result["verdict"]
    log(
        f"\n{'process':10} {'RSS MB start':>12} {'after warm-up':>13} {'end':>8} {'end/warm-up':>11}   "
        f"{'fds start':>9} {'warm-up':>7} {'end':>5}"
    )
    for name, p in v["processes"].items():
        log(
            f"{name:10} {p['rss_mb_start']:12.1f} {p['rss_mb_after_warmup']:13.1f} {p['rss_mb_end']:8.1f} "
            f"{p['rss_ratio']:11.3f}   {p['fds_start']:9} {p['fds_after_warmup']:7} {p['fds_end']:5}"
        )
    log(f"gateway stop: {stack.shutdown}")
    log(
        f"sent {v.get('sent')}, acked {v.get('acked')}, refused {v.get('refused')}; "
        f"results: {out} and {out.with_suffix('.png')}"
    )
    for problem in v["problems"]:
        log(f"FAIL: {problem}")
    print(
        json.dumps(
            {
                "ok": v["ok"],
                "rate": rate,
                "saturation": saturation,
                "minutes": args.minutes,
                "processes": v["processes"],
                "problems": v["problems"],
                "results": str(out),
            }
        )
    )
    return 0 if v["ok"] else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--load", type=float, default=0.5, help="fraction of the saturation send rate")
    parser.add_argument(
        "--saturation", type=float, help="saturation send rate (messages/s); skips calibration"
    )
    parser.add_argument("--rate", type=float, help="send rate (messages/s); skips calibration and --load")
    parser.add_argument("--calibrate-seconds", type=float, default=3.0)
    parser.add_argument("--rooms", type=int, default=8)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--senders", type=int, default=40)
    parser.add_argument("--parts", type=int, default=1, help="load generator processes")
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--max-rss-growth", type=float, default=0.20, help="allowed RSS growth after warm-up")
    parser.add_argument(
        "--max-fd-growth", type=int, default=10, help="allowed growth in open fds after warm-up"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="CLUBHUB_X=V",
        help="extra environment for the gateway (repeatable)",
    )
    parser.add_argument("--out", default=str(RESULTS / "soak.json"))
    args = parser.parse_args()

    def terminate(signum, frame):
        raise KeyboardInterrupt  # runs every finally: load generators and the stack are stopped

    signal.signal(signal.SIGTERM, terminate)
    return asyncio.run(soak(args))


if __name__ == "__main__":
    sys.exit(main())
