"""Account actions: signup, email verification, login, token refresh, logout, profiles.

One function per action, called by the REST handlers (and, for authentication, by Socket.IO
connect): the transports stay thin, the rules live here.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise import connections
from tortoise.exceptions import IntegrityError

from actors.domain.errors import DomainError
from gateway.core.mail import Mail, Mailer
from gateway.core.ratelimit import Backoff, FailureBackoff, RateLimiter
from gateway.core.tokens import AccessClaims, AccessTokens, KeyRing, RefreshTokens, TokenError
from storage import keys
from storage.models import DmPolicy, User
from storage.settings import Settings

log = logging.getLogger(__name__)

LOGIN_FAILED = "invalid email or password"

# Wrong passwords are counted per (account, address), not per account: failures from elsewhere never lock
# the owner out. 5 free, then 30 s, 1, 2, 4 … minutes, at most 15, forgotten a day after the last failure
# or at a successful login from that address.
LOGIN_PAIR_BACKOFF = Backoff(free=5, first_lock_s=30, max_lock_s=15 * 60, forget_s=24 * 3600)
# And per address across accounts, so one address cannot spray passwords over many accounts: 20 free, then
# 1, 2, 4 … minutes, at most an hour, forgotten an hour after the last failure.
LOGIN_ADDRESS_BACKOFF = Backoff(free=20, first_lock_s=60, max_lock_s=3600, forget_s=3600)


def normalize_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class Login:
    access_token: str
    expires_in: int
    refresh_token: str


class Accounts:
    def __init__(self, settings: Settings, redis: aioredis.Redis) -> None:
        self.settings = settings
        self.redis = redis
        self.access = AccessTokens(KeyRing.from_settings(settings), settings.access_token_ttl_s)
        self.refresh_tokens = RefreshTokens(redis, settings.refresh_token_ttl_s)
        self.limiter = RateLimiter(redis)
        self.backoff = FailureBackoff(redis)
        self.mailer = Mailer(settings, redis)
        self.hasher = PasswordHasher()
        # Verified against when the email is unknown, so both failures cost one argon2 verify.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    # -- hashing off the event loop: argon2 is deliberately slow -----------------------------
    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def _verify(self, password_hash: str, password: str) -> bool:
        def check() -> bool:
            try:
                return self.hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)

    async def _limit(self, action: str, keys: list[str]) -> None:
        s = self.settings
        await self.limiter.enforce(keys, s.auth_rate_limit, s.auth_rate_window_s, f"{action} attempts")

    # -- actions ---------------------------------------------------------------------------
    async def signup(self, email: str, password: str, display_name: str, ip: str) -> int:
        """The new account's id. An email that already has an account gets the same answer (a fresh id that
        belongs to no one, after the same argon2 hash and one mail), and its owner is told by mail: the
        answer never tells whether an address has an account."""
        email = normalize_email(email)
        await self._limit("signup", [keys.signup_by_address(ip), keys.signup_by_account(_digest(email))])
        password_hash = await self._hash(password)  # in both cases: the same work, so the same time
        existing = await User.get_or_none(email=email)
        if existing is None:
            try:
                user = await User.create(email=email, password_hash=password_hash, display_name=display_name)
            except IntegrityError:  # a concurrent signup with the same email won the race
                existing = await User.get_or_none(email=email)
        if existing is not None:
            await self._mail_or_unavailable(self._signup_attempt_mail(existing))
            return await _unused_user_id()
        try:
            await self.send_verification(user)
        except Exception:
            log.exception("verification mail failed", extra={"user_id": user.id})
            # Without the mail the account could never be verified: undo it so a retry can succeed.
            await user.delete()
            raise _mail_unavailable() from None
        return user.id

    def _signup_attempt_mail(self, user: User) -> Mail:
        login = f"{self.settings.base_url}/login"
        body = (
            f"Hello {user.display_name},\n\nsomeone tried to sign up for ClubHoloHub with this email address, "
            f"which already has an account.\n\nIf it was you, log in at {login} (or reset your password "
            f"there if you forgot it). If it was not you, you can ignore this mail: nothing was changed.\n"
        )
        return Mail(to=user.email, subject="Someone tried to sign up with your email", body=body)

    async def _mail_or_unavailable(self, mail: Mail) -> None:
        try:
            await self.mailer.send(mail)
        except Exception:
            log.exception("mail failed")
            raise _mail_unavailable() from None

    async def send_verification(self, user: User) -> None:
        token = secrets.token_urlsafe(32)
        await self.redis.set(keys.verify_token(_digest(token)), user.id, ex=self.settings.verify_token_ttl_s)
        link = f"{self.settings.base_url}/verify?token={token}"
        hours = self.settings.verify_token_ttl_s // 3600
        body = (
            f"Hello {user.display_name},\n\nconfirm your email address for ClubHoloHub by opening\n\n"
            f"{link}\n\nor by entering this code: {token}\n\nThe link works once and expires in {hours} hours.\n"
        )
        await self.mailer.send(
            Mail(to=user.email, subject="Confirm your ClubHoloHub email", body=body, link=link)
        )

    async def verify(self, token: str) -> User:
        # GETDEL: the token is consumed by its first use, even by two requests racing.
        user_id = await self.redis.getdel(keys.verify_token(_digest(token)))
        if user_id is None:
            raise DomainError("not_found", "verification token is unknown, used or expired")
        user = await User.get_or_none(id=int(user_id))
        if user is None:
            raise DomainError("not_found", "verification token is unknown, used or expired")
        if user.email_verified_at is None:
            user.email_verified_at = datetime.now(UTC)
            await user.save(update_fields=["email_verified_at", "updated_at"])
        return user

    async def login(self, email: str, password: str, ip: str) -> Login:
        """Attempts are limited per address (a window); failures back off per (account, address) and per
        address. An unknown email fails exactly like a wrong password, backoff included."""
        email = normalize_email(email)
        await self._limit("login", [keys.login_by_address(ip)])
        pair, address = keys.login_by_account_and_address(_digest(email), ip), keys.login_by_address(ip)
        await self.backoff.check([pair, address], "failed logins")
        user = await User.get_or_none(email=email)
        ok = await self._verify(user.password_hash if user else self._dummy_hash, password)
        if not (user and ok):
            await self.backoff.failed(pair, LOGIN_PAIR_BACKOFF)
            await self.backoff.failed(address, LOGIN_ADDRESS_BACKOFF)
            raise DomainError("unauthorized", LOGIN_FAILED)
        await self.backoff.succeeded(pair)
        if user.email_verified_at is None:
            raise DomainError(
                "email_unverified", "confirm your email address first: open the link we mailed you"
            )
        family = await self.refresh_tokens.start_family(user.id)
        return Login(self.access.issue(user.id, family.family), self.access.ttl_s, family.token)

    async def refresh(self, refresh_token: str | None) -> Login:
        try:
            rotated = await self.refresh_tokens.rotate(refresh_token or "")
        except TokenError as exc:
            raise DomainError("unauthorized", str(exc)) from None
        return Login(self.access.issue(rotated.user_id, rotated.family), self.access.ttl_s, rotated.token)

    async def logout(self, refresh_token: str | None, claims: AccessClaims | None) -> None:
        families = {claims.family} if claims else set()
        if refresh_token:
            family = await self.refresh_tokens.family_of(refresh_token)
            if family:
                families.add(family)
        for family in families:
            await self.refresh_tokens.revoke_family(family, reason="logout")

    async def authenticate(self, token: str | None) -> AccessClaims:
        """An access token's claims, or ``TokenError``; shared by REST and Socket.IO connect."""
        claims = self.access.decode(token or "")
        if await self.refresh_tokens.is_revoked(claims.family):
            raise TokenError("session revoked")
        return claims

    async def update_profile(
        self,
        user_id: int,
        display_name: str | None,
        bio: str | None,
        email_digest: bool | None = None,
        dm_policy: str | None = None,
    ) -> User:
        user = await self.current_user(user_id)
        fields = []
        if display_name is not None:
            user.display_name = display_name
            fields.append("display_name")
        if bio is not None:
            user.bio = bio
            fields.append("bio")
        if email_digest is not None:
            user.email_digest = email_digest
            fields.append("email_digest")
        if dm_policy is not None:
            user.dm_policy = DmPolicy(dm_policy)
            fields.append("dm_policy")
        if fields:
            await user.save(update_fields=fields + ["updated_at"])
        return user

    async def current_user(self, user_id: int) -> User:
        user = await User.get_or_none(id=user_id)
        if user is None:  # deleted after the token was issued
            raise DomainError("unauthorized", "account no longer exists")
        return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _mail_unavailable() -> DomainError:
    return DomainError("unavailable", "could not send the verification mail; please try again")


async def _unused_user_id() -> int:
    """A value from the users' id sequence, used by no one: what a new signup would have been given, so the
    answer to a signup with a taken email looks like any other."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT nextval(pg_get_serial_sequence('users', 'id')) AS id"
    )
    return int(rows[0]["id"])
