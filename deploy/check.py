"""``make deploy-check``: validate every deployment artifact offline; exit 1 on any finding.

Each module in ``deploy/checks/`` checks one kind of artifact and exposes ``run(root) -> list[str]``, the
findings (an empty list passes). ``root`` is a repository root: the real one, or a copy in which a test planted
a mistake to show the check catches it. The tools come from the project's venv (the dev extra), from
``deploy/tools/node_modules`` (npm-only linters) and from Debian (``promtool``); ``make deploy-check`` installs
all of them.

    python deploy/check.py [--root DIR] [--only NAME[,NAME...]]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKS = HERE / "checks"


def available() -> dict[str, Path]:
    return {p.stem: p for p in sorted(CHECKS.glob("*.py")) if not p.stem.startswith("_")}


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(f"deploy_checks_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there while the module executes
    spec.loader.exec_module(module)
    return module


def tool_path() -> str:
    """PATH with the venv's scripts and the npm linters first, so a check finds the pinned tools."""
    extra = [str(Path(sys.executable).parent), str(HERE / "tools" / "node_modules" / ".bin")]
    return os.pathsep.join([*extra, os.environ.get("PATH", "")])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE.parent, help="repository root to check")
    parser.add_argument("--only", default="", help="comma-separated check names (default: all)")
    args = parser.parse_args(argv)
    checks = available()
    names = [n for n in args.only.split(",") if n] or list(checks)
    unknown = sorted(set(names) - set(checks))
    if not names:
        parser.error(f"no checks found in {CHECKS}")
    if unknown:
        parser.error(f"unknown check(s) {', '.join(unknown)}; known: {', '.join(checks)}")
    os.environ["PATH"] = tool_path()
    root = args.root.resolve()
    failed = 0
    for name in names:
        t0 = time.monotonic()
        try:
            findings = list(load(name, checks[name]).run(root))
        except Exception as exc:  # a check that cannot run is a finding, not a pass
            findings = [f"the check itself failed: {type(exc).__name__}: {exc}"]
        took = time.monotonic() - t0
        if findings:
            failed += 1
            print(f"FAIL {name} ({len(findings)} finding(s), {took:.1f} s)")
            for finding in findings:
                print(f"  - {finding}")
        else:
            print(f"ok   {name} ({took:.1f} s)")
    print(f"deploy-check: {len(names) - failed} of {len(names)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
