"""The store's boundaries: exported names, and who may read records."""

from __future__ import annotations

import ast
from pathlib import Path

import servinfo
import servinfo.store
import servinfo.store.reading

SRC = Path(servinfo.__file__).parent


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_all_lists_exactly_the_public_names() -> None:
    public = {n for n in vars(servinfo.store) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(servinfo.store, n)).__name__ == "module"}
    assert set(servinfo.store.__all__) == public - modules
    assert "RecordReader" not in servinfo.store.__all__


def test_only_the_access_layer_imports_the_reader() -> None:
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.parent.name not in ("access",)
        and "store" not in path.relative_to(SRC).parts[:1]
        and any(name.startswith("servinfo.store.reading") for name in _imports(path))
    ]
    assert offenders == []


def test_store_depends_on_crypto_only() -> None:
    for path in (SRC / "store").rglob("*.py"):
        ours = {n for n in _imports(path) if n.startswith("servinfo.")}
        allowed = ("servinfo.store", "servinfo.crypto", "servinfo.errors")
        assert all(n.startswith(allowed) for n in ours), (path.name, ours)
