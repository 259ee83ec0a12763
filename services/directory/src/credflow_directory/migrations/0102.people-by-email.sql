-- depends: 0101.directory-entities
-- Sign-in finds a person by email across organisations (GET /people?email=).
CREATE INDEX users_email_any_organisation ON entities (lower(state->>'email')) WHERE kind = 'user';
