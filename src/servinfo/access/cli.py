"""``servinfo principals add|list|revoke``, ``servinfo read`` and ``servinfo decide``.

Every command authenticates with a token exactly as the API does: a bare name
never acts as anyone.
"""

from __future__ import annotations

from typing import Annotated

import typer

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, err_console, human, print_json, table
from servinfo.cli._session import authorized

principals_app = typer.Typer(help="Who may call servinfo.", no_args_is_help=True)

PrincipalKind = Annotated[
    str,
    typer.Option(
        "--kind",
        help="employee, contractor, agent, processor, service, subject or authorized_agent.",
    ),
]


#: The roles of the policy shipped with servinfo, for help texts (a test keeps them equal);
#: a deployment's own policy may declare others, and a wrong role's error lists those.
SHIPPED_ROLES = (
    "admin",
    "support_engineer",
    "billing_ops",
    "sre",
    "security_analyst",
    "product_analyst",
    "legal_counsel",
    "privacy_officer",
    "ingest",
    "rights",
    "processor",
    "account_holder",
    "authorized_agent",
)


def register(app: typer.Typer) -> None:
    app.add_typer(principals_app, name="principals")
    app.command("read")(read)
    app.command("decide")(decide)


@principals_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A unique name, e.g. alice@ims.example.")],
    kind: PrincipalKind,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="A role of the deployment's policy; the shipped policy's: "
            + ", ".join(SHIPPED_ROLES)
            + ".",
        ),
    ],
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
    shown = table(
        "name", "kind", "role", "region", "entity", "bound to", "revoked",
        ids=("name", "bound to"), title="Principals",
    )  # fmt: skip
    for p in principals:
        shown.add_row(
            p.name, p.kind, p.role, human(p.region), human(p.entity), human(p.binding),
            human(p.revoked_at.date() if p.revoked_at else None),
        )  # fmt: skip
    console.print(shown)


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
    # One block a record (id, time, kind, then a field a line): readable at any width.
    console.print(f"{len(result.records)} records of {subject} for {purpose}", markup=False)
    for r in result.records:
        console.print(f"{r.record_id}  {r.collected_at:%Y-%m-%d %H:%M}  {r.kind}", markup=False)
        for name, value in r.fields.items():
            console.print(f"  {name}: {human(value, name)}", markup=False)
    # What the read did not return, and why; and the transfer it made, if any.
    for withheld, decision in result.decisions.items():
        if not decision.allowed:
            why = "; ".join(reason.text for reason in decision.failures)
            console.print(f"withheld: {withheld}: {why}", markup=False)
    mechanisms = sorted({d.mechanism for d in result.decisions.values() if d.mechanism})
    for mechanism in mechanisms:
        categories = [c for c, d in result.decisions.items() if d.mechanism == mechanism]
        transfer = next(
            (t for c in categories for t in result.decisions[c].texts if t.startswith("transfer")),
            f"transfer under {mechanism}",
        )
        console.print(f"{transfer}: {', '.join(categories)}", markup=False)


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
