"""Advisory audits of the dependencies (make lint): pip-audit on requirements/lock.txt, npm audit on web/.

Each audit first probes its advisory database with a short timeout. Where the database cannot be
reached (a closed network), the audit is skipped and the reason printed: CI must not fail for that.
Where it can, any known vulnerability fails the run unless requirements/audit-ignore.txt lists its
id with a reason (one ``ID  reason…`` per line; an entry without a reason is itself an error).

    python .ci/audit.py [--only pip|npm]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
IGNORE = ROOT / "requirements" / "audit-ignore.txt"
WEB = ROOT / "web"
PROBE_TIMEOUT_S = 5

# pip-audit's two advisory services, probed in this order, each for a release with known advisories
# (a proxy may serve the index but not the per-release JSON API that carries them).
PYPI_PROBE = "https://pypi.org/pypi/pip/20.0/json"
OSV_PROBE = "https://api.osv.dev/v1/query"


def ignored() -> dict[str, str]:
    """{advisory id: reason} from the committed ignore list."""
    entries = {}
    if not IGNORE.exists():
        return entries
    for n, line in enumerate(IGNORE.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        vuln_id, _, reason = line.partition(" ")
        if not reason.strip():
            sys.exit(f"{IGNORE.name}:{n}: {vuln_id} has no reason; say why it may be ignored")
        entries[vuln_id] = reason.strip()
    return entries


def probe(url: str, body: dict | None = None, key: str | None = None) -> tuple[bool, str]:
    """(reachable, why not): reachable means an HTTP 200 with a JSON body (holding a non-empty ``key``)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=PROBE_TIMEOUT_S) as resp:  # fixed https URLs: nosec B310
            answer = json.loads(resp.read())
        if key is not None and not answer.get(key):
            return False, f"{url} answered without {key!r}"
        return True, ""
    except urllib.error.HTTPError as exc:
        return False, f"{url} answered HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return False, f"{url} unreachable ({getattr(exc, 'reason', exc)})"
    except ValueError:
        return False, f"{url} did not answer JSON"


def pip_audit(ignore: dict[str, str]) -> int:
    ok, why = probe(PYPI_PROBE, key="vulnerabilities")
    service = "pypi"
    if not ok:
        ok, why_osv = probe(
            OSV_PROBE, {"package": {"name": "pip", "ecosystem": "PyPI"}, "version": "20.0"}, "vulns"
        )
        service = "osv"
        why = f"{why}; {why_osv}" if not ok else ""
    if not ok:
        print(f"pip-audit: SKIPPED, no advisory database reachable: {why}")
        return 0
    argv = [
        str(Path(sys.executable).parent / "pip-audit"),
        "-r",
        str(LOCK),
        "--require-hashes",
        "--disable-pip",
        "--vulnerability-service",
        service,
        "--progress-spinner",
        "off",
        "--timeout",
        "30",
    ]
    for vuln_id in ignore:
        argv += ["--ignore-vuln", vuln_id]
    print(f"pip-audit: {LOCK.relative_to(ROOT)} against {service} ({len(ignore)} ignored ids)", flush=True)
    return subprocess.run(argv, check=False).returncode  # fixed argv: nosec B603


def npm_audit(ignore: dict[str, str]) -> int:
    if not (WEB / "package-lock.json").exists():
        print("npm audit: SKIPPED, web/ has no package-lock.json")
        return 0
    registry = (
        subprocess.run(
            ["npm", "config", "get", "registry"], cwd=WEB, capture_output=True, text=True, check=False
        )
        .stdout.strip()
        .rstrip("/")
        or "https://registry.npmjs.org"
    )
    ok, why = probe(f"{registry}/-/npm/v1/security/advisories/bulk", {})
    if not ok:
        print(f"npm audit: SKIPPED, advisory database unreachable: {why}")
        return 0
    run = subprocess.run(
        ["npm", "audit", "--omit=dev", "--json"],
        cwd=WEB,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_UPDATE_NOTIFIER": "1"},
    )
    try:
        report = json.loads(run.stdout)
    except ValueError:
        print(f"npm audit: failed to run: {run.stderr.strip()[-2000:]}")
        return 1
    if "error" in report:
        print(f"npm audit: failed: {report['error']}")
        return 1
    found = unignored_npm_advisories(report, ignore)
    for adv in found:
        print(
            f"npm audit: {adv['name']} {adv.get('range', '')}: {adv.get('severity')} {adv.get('title')} "
            f"{adv.get('url')}"
        )
    print(
        f"npm audit: {len(found)} vulnerabilities in web/ production dependencies "
        f"({len(ignore)} ids in the ignore list)"
    )
    return 1 if found else 0


def unignored_npm_advisories(report: dict, ignore: dict[str, str]) -> list[dict]:
    """The advisories of an ``npm audit --json`` report whose GHSA id (the end of its URL) is not ignored.
    A vulnerable package's ``via`` lists advisories (objects) or the vulnerable packages it depends on
    (names); every advisory appears as an object on the package it is about."""
    out, seen = [], set()
    for vuln in report.get("vulnerabilities", {}).values():
        for via in vuln.get("via", []):
            if not isinstance(via, dict):
                continue
            vuln_id = str(via.get("url", "")).rstrip("/").rsplit("/", 1)[-1] or str(via.get("source"))
            if vuln_id in ignore or vuln_id in seen:
                continue
            seen.add(vuln_id)
            out.append(via)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["pip", "npm"])
    args = parser.parse_args()
    ignore = ignored()
    failed = 0
    if args.only in (None, "pip"):
        failed |= pip_audit(ignore)
    if args.only in (None, "npm"):
        failed |= npm_audit(ignore)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
