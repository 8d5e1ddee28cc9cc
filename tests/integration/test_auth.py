"""Accounts and auth against the real services and a real SMTP server."""

import asyncio
import base64
import json
import time

import jwt
import pytest
import socketio
from support.mail import Inbox
from support.members import client_session, loopback_source, make_member, unique_email

from gateway.http.accounts import REFRESH_COOKIE
from gateway.http.keys import ACCOUNTS
from storage.models import User

PASSWORD = "correct horse battery"


def error_of(body: dict) -> str:
    assert set(body) >= {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"]
    return body["error"]["code"]


async def socket_refusal(url: str, auth) -> str | None:
    """The connect_error message for these credentials, or None if the socket connected."""
    client = socketio.AsyncClient(reconnection=False)
    errors = []

    @client.on("connect_error")
    async def on_connect_error(data=None):
        errors.append(data.get("message") if isinstance(data, dict) else data)

    try:
        await client.connect(url, transports=["websocket"], auth=auth, wait_timeout=5)
    except socketio.exceptions.ConnectionError:
        assert errors, "refused without a connect_error"
        return errors[-1]
    await client.disconnect()
    return None


async def test_signup_verify_login_refresh_replay_logout(gateway, smtp):
    email = unique_email("Flow").upper()  # normalized to lower case
    async with client_session(gateway.url) as http:
        resp = await http.post(
            "/api/v1/auth/signup", json={"email": f"  {email} ", "password": PASSWORD, "display_name": "Ada"}
        )
        assert resp.status == 201, await resp.text()
        user_id = (await resp.json())["user_id"]

        mail = await smtp.wait_for(email.lower())
        assert mail["Subject"] == "Confirm your ClubHoloHub email"
        token = Inbox.token_of(mail)

        resp = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert resp.status == 403 and error_of(await resp.json()) == "email_unverified"

        resp = await http.post("/api/v1/auth/verify", json={"token": token})
        assert resp.status == 200 and (await resp.json())["user_id"] == user_id
        resp = await http.post("/api/v1/auth/verify", json={"token": token})
        assert resp.status == 404 and error_of(await resp.json()) == "not_found"  # single use

        resp = await http.post("/api/v1/auth/login", json={"email": email.lower(), "password": PASSWORD})
        assert resp.status == 200
        body = await resp.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
        cookie = resp.cookies[REFRESH_COOKIE]
        assert cookie["httponly"] and cookie["path"] == "/api/v1/auth" and cookie["samesite"] == "Strict"
        access = body["access_token"]
        header = jwt.get_unverified_header(access)
        claims = jwt.decode(access, options={"verify_signature": False})
        assert header["kid"] and {"sub", "exp", "iat", "jti", "kid"} - {"kid"} <= set(claims)
        assert claims["sub"] == str(user_id) and claims["exp"] - claims["iat"] == 15 * 60

        resp = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"})
        me = await resp.json()
        assert resp.status == 200 and me["email"] == email.lower() and me["email_verified"] is True
        assert await socket_refusal(gateway.url, {"token": access}) is None

        first_refresh = cookie.value
        resp = await http.post("/api/v1/auth/refresh")
        assert resp.status == 200
        second_refresh = resp.cookies[REFRESH_COOKIE].value
        assert second_refresh != first_refresh
        access2 = (await resp.json())["access_token"]
        assert (await http.get("/api/v1/me", headers={"Authorization": f"Bearer {access2}"})).status == 200

    # An attacker replays the first (already rotated) refresh token: 401, and the login is revoked.
    async with client_session(gateway.url) as thief:
        thief.cookie_jar.update_cookies({REFRESH_COOKIE: first_refresh})
        resp = await thief.post("/api/v1/auth/refresh")
        assert resp.status == 401 and error_of(await resp.json()) == "unauthorized"
    async with client_session(gateway.url) as victim:
        victim.cookie_jar.update_cookies({REFRESH_COOKIE: second_refresh})
        assert (await victim.post("/api/v1/auth/refresh")).status == 401
        for token in (access, access2):
            resp = await victim.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert resp.status == 401
        assert await socket_refusal(gateway.url, {"token": access2}) == "unauthorized"

        # A new login is a new family and works; logout revokes it.
        resp = await victim.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert resp.status == 200
        access3 = (await resp.json())["access_token"]
        resp = await victim.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {access3}"})
        assert resp.status == 204
        assert (await victim.post("/api/v1/auth/refresh")).status == 401
        resp = await victim.get("/api/v1/me", headers={"Authorization": f"Bearer {access3}"})
        assert resp.status == 401


async def test_socket_connect_needs_a_valid_token(gateway, member):
    assert await socket_refusal(gateway.url, {"token": member.token}) is None
    assert await socket_refusal(gateway.url, None) == "unauthorized"
    assert await socket_refusal(gateway.url, {}) == "unauthorized"
    assert await socket_refusal(gateway.url, {"token": 42}) == "unauthorized"
    assert await socket_refusal(gateway.url, {"token": "not.a.jwt"}) == "unauthorized"


async def test_connected_socket_knows_its_user(gateway, member):
    sio = gateway.app[__import__("gateway.app", fromlist=["SIO"]).SIO]
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(gateway.url, transports=["websocket"], auth={"token": member.token})
    try:
        sid = client.get_sid("/")
        session = await sio.get_session(sid)
        assert session["user_id"] == member.user_id
    finally:
        await client.disconnect()


def _tamper(token: str, **changes) -> str:
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


async def test_expired_tampered_and_wrong_kid_tokens_are_refused(gateway, member, http):
    accounts = gateway.app[ACCOUNTS]
    family = accounts.access.decode(member.token).family
    expired = accounts.access.issue(member.user_id, family, now=time.time() - 16 * 60)
    tampered = _tamper(member.token, sub=str(member.user_id + 1))
    ring = accounts.access.ring
    unknown_kid = jwt.encode(
        jwt.decode(member.token, options={"verify_signature": False}),
        "another-secret",
        algorithm="HS256",
        headers={"kid": "nope"},
    )
    right_kid_wrong_key = jwt.encode(
        jwt.decode(member.token, options={"verify_signature": False}),
        "another-secret",
        algorithm="HS256",
        headers={"kid": ring.active_kid},
    )
    alg_none = jwt.encode(
        jwt.decode(member.token, options={"verify_signature": False}),
        None,
        algorithm="none",
        headers={"kid": ring.active_kid},
    )
    for bad in (expired, tampered, unknown_kid, right_kid_wrong_key, alg_none):
        resp = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {bad}"})
        assert resp.status == 401 and error_of(await resp.json()) == "unauthorized"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert await socket_refusal(gateway.url, {"token": bad}) == "unauthorized"
    assert (
        "expired"
        in (await (await http.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"})).json())[
            "error"
        ]["message"]
    )
    assert (await http.get("/api/v1/me", headers={"Authorization": f"Bearer {member.token}"})).status == 200
    assert (await http.get("/api/v1/me")).status == 401


async def test_login_backoff_per_account_and_address_with_retry_after(gateway, member):
    # Failures count per (account, address) (issue 11, L1): 5 are free, the 6th locks that pair for 30 s.
    source = loopback_source()
    statuses = []
    async with client_session(gateway.url, source) as http:
        for _ in range(7):
            resp = await http.post(
                "/api/v1/auth/login", json={"email": member.email, "password": "wrong password!"}
            )
            statuses.append(resp.status)
            body = await resp.json()
    assert statuses == [401] * 6 + [429]
    assert error_of(body) == "rate_limited"
    retry_after = int(resp.headers["Retry-After"])
    assert 1 <= retry_after <= 30 and f"{retry_after}s" in body["error"]["message"]
    # The right password does not get through from that address either until the lock ends …
    async with client_session(gateway.url, source) as http:
        resp = await http.post(
            "/api/v1/auth/login", json={"email": member.email, "password": member.password}
        )
        assert resp.status == 429
    # … but it does from any other.
    async with client_session(gateway.url) as http:
        resp = await http.post(
            "/api/v1/auth/login", json={"email": member.email, "password": member.password}
        )
        assert resp.status == 200


async def test_signup_rate_limit_per_address(gateway):
    source = loopback_source()
    statuses = []
    async with client_session(gateway.url, source) as http:
        for i in range(11):
            resp = await http.post(
                "/api/v1/auth/signup",
                json={"email": unique_email("burst"), "password": PASSWORD, "display_name": f"Burst {i}"},
            )
            statuses.append(resp.status)
        assert statuses == [201] * 10 + [429]
        assert int(resp.headers["Retry-After"]) >= 1
    async with client_session(gateway.url) as other:  # another address is unaffected
        resp = await other.post(
            "/api/v1/auth/signup",
            json={"email": unique_email("other"), "password": PASSWORD, "display_name": "Other"},
        )
        assert resp.status == 201


async def test_wrong_password_and_unknown_email_answer_alike(gateway, member, http):
    wrong = await http.post(
        "/api/v1/auth/login", json={"email": member.email, "password": "not the password"}
    )
    unknown = await http.post(
        "/api/v1/auth/login", json={"email": unique_email("ghost"), "password": "whatever!!"}
    )
    assert wrong.status == unknown.status == 401
    assert await wrong.json() == await unknown.json()


async def test_duplicate_email_answers_like_a_new_signup(gateway, member, http):
    # No 409 (issue 11, L2): the answer never tells whether an address has an account.
    resp = await http.post(
        "/api/v1/auth/signup",
        json={"email": f" {member.email.upper()}", "password": PASSWORD, "display_name": "Copy"},
    )
    assert resp.status == 201 and (await resp.json())["user_id"] != member.user_id


@pytest.mark.parametrize(
    "payload,status,code",
    [
        (b"{not json", 422, "invalid"),
        (b"[1, 2]", 422, "invalid"),
        (b"", 422, "invalid"),
        (json.dumps({"email": "a@example.org", "password": PASSWORD}).encode(), 422, "invalid"),
        (
            json.dumps({"email": "a@example.org", "password": PASSWORD, "display_name": 123}).encode(),
            422,
            "invalid",
        ),
        (
            json.dumps({"email": "a@example.org", "password": 1234567890123, "display_name": "A"}).encode(),
            422,
            "invalid",
        ),
        (
            json.dumps({"email": "not-an-email", "password": PASSWORD, "display_name": "A"}).encode(),
            422,
            "invalid",
        ),
        (
            json.dumps({"email": "a@example.org", "password": "short", "display_name": "A"}).encode(),
            422,
            "invalid",
        ),
        (
            json.dumps({"email": "a@example.org", "password": PASSWORD, "display_name": "x" * 51}).encode(),
            422,
            "invalid",
        ),
        (
            json.dumps({"email": "a@example.org", "password": PASSWORD, "display_name": "   "}).encode(),
            422,
            "invalid",
        ),
        (
            json.dumps(
                {"email": "a@example.org", "password": PASSWORD, "display_name": "A", "role": "admin"}
            ).encode(),
            422,
            "invalid",
        ),
        (
            json.dumps(
                {"email": "a@example.org", "password": PASSWORD, "display_name": "A" * 100_000}
            ).encode(),
            413,
            "too_large",
        ),
    ],
)
async def test_bad_signup_bodies_get_the_error_body(http, payload, status, code):
    resp = await http.post("/api/v1/auth/signup", data=payload, headers={"Content-Type": "application/json"})
    assert resp.status == status, await resp.text()
    assert error_of(await resp.json()) == code


async def test_bad_bodies_on_other_routes(http, member):
    auth = {"Authorization": f"Bearer {member.token}"}
    for path, body in (
        ("/api/v1/auth/verify", {"token": 5}),
        ("/api/v1/auth/login", {"email": "x@y.z"}),
        ("/api/v1/auth/verify", {}),
    ):
        resp = await http.post(path, json=body)
        assert resp.status == 422 and error_of(await resp.json()) == "invalid"
    resp = await http.patch("/api/v1/me", json={"bio": ["list"]}, headers=auth)
    assert resp.status == 422 and error_of(await resp.json()) == "invalid"
    resp = await http.patch("/api/v1/me", data=b"\xff\xfe", headers=auth)
    assert resp.status == 422 and error_of(await resp.json()) == "invalid"
    resp = await http.get("/api/v1/users/abc", headers=auth)
    assert resp.status == 404 and error_of(await resp.json()) == "not_found"


async def test_profiles(gateway, smtp, member, http):
    other = await make_member(gateway.url, smtp, display_name="Grace")
    auth = {"Authorization": f"Bearer {member.token}"}
    resp = await http.patch("/api/v1/me", json={"display_name": "  Ada L. ", "bio": "Engines"}, headers=auth)
    assert resp.status == 200
    me = await resp.json()
    assert me["display_name"] == "Ada L." and me["bio"] == "Engines" and me["email"] == member.email
    assert (await (await http.get("/api/v1/me", headers=auth)).json())["display_name"] == "Ada L."

    resp = await http.get(f"/api/v1/users/{other.user_id}", headers=auth)
    public = await resp.json()
    assert resp.status == 200 and public["display_name"] == "Grace"
    assert "email" not in public and other.email not in await resp.text()
    resp = await http.get("/api/v1/users/999999999", headers=auth)
    assert resp.status == 404 and error_of(await resp.json()) == "not_found"
    assert (await http.get(f"/api/v1/users/{other.user_id}")).status == 401


async def test_openapi_covers_every_route(gateway, http):
    resp = await http.get("/api/v1/openapi.json")
    doc = await resp.json()
    assert resp.status == 200 and doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    served = set()
    for route in gateway.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method in ("HEAD", "*") or path.startswith("/socket.io") or path == "/api/v1/openapi.json":
            continue
        if (route.resource.name or "").startswith("web-"):  # the browser client's files (gateway/webapp.py)
            continue
        if route.resource.name == "media-files":  # media bytes for <img>/<video> (docs/api.md, docs/media.md)
            continue
        served.add((path, route.method))
    assert served and served <= documented, served - documented
    signup = doc["paths"]["/api/v1/auth/signup"]["post"]
    ref = signup["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(schema["required"]) == {"email", "password", "display_name"}
    assert schema["properties"]["password"]["minLength"] == 10
    assert "409" not in signup["responses"] and "429" in signup["responses"]


async def test_concurrent_signups_of_one_email_create_one_account(gateway):
    email = unique_email("race")

    async def attempt(i):
        async with client_session(gateway.url) as http:
            resp = await http.post(
                "/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "display_name": f"R{i}"}
            )
            return resp.status

    statuses = await asyncio.gather(*(attempt(i) for i in range(5)))
    assert statuses == [201] * 5  # the taken email answers alike (issue 11, L2)
    assert await User.filter(email=email).count() == 1
