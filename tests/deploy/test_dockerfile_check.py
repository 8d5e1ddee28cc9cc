"""make deploy-check's Dockerfile check (deploy/checks/dockerfile.py) passes the committed Dockerfile and
.dockerignore and fails each planted mistake, naming the file and the problem.

Each case copies the Dockerfile, its hadolint config and .dockerignore into a temporary root, plants one mistake
and runs ``deploy/check.py --root <tmp> --only dockerfile`` as make deploy-check would. Quick: hadolint is a
binary in the venv (the dev extra); nothing is skipped without it, the check fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import deploy_check
from support.deploy_check import REPO, copy_into, plant

DOCKERFILE = "deploy/docker/Dockerfile"
FILES = (DOCKERFILE, "deploy/docker/.hadolint.yaml", ".dockerignore")


def run_check(root: Path) -> tuple[int, str]:
    return deploy_check.run_check(root, "dockerfile", timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return copy_into(tmp_path, *FILES)


def test_the_repository_passes():
    rc, out = run_check(REPO)
    assert rc == 0, out
    assert "ok   dockerfile" in out


def test_a_copy_passes(tree: Path):
    rc, out = run_check(tree)
    assert rc == 0, out


CASES = {
    # hadolint's own rule: apt pulls recommended packages into the runtime.
    "hadolint": (
        DOCKERFILE,
        "apt-get install -y --no-install-recommends libgomp1 tini",
        "apt-get install -y libgomp1 tini",
        "DL3015",
    ),
    "root user": (DOCKERFILE, "USER 10001:10001", "USER root", "must be a numeric non-root UID"),
    "named user": (DOCKERFILE, "USER 10001:10001", "USER clubhub", "must be a numeric non-root UID"),
    "build tools in the runtime": (
        DOCKERFILE,
        "--no-install-recommends libgomp1 tini",
        "--no-install-recommends libgomp1 tini gcc libpq-dev",
        "installs build tools: gcc, libpq-dev",
    ),
    "unhashed lock": (
        DOCKERFILE,
        "pip install --require-hashes --only-binary=:all: --no-binary=http-ece -r /tmp/runtime.txt",
        "pip install --only-binary=:all: --no-binary=http-ece -r /tmp/runtime.txt",
        "without --require-hashes",
    ),
    "sources before the lock": (
        DOCKERFILE,
        "COPY requirements/runtime.txt /tmp/runtime.txt\n",
        "COPY storage /src/storage\nCOPY requirements/runtime.txt /tmp/runtime.txt\n",
        "sources are copied before the runtime lock is installed",
    ),
    "web sources before npm ci": (
        DOCKERFILE,
        "COPY web/package.json web/package-lock.json ./\n",
        "COPY web/ ./\n",
        "web sources are copied before `npm ci`",
    ),
    "no tmp volume": (DOCKERFILE, 'VOLUME ["/data", "/tmp"]', 'VOLUME ["/data"]', "VOLUME /tmp"),
    "shell-form entrypoint": (
        DOCKERFILE,
        'ENTRYPOINT ["tini", "--", "clubhub"]',
        "ENTRYPOINT python -m gateway.cli",
        "ENTRYPOINT must be the exec form running clubhub",
    ),
    "web/dist in the context": (".dockerignore", "web/dist/\n", "", "web/dist is not excluded"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_planted_mistake_fails_and_is_named(tree: Path, case: str):
    name, old, new, expected = CASES[case]
    plant(tree, name, old, new)
    rc, out = run_check(tree)
    assert rc == 1, out
    assert "FAIL dockerfile" in out
    assert name in out and expected in out, out


def test_a_missing_dockerignore_fails(tree: Path):
    (tree / ".dockerignore").unlink()
    rc, out = run_check(tree)
    assert rc == 1 and ".dockerignore: missing" in out, out
