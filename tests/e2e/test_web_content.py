"""What a message holds, in a real browser (issue 14, points 1, 3 and 7): a long unbroken token never widens
the room, drafts stay with their room, the safe markdown subset and links (the live session's pinned link
too), raw HTML shown as text, the emoji picker with recent emoji for reactions and the composer, and who
reacted. Every state is checked with axe-core at 1280x800 and 390x844.

Olga (the club's owner) writes over a socket of her own; Dan reads and acts in Chromium."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect
from support.chat import ChatClient
from support.members import Api, client_session, make_member
from support.web import assert_accessible, log_in, messages, new_page, shot, shots

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SIZES = (DESKTOP, PHONE)
REL = "noopener nofollow ugc"
LONG_URL = "https://example.com/" + "a1b2c3d4" * 80
LONG_WORD = "W" * 500


@pytest.fixture(scope="module")
async def world(browser, gateway, smtp):
    """Olga's club with the rooms general and coding, Dan a member, and Dan's logged-in page."""
    olga, dan = await make_member(gateway.url, smtp, "Olga"), await make_member(gateway.url, smtp, "Dan")
    async with client_session(gateway.url) as http:
        owner = Api(http, olga)
        _, club = await owner.call(
            "POST", "/clubs", {"name": f"Content {uuid.uuid4().hex[:6]}", "description": "words"}, expect=201
        )
        await Api(http, dan).call("POST", f"/clubs/{club['id']}/join", expect=200)
        await owner.call("POST", f"/clubs/{club['id']}/rooms", {"name": "coding"}, expect=201)
        _, rooms = await owner.call("GET", f"/clubs/{club['id']}/rooms", expect=200)
    ids = {r["name"]: r["id"] for r in rooms["rooms"]}
    page = await new_page(browser, gateway)
    await page.goto("/login")
    await log_in(page, dan.email)
    yield {"gateway": gateway, "olga": olga, "dan": dan, "club": club["id"], "rooms": ids, "page": page}
    await page.context.close()


async def as_olga(world, act) -> None:
    """`act(client)` on a socket of Olga's own (logged in afresh: access tokens may be short)."""
    async with client_session(world["gateway"].url) as http:
        resp = await http.post(
            "/api/v1/auth/login", json={"email": world["olga"].email, "password": world["olga"].password}
        )
        token = (await resp.json())["access_token"]
    client = await ChatClient(world["gateway"].url, token).connect()
    try:
        await act(client)
    finally:
        await client.close()


async def olga_says(world, *texts: str, room: str = "general") -> list[int]:
    """The seqs of `texts`, sent by Olga to `room` in order."""
    seqs: list[int] = []

    async def act(client):
        room_id = world["rooms"][room]
        await client.join(room_id)
        for text in texts:
            ack = await client.send(room_id, text)
            assert ack["ok"], ack
            seqs.append(ack["seq"])

    await as_olga(world, act)
    return seqs


def room_url(world, room: str) -> str:
    return f"/clubs/{world['club']}/rooms/{world['rooms'][room]}"


def composer(page: Page):
    return page.get_by_role("textbox", name="Message")


def article(page: Page, text: str):
    return messages(page).get_by_role("article").filter(has_text=text)


# The elements in the log that reach past its right edge (what makes it scroll sideways).
WIDER_THAN_LOG = """el => { const right = el.getBoundingClientRect().right;
  return [...el.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > right + 0.5)
    .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right - right)); }"""


async def assert_fits(page: Page, state: str) -> None:
    """Nothing is wider than the screen (not the page, not the message log) and Send is on screen."""
    width = await page.evaluate("window.innerWidth")
    page_width = await page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= width, f"{state}: the page is {page_width} px wide in a {width} px window"
    log_overflow = await messages(page).evaluate("el => el.scrollWidth - el.clientWidth")
    wide = await messages(page).evaluate(WIDER_THAN_LOG)
    assert log_overflow <= 0, f"{state}: the message log scrolls sideways by {log_overflow} px: {wide}"
    send_button = page.get_by_role("button", name="Send", exact=True)
    await expect(send_button).to_be_in_viewport(ratio=1)
    box = await send_button.bounding_box()
    assert box and box["x"] + box["width"] <= width, f"{state}: Send is off screen: {box}"


async def test_a_long_unbroken_token_never_widens_the_room(world):
    page: Page = world["page"]
    await olga_says(world, LONG_URL, f"before {LONG_WORD} after")
    for size in SIZES:
        await page.set_viewport_size(size)
        await page.goto(room_url(world, "general"))
        tail = messages(page).get_by_text("after", exact=False).last
        await expect(tail).to_be_visible()
        await expect(messages(page).get_by_role("link", name=LONG_URL)).to_have_attribute("rel", REL)
        await assert_fits(page, f"long token at {size['width']}")
        await assert_accessible(page, f"long token at {size['width']}")
        await page.reload()
        await expect(tail).to_be_visible()
        await assert_fits(page, f"long token after a reload at {size['width']}")
        await assert_accessible(page, f"long token after a reload at {size['width']}")
    await page.set_viewport_size(DESKTOP)
    await shot(page, "content-long-token")


async def test_drafts_stay_with_their_room_across_switches_and_reloads(world):
    page: Page = world["page"]
    await page.set_viewport_size(DESKTOP)
    await page.goto(room_url(world, "general"))
    rooms = page.get_by_role("navigation", name="Rooms")
    await composer(page).fill("half a thought for general")

    await rooms.get_by_role("link", name=re.compile(r"coding")).click()
    await expect(page.get_by_role("heading", name=re.compile(r"coding"))).to_be_visible()
    await expect(composer(page)).to_have_value("")
    await composer(page).fill("a draft for coding")
    await assert_accessible(page, "a draft in coding")

    await rooms.get_by_role("link", name=re.compile(r"general")).click()
    await expect(page.get_by_role("heading", name=re.compile(r"general"))).to_be_visible()
    await expect(composer(page)).to_have_value("half a thought for general")

    await page.reload()
    await expect(composer(page)).to_have_value("half a thought for general")
    await rooms.get_by_role("link", name=re.compile(r"coding")).click()
    await expect(composer(page)).to_have_value("a draft for coding")

    # Sent: the draft is gone from its room, and only from its room.
    await composer(page).press("Enter")
    await expect(messages(page).get_by_text("a draft for coding")).to_have_count(1)
    await expect(composer(page)).to_have_value("")
    await page.reload()
    await expect(composer(page)).to_have_value("")

    await page.set_viewport_size(PHONE)
    await page.goto(room_url(world, "general"))
    await expect(composer(page)).to_have_value("half a thought for general")
    await assert_accessible(page, "a draft in general at 390")
    await page.goto(room_url(world, "coding"))
    await expect(messages(page).get_by_text("a draft for coding")).to_be_visible()
    await expect(composer(page)).to_have_value("")
    await assert_accessible(page, "no draft in coding at 390")
    await page.set_viewport_size(DESKTOP)


async def test_formatting_links_and_raw_html_that_stays_text(world):
    page: Page = world["page"]
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    await olga_says(
        world,
        "**strong words** and *slanted words* and `inline_code()`",
        "```\nfenced block line\n```",
        "> a quoted line",
        "see https://example.com/docs?page=2 for more",
        "<img src=x onerror=alert(1)> and <b>not bold</b>",
    )
    log = messages(page)
    for size in SIZES:
        await page.set_viewport_size(size)
        await page.goto(room_url(world, "general"))
        await expect(log.locator("strong", has_text="strong words")).to_be_visible()
        await expect(log.locator("em", has_text="slanted words")).to_be_visible()
        await expect(log.locator("code", has_text="inline_code()")).to_be_visible()
        await expect(log.locator("pre", has_text="fenced block line")).to_be_visible()
        await expect(log.locator("blockquote", has_text="a quoted line")).to_be_visible()
        link = log.get_by_role("link", name="https://example.com/docs?page=2")
        await expect(link).to_have_attribute("href", "https://example.com/docs?page=2")
        await expect(link).to_have_attribute("rel", REL)
        await expect(link).to_have_attribute("target", "_blank")
        # Raw HTML is the text it was typed as: no image, no bold, no script ran.
        await expect(log.get_by_text("<img src=x onerror=alert(1)> and <b>not bold</b>")).to_be_visible()
        await expect(log.locator("img")).to_have_count(0)
        await expect(log.locator("b")).to_have_count(0)
        await assert_accessible(page, f"formatted messages at {size['width']}")
    assert dialogs == []
    await page.set_viewport_size(DESKTOP)
    await shots(page, "content-formatting")


async def test_the_live_sessions_pinned_link_is_a_link(world):
    page: Page = world["page"]
    start = datetime.now(UTC) + timedelta(minutes=5)
    async with client_session(world["gateway"].url) as http:
        owner = Api(http, world["olga"])
        _, event = await owner.call(
            "POST",
            f"/clubs/{world['club']}/events",
            {
                "title": "Reading group",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(),
            },
            expect=201,
        )
        await owner.call("POST", f"/events/{event['id']}/live/start", expect=200)

    async def pin(client):
        joined = await client.call("live:join", {"event_id": event["id"]})
        assert joined["ok"], joined
        ack = await client.call(
            "live:pin", {"event_id": event["id"], "text": "Slides: https://example.com/slides.pdf"}
        )
        assert ack["ok"], ack

    await as_olga(world, pin)
    for size in SIZES:
        await page.set_viewport_size(size)
        await page.goto(f"/events/{event['id']}/live")
        link = page.get_by_role("note").get_by_role("link", name="https://example.com/slides.pdf")
        await expect(link).to_have_attribute("rel", REL)
        await expect(link).to_have_attribute("target", "_blank")
        await assert_accessible(page, f"pinned link at {size['width']}")
    await page.set_viewport_size(DESKTOP)


async def test_emoji_picker_reactions_recent_emoji_and_who_reacted(world):
    page: Page = world["page"]
    text = f"React to me {uuid.uuid4().hex[:6]}"
    (seq,) = await olga_says(world, text)

    async def react(client):
        await client.join(world["rooms"]["general"])
        ack = await client.call(
            "reaction:add", {"room_id": world["rooms"]["general"], "seq": seq, "emoji": "🎉"}
        )
        assert ack["ok"], ack

    await as_olga(world, react)
    await page.set_viewport_size(DESKTOP)
    await page.goto(room_url(world, "general"))
    message = article(page, text)

    # Who reacted: on hover, and as the reaction's description for keyboard and screen readers.
    party = message.get_by_role("button", name="party popper: 1")
    await party.hover()
    await expect(message.get_by_role("tooltip")).to_have_text("Olga reacted with party popper")
    await expect(party).to_have_accessible_description("Olga reacted with party popper")
    await assert_accessible(page, "who reacted")
    await party.click()
    await expect(message.get_by_role("button", name="party popper: 2")).to_have_attribute(
        "aria-pressed", "true"
    )
    await message.get_by_role("button", name="party popper: 2").focus()
    await expect(message.get_by_role("tooltip")).to_have_text("Olga and you reacted with party popper")
    await page.keyboard.press("Escape")  # dismissed without moving focus (WCAG 1.4.13)
    await expect(message.get_by_role("tooltip")).to_be_hidden()
    await expect(message.get_by_role("button", name="party popper: 2")).to_be_focused()

    # The picker adds another reaction, by keyboard: search, arrow into the grid, Enter.
    await message.get_by_role("button", name="Add reaction").last.click()
    picker = page.get_by_role("dialog", name="Add reaction")
    await expect(picker).to_be_visible()
    await expect(picker.get_by_role("searchbox", name="Search emoji")).to_be_focused()
    await assert_accessible(page, "reaction picker open")
    await page.keyboard.type("fire")
    await page.keyboard.press("ArrowDown")
    await expect(picker.get_by_role("button", name="fire")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(picker).to_have_count(0)
    fire = message.get_by_role("button", name="fire: 1")
    await expect(fire).to_have_attribute("aria-pressed", "true")
    await fire.hover()
    await expect(message.get_by_role("tooltip").filter(has_text="fire")).to_have_text("You reacted with fire")

    # The composer's picker offers 🔥 as a recent emoji and inserts it at the caret.
    await composer(page).fill("hot take ")
    await page.get_by_role("button", name="Insert emoji").click()
    inserter = page.get_by_role("dialog", name="Insert emoji")
    recent = inserter.get_by_role("group", name="Recent emoji")
    await expect(recent.get_by_role("button", name="fire")).to_be_visible()
    await assert_accessible(page, "composer picker with recent emoji")
    await shot(page, "content-emoji-picker")
    await recent.get_by_role("button", name="fire").click()
    await expect(inserter).to_have_count(0)
    await expect(composer(page)).to_have_value("hot take 🔥")
    await expect(composer(page)).to_be_focused()
    # Escape closes the picker and gives focus back to its button.
    await page.get_by_role("button", name="Insert emoji").click()
    await expect(inserter).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(inserter).to_have_count(0)
    await expect(page.get_by_role("button", name="Insert emoji")).to_be_focused()

    # On a phone: the picker fits the screen, reactions and who reacted are there.
    await page.set_viewport_size(PHONE)
    await page.reload()
    await expect(message.get_by_role("button", name="fire: 1")).to_be_visible()
    await message.get_by_role("button", name="party popper: 2").focus()
    await expect(message.get_by_role("tooltip").filter(has_text="party")).to_be_visible()
    await assert_accessible(page, "who reacted at 390")
    await page.get_by_role("button", name="Insert emoji").click()
    box = await page.get_by_role("dialog", name="Insert emoji").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    await assert_accessible(page, "composer picker at 390")
    await page.keyboard.press("Escape")
    await page.set_viewport_size(DESKTOP)


async def test_a_long_press_on_a_phone_shows_who_reacted_and_a_tap_still_reacts(world, browser):
    """Phones have no hover: holding a reaction shows who reacted (and does not toggle it); a tap toggles."""
    text = f"Hold my reaction {uuid.uuid4().hex[:6]}"
    (seq,) = await olga_says(world, text)

    async def react(client):
        await client.join(world["rooms"]["general"])
        ack = await client.call(
            "reaction:add", {"room_id": world["rooms"]["general"], "seq": seq, "emoji": "🎉"}
        )
        assert ack["ok"], ack

    await as_olga(world, react)
    # Dan's session on a touch phone (his cookies, a touch screen and a phone's viewport).
    context = await browser.new_context(
        base_url=world["gateway"].url,
        storage_state=await world["page"].context.storage_state(),
        viewport=PHONE,
        has_touch=True,
        is_mobile=True,
    )
    try:
        page = await context.new_page()
        await page.goto(room_url(world, "general"))
        message = article(page, text)
        party = message.get_by_role("button", name="party popper: 1")
        await expect(party).to_be_visible()
        box = await party.bounding_box()
        assert box
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        cdp = await context.new_cdp_session(page)
        point = [{"x": x, "y": y}]
        await cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": point})
        # Held: the tip appears while the finger is still down (polled, no fixed sleep).
        await expect(message.get_by_role("tooltip")).to_have_text("Olga reacted with party popper")
        await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        await expect(message.get_by_role("tooltip")).to_be_visible()
        await assert_accessible(page, "who reacted by long press at 390")
        # The long press did not react; a marker proves it: a tap does, and the count goes to 2, not 3 or 1.
        await party.tap()
        await expect(message.get_by_role("button", name="party popper: 2")).to_have_attribute(
            "aria-pressed", "true"
        )
        # A touch elsewhere puts the tip away.
        await page.get_by_role("log", name="Messages").tap(position={"x": 5, "y": 5})
        await expect(message.get_by_role("tooltip")).to_be_hidden()
    finally:
        await context.close()
