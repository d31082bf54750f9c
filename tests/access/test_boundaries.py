"""Only the access layer reads records out of the store."""

from __future__ import annotations

import ast
from pathlib import Path

import servinfo

SRC = Path(servinfo.__file__).parent
READ_MODULE = "servinfo.store.reading"
ALLOWED = (SRC / "access", SRC / "store")


def _imports(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _reads_records(source: str) -> bool:
    return any(
        name == READ_MODULE or name.startswith(READ_MODULE + ".") or name.endswith(".RecordReader")
        for name in _imports(source)
    )


def test_the_scanner_finds_every_spelling() -> None:
    assert _reads_records("from servinfo.store.reading import RecordReader")
    assert _reads_records("import servinfo.store.reading")
    assert _reads_records("def f():\n    from servinfo.store import reading\n")
    assert not _reads_records("from servinfo.store import RecordWriter")


def test_no_module_outside_access_imports_the_store_reader() -> None:
    offenders = [
        str(path.relative_to(SRC))
        for path in sorted(SRC.rglob("*.py"))
        if not any(path.is_relative_to(allowed) for allowed in ALLOWED)
        and _reads_records(path.read_text("utf-8"))
    ]
    assert offenders == []


def test_the_store_does_not_export_its_reader() -> None:
    import servinfo.store

    assert "RecordReader" not in servinfo.store.__all__
    assert not hasattr(servinfo.store, "RecordReader")
