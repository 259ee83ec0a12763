"""The shape every service keeps (ADR 0015), checked on the source: pure domains, services apart,
every route reachable from the composition root, small functions and modules."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p for p in (ROOT / "services").glob("*/src/credflow_*") if p.is_dir())
SHARED = ("credflow_common", "credflow_contracts")
SERVICE_PACKAGES = sorted(p.name for p in SERVICES if p.name not in SHARED)
DOMAIN_MAY_IMPORT = ("credflow_contracts", "credflow_common.errors")
HTTP_VERBS = {"get", "post", "put", "patch", "delete"}
MAX_POSITIONAL = 5
MAX_LINES = 400


def modules(package: Path) -> Iterator[Path]:
    yield from sorted(package.rglob("*.py"))


def module_name(path: Path) -> str:
    package_root = next(p for p in SERVICES if p in path.parents)
    parts = path.relative_to(package_root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    """Is `name` one of our modules (not a class or function inside one)?"""
    top, *rest = name.split(".")
    package = next((p for p in SERVICES if p.name == top), None)
    return package is not None and (not rest or source_of(package, name) is not None)


def imported(path: Path) -> list[str]:
    """Every module `path` imports, by absolute name (`from a import b` is `a.b` when `b` is
    one of our modules, else `a`)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                names.append(submodule if is_module(submodule) else node.module)
    return names


def is_stdlib(name: str) -> bool:
    return name.split(".")[0] in sys.stdlib_module_names or name == "__future__"


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def source_of(package: Path, name: str) -> Path | None:
    """The file of module `name` inside `package`, if it is one of its modules."""
    relative = name.split(".")[1:]
    for candidate in (package.joinpath(*relative).with_suffix(".py"),
                      package.joinpath(*relative, "__init__.py")):  # fmt: skip
        if relative and candidate.exists():
            return candidate
    return None


def domain_violations(package: Path) -> list[str]:
    """Imports of `domain.py`, and of the package's modules it builds on, that are neither the
    standard library, the contracts, the common errors, nor those modules themselves."""
    found, queue, seen = [], [package / "domain.py"], set()
    while queue:
        path = queue.pop()
        if path in seen or not path.exists():
            continue
        seen.add(path)
        for name in imported(path):
            if within(name, (package.name,)):
                own = source_of(package, name)
                if own is not None:
                    queue.append(own)  # the package's own module: held to the same rule
            elif not (is_stdlib(name) or within(name, DOMAIN_MAY_IMPORT)):
                found.append(f"{module_name(path)} imports {name}")
    return sorted(set(found))


@pytest.mark.parametrize("package", [p for p in SERVICES if (p / "domain.py").exists()],
                         ids=lambda p: p.name)  # fmt: skip
def test_the_domain_imports_only_the_standard_library_contracts_and_common_errors(
    package: Path,
) -> None:
    assert domain_violations(package) == []


def test_no_service_imports_another_service() -> None:
    crossings = [
        f"{module_name(path)} imports {name}"
        for package in SERVICES
        for path in modules(package)
        for name in imported(path)
        if within(name, tuple(p for p in SERVICE_PACKAGES if p != package.name))
    ]
    assert crossings == []


@pytest.mark.parametrize("package", [p for p in SERVICES if p.name not in SHARED],
                         ids=lambda p: p.name)  # fmt: skip
def test_every_route_module_is_reachable_from_the_app_module(package: Path) -> None:
    """Routers live in `routes/`, one module per resource, each imported by `app.py`."""
    app = set(imported(package / "app.py"))
    route_modules = sorted((package / "routes").glob("[!_]*.py"))
    assert route_modules, f"{package.name} has no routes/ package"
    assert [module_name(p) for p in route_modules if module_name(p) not in app] == []
    outside = [module_name(path) for path in modules(package)
               if "APIRouter(" in path.read_text() and path.parent.name != "routes"]  # fmt: skip
    assert outside == [], "routers are built in routes/ only"


def is_endpoint(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A route handler: FastAPI passes its parameters by name."""
    return any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in HTTP_VERBS
        for d in function.decorator_list
    )


def test_no_function_takes_more_than_five_positional_parameters() -> None:
    wide = []
    for package in SERVICES:
        for path in modules(package):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not is_endpoint(
                    node
                ):
                    positional = [a.arg for a in [*node.args.posonlyargs, *node.args.args]
                                  if a.arg not in ("self", "cls")]  # fmt: skip
                    if len(positional) > MAX_POSITIONAL:
                        wide.append(f"{module_name(path)}.{node.name}: {len(positional)}")
    assert wide == []


def test_no_production_module_is_over_400_lines() -> None:
    long = [f"{module_name(path)}: {n}" for package in SERVICES for path in modules(package)
            if (n := len(path.read_text().splitlines())) > MAX_LINES]  # fmt: skip
    assert long == []
