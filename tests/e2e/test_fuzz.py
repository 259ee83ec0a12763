"""Schemathesis against each service's OpenAPI document, the six services running as processes:
every operation, as an admin, a worker and a client viewer of a seeded organisation, with the
organisation's real ids in the paths half of the time. Every answer must be documented (status,
content type, schema), no answer may be a 5xx, and every 4xx is problem+json (the documents say
so, and `content_type_conformance` holds them to it).

Bounded: `MAX_EXAMPLES` cases per operation, derandomised so a run in CI is repeatable (set
CREDFLOW_FUZZ_EXAMPLES higher, and CREDFLOW_FUZZ_RANDOM=1, to search further by hand).
Schemathesis drives Hypothesis directly (its pytest plugin's lazy schemas need pytest < 9.2).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from credflow.services import SERVICES
from credflow_common.auth import PLATFORM_PERMISSION, issue_dev_token
from credflow_contracts.ids import uuid7
from tests.e2e.system import System, running_system
from tests.infrastructure import Infrastructure, temporary_database
from tests.polling import eventually

pytestmark = pytest.mark.e2e
MAX_EXAMPLES = int(os.environ.get("CREDFLOW_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = ("admin", "worker", "client_viewer")
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("CREDFLOW_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class World:
    """A seeded organisation: its people's tokens and an id of each kind of thing in it."""

    system: System
    org: UUID
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def prepare(self, case: schemathesis.Case[Any], role: str, real_ids: bool) -> dict[str, str]:
        """Point `case` at this organisation (and its ids); the headers of `role`'s token."""
        parameters = case.path_parameters or {}
        if "org" in parameters:
            parameters["org"] = str(self.org)
        if real_ids:
            for name in parameters:
                if name in self.ids:
                    parameters[name] = self.ids[name]
        return {"Authorization": f"Bearer {self.tokens[role]}"}


async def seed(system: System, client: httpx.AsyncClient, unique: str) -> World:
    platform = issue_dev_token(uuid7(), UUID(int=0), [], [PLATFORM_PERMISSION])
    created = await client.post(
        f"{system.url('directory')}/organisations",
        json={"name": f"Fuzz {unique}", "admin": {"email": f"ada@{unique}.test", "name": "Ada"}},
        headers={"Authorization": f"Bearer {platform}"},
    )
    assert created.status_code == 201, created.text
    org = UUID(created.json()["organisation_id"])
    world = World(system, org)
    admin_id = created.json()["admin_user_id"]
    world.tokens["admin"] = issue_dev_token(UUID(admin_id), org, ["admin"], ["users:manage"])
    admin = {"Authorization": f"Bearer {world.tokens['admin']}"}
    directory = f"{system.url('directory')}/organisations/{org}"

    async def make(path: str, **body: Any) -> dict[str, Any]:
        response = await client.post(f"{directory}{path}", json=body, headers=admin)
        assert response.status_code == 201, response.text
        made: dict[str, Any] = response.json()
        return made

    company = await make("/companies", name="North")
    group = await make("/groups", name="Crew")
    kind = await make("/credential-types", name="Licence", expires=False)
    worker = await make("/users", email=f"wes@{unique}.test", name="Wes",
                        company_id=company["company_id"])  # fmt: skip
    viewer = await make("/users", email=f"cas@{unique}.test", name="Cas", roles=["client_viewer"])
    requirement = await make("/requirements", credential_type_id=kind["credential_type_id"],
                             scope="all_workers")  # fmt: skip
    question = {"question_id": str(uuid7()), "text": "Heights?"}
    assessment = await make("/assessments", name="Site", questions=[question])
    world.tokens["worker"] = issue_dev_token(UUID(worker["user_id"]), org, ["worker"])
    world.tokens["client_viewer"] = issue_dev_token(UUID(viewer["user_id"]), org, ["client_viewer"])
    submission = f"{system.url('submission')}/organisations/{org}/credentials"
    body = {"credential_type_id": kind["credential_type_id"], "issued_on": "2026-01-31"}
    credential: dict[str, Any] = {}

    async def submitted() -> bool:  # the submission service learns the worker and the type
        response = await client.post(
            submission, headers={"Authorization": f"Bearer {world.tokens['worker']}"},
            data={"data": httpx.Response(200, json=body).text},
            files=[("files", ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png"))],
        )  # fmt: skip
        credential.update(response.json())
        return response.status_code == 201

    await eventually(submitted, timeout_s=30)
    reviews = f"{system.url('review')}/organisations/{org}/reviews"
    review: dict[str, Any] = {}

    async def routed() -> bool:
        items = (await client.get(reviews, headers=admin, params={"everyone": True})).json()
        review.update(items["items"][0] if items.get("items") else {})
        return bool(review)

    await eventually(routed, timeout_s=30)
    imported = await client.post(
        f"{system.url('importer')}/organisations/{org}/imports",
        content=f"email,credential_type,issued_on\nwes@{unique}.test,Licence,01/02/2026\n",
        headers=admin | {"content-type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    world.ids = {
        "user_id": worker["user_id"], "user": worker["user_id"], "worker_id": worker["user_id"],
        "company_id": company["company_id"], "group_id": group["group_id"],
        "type_id": kind["credential_type_id"], "requirement_id": requirement["requirement_id"],
        "assessment_id": assessment["assessment_id"],
        "credential_id": credential["credential_id"],
        "media_id": credential["media"][0]["media_id"],
        "review_id": review["review_id"], "import_id": imported.json()["import_id"],
    }  # fmt: skip
    return world


@pytest.fixture(scope="module")
async def world(infra: Infrastructure) -> AsyncIterator[World]:
    unique = uuid.uuid4().hex[:12]
    async with (
        temporary_database(infra.database_url, f"fuzz_{unique}") as database_url,
        running_system(infra, database_url, f"f{unique}.", tuple(SERVICES)) as system,
        httpx.AsyncClient(timeout=30) as client,
    ):
        yield await seed(system, client, unique)


def fuzz_service(world: World, name: str) -> None:
    """Every operation of `name`'s document, each under Hypothesis; all failures reported."""
    schema = schemathesis.openapi.from_url(f"{world.system.url(name)}/openapi.json")
    failures: list[str] = []
    operations = 0
    for found in schema.get_all_operations():
        assert isinstance(found, Ok), f"the document of {name} is not valid: {found.err()}"
        operation = found.ok()
        operations += 1

        @given(case=operation.as_strategy(), role=st.sampled_from(ROLES), real_ids=st.booleans())
        @FUZZ
        def examples(case: schemathesis.Case[Any], role: str, real_ids: bool) -> None:
            headers = world.prepare(case, role, real_ids)
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

        try:
            examples()
        except Exception as exc:  # every operation is tried; the failures are listed at the end
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert operations > 0
    assert not failures, "\n\n".join(failures)
    for service, process in world.system.processes.items():  # no input ended a service
        assert process.poll() is None, f"{service} exited; see {world.system.log_dir}"


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_operation_answers_as_documented(world: World, name: str) -> None:
    fuzz_service(world, name)
