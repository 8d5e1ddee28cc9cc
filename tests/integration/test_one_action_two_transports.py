"""One action, two transports: ``Chat.history`` answers both ``GET /rooms/{id}/messages`` and the Socket.IO
event ``message:history``. What it answers, and every refusal it raises (one ``DomainError``), reaches both
transports alike: the same messages, the same error code (REST as the status and error body, Socket.IO as
the ``{ok: false, error}`` ack)."""

from __future__ import annotations

from support.chat import ChatClient, make_club_room
from support.members import Api, make_member

from storage.models import Club, Visibility


async def _both(gateway, http, member, room_id: int) -> tuple[int, dict, dict]:
    """The REST status and body, and the Socket.IO ack, of the same history request."""
    status, body = await Api(http, member).call("GET", f"/rooms/{room_id}/messages", params={"limit": "50"})
    client = await ChatClient(gateway.url, member.token).connect()
    try:
        ack = await client.call("message:history", {"room_id": room_id, "limit": 50})
    finally:
        await client.close()
    return status, body, ack


async def test_history_answers_and_refuses_alike_over_rest_and_socket(gateway, smtp, http):
    owner = await make_member(gateway.url, smtp, "Owner")
    outsider = await make_member(gateway.url, smtp, "Outsider")
    public = await make_club_room(owner.user_id)
    hidden = await make_club_room(owner.user_id)
    await Club.filter(id=hidden.club_id).update(visibility=Visibility.private)

    sender = await ChatClient(gateway.url, owner.token).connect()
    try:
        await sender.join(public.id)
        sent = await sender.send(public.id, "hello from the socket")
        assert sent["ok"], sent
    finally:
        await sender.close()

    # Success: the same page of messages either way.
    status, body, ack = await _both(gateway, http, owner, public.id)
    assert status == 200 and ack["ok"], (status, body, ack)
    assert [m["seq"] for m in body["messages"]] == [m["seq"] for m in ack["messages"]] == [sent["seq"]]

    cases = [
        (outsider, public.id, 403, "forbidden"),  # a public club's room, not a member
        (outsider, hidden.id, 404, "not_found"),  # a private club's room is not there for an outsider
        (owner, 10**15, 404, "not_found"),  # no such room
    ]
    for who, room_id, expected_status, code in cases:
        status, body, ack = await _both(gateway, http, who, room_id)
        assert status == expected_status and body["error"]["code"] == code, (room_id, status, body)
        assert ack == {"ok": False, "error": body["error"]}, (room_id, ack, body)
