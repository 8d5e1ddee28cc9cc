"""A live session's audio in three real browsers over the real Janus: the host speaks and is heard, the
audience cannot publish, a promoted member is heard by the third, a demoted one is silent again, and the
end closes every peer connection.

What a browser hears is read from WebRTC's own statistics (``getStats``): an inbound audio stream's
``totalAudioEnergy`` rises while a voice reaches it and stays flat on silence (Chromium's fake microphone
plays a tone). Every RTCPeerConnection a page makes is recorded by an init script, so the test sees them
all, including ones the app has closed."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

from playwright.async_api import Page, expect
from support.chat import ChatClient
from support.members import Api, client_session, make_member
from support.web import accessible_at_both_sizes, log_in, new_page, shots

from storage.janus import AudioRooms
from storage.services import janus_keys

RECORD_PCS = """
(() => {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    window.__pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
})();
"""

AUDIO_STATS = """async () => {
  const out = { inEnergy: 0, inBytes: 0, outBytes: 0, open: 0, sendDirections: 0 };
  for (const pc of window.__pcs) {
    if (pc.connectionState === 'closed') continue;
    out.open += 1;
    for (const t of pc.getTransceivers()) {
      if (t.currentDirection === 'sendrecv' || t.currentDirection === 'sendonly') out.sendDirections += 1;
    }
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        out.inEnergy += s.totalAudioEnergy || 0;
        out.inBytes += s.bytesReceived || 0;
      }
      if (s.type === 'outbound-rtp' && s.kind === 'audio') out.outBytes += s.bytesSent || 0;
    });
  }
  return out;
}"""

CONNECTION_STATES = "() => window.__pcs.map((pc) => pc.connectionState)"

WINDOW_S = 1.5  # Chromium's fake microphone beeps about once a second: a window always holds a beep
HEARD = 1e-4  # energy gained in a window with a voice in it (a beep is ~1e-3; Opus silence ~1e-9)


async def stats(page: Page) -> dict:
    return await page.evaluate(AUDIO_STATS)


async def energy_in_window(page: Page) -> float:
    before = await stats(page)
    await asyncio.sleep(WINDOW_S)
    after = await stats(page)
    return after["inEnergy"] - before["inEnergy"]


async def until_heard(page: Page, deadline_s: float = 20) -> float:
    """Waits until the page hears sound (audio bytes and energy rising); the energy of that window."""
    deadline = time.monotonic() + deadline_s
    gained = 0.0
    while time.monotonic() < deadline:
        before = await stats(page)
        gained = await energy_in_window(page)
        after = await stats(page)
        if after["inBytes"] > before["inBytes"] and gained > HEARD:
            return gained
    raise AssertionError(f"nothing heard in {deadline_s}s (last window's energy {gained:.2e})")


async def until_silent(page: Page, deadline_s: float = 20) -> None:
    """Waits until the page hears no voice for a whole window while its stream still flows."""
    deadline = time.monotonic() + deadline_s
    gained = 0.0
    while time.monotonic() < deadline:
        before = await stats(page)
        gained = await energy_in_window(page)
        after = await stats(page)
        if after["inBytes"] > before["inBytes"] and gained < HEARD / 10:
            return
    raise AssertionError(f"still heard after {deadline_s}s (last window's energy {gained:.2e})")


async def audio_page(browser, gateway, email: str) -> Page:
    page = await new_page(browser, gateway)
    await page.context.add_init_script(RECORD_PCS)
    await page.goto("/login")
    await log_in(page, email)
    return page


async def test_three_browsers_hear_exactly_the_stage(browser, gateway, smtp, settings, services):
    people = [await make_member(gateway.url, smtp, n) for n in ("Hana", "Ari", "Bo")]
    async with client_session(gateway.url) as http:
        hana, ari, bo = [Api(http, p) for p in people]
        _, club = await hana.call(
            "POST", "/clubs", {"name": "Radio club", "description": "on air"}, expect=201
        )
        for who in (ari, bo):
            await who.call("POST", f"/clubs/{club['id']}/join", expect=200)
        start = datetime.now(UTC) + timedelta(minutes=5)
        _, event = await hana.call(
            "POST",
            f"/clubs/{club['id']}/events",
            {
                "title": "On air",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(),
            },
            expect=201,
        )
        eid = event["id"]
        await hana.call("POST", f"/events/{eid}/live/start", expect=200)

    rooms = AudioRooms(janus_keys(settings, services.urls()["janus"]))
    pages = [await audio_page(browser, gateway, p.email) for p in people]
    host, audience, third = pages
    try:
        for page in pages:
            await page.goto(f"/events/{eid}/live")
            await expect(page.get_by_role("region", name="Audio")).to_be_visible()

        # One click each: the host is on the stage, the other two listen.
        await host.get_by_role("button", name="Join audio").click()
        await expect(host.get_by_text("You are on stage: everyone hears you.")).to_be_visible()
        for page in (audience, third):
            await page.get_by_role("button", name="Join audio").click()
            await expect(page.get_by_text("Listening to the stage.")).to_be_visible()
        await accessible_at_both_sizes(third, "live-audio-listening")

        # The host is heard by both listeners.
        await until_heard(audience)
        await until_heard(third)

        # The audience cannot publish: its connection only receives, and Janus's stage does not list it.
        listening = await stats(audience)
        assert listening["open"] == 1 and listening["sendDirections"] == 0 and listening["outBytes"] == 0
        assert {p["id"] for p in await rooms.participants(eid)} == {people[0].user_id}

        # The host mutes (Janus drops the host's audio from the mix): the listeners hear silence.
        await host.get_by_role("button", name="Mute").click()
        await expect(host.get_by_text("You are on stage, muted.")).to_be_visible()
        await until_silent(third)

        # Hand raised, promoted, invited: Ari starts speaking and Bo hears Ari.
        await audience.get_by_role("button", name="Raise hand").click()
        await host.get_by_role("list", name="Raised hands").get_by_role("button", name="Promote Ari").click()
        await expect(audience.get_by_text("The host invited you to speak.")).to_be_visible()
        await accessible_at_both_sizes(audience, "live-audio-invited")
        await shots(audience, "23-live-audio-invited")
        await audience.get_by_role("button", name="Start speaking").click()
        await expect(audience.get_by_text("You are on stage: everyone hears you.")).to_be_visible()
        await until_heard(third)
        # Everyone sees who speaks: Janus's audio levels, relayed to the session.
        await expect(third.get_by_role("img", name="Ari is speaking")).to_be_visible()
        await expect(host.get_by_role("img", name="Ari is speaking")).to_be_visible()
        await expect(third.get_by_role("img", name="Hana is quiet")).to_be_visible()
        speaking = await stats(audience)
        assert speaking["sendDirections"] == 1
        await asyncio.sleep(0.5)
        assert (await stats(audience))["outBytes"] > speaking["outBytes"], "the speaker sends nothing"
        assert {p["id"] for p in await rooms.participants(eid)} == {people[0].user_id, people[1].user_id}
        await accessible_at_both_sizes(host, "live-audio-host")
        await shots(host, "24-live-audio-host")

        # Demoted: Janus takes Ari off the stage, Ari's app goes back to listening, Bo hears silence.
        await host.get_by_role("button", name="Move Ari to audience").click()
        await expect(audience.get_by_text("Listening to the stage.")).to_be_visible()
        assert people[1].user_id not in {p["id"] for p in await rooms.participants(eid)}
        await until_silent(third)
        assert (await stats(audience))["sendDirections"] == 0

        # A dropped connection comes back: banning a member who was listening re-keys the stream, so Janus
        # hangs up on every listener; the apps reconnect with the new PIN and hear the stage again.
        await host.get_by_role("button", name="Unmute").click()
        await until_heard(third)
        made = len(await third.evaluate(CONNECTION_STATES))
        async with client_session(gateway.url) as http:
            owner, dan = Api(http, people[0]), await make_member(gateway.url, smtp, "Dan")
            await Api(http, dan).call("POST", f"/clubs/{club['id']}/join", expect=200)
            listener = await ChatClient(gateway.url, dan.token).connect()
            try:
                assert (await listener.call("live:join", {"event_id": eid}))["ok"]
                await owner.call("POST", f"/clubs/{club['id']}/bans", {"user_id": dan.user_id}, expect=200)
            finally:
                await listener.close()
        deadline = time.monotonic() + 20
        while len(await third.evaluate(CONNECTION_STATES)) <= made:
            assert time.monotonic() < deadline, "the listener did not reconnect after Janus hung up"
            await asyncio.sleep(0.2)
        await expect(third.get_by_text("Listening to the stage.")).to_be_visible()
        await until_heard(third)

        # The end: every peer connection in every browser closes, and Janus has nothing left of it.
        await host.get_by_role("button", name="End session").click()
        for page in pages:
            await expect(page.get_by_text("This live session has ended.")).to_be_visible()

        async def all_closed() -> bool:
            states = [await p.evaluate(CONNECTION_STATES) for p in pages]
            return all(s and all(x == "closed" for x in s) for s in states)

        deadline = time.monotonic() + 10
        while not await all_closed():
            assert time.monotonic() < deadline, [await p.evaluate(CONNECTION_STATES) for p in pages]
            await asyncio.sleep(0.2)
    finally:
        await rooms.close()
        for page in pages:
            await page.context.close()
