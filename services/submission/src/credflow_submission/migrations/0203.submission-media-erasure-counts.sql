-- depends: 0202.submission-media-erasures
-- What the erasure's transaction deleted, reported with the files once they are gone (the
-- common `file_erasure.FileEraser`, which the importer uses too).
ALTER TABLE media_erasures ADD COLUMN deleted jsonb NOT NULL DEFAULT '{}';
