"""Message search: the index the indexer keeps (``actors.indexer``) and the query ``GET /search/messages`` asks.

``SearchStore`` is the whole interface: ``index(entries)`` (what the room shards put on
``keys.SEARCH_STREAM``, already parsed) and ``query(user_id, q, …)``. ``PostgresSearch`` implements it on
PostgreSQL full-text search, in the table ``message_search`` (migration 4): a ``tsvector`` generated from the
text (``english`` configuration) with a GIN index. At a scale one PostgreSQL cannot serve (docs/search.md
sizes it), OpenSearch or Elasticsearch takes over behind the same two methods: the stream entries become
bulk requests (``version_type=external`` on ``rev`` gives the same "only newer wins"), the query a
``multi_match`` with a ``terms`` filter on the caller's readable rooms and clubs, ``search_after`` for the
cursor and the ``highlight`` section for the excerpt. Nothing above this module knows which engine it is.

Rules both engines keep:

- **Only newer wins.** A row is written when its ``rev`` is newer than the stored one, so a redelivered or
  late stream entry changes nothing. A deleted message keeps its row with empty text (it matches nothing),
  so a late older entry cannot bring it back.
- **Read right now.** The permission filter is ``storage.visibility.readable_room_sql`` inside the query:
  a leave, a ban or a DM one is not part of hides the rows on the very next query; nothing is copied into
  the index but the room's club (rooms never change club).
- **Bounded.** Each query runs under ``QUERY_TIMEOUT_MS`` (``SET LOCAL statement_timeout``) and answers
  ``SearchUnavailable`` past it; each index call is one statement per batch.

Highlights: ``ts_headline`` on the returned page only, turned into HTML-escaped text whose matches are
wrapped in ``<mark>``/``</mark>`` (Elasticsearch's ``encoder: html`` convention): every other ``<``, ``>``,
``&`` and quote of the message is escaped, so a client may split on the two markers and render text nodes
(or even insert it as HTML) without injecting anything a user wrote.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import math
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tortoise import connections
from tortoise.transactions import in_transaction

from .visibility import readable_room_sql

Q_MAX = 200  # characters of a query
LIMIT_MAX = 50
LIMIT_DEFAULT = 20
QUERY_TIMEOUT_MS = 2000  # one query at most; past it: unavailable
AUTHOR_NAME_MAX = 50  # message_search.author_name VARCHAR(50)
ROOM_CACHE_MAX = 100_000  # room -> club entries kept by an indexer (rooms never change club)
CURSOR_MAX = 200  # characters of a cursor
_MAX_ID = 2**63 - 1
_FLOAT4_MAX = 3.4e38
# Private-use characters ts_headline wraps matches in; removed from the text first, so only ts_headline's
# own can reach the output, where they become <mark> and </mark> after escaping everything else. ``<`` and
# ``>`` go through as two more of them: the parser would take ``<b>`` for a tag and leave it out.
_START, _STOP, _LT, _GT = "\ue000", "\ue001", "\ue002", "\ue003"
MARK_START, MARK_STOP = "<mark>", "</mark>"
# translate(text, FROM, TO): < and > to their stand-ins, the two markers removed.
_HEADLINE_FROM, _HEADLINE_TO = "<>" + _START + _STOP, _LT + _GT
# One window of the message around its best match (chat messages are short: usually all of it).
HEADLINE_OPTIONS = f'StartSel="{_START}", StopSel="{_STOP}", MaxWords=35, MinWords=15, ShortWord=3'
_SQLSTATE_CANCELED = "57014"  # query_canceled: the statement timeout


class SearchInvalid(ValueError):
    """A query, limit or cursor this store refuses (the caller answers ``invalid``)."""


class SearchUnavailable(RuntimeError):
    """The store did not answer in time (the caller answers ``unavailable``)."""


@dataclass(frozen=True)
class IndexRow:
    """One message as the index keeps it (a deleted message: empty text)."""

    room_id: int
    seq: int
    rev: int
    author_id: int
    author_name: str
    ts: int
    text: str


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last item's rank and key (rank desc, room_id desc, seq desc)."""

    rank: float
    room_id: int
    seq: int

    def encode(self) -> str:
        raw = json.dumps([self.rank, self.room_id, self.seq], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor a page gave out, or ``SearchInvalid`` for anything else."""
        try:
            if not text or len(text) > CURSOR_MAX or not text.isascii():
                raise ValueError("bad size")
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            rank, room_id, seq = json.loads(raw)
            if not all(type(x) is int for x in (room_id, seq)) or type(rank) not in (int, float):
                raise ValueError("bad types")
            if not (math.isfinite(rank) and 0 <= rank <= _FLOAT4_MAX):  # ranks are float4, never negative
                raise ValueError("bad rank")
            if not (0 < room_id <= _MAX_ID and 0 < seq <= _MAX_ID):
                raise ValueError("bad key")
            return cls(float(rank), room_id, seq)
        except (ValueError, TypeError, binascii.Error, RecursionError, UnicodeDecodeError):
            raise SearchInvalid("cursor is not one this API gave out") from None


def parse_entry(fields: Mapping[Any, Any]) -> list[IndexRow]:
    """A ``keys.SEARCH_STREAM`` entry (``actors.fanout.search_entry``; bytes or str keys and values) as
    rows. A malformed entry raises ``ValueError`` (the indexer counts and skips it: it can never become
    valid by being read again)."""

    def text(key: str) -> str:
        value = fields.get(key, fields.get(key.encode()))
        if value is None:
            raise ValueError(f"search entry without {key}")
        return value.decode() if isinstance(value, bytes) else str(value)

    room_id = int(text("room_id"))
    rows = []
    for m in json.loads(text("messages")):
        author = m.get("author") or {}
        rows.append(
            IndexRow(
                room_id=room_id,
                seq=int(m["seq"]),
                rev=int(m["rev"]),
                author_id=int(author.get("id") or 0),
                author_name=str(author.get("display_name") or "")[:AUTHOR_NAME_MAX],
                ts=int(m["ts"]),
                text=str(m.get("text") or "").replace("\x00", ""),
            )
        )
    return rows


def newest(rows: Iterable[IndexRow]) -> list[IndexRow]:
    """One row per message, its highest rev: one statement may not touch a row twice (``ON CONFLICT``)."""
    best: dict[tuple[int, int], IndexRow] = {}
    for r in rows:
        key = (r.room_id, r.seq)
        if key not in best or best[key].rev < r.rev:
            best[key] = r
    return list(best.values())


def highlight(headline: str) -> str:
    """``ts_headline``'s output (matches between the private-use markers) as escaped text with
    ``<mark>``/``</mark>`` around the matches."""
    plain = headline.replace(_LT, "<").replace(_GT, ">")
    return html.escape(plain, quote=True).replace(_START, MARK_START).replace(_STOP, MARK_STOP)


def check_query(q: str, limit: int) -> str:
    """The query text (stripped) and limit as the store takes them, or ``SearchInvalid``."""
    stripped = q.strip()
    if not stripped or len(q) > Q_MAX:
        raise SearchInvalid(f"q must be 1 to {Q_MAX} characters, not blank")
    if "\x00" in q:
        raise SearchInvalid("q must not contain NUL characters")
    if not 1 <= limit <= LIMIT_MAX:
        raise SearchInvalid(f"limit must be 1 to {LIMIT_MAX}")
    return stripped


class SearchStore(Protocol):
    """What the indexer and the search action need of an engine (PostgreSQL here; OpenSearch at scale)."""

    async def index(self, rows: Sequence[IndexRow]) -> int: ...

    async def query(
        self,
        user_id: int,
        q: str,
        club_id: int | None = None,
        room_id: int | None = None,
        limit: int = LIMIT_DEFAULT,
        cursor: str | None = None,
    ) -> dict: ...


_UPSERT = """
INSERT INTO message_search AS s (room_id, seq, club_id, author_id, author_name, ts, rev, text)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[],
                     $7::bigint[], $8::text[])
ON CONFLICT (room_id, seq) DO UPDATE
   SET rev = EXCLUDED.rev, text = EXCLUDED.text, author_name = EXCLUDED.author_name
 WHERE s.rev < EXCLUDED.rev
"""

# The matching rows the caller may read now, best first, one page after the cursor; the headline only for
# that page. {readable} is storage.visibility's fixed fragment; every value is a bound parameter.
_QUERY = """
WITH q AS (SELECT websearch_to_tsquery('english', $1) AS query),
page AS (
    SELECT s.room_id, s.seq, s.author_id, s.author_name, s.ts, s.text, ts_rank_cd(s.tsv, q.query) AS rank
    FROM message_search s, q
    WHERE s.tsv @@ q.query
      AND {readable}
      AND ($3::bigint IS NULL OR s.club_id = $3::bigint)
      AND ($4::bigint IS NULL OR s.room_id = $4::bigint)
      AND ($5::float4 IS NULL OR (ts_rank_cd(s.tsv, q.query), s.room_id, s.seq) < ($5::float4, $6::bigint, $7::bigint))
    ORDER BY rank DESC, s.room_id DESC, s.seq DESC
    LIMIT $8
)
SELECT p.room_id, p.seq, p.author_id, p.author_name, p.ts, p.text, p.rank,
       ts_headline('english', translate(p.text, $9, $10), q.query, $11) AS headline
FROM page p, q
ORDER BY p.rank DESC, p.room_id DESC, p.seq DESC
"""


class PostgresSearch:
    """The search store on PostgreSQL full-text search (Tortoise's ``default`` connection, raw SQL)."""

    def __init__(self, timeout_ms: int = QUERY_TIMEOUT_MS, room_cache_max: int = ROOM_CACHE_MAX) -> None:
        self.timeout_ms = int(timeout_ms)
        self.room_cache_max = room_cache_max
        self._club_of: OrderedDict[int, int | None] = OrderedDict()  # room -> club (None: a DM)
        self.skipped_rows = 0  # rows of rooms that no longer exist

    # -- writing -------------------------------------------------------------------------------
    async def index(self, rows: Sequence[IndexRow]) -> int:
        """Upsert the rows (newer revs only) in one statement; returns the rows sent (after dropping
        older duplicates and rows of rooms that do not exist)."""
        rows = newest(rows)
        if not rows:
            return 0
        clubs = await self._clubs({r.room_id for r in rows})
        kept = [r for r in rows if r.room_id in clubs]
        self.skipped_rows += len(rows) - len(kept)
        if not kept:
            return 0
        columns = [
            [r.room_id for r in kept],
            [r.seq for r in kept],
            [clubs[r.room_id] for r in kept],
            [r.author_id for r in kept],
            [r.author_name for r in kept],
            [r.ts for r in kept],
            [r.rev for r in kept],
            [r.text for r in kept],
        ]
        await connections.get("default").execute_query(_UPSERT, columns)
        return len(kept)

    async def _clubs(self, room_ids: set[int]) -> dict[int, int | None]:
        """Each existing room's club (None for a DM room); rooms never change club, so it is cached."""
        found = {r: self._club_of[r] for r in room_ids if r in self._club_of}
        missing = sorted(room_ids - set(found))
        if missing:
            rows = await connections.get("default").execute_query_dict(
                "SELECT id, club_id FROM rooms WHERE id = ANY($1::bigint[])", [missing]
            )
            for row in rows:
                found[row["id"]] = self._club_of[row["id"]] = row["club_id"]
            while len(self._club_of) > self.room_cache_max:
                self._club_of.popitem(last=False)
        return found

    # -- reading -------------------------------------------------------------------------------
    async def query(
        self,
        user_id: int,
        q: str,
        club_id: int | None = None,
        room_id: int | None = None,
        limit: int = LIMIT_DEFAULT,
        cursor: str | None = None,
    ) -> dict:
        """``{items: [{room_id, seq, author, text, ts, highlight, score}], next_cursor}``: best match
        first (``ts_rank_cd``, then room and seq, newest first), only rooms the user may read now."""
        text = check_query(q, limit)
        after = Cursor.decode(cursor) if cursor is not None else None
        sql = _QUERY.format(readable=readable_room_sql("s.room_id", "s.club_id", "$2"))
        params = [
            text,
            user_id,
            club_id,
            room_id,
            after.rank if after else None,
            after.room_id if after else None,
            after.seq if after else None,
            limit + 1,
            _HEADLINE_FROM,
            _HEADLINE_TO,
            HEADLINE_OPTIONS,
        ]
        started = time.monotonic()
        try:
            async with in_transaction() as conn:
                # A constant, not input: the bound on this one query (the transaction ends with it).
                await conn.execute_script(f"SET LOCAL statement_timeout = {self.timeout_ms}")
                rows = await conn.execute_query_dict(sql, params)
        except Exception as exc:
            if _canceled(exc):
                raise SearchUnavailable(
                    f"search took longer than {self.timeout_ms} ms ({time.monotonic() - started:.1f} s)"
                ) from None
            raise
        more = len(rows) > limit
        rows = rows[:limit]
        items = [
            {
                "room_id": r["room_id"],
                "seq": r["seq"],
                "author": {"id": r["author_id"], "display_name": r["author_name"]},
                "text": r["text"],
                "ts": r["ts"],
                "highlight": highlight(r["headline"]),
                "score": round(float(r["rank"]), 6),
            }
            for r in rows
        ]
        last = rows[-1] if rows else None
        next_cursor = (
            Cursor(float(last["rank"]), last["room_id"], last["seq"]).encode() if more and last else None
        )
        return {"items": items, "next_cursor": next_cursor}


def _canceled(exc: BaseException) -> bool:
    """Whether the statement timeout ended the query (asyncpg's error, as it is or as Tortoise wraps it)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if getattr(seen, "sqlstate", None) == _SQLSTATE_CANCELED or "statement timeout" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
