"""The checked-in schemas, AsyncAPI document and README catalogue match the models."""

from __future__ import annotations

import json
from pathlib import Path

from credflow_contracts import generate, topics
from credflow_contracts.catalogue import ALL_VERSIONS

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def test_checked_in_artefacts_are_up_to_date(capsys: object) -> None:
    assert generate.main([str(CONTRACTS), "--check"]) == 0, "run `make contracts`"


def test_drift_is_detected(tmp_path: Path) -> None:
    root = tmp_path / "contracts"
    for name in ("schemas", "golden"):
        (root / name).mkdir(parents=True)
        for path in (CONTRACTS / name).iterdir():
            (root / name / path.name).write_text(path.read_text())
    (root / "README.md").write_text((CONTRACTS / "README.md").read_text())
    (root / "asyncapi.json").write_text((CONTRACTS / "asyncapi.json").read_text())
    assert generate.main([str(root), "--check"]) == 0

    schema = root / "schemas" / "credflow.credential.deleted.v1.json"
    schema.write_text(schema.read_text().replace("deleted with all", "removed with all"))
    assert generate.main([str(root), "--check"]) == 1


def test_one_schema_per_event_type_and_version() -> None:
    files = {path.stem for path in (CONTRACTS / "schemas").glob("*.json")}
    assert files == {cls.ce_type() for cls in ALL_VERSIONS}
    schema = json.loads(
        (CONTRACTS / "schemas" / "credflow.credential.submitted.v2.json").read_text()
    )
    assert schema["x-credflow-topic"] == topics.CREDENTIALS
    assert schema["x-credflow-key"] == "credential_id"
    assert "issuer" in schema["properties"]


def test_asyncapi_document_covers_every_topic_and_message() -> None:
    document = json.loads((CONTRACTS / "asyncapi.json").read_text())
    assert document["asyncapi"].startswith("3.")
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == set(topics.ALL_TOPICS)
    names = {message["name"] for message in document["components"]["messages"].values()}
    assert names == {cls.ce_type() for cls in ALL_VERSIONS}
    for message in document["components"]["messages"].values():
        ref = message["payload"]["$ref"].rsplit("/", 1)[-1]
        assert ref in document["components"]["schemas"]


def test_readme_lists_every_event_version() -> None:
    readme = (CONTRACTS / "README.md").read_text()
    for cls in ALL_VERSIONS:
        assert f"`{cls.ce_type()}`" in readme
