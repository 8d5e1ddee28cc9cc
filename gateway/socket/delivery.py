"""Delivery of room messages to this gateway's sockets, in seq order, exactly once per socket.

The room shards publish each ordered batch (event ``clubhub:rooms``) in python-socketio's Redis pubsub
format, but only on the own channel of each gateway holding sockets in the room (``listen_as`` names it;
``actors.fanout.MessageFanout`` publishes there). This manager listens on that channel and on
python-socketio's shared one (kicks, revocations, presence, live sessions, a user's events), on one
connection, so what a shard published in one order arrives in that order. It receives a batch like any
other emit, but delivers it itself:

* one packet per room per batch, encoded once and put on every socket's queue — ``message`` for one
  message, ``message:batch`` for several (under load batches grow, so each socket gets fewer frames);
* per socket and room a *floor*, the highest seq it has: nothing at or below it is sent again, so a
  message that is both in a ``room:join`` replay and in flight live reaches the socket once;
* while a ``room:join`` is being answered the socket's live messages are held, then released after
  the ack in order;
* a socket whose send queue passes ``max_queue`` packets is disconnected (it resumes with
  ``since_seq``) instead of holding memory for a client that cannot keep up;
* a socket that would get a message past a gap (messages this gateway never received) is
  disconnected too, so it resumes with ``since_seq`` instead of silently missing them;
* a socket whose user blocked the author of some of a batch's messages gets its own copy, those messages
  marked ``author_blocked: true`` (``gateway.actions.blocking``; the same for ``message:updated``): the
  block sets of this gateway's users are in memory, so a room where nobody blocked anybody pays one
  dictionary test per batch;
* the packet is also framed once as WebSocket bytes and written straight to each socket's transport
  when nothing is queued or buffered for that socket (so nothing can be overtaken); otherwise it
  goes through engine.io's queue as usual. This skips one task wake-up, one encode and one frame
  build per member per message, which is most of the cost of a big room.
"""

from __future__ import annotations

import asyncio
import logging
import time

import socketio
from engineio import packet as eio_packet
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from socketio import packet as sio_packet

from actors.fanout import ROOMS_EVENT
from gateway.actions.blocking import BLOCKS_EVENT, BlockSets, blocks_any, mark_blocked
from gateway.core.broadcast import KICK_EVENT, REVOKE_EVENT
from storage import keys

log = logging.getLogger(__name__)

NAMESPACE = "/"
LISTEN_RETRY_MAX_S = 1.0

# The stages of a message, as ``clubhub_message_stage_seconds{stage}`` measures them on the gateway that
# delivers it: each is the time between two stamps of the batch's ``trace`` (``actors.writer`` and
# ``actors.fanout`` stamp it) or taken here. ``sent_to_socket`` ends when the packet is written to (or
# queued for) the room's last socket on this gateway. ``client_to_gateway`` is measured only for a text that
# starts with the sender's clock in microseconds and ``|`` (the load generators' messages).
STAGES = (
    "client_to_gateway",  # the sender's clock to the gateway's handler (network, the gateway's event loop)
    "gateway_batcher",  # the handler to the batcher's Ray call (the coalescing wait)
    "ray_to_shard",  # the Ray call to the shard planning the round (transit, the shard's queue)
    "mongo_store",  # planned to stored (insert_many, durable)
    "commit_publish",  # stored to the publish pipeline built (commit, encode)
    "redis_to_gateway",  # published to this gateway handling the batch (Redis, pubsub, decode)
    "fanout_write",  # the batch handled to its packet written to the room's last socket here
    "server_total",  # the handler to the last socket
)


async def _close_quietly(pubsub) -> None:
    try:
        await pubsub.aclose()
    except Exception:  # already broken: nothing left to release
        pass


class _Hold:
    """A socket joining a room: live messages wait here until the join is answered."""

    __slots__ = ("messages",)

    def __init__(self) -> None:
        self.messages: list[dict] = []


class RoomDelivery(socketio.AsyncRedisManager):
    def __init__(self, channel: str, metrics=None, max_queue: int = 2000) -> None:
        # The real URL is set before first use. No retries inside redis-py: its pubsub would reconnect and
        # resubscribe silently, and what was published meanwhile would be lost without a trace.
        super().__init__(
            url="redis://127.0.0.1:1/0", channel=channel, redis_options={"retry": Retry(NoBackoff(), 0)}
        )
        self.metrics = metrics
        self.max_queue = max_queue
        self.gateway_channel: str | None = None  # this gateway's own channel, set by listen_as
        self.floors: dict[str, dict[int, int | _Hold]] = {}
        self.on_kick = None  # async (sid, room_ids, reason): set by the Realtime events
        self.on_revoke = None  # async (sid, reason): set by the Realtime events
        self.blocks: BlockSets | None = None  # this gateway's users' block sets: set by the Realtime events
        self._tasks: set[asyncio.Task] = set()  # referenced until done (the loop keeps only weak refs)

    # -- the pubsub listener -----------------------------------------------------------------
    def listen_as(self, gateway_id: str) -> None:
        """Hear the batches of the rooms this gateway holds sockets in: the shards address them to
        ``gateway_id`` (the id in this gateway's socket keys). Called before the first socket connects
        (the listener starts then)."""
        self.gateway_channel = keys.gateway_channel(self.channel, gateway_id)

    def _channels(self) -> list[str]:
        return [self.channel] + ([self.gateway_channel] if self.gateway_channel else [])

    async def _listen(self):
        """python-socketio's ``_listen``, for both channels (it yields only the shared one's messages)."""
        wanted = {c.encode() for c in self._channels()}
        async for message in self._redis_listen_with_retries():
            if message["channel"] in wanted and message["type"] == "message" and "data" in message:
                yield message["data"]

    async def _redis_listen_with_retries(self):
        """python-socketio's listener loop, except that the wait between attempts stays under
        ``LISTEN_RETRY_MAX_S`` (python-socketio's doubles up to 60 s: a gateway could stay deaf for a
        minute after Redis came back) and the connection of a failed attempt is closed, not leaked.
        What was published while this gateway was not subscribed is caught up after resubscribing."""
        retry_sleep = 0.1
        lost = False
        pubsub = None
        while True:
            try:
                if pubsub is not None:
                    await _close_quietly(pubsub)
                self._redis_connect()
                pubsub = self.pubsub
                await pubsub.subscribe(*self._channels())
                if lost:
                    await self._catch_up()
                lost, retry_sleep = False, 0.1
                async for message in pubsub.listen():
                    yield message
            except Exception as exc:
                lost = True
                log.warning(
                    "pubsub listener lost Redis; resubscribing",
                    extra={"error": str(exc), "retry_s": retry_sleep},
                )
                await asyncio.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, LISTEN_RETRY_MAX_S)

    async def _catch_up(self) -> None:
        """After the listener was down: a socket behind its room's last published seq (the shards
        record it with every publish) missed messages, and resumes with ``since_seq`` (``_resync``).
        Without this a quiet room would wait for its next message to reveal the gap."""
        rooms = sorted(
            {r for floors in self.floors.values() for r, f in floors.items() if isinstance(f, int)}
        )
        if not rooms:
            return
        last = dict(
            zip(rooms, await self.redis.hmget(keys.ROOM_LAST_SEQ, [str(r) for r in rooms]), strict=True)
        )
        for sid, floors in list(self.floors.items()):
            behind = [(r, f) for r, f in floors.items() if isinstance(f, int) and int(last.get(r) or 0) > f]
            if behind:
                self._resync(sid, *behind[0])

    # -- join protocol ---------------------------------------------------------------------
    def hold(self, sid: str, room_id: int) -> None:
        self.floors.setdefault(sid, {})[room_id] = _Hold()

    def release(self, sid: str, room_id: int, floor: int) -> list[dict]:
        """End the hold at ``floor`` (the join's last seq); returns held messages above it."""
        rooms = self.floors.setdefault(sid, {})
        held = rooms.get(room_id)
        later = [m for m in held.messages if m["seq"] > floor] if isinstance(held, _Hold) else []
        if [m["seq"] for m in later] != list(range(floor + 1, floor + 1 + len(later))):
            self._resync(sid, room_id, floor)
            return []
        rooms[room_id] = later[-1]["seq"] if later else floor
        return later

    def forget(self, sid: str, room_id: int | None = None) -> None:
        if room_id is None:
            self.floors.pop(sid, None)
        else:
            self.floors.get(sid, {}).pop(room_id, None)

    def send_messages(self, sid: str, eio_sid: str, room_id: int, messages: list[dict]) -> None:
        if messages:
            self._put(sid, eio_sid, *self._encode(room_id, self._as_seen_by(sid, messages)))

    def _blocked_of(self, sid: str) -> frozenset[int]:
        return self.blocks.of_socket(sid) if self.blocks is not None else frozenset()

    def _as_seen_by(self, sid: str, messages: list[dict]) -> list[dict]:
        return mark_blocked(messages, self._blocked_of(sid))

    # -- delivery --------------------------------------------------------------------------
    async def _handle_emit(self, message):
        event = message.get("event")
        if event == KICK_EVENT:
            if self.on_kick is not None:
                data = message["data"][0]
                for sid, _ in list(self.get_participants(NAMESPACE, message["room"])):
                    await self.on_kick(sid, data["room_ids"], data["reason"])
            return
        if event == REVOKE_EVENT:
            if self.on_revoke is not None:
                reason = message["data"][0]["reason"]
                for sid, _ in list(self.get_participants(NAMESPACE, message["room"])):
                    await self.on_revoke(sid, reason)
            return
        if event == BLOCKS_EVENT and self.blocks is not None:
            room = message.get("room") or ""
            if room.startswith("user:") and room[5:].isdigit():
                self.blocks.changed(int(room[5:]), message["data"][0].get("blocks", []))
            return await super()._handle_emit(message)
        if event == "message:updated" and self.blocks is not None and self.blocks.sets:
            return await self._updated(message)
        if event != ROOMS_EVENT:
            return await super()._handle_emit(message)
        got = time.time()
        batches = message["data"][0]
        if self.metrics is not None:
            self.metrics.room_batches.inc(len(batches))
        for batch in batches:
            self._deliver(batch["room_id"], batch["messages"])
            if self.metrics is not None and "trace" in batch:
                self._observe_stages(batch, got, time.time())

    async def _updated(self, message: dict) -> None:
        """``message:updated`` to the room, except that the sockets whose user blocked the author get the
        marked copy instead."""
        data = message["data"][0]
        author = data.get("author", {}).get("id") if isinstance(data, dict) else None
        marked_sids = [
            sid
            for sid, _ in list(self.get_participants(NAMESPACE, message.get("room")))
            if author in self._blocked_of(sid)
        ]
        if not marked_sids:
            return await super()._handle_emit(message)
        skip = message.get("skip_sid")
        skip = [] if skip is None else [skip] if isinstance(skip, str) else list(skip)
        await super()._handle_emit({**message, "skip_sid": skip + marked_sids})
        marked = {**data, "author_blocked": True}
        for sid in marked_sids:
            if sid not in skip:
                await socketio.AsyncManager.emit(
                    self, "message:updated", marked, namespace=NAMESPACE, room=sid
                )

    def _observe_stages(self, batch: dict, got: float, written: float) -> None:
        """Each message's time per stage (``STAGES``) into ``clubhub_message_stage_seconds``."""
        trace, stage = batch["trace"], self.metrics.message_stage
        try:
            planned, stored, published = trace["planned"], trace["stored"], trace["published"]
            shared = (
                ("mongo_store", stored - planned),
                ("commit_publish", published - stored),
                ("redis_to_gateway", got - published),
                ("fanout_write", written - got),
            )
            for m, received, sent in zip(batch["messages"], trace["received"], trace["sent"], strict=True):
                head = m["text"].partition("|")[0]
                if head.isdigit():
                    stage.labels("client_to_gateway").observe(max(0.0, received - int(head) / 1e6))
                stage.labels("gateway_batcher").observe(max(0.0, sent - received))
                stage.labels("ray_to_shard").observe(max(0.0, planned - sent))
                for name, seconds in shared:
                    stage.labels(name).observe(max(0.0, seconds))
                stage.labels("server_total").observe(max(0.0, written - received))
        except (KeyError, TypeError, ValueError) as exc:  # a shard of another version: measure nothing
            log.debug("batch trace not readable: %s", exc)

    def _deliver(self, room_id: int, messages: list[dict]) -> None:
        if not messages:
            return
        first, last = messages[0]["seq"], messages[-1]["seq"]
        packets = frame = None
        # Only when some user of this gateway blocked someone: each socket's set against the batch's authors.
        screen = self.blocks is not None and bool(self.blocks.sets)
        marked_packets: dict[frozenset[int], tuple] = {}
        for sid, eio_sid in list(self.get_participants(NAMESPACE, f"room:{room_id}")):
            floor = self.floors.get(sid, {}).get(room_id)
            if floor is None:
                continue
            if isinstance(floor, _Hold):
                floor.messages.extend(messages)
                continue
            if floor >= last:
                continue
            if floor + 1 < first:
                self._resync(sid, room_id, floor)
                continue
            blocked = self._blocked_of(sid) if screen else frozenset()
            if blocked and not blocks_any(messages, blocked):
                blocked = frozenset()
            if floor < first and blocked:
                if blocked not in marked_packets:
                    marked_packets[blocked] = self._encode(room_id, mark_blocked(messages, blocked))
                self._put(sid, eio_sid, *marked_packets[blocked])
            elif floor < first:
                if packets is None:
                    packets, frame = self._encode(room_id, messages)
                self._put(sid, eio_sid, packets, frame)
            else:
                later = [m for m in messages if m["seq"] > floor]
                self._put(sid, eio_sid, *self._encode(room_id, mark_blocked(later, blocked)))
            rooms = self.floors.get(sid)
            if rooms is not None:  # None: _put dropped it as a slow consumer (and the loop must go on)
                rooms[room_id] = last
        if self.metrics is not None:
            self.metrics.fanout_latency.observe(max(0.0, time.time() - messages[-1]["ts"] / 1000.0))
            self.metrics.delivered_batches.observe(len(messages))

    def _resync(self, sid: str, room_id: int, floor: int) -> None:
        """The socket would skip messages after ``floor`` that never reached this gateway (a publish
        lost while Redis was down or this gateway was resubscribing, a shard restarted between storing
        and publishing). Delivering past them would be a silent gap; instead the socket is disconnected
        and resumes with ``since_seq``, which reads them from the store."""
        log.warning("delivery gap: socket resyncs", extra={"sid": sid, "room_id": room_id, "floor": floor})
        self.forget(sid)
        self._spawn(self.server.disconnect(sid))

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def abort(self, eio_sid: str | None) -> bool:
        """Cut a socket's connection without a goodbye; False when it has none to cut (long-polling).

        A polite close queues a close packet and waits until the socket's writer has sent everything
        queued; a client that stopped reading leaves that writer stuck on a full TCP buffer, so the close
        would wait for ever and the socket would hold its queue."""
        sock = self.server.eio.sockets.get(eio_sid) if eio_sid else None
        transport = getattr(sock, "direct_transport", None)
        if transport is None or transport.is_closing():
            return False
        transport.abort()
        return True

    @staticmethod
    def _encode(room_id: int, messages: list[dict]) -> tuple[list[eio_packet.Packet], bytes | None]:
        if len(messages) == 1:
            data = ["message", messages[0]]
        else:
            data = ["message:batch", {"room_id": room_id, "messages": messages}]
        encoded = sio_packet.Packet(sio_packet.EVENT, namespace=NAMESPACE, data=data).encode()
        if not isinstance(encoded, list):
            encoded = [encoded]
        packets = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in encoded]
        frame = text_frame(packets[0].encode()) if len(packets) == 1 and isinstance(encoded[0], str) else None
        return packets, frame

    def _put(
        self, sid: str, eio_sid: str, packets: list[eio_packet.Packet], frame: bytes | None = None
    ) -> None:
        # Synchronously, with no task per recipient: nothing can interleave between two deliveries
        # to the same socket, which keeps them in seq order.
        sock = self.server.eio.sockets.get(eio_sid)
        if sock is None or sock.closed or sock.closing:
            return
        transport = getattr(sock, "direct_transport", None)
        if (
            frame is not None
            and transport is not None
            and sock.upgraded
            and sock.queue.empty()
            and not getattr(sock, "in_flight", 0)
            and not transport.is_closing()
            and transport.get_write_buffer_size() == 0
        ):
            # Nothing queued, nothing taken but unwritten, nothing buffered: every earlier packet of
            # this socket is already on the wire, so writing here cannot overtake one.
            transport.write(frame)
            return
        if sock.queue.qsize() >= self.max_queue:
            if self.metrics is not None:
                self.metrics.slow_consumers.inc()
            log.warning("dropping slow consumer", extra={"sid": sid, "queued": sock.queue.qsize()})
            self.forget(sid)
            if not self.abort(eio_sid):
                self._spawn(self.server.disconnect(sid))
            return
        for p in packets:
            sock.queue.put_nowait(p)


def text_frame(payload: str) -> bytes:
    """One unmasked, uncompressed WebSocket text frame (RFC 6455 §5.2), as a server sends it: the
    same bytes serve every socket, so a room's packet is framed once, not once per member."""
    data = payload.encode()
    n = len(data)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 65536:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + data
