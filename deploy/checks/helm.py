"""The Helm chart ``deploy/helm/clubholohub``: lint, render, Kubernetes and CRD schemas, pod policy.

Steps, each of which reports findings rather than stopping at the first:

1. ``yamllint`` on ``values.yaml`` (templates are not YAML until rendered).
2. ``helm lint --strict`` for the pinned Kubernetes version, through Helm's own Go SDK
   (helm-python-sdk), which also validates the values against ``values.schema.json``.
3. Render the chart offline with several value sets (``VALUE_SETS``) so every template is
   exercised, passing the API versions a cluster would announce (``.Capabilities.APIVersions``).
4. Every rendered object against the Kubernetes JSON schemas of ``KUBE_VERSION`` in strict mode
   (kubernetes-validate: an unknown field is an error), and custom resources (KubeRay's
   ``RayCluster``, the Prometheus Operator's monitors, ``ExternalSecret``) against their CRDs' own
   OpenAPI schemas kept in ``deploy/checks/schemas/crds`` (see the README there), made strict the
   same way. A RayCluster's pod templates are also checked as core/v1 Pods.
5. A small pod policy, the hardened defaults the chart promises (as Centrifugo's and Mattermost's
   charts do): every container has liveness and readiness probes, runs as non-root with a read-only
   root filesystem, no privilege escalation, all capabilities dropped, a seccomp profile, and CPU and
   memory requests with a memory limit; and for the RayCluster, token auth, ``num-cpus: "0"`` on the
   head and the same hardening for KubeRay's autoscaler sidecar.
6. Value sets the chart must refuse (``MUST_FAIL``): its schema and its ``fail`` guards hold.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml

CHART = Path("deploy/helm/clubholohub")
CRD_SCHEMAS = Path("deploy/checks/schemas/crds")
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion); its schemas are the strictest
# for what the chart uses (preStop sleep, autoscaling/v2).
KUBE_VERSION = "1.30.0"
RELEASE = "chat"
NAMESPACE = "clubhub"
MONITORING_API = "monitoring.coreos.com/v1"

_ALL_ON: dict[str, Any] = {
    "gateway": {
        "corsOrigins": "https://app.example.com",
        "mediaPublicUrl": "https://cdn.example.com/media",
        "janusUrl": "ws://janus:8188",
        "extraEnv": [{"name": "CLUBHUB_USER_MSG_RATE", "value": "10"}],
        "nodeSelector": {"pool": "gateway"},
        "tolerations": [{"key": "gateway", "operator": "Exists", "effect": "NoSchedule"}],
        "podAnnotations": {"example.com/team": "chat"},
    },
    "ray": {"gcsFaultTolerance": {"redisPassword": True}},
    "secrets": {"s3": True, "jwtKeysSecret": "clubholohub-jwt-keys", "externalSecrets": {"enabled": True}},
    "ingress": {"tls": {"issuer": "letsencrypt-staging"}},
    "networkPolicy": {
        "ingressFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
        ]
    },
    "monitoring": {"serviceMonitor": {"labels": {"release": "prometheus"}}},
    "imagePullSecrets": [{"name": "registry"}],
}

# name -> (values, API versions the "cluster" announces). Together they render every template.
VALUE_SETS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "defaults": ({}, []),
    "all-features": (_ALL_ON, [MONITORING_API, "external-secrets.io/v1"]),
    "dev-stores": (
        {
            "devStores": {n: {"enabled": True} for n in ("postgres", "mongo", "redis")}
            | {"storageClass": "standard"},
            "ingress": {
                "className": "traefik",
                "tls": {"enabled": False},
                "sessionAffinity": {"controller": "traefik"},
            },
        },
        [MONITORING_API],
    ),
    "minimal": (
        {
            "ray": {"enabled": False, "externalAddress": "ray://ray-head:10001"},
            "ingress": {"enabled": False},
            "networkPolicy": {"enabled": False},
            "serviceAccount": {"create": False},
            "gateway": {"autoscaling": {"enabled": False}, "podDisruptionBudget": {"enabled": False}},
        },
        [],
    ),
}

# name -> (values, words the error must contain): the chart must refuse to render these.
MUST_FAIL: dict[str, tuple[dict[str, Any], str]] = {
    "misspelled value key": ({"gateway": {"replica": 3}}, "replica"),
    "grace period shorter than the drain": (
        {"gateway": {"terminationGracePeriodSeconds": 10, "drainSeconds": 15}},
        "terminationGracePeriodSeconds",
    ),
    "no Secret for the credentials": ({"secrets": {"existingSecret": ""}}, "existingSecret"),
}

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def run(root: Path) -> list[str]:
    import helm_python as helm

    chart_dir = root / CHART
    if not (chart_dir / "Chart.yaml").is_file():
        return [f"{CHART}: no chart (Chart.yaml missing)"]
    findings = lint_values_yaml(root)
    findings += helm_lint(helm, chart_dir)
    crds = load_crd_schemas(root / CRD_SCHEMAS)
    rendered_templates: set[str] = set()
    with helm.Chart.load(chart_dir) as chart:
        templates = {t["name"] for t in chart.templates if Path(t["name"]).suffix in (".yaml", ".yml")}
        for name, (values, apis) in VALUE_SETS.items():
            try:
                manifests = render(chart, values, apis)
            except helm.HelmError as exc:
                findings.append(f"{CHART} [values: {name}]: does not render: {exc}")
                continue
            seen: dict[tuple[str, str], str] = {}
            for template, text in sorted(manifests.items()):
                if template.endswith("NOTES.txt"):
                    continue  # shown to the person installing, not applied
                objs, problems = parse_manifest(text)
                findings += [f"{CHART.parent}/{template} [values: {name}]: {p}" for p in problems]
                if objs:
                    rendered_templates.add(template.split("/", 1)[1])
                for obj in objs:
                    where = f"{CHART.parent}/{template} [values: {name}] {obj.get('kind')}/{name_of(obj)}"
                    findings += [f"{where}: {p}" for p in check_object(obj, crds, apis)]
                    key = (obj["kind"], name_of(obj))
                    if key in seen:  # the second one would overwrite the first at install
                        findings.append(f"{where}: the same kind and name as an object of {seen[key]}")
                    seen.setdefault(key, f"{CHART.parent}/{template}")
        for label, (values, expected) in MUST_FAIL.items():
            findings += must_fail(helm, chart, label, values, expected)
    for template in sorted(templates - rendered_templates):
        findings.append(f"{CHART}/{template}: no value set in VALUE_SETS renders it, so nothing checks it")
    return findings


# ---------------------------------------------------------------- lint


def lint_values_yaml(root: Path) -> list[str]:
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    config = YamlLintConfig(
        "extends: default\nrules:\n  line-length: {max: 120}\n  document-start: disable\n"
    )
    path = root / CHART / "values.yaml"
    problems = linter.run(path.read_text(encoding="utf-8"), config, str(path))
    return [
        f"{CHART}/values.yaml:{p.line}:{p.column}: yamllint {p.level}: {p.message}"
        for p in problems
        if p.level == "error" or p.rule == "line-length"
    ]


def helm_lint(helm, chart_dir: Path) -> list[str]:
    report = helm.lint(str(chart_dir), strict=True, kube_version=f"v{KUBE_VERSION}")
    findings = [f"{CHART}: helm lint: {e}" for e in report.get("errors") or []]
    for message in report.get("messages") or []:
        # 1 = info ("icon is recommended"); warnings fail, as with `helm lint --strict`.
        if message.get("severity", 0) >= 2:
            findings.append(f"{CHART}/{message.get('path', '')}: helm lint: {message.get('error')}")
    return findings


def render(chart, values: dict[str, Any], api_versions: list[str]) -> dict[str, str]:
    """``helm template`` with ``--api-versions`` and ``--kube-version``, in-process.

    helm-python-sdk's ``Chart.render`` does not expose these two, but the native call it wraps
    takes them (``api_versions``, ``kube_version``), which is what lets the monitors' capability
    gate be exercised both ways.
    """
    from helm_python import _native

    chart.validate_schema(values)
    options = {
        "name": RELEASE,
        "namespace": NAMESPACE,
        "is_install": True,
        "api_versions": api_versions,
        "kube_version": f"v{KUBE_VERSION}",
    }
    out = _native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(options))
    return json.loads(out)


def must_fail(helm, chart, label: str, values: dict[str, Any], expected: str) -> list[str]:
    try:
        render(chart, values, [])
    except helm.HelmError as exc:
        if expected.lower() in str(exc).lower():
            return []
        return [f"{CHART}: values '{label}' were refused, but not for '{expected}': {exc}"]
    return [f"{CHART}: values '{label}' ({json.dumps(values)}) render; the chart must refuse them"]


# ---------------------------------------------------------------- parsing


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser: 10x faster
    """The API server's decoder refuses a mapping with a repeated key (``kubectl apply`` does too)."""

    def construct_mapping(self, node, deep=False):
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"repeated key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_manifest(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    try:
        docs = list(yaml.load_all(text, Loader=_UniqueKeyLoader))
    except yaml.YAMLError as exc:
        return [], [f"not valid YAML: {exc}".replace("\n", " ")]
    objs, problems = [], []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            problems.append(f"a document that is not a Kubernetes object: {str(doc)[:80]}")
            continue
        objs.append(doc)
    return objs, problems


def name_of(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", "?"))


# ---------------------------------------------------------------- schemas


def check_object(obj: dict[str, Any], crds: dict[tuple[str, str], Any], apis: list[str]) -> list[str]:
    key = (obj["apiVersion"], obj["kind"])
    group = obj["apiVersion"].split("/")[0]
    if obj["apiVersion"] == MONITORING_API and MONITORING_API not in apis:
        return [f"rendered although the cluster has no {MONITORING_API} API (gate it on .Capabilities)"]
    if key in crds:
        findings = [f"{path}: {msg}" for path, msg in crd_errors(crds[key], obj)]
    elif "." in group and not group.endswith(".k8s.io"):
        return [f"no CRD schema for {obj['apiVersion']} {obj['kind']} in {CRD_SCHEMAS}"]
    else:
        findings = kubernetes_errors(obj)
    if obj["kind"] == "RayCluster":
        findings += raycluster_policy(obj.get("spec") or {})
    for where, pod_spec in pod_specs(obj):
        if obj["kind"] == "RayCluster":
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ray"}, "spec": pod_spec}
            findings += [f"{where} (as a Pod): {p}" for p in kubernetes_errors(pod)]
        findings += [f"{where}: {p}" for p in pod_policy(pod_spec)]
    return findings


def kubernetes_errors(obj: dict[str, Any]) -> list[str]:
    import kubernetes_validate

    _cache_schema_files()
    try:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [exc.message]
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path) or "(top)"
        return [f"{path}: {exc.message} (Kubernetes {KUBE_VERSION} schema, strict)"]
    return []


def _cache_schema_files() -> None:
    """kubernetes-validate parses the same multi-megabyte definitions file for every object; read
    each file once (the parsed schemas are only read, never changed)."""
    from kubernetes_validate import utils

    if not hasattr(utils.schema_contents, "cache_info"):
        utils.schema_contents = functools.lru_cache(maxsize=None)(utils.schema_contents)


def load_crd_schemas(directory: Path) -> dict[tuple[str, str], Any]:
    """(apiVersion, kind) -> a validator of the CRD's OpenAPI schema, strict like the API server's
    field validation: a field the CRD does not declare is an error."""
    from jsonschema import Draft4Validator

    validators = {}
    for path in sorted(directory.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        schema = structural_to_jsonschema(doc["openAPIV3Schema"])
        validators[(doc["apiVersion"], doc["kind"])] = Draft4Validator(schema)
    return validators


def structural_to_jsonschema(node: Any) -> Any:
    """A Kubernetes structural schema (OpenAPI v3 with ``x-kubernetes-*``) as plain JSON Schema.

    Objects with declared ``properties`` get ``additionalProperties: false`` unless they preserve
    unknown fields; ``int-or-string`` becomes ``anyOf``; ``nullable`` admits null. CEL rules
    (``x-kubernetes-validations``) are not evaluated.
    """
    if isinstance(node, list):
        return [structural_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: structural_to_jsonschema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    out.pop("nullable", None)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("x-kubernetes-embedded-resource") and "properties" in out:
        for field in ("apiVersion", "kind", "metadata"):
            out["properties"].setdefault(field, {})
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def crd_errors(validator, obj: dict[str, Any]) -> list[tuple[str, str]]:
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path)))
    return [(".".join(str(p) for p in e.path) or "(top)", f"{e.message} (CRD schema)") for e in errors[:10]]


# ---------------------------------------------------------------- policy


def pod_specs(obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    spec = obj.get("spec") or {}
    if obj["kind"] in WORKLOAD_KINDS:
        return [("spec.template.spec", (spec.get("template") or {}).get("spec") or {})]
    if obj["kind"] == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        return [("spec.jobTemplate.spec.template.spec", (job.get("template") or {}).get("spec") or {})]
    if obj["kind"] == "Pod":
        return [("spec", spec)]
    if obj["kind"] == "RayCluster":
        head = (spec.get("headGroupSpec") or {}).get("template") or {}
        found = [("spec.headGroupSpec.template.spec", head.get("spec") or {})]
        for i, group in enumerate(spec.get("workerGroupSpecs") or []):
            found.append(
                (f"spec.workerGroupSpecs[{i}].template.spec", (group.get("template") or {}).get("spec") or {})
            )
        return found
    return []


def pod_policy(pod: dict[str, Any]) -> list[str]:
    findings = []
    pod_sc = pod.get("securityContext") or {}
    for container in (pod.get("initContainers") or []) + (pod.get("containers") or []):
        name = f"container {container.get('name', '?')}"
        for probe in ("livenessProbe", "readinessProbe"):
            if not container.get(probe):
                findings.append(f"{name}: no {probe}")
        findings += [f"{name}: {p}" for p in container_policy(container, pod_sc)]
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        findings.append("pod shares a host namespace")
    return findings


def container_policy(container: dict[str, Any], pod_sc: dict[str, Any]) -> list[str]:
    """securityContext and resources of one container (the pod's context supplies the defaults)."""
    findings = []
    sc = container.get("securityContext") or {}
    capabilities = sc.get("capabilities") or {}
    if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
        findings.append("securityContext.runAsNonRoot is not true")
    if sc.get("readOnlyRootFilesystem") is not True:
        findings.append("securityContext.readOnlyRootFilesystem is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        findings.append("securityContext.allowPrivilegeEscalation is not false")
    if sc.get("privileged"):
        findings.append("securityContext.privileged")
    if "ALL" not in (capabilities.get("drop") or []):
        findings.append("securityContext.capabilities.drop lacks ALL")
    if capabilities.get("add"):
        findings.append("securityContext.capabilities.add is not empty")
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        findings.append("no seccompProfile RuntimeDefault or Localhost")
    resources = container.get("resources") or {}
    for kind, fields in (("requests", ("cpu", "memory")), ("limits", ("memory",))):
        missing = [f for f in fields if f not in (resources.get(kind) or {})]
        if missing:
            findings.append(f"resources.{kind} lacks {', '.join(missing)}")
    return findings


def raycluster_policy(spec: dict[str, Any]) -> list[str]:
    """What the product relies on: token auth, no actor on the head, a hardened autoscaler sidecar."""
    findings = []
    if (spec.get("authOptions") or {}).get("mode") != "token":
        findings.append("spec.authOptions.mode is not token (Ray runs any code a client sends)")
    head = spec.get("headGroupSpec") or {}
    if (head.get("rayStartParams") or {}).get("num-cpus") != "0":
        findings.append(
            'spec.headGroupSpec.rayStartParams lacks num-cpus: "0" (actors would land on the head)'
        )
    if spec.get("enableInTreeAutoscaling"):
        autoscaler = spec.get("autoscalerOptions") or {}
        findings += [f"spec.autoscalerOptions: {p}" for p in container_policy(autoscaler, {})]
    return findings
