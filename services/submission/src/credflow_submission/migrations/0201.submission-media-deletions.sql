-- depends: 0050.directory-replica
-- Objects to delete from object storage once the credential that owned them is deleted.
-- Written in the deleting transaction; a sweeper removes the objects and then the rows, so a
-- storage outage never blocks or undoes a deletion's events.
CREATE TABLE media_deletions (
    object_key    text PRIMARY KEY,
    requested_at  timestamptz NOT NULL DEFAULT now()
);
