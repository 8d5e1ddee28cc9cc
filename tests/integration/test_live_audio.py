"""Live sessions' audio on the real Janus the test services run: who may join the stage is what the
session says, applied through Janus's own API before the change is broadcast (so within the second the
contract allows), and a removed member's stream key is gone.

Janus is asked directly (``storage.janus``) what it holds: the stage's participants, whether a token
still opens the stage, whether the stream's PIN still opens it. Media itself is proved in the browser
test (tests/e2e/test_web_audio.py)."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from support.chat import ChatClient
from support.members import Api, client_session, make_member
from support.wait import wait_for

from storage.janus import AUDIOBRIDGE, STREAMING, AudioRooms, Janus, JanusError, JanusKeys
from storage.services import janus_keys


async def _event(host: Api, club_id: int) -> int:
    start = datetime.now(UTC) + timedelta(minutes=5)
    _, event = await host.call(
        "POST",
        f"/clubs/{club_id}/events",
        {
            "title": "Stage",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
        },
        expect=201,
    )
    return event["id"]


def _member_client(audio: dict) -> Janus:
    """A member's own Janus session, with only what live:join gave them."""
    return Janus(JanusKeys(audio["janus_url"], "", ""), token=audio["token"])


async def _stage_join(audio: dict, token: str | None = None) -> Janus:
    """Join the stage the way the web client does (no media needed: AudioBridge lists a participant from
    its join on)."""
    client = _member_client(audio)
    body = {"request": "join", "room": audio["room"], "id": audio["participant_id"], "muted": True}
    if token is not None:
        body["token"] = token
    try:
        await client.request(AUDIOBRIDGE, body)
    except BaseException:
        await client.close()
        raise
    return client


async def _watch(audio: dict, pin: str) -> None:
    """Ask the listening stream for an offer with ``pin`` (the answer is never sent: only the PIN matters)."""
    client = _member_client(audio)
    try:
        await client.request(STREAMING, {"request": "watch", "id": audio["stream"], "pin": pin})
    finally:
        await client.close()


async def test_the_stage_follows_roles_bans_and_the_end(gateway, smtp, settings, services):
    keys = janus_keys(settings, services.urls()["janus"])
    people = [await make_member(gateway.url, smtp, n) for n in ("Host", "Ann", "Ben", "Cat")]
    async with client_session(gateway.url) as http:
        host, ann, ben, cat = [Api(http, p) for p in people]
        _, club = await host.call(
            "POST", "/clubs", {"name": "Audio club", "description": "voices"}, expect=201
        )
        for who in (ann, ben, cat):
            await who.call("POST", f"/clubs/{club['id']}/join", expect=200)
        eid = await _event(host, club["id"])
        await host.call("POST", f"/events/{eid}/live/start", expect=200)

        sockets = {
            n: await ChatClient(gateway.url, w.member.token).connect()
            for n, w in (("host", host), ("ann", ann), ("ben", ben), ("cat", cat))
        }
        clients: list[Janus] = []
        try:
            joined = {n: await s.call("live:join", {"event_id": eid}) for n, s in sockets.items()}
            audio = {n: j["audio"] for n, j in joined.items()}
            assert audio["host"]["can_speak"] and audio["host"]["stage_token"]
            for n in ("ann", "ben", "cat"):
                assert audio[n]["can_speak"] is False and "stage_token" not in audio[n]
                assert audio[n]["pin"] == audio["host"]["pin"] and audio[n]["stream"] == eid
            ann_id = ann.member.user_id

            # The host is on the stage; the audience is not let in, with no token or with one forged.
            clients.append(await _stage_join(audio["host"], audio["host"]["stage_token"]))
            for token in (None, "forged-token"):
                with pytest.raises(JanusError) as refused:
                    await _stage_join({**audio["ann"]}, token)
                assert refused.value.code in (487, 489), refused.value  # missing / unauthorized
            await _watch(audio["ann"], audio["ann"]["pin"])  # listening is open to the audience
            with pytest.raises(JanusError):
                await _watch(audio["ann"], "wrong-pin")

            # Promoted: a fresh join gives Ann her stage token, and Janus takes it at once.
            await sockets["ann"].call("live:hand", {"event_id": eid, "raised": True})
            promoted = await sockets["host"].call(
                "live:promote", {"event_id": eid, "user_id": ann_id, "role": "speaker"}
            )
            assert promoted["ok"], promoted
            again = await sockets["ann"].call("live:join", {"event_id": eid})
            assert again["audio"]["can_speak"] and again["audio"]["stage_token"]
            ann_stage = await _stage_join(again["audio"], again["audio"]["stage_token"])
            clients.append(ann_stage)
            rooms = AudioRooms(keys)
            try:
                ids = {p["id"] for p in await rooms.participants(eid)}
                assert ids == {host.member.user_id, ann_id}

                # Demoted: off the stage by Janus's own kick within a second, and her token no longer works.
                began = time.monotonic()
                demoted = await sockets["host"].call(
                    "live:promote", {"event_id": eid, "user_id": ann_id, "role": "audience"}
                )
                assert demoted["ok"], demoted

                async def ann_off_stage():
                    return ann_id not in {p["id"] for p in await rooms.participants(eid)}

                await wait_for(ann_off_stage, timeout=5)
                assert time.monotonic() - began < 1.0, "demotion took effect on Janus after the ack"
                with pytest.raises(JanusError) as refused:
                    await _stage_join(again["audio"], again["audio"]["stage_token"])
                assert refused.value.code == 489

                # Banned while listening: the stream is re-keyed, so the PIN Cat holds opens nothing.
                old_pin = audio["cat"]["pin"]
                await host.call(
                    "POST",
                    f"/clubs/{club['id']}/bans",
                    {"user_id": cat.member.user_id, "reason": "x"},
                    expect=200,
                )

                async def rekeyed():
                    return await rooms.listen_epoch(eid) == 1

                await wait_for(rekeyed, timeout=5)
                with pytest.raises(JanusError):
                    await _watch(audio["ben"], old_pin)
                fresh = await sockets["ben"].call("live:join", {"event_id": eid})
                assert fresh["audio"]["pin"] != old_pin
                await _watch(fresh["audio"], fresh["audio"]["pin"])
                refused_join = await sockets["cat"].call("live:join", {"event_id": eid})
                assert not refused_join["ok"]

                # Ended: the stage and the stream are gone on Janus (it hangs up every peer on them).
                await host.call("POST", f"/events/{eid}/live/end", expect=200)
                with pytest.raises(JanusError) as gone:
                    await rooms.participants(eid)
                assert gone.value.code == 485
                with pytest.raises(JanusError) as gone:
                    await rooms.listen_epoch(eid)
                assert gone.value.code == 455
            finally:
                await rooms.close()
        finally:
            for client in clients:
                await client.close()
            await asyncio.gather(*(s.close() for s in sockets.values()))
