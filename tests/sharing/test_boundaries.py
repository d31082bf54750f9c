"""Grants come from the sharing service alone: no other module names the issuer."""

from __future__ import annotations

import ast
from pathlib import Path

import servinfo

SRC = Path(servinfo.__file__).parent
#: The issuer's own module, the package that issues, and the wiring that builds it.
ALLOWED = (SRC / "access" / "grants.py", SRC / "sharing", SRC / "deployment" / "runtime.py")


def _names_issuer(source: str) -> bool:
    """Any mention of ``GrantIssuer`` or of issuing: imports, attributes, names."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and any(a.name == "GrantIssuer" for a in node.names):
            return True
        if isinstance(node, ast.Name) and node.id == "GrantIssuer":
            return True
        if isinstance(node, ast.Attribute) and node.attr in ("GrantIssuer", "_grant_issuer"):
            return True
    return False


def test_the_scanner_finds_every_spelling() -> None:
    assert _names_issuer("from servinfo.access.grants import GrantIssuer")
    assert _names_issuer("import servinfo.access.grants as g\ng.GrantIssuer()")
    assert _names_issuer("def f(d):\n    return d._grant_issuer.issue()")
    assert not _names_issuer("from servinfo.access.grants import GrantRequired")


def test_no_module_but_the_sharing_service_can_issue_a_grant() -> None:
    offenders = [
        str(path.relative_to(SRC))
        for path in sorted(SRC.rglob("*.py"))
        if not any(path == a or path.is_relative_to(a) for a in ALLOWED)
        and _names_issuer(path.read_text("utf-8"))
    ]
    assert offenders == []


def test_the_read_path_holds_only_a_verifier() -> None:
    """ReadService is given the verifier; a verifier makes no grants."""
    from servinfo.access.grants import GrantVerifier

    assert not hasattr(GrantVerifier, "issue")
    reads = (SRC / "access" / "reads.py").read_text("utf-8")
    assert "GrantIssuer" not in reads
