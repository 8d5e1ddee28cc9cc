"""The browser tests' helpers: pages of Debian's Chromium on the session's gateway, the screenshots of the
main screens, sign-up through the app, axe-core, and the CSP watch every page runs under."""

import asyncio
import json
import re
import uuid
from pathlib import Path

from playwright.async_api import Page, expect

from support.mail import Inbox
from support.members import client_session

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "web" / "e2e" / "screenshots"
PASSWORD = "correct horse battery"
TIMEOUT_MS = 20_000


# What any page's console said about the Content-Security-Policy (Chromium logs every refused inline
# script or style, every blocked connection, as "Refused to … because it violates the following Content
# Security Policy directive …").
csp_violations: list[str] = []


def watch_csp(page: Page) -> Page:
    def on_console(msg):
        if "Content Security Policy" in msg.text:
            csp_violations.append(f"{page.url}: {msg.text}")

    page.on("console", on_console)
    return page


async def new_page(browser, gateway) -> Page:
    context = await browser.new_context(base_url=gateway.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    return watch_csp(await context.new_page())


async def another_tab(page: Page) -> Page:
    """A second tab of the same browser profile (same cookies, its own socket)."""
    return watch_csp(await page.context.new_page())


UNLABELLED_JS = """() => [...document.querySelectorAll('button, input, select, textarea, a[href]')]
  .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
  .filter(el => !((el.getAttribute('aria-label') || '').trim() || el.getAttribute('aria-labelledby')
                  || (el.labels && el.labels.length) || (el.getAttribute('title') || '').trim()
                  || (['BUTTON', 'A'].includes(el.tagName) && el.textContent.trim())))
  .map(el => el.outerHTML.slice(0, 120))"""


async def shot(page: Page, name: str) -> None:
    """A screenshot of a main screen, and a check that every visible control there has a name a screen
    reader can say. Taken once the screen's data is in: no "Loading…" placeholder is left on it."""
    await expect(page.get_by_text(re.compile(r"^Loading\b"))).to_have_count(0, timeout=20_000)
    assert await page.evaluate(UNLABELLED_JS) == [], f"unlabelled controls on {name}"
    await page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays on top of a full-page shot
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, animations="disabled")


async def shots(page: Page, name: str) -> None:
    """`shot` at the desktop width and at 390 px (a phone)."""
    size = page.viewport_size
    await shot(page, name)
    await page.set_viewport_size({"width": 390, "height": 844})
    await settled(page)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{name} is {width} px wide on a 390 px phone"
    await shot(page, f"{name}-390")
    await page.set_viewport_size(size)


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


async def log_in(page: Page, email: str, phone: bool = False) -> None:
    """Logs in as a member would, waiting when told to: every browser in the tests logs in from
    127.0.0.1, and the login limit per address (10 a minute) can refuse one with "please wait N seconds".
    ``phone``: the page is phone-sized (logged in shows the Menu button rather than the Clubs link)."""
    await expect(page).to_have_url(re.compile(r"/login"))
    clubs = page.get_by_role("button", name="Menu") if phone else page.get_by_role("link", name="Clubs")
    wait = page.get_by_role("alert").filter(has_text=re.compile(r"Too many attempts"))
    for attempt in range(4):
        if attempt:
            await page.goto("/login")  # a fresh form: no refusal left on screen from the last try
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await expect(clubs.or_(wait)).to_be_visible()
        if await clubs.is_visible():
            return
        told = re.search(r"wait (\d+) second", await wait.inner_text())
        await asyncio.sleep((int(told.group(1)) if told else 10) + 1)
    await expect(clubs).to_be_visible()


def messages(page: Page):
    return page.get_by_role("log", name="Messages")


async def send(page: Page, text: str) -> None:
    await page.get_by_role("textbox", name="Message").fill(text)
    await page.get_by_role("button", name="Send").click()


# True once the top bar drawn is the one for the current width: React swaps it on the media query's change
# event, a moment after the viewport is resized (checked too early, the wide bar's white text overflows a
# 390 px screen onto a white page).
LAYOUT_SETTLED_JS = """() => {
  const bar = document.querySelector('header[data-layout]');
  return !bar || bar.dataset.layout === (matchMedia('(min-width: 768px)').matches ? 'wide' : 'phone');
}"""
# Two frames painted; the timer is a floor for a page Chromium does not paint (a tab in the background).
TWO_FRAMES_JS = (
    "() => new Promise(r => { requestAnimationFrame(() => requestAnimationFrame(() => r(true)));"
    " setTimeout(() => r(true), 200); })"
)


async def settled(page: Page) -> None:
    """Wait until the page has re-rendered for its viewport size (after set_viewport_size)."""
    await page.wait_for_function(LAYOUT_SETTLED_JS)
    await page.evaluate(TWO_FRAMES_JS)


async def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of the given impacts on the page as it is now, one line each. The script is
    evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern."""
    await settled(page)
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE_JS.read_text())
    result = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return [json.dumps(v) for v in result if v["impact"] in impacts]


async def assert_accessible(page: Page, state: str) -> None:
    """No serious or critical axe-core violation in this page state."""
    found = await axe_violations(page)
    assert found == [], f"axe-core on {state}: " + "; ".join(found)


PHONE = {"width": 390, "height": 844}


async def accessible_at_both_sizes(page: Page, state: str) -> None:
    """``assert_accessible`` at the page's own size and on a 390 px phone, where nothing may be wider than
    the phone either; the page is back at its size afterwards."""
    size = page.viewport_size
    await assert_accessible(page, f"{state} (1280x800)")
    await page.set_viewport_size(PHONE)
    await settled(page)
    await assert_accessible(page, f"{state} (390x844)")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{state} is {width} px wide on a 390 px phone"
    await page.set_viewport_size(size)
    await settled(page)


async def say(url: str, member, room_id: int, text: str) -> None:
    """`text` sent to a room by `member` over a socket of its own (logged in afresh: tokens may be short)."""
    from support.chat import ChatClient

    async with client_session(url) as http:
        resp = await http.post(
            "/api/v1/auth/login", json={"email": member.email, "password": member.password}
        )
        token = (await resp.json())["access_token"]
    sender = await ChatClient(url, token).connect()
    try:
        await sender.join(room_id)
        assert (await sender.send(room_id, text))["ok"]
    finally:
        await sender.close()
