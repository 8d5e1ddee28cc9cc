"""First contentful paint of the web client at 4x CPU slowdown on a slow 3G link, before and after
pre-compressed delivery (issue 14, must show 4).

Serves one build (``web/dist``, compressed by ``web/scripts/compress.mjs`` into a copy) through the gateway's own web routes (``gateway/http/webapp.py``) twice:
"before" from a copy without the ``.br``/``.gz`` files (what the gateway sent until the build compressed
its assets: every byte as is), "after" from the build as ``npm run build`` leaves it. Debian's Chromium,
driven by the venv's Playwright, loads ``/login`` with a cold cache under the DevTools protocol's
``Emulation.setCPUThrottlingRate`` (4) and ``Network.emulateNetworkConditions`` (Chrome DevTools' "Slow 3G"
preset: 2,000 ms latency, 500 kbit/s down and up at 80 %), and reads ``first-contentful-paint`` from the
Performance API. No API behind it: the login screen paints without one (API calls answer 404 at once).

    .venv/bin/python web/bench/fcp.py [--runs 5] [--dist web/dist] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess  # nosec B404: runs the build's compress script
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from gateway.http import webapp  # noqa: E402
from gateway.http.errors import error_middleware  # noqa: E402

SLOW_3G = {  # Chrome DevTools' "Slow 3G" preset (bytes/s; latency in ms)
    "offline": False,
    "latency": 2000,
    "downloadThroughput": 500 * 1000 / 8 * 0.8,
    "uploadThroughput": 500 * 1000 / 8 * 0.8,
}
CPU_SLOWDOWN = 4
FCP_JS = """() => new Promise(resolve => {
  const seen = performance.getEntriesByName('first-contentful-paint')[0];
  if (seen) return resolve(seen.startTime);
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) if (e.name === 'first-contentful-paint') resolve(e.startTime);
  }).observe({type: 'paint', buffered: true});
})"""


async def serve(dist: Path) -> tuple[web.AppRunner, str]:
    app = web.Application(middlewares=[error_middleware])
    assert webapp.register(app, dist), f"no build at {dist}"
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def measure(browser, url: str) -> dict:
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    transferred = {"bytes": 0, "encodings": set()}

    def finished(ev):
        transferred["bytes"] += int(ev.get("encodedDataLength", 0))

    def received(ev):
        enc = {k.lower(): v for k, v in ev["response"].get("headers", {}).items()}.get("content-encoding")
        if ev["response"]["url"].endswith(".js"):
            transferred["encodings"].add(enc or "identity")

    cdp.on("Network.loadingFinished", finished)
    cdp.on("Network.responseReceived", received)
    await cdp.send("Network.enable")
    await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    await cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    await cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    await page.goto(f"{url}/login", wait_until="load", timeout=180_000)
    fcp = await page.evaluate(FCP_JS)
    await context.close()
    return {"fcp_ms": fcp, "bytes": transferred["bytes"], "js_encoding": sorted(transferred["encodings"])}


def prepare(dist: Path, tmp: Path) -> tuple[Path, Path]:
    """Both from the same build: one without compressed copies, one compressed by the build's own script
    (whatever state web/dist is in, the two differ only in that)."""
    plain, packed = tmp / "plain", tmp / "packed"
    shutil.copytree(dist, plain, ignore=shutil.ignore_patterns("*.br", "*.gz"))
    shutil.copytree(plain, packed)
    script = ROOT / "web" / "scripts" / "compress.mjs"
    subprocess.run(["node", str(script), str(packed)], check=True, capture_output=True)  # nosec B603 B607
    return plain, packed


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dist", type=Path, default=ROOT / "web" / "dist")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    dist = args.dist.resolve()
    if not (dist / "index.html").is_file():
        sys.exit(f"no build at {dist}: `cd web && npm run build`")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory(prefix="fcp-before-") as tmp:
        plain, packed = prepare(dist, Path(tmp))
        results: dict[str, list[dict]] = {"before": [], "after": []}
        servers = {name: await serve(d) for name, d in (("before", plain), ("after", packed))}
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            for i in range(args.runs):
                for name in ("before", "after"):  # interleaved: a load spike hits both alike
                    r = await measure(browser, servers[name][1])
                    results[name].append(r)
                    print(
                        f"run {i + 1} {name:6} FCP {r['fcp_ms']:7.0f} ms  {r['bytes'] / 1024:6.1f} KiB  js {r['js_encoding']}"
                    )
            await browser.close()
        for runner, _ in servers.values():
            await runner.cleanup()
    summary = {
        name: {
            "fcp_ms_median": statistics.median(r["fcp_ms"] for r in rs),
            "fcp_ms_runs": [round(r["fcp_ms"]) for r in rs],
            "transferred_kib": round(statistics.median(r["bytes"] for r in rs) / 1024, 1),
            "js_encoding": rs[0]["js_encoding"],
        }
        for name, rs in results.items()
    }
    summary["profile"] = {
        "cpu_slowdown": CPU_SLOWDOWN,
        "network": SLOW_3G,
        "viewport": "390x844",
        "page": "/login",
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
