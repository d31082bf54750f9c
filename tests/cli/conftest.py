"""A deployment made with ``servinfo init``, and a way to run ``servinfo`` as its entry point."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from servinfo.cli.app import main


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str


@dataclass(frozen=True)
class Deployment:
    data_dir: Path
    #: The admin token's file, mode 0600, written by ``servinfo init --admin-token-file``.
    token_file: Path


class Servinfo:
    """Runs ``main()`` as the console script does, capturing its exit status and output."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self._capsys = capsys
        self._monkeypatch = monkeypatch
        for name in ("SERVINFO_TOKEN", "SERVINFO_TOKEN_FILE", "SERVINFO_DATA_DIR"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("COLUMNS", "200")

    def __call__(self, *args: str | Path, env: dict[str, str] | None = None) -> Run:
        with self._monkeypatch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            self._capsys.readouterr()
            try:
                main([str(a) for a in args])
            except SystemExit as done:
                status = done.code if isinstance(done.code, int) else 1
            else:
                status = 0
            captured = self._capsys.readouterr()
        return Run(status, captured.out, captured.err)


@pytest.fixture
def servinfo(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Servinfo:
    return Servinfo(capsys, monkeypatch)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    folder = tmp_path_factory.mktemp("cli")
    data_dir, token_file = folder / "d", folder / "admin.token"
    with pytest.raises(SystemExit) as done:
        main(["init", "--data-dir", str(data_dir), "--admin-token-file", str(token_file)])
    assert done.value.code == 0
    return Deployment(data_dir, token_file)
