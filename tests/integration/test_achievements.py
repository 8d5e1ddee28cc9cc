"""Achievements are awarded from the activity stream, once each, and announced on the user's sockets."""

from support.chat import ChatClient, make_club_room
from support.members import client_session, make_member
from support.wait import wait_for

from gateway.actions.achievements import RULES, earned


def test_rules():
    assert earned({}) == set()
    assert earned({"message_sent": 1}) == {"first_message"}
    assert earned({"message_sent": 100, "live_attended": 4}) == {"first_message", "hundred_messages"}
    assert "attended_5_live" in earned({"live_attended": 5})
    assert {r.code for r in RULES} >= {
        "first_message",
        "hundred_messages",
        "founded_club",
        "hosted_live",
        "attended_5_live",
    }


async def test_first_message_and_founding_are_awarded_once_and_announced(gateway, smtp):
    ada, bob = await make_member(gateway.url, smtp, "Ada"), await make_member(gateway.url, smtp, "Bob")
    room = await make_club_room(bob.user_id, [ada.user_id])
    a = await ChatClient(gateway.url, ada.token).connect()
    announced = []
    a.sio.on("achievement", lambda data: announced.append(data))
    try:
        await a.join(room.id)
        for i in range(3):
            assert (await a.send(room.id, f"hi {i}"))["ok"]

        async def got_first():
            return [x for x in announced if x["code"] == "first_message"]

        first = await wait_for(got_first)
        assert first[0]["title"] == "First words"
        async with client_session(gateway.url) as http:
            auth = {"Authorization": f"Bearer {ada.token}"}
            resp = await http.post("/api/v1/clubs", json={"name": "Ada's club"}, headers=auth)
            assert resp.status == 201

            async def founded():
                return any(x["code"] == "founded_club" for x in announced)

            # The barrier: the worker reads its stream in order and announces one entry after the other,
            # so once the founding (recorded after the three messages) is announced, a second
            # "first_message" would have been announced before it.
            await wait_for(founded)
            resp = await http.get(
                f"/api/v1/users/{ada.user_id}/achievements", headers={"Authorization": f"Bearer {bob.token}"}
            )
            codes = [x["code"] for x in (await resp.json())["achievements"]]
            assert sorted(codes) == ["first_message", "founded_club"]  # once each, however many messages
            assert [x["code"] for x in announced].count("first_message") == 1
            # Each is in the inbox too, once, and reached the socket as a notification.
            inbox = await (await http.get("/api/v1/notifications", headers=auth)).json()
            kinds = [(n["kind"], n["text"]) for n in inbox["items"]]
            assert kinds.count(("achievement", "Achievement: First words")) == 1
            assert ("achievement", "Achievement: Founder") in kinds
            assert any(n["kind"] == "achievement" for n in a.notifications)
            resp = await http.get("/api/v1/users/999999999/achievements", headers=auth)
            assert resp.status == 404
    finally:
        await a.close()
