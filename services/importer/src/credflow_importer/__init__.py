"""credflow importer service."""
