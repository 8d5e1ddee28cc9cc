"""Message search without a database: the cursor codec, stream entries as rows, duplicates in one read,
highlights that cannot inject HTML, the query's limits."""

from __future__ import annotations

import base64
import json

import pytest

from actors.fanout import search_entry
from storage.search import (
    Cursor,
    IndexRow,
    SearchInvalid,
    check_query,
    highlight,
    newest,
    parse_entry,
)


def test_a_cursor_comes_back_as_it_went_out():
    for rank in (0.0, 0.1, 1e-7, 3.0e38, float.fromhex("0x1.99999ap-4")):
        c = Cursor(rank, 12, 2**63 - 1)
        assert Cursor.decode(c.encode()) == c
    assert "=" not in Cursor(0.5, 1, 1).encode()


def _b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "!!!",
        "x" * 300,
        "é",
        _b64([0.5, 1]),  # too few
        _b64([0.5, 1, 2, 3]),  # too many
        _b64({"rank": 0.5}),
        _b64(["0.5", 1, 2]),  # a string rank
        _b64([0.5, 1.5, 2]),  # a float id
        _b64([0.5, True, 2]),  # a bool id
        _b64([-1.0, 1, 2]),  # ranks are never negative
        _b64([1e39, 1, 2]),  # beyond float4
        _b64([0.5, 0, 2]),
        _b64([0.5, 2**63, 2]),  # beyond bigint
        _b64([0.5, 1, -2]),
        base64.urlsafe_b64encode(b"[0.5, 1, NaN]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        base64.urlsafe_b64encode(b"[" * 5000).decode()[:200],
    ],
)
def test_anything_but_a_cursor_we_gave_out_is_invalid(text):
    with pytest.raises(SearchInvalid):
        Cursor.decode(text)


def test_a_stream_entry_becomes_rows_and_a_deleted_message_empty_text():
    author = {"id": 7, "display_name": "Ada " + "x" * 80}
    entry = search_entry(
        42,
        [
            {"seq": 1, "rev": 3, "author": author, "ts": 1_700_000_000_000, "text": "hello"},
            {"seq": 2, "rev": 4, "author": author, "ts": 1_700_000_000_001, "text": "gone", "deleted": True},
        ],
    )
    raw = {k.encode(): v.encode() for k, v in entry.items()}  # as Redis answers
    rows = parse_entry(raw)
    assert rows == parse_entry(entry)
    assert [(r.room_id, r.seq, r.rev, r.author_id, r.ts, r.text) for r in rows] == [
        (42, 1, 3, 7, 1_700_000_000_000, "hello"),
        (42, 2, 4, 7, 1_700_000_000_001, ""),
    ]
    assert len(rows[0].author_name) == 50, "cut to the column's size"


@pytest.mark.parametrize(
    "fields",
    [{}, {"room_id": "x", "messages": "[]"}, {"room_id": "1", "messages": "not json"}, {"room_id": "1"}],
)
def test_a_malformed_entry_is_refused(fields):
    with pytest.raises((ValueError, KeyError, TypeError)):
        parse_entry(fields)


def test_one_read_keeps_the_newest_rev_of_each_message():
    def row(seq, rev, text):
        return IndexRow(1, seq, rev, 7, "Ada", 0, text)

    kept = newest([row(1, 5, "edited"), row(1, 2, "first"), row(2, 3, "other"), row(1, 9, "")])
    assert sorted((r.seq, r.rev, r.text) for r in kept) == [(1, 9, ""), (2, 3, "other")]


def test_a_highlight_escapes_everything_but_its_marks():
    # ts_headline's output: the private-use markers around a match (the stored text had them removed).
    # ts_headline's output: the private-use markers around a match, < and > as their stand-ins.
    out = highlight('\ue002img src=x onerror="alert(1)"\ue003 & \ue000telescope\ue001 <mark>')
    assert out == ("&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; <mark>telescope</mark> &lt;mark&gt;")


def test_query_limits():
    assert check_query("  telescope  ", 20) == "telescope"
    for q, limit in (("", 20), ("   ", 20), ("x" * 201, 20), ("a\x00b", 20), ("ok", 0), ("ok", 51)):
        with pytest.raises(SearchInvalid):
            check_query(q, limit)
