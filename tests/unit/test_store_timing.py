"""storage.timing's labels: what a store call is called in clubhub_store_operation_seconds, and the bound on
how many distinct operations a store can have there."""

from __future__ import annotations

from storage.timing import MAX_OPERATIONS, OTHER, StoreTimings, redis_operation, sql_operation


def test_sql_statements_are_labelled_by_their_first_keyword():
    assert sql_operation('SELECT "id" FROM "user" WHERE "id"=$1') == "select"
    assert sql_operation("\n  insert into club (name) values ($1) RETURNING id") == "insert"
    assert sql_operation("BEGIN;") == "begin"
    assert sql_operation("(SELECT 1) UNION (SELECT 2)") == "select"
    assert sql_operation("WITH x AS (SELECT 1) SELECT * FROM x") == "with"
    # Anything else is one label, whatever the text (never the text itself).
    assert sql_operation("VACUUM ANALYZE users") == OTHER
    assert sql_operation("") == OTHER


def test_redis_commands_are_labelled_and_blocking_reads_left_out():
    assert redis_operation(("GET", "k")) == "get"
    assert redis_operation((b"EVALSHA", "abc", 1, "k")) == "evalsha"
    assert redis_operation(("XINFO GROUPS", "stream")) == "xinfo_groups"
    # XREADGROUP as redis-py builds it: with BLOCK it waits for entries (not timed), without it is a read.
    read = ("XREADGROUP", b"GROUP", "g", "c", b"COUNT", 10, b"STREAMS", "s", ">")
    assert redis_operation(read) == "xreadgroup"
    assert redis_operation((*read[:6], b"BLOCK", 1000, *read[6:])) is None
    assert redis_operation(("BLPOP", "k", 0)) is None


def test_a_store_has_at_most_max_operations_labels():
    seen: list[tuple[str, str, float]] = []
    timings = StoreTimings(lambda store, op, s: seen.append((store, op, s)))
    for i in range(MAX_OPERATIONS + 10):
        timings.observe("redis", f"op{i}", 0.001)
    timings.observe("mongo", "find", 0.002)  # another store has a budget of its own
    redis_ops = {op for store, op, _ in seen if store == "redis"}
    assert len(redis_ops) == MAX_OPERATIONS + 1 and OTHER in redis_ops
    assert [op for _, op, _ in seen[MAX_OPERATIONS : MAX_OPERATIONS + 10]] == [OTHER] * 10
    # An operation already seen keeps its own label after the budget is spent.
    timings.observe("redis", "op0", 0.001)
    assert seen[-1] == ("redis", "op0", 0.001)
    assert seen[-2] == ("mongo", "find", 0.002)
