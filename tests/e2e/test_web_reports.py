"""Issue 20, point 6: reporting a message and the moderators' report queue, in a real browser.

Ann owns a club; Ben and Cy are members. Cy writes a spam message. Ben reports it from the message's menu
("More actions" → "Report message"), saying why, in a dialog. Ann opens the club's report queue: the open
report shows the message as it was reported (its snapshot), who reported it and why; she resolves it with
"Delete message" (confirmed in a dialog): it leaves the open tab, shows under "Resolved", and the message
disappears for the members (Ben's open room shows "message deleted" live). axe-core finds nothing serious
at 1280×800 and 390×844; screenshots of the report dialog and the queue at both sizes.
"""

import re

import pytest
from playwright.async_api import expect
from support.chat import ChatClient, make_club_room, send_all
from support.members import Api, client_session, make_member
from support.wait import wait_for
from support.web import (
    accessible_at_both_sizes,
    log_in,
    messages,
    new_page,
    shots,
)

SPAM = "Buy cheap watches at spam.example now"


@pytest.fixture(scope="module")
async def club(gateway, smtp):
    ann = await make_member(gateway.url, smtp, "Ann")
    ben = await make_member(gateway.url, smtp, "Ben")
    cy = await make_member(gateway.url, smtp, "Cy")
    room = await make_club_room(ann.user_id, [ben.user_id, cy.user_id])
    sender = await ChatClient(gateway.url, cy.token).connect()
    await sender.join(room.id)
    await send_all(sender, room.id, ["Hello everyone", SPAM])
    yield {"ann": ann, "ben": ben, "cy": cy, "room": room}
    await sender.close()


async def test_a_member_reports_and_a_moderator_deletes(browser, gateway, club):
    ann, ben, room = club["ann"], club["ben"], club["room"]
    ben_page = await new_page(browser, gateway)
    ann_page = await new_page(browser, gateway)
    try:
        # Ben reports the message from its menu.
        await ben_page.goto("/login")
        await log_in(ben_page, ben.email)
        await ben_page.goto(f"/clubs/{room.club_id}/rooms/{room.id}")
        spam = messages(ben_page).get_by_role("article").filter(has_text=SPAM)
        await expect(spam).to_be_visible()
        await spam.hover()
        await spam.get_by_role("button", name="More actions").click()
        menu = ben_page.get_by_role("menu", name="More actions")
        await expect(menu.get_by_role("menuitem")).to_have_text(
            ["Reply in thread", "Report message", "Block Cy"]
        )
        await menu.get_by_role("menuitem", name="Report message").click()
        dialog = ben_page.get_by_role("dialog", name="Report message")
        await expect(dialog).to_be_visible()
        await expect(dialog).to_contain_text(SPAM)
        await dialog.get_by_role("button", name="Send report").click()
        await expect(dialog.get_by_role("alert")).to_contain_text("Say why")
        await dialog.get_by_label("Reason").fill("Spam link to a shop")
        await shots(ben_page, "reports-01-dialog")
        await accessible_at_both_sizes(ben_page, "the report dialog")
        await dialog.get_by_role("button", name="Send report").click()
        await expect(dialog.get_by_role("status")).to_contain_text("moderators will look at it")
        await dialog.get_by_role("button", name="Close").click()
        await expect(dialog).to_be_hidden()

        # Ann's queue: the open report with its snapshot, reporter and reason.
        await ann_page.goto("/login")
        await log_in(ann_page, ann.email)
        await ann_page.goto(f"/clubs/{room.club_id}")
        await ann_page.get_by_text("Manage club").click()
        await ann_page.get_by_role("link", name="Report queue").click()
        await expect(ann_page).to_have_url(re.compile(rf"/clubs/{room.club_id}/reports$"))
        await expect(ann_page.get_by_role("tab", name="Open")).to_have_attribute("aria-selected", "true")
        reports = ann_page.get_by_role("list", name="Open reports").get_by_role("article")
        await expect(reports).to_have_count(1)
        report = reports.first
        await expect(report).to_contain_text(SPAM)
        await expect(report).to_contain_text("Spam link to a shop")
        await expect(report).to_contain_text("Ben")
        await expect(report).to_contain_text("Cy")
        await shots(ann_page, "reports-02-queue")
        await accessible_at_both_sizes(ann_page, "the report queue")

        # Resolved with "Delete message", after a confirmation.
        await report.get_by_role("button", name="Delete message").click()
        confirm = ann_page.get_by_role("dialog", name="Delete message?")
        await expect(confirm).to_contain_text(SPAM)
        await accessible_at_both_sizes(ann_page, "the resolve confirmation")
        await confirm.get_by_role("button", name="Confirm: Delete message").click()
        await expect(confirm).to_be_hidden()
        await expect(ann_page.get_by_role("status").filter(has_text="Report resolved")).to_be_visible()
        await expect(ann_page.get_by_text("No open reports")).to_be_visible()
        await ann_page.get_by_role("tab", name="Resolved").click()
        resolved = ann_page.get_by_role("list", name="Resolved reports").get_by_role("article")
        await expect(resolved).to_have_count(1)
        await expect(resolved.first).to_contain_text(SPAM)  # the snapshot outlives the message
        await shots(ann_page, "reports-03-resolved")

        # Gone for the members: live in Ben's open room, and in the history.
        await expect(messages(ben_page).get_by_role("article").filter(has_text=SPAM)).to_have_count(0)
        await expect(messages(ben_page).get_by_text("message deleted")).to_be_visible()
        async with client_session(gateway.url) as http:

            async def deleted():
                _, body = await Api(http, ben).call("GET", f"/rooms/{room.id}/messages", expect=200)
                return all(SPAM not in (m.get("text") or "") for m in body["messages"])

            await wait_for(deleted, timeout=10, interval=0.2)

        # Auto-moderation from the club's moderation page: a blocked term refuses Ben's send, said at his
        # composer in the rule's words.
        await ann_page.goto(f"/clubs/{room.club_id}")
        await ann_page.get_by_text("Manage club").click()
        await ann_page.get_by_role("link", name="Moderation settings").click()
        await ann_page.get_by_label("Blocked terms").fill("watches\ncasino")
        await ann_page.get_by_label("Most mentions in one message").fill("5")
        await ann_page.get_by_role("button", name="Save auto-moderation").click()
        await expect(ann_page.get_by_role("status").filter(has_text="Auto-moderation saved.")).to_be_visible()
        await shots(ann_page, "reports-04-automod")
        await accessible_at_both_sizes(ann_page, "the moderation page")
        async with client_session(gateway.url) as http:
            _, rules = await Api(http, ann).call("GET", f"/clubs/{room.club_id}/automod", expect=200)
        assert rules["blocked_terms"] == ["watches", "casino"] and rules["max_mentions"] == 5, rules
        await ben_page.get_by_role("textbox", name="Message").fill("Cheap watches here")
        await ben_page.get_by_role("button", name="Send").click()
        refusal = ben_page.get_by_role("alert").filter(has_text="not allowed")
        await expect(refusal.first).to_be_visible()
        await expect(refusal.first).to_contain_text("watches")
    finally:
        await ben_page.context.close()
        await ann_page.context.close()
