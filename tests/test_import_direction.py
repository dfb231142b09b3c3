"""Imports run one way: routes → services → shared core (``api/core/``) → ``domain/``.

The worker side (``worker.py``, ``workflows/``, ``activities/``) reaches only ``domain/`` and the
shared core, never the HTTP layer; ``domain/`` does no I/O. The API reaches no worker code: it
starts workflows by their names and ``domain/contract/`` models (only the launchers, which run
the worker too, import it). Services take plain values and know nothing of HTTP (no routes,
dependencies, app state, HTTP error mapping, FastAPI or Starlette); routes, REST's and the MCP
tools', reach the index only through services (or the key check in ``api.deps``).

Every rule is read from the source (every import statement, including those inside functions
and ``imports_passed_through`` blocks) and followed through first-party modules, so an import
that pulls a forbidden module in indirectly counts too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("api", "domain", "workflows", "activities", "worker")

HTTP_LAYER = (
    "api.routes",
    "api.services",
    "api.deps",
    "api.state",
    "api.app",
    "api.schemas",
    "api.errors",
)
HTTP_LIBRARIES = ("fastapi", "starlette", "uvicorn")
WORKER_CODE = ("worker", "workflows", "activities")
# What services must not reach: the HTTP layer around them (api.errors maps errors to HTTP).
AROUND_SERVICES = ("api.routes", "api.deps", "api.state", "api.app", "api.errors", "api.mcp")
# The launchers start the API and the worker alike (``agent-scheduler dev`` / ``worker``).
LAUNCHERS = ("api.cli",)
# Routes, REST's and the MCP tools', reach the index only through services, and the API key
# check of the dependencies.
ROUTES = ("api.routes", "api.mcp")
INDEX_GATEWAYS = ("api.services", "api.deps")
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


def reached(
    start: str, modules: Mapping[str, set[str]], *, through: Iterable[str] = ()
) -> dict[str, str]:
    """Every module reachable from ``start`` → the first-party module that imports it.

    Imports are not followed past a module within ``through`` (it is reached, not entered).
    """
    gateways = tuple(through)
    seen: dict[str, str] = {}
    todo = [start]
    while todo:
        current = todo.pop()
        for name in modules.get(current, set()):
            if name in seen:
                continue
            seen[name] = current
            if name in modules and not _within(name, gateways):
                todo.append(name)
    return seen


def violations(modules: Mapping[str, set[str]]) -> list[str]:
    """Each import that runs against the layering, as ``importer imports imported (rule)``."""
    problems: set[str] = set()

    def check(
        module: str, forbidden: tuple[str, ...], rule: str, through: tuple[str, ...] = ()
    ) -> None:
        for name, importer in reached(module, modules, through=through).items():
            if _within(name, forbidden):
                problems.add(f"{importer} imports {name} ({rule})")

    for module in sorted(modules):
        top = module.split(".")[0]
        if top in WORKER_CODE:
            check(module, HTTP_LAYER + HTTP_LIBRARIES, "worker side reaches HTTP")
        elif _within(module, ("api.core",)):
            check(module, HTTP_LAYER + HTTP_LIBRARIES + WORKER_CODE, "core reaches outwards")
        elif top == "domain":
            check(module, IO + HTTP_LIBRARIES + ("api",) + WORKER_CODE, "domain does I/O")
        elif top == "api":
            if not _within(module, LAUNCHERS):
                check(module, WORKER_CODE, "API reaches worker code")
            if _within(module, ("api.services",)):
                check(module, AROUND_SERVICES + HTTP_LIBRARIES, "service reaches HTTP")
            if _within(module, ROUTES):
                check(module, ("api.core.index",), "route reaches the index", INDEX_GATEWAYS)
    return sorted(problems)


def test_the_tree_imports_one_way() -> None:
    assert violations(source_modules()) == []


def test_each_back_reference_this_layout_removed_is_caught() -> None:
    """The back-references this layout removed, put back one at a time, each fail."""
    back = [
        ("worker", "api.services.engine"),
        ("activities.tick", "api.services.temporal_schedules"),
        ("api.services.chains", "activities.chains"),
        ("api.services.engine", "activities.tick"),
        ("api.core.schedules", "workflows.job_run"),
        ("domain.contract.runs", "sqlalchemy.ext.asyncio"),
        # The API starts workflows by name: no workflow class, no activity behind it.
        ("api.services.jobs", "workflows.job_run"),
        ("api.services.chains", "workflows.chain"),
        ("api.services.runs", "workflows.redeliver"),
        # Services know no HTTP: the HTTP-facing parts live in routes and dependencies.
        ("api.services.engine", "api.deps"),
        ("api.services.engine", "fastapi"),
        ("api.services.activity", "fastapi"),
        ("api.services.idempotency", "fastapi.responses"),
        ("api.services.jobs", "api.errors"),
        ("api.services.jobs", "api.state"),
        # Routes go through services.
        ("api.routes.jobs", "api.core.index.jobs"),
        ("api.routes.status", "api.core.index"),
        ("api.mcp.tools", "api.core.index.runs"),
    ]
    for importer, imported in back:
        modules = source_modules()
        modules.setdefault(importer, set())
        modules[importer] = modules[importer] | {imported}
        found = violations(modules)
        assert any(p.startswith(f"{importer} imports {imported} (") for p in found), importer


def test_an_indirect_back_reference_is_caught_where_it_is_made() -> None:
    """A service reaching Starlette through another module, and a route reaching the index
    through a schema, are caught; a route reaching it through a service is the layout."""
    modules = source_modules()
    modules["api.schemas.runs"] = modules["api.schemas.runs"] | {
        "starlette.responses",
        "api.core.index.runs",
    }
    found = violations(modules)
    assert "api.schemas.runs imports starlette.responses (service reaches HTTP)" in found
    assert "api.schemas.runs imports api.core.index.runs (route reaches the index)" in found
    assert not any("api.services" in p and "route reaches the index" in p for p in found)


def test_a_worker_module_reaching_fastapi_through_the_core_is_caught() -> None:
    modules = source_modules()
    modules["api.core.settings"] = modules["api.core.settings"] | {"fastapi"}
    found = violations(modules)
    assert "api.core.settings imports fastapi (worker side reaches HTTP)" in found
    assert "api.core.settings imports fastapi (core reaches outwards)" in found


def test_the_api_process_loads_no_worker_code() -> None:
    """``import api.app`` in a fresh interpreter loads no workflow or activity module."""
    code = (
        "import sys, api.app; "
        "print(*sorted(m for m in sys.modules if m.split('.')[0] in ('worker', 'workflows', "
        "'activities')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
