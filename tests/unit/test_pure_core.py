"""The core stays pure: no module of domain/ or contracts/ imports anything that does I/O."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
ALLOWED = {
    "contracts",
    "domain",
    "pydantic",
    "typing",
    "collections",
    "contextlib",
    "dataclasses",
    "datetime",
    "enum",
    "uuid",
    "functools",
    "itertools",
    "hashlib",  # a digest of a value (domain/findings.py): computation, no I/O
    "math",
    "json",
    "sys",
    "pathlib",
    "__future__",
}
PURE = sorted(p for folder in ("domain", "contracts") for p in (ROOT / folder).rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_nothing_of_io(path: Path) -> None:
    allowed = ALLOWED if path.name == "generate.py" else ALLOWED - {"sys", "pathlib", "json"}
    assert imported_roots(path) <= allowed, imported_roots(path) - allowed
