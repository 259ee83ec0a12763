"""The demo organisation: created through the directory's public HTTP API, idempotently.

Every request carries an idempotency key, so running the demo again returns the same
organisation and people instead of creating new ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid5

import httpx

from credflow_common.auth import PLATFORM_PERMISSION, issue_dev_token

DEMO_NAMESPACE = UUID("6c1f9a4e-0d1b-4c52-9a57-3f1a2c9d0e11")
DEMO_ORG = uuid5(DEMO_NAMESPACE, "organisation")
PLATFORM_TENANT = UUID(int=0)
PLATFORM_USER = uuid5(DEMO_NAMESPACE, "platform-operator")


@dataclass
class DemoOrganisation:
    organisation_id: UUID
    people: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> user
    roles: dict[str, list[str]] = field(default_factory=dict)

    def token(self, label: str) -> str:
        user = self.people[label]
        return issue_dev_token(
            UUID(user["user_id"]), self.organisation_id, user["roles"], user["permissions"],
            name=user["name"],
        )  # fmt: skip


class DemoError(RuntimeError):
    pass


def _call(client: httpx.Client, method: str, url: str, token: str, key: str,
          body: Any = None) -> dict[str, Any]:  # fmt: skip
    response = client.request(
        method, url, json=body,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"demo:{key}"},
    )  # fmt: skip
    if response.status_code >= 400:
        raise DemoError(f"{method} {url} -> {response.status_code}: {response.text}")
    result: dict[str, Any] = response.json()
    return result


def create_demo(directory_url: str) -> DemoOrganisation:
    platform = issue_dev_token(PLATFORM_USER, PLATFORM_TENANT, [], [PLATFORM_PERMISSION])
    demo = DemoOrganisation(DEMO_ORG)
    with httpx.Client(base_url=directory_url, timeout=30) as client:
        created = _call(client, "POST", "/organisations", platform, "organisation", {
            "organisation_id": str(DEMO_ORG),
            "name": "Demo Constructions",
            "settings": {"default_date_format": "DD/MM/YYYY", "time_zone": "Australia/Sydney",
                         "expiring_soon_days": 30},
            "admin": {"email": "alex.admin@demo.credflow.test", "name": "Alex Admin"},
        })  # fmt: skip
        admin = _call(
            client, "GET", f"/organisations/{DEMO_ORG}/users/{created['admin_user_id']}",
            issue_dev_token(UUID(created["admin_user_id"]), DEMO_ORG, ["admin"]), "read-admin",
        )  # fmt: skip
        demo.people["admin"] = admin
        token = demo.token("admin")
        org = f"/organisations/{DEMO_ORG}"

        def post(path: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
            return _call(client, "POST", org + path, token, key, body)

        coordinators = post("/groups", "group-coordinators", {"name": "Training coordinators"})
        crew = post("/groups", "group-crew", {"name": "Site crew"})
        northwind = post("/companies", "company-northwind", {"name": "Northwind Contracting"})
        southbank = post("/companies", "company-southbank", {"name": "Southbank Electrical"})

        def person(label: str, name: str, roles: list[str], **extra: Any) -> dict[str, Any]:
            email = name.lower().replace(" ", ".") + "@demo.credflow.test"
            user = post("/users", f"user-{label}", {"email": email, "name": name, "roles": roles,
                                                    **extra})  # fmt: skip
            demo.people[label] = user
            return user

        mia = person("manager", "Mia Manager", ["manager"], company_id=northwind["company_id"])
        sam = person(
            "manager_south", "Sam Supervisor", ["manager"], company_id=southbank["company_id"]
        )
        person("reviewer", "Riley Reviewer", ["reviewer"], group_ids=[coordinators["group_id"]])
        person("client_viewer", "Casey Client", ["client_viewer"])
        for index, name in enumerate(["Will Worker", "Nina Northwind", "Omar Operator"]):
            person("worker" if index == 0 else f"worker_north_{index}", name, ["worker"],
                   company_id=northwind["company_id"], manager_id=mia["user_id"],
                   group_ids=[crew["group_id"]])  # fmt: skip
        for index, name in enumerate(["Ella Electrician", "Sid Sparks"]):
            person(f"worker_south_{index}", name, ["worker"], company_id=southbank["company_id"],
                   manager_id=sam["user_id"])  # fmt: skip
        person("worker_no_manager", "Lee Loner", ["worker"], company_id=southbank["company_id"])
        _call(client, "PATCH", f"{org}/groups/{coordinators['group_id']}", token, "group-admins",
              {"admin_ids": [admin["user_id"], demo.people["reviewer"]["user_id"]]})  # fmt: skip

        types = {
            "licence": post("/credential-types", "type-licence", {
                "name": "Driver's licence", "default_validity_months": 60,
                "validation_required": True, "media_required": True}),
            "first_aid": post("/credential-types", "type-first-aid", {
                "name": "First aid certificate", "default_validity_months": 36}),
            "heights": post("/credential-types", "type-heights", {
                "name": "Working at heights", "default_validity_months": 24}),
            "white_card": post("/credential-types", "type-white-card", {
                "name": "White card (construction induction)", "expires": False,
                "validation_required": False}),
            "electrical": post("/credential-types", "type-electrical", {
                "name": "Electrical licence", "default_validity_months": 12,
                "validation_required": True}),
        }  # fmt: skip
        for key, body in (
            ("req-first-aid", {"credential_type_id": types["first_aid"]["credential_type_id"],
                               "scope": "all_workers"}),
            ("req-white-card", {"credential_type_id": types["white_card"]["credential_type_id"],
                                "scope": "all_workers"}),
            ("req-electrical", {"credential_type_id": types["electrical"]["credential_type_id"],
                                "scope": "company", "company_id": southbank["company_id"]}),
            ("req-heights", {"credential_type_id": types["heights"]["credential_type_id"],
                             "scope": "group", "group_id": crew["group_id"]}),
        ):  # fmt: skip
            post("/requirements", key, body)
        post("/assessments", "assessment-induction", {
            "name": "Site induction",
            "questions": [{
                "question_id": str(uuid5(DEMO_NAMESPACE, "question-drives")),
                "text": "Do you drive a company vehicle?",
                "requires_credential_type_ids": [types["licence"]["credential_type_id"]],
            }],
        })  # fmt: skip
    return demo
