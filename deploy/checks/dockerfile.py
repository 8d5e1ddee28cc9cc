"""The image: ``deploy/docker/Dockerfile`` through hadolint (``deploy/docker/.hadolint.yaml``), and the promises
hadolint cannot know about:

- the runtime stage (the last one) runs as a numeric non-root user, so Kubernetes' runAsNonRoot can verify it;
- its entrypoint is ``clubhub`` (behind tini, which reaps Ray's orphans and forwards signals);
- it installs no build tools (compilers, -dev packages, build-essential) and takes the venv and the web client
  from the earlier stages;
- /data and /tmp are volumes (the only paths written with a read-only root filesystem);
- the builder installs the hashed runtime lock with ``--require-hashes`` before it copies any source, so a
  source change does not reinstall Ray and LightGBM, and the web stage runs ``npm ci`` before copying the
  sources for the same reason;
- ``.dockerignore`` keeps the venv, node_modules, data dirs, build output and load test results out of the
  build context.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from pathlib import Path

DOCKERFILE = "deploy/docker/Dockerfile"
CONFIG = "deploy/docker/.hadolint.yaml"
DOCKERIGNORE = ".dockerignore"
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|clang|make|build-essential|cmake|[a-z0-9.+-]+-dev|cargo|rustc)\b")
# Paths the build context must not carry (each one a path that exists in a working checkout).
NOT_IN_CONTEXT = (
    ".venv",
    "web/node_modules",
    ".clubhub",
    ".clubhub-bench",
    "build",
    "web/dist",
    "loadtest/results",
)
TOOL_TIMEOUT_S = 60


def run(root: Path) -> list[str]:
    path = root / DOCKERFILE
    if not path.is_file():
        return [f"{DOCKERFILE}: missing"]
    findings = hadolint(root, path)
    stages = parse_stages(path.read_text())
    if not stages:
        return [*findings, f"{DOCKERFILE}: no FROM line"]
    findings += runtime_findings(stages[-1])
    findings += order_findings(stages)
    findings += dockerignore_findings(root)
    return findings


def hadolint(root: Path, path: Path) -> list[str]:
    exe = shutil.which("hadolint")
    if exe is None:
        return [f"{DOCKERFILE}: hadolint is not installed (make install puts it in the venv)"]
    argv = [exe, "--format", "json", "--no-color"]
    if (root / CONFIG).is_file():
        argv += ["--config", str(root / CONFIG)]
    proc = subprocess.run(  # nosec B603: a fixed argv, no shell
        [*argv, str(path)], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
    )
    try:
        results = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        return [
            f"{DOCKERFILE}: hadolint failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[:300]}"
        ]
    if proc.returncode != 0 and not results:
        return [f"{DOCKERFILE}: hadolint failed (exit {proc.returncode}): {proc.stderr.strip()[:300]}"]
    return [f"{DOCKERFILE}:{r['line']}: {r['code']} ({r['level']}): {r['message']}" for r in results]


def instructions(text: str) -> list[tuple[int, str, str]]:
    """(line, INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[int, str, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((start, word.upper(), rest.strip()))
    return out


def parse_stages(text: str) -> list[list[tuple[int, str, str]]]:
    stages: list[list[tuple[int, str, str]]] = []
    for item in instructions(text):
        if item[1] == "FROM":
            stages.append([item])
        elif stages:
            stages[-1].append(item)
    return stages


def runtime_findings(stage: list[tuple[int, str, str]]) -> list[str]:
    findings = []
    where = f"{DOCKERFILE}:{stage[0][0]}"
    users = [(n, args) for n, word, args in stage if word == "USER"]
    if not users:
        findings.append(f"{where}: the runtime stage has no USER: it would run as root")
    else:
        n, user = users[-1]
        uid = user.split(":")[0]
        if not uid.isdigit() or int(uid) == 0:
            findings.append(
                f"{DOCKERFILE}:{n}: the runtime stage's USER is {user!r}: it must be a numeric non-root UID "
                "(Kubernetes runAsNonRoot checks the number)"
            )
    entry = [(n, args) for n, word, args in stage if word == "ENTRYPOINT"]
    if not entry:
        findings.append(f"{where}: the runtime stage has no ENTRYPOINT (clubhub)")
    else:
        n, args = entry[-1]
        try:
            argv = json.loads(args)
        except json.JSONDecodeError:
            argv = None
        if not isinstance(argv, list) or "clubhub" not in argv:
            findings.append(f"{DOCKERFILE}:{n}: ENTRYPOINT must be the exec form running clubhub, not {args}")
    for n, word, args in stage:
        if word == "RUN" and ("apt-get install" in args or "pip install" in args):
            tools = sorted(set(BUILD_TOOLS.findall(args.split("install", 1)[1])))
            if tools:
                findings.append(
                    f"{DOCKERFILE}:{n}: the runtime stage installs build tools: {', '.join(tools)}"
                )
    volumes: set[str] = set()
    for _, word, args in stage:
        if word == "VOLUME":
            try:
                listed = json.loads(args)
            except json.JSONDecodeError:
                listed = args.split()
            volumes.update(listed if isinstance(listed, list) else [])
    for needed in ("/data", "/tmp"):
        if needed not in volumes:
            findings.append(
                f"{where}: the runtime stage does not declare VOLUME {needed} (read-only root filesystem)"
            )
    if not any(word == "COPY" and "--from=" in args and "/opt/venv" in args for _, word, args in stage):
        findings.append(
            f"{where}: the runtime stage does not take the venv from the builder (COPY --from=… /opt/venv)"
        )
    return findings


def order_findings(stages: list[list[tuple[int, str, str]]]) -> list[str]:
    findings = []
    for stage in stages[:-1]:
        runs = [(n, args) for n, word, args in stage if word == "RUN"]
        copies = [(n, args) for n, word, args in stage if word == "COPY"]
        lock_install = next((n for n, args in runs if "runtime.txt" in args), None)
        if lock_install is not None:
            if not any("--require-hashes" in args for n, args in runs if n == lock_install):
                findings.append(
                    f"{DOCKERFILE}:{lock_install}: the runtime lock is installed without --require-hashes"
                )
            sources = [n for n, args in copies if re.search(r"\b(actors|gateway|ranking|storage)\b", args)]
            if sources and min(sources) < lock_install:
                findings.append(
                    f"{DOCKERFILE}:{min(sources)}: sources are copied before the runtime lock is installed "
                    f"(line {lock_install}): every source change would reinstall every dependency"
                )
        npm_ci = next((n for n, args in runs if "npm ci" in args), None)
        if npm_ci is not None:
            early = [n for n, args in copies if args.split()[0].rstrip("/") in ("web", ".") and n < npm_ci]
            if early:
                findings.append(
                    f"{DOCKERFILE}:{early[0]}: the web sources are copied before `npm ci` (line {npm_ci}): "
                    "every source change would reinstall node_modules"
                )
    if not any("runtime.txt" in args for stage in stages for _, word, args in stage if word == "RUN"):
        findings.append(f"{DOCKERFILE}: no stage installs requirements/runtime.txt (the hashed runtime lock)")
    return findings


def dockerignore_findings(root: Path) -> list[str]:
    path = root / DOCKERIGNORE
    if not path.is_file():
        return [
            f"{DOCKERIGNORE}: missing: the whole checkout (.venv, node_modules, data dirs) would be the build context"
        ]
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            negate = line.startswith("!")
            rules.append((negate, line.lstrip("!").strip("/")))
    findings = []
    for candidate in NOT_IN_CONTEXT:
        if not excluded(candidate, rules):
            findings.append(f"{DOCKERIGNORE}: {candidate} is not excluded from the build context")
    return findings


def excluded(path: str, rules: list[tuple[bool, str]]) -> bool:
    """Docker's rule: the last pattern matching the path (or one of its parents) decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for negate, pattern in rules:
        pattern = pattern.removeprefix("**/")
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes) or fnmatch.fnmatchcase(parts[-1], pattern):
            verdict = not negate
    return verdict
