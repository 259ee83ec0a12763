"""The Helm chart (deploy/k8s/credflow), rendered offline: every object valid against the
Kubernetes API schemas (strict: a misspelt field fails) or, for KEDA's ScaledObject, against the
schema shipped beside the chart; and what a platform team relies on, object by object."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from credflow.services import SERVICES
from credflow_common.service import ServiceContext
from credflow_common.settings import InfraSettings, RuntimeSettings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "k8s" / "credflow"
SCALED_OBJECT_SCHEMA = json.loads(
    (ROOT / "deploy" / "k8s" / "schemas" / "scaledobject-keda.sh-v1alpha1.json").read_text()
)
KUBERNETES_VERSION = "1.30.0"
CONSUMER_SERVICES = {"submission", "review", "importer", "reminder", "projection"}


def helm() -> str:
    binary = os.environ.get("CREDFLOW_HELM", "")
    if not Path(binary).is_file():
        pytest.fail("CREDFLOW_HELM must name a Helm binary: `make helm` builds one")
    return binary


def render(tmp_path: Path, **values: Any) -> list[dict[str, Any]]:
    overrides = tmp_path / "values.yaml"
    overrides.write_text(yaml.safe_dump(values))
    rendered = subprocess.run(
        [helm(), "template", "credflow", str(CHART), "--namespace", "credflow",
         "--kube-version", KUBERNETES_VERSION, "--values", str(overrides)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def test_the_chart_lints() -> None:
    result = subprocess.run([helm(), "lint", "--strict", str(CHART)], capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "values",
    [{}, {"keda": {"enabled": False}, "config": {"topicPrefix": "staging."}}],
    ids=["defaults", "without-keda"],
)
def test_every_rendered_object_is_valid_against_its_api_schema(
    tmp_path: Path, values: dict[str, Any]
) -> None:
    objects = render(tmp_path, **values)
    assert objects
    for obj in objects:
        if obj["apiVersion"] == "keda.sh/v1alpha1":
            jsonschema.validate(obj, SCALED_OBJECT_SCHEMA)
        else:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_validators_reject_a_misspelt_field() -> None:
    """The checks above can fail: an unknown field or a wrong type is refused."""
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
                  "spec": {"replica": 2, "selector": {}, "template": {}}}  # fmt: skip
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    misspelt = {"bootstrapServers": "k:9092", "consumerGroup": "g", "lagThreshhold": "5"}
    scaled = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "x"},
              "spec": {"scaleTargetRef": {"name": "x"},
                       "triggers": [{"type": "kafka", "metadata": misspelt}]}}  # fmt: skip
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, SCALED_OBJECT_SCHEMA)


def test_each_service_runs_as_a_deployment_probed_on_ready_and_health(tmp_path: Path) -> None:
    objects = render(tmp_path)
    deployments = of_kind(objects, "Deployment")
    assert set(deployments) == {f"credflow-{name}" for name in SERVICES}
    for name, entry in SERVICES.items():
        pod = deployments[f"credflow-{name}"]["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert container["args"] == ["serve", name, "--port", str(entry.default_port)]
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        assert container["resources"]["requests"]["cpu"]
        assert container["resources"]["requests"]["memory"]
        assert {source.get("configMapRef", source.get("secretRef"))["name"]
                for source in container["envFrom"]} == {"credflow-config", "credflow"}  # fmt: skip
    assert set(of_kind(objects, "Service")) == set(deployments)
    budgets = of_kind(objects, "PodDisruptionBudget")
    assert set(budgets) == set(deployments)
    assert all(budget["spec"]["maxUnavailable"] == 1 for budget in budgets.values())


def test_secrets_stay_out_of_the_config_map(tmp_path: Path) -> None:
    [config] = of_kind(render(tmp_path), "ConfigMap").values()
    assert not {"DATABASE_URL", "S3_ACCESS_KEY", "S3_SECRET_KEY",
                "CREDFLOW_CONSOLE_SESSION_SECRET"} & set(config["data"])  # fmt: skip
    assert config["data"]["CREDFLOW_AUTH_JWKS_URL"] == (
        "http://credflow-console:8100/.well-known/jwks.json"
    )
    assert config["data"]["CREDFLOW_CONSOLE_VIEWS_URL"] == "http://credflow-projection:8106"


def test_consumer_services_scale_on_the_lag_of_the_groups_they_really_consume(
    tmp_path: Path,
) -> None:
    objects = render(tmp_path, config={"topicPrefix": "staging."})
    scaled = of_kind(objects, "ScaledObject")
    assert set(scaled) == {f"credflow-{name}" for name in CONSUMER_SERVICES}
    deployments = of_kind(objects, "Deployment")
    for name in CONSUMER_SERVICES:
        spec = scaled[f"credflow-{name}"]["spec"]
        groups = {trigger["metadata"]["consumerGroup"] for trigger in spec["triggers"]}
        assert groups == {f"staging.{group}" for group in consumer_groups(name)}
        assert spec["scaleTargetRef"]["name"] in deployments
        assert spec["maxReplicaCount"] <= 6  # the topics' partitions
        assert "replicas" not in deployments[f"credflow-{name}"]["spec"]  # KEDA owns it


def test_without_keda_every_service_keeps_fixed_replicas(tmp_path: Path) -> None:
    objects = render(tmp_path, keda={"enabled": False})
    assert not of_kind(objects, "ScaledObject")
    assert all(d["spec"]["replicas"] == 2 for d in of_kind(objects, "Deployment").values())


def consumer_groups(service: str) -> set[str]:
    """The names of the consumers the service's code runs (without a topic prefix)."""
    module = SERVICES[service].create_app.__module__
    app = __import__(module, fromlist=["DEFINITION", "definition"])
    definition = app.DEFINITION if hasattr(app, "DEFINITION") else app.definition()
    context = ServiceContext(
        name=service, infra=InfraSettings(), runtime=RuntimeSettings(),
        pool=None, event_store=None, registry=None,  # type: ignore[arg-type]  # unused here
    )  # fmt: skip
    return {spec.name for spec in definition.consumers(context)}


def test_the_chart_runs_production_only(tmp_path: Path) -> None:
    """Development mode signs anyone in as anyone: the chart never renders it, and no Secret
    or ConfigMap key can switch it on (an explicit env entry wins over envFrom)."""
    for deployment in of_kind(render(tmp_path), "Deployment").values():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert {"name": "CREDFLOW_ENVIRONMENT", "value": "production"} in container["env"]
    overrides = tmp_path / "development.yaml"
    overrides.write_text(yaml.safe_dump({"config": {"environment": "development"}}))
    refused = subprocess.run(
        [helm(), "template", "credflow", str(CHART), "--kube-version", KUBERNETES_VERSION,
         "--values", str(overrides)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "production only" in refused.stderr
