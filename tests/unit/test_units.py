"""Fast unit tests of pure helpers: no services needed."""

import json
import logging

import pytest
from pydantic import ValidationError

from actors.domain.errors import DomainError
from gateway.core.logs import JsonFormatter
from gateway.http.errors import error_body, refusal_response
from storage.mongo import database_name
from storage.postgres import connect_kwargs, tortoise_config
from storage.services import ServiceError, redact
from storage.settings import Settings


def test_settings_read_clubhub_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CLUBHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLUBHUB_REDIS_URL", "redis://example:6379/0")
    monkeypatch.setenv("CLUBHUB_PORT", "9000")
    s = Settings()
    assert s.data_path == tmp_path.resolve()
    assert s.redis_url == "redis://example:6379/0"
    assert s.port == 9000
    assert s.postgres_url is None and s.env == "dev"


def test_settings_reject_bad_values(monkeypatch):
    monkeypatch.setenv("CLUBHUB_ENV", "staging")
    with pytest.raises(ValidationError):
        Settings()


def test_postgres_url_tcp_and_unix_socket():
    tcp = connect_kwargs("postgres://alice:s%40cret@db.example:6543/clubs")
    assert tcp == {
        "host": "db.example",
        "port": 6543,
        "user": "alice",
        "password": "s@cret",
        "database": "clubs",
    }
    unix = connect_kwargs("postgresql://postgres@/clubhub?host=/tmp/x/data&port=5432", database="other")
    assert unix["host"] == "/tmp/x/data" and unix["database"] == "other" and unix["password"] is None
    creds = tortoise_config("postgresql://postgres@/clubhub?host=/tmp/x")["connections"]["default"][
        "credentials"
    ]
    assert creds["host"] == "/tmp/x" and creds["database"] == "clubhub"
    with pytest.raises(ValueError):
        connect_kwargs("mysql://x@y/z")


def test_mongo_database_from_url():
    assert database_name("mongodb://h:1/clubs", "clubhub") == "clubs"
    assert database_name("mongodb://h:1/", "clubhub") == "clubhub"


def test_redact_hides_password_only():
    assert redact("postgres://u:pw@h:5/d") == "postgres://u:***@h:5/d"
    assert redact("redis://127.0.0.1:1/0") == "redis://127.0.0.1:1/0"


def test_service_error_is_one_line_naming_the_service():
    err = ServiceError("redis", "failed\nto start\n  here")
    assert str(err) == "redis: failed to start here"


def test_error_body_and_status():
    resp = refusal_response(DomainError("rate_limited", "slow down", retry_after=3))
    assert resp.status == 429 and resp.headers["Retry-After"] == "3"
    assert json.loads(resp.text) == error_body("rate_limited", "slow down")
    assert error_body("invalid", "x") == {"error": {"code": "invalid", "message": "x"}}


def test_json_log_lines_carry_extra_fields():
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.service = "redis"
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "hello you" and line["service"] == "redis" and line["level"] == "info"


def test_key_ring_rotation_keeps_old_tokens_valid(tmp_path):
    from gateway.core.tokens import AccessTokens, KeyRing, TokenError

    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "2026-01.key").write_text("first-secret-0123456789")
    old = AccessTokens(KeyRing.from_settings(Settings(jwt_keys_dir=keys)), 900)
    token = old.issue(7, "fam")
    (keys / "2026-02.key").write_text("second-secret-0123456789")
    ring = KeyRing.from_settings(Settings(jwt_keys_dir=keys))
    assert ring.active_kid == "2026-02"
    new = AccessTokens(ring, 900)
    assert new.decode(token).user_id == 7  # signed by the previous key, still valid
    assert __import__("jwt").get_unverified_header(new.issue(7, "fam"))["kid"] == "2026-02"
    (keys / "2026-01.key").unlink()  # retired after the access-token lifetime
    with pytest.raises(TokenError):
        AccessTokens(KeyRing.from_settings(Settings(jwt_keys_dir=keys)), 900).decode(token)


def test_generated_key_is_made_once(tmp_path):
    from gateway.core.tokens import KeyRing

    first = KeyRing.from_settings(Settings(data_dir=tmp_path))
    second = KeyRing.from_settings(Settings(data_dir=tmp_path))
    assert first == second and len(first.keys) == 1


def test_production_needs_a_real_secret_and_smtp():
    from gateway.cli import check_production

    assert check_production(Settings(env="dev")) is None
    assert "SECRET_KEY" in check_production(Settings(env="prod", smtp_url="smtp://m:25"))
    assert "SMTP" in check_production(Settings(env="prod", secret_key="s" * 32))
    assert "32 bytes" in check_production(Settings(env="prod", secret_key="s" * 31, smtp_url="smtp://m:25"))
    assert check_production(Settings(env="prod", secret_key="s" * 32, smtp_url="smtp://m:25")) is None


def test_dev_mailbox_route_exists_only_in_dev():
    from gateway.app import build_api

    def paths(env):
        return {op.path for op in build_api(Settings(env=env)).operations}

    assert "/api/v1/dev/mailbox" in paths("dev")
    assert "/api/v1/dev/mailbox" not in paths("prod")


def test_payload_schemas_normalise_and_refuse():
    from gateway.schemas.accounts import MePatch, SignupIn

    ok = SignupIn(email="Ada@Example.ORG", password="x" * 10, display_name="  Ada  ")
    assert ok.display_name == "Ada"
    for bad in ({"display_name": "a\x00b"}, {"display_name": "two\nlines"}, {"bio": "x" * 501}):
        with pytest.raises(ValidationError):
            MePatch(**bad)
