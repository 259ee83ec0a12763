"""What a subscriber can rely on per key, per stream and per event id (contracts/README.md),
checked on a credential's events as they land on Kafka: written by the submission and review
services, read back from the topic."""

from __future__ import annotations

from collections import defaultdict

import pytest

from credflow_contracts.topics import CREDENTIALS
from tests.infrastructure import Infrastructure
from tests.integration.kafka_support import read_topic
from tests.integration.review.conftest import Services, as_user
from tests.integration.review.test_review_flow import person, reviewed_type

pytestmark = pytest.mark.integration


async def test_each_event_names_its_stream_and_versions_run_per_stream(
    services: Services, unique: str, infra: Infrastructure
) -> None:
    org = await services.org(f"Streams {unique}")
    type_id = await reviewed_type(services, org)
    manager = await person(services, org, "mia", roles=["manager"])
    worker = await person(services, org, "wes", manager_id=manager["user_id"])
    credential = await services.submit(org, as_user(org, worker), type_id)
    credential_id = credential["credential_id"]
    url = f"/organisations/{org.id}"
    for version_number in (1, 2):
        item = await services.item_for(
            org, as_user(org, manager), credential_id, version_number=version_number
        )
        review = f"{url}/reviews/{item['review_id']}"
        for step in ("claim", "unclaim", "claim"):
            response = await services.review.post(f"{review}/{step}", headers=as_user(org, manager))
            assert response.status_code == 200, response.text
        response = await services.review.post(
            f"{review}/validate", headers=as_user(org, manager), json={}
        )
        assert response.status_code == 200, response.text
        if version_number == 1:
            response = await services.submission.post(
                f"{url}/credentials/{credential_id}/versions", headers=as_user(org, worker),
                json={"issued_on": "2027-01-31"},
            )  # fmt: skip
            assert response.status_code == 201, response.text

    # 2 credential events; per version: requested, claimed, released, claimed, validated.
    landed = await read_topic(
        infra.kafka_bootstrap_servers, services.topic_prefix + CREDENTIALS, 12
    )
    mine = [r for r in landed if r.envelope.subject == credential_id]
    assert len({r.partition for r in mine}) == 1, "one key, one partition"
    assert len({r.envelope.id for r in mine}) == len(mine) == 12, "one ce_id per event"
    by_stream: dict[str, list[int]] = defaultdict(list)
    for record in mine:  # in offset order
        headers = record.headers
        assert headers["ce_streamversion"] == headers["ce_aggregateversion"]
        assert record.envelope.stream_id == headers["ce_streamid"]
        by_stream[headers["ce_streamid"]].append(int(headers["ce_streamversion"]))
    assert sorted(by_stream) == sorted(
        [f"credential-{credential_id}", *(s for s in by_stream if s.startswith("review-"))]
    )
    assert len(by_stream) == 3, "the credential's stream and one per review item"
    assert by_stream[f"credential-{credential_id}"] == [1, 2]
    for stream, versions in by_stream.items():
        assert versions == list(range(1, len(versions) + 1)), (stream, versions)
    # Causal order across services: a version's review item comes after the version.
    kinds = [type(r.envelope.event).__name__ for r in mine]
    requested = [i for i, kind in enumerate(kinds) if kind == "ReviewRequested"]
    assert kinds.index("CredentialSubmitted") < requested[0]
    assert kinds.index("VersionAdded") < requested[1]
