"""The projection's HTTP routes (read-only views); `app.py` includes each."""
