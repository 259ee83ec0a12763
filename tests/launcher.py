"""Import the scripts under deploy/local (not a package) for tests of the native launcher."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

LOCAL = Path(__file__).resolve().parents[1] / "deploy" / "local"
LAUNCHER = LOCAL / "infra.py"


def load_launcher(module_name: str = "credflow_local_infra", script: Path = LAUNCHER) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
