"""Typing benchmark: 40 characters typed into the composer of a room with 500 messages loaded, in Debian's
Chromium at 4x CPU slowdown (DevTools Emulation.setCPUThrottlingRate). Prints the time the page spent on
the keystrokes: for each key, from its keydown to the end of the task that handled it with the style and
layout it caused (React renders a controlled textarea synchronously in the input event), summed over the
40 keys, typed one at a time (the next once the last is handled, so no key's time counts twice); and the
wall time of the whole typing as Playwright drove it (with the round trips of the driving). The median of 5 runs is reported.

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


# Resolves once `n` keys are handled (checked on the probe's own tasks, no polling loop adding work).
HANDLED = """(n) => new Promise(resolve => {
  const check = () => window.__keys.n >= n ? resolve() : setTimeout(check, 1);
  check();
})"""

# Chromium's own main-thread accounting (Performance.getMetrics, seconds), as a cross-check of the probe.
SPLIT = ("TaskDuration", "ScriptDuration", "RecalcStyleDuration", "LayoutDuration")


async def metrics(cdp) -> dict[str, float]:
    got = await cdp.send("Performance.getMetrics")
    return {m["name"]: m["value"] for m in got["metrics"] if m["name"] in SPLIT}


def build(web: Path, out: Path) -> None:
    env = {**os.environ, "BENCH_OUT": str(out)}
    subprocess.run(
        ["npx", "vite", "build", "--config", "bench/vite.config.ts", "--logLevel", "warn"],
        cwd=web,
        env=env,
        check=True,
    )


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/bench/index.html"


async def measure(url: str, runs: int, rate: float) -> list[tuple[float, float, float, dict]]:
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
        await cdp.send("Performance.enable")
        await cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
        for _ in range(runs):
            await box.fill("")
            await box.focus()
            await page.evaluate(PROBE)
            await page.wait_for_timeout(300)
            before = await metrics(cdp)
            t0 = await page.evaluate("performance.now()")
            # One key at a time, each once the last is handled: the keys' times do not overlap.
            for i, ch in enumerate(TEXT, 1):
                await page.keyboard.type(ch)
                await page.evaluate(HANDLED, i)
            await page.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))")
            wall = await page.evaluate("performance.now()") - t0
            after = await metrics(cdp)
            spent = {k: round((after[k] - before[k]) * 1000, 1) for k in SPLIT}
            value = await box.input_value()
            assert value == TEXT, value
            keys = await page.evaluate("window.__keys")
            assert keys["n"] == len(TEXT), keys
            results.append((keys["sum"], keys["max"], wall, spent))
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
    for i, (s, mx, wall, spent) in enumerate(results, 1):
        split = ", ".join(f"{k.removesuffix('Duration')} {v:.0f}" for k, v in spent.items())
        print(
            f"  run {i}: keystrokes {s:7.1f} ms (slowest key {mx:5.1f} ms)  wall {wall:7.1f} ms  [{split} ms]"
        )
    print(
        f"typing 40 characters, 500 messages loaded: {statistics.median(sums):.1f} ms (median of keystroke time)"
    )
    print(f"wall time of the typing (median): {statistics.median([r[2] for r in results]):.1f} ms")


if __name__ == "__main__":
    main()
