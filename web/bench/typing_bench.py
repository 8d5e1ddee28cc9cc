"""Typing benchmark: 40 characters typed into the composer of a room with 500 messages loaded, in Debian's
Chromium at 4x CPU slowdown (DevTools Emulation.setCPUThrottlingRate). Prints the time the page spent on
the keystrokes: for each key, from its keydown to the end of the task that handled it with the style and
layout it caused (React renders a controlled textarea synchronously in the input event), summed over the
40 keys; and the wall time of the whole typing as Playwright drove it. The median of 5 runs is reported.

    .venv/bin/python web/bench/typing_bench.py                         # this checkout's web/
    .venv/bin/python web/bench/typing_bench.py --web /tmp/other/web    # another checkout (its bench/ copied in)

It builds bench/index.html (the real ChatRoom over an in-memory store, no server) with bench/vite.config.ts.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.server
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
from pathlib import Path

from playwright.async_api import async_playwright

TEXT = "The quick brown fox jumps over the dog!!"  # 40 characters
assert len(TEXT) == 40

# Installed before typing: sums each keystroke's handling (keydown -> end of its task + forced layout).
PROBE = """() => {
  window.__keys = {sum: 0, n: 0, max: 0};
  if (window.__probe) return;
  window.__probe = true;
  document.addEventListener('keydown', () => {
    const t0 = performance.now();
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      void document.body.offsetHeight;
      const d = performance.now() - t0;
      window.__keys.sum += d; window.__keys.n += 1; window.__keys.max = Math.max(window.__keys.max, d);
    };
    ch.port2.postMessage(0);
  }, true);
}"""


def build(web: Path, out: Path) -> None:
    env = {**os.environ, "BENCH_OUT": str(out)}
    subprocess.run(
        ["npx", "vite", "build", "--config", "bench/vite.config.ts", "--logLevel", "warn"],
        cwd=web,
        env=env,
        check=True,
    )


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/bench/index.html"


async def measure(url: str, runs: int, rate: float) -> list[tuple[float, float, float]]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is missing"
    results = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(url)
        await page.wait_for_function("window.benchReady === true")
        log = page.get_by_role("log", name="Messages")
        await log.wait_for()
        box = page.get_by_role("textbox", name="Message")
        await box.wait_for()
        await page.wait_for_timeout(1000)  # first render and measuring settled
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
        for _ in range(runs):
            await box.fill("")
            await box.focus()
            await page.evaluate(PROBE)
            await page.wait_for_timeout(300)
            t0 = await page.evaluate("performance.now()")
            await page.keyboard.type(TEXT)
            await page.wait_for_function(f"document.activeElement.value.length === {len(TEXT)}")
            await page.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))")
            wall = await page.evaluate("performance.now()") - t0
            keys = await page.evaluate("window.__keys")
            assert keys["n"] == len(TEXT), keys
            results.append((keys["sum"], keys["max"], wall))
        await cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
        await browser.close()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--web", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rate", type=float, default=4.0, help="CPU slowdown (DevTools throttling rate)")
    ap.add_argument("--no-build", action="store_true", help="use the last build in --out")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-typing-"))
    if not args.no_build:
        build(args.web.resolve(), out)
    server, url = serve(out)
    try:
        results = asyncio.run(measure(url, args.runs, args.rate))
    finally:
        server.shutdown()
    sums = [r[0] for r in results]
    print(f"web: {args.web.resolve()}  CPU slowdown: {args.rate:g}x  runs: {len(results)}")
    for i, (s, mx, wall) in enumerate(results, 1):
        print(f"  run {i}: keystrokes {s:7.1f} ms (slowest key {mx:5.1f} ms)  wall {wall:7.1f} ms")
    print(
        f"typing 40 characters, 500 messages loaded: {statistics.median(sums):.1f} ms (median of keystroke time)"
    )
    print(f"wall time of the typing (median): {statistics.median([r[2] for r in results]):.1f} ms")


if __name__ == "__main__":
    main()
