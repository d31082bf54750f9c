"""``servinfo witness …``: create, configure and run a tlog-witness.

::

    servinfo witness init     --dir D --name NAME            keys and empty state
    servinfo witness add-log  --dir D --origin O --key VKEY  follow a log (--key repeatable)
    servinfo witness logs     --dir D                        the logs followed, their state
    servinfo witness evidence --dir D [--origin O]           refused checkpoints a log signed
    servinfo witness key      --dir D                        the witness's verifier keys
    servinfo witness serve    --dir D --host H --port N      answer add-checkpoint over HTTP

The commands need only the witness directory, never a deployment. The witness
package (and with it the audit formats, Starlette, uvicorn) is imported inside
each command, so ``servinfo witness --help`` stays quick. Errors are one line
and exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from servinfo.cli._output import console, err_console, print_json

__all__ = ["register", "witness_app"]

witness_app = typer.Typer(
    help="A witness: cosigns the checkpoints of logs it follows, if they only grow.",
    no_args_is_help=True,
)

DirOption = Annotated[
    Path,
    typer.Option("--dir", help="The witness directory (its key and state).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def register(parent: typer.Typer) -> None:
    """Mount ``witness`` on the ``servinfo`` application."""
    parent.add_typer(witness_app, name="witness")


@witness_app.command("init")
def init(
    directory: DirOption,
    name: Annotated[
        str,
        typer.Option(
            "--name",
            help="The witness's name, the key name of its cosignatures "
            "(a schema-less URL such as witness.example.com/w1).",
        ),
    ],
) -> None:
    """Create a witness: an ML-DSA-44 and an Ed25519 key (mode 0600) and empty state."""
    from servinfo.witness.directory import init_witness

    keys = init_witness(directory, name)
    console.print(f"witness {keys.name} created in {directory}; its verifier keys:")
    for vkey in keys.vkeys():
        console.print(vkey, markup=False)


@witness_app.command("add-log")
def add_log(
    directory: DirOption,
    origin: Annotated[str, typer.Option("--origin", help="The log's origin line.")],
    keys: Annotated[
        list[str],
        typer.Option(
            "--key",
            help="A verifier key (vkey) of the log; repeat for several (a rotation).",
            show_default=False,
        ),
    ],
) -> None:
    """Follow a log: cosign its checkpoints signed by one of these keys."""
    from servinfo.audit.errors import AuditError
    from servinfo.audit.note import parse_vkey
    from servinfo.witness.directory import open_witness
    from servinfo.witness.errors import WitnessSetupInvalid

    if not origin or "\n" in origin:
        raise WitnessSetupInvalid("--origin must be one non-empty line")
    for number, vkey in enumerate(keys, start=1):
        try:
            parse_vkey(vkey)
        except AuditError as error:
            raise WitnessSetupInvalid(f"--key number {number}: {error.message}") from None
    log = open_witness(directory).store.add_log(origin, keys)
    state = f"cosigned up to size {log.state.size}" if log.state.cosigned else "nothing cosigned"
    console.print(f"following {log.origin!r} with {len(log.vkeys)} key(s); {state}", markup=False)


@witness_app.command("logs")
def logs(directory: DirOption, as_json: JsonOption = False) -> None:
    """The logs this witness follows: their keys and the last checkpoint cosigned."""
    from servinfo.witness.directory import open_witness

    followed = open_witness(directory).store.logs()
    if as_json:
        print_json(
            [
                {
                    "origin": log.origin,
                    "size": log.state.size,
                    "root": log.state.root.hex() if log.state.root else None,
                    "cosigned_at": log.state.cosigned_at,
                    "keys": list(log.vkeys),
                }
                for log in followed
            ]
        )
        return
    if not followed:
        console.print("no log followed: add one with 'servinfo witness add-log'")
    for log in followed:
        root = log.state.root.hex() if log.state.root else "-"
        console.print(
            f"{log.origin}  size {log.state.size}  root {root}  {len(log.vkeys)} key(s)",
            markup=False,
        )


@witness_app.command("evidence")
def evidence(
    directory: DirOption,
    origin: Annotated[
        str | None, typer.Option("--origin", help="Only this log's.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Checkpoints a log signed that the witness refused as inconsistent: possible forks."""
    from servinfo.witness.directory import open_witness

    kept = open_witness(directory).store.evidence(origin)
    if as_json:
        print_json(
            [
                {
                    "origin": item.origin,
                    "received_at": item.received_at,
                    "reason": item.reason,
                    "note": item.note.decode(),
                    "cosigned_note": item.cosigned_note.decode() if item.cosigned_note else None,
                }
                for item in kept
            ]
        )
        return
    if not kept:
        console.print("no refused checkpoint kept")
    for item in kept:
        console.print(f"{item.received_at}  {item.origin}  {item.reason}", markup=False)


@witness_app.command("key")
def key(directory: DirOption) -> None:
    """Print the witness's verifier keys, one per line (ML-DSA-44, then Ed25519)."""
    from servinfo.witness.keys import KEY_FILE, WitnessKeys

    for vkey in WitnessKeys.read(directory / KEY_FILE).vkeys():
        console.print(vkey, markup=False, soft_wrap=True)


@witness_app.command("serve")
def serve(
    directory: DirOption,
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="The port to listen on.", min=1, max=65535)
    ] = 8081,
) -> None:
    """Answer POST /add-checkpoint (c2sp.org/tlog-witness) over HTTP until stopped."""
    import uvicorn

    from servinfo.api.server import check_address
    from servinfo.cli._output import log_to_stderr
    from servinfo.witness.app import create_app
    from servinfo.witness.directory import open_witness

    witness = open_witness(directory)
    check_address(host, port, in_settings=False)
    log_to_stderr()
    err_console.print(f"witness {witness.name} listening on {host}:{port}", markup=False)
    uvicorn.run(create_app(witness), host=host, port=port, log_level="info", access_log=False)
