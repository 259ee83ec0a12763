-- depends: 0050.directory-replica 0060.mail-outbox
-- Review items (snapshots of the Review streams, for queues and bulk approval), the latest
-- version of each credential (to refuse decisions on superseded versions).

CREATE TABLE reviews (
    review_id           uuid PRIMARY KEY,
    organisation_id     uuid        NOT NULL,
    credential_id       uuid        NOT NULL,
    version_id          uuid        NOT NULL,
    version_number      integer     NOT NULL,
    holder_id           uuid        NOT NULL,
    credential_type_id  uuid        NOT NULL,
    status              text        NOT NULL,
    reviewer_ids        uuid[]      NOT NULL,
    routing             text        NOT NULL,
    claimed_by          uuid,
    import_id           uuid,
    stream_version      integer     NOT NULL,
    requested_at        timestamptz NOT NULL DEFAULT now(),
    decided_at          timestamptz
);
CREATE INDEX reviews_open_by_reviewer ON reviews USING gin (reviewer_ids) WHERE status = 'requested';
CREATE INDEX reviews_by_import ON reviews (organisation_id, import_id) WHERE import_id IS NOT NULL;
CREATE INDEX reviews_by_credential ON reviews (credential_id);

CREATE TABLE credential_versions (
    credential_id       uuid PRIMARY KEY,
    organisation_id     uuid    NOT NULL,
    latest_version_id   uuid    NOT NULL,
    holder_id           uuid    NOT NULL,
    deleted             boolean NOT NULL DEFAULT false
);
