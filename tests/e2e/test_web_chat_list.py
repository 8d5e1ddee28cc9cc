"""The message list of a long room in a real browser (issue 14, points 5, 6, 8 and 9): a room of 500
messages seeded over Socket.IO, then what a member sees and does in it: messages grouped by author within
5 minutes under one header, the day divider, actions hidden until a message is hovered or focused, older
history loading by scrolling up (no button press), "New since you left" and "Jump to first unread" after
leaving and coming back, the list as one tab stop with arrow keys and a shortcut to the composer, never
"Sending…" beside the sent copy, and axe-core at the desktop and phone sizes in every state visited.

Messages cannot be back-dated through the API, so only "Today" shows here; the grouping and the other
days' dividers ("Yesterday", dates) are unit-tested in web/src/lib/chatView.test.ts."""

import asyncio
import re

import pytest
from playwright.async_api import Page, expect
from support.chat import ChatClient, make_club_room, send_all
from support.members import make_member
from support.web import assert_accessible, log_in, messages, new_page, send, shots

SEEDED = 500
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


async def both_sizes_accessible(page: Page, state: str) -> None:
    await assert_accessible(page, f"{state} (1280x800)")
    await page.set_viewport_size(PHONE)
    await expect(messages(page)).to_be_visible()
    await assert_accessible(page, f"{state} (390x844)")
    await page.set_viewport_size(DESKTOP)


async def focused(page: Page) -> dict:
    return await page.evaluate(
        """() => { const el = document.activeElement;
          return {tag: el.tagName, seq: el.dataset.seq ? Number(el.dataset.seq) : null,
                  inLog: !!el.closest('[role=log]'), label: el.getAttribute('aria-label'),
                  id: el.id, text: (el.textContent || '').slice(0, 80)}; }"""
    )


@pytest.fixture(scope="module")
async def long_room(browser, gateway, smtp):
    """Ann (in the browser) and four members who filled a room with 500 messages, and their sockets."""
    ann = await make_member(gateway.url, smtp, "Ann")
    others = [await make_member(gateway.url, smtp, name) for name in ("Ben", "Cleo", "Dev", "Eve")]
    room = await make_club_room(ann.user_id, [m.user_id for m in others])
    clients = [await ChatClient(gateway.url, m.token).connect() for m in others]
    for c in clients:
        await c.join(room.id)
    # Runs of 5 by one author (grouped), numbered so the oldest and newest can be found.
    per = SEEDED // len(clients)
    await asyncio.gather(
        *(
            send_all(
                c, room.id, [f"seed {i * per + j + 1:03d} from {others[i].display_name}" for j in range(per)]
            )
            for i, c in enumerate(clients)
        )
    )
    page = await new_page(browser, gateway)
    await page.goto("/login")
    await log_in(page, ann.email)
    yield {
        "page": page,
        "room": room,
        "clients": clients,
        "others": others,
        "url": f"/clubs/{room.club_id}/rooms/{room.id}",
    }
    for c in clients:
        await c.close()
    await page.context.close()


async def test_a_long_room_groups_messages_divides_days_and_hides_actions_until_hover(long_room):
    page, url = long_room["page"], long_room["url"]
    await page.goto(url)
    log = messages(page)
    await expect(log.get_by_role("article").filter(has_text="from")).not_to_have_count(0)
    # Virtualized: 500 messages in the room, a screenful (plus a margin) in the page.
    assert await log.get_by_role("article").count() < 60

    # One's own run: the second message goes under the first one's header; another author starts anew.
    await send(page, "first of a run")
    await send(page, "second of a run")
    await send_all(long_room["clients"][0], long_room["room"].id, ["Ben answers"])
    first = log.get_by_role("article").filter(has_text="first of a run")
    second = log.get_by_role("article").filter(has_text="second of a run")
    answer = log.get_by_role("article").filter(has_text="Ben answers")
    await expect(answer).to_be_visible()
    await expect(first).to_have_attribute("data-grouped", "false")
    await expect(second).to_have_attribute("data-grouped", "true")
    await expect(answer).to_have_attribute("data-grouped", "false")
    # The header shows once: the name is on screen above the first message only.
    await expect(first.locator("header").get_by_text("Ann", exact=True)).to_be_visible()
    assert await second.locator("header").evaluate("h => h.getBoundingClientRect().height") <= 1

    # Actions appear on hover (not dimmed for ever: nothing faint for axe to flag), and on focus.
    reply = answer.get_by_role("button", name="Reply")
    await expect(reply).to_be_hidden()
    await answer.hover()
    await expect(reply).to_be_visible()
    await page.mouse.move(0, 0)
    await expect(reply).to_be_hidden()
    await both_sizes_accessible(page, "a long room")
    await answer.hover()
    await shots(page, "chat-list-grouped")


async def test_own_message_is_never_shown_sending_beside_its_sent_copy(long_room):
    page = long_room["page"]
    await page.goto(long_room["url"])
    log = messages(page)
    await expect(log.get_by_role("article").filter(has_text="from")).not_to_have_count(0)
    # Watches every change of the log: a moment with "Sending…" and the stored copy of the same text.
    await page.evaluate(
        """() => { window.__double = false;
          const log = document.querySelector('[role=log]');
          new MutationObserver(() => {
            const arts = [...log.querySelectorAll('article')];
            const said = (a) => (a.textContent.match(/once and only once \\d/) || [''])[0];
            const sending = arts.filter(a => a.getAttribute('aria-busy') === 'true').map(said);
            const sent = new Set(arts.filter(a => a.dataset.seq).map(said));
            if (sending.some(t => t && sent.has(t))) window.__double = true;
          }).observe(log, {subtree: true, childList: true, characterData: true, attributes: true});
        }"""
    )
    for i in range(3):
        await send(page, f"once and only once {i}")
        await expect(log.get_by_role("article").filter(has_text=f"once and only once {i}")).to_have_count(1)
        await expect(log.get_by_text("Sending…")).to_have_count(0)
    assert await page.evaluate("window.__double") is False


async def test_scrolling_up_loads_older_history_without_a_button(long_room):
    page = long_room["page"]
    await page.goto(long_room["url"])
    log = messages(page)
    await expect(log.get_by_role("article").filter(has_text="from")).not_to_have_count(0)
    oldest = log.get_by_role("article").filter(has_text="seed 001 from")
    # Only the latest page is loaded at first: the room's first message is not.
    await expect(log.get_by_text("seed 001 from")).to_have_count(0)
    for _ in range(60):
        if await log.get_by_text("seed 001 from").count():
            break
        await log.evaluate("el => { el.scrollTop = 0; }")
        await page.mouse.move(640, 300)
        await page.mouse.wheel(0, -3000)
        await page.wait_for_timeout(250)
    await expect(log.get_by_text("seed 001 from")).to_be_visible()
    await expect(oldest).to_have_count(1)
    # Today's divider above today's first message (the room's first: seeded today).
    await expect(log.get_by_role("separator", name="Today")).to_be_visible()
    today_then = await log.evaluate(
        "l => { const d = l.querySelector('[role=separator][aria-label=Today]').closest('[data-index]');"
        " return d.nextElementSibling ? d.nextElementSibling.innerText : ''; }"
    )
    assert "seed 001" in today_then, today_then
    # The start of the room: nothing older to offer.
    await expect(page.get_by_role("button", name="Load older messages")).to_have_count(0)
    await both_sizes_accessible(page, "the start of a long room")


async def test_coming_back_shows_new_since_you_left_and_jumps_to_the_first_unread(long_room):
    page, url = long_room["page"], long_room["url"]
    await page.goto(url)
    log = messages(page)
    await expect(log.get_by_role("article").filter(has_text="from")).not_to_have_count(0)
    # No divider while nothing arrived since the last visit.
    await expect(log.get_by_role("separator", name="New since you left")).to_have_count(0)
    await page.wait_for_timeout(500)  # the latest message counts as seen
    await page.get_by_role("link", name="Clubs").first.click()
    await expect(page).to_have_url(re.compile(r"/clubs/?$"))

    # Away: 30 new messages, more than a screenful, so the first one is out of view on return.
    cleo = long_room["clients"][1]
    await send_all(cleo, long_room["room"].id, [f"while away {i:02d}" for i in range(1, 31)])

    await page.goto(url)
    await expect(log.get_by_text("while away 30")).to_be_visible()
    jump = page.get_by_role("button", name="Jump to first unread")
    await expect(jump).to_be_visible()
    await both_sizes_accessible(page, "back in a room with unread messages")
    await jump.click()
    divider = log.get_by_role("separator", name="New since you left")
    await expect(divider).to_be_visible()
    await expect(log.get_by_text("while away 01")).to_be_visible()
    at = await focused(page)
    assert "while away 01" in at["text"], at
    # The divider sits right above the first unread message.
    following = await divider.evaluate(
        "d => { const row = d.closest('[data-index]'); const next = row && row.nextElementSibling;"
        " return next ? next.innerText : ''; }"
    )
    assert "while away 01" in following, following
    await both_sizes_accessible(page, "the first unread message")
    await shots(page, "chat-list-unread")


async def test_the_list_is_one_tab_stop_with_arrow_keys_and_a_shortcut_to_the_composer(long_room):
    page = long_room["page"]
    await page.goto(long_room["url"])
    log = messages(page)
    await expect(log.get_by_role("article").filter(has_text="from")).not_to_have_count(0)
    composer = page.get_by_role("textbox", name="Message")

    # From the list, Tab leaves it: no message's buttons on the way.
    await log.focus()
    await page.keyboard.press("Tab")
    after = await focused(page)
    assert not after["inLog"], after

    # Arrow keys move between messages, Home and End go to the ends of what is loaded.
    await log.focus()
    await page.keyboard.press("ArrowUp")
    last = await focused(page)
    assert last["tag"] == "ARTICLE" and last["inLog"], last
    await page.keyboard.press("ArrowUp")
    above = await focused(page)
    assert above["tag"] == "ARTICLE" and above["seq"] < last["seq"], (above, last)
    await page.keyboard.press("ArrowDown")
    assert (await focused(page))["seq"] == last["seq"]
    await page.keyboard.press("End")
    end = await focused(page)
    assert end["tag"] == "ARTICLE" and end["seq"] >= last["seq"], end
    # A focused message shows its actions and Tab enters them; then the next Tab leaves the list.
    article = log.locator(f'article[data-seq="{end["seq"]}"]')
    await expect(article.get_by_role("button", name="Reply")).to_be_visible()
    await both_sizes_accessible(page, "a focused message")
    await article.focus()
    await page.keyboard.press("Tab")
    inner = await focused(page)
    assert inner["tag"] == "BUTTON" and inner["inLog"], inner

    # Escape (and Alt+C) from the list: to the composer.
    await log.focus()
    await page.keyboard.press("ArrowUp")
    await page.keyboard.press("Escape")
    await expect(composer).to_be_focused()
    await log.focus()
    await page.keyboard.press("Alt+c")
    await expect(composer).to_be_focused()
