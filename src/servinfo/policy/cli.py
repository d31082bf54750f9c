"""``servinfo policy …``, ``servinfo notice render`` and ``servinfo ropa``.

``policy activate`` lives here with the other policy commands, so the group is
complete without the deployment; like every import beyond the command line's
own, the deployment's is made when the command runs.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, err_console, print_json
from servinfo.cli._session import authorized

if TYPE_CHECKING:
    from servinfo.policy.model import Policy

__all__ = ["notice_app", "policy_app", "register"]

policy_app = typer.Typer(help="Check, show, export and activate the policy.", no_args_is_help=True)
notice_app = typer.Typer(
    help="The privacy notice, generated from the policy.", no_args_is_help=True
)

PolicyOption = Annotated[
    Path | None,
    typer.Option("--policy", help="Policy YAML file (default: the policy shipped with servinfo)."),
]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
]


class NoticeFormat(StrEnum):
    md = "md"
    html = "html"


class RopaFormat(StrEnum):
    csv = "csv"
    json = "json"


class ExportFormat(StrEnum):
    fideslang = "fideslang"
    dpv = "dpv"


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
    app.add_typer(notice_app, name="notice")
    app.command("ropa")(ropa)


def _write(text: str, out: Path | None) -> None:
    if out is None:
        print(text, end="" if text.endswith("\n") else "\n")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, "utf-8")
    err_console.print(f"wrote {out}")


@policy_app.command("check")
def check(
    file: Annotated[
        Path | None, typer.Argument(help="Policy YAML file (default: shipped policy).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Report every problem of a policy with its location; exit 0 when valid, 2 otherwise."""
    from servinfo.policy.loading import check_policy_file

    result = check_policy_file(file, dt.date.today())
    if as_json:
        print_json(
            {
                "valid": not result.errors,
                "version": result.policy.version if result.policy else None,
                "problems": [
                    {
                        "severity": p.severity,
                        "line": p.line,
                        "column": p.column,
                        "path": p.path,
                        "message": p.message,
                    }
                    for p in result.problems
                ],
            }
        )
    else:
        for problem in result.problems:
            err_console.print(f"{problem.severity}: {problem}", markup=False)
        if result.policy is not None:
            name = file.name if file else "default policy"
            console.print(f"{name}: valid, version {result.policy.version}", markup=False)
    if result.errors:
        if not as_json:
            count = len(result.errors)
            err_console.print(f"{count} error{'s' if count != 1 else ''}", markup=False)
        raise typer.Exit(2)


@policy_app.command("show")
def show(policy_file: PolicyOption = None, as_json: JsonOption = False) -> None:
    """Print the effective policy and its version."""
    from servinfo.policy.loading import load_policy

    policy = load_policy(policy_file)
    if as_json:
        print_json({"version": policy.version, "policy": policy.model_dump(mode="json")})
        return
    _show_tables(policy)


def _show_tables(policy: Policy) -> None:
    from rich.table import Table

    console.print(f"[bold]{policy.organization.name}[/] policy, version {policy.version}")
    categories = Table("category", "name", "kinds", title="Service Information")
    for cat_id, category in policy.categories.items():
        categories.add_row(cat_id, category.name, ", ".join(category.kinds))
    console.print(categories)
    purposes = Table("purpose", "categories", "objectable", "automated", title="Purposes")
    for purpose_id, purpose in policy.purposes.items():
        purposes.add_row(
            purpose_id,
            ", ".join(purpose.categories),
            "yes" if purpose.objectable else "no",
            "yes" if purpose.automated_decisions else "no",
        )
    console.print(purposes)
    regions = Table("region", "location", "entity", title="Regions")
    for region_id, region in policy.regions.items():
        regions.add_row(region_id, region.location, policy.legal_entities[region.entity].name)
    console.print(regions)
    roles = Table("role", "purposes", "categories", "permissions", title="Roles")
    for role_id, role in policy.roles.items():
        roles.add_row(
            role_id,
            ", ".join(role.purposes),
            ", ".join(role.categories),
            ", ".join(role.permissions),
        )
    console.print(roles)


@policy_app.command("export")
def export(
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="fideslang YAML or W3C DPV JSON-LD.")
    ],
    policy_file: PolicyOption = None,
    out: OutOption = None,
) -> None:
    """Export the policy for other tools: fideslang taxonomy or W3C DPV."""
    from servinfo.policy import interchange
    from servinfo.policy.loading import load_policy

    policy = load_policy(policy_file)
    text = (
        interchange.export_fideslang(policy)
        if fmt is ExportFormat.fideslang
        else interchange.export_dpv(policy)
    )
    _write(text, out)


@notice_app.command("render")
def render(
    policy_file: PolicyOption = None,
    fmt: Annotated[
        NoticeFormat, typer.Option("--format", help="Markdown or standalone HTML.")
    ] = NoticeFormat.md,
    region: Annotated[
        str | None, typer.Option("--region", help="Render the variant for this region's regime.")
    ] = None,
    out: OutOption = None,
) -> None:
    """Generate the privacy notice from the policy."""
    from servinfo.policy.loading import load_policy
    from servinfo.policy.notice import render_notice

    policy = load_policy(policy_file)
    _write(render_notice(policy, fmt.value, region=region), out)


def ropa(
    policy_file: PolicyOption = None,
    fmt: Annotated[RopaFormat, typer.Option("--format", help="CSV or JSON.")] = RopaFormat.json,
    out: OutOption = None,
) -> None:
    """The records of processing activities (GDPR Art. 30(1)), from the policy."""
    from servinfo.policy import ropa as ropa_module
    from servinfo.policy.loading import load_policy

    policy = load_policy(policy_file)
    text = ropa_module.ropa_csv(policy) if fmt is RopaFormat.csv else ropa_module.ropa_json(policy)
    _write(text, out)


@policy_app.command("activate")
def activate(
    file: Annotated[Path, typer.Argument(help="The policy YAML to enforce from now on.")],
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate a policy, record it, and make it the one every worker enforces.

    Workers swap their compiled tables within seconds; the notice and the
    records of processing generated from the same file stay in step.
    """
    from servinfo.deployment.errors import DeploymentError
    from servinfo.policy.loading import load_policy

    policy = load_policy(file)
    with authorized(data_dir, token, "reload_policy", token_file=token_file) as (deployment, me):
        previous = deployment.policy_versions.active()
        deployment.principal_service.check_policy_keeps_an_administrator(policy)
        missing = sorted(set(policy.regions) - set(deployment.regions))
        if missing:
            raise DeploymentError(
                f"the policy declares regions with no database: {', '.join(missing)}"
            )
        deployment.policy_versions.record(policy.version, policy.model_dump_json(), activate=True)
        deployment.audit.record(
            "policy_change",
            actor=me.name,
            outcome="activated",
            details={
                "version": policy.version,
                "previous": previous.version if previous else None,
            },
        )
    if as_json:
        print_json({"version": policy.version, "previous": previous.version if previous else None})
        return
    console.print(f"active policy is now {policy.version}", markup=False)
