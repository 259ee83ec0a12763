"""credflow projection service."""
