"""Hosts' extras in the browser (issue 22, point 5): the host moderates questions (approve, dismiss), a member
asks anonymously, and the ended session's summary downloads as CSV; accessible at desktop size and 390 px."""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

from playwright.async_api import expect
from support.members import Api, client_session, make_member
from support.web import accessible_at_both_sizes, log_in, new_page, shots


async def test_a_host_reviews_anonymous_questions_and_exports_the_summary(browser, gateway, smtp):
    olga, dan = await make_member(gateway.url, smtp, "Olga"), await make_member(gateway.url, smtp, "Dan")
    async with client_session(gateway.url) as http:
        owner, member = Api(http, olga), Api(http, dan)
        _, club = await owner.call(
            "POST", "/clubs", {"name": f"Q&A club {uuid.uuid4().hex[:6]}", "description": "ask"}, expect=201
        )
        await member.call("POST", f"/clubs/{club['id']}/join", expect=200)
        start = datetime.now(UTC) + timedelta(minutes=5)
        _, event = await owner.call(
            "POST",
            f"/clubs/{club['id']}/events",
            {
                "title": "Open Q&A",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(),
            },
            expect=201,
        )
        await owner.call("POST", f"/events/{event['id']}/live/start", expect=200)

    host, guest = await new_page(browser, gateway), await new_page(browser, gateway)
    try:
        for page, who in ((host, olga), (guest, dan)):
            await page.goto("/login")
            await log_in(page, who.email)
            await page.goto(f"/events/{event['id']}/live")
            await expect(page.get_by_role("region", name="Stage")).to_be_visible()

        await host.get_by_role("checkbox", name="Moderate questions").check()
        await expect(
            guest.get_by_text("The host reviews questions before everyone sees them.")
        ).to_be_visible()
        await expect(host.get_by_role("checkbox", name="Moderate questions")).to_be_checked()

        # Dan asks anonymously: it waits for the host, and shows Dan's own copy as awaiting approval.
        await guest.get_by_label("Ask a question").fill("When is the next meetup?")
        await guest.get_by_role("checkbox", name="Ask anonymously").check()
        await guest.get_by_role("button", name="Ask", exact=True).click()
        waiting = guest.get_by_role("list", name="Your questions awaiting approval")
        await expect(waiting.get_by_text("When is the next meetup?")).to_be_visible()
        queue = host.get_by_role("list", name="Questions awaiting approval")
        item = queue.get_by_role("listitem").filter(has_text="When is the next meetup?")
        await expect(item.get_by_text("asked anonymously")).to_be_visible()
        await expect(item).not_to_contain_text("Dan")
        await expect(guest.get_by_role("list", name="Questions", exact=True)).to_have_count(0)
        await accessible_at_both_sizes(host, "the host's review queue")
        await accessible_at_both_sizes(guest, "a question awaiting approval")
        await shots(host, "13-live-review-queue")

        await host.get_by_role("button", name="Approve: When is the next meetup?").click()
        published = guest.get_by_role("list", name="Questions", exact=True).get_by_role("listitem")
        await expect(published.filter(has_text="When is the next meetup?")).to_contain_text(
            "asked anonymously"
        )
        await expect(waiting).to_have_count(0)

        await guest.get_by_role("checkbox", name="Ask anonymously").uncheck()
        await guest.get_by_label("Ask a question").fill("=1+1 is a rude one")
        await guest.get_by_role("button", name="Ask", exact=True).click()
        await host.get_by_role("button", name="Dismiss: =1+1 is a rude one").click()
        await expect(queue.get_by_role("listitem")).to_have_count(0)
        await expect(guest.get_by_role("list", name="Your questions awaiting approval")).to_have_count(0)
        await expect(guest.get_by_text("=1+1 is a rude one")).to_have_count(0)

        await host.get_by_role("button", name="End session").click()
        summary = host.get_by_role("region", name="Session summary")
        await expect(summary).to_be_visible()
        async with host.expect_download() as info:
            await summary.get_by_role("button", name="Export CSV").click()
        download = await info.value
        assert download.suggested_filename == f"event-{event['id']}-summary.csv"
        rows = list(csv.reader(io.StringIO((await download.path()).read_text("utf-8-sig"), newline="")))
        assert rows[0] == ["section", "text", "option", "count", "answered"]
        assert ["question", "When is the next meetup?", "", "0", "no"] in rows
        assert not any("rude" in cell for row in rows for cell in row)
        await accessible_at_both_sizes(host, "the summary with its export")

        # A member sees the summary on the event page, without the export.
        await guest.goto(f"/events/{event['id']}")
        await expect(guest.get_by_role("region", name="Session summary")).to_be_visible()
        await expect(guest.get_by_role("button", name="Export CSV")).to_have_count(0)
    finally:
        for page in (host, guest):
            await page.context.close()
