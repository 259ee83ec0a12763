-- depends: 0060.mail-outbox
-- A mail the server refuses for good (a recipient it rejects, a message it will not take) is
-- set aside with the reason instead of blocking the mails behind it; `sent_at` stays empty.
ALTER TABLE mail_outbox ADD COLUMN failed_at timestamptz;
ALTER TABLE mail_outbox ADD COLUMN failure text;
DROP INDEX mail_outbox_pending;
CREATE INDEX mail_outbox_pending ON mail_outbox (deliver_after)
    WHERE sent_at IS NULL AND failed_at IS NULL;
