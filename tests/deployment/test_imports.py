"""Start-up cost: opening a deployment imports nothing that only some commands need.

Alembic (migrating), Jinja2 and the notice builder (exports), phonenumbers
(validating phone fields at ingest), ``cryptography.x509`` (``servinfo
init``'s certificate), PyYAML (parsing a policy file) and SQLAlchemy's
PostgreSQL dialect (on SQLite) are imported where they are used, so that a common
command such as ``servinfo principals list`` does not pay for them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from servinfo.deployment import create_deployment

#: Modules (and their submodules) that ``import servinfo.deployment`` must not load.
LAZY = (
    "alembic",
    "mako",
    "jinja2",
    "phonenumbers",
    "yaml",
    "sqlalchemy.dialects.postgresql",
    "cryptography.x509",
    "servinfo.policy.notice",
    "servinfo.rights.report",
)


def _loaded_after(script: str) -> list[str]:
    lazy = repr(LAZY)
    checked = script + f"\nprint(sorted(m for m in sys.modules if m.startswith({lazy})))\n"
    done = subprocess.run(
        [sys.executable, "-c", "import sys\n" + checked],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_importing_the_deployment_loads_no_optional_part() -> None:
    assert _loaded_after("import servinfo.deployment") == ["[]"]


def test_listing_principals_loads_no_optional_part(tmp_path: Path) -> None:
    data_dir = tmp_path / "deployment"
    create_deployment(data_dir, {})
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from servinfo.deployment import open_deployment
        with open_deployment(Path({str(data_dir)!r}), {{}}) as deployment:
            print([p.name for p in deployment.principal_service.all()])
        """
    )
    assert _loaded_after(script) == ["['admin']", "[]"]
