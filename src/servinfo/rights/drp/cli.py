"""``servinfo drp …``: the authorized-agent registry and status callbacks.

Every command authenticates with a token exactly as the API does and needs the
``handle_requests`` permission. Mount with :func:`register` (``servinfo.cli.app``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, print_json
from servinfo.cli._session import authorized

__all__ = ["drp_app", "register"]

drp_app = typer.Typer(help="Data Rights Protocol: authorized agents and status callbacks.")
agent_app = typer.Typer(help="Authorized agents: register their verify keys.")
drp_app.add_typer(agent_app, name="agent")


#: What every command here needs of the principal's role.
PERMISSION = "handle_requests"


def register(app: typer.Typer) -> None:
    app.add_typer(drp_app, name="drp")


@agent_app.command("add")
def add_agent(
    agent_id: Annotated[str, typer.Argument(help="The agent's id in the DRP directory.")],
    verify_key: Annotated[
        str, typer.Option("--verify-key", help="Its Ed25519 verify key, base64 (32 bytes).")
    ],
    status_callback: Annotated[
        str | None,
        typer.Option("--status-callback", help="https URL for requests that name none."),
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register an agent's verify key, received out of band; it may then pair."""
    from servinfo.rights.drp.agents import decode_verify_key
    from servinfo.rights.drp.service import DrpService

    raw = decode_verify_key(verify_key)
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, me):
        agent = DrpService.for_deployment(deployment).agents.register(
            agent_id, raw, actor=me.name, status_callback=status_callback
        )
    if as_json:
        print_json(agent.to_dict())
        return
    console.print(f"registered authorized agent {agent.agent_id}", markup=False)


@agent_app.command("list")
def list_agents(
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """The registered agents and whether they paired."""
    from servinfo.rights.drp.service import DrpService

    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _me):
        agents = DrpService.for_deployment(deployment).agents.all()
    if as_json:
        print_json([a.to_dict() for a in agents])
        return
    for agent in agents:
        paired = f"paired {agent.paired_at:%Y-%m-%d}" if agent.paired_at else "not paired"
        console.print(f"{agent.agent_id}  {paired}", markup=False)


@drp_app.command("sync")
def sync(
    data_dir: DataDirOption = None, token_file: TokenFileOption = None, token: TokenOption = None
) -> None:
    """Derive every live DRP request's status; queue a callback per change (run periodically)."""
    from servinfo.rights.drp.service import DrpService

    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _me):
        changed = DrpService.for_deployment(deployment).sync()
    console.print(f"{changed} status changes; their callbacks are queued jobs", markup=False)
