"""Club actions: create, search, join (public or by invite), leave, members and roles, rooms,
moderation (timeouts, bans) and the audit log. One function per action; REST calls them.

Membership changes reach live state at once: every room shard refreshes the member, and the
member's sockets on every gateway leave the club's rooms when they are banned or leave.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from pymongo.errors import DuplicateKeyError
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from actors.client import ActorClient
from actors.domain.errors import DomainError
from actors.domain.roles import can, can_act_on, require
from gateway.core.broadcast import KICK_EVENT
from storage import mongo as mongo_store
from storage import visibility
from storage.models import (
    Club,
    ClubBan,
    ClubInvite,
    Event,
    EventStatus,
    Membership,
    Role,
    Room,
    User,
    Visibility,
)
from storage.visibility import find_club, role_of

from .achievements import record_activity
from .interactions import Interactions
from .lookup import visible_club, visible_room

# Ranked full-text search over clubs the caller can see ({visible}: the visibility rule), with a keyset cursor.
SEARCH_SQL = """
            SELECT * FROM (
                SELECT c.id, c.name, c.description, c.visibility, c.created_at, c.created_by_id,
                       CASE WHEN $1 = '' THEN 0::float4
                            ELSE ts_rank(to_tsvector('english', c.name || ' ' || c.description),
                                         plainto_tsquery('english', $1)) END AS rank
                FROM clubs c
                WHERE ($1 = '' OR to_tsvector('english', c.name || ' ' || c.description)
                                  @@ plainto_tsquery('english', $1))
                  AND {visible}
            ) ranked
            WHERE $3::float4 IS NULL OR ranked.rank < $3::float4 OR (ranked.rank = $3::float4 AND ranked.id < $4)
            ORDER BY ranked.rank DESC, ranked.id DESC
            LIMIT $5
"""

# What a club card shows besides the club: its member count and the caller's role, and its next event (the
# soonest that has not ended). One query each for a whole page of clubs; the clubs are visible to the caller,
# so are their events.
CARD_MEMBERS_SQL = """
            SELECT club_id, count(*) AS members, max(CASE WHEN user_id = $2 THEN role END) AS my_role
            FROM memberships WHERE club_id = ANY($1::bigint[]) GROUP BY club_id
"""
CARD_NEXT_EVENT_SQL = """
            SELECT DISTINCT ON (club_id) club_id, id, title, starts_at, status
            FROM events WHERE club_id = ANY($1::bigint[]) AND ends_at >= $2 AND status <> 'ended'
            ORDER BY club_id, starts_at, id
"""


def now() -> datetime:
    return datetime.now(UTC)


def club_out(club: Club, role: str | None = None, member_count: int | None = None) -> dict:
    out = {
        "id": club.id,
        "name": club.name,
        "description": club.description,
        "visibility": club.visibility.value if hasattr(club.visibility, "value") else club.visibility,
        "created_at": club.created_at.isoformat(),
        "created_by": club.created_by_id,
    }
    if role is not None or member_count is not None:
        out["my_role"] = role
        out["member_count"] = member_count
    return out


def room_out(room: Room) -> dict:
    return {"id": room.id, "club_id": room.club_id, "name": room.name, "slow_mode_s": room.slow_mode_s}


def _encode_cursor(rank: float, club_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([rank, club_id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, int]:
    try:
        rank, club_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (abs(float(rank)) <= 3.4e38 and 1 <= int(club_id) < 2**63):  # float4 and bigint (M3)
            raise ValueError("cursor out of range")
        return float(rank), int(club_id)
    except (ValueError, TypeError, RecursionError):
        raise DomainError("invalid", "cursor is not one this API gave out") from None


class Clubs:
    """``emit``: ``async (event, data, room=...)``, the Socket.IO server's emit (reaches every gateway)."""

    def __init__(self, actors: ActorClient, interactions: Interactions, redis, mongo_db, emit) -> None:
        self.actors = actors
        self.interactions = interactions
        self.redis = redis
        self.audit_log = mongo_db[mongo_store.AUDIT_LOG]
        self.emit = emit

    # -- lookups -----------------------------------------------------------------------------
    async def club(self, club_id: int) -> Club:
        """The club whatever its visibility (joining with an invite needs it); others use ``visible_club``."""
        club = await find_club(club_id)
        if club is None:
            raise DomainError("not_found", f"no such club: {club_id}")
        return club

    # -- clubs ---------------------------------------------------------------------------------
    async def create(self, user_id: int, name: str, description: str, visibility: str) -> dict:
        async with in_transaction():
            club = await Club.create(
                name=name, description=description, visibility=Visibility(visibility), created_by_id=user_id
            )
            await Membership.create(club=club, user_id=user_id, role=Role.owner)
            await Room.create(club=club, name="general")
        await self._activity(user_id, "club_founded", club.id)
        return club_out(club, "owner", 1)

    async def get(self, club_id: int, user_id: int) -> dict:
        club, role = await visible_club(club_id, user_id)
        return club_out(club, role, await Membership.filter(club_id=club_id).count())

    async def search(self, user_id: int, q: str, limit: int, cursor: str | None) -> dict:
        """Ranked full-text search over name and description (PostgreSQL ``tsvector``), public clubs
        and the caller's own private ones, newest first when there is no query; keyset cursor."""
        after_rank, after_id = _decode_cursor(cursor) if cursor else (None, None)
        conn = connections.get("default")
        # The visibility rule is a fixed SQL fragment from storage.visibility, never user input; every value
        # ($1 to $5) is a bound parameter.
        sql = SEARCH_SQL.format(visible=visibility.visible_club_sql("c", "$2"))
        rows = await conn.execute_query_dict(sql, [q.strip(), user_id, after_rank, after_id, limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        items = [
            {
                "id": r["id"],
                "name": r["name"],
                "description": r["description"],
                "visibility": r["visibility"],
                "created_at": r["created_at"].isoformat(),
                "created_by": r["created_by_id"],
                "score": round(float(r["rank"]), 6),
            }
            for r in rows
        ]
        await self._card_details(items, user_id)
        next_cursor = _encode_cursor(float(rows[-1]["rank"]), rows[-1]["id"]) if more and rows else None
        return {"items": items, "next_cursor": next_cursor}

    async def _card_details(self, items: list[dict], user_id: int) -> None:
        """Adds ``member_count``, ``my_role`` and ``next_event`` to each club of a search page (in place)."""
        if not items:
            return
        conn = connections.get("default")
        ids = [item["id"] for item in items]
        members = {r["club_id"]: r for r in await conn.execute_query_dict(CARD_MEMBERS_SQL, [ids, user_id])}
        events = {r["club_id"]: r for r in await conn.execute_query_dict(CARD_NEXT_EVENT_SQL, [ids, now()])}
        for item in items:
            m = members.get(item["id"])
            item["member_count"] = int(m["members"]) if m else 0
            item["my_role"] = m["my_role"] if m else None
            e = events.get(item["id"])
            item["next_event"] = (
                {
                    "id": e["id"],
                    "title": e["title"],
                    "starts_at": e["starts_at"].isoformat(),
                    "status": e["status"],
                }
                if e
                else None
            )

    async def join(self, club_id: int, user_id: int, invite_code: str | None) -> dict:
        club = await self.club(club_id)
        role = await role_of(club_id, user_id)
        if role is None:
            banned = await ClubBan.exists(club_id=club_id, user_id=user_id)
            if club.visibility == Visibility.private:
                # Without a valid invite (or when banned) an outsider learns nothing: the answer is that of
                # a club that does not exist.
                invite = await ClubInvite.get_or_none(club_id=club_id, code=invite_code or "")
                if (
                    banned
                    or invite is None
                    or invite.revoked_at is not None
                    or (invite.expires_at is not None and invite.expires_at <= now())
                ):
                    raise DomainError("not_found", f"no such club: {club_id}")
            elif banned:
                raise DomainError("forbidden", "you are banned from this club")
            try:
                await Membership.create(club_id=club_id, user_id=user_id, role=Role.member)
            except IntegrityError:
                pass  # joined twice at once: the first one counts
            await self.actors.member_changed(club_id, user_id)
            await self.interactions.signal(user_id, "club", club_id, "join")
            role = "member"
        return club_out(club, role, await Membership.filter(club_id=club_id).count())

    async def join_by_invite(self, user_id: int, invite_code: str) -> dict:
        """Join with nothing but an invite code (codes are unique across clubs)."""
        invite = await ClubInvite.get_or_none(code=invite_code)
        if invite is None:
            raise DomainError("not_found", "no such invite code")
        return await self.join(invite.club_id, user_id, invite_code)

    async def mine(self, user_id: int) -> list[dict]:
        """The clubs the user belongs to, with their role, by name."""
        rows = await Membership.filter(user_id=user_id).prefetch_related("club").order_by("club__name")
        return [club_out(m.club, _role(m.role)) for m in rows]

    async def leave(self, club_id: int, user_id: int) -> None:
        _, role = await visible_club(club_id, user_id)
        if not can(role, "leave"):
            raise DomainError("not_found", "you are not a member of this club")
        if role == "owner":
            raise DomainError("conflict", "the owner must hand over ownership before leaving")
        await Membership.filter(club_id=club_id, user_id=user_id).delete()
        await self._removed(club_id, user_id, "left the club")

    async def members(self, club_id: int, user_id: int) -> list[dict]:
        _, role = await visible_club(club_id, user_id)
        # Timeouts are moderation business: only those who may time members out see them (null for others).
        show_timeouts = can(role, "timeout")
        rows = (
            await Membership.filter(club_id=club_id)
            .order_by("joined_at", "id")
            .values("user_id", "role", "joined_at", "muted_until", "user__display_name")
        )
        online = set(await self.actors.online_users([r["user_id"] for r in rows]))
        return [
            {
                "user_id": r["user_id"],
                "display_name": r["user__display_name"],
                "role": _role(r["role"]),
                "joined_at": r["joined_at"].isoformat(),
                "muted_until": r["muted_until"].isoformat() if show_timeouts and r["muted_until"] else None,
                "online": r["user_id"] in online,
            }
            for r in rows
        ]

    async def set_role(self, club_id: int, actor_id: int, target_id: int, role: str) -> dict:
        _, actor_role = await visible_club(club_id, actor_id)
        require(actor_role, "set_role")
        target = await Membership.get_or_none(club_id=club_id, user_id=target_id)
        if target is None:
            raise DomainError("not_found", "that user is not a member of this club")
        if target_id == actor_id:
            raise DomainError(
                "invalid", "choose another member: the owner's role changes by handing ownership over"
            )
        if role == "owner":
            require(actor_role, "transfer_ownership")
        async with in_transaction():
            if role == "owner":  # hand-over: the previous owner stays on as a moderator
                await Membership.filter(club_id=club_id, user_id=actor_id).update(role=Role.moderator)
            await Membership.filter(club_id=club_id, user_id=target_id).update(role=Role(role))
        await self.audit(club_id, actor_id, "set_role", target_id, details={"role": role})
        for uid in (actor_id, target_id):
            await self.actors.member_changed(club_id, uid)
        return {"user_id": target_id, "role": role}

    async def _moderate(self, club_id: int, actor_id: int, target_id: int, action: str) -> Membership | None:
        _, actor_role = await visible_club(club_id, actor_id)
        require(actor_role, action)
        assert actor_role is not None  # require refuses an outsider
        target = await Membership.get_or_none(club_id=club_id, user_id=target_id)
        target_role = target.role.value if target else None
        if not can_act_on(actor_role, target_role):
            raise DomainError("forbidden", f"a {actor_role} cannot {action} a {target_role}")
        return target

    async def ban(self, club_id: int, actor_id: int, target_id: int, reason: str) -> dict:
        await self._moderate(club_id, actor_id, target_id, "ban")
        if not await User.exists(id=target_id):
            raise DomainError("not_found", f"no such user: {target_id}")
        async with in_transaction():
            await Membership.filter(club_id=club_id, user_id=target_id).delete()
            try:
                await ClubBan.create(
                    club_id=club_id, user_id=target_id, reason=reason, created_by_id=actor_id
                )
            except IntegrityError:
                pass  # already banned
        await self.audit(club_id, actor_id, "ban", target_id, reason)
        await self._removed(club_id, target_id, "banned")
        return {"user_id": target_id, "banned": True}

    async def timeout(self, club_id: int, actor_id: int, target_id: int, minutes: int, reason: str) -> dict:
        target = await self._moderate(club_id, actor_id, target_id, "timeout")
        if target is None:
            raise DomainError("not_found", "that user is not a member of this club")
        until = now() + timedelta(minutes=minutes) if minutes else None
        await Membership.filter(id=target.id).update(muted_until=until)
        await self.audit(club_id, actor_id, "timeout", target_id, reason, {"minutes": minutes})
        await self.actors.member_changed(club_id, target_id)
        return {"user_id": target_id, "muted_until": until.isoformat() if until else None}

    async def create_invite(self, club_id: int, actor_id: int, expires_in_s: int | None) -> dict:
        require((await visible_club(club_id, actor_id))[1], "create_invite")
        expires = now() + timedelta(seconds=expires_in_s) if expires_in_s else None
        invite = await ClubInvite.create(
            club_id=club_id, code=secrets.token_urlsafe(12), created_by_id=actor_id, expires_at=expires
        )
        await self.audit(club_id, actor_id, "create_invite", None, details={"expires_at": str(expires)})
        return {"code": invite.code, "expires_at": expires.isoformat() if expires else None}

    async def revoke_invite(self, club_id: int, actor_id: int, code: str) -> None:
        require((await visible_club(club_id, actor_id))[1], "revoke_invite")
        updated = await ClubInvite.filter(club_id=club_id, code=code, revoked_at=None).update(
            revoked_at=now()
        )
        if not updated:
            raise DomainError("not_found", "no such active invite")
        await self.audit(club_id, actor_id, "revoke_invite", None)

    # -- rooms ---------------------------------------------------------------------------------
    async def rooms(self, club_id: int, user_id: int) -> list[dict]:
        await visible_club(club_id, user_id)
        # A finished live session's room (``live-<event id>``) is history, not a place to talk: it stays
        # readable through its event, but the club's room list leaves it out.
        finished = Event.filter(club_id=club_id, status=EventStatus.ended, room_id__not_isnull=True)
        done = set(await finished.values_list("room_id", flat=True))
        return [room_out(r) for r in await Room.filter(club_id=club_id).order_by("id") if r.id not in done]

    async def create_room(self, club_id: int, actor_id: int, name: str, slow_mode_s: int) -> dict:
        require((await visible_club(club_id, actor_id))[1], "create_room")
        try:
            room = await Room.create(club_id=club_id, name=name, slow_mode_s=slow_mode_s)
        except IntegrityError:
            raise DomainError("conflict", f"the club already has a room named {name!r}") from None
        await self.audit(club_id, actor_id, "create_room", None, details={"room_id": room.id, "name": name})
        return room_out(room)

    async def set_slow_mode(self, room_id: int, actor_id: int, slow_mode_s: int) -> dict:
        room, club, role = await visible_room(room_id, actor_id)
        if club is None:
            raise DomainError("forbidden", "a direct message has no slow mode")
        require(role, "set_slow_mode")
        room.slow_mode_s = slow_mode_s
        await room.save(update_fields=["slow_mode_s"])
        await self.audit(
            club.id,
            actor_id,
            "set_slow_mode",
            None,
            details={"room_id": room_id, "slow_mode_s": slow_mode_s},
        )
        await self.actors.room_changed(room_id)
        return room_out(room)

    # -- audit log -----------------------------------------------------------------------------
    async def audit(
        self,
        club_id: int,
        actor_id: int,
        action: str,
        target_user_id: int | None,
        reason: str = "",
        details: dict | None = None,
    ) -> None:
        entry = {
            "club_id": club_id,
            "actor_id": actor_id,
            "action": action,
            "target_user_id": target_user_id,
            "reason": reason,
            "details": details or {},
            "ts": now(),
        }
        # A fixed _id makes the retry idempotent: a duplicate key means the first attempt landed.
        entry["_id"] = ObjectId()
        try:
            await mongo_store.retry_once(lambda: self.audit_log.insert_one(entry))
        except DuplicateKeyError:
            pass

    async def audit_entries(self, club_id: int, actor_id: int, limit: int) -> list[dict]:
        require((await visible_club(club_id, actor_id))[1], "view_audit")

        async def read():
            cursor = self.audit_log.find({"club_id": club_id}).sort("ts", -1).limit(limit)
            return [d async for d in cursor]

        return [
            {
                "actor_id": d["actor_id"],
                "action": d["action"],
                "target_user_id": d.get("target_user_id"),
                "reason": d.get("reason", ""),
                "details": d.get("details", {}),
                "ts": _epoch_ms(d["ts"]),
            }
            for d in await mongo_store.retry_once(read)
        ]

    # -- live effects --------------------------------------------------------------------------
    async def _removed(self, club_id: int, user_id: int, reason: str) -> None:
        """The user's sockets leave the club's rooms on every gateway, and the shards forget them."""
        await self.actors.member_changed(club_id, user_id)
        room_ids = await Room.filter(club_id=club_id).values_list("id", flat=True)
        await self.emit(KICK_EVENT, {"room_ids": list(room_ids), "reason": reason}, room=f"user:{user_id}")

    async def _activity(self, user_id: int, kind: str, ref: int) -> None:
        await record_activity(self.redis, user_id, kind, ref)


def _role(value) -> str:
    return value.value if hasattr(value, "value") else str(value)


def _epoch_ms(when: datetime) -> int:
    """``ts`` is epoch milliseconds everywhere in the API; the driver hands back naive UTC datetimes."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)
