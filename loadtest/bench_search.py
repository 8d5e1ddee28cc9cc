"""The message search benchmark: PostgreSQL full-text search over 1,000,000 messages of the seeded world.

1. **The world**: ``clubhub seed``'s world (``ranking.world.build``: users, clubs, rooms, memberships,
   written by the seeder's own ``_write_rows``), and 1,000,000 messages in its rooms by their clubs'
   members. Their text (fixed seed): a quarter the seeded world's own chat lines, the rest chat-like
   sentences drawn from a Zipf vocabulary (a few hundred common chat words, the clubs' topics, and a long
   tail of made-up words, so a query can be common, middling or rare).
2. **Indexing**: every message through ``PostgresSearch.index`` (the indexer's one upsert per read), in
   reads of ``--batch`` messages; rows per second.
3. **Query latency**: a mix of queries (common, topic, middling and rare words, a phrase, two words, a
   word left out) for several users (from the one in most clubs to one in a single club), each run
   ``--repeat`` times through ``PostgresSearch.query`` (permission filter, ranking, headline, one page of
   20): p50/p99 per class and overall.
4. **Baseline, same run**: the same queries as an unindexed ``ILIKE '%word%'`` scan with the same
   permission filter (newest first, 20 rows), on the same 1M rows: p50/p99 and the ratio.
5. **Index lag**: messages sent through a real gateway (Socket.IO ``message:send`` → room shard → search
   stream → the ``SearchIndexer`` actor → PostgreSQL) until ``query`` finds them: p50/p99 from the send and
   from the ack.

Everything runs here against the project's embedded PostgreSQL, Redis and MongoDB-wire servers and a local
Ray instance, started under a temporary directory and stopped at the end (nothing left running); every
store call is bounded. Writes ``results/bench_search.json`` and ``results/bench_search.png``.

    python loadtest/bench_search.py [--messages 1000000] [--users 2000] [--clubs 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
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

STORE_TIMEOUT_S = 120.0  # one store call at most (a busy machine is slow, not stuck)
BASELINE_TIMEOUT_MS = 60_000
LAG_DEADLINE_S = 30.0
SEED = 20

# Common chat words (no stop words: those are not indexed), most frequent first.
COMMON = [
    "tonight",
    "time",
    "week",
    "people",
    "good",
    "great",
    "thanks",
    "think",
    "really",
    "know",
    "going",
    "today",
    "tomorrow",
    "love",
    "next",
    "weekend",
    "meet",
    "night",
    "first",
    "last",
    "maybe",
    "sure",
    "come",
    "bring",
    "pizza",
    "coffee",
    "snacks",
    "place",
    "start",
    "early",
    "late",
    "later",
    "park",
    "anyone",
    "share",
    "photos",
    "link",
    "game",
    "round",
    "team",
    "play",
    "music",
    "talk",
    "book",
    "read",
    "watch",
    "film",
    "fun",
    "nice",
    "cool",
    "idea",
    "plan",
    "help",
    "new",
    "found",
    "again",
    "best",
    "hope",
    "long",
    "little",
    "world",
    "right",
    "work",
    "better",
    "feel",
    "home",
    "city",
    "room",
    "table",
    "seat",
    "ticket",
    "train",
    "drive",
    "walk",
    "bike",
    "rain",
    "sun",
    "cold",
    "warm",
    "friday",
    "saturday",
    "sunday",
    "monday",
    "evening",
    "morning",
    "lunch",
    "dinner",
    "drinks",
    "beer",
    "tea",
    "cake",
    "question",
    "answer",
    "vote",
    "poll",
    "list",
    "notes",
    "slides",
    "recording",
    "stream",
    "video",
    "sound",
    "mic",
    "camera",
    "light",
    "chair",
    "door",
    "map",
    "trail",
    "route",
    "hill",
    "river",
    "lake",
    "beach",
    "garden",
    "market",
    "shop",
    "street",
    "corner",
    "station",
    "bus",
    "car",
    "parking",
    "entrance",
    "hall",
    "stage",
    "speaker",
    "host",
    "guest",
    "member",
    "group",
    "club",
    "meetup",
    "session",
    "talk",
    "workshop",
    "class",
    "lesson",
    "practice",
    "training",
    "race",
    "pace",
    "miles",
    "km",
    "steps",
    "score",
    "points",
    "level",
    "board",
    "pieces",
    "card",
    "deck",
    "dice",
    "rules",
    "turn",
    "win",
    "lose",
    "draw",
    "chess",
    "openings",
    "blitz",
    "puzzle",
    "endgame",
    "novel",
    "chapter",
    "author",
    "recipe",
    "oven",
    "spices",
    "bread",
    "soup",
    "salad",
    "pasta",
    "rice",
    "beans",
    "cheese",
    "lens",
    "shutter",
    "darkroom",
    "film",
    "print",
    "frame",
    "jazz",
    "standards",
    "jam",
    "record",
    "vinyl",
    "piano",
    "bass",
    "drums",
    "guitar",
    "code",
    "review",
    "bug",
    "deploy",
    "test",
    "branch",
    "merge",
]


def log(*args: object) -> None:
    print(*args, flush=True)


def bounded(awaitable, timeout: float = STORE_TIMEOUT_S):
    return asyncio.wait_for(awaitable, timeout)


# -- the messages ---------------------------------------------------------------------------------------


def vocabulary(rng, size: int) -> list[str]:
    """COMMON, then made-up words (syllables) for the long tail; deterministic for a seed."""
    syll = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "bri", "dor", "fen", "gal"]
    words = list(dict.fromkeys(COMMON))
    seen = set(words)
    while len(words) < size:
        n = int(rng.integers(3, 5))
        w = "".join(syll[int(i)] for i in rng.integers(0, len(syll), n))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def generate(world, n: int, vocab_size: int, seed: int):
    """``n`` messages ``(room index, user index, text)`` in the world's rooms by their clubs' members."""
    import numpy as np

    from ranking import world as world_mod

    rng = np.random.default_rng(seed)
    vocab = vocabulary(rng, vocab_size)
    ranks = np.arange(1, len(vocab) + 1)
    p = 1.0 / ranks**1.07
    p /= p.sum()
    members: dict[int, list[int]] = {}
    for u, c, _ in world.memberships:
        members.setdefault(c, []).append(u)
    rooms = [i for i, r in enumerate(world.rooms) if members.get(r["club"])]
    # Busy and quiet rooms: a Zipf over the rooms, in a seeded order.
    room_p = 1.0 / np.arange(1, len(rooms) + 1) ** 0.9
    room_p /= room_p.sum()
    room_of = rng.choice(len(rooms), size=n, p=room_p)
    lengths = rng.integers(3, 14, size=n)
    words = rng.choice(len(vocab), size=int(lengths.sum()), p=p)
    templated = rng.random(n) < 0.25
    out = []
    at = 0
    for i in range(n):
        r = rooms[int(room_of[i])]
        club = world.rooms[r]["club"]
        people = members[club]
        u = people[int(rng.integers(len(people)))]
        k = int(lengths[i])
        if templated[i]:
            topic = world_mod.TOPICS[world.clubs[club]["topic"]][0]
            text = world_mod._chat_line(rng, topic)
        else:
            text = " ".join(vocab[int(w)] for w in words[at : at + k])
        at += k
        out.append((r, u, text))
    return out, vocab


# -- timing ---------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def summary_ms(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_ms": round(pct(values, 50) * 1000, 2),
        "p99_ms": round(pct(values, 99) * 1000, 2),
        "mean_ms": round(statistics.fmean(values) * 1000, 2) if values else None,
    }


BASELINE_SQL = """
SELECT s.room_id, s.seq, s.text FROM message_search s
WHERE {readable} AND {match}
ORDER BY s.ts DESC LIMIT 20
"""


def baseline_terms(q: str) -> tuple[list[str], list[str]]:
    """A query as ILIKE patterns: words (or a phrase) that must appear, and words that must not."""
    if q.startswith('"'):
        return [q.strip('"')], []
    must = [w for w in q.split() if not w.startswith("-")]
    must_not = [w[1:] for w in q.split() if w.startswith("-")]
    return must, must_not


async def baseline_query(user_id: int, q: str) -> int:
    from tortoise.transactions import in_transaction

    from storage.visibility import readable_room_sql

    must, must_not = baseline_terms(q)
    params: list = [user_id]
    conds = []
    for w in must:
        params.append(f"%{w}%")
        conds.append(f"s.text ILIKE ${len(params)}")
    for w in must_not:
        params.append(f"%{w}%")
        conds.append(f"s.text NOT ILIKE ${len(params)}")
    sql = BASELINE_SQL.format(
        readable=readable_room_sql("s.room_id", "s.club_id", "$1"), match=" AND ".join(conds)
    )
    async with in_transaction() as conn:
        await conn.execute_script(f"SET LOCAL statement_timeout = {BASELINE_TIMEOUT_MS}")
        rows = await conn.execute_query_dict(sql, params)
    return len(rows)


# -- the run --------------------------------------------------------------------------------------------


async def load_world(args):
    from gateway.cli.seed import _write_rows
    from ranking import world as world_mod
    from storage.models import Club, Visibility

    t0 = time.monotonic()
    world = world_mod.build(args.users, args.clubs, args.clubs * 2, seed=SEED)
    ids = await bounded(_write_rows(world, "clubhub-demo"))
    # A fifth of the clubs private: the read rule is membership either way, as for search.
    private = ids["club"][::5]
    await bounded(Club.filter(id__in=private).update(visibility=Visibility.private))
    log(
        f"world: {len(world.users)} users, {len(world.clubs)} clubs, {len(world.rooms)} rooms, "
        f"{len(world.memberships)} memberships ({time.monotonic() - t0:.1f} s)"
    )
    return world, ids


async def index_all(store, world, ids, messages, batch: int) -> dict:
    from storage.search import IndexRow

    names = [u["name"][:50] for u in world.users]
    t0 = time.monotonic()
    base_ts = int((world.now - 30 * 86400) * 1000)
    seq_of: dict[int, int] = {}
    rows: list[IndexRow] = []
    written = 0
    for i, (r, u, text) in enumerate(messages):
        room_id = ids["room"][r]
        seq = seq_of[room_id] = seq_of.get(room_id, 0) + 1
        rows.append(IndexRow(room_id, seq, seq, ids["user"][u], names[u], base_ts + i * 2500, text))
        if len(rows) >= batch:
            written += await bounded(store.index(rows))
            rows = []
            if written % 200_000 < batch:
                log(f"  indexed {written:,} ({written / (time.monotonic() - t0):,.0f} rows/s)")
    if rows:
        written += await bounded(store.index(rows))
    seconds = time.monotonic() - t0
    from tortoise import connections

    await bounded(connections.get("default").execute_script("VACUUM ANALYZE message_search"), 600)
    size = await connections.get("default").execute_query_dict(
        "SELECT pg_total_relation_size('message_search') AS total, pg_relation_size('idx_message_search_tsv') AS gin"
    )
    return {
        "rows": written,
        "seconds": round(seconds, 1),
        "rows_per_s": round(written / seconds),
        "batch": batch,
        "table_mb": round(size[0]["total"] / 2**20, 1),
        "gin_mb": round(size[0]["gin"] / 2**20, 1),
    }


def pick_queries(vocab: list[str], messages) -> tuple[dict[str, str], dict[str, int | None]]:
    """The query mix, with how many messages each word is in (counted on the generated text)."""
    from collections import Counter

    df: Counter[str] = Counter()
    for _, _, text in messages:
        df.update(set(text.split()))
    n = len(messages)
    common = min(COMMON, key=lambda w: abs(df[w] - 0.05 * n))  # in about one message in twenty
    middling = sorted((w for w in vocab[400:3000] if 200 <= df[w] <= 2000), key=lambda w: -df[w])
    rare = [w for w in vocab[5000:] if 2 <= df[w] <= 20]
    queries = {
        "common": common,
        "topic": "chess",
        "middling": middling[0] if middling else vocab[500],
        "rare": rare[0] if rare else vocab[-1],
        "phrase": '"next one"',
        "two_words": "pizza tonight",
        "excluding": "coffee -morning",
    }
    return queries, {k: df.get(v, None) for k, v in queries.items()}


def pick_users(world, ids) -> tuple[list[int], dict[int, int]]:
    from collections import Counter

    clubs_of = Counter(u for u, _, _ in world.memberships)
    ranked = sorted(clubs_of, key=lambda u: (-clubs_of[u], u))
    picks = [
        ranked[0],
        ranked[len(ranked) // 10],
        ranked[len(ranked) // 4],
        ranked[len(ranked) // 2],
        ranked[3 * len(ranked) // 4],
        ranked[-1],
    ]
    return [ids["user"][u] for u in dict.fromkeys(picks)], {ids["user"][u]: clubs_of[u] for u in picks}


async def measure_queries(store, users, queries, repeat: int) -> dict:
    per_class: dict[str, list[float]] = {k: [] for k in queries}
    hits: dict[str, list[int]] = {k: [] for k in queries}
    for _ in range(repeat):
        for user in users:
            for name, q in queries.items():
                t = time.perf_counter()
                page = await bounded(store.query(user, q, limit=20))
                per_class[name].append(time.perf_counter() - t)
                hits[name].append(len(page["items"]))
    everything = [v for vs in per_class.values() for v in vs]
    return {
        "all": summary_ms(everything),
        "by_query": {
            k: {**summary_ms(v), "q": queries[k], "mean_hits": round(statistics.fmean(hits[k]), 1)}
            for k, v in per_class.items()
        },
    }


async def measure_baseline(users, queries, repeat: int) -> dict:
    per_class: dict[str, list[float]] = {k: [] for k in queries}
    for _ in range(repeat):
        for user in users:
            for name, q in queries.items():
                t = time.perf_counter()
                await bounded(baseline_query(user, q))
                per_class[name].append(time.perf_counter() - t)
    everything = [v for vs in per_class.values() for v in vs]
    return {"all": summary_ms(everything), "by_query": {k: summary_ms(v) for k, v in per_class.items()}}


async def measure_lag(url: str, settings, store, world, ids, count: int) -> dict:
    """Messages through the gateway until the search finds them."""
    import socketio

    from gateway.core.tokens import AccessTokens, KeyRing
    from storage.models import Room

    # A member of the world's first club sends in a new room of it (the synthetic messages took the seqs of
    # the world's rooms, which the shards number from MongoDB); the same member searches.
    club = world.rooms[0]["club"]
    author = next(u for u, c, _ in world.memberships if c == club)
    room = await bounded(Room.create(club_id=ids["club"][club], name=f"bench-lag-{uuid.uuid4().hex[:6]}"))
    user_id, room_id = ids["user"][author], room.id
    token = AccessTokens(KeyRing.from_settings(settings), 3600).issue(user_id, uuid.uuid4().hex)
    sio = socketio.AsyncClient(reconnection=False)
    await bounded(sio.connect(url, transports=["websocket"], auth={"token": token}, wait_timeout=30), 60)
    from_send, from_ack = [], []
    try:
        ack = await bounded(sio.call("room:join", {"room_id": room_id}, timeout=30))
        assert ack.get("ok", True) and "error" not in ack, ack
        for i in range(count):
            marker = f"lagmark{uuid.uuid4().hex[:12]}"
            t0 = time.perf_counter()
            ack = await bounded(
                sio.call(
                    "message:send",
                    {"room_id": room_id, "client_id": uuid.uuid4().hex, "text": f"bench {marker} number {i}"},
                    timeout=30,
                )
            )
            assert ack.get("ok", True) and "error" not in ack, ack
            t_ack = time.perf_counter()
            deadline = t0 + LAG_DEADLINE_S
            while True:
                page = await bounded(store.query(user_id, marker, room_id=room_id, limit=1))
                if page["items"]:
                    break
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"message {i} not searchable after {LAG_DEADLINE_S} s")
                await asyncio.sleep(0.002)
            t_found = time.perf_counter()
            from_send.append(t_found - t0)
            from_ack.append(t_found - t_ack)
    finally:
        await sio.disconnect()
    return {
        "from_send": summary_ms(from_send),
        "from_ack": summary_ms(from_ack),
        "samples_ms": [round(v * 1000, 2) for v in from_send],
    }


async def bench(args, root: Path) -> dict:
    from aiohttp import web

    from gateway.app import create_app, runner_options
    from storage.search import PostgresSearch
    from storage.settings import Settings

    settings = Settings(
        data_dir=root,
        ray_num_cpus=os.cpu_count() or 2,
        user_msg_burst=10_000,
        user_msg_rate=10_000,
        metrics_port=0,
    )
    app = create_app(settings)
    runner = web.AppRunner(app, **runner_options(settings))
    t0 = time.monotonic()
    await bounded(runner.setup(), 300)  # the stores, Ray and the actors (indexer included)
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        log(f"gateway up on {url} ({time.monotonic() - t0:.1f} s)")
        world, ids = await load_world(args)
        t = time.monotonic()
        messages, vocab = generate(world, args.messages, args.vocabulary, SEED)
        log(f"generated {len(messages):,} messages ({time.monotonic() - t:.1f} s)")
        store = PostgresSearch()
        indexing = await index_all(store, world, ids, messages, args.batch)
        log(f"indexing: {indexing}")
        queries, df = pick_queries(vocab, messages)
        users, clubs_of = pick_users(world, ids)
        log(f"queries: {queries}\n  messages containing each word: {df}\n  users' clubs: {clubs_of}")
        for q in queries.values():  # warm the caches once, as a running server has them
            await bounded(store.query(users[0], q))
        fts = await measure_queries(store, users, queries, args.repeat)
        log(f"full-text: {fts['all']}")
        base = await measure_baseline(users, queries, args.baseline_repeat)
        log(f"ILIKE scan: {base['all']}")
        lag = await measure_lag(url, settings, store, world, ids, args.lag_messages)
        log(f"index lag: from send {lag['from_send']}, from ack {lag['from_ack']}")
        return {
            "messages": len(messages),
            "world": {
                "users": len(world.users),
                "clubs": len(world.clubs),
                "rooms": len(world.rooms),
                "memberships": len(world.memberships),
                "seed": SEED,
            },
            "indexing": indexing,
            "queries": queries,
            "messages_containing": df,
            "users_clubs": {str(k): v for k, v in clubs_of.items()},
            "full_text": fts,
            "ilike_scan": {**base, "rows_scanned": len(messages)},
            "ratio_p50": round(base["all"]["p50_ms"] / fts["all"]["p50_ms"], 1),
            "ratio_p99": round(base["all"]["p99_ms"] / fts["all"]["p99_ms"], 1),
            "index_lag": lag,
            "machine": {"cpus": os.cpu_count()},
        }
    finally:
        await runner.cleanup()  # the actors, Ray and the stores this run started


def plot(result: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = list(result["full_text"]["by_query"])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    x = range(len(names))
    for offset, key, label, color in (
        (-0.2, "full_text", "full-text (GIN)", "#2f6f4f"),
        (0.2, "ilike_scan", "ILIKE scan", "#a04040"),
    ):
        p50 = [result[key]["by_query"][n]["p50_ms"] for n in names]
        p99 = [result[key]["by_query"][n]["p99_ms"] for n in names]
        ax.bar([i + offset for i in x], p50, 0.4, label=f"{label} p50", color=color)
        ax.scatter([i + offset for i in x], p99, marker="_", s=200, color="black")
    ax.set_yscale("log")
    ax.set_xticks(list(x), names, rotation=20)
    ax.set_ylabel("ms per query (bar p50, dash p99)")
    ax.set_title(f"{result['messages']:,} messages, permission filter, page of 20")
    ax.legend()
    samples = sorted(result["index_lag"]["samples_ms"])
    bx.plot(samples, [(i + 1) / len(samples) for i in range(len(samples))], color="#2f6f4f")
    bx.set_xlabel("ms from message:send to found by search")
    bx.set_ylabel("fraction of messages")
    bx.set_title("index lag through a real gateway")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--clubs", type=int, default=100)
    parser.add_argument("--vocabulary", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=2000, help="messages per upsert (one indexer read)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-repeat", type=int, default=1)
    parser.add_argument("--lag-messages", type=int, default=100)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from storage.services import Services
    from storage.settings import Settings

    root = Path(tempfile.mkdtemp(prefix="bench-search-"))
    services = Services(Settings(data_dir=root))
    args.results.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    started = services.up()
    try:
        result = asyncio.run(bench(args, root))
    finally:
        services.down(started)
        shutil.rmtree(root, ignore_errors=True)
    result["wall_s"] = round(time.monotonic() - began, 1)
    log("")
    log(f"{'query':>10}  {'q':>22}  {'fts p50':>8}  {'fts p99':>8}  {'ilike p50':>9}  {'ilike p99':>9}")
    for name, f in result["full_text"]["by_query"].items():
        b = result["ilike_scan"]["by_query"][name]
        log(
            f"{name:>10}  {f['q']:>22}  {f['p50_ms']:>8}  {f['p99_ms']:>8}  {b['p50_ms']:>9}  {b['p99_ms']:>9}"
        )
    log(f"ILIKE / full-text: p50 {result['ratio_p50']}x, p99 {result['ratio_p99']}x")
    (args.results / "bench_search.json").write_text(json.dumps(result, indent=2) + "\n")
    result["plot"] = plot(result, args.results / "bench_search.png")
    print(json.dumps({k: result[k] for k in ("messages", "indexing", "ratio_p50", "ratio_p99", "wall_s")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
