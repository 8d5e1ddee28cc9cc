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
        # WebRTC for live sessions' audio: a synthetic tone as every microphone, granted without a
        # prompt, and ICE over loopback (the embedded Janus gathers on 127.0.0.1 only).
        media = [
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--allow-loopback-in-peer-connection",
        ]
        b = await pw.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage", *media]
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
