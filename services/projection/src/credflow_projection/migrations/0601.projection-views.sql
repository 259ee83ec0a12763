-- Read models of the projection service. Every row is derived from public events and can be
-- rebuilt from offset 0 (`credflow projection rebuild`).

-- Directory data the views join with.
CREATE TABLE organisations (
    organisation_id         uuid PRIMARY KEY,
    name                    text NOT NULL,
    time_zone               text NOT NULL,
    expiring_soon_days      integer NOT NULL,
    credential_management   text NOT NULL
);

CREATE TABLE people (
    organisation_id  uuid NOT NULL,
    user_id          uuid NOT NULL,
    email            text NOT NULL,
    name             text NOT NULL,
    status           text NOT NULL,
    company_id       uuid,
    manager_id       uuid,
    group_ids        uuid[] NOT NULL,
    roles            text[] NOT NULL,
    PRIMARY KEY (organisation_id, user_id)
);
CREATE INDEX people_company ON people (organisation_id, company_id);
CREATE INDEX people_manager ON people (organisation_id, manager_id);

CREATE TABLE companies (
    organisation_id  uuid NOT NULL,
    company_id       uuid NOT NULL,
    name             text NOT NULL,
    archived         boolean NOT NULL,
    PRIMARY KEY (organisation_id, company_id)
);

CREATE TABLE credential_types (
    organisation_id         uuid NOT NULL,
    credential_type_id      uuid NOT NULL,
    name                    text NOT NULL,
    expires                 boolean NOT NULL,
    media_required          boolean NOT NULL,
    internal_equivalent_id  uuid,
    archived                boolean NOT NULL,
    PRIMARY KEY (organisation_id, credential_type_id)
);

CREATE TABLE requirements (
    organisation_id     uuid NOT NULL,
    requirement_id      uuid NOT NULL,
    credential_type_id  uuid NOT NULL,
    scope               text NOT NULL,
    company_id          uuid,
    group_id            uuid,
    PRIMARY KEY (organisation_id, requirement_id)
);

-- Yes-answers that add required types: one row per (worker, question answered yes).
CREATE TABLE assessment_questions (
    organisation_id  uuid NOT NULL,
    assessment_id    uuid NOT NULL,
    question_id      uuid NOT NULL,
    requires         uuid[] NOT NULL,
    PRIMARY KEY (organisation_id, assessment_id, question_id)
);
CREATE TABLE assessment_answers (
    organisation_id  uuid NOT NULL,
    assessment_id    uuid NOT NULL,
    user_id          uuid NOT NULL,
    yes_question_ids uuid[] NOT NULL,
    PRIMARY KEY (organisation_id, assessment_id, user_id)
);

-- Credentials: one row per credential, carrying its latest version's facts. The status is
-- worked out at query time by credential_status(), so expiry needs no event.
CREATE TABLE credentials (
    organisation_id         uuid NOT NULL,
    credential_id           uuid PRIMARY KEY,
    holder_id               uuid NOT NULL,
    credential_type_id      uuid NOT NULL,
    latest_version_id       uuid NOT NULL,
    version_number          integer NOT NULL,
    review                  text NOT NULL,
    lifecycle               text NOT NULL DEFAULT 'active',
    lifecycle_reason        text,
    issued_on               date,
    expires_on              date,
    certification_number    text,
    issuer_name             text,
    internal_equivalent_id  uuid,
    import_id               uuid,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL
);
CREATE INDEX credentials_holder ON credentials (organisation_id, holder_id);
CREATE INDEX credentials_type ON credentials (organisation_id, credential_type_id);
CREATE INDEX credentials_expiry ON credentials (organisation_id, expires_on);

CREATE TABLE credential_versions (
    version_id            uuid PRIMARY KEY,
    credential_id         uuid NOT NULL,
    organisation_id       uuid NOT NULL,
    version_number        integer NOT NULL,
    issued_on             date,
    expires_on            date,
    certification_number  text,
    certification         jsonb,
    issuer                jsonb,
    notes                 text,
    review                text NOT NULL,
    review_comment        text,
    reviewed_by           uuid,
    reviewed_at           timestamptz,
    created_by            uuid NOT NULL,
    created_at            timestamptz NOT NULL,
    import_id             uuid
);
CREATE INDEX credential_versions_credential ON credential_versions (credential_id, version_number);

CREATE TABLE credential_media (
    media_id         uuid PRIMARY KEY,
    credential_id    uuid NOT NULL,
    version_id       uuid NOT NULL,
    organisation_id  uuid NOT NULL,
    file_name        text NOT NULL,
    kind             text NOT NULL,
    content_type     text NOT NULL,
    size_bytes       bigint NOT NULL,
    sha256           text NOT NULL,
    attached_by      uuid NOT NULL,
    attached_at      timestamptz NOT NULL
);
CREATE INDEX credential_media_credential ON credential_media (credential_id);

-- Who did what, when, from which import: one row per credential event (kept after deletion).
CREATE TABLE audit (
    event_id         uuid PRIMARY KEY,
    organisation_id  uuid NOT NULL,
    credential_id    uuid NOT NULL,
    occurred_at      timestamptz NOT NULL,
    action           text NOT NULL,
    actor_id         uuid,
    version_id       uuid,
    import_id        uuid,
    detail           jsonb NOT NULL
);
CREATE INDEX audit_credential ON audit (credential_id, occurred_at);

CREATE TABLE review_items (
    review_id           uuid PRIMARY KEY,
    organisation_id     uuid NOT NULL,
    credential_id       uuid NOT NULL,
    version_id          uuid NOT NULL,
    version_number      integer NOT NULL,
    holder_id           uuid NOT NULL,
    credential_type_id  uuid NOT NULL,
    routing             text NOT NULL,
    reviewer_ids        uuid[] NOT NULL,
    import_id           uuid,
    requested_at        timestamptz NOT NULL,
    state               text NOT NULL,  -- open, validated, rejected, accepted, superseded, cancelled
    claimed_by          uuid,
    claimed_at          timestamptz,
    decided_by          uuid,
    decided_at          timestamptz,
    comment             text
);
CREATE INDEX review_items_open ON review_items (organisation_id, requested_at) WHERE state = 'open';
CREATE INDEX review_items_reviewers ON review_items USING gin (reviewer_ids) WHERE state = 'open';
CREATE INDEX review_items_credential ON review_items (credential_id) WHERE state = 'open';

CREATE TABLE imports (
    import_id            uuid PRIMARY KEY,
    organisation_id      uuid NOT NULL,
    uploaded_by          uuid NOT NULL,
    file_name            text NOT NULL,
    rows_total           integer NOT NULL,
    credentials_created  integer NOT NULL,
    approval_required    boolean NOT NULL,
    completed_at         timestamptz NOT NULL
);

-- The one definition of a credential's status (PRODUCT.md, "Statuses"): revoked and suspended
-- win; a passed expiration date wins over verified and submitted; otherwise the latest
-- version's review outcome. `today` is the organisation's date at query time.
CREATE FUNCTION credential_status(lifecycle text, review text, expires_on date, today date)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN lifecycle <> 'active' THEN lifecycle
        WHEN expires_on < today AND review IN ('verified', 'submitted') THEN 'expired'
        ELSE review
    END
$$;

-- The credential types each active worker must hold: requirements by scope, plus types that
-- yes-answers to assessments add.
CREATE VIEW required_types AS
    SELECT p.organisation_id, p.user_id, r.credential_type_id
    FROM people p
    JOIN requirements r ON r.organisation_id = p.organisation_id
        AND (r.scope = 'all_workers'
             OR (r.scope = 'company' AND r.company_id = p.company_id)
             OR (r.scope = 'group' AND r.group_id = ANY (p.group_ids)))
    WHERE p.status = 'active' AND 'worker' = ANY (p.roles)
    UNION
    SELECT p.organisation_id, p.user_id, unnest(q.requires)
    FROM people p
    JOIN assessment_answers a ON a.organisation_id = p.organisation_id AND a.user_id = p.user_id
    JOIN assessment_questions q ON q.organisation_id = a.organisation_id
        AND q.assessment_id = a.assessment_id AND q.question_id = ANY (a.yes_question_ids)
    WHERE p.status = 'active' AND 'worker' = ANY (p.roles);
