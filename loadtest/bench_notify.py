"""The notification fan-out benchmark: ``@everyone`` in a 2,000-member room, off the message hot path.

One notice (what a room shard puts on the notify stream for a moderator's ``@everyone``) is handed to a
``Notifier`` actor, which resolves the room's readers (less the author, the muted and those who blocked
the author), stores one notification per member and announces each to its user's sockets (one Redis
pipeline per chunk), as in production. Measured from the notice's XADD to the last notification stored,
per configuration, in the same run:

- ``chunked``: the production notifier, ``INSERT … SELECT unnest(…) ON CONFLICT DO NOTHING RETURNING`` in
  chunks of 1,000 rows (one batch for the whole room: two statements);
- ``row_by_row``: the baseline, one INSERT per notification (what an ORM ``create`` per recipient costs);
- ``replayed``: the same notice delivered again (a redelivered stream entry): nothing new is created, and
  the cost of finding that out.

Against real PostgreSQL, Redis and MongoDB-wire servers and a local Ray instance, all started here under a
temporary directory and stopped by pid at the end. Prints a table and the ratio, writes
``results/bench_notify.json`` and ``results/bench_notify.png``.

    python loadtest/bench_notify.py [--members 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))

STORE_TIMEOUT_S = 120.0  # one configuration's notifications, at most (a busy machine is slow, not stuck)


def log(*args: object) -> None:
    print(*args, flush=True)


async def crowd(members: int) -> tuple[int, int, list[int]]:
    """A club with a moderator and ``members`` members, a room; returns (club, room, member ids)."""
    from storage.models import Club, Membership, Role, Room, User

    tag = uuid.uuid4().hex[:8]
    mod = await User.create(email=f"mod-{tag}@bench.local", password_hash="x", display_name="Mod")
    club = await Club.create(name=f"bench-{tag}", created_by=mod)
    await Membership.create(club=club, user_id=mod.id, role=Role.moderator)
    users = [
        User(email=f"m{i}-{tag}@bench.local", password_hash="x", display_name=f"M{i}") for i in range(members)
    ]
    for i in range(0, members, 1000):
        await User.bulk_create(users[i : i + 1000])
    ids = [u.id for u in await User.filter(email__endswith=f"-{tag}@bench.local").exclude(id=mod.id)]
    await Membership.bulk_create([Membership(club=club, user_id=u, role=Role.member) for u in ids])
    room = await Room.create(club=club, name="general")
    return mod.id, room.id, ids


async def run_one(
    config, redis, name: str, room_id: int, club_id: int, mod_id: int, seq: int, expect: int
) -> dict:
    """One notice through a fresh notifier; seconds from XADD until ``expect`` notifications of it exist."""
    import ray

    from actors.fanout import notice_entry
    from actors.notifier import Notifier
    from actors.runtime import NAMESPACE
    from storage.models import Notification

    notifier = Notifier.options(
        name=f"bench-{name}-{uuid.uuid4().hex[:6]}", namespace=NAMESPACE, num_cpus=0
    ).remote(config)
    try:
        await notifier.start.remote()
        message = {
            "room_id": room_id,
            "seq": seq,
            "author": {"id": mod_id, "display_name": "Mod"},
            "text": "@everyone the meeting moved to five",
            "mentions_everyone": True,
        }
        cause = f"msg:{room_id}:{seq}"
        before = await notifier.stats.remote()
        t0 = time.perf_counter()
        await redis.xadd(config.notify_stream, notice_entry(message, club_id, None))
        deadline = t0 + STORE_TIMEOUT_S
        while True:
            stats = await notifier.stats.remote()
            if stats.get("notices", 0) > before.get("notices", 0):  # handled (stored and announced)
                break
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{name}: the notice was not handled within {STORE_TIMEOUT_S} s")
            await asyncio.sleep(0.01)
        seconds = time.perf_counter() - t0
        stored = await Notification.filter(cause=cause).count()
        return {
            "seconds": round(seconds, 3),
            "stored": stored,
            "created_now": stats.get("created", 0) - before.get("created", 0),
            "expected": expect,
            "per_s": round(stored / seconds, 1) if seconds else None,
        }
    finally:
        ray.kill(notifier, no_restart=True)


def plot(result: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = list(result["configs"])
    values = [result["configs"][n]["median_s"] for n in names]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(names, values, color=["#2f6f4f", "#a04040", "#6060a0"][: len(names)])
    ax.set_ylabel("seconds (median), XADD to stored and announced")
    ax.set_title(f"@everyone to {result['members']:,} members: one notice")
    for i, v in enumerate(values):
        ax.text(i, v, f"{v:.2f} s", ha="center", va="bottom")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


async def bench(args, urls: dict, root: Path) -> dict:
    import ray

    from actors import runtime
    from actors.config import ActorConfig
    from storage import keys
    from storage.postgres import init_postgres
    from storage.redis import connect_redis
    from storage.settings import Settings

    settings = Settings(data_dir=root, ray_num_cpus=os.cpu_count() or 2)
    await init_postgres(urls["postgres"])
    runtime.start_ray(settings)
    redis = connect_redis(urls["redis"])
    try:
        mod_id, room_id, members = await crowd(args.members)
        from storage.models import Room

        club_id = (await Room.get(id=room_id)).club_id
        from actors.push import vapid_key

        base = ActorConfig.from_settings(settings, urls, vapid_private_key=vapid_key(settings)).replace(
            notify_stream=f"{keys.NOTIFY_STREAM}:bench-{uuid.uuid4().hex[:6]}"
        )
        # Who is online (the notifier pushes to the others): the session shard a gateway would have made.
        from actors.runtime import NAMESPACE
        from actors.session_shard import SessionShard

        sessions = SessionShard.options(
            name="clubhub-session-shard-0", namespace=NAMESPACE, num_cpus=0
        ).remote(0, base)
        await sessions.ping.remote()
        configs = {
            "chunked": base,
            "row_by_row": base.replace(notify_insert_chunk=1),
        }
        result: dict = {"members": len(members), "configs": {}, "machine": {"cpus": os.cpu_count()}}
        seq = 0
        for name, config in configs.items():
            runs = []
            for _ in range(args.repeat):
                seq += 1
                runs.append(await run_one(config, redis, name, room_id, club_id, mod_id, seq, len(members)))
                log(f"{name:>11}: {runs[-1]['seconds']:.3f} s, {runs[-1]['stored']} stored")
            result["configs"][name] = {
                "runs": runs,
                "median_s": statistics.median(r["seconds"] for r in runs),
            }
            if name == "chunked":
                # The same notice again (a redelivered stream entry): the unique (user, cause) key says "done".
                again = [
                    await run_one(config, redis, "replayed", room_id, club_id, mod_id, seq, len(members))
                ]
                log(f"{'replayed':>11}: {again[0]['seconds']:.3f} s, {again[0]['created_now']} created")
                result["configs"]["replayed"] = {"runs": again, "median_s": again[0]["seconds"]}
        chunked = result["configs"]["chunked"]["median_s"]
        result["row_by_row_vs_chunked"] = round(result["configs"]["row_by_row"]["median_s"] / chunked, 2)
        result["chunked_notifications_per_s"] = round(len(members) / chunked, 1)
        await redis.delete(base.notify_stream)
        return result
    finally:
        await redis.aclose()
        from tortoise import Tortoise

        await Tortoise.close_connections()
        ray.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from storage.services import Services
    from storage.settings import Settings

    root = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    services = Services(Settings(data_dir=root))
    RESULTS.mkdir(exist_ok=True)
    started = services.up()
    try:
        result = asyncio.run(bench(args, services.urls(), root))
    finally:
        services.down(started)
        shutil.rmtree(root, ignore_errors=True)
    log("")
    log(f"{'config':>11}  {'median s':>9}  {'notifications/s':>15}")
    for name, c in result["configs"].items():
        per_s = result["members"] / c["median_s"] if c["median_s"] else 0
        log(f"{name:>11}  {c['median_s']:>9.3f}  {per_s:>15.0f}")
    log(f"row by row / chunked: {result['row_by_row_vs_chunked']}x")
    (RESULTS / "bench_notify.json").write_text(json.dumps(result, indent=2) + "\n")
    result["plot"] = plot(result, RESULTS / "bench_notify.png")
    print(json.dumps({k: v for k, v in result.items() if k != "configs"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
