-- depends: 0103.person-keys
-- Erasures of people (ADR 0017): one per person (asking again returns it), its steps recorded
-- one row each, in the same transaction as the step's effect, so that a process killed between
-- steps carries on where it stopped and does no step twice. Ids and times only.
CREATE TABLE erasures (
    erasure_id       uuid PRIMARY KEY,
    organisation_id  uuid NOT NULL,
    user_id          uuid NOT NULL,
    requested_by     uuid NOT NULL,
    requested_at     timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    UNIQUE (organisation_id, user_id)
);
CREATE INDEX erasures_pending ON erasures (requested_at) WHERE completed_at IS NULL;

CREATE TABLE erasure_steps (
    erasure_id  uuid NOT NULL REFERENCES erasures,
    step        text NOT NULL,
    done_at     timestamptz NOT NULL DEFAULT now(),
    detail      jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (erasure_id, step)
);
