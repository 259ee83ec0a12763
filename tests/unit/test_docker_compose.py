"""docker-compose.yml offers Docker users the same stack, on the same ports, as deploy/local."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from credflow.services import SERVICES

REPO = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def published(service: dict[str, Any]) -> set[str]:
    return {str(p) for p in service.get("ports", [])}


def test_every_credflow_service_runs_with_its_own_command_and_loopback_port() -> None:
    services = compose()["services"]
    for name, entry in SERVICES.items():
        assert services[name]["command"] == ["serve", name, "--port", str(entry.default_port)]
        assert published(services[name]) == {f"127.0.0.1:{entry.default_port}:{entry.default_port}"}


def test_infrastructure_is_published_on_the_native_launchers_ports() -> None:
    services = compose()["services"]
    assert "127.0.0.1:19092:19092" in published(services["kafka"])
    assert "127.0.0.1:15432:5432" in published(services["postgres"])
    assert "127.0.0.1:19000:9000" in published(services["minio"])
    assert {"127.0.0.1:11025:1025", "127.0.0.1:18025:8025"} <= published(services["mailpit"])
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["postgres"]["image"] == "postgres:15"


def test_every_published_port_is_loopback_only() -> None:
    for name, service in compose()["services"].items():
        for port in published(service):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_the_directorys_keyring_lives_on_a_volume() -> None:
    """Losing the key-encryption keys would make every person's sealed data unreadable."""
    loaded = compose()
    directory = loaded["services"]["directory"]
    path = directory["environment"]["CREDFLOW_KEYRING_FILE"]
    [mount] = directory["volumes"]
    volume, _, target = mount.partition(":")
    assert path.startswith(target + "/")
    assert volume in loaded["volumes"]
