"""Shared runtime for credflow services. No domain code lives here."""
