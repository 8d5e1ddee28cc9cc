"""``Room``: the live state and rules of one club room, as a plain class (no Ray, no I/O).

A room orders everything that happens in it. ``seq`` numbers messages 1, 2, 3… without gaps; ``rev``
rises on every change (a new message, an edit, a delete, a reaction) so a client that was away can ask
for exactly what changed. The host (``RoomShard``) persists what the room *plans* and only then
``commit``s it, so a failed write leaves the room as it was and no seq is lost or reused.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict, deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from .automod import AutoMod
from .errors import DomainError
from .mentions import MentionIndex
from .roles import ACTIONS, can, is_moderator

RING_SIZE = 500
REPLAY_LIMIT = 500
MAX_TEXT = 4000
MAX_REACTIONS_PER_MESSAGE = 20
MAX_PINS = 50
# Recent client_ids remembered per room; older duplicates are still caught by the unique index.
CLIENT_ID_MEMORY = 5000


@dataclass
class Member:
    user_id: int
    display_name: str
    role: str = "member"
    muted_until: float | None = None  # epoch seconds
    joined_at: float | None = None  # epoch seconds (auto-moderation's link rule)

    @property
    def is_moderator(self) -> bool:
        return is_moderator(self.role)


@dataclass
class PlannedSend:
    """A message the room will hold once the host has stored it; ``root``: the change to its thread's
    root message (reply count, last reply), stored with the batch's other changes."""

    client_id: str
    message: dict
    ack: dict
    root: PlannedUpdate | None = None


@dataclass
class PlannedUpdate:
    """A changed message (edit, delete, reaction) the room will hold once stored; ``notify``: an edit
    that mentions someone it did not before."""

    message: dict
    fields: dict
    notify: bool = False


@dataclass
class Room:
    room_id: int
    club_id: int  # 0 for a direct-message room
    slow_mode_s: int = 0
    kind: str = "club"  # or "dm": a fixed set of people, any of whom may pin
    automod: AutoMod | None = None
    # A DM room's people who may not write now (blocked by another, or another's DM policy refuses
    # them) -> why; kept by the host from storage and refreshed when a block or policy changes.
    dm_refused: dict[int, str] = field(default_factory=dict)
    # Pinned seqs -> their ``pinned`` record, loaded by the host on the first pin or pin list.
    pins: dict[int, dict] | None = None
    last_seq: int = 0
    rev: int = 0
    members: dict[int, Member] = field(default_factory=dict)
    recent: deque = field(default_factory=lambda: deque(maxlen=RING_SIZE))
    acks_by_client_id: OrderedDict = field(default_factory=OrderedDict)
    last_send_at: dict[int, float] = field(default_factory=dict)
    # user_id -> that user's sockets in the room, as "<gateway_id>/<sid>" keys (tabs, devices, gateways)
    online: dict[int, set] = field(default_factory=dict)
    # gateway_id -> how many of the sockets above it holds: the gateways the room's batches are published
    # to, kept with every socket change so a publish reads it instead of scanning the sockets
    gateways: dict[str, int] = field(default_factory=dict)
    last_active: float = field(default_factory=time.monotonic)
    # Built on the first mention after a change of the member list (``set_member``).
    _mentions: MentionIndex | None = field(default=None, repr=False)

    # -- membership ------------------------------------------------------------------------
    def member(self, user_id: int) -> Member:
        """A member allowed to read the room (join, history, live sessions)."""
        m = self.members.get(user_id)
        if m is None and self.is_dm:  # a DM does not exist for anyone else
            raise DomainError("not_found", f"no such room: {self.room_id}")
        if m is None or not can(m.role, "read"):
            raise DomainError("forbidden", f"you are not a member of the club of room {self.room_id}")
        return m

    def speaker(self, user_id: int, now: float) -> Member:
        """A member allowed to add to the room now: sends, edits and reactions all refuse a timed-out one."""
        member = self.member(user_id)
        if not can(member.role, "send"):
            raise DomainError("forbidden", f"sending needs the {ACTIONS['send']} role")
        if member.muted_until and member.muted_until > now:
            wait = int(member.muted_until - now + 0.999)
            raise DomainError("forbidden", f"you are timed out in this club for {wait}s more")
        refused = self.dm_refused.get(user_id)
        if refused is not None:
            raise DomainError("forbidden", refused)
        return member

    @property
    def is_dm(self) -> bool:
        return self.kind == "dm"

    def may_pin(self, member: Member) -> bool:
        return self.is_dm or member.is_moderator

    def _moderate(self, message: dict, member: Member, now: float) -> None:
        """The club's auto-moderation rules (moderators are exempt: they are the ones who set them)."""
        if self.automod is None or member.is_moderator:
            return
        mentions = len(message.get("mentions", ())) + int(bool(message.get("mentions_everyone")))
        age = now - member.joined_at if member.joined_at is not None else None
        self.automod.check(message["text"], mentions, age)

    def set_member(self, member: Member | None, user_id: int) -> list[str]:
        """Add, change or (``None``) remove a member; returns the sockets a removed member had here."""
        self._mentions = None
        if member is not None:
            self.members[user_id] = member
            return []
        self.members.pop(user_id, None)
        sockets = sorted(self.online.pop(user_id, ()))
        for key in sockets:
            self._count_out(key)
        return sockets

    # -- sending ---------------------------------------------------------------------------
    def known_ack(self, client_id: str) -> dict | None:
        return self.acks_by_client_id.get(client_id)

    def plan_send(
        self,
        user_id: int,
        client_id: str,
        text: str,
        reply_to_seq: int | None,
        now: float,
        next_seq: int,
        next_rev: int,
        message_id: str,
        thread_root: dict | None = None,
        attachments: list[dict] | None = None,
    ) -> PlannedSend:
        """Check the rules for one send and build the message it would store as ``next_seq``;
        ``thread_root``: the root message when the send is a thread reply (its ``rev`` follows the
        message's: ``next_rev + 1``)."""
        member = self.speaker(user_id, now)
        text = validate_text(text, bool(attachments))
        if reply_to_seq is not None and not (1 <= reply_to_seq < next_seq):
            raise DomainError("invalid", f"reply_to_seq {reply_to_seq} is not a message of this room")
        if thread_root is not None:
            if thread_root.get("deleted"):
                raise DomainError("not_found", f"message {thread_root['seq']} was deleted")
            if thread_root.get("thread_root_seq"):
                raise DomainError("invalid", "a thread reply cannot start a thread of its own")
        if self.slow_mode_s and not member.is_moderator:
            last = self.last_send_at.get(user_id)
            if last is not None and now - last < self.slow_mode_s:
                wait = self.slow_mode_s - (now - last)
                raise DomainError("rate_limited", f"slow mode: wait {wait:.1f}s before your next message")
        ts = int(now * 1000)
        message = {
            "room_id": self.room_id,
            "seq": next_seq,
            "rev": next_rev,
            "message_id": message_id,
            "author": {"id": user_id, "display_name": member.display_name},
            "text": text,
            "ts": ts,
            "reactions": {},
        }
        if reply_to_seq is not None:
            message["reply_to_seq"] = reply_to_seq
        if thread_root is not None:
            message["thread_root_seq"] = thread_root["seq"]
        if attachments:  # checked and claimed by the gateway (ready, the sender's, at most ten)
            message["attachments"] = [dict(a) for a in attachments]
        self._add_mentions(message, member)
        self._moderate(message, member, now)
        ack = {"seq": next_seq, "rev": next_rev, "message_id": message_id, "ts": ts}
        root = None
        if thread_root is not None:
            count = int((thread_root.get("thread") or {}).get("reply_count", 0)) + 1
            thread = {"reply_count": count, "last_reply_ts": ts}
            updated = copy.deepcopy(thread_root)
            updated.update(thread=thread, rev=next_rev + 1)
            root = PlannedUpdate(updated, {"thread": thread, "rev": next_rev + 1})
        return PlannedSend(client_id, message, ack, root)

    def commit_sends(self, planned: list[PlannedSend], now: float) -> None:
        for p in planned:
            msg = p.message
            self.last_seq = max(self.last_seq, msg["seq"])
            self.rev = max(self.rev, msg["rev"])
            self.recent.append(msg)
            self.remember_ack(p.client_id, p.ack)
            self.last_send_at[msg["author"]["id"]] = now
        self.last_active = time.monotonic()

    def remember_ack(self, client_id: str, ack: dict) -> None:
        self.acks_by_client_id[client_id] = ack
        while len(self.acks_by_client_id) > CLIENT_ID_MEMORY:
            self.acks_by_client_id.popitem(last=False)

    # -- changes to existing messages --------------------------------------------------------
    def cached(self, seq: int) -> dict | None:
        if not self.recent or seq < self.recent[0]["seq"]:
            return None
        index = seq - self.recent[0]["seq"]
        if index < len(self.recent) and self.recent[index]["seq"] == seq:
            return self.recent[index]
        return next((m for m in self.recent if m["seq"] == seq), None)

    def plan_edit(
        self, user_id: int, message: dict, text: str | None, now: float, next_rev: int
    ) -> PlannedUpdate:
        member = self.speaker(user_id, now)
        if message.get("deleted"):
            raise DomainError("not_found", f"message {message['seq']} was deleted")
        if message["author"]["id"] != user_id:
            raise DomainError("forbidden", "only the author can edit a message")
        updated = copy.deepcopy(message)
        updated.update(text=validate_text(text), edited_at=int(now * 1000), rev=next_rev)
        before = set(message.get("mentions", ())), bool(message.get("mentions_everyone"))
        self._add_mentions(updated, member)
        self._moderate(updated, member, now)
        fields = {"text": updated["text"], "edited_at": updated["edited_at"], "rev": next_rev}
        fields["mentions"] = updated.get("mentions", [])
        fields["mentions_everyone"] = bool(updated.get("mentions_everyone"))
        # Notified once per message and person: an edit adding someone notifies them, one removing
        # someone takes nothing back.
        added = bool(set(fields["mentions"]) - before[0]) or (fields["mentions_everyone"] and not before[1])
        return PlannedUpdate(updated, fields, notify=added)

    # -- mentions ----------------------------------------------------------------------------
    def _add_mentions(self, message: dict, author: Member) -> None:
        """``mentions`` (user ids) and ``mentions_everyone`` (a moderator's ``@everyone``) of the text,
        set on the message only when there are any; an edit that removes them all removes the fields."""
        message.pop("mentions", None)
        message.pop("mentions_everyone", None)
        if "@" not in message["text"]:
            return
        if self._mentions is None:
            self._mentions = MentionIndex(self.members)
        ids, everyone = self._mentions.resolve(message["text"], author.is_moderator)
        if ids:
            message["mentions"] = ids
        if everyone:
            message["mentions_everyone"] = True

    def plan_delete(self, user_id: int, message: dict, next_rev: int) -> PlannedUpdate:
        member = self.member(user_id)
        if message.get("deleted"):
            raise DomainError("not_found", f"message {message['seq']} was already deleted")
        if message["author"]["id"] != user_id and not can(member.role, "delete_any_message"):
            raise DomainError("forbidden", "only the author or a moderator can delete a message")
        updated = copy.deepcopy(message)
        updated.update(text="", deleted=True, rev=next_rev, reactions={})
        updated.pop("edited_at", None)
        fields = {"text": "", "deleted": True, "rev": next_rev, "reactions": {}}
        if updated.pop("pinned", None):  # a deleted message is no longer pinned
            fields["pinned"] = None
        if updated.pop("attachments", None):  # nor shows its media (the gateway stops serving them)
            fields["attachments"] = []
        if updated.pop("mentions", None) is not None or updated.pop("mentions_everyone", None) is not None:
            updated.pop("mentions_everyone", None)
            fields.update(mentions=[], mentions_everyone=False)
        return PlannedUpdate(updated, fields)

    def plan_reaction(
        self, user_id: int, message: dict, emoji: str, add: bool, next_rev: int, now: float | None = None
    ) -> PlannedUpdate | None:
        """None when nothing changes (adding a reaction twice, removing one never made)."""
        self.speaker(user_id, time.time() if now is None else now)
        if message.get("deleted"):
            raise DomainError("not_found", f"message {message['seq']} was deleted")
        reactions = {k: list(v) for k, v in message.get("reactions", {}).items()}
        users = reactions.get(emoji, [])
        if add:
            if user_id in users:
                return None
            if emoji not in reactions and len(reactions) >= MAX_REACTIONS_PER_MESSAGE:
                raise DomainError(
                    "too_large", f"a message holds at most {MAX_REACTIONS_PER_MESSAGE} different reactions"
                )
            reactions[emoji] = users + [user_id]
        else:
            if user_id not in users:
                return None
            users = [u for u in users if u != user_id]
            if users:
                reactions[emoji] = users
            else:
                reactions.pop(emoji)
        updated = copy.deepcopy(message)
        updated.update(reactions=reactions, rev=next_rev)
        return PlannedUpdate(updated, {"reactions": reactions, "rev": next_rev})

    def plan_pin(
        self, user_id: int, message: dict, add: bool, next_rev: int, now: float, planned_pins: int = 0
    ) -> PlannedUpdate | None:
        """Pin or unpin a message (moderators; in a DM any of its people). None when nothing changes;
        the host has loaded ``pins`` first."""
        member = self.member(user_id)
        if not self.may_pin(member):
            raise DomainError("forbidden", "pinning needs the moderator role")
        if message.get("deleted"):
            raise DomainError("not_found", f"message {message['seq']} was deleted")
        pinned = bool(message.get("pinned"))
        if pinned == add:
            return None
        updated = copy.deepcopy(message)
        updated["rev"] = next_rev
        if add:
            if len(self.pins or ()) + planned_pins >= MAX_PINS:
                raise DomainError(
                    "too_large", f"a room holds at most {MAX_PINS} pinned messages; unpin one first"
                )
            record = {"by": {"id": user_id, "display_name": member.display_name}, "at": int(now * 1000)}
            updated["pinned"] = record
            return PlannedUpdate(updated, {"pinned": record, "rev": next_rev})
        updated.pop("pinned", None)
        return PlannedUpdate(updated, {"pinned": None, "rev": next_rev})

    def pinned_seqs(self) -> list[int]:
        return sorted(self.pins or ())

    def commit_update(self, planned: PlannedUpdate) -> None:
        msg = planned.message
        self.rev = max(self.rev, msg["rev"])
        if self.pins is not None and "pinned" in planned.fields:
            if msg.get("pinned"):
                self.pins[msg["seq"]] = msg["pinned"]
            else:
                self.pins.pop(msg["seq"], None)
        cached = self.cached(msg["seq"])
        if cached is not None:
            cached.clear()
            cached.update(msg)
        self.last_active = time.monotonic()

    # -- replay ------------------------------------------------------------------------------
    def replay_from_ring(self, since_seq: int) -> list[dict] | None:
        """Messages after ``since_seq`` if the ring still holds all of them, else None."""
        if since_seq >= self.last_seq:
            return []
        if not self.recent or self.recent[0]["seq"] > since_seq + 1:
            return None
        return [copy.deepcopy(m) for m in self.recent if m["seq"] > since_seq]

    # -- presence ----------------------------------------------------------------------------
    def join(self, user_id: int, socket_key: str) -> bool:
        """Record a socket in the room; True when the user was not online here before."""
        self.member(user_id)
        sockets = self.online.setdefault(user_id, set())
        first = not sockets
        if socket_key not in sockets:
            sockets.add(socket_key)
            self._count_in(socket_key)
        self.last_active = time.monotonic()
        return first

    def restore(self, sockets: Mapping[str, int]) -> list[str]:
        """Take back the sockets (key -> user id) a previous activation of the room held (its host
        stored them); returns the keys of users who are no longer members, which the host forgets."""
        stale = []
        for socket_key, user_id in sockets.items():
            m = self.members.get(user_id)
            if m is None or not can(m.role, "read"):
                stale.append(socket_key)
                continue
            held = self.online.setdefault(user_id, set())
            if socket_key not in held:
                held.add(socket_key)
                self._count_in(socket_key)
        return stale

    def leave(self, user_id: int, socket_key: str) -> bool:
        """Forget a socket; True when it was the user's last one here (the user goes offline)."""
        sockets = self.online.get(user_id)
        if not sockets or socket_key not in sockets:
            return False
        sockets.discard(socket_key)
        self._count_out(socket_key)
        if not sockets:
            del self.online[user_id]
            return True
        return False

    def drop_gateway(self, gateway_id: str) -> list[int]:
        """Forget every socket of a gateway that died; returns the users who went offline."""
        gone: list[int] = []
        prefix = gateway_id + "/"
        if self.gateways.pop(gateway_id, None) is None:
            return gone  # it held no socket here
        for user_id, sockets in list(self.online.items()):
            stale = {s for s in sockets if s.startswith(prefix)}
            if stale:
                sockets -= stale
                if not sockets:
                    del self.online[user_id]
                    gone.append(user_id)
        return gone

    def gateway_ids(self) -> Collection[str]:
        """The gateways holding at least one socket in the room: the only ones its batches go to."""
        return self.gateways.keys()

    def _count_in(self, socket_key: str) -> None:
        gateway_id = gateway_of(socket_key)
        self.gateways[gateway_id] = self.gateways.get(gateway_id, 0) + 1

    def _count_out(self, socket_key: str) -> None:
        gateway_id = gateway_of(socket_key)
        left = self.gateways.get(gateway_id, 0) - 1
        if left > 0:
            self.gateways[gateway_id] = left
        else:
            self.gateways.pop(gateway_id, None)

    def socket_keys(self) -> list[str]:
        return [key for sockets in self.online.values() for key in sockets]

    def online_users(self) -> list[int]:
        return sorted(self.online)

    def idle_for(self, now_monotonic: float) -> float:
        return 0.0 if self.online else now_monotonic - self.last_active


def gateway_of(socket_key: str) -> str:
    """The gateway of a ``<gateway_id>/<sid>`` socket key."""
    return socket_key.split("/", 1)[0]


def validate_text(text, may_be_empty: bool = False) -> str:
    """``may_be_empty``: the message has attachments, which say enough on their own."""
    if not isinstance(text, str) or (not text.strip() and not (may_be_empty and isinstance(text, str))):
        raise DomainError("invalid", "text must not be empty")
    if len(text) > MAX_TEXT:
        raise DomainError("too_large", f"text is {len(text)} characters; the limit is {MAX_TEXT}")
    return text
