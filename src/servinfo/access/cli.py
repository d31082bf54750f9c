"""``servinfo principals add|list|revoke``, ``servinfo read`` and ``servinfo decide``.

Every command authenticates with a token exactly as the API does: a bare name
never acts as anyone.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, err_console, print_json
from servinfo.cli._session import authorized

principals_app = typer.Typer(help="Who may call servinfo.", no_args_is_help=True)

PrincipalKind = Annotated[
    str,
    typer.Option(
        "--kind",
        help="employee, contractor, agent, processor, service, subject or authorized_agent.",
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(principals_app, name="principals")
    app.command("read")(read)
    app.command("decide")(decide)


@principals_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A unique name, e.g. alice@ims.example.")],
    kind: PrincipalKind,
    role: Annotated[str, typer.Option("--role", help="A role of the policy.")],
    region: Annotated[
        str | None, typer.Option("--region", help="Where the principal works.")
    ] = None,
    entity: Annotated[
        str | None, typer.Option("--entity", help="Legal entity (default: the region's).")
    ] = None,
    binding: Annotated[
        str | None,
        typer.Option("--binding", help="Service id, processor id or subject id it is tied to."),
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a principal and print its token once."""
    with authorized(data_dir, token, "manage_principals", token_file=token_file) as (
        deployment,
        me,
    ):
        issued = deployment.principal_service.add(
            name,
            kind=kind,
            role=role,
            region=region,
            entity=entity,
            binding=binding,
            actor=me.name,
        )
    if as_json:
        print_json({"name": issued.principal.name, "role": role, "token": issued.token})
        return
    err_console.print(f"added {issued.principal.name} ({kind}, role {role}); token, shown once:")
    print(issued.token)


@principals_app.command("list")
def list_principals(
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every principal, revoked ones included."""
    with authorized(data_dir, token, "manage_principals", token_file=token_file) as (
        deployment,
        _me,
    ):
        principals = deployment.principal_service.all()
    if as_json:
        print_json(
            [
                {
                    "name": p.name,
                    "kind": p.kind,
                    "role": p.role,
                    "region": p.region,
                    "entity": p.entity,
                    "binding": p.binding,
                    "created_at": p.created_at.isoformat(),
                    "revoked_at": p.revoked_at.isoformat() if p.revoked_at else None,
                }
                for p in principals
            ]
        )
        return
    table = Table(
        "name", "kind", "role", "region", "entity", "bound to", "revoked", title="Principals"
    )
    for p in principals:
        table.add_row(
            p.name,
            p.kind,
            p.role,
            p.region or "",
            p.entity or "",
            p.binding or "",
            f"{p.revoked_at:%Y-%m-%d}" if p.revoked_at else "",
        )
    console.print(table)


@principals_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument()],
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """Revoke a principal's token: it is refused from now on."""
    with authorized(data_dir, token, "manage_principals", token_file=token_file) as (
        deployment,
        me,
    ):
        deployment.principal_service.revoke(name, actor=me.name)
    console.print(f"revoked {name}", markup=False)


def read(
    subject: Annotated[str, typer.Option("--subject", help="The subject whose records to read.")],
    purpose: Annotated[
        str | None, typer.Option("--purpose", help="Why you read: one of the policy's purposes.")
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option("--category", help="Limit to these categories.")
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Read a subject's records for a purpose: decided, narrowed and audited."""
    with authorized(data_dir, token, token_file=token_file) as (deployment, me):
        result = deployment.reads.read_subject(me, purpose, subject, categories=category)
    if as_json:
        print_json(result.to_dict())
        return
    table = Table(
        "collected", "kind", "fields", title=f"{len(result.records)} records for {purpose}"
    )
    for r in result.records:
        shown = ", ".join(f"{k}={v}" for k, v in r.fields.items())
        table.add_row(f"{r.collected_at:%Y-%m-%d %H:%M}", r.kind, shown)
    console.print(table)


def decide(
    purpose: Annotated[str | None, typer.Option("--purpose")] = None,
    category: Annotated[str, typer.Option("--category")] = "account",
    region: Annotated[str, typer.Option("--region", help="Where the data lives.")] = "eu",
    subject: Annotated[str | None, typer.Option("--subject")] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Explain the decision on a read without reading data."""
    with authorized(data_dir, token, token_file=token_file) as (deployment, me):
        decision = deployment.reads.explain(me, purpose, category, region, subject)
    if as_json:
        print_json(
            {
                "allowed": decision.allowed,
                "mechanism": decision.mechanism,
                "reasons": [
                    {"code": r.code, "passed": r.passed, "text": r.text} for r in decision.reasons
                ],
            }
        )
        return
    console.print("[bold green]allow[/]" if decision.allowed else "[bold red]deny[/]")
    for r in decision.reasons:
        console.print(f"  {'✓' if r.passed else '✗'} {r.text}", markup=False)
