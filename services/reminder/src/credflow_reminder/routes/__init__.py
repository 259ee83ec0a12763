"""The reminder service's HTTP routes; `app.py` includes each."""
