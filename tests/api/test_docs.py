"""``/docs`` and ``/redoc`` work without a CDN: every asset comes from the server itself."""

from __future__ import annotations

import re

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
