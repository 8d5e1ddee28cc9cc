"""The Redis keyspace (storage/keys.py) keeps the exact strings the stored data was written under: a renamed
key would orphan refresh tokens, read marks, rate limits and the feed's signals on an upgrade. Each expected
string below is the literal the modules wrote before the keyspace moved into one module."""

from storage import keys


def test_key_strings_are_the_ones_stored_data_uses():
    assert keys.refresh_token("d1") == "clubhub:rt:d1"
    assert keys.refresh_family_revoked("fam") == "clubhub:rtfam:revoked:fam"
    assert keys.REFRESH_FAMILY_REVOKED_PREFIX == "clubhub:rtfam:revoked:"
    assert keys.verify_token("d2") == "clubhub:verify:d2"
    assert keys.dev_mailbox(" A@Example.org ") == "clubhub:devmail:a@example.org"
    assert keys.rate_limit("signup:ip:1.2.3.4") == "clubhub:rl:signup:ip:1.2.3.4"
    assert keys.failure_count("login:ip:1.2.3.4") == "clubhub:fail:login:ip:1.2.3.4"
    assert keys.failure_lock("login:ip:1.2.3.4") == "clubhub:fail:lock:login:ip:1.2.3.4"
    assert keys.signup_by_address("1.2.3.4") == "signup:ip:1.2.3.4"
    assert keys.signup_by_account("dg") == "signup:acct:dg"
    assert keys.login_by_address("1.2.3.4") == "login:ip:1.2.3.4"
    assert keys.login_by_account_and_address("dg", "1.2.3.4") == "login:dg:1.2.3.4"
    assert keys.gateway_heartbeat("gw-1") == "clubhub:gw:gw-1"
    assert keys.ROOM_LAST_SEQ == "clubhub:room_last_seq"
    assert keys.read_marks(7) == "clubhub:read:7"
    assert keys.ACTIVITY_STREAM == "clubhub:activity"
    assert keys.activity_counts(7) == "clubhub:activity_counts:7"
    assert keys.INTERACTIONS_STREAM == "clubhub:interactions"
    assert keys.POPULARITY == "clubhub:pop"
    assert keys.TRENDING == "clubhub:trending"
    assert keys.affinity(7) == "clubhub:aff:7"
    assert keys.user_embedding(3, 7) == "clubhub:uemb:3:7"
    assert keys.user_embedding_ready(3) == "clubhub:uemb-ready:3"
    assert keys.applied("20261201") == "clubhub:applied-by:20261201"


def test_every_key_lives_in_the_namespace():
    prefixes = [v for name, v in vars(keys).items() if name.isupper() and isinstance(v, str) and ":" in v]
    assert prefixes and all(p.startswith(keys.NAMESPACE) for p in prefixes), prefixes
