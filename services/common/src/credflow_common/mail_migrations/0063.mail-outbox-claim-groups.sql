-- depends: 0062.mail-outbox-claims
-- The rows a relay claims together (a digest) keep their group: a claim that lapsed because
-- its relay was killed after the SMTP server took the mail is sent again as the same mail,
-- with the same rows and the same Message-ID (its first row's id), never merged with rows
-- that arrived since. The group's first row leads: only it starts a claim.
ALTER TABLE mail_outbox ADD COLUMN claim_group uuid;
