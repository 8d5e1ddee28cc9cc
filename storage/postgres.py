"""PostgreSQL through Tortoise ORM (asyncpg): connection config, migrations (aerich), lifecycle."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg
from tortoise import Tortoise, connections
from tortoise import context as tortoise_context

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
MODEL_MODULES = ["storage.models", "aerich.models"]
# Any fixed 64-bit number: serialises migrations between gateways starting at the same time.
MIGRATION_LOCK_ID = 0x436C7562487562


def connect_kwargs(url: str, database: str | None = None) -> dict:
    """asyncpg/Tortoise credentials from ``postgres://user:pass@host:port/db`` or a libpq-style
    unix-socket URL ``postgresql://user@/db?host=/socket/dir&port=5432``."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://…")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return {
        "host": query.get("host") or parts.hostname or "localhost",
        "port": int(query.get("port") or parts.port or 5432),
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or "") or None,
        "database": database or unquote(parts.path.lstrip("/")) or "postgres",
    }


def tortoise_config(url: str, database: str | None = None) -> dict:
    creds = connect_kwargs(url, database)
    # Tortoise ignores ``?host=`` in a db_url, so a unix-socket server needs the credentials form.
    return {
        "connections": {
            "default": {
                "engine": "tortoise.backends.asyncpg",
                "credentials": {**creds, "password": creds["password"] or "", "minsize": 1, "maxsize": 10},
            }
        },
        "apps": {"models": {"models": MODEL_MODULES, "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


async def ensure_database(url: str, database: str | None = None) -> None:
    """Create the database when the server lacks it (fresh embedded server, fresh test database)."""
    creds = connect_kwargs(url, database)
    name = creds["database"]
    try:
        conn = await asyncpg.connect(**creds, timeout=10)
        await conn.close()
        return
    except asyncpg.InvalidCatalogNameError:
        pass
    admin = await asyncpg.connect(**{**creds, "database": "postgres"}, timeout=10)
    try:
        # Identifiers cannot be bound parameters; quote_ident-style quoting of a name we were given.
        quoted = '"' + name.replace('"', '""') + '"'
        await admin.execute(f"CREATE DATABASE {quoted}")
    except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
        # Another gateway created it meanwhile: two starting at once on a fresh server both saw none, and the
        # loser of the race in pg_database's unique index gets a unique violation, not "already exists".
        pass
    finally:
        await admin.close()


async def drop_database(url: str, database: str) -> None:
    creds = connect_kwargs(url, "postgres")
    admin = await asyncpg.connect(**creds, timeout=10)
    try:
        quoted = '"' + database.replace('"', '""') + '"'
        await admin.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        await admin.close()


async def init_postgres(
    url: str, database: str | None = None, migrate: bool = True, timed: bool = False
) -> list[str]:
    """Apply pending aerich migrations, then open Tortoise's connections for the whole process;
    returns the migrations applied. ``timed``: each query of the pool is reported to the process's
    PostgreSQL listeners (storage.timing) — when this call is the one that opens the pool."""
    await ensure_database(url, database)
    config = tortoise_config(url, database)
    # In a task of its own: aerich initialises a Tortoise context of its own, which must not
    # become the context of the caller.
    applied = await asyncio.create_task(_migrate(url, database, config)) if migrate else []
    await init_tortoise(timed_config(config) if timed else config)
    if applied:
        log.info("applied migrations", extra={"migrations": applied})
    return applied


def timed_config(config: dict) -> dict:
    """``config`` with asyncpg's pool ``init`` hook adding the query logger of storage.timing to each new
    connection (Tortoise hands unknown credentials to ``asyncpg.create_pool``). Only for the process's own
    pool: aerich's migration pool gets the plain config."""
    from .timing import instrument_postgres_connection

    default = config["connections"]["default"]
    credentials = {**default["credentials"], "init": instrument_postgres_connection}
    return {
        **config,
        "connections": {**config["connections"], "default": {**default, "credentials": credentials}},
    }


async def init_tortoise(config: dict) -> None:
    """Tortoise 1.x scopes its state to the task that initialised it; ClubHoloHub uses one
    process-wide context (request handlers and actor calls each run in tasks of their own)."""
    if tortoise_context._global_context is None:
        await Tortoise.init(config=config, _enable_global_fallback=True)


async def _migrate(url: str, database: str | None, config: dict) -> list[str]:
    from aerich import Command

    # A session-level advisory lock needs one connection for lock and unlock, not the pool.
    lock_conn = await asyncpg.connect(**connect_kwargs(url, database), timeout=10)
    try:
        await lock_conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
        command = Command(tortoise_config=config, app="models", location=str(MIGRATIONS))
        await command.init()
        return await command.upgrade(run_in_transaction=True)
    finally:
        await Tortoise.close_connections()  # aerich's context, this task's own
        await lock_conn.close()  # closing the session releases the lock


async def ping_postgres() -> None:
    await connections.get("default").execute_query("SELECT 1")


async def close_postgres() -> None:
    ctx = tortoise_context._global_context
    if ctx is not None:
        await ctx.close_connections()
