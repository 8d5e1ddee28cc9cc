"""Issue 14, point 12 (must show 5): the product's copy and next actions in members' words, in a real browser.

Feed cards say why an item is there from what the API says about it (people from your club going, your
club, popular in clubs like yours), never the ranker's "ranked by popularity until …" fallback sentence;
club cards in the feed join inline and event cards RSVP inline with their "N going"; an "Upcoming for you"
strip; signup errors next to the field they are about; the "New event" form only for the roles that may
create events; club directory cards with member counts and the next event; a finished live session's
``live-N`` room is no longer in the club's room list. Every page state visited is checked with axe-core at
1280×800 and 390×844.
"""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect
from support.members import Api, client_session, make_member
from support.wait import wait_for
from support.web import accessible_at_both_sizes, log_in, new_page, shots

FALLBACK = "ranked by popularity until your personal ranking model is trained"


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


@pytest.fixture(scope="module")
async def world(gateway, smtp):
    """Jazz Circle (Olive owns it; Paul and Vera are members) with an event Olive and Paul go to, a public
    Chess club Vera has not joined (three others have: the feed shows it), and a finished live session."""
    tag = uuid.uuid4().hex[:6]
    async with client_session(gateway.url) as http:
        olive, paul, vera, a, b, c = [
            Api(http, await make_member(gateway.url, smtp, name))
            for name in ("Olive", "Paul", "Vera", "Ann", "Bob", "Cy")
        ]
        _, jazz = await olive.call(
            "POST",
            "/clubs",
            {"name": f"Jazz Circle {tag}", "description": "Standards and sessions"},
            expect=201,
        )
        _, chess = await olive.call(
            "POST", "/clubs", {"name": f"Chess {tag}", "description": "Openings and endgames"}, expect=201
        )
        for member in (paul, vera):
            await member.call("POST", f"/clubs/{jazz['id']}/join", {}, expect=200)
        for member in (a, b, c):
            await member.call("POST", f"/clubs/{chess['id']}/join", {}, expect=200)
        start = datetime.now(UTC) + timedelta(hours=3)
        _, jam = await olive.call(
            "POST",
            f"/clubs/{jazz['id']}/events",
            {
                "title": f"Friday jam {tag}",
                "starts_at": iso(start),
                "ends_at": iso(start + timedelta(hours=2)),
            },
            expect=201,
        )
        for member in (olive, paul):
            await member.call("POST", f"/events/{jam['id']}/rsvp", expect=200)
        _, done = await olive.call(
            "POST",
            f"/clubs/{jazz['id']}/events",
            {
                "title": f"Listening party {tag}",
                "starts_at": iso(datetime.now(UTC)),
                "ends_at": iso(datetime.now(UTC) + timedelta(hours=1)),
            },
            expect=201,
        )
        await olive.call("POST", f"/events/{done['id']}/live/start", expect=200)
        await olive.call("POST", f"/events/{done['id']}/live/end", expect=200)

        # The feed ranks by popularity while no model is trained: wait until both cards made the first 30.
        async def in_feed():
            _, feed = await vera.call("GET", "/feed", params={"limit": 30}, expect=200)
            keys = {(i["type"], i["id"]) for i in feed["items"]}
            return ("event", jam["id"]) in keys and ("club", chess["id"]) in keys

        await wait_for(in_feed, timeout=30, interval=0.5)
        yield {
            "olive": olive.member,
            "vera": vera.member,
            "jazz": jazz,
            "chess": chess,
            "jam": jam,
            "done": done,
        }


async def test_feed_cards_give_reasons_and_take_join_and_rsvp_inline(browser, gateway, world):
    vera = await new_page(browser, gateway)
    try:
        await vera.goto("/login")
        await log_in(vera, world["vera"].email)
        await vera.goto("/")
        feed = vera.get_by_role("list", name="Feed")
        await expect(feed).to_be_visible()
        # Reasons in members' words, no card with the ranker's fallback sentence.
        jam_card = feed.get_by_role("listitem").filter(
            has=vera.get_by_role("link", name=world["jam"]["title"])
        )
        await expect(jam_card.get_by_text("2 people from Jazz Circle")).to_be_visible()
        await expect(jam_card.get_by_text("2 going", exact=True)).to_be_visible()
        await expect(feed.get_by_text(FALLBACK)).to_have_count(0)
        chess_card = feed.get_by_role("listitem").filter(
            has=vera.get_by_role("link", name=world["chess"]["name"])
        )
        # Olive owns Chess too: one of its four members shares a club with Vera.
        await expect(chess_card.get_by_text("4 members", exact=True)).to_be_visible()
        await expect(chess_card.get_by_text("1 person from your clubs is a member")).to_be_visible()

        # The Upcoming strip has the jam, with its count and an RSVP of its own.
        upcoming = vera.get_by_role("list", name="Upcoming for you")
        await expect(upcoming.get_by_role("link", name=world["jam"]["title"])).to_be_visible()
        await expect(upcoming.get_by_text("2 going", exact=True)).to_be_visible()
        await shots(vera, "product-01-feed")
        await accessible_at_both_sizes(vera, "feed")

        # RSVP on the card: the count moves at once, the strip agrees, and it survives a reload.
        await jam_card.get_by_role("button", name=f"RSVP to {world['jam']['title']}").click()
        await expect(jam_card.get_by_text("3 going", exact=True)).to_be_visible()
        await expect(jam_card.get_by_text("You're going")).to_be_visible()
        await expect(upcoming.get_by_text("3 going", exact=True)).to_be_visible()
        # Join on the club card, without leaving the feed.
        await chess_card.get_by_role("button", name=f"Join {world['chess']['name']}").click()
        await expect(chess_card.get_by_text("Joined", exact=True)).to_be_visible()
        await expect(chess_card.get_by_text("5 members", exact=True)).to_be_visible()
        await expect(vera).to_have_url(re.compile(r"/$"))
        await accessible_at_both_sizes(vera, "feed after RSVP and join")

        await vera.reload()
        await expect(jam_card.get_by_text("3 going", exact=True)).to_be_visible()
        await expect(jam_card.get_by_text("You're going")).to_be_visible()
        # Cancelling gives the place back.
        await jam_card.get_by_role("button", name=f"Cancel RSVP to {world['jam']['title']}").click()
        await expect(jam_card.get_by_text("2 going", exact=True)).to_be_visible()

        # The club directory: member counts and the next event on every card.
        await vera.goto("/clubs")
        await vera.get_by_label("Search clubs").fill(world["jazz"]["name"])
        directory = vera.get_by_role("list", name="Club directory")
        jazz_card = directory.get_by_role("listitem").filter(has_text=world["jazz"]["name"])
        await expect(jazz_card.get_by_text("3 members", exact=True)).to_be_visible()
        await expect(jazz_card.get_by_role("link", name=world["jam"]["title"])).to_be_visible()
        await accessible_at_both_sizes(vera, "club directory")

        # A member sees the club's events with RSVP and counts, but no "New event" form.
        await vera.goto(f"/clubs/{world['jazz']['id']}/events")
        events = vera.get_by_role("list", name="Events")
        await expect(events.get_by_text("2 going", exact=True)).to_be_visible()
        await expect(vera.get_by_text("The club's moderators and owner schedule its events.")).to_be_visible()
        await expect(vera.get_by_role("heading", name="New event")).to_have_count(0)
        await expect(vera.get_by_label("Title")).to_have_count(0)
        await events.get_by_role("button", name=f"RSVP to {world['jam']['title']}").click()
        await expect(events.get_by_text("3 going", exact=True)).to_be_visible()
        await accessible_at_both_sizes(vera, "events as a member")
    finally:
        await vera.context.close()


async def test_only_roles_that_may_create_events_see_the_form_and_finished_live_rooms_leave(
    browser, gateway, world
):
    olive = await new_page(browser, gateway)
    try:
        await olive.goto("/login")
        await log_in(olive, world["olive"].email)
        await olive.goto(f"/clubs/{world['jazz']['id']}/events")
        await expect(olive.get_by_role("heading", name="New event")).to_be_visible()
        await expect(olive.get_by_role("button", name="Create event")).to_be_visible()
        await accessible_at_both_sizes(olive, "events as the owner")

        # The finished live session's room is not in the club's room list; general still is.
        await olive.goto(f"/clubs/{world['jazz']['id']}")
        rooms = olive.get_by_role("navigation", name="Rooms")
        await expect(rooms.get_by_role("link", name="general")).to_be_visible()
        await expect(rooms.get_by_text(f"live-{world['done']['id']}")).to_have_count(0)
        await accessible_at_both_sizes(olive, "club page after a live session")
    finally:
        await olive.context.close()


async def test_signup_errors_sit_next_to_their_fields(browser, gateway):
    page = await new_page(browser, gateway)
    try:
        await page.goto("/signup")
        await page.get_by_label("Email").fill("not-an-address")
        await page.get_by_label("Password").fill("short")
        await page.get_by_role("button", name="Sign up").click()
        email, password, name = (
            page.locator("#signup-email"),
            page.locator("#signup-password"),
            page.locator("#signup-name"),
        )
        for field, text in (
            (email, "Enter an email address like name@example.com"),
            (password, "Use at least 10 characters."),
            (name, "Enter your display name."),
        ):
            await expect(field).to_have_attribute("aria-invalid", "true")
            described = await field.get_attribute("aria-describedby")
            assert described, "the field names its error"
            error_id = described.split()[0]
            await expect(page.locator(f"#{error_id}")).to_contain_text(text)
        # No raw validator text anywhere, and the first field to fix has focus.
        await expect(page.get_by_text("String should have")).to_have_count(0)
        await expect(page.get_by_text(re.compile(r"value is not a valid email"))).to_have_count(0)
        await expect(email).to_be_focused()
        await shots(page, "product-02-signup-errors")
        await accessible_at_both_sizes(page, "signup with errors")

        # Fixing a field clears its error; the others stay.
        await email.fill("vera@example.com")
        await expect(email).not_to_have_attribute("aria-invalid", "true")
        await expect(password).to_have_attribute("aria-invalid", "true")
    finally:
        await page.context.close()
