"""``servinfo simulate``: realistic Service Information, to a file or to a running servinfo."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from servinfo.cli._output import err_console, print_json

if TYPE_CHECKING:
    from servinfo.collect.simulator.fields import RecordShaper
    from servinfo.collect.simulator.simulation import Tally


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)


def _token(service: str) -> Any:
    return typer.Option(
        f"--token-{service}",
        envvar=f"SERVINFO_TOKEN_{service.upper()}",
        help=f"Token of the {service} service's principal, for --ingest. Never echoed.",
        show_default=False,
        show_envvar=True,
    )


def simulate_command(
    customers: Annotated[
        int,
        typer.Option("--customers", min=1, help="Customer organizations (partners come on top)."),
    ] = 20,
    days: Annotated[int, typer.Option("--days", min=1, help="Days to simulate.")] = 7,
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same output.")] = 1,
    until: Annotated[
        dt.datetime | None,
        typer.Option(
            "--until",
            formats=["%Y-%m-%d"],
            help="Last simulated day, YYYY-MM-DD (default: a date fixed by the seed).",
            show_default=False,
        ),
    ] = None,
    intensity: Annotated[
        float,
        typer.Option("--intensity", min=0.01, help="How much happens per organization and day."),
    ] = 1.0,
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy", help="Policy YAML file (default: the policy shipped with servinfo)."
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out", help="Write NDJSON to this file ('-' for stdout).", show_default=False
        ),
    ] = None,
    ingest: Annotated[
        str | None,
        typer.Option("--ingest", help="Send to the servinfo API at this URL.", show_default=False),
    ] = None,
    token_platform: Annotated[str | None, _token("platform")] = None,
    token_identity: Annotated[str | None, _token("identity")] = None,
    token_support: Annotated[str | None, _token("support")] = None,
    cacert: Annotated[
        Path | None,
        typer.Option("--cacert", help="The server's (self-signed) certificate, for --ingest."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Simulate the three services' Service Information: identity, platform, support.

    Partners and their customers over the policy's regions, sign-ups, settings,
    usage, logins with attacks among them, crash reports, tickets and payments.
    Write it with --out, or send it with --ingest, one token per service.
    """
    from servinfo.collect.simulator.fields import RecordShaper
    from servinfo.collect.simulator.sending import send
    from servinfo.collect.simulator.simulation import (
        SimulationError,
        Tally,
        default_until,
        simulate,
        write_ndjson,
    )
    from servinfo.policy.loading import load_policy

    if (out is None) == (ingest is None):
        raise SimulationError("give exactly one of --out FILE ('-' for stdout) or --ingest URL")
    if as_json and out == "-":
        raise SimulationError("--json prints on stdout, where --out - writes the data")
    policy = load_policy(policy_file)
    last = until.date() if until is not None else default_until(seed)
    shaper = RecordShaper(policy)
    tally = Tally()
    objects = tally.through(simulate(policy, customers, days, seed, last, intensity, shaper))
    first = dt.datetime.combine(last - dt.timedelta(days=days - 1), dt.time(), dt.UTC)
    if out == "-":
        write_ndjson(objects, sys.stdout)
        sys.stdout.flush()
        destination = "stdout"
    elif out is not None:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="\n") as fp:
            write_ndjson(_progress(objects, first, days), fp)
        destination = str(path)
    else:
        assert ingest is not None
        given = {"platform": token_platform, "identity": token_identity, "support": token_support}
        tokens = {
            service: given.get(service) or os.environ.get(f"SERVINFO_TOKEN_{service.upper()}")
            for service in policy.services
        }
        verify = str(cacert) if cacert is not None else True
        sent = send(_progress(objects, first, days), ingest, tokens, verify)
        accepted = ", ".join(f"{s} {n}" for s, n in sent.accepted.items())
        destination = f"{ingest} (accepted: {accepted}; rejected: {len(sent.rejected)})"
        if sent.rejected:
            _summarize(tally, shaper, destination, first.date(), last, as_json)
            first_rejection = sent.rejected[0]
            raise SimulationError(
                f"{len(sent.rejected)} objects were rejected; the first, sent by "
                f"{first_rejection.service}: {first_rejection.error}: {first_rejection.detail}"
            )
    _summarize(tally, shaper, destination, first.date(), last, as_json)


def _progress(
    objects: Iterable[dict[str, Any]], first: dt.datetime, days: int
) -> Iterator[dict[str, Any]]:
    """Pass the objects on, showing on stderr how far through the simulated days they are."""
    total = days * 86_400
    columns = (TextColumn("simulating"), BarColumn(), TextColumn("{task.fields[day]}"))
    with Progress(*columns, TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task("simulate", total=total, day="")
        for count, obj in enumerate(objects):
            if count % 500 == 0 and obj.get("type", "record") == "record":
                at = dt.datetime.fromisoformat(str(obj["collected_at"]))
                bar.update(task, completed=(at - first).total_seconds(), day=f"{at:%Y-%m-%d}")
            yield obj
        bar.update(task, completed=total)


def _summarize(
    tally: Tally,
    shaper: RecordShaper,
    destination: str,
    first: dt.date,
    last: dt.date,
    as_json: bool,
) -> None:
    if as_json:
        print_json(
            {
                "destination": destination,
                "from": first.isoformat(),
                "until": last.isoformat(),
                "types": dict(sorted(tally.types.items())),
                "kinds": dict(sorted(tally.kinds.items())),
                "skipped_kinds": dict(sorted(shaper.skipped.items())),
            }
        )
        return
    err_console.print(
        f"simulated {first} to {last} → {destination}: {tally.summary()}", markup=False
    )
    if shaper.skipped:
        left_out = ", ".join(f"{k} {n}" for k, n in sorted(shaper.skipped.items()))
        err_console.print(f"not in the policy, left out: {left_out}", markup=False)
