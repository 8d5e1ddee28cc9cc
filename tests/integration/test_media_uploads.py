"""Media uploads that bypass the gateway (issue 21, points 1, 2 and the upload side of 8), against the
project's own embedded SeaweedFS started by the session's services: a presigned PUT scoped to one key,
type and length, expiring; ``complete`` checks the real bytes; bad input is refused and nothing is left.
"""

from __future__ import annotations

import asyncio
import struct
import uuid
import zlib

import aiohttp
import pytest
import yarl
from support.chat import ChatClient
from support.members import client_session, make_member
from support.wait import wait_for

from storage import keys
from storage.models import Media
from storage.objects import ObjectMissing

MB = 1024 * 1024


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def zip_bytes() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("payload.txt", "not an image " * 20)
    return buf.getvalue()


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 200


def auth(member) -> dict:
    return {"Authorization": f"Bearer {member.token}"}


async def start_upload(http, member, kind="image", content_type="image/png", size=100):
    resp = await http.post(
        "/api/v1/media/uploads",
        json={"kind": kind, "content_type": content_type, "size": size},
        headers=auth(member),
    )
    return resp.status, await resp.json()


async def put(url: str, data: bytes, headers: dict) -> tuple[int, str]:
    """The browser's PUT to the presigned URL: straight to the object store, not through the gateway."""
    async with (
        aiohttp.ClientSession() as s,
        s.put(yarl.URL(url, encoded=True), data=data, headers=headers) as r,
    ):
        return r.status, await r.text()


async def complete(http, member, media_id: str):
    resp = await http.post(f"/api/v1/media/{media_id}/complete", headers=auth(member))
    return resp.status, await resp.json()


async def get_media(http, member, media_id: str):
    resp = await http.get(f"/api/v1/media/{media_id}", headers=auth(member))
    return resp.status, await resp.json()


def store(gateway):
    objects = gateway.backends.stores.objects
    assert objects is not None, "the gateway has no object store"
    return objects


async def stream_entries(gateway, media_id: str) -> list[dict]:
    entries = await gateway.backends.stores.redis.xrange(keys.MEDIA_STREAM)
    decoded = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]
    return [e for e in decoded if e.get("media_id") == media_id]


async def gone(gateway, key: str) -> bool:
    try:
        await store(gateway).head(key)
    except ObjectMissing:
        return True
    return False


# -- the path that works -------------------------------------------------------------------------------


async def test_readiness_includes_the_object_store(http):
    resp = await http.get("/readyz")
    body = await resp.json()
    assert resp.status == 200, body
    assert body["services"]["s3"] == "ok"


async def test_upload_complete_and_get(gateway, http, member):
    data = png_bytes()
    status, body = await start_upload(http, member, size=len(data))
    assert status == 201, body
    media_id, upload = body["media_id"], body["upload"]
    assert len(media_id) == 32 and upload["method"] == "PUT"
    assert upload["headers"] == {"Content-Type": "image/png", "Content-Length": str(len(data))}
    assert upload["expires_at"].endswith("Z")
    url = yarl.URL(upload["url"], encoded=True)
    assert url.path.endswith(f"/uploads/{media_id}")  # one key, named by the media id
    signed = url.query["X-Amz-SignedHeaders"].split(";")
    assert {"content-length", "content-type", "host"} <= set(signed)
    assert int(url.query["X-Amz-Expires"]) == 15 * 60

    # Not public, and not even processing, before it is completed.
    status, body = await get_media(http, member, media_id)
    assert status == 200 and body["status"] == "pending" and body["url"] is None

    # Completing before any byte arrived: nothing to check yet.
    status, body = await complete(http, member, media_id)
    assert status == 409 and body["error"]["code"] == "conflict"

    assert (await put(upload["url"], data, upload["headers"]))[0] == 200
    # The bucket is private: the object cannot be read without a signature.
    async with aiohttp.ClientSession() as s, s.get(url.with_query(None)) as resp:
        assert resp.status == 403
    socket = await ChatClient(gateway.url, member.token).connect()
    try:
        # The media worker may already have it by the time the answer is read.
        status, body = await complete(http, member, media_id)
        assert status == 202 and body["media_id"] == media_id and body["status"] in ("processing", "ready")
        assert await stream_entries(gateway, media_id) == [{"media_id": media_id}]
        # A retried complete answers the same and announces nothing twice.
        status, body = await complete(http, member, media_id)
        assert status == 202 and body["status"] in ("processing", "ready")
        assert len(await stream_entries(gateway, media_id)) == 1

        # Processed off the request path: the uploader hears media:ready, and only then is it served.
        async def announced():
            return [e for e in socket.events["media:ready"] if e["media_id"] == media_id]

        (event,) = await wait_for(announced, timeout=60)
        assert event == {"media_id": media_id, "status": "ready"}
    finally:
        await socket.close()
    status, body = await get_media(http, member, media_id)
    assert status == 200, body
    assert body["id"] == media_id and body["kind"] == "image" and body["status"] == "ready"
    assert (body["width"], body["height"]) == (2, 2) and body["blurhash"]
    assert (
        body["url"] == f"/media/{media_id}/file" and body["thumbnail_url"] == f"/media/{media_id}/thumbnail"
    )
    resp = await http.get(body["url"], headers=auth(member))  # served by the gateway, permission-checked
    assert resp.status == 200 and (await resp.read())[:8] == b"\x89PNG\r\n\x1a\n"
    # The upload itself (which could carry metadata) is gone: only the cleaned copy is kept.
    row = await Media.get(id=uuid.UUID(hex=media_id))
    assert row.upload_key.endswith(f"uploads/{media_id}") and await gone(gateway, row.upload_key)
    assert not await gone(gateway, row.object_key)


# -- declared limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,content_type,size,code",
    [
        ("image", "image/png", 10 * MB + 1, "too_large"),
        ("video", "video/mp4", 100 * MB + 1, "too_large"),
        ("image", "image/jpeg", 10 * MB, None),
        ("video", "video/webm", 100 * MB, None),
        ("image", "application/zip", 100, "invalid"),
        ("image", "image/svg+xml", 100, "invalid"),  # scripts in an "image": never
        ("image", "video/mp4", 100, "invalid"),  # a video declared as an image
        ("video", "image/gif", 100, "invalid"),
        ("audio", "audio/mpeg", 100, "invalid"),
        ("image", "image/png", 0, "invalid"),
        ("image", "image/png", -5, "invalid"),
    ],
)
async def test_declared_uploads_outside_the_limits_are_refused(gateway, smtp, kind, content_type, size, code):
    member = await make_member(gateway.url, smtp)
    async with client_session(gateway.url) as http:
        status, body = await start_upload(http, member, kind, content_type, size)
    if code is None:
        assert status == 201, body
    else:
        assert status == {"too_large": 413, "invalid": 422}[code], body
        assert body["error"]["code"] == code


# -- what really arrived ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "declared,data,why",
    [
        ("image/png", zip_bytes(), "not a supported image or video"),  # a zip renamed .png
        ("image/png", JPEG, "image/jpeg, not the declared image/png"),
        ("image/gif", b"GIF8" + b"\x00" * 60, "not a supported"),  # truncated magic
        ("image/webp", b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\x00" * 40, "not a supported"),  # a WAV
    ],
)
async def test_bytes_that_are_not_what_was_declared_are_refused_and_deleted(
    gateway, http, member, declared, data, why
):
    status, body = await start_upload(http, member, content_type=declared, size=len(data))
    assert status == 201, body
    media_id, upload = body["media_id"], body["upload"]
    assert (await put(upload["url"], data, upload["headers"]))[0] == 200
    key = f"uploads/{media_id}"
    assert not await gone(gateway, key)

    status, body = await complete(http, member, media_id)
    assert status == 422 and body["error"]["code"] == "invalid", body
    assert why in body["error"]["message"]
    assert await gone(gateway, key)  # nothing left behind
    assert await stream_entries(gateway, media_id) == []
    status, body = await get_media(http, member, media_id)
    assert status == 200 and body["status"] == "failed" and body["url"] is None and why in body["error"]
    # Refused for good: a second complete says so.
    status, body = await complete(http, member, media_id)
    assert status == 409 and body["error"]["code"] == "conflict"


async def test_more_bytes_than_declared_are_refused(gateway, http, member):
    data = png_bytes()
    status, body = await start_upload(http, member, size=len(data))
    media_id, upload = body["media_id"], body["upload"]
    longer = data + b"\x00" * 1000
    # The signed Content-Length does not match: the object store itself refuses the PUT.
    status, text = await put(upload["url"], longer, {**upload["headers"], "Content-Length": str(len(longer))})
    assert status == 403 and "SignatureDoesNotMatch" in text
    assert await gone(gateway, f"uploads/{media_id}")
    # And were a store to take it anyway (written here with the store's own credentials), complete refuses it.
    await store(gateway).put(f"uploads/{media_id}", longer, "image/png")
    status, body = await complete(http, member, media_id)
    assert status == 422 and body["error"]["code"] == "invalid"
    assert f"{len(longer)} bytes were uploaded, {len(data)} declared" in body["error"]["message"]
    assert await gone(gateway, f"uploads/{media_id}")


# -- the presigned request itself ----------------------------------------------------------------------


def tampered(url: str, **changes: str) -> str:
    parsed = yarl.URL(url, encoded=True)
    query = dict(parsed.query)
    path = changes.pop("path", parsed.path)
    query.update(changes)
    return str(parsed.with_path(path).with_query(query))


async def test_a_tampered_presigned_url_is_refused_by_the_object_store(gateway, http, member):
    data = png_bytes()
    status, body = await start_upload(http, member, size=len(data))
    media_id, upload = body["media_id"], body["upload"]
    url, headers = upload["url"], upload["headers"]
    signature = yarl.URL(url, encoded=True).query["X-Amz-Signature"]
    other = await start_upload(http, member, size=len(data))
    other_id = other[1]["media_id"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    attempts = {
        "changed signature": (tampered(url, **{"X-Amz-Signature": flipped}), headers),
        "signature of zeros": (tampered(url, **{"X-Amz-Signature": "0" * 64}), headers),
        "another key": (
            tampered(url, path=yarl.URL(url, encoded=True).path.replace(media_id, other_id)),
            headers,
        ),
        "a key outside uploads/": (tampered(url, path=f"/{store(gateway).bucket}/evil.png"), headers),
        "a longer expiry": (tampered(url, **{"X-Amz-Expires": "604800"}), headers),
        "another content type": (url, {**headers, "Content-Type": "text/html"}),
    }
    for name, (bad_url, bad_headers) in attempts.items():
        status, text = await put(bad_url, data, bad_headers)
        assert status == 403, (name, status, text[:200])
    unsigned = str(yarl.URL(url, encoded=True).with_query(None))
    status, _ = await put(unsigned, data, headers)
    assert status in (400, 403)
    assert await gone(gateway, f"uploads/{media_id}") and await gone(gateway, f"uploads/{other_id}")
    assert await gone(gateway, "evil.png")
    # The untouched URL still works: the refusals were the tampering's.
    assert (await put(url, data, headers))[0] == 200


async def test_an_expired_presigned_url_is_refused_by_the_object_store(gateway):
    objects = store(gateway)
    data = png_bytes()
    key = objects.key("uploads", "expired-test")
    url, headers = await objects.presign_put(key, "image/png", len(data), 1)
    await asyncio.sleep(2.5)
    status, text = await put(url, data, headers)
    assert status == 403 and "expired" in text.lower()
    assert await gone(gateway, key)


# -- who may ------------------------------------------------------------------------------------------


async def test_only_the_owner_may_complete_or_see_an_upload(gateway, http, member, smtp):
    data = png_bytes()
    status, body = await start_upload(http, member, size=len(data))
    media_id, upload = body["media_id"], body["upload"]
    assert (await put(upload["url"], data, upload["headers"]))[0] == 200
    stranger = await make_member(gateway.url, smtp, "Stranger")
    status, body = await complete(http, stranger, media_id)
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = await get_media(http, stranger, media_id)
    assert status == 404 and body["error"]["code"] == "not_found"
    assert await stream_entries(gateway, media_id) == []
    for bad in ("0" * 32, "not-an-id", media_id.upper(), media_id + "00", "1"):
        status, body = await complete(http, member, bad)
        assert status == 404, (bad, body)
        status, body = await get_media(http, member, bad)
        assert status == 404, (bad, body)
    resp = await http.post(f"/api/v1/media/{media_id}/complete")
    assert resp.status == 401
    # The stranger's refusal changed nothing: the owner completes it.
    status, body = await complete(http, member, media_id)
    assert status == 202, body


# -- quotas and rate limits --------------------------------------------------------------------------


async def test_pending_uploads_are_capped_per_user(gateway, smtp):
    member = await make_member(gateway.url, smtp)
    async with client_session(gateway.url) as http:
        for _ in range(20):
            status, body = await start_upload(http, member, size=100)
            assert status == 201, body
        status, body = await start_upload(http, member, size=100)
        assert status == 429 and body["error"]["code"] == "rate_limited"
        assert "pending" in body["error"]["message"]


async def test_bytes_per_day_are_capped_per_user(gateway, smtp):
    member = await make_member(gateway.url, smtp)
    async with client_session(gateway.url) as http:
        for _ in range(10):  # 1000 MB of the 1024 MB a day
            status, body = await start_upload(http, member, "video", "video/mp4", 100 * MB)
            assert status == 201, body
        resp = await http.post(
            "/api/v1/media/uploads",
            json={"kind": "video", "content_type": "video/mp4", "size": 100 * MB},
            headers=auth(member),
        )
        body = await resp.json()
        assert resp.status == 429 and body["error"]["code"] == "rate_limited", body
        assert "daily upload quota" in body["error"]["message"]
        assert 0 < int(resp.headers["Retry-After"]) <= 86400
        # A small one still fits.
        status, body = await start_upload(http, member, size=MB)
        assert status == 201, body


async def test_uploads_per_hour_are_rate_limited(gateway, smtp):
    from gateway.actions.media import MediaActions
    from gateway.http.keys import MEDIA

    member = await make_member(gateway.url, smtp)
    actions: MediaActions = gateway.app[MEDIA]
    limit = actions.settings.media_uploads_per_hour
    # Use up the hour's window (the counter the action hits), then one more request is refused.
    await actions.redis.set(keys.rate_limit(keys.media_uploads_by_user(member.user_id)), limit, ex=3600)
    async with client_session(gateway.url) as http:
        resp = await http.post(
            "/api/v1/media/uploads",
            json={"kind": "image", "content_type": "image/png", "size": 100},
            headers=auth(member),
        )
        body = await resp.json()
    assert resp.status == 429 and body["error"]["code"] == "rate_limited", body
    assert int(resp.headers["Retry-After"]) > 0


# -- the object store client, on any S3 URL ----------------------------------------------------------


def test_s3_urls_name_any_store():
    from storage.objects import parse_s3_url

    loc = parse_s3_url("https://AKIA%2FX:se%2Fcret@s3.eu-west-3.amazonaws.com/bucket/some/prefix")
    assert loc.endpoint_url == "https://s3.eu-west-3.amazonaws.com" and loc.region == "eu-west-3"
    assert (loc.access_key, loc.secret_key) == ("AKIA/X", "se/cret")
    assert (loc.bucket, loc.prefix) == ("bucket", "some/prefix")
    assert "cret" not in repr(loc)
    r2 = parse_s3_url("https://k:s@acct.r2.cloudflarestorage.com/media?region=auto")
    assert r2.region == "auto" and r2.prefix == "" and r2.endpoint_url.startswith("https://acct.")
    for bad in ("s3://k:s@host:9000", "ftp://k:s@host/bucket", "/var/data"):
        with pytest.raises(ValueError):
            parse_s3_url(bad)


async def test_the_object_store_under_a_prefix(services):
    from storage.objects import ObjectStore

    objects = await ObjectStore(services.urls()["s3"] + "/tenant-a").open()
    try:
        key = objects.key("uploads", "prefixed")
        assert key == "tenant-a/uploads/prefixed"
        await objects.put(key, b"0123456789", "image/png")
        info = await objects.head(key)
        assert info.size == 10 and info.content_type == "image/png" and info.etag
        assert await objects.get_range(key, 2, 3) == b"234"
        assert await objects.get_range(key, 8, 64) == b"89"  # a range past the end: what there is
        assert await objects.get(key) == b"0123456789"
        await objects.delete(key)
        await objects.delete(key)  # idempotent
        with pytest.raises(ObjectMissing):
            await objects.head(key)
        with pytest.raises(ObjectMissing):
            await objects.get_range(key, 0, 8)
    finally:
        await objects.close()


async def test_abandoned_uploads_of_anyone_are_swept_oldest_first_a_page_at_a_time(gateway, smtp):
    """An owner who never uploads again leaves nothing behind: the gateways' sweeper deletes the objects of
    uploads never completed and fails their rows; a recent upload is left alone."""
    import datetime as dt

    from gateway.actions.media import ABANDON_AFTER_S
    from gateway.http.keys import MEDIA

    member = await make_member(gateway.url, smtp)
    data = png_bytes()
    uploads = []
    async with client_session(gateway.url) as http:
        for _ in range(4):
            status, body = await start_upload(http, member, size=len(data))
            assert status == 201, body
            assert (await put(body["upload"]["url"], data, body["upload"]["headers"]))[0] == 200
            uploads.append(body["media_id"])
    *abandoned, recent = uploads
    # Three of them from long ago (older than anything else in the session's database), in this order.
    for i, media_id in enumerate(abandoned):
        long_ago = dt.datetime(2000, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i)
        await Media.filter(id=uuid.UUID(hex=media_id)).update(created_at=long_ago)

    media = gateway.app[MEDIA]
    assert media.settings.media_upload_ttl_s + ABANDON_AFTER_S < 2 * 3600
    assert await media.sweep_abandoned(limit=2) == 2
    rows = {m: await Media.get(id=uuid.UUID(hex=m)) for m in uploads}
    assert [rows[m].status.value for m in uploads] == ["failed", "failed", "pending", "pending"]
    assert await gone(gateway, f"uploads/{abandoned[0]}") and await gone(gateway, f"uploads/{abandoned[1]}")
    assert not await gone(gateway, f"uploads/{abandoned[2]}")

    assert await media.sweep_abandoned(limit=2) >= 1
    assert (await Media.get(id=uuid.UUID(hex=abandoned[2]))).status.value == "failed"
    assert await gone(gateway, f"uploads/{abandoned[2]}")
    assert "never completed" in (await Media.get(id=uuid.UUID(hex=abandoned[2]))).error
    # The recent upload is untouched and can still be completed.
    assert (await Media.get(id=uuid.UUID(hex=recent))).status.value == "pending"
    async with client_session(gateway.url) as http:
        status, body = await complete(http, member, recent)
    assert status == 202, body
