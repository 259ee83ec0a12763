"""credflow reminder service."""
