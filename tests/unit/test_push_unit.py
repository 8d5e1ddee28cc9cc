"""The outbound channels' pure parts: the VAPID key (configured, generated once, agreed on by racing gateways),
what a push endpoint and keys must be, the push payload's size, the digest's unsubscribe token and mail."""

from __future__ import annotations

import base64
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from actors.domain.errors import DomainError
from actors.push import (
    PAYLOAD_MAX,
    endpoint_problem,
    key_problem,
    push_payload,
    vapid_key,
    vapid_public_key,
)
from gateway.actions.digest import (
    LIST_MAX,
    compose,
    message_link,
    unsubscribe_token,
    user_of_unsubscribe_token,
)
from gateway.core.tokens import AccessTokens, KeyRing
from storage.settings import Settings


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_vapid_key_is_generated_once_and_racing_gateways_agree(tmp_path):
    settings = Settings(data_dir=tmp_path)
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: vapid_key(settings), range(16)))
    assert len(keys) == 1
    path = tmp_path / "vapid" / "private_key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["private_key.pem"]  # no temporary file left
    assert vapid_key(settings) == keys.pop()


def test_a_configured_vapid_key_pem_or_raw(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    raw = b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    from_pem = vapid_key(Settings(data_dir=tmp_path, vapid_private_key=SecretStr(pem)))
    from_raw = vapid_key(Settings(data_dir=tmp_path, vapid_private_key=SecretStr(raw)))
    assert from_pem == from_raw
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert vapid_public_key(from_pem) == b64url(public)
    assert not (tmp_path / "vapid").exists()  # nothing generated when one is configured
    other_curve = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for bad in ("short", b64url(os.urandom(31)), other_curve.decode(), "-----BEGIN PRIVATE KEY-----\nxx\n"):
        with pytest.raises(ValueError):
            vapid_key(Settings(data_dir=tmp_path, vapid_private_key=SecretStr(bad)))


@pytest.mark.parametrize(
    ("endpoint", "dev", "ok"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc:def", False, True),
        ("https://updates.push.services.mozilla.com/wpush/v2/gAAA", False, True),
        ("https://web.push.apple.com:443/QGx", False, True),
        ("http://fcm.googleapis.com/fcm/send/abc", False, False),
        ("http://127.0.0.1:8123/push/a", False, False),
        ("http://127.0.0.1:8123/push/a", True, True),
        ("http://localhost:8123/push/a", True, True),
        ("https://[::1]/push", True, True),
        ("http://example.org/push", True, False),
        ("https://10.0.0.5/push", True, False),
        ("https://192.168.1.1/push", False, False),
        ("https://169.254.169.254/latest/meta-data", False, False),
        ("https://[fd00::1]/push", False, False),
        ("https://user:pw@push.example.org/x", False, False),
        ("https://push.example.org/x#frag", False, False),
        ("https://push.example.org/a b", False, False),
        ("https://push.example.org/\r\nX: y", False, False),
        ("https://push.example.org:99999/x", False, False),
        ("https:///x", False, False),
        ("javascript:alert(1)", False, False),
        ("https://push.example.org/" + "x" * 1000, False, False),
    ],
)
def test_endpoint_rules(endpoint, dev, ok):
    assert (endpoint_problem(endpoint, dev) is None) == ok, endpoint_problem(endpoint, dev)


def test_key_rules():
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    auth = os.urandom(16)
    assert key_problem(b64url(point), b64url(auth)) is None
    assert key_problem(b64url(point) + "=", b64url(auth) + "==") is None  # padded base64url too
    assert key_problem(b64url(point[:33]), b64url(auth))  # compressed-length
    assert key_problem(b64url(b"\x04" + bytes(64)), b64url(auth))  # not on the curve
    assert key_problem(base64.b64encode(point).decode().replace("_", "/") + "+", b64url(auth))
    assert key_problem(b64url(point), b64url(auth[:8]))
    assert key_problem(b64url(point), "")


def test_push_payload_fits_the_limit():
    n = {"id": 1, "user_id": 9, "kind": "mention", "room_id": 2, "seq": 3, "text": "é" * 300, "actor": None}
    payload = push_payload(n)
    assert len(payload) <= PAYLOAD_MAX and b"user_id" not in payload
    huge = {**n, "text": "x", "actor": {"id": 1, "display_name": "a" * 10_000}}
    assert len(push_payload(huge)) < 400  # a display name is cut to 50 characters


def test_unsubscribe_token_names_user_and_purpose(tmp_path):
    ring = KeyRing({"k1": b"a" * 48}, "k1")
    token = unsubscribe_token(ring, 42)
    assert user_of_unsubscribe_token(ring, token) == 42
    rotated = KeyRing({"k1": b"a" * 48, "k2": b"b" * 48}, "k2")
    assert user_of_unsubscribe_token(rotated, token) == 42  # still valid after a new key is added
    access = AccessTokens(ring, 900).issue(42, "family")
    head, payload, signature = token.split(".")
    for bad in (access, f"{head}.{payload}.{signature[::-1]}", "", "a.b.c", token + "x"):
        with pytest.raises(DomainError) as refused:
            user_of_unsubscribe_token(ring, bad)
        assert refused.value.code == "invalid"
    with pytest.raises(DomainError):
        user_of_unsubscribe_token(KeyRing({"k1": b"c" * 48}, "k1"), token)  # another deployment's key


def test_digest_mail_lists_links_and_cuts(tmp_path):
    settings = Settings(data_dir=tmp_path, public_url="https://club.example.org")
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    rooms = {7: {"id": 7, "name": "general", "club_id": 3, "club_name": "Chess\r\nBcc: x@y"}}
    rows = [
        {
            "id": i,
            "user_id": 1,
            "kind": "mention",
            "room_id": 7,
            "seq": i,
            "event_id": None,
            "actor_name": "Bob\nX-Injected: 1",
            "text": "line one\nline two " + "z" * 500,
            "created_at": now,
        }
        for i in range(LIST_MAX + 5)
    ]
    mail = compose(settings, {"email": "ada@example.org", "display_name": "Ada"}, rows, rooms, "https://u/x")
    assert mail.subject == f"{LIST_MAX + 5} unread notifications on ClubHoloHub"
    assert "…and 5 more" in mail.body
    assert mail.body.count("https://club.example.org/clubs/3/rooms/7?seq=") == LIST_MAX
    assert "X-Injected: 1\n" not in mail.body and "line one line two" in mail.body
    assert mail.headers == {
        "List-Unsubscribe": "<https://u/x>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    one = compose(settings, {"email": "a@b.c", "display_name": "Ada"}, rows[:1], rooms, "https://u/x")
    assert "\n" not in one.subject and "\r" not in one.subject
    assert message_link("https://h", 5, None, None) == "https://h/rooms/5"
    assert message_link("https://h", None, None, None) == "https://h/"


def test_the_vapid_header_cache_is_bounded_and_reuses_a_live_header(tmp_path, monkeypatch):
    from actors import push
    from actors.config import ActorConfig

    settings = Settings(data_dir=tmp_path)
    urls = {"postgres": "postgres://x", "mongo": "mongodb://x", "redis": "redis://x"}  # never connected
    config = ActorConfig.from_settings(settings, urls, vapid_private_key=vapid_key(settings))
    pusher = push.WebPusher(config)
    monkeypatch.setattr(push, "AUTHORIZATION_CACHE_MAX", 3)
    first = pusher.authorization("https://push-0.example/send/a")
    assert pusher.authorization("https://push-0.example/send/b") == first  # one JWT per origin
    for i in range(1, 6):
        pusher.authorization(f"https://push-{i}.example/send/a")
    assert list(pusher._authorization) == [f"https://push-{i}.example" for i in (3, 4, 5)]


def test_the_negative_member_cache_is_bounded(monkeypatch):
    from actors import members

    monkeypatch.setattr(members, "NEGATIVE_MEMBER_MAX", 4)
    directory = members.MemberDirectory()
    for user in range(3):
        directory._remember_not_member((1, user), now=100.0)
    directory._remember_not_member((1, 3), now=200.0)  # the first three expired at 105: dropped at the bound
    directory._remember_not_member((1, 4), now=200.0)
    assert set(directory._not_member) == {(1, 3), (1, 4)}
    for user in range(5, 9):
        directory._remember_not_member((1, user), now=201.0)  # all live at the bound: the cache starts over
    assert len(directory._not_member) <= 4 and (1, 8) in directory._not_member
