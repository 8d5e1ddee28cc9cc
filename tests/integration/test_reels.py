"""Reels over REST (issue 21, point 6): posting a ready video of one's own to a club, reading and deleting
it, who may do each; interactions with reels (play/watch/complete/skip with watch_ms); reels in the feed with
their payload, and gone from it once deleted."""

from __future__ import annotations

import uuid

from support.members import Api, client_session, make_member
from support.wait import wait_for

from storage.models import Club, Media, MediaKind, MediaStatus, Membership, Reel, Role, Room, Visibility


async def video(owner_id: int, *, kind=MediaKind.video, status=MediaStatus.ready, duration_ms=12_000) -> str:
    """A media row as the media worker leaves it (ready, processed shape); the REST routes under test read
    the row, never its objects."""
    media_id = uuid.uuid4()
    await Media.create(
        id=media_id,
        owner_id=owner_id,
        kind=kind,
        content_type="video/mp4" if kind == MediaKind.video else "image/png",
        size=1000,
        status=status,
        upload_key=f"uploads/{media_id.hex}",
        object_key=f"media/{media_id.hex}/video.mp4" if status == MediaStatus.ready else None,
        poster_key=f"media/{media_id.hex}/poster.jpg" if status == MediaStatus.ready else None,
        width=720,
        height=1280,
        duration_ms=duration_ms if kind == MediaKind.video else None,
        blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj",
    )
    return media_id.hex


async def club_with(owner, *members, visibility=Visibility.public, moderators=()) -> Club:
    club = await Club.create(
        name=f"Reels {uuid.uuid4().hex[:6]}", created_by_id=owner.user_id, visibility=visibility
    )
    await Membership.create(club=club, user_id=owner.user_id, role=Role.owner)
    for m in members:
        await Membership.create(club=club, user_id=m.user_id, role=Role.member)
    for m in moderators:
        await Membership.create(club=club, user_id=m.user_id, role=Role.moderator)
    return club


def code(body) -> str:
    return body["error"]["code"]


async def test_a_member_posts_a_ready_video_and_whoever_sees_the_club_reads_it(gateway, smtp):
    owner, poster, visitor = [await make_member(gateway.url, smtp, n) for n in ("Owner", "Poster", "Visitor")]
    club = await club_with(owner, poster)
    media_id = await video(poster.user_id)
    async with client_session(gateway.url) as http:
        api = Api(http, poster)
        _, out = await api.call(
            "POST", f"/clubs/{club.id}/reels", {"media_id": media_id, "caption": "  first reel  "}, expect=201
        )
        reel_id = out["reel_id"]
        for reader in (poster, visitor):  # a public club: anyone signed in
            _, reel = await Api(http, reader).call("GET", f"/reels/{reel_id}", expect=200)
            assert reel["id"] == reel_id and reel["club_id"] == club.id and reel["club_name"] == club.name
            assert reel["author"] == {"id": poster.user_id, "display_name": "Poster"}
            assert reel["caption"] == "first reel"  # trimmed
            assert reel["created_at"].endswith("Z")
            assert reel["media"] == {
                "id": media_id,
                "kind": "video",
                "url": f"/media/{media_id}/file",
                "thumbnail_url": None,
                "poster_url": f"/media/{media_id}/poster",
                "width": 720,
                "height": 1280,
                "duration_ms": 12_000,
                "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
            }
        # The same video again: already a reel.
        status, body = await api.call("POST", f"/clubs/{club.id}/reels", {"media_id": media_id})
        assert (status, code(body)) == (409, "conflict")
        assert await Reel.filter(media_id=uuid.UUID(hex=media_id)).count() == 1


async def test_posting_is_refused_as_the_contract_says(gateway, smtp):
    owner, poster, outsider = [
        await make_member(gateway.url, smtp, n) for n in ("Owner", "Poster", "Outsider")
    ]
    public = await club_with(owner, poster)
    private = await club_with(owner, poster, visibility=Visibility.private)
    async with client_session(gateway.url) as http:
        api, out_api = Api(http, poster), Api(http, outsider)
        outsiders_video = await video(outsider.user_id)
        cases = [
            # (who, club, media, caption, status, code)
            (out_api, public.id, outsiders_video, "", 403, "forbidden"),  # not a member of a public club
            (out_api, private.id, outsiders_video, "", 404, "not_found"),  # a private club it cannot see
            (out_api, 2**62, outsiders_video, "", 404, "not_found"),  # no such club
            (api, public.id, outsiders_video, "", 404, "not_found"),  # someone else's media
            (api, public.id, uuid.uuid4().hex, "", 404, "not_found"),  # no such media
            (api, public.id, await video(poster.user_id, kind=MediaKind.image), "", 422, "invalid"),
            (api, public.id, await video(poster.user_id, status=MediaStatus.processing), "", 422, "invalid"),
            (api, public.id, await video(poster.user_id, status=MediaStatus.failed), "", 422, "invalid"),
            (api, public.id, await video(poster.user_id), "x" * 501, 422, "invalid"),  # caption too long
            (api, public.id, "NOT-HEX", "", 422, "invalid"),
        ]
        for who, club_id, media_id, caption, status, want in cases:
            got, body = await who.call(
                "POST", f"/clubs/{club_id}/reels", {"media_id": media_id, "caption": caption}
            )
            assert (got, code(body)) == (status, want), (club_id, media_id, caption, got, body)
        # A video attached to a message is that message's.
        attached = await video(poster.user_id)
        room = await Room.create(club=public, name="general")
        await Media.filter(id=uuid.UUID(hex=attached)).update(room_id=room.id, client_id="c1")
        got, body = await api.call("POST", f"/clubs/{public.id}/reels", {"media_id": attached})
        assert (got, code(body)) == (409, "conflict")
        # A timed-out member is silent in the club, reels included.
        from datetime import UTC, datetime, timedelta

        await Membership.filter(club_id=public.id, user_id=poster.user_id).update(
            muted_until=datetime.now(UTC) + timedelta(minutes=5)
        )
        got, body = await api.call(
            "POST", f"/clubs/{public.id}/reels", {"media_id": await video(poster.user_id)}
        )
        assert (got, code(body)) == (403, "forbidden")
    assert not await Reel.filter(club_id__in=[public.id, private.id]).exists()  # nothing refused was stored


async def test_a_private_clubs_reel_is_not_found_for_outsiders_and_deletion_is_the_authors_or_a_moderators(
    gateway, smtp
):
    owner, author, member, moderator, outsider = [
        await make_member(gateway.url, smtp, n)
        for n in ("Owner", "Author", "Member", "Moderator", "Outsider")
    ]
    club = await club_with(owner, author, member, visibility=Visibility.private, moderators=(moderator,))
    async with client_session(gateway.url) as http:
        apis = {m.user_id: Api(http, m) for m in (owner, author, member, moderator, outsider)}

        def as_(m) -> Api:
            return apis[m.user_id]

        async def post() -> int:
            _, out = await as_(author).call(
                "POST", f"/clubs/{club.id}/reels", {"media_id": await video(author.user_id)}, expect=201
            )
            return out["reel_id"]

        first = await post()
        status, body = await as_(outsider).call("GET", f"/reels/{first}")
        assert (status, code(body)) == (404, "not_found")
        missing_status, missing = await as_(outsider).call("GET", f"/reels/{2**62}")
        assert (missing_status, missing) == (404, {"error": {**missing["error"], "code": "not_found"}})
        assert body["error"]["message"].replace(str(first), "N") == missing["error"]["message"].replace(
            str(2**62), "N"
        )  # the same answer as for a reel that does not exist
        status, body = await as_(outsider).call("DELETE", f"/reels/{first}")
        assert (status, code(body)) == (404, "not_found")
        status, body = await as_(member).call("DELETE", f"/reels/{first}")  # another member: not theirs
        assert (status, code(body)) == (403, "forbidden")
        await as_(member).call("GET", f"/reels/{first}", expect=200)
        await as_(author).call("DELETE", f"/reels/{first}", expect=204)  # the author
        for m in (author, member, owner):
            status, body = await as_(m).call("GET", f"/reels/{first}")
            assert (status, code(body)) == (404, "not_found")  # deleted: never served again
        status, body = await as_(author).call("DELETE", f"/reels/{first}")
        assert (status, code(body)) == (404, "not_found")
        second = await post()
        await as_(moderator).call("DELETE", f"/reels/{second}", expect=204)  # a moderator
        third = await post()
        await as_(owner).call("DELETE", f"/reels/{third}", expect=204)  # the owner ranks above
        assert await Reel.filter(id__in=[first, second, third], deleted_at=None).count() == 0


async def test_interactions_with_reels_carry_watch_ms_and_bad_ones_are_refused(gateway, smtp):
    owner, viewer = (
        await make_member(gateway.url, smtp, "Owner"),
        await make_member(gateway.url, smtp, "Viewer"),
    )
    club = await club_with(owner)
    secret = await club_with(owner, visibility=Visibility.private)
    async with client_session(gateway.url) as http:
        _, out = await Api(http, owner).call(
            "POST", f"/clubs/{club.id}/reels", {"media_id": await video(owner.user_id)}, expect=201
        )
        reel_id = out["reel_id"]
        _, hidden = await Api(http, owner).call(
            "POST", f"/clubs/{secret.id}/reels", {"media_id": await video(owner.user_id)}, expect=201
        )
        api = Api(http, viewer)
        tag = uuid.uuid4().hex[:10]
        good = [
            {"item_type": "reel", "item_id": reel_id, "kind": "impression"},
            {"item_type": "reel", "item_id": reel_id, "kind": "play", "interaction_id": f"play-{tag}"},
            {
                "item_type": "reel",
                "item_id": reel_id,
                "kind": "watch",
                "watch_ms": 7_000,
                "interaction_id": f"watch-{tag}",
            },
            {"item_type": "reel", "item_id": reel_id, "kind": "complete", "watch_ms": 12_500},
            {"item_type": "reel", "item_id": reel_id, "kind": "skip", "watch_ms": 0},
        ]
        _, body = await api.call("POST", "/interactions", good, expect=202)
        assert body == {"accepted": 5}
        bad = [
            {"item_type": "reel", "item_id": reel_id, "kind": "watch"},  # how long: missing
            {"item_type": "reel", "item_id": reel_id, "kind": "complete"},
            {"item_type": "reel", "item_id": reel_id, "kind": "skip"},
            {"item_type": "reel", "item_id": reel_id, "kind": "watch", "watch_ms": -1},
            {"item_type": "reel", "item_id": reel_id, "kind": "watch", "watch_ms": 3_600_001},
            {"item_type": "reel", "item_id": reel_id, "kind": "watch", "watch_ms": "ten"},
            {"item_type": "reel", "item_id": reel_id, "kind": "click", "watch_ms": 10},  # not a viewing
            {"item_type": "event", "item_id": reel_id, "kind": "play"},  # a reel's kind on an event
            {"item_type": "reels", "item_id": reel_id, "kind": "play"},
        ]
        for item in bad:
            status, body = await api.call("POST", "/interactions", [good[1], item])
            assert (status, code(body)) == (422, "invalid"), (item, status, body)
        status, body = await api.call(
            "POST",
            "/interactions",
            [good[1], {"item_type": "reel", "item_id": hidden["reel_id"], "kind": "play"}],
        )
        assert (status, code(body)) == (404, "not_found")  # a private club's reel
        await Api(http, owner).call("DELETE", f"/reels/{reel_id}", expect=204)
        status, body = await api.call(
            "POST", "/interactions", [{"item_type": "reel", "item_id": reel_id, "kind": "play"}]
        )
        assert (status, code(body)) == (404, "not_found")  # a deleted reel is no item any more

    # Stored as sent, watch_ms included (the consumer's MongoDB documents).
    from storage import mongo as mongo_store

    async def stored():
        docs = (
            await gateway.backends.stores.mongo[mongo_store.INTERACTIONS]
            .find({"_id": {"$regex": f"^u{viewer.user_id}:"}})
            .to_list(50)
        )
        return docs if len(docs) >= 2 else None

    docs = {d["_id"].split(":", 1)[1]: d for d in await wait_for(stored, timeout=30)}
    assert docs[f"watch-{tag}"]["watch_ms"] == 7_000 and docs[f"watch-{tag}"]["item_type"] == "reel"
    assert docs[f"play-{tag}"]["watch_ms"] is None


async def test_reels_are_feed_items_with_their_video_until_deleted(gateway, smtp):
    owner, viewer = (
        await make_member(gateway.url, smtp, "Owner"),
        await make_member(gateway.url, smtp, "Viewer"),
    )
    club = await club_with(owner, viewer)
    async with client_session(gateway.url) as http:
        _, out = await Api(http, owner).call(
            "POST",
            f"/clubs/{club.id}/reels",
            {"media_id": await video(owner.user_id), "caption": "hello"},
            expect=201,
        )
        reel_id = out["reel_id"]
        api = Api(http, viewer)

        async def reel_in_feed():
            _, body = await api.call("GET", "/feed", params={"limit": "100"}, expect=200)
            return next((i for i in body["items"] if (i["type"], i["id"]) == ("reel", reel_id)), None)

        item = await wait_for(reel_in_feed, timeout=30)
        assert item["club_id"] == club.id and item["member"] is True
        assert item["caption"] == "hello" and item["author"]["id"] == owner.user_id
        assert item["media"]["url"].endswith("/file") and item["media"]["duration_ms"] == 12_000
        assert item["reason"]
        await Api(http, owner).call("DELETE", f"/reels/{reel_id}", expect=204)

        async def gone():
            return await reel_in_feed() is None

        await wait_for(gone, timeout=30)
