"""Issue 19, point 7: notifications in the web client, in a real browser.

Ann and Ben share a club room. Ben mentions Ann ("@Ann look") and then writes 60 more messages, so the
mention is older than the page a room opens with. Ann's bell says "Notifications, 1 unread" (on a second tab
of hers too); the inbox lists it unread; clicking it opens the room scrolled to that message, focused and
highlighted, and marks it read: the count drops to none on both tabs (the second hears it as
``notification:read``). The room's options set the room's level to Nothing (the server says ``none``);
"Mark all read" clears new ones; the Settings page has both switches and the email digest switch saves.
axe-core finds nothing serious at 1280×800 and 390×844 in every state visited; screenshots of the bell,
the inbox, the highlighted message, the room options and the Settings page at both sizes.
"""

import re

import pytest
from playwright.async_api import Page, expect
from support.chat import ChatClient, make_club_room, send_all
from support.members import Api, client_session, make_member
from support.wait import wait_for
from support.web import (
    PHONE,
    SHOTS,
    accessible_at_both_sizes,
    another_tab,
    log_in,
    messages,
    new_page,
    settled,
    shots,
)

DESKTOP = {"width": 1280, "height": 800}
AFTER = 60  # messages after the mention: more than the first page a room opens with (50)


def bell(page: Page, unread: int | None = None):
    name = "Notifications" if not unread else f"Notifications, {unread} unread"
    return page.get_by_role("button", name=re.compile(f"^{re.escape(name)}$"))


@pytest.fixture(scope="module")
async def club(gateway, smtp):
    ann = await make_member(gateway.url, smtp, "Ann")
    ben = await make_member(gateway.url, smtp, "Ben")
    room = await make_club_room(ann.user_id, [ben.user_id])
    sender = await ChatClient(gateway.url, ben.token).connect()
    await sender.join(room.id)
    await send_all(sender, room.id, [f"before {i:02d}" for i in range(5)])
    yield {"ann": ann, "ben": ben, "room": room, "sender": sender}
    await sender.close()


async def test_a_mention_rings_the_bell_and_opens_the_message(browser, gateway, club):
    ann, room, sender = club["ann"], club["room"], club["sender"]
    page = await new_page(browser, gateway)
    other = None
    try:
        await page.goto("/login")
        await log_in(page, ann.email)
        await expect(bell(page)).to_be_visible()
        other = await another_tab(page)
        await other.goto("/")
        await expect(bell(other)).to_be_visible()
        await page.bring_to_front()  # a tab in the background is not painted (nor focused)

        # Ben mentions Ann, then the room goes on: the mention is not in the room's first page.
        await send_all(sender, room.id, ["@Ann look"])
        await send_all(sender, room.id, [f"after {i:02d}" for i in range(AFTER)])
        await expect(bell(page, 1)).to_be_visible()
        await expect(bell(other, 1)).to_be_visible()
        await shots(page, "notifications-01-bell")
        await accessible_at_both_sizes(page, "the feed with a notification")

        # The inbox: newest first, the mention unread.
        await bell(page, 1).click()
        inbox = page.get_by_role("dialog", name="Notifications")
        await expect(inbox).to_be_visible()
        items = inbox.get_by_role("list", name="Notifications").get_by_role("link")
        await expect(items).to_have_count(1)
        await expect(items.first).to_have_attribute("data-read", "false")
        await expect(inbox.get_by_role("button", name="Mark all read")).to_be_enabled()
        await shots(page, "notifications-02-inbox")
        await accessible_at_both_sizes(page, "the inbox")
        # On a phone the inbox is a full-screen sheet.
        await page.set_viewport_size(PHONE)
        await settled(page)
        box = await page.locator("#inbox").bounding_box()
        assert box and box["width"] >= 389, box
        await page.set_viewport_size(DESKTOP)
        await settled(page)

        # Click-through: the room opens at that message, older history loaded, the message marked.
        await items.first.click()
        await expect(page).to_have_url(re.compile(rf"/clubs/{room.club_id}/rooms/{room.id}\?seq=\d+$"))
        log = messages(page)
        mention = log.get_by_role("article").filter(has_text="@Ann look")
        await expect(mention).to_have_attribute("data-highlighted", "true")
        await expect(mention).to_be_in_viewport()
        await expect(mention).to_be_focused()
        await expect(mention).to_have_attribute("data-mention", "true")
        await page.screenshot(path=str(SHOTS / "notifications-03-message.png"), animations="disabled")
        # Read here, and on the other tab through notification:read.
        await expect(bell(page)).to_be_visible()
        await expect(bell(other)).to_be_visible()
        await page.set_viewport_size(PHONE)
        await settled(page)
        await expect(mention).to_be_in_viewport()
        await page.screenshot(path=str(SHOTS / "notifications-03-message-390.png"), animations="disabled")
        await page.set_viewport_size(DESKTOP)
        await settled(page)
        # The highlight lasts a few seconds only.
        await expect(mention).not_to_have_attribute("data-highlighted", "true", timeout=15_000)

        # The room's options: notifications from this room set to Nothing.
        await page.get_by_role("button", name="Room options").click()
        menu = page.get_by_role("group", name=re.compile("^Options of"))
        await expect(menu.get_by_role("radio", name=re.compile("^All messages"))).to_be_checked()
        await accessible_at_both_sizes(page, "the room options")
        await menu.get_by_role("radio", name=re.compile("^Nothing")).check()
        await expect(menu.get_by_role("status")).to_have_text("Saved: Nothing.")
        await expect(menu.get_by_role("radio", name=re.compile("^Nothing"))).to_be_checked()
        await shots(page, "notifications-04-room-options")
        async with client_session(gateway.url) as http:
            _, body = await Api(http, ann).call("GET", f"/rooms/{room.id}/notifications", expect=200)
        assert body["level"] == "none", body
        await page.keyboard.press("Escape")
        await expect(menu).to_be_hidden()
        await expect(page.get_by_role("button", name="Room options")).to_be_focused()
    finally:
        if other is not None:
            await other.close()
        await page.context.close()


async def test_mark_all_read_and_the_settings_page(browser, gateway, club):
    ann, room, sender = club["ann"], club["room"], club["sender"]
    async with client_session(gateway.url) as http:
        # The first test muted the room: back to all, so Ben's mentions notify again.
        await Api(http, ann).call("PATCH", f"/rooms/{room.id}/notifications", {"level": "all"}, expect=200)
    page = await new_page(browser, gateway)
    try:
        await page.goto("/login")
        await log_in(page, ann.email)
        await expect(bell(page)).to_be_visible()
        await send_all(sender, room.id, ["@Ann one more", "@Ann and another"])
        await expect(bell(page, 2)).to_be_visible()
        await bell(page, 2).click()
        inbox = page.get_by_role("dialog", name="Notifications")
        unread = inbox.get_by_role("list", name="Notifications").locator('[data-read="false"]')
        await expect(unread).to_have_count(2)
        await inbox.get_by_role("button", name="Mark all read").click()
        await expect(unread).to_have_count(0)
        await expect(inbox.get_by_text("All caught up")).to_be_visible()
        await page.keyboard.press("Escape")
        await expect(inbox).to_be_hidden()
        await expect(bell(page)).to_be_focused()
        async with client_session(gateway.url) as http:

            async def none_unread():
                _, counts = await Api(http, ann).call("GET", "/me/unread", expect=200)
                return counts.get("notifications") == 0

            await wait_for(none_unread, timeout=10, interval=0.2)

        # Settings, from the top bar: both switches; push asks nothing until clicked.
        await page.get_by_role("link", name="Settings").click()
        await expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()
        push = page.get_by_role("switch", name="Push notifications")
        digest = page.get_by_role("switch", name="Email digest")
        await expect(push).to_be_visible()
        await expect(push).to_have_attribute("aria-checked", "false")
        await expect(digest).to_be_enabled()
        # Nothing registered and nothing asked while the switch was not clicked; a browser that refuses
        # notifications outright (some headless ones) is said so, with the switch off.
        assert await page.evaluate("navigator.serviceWorker.getRegistration().then(r => !!r)") is False
        if await page.evaluate("Notification.permission") == "denied":
            await expect(
                page.get_by_role("alert").filter(has_text="Notifications are blocked")
            ).to_be_visible()
            await expect(push).to_be_disabled()
        else:
            await expect(push).to_be_enabled()
        was = await digest.get_attribute("aria-checked")
        await shots(page, "notifications-05-settings")
        await accessible_at_both_sizes(page, "the settings page")
        await digest.click()
        now = "false" if was == "true" else "true"
        await expect(digest).to_have_attribute("aria-checked", now)
        await expect(page.get_by_role("status").filter(has_text=re.compile("digest"))).to_be_visible()
        async with client_session(gateway.url) as http:
            _, me = await Api(http, ann).call("GET", "/me", expect=200)
        assert me.get("email_digest") is (now == "true"), me
        # Reached from the phone's menu too.
        await page.set_viewport_size(PHONE)
        await settled(page)
        await page.goto("/")
        await page.get_by_role("button", name="Menu").click()
        await page.get_by_role("dialog", name="Menu").get_by_role("link", name="Settings").click()
        await expect(page.get_by_role("switch", name="Email digest")).to_have_attribute("aria-checked", now)
    finally:
        await page.context.close()
