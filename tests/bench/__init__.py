"""Benchmarks (`make bench`). They sign their tokens with the development secret, so the
services they start run in development (the default is production)."""

import os

os.environ.setdefault("CREDFLOW_ENVIRONMENT", "development")
