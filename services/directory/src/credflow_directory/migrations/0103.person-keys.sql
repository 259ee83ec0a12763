-- depends: 0102.people-by-email
-- Each person's data key, the only copy, wrapped by the key-encryption key of the keyring
-- (ADR 0017). Erasure deletes the row: every field sealed with the key, wherever it was
-- copied, can no longer be opened.
CREATE TABLE person_keys (
    organisation_id  uuid NOT NULL,
    user_id          uuid NOT NULL,
    wrapped          text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, user_id)
);
