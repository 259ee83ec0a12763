"""Prometheus metrics of the runtime, registered on a service's registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class ConsumerMetrics:
    processed: Counter
    failed: Counter
    dead_lettered: Counter
    skipped: Counter
    lag: Gauge
    batch_seconds: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry) -> ConsumerMetrics:
        labels = ["consumer", "topic"]
        return cls(
            processed=Counter(
                "credflow_consumer_processed_total", "Events applied.", labels, registry=registry
            ),
            failed=Counter(
                "credflow_consumer_failed_total",
                "Handler failures (each attempt counts).",
                ["consumer"],
                registry=registry,
            ),
            dead_lettered=Counter(
                "credflow_consumer_dead_lettered_total",
                "Records sent to the dead-letter topic.",
                labels,
                registry=registry,
            ),
            skipped=Counter(
                "credflow_consumer_skipped_total",
                "Records skipped: already applied, unknown type, re-driven for another consumer.",
                [*labels, "reason"],
                registry=registry,
            ),
            lag=Gauge(
                "credflow_consumer_lag",
                "Records between the consumer's position and the partition's end.",
                [*labels, "partition"],
                registry=registry,
            ),
            batch_seconds=Histogram(
                "credflow_consumer_batch_seconds",
                "Time to apply one batch (one transaction).",
                ["consumer"],
                registry=registry,
            ),
        )


@dataclass(frozen=True)
class RelayMetrics:
    published: Counter
    pending: Gauge
    oldest_pending_seconds: Gauge
    is_leader: Gauge

    @classmethod
    def register(cls, registry: CollectorRegistry) -> RelayMetrics:
        return cls(
            published=Counter(
                "credflow_relay_published_total", "Outbox rows published.", ["schema"],
                registry=registry,
            ),
            pending=Gauge(
                "credflow_relay_pending", "Outbox rows not yet published (relay lag).", ["schema"],
                registry=registry,
            ),
            oldest_pending_seconds=Gauge(
                "credflow_relay_oldest_pending_seconds",
                "Age of the oldest unpublished outbox row (relay lag in time).",
                ["schema"],
                registry=registry,
            ),
            is_leader=Gauge(
                "credflow_relay_is_leader", "1 when this process holds the relay lock.", ["schema"],
                registry=registry,
            ),
        )  # fmt: skip
