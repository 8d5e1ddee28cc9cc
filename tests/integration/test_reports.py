"""Reports (issue 20): a member reports a message it can read; the report keeps a snapshot a later edit or
delete cannot erase; the club's moderators are notified and see the queue (nobody else does); a resolution
applies the action through the same moderation actions as by hand and is audited; once only."""

from __future__ import annotations

import uuid

from support.chat import ChatClient, make_club_room
from support.members import Api, client_session, make_member
from support.wait import wait_for

from storage.models import Club, DmMember, Membership, Report, Room, RoomKind, Visibility


async def _async(value):
    return value


async def world(gateway, smtp, private: bool = False):
    """Club with owner O, moderator M, members U (reports) and V (writes); Z owns another club."""
    names = ("Owner", "Mod", "Ursula", "Victor", "Zed")
    o, m, u, v, z = [await make_member(gateway.url, smtp, n) for n in names]
    room = await make_club_room(o.user_id, [m.user_id, u.user_id, v.user_id], moderators=[m.user_id])
    if private:
        await Club.filter(id=room.club_id).update(visibility=Visibility.private)
    await make_club_room(z.user_id)
    return o, m, u, v, z, room


async def send(client: ChatClient, room_id: int, text: str) -> int:
    ack = await client.send(room_id, text)
    assert ack["ok"], ack
    return ack["seq"]


async def test_a_report_keeps_its_snapshot_and_reaches_the_moderators(gateway, smtp):
    o, m, u, v, z, room = await world(gateway, smtp)
    mod_socket = await ChatClient(gateway.url, m.token).connect()
    owner_socket = await ChatClient(gateway.url, o.token).connect()
    writer = await ChatClient(gateway.url, v.token).connect()
    reader = await ChatClient(gateway.url, u.token).connect()
    try:
        await writer.join(room.id)
        await reader.join(room.id)
        seq = await send(writer, room.id, "something nasty")
        own = await send(reader, room.id, "my own words")
        async with client_session(gateway.url) as http:
            ua = Api(http, u)
            _, made = await ua.call(
                "POST", "/reports", {"room_id": room.id, "seq": seq, "reason": "  insulting  "}, expect=201
            )
            report_id = made["report_id"]
            # Reported again by the same person: the same report.
            _, again = await ua.call(
                "POST", "/reports", {"room_id": room.id, "seq": seq, "reason": "again"}, expect=200
            )
            assert again == {"report_id": report_id}
            assert await Report.filter(room_id=room.id, seq=seq).count() == 1

            # The moderators (owner included) are told, live and in the inbox; the reporter is not.
            async def told():
                return [n for n in mod_socket.notifications if n["kind"] == "report"] and [
                    n for n in owner_socket.notifications if n["kind"] == "report"
                ]

            await wait_for(told)
            note = next(n for n in mod_socket.notifications if n["kind"] == "report")
            assert note["room_id"] == room.id and note["seq"] == seq
            assert (
                note["actor"] == {"id": u.user_id, "display_name": "Ursula"} and "insulting" in note["text"]
            )
            _, inbox = await Api(http, m).call("GET", "/notifications", expect=200)
            assert [i["id"] for i in inbox["items"] if i["kind"] == "report"] == [note["id"]]
            assert not [n for n in reader.notifications if n["kind"] == "report"]

            # The evidence survives an edit and a delete by the author.
            assert (
                await writer.call("message:edit", {"room_id": room.id, "seq": seq, "text": "nothing to see"})
            )["ok"]
            assert (await writer.call("message:delete", {"room_id": room.id, "seq": seq}))["ok"]
            _, queue = await Api(http, m).call("GET", f"/clubs/{room.club_id}/reports", expect=200)
            item = next(i for i in queue["items"] if i["id"] == report_id)
            assert item["snapshot"]["text"] == "something nasty"
            assert item["snapshot"]["author"] == {"id": v.user_id, "display_name": "Victor"}
            assert isinstance(item["snapshot"]["ts"], int) and "edited_at" not in item["snapshot"]
            assert item["reason"] == "insulting" and item["status"] == "open"
            assert item["reporter"] == {"id": u.user_id, "display_name": "Ursula"}
            assert (item["room_id"], item["seq"]) == (room.id, seq) and item["created_at"]

            # An edited message's snapshot says so.
            seq2 = await send(writer, room.id, "first version")
            assert (
                await writer.call("message:edit", {"room_id": room.id, "seq": seq2, "text": "second version"})
            )["ok"]
            _, made2 = await ua.call(
                "POST", "/reports", {"room_id": room.id, "seq": seq2, "reason": "edited"}, expect=201
            )
            snap = (await Report.get(id=made2["report_id"])).snapshot
            assert snap["text"] == "second version" and isinstance(snap["edited_at"], int)

            # Refusals.
            for body, status, code in (
                ({"room_id": room.id, "seq": seq, "reason": "   "}, 422, "invalid"),
                ({"room_id": room.id, "seq": seq2, "reason": "x" * 501}, 422, "invalid"),
                ({"room_id": room.id, "seq": seq2}, 422, "invalid"),
                ({"room_id": room.id, "seq": 0, "reason": "r"}, 422, "invalid"),
                ({"room_id": room.id, "seq": 10**6, "reason": "r"}, 404, "not_found"),
                ({"room_id": 10**15, "seq": 1, "reason": "r"}, 404, "not_found"),
                ({"room_id": room.id, "seq": own, "reason": "r"}, 422, "invalid"),
            ):
                got, err = await ua.call("POST", "/reports", body)
                assert (got, err["error"]["code"]) == (status, code), (body, err)
            # A deleted message has nothing left to report (for someone who had not reported it yet).
            got, err = await Api(http, o).call(
                "POST", "/reports", {"room_id": room.id, "seq": seq, "reason": "r"}
            )
            assert (got, err["error"]["code"]) == (404, "not_found")
            # Someone who cannot read the room (not a member of this public club) may not report.
            got, err = await Api(http, z).call(
                "POST", "/reports", {"room_id": room.id, "seq": seq2, "reason": "r"}
            )
            assert (got, err["error"]["code"]) == (403, "forbidden"), err
    finally:
        for c in (mod_socket, owner_socket, writer, reader):
            await c.close()


async def test_a_direct_message_cannot_be_reported(gateway, smtp):
    a, b = await make_member(gateway.url, smtp, "Dm A"), await make_member(gateway.url, smtp, "Dm B")
    room = await Room.create(
        kind=RoomKind.dm, name="dm", dm_key=f"{a.user_id}-{b.user_id}-{uuid.uuid4().hex[:6]}"
    )
    for uid in (a.user_id, b.user_id):
        await DmMember.create(room_id=room.id, user_id=uid)
    async with client_session(gateway.url) as http:
        status, err = await Api(http, a).call(
            "POST", "/reports", {"room_id": room.id, "seq": 1, "reason": "r"}
        )
        assert status == 422 and err["error"]["code"] == "invalid"
        assert "block the person instead" in err["error"]["message"]
        outsider = await make_member(gateway.url, smtp, "Dm outsider")
        status, err = await Api(http, outsider).call(
            "POST", "/reports", {"room_id": room.id, "seq": 1, "reason": "r"}
        )
        assert status == 404, "a DM is not even visible to others"


async def test_the_queue_is_for_the_clubs_moderators_only(gateway, smtp):
    o, m, u, v, z, room = await world(gateway, smtp, private=True)
    writer = await ChatClient(gateway.url, v.token).connect()
    try:
        await writer.join(room.id)
        seqs = [await send(writer, room.id, f"message {i}") for i in range(3)]
        async with client_session(gateway.url) as http:
            ids = []
            for seq in seqs:
                _, made = await Api(http, u).call(
                    "POST", "/reports", {"room_id": room.id, "seq": seq, "reason": f"r{seq}"}, expect=201
                )
                ids.append(made["report_id"])
            path = f"/clubs/{room.club_id}/reports"
            for who in (m, o):
                _, queue = await Api(http, who).call("GET", path, params={"status": "open"}, expect=200)
                assert [i["id"] for i in queue["items"]] == ids[::-1], "newest first"
            # Paged.
            _, page1 = await Api(http, m).call("GET", path, params={"limit": "2"}, expect=200)
            assert [i["id"] for i in page1["items"]] == ids[:0:-1] and page1["next_cursor"]
            _, page2 = await Api(http, m).call(
                "GET", path, params={"limit": "2", "cursor": page1["next_cursor"]}, expect=200
            )
            assert [i["id"] for i in page2["items"]] == ids[:1] and page2["next_cursor"] is None
            # By status.
            await Api(http, m).call("POST", f"/reports/{ids[0]}/resolve", {"action": "dismiss"}, expect=200)
            _, dismissed = await Api(http, m).call("GET", path, params={"status": "dismissed"}, expect=200)
            assert [i["id"] for i in dismissed["items"]] == ids[:1]
            assert (
                dismissed["items"][0]["action"] == "dismiss"
                and dismissed["items"][0]["resolved_by"] == m.user_id
            )
            _, still_open = await Api(http, m).call("GET", path, params={"status": "open"}, expect=200)
            assert [i["id"] for i in still_open["items"]] == ids[:0:-1]
            _, resolved = await Api(http, m).call("GET", path, params={"status": "resolved"}, expect=200)
            assert resolved["items"] == []
            for params in ({"status": "closed"}, {"limit": "0"}, {"limit": "101"}, {"cursor": "-1"}):
                status, err = await Api(http, m).call("GET", path, params=params)
                assert (status, err["error"]["code"]) == (422, "invalid"), params

            # A member: forbidden; an outsider of this private club, another club's moderator: not_found.
            status, err = await Api(http, u).call("GET", path)
            assert (status, err["error"]["code"]) == (403, "forbidden")
            status, err = await Api(http, z).call("GET", path)
            assert (status, err["error"]["code"]) == (404, "not_found")
            status, _ = await Api(http, z).call("POST", f"/reports/{ids[1]}/resolve", {"action": "dismiss"})
            assert status == 404
            status, _ = await Api(http, u).call("POST", f"/reports/{ids[1]}/resolve", {"action": "dismiss"})
            assert status == 403
            status, _ = await Api(http, m).call("POST", f"/reports/{10**15}/resolve", {"action": "dismiss"})
            assert status == 404
            # Resolved once: again is a conflict.
            status, err = await Api(http, o).call("POST", f"/reports/{ids[0]}/resolve", {"action": "ban"})
            assert (status, err["error"]["code"]) == (409, "conflict")
    finally:
        await writer.close()


async def test_resolutions_apply_the_moderation_actions_and_are_audited(gateway, smtp):
    o, m, u, v, z, room = await world(gateway, smtp)
    writer = await ChatClient(gateway.url, v.token).connect()
    mods = await ChatClient(gateway.url, m.token).connect()
    try:
        await writer.join(room.id)
        await mods.join(room.id)
        to_delete, to_time_out, to_ban = [await send(writer, room.id, f"bad {i}") for i in range(3)]
        by_mod = await send(mods, room.id, "a moderator's words")
        async with client_session(gateway.url) as http:
            ua, ma = Api(http, u), Api(http, m)

            async def report(seq: int) -> int:
                _, made = await ua.call(
                    "POST", "/reports", {"room_id": room.id, "seq": seq, "reason": f"bad {seq}"}, expect=201
                )
                return made["report_id"]

            r_delete, r_timeout, r_ban, r_mod = [
                await report(s) for s in (to_delete, to_time_out, to_ban, by_mod)
            ]

            # Bad input, nothing applied, the report stays open.
            for body in (
                {"action": "timeout"},
                {"action": "timeout", "minutes": 0},
                {"action": "timeout", "minutes": 40321},
                {"action": "mute"},
                {},
            ):
                status, err = await ma.call("POST", f"/reports/{r_timeout}/resolve", body)
                assert (status, err["error"]["code"]) == (422, "invalid"), body
            # A moderator cannot time out a moderator, by hand or through a report: refused, still open.
            status, err = await ma.call(
                "POST", f"/reports/{r_mod}/resolve", {"action": "timeout", "minutes": 5}
            )
            assert (status, err["error"]["code"]) == (403, "forbidden"), err
            assert (await Report.get(id=r_mod)).status == "open"

            # delete: the message is deleted as by the moderator.
            _, done = await ma.call("POST", f"/reports/{r_delete}/resolve", {"action": "delete"}, expect=200)
            assert (
                done["status"] == "resolved"
                and done["action"] == "delete"
                and done["resolved_by"] == m.user_id
            )
            assert done["resolved_at"] and done["snapshot"]["text"] == "bad 0"
            _, page = await ma.call("GET", f"/rooms/{room.id}/messages", expect=200)
            assert next(x for x in page["messages"] if x["seq"] == to_delete).get("deleted") is True

            # timeout: the author cannot send.
            _, done = await ma.call(
                "POST", f"/reports/{r_timeout}/resolve", {"action": "timeout", "minutes": 30}, expect=200
            )
            assert done["action"] == "timeout"
            muted = await writer.send(room.id, "still here?")
            assert muted["error"]["code"] == "forbidden" and "timed out" in muted["error"]["message"]

            # ban: the author is out of the club.
            await ma.call("POST", f"/reports/{r_ban}/resolve", {"action": "ban"}, expect=200)
            assert not await Membership.exists(club_id=room.club_id, user_id=v.user_id)

            # Resolved twice: conflict, nothing applied again.
            status, err = await ma.call("POST", f"/reports/{r_delete}/resolve", {"action": "dismiss"})
            assert (status, err["error"]["code"]) == (409, "conflict")

            _, audit = await Api(http, o).call("GET", f"/clubs/{room.club_id}/audit", expect=200)
            entries = [(e["action"], e["actor_id"], e["target_user_id"]) for e in audit["entries"]]
            vid, mid = v.user_id, m.user_id
            for manual in (("delete_message", mid, vid), ("timeout", mid, vid), ("ban", mid, vid)):
                assert manual in entries, (manual, entries)
            resolved = [
                e for e in audit["entries"] if e["action"] == "resolve_report" and e["actor_id"] == mid
            ]
            by_report = {e["details"]["report_id"]: e for e in resolved}
            assert {r_delete, r_timeout, r_ban} <= set(by_report)
            assert by_report[r_timeout]["details"]["minutes"] == 30
            assert by_report[r_delete]["details"] == {
                "report_id": r_delete,
                "action": "delete",
                "room_id": room.id,
                "seq": to_delete,
            }
            assert by_report[r_ban]["target_user_id"] == vid
            deleted = next(e for e in audit["entries"] if e["action"] == "delete_message")
            assert deleted["details"] == {"room_id": room.id, "seq": to_delete}
    finally:
        await writer.close()
        await mods.close()
