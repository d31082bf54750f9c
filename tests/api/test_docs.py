"""``/docs`` and ``/redoc`` work without a CDN: every asset comes from the server itself."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from tests.api.world import World

_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
_CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize(
    ("page", "needed"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css"}),
        ("/redoc", {"redoc.standalone.js"}),
    ],
)
def test_a_documentation_page_loads_only_the_servers_own_assets(
    world: World, page: str, needed: set[str]
) -> None:
    answer = world.client.get(page)
    assert answer.status_code == 200
    html = answer.text
    references = _REFERENCE.findall(html)
    assert needed <= {reference.rsplit("/", 1)[-1] for reference in references}, references
    assert "cdn." not in html
    assert "https://" not in html
    assert "http://" not in html
    for reference in references:
        assert reference.startswith("/"), reference
        assert not reference.startswith("//"), reference
        asset = world.client.get(reference)
        assert asset.status_code == 200, reference
        expected = _CONTENT_TYPES[reference[reference.rindex(".") :]]
        assert expected in asset.headers["content-type"], (reference, asset.headers)
        assert len(asset.content) > 0


def test_the_pages_are_not_in_the_schema_and_fastapis_cdn_pages_are_gone(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    assert not {"/docs", "/redoc"} & set(paths)
    # One route each: the packaged pages, not FastAPI's defaults beside them.
    app_paths = [getattr(route, "path", None) for route in world.client.app.routes]  # type: ignore[attr-defined]
    assert app_paths.count("/docs") == 1
    assert app_paths.count("/redoc") == 1


def test_the_openapi_document_the_pages_load_is_served(world: World) -> None:
    assert "url: '/openapi.json'" in world.client.get("/docs").text
    assert 'spec-url="/openapi.json"' in world.client.get("/redoc").text
    assert world.client.get("/openapi.json").json()["info"]["title"] == "servinfo"


# The document describes every answer: errors as ErrorBody, and the statuses that follow
# from how a route is reached (servinfo.api.openapi); schemathesis checks it against real
# answers (test_schemathesis.py).

_ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


def _document(world: World) -> dict[str, Any]:
    document: dict[str, Any] = world.client.get("/openapi.json").json()
    return document


def _schema(response: dict[str, Any]) -> Any:
    return response.get("content", {}).get("application/json", {}).get("schema")


def test_every_error_is_documented_as_the_error_body(world: World) -> None:
    document = _document(world)
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"error", "detail"}
    assert body["properties"]["detail"]["type"] == "string"
    # FastAPI's validation-error shape (detail: a list) is answered nowhere.
    assert "HTTPValidationError" not in json.dumps(document)
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            drp = "drp" in operation.get("tags", [])
            for status, response in operation["responses"].items():
                if int(status) < 400 or (drp and status not in _SERVER_STATUSES):
                    continue
                assert _schema(response) == _ERROR_BODY, (method, path, status)
                checked += 1
    assert checked > 100


#: What the server answers on DRP routes in servinfo's own format (their 413 and 429 are the
#: protocol's error object, as the routes declare).
_SERVER_STATUSES = {"408", "503"}


def _statuses(document: dict[str, Any], method: str, path: str) -> set[str]:
    return set(document["paths"][path][method]["responses"])


def test_the_statuses_follow_from_how_a_route_is_reached(world: World) -> None:
    document = _document(world)
    principals = document["paths"]["/v1/principals"]["get"]
    assert {"401", "403", "503"} <= set(principals["responses"])
    assert "429" not in principals["responses"]
    assert principals["security"] == [{"bearerToken": []}]
    assert "WWW-Authenticate" in principals["responses"]["401"]["headers"]
    # Open to anyone with the one-time code: rate limited, no token.
    verify = document["paths"]["/v1/requests/{request_id}/verify"]["post"]
    assert {"400", "404", "408", "413", "422", "429", "503"} <= set(verify["responses"])
    assert "401" not in verify["responses"]
    assert "security" not in verify
    assert "Retry-After" in verify["responses"]["429"]["headers"]
    for operations in document["paths"].values():
        for operation in operations.values():
            assert "503" in operation["responses"]
    # Statuses of a route's own domain, declared next to it, answered as ErrorBody too.
    assert _schema(document["paths"]["/v1/principals"]["post"]["responses"]["409"]) == _ERROR_BODY
    assert "410" in _statuses(document, "get", "/v1/requests/{request_id}/export")


def test_the_data_rights_protocol_routes_document_its_own_error_format(world: World) -> None:
    document = _document(world)
    status = document["paths"]["/v1/data-rights-request/{request_id}"]["get"]["responses"]
    assert _schema(status["404"]) == {"$ref": "#/components/schemas/DrpErrorBody"}
    # Refused before the route runs, yet in the protocol's format too.
    assert _schema(status["429"]) == {"$ref": "#/components/schemas/DrpErrorBody"}
    assert _schema(status["503"]) == _ERROR_BODY
    drp_error = document["components"]["schemas"]["DrpErrorBody"]
    assert set(drp_error["required"]) == {"code", "message"}
    # A refused pairwise setup is a 403 with no body (DRP 1.0 section 2.05.1).
    assert "content" not in document["paths"]["/v1/agent/{agent_id}"]["post"]["responses"]["403"]


def test_answers_that_are_not_json_are_documented_as_what_they_are(world: World) -> None:
    document = _document(world)
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert set(metrics) == {"text/plain"}
    export = document["paths"]["/v1/requests/{request_id}/export"]["get"]["responses"]["200"]
    assert set(export["content"]) == {"application/zip"}
    answer = world.client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
