"""A realistic tenant for the scale benchmark, as the contracts' events (what the projection
consumes), generated deterministically from a seed.

`tenant(workers)`: 50 companies of skewed sizes (the largest about a fifth of the workers),
managers (one per ~50 workers, in their company), 10 groups, 20 credential types (5 without
review, 15 expiring), 10 requirements (every worker, five companies, two groups), an
assessment whose yes adds a type, and about five credentials per worker, what is required of
them held nine times in ten: issued over the last four years (so some have expired and some
expire soon), reviewed types validated, rejected or
still pending (some claimed), one in ten with a second version, a few revoked or suspended.
Surnames follow a skewed distribution, so some are common (the text-search case).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from uuid import UUID

from credflow_contracts.envelope import Envelope
from credflow_contracts.events.base import Event
from credflow_contracts.events.credentials import (
    CredentialAccepted,
    CredentialRejected,
    CredentialRevoked,
    CredentialSubmitted,
    CredentialSuspended,
    CredentialValidated,
    ReviewClaimed,
    ReviewRequested,
    VersionAdded,
)
from credflow_contracts.events.directory import (
    AssessmentAnswered,
    AssessmentDefined,
    AssessmentQuestion,
    CompanyCreated,
    CompanyState,
    CredentialTypeCreated,
    CredentialTypeState,
    GroupCreated,
    GroupState,
    OrganisationCreated,
    OrganisationSettings,
    RequirementAdded,
    RequirementState,
    UserCreated,
    UserState,
)
from credflow_contracts.ids import uuid7

FIRST_NAMES = [f"{a}{b}" for a in ("Al", "Be", "Ca", "Da", "El", "Fi", "Go", "Ha", "Io", "Ja")
               for b in ("na", "ro", "li", "mo", "ta", "ve", "xi", "ko", "ru", "sa")]  # fmt: skip
SURNAMES = [f"{a}{b}{c}" for a in ("Mor", "Tan", "Kel", "Ros", "Vin", "Har", "Lom", "Pat")
            for b in ("ri", "ge", "la", "bo", "ne") for c in ("son", "ton", "ley", "well", "ford")
            ]  # fmt: skip
COMPANIES = 50
GROUPS = 10
TYPES = 20
CREDENTIALS_PER_WORKER = 5


@dataclass
class Tenant:
    """What the benchmark needs to know about the tenant it generated."""

    organisation_id: UUID
    workers: int
    admin_id: UUID = field(default_factory=uuid7)
    reviewer_id: UUID = field(default_factory=uuid7)
    viewer_id: UUID = field(default_factory=uuid7)
    manager_id: UUID | None = None  # one manager with a typical team
    largest_company: UUID | None = None
    a_type: UUID | None = None
    a_worker: UUID | None = None
    common_surname: str = SURNAMES[0]
    events: int = 0
    credentials: int = 0


def tenant(workers: int, seed: int, today: date) -> tuple[Tenant, Iterator[Envelope]]:
    """The tenant's facts, and its events (generated lazily, directory events first)."""
    org = uuid7()
    facts = Tenant(org, workers)
    return facts, _events(facts, random.Random(seed), today)


def _events(facts: Tenant, rng: random.Random, today: date) -> Iterator[Envelope]:
    org = facts.organisation_id

    versions: Counter[str] = Counter()

    def envelope(event: Event) -> Envelope:
        """As an event store writes it: each aggregate's events one stream, versions 1, 2, …"""
        facts.events += 1
        stream = f"{event.TOPIC}-{event.key()}"
        versions[stream] += 1
        return Envelope(event=event, source="/bench/scale", tenant_id=org, stream_id=stream,
                        aggregate_version=versions[stream])  # fmt: skip

    yield envelope(OrganisationCreated(
        organisation_id=org, name=f"Scale {facts.workers}",
        settings=OrganisationSettings(time_zone="Australia/Sydney", expiring_soon_days=30),
    ))  # fmt: skip
    companies = [uuid7() for _ in range(COMPANIES)]
    for index, company in enumerate(companies):
        yield envelope(CompanyCreated(organisation_id=org, company=CompanyState(
            company_id=company, name=f"Contractor {index:02}")))  # fmt: skip
    facts.largest_company = companies[0]
    groups = [uuid7() for _ in range(GROUPS)]
    for index, group in enumerate(groups):
        yield envelope(GroupCreated(organisation_id=org, group=GroupState(
            group_id=group, name=f"Crew {index}", admin_ids=[facts.reviewer_id])))  # fmt: skip
    types = []
    for index in range(TYPES):
        state = CredentialTypeState(
            credential_type_id=uuid7(), name=f"Ticket {index:02}", expires=index % 4 != 3,
            default_validity_months=36, validation_required=index % 4 != 0,
        )  # fmt: skip
        types.append(state)
        yield envelope(CredentialTypeCreated(organisation_id=org, credential_type=state))
    facts.a_type = types[1].credential_type_id
    requirements = (
        [RequirementState(requirement_id=uuid7(), credential_type_id=t.credential_type_id,
                          scope="all_workers") for t in types[:3]]
        + [RequirementState(requirement_id=uuid7(), credential_type_id=types[3 + i]
                            .credential_type_id, scope="company", company_id=companies[i])
           for i in range(5)]
        + [RequirementState(requirement_id=uuid7(), credential_type_id=types[8 + i]
                            .credential_type_id, scope="group", group_id=groups[i])
           for i in range(2)]
    )  # fmt: skip
    for requirement in requirements:
        yield envelope(RequirementAdded(organisation_id=org, requirement=requirement))
    assessment, question = uuid7(), uuid7()
    yield envelope(AssessmentDefined(
        organisation_id=org, assessment_id=assessment, name="Site induction",
        questions=[AssessmentQuestion(question_id=question, text="Do you drive on site?",
                                      requires_credential_type_ids=[types[10].credential_type_id])],
    ))  # fmt: skip
    for user_id, name, roles in ((facts.admin_id, "Ada Admin", ["admin"]),
                                 (facts.reviewer_id, "Rex Reviewer", ["reviewer"]),
                                 (facts.viewer_id, "Cleo Client", ["client_viewer"])):  # fmt: skip
        yield envelope(UserCreated(organisation_id=org, user=UserState(
            user_id=user_id, email=f"{name.split()[0].lower()}@{org.hex[:8]}.test", name=name,
            status="active", roles=roles)))  # fmt: skip

    weights = [1 / (rank + 1) ** 1.1 for rank in range(COMPANIES)]
    surname_weights = [1 / (rank + 1) for rank in range(len(SURNAMES))]
    managers: dict[UUID, list[UUID]] = {c: [] for c in companies}
    for number in range(facts.workers):
        company = rng.choices(companies, weights)[0]
        team = managers[company]
        if not team or number % 50 == 0:
            manager = uuid7()
            team.append(manager)
            yield envelope(UserCreated(organisation_id=org, user=UserState(
                user_id=manager, email=f"m{number}@{org.hex[:8]}.test",
                name=f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}", status="active",
                roles=["manager"], company_id=company)))  # fmt: skip
            facts.manager_id = facts.manager_id or manager
        worker = uuid7()
        facts.a_worker = facts.a_worker or worker
        name = f"{rng.choice(FIRST_NAMES)} {rng.choices(SURNAMES, surname_weights)[0]}"
        crews = rng.sample(groups, rng.choice((0, 0, 1, 1, 2)))
        yield envelope(UserCreated(organisation_id=org, user=UserState(
            user_id=worker, email=f"w{number}@{org.hex[:8]}.test", name=name, status="active",
            roles=["worker"], company_id=company, manager_id=rng.choice(team), group_ids=crews),
        ))  # fmt: skip
        drives = rng.random() < 0.1
        if drives or rng.random() < 0.1:
            yield envelope(AssessmentAnswered(
                organisation_id=org, assessment_id=assessment, user_id=worker,
                answers={question: drives},
            ))  # fmt: skip
        # What is required of them, held nine times in ten; then other types, to about five.
        required = [*types[:3], *(types[3 + i] for i in range(5) if companies[i] == company),
                    *(types[8 + i] for i in range(2) if groups[i] in crews),
                    *([types[10]] if drives else [])]  # fmt: skip
        held = [t for t in required if rng.random() < 0.9]
        count = max(0, round(rng.gauss(CREDENTIALS_PER_WORKER, 1.5)) - len(held))
        others = [t for t in types if t not in held]
        for credential_type in held + rng.sample(others, min(count, len(others))):
            for event in _credential(org, worker, credential_type, facts, rng, today):
                yield envelope(event)
            facts.credentials += 1


def _credential(org: UUID, holder: UUID, kind: CredentialTypeState, facts: Tenant,
                rng: random.Random, today: date) -> Iterator[Event]:  # fmt: skip
    credential, version = uuid7(), uuid7()
    issued = today - timedelta(days=rng.randrange(1, 4 * 365))
    expires = issued + timedelta(days=3 * 365) if kind.expires else None
    base = {"credential_id": credential, "organisation_id": org}
    yield CredentialSubmitted(
        **base, holder_id=holder, credential_type_id=kind.credential_type_id, version_id=version,
        issued_on=issued, expires_on=expires, submitted_by=holder,
        title=None if rng.random() < 0.8 else f"Course {rng.randrange(1000)}",
    )  # fmt: skip
    decided = yield from _review(base, holder, kind, version, 1, facts, rng)
    if decided and rng.random() < 0.1:  # a renewal
        version = uuid7()
        issued = min(today, issued + timedelta(days=rng.randrange(200, 1000)))
        yield VersionAdded(
            **base, holder_id=holder, credential_type_id=kind.credential_type_id,
            version_id=version, version_number=2, issued_on=issued,
            expires_on=issued + timedelta(days=3 * 365) if kind.expires else None,
            added_by=holder,
        )  # fmt: skip
        yield from _review(base, holder, kind, version, 2, facts, rng)
    roll = rng.random()
    if roll < 0.005:
        yield CredentialRevoked(**base, reason="Cancelled by the issuer", revoked_by=facts.admin_id)
    elif roll < 0.01:
        yield CredentialSuspended(**base, reason="Under investigation",
                                  suspended_by=facts.admin_id)  # fmt: skip


def _review(base: dict[str, UUID], holder: UUID, kind: CredentialTypeState, version: UUID,
            number: int, facts: Tenant, rng: random.Random
            ) -> Generator[Event, None, bool]:  # fmt: skip
    """The version's review; returns whether it was accepted or validated."""
    if not kind.validation_required:
        yield CredentialAccepted(**base, version_id=version, version_number=number)
        return True
    review = uuid7()
    yield ReviewRequested(
        **base, review_id=review, version_id=version, version_number=number, holder_id=holder,
        credential_type_id=kind.credential_type_id, routing="reviewer_group",
        reviewer_ids=[facts.reviewer_id],
    )  # fmt: skip
    roll = rng.random()
    if roll < 0.1:
        return False  # waiting in the queue
    reviewer = facts.reviewer_id
    yield ReviewClaimed(**base, review_id=review, version_id=version, claimed_by=reviewer)
    if roll < 0.13:
        return False  # claimed, not decided yet
    if roll < 0.2:
        yield CredentialRejected(
            **base, review_id=review, version_id=version, rejected_by=reviewer,
            comment="The scan is unreadable.",
        )  # fmt: skip
        return False
    yield CredentialValidated(**base, review_id=review, version_id=version,
                              validated_by=reviewer)  # fmt: skip
    return True
