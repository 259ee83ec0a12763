-- depends: 0301.review-tables
-- Who submitted the version under review: an import's uploader may approve its items in bulk.

ALTER TABLE reviews ADD COLUMN submitted_by uuid;
