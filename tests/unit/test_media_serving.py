"""The pure parts of media delivery: which byte range a ``Range`` header asks for, and the CDN URLs the
gateway signs in production (checked here the way an edge checks them)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.actions.media import signed_cdn_url
from gateway.http.media import parse_range


@pytest.mark.parametrize(
    "header,size,expected",
    [
        (None, 100, None),
        ("bytes=0-9", 100, (0, 9)),
        ("bytes=90-", 100, (90, 99)),
        ("bytes=90-500", 100, (90, 99)),  # a last byte past the end is the end
        ("bytes=-10", 100, (90, 99)),
        ("bytes=-500", 100, (0, 99)),
        ("bytes=100-", 100, False),  # starts past the end: 416
        ("bytes=-0", 100, False),
        ("bytes=5-2", 100, None),  # malformed: ignored, the whole object
        ("bytes=0-1,5-6", 100, None),  # several ranges: we may send it all
        ("items=0-1", 100, None),
        ("bytes=a-b", 100, None),
        ("bytes=-", 100, None),
        ("bytes=" + "9" * 50 + "-", 100, None),  # absurdly long: ignored, not parsed
        ("bytes=0-", 0, False),
    ],
)
def test_range_headers(header, size, expected):
    assert parse_range(header, size) == expected


def edge_accepts(url: str, secret: bytes, now: float) -> bool:
    """What a CDN edge does with a signed URL (docs/media.md): recompute the HMAC, check the expiry."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    expires, signature = int(query["expires"][0]), query["signature"][0]
    digest = hmac.new(secret, f"{parts.path}:{expires}".encode(), hashlib.sha256).digest()
    good = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(good, signature) and now < expires


def test_signed_cdn_urls_verify_expire_and_are_stable_within_a_window():
    secret = b"edge-secret"
    now = 1_800_000_000.0
    url = signed_cdn_url("https://cdn.example.org/", "media/ab12/image.jpg", secret, 3600, now)
    assert url.startswith("https://cdn.example.org/media/ab12/image.jpg?expires=")
    assert edge_accepts(url, secret, now)
    expires = int(parse_qs(urlsplit(url).query)["expires"][0])
    assert 3600 <= expires - now <= 7200  # valid for at least the TTL, at most twice it
    assert not edge_accepts(url, secret, expires + 1)  # expired
    assert not edge_accepts(url, b"another-secret", now)
    tampered = url.replace("image.jpg", "other.jpg")
    assert not edge_accepts(tampered, secret, now)
    # The same URL for every viewer within a window (one cache entry), another in the next.
    assert signed_cdn_url("https://cdn.example.org", "media/ab12/image.jpg", secret, 3600, now + 10) == url
    assert signed_cdn_url("https://cdn.example.org", "media/ab12/image.jpg", secret, 3600, now + 3600) != url
