"""Web Push for real (issue 19, must-show 4): a local push endpoint checks the VAPID signature and decrypts
what the server sent with the subscription's own private key; expired subscriptions (404/410) are removed;
the subscription routes validate and are idempotent."""

from __future__ import annotations

import os
import time

import http_ece
import jwt
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from support.members import Api, client_session, make_member
from support.push import Browser, PushService, b64url, unb64url

from actors.push import MAX_SUBSCRIPTIONS_PER_USER, TEXT_MAX, WebPusher
from gateway.http.keys import ACTORS
from storage.models import PushSubscription


@pytest.fixture
async def push_service():
    service = PushService()
    await service.start()
    yield service
    service.release.set()
    await service.runner.cleanup()


def notification(user_id: int, n: int, **extra) -> dict:
    return {
        "id": n,
        "user_id": user_id,
        "kind": "mention",
        "created_at": "2026-12-02T10:00:00+00:00",
        "read": False,
        "room_id": 77,
        "seq": n,
        "event_id": None,
        "actor": {"id": 5, "display_name": "Bob"},
        "text": f"hey @Ada, number {n}",
        **extra,
    }


async def test_a_push_is_encrypted_for_the_subscription_and_signed_with_vapid(gateway, smtp, push_service):
    ada = await make_member(gateway.url, smtp, "Ada")
    phone, laptop = Browser(f"{push_service.url}/ok/phone"), Browser(f"{push_service.url}/ok/laptop")
    async with client_session(gateway.url) as http:
        api = Api(http, ada)
        for browser in (phone, laptop):
            await api.call("POST", "/me/push-subscriptions", json=browser.subscription, expect=201)
        resp = await http.get("/api/v1/push/vapid-public-key")  # no token needed
        assert resp.status == 200
        public_key = (await resp.json())["key"]
    assert len(unb64url(public_key)) == 65 and unb64url(public_key)[0] == 4

    pusher = WebPusher(gateway.app[ACTORS].actor_config)
    long = notification(ada.user_id, 1, text="x" * 290)
    sent = await pusher.deliver([long, notification(ada.user_id, 2, kind="reply")])
    assert sent == 4, pusher.stats  # two notifications to two devices
    assert pusher.stats["sent"] == 4

    for browser, name in ((phone, "phone"), (laptop, "laptop")):
        got = push_service.to(f"/ok/{name}")
        assert len(got) == 2
        payloads = []
        for headers, body in got:
            # RFC 8292: "vapid t=<JWT>, k=<public key>"; the JWT is ES256 over the push service's origin.
            scheme, _, params = headers["Authorization"].partition(" ")
            assert scheme == "vapid"
            fields = dict(p.strip().split("=", 1) for p in params.split(","))
            assert fields["k"] == public_key
            signer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(fields["k"]))
            claims = jwt.decode(fields["t"], signer, algorithms=["ES256"], audience=push_service.url)
            assert claims["sub"] == gateway.app[ACTORS].actor_config.vapid_subject
            assert time.time() < claims["exp"] <= time.time() + 24 * 3600
            assert headers["Content-Encoding"] == "aes128gcm"
            assert headers["Urgency"] == "high"
            assert int(headers["TTL"]) > 0
            assert len(body) <= 4096
            payloads.append(browser.decrypt(body))  # only this subscription's private key opens it
        payloads.sort(key=lambda p: p["id"])
        first, second = payloads
        assert first["kind"] == "mention" and second["kind"] == "reply"
        assert (
            first["room_id"] == 77
            and first["seq"] == 1
            and first["actor"] == {"id": 5, "display_name": "Bob"}
        )
        assert first["text"] == "x" * (TEXT_MAX - 1) + "…"  # cut for the 4 KB limit
        assert second["text"] == "hey @Ada, number 2"
        assert "user_id" not in first

    # Another subscription's key cannot open it.
    headers, body = push_service.to("/ok/phone")[0]
    with pytest.raises((InvalidTag, http_ece.ECEException)):
        laptop.decrypt(body)

    # A user without subscriptions: nothing sent, nothing raised.
    assert await pusher.deliver([notification(ada.user_id + 10_000_000, 3)]) == 0


async def test_expired_subscriptions_are_removed_and_failures_never_raise(gateway, smtp, push_service):
    ada = await make_member(gateway.url, smtp, "Ada")
    ok, gone, missing, slow = (
        Browser(f"{push_service.url}/{kind}/{ada.user_id}") for kind in ("ok", "gone", "missing", "slow")
    )
    async with client_session(gateway.url) as http:
        api = Api(http, ada)
        for browser in (ok, gone, missing, slow):
            await api.call("POST", "/me/push-subscriptions", json=browser.subscription, expect=201)

    pusher = WebPusher(gateway.app[ACTORS].actor_config, timeout_s=1.0)
    began = time.monotonic()
    sent = await pusher.deliver([notification(ada.user_id, 1), notification(ada.user_id, 2)])
    assert sent == 2  # the ok endpoint, twice
    assert time.monotonic() - began < 10  # the silent endpoint costs its timeout, not more
    assert pusher.stats["expired"] >= 2 and pusher.stats["failed"] == 2  # the slow one, twice
    endpoints = set(await PushSubscription.filter(user_id=ada.user_id).values_list("endpoint", flat=True))
    assert endpoints == {ok.endpoint, slow.endpoint}  # 404 and 410 deleted it; a timeout does not

    # A deployment not on loopback never pushes to loopback, whatever is stored.
    public = WebPusher(gateway.app[ACTORS].actor_config, allow_loopback=False)
    assert await public.deliver([notification(ada.user_id, 3)]) == 0
    assert public.stats["refused"] == 2
    assert len(push_service.to(f"/ok/{ada.user_id}")) == 2


async def test_subscription_routes_validate_and_are_idempotent(gateway, smtp, push_service):
    ada, bob = await make_member(gateway.url, smtp, "Ada"), await make_member(gateway.url, smtp, "Bob")
    device = Browser(f"{push_service.url}/ok/shared")
    good = device.subscription
    async with client_session(gateway.url) as http:
        a, b = Api(http, ada), Api(http, bob)
        resp = await http.post("/api/v1/me/push-subscriptions", json=good)
        assert resp.status == 401

        point = unb64url(good["keys"]["p256dh"])
        refused = [
            {**good, "endpoint": "http://push.example.com/x"},  # not https
            {**good, "endpoint": "ftp://push.example.com/x"},
            {**good, "endpoint": "https://10.1.2.3/x"},  # a private address
            {**good, "endpoint": "https://169.254.169.254/latest"},
            {**good, "endpoint": "https://user:pw@push.example.com/x"},
            {**good, "endpoint": "https://push.example.com/" + "x" * 1000},
            {**good, "endpoint": "https://push.example.com/a b"},
            {**good, "keys": {**good["keys"], "p256dh": b64url(point[:64])}},  # wrong length
            {**good, "keys": {**good["keys"], "p256dh": b64url(b"\x04" + bytes(64))}},  # not on the curve
            {**good, "keys": {**good["keys"], "p256dh": "not base64!"}},
            {**good, "keys": {**good["keys"], "auth": b64url(os.urandom(15))}},
            {**good, "keys": {"p256dh": good["keys"]["p256dh"]}},
            {**good, "extra": 1},
            {"endpoint": good["endpoint"]},
        ]
        for body in refused:
            status, answer = await a.call("POST", "/me/push-subscriptions", json=body)
            assert status == 422 and answer["error"]["code"] == "invalid", (body, status, answer)
        assert not await PushSubscription.filter(user_id=ada.user_id).exists()

        # What a browser's toJSON() gives, padded or not, is taken; posting it again is the same subscription.
        padded = {
            **good,
            "expirationTime": None,
            "keys": {**good["keys"], "auth": good["keys"]["auth"] + "=="},
        }
        await a.call("POST", "/me/push-subscriptions", json=padded, expect=201)
        await a.call("POST", "/me/push-subscriptions", json=good, expect=201)
        rows = await PushSubscription.filter(endpoint=good["endpoint"]).values("user_id", "auth")
        assert rows == [{"user_id": ada.user_id, "auth": good["keys"]["auth"]}]

        # The same device logged in as Bob: the subscription moves; Ada can no longer delete it.
        await b.call("POST", "/me/push-subscriptions", json=good, expect=201)
        assert await PushSubscription.filter(endpoint=good["endpoint"]).values_list("user_id", flat=True) == [
            bob.user_id
        ]
        await a.call("DELETE", "/me/push-subscriptions", json={"endpoint": good["endpoint"]}, expect=204)
        assert await PushSubscription.filter(endpoint=good["endpoint"]).exists()
        await b.call("DELETE", "/me/push-subscriptions", json={"endpoint": good["endpoint"]}, expect=204)
        assert not await PushSubscription.filter(endpoint=good["endpoint"]).exists()
        await b.call("DELETE", "/me/push-subscriptions", json={"endpoint": good["endpoint"]}, expect=204)

        # At most MAX_SUBSCRIPTIONS_PER_USER devices: the least recently posted go.
        devices = [Browser(f"{push_service.url}/ok/ada-{i}") for i in range(MAX_SUBSCRIPTIONS_PER_USER + 2)]
        for d in devices:
            await a.call("POST", "/me/push-subscriptions", json=d.subscription, expect=201)
        kept = set(await PushSubscription.filter(user_id=ada.user_id).values_list("endpoint", flat=True))
        assert kept == {d.endpoint for d in devices[2:]}
