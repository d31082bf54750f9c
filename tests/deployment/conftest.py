"""Fixtures of the deployment tests: ``servinfo`` run in-process as the console script."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.conftest import Servinfo

from servinfo.crypto import MASTER_KEY_ENV


class Cli:
    """``servinfo`` as :class:`tests.cli.conftest.Servinfo` runs it, answering a tuple."""

    def __init__(self, servinfo: Servinfo) -> None:
        self._servinfo = servinfo

    def __call__(
        self, *args: str | Path, env: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        """Exit status, standard output and standard error of ``servinfo args``."""
        run = self._servinfo(*args, env=env)
        return run.status, run.out, run.err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """No token and no master key in the environment unless a test sets one."""
    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)
    return Cli(Servinfo(capsys, monkeypatch))
