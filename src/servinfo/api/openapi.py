"""The OpenAPI document at ``/openapi.json``: every answer a route can give, its errors included.

FastAPI documents a route's success answer and, for a route with parameters, a
422 in its own validation-error shape. servinfo answers every error as
:class:`ErrorBody` (:mod:`servinfo.api.errors`), and most of its errors follow
from how a route is reached rather than from what it does. So the document is
completed here, once, from rules keyed on the traits of each route
(:data:`RULES`), and route modules declare only the statuses that belong to
their domain (``responses={409: {"description": ...}}`` next to the route; an
error status declared without content gets :class:`ErrorBody`):

====== ===================== ==================================================
status error                  routes
====== ===================== ==================================================
400    (a domain's own code)  routes that take input (parameters or a body)
401    ``unauthenticated``    routes that authenticate a principal's token
403    ``forbidden`` …        the same routes
404    ``not_found`` …        routes with path parameters
408    ``request_timeout``    routes whose method carries a body
413    ``payload_too_large``  the same routes
422    ``invalid_request``    routes that take input
429    ``rate_limited``       routes that need no principal's token
503    ``store_unavailable``  every route (each touches a store, or reports on one)
====== ===================== ==================================================

Routes tagged with a protocol of their own (:data:`OWN_ERROR_FORMAT`, the Data
Rights Protocol's) answer their errors in that protocol's format, the server's
413 and 429 included, and declare them themselves; only 408 and 503 are added
to them, as :class:`ErrorBody`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import BaseRoute

from servinfo.api import dependencies

__all__ = ["OWN_ERROR_FORMAT", "RULES", "ErrorBody", "RouteTraits", "Rule", "install", "traits"]


class ErrorBody(BaseModel):
    """Every error servinfo's API answers (the Data Rights Protocol's routes excepted)."""

    model_config = ConfigDict(extra="allow", title="ErrorBody")

    error: str = Field(description="A short machine-readable code, e.g. 'unauthenticated'.")
    detail: str = Field(description="What was wrong and what to do; never a secret.")
    reasons: list[str] | None = Field(
        None, description="denied (403): every reason the read was denied."
    )
    purposes: list[str] | None = Field(
        None, description="purpose_required (400): the purposes the policy declares."
    )
    processed_lines: int | None = Field(
        None,
        description="payload_too_large on POST /v1/records:batch: the lines received in full "
        "and processed before the body was cut.",
    )
    accepted: list[Any] | None = Field(
        None, description="payload_too_large on a batch: the processed lines accepted."
    )
    rejected: list[Any] | None = Field(
        None, description="payload_too_large on a batch: the processed lines rejected."
    )
    counts: dict[str, Any] | None = Field(
        None, description="payload_too_large on a batch: the counts of the processed lines."
    )
    stores: dict[str, Any] | None = Field(
        None, description="store_unavailable on GET /readyz: each store's last check."
    )


@dataclass(frozen=True)
class RouteTraits:
    """What the rules look at: how a route is reached, not what it does."""

    #: It authenticates a servinfo principal's bearer token.
    authenticates: bool
    path_parameters: bool
    #: It takes parameters, or a body (read as a model or raw).
    takes_input: bool
    #: Its method carries a body, whose size and arrival the server limits.
    carries_body: bool
    #: It answers its own errors in a protocol's format and declares them itself.
    own_error_format: bool


@dataclass(frozen=True)
class Rule:
    status: int
    description: str
    applies: Callable[[RouteTraits], bool]
    #: Response headers the answer carries: name → description.
    headers: tuple[tuple[str, str], ...] = ()


#: Tags of the routes that answer errors in a protocol's own format.
OWN_ERROR_FORMAT = frozenset({"drp"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The dependencies that authenticate a principal's bearer token.
_AUTHENTICATORS: frozenset[Callable[..., Any]] = frozenset(
    {dependencies.principal, dependencies.token}
)


def _servinfo_input(t: RouteTraits) -> bool:
    return t.takes_input and not t.own_error_format


RULES: tuple[Rule, ...] = (
    Rule(
        400,
        "The request is well-formed but not valid here: an unknown purpose, category, "
        "region or type, or a value the domain refuses.",
        _servinfo_input,
    ),
    Rule(
        401,
        "No bearer token, or one that belongs to no active principal.",
        lambda t: t.authenticates,
        (("WWW-Authenticate", "Bearer"),),
    ),
    Rule(
        403,
        "The principal may not do this: a permission it lacks, or a read the policy denies.",
        lambda t: t.authenticates,
    ),
    Rule(
        404,
        "Nothing by that id that the caller may see.",
        lambda t: t.path_parameters and not t.own_error_format,
    ),
    Rule(
        408,
        "The body did not arrive in time (request_timeout).",
        lambda t: t.carries_body,
    ),
    Rule(
        413,
        "The body exceeds the limit (payload_too_large); a streamed batch lists the lines "
        "it processed before the cut.",
        lambda t: t.carries_body and not t.own_error_format,
    ),
    Rule(
        422,
        "A parameter or the body does not have the documented form (invalid_request); "
        "the detail names each field.",
        _servinfo_input,
    ),
    Rule(
        429,
        "Too many requests from this address, or for this request or agent (rate_limited).",
        lambda t: not t.authenticates and not t.own_error_format,
        (("Retry-After", "Seconds to wait before retrying."),),
    ),
    Rule(
        503,
        "A store is unavailable (store_unavailable): unhealthy, read-only or full; the "
        "detail says which and why.",
        lambda t: True,
    ),
)


def traits(route: APIRoute | RouteContext) -> RouteTraits:
    """The traits of an API route (or of the context a router was included in)."""
    flat = list(_dependants(route.dependant))
    calls = {d.call for d in flat}
    parameters = any(d.path_params or d.query_params or d.header_params for d in flat)
    carries_body = bool(set(route.methods or ()) & _BODY_METHODS)
    return RouteTraits(
        authenticates=bool(calls & _AUTHENTICATORS),
        path_parameters=any(d.path_params for d in flat),
        takes_input=parameters or any(d.body_params for d in flat) or carries_body,
        carries_body=carries_body,
        own_error_format=bool(OWN_ERROR_FORMAT & set(map(str, route.tags))),
    )


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def install(app: FastAPI) -> None:
    """Serve the completed document at ``app.openapi_url`` (built once, on first request)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate(), app.routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_FASTAPI_VALIDATION_REF = {"$ref": "#/components/schemas/HTTPValidationError"}
_BEARER = "bearerToken"


def complete(document: dict[str, Any], routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """``document`` with :data:`RULES` applied to each operation of ``routes``."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    document["components"]["securitySchemes"] = {
        _BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "A principal's token (servinfo principals add, or POST /v1/principals).",
        }
    }
    # Routes of an included router are reached through the context of their inclusion
    # (its prefix, tags, dependencies), as FastAPI's own generator reaches them.
    for route in iter_route_contexts(list(routes)):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        route_traits = traits(route)
        for method in route.methods or ():
            operation = document["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                _complete_operation(operation, route_traits)
    # FastAPI's validation-error shape is no longer referenced: servinfo never answers it.
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document


def _complete_operation(operation: dict[str, Any], route_traits: RouteTraits) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    success = next(
        (r for s, r in sorted(responses.items()) if _is_success(s) and "content" in r), None
    )
    for status, response in responses.items():
        if _json_schema(response) == _FASTAPI_VALIDATION_REF:
            # servinfo's handler answers validation errors, on every route (api.errors).
            response["content"] = {"application/json": {"schema": _ERROR_REF}}
        elif "content" in response:
            continue
        elif _is_success(status) and success is not None:
            # A further success status (200 beside 201): the same body as the main one.
            response["content"] = success["content"]
        elif status.isdigit() and int(status) >= 400 and not route_traits.own_error_format:
            # An error status its route declared: answered as ErrorBody.
            response["content"] = {"application/json": {"schema": _ERROR_REF}}
    for rule in RULES:
        if str(rule.status) in responses or not rule.applies(route_traits):
            continue
        response = {
            "description": rule.description,
            "content": {"application/json": {"schema": _ERROR_REF}},
        }
        if rule.headers:
            response["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in rule.headers
            }
        responses[str(rule.status)] = response
    operation["responses"] = dict(sorted(responses.items()))
    if route_traits.authenticates:
        operation["security"] = [{_BEARER: []}]


def _json_schema(response: dict[str, Any]) -> Any:
    return response.get("content", {}).get("application/json", {}).get("schema")


def _is_success(status: str) -> bool:
    return status.isdigit() and 200 <= int(status) < 300
