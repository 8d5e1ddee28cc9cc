"""Issue 20, point 6: direct messages in the web client, in a real browser.

Ann and Ben share a club; Cy does not. Ben waits on his "Direct messages" page. Ann opens the club and
presses "Message Ben" in its member list: the app opens (``POST /dms``) their conversation at
``/dms/:id``. They write to each other live and both see every message once and in order; the DM shows in
both lists ("Direct messages", newest first, Ben's from the ``dm`` notification, without a reload). Cy, an
outsider, gets 404/403 for the room's history. axe-core finds nothing serious at 1280×800 and 390×844;
screenshots of the list and the conversation at both sizes.
"""

import re

import pytest
from playwright.async_api import Page, expect
from support.chat import make_club_room
from support.members import Api, client_session, make_member
from support.web import (
    PHONE,
    accessible_at_both_sizes,
    assert_accessible,
    log_in,
    messages,
    new_page,
    send,
    settled,
    shots,
)

DESKTOP = {"width": 1280, "height": 800}


def dm_list(page: Page):
    return page.get_by_role("navigation", name="Direct messages")


async def texts_in_order(page: Page, expected: list[str]) -> None:
    """The log shows exactly these of the expected texts, once each and in this order."""
    log = messages(page)
    for text in expected:
        await expect(log.get_by_role("article").filter(has_text=text)).to_have_count(1)
    shown = await log.get_by_role("article").all_inner_texts()
    order = [next(i for i, t in enumerate(shown) if text in t) for text in expected]
    assert order == sorted(order), shown


@pytest.fixture(scope="module")
async def people(gateway, smtp):
    ann = await make_member(gateway.url, smtp, "Ann")
    ben = await make_member(gateway.url, smtp, "Ben")
    cy = await make_member(gateway.url, smtp, "Cy")
    room = await make_club_room(ann.user_id, [ben.user_id])
    return {"ann": ann, "ben": ben, "cy": cy, "room": room}


async def test_two_members_open_a_dm_and_talk_live(browser, gateway, people):
    ann, ben, cy, room = people["ann"], people["ben"], people["cy"], people["room"]
    ann_page = await new_page(browser, gateway)
    ben_page = await new_page(browser, gateway)
    try:
        # Ben waits on his DM list (empty).
        await ben_page.goto("/login")
        await log_in(ben_page, ben.email)
        await ben_page.get_by_role("link", name=re.compile("^Messages")).click()
        await expect(ben_page).to_have_url(re.compile(r"/dms$"))
        await expect(dm_list(ben_page).get_by_text("No conversations yet", exact=False)).to_be_visible()

        # Ann opens the club and messages Ben from its member list.
        await ann_page.goto("/login")
        await log_in(ann_page, ann.email)
        await ann_page.goto(f"/clubs/{room.club_id}/rooms/{room.id}")
        members = ann_page.get_by_role("list", name="Members")
        await expect(members.get_by_text("Ben")).to_be_visible()
        await members.get_by_role("button", name="Message Ben").click()
        await expect(ann_page).to_have_url(re.compile(r"/dms/\d+$"))
        dm_id = int(ann_page.url.rsplit("/", 1)[1])
        await expect(ann_page.get_by_role("heading", name="Ben", level=2)).to_be_visible()
        await send(ann_page, "Hi Ben, it's Ann")
        await texts_in_order(ann_page, ["Hi Ben, it's Ann"])

        # Ben's list gets the conversation live (the dm notification), and he opens it.
        entry = dm_list(ben_page).get_by_role("link", name=re.compile("Ann"))
        await expect(entry).to_be_visible()
        await expect(entry).to_contain_text("Hi Ben, it's Ann")
        await entry.click()
        await expect(ben_page).to_have_url(re.compile(rf"/dms/{dm_id}$"))
        await texts_in_order(ben_page, ["Hi Ben, it's Ann"])

        # Both ways, live, in order on both screens.
        await send(ben_page, "Hello Ann!")
        await texts_in_order(ann_page, ["Hi Ben, it's Ann", "Hello Ann!"])
        await send(ann_page, "Shall we meet at the club night?")
        await send(ben_page, "Yes, see you there")
        expected = [
            "Hi Ben, it's Ann",
            "Hello Ann!",
            "Shall we meet at the club night?",
            "Yes, see you there",
        ]
        await texts_in_order(ann_page, expected)
        await texts_in_order(ben_page, expected)

        # The DM is in both lists, with its last message.
        for page, other in ((ann_page, "Ben"), (ben_page, "Ann")):
            link = dm_list(page).get_by_role("link", name=re.compile(other))
            await expect(link).to_have_count(1)
            await expect(link).to_contain_text("see you there")
            await expect(link).to_have_attribute("aria-current", "page")

        await shots(ann_page, "dms-01-conversation")
        await accessible_at_both_sizes(ann_page, "a DM conversation")
        # On a phone the list is a screen of its own, the conversation another.
        await ben_page.set_viewport_size(PHONE)
        await settled(ben_page)
        await expect(ben_page.get_by_role("link", name="All conversations")).to_be_visible()
        await texts_in_order(ben_page, expected)
        last = messages(ben_page).get_by_role("article").filter(has_text="see you there")
        await expect(last).to_be_in_viewport()
        await ben_page.get_by_role("link", name="All conversations").click()
        await expect(dm_list(ben_page).get_by_role("link", name=re.compile("Ann"))).to_be_visible()
        await ben_page.set_viewport_size(DESKTOP)
        await settled(ben_page)
        await shots(ben_page, "dms-02-list")
        await accessible_at_both_sizes(ben_page, "the DM list")

        # Somebody else cannot read it, nor open a DM room as a club's room.
        async with client_session(gateway.url) as http:
            status, _ = await Api(http, cy).call("GET", f"/rooms/{dm_id}/messages")
            assert status in (403, 404), status
            status, body = await Api(http, ann).call("GET", f"/rooms/{dm_id}/messages", expect=200)
            assert [m["text"] for m in body["messages"]] == expected
            _, listed = await Api(http, ben).call("GET", "/dms", expect=200)
            assert [r["room_id"] for r in listed["rooms"]][:1] == [dm_id]
    finally:
        await ann_page.context.close()
        await ben_page.context.close()


async def message_menu(page: Page, text: str, item: str) -> None:
    """Picks `item` in the "More actions" menu of the message holding `text`."""
    article = messages(page).get_by_role("article").filter(has_text=text)
    await article.hover()
    await article.get_by_role("button", name="More actions").click()
    await page.get_by_role("menu", name="More actions").get_by_role("menuitem", name=item).click()


async def test_pins_and_a_thread_in_a_dm(browser, gateway, people):
    """In a DM anyone of its people pins; the other sees it live (room:pins). A reply in a thread is shown in
    the thread panel only, its root says "1 reply" to both, and the panel is the whole screen on a phone."""
    ann, ben = people["ann"], people["ben"]
    async with client_session(gateway.url) as http:
        _, out = await Api(http, ann).call("POST", "/dms", {"user_ids": [ben.user_id]})
    dm_id = out["room_id"]
    ann_page = await new_page(browser, gateway)
    ben_page = await new_page(browser, gateway)
    try:
        for page, member in ((ann_page, ann), (ben_page, ben)):
            await page.goto("/login")
            await log_in(page, member.email)
            await page.goto(f"/dms/{dm_id}")
            await expect(messages(page).get_by_role("article").filter(has_text="Hello Ann!")).to_be_visible()

        # A pin, live for the other.
        await message_menu(ann_page, "Hello Ann!", "Pin message")
        await expect(ann_page.get_by_role("status").filter(has_text="Message pinned.")).to_be_visible()
        for page in (ann_page, ben_page):
            await expect(page.get_by_role("button", name="Pinned (1)")).to_be_visible()
        await ben_page.get_by_role("button", name="Pinned (1)").click()
        pins = ben_page.get_by_role("dialog", name="Pinned messages")
        await expect(pins.get_by_role("list", name="Pinned messages").get_by_role("listitem")).to_have_count(
            1
        )
        await expect(pins).to_contain_text("Hello Ann!")
        await expect(pins).to_contain_text("pinned by Ann")
        await assert_accessible(ben_page, "the pinned messages panel")
        await ben_page.keyboard.press("Escape")
        await expect(pins).to_be_hidden()

        # A thread: the reply is in the panel, not in the room's log; the root counts it for both.
        await message_menu(ann_page, "Shall we meet at the club night?", "Reply in thread")
        thread = ann_page.get_by_role("log", name="Thread")
        await expect(thread).to_contain_text("Shall we meet at the club night?")
        await ann_page.get_by_role("textbox", name="Reply in thread").fill("Eight o'clock?")
        await ann_page.get_by_role("textbox", name="Reply in thread").press("Enter")
        await expect(thread.get_by_role("article").filter(has_text="Eight o'clock?")).to_have_count(1)
        await expect(messages(ann_page).get_by_text("Eight o'clock?")).to_have_count(0)
        root = messages(ben_page).get_by_role("article").filter(has_text="Shall we meet")
        await expect(root.get_by_role("button", name="1 reply")).to_be_visible()
        await expect(messages(ben_page).get_by_text("Eight o'clock?")).to_have_count(0)
        await root.get_by_role("button", name="1 reply").click()
        await expect(ben_page.get_by_role("log", name="Thread")).to_contain_text("Eight o'clock?")
        await shots(ben_page, "dms-03-thread")
        await accessible_at_both_sizes(ben_page, "a thread beside a DM")
        await ben_page.set_viewport_size(PHONE)
        await settled(ben_page)
        box = await ben_page.get_by_role("log", name="Thread").bounding_box()
        assert box and box["width"] >= 360, box
        await expect(messages(ben_page)).to_have_count(0)  # the thread has the screen
        await ben_page.get_by_role("button", name="Close thread").click()
        await expect(messages(ben_page)).to_be_visible()
        await ben_page.set_viewport_size(DESKTOP)
        await settled(ben_page)

        # Search from the header: the result opens the DM at the message, marked.
        results = ann_page.get_by_role("list", name="Search results").get_by_role("link")
        for _ in range(20):  # the index follows the messages within moments
            await ann_page.get_by_role("searchbox", name="Search messages").fill("club night")
            await ann_page.get_by_role("searchbox", name="Search messages").press("Enter")
            await expect(
                ann_page.get_by_role("status").filter(has_text=re.compile("found|No messages"))
            ).to_be_visible()
            if await results.count():
                break
            await ann_page.wait_for_timeout(500)
        await expect(results).to_have_count(1)
        await expect(results.first.locator("mark")).to_have_text(["club", "night"])
        await shots(ann_page, "dms-04-search")
        await accessible_at_both_sizes(ann_page, "the search results")
        await results.first.click()
        await expect(ann_page).to_have_url(re.compile(rf"/dms/{dm_id}\?seq=\d+$"))
        found = messages(ann_page).get_by_role("article").filter(has_text="Shall we meet")
        await expect(found).to_have_attribute("data-highlighted", "true")

        # Ben blocks Ann: her messages fold away for him, and she cannot write to him any more.
        await message_menu(ben_page, "Hi Ben, it's Ann", "Block Ann")
        await expect(ben_page.get_by_role("status").filter(has_text="You blocked Ann")).to_be_visible()
        folded = messages(ben_page).get_by_role("article").filter(has_text="Message from a blocked member")
        await expect(folded.first).to_be_visible()
        await expect(messages(ben_page).get_by_text("Hi Ben, it's Ann")).to_have_count(0)
        await folded.first.get_by_role("button", name="Show").click()
        await expect(messages(ben_page).get_by_text("Hi Ben, it's Ann")).to_be_visible()
        await send(ann_page, "Are you there?")
        await expect(ann_page.get_by_role("alert").filter(has_text="not allowed").first).to_be_visible()
        # Unblocked from the Settings page.
        await ben_page.goto("/settings")
        blocked = ben_page.get_by_role("list", name="Blocked members")
        await expect(blocked).to_contain_text("Ann")
        await blocked.get_by_role("button", name="Unblock Ann").click()
        await expect(ben_page.get_by_text("You have not blocked anyone.")).to_be_visible()
        await ben_page.get_by_role("radio", name=re.compile("^Nobody")).check()
        await expect(ben_page.get_by_role("status").filter(has_text="Saved: Nobody.")).to_be_visible()
        await shots(ben_page, "dms-05-settings")
        await accessible_at_both_sizes(ben_page, "the settings page")
        async with client_session(gateway.url) as http:
            _, me = await Api(http, ben).call("GET", "/me", expect=200)
            assert me["dm_policy"] == "nobody", me
            await Api(http, ben).call("PATCH", "/me", {"dm_policy": "club_members"}, expect=200)
    finally:
        await ann_page.context.close()
        await ben_page.context.close()
