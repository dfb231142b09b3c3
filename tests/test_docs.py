"""The project's docs stay in step with the app (docs/api.md names exactly its operations) and
link only to files in the repository."""

from __future__ import annotations

import re
from pathlib import Path

from api.app import create_app
from api.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
METHODS = "GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS"
# An operation's own heading: "### `GET /api/scheduler/jobs/{job_id}`".
HEADING = re.compile(rf"^#{{2,6}}\s+`?({METHODS})\s+(/[^\s`]*)`?\s*$", re.MULTILINE)
# Any mention of an operation of this service in prose (a line break may sit after the method).
MENTION = re.compile(rf"\b({METHODS})\s+(/(?:api/scheduler|healthz)[^\s`)\],.;?]*)")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PAGES = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted(DOCS.glob("*.md"))]


def _app_operations(tmp_path: Path) -> set[str]:
    app = create_app(Settings(data_dir=tmp_path))
    return {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }


def _headings() -> list[str]:
    return [f"{m} {p}" for m, p in HEADING.findall((DOCS / "api.md").read_text())]


def test_every_operation_of_the_app_has_its_heading_in_docs_api(tmp_path: Path) -> None:
    operations = _app_operations(tmp_path)
    assert len(operations) > 30  # the OpenAPI document was read, not an empty one
    missing = sorted(operations - set(_headings()))
    assert not missing, f"docs/api.md has no heading for {missing}"


def test_docs_api_documents_each_operation_once_and_no_other(tmp_path: Path) -> None:
    headings = _headings()
    repeated = sorted({h for h in headings if headings.count(h) > 1})
    assert not repeated, f"docs/api.md documents {repeated} twice"
    unknown = sorted(set(headings) - _app_operations(tmp_path))
    assert not unknown, f"docs/api.md documents operations the app lacks: {unknown}"


def test_no_doc_mentions_an_operation_the_app_lacks(tmp_path: Path) -> None:
    operations = _app_operations(tmp_path)
    pages = sorted(DOCS.glob("*.md"))
    assert pages
    unknown = sorted(
        f"{page.name}: {method} {path}"
        for page in pages
        for method, path in MENTION.findall(page.read_text())
        if f"{method} {path}" not in operations
    )
    assert not unknown, f"the docs name operations the app lacks: {unknown}"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)
    return {_anchor(h) for h in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.MULTILINE)}


def test_readme_and_docs_link_only_to_files_in_the_repository() -> None:
    broken = []
    for page in PAGES:
        text = page.read_text()
        if "../shared" in text:
            broken.append(f"{page.name}: names ../shared, which a clone does not have")
        for target in LINK.findall(text):
            if re.match(r"[a-z]+://", target):
                continue
            path, _, fragment = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.is_relative_to(ROOT) or not linked.exists():
                broken.append(f"{page.name}: {target} is not a file of the repository")
            elif fragment and linked.suffix == ".md" and fragment not in _anchors(linked):
                broken.append(f"{page.name}: {target} names no heading of {linked.name}")
    assert not broken, broken
    assert LINK.search((ROOT / "README.md").read_text()), "the README links to its docs"
