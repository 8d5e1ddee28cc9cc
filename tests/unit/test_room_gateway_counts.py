"""Per-gateway channels, the parts without services: which gateways a room's batches go to (the room's
own bookkeeping, kept with every socket change) and the messages a shard publishes to each of them."""

import json

import pytest

from actors.domain.errors import DomainError
from actors.domain.room import Member, Room
from actors.fanout import ROOMS_EVENT, per_gateway, pubsub_message, rooms_message
from storage import keys


def room() -> Room:
    r = Room(room_id=1, club_id=10)
    r.members = {1: Member(1, "Ada", "owner"), 2: Member(2, "Bob"), 3: Member(3, "Cyd")}
    return r


def counts_match_sockets(r: Room) -> bool:
    """The per-gateway counts are exactly what a scan of the sockets would give."""
    scanned: dict[str, int] = {}
    for key in r.socket_keys():
        gw = key.split("/", 1)[0]
        scanned[gw] = scanned.get(gw, 0) + 1
    return scanned == r.gateways


def test_gateways_follow_joins_and_leaves():
    r = room()
    assert set(r.gateway_ids()) == set()
    r.join(1, "gw1/a")
    r.join(2, "gw1/b")
    r.join(2, "gw2/c")  # Bob's second tab, on another gateway
    assert set(r.gateway_ids()) == {"gw1", "gw2"} and r.gateways == {"gw1": 2, "gw2": 1}
    r.join(2, "gw2/c")  # the same socket again (a retried join) counts once
    assert r.gateways == {"gw1": 2, "gw2": 1}
    r.leave(2, "gw2/c")
    assert set(r.gateway_ids()) == {"gw1"}
    r.leave(2, "gw2/c")  # a second leave of the same socket changes nothing
    r.leave(3, "gw9/x")  # nor does one of a socket never seen
    assert r.gateways == {"gw1": 2}
    r.leave(1, "gw1/a")
    r.leave(2, "gw1/b")
    assert set(r.gateway_ids()) == set() and r.online == {}


def test_a_refused_join_adds_no_gateway():
    r = room()
    with pytest.raises(DomainError):
        r.join(99, "gw1/z")
    assert r.gateways == {}


def test_a_dead_gateway_leaves_the_set():
    r = room()
    r.join(1, "gw1/a")
    r.join(2, "gw2/b")
    r.join(2, "gw3/c")
    r.join(3, "gw2/d")
    assert sorted(r.drop_gateway("gw2")) == [3]  # Bob is still online through gw3
    assert set(r.gateway_ids()) == {"gw1", "gw3"} and counts_match_sockets(r)
    assert r.drop_gateway("gw2") == []  # already gone
    assert r.drop_gateway("gw-never-here") == []
    assert counts_match_sockets(r)


def test_a_removed_member_takes_its_sockets_and_gateways_along():
    r = room()
    r.join(1, "gw1/a")
    r.join(2, "gw1/b")
    r.join(2, "gw2/c")
    assert r.set_member(Member(2, "Bob", "moderator"), 2) == []  # a role change keeps the sockets
    assert r.set_member(None, 2) == ["gw1/b", "gw2/c"]
    assert r.gateways == {"gw1": 1} and r.online_users() == [1] and counts_match_sockets(r)


def test_restore_takes_back_members_sockets_and_names_the_stale_ones():
    r = room()
    stale = r.restore({"gw1/a": 1, "gw2/b": 2, "gw2/x": 99})  # 99 left the club meanwhile
    assert stale == ["gw2/x"]
    assert r.online_users() == [1, 2] and r.gateways == {"gw1": 1, "gw2": 1}
    r.join(2, "gw2/b")  # the socket rejoins after the restore: still one socket
    assert r.gateways == {"gw1": 1, "gw2": 1}
    assert r.restore({"gw1/a": 1}) == [] and r.gateways == {"gw1": 1, "gw2": 1}  # taken back twice: once
    r.leave(1, "gw1/a")
    assert set(r.gateway_ids()) == {"gw2"} and counts_match_sockets(r)


def test_each_gateway_gets_only_its_rooms_in_order():
    audience = {1: {"gw1", "gw2"}, 2: {"gw2"}, 3: set()}
    targets = per_gateway([1, 2, 1, 3], lambda room_id: audience[room_id])
    # Room 1 appears twice (an earlier batch Redis refused, then a new one): both go, in that order.
    assert targets == {"gw1": [0, 2], "gw2": [0, 1, 2]}
    assert per_gateway([3], lambda room_id: audience[room_id]) == {}


def test_the_per_gateway_message_is_python_socketios_emit_of_the_batches():
    batches = [
        {"room_id": 1, "messages": [{"seq": 4, "text": 'é "quoted" ]]'}]},
        {"room_id": 2, "messages": [{"seq": 1, "text": "x"}, {"seq": 2, "text": "y"}]},
    ]
    encoded = [json.dumps(b, separators=(",", ":")) for b in batches]
    built = rooms_message(encoded, "room-shard-3")
    assert json.loads(built) == json.loads(pubsub_message(ROOMS_EVENT, batches, None, host_id="room-shard-3"))
    assert json.loads(rooms_message(encoded[1:], "s"))["data"] == [batches[1:]]
    assert json.loads(rooms_message([], "s"))["data"] == [[]]


def test_gateway_channel_name():
    assert keys.gateway_channel("clubhub", "ab12") == "clubhub:gateway:ab12"
    assert keys.room_sockets(7) == "clubhub:room_sockets:7"
