"""``servinfo admin recover``: break-glass, an administrator token issued offline.

When the last administrator's token is lost, nobody can add or revoke anyone
through the API or the CLI (and the last administrator cannot be revoked, so
the loss is the only way there). Whoever holds the master key can already
decrypt every record; this command takes that possession — the master key
unlocking the keyring — as the authority to issue a new administrator, and
says so loudly: a warning line, an ``admin_recovery`` audit entry of its own,
and the principal's addition audited as well. See docs/keys-and-recovery.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from servinfo.cli._options import DataDirOption, JsonOption
from servinfo.cli._output import console, err_console, print_json

admin_app = typer.Typer(
    help="Break-glass administration, offline, with the master key.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")


@admin_app.command("recover")
def recover(
    data_dir: DataDirOption = None,
    admin_token_file: Annotated[
        Path | None,
        typer.Option(
            "--admin-token-file",
            help="Write the new token to this new file (mode 0600) instead of printing it.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a new administrator token with the master key, when every admin token is lost.

    No token is needed: the master key (SERVINFO_MASTER_KEY or keys.master_key_file)
    must unlock the keyring. The new principal is audited as admin_recovery; revoke
    the lost administrator's principal with the new token afterwards.
    """
    from servinfo.crypto import write_secret_file
    from servinfo.deployment import open_deployment
    from servinfo.deployment.errors import DeploymentError

    # Refused before anything is issued: a token nobody can be given is a token lost.
    if admin_token_file is not None and admin_token_file.exists():
        raise DeploymentError(
            f"--admin-token-file {admin_token_file} already exists; name a new file"
        )
    # Opening the deployment unwraps every key of the keyring with the master key:
    # a wrong or missing key stops here, with nothing issued.
    with open_deployment(data_dir, dict(os.environ)) as deployment:
        issued, seq = deployment.principal_service.recover_admin()
    name, token = issued.principal.name, issued.token
    err_console.print(
        f"warning: break-glass: issued administrator {name!r} (role {issued.principal.role}) "
        f"with the master key; audited as admin_recovery, entry {seq}. Revoke the lost "
        "administrator's principal with the new token (servinfo principals revoke NAME).",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if admin_token_file is not None:
        write_secret_file(admin_token_file, (token + "\n").encode())
    if as_json:
        summary: dict[str, object] = {
            "principal": name,
            "role": issued.principal.role,
            "audit_seq": seq,
        }
        print_json(summary if admin_token_file is not None else {**summary, "token": token})
        return
    if admin_token_file is not None:
        console.print(f"token written to {admin_token_file} (mode 0600)", markup=False)
        return
    console.print("Administrator token (shown once, store it in a secret manager):")
    print(token)
