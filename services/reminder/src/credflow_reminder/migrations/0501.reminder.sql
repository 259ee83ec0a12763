-- depends: 0050.directory-replica 0060.mail-outbox
-- Notification settings (this service is their single writer), the schedule (one row per
-- credential, built from credential events: its latest version, expiry date, standing, and the
-- next local date anything may fall due) and the sent-ledger (one row per reminder sent or
-- skipped; its key is the reminder's id, so nothing is recorded, mailed or published twice).

CREATE TABLE notification_settings (
    organisation_id  uuid        NOT NULL,
    user_id          uuid        NOT NULL,
    enabled          boolean     NOT NULL,
    lead_days        integer[]   NOT NULL,
    copy_manager     boolean     NOT NULL,
    updated_by       uuid        NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, user_id)
);

CREATE TABLE schedule (
    credential_id       uuid PRIMARY KEY,
    organisation_id     uuid    NOT NULL,
    holder_id           uuid    NOT NULL,
    credential_type_id  uuid    NOT NULL,
    version_id          uuid    NOT NULL,
    expires_on          date,
    standing            text    NOT NULL,
    review              text    NOT NULL,
    expired_version_id  uuid,
    next_due_on         date,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedule_due ON schedule (next_due_on) WHERE next_due_on IS NOT NULL;
CREATE INDEX schedule_by_holder ON schedule (organisation_id, holder_id);

CREATE TABLE sent_ledger (
    reminder_id         uuid PRIMARY KEY,
    organisation_id     uuid        NOT NULL,
    credential_id       uuid        NOT NULL,
    version_id          uuid        NOT NULL,
    expires_on          date        NOT NULL,
    stage               text        NOT NULL,
    recipient_role      text        NOT NULL,
    recipient_id        uuid,
    outcome             text        NOT NULL CHECK (outcome IN ('sent', 'skipped')),
    recorded_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sent_ledger_by_version ON sent_ledger (version_id, expires_on);
