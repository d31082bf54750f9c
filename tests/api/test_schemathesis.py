"""schemathesis over ``/openapi.json``: every answer the API gives is one its document describes.

One deployment holds the API tests' world and the demo's simulated Service
Information; schemathesis tests it twice over, each time once with the
admin's token and once with a subject's:

- in-process (ASGI): cases generated from the application's own document,
  valid ones, invalid ones, and valid ones aimed at ids that exist (a subject,
  a record, a data-subject request, an outbox notice, a principal);
- ``schemathesis run`` against the same deployment served by ``servinfo
  serve`` on a loopback port: every phase of its command line (examples,
  coverage of boundary values, fuzzing, stateful sequences).

Four checks hold for every answer: no status ≥ 500, every status documented
for its operation, the content type documented, and the body valid against
the documented schema.

Bounded and repeatable: a fixed number of examples per operation, generated
deterministically in-process (``derandomize``, no shrinking, no example
database) and from a fixed seed on the command line. The principals whose
tokens the runs use are never the target of a revocation.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.python import asgi
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.api.serving import Served, serving
from tests.api.world import World, build_world

from servinfo.api import create_app
from servinfo.deployment import open_deployment
from servinfo.deployment.demo import load_demo

#: Examples per operation, pass and token (the in-process run).
EXAMPLES = 40
#: Examples per operation and phase of ``schemathesis run`` (the served run).
CLI_EXAMPLES = 50
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: The principals whose tokens the run uses: never revoked by it.
TOKENS = ("admin", "ada")
SPARE = "fuzz-spare"
_NO_RATE_LIMITS = {
    "SERVINFO_RATE_LIMITS_PER_ADDRESS_PER_MINUTE": "0",
    "SERVINFO_RATE_LIMITS_PER_TARGET_PER_MINUTE": "0",
    # Codes to the dev mailbox, and "send me a code" answered without its floor.
    "SERVINFO_NOTIFY_EMAIL": "dev_mailbox",
    "SERVINFO_NOTIFY_CODE_ANSWER_MS": "0",
}
Operation = APIOperation[Any, Any, Any, Any]


@dataclass
class Target:
    schema: BaseSchema
    data_dir: Path
    tokens: dict[str, str]
    #: Path parameter → an id that exists, for the pass aimed at existing things.
    known: dict[str, str]


@dataclass
class Run:
    cases: int = 0
    statuses: set[int] = field(default_factory=set)
    #: (operation, check, status) → what failed and the curl command that repeats it.
    failures: dict[tuple[str, str, int], str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with build_world(tmp_path_factory.mktemp("schemathesis")) as world:
        deployment = world.deployment
        load_demo(deployment, customers=4, days=2, seed=14, actor="admin")
        deployment.principal_service.add(
            SPARE, kind="employee", role="support_engineer", region="eu", actor="admin"
        )
        waiting = deployment.rights.open("access", "subj-eu-1", channel="api", actor="admin")
        notice = deployment.rights.send_code(waiting.request_id)
        known = {
            "subject_id": "subj-eu-1",
            "record_id": world.record_ids["profile"],
            "request_id": waiting.request_id,
            "notice_id": notice,
            "name": SPARE,
        }
        # The in-process app reaches the routes that need no token as often as the others
        # (one client address would soon be rate-limited there); the served run keeps
        # the limits, so a 429 they answer is checked too.
        unlimited = open_deployment(deployment.settings.data_dir, _NO_RATE_LIMITS)
        try:
            app = create_app(unlimited)
            schema = schemathesis.openapi.from_asgi("/openapi.json", app)
            tokens = {who: world.tokens[who] for who in TOKENS}
            yield Target(schema, deployment.settings.data_dir, tokens, known)
        finally:
            # schemathesis started the app's lifespan, whose end closes the deployment.
            asgi.shutdown_lifespans()


def _strategies(operation: Operation, known: dict[str, str]) -> Iterator[Any]:
    yield operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    yield operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    names = {parameter.name for parameter in operation.path_parameters}
    fixed = {name: known[name] for name in names & known.keys()}
    if fixed:
        yield operation.as_strategy(path_parameters=fixed)


def fuzz(target: Target, who: str) -> Run:
    headers = {"Authorization": f"Bearer {target.tokens[who]}"}
    run = Run()

    def spares_our_principals(case: Case[Operation]) -> bool:
        return (case.path_parameters or {}).get("name") not in TOKENS

    for result in target.schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document is one schemathesis can read
        operation = result.ok()
        for strategy in _strategies(operation, target.known):

            @hypothesis.given(case=strategy.filter(spares_our_principals))
            @hypothesis.settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                suppress_health_check=list(hypothesis.HealthCheck),
            )
            def send(case: Case[Operation]) -> None:
                run.cases += 1
                response = case.call(headers=headers)
                run.statuses.add(response.status_code)
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except FailureGroup as group:
                    for failure in group.exceptions:
                        _record(run, case, response.status_code, failure)
                except Failure as failure:
                    _record(run, case, response.status_code, failure)

            # Unsatisfiable: nothing of the operation can be made invalid (no input).
            with contextlib.suppress(hypothesis.errors.Unsatisfiable):
                send()
    return run


def _record(run: Run, case: Case[Operation], status: int, failure: Failure) -> None:
    key = (case.operation.label, failure.title, status)
    if key not in run.failures:
        run.failures[key] = f"{failure.message}\n    {case.as_curl_command()}"


@pytest.mark.slow
@pytest.mark.parametrize("who", TOKENS)
def test_every_answer_is_one_the_document_describes(target: Target, who: str) -> None:
    started = time.monotonic()
    run = fuzz(target, who)
    elapsed = time.monotonic() - started
    report = "\n".join(
        f"{label} [{status}] {title}: {detail}"
        for (label, title, status), detail in sorted(run.failures.items())
    )
    print(f"\n{who}: {run.cases} cases in {elapsed:.1f} s, statuses {sorted(run.statuses)}")
    assert not run.failures, f"{len(run.failures)} failures:\n{report}"
    # The run reached past authentication and validation, to things that exist.
    assert {200, 403, 404, 422} <= run.statuses


@pytest.fixture(scope="module")
def served(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The same deployment served by ``servinfo serve`` on a loopback port."""
    log = tmp_path_factory.mktemp("served") / "serve.log"
    with serving(target.data_dir, log, workers=1) as server:
        yield server


@pytest.mark.slow
@pytest.mark.parametrize("who", TOKENS)
def test_schemathesis_command_line_over_a_served_deployment(
    target: Target, served: Served, who: str, tmp_path: Path
) -> None:
    """Every phase of ``schemathesis run`` (examples, coverage, fuzzing, stateful) on a socket.

    The route that could revoke the token the run sends is left out (the in-process
    run above covers it, away from those names).
    """
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{served.url}/openapi.json",
        "--header", f"Authorization: Bearer {target.tokens[who]}",
        "--checks", ",".join(check.__name__ for check in CHECKS),
        "--exclude-path", "/v1/principals/{name}",
        "--max-examples", str(CLI_EXAMPLES),
        "--seed", "14",
        "--workers", "1", "--no-color",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    started = time.monotonic()
    # In a folder of its own: schemathesis keeps a cache of the crashes it found
    # (./.schemathesis), which a later run would replay first.
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path
    )
    print(f"\n{who}: schemathesis run in {time.monotonic() - started:.1f} s")
    output = finished.stdout + finished.stderr
    summary = output[output.rfind("SUMMARY") :]
    assert finished.returncode == 0, output[-12_000:]
    assert "Test cases:" in summary, output[-4_000:]
    print(summary)


# What the runs above found, kept as plain tests (the runs' cases depend on their seeds).


@pytest.mark.parametrize(
    "path",
    [
        "/v1/audit/consistency?from=0&to=101518318370865564266702572441567232",
        "/v1/audit/consistency?from=9223372036854775808",
        "/v1/audit/proof/9223372036854775808",
    ],
)
def test_a_tree_size_past_the_databases_integers_is_invalid_not_a_crash(
    world: World, path: str
) -> None:
    answer = world.client.get(path, headers=world.headers("admin"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_request"
