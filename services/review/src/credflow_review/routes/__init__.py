"""The review service's HTTP routes; `app.py` includes each."""
