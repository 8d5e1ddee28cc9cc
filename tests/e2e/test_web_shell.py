"""The app's shell in a real browser (issue 14): chat on a phone (the message log fills the screen, rooms,
members and the app menu in drawers, nothing wider than the screen), the skip link and focus after
navigation, the outage screen when the API answers 503, the connection banner in the flow of the page,
unread counts per club in the nav and the tab title, the dark theme, and the screenshots of the main
screens in docs/screenshots/. axe-core runs on every page state visited, at 1280x800 and 390x844."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from support.members import Api, client_session, make_member
from support.web import assert_accessible, log_in, messages, new_page, say, send

DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
async def world(gateway, smtp):
    """Ann owns a club Ben is a member of, with a few messages in #general and an event running live."""
    ann = await make_member(gateway.url, smtp, "Ann Shell")
    ben = await make_member(gateway.url, smtp, "Ben Shell")
    async with client_session(gateway.url) as http:
        owner, member = Api(http, ann), Api(http, ben)
        _, club = await owner.call(
            "POST",
            "/clubs",
            {
                "name": f"Jazz Circle {uuid.uuid4().hex[:4]}",
                "description": "Listening nights and jam sessions",
            },
            expect=201,
        )
        await member.call("POST", f"/clubs/{club['id']}/join", expect=200)
        _, rooms = await owner.call("GET", f"/clubs/{club['id']}/rooms", expect=200)
        start = datetime.now(UTC) + timedelta(minutes=30)
        _, event = await owner.call(
            "POST",
            f"/clubs/{club['id']}/events",
            {
                "title": "Listening night: Kind of Blue",
                "description": "We play the record and talk about it.",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=2)).isoformat(),
            },
            expect=201,
        )
        await member.call("POST", f"/events/{event['id']}/rsvp", expect=200)
        await owner.call("POST", f"/events/{event['id']}/live/start", expect=200)
    room_id = rooms["rooms"][0]["id"]
    for text in ("Welcome to the circle!", "Tonight: Kind of Blue, side A first.", "See you at eight."):
        await say(gateway.url, ann, room_id, text)
    return {"ann": ann, "ben": ben, "club": club, "room_id": room_id, "event": event}


async def logged_in(browser, gateway, member, viewport=DESKTOP) -> Page:
    page = await new_page(browser, gateway)
    await page.set_viewport_size(viewport)
    await page.goto("/login")
    if viewport == DESKTOP:
        await log_in(page, member.email)
    else:
        await log_in_phone(page, member.email)
    return page


async def log_in_phone(page: Page, email: str) -> None:
    await log_in(page, email, phone=True)


async def no_horizontal_overflow(page: Page, what: str) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"{what} is {width} px wide in a {viewport} px viewport"


async def box(locator):
    b = await locator.bounding_box()
    assert b is not None
    return b


async def both_sizes_accessible(page: Page, state: str) -> None:
    """axe-core at the desktop size and on a phone (back to where it was)."""
    size = page.viewport_size
    for name, viewport in (("1280", DESKTOP), ("390", PHONE)):
        await page.set_viewport_size(viewport)
        await expect(page.get_by_text(re.compile(r"^Loading\b"))).to_have_count(0)
        await assert_accessible(page, f"{state} at {name} px")
    await page.set_viewport_size(size)


async def test_chat_on_a_phone_fills_the_screen_with_rooms_members_and_menu_in_drawers(
    browser, gateway, world
):
    page = await logged_in(browser, gateway, world["ben"], PHONE)
    try:
        await page.goto(f"/clubs/{world['club']['id']}")
        log = messages(page)
        await expect(log.get_by_text("See you at eight.")).to_be_visible()
        await assert_accessible(page, "the club's chat at 390 px")
        await no_horizontal_overflow(page, "the club's chat")
        # The message log takes most of the screen; the composer sits at the bottom.
        assert (await box(log))["height"] >= 0.6 * PHONE["height"], await box(log)
        send_box = await box(page.get_by_role("button", name="Send"))
        assert send_box["y"] + send_box["height"] <= PHONE["height"]
        assert send_box["y"] > 0.75 * PHONE["height"], send_box

        # Rooms and members open in drawers: the button says so, focus goes in, Escape or Close shuts it.
        for name, close_with in (("Rooms", "Escape"), ("Members", "button")):
            opener = page.get_by_role("button", name=re.compile(f"^{name}"))
            await expect(opener).to_have_attribute("aria-expanded", "false")
            await opener.click()
            drawer = page.get_by_role("dialog", name=name)
            await expect(drawer).to_be_visible()
            await expect(opener).to_have_attribute("aria-expanded", "true")
            assert await drawer.evaluate("d => d.contains(document.activeElement)")
            if name == "Rooms":
                await expect(
                    drawer.get_by_role("navigation", name="Rooms").get_by_role("link", name="general")
                ).to_be_visible()
            else:
                await expect(
                    drawer.get_by_role("list", name="Members").get_by_text("Ann Shell")
                ).to_be_visible()
            await assert_accessible(page, f"the {name} drawer at 390 px")
            if close_with == "Escape":
                await page.keyboard.press("Escape")
            else:
                await drawer.get_by_role("button", name=re.compile("^Close")).click()
            await expect(drawer).to_have_count(0)
            await expect(opener).to_be_focused()
            await expect(opener).to_have_attribute("aria-expanded", "false")

        # One long unbroken word cannot push Send or the page past the screen.
        await send(page, "https://example.com/" + "a" * 400)
        await expect(log.get_by_text(re.compile("aaaaaaaaaa"))).to_be_visible()
        await no_horizontal_overflow(page, "the chat with a long link")
        await expect(page.get_by_role("button", name="Send")).to_be_in_viewport()
        await page.set_viewport_size(DESKTOP)
        await expect(page.get_by_role("list", name="Members")).to_be_in_viewport()
        await expect(page.get_by_role("button", name="Send")).to_be_in_viewport()
        await no_horizontal_overflow(page, "the desktop chat with a long link")
        await assert_accessible(page, "the club's chat at 1280 px")
        await page.set_viewport_size(PHONE)

        # "Log out" is reachable on a phone: in the menu.
        menu = page.get_by_role("button", name="Menu")
        await menu.click()
        dialog = page.get_by_role("dialog", name="Menu")
        await expect(dialog.get_by_role("button", name="Log out")).to_be_in_viewport()
        await assert_accessible(page, "the app menu at 390 px")
        await page.keyboard.press("Escape")
        await expect(dialog).to_have_count(0)
    finally:
        await page.context.close()


async def test_the_skip_link_is_the_first_tab_stop_and_focus_goes_to_the_heading_after_navigation(
    browser, gateway, world
):
    page = await logged_in(browser, gateway, world["ben"])
    try:
        for viewport in (DESKTOP, PHONE):
            await page.set_viewport_size(viewport)
            await page.goto("/clubs")
            await expect(page.get_by_role("heading", level=1)).to_be_visible()
            await page.keyboard.press("Tab")
            skip = page.get_by_role("link", name="Skip to content")
            await expect(skip).to_be_focused()
            await expect(skip).to_be_in_viewport()
            await assert_accessible(page, f"the skip link at {viewport['width']} px")
            await page.keyboard.press("Enter")
            focused = await page.evaluate(
                "() => [document.activeElement.tagName, !!document.activeElement.closest('main#content')]"
            )
            assert focused == ["H1", True], focused

        await page.set_viewport_size(DESKTOP)
        # A route change moves focus to the new page's h1 (not left on <body> or the link).
        for link, path in (("Profile", "/profile"), ("Feed", "/"), ("Clubs", "/clubs")):
            await page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()
            await expect(page).to_have_url(re.compile(re.escape(path) + "$"))
            await expect(page.locator("main#content h1")).to_be_focused()
            await both_sizes_accessible(page, f"{link} after navigation")
        await page.goto(f"/clubs/{world['club']['id']}")
        await page.get_by_role("link", name="Events").click()
        await expect(page.locator("main#content h1")).to_be_focused()
        assert await page.locator("main").count() == 1
        await both_sizes_accessible(page, "the club's events")
    finally:
        await page.context.close()


async def test_an_outage_shows_an_outage_screen_not_a_login_form_and_recovers(browser, gateway, world):
    page = await logged_in(browser, gateway, world["ben"])
    try:
        await page.goto("/clubs")
        await expect(page.get_by_role("heading", name="Clubs", exact=True)).to_be_visible()

        async def unavailable(route):
            await route.fulfill(
                status=503,
                content_type="application/json",
                body='{"error": {"code": "unavailable", "message": "down for maintenance"}}',
            )

        await page.route("**/api/v1/**", unavailable)
        await page.reload()
        await expect(page.get_by_role("heading", name=re.compile("unavailable", re.I))).to_be_visible()
        await expect(page.get_by_role("status").filter(has_text="Retrying")).to_be_visible()
        await expect(page.get_by_label("Password")).to_have_count(0)
        await expect(page).not_to_have_url(re.compile("/login"))
        await both_sizes_accessible(page, "the outage screen")

        await page.unroute("**/api/v1/**")
        # It tries again by itself and carries on where the person was, still logged in.
        await expect(page.get_by_role("heading", name="Clubs", exact=True)).to_be_visible(timeout=20_000)
        await expect(page).to_have_url(re.compile("/clubs$"))
        await expect(page.get_by_role("button", name="Log out")).to_be_visible()
    finally:
        await page.context.close()


async def test_the_reconnecting_banner_sits_above_the_room_header_and_says_back_online(
    browser, gateway, world
):
    page = await logged_in(browser, gateway, world["ben"])
    try:
        await page.goto(f"/clubs/{world['club']['id']}")
        await expect(messages(page).get_by_text("See you at eight.")).to_be_visible()
        header = page.locator("#room-title")
        before = await box(header)
        await page.context.set_offline(True)
        banner = page.get_by_role("status", name="Reconnecting…")
        await expect(banner).to_be_visible()
        for viewport in (DESKTOP, PHONE):
            await page.set_viewport_size(viewport)
            b, h = await box(banner), await box(header)
            assert b["y"] + b["height"] <= h["y"] + 0.5, (b, h)  # in the flow: never over the room's header
            await assert_accessible(page, f"reconnecting at {viewport['width']} px")
        await page.set_viewport_size(DESKTOP)
        assert (await box(header))["y"] > before["y"]  # the screen moved down for it
        await page.context.set_offline(False)
        await expect(page.get_by_role("status", name="Back online")).to_be_visible()
        await expect(banner).to_have_count(0)
        await assert_accessible(page, "back online")
        await expect(page.get_by_role("status", name="Back online")).to_have_count(0, timeout=15_000)
    finally:
        await page.context.close()


async def test_unread_counts_show_per_club_in_the_nav_and_in_the_title(browser, gateway, world):
    page = await logged_in(browser, gateway, world["ben"])
    try:
        await page.goto(f"/clubs/{world['club']['id']}")  # everything read so far
        await expect(messages(page).get_by_text("See you at eight.")).to_be_visible()
        await page.get_by_role("navigation", name="Main").get_by_role("link", name="Profile").click()
        await expect(page).to_have_title("ClubHoloHub")

        await say(gateway.url, world["ann"], world["room_id"], "Who is bringing the records?")
        await say(gateway.url, world["ann"], world["room_id"], "And the speakers?")
        await expect(page).to_have_title("(2) ClubHoloHub", timeout=30_000)
        clubs_link = page.get_by_role("navigation", name="Main").get_by_role(
            "link", name=re.compile("^Clubs")
        )
        await expect(clubs_link).to_contain_text("2 unread")
        await both_sizes_accessible(page, "unread counts in the nav")

        await page.set_viewport_size(PHONE)
        await page.get_by_role("button", name="Menu").click()
        menu = page.get_by_role("dialog", name="Menu")
        club_link = menu.get_by_role("link", name=re.compile(re.escape(world["club"]["name"])))
        await expect(club_link).to_contain_text("2 unread")
        await assert_accessible(page, "unread counts per club in the menu at 390 px")
        await club_link.click()
        await expect(messages(page).get_by_text("And the speakers?")).to_be_visible()
        await expect(page).to_have_title("ClubHoloHub", timeout=30_000)
    finally:
        await page.context.close()


async def test_the_dark_theme_toggle_switches_and_persists(browser, gateway, world):
    page = await logged_in(browser, gateway, world["ben"])
    try:
        toggle = page.get_by_role("button", name="Dark theme")
        await expect(toggle).to_have_attribute("aria-pressed", "false")
        assert not await page.evaluate("document.documentElement.classList.contains('dark')")
        await toggle.click()
        await expect(toggle).to_have_attribute("aria-pressed", "true")
        assert await page.evaluate("document.documentElement.classList.contains('dark')")
        background = await page.evaluate(
            "getComputedStyle(document.querySelector('main').parentElement).backgroundColor"
        )
        await page.reload()
        await expect(page.get_by_role("button", name="Dark theme")).to_have_attribute("aria-pressed", "true")
        assert await page.evaluate("document.documentElement.classList.contains('dark')")
        assert background != "rgb(248, 250, 252)", background  # not slate-50 any more
        for path in (
            "/",
            "/clubs",
            f"/clubs/{world['club']['id']}",
            f"/events/{world['event']['id']}",
            "/profile",
        ):
            await page.goto(path)
            await expect(page.get_by_role("heading", level=1)).to_be_visible()
            await both_sizes_accessible(page, f"{path} in the dark theme")
        await page.get_by_role("button", name="Dark theme").click()
        await expect(page.get_by_role("button", name="Dark theme")).to_have_attribute("aria-pressed", "false")
    finally:
        await page.context.close()


SCREENS = {
    "feed": ("/", lambda page: page.get_by_role("heading", level=1)),
    "clubs": ("/clubs", lambda page: page.get_by_role("list", name="My clubs")),
    "club-chat": (None, lambda page: messages(page).get_by_text("See you at eight.")),
    "event": (None, lambda page: page.get_by_role("heading", name="Listening night: Kind of Blue")),
    "live-session": (None, lambda page: page.get_by_role("region", name="Stage")),
    "profile": ("/profile", lambda page: page.get_by_role("heading", name="Ben Shell")),
}


async def test_screenshots_of_the_main_screens_at_both_sizes_in_both_themes(browser, gateway, world):
    """docs/screenshots/<screen>-<width>-<theme>.png, each once the screen's data is in."""
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    club, event = world["club"]["id"], world["event"]["id"]
    paths = {
        "club-chat": f"/clubs/{club}",
        "event": f"/events/{event}",
        "live-session": f"/events/{event}/live",
    }
    for theme in ("light", "dark"):
        page = await new_page(browser, gateway)
        try:
            await page.add_init_script(f"localStorage.setItem('clubhub-theme', '{theme}')")
            await page.goto("/login")
            await expect(page.get_by_label("Email")).to_be_visible()
            for viewport in (DESKTOP, PHONE):
                await page.set_viewport_size(viewport)
                await page.goto("/login")
                await expect(page.get_by_role("button", name="Log in")).to_be_visible()
                await assert_accessible(page, f"login, {theme}, {viewport['width']} px")
                await page.screenshot(path=str(DOCS_SHOTS / f"login-{viewport['width']}-{theme}.png"))
            assert await page.evaluate("document.documentElement.classList.contains('dark')") == (
                theme == "dark"
            )
            await page.set_viewport_size(DESKTOP)
            await log_in(page, world["ben"].email)
            for name, (path, ready) in SCREENS.items():
                for viewport in (DESKTOP, PHONE):
                    await page.set_viewport_size(viewport)
                    await page.goto(path or paths[name])
                    await expect(ready(page)).to_be_visible()
                    await expect(page.get_by_text(re.compile(r"^Loading\b"))).to_have_count(0)
                    await no_horizontal_overflow(page, f"{name} ({theme})")
                    await assert_accessible(page, f"{name}, {theme}, {viewport['width']} px")
                    await page.screenshot(
                        path=str(DOCS_SHOTS / f"{name}-{viewport['width']}-{theme}.png"),
                        animations="disabled",
                    )
        finally:
            await page.context.close()
