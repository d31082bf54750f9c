"""HTTP routes of ingest: ``POST /v1/records`` and ``POST /v1/records:batch``.

Both authenticate a ``service`` principal's token. Bodies are read as a
stream and cut at ``limits.max_body_bytes`` even when no Content-Length was
sent (the application's middleware already refuses a declared length over
the limit). A single object is answered with the others that arrive with it
(:mod:`servinfo.collect.singles`). A batch with an ``Idempotency-Key`` header
is read whole (it is hashed before anything is processed, see
:mod:`servinfo.collect.idempotency`); without one it is processed while it
streams in, a chunk at a time; one that outgrows the limit is cut there: the
lines received in full are processed and listed in the 413 answer
(``processed_lines``, ``accepted``, ``rejected``). The batches of a worker
take turns (:class:`Batches`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from servinfo.api.dependencies import DeploymentDep, PrincipalDep, TokenDep
from servinfo.api.errors import error_response
from servinfo.collect.batch import Batch, BatchResult
from servinfo.collect.idempotency import Claim, IdempotencyStore, StoredAnswer, request_hash
from servinfo.collect.service import Collector
from servinfo.collect.singles import SingleRequest, SingleRequests
from servinfo.deployment import Deployment
from servinfo.store import Principal, RequestMark

router = APIRouter(prefix="/v1", tags=["collect"])

_KEY_HEADER = "idempotency-key"
Answer = tuple[int, dict[str, Any]]
_T = TypeVar("_T")


class _TooLarge(Exception):
    pass


def _too_large(limit: int, **extra: object) -> JSONResponse:
    return error_response(
        413, "payload_too_large", f"the body exceeds the limit of {limit} bytes", **extra
    )


async def _read_body(request: Request, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise _TooLarge()
        parts.append(part)
    return b"".join(parts)


def _answer(answer: Answer, *, replayed: bool = False) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(answer[1], answer[0], headers=headers)


def _once(
    store: IdempotencyStore,
    principal: Principal,
    key: str,
    body: bytes,
    work: Callable[[Claim], tuple[Answer, bool]],
) -> tuple[Answer, bool]:
    """Run ``work`` once per idempotency key: its answer, or the one given before (replayed).

    ``work`` says whether it committed the answer itself (with its last entry).
    """
    claimed = store.begin(principal.principal_id, key, request_hash("/v1/records:batch", body))
    if isinstance(claimed, StoredAnswer):
        return (claimed.status_code, claimed.body), True
    try:
        answer, answered = work(claimed)
    except BaseException:
        store.abandon(claimed)
        raise
    if not answered:
        store.finish(claimed, *answer)
    return answer, False


@router.post(
    "/records",
    status_code=201,
    responses={
        200: {"description": "The object was there already (a replay, or registered alike)."},
        409: {"description": "Registered otherwise before, or the key is in progress."},
    },
)
async def post_record(request: Request, deployment: DeploymentDep, token: TokenDep) -> JSONResponse:
    """Store one object (a record, or an organization or subject from the identity service)."""
    deployment.health.require_healthy()  # 503 store_unavailable while a store's check failed
    limit = deployment.settings.max_body_bytes
    try:
        body = await _read_body(request, limit)
    except _TooLarge:
        return _too_large(limit)
    singles: SingleRequests = request.app.state.single_requests
    replied = await singles.answer(SingleRequest(token, request.headers.get(_KEY_HEADER), body))
    return _answer((replied.status_code, replied.body), replayed=replied.replayed)


class Batches:
    """The batches of one worker (one event loop): how many are in flight, and whose turn.

    Two batches processed at once in one worker share its interpreter lock, which
    their SQLite calls give up and take back at every row: a record cost about
    40 % more CPU than with one batch at a time. So their work takes turns
    (:meth:`in_turn`), waiting on the event loop, and the client's next batch
    goes to a free worker (below). A batch streaming in takes a turn per chunk
    it has received, so a slow sender holds no other batch up.
    """

    def __init__(self) -> None:
        self.in_flight = 0
        self._turn = asyncio.Lock()

    async def in_turn(self, work: Callable[..., _T], *args: Any) -> _T:
        """``work(*args)`` in a worker thread, when no other batch's work is running."""
        async with self._turn:
            return await run_in_threadpool(work, *args)


@router.post(
    "/records:batch",
    responses={409: {"description": "That Idempotency-Key is being answered (in_progress)."}},
)
async def post_batch(
    request: Request, deployment: DeploymentDep, principal: PrincipalDep
) -> JSONResponse:
    """Store NDJSON objects in chunks; list the accepted lines and the rejected ones."""
    deployment.health.require_healthy()
    batches: Batches = request.app.state.batches
    batches.in_flight += 1
    try:
        response = await _batch(request, deployment, principal, batches)
    finally:
        batches.in_flight -= 1
    if batches.in_flight:
        # This worker has another batch to do: the client's next batch comes on a
        # new connection, which a free worker is the first to accept. Kept-alive
        # connections would stay where they first landed, two busy senders on one
        # worker and another worker idle.
        response.headers["connection"] = "close"
    return response


async def _batch(
    request: Request, deployment: Deployment, principal: Principal, batches: Batches
) -> JSONResponse:
    limit = deployment.settings.max_body_bytes
    collector = deployment.collector
    collector.check_principal(principal)
    key = request.headers.get(_KEY_HEADER)
    if key is None or collector.idempotency is None:
        return await _streamed_batch(request, collector, principal, limit, batches)
    try:
        body = await _read_body(request, limit)
    except _TooLarge:
        return _too_large(limit)
    store = collector.idempotency

    def work(claim: Claim) -> tuple[Answer, bool]:
        resume = BatchResult.from_progress(claim.partial) if claim.partial else None

        def marks(lines: list[int]) -> list[RequestMark | None]:
            return store.marks(claim, lines)

        def committed(connection: Connection, result: BatchResult, final: bool) -> None:
            if final:
                store.answer_in(connection, claim, 200, result.to_dict())
            else:
                store.progress_in(connection, claim, result.done_lines, result.to_progress())

        batch = Batch(collector, principal, resume=resume, marks=marks, on_commit=committed)
        for line in body.split(b"\n"):
            batch.feed(line)
        return (200, batch.finish().to_dict()), batch.answered

    answer, replayed = await batches.in_turn(_once, store, principal, key, body, work)
    return _answer(answer, replayed=replayed)


async def _streamed_batch(
    request: Request, collector: Collector, principal: Principal, limit: int, batches: Batches
) -> JSONResponse:
    batch = Batch(collector, principal)
    unfinished: list[bytes] = []  # the start of a line whose newline has not arrived
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            result = await batches.in_turn(batch.finish)
            return _too_large(limit, processed_lines=batch.line, **result.to_dict())
        unfinished.append(part)
        if b"\n" not in part:
            continue
        lines = b"".join(unfinished).split(b"\n")
        unfinished = [lines.pop()]
        await batches.in_turn(_feed, batch, lines)
    if any(unfinished):
        await batches.in_turn(_feed, batch, [b"".join(unfinished)])
    result = await batches.in_turn(batch.finish)
    return JSONResponse(result.to_dict(), 200)


def _feed(batch: Batch, lines: list[bytes]) -> None:
    for line in lines:
        batch.feed(line)
