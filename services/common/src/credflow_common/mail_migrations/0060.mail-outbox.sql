-- depends: 0001.runtime-event-store
-- Mail to send, written in the same transaction as the decision that causes it, so a mail is
-- queued exactly once; the mail relay sends it and marks it sent. Rows with a digest key are
-- grouped per (digest key, recipient) into one mail once `deliver_after` has passed.
CREATE TABLE mail_outbox (
    mail_id          uuid PRIMARY KEY,
    organisation_id  uuid        NOT NULL,
    to_address       text        NOT NULL,
    subject          text        NOT NULL,
    body             text        NOT NULL,
    digest_key       text,
    deliver_after    timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at          timestamptz
);
CREATE INDEX mail_outbox_pending ON mail_outbox (deliver_after) WHERE sent_at IS NULL;
