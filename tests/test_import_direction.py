"""Imports run one way: routes → services → shared core (``api/core/``) → ``domain/``.

The worker side (``worker.py``, ``workflows/``, ``activities/``) reaches only ``domain/`` and the
shared core, never the HTTP layer; ``domain/`` does no I/O. Read from the source (every import
statement, including those inside functions and ``imports_passed_through`` blocks), followed
through first-party modules, so an import that pulls the HTTP layer in indirectly counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("api", "domain", "workflows", "activities", "worker")

HTTP_LAYER = ("api.routes", "api.services", "api.deps", "api.app", "api.schemas", "api.errors")
HTTP_LIBRARIES = ("fastapi", "starlette", "uvicorn")
# Modules whose import means I/O (network, files, processes, databases, Temporal's client).
IO = (
    "os",
    "pathlib",
    "socket",
    "ssl",
    "smtplib",
    "subprocess",
    "asyncio",
    "httpx",
    "sqlalchemy",
    "sqlmodel",
    "aiosqlite",
    "psycopg",
    "alembic",
    "temporalio.client",
    "temporalio.worker",
    "temporalio.service",
    "temporalio.testing",
)


def _within(name: str, prefixes: Iterable[str]) -> str | None:
    return next((p for p in prefixes if name == p or name.startswith(p + ".")), None)


def _imports(path: Path, module: str) -> set[str]:
    """Every module ``path`` imports (``from a import b`` counts as ``a.b`` and ``a``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def source_modules() -> dict[str, set[str]]:
    """First-party module name → the modules it imports."""
    modules: dict[str, set[str]] = {"worker": _imports(ROOT / "worker.py", "worker")}
    for top in FIRST_PARTY[:-1]:
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # Alembic loads these; nothing imports them
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = _imports(path, name)
    return modules


def reached(start: str, modules: Mapping[str, set[str]]) -> dict[str, str]:
    """Every module reachable from ``start`` → the first-party module that imports it."""
    seen: dict[str, str] = {}
    todo = [start]
    while todo:
        current = todo.pop()
        for name in modules.get(current, set()):
            if name in seen:
                continue
            seen[name] = current
            if name in modules:
                todo.append(name)
    return seen


def violations(modules: Mapping[str, set[str]]) -> list[str]:
    """Each import that runs against the layering, as ``importer imports imported (rule)``."""
    problems: list[str] = []
    for module in sorted(modules):
        top = module.split(".")[0]
        if top in ("worker", "workflows", "activities"):
            for name, importer in reached(module, modules).items():
                if _within(name, HTTP_LAYER + HTTP_LIBRARIES):
                    problems.append(f"{importer} imports {name} (worker side reaches HTTP)")
        elif module == "api.core" or module.startswith("api.core."):
            for name in modules[module]:
                if _within(name, HTTP_LAYER + HTTP_LIBRARIES + ("activities", "workflows")):
                    problems.append(f"{module} imports {name} (core reaches outwards)")
        elif top == "domain":
            for name in modules[module]:
                if _within(name, IO + HTTP_LIBRARIES + ("api", "activities", "workflows")):
                    problems.append(f"{module} imports {name} (domain does I/O)")
        elif top == "api":
            for name in modules[module]:
                if _within(name, ("activities",)):
                    problems.append(f"{module} imports {name} (API reaches activities)")
    return sorted(set(problems))


def test_the_tree_imports_one_way() -> None:
    assert violations(source_modules()) == []


def test_each_back_reference_this_layout_removed_is_caught() -> None:
    """The back-references the shape issue found, put back one at a time, each fail."""
    back = {
        "worker": "api.services.engine",
        "activities.tick": "api.services.temporal_schedules",
        "api.services.chains": "activities.chains",
        "api.services.engine": "activities.tick",
        "api.core.schedules": "workflows.job_run",
        "domain.payloads": "sqlalchemy.ext.asyncio",
    }
    for importer, imported in back.items():
        modules = source_modules()
        modules[importer] = modules[importer] | {imported}
        found = violations(modules)
        assert any(p.startswith(f"{importer} imports {imported}") for p in found), importer


def test_a_worker_module_reaching_fastapi_through_the_core_is_caught() -> None:
    modules = source_modules()
    modules["api.core.settings"] = modules["api.core.settings"] | {"fastapi"}
    found = violations(modules)
    assert "api.core.settings imports fastapi (worker side reaches HTTP)" in found
    assert "api.core.settings imports fastapi (core reaches outwards)" in found
