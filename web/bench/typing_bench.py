"""Typing benchmark: 40 characters typed into the composer of a room with 500 messages loaded, in Debian's
Chromium at 4x CPU slowdown (DevTools Emulation.setCPUThrottlingRate). Prints the time the page spent on
the keystrokes: for each key, from its keydown to the end of the task that handled it with the style and
layout it caused (React renders a controlled textarea synchronously in the input event), summed over the
40 keys, typed one at a time (the next once the last is handled, so no key's time counts twice); and the
wall time of the whole typing as Playwright drove it (with the round trips of the driving). The median of 5 runs
per page is reported, beside the same figure for a page holding nothing but a textarea (Chromium's own cost per
key on this machine, measured in the same run), and written to bench/results/typing.json.

    .venv/bin/python web/bench/typing_bench.py                         # this checkout's web/
    .venv/bin/python web/bench/typing_bench.py --web web --web /tmp/other/web   # and another checkout (its bench/ copied in)

It builds bench/index.html (the real ChatRoom over an in-memory store, no server) with bench/vite.config.ts.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.server
import json
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
        ["npx", "vite", "build", "--config", "bench/vite.config.ts", "--base", "./", "--logLevel", "warn"],
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


async def open_page(browser, url: str, rate: float):
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(url)
    await page.wait_for_function("window.benchReady === true")
    await page.get_by_role("log", name="Messages").wait_for()
    box = page.get_by_role("textbox", name="Message")
    await box.wait_for()
    await page.wait_for_timeout(1000)  # first render and measuring settled
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Performance.enable")
    await cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
    return page, box, cdp


async def type_once(page, box, cdp) -> tuple[float, float, float, dict]:
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
    return keys["sum"], keys["max"], wall, spent


async def measure(
    pages: dict[str, str], runs: int, rate: float
) -> dict[str, list[tuple[float, float, float, dict]]]:
    """Types into every page in turn, round after round, so a busy or warming machine weighs on all alike;
    each page's first typing warms it (JIT, caches) and is not counted."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is missing"
    results: dict[str, list] = {name: [] for name in pages}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        opened = {name: await open_page(browser, url, rate) for name, url in pages.items()}
        for name in pages:
            await type_once(*opened[name])
        for _ in range(runs):
            for name in pages:
                results[name].append(await type_once(*opened[name]))
        await browser.close()
    return results


# The same probe on a page holding nothing but a textarea: what Chromium itself spends per key on this machine
# (input routing, editing, selection, one frame), with no app at all. Measured in the same run, so the app's
# own share is the difference.
BARE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bare</title></head><body>
<div role="log" aria-label="Messages">empty</div><textarea aria-label="Message" rows="2"></textarea>
<script>window.benchReady = true</script></body></html>"""


def summary(runs: list[tuple[float, float, float, dict]]) -> dict:
    return {
        "keystrokes_ms": round(statistics.median(r[0] for r in runs), 1),
        "keystrokes_spread_ms": [round(min(r[0] for r in runs), 1), round(max(r[0] for r in runs), 1)],
        "slowest_key_ms": round(max(r[1] for r in runs), 1),
        "wall_ms": round(statistics.median(r[2] for r in runs), 1),
        "script_ms": round(statistics.median(r[3]["ScriptDuration"] for r in runs), 1),
        "runs": [round(r[0], 1) for r in runs],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--web", type=Path, action="append", help="a web/ checkout to measure (repeatable; default: this one)"
    )
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rate", type=float, default=4.0, help="CPU slowdown (DevTools throttling rate)")
    ap.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "typing.json")
    args = ap.parse_args()
    webs = [w.resolve() for w in (args.web or [Path(__file__).resolve().parents[1]])]
    root = Path(tempfile.mkdtemp(prefix="bench-typing-"))
    (root / "bare" / "bench").mkdir(parents=True)
    (root / "bare" / "bench" / "index.html").write_text(BARE)
    for i, web in enumerate(webs):
        build(web, root / f"web{i}")
    server, base = serve(root)
    base = base.removesuffix("/bench/index.html")
    pages = {"bare textarea": f"{base}/bare/bench/index.html"}
    for i, web in enumerate(webs):
        pages[str(web)] = f"{base}/web{i}/bench/index.html"
    try:
        results = asyncio.run(measure(pages, args.runs, args.rate))
    finally:
        server.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    out = {"cpu_slowdown": args.rate, "runs": args.runs, "keys": len(TEXT), "pages": {}}
    print(
        f"CPU slowdown: {args.rate:g}x  runs per page: {args.runs} (after one warm-up each, pages interleaved)"
    )
    bare = summary(results["bare textarea"])
    for name, runs in results.items():
        s = summary(runs)
        s["over_bare_ms"] = round(s["keystrokes_ms"] - bare["keystrokes_ms"], 1)
        s["ratio_to_bare"] = round(s["keystrokes_ms"] / bare["keystrokes_ms"], 2)
        out["pages"][name] = s
        print(
            f"  {name}: keystrokes {s['keystrokes_ms']:7.1f} ms (runs {s['runs']}), script {s['script_ms']:.0f} ms,"
            f" wall {s['wall_ms']:.0f} ms, over the bare textarea {s['over_bare_ms']:+.0f} ms"
            f" ({s['ratio_to_bare']:.2f}x)"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.json}")
    print(json.dumps({name: s["keystrokes_ms"] for name, s in out["pages"].items()}))


if __name__ == "__main__":
    main()
