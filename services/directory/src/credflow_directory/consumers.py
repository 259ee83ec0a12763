"""The directory's consumer: `directory.erasure-reports` reads each service's report that it
erased a person (`ErasureReported` on `credflow.erasures`), records it with the consumer's
position, and completes the erasure once every service that holds personal data has reported
(`erasures.Erasures.complete_if_reported`)."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg.types.json import Jsonb

from credflow_common.consumer import ConsumerSpec, Delivery, types_of
from credflow_contracts.events.erasures import ErasureReported
from credflow_contracts.topics import ERASURES
from credflow_directory.erasures import Conn, Erasures


def erasure_reports_consumer(erasures: Erasures, topic_prefix: str = "") -> ConsumerSpec:
    async def apply(conn: Conn, deliveries: Sequence[Delivery]) -> None:
        reported = set()
        for delivery in deliveries:
            report = delivery.envelope.event
            if not isinstance(report, ErasureReported):
                continue
            await conn.execute(
                "INSERT INTO erasure_reports (erasure_id, service, deleted, reported_at)"
                " SELECT %s, %s, %s, %s WHERE EXISTS"
                " (SELECT 1 FROM erasures WHERE erasure_id = %s AND organisation_id = %s)"
                " ON CONFLICT DO NOTHING",
                (report.erasure_id, report.service, Jsonb(report.deleted), report.reported_at,
                 report.erasure_id, report.organisation_id),
            )  # fmt: skip
            reported.add(report.erasure_id)
        for erasure_id in sorted(reported):
            await erasures.complete_if_reported(conn, erasure_id)

    return ConsumerSpec(
        name="directory.erasure-reports",
        topics=[topic_prefix + ERASURES],
        handler=apply,
        event_types=types_of(ErasureReported),
    )
