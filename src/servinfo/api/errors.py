"""Every error leaves the API as ``{"error": code, "detail": message}``.

Domain errors never subclass HTTPException: they are mapped here, at the edge
(the Starlette way). Validation errors name the field; anything unexpected is
a 500 with no detail, so no internal state or personal data leaks.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from servinfo.access.errors import Denied, PurposeRequired
from servinfo.errors import ServinfoError
from servinfo.store.failures import storage_failure

logger = logging.getLogger("servinfo.api")


def error_response(status: int, code: str, detail: str, **extra: object) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": code, "detail": detail, **extra}, status, headers=headers)


async def _servinfo_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServinfoError)
    extra: dict[str, object] = {}
    if isinstance(error, Denied):
        extra["reasons"] = list(error.reasons)
    if isinstance(error, PurposeRequired):
        extra["purposes"] = list(error.declared)
    if error.http_status >= 500:
        logger.error("%s on %s %s", error.code, request.method, request.url.path)
    return error_response(error.http_status, error.code, error.message, **extra)


def _drp(request: Request) -> bool:
    """The agents' endpoints answer the Data Rights Protocol's error object instead."""
    from servinfo.rights.drp.routes import is_drp_path

    return is_drp_path(request.url.path)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = []
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "request"
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    return error_response(422, "invalid_request", "; ".join(problems))


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    code = codes.get(error.status_code, "http_error")
    if _drp(request):
        from servinfo.rights.drp.routes import drp_error

        response = drp_error(error.status_code, str(error.detail))
    else:
        response = error_response(error.status_code, code, str(error.detail))
    # The exception's own headers: 405's Allow names the methods the route takes.
    response.headers.update(error.headers or {})
    return response


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "an unexpected error occurred")


async def _os_error(request: Request, error: Exception) -> JSONResponse:
    """A read-only or full file system is the store's state, not a bug: 503 with the cause."""
    assert isinstance(error, OSError)
    failure = storage_failure(error)
    if failure is None:
        raise error  # on to the server's own handling of the unexpected (_unexpected)
    return await _servinfo_error(request, failure)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ServinfoError, _servinfo_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OSError, _os_error)
    app.add_exception_handler(Exception, _unexpected)
