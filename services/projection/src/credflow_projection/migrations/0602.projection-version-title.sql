-- depends: 0601.projection-views
-- The name on a certificate (an external course's, say): per version, and the latest's on the
-- credential row for lists and text search.
ALTER TABLE credential_versions ADD COLUMN title text;
ALTER TABLE credentials ADD COLUMN title text;
