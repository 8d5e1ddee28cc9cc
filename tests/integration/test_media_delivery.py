"""Attachments in chat and media delivery (issue 21, points 4 and 5), end to end against the project's own
services: real uploads to the embedded SeaweedFS, processed by the media worker on Ray, attached to
messages through Socket.IO, served by the gateway at ``/media/<id>/<variant>`` to whoever may read the
message, and to nobody else.
"""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image
from pydantic import SecretStr
from support.chat import ChatClient, make_club_room
from support.media import image_bytes, ready_media
from support.members import Api, client_session, make_member
from support.wait import wait_for

from gateway.http.keys import MEDIA
from storage.models import Club, Media, Visibility


def bearer(member) -> dict:
    return {"Authorization": f"Bearer {member.token}"}


async def logged_in_browser(gateway, member):
    """A cookie jar as a browser has it after logging in: the media cookie is the only credential an
    ``<img>`` request sends."""
    http = client_session(gateway.url)
    resp = await http.post("/api/v1/auth/login", json={"email": member.email, "password": member.password})
    assert resp.status == 200, await resp.text()
    cookie = [c for c in http.cookie_jar if c.key == "clubhub_media"]
    assert cookie and cookie[0]["path"] == "/media" and cookie[0]["httponly"], cookie
    return http


@pytest.fixture
async def world(gateway, smtp):
    """A private club's room with its owner and a reader, and an outsider; the owner's ready image."""
    owner = await make_member(gateway.url, smtp, "Ann")
    reader = await make_member(gateway.url, smtp, "Bo")
    outsider = await make_member(gateway.url, smtp, "Cy")
    room = await make_club_room(owner.user_id, [reader.user_id])
    await Club.filter(id=room.club_id).update(visibility=Visibility.private)
    clients = []

    async def connect(member):
        client = await ChatClient(gateway.url, member.token).connect()
        clients.append(client)
        await client.join(room.id)
        return client

    yield owner, reader, outsider, room, connect
    for client in clients:
        await client.close()


async def test_an_image_attached_to_a_message_reaches_readers_and_is_served_to_them_only(
    gateway, http, world
):
    owner, reader, outsider, room, connect = world
    item = await ready_media(http, owner, image_bytes(64, 48))
    a, b = await connect(owner), await connect(reader)

    # With an attachment the text may be empty.
    ack = await a.send(room.id, "", attachments=[item["id"]])
    assert ack.get("ok", True) and "error" not in ack, ack
    await b.wait_seqs(room.id, 1)
    (live,) = b.messages[room.id]
    (att,) = live["attachments"]
    assert att["id"] == item["id"] and att["kind"] == "image"
    assert (
        att["url"] == f"/media/{item['id']}/file" and att["thumbnail_url"] == f"/media/{item['id']}/thumbnail"
    )
    assert (att["width"], att["height"]) == (64, 48) and att["blurhash"] == item["blurhash"]
    assert live["text"] == ""

    # The same in history, in a rejoin's replay and in REST history.
    history = await b.call("message:history", {"room_id": room.id})
    assert history["messages"][-1]["attachments"] == [att]
    late = await ChatClient(gateway.url, reader.token).connect()
    try:
        joined = await late.join(room.id, since_seq=0)
        assert [m["attachments"] for m in joined["missed"]] == [[att]]
    finally:
        await late.close()
    _, rest = await Api(http, reader).call("GET", f"/rooms/{room.id}/messages", expect=200)
    assert rest["messages"][-1]["attachments"] == [att]

    # A reader's browser: the media cookie set at login is enough for <img src>.
    browser = await logged_in_browser(gateway, reader)
    try:
        resp = await browser.get(att["url"])
        body = await resp.read()
        assert resp.status == 200, body[:200]
        assert resp.headers["Content-Type"].startswith("image/")
        assert resp.headers["Cache-Control"] == "private, max-age=31536000, immutable"
        assert (
            resp.headers["Accept-Ranges"] == "bytes" and resp.headers["X-Content-Type-Options"] == "nosniff"
        )
        etag = resp.headers["ETag"]
        assert Image.open(io.BytesIO(body)).size == (64, 48)

        # Range: a part, the last bytes, and a range past the end.
        resp = await browser.get(att["url"], headers={"Range": "bytes=0-9"})
        assert resp.status == 206 and await resp.read() == body[:10]
        assert resp.headers["Content-Range"] == f"bytes 0-9/{len(body)}"
        resp = await browser.get(att["url"], headers={"Range": "bytes=-5"})
        assert resp.status == 206 and await resp.read() == body[-5:]
        resp = await browser.get(att["url"], headers={"Range": f"bytes={len(body)}-"})
        assert resp.status == 416 and resp.headers["Content-Range"] == f"bytes */{len(body)}"
        # A part of other bytes (If-Range with another ETag) gets the whole object.
        resp = await browser.get(att["url"], headers={"Range": "bytes=0-9", "If-Range": '"other"'})
        assert resp.status == 200 and await resp.read() == body
        # Revalidation.
        resp = await browser.get(att["url"], headers={"If-None-Match": etag})
        assert resp.status == 304 and resp.headers["ETag"] == etag
        resp = await browser.head(att["url"])
        assert resp.status == 200 and int(resp.headers["Content-Length"]) == len(body)
        thumb = await browser.get(att["thumbnail_url"])
        assert thumb.status == 200 and thumb.headers["Content-Type"].startswith("image/")
        # A variant the item does not have, or does not exist.
        for path in (f"/media/{item['id']}/poster", f"/media/{item['id']}/original", "/media/zz/file"):
            resp = await browser.get(path)
            assert resp.status == 404, path
    finally:
        await browser.close()

    # The bearer header works too; no credential at all is 401.
    resp = await http.get(att["url"], headers=bearer(reader))
    assert resp.status == 200
    async with client_session(gateway.url) as anonymous:
        assert (await anonymous.get(att["url"])).status == 401

    # An outsider of the private club: not served, not described, by cookie or by bearer.
    browser = await logged_in_browser(gateway, outsider)
    try:
        for url in (att["url"], att["thumbnail_url"]):
            resp = await browser.get(url)
            assert resp.status == 404, (url, resp.status)
            assert "image" not in resp.headers.get("Content-Type", "")
    finally:
        await browser.close()
    resp = await http.get(f"/api/v1/media/{item['id']}", headers=bearer(outsider))
    assert resp.status == 404
    resp = await http.get(att["url"], headers=bearer(outsider))
    assert resp.status == 404
    # The reader may describe it now that it is in a message they can read.
    resp = await http.get(f"/api/v1/media/{item['id']}", headers=bearer(reader))
    assert resp.status == 200 and (await resp.json())["url"] == att["url"]


async def test_deleting_the_message_hides_its_attachments(gateway, http, world):
    owner, reader, _outsider, room, connect = world
    item = await ready_media(http, owner, image_bytes(20, 20))
    a, b = await connect(owner), await connect(reader)
    ack = await a.send(room.id, "look", attachments=[item["id"]])
    url = f"/media/{item['id']}/file"
    assert (await http.get(url, headers=bearer(reader))).status == 200

    deleted = await a.call("message:delete", {"room_id": room.id, "seq": ack["seq"]})
    assert deleted.get("ok", True) and "error" not in deleted, deleted

    async def update_seen():
        return [m for m in b.updated if m["seq"] == ack["seq"] and m.get("deleted")]

    (update,) = await wait_for(update_seen)
    assert "attachments" not in update
    history = await b.call("message:history", {"room_id": room.id})
    assert "attachments" not in history["messages"][-1]

    async def hidden():  # within the gateway's few seconds of remembered permissions
        return (await http.get(url, headers=bearer(reader))).status == 404

    await wait_for(hidden, timeout=20)
    # Its uploader keeps their own media.
    assert (await http.get(url, headers=bearer(owner))).status == 200


async def test_attachments_are_checked_before_the_message_is_stored(gateway, http, smtp, world):
    owner, reader, _outsider, room, connect = world
    a = await connect(owner)
    mine = await ready_media(http, owner, image_bytes(8, 8))
    theirs = await ready_media(http, reader, image_bytes(8, 8))

    async def refused(attachments, text="x", client_id=None) -> str:
        ack = await a.send(room.id, text, client_id, attachments=attachments)
        assert "error" in ack, ack
        return ack["error"]["code"]

    # Someone else's media, or none at all: as if it did not exist.
    assert await refused([theirs["id"]]) == "not_found"
    assert await refused([uuid.uuid4().hex]) == "not_found"
    assert await refused(["not-a-media-id"]) == "invalid"
    # Not processed yet.
    resp = await http.post(
        "/api/v1/media/uploads",
        json={"kind": "image", "content_type": "image/png", "size": 10},
        headers=bearer(owner),
    )
    pending = (await resp.json())["media_id"]
    assert await refused([pending]) == "invalid"
    # More than ten.
    many = [uuid.uuid4().hex for _ in range(11)]
    assert await refused(many) == "too_large"
    # No text and no attachment.
    assert await refused([], text="") == "invalid"
    # None of the refused sends took a seq or claimed anything.
    assert (await Media.get(id=uuid.UUID(hex=mine["id"]))).room_id is None

    # One message holds a media item; a re-sent client_id is the same message, another message is refused.
    first = await a.send(room.id, "one", "c-first", attachments=[mine["id"], mine["id"]])
    assert first.get("ok", True) and "error" not in first, first
    again = await a.send(room.id, "one", "c-first", attachments=[mine["id"]])
    assert again["seq"] == first["seq"], again
    assert await refused([mine["id"]], client_id="c-second") == "conflict"
    row = await Media.get(id=uuid.UUID(hex=mine["id"]))
    assert (row.room_id, row.client_id, row.seq) == (room.id, "c-first", first["seq"])
    history = await a.call("message:history", {"room_id": room.id})
    assert [m["seq"] for m in history["messages"]] == [first["seq"]]
    assert len(history["messages"][0]["attachments"]) == 1  # the same item twice is once


async def test_search_results_carry_the_attachments(gateway, http, world):
    owner, reader, _outsider, room, connect = world
    item = await ready_media(http, owner, image_bytes(16, 16))
    a = await connect(owner)
    word = f"lighthouse{uuid.uuid4().hex[:6]}"
    ack = await a.send(room.id, f"the {word} at dusk", attachments=[item["id"]])
    assert "error" not in ack, ack
    api = Api(http, reader)

    async def found():
        _, body = await api.call("GET", "/search/messages", params={"q": word}, expect=200)
        return body["items"]

    (hit,) = await wait_for(found, timeout=20)
    assert hit["seq"] == ack["seq"]
    assert [x["id"] for x in hit["attachments"]] == [item["id"]]
    assert hit["attachments"][0]["url"] == f"/media/{item['id']}/file"


async def test_in_production_a_permitted_viewer_is_sent_to_a_signed_cdn_url(gateway, http, world):
    """``CLUBHUB_MEDIA_PUBLIC_URL``: the gateway checks permission, then redirects to the CDN with a URL
    the edge can verify; an outsider still gets not_found and learns no URL. (The session's gateway runs
    in this process: its media actions take production settings for the length of the test.)"""
    owner, reader, outsider, room, connect = world
    item = await ready_media(http, owner, image_bytes(10, 10))
    a = await connect(owner)
    ack = await a.send(room.id, "cdn", attachments=[item["id"]])
    assert "error" not in ack, ack
    actions = gateway.app[MEDIA]
    plain = actions.settings
    actions.settings = plain.model_copy(
        update={"media_public_url": "https://cdn.example.org/", "media_url_secret": SecretStr("edge-secret")}
    )
    try:
        url = f"/media/{item['id']}/file"
        resp = await http.get(url, headers=bearer(reader), allow_redirects=False)
        assert resp.status == 302, await resp.text()
        location = resp.headers["Location"]
        row = await Media.get(id=uuid.UUID(hex=item["id"]))
        assert location.startswith(f"https://cdn.example.org/{row.object_key}?expires=")
        assert "signature=" in location and "edge-secret" not in location
        resp = await http.get(url, headers=bearer(outsider), allow_redirects=False)
        assert resp.status == 404 and "Location" not in resp.headers
    finally:
        actions.settings = plain
