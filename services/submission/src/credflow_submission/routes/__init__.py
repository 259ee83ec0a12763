"""The submission service's HTTP routes, one module per resource; `app.py` includes each."""
