"""Fixtures of the browser tests: one Chromium per module, and the CSP check after every test."""

import shutil

import pytest
from playwright.async_api import async_playwright
from support.web import SHOTS, csp_violations

from gateway.http import webapp


@pytest.fixture(scope="module")
async def browser():
    assert (webapp.DEFAULT_DIST / "index.html").is_file(), "web/dist is missing: `make web` builds it"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is missing: `make chromium` installs it"
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield b
        await b.close()


@pytest.fixture(autouse=True)
def no_csp_violation():
    """The flows of every test run with no CSP violation (checked after the test, fixtures included)."""
    yield
    seen = list(csp_violations)
    csp_violations.clear()
    assert seen == [], seen
