"""credflow review service."""
