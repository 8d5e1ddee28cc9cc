"""Auto-moderation enforcement (issue 20, point 5): a club's rules refuse a send or an edit before anything
is stored, with ``forbidden`` naming the rule, and each refusal is audited; moderators are exempt. The
settings' REST side is tested in test_automod_settings.py."""

from __future__ import annotations

from support.chat import ChatClient, make_club_room
from support.members import Api, client_session, make_member

from storage.models import ClubAutomod


def actors_of(gateway):
    from gateway.http.keys import ACTORS

    return gateway.app[ACTORS]


async def test_rules_refuse_before_storage_and_are_audited(gateway, smtp):
    owner, ann = (
        await make_member(gateway.url, smtp, "Owner"),
        await make_member(gateway.url, smtp, "Ann Lee"),
    )
    room = await make_club_room(owner.user_id, [ann.user_id])
    co, ca = (
        await ChatClient(gateway.url, owner.token).connect(),
        await ChatClient(gateway.url, ann.token).connect(),
    )
    try:
        await ca.join(room.id)
        assert (await ca.send(room.id, "before the rules: spam"))["ok"]
        await ClubAutomod.create(
            club_id=room.club_id,
            blocked_terms=["spam", "buy now"],
            link_min_member_age_s=3600,
            max_mentions=1,
        )
        await actors_of(gateway).automod_changed(room.club_id)

        cases = [
            ("this is SPAM", "blocked_terms"),
            ("Buy now!", "blocked_terms"),
            ("look at https://example.org", "link_min_member_age"),
            ("@Owner @Ann Lee hi", "max_mentions"),
        ]
        for text, rule in cases:
            ack = await ca.send(room.id, text)
            assert ack["ok"] is False and ack["error"]["code"] == "forbidden", ack
            assert rule in ack["error"]["message"], ack
        fine = await ca.send(room.id, "a spammer is not spam-free... no wait")
        assert fine["ok"] is False, "'spam' as a word is still there"
        fine = await ca.send(room.id, "antispam measures work")
        assert fine["ok"] and fine["seq"] == 2, "refusals stored nothing and took no seq"
        # An edit is held to the same rules.
        edit = await ca.call("message:edit", {"room_id": room.id, "seq": 2, "text": "spam after all"})
        assert edit["ok"] is False and "blocked_terms" in edit["error"]["message"]
        # The owner (a moderator) is exempt.
        await co.join(room.id)
        assert (await co.send(room.id, "mods may say spam at https://example.org"))["ok"]

        async with client_session(gateway.url) as http:
            _, audit = await Api(http, owner).call("GET", f"/clubs/{room.club_id}/audit", expect=200)
        refused = [e for e in audit["entries"] if e["action"] == "automod_refused"]
        assert len(refused) == 6
        assert all(e["actor_id"] is None and e["target_user_id"] == ann.user_id for e in refused)
        assert {e["reason"] for e in refused} == {"blocked_terms", "link_min_member_age", "max_mentions"}
        assert any(e["details"]["text"] == "this is SPAM" for e in refused)

        # Rules removed: the next send goes through.
        await ClubAutomod.filter(club_id=room.club_id).delete()
        await actors_of(gateway).automod_changed(room.club_id)
        assert (await ca.send(room.id, "spam is fine again"))["ok"]
    finally:
        await co.close()
        await ca.close()
