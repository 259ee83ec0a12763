-- depends: 0604.projection-requirement-rule
-- A person's permissions beside their roles, so that a token is held to what the person holds
-- now (a removed `users:manage` stops working within seconds). NULL: not known yet (rows
-- written before this column; the next change of the person, or a rebuild, fills it), and a
-- token's permissions are then taken as they are.
ALTER TABLE people ADD COLUMN permissions text[];
