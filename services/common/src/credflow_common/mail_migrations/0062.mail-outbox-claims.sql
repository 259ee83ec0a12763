-- depends: 0061.mail-outbox-failures
-- A relay claims a mail (for a while) in a transaction of its own before handing it to the SMTP
-- server, and marks it sent afterwards, retrying that mark through a database outage: a
-- restarted database no longer makes a mail go out twice. Only a relay killed between the
-- server's acceptance and the mark sends it again, once the claim has lapsed.
ALTER TABLE mail_outbox ADD COLUMN claimed_until timestamptz;
