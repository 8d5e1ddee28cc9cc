"""make deploy-check's helm check (deploy/checks/helm.py) passes the committed chart and fails each planted
mistake, naming the file and the problem.

Each case copies the chart and the CRD schemas into a temporary root, plants one mistake and runs
``deploy/check.py --root <tmp> --only helm`` as make deploy-check would. Offline and quick: Helm renders
in-process through its Go SDK, about 1.5 s a run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import deploy_check
from support.deploy_check import REPO, copy_into

CHART = "deploy/helm/clubholohub"
SCHEMAS = "deploy/checks/schemas"
T = f"{CHART}/templates"

pytest.importorskip("helm_python", reason="the dev extra installs helm-python-sdk")
pytest.importorskip("kubernetes_validate", reason="the dev extra installs kubernetes-validate")


def run_check(root: Path) -> tuple[int, str]:
    return deploy_check.run_check(root, "helm", timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return copy_into(tmp_path, CHART, SCHEMAS)


def plant(root: Path, name: str, old: str, new: str) -> None:
    path = root / name
    text = path.read_text()
    # The mistake must really be planted: a case whose anchor text went away would pass for nothing.
    assert text.count(old) == 1, f"{name} holds {old!r} {text.count(old)} times: update this test"
    path.write_text(text.replace(old, new))


def test_the_repository_passes():
    rc, out = run_check(REPO)
    assert rc == 0, out
    assert "ok   helm" in out


def test_a_copy_of_the_chart_passes(tree: Path):
    rc, out = run_check(tree)
    assert rc == 0, out


# (id, file, text, replacement, what the findings must say)
MISTAKES = [
    (
        "misspelled-field-in-deployment",
        f"{T}/gateway-deployment.yaml",
        "      terminationGracePeriodSeconds: {{",
        "      terminationGracePeriodSecond: {{",
        [
            f"{T}/gateway-deployment.yaml [values: defaults] Deployment/chat-clubholohub-gateway",
            "'terminationGracePeriodSecond' was unexpected",
            "Kubernetes 1.30.0 schema, strict",
        ],
    ),
    (
        "misspelled-field-in-hpa",
        f"{T}/gateway-hpa.yaml",
        "averageUtilization:",
        "averageUtilisation:",
        [
            f"{T}/gateway-hpa.yaml [values: defaults] HorizontalPodAutoscaler/",
            "'averageUtilisation' was unexpected",
        ],
    ),
    (
        "misspelled-field-in-raycluster",
        f"{T}/raycluster.yaml",
        "      rayStartParams: {}",
        "      rayStartParam: {}",
        [
            f"{T}/raycluster.yaml [values: defaults] RayCluster/chat-clubholohub-ray: spec.workerGroupSpecs.0:",
            "('rayStartParam' was unexpected) (CRD schema)",
        ],
    ),
    (
        "misspelled-field-in-ray-pod-template",
        f"{T}/_raypod.tpl",
        "      volumeMounts:",
        "      volumeMount:",
        ["spec.headGroupSpec.template.spec (as a Pod): spec.containers.0:", "'volumeMount' was unexpected"],
    ),
    (
        "misspelled-field-in-externalsecret",
        f"{T}/externalsecret.yaml",
        "creationPolicy: Owner",
        "creationPolicyy: Owner",
        [
            f"{T}/externalsecret.yaml [values: all-features] ExternalSecret/",
            "'creationPolicyy' was unexpected",
        ],
    ),
    (
        "ray-without-token-auth",
        f"{T}/raycluster.yaml",
        "    mode: token",
        "    mode: disabled",
        [
            f"{T}/raycluster.yaml [values: defaults] RayCluster/chat-clubholohub-ray: spec.authOptions.mode is not token"
        ],
    ),
    (
        "actors-allowed-on-the-head",
        f"{T}/raycluster.yaml",
        'num-cpus: "0"',
        'num-cpus: "2"',
        ['spec.headGroupSpec.rayStartParams lacks num-cpus: "0"'],
    ),
    (
        "autoscaler-sidecar-not-hardened",
        f"{T}/raycluster.yaml",
        '    securityContext:\n      {{- include "clubholohub.containerSecurityContext" . | nindent 6 }}\n',
        "",
        ["spec.autoscalerOptions: securityContext.readOnlyRootFilesystem is not true"],
    ),
    (
        "gateway-without-readiness-probe",
        f"{T}/gateway-deployment.yaml",
        "          readinessProbe:\n            httpGet:\n              path: /readyz\n",
        "          xReadiness:\n            httpGet:\n              path: /readyz\n",
        # The strict schema refuses the unknown key and the policy misses the probe itself.
        [f"{T}/gateway-deployment.yaml [values: defaults]", "container gateway: no readinessProbe"],
    ),
    (
        "dev-store-without-liveness-probe",
        f"{T}/devstores/stores.yaml",
        "          livenessProbe:\n            tcpSocket:\n              port: {{ $store }}\n"
        "            initialDelaySeconds: 10\n            periodSeconds: 10\n",
        "",
        [
            f"{T}/devstores/stores.yaml [values: dev-stores] StatefulSet/chat-clubholohub-postgres",
            "container postgres: no livenessProbe",
        ],
    ),
    (
        "gateway-without-resources",
        f"{T}/gateway-deployment.yaml",
        "          resources:\n            {{- toYaml $g.resources | nindent 12 }}\n",
        "",
        ["container gateway: resources.requests lacks cpu, memory", "resources.limits lacks memory"],
    ),
    (
        "writable-root-filesystem",
        f"{CHART}/values.yaml",
        "  readOnlyRootFilesystem: true",
        "  readOnlyRootFilesystem: false",
        ["container gateway: securityContext.readOnlyRootFilesystem is not true", "container ray-head:"],
    ),
    (
        "capabilities-not-dropped",
        f"{CHART}/values.yaml",
        "    drop: [ALL]",
        "    drop: [NET_RAW]",
        ["container gateway: securityContext.capabilities.drop lacks ALL"],
    ),
    (
        "runs-as-root",
        f"{CHART}/values.yaml",
        "  runAsNonRoot: true\n  capabilities:",
        "  runAsNonRoot: false\n  capabilities:",
        [
            "container gateway: securityContext.runAsNonRoot is not true",
            "container ray-worker:",
            "container redis:",
        ],
    ),
    (
        "monitors-not-gated-on-the-api",
        f"{T}/monitors.yaml",
        '.Capabilities.APIVersions.Has "monitoring.coreos.com/v1"',
        "true",
        [
            f"{T}/monitors.yaml [values: defaults] ServiceMonitor/chat-clubholohub-gateway",
            "rendered although the cluster has no monitoring.coreos.com/v1 API",
        ],
    ),
    (
        "template-syntax-error",
        f"{T}/gateway-pdb.yaml",
        "maxUnavailable: {{ .Values.gateway.podDisruptionBudget.maxUnavailable }}",
        "maxUnavailable: {{ .Values.gateway.podDisruptionBudget.maxUnavailable }",
        ["helm lint:", "gateway-pdb.yaml", "does not render"],
    ),
    (
        "repeated-key",
        f"{T}/gateway-service.yaml",
        "  type: {{ .Values.service.type }}\n",
        "  type: {{ .Values.service.type }}\n  type: ClusterIP\n",
        [f"{T}/gateway-service.yaml [values: defaults]: not valid YAML:", "repeated key 'type'"],
    ),
    (
        "drain-guard-removed",
        f"{T}/gateway-deployment.yaml",
        '{{- fail "gateway.terminationGracePeriodSeconds must exceed',
        '{{- printf "gateway.terminationGracePeriodSeconds must exceed',
        ["values 'grace period shorter than the drain'", "the chart must refuse them"],
    ),
    (
        "two-objects-one-name",
        f"{T}/devstores/stores.yaml",
        '  name: {{ $full }}-{{ $store }}\n  labels:\n    {{- include "clubholohub.labels" $ | nindent 4 }}\n'
        "    app.kubernetes.io/component: {{ $store }}\nspec:\n  selector:",
        '  name: {{ $full }}-gateway\n  labels:\n    {{- include "clubholohub.labels" $ | nindent 4 }}\n'
        "    app.kubernetes.io/component: {{ $store }}\nspec:\n  selector:",
        [
            f"{T}/gateway-service.yaml [values: dev-stores] Service/chat-clubholohub-gateway: the same kind and name"
            f" as an object of {T}/devstores/stores.yaml",
        ],
    ),
    (
        "values-yaml-lint",
        f"{CHART}/values.yaml",
        "  replicas: 2\n  port: 8080\n",
        "  replicas: 2   \n  port: 8080\n",
        [f"{CHART}/values.yaml:", "yamllint error: trailing spaces"],
    ),
    (
        "template-no-value-set-renders",
        f"{T}/gateway-pdb.yaml",
        "{{- if .Values.gateway.podDisruptionBudget.enabled }}",
        "{{- if and .Values.gateway.podDisruptionBudget.enabled .Values.nameOverride }}",
        [f"{CHART}/templates/gateway-pdb.yaml: no value set in VALUE_SETS renders it"],
    ),
]


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_a_planted_mistake_fails(tree: Path, name: str, old: str, new: str, expected: list[str]):
    plant(tree, name, old, new)
    rc, out = run_check(tree)
    assert rc == 1, out
    assert "FAIL helm" in out
    for text in expected:
        assert text in out, f"{text!r} not in:\n{out}"


def test_a_custom_resource_without_its_crd_schema_fails(tree: Path):
    (tree / SCHEMAS / "crds" / "ray.io_rayclusters.json").unlink()
    rc, out = run_check(tree)
    assert rc == 1, out
    assert (
        f"{T}/raycluster.yaml [values: defaults] RayCluster/chat-clubholohub-ray: no CRD schema for ray.io/v1"
        in out
    )
