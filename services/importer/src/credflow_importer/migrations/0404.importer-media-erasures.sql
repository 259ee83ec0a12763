-- depends: 0403.import-progress-counters
-- The files of an erased person's import rows that never became credentials (ADR 0017): the
-- erasure is recorded with the replica's consumer position and what it deleted; the
-- `FileEraser` task removes every object and object version under the rows' credential
-- prefixes, then reports on `credflow.erasures` and sets reported_at.
CREATE TABLE media_erasures (
    erasure_id       uuid PRIMARY KEY,
    organisation_id  uuid        NOT NULL,
    user_id          uuid        NOT NULL,
    prefixes         text[]      NOT NULL,
    deleted          jsonb       NOT NULL DEFAULT '{}',
    requested_at     timestamptz NOT NULL DEFAULT now(),
    reported_at      timestamptz
);
CREATE INDEX media_erasures_unreported ON media_erasures (requested_at) WHERE reported_at IS NULL;
