"""Access tokens (JWT, HS256, signed by a key ring with ``kid``) and rotating refresh tokens in Redis.

Key ring: ``CLUBHUB_SECRET_KEY`` is one key; ``CLUBHUB_JWT_KEYS_DIR`` holds one ``<kid>.key`` file per
key, the last name in sort order signs and every one verifies, so a new key can be added (and an old
one dropped 15 minutes later) without logging anybody out. With neither, a key is generated once into
``<data_dir>/jwt-keys``.

Refresh tokens are opaque; Redis keeps their SHA-256 under ``storage.keys.refresh_token`` with the login
*family* they belong to. Each refresh marks the presented token used and issues the next one of the
family; presenting a used token again is a replay (a stolen token, or a stolen previous one) and
revokes the whole family, including its access tokens, which carry the family id in ``fam``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
import redis.asyncio as aioredis

from storage import keys
from storage.settings import Settings

ALGORITHM = "HS256"


class TokenError(Exception):
    """The token is missing, malformed, forged, expired or revoked; the message says which."""


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, bytes]
    active_kid: str

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        if settings.secret_key is not None:
            secret = settings.secret_key.get_secret_value().encode()
            kid = "k-" + hashlib.sha256(secret).hexdigest()[:12]
            return cls({kid: secret}, kid)
        keys_dir = settings.jwt_keys_dir or settings.data_path / "jwt-keys"
        if settings.jwt_keys_dir is None:
            _ensure_generated_key(keys_dir)
        keys = {p.stem: p.read_bytes().strip() for p in sorted(Path(keys_dir).glob("*.key"))}
        keys = {kid: key for kid, key in keys.items() if key}
        if not keys:
            raise RuntimeError(f"no signing keys (*.key) in {keys_dir}")
        return cls(keys, sorted(keys)[-1])


def _ensure_generated_key(keys_dir: Path) -> None:
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if any(keys_dir.glob("*.key")):
        return
    path = keys_dir / f"{time.strftime('%Y%m%d%H%M%S')}.key"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(secrets.token_urlsafe(48))
    tmp.chmod(0o600)
    tmp.replace(path)


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    family: str
    jti: str
    expires_at: int


class AccessTokens:
    def __init__(self, ring: KeyRing, ttl_s: int) -> None:
        self.ring = ring
        self.ttl_s = ttl_s

    def issue(self, user_id: int, family: str, now: float | None = None) -> str:
        iat = int(now if now is not None else time.time())
        claims = {
            "sub": str(user_id),
            "iat": iat,
            "exp": iat + self.ttl_s,
            "jti": uuid.uuid4().hex,
            "fam": family,
            "typ": "access",
        }
        return jwt.encode(
            claims,
            self.ring.keys[self.ring.active_kid],
            algorithm=ALGORITHM,
            headers={"kid": self.ring.active_kid},
        )

    def decode(self, token: str) -> AccessClaims:
        """Verify signature (by ``kid``), expiry and shape; revocation is checked by the caller."""
        if not token or not isinstance(token, str):
            raise TokenError("missing token")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise TokenError("malformed token") from None
        key = self.ring.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenError("unknown signing key")
        try:
            claims = jwt.decode(
                token, key, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat", "jti", "fam"]}
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("token expired") from None
        except jwt.PyJWTError:
            raise TokenError("invalid token") from None
        if claims.get("typ") != "access" or not str(claims["sub"]).isdigit():
            raise TokenError("invalid token")
        return AccessClaims(int(claims["sub"]), str(claims["fam"]), str(claims["jti"]), int(claims["exp"]))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Atomically claim a refresh token: returns its record, or a marker saying why it cannot be used.
# KEYS[1] = token key; ARGV[1] = now; ARGV[2] = the revoked-family key prefix. Marks it used so a second presentation is seen as a replay.
_CLAIM = """
local raw = redis.call('GET', KEYS[1])
if not raw then return {'missing', ''} end
local rec = cjson.decode(raw)
if redis.call('EXISTS', ARGV[2] .. rec['family']) == 1 then return {'revoked', raw} end
if rec['used'] then return {'replayed', raw} end
rec['used'] = tonumber(ARGV[1])
redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
return {'ok', raw}
"""


@dataclass(frozen=True)
class RefreshResult:
    user_id: int
    family: str
    token: str


class RefreshTokens:
    def __init__(self, redis: aioredis.Redis, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._claim = redis.register_script(_CLAIM)
        # async (family, reason): set by the gateway so a revoked login's open sockets are closed at once.
        self.on_revoke = None

    async def start_family(self, user_id: int) -> RefreshResult:
        family = uuid.uuid4().hex
        return RefreshResult(user_id, family, await self._issue(user_id, family))

    async def _issue(self, user_id: int, family: str) -> str:
        token = secrets.token_urlsafe(32)
        record = json.dumps({"user_id": user_id, "family": family, "used": False})
        await self.redis.set(keys.refresh_token(_digest(token)), record, ex=self.ttl_s)
        return token

    async def rotate(self, token: str) -> RefreshResult:
        """Exchange a refresh token for the next one of its family; a replay revokes the family."""
        if not token:
            raise TokenError("missing refresh token")
        state, raw = await self._claim(
            keys=[keys.refresh_token(_digest(token))],
            args=[int(time.time()), keys.REFRESH_FAMILY_REVOKED_PREFIX],
        )
        state = state.decode() if isinstance(state, bytes) else state
        if state == "missing":
            raise TokenError("unknown or expired refresh token")
        record = json.loads(raw)
        if state == "revoked":
            raise TokenError("session revoked")
        if state == "replayed":
            await self.revoke_family(record["family"], reason="revoked")
            raise TokenError("refresh token reused: every token of this login is revoked")
        return RefreshResult(
            record["user_id"], record["family"], await self._issue(record["user_id"], record["family"])
        )

    async def family_of(self, token: str) -> str | None:
        raw = await self.redis.get(keys.refresh_token(_digest(token)))
        return json.loads(raw)["family"] if raw else None

    async def revoke_family(self, family: str, reason: str = "revoked") -> None:
        """Revoke every token of a login; ``reason`` is ``logout`` or ``revoked`` (a reused refresh token)."""
        # Outlives every token of the family: refresh tokens last ttl_s, access tokens less.
        await self.redis.set(keys.refresh_family_revoked(family), 1, ex=self.ttl_s)
        if self.on_revoke is not None:
            await self.on_revoke(family, reason)

    async def is_revoked(self, family: str) -> bool:
        return bool(await self.redis.exists(keys.refresh_family_revoked(family)))

    async def revoked_among(self, families: list[str]) -> set[str]:
        """Which of these logins are revoked: one round trip for all of them."""
        if not families:
            return set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for family in families:
                pipe.exists(keys.refresh_family_revoked(family))
            found = await pipe.execute()
        return {f for f, hit in zip(families, found, strict=True) if hit}
