"""The witness over HTTP: ``POST /add-checkpoint`` of tlog-witness, and its keys.

Routes (the submission and monitoring prefixes of ``c2sp.org/tlog-witness`` are
both the root):

- ``POST /add-checkpoint``: the request body is read as it arrives and cut at
  :data:`MAX_BODY_BYTES` (413), then :meth:`~servinfo.witness.service.Witness.add_checkpoint`
  decides. 200 carries the cosignature lines; 400, 403, 404 and 422 one line of
  text saying what was wrong; 409 the size last cosigned and a newline, as
  ``text/x.tlog.size``, exactly as the spec requires.
- ``GET /``: the witness's verifier keys, one per line (ML-DSA-44, then Ed25519).
- ``GET /<sha256 of the origin, lowercase hex>/checkpoint``: the last checkpoint
  cosigned for that log, with the log's signatures and the witness's (the
  spec's monitor retrieval), 404 if none.

Starlette and not FastAPI: the protocol is raw text in and out with fixed
status codes, which a typed JSON framework would only get in the way of. The
witness's work (signature checks, an SQLite transaction, ML-DSA signing) is
blocking, so it runs in the thread pool, never on the event loop.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from servinfo.audit.note import NoteSignature
from servinfo.audit.witness_protocol import (
    ADD_CHECKPOINT_PATH,
    CONTENT_TYPE,
    MAX_REQUEST_SIZE,
    SIZE_CONTENT_TYPE,
    format_cosignatures,
    format_size_conflict,
)
from servinfo.witness.errors import SizeConflict, WitnessError
from servinfo.witness.service import Witness

__all__ = ["MAX_BODY_BYTES", "create_app"]

#: The largest add-checkpoint body: any note the format accepts, with a full proof.
MAX_BODY_BYTES = MAX_REQUEST_SIZE
_TEXT = CONTENT_TYPE
_ORIGIN_HASH = re.compile(r"[0-9a-f]{64}")


class _TooLarge(Exception):
    pass


def create_app(witness: Witness, *, max_body_bytes: int = MAX_BODY_BYTES) -> Starlette:
    """The witness's ASGI application."""

    async def add_checkpoint(request: Request) -> Response:
        try:
            body = await _read_body(request, max_body_bytes)
        except _TooLarge:
            return _text(413, f"the body exceeds the limit of {max_body_bytes} bytes")
        except ClientDisconnect:
            return _text(400, "the client disconnected before the end of the body")
        try:
            cosignatures: Sequence[NoteSignature] = await run_in_threadpool(
                witness.add_checkpoint, body
            )
        except SizeConflict as conflict:
            # A header, not media_type: Starlette would append "; charset=utf-8" to that.
            headers = {"content-type": SIZE_CONTENT_TYPE}
            return Response(format_size_conflict(conflict.size), 409, headers=headers)
        except WitnessError as error:
            return _text(error.http_status, error.message)
        return Response(format_cosignatures(cosignatures), 200, media_type=_TEXT)

    async def keys(request: Request) -> Response:
        return _text(200, "\n".join(witness.vkeys()))

    async def checkpoint(request: Request) -> Response:
        origin_hash = request.path_params["origin_hash"]
        if _ORIGIN_HASH.fullmatch(origin_hash) is None:
            return _text(404, "not a lowercase hex SHA-256 of an origin")
        note = await run_in_threadpool(_latest_by_hash, witness, origin_hash)
        if note is None:
            return _text(404, "this witness has cosigned no checkpoint of that log")
        return Response(note, 200, media_type=_TEXT)

    return Starlette(
        routes=[
            Route(ADD_CHECKPOINT_PATH, add_checkpoint, methods=["POST"]),
            Route("/", keys, methods=["GET"]),
            Route("/{origin_hash}/checkpoint", checkpoint, methods=["GET"]),
        ]
    )


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to pass ``limit`` (declared or counted)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _latest_by_hash(witness: Witness, origin_hash: str) -> bytes | None:
    for log in witness.store.logs():
        if hashlib.sha256(log.origin.encode()).hexdigest() == origin_hash:
            return log.state.note
    return None


def _text(status: int, message: str) -> Response:
    return PlainTextResponse(message + "\n", status, media_type=_TEXT)
