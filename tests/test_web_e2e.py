"""End to end in a real browser: Debian's Chromium driven by Playwright against the session's real stack
(the in-process gateway serving web/dist, real services, Ray). Screenshots of the main screens are written
to web/e2e/screenshots/ on every run."""
import re
import shutil
import uuid
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from conftest import Inbox, make_member, wait_for
from gateway import webapp

SHOTS = Path(__file__).resolve().parent.parent / "web" / "e2e" / "screenshots"
PASSWORD = "correct horse battery"
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
async def browser():
    assert (webapp.DEFAULT_DIST / "index.html").is_file(), "web/dist is missing: `make web` builds it"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is missing: `make chromium` installs it"
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        await b.close()


async def new_page(browser, gateway) -> Page:
    context = await browser.new_context(base_url=gateway.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    return await context.new_page()


UNLABELLED_JS = """() => [...document.querySelectorAll('button, input, select, textarea, a[href]')]
  .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
  .filter(el => !((el.getAttribute('aria-label') || '').trim() || el.getAttribute('aria-labelledby')
                  || (el.labels && el.labels.length) || (el.getAttribute('title') || '').trim()
                  || (['BUTTON', 'A'].includes(el.tagName) && el.textContent.trim())))
  .map(el => el.outerHTML.slice(0, 120))"""


async def shot(page: Page, name: str) -> None:
    """A screenshot of a main screen, and a check that every visible control there has a name a screen
    reader can say."""
    assert await page.evaluate(UNLABELLED_JS) == [], f"unlabelled controls on {name}"
    await page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays on top of a full-page shot
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, animations="disabled")


async def sign_up_and_log_in(page: Page, smtp: Inbox, name: str, screenshots: bool = False) -> str:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    await page.goto("/signup")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Display name").fill(name)
    if screenshots:
        await shot(page, "01-signup")
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_text("Check your email")).to_be_visible()
    token = Inbox.token_of(await smtp.wait_for(email))
    await page.goto(f"/verify?token={token}")
    await expect(page.get_by_text("Email verified")).to_be_visible()
    await page.get_by_role("link", name="Log in").click()
    await log_in(page, email)
    return email


async def log_in(page: Page, email: str) -> None:
    await expect(page).to_have_url(re.compile(r"/login"))
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("link", name="Clubs")).to_be_visible()


@pytest.fixture(scope="module")
async def two_people(browser, gateway, smtp):
    """Ann and Ben, each in a browser context of their own, signed up and logged in through the app."""
    ann, ben = await new_page(browser, gateway), await new_page(browser, gateway)
    emails["Ann"] = await sign_up_and_log_in(ann, smtp, "Ann", screenshots=True)
    emails["Ben"] = await sign_up_and_log_in(ben, smtp, "Ben")
    yield ann, ben
    for page in (ann, ben):
        await page.context.close()


def messages(page: Page):
    return page.get_by_role("log", name="Messages")


async def send(page: Page, text: str) -> None:
    await page.get_by_role("textbox", name="Message").fill(text)
    await page.get_by_role("button", name="Send").click()


async def test_two_people_join_a_club_and_chat_and_one_catches_up_after_being_offline(two_people):
    ann, ben = two_people
    club = f"E2E Club {uuid.uuid4().hex[:6]}"
    await ann.get_by_role("link", name="Clubs").click()
    await ann.get_by_label("Club name").fill(club)
    await ann.get_by_label("Description").fill("Testing in a real browser")
    await ann.get_by_role("button", name="Create club").click()
    await expect(ann.get_by_role("navigation", name="Rooms").get_by_role("link", name="general")).to_be_visible()
    club_url = ann.url

    await ben.get_by_role("link", name="Clubs").click()
    await ben.get_by_label("Search clubs").fill(club)
    await shot(ben, "03-clubs")
    await ben.get_by_role("button", name=f"Join {club}").click()
    await expect(ben.get_by_role("navigation", name="Rooms")).to_be_visible()
    await expect(messages(ben)).to_be_visible()

    # Both ways, live.
    await send(ann, "Hello Ben, welcome!")
    await expect(messages(ben).get_by_text("Hello Ben, welcome!")).to_be_visible()
    # Keyboard only: the composer is focused by Tab order like any control, Enter sends.
    composer = ben.get_by_role("textbox", name="Message")
    await composer.focus()
    await ben.keyboard.type("Thanks @Ann, glad to be here")
    await ben.keyboard.press("Enter")
    await expect(messages(ann).get_by_text("glad to be here")).to_be_visible()
    members = ann.get_by_role("list", name="Members")
    await expect(members.get_by_text("Ben")).to_be_visible()
    await shot(ann, "04-club-chat")

    # Ben goes offline: the app says so, queues what he writes, and sends it once he is back.
    await ben.context.set_offline(True)
    await expect(ben.get_by_role("status", name="Reconnecting…")).to_be_visible()
    await send(ann, "Message one while Ben is away")
    await send(ann, "Message two while Ben is away")
    await send(ben, "Written on the train")
    await expect(messages(ben).get_by_text("Sending…")).to_be_visible()
    await shot(ben, "05-chat-offline")
    await ben.context.set_offline(False)
    await expect(ben.get_by_role("status", name="Reconnecting…")).to_be_hidden()
    for text in ("Message one while Ben is away", "Message two while Ben is away"):
        await expect(messages(ben).get_by_text(text)).to_be_visible()
    await expect(messages(ann).get_by_text("Written on the train")).to_have_count(1)
    await expect(messages(ben).get_by_text("Sending…")).to_have_count(0)
    # In order, on both sides, nothing twice.
    for page in (ann, ben):
        texts = await messages(page).get_by_role("article").all_inner_texts()
        joined = "\n".join(texts)
        order = [joined.index(t) for t in ("Hello Ben", "glad to be here", "Message one", "Message two")]
        assert order == sorted(order), texts
        assert joined.count("Written on the train") == 1
    # A reload resumes the session from the refresh cookie and shows the history.
    await ben.reload()
    await expect(messages(ben).get_by_text("Message two while Ben is away")).to_be_visible()
    two_people_club["url"] = club_url
    two_people_club["name"] = club


two_people_club: dict = {}
emails: dict = {}


def local(dt) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M")


async def test_a_host_runs_a_live_session_with_two_audience_members(browser, gateway, smtp, two_people):
    from datetime import datetime, timedelta

    ann, ben = two_people
    assert two_people_club, "the chat test makes the club"
    cat_member = await make_member(gateway.url, smtp, "Cat")
    cat = await new_page(browser, gateway)
    try:
        await cat.goto("/login")
        await log_in(cat, cat_member.email)
        await cat.get_by_role("link", name="Clubs").click()
        await cat.get_by_label("Search clubs").fill(two_people_club["name"])
        await cat.get_by_role("button", name=f"Join {two_people_club['name']}").click()
        await expect(cat.get_by_role("navigation", name="Rooms")).to_be_visible()

        # Ann, the club's owner, schedules an event and goes live.
        await ann.goto(two_people_club["url"])
        await ann.get_by_role("link", name="Events").click()
        start = datetime.now() + timedelta(minutes=10)
        await ann.get_by_label("Title").fill("Ask Ann Anything")
        await ann.get_by_label("Starts at").fill(local(start))
        await ann.get_by_label("Ends at").fill(local(start + timedelta(hours=1)))
        await ann.get_by_role("button", name="Create event").click()
        await ann.get_by_role("list", name="Events").get_by_role("link", name="Ask Ann Anything").click()
        event_url = ann.url
        await shot(ann, "06-event")
        await ann.get_by_role("button", name="Start live session").click()
        await ann.get_by_role("link", name="Join live session").click()
        await expect(ann.get_by_role("region", name="Stage")).to_be_visible()

        for page in (ben, cat):
            await page.goto(event_url)
            await page.get_by_role("button", name="RSVP").click()
            await expect(page.get_by_text("Going", exact=True)).to_be_visible()
            await page.get_by_role("link", name="Join live session").click()
            await expect(page.get_by_role("region", name="Stage")).to_be_visible()
        await expect(ann.get_by_text("2 in audience")).to_be_visible()

        # Hand → promote.
        await ben.get_by_role("button", name="Raise hand").click()
        hands = ann.get_by_role("list", name="Raised hands")
        await hands.get_by_role("button", name="Promote Ben").click()
        await expect(ben.get_by_role("region", name="Stage").get_by_text("Ben")).to_be_visible()

        # Questions, upvotes, answered.
        await cat.get_by_label("Ask a question").fill("What is next for the club?")
        await cat.get_by_role("button", name="Ask", exact=True).click()
        await ben.get_by_role("button", name="Upvote: What is next for the club?").click()
        question = ann.get_by_role("list", name="Questions").get_by_role("listitem").filter(
            has_text="What is next for the club?")
        await expect(question).to_contain_text("1 vote")

        # A poll, votes, live results.
        await ann.get_by_label("Poll question").fill("Next meetup day?")
        await ann.get_by_label("Option 1").fill("Saturday")
        await ann.get_by_label("Option 2").fill("Sunday")
        await ann.get_by_role("button", name="Start poll").click()
        await ben.get_by_role("button", name="Vote Saturday").click()
        await cat.get_by_role("button", name="Vote Saturday").click()
        await expect(ann.get_by_role("meter", name="Saturday")).to_have_attribute("aria-valuenow", "100")
        await shot(ann, "07-live-host")
        await shot(cat, "08-live-audience")
        await ann.get_by_role("button", name="Mark answered").click()
        await expect(question.get_by_text("Answered")).to_be_visible()
        await ann.get_by_role("button", name="Close poll").click()
        await expect(cat.get_by_role("button", name="Vote Saturday")).to_have_count(0)

        await ann.get_by_role("button", name="End session").click()
        summary = ann.get_by_role("region", name="Session summary")
        await expect(summary).to_be_visible()
        await shot(ann, "09-live-summary")

        await ann.get_by_role("link", name="Profile").click()
        await expect(ann.get_by_role("list", name="Achievements")).to_be_visible()
        await shot(ann, "10-profile")
    finally:
        await cat.context.close()


async def test_the_feed_explains_its_items_and_logs_what_was_seen_clicked_and_read(gateway, two_people):
    from storage import mongo
    from storage.models import User

    ann, _ = two_people
    await ann.get_by_role("link", name="Feed").click()
    feed = ann.get_by_role("list", name="Feed")
    await expect(feed.get_by_role("listitem").first).to_be_visible()
    await expect(feed.get_by_text(re.compile("popular|new|ranked", re.I)).first).to_be_visible()
    await shot(ann, "02-feed")
    await feed.get_by_role("listitem").first.get_by_role("link").first.click()
    await expect(ann).not_to_have_url(re.compile(r"/$"))
    await ann.get_by_role("link", name="Feed").click()  # back: the time spent on the item is its dwell
    await expect(feed).to_be_visible()
    user_id = (await User.get(email=emails["Ann"])).id
    coll = gateway.backends.stores.mongo[mongo.INTERACTIONS]

    async def logged():
        kinds = {d["kind"] async for d in coll.find({"user_id": user_id, "source": "client"})}
        return kinds if {"impression", "click", "dwell"} <= kinds else None

    await wait_for(logged, timeout=30)
