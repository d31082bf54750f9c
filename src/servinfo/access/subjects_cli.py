"""``servinfo subjects list``: the subjects servinfo holds data about, ids and home regions;
``servinfo subjects find``: the ids of those with an e-mail address, phone number or username.

``subjects close`` and ``subjects reopen`` are defined by :mod:`servinfo.retention.cli`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, err_console, print_json
from servinfo.cli._session import authorized
from servinfo.retention.cli import close_account, reopen_account

__all__ = ["register", "subjects_app"]

subjects_app = typer.Typer(
    help="The subjects servinfo holds data about: ids and home regions.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(subjects_app, name="subjects")


# Account closure is retention's (it starts the periods that count from it).
subjects_app.command("close")(close_account)
subjects_app.command("reopen")(reopen_account)


@subjects_app.command("list")
def list_subjects(
    region: Annotated[
        str | None, typer.Option("--region", help="Only subjects whose data lives here.")
    ] = None,
    after: Annotated[
        str | None, typer.Option("--after", help="Start after this subject id (to page on).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Subject ids and home regions, in the regions your role covers; audited.

    Needs the list_subjects permission. Erased subjects are not listed.
    """
    with authorized(data_dir, token, "list_subjects", token_file=token_file) as (deployment, me):
        subjects = deployment.subject_listing.list(me, region=region, after=after, limit=limit)
    if as_json:
        print_json([{"subject": s.subject_id, "home_region": s.home_region} for s in subjects])
        return
    for subject in subjects:
        console.print(f"{subject.subject_id}  {subject.home_region}", markup=False)
    if len(subjects) == limit:
        err_console.print(
            f"(first {limit}; the next page: --after {subjects[-1].subject_id})", markup=False
        )


@subjects_app.command("find")
def find_subjects(
    email: Annotated[str | None, typer.Option("--email", help="An e-mail address.")] = None,
    phone: Annotated[
        str | None, typer.Option("--phone", help="A phone number (E.164, or national).")
    ] = None,
    username: Annotated[str | None, typer.Option("--username", help="A username.")] = None,
    phone_region: Annotated[
        str | None,
        typer.Option("--phone-region", help="The country of a national number (DE, GB …)."),
    ] = None,
    organization: Annotated[
        str | None, typer.Option("--organization", help="Only this organization's subjects.")
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Subject ids only, for one identifier the person knows; audited (never the value).

    Needs the handle_requests permission. Several ids mean accounts in several
    organizations: name one with --organization.
    """
    given = [(k, v) for k, v in (("email", email), ("phone", phone), ("username", username)) if v]
    if len(given) != 1:
        from servinfo.access.identifiers import InvalidIdentifier

        raise InvalidIdentifier("give exactly one of --email, --phone, --username")
    ((kind, value),) = given
    with authorized(data_dir, token, "handle_requests", token_file=token_file) as (deployment, me):
        found = deployment.subject_finder.find_subjects(
            kind, value, principal=me, organization=organization, default_region=phone_region
        )
    if as_json:
        print_json(found)
        return
    for subject_id in found:
        console.print(subject_id, markup=False)
    if not found:
        err_console.print(f"no subject with that {kind}", markup=False)


@subjects_app.command("index-identifiers")
def index_identifiers(
    region: Annotated[
        list[str] | None, typer.Option("--region", help="Only these regions (repeatable).")
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the identifier indexes (e-mail, phone, username) of records stored before
    their kind declared any: after an upgrade, or a policy that adds an identifier.

    Needs the rotate_keys permission; audited with counts only; a rerun changes nothing.
    """
    with authorized(data_dir, token, "rotate_keys", token_file=token_file) as (deployment, me):
        regions = region or list(deployment.regions)
        counts = deployment.identifier_backfill.run(me, regions)
    if as_json:
        print_json(counts)
        return
    console.print(
        f"indexed {counts['records']} records; {counts['invalid']} values were no valid "
        "identifier and stay unindexed",
        markup=False,
    )
