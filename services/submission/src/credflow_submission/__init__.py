"""credflow submission service."""
