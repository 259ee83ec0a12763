-- depends: 0063.mail-outbox-claim-groups
-- The people a mail is to or about (its recipient, the worker it names): an erasure deletes
-- every mail of the person, sent or not (ADR 0017).
ALTER TABLE mail_outbox ADD COLUMN people uuid[] NOT NULL DEFAULT '{}';
CREATE INDEX mail_outbox_people ON mail_outbox USING gin (people);
