-- The console's signed-in sessions, one row each, so that signing out, signing out everywhere
-- and deactivation end them on every console instance at once (a signed cookie alone cannot
-- be taken back). The cookie holds a random secret; only its SHA-256 is stored. A row holds
-- ids and times, nothing else about the person; it is deleted when the session ends or lapses.
CREATE TABLE sessions (
    secret_hash      bytea PRIMARY KEY,
    organisation_id  uuid NOT NULL,
    user_id          uuid NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_of_person ON sessions (organisation_id, user_id);
