-- Event store, transactional outbox, command idempotency, consumer positions and inbox.
-- Applied to every service's own schema (search_path is set to it by the migration runner).

CREATE TABLE events (
    stream_id    text        NOT NULL,
    version      integer     NOT NULL CHECK (version >= 1),
    event_id     uuid        NOT NULL,
    event_type   text        NOT NULL,
    tenant_id    uuid        NOT NULL,
    data         jsonb       NOT NULL,
    metadata     jsonb       NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_id, version)
);
CREATE UNIQUE INDEX events_event_id ON events (event_id);

CREATE TABLE outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic       text        NOT NULL,
    key         bytea       NOT NULL,
    value       bytea       NOT NULL,
    headers     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE command_results (
    tenant_id        uuid        NOT NULL,
    idempotency_key  text        NOT NULL,
    fingerprint      text        NOT NULL,
    result           jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, idempotency_key)
);

CREATE TABLE consumer_positions (
    consumer     text        NOT NULL,
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    next_offset  bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);

-- Event ids a consumer has applied: absorbs events the relay published twice (crash between
-- publish and delete) and re-driven dead letters. Pruned after the retention window.
CREATE TABLE consumer_inbox (
    consumer      text        NOT NULL,
    event_id      uuid        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX consumer_inbox_processed_at ON consumer_inbox (processed_at);
