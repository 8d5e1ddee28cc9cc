"""The planted-mistake tests of ``make deploy-check``: copy the files a check reads into a temporary root,
plant one mistake, run ``deploy/check.py --root <tmp> --only <check>`` as make deploy-check would."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "deploy" / "check.py"


def run_check(root: Path, check: str, timeout: float = 300) -> tuple[int, str]:
    """The runner's exit code and everything it printed."""
    proc = subprocess.run(
        [sys.executable, str(CHECK), "--root", str(root), "--only", check],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def copy_into(root: Path, *names: str, ignore=None) -> Path:
    """Copy files and folders of the repository (paths relative to it) to the same paths under ``root``."""
    for name in names:
        source, target = REPO / name, root / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=ignore)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    return root


def plant(root: Path, name: str, old: str, new: str) -> int:
    """Replace the first ``old`` in ``name`` with ``new``; the line where the replacement starts."""
    path = root / name
    text = path.read_text()
    # The mistake must really be planted: a case whose anchor text went away would pass for nothing.
    assert old in text, f"{name} no longer holds {old!r}: update this test"
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1
