"""The importer's HTTP routes; `app.py` includes each."""
