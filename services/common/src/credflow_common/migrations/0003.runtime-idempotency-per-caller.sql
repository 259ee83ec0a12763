-- Idempotency keys belong to the caller (organisation + person): another person reusing a key
-- runs their own command instead of seeing the first person's result. Keys recorded before
-- this migration are kept under the nil caller, so nobody can replay them.
ALTER TABLE command_results ADD COLUMN caller_id uuid NOT NULL
    DEFAULT '00000000-0000-0000-0000-000000000000';
ALTER TABLE command_results ALTER COLUMN caller_id DROP DEFAULT;
ALTER TABLE command_results DROP CONSTRAINT command_results_pkey;
ALTER TABLE command_results ADD PRIMARY KEY (tenant_id, caller_id, idempotency_key);
