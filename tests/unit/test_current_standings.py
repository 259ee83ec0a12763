"""Tokens held to the person's standing now: a deactivated person is refused, a token's roles
and permissions are narrowed to those the person holds, and the cache of standings never turns
an expiry into an error."""

from __future__ import annotations

from uuid import UUID

import pytest

from credflow_common.auth import CurrentStandings, Principal, Standing
from credflow_common.problems import ProblemError
from credflow_contracts.ids import uuid7

ORG, USER = uuid7(), uuid7()


class MovingClock:
    """A clock that moves `step` seconds every time it is read: an entry read twice in a row
    may have expired in between, as under load."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def principal(roles: set[str], permissions: set[str] = frozenset()) -> Principal:  # type: ignore[assignment]
    return Principal(USER, ORG, frozenset(roles), frozenset(permissions))


def lookup_giving(*answers: Standing | None) -> tuple[list[tuple[UUID, UUID]], object]:
    asked: list[tuple[UUID, UUID]] = []

    async def lookup(org: UUID, user: UUID) -> Standing | None:
        asked.append((org, user))
        return answers[min(len(asked), len(answers)) - 1]

    return asked, lookup


async def test_an_entry_that_expires_between_two_reads_is_looked_up_again_not_an_error() -> None:
    asked, lookup = lookup_giving(Standing("active", frozenset({"worker"})))
    # The entry lives 1 s; the clock moves 0.6 s at each read: a membership test at 0.6 s
    # says "cached", a second read at 1.2 s finds it expired.
    standings = CurrentStandings(lookup, ttl_s=1.0, timer=MovingClock(0.6))  # type: ignore[arg-type]
    for _ in range(20):
        held = await standings.hold_to_standing(principal({"worker"}))
        assert held.roles == {"worker"}
    assert len(asked) > 1, "an expired entry is looked up again"


async def test_a_deactivated_person_is_refused() -> None:
    _, lookup = lookup_giving(Standing("deactivated", frozenset({"admin"})))
    standings = CurrentStandings(lookup)  # type: ignore[arg-type]
    with pytest.raises(ProblemError) as refused:
        await standings.hold_to_standing(principal({"admin"}))
    assert refused.value.status == 401


async def test_a_removed_role_no_longer_counts_and_a_token_cannot_add_one() -> None:
    _, lookup = lookup_giving(Standing("active", frozenset({"worker", "reviewer"}), frozenset()))
    standings = CurrentStandings(lookup)  # type: ignore[arg-type]
    held = await standings.hold_to_standing(principal({"admin", "reviewer"}, {"users:manage"}))
    assert held.roles == {"reviewer"}, "admin was removed; worker was never in the token"
    assert held.permissions == frozenset()
    assert not held.has_role("admin")


async def test_platform_permissions_stay_as_the_signer_gave_them() -> None:
    _, lookup = lookup_giving(Standing("active", frozenset({"admin"}), frozenset()))
    standings = CurrentStandings(lookup)  # type: ignore[arg-type]
    held = await standings.hold_to_standing(principal({"admin"}, {"platform:people", "x:y"}))
    assert held.permissions == {"platform:people"}


async def test_unknown_people_and_unknown_permissions_pass_as_the_token_says() -> None:
    _, unknown = lookup_giving(None)
    token = principal({"admin"}, {"users:manage"})
    assert await CurrentStandings(unknown).hold_to_standing(token) == token  # type: ignore[arg-type]
    _, no_permissions = lookup_giving(Standing("active", frozenset({"admin"}), None))
    held = await CurrentStandings(no_permissions).hold_to_standing(token)  # type: ignore[arg-type]
    assert held.permissions == {"users:manage"}


async def test_a_change_is_seen_once_the_cached_answer_expires() -> None:
    clock = MovingClock(0.0)
    asked, lookup = lookup_giving(
        Standing("active", frozenset({"admin"})), Standing("active", frozenset({"worker"}))
    )
    standings = CurrentStandings(lookup, ttl_s=2.0, timer=clock)  # type: ignore[arg-type]
    assert (await standings.hold_to_standing(principal({"admin"}))).roles == {"admin"}
    clock.now += 1.0
    assert (await standings.hold_to_standing(principal({"admin"}))).roles == {"admin"}
    clock.now += 1.5
    assert (await standings.hold_to_standing(principal({"admin"}))).roles == frozenset()
    assert len(asked) == 2
