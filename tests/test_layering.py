"""The dependency direction of ARCHITECTURE.md, checked on every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> top-level modules it must never import
FORBIDDEN = {
    "ledger": {"flask", "web", "trace", "credit", "labels", "scanner_client"},
    "trace": {"flask", "web", "scanner_client"},
    "credit": {"flask", "web", "scanner_client"},
    "labels": {"flask", "sqlalchemy", "web", "trace", "credit", "scanner_client"},
    "scanner_client": {"flask", "sqlalchemy", "web", "trace", "credit", "alembic"},
}


def imported_modules(path: Path) -> set[str]:
    """Return the top-level names of everything ``path`` imports (absolute imports)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_never_imports_forbidden_layers(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    if package != "scanner_client":  # scanner_client arrives with its own issue
        assert files, f"{package}/ has no modules"
    offenders = {
        f"{path.relative_to(ROOT)} imports {sorted(imported_modules(path) & FORBIDDEN[package])}"
        for path in files
        if imported_modules(path) & FORBIDDEN[package]
    }
    assert not offenders


def test_ledger_init_does_not_import_sqlalchemy() -> None:
    # scanner_client uses the pure ledger modules on machines without SQLAlchemy.
    assert "sqlalchemy" not in imported_modules(ROOT / "ledger" / "__init__.py")
    for pure in ("merkle", "note", "entry", "proof_bundle", "errors"):
        assert "sqlalchemy" not in imported_modules(ROOT / "ledger" / f"{pure}.py")


def test_layering_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom flask import Flask\nfrom . import sibling\n")
    assert imported_modules(bad) == {"os", "flask"}
