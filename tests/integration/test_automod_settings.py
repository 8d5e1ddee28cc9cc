"""Auto-moderation settings (issue 20): moderators read and set a club's rules; terms are literals, stripped,
case-folded and de-duplicated; every bound refused with a clear message; a change is audited. (Enforcement
is the room rules' business.)"""

from __future__ import annotations

from support.chat import make_club_room
from support.members import Api, client_session, make_member

from storage.models import Club, ClubAutomod, Visibility

EMPTY = {"blocked_terms": [], "link_min_member_age_s": None, "max_mentions": None}


async def test_moderators_set_and_read_the_rules(gateway, smtp):
    o, m, u, z = [await make_member(gateway.url, smtp, n) for n in ("Owner", "Mod", "Mem", "Zed")]
    room = await make_club_room(o.user_id, [m.user_id, u.user_id], moderators=[m.user_id])
    path = f"/clubs/{room.club_id}/automod"
    async with client_session(gateway.url) as http:
        ma = Api(http, m)
        assert (await ma.call("GET", path, expect=200))[1] == EMPTY, "no rules until someone sets them"
        body = {
            "blocked_terms": ["  Spam ", "spam", "SPAM", "free (money)", "a.*b", "Straße"],
            "link_min_member_age_s": 3600,
            "max_mentions": 5,
        }
        _, saved = await ma.call("PUT", path, body, expect=200)
        # Folded, de-duplicated in first-seen order, kept literally (no pattern is compiled or escaped).
        assert saved == {
            "blocked_terms": ["spam", "free (money)", "a.*b", "strasse"],
            "link_min_member_age_s": 3600,
            "max_mentions": 5,
        }
        assert (await Api(http, o).call("GET", path, expect=200))[1] == saved
        assert (await ClubAutomod.get(club_id=room.club_id)).blocked_terms == saved["blocked_terms"]

        # Optional fields left out are cleared (PUT replaces the whole set of rules).
        _, saved = await ma.call("PUT", path, {"blocked_terms": []}, expect=200)
        assert saved == EMPTY
        _, saved = await ma.call(
            "PUT",
            path,
            {"blocked_terms": ["x" * 64] * 2 + [f"t{i}" for i in range(199)], "link_min_member_age_s": 0},
            expect=200,
        )
        assert len(saved["blocked_terms"]) == 200 and saved["link_min_member_age_s"] == 0

        # Bounds.
        for bad in (
            {"blocked_terms": [f"t{i}" for i in range(201)]},
            {"blocked_terms": ["x" * 65]},
            {"blocked_terms": ["   "]},
            {"blocked_terms": [""]},
            {"blocked_terms": ["two\nlines"]},
            {"blocked_terms": ["bell\x07"]},
            {"blocked_terms": [3]},
            {"blocked_terms": "spam"},
            {},
            {"blocked_terms": [], "link_min_member_age_s": -1},
            {"blocked_terms": [], "link_min_member_age_s": 30 * 86400 + 1},
            {"blocked_terms": [], "max_mentions": 0},
            {"blocked_terms": [], "max_mentions": 51},
            {"blocked_terms": [], "regex": True},
        ):
            status, err = await ma.call("PUT", path, bad)
            assert (status, err["error"]["code"]) == (422, "invalid"), (bad, err)
            assert err["error"]["message"]
        _, err = await ma.call("PUT", path, {"blocked_terms": [f"t{i}" for i in range(201)]})
        assert "200" in err["error"]["message"]
        assert len((await ma.call("GET", path, expect=200))[1]["blocked_terms"]) == 200, (
            "a refusal changes nothing"
        )

        # Members: forbidden; outsiders of a public club: forbidden (not a member); of a private one: not_found.
        for method, payload in (("GET", None), ("PUT", {"blocked_terms": []})):
            status, err = await Api(http, u).call(method, path, payload)
            assert (status, err["error"]["code"]) == (403, "forbidden")
            status, _ = await Api(http, z).call(method, path, payload)
            assert status == 403
        await Club.filter(id=room.club_id).update(visibility=Visibility.private)
        for method, payload in (("GET", None), ("PUT", {"blocked_terms": []})):
            status, err = await Api(http, z).call(method, path, payload)
            assert (status, err["error"]["code"]) == (404, "not_found")
        status, _ = await ma.call("GET", "/clubs/999999999999/automod")
        assert status == 404

        # Audited.
        _, audit = await Api(http, o).call("GET", f"/clubs/{room.club_id}/audit", expect=200)
        changes = [e for e in audit["entries"] if e["action"] == "set_automod"]
        assert len(changes) == 3 and all(e["actor_id"] == m.user_id for e in changes)
        assert changes[0]["details"] == {
            "blocked_terms": 200,
            "link_min_member_age_s": 0,
            "max_mentions": None,
        }


async def test_rules_set_over_rest_apply_to_active_rooms_at_once(gateway, smtp):
    """End to end: the PUT reaches the rooms already active (``automod_changed``), a refused send names the
    rule, stores nothing and is audited; clearing the rules lets the same text through."""
    from support.chat import ChatClient

    o, ann = await make_member(gateway.url, smtp, "Owner"), await make_member(gateway.url, smtp, "Ann Rules")
    room = await make_club_room(o.user_id, [ann.user_id])
    path = f"/clubs/{room.club_id}/automod"
    client = await ChatClient(gateway.url, ann.token).connect()
    try:
        await client.join(room.id)
        assert (await client.send(room.id, "hello there"))["seq"] == 1  # the room is active on its shard
        async with client_session(gateway.url) as http:
            oa = Api(http, o)
            await oa.call("PUT", path, {"blocked_terms": ["Forbidden Word"], "max_mentions": 1}, expect=200)
            for text, rule in (
                ("a forbidden word here", "blocked_terms"),
                ("@Owner @Ann Rules hi", "max_mentions"),
            ):
                ack = await client.send(room.id, text)
                assert ack["ok"] is False and ack["error"]["code"] == "forbidden", ack
                assert rule in ack["error"]["message"]
            await oa.call("PUT", path, {"blocked_terms": [], "link_min_member_age_s": 3600}, expect=200)
            ack = await client.send(room.id, "see https://example.org")
            assert ack["ok"] is False and "link_min_member_age" in ack["error"]["message"], ack
            await oa.call("PUT", path, {"blocked_terms": []}, expect=200)
            ack = await client.send(room.id, "a forbidden word here, https://example.org")
            assert ack["ok"] and ack["seq"] == 2, "refusals stored nothing and took no seq"
            _, audit = await oa.call("GET", f"/clubs/{room.club_id}/audit", expect=200)
            refused = [e for e in audit["entries"] if e["action"] == "automod_refused"]
            assert len(refused) == 3 and all(e["target_user_id"] == ann.user_id for e in refused)
    finally:
        await client.close()
