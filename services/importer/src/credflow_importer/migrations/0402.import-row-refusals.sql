-- depends: 0401.importer
-- Rows the submission service refused when it applied them (ImportRowRefused: the row turned
-- invalid after the import was checked). A row is settled once applied or refused.
ALTER TABLE import_rows
    ADD COLUMN refused_at     timestamptz,
    ADD COLUMN refused_column text,
    ADD COLUMN refusal        text;

DROP INDEX import_rows_unapplied;
CREATE INDEX import_rows_unsettled ON import_rows (import_id)
    WHERE applied_at IS NULL AND refused_at IS NULL;
