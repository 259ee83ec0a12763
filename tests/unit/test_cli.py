"""The `credflow` command line."""

from __future__ import annotations

from typer.testing import CliRunner

from credflow.cli import app
from credflow.services import SERVICES

runner = CliRunner()


def test_every_service_from_the_design_is_servable() -> None:
    assert set(SERVICES) == {
        "console",
        "directory",
        "submission",
        "review",
        "importer",
        "reminder",
        "projection",
    }
    assert len({entry.default_port for entry in SERVICES.values()}) == len(SERVICES)


def test_serve_rejects_an_unknown_service_with_the_valid_choices() -> None:
    result = runner.invoke(app, ["serve", "billing"])
    assert result.exit_code == 2
    assert "unknown service 'billing'" in result.output
    assert "directory" in result.output


def test_serve_all_refuses_a_single_port() -> None:
    result = runner.invoke(app, ["serve", "all", "--port", "9000"])
    assert result.exit_code == 2
    assert "--port applies to a single service" in result.output


def test_services_lists_every_url() -> None:
    result = runner.invoke(app, ["services"], env={"CREDFLOW_REVIEW_PORT": "9103"})
    assert result.exit_code == 0
    assert "review      http://127.0.0.1:9103" in result.output
    assert "projection  http://127.0.0.1:8106" in result.output


def test_token_mints_a_development_token_with_roles_and_permissions() -> None:
    import jwt

    from credflow_common.auth import DEV_SECRET

    org, user = "01900000-0000-7000-8000-00000000a001", "01900000-0000-7000-8000-00000000b002"
    result = runner.invoke(
        app, ["token", "--org", org, "--user", user, "--role", "manager", "--role", "reviewer",
              "--permission", "users:manage"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), DEV_SECRET, algorithms=["HS256"])
    assert claims["org"] == org
    assert claims["sub"] == user
    assert claims["roles"] == ["manager", "reviewer"]
    assert claims["permissions"] == ["users:manage"]


def test_token_refuses_ids_that_are_not_uuids() -> None:
    result = runner.invoke(app, ["token", "--org", "acme", "--user", "bob"])
    assert result.exit_code == 2
    assert "not a UUID" in result.output
