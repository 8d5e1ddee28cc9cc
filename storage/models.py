"""Relational data (PostgreSQL via Tortoise ORM): users, clubs, memberships, rooms, events, RSVPs,
achievements. Messages, interactions and the audit log live in MongoDB (``storage.mongo``).

Schema changes go through aerich migrations in ``storage/migrations``; never edit a released one.
Each foreign key is annotated with its relation and its ``<name>_id`` column (Tortoise sets both at run
time; the annotations tell the type checker, and change no schema).
"""

from __future__ import annotations

import uuid
from enum import Enum

from tortoise import fields
from tortoise.models import Model


class Role(str, Enum):  # noqa: UP042 (a StrEnum would change str(member), which callers format)
    owner = "owner"
    moderator = "moderator"
    member = "member"


class Visibility(str, Enum):  # noqa: UP042 (a StrEnum would change str(member), which callers format)
    public = "public"
    private = "private"


class RsvpStatus(str, Enum):  # noqa: UP042 (a StrEnum would change str(member), which callers format)
    going = "going"
    waitlisted = "waitlisted"
    cancelled = "cancelled"


class EventStatus(str, Enum):  # noqa: UP042 (a StrEnum would change str(member), which callers format)
    scheduled = "scheduled"
    live = "live"
    ended = "ended"
    cancelled = "cancelled"


class RoomKind(str, Enum):  # noqa: UP042 (a StrEnum would change str(member), which callers format)
    club = "club"
    dm = "dm"  # a direct-message room: no club, a fixed set of people (``DmMember``)


class DmPolicy(str, Enum):  # noqa: UP042 (a StrEnum would change str(member), which callers format)
    everyone = "everyone"
    club_members = "club_members"  # people who share a club with you
    nobody = "nobody"


class ReportStatus(str, Enum):  # noqa: UP042 (a StrEnum would change str(member), which callers format)
    open = "open"
    resolved = "resolved"  # an action was taken (delete, timeout, ban)
    dismissed = "dismissed"


class NotifyLevel(str, Enum):  # noqa: UP042 (a StrEnum would change str(member), which callers format)
    all = "all"
    mentions = "mentions"
    none = "none"  # mutes even mentions (not DMs)


class User(Model):
    id = fields.BigIntField(primary_key=True)
    # Stored normalized (lower-cased, trimmed) so the unique index is case-insensitive in effect.
    email = fields.CharField(max_length=320, unique=True)
    password_hash = fields.CharField(max_length=255)
    display_name = fields.CharField(max_length=50)
    bio = fields.CharField(max_length=500, default="")
    email_verified_at = fields.DatetimeField(null=True)
    # Unread mentions (and DMs) by mail after a while; off through the settings or the mail's own link.
    email_digest = fields.BooleanField(default=True)
    # Who may open a direct message with this user (checked on open and on every send).
    dm_policy = fields.CharEnumField(DmPolicy, max_length=16, default=DmPolicy.club_members)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "users"


class Club(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=100)
    description = fields.TextField(default="")
    visibility = fields.CharEnumField(Visibility, max_length=16, default=Visibility.public)
    created_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="clubs_created", on_delete=fields.RESTRICT
    )
    created_by_id: int
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "clubs"


class Membership(Model):
    id = fields.BigIntField(primary_key=True)
    club: fields.ForeignKeyRelation[Club] = fields.ForeignKeyField(
        "models.Club", related_name="memberships", on_delete=fields.CASCADE
    )
    club_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="memberships", on_delete=fields.CASCADE
    )
    user_id: int
    role = fields.CharEnumField(Role, max_length=16, default=Role.member)
    # A moderator's timeout: the member may read but not write until then.
    muted_until = fields.DatetimeField(null=True)
    joined_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "memberships"
        unique_together = (("club", "user"),)
        # A user's clubs (every feed, visibility checks): the unique index leads with the club.
        indexes = (("user", "club"),)


class Room(Model):
    id = fields.BigIntField(primary_key=True)
    # None for a direct-message room (``kind`` dm).
    club: fields.ForeignKeyNullableRelation[Club] = fields.ForeignKeyField(
        "models.Club", related_name="rooms", null=True, on_delete=fields.CASCADE
    )
    club_id: int | None
    kind = fields.CharEnumField(RoomKind, max_length=8, default=RoomKind.club)
    # A DM room's people as sorted user ids ("3-17-42"): the same set of people always gets the same room.
    dm_key = fields.CharField(max_length=200, null=True, unique=True)
    # When a DM was last opened (``POST /dms``); ``GET /dms`` orders by this or its last message, the later.
    last_activity_at = fields.DatetimeField(null=True)
    name = fields.CharField(max_length=100)
    # Minimum seconds between two messages of one member; 0 is off.
    slow_mode_s = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "rooms"
        unique_together = (("club", "name"),)


class Event(Model):
    id = fields.BigIntField(primary_key=True)
    club: fields.ForeignKeyRelation[Club] = fields.ForeignKeyField(
        "models.Club", related_name="events", on_delete=fields.CASCADE
    )
    club_id: int
    host: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="events_hosted", on_delete=fields.RESTRICT
    )
    host_id: int
    title = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    starts_at = fields.DatetimeField(db_index=True)
    ends_at = fields.DatetimeField()
    capacity = fields.IntField(null=True)
    status = fields.CharEnumField(EventStatus, max_length=16, default=EventStatus.scheduled)
    # The live room opened when the host starts the live session.
    room: fields.ForeignKeyNullableRelation[Room] = fields.ForeignKeyField(
        "models.Room", related_name="events", null=True, on_delete=fields.SET_NULL
    )
    room_id: int | None
    summary: fields.JSONField[dict | None] = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "events"


class Rsvp(Model):
    id = fields.BigIntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="rsvps", on_delete=fields.CASCADE
    )
    event_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="rsvps", on_delete=fields.CASCADE
    )
    user_id: int
    status = fields.CharEnumField(RsvpStatus, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "rsvps"
        unique_together = (("event", "user"),)


class Achievement(Model):
    code = fields.CharField(max_length=64, primary_key=True)
    title = fields.CharField(max_length=100)
    description = fields.CharField(max_length=300)

    class Meta:
        table = "achievements"


class UserAchievement(Model):
    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="achievements", on_delete=fields.CASCADE
    )
    user_id: int
    achievement: fields.ForeignKeyRelation[Achievement] = fields.ForeignKeyField(
        "models.Achievement", related_name="awards", on_delete=fields.CASCADE
    )
    achievement_id: str
    awarded_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user_achievements"
        unique_together = (("user", "achievement"),)


class ClubInvite(Model):
    """An invite code to a (usually private) club; it may expire and can be revoked."""

    id = fields.BigIntField(primary_key=True)
    club: fields.ForeignKeyRelation[Club] = fields.ForeignKeyField(
        "models.Club", related_name="invites", on_delete=fields.CASCADE
    )
    club_id: int
    code = fields.CharField(max_length=32, unique=True)
    created_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="invites_created", on_delete=fields.CASCADE
    )
    created_by_id: int
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "club_invites"


class ClubBan(Model):
    id = fields.BigIntField(primary_key=True)
    club: fields.ForeignKeyRelation[Club] = fields.ForeignKeyField(
        "models.Club", related_name="bans", on_delete=fields.CASCADE
    )
    club_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="bans", on_delete=fields.CASCADE
    )
    user_id: int
    reason = fields.CharField(max_length=500, default="")
    created_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="bans_issued", on_delete=fields.CASCADE
    )
    created_by_id: int
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "club_bans"
        unique_together = (("club", "user"),)
        indexes = (("user", "club"),)  # the clubs a user is banned from (every feed)


class Notification(Model):
    """One notification of one user, created once per (user, cause): ``cause`` names what caused it (a
    message, an event's reminder at one start time, a live session, …), so a retried or replayed cause
    meets the unique index instead of making a second one."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="notifications", on_delete=fields.CASCADE
    )
    user_id: int
    kind = fields.CharField(max_length=32)
    cause = fields.CharField(max_length=200)
    room_id = fields.BigIntField(null=True)
    seq = fields.BigIntField(null=True)
    event_id = fields.BigIntField(null=True)
    actor_id = fields.BigIntField(null=True)
    actor_name = fields.CharField(max_length=50, null=True)
    text = fields.CharField(max_length=300, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    read_at = fields.DatetimeField(null=True)
    # When the email digest took it (a notification goes into one digest at most).
    digested_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notifications"
        unique_together = (("user", "cause"),)
        # The inbox, newest first, paged by id.
        indexes = (("user", "id"),)


class RoomNotificationSetting(Model):
    """A member's notification level for one room (no row: ``all``)."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="room_notification_settings", on_delete=fields.CASCADE
    )
    user_id: int
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "models.Room", related_name="notification_settings", on_delete=fields.CASCADE
    )
    room_id: int
    level = fields.CharEnumField(NotifyLevel, max_length=16, default=NotifyLevel.all)

    class Meta:
        table = "room_notification_settings"
        unique_together = (("room", "user"),)


class PushSubscription(Model):
    """A device's Web Push subscription (the browser's endpoint and its keys)."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="push_subscriptions", on_delete=fields.CASCADE
    )
    user_id: int
    endpoint = fields.CharField(max_length=1000, unique=True)
    p256dh = fields.CharField(max_length=200)
    auth = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "push_subscriptions"
        indexes = (("user",),)


class UserBlock(Model):
    """``user`` blocked ``blocked``: no DMs from them, no notification caused by them."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="blocks", on_delete=fields.CASCADE
    )
    user_id: int
    blocked: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="blocked_by", on_delete=fields.CASCADE
    )
    blocked_id: int
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user_blocks"
        unique_together = (("user", "blocked"),)
        indexes = (("blocked", "user"),)


class DmMember(Model):
    """One person of a direct-message room (fixed when the room is made)."""

    id = fields.BigIntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "models.Room", related_name="dm_members", on_delete=fields.CASCADE
    )
    room_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="dm_memberships", on_delete=fields.CASCADE
    )
    user_id: int

    class Meta:
        table = "dm_members"
        unique_together = (("room", "user"),)
        indexes = (("user", "room"),)  # a user's DMs


class Report(Model):
    """A member's report of one message to its club's moderators, with a snapshot of the message as it
    was when reported (a later edit or delete does not erase the evidence)."""

    id = fields.BigIntField(primary_key=True)
    club: fields.ForeignKeyRelation[Club] = fields.ForeignKeyField(
        "models.Club", related_name="reports", on_delete=fields.CASCADE
    )
    club_id: int
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "models.Room", related_name="reports", on_delete=fields.CASCADE
    )
    room_id: int
    seq = fields.BigIntField()
    reporter: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="reports_made", on_delete=fields.CASCADE
    )
    reporter_id: int
    reason = fields.CharField(max_length=500)
    snapshot: fields.JSONField[dict] = fields.JSONField()
    status = fields.CharEnumField(ReportStatus, max_length=16, default=ReportStatus.open)
    action = fields.CharField(max_length=16, null=True)
    resolved_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="reports_resolved", null=True, on_delete=fields.SET_NULL
    )
    resolved_by_id: int | None
    resolved_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "reports"
        # One report per person and message: reporting again answers the same report.
        unique_together = (("reporter", "room", "seq"),)
        indexes = (("club", "status", "id"),)  # a club's queue, newest first


class ClubAutomod(Model):
    """A club's auto-moderation rules; no row: none. Terms are literals (matched on word boundaries,
    case-folded), never patterns."""

    club: fields.OneToOneRelation[Club] = fields.OneToOneField(
        "models.Club", related_name="automod", primary_key=True, on_delete=fields.CASCADE
    )
    club_id: int
    blocked_terms: fields.JSONField[list] = fields.JSONField(default=list)
    link_min_member_age_s = fields.IntField(null=True)
    max_mentions = fields.IntField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "club_automod"


class MediaKind(str, Enum):  # noqa: UP042 (a StrEnum would change str(member), which callers format)
    image = "image"
    video = "video"


class MediaStatus(str, Enum):  # noqa: UP042 (a StrEnum would change str(member), which callers format)
    pending = "pending"  # a presigned upload was handed out; the bytes may or may not have arrived
    processing = (
        "processing"  # complete checked the bytes; the media worker has it (storage.keys.MEDIA_STREAM)
    )
    ready = "ready"  # processed: the derived objects exist and may be served to whoever may see it
    failed = "failed"  # refused at complete or by processing (``error`` says why); no object is kept


class Media(Model):
    """An uploaded image or video. The client PUTs the bytes straight to object storage (``upload_key``,
    a presigned URL); ``complete`` checks them and hands them to processing, which fills the rest. Nothing
    of it is served before ``ready``."""

    id = fields.UUIDField(primary_key=True)
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="media", on_delete=fields.CASCADE
    )
    owner_id: int
    kind = fields.CharEnumField(MediaKind, max_length=8)
    content_type = fields.CharField(max_length=64)  # as declared; complete checks it against the bytes
    size = fields.BigIntField()  # declared bytes (the presigned PUT signs it)
    status = fields.CharEnumField(MediaStatus, max_length=16, default=MediaStatus.pending)
    error = fields.CharField(max_length=300, null=True)
    upload_key = fields.CharField(max_length=300)  # the object the client uploads (deleted once processed)
    # Filled by processing (the media worker): the served objects and what they are.
    object_key = fields.CharField(max_length=300, null=True)  # the processed image or the MP4
    thumbnail_key = fields.CharField(max_length=300, null=True)  # images: a small JPEG/WebP
    poster_key = fields.CharField(max_length=300, null=True)  # videos: a frame as an image
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    duration_ms = fields.IntField(null=True)
    blurhash = fields.CharField(max_length=100, null=True)
    # Where it is used, which decides who may see it: a ready item is attached to at most one message
    # (``room``, the sender's ``client_id``, then its ``seq`` once stored) or is one reel's video
    # (``Reel.media``). Until then only its owner sees it.
    room: fields.ForeignKeyNullableRelation[Room] = fields.ForeignKeyField(
        "models.Room", related_name="media", null=True, on_delete=fields.SET_NULL
    )
    room_id: int | None
    client_id = fields.CharField(max_length=64, null=True)
    seq = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "media"
        # Pending count and bytes per day; a message's attachments (search results show them).
        indexes = (("owner", "status"), ("owner", "created_at"), ("room", "seq"))


class Reel(Model):
    """A club's short video: a ready video ``Media`` of its author, a member, with a caption. It is an
    item of the feed (``type: reel``); who may see it is who may see its club."""

    id = fields.BigIntField(primary_key=True)
    club: fields.ForeignKeyRelation[Club] = fields.ForeignKeyField(
        "models.Club", related_name="reels", on_delete=fields.CASCADE
    )
    club_id: int
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="reels", on_delete=fields.CASCADE
    )
    author_id: int
    media: fields.OneToOneRelation[Media] = fields.OneToOneField(
        "models.Media", related_name="reel", on_delete=fields.CASCADE
    )
    media_id: uuid.UUID
    caption = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    deleted_at = fields.DatetimeField(null=True)  # deleted by its author or a moderator: never served again

    class Meta:
        table = "reels"
        indexes = (("club", "created_at"), ("created_at",))  # a club's reels; the feed's recent reels
