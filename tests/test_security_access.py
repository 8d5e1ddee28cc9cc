"""Issue 11, access findings: login lockout (L1), signup enumeration (L2), private clubs confirmable by
outsiders (L3), forged feed signals (L4), timeouts in public member lists, summaries in event lists (H2) and
the event list's visibility filter. Each test fails on the code before its fix."""
import uuid

import pytest

from conftest import client_session, loopback_source, unique_email
from storage.models import User

PASSWORD = "correct horse battery"


def error_of(body):
    return body["error"]["code"]


async def login(base_url, email, password, source=None):
    async with client_session(base_url, source) as http:
        resp = await http.post("/api/v1/auth/login", json={"email": email, "password": password})
        return resp.status, await resp.json(), resp.headers


# -- L1 --------------------------------------------------------------------------------------------------

async def test_L1_failed_logins_do_not_lock_out_owner(gateway, member):
    # Ten wrong passwords, each from another address: before the fix the account was locked for everyone.
    for _ in range(10):
        status, body, _ = await login(gateway.url, member.email, "wrong password!")
        assert status == 401 and error_of(body) == "unauthorized"
    # Ten more from one address: that (account, address) backs off, 429 with Retry-After …
    attacker = loopback_source()
    statuses = [(await login(gateway.url, member.email, "wrong password!", attacker))[0] for _ in range(6)]
    assert statuses == [401] * 6
    status, body, headers = await login(gateway.url, member.email, member.password, attacker)
    assert status == 429 and error_of(body) == "rate_limited"
    assert 1 <= int(headers["Retry-After"]) <= 30 and f"{headers['Retry-After']}s" in body["error"]["message"]
    # … while the owner, from their own address, logs in.
    status, body, _ = await login(gateway.url, member.email, member.password)
    assert status == 200 and body["access_token"]


async def test_L1_one_address_cannot_spray_many_accounts(gateway, member):
    sprayer = loopback_source()
    statuses = [(await login(gateway.url, unique_email("spray"), "wrong password!", sprayer))[0] for _ in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    status, _, _ = await login(gateway.url, member.email, member.password)  # others are unaffected
    assert status == 200


async def test_L1_failure_backoff_doubles_and_is_capped(gateway):
    from gateway.errors import ApiError
    from gateway.ratelimit import Backoff, FailureBackoff

    backoff = FailureBackoff(gateway.backends.stores.redis, prefix=f"test:fail:{uuid.uuid4().hex}:")
    policy = Backoff(free=2, first_lock_s=30, max_lock_s=100, forget_s=60)
    assert [await backoff.failed("k", policy) for _ in range(6)] == [0, 0, 30, 60, 100, 100]
    with pytest.raises(ApiError) as refused:
        await backoff.check(["other", "k"], "failed logins")
    assert refused.value.code == "rate_limited" and 1 <= int(refused.value.headers["Retry-After"]) <= 100
    await backoff.check(["other"], "failed logins")  # another key is not locked
    await backoff.succeeded("k")  # forgets the count (the lock runs out by itself)
    assert await backoff.failed("k", policy) == 0


# -- L2 --------------------------------------------------------------------------------------------------

async def test_L2_signup_does_not_enumerate_accounts(gateway, smtp, member):
    async def signup(email, password, name):
        async with client_session(gateway.url) as http:
            resp = await http.post("/api/v1/auth/signup",
                                   json={"email": email, "password": password, "display_name": name})
            return resp.status, await resp.json()

    fresh_status, fresh = await signup(unique_email("fresh"), PASSWORD, "Fresh")
    taken_status, taken = await signup(f" {member.email.upper()}", "another password 123", "Copycat")
    assert fresh_status == taken_status == 201
    assert set(fresh) == set(taken) == {"user_id"} and isinstance(taken["user_id"], int)
    # The id is a fresh value of the users' sequence: it names no account, and the next signup comes after it.
    assert taken["user_id"] not in (member.user_id, fresh["user_id"]) and taken["user_id"] > fresh["user_id"]
    assert not await User.exists(id=taken["user_id"])
    _, after = await signup(unique_email("after"), PASSWORD, "After")
    assert after["user_id"] > taken["user_id"]
    # The owner is told by mail; the account is untouched.
    told = await smtp.wait_for(member.email, count=2)
    assert "tried to sign up" in told["Subject"].lower() + told.get_content().lower()
    assert "log in" in told.get_content() and "/verify?token=" not in told.get_content()
    assert (await login(gateway.url, member.email, "another password 123"))[0] == 401
    assert (await login(gateway.url, member.email, member.password))[0] == 200
    user = await User.get(id=member.user_id)
    assert user.display_name == member.display_name
