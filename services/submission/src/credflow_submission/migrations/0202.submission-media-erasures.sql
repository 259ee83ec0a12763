-- depends: 0201.submission-media-deletions
-- The files of an erased person's credentials (ADR 0017): the erasure is recorded with the
-- replica's consumer position; the `MediaEraser` task removes every object and object version
-- under the credentials' prefixes, then reports on `credflow.erasures` and sets reported_at.
CREATE TABLE media_erasures (
    erasure_id       uuid PRIMARY KEY,
    organisation_id  uuid        NOT NULL,
    user_id          uuid        NOT NULL,
    prefixes         text[]      NOT NULL,
    requested_at     timestamptz NOT NULL DEFAULT now(),
    reported_at      timestamptz
);
CREATE INDEX media_erasures_unreported ON media_erasures (requested_at) WHERE reported_at IS NULL;

-- A holder's credentials, found from their first events (erasure looks them up).
CREATE INDEX events_credential_holder ON events ((data->>'holder_id'), tenant_id)
    WHERE event_type IN ('credflow.credential.submitted.v1', 'credflow.credential.submitted.v2');
