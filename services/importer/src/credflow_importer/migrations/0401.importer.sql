-- Import jobs and their valid rows. While a job is a draft a re-upload replaces its rows
-- wholesale; once it is finishing, rows only gain `sent_at` (their SubmitCredential command is
-- in the outbox, in the same transaction) and `applied_at` (the submission service recorded
-- the credential: seen on `credflow.credentials`).
CREATE TABLE imports (
    import_id            uuid        PRIMARY KEY,
    organisation_id      uuid        NOT NULL,
    uploaded_by          uuid        NOT NULL,
    file_name            text        NOT NULL,
    date_format          text        NOT NULL,
    status               text        NOT NULL CHECK (status IN ('draft', 'finishing', 'completed')),
    media_optional       boolean     NOT NULL DEFAULT false,
    approval_required    boolean     NOT NULL,
    rows_total           integer     NOT NULL,
    problems             jsonb       NOT NULL,
    uploads              integer     NOT NULL DEFAULT 1,
    stream_version       integer     NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    finish_requested_at  timestamptz,
    completed_at         timestamptz
);
CREATE INDEX imports_by_organisation ON imports (organisation_id, created_at DESC);
CREATE INDEX imports_finishing ON imports (import_id) WHERE status = 'finishing';

CREATE TABLE import_rows (
    import_id             uuid    NOT NULL REFERENCES imports ON DELETE CASCADE,
    row_number            integer NOT NULL,
    credential_id         uuid    NOT NULL UNIQUE,
    holder_id             uuid    NOT NULL,
    credential_type_id    uuid    NOT NULL,
    issued_on             date    NOT NULL,
    expires_on            date,
    certification_number  text,
    issuer                text,
    notes                 text,
    media_file            text,
    media_required        boolean NOT NULL,
    media                 jsonb,
    sent_at               timestamptz,
    applied_at            timestamptz,
    PRIMARY KEY (import_id, row_number)
);
CREATE INDEX import_rows_unsent ON import_rows (import_id, row_number) WHERE sent_at IS NULL;
CREATE INDEX import_rows_unapplied ON import_rows (import_id) WHERE applied_at IS NULL;
