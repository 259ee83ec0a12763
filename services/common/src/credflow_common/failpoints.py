"""Failpoints: named places where a test can make the process die on purpose.

`CREDFLOW_FAILPOINTS="relay.after_publish"` makes the process SIGKILL itself the first time it
reaches `hit("relay.after_publish")`; `name@3` waits for the third time. Crash tests use them to
stop a relay between publishing and deleting, or a consumer between writing its effects and
committing, exactly where it matters. Unset (always, outside tests), `hit` costs one lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter


def _parse(spec: str) -> dict[str, int]:
    armed = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, nth = item.partition("@")
        armed[name] = int(nth) if nth else 1
    return armed


_ARMED = _parse(os.environ.get("CREDFLOW_FAILPOINTS", ""))
_HITS: Counter[str] = Counter()


def hit(name: str) -> None:
    if name not in _ARMED:
        return
    _HITS[name] += 1
    if _HITS[name] >= _ARMED[name]:
        os.kill(os.getpid(), signal.SIGKILL)
