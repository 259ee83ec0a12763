"""credflow directory service."""
