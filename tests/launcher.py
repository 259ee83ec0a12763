"""Import deploy/local/infra.py (a script, not a package) for tests of the native launcher."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

LAUNCHER = Path(__file__).resolve().parents[1] / "deploy" / "local" / "infra.py"


def load_launcher(module_name: str = "credflow_local_infra") -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, LAUNCHER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
