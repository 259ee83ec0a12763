-- depends: 0001.runtime-event-store
-- Current state of every directory entity, written in the same transaction as its events.
-- `state` is the entity's snapshot as published (the contracts' *State models).

CREATE TABLE entities (
    organisation_id  uuid        NOT NULL,
    kind             text        NOT NULL,
    id               text        NOT NULL,
    version          integer     NOT NULL,
    state            jsonb       NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, kind, id)
);

-- Email addresses are unique per organisation, whatever their case.
CREATE UNIQUE INDEX users_email_unique ON entities (organisation_id, lower(state->>'email'))
    WHERE kind = 'user';
-- Credential type names are unique per organisation, whatever their case.
CREATE UNIQUE INDEX credential_types_name_unique ON entities (organisation_id, lower(state->>'name'))
    WHERE kind = 'credential_type';
CREATE INDEX users_company ON entities (organisation_id, (state->>'company_id'))
    WHERE kind = 'user';
