"""Fast unit tests of pure helpers: no services needed."""
import json
import logging

import pytest
from pydantic import ValidationError

from gateway.errors import ApiError, error_body
from gateway.logs import JsonFormatter
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
    assert tcp == {"host": "db.example", "port": 6543, "user": "alice", "password": "s@cret", "database": "clubs"}
    unix = connect_kwargs("postgresql://postgres@/clubhub?host=/tmp/x/data&port=5432", database="other")
    assert unix["host"] == "/tmp/x/data" and unix["database"] == "other" and unix["password"] is None
    creds = tortoise_config("postgresql://postgres@/clubhub?host=/tmp/x")["connections"]["default"]["credentials"]
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
    err = ApiError("rate_limited", "slow down", headers={"Retry-After": "3"})
    assert err.status == 429 and err.body() == error_body("rate_limited", "slow down")
    assert error_body("invalid", "x") == {"error": {"code": "invalid", "message": "x"}}


def test_json_log_lines_carry_extra_fields():
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.service = "redis"
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "hello you" and line["service"] == "redis" and line["level"] == "info"
