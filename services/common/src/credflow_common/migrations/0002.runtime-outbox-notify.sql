-- Wake the schema's outbox relay when a transaction that wrote to the outbox commits.
-- A statement trigger instead of a `SELECT pg_notify(...)` from every append: one statement
-- less per command, and PostgreSQL folds the notifications of one transaction into one.
CREATE FUNCTION notify_outbox() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox();
