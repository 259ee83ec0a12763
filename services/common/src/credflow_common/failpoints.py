"""Failpoints: named places where a test can make the process die on purpose.

`CREDFLOW_FAILPOINTS="relay.after_publish"` makes the process SIGKILL itself the first time it
reaches `hit("relay.after_publish")`. Crash tests use them to stop a relay between publishing
and deleting, or a consumer between writing effects and committing, exactly where it matters.
Unset (always, outside tests), `hit` costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_ARMED = frozenset(filter(None, os.environ.get("CREDFLOW_FAILPOINTS", "").split(",")))


def hit(name: str) -> None:
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
