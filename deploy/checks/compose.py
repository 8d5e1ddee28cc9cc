"""The compose files of ``deploy/compose``: the compose schema, dclint, and what neither of them checks.

There is no ``docker compose config`` here (no compose plugin), so besides the schema this check follows the
references ``compose config`` would: services named in ``depends_on``, networks, named volumes, secrets and
bind-mounted files must exist, every ``CLUBHUB_*`` variable must be a setting the product reads (a misspelled
one is silently ignored), every ``${VAR}`` must be documented in ``.env.example``, the product image's default
tag must be the version in setup.cfg, and nginx must route to the gateways' port with sticky sessions and
WebSocket upgrades. The product's services run commands its CLI accepts.
"""

from __future__ import annotations

import configparser
import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

COMPOSE_DIR = Path("deploy/compose")
# The base file first: the overlay's references resolve against both, as with `-f a -f b`.
FILES = ("compose.yaml", "compose.monitoring.yaml")
REPO = Path(__file__).resolve().parents[2]  # the real checkout: tools and the settings come from here
SCHEMA = REPO / "deploy" / "tools" / "node_modules" / "dclint" / "schemas" / "compose.schema.json"
PRODUCT_IMAGE = "clubholohub"
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+][^}]*)?\}")


def run(root: Path) -> list[str]:
    compose_dir = root / COMPOSE_DIR
    paths = [compose_dir / name for name in FILES]
    missing = [str(p.relative_to(root)) for p in paths if not p.is_file()]
    if missing:
        return [f"{name}: missing" for name in missing]
    findings = dclint(root, paths)
    docs: dict[str, dict] = {}
    for path in paths:
        rel = str(path.relative_to(root))
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            findings.append(f"{rel}: not YAML: {exc}")
            continue
        if not isinstance(doc, dict):
            findings.append(f"{rel}: not a compose file (a mapping at the top)")
            continue
        docs[rel] = doc
        findings += schema_findings(rel, doc)
        findings += interpolation_findings(rel, path.read_text(), compose_dir)
    if len(docs) == len(paths):
        findings += reference_findings(root, compose_dir, docs)
        findings += settings_findings(docs)
        findings += image_findings(root, docs)
        findings += command_findings(docs)
        findings += nginx_findings(root, compose_dir, docs)
    return findings


def dclint(root: Path, paths: list[Path]) -> list[str]:
    """dclint's schema validation and rules; its warnings count too (the files are kept clean of them)."""
    exe = shutil.which("dclint")
    if exe is None:
        return ["dclint not found on PATH (make deploy-tools installs it into deploy/tools/node_modules)"]
    proc = subprocess.run(
        [exe, *map(str, paths), "--formatter", "json", "--max-warnings", "0", "--color", "false"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return [f"dclint failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[:500]}"]
    findings = []
    for entry in report:
        rel = Path(entry["filePath"]).resolve().relative_to(root)
        for msg in entry.get("messages", []):
            findings.append(f"{rel}:{msg.get('line')}: dclint {msg.get('rule')}: {msg.get('message')}")
    if proc.returncode != 0 and not findings:
        findings.append(f"dclint exited {proc.returncode}: {proc.stderr.strip()[:500]}")
    return findings


def schema_findings(rel: str, doc: dict) -> list[str]:
    """Every schema error, each naming its place and the offending key (dclint reports only the first, and
    not which key of a service was wrong)."""
    if not SCHEMA.is_file():
        return [f"the compose schema {SCHEMA} is missing (make deploy-tools installs dclint, which ships it)"]
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    findings = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        where = ".".join(map(str, error.absolute_path)) or "(top level)"
        findings.append(f"{rel}: compose schema: {where}: {error.message}")
    return findings


def interpolation_findings(rel: str, text: str, compose_dir: Path) -> list[str]:
    """Every ``${VAR}`` the files read from the environment is documented in .env.example."""
    example = compose_dir / ".env.example"
    documented = set()
    if example.is_file():
        documented = {
            line.split("=", 1)[0].strip()
            for line in example.read_text().splitlines()
            if "=" in line and not line.lstrip().startswith("#")
        }
    text = text.replace("$$", "")  # an escaped dollar reaches the container's shell, not compose
    used = sorted({m.group(1) for m in INTERPOLATION.finditer(text)})
    return [
        f"{rel}: ${{{name}}} is not documented in deploy/compose/.env.example"
        for name in used
        if name not in documented
    ]


def services(docs: dict[str, dict]) -> dict[str, tuple[str, dict]]:
    merged: dict[str, tuple[str, dict]] = {}
    for rel, doc in docs.items():
        for name, svc in (doc.get("services") or {}).items():
            if isinstance(svc, dict):
                merged[name] = (rel, {**merged.get(name, ("", {}))[1], **svc})
    return merged


def declared(docs: dict[str, dict], kind: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for doc in docs.values():
        for name, spec in (doc.get(kind) or {}).items():
            out[name] = spec or {}
    return out


def names(value) -> list[str]:
    """Service-level ``depends_on``/``networks``/``secrets``: a list of names or a mapping keyed by them."""
    if isinstance(value, dict):
        return list(value)
    return [v if isinstance(v, str) else v.get("source", "") for v in value or []]


def reference_findings(root: Path, compose_dir: Path, docs: dict[str, dict]) -> list[str]:
    findings = []
    svcs = services(docs)
    networks, volumes, secrets = (declared(docs, k) for k in ("networks", "volumes", "secrets"))
    generator = compose_dir / "gen-secrets.sh"
    generated = set(re.findall(r"^put (\w+) ", generator.read_text(), re.M)) if generator.is_file() else set()
    for name, (rel, svc) in sorted(svcs.items()):
        where = f"{rel}: services.{name}"
        for dep in names(svc.get("depends_on")):
            if dep not in svcs:
                findings.append(f"{where}: depends_on names {dep!r}, which no compose file defines")
        for net in names(svc.get("networks")):
            if net not in networks:
                findings.append(f"{where}: network {net!r} is not declared under networks")
        for secret in names(svc.get("secrets")):
            if secret not in secrets:
                findings.append(f"{where}: secret {secret!r} is not declared under secrets")
        for volume in svc.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                if not (compose_dir / source).exists():
                    findings.append(f"{where}: bind-mounted {source} does not exist")
            elif source and source not in volumes:
                findings.append(f"{where}: volume {source!r} is not declared under volumes")
    for name, spec in sorted(secrets.items()):
        file = spec.get("file")
        if file and not (compose_dir / file).exists() and name not in generated:
            findings.append(f"secret {name!r}: {file} neither exists nor is written by gen-secrets.sh")
    return findings


def settings_findings(docs: dict[str, dict]) -> list[str]:
    """``CLUBHUB_*`` variables the product does not read (pydantic-settings ignores unknown ones)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from storage.settings import SECRET_FIELDS, Settings

    fields = set(Settings.model_fields)
    findings = []
    for name, (rel, svc) in sorted(services(docs).items()):
        env = svc.get("environment") or {}
        keys = list(env) if isinstance(env, dict) else [e.split("=", 1)[0] for e in env]
        for key in keys:
            if not key.startswith("CLUBHUB_"):
                continue
            field = key.removeprefix("CLUBHUB_").lower()
            if field.endswith("_file") and field.removesuffix("_file") in SECRET_FIELDS:
                continue
            if field not in fields:
                findings.append(f"{rel}: services.{name}: {key} is not a setting of storage/settings.py")
    return findings


def image_findings(root: Path, docs: dict[str, dict]) -> list[str]:
    cfg = configparser.ConfigParser()
    cfg.read(root / "setup.cfg")
    version = cfg.get("metadata", "version", fallback=None)
    findings = []
    for name, (rel, svc) in sorted(services(docs).items()):
        image = str(svc.get("image", ""))
        if not image.startswith(f"{PRODUCT_IMAGE}:"):
            continue
        tag = image.split(":", 1)[1]
        default = INTERPOLATION.fullmatch(tag)
        effective = re.sub(r"^\$\{\w+:?-(.*)\}$", r"\1", tag) if default else tag
        if effective != version:
            findings.append(
                f"{rel}: services.{name}: image {image} defaults to tag {effective}, setup.cfg's version is {version}"
            )
    return findings


def command_findings(docs: dict[str, dict]) -> list[str]:
    """The product image's entrypoint is ``clubhub``: its command must be one the CLI accepts."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from gateway.cli import build_parser
    from gateway.cli.node import NodeError, parse_resources

    findings = []
    for name, (rel, svc) in sorted(services(docs).items()):
        if not str(svc.get("image", "")).startswith(f"{PRODUCT_IMAGE}:") or "entrypoint" in svc:
            continue
        command = svc.get("command")
        where = f"{rel}: services.{name}: command {command!r}"
        if not isinstance(command, list):
            findings.append(f"{where}: give the clubhub subcommand as a list (exec form)")
            continue
        errors = io.StringIO()
        try:
            with contextlib.redirect_stderr(errors):
                args = build_parser().parse_args([str(part) for part in command])
        except SystemExit:
            message = errors.getvalue().strip().splitlines()
            findings.append(f"{where}: clubhub refuses it: {message[-1] if message else 'usage error'}")
            continue
        try:
            parse_resources(getattr(args, "resources", None))
        except NodeError as exc:
            findings.append(f"{where}: {exc}")
    return findings


def nginx_findings(root: Path, compose_dir: Path, docs: dict[str, dict]) -> list[str]:
    """nginx's upstream names the gateway services on their HTTP port, pinned, with WebSocket upgrades."""
    conf_path = compose_dir / "nginx" / "nginx.conf"
    rel = str(conf_path.relative_to(root))
    if not conf_path.is_file():
        return [f"{rel}: missing"]
    conf = re.sub(r"#.*", "", conf_path.read_text())
    findings = []
    svcs = services(docs)
    gateways = {n: s for n, (_, s) in svcs.items() if s.get("command") == ["gateway"]}
    upstream = re.search(r"upstream\s+\w+\s*\{(.*?)\}", conf, re.S)
    if upstream is None:
        return [f"{rel}: no upstream block"]
    body = upstream.group(1)
    if not re.search(r"^\s*(ip_hash|hash\s+\S+(\s+consistent)?)\s*;", body, re.M):
        findings.append(f"{rel}: the upstream is not sticky (ip_hash or hash): Socket.IO long-polling breaks")
    servers = dict(re.findall(r"^\s*server\s+([\w.-]+):(\d+)", body, re.M))
    for host, port in sorted(servers.items()):
        if host not in gateways:
            findings.append(f"{rel}: upstream server {host} is not a gateway service of the compose files")
        elif str((gateways[host].get("environment") or {}).get("CLUBHUB_PORT", "8080")) != port:
            findings.append(f"{rel}: upstream server {host}:{port} is not that gateway's CLUBHUB_PORT")
    for name in sorted(set(gateways) - set(servers)):
        findings.append(f"{rel}: gateway service {name} is missing from the upstream")
    for header in ("Upgrade", "Connection"):
        if not re.search(rf"proxy_set_header\s+{header}\s", conf):
            findings.append(f"{rel}: no proxy_set_header {header}: WebSocket upgrades fail")
    if not re.search(r"proxy_http_version\s+1\.1\s*;", conf):
        findings.append(f"{rel}: proxy_http_version 1.1 is required for WebSocket upgrades")
    return findings
