"""Where a consumer confirms their identity: the ``user_verification_url`` (DRP 1.0 section 3.02.1).

When an agent's claims fall short of what an action needs, the request waits
for its consumer (``in_progress`` / ``need_user_verification``) and a one-time
code goes to the address on their account. The agent sends the consumer's
browser to ``/v1/drp/verify/{request}?request_id=…&redirect_to=…``:

* ``GET`` a page that asks for the code (and offers to send a new one); a
  ``request_id`` that is not the page's request is a 404, as the spec asks
  ("SHALL verify that the request_id … refers to the same Data Rights Request");
* ``POST`` (a form: ``code``, or ``resend``) checks the code with the request
  machinery's own verification (its attempt limit and expiry), then sends the
  browser on to ``redirect_to`` when it is an ``https`` URL (303), else shows
  that it is done. A wrong code is the API's 403 ``verification_failed``;
  nothing about the request or the consumer is ever shown but its state.

No token: the route is one of the API's open routes, rate-limited per address
and per request (:mod:`servinfo.api.ratelimit`).
"""

from __future__ import annotations

import html
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from servinfo.rights.drp.errors import DrpRequestNotFound
from servinfo.rights.drp.routes import Drp

__all__ = ["router"]

#: Not tagged "drp": the consumer's page answers servinfo's errors, not the protocol's.
router = APIRouter(prefix="/v1/drp", tags=["drp-verification"])

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Confirm your request</title></head>
<body><main>
<h1>Confirm your request</h1>
<p>{message}</p>
<form method="post">
<label>Code <input name="code" autocomplete="one-time-code" required></label>
<input type="hidden" name="redirect_to" value="{redirect_to}">
<button>Confirm</button>
</form>
<form method="post">
<input type="hidden" name="resend" value="1">
<input type="hidden" name="redirect_to" value="{redirect_to}">
<button>Send me a new code</button>
</form>
</main></body></html>
"""
_ASK = (
    "Your authorized agent asked us to act on your personal data. Enter the code we sent "
    "to the e-mail address or phone number on your account."
)


def _page(message: str, redirect_to: str) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(message=html.escape(message), redirect_to=html.escape(redirect_to))
    )


def _done(message: str) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Done</title></head>'
        f"<body><main><p>{html.escape(message)}</p></main></body></html>\n"
    )


@router.get(
    "/verify/{drp_request}",
    response_class=HTMLResponse,
    responses={404: {"description": "No such request, or request_id names another."}},
)
def verification_page(
    drp_request: str,
    drp: Drp,
    request_id: Annotated[str | None, Query()] = None,
    redirect_to: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    """The page that asks the consumer for their code."""
    if request_id is not None and request_id != drp_request:
        raise DrpRequestNotFound("request_id is not this page's request")
    if not drp.awaits_consumer(drp_request):
        return _done("This request does not need your confirmation (any more).")
    return _page(_ASK, redirect_to)


@router.post(
    "/verify/{drp_request}",
    response_class=HTMLResponse,
    responses={
        303: {"description": "Confirmed: on to redirect_to (an https URL)."},
        403: {"description": "A wrong, expired or used code (verification_failed)."},
        404: {"description": "No such request."},
        409: {"description": "The request awaits no code (wrong_state)."},
    },
)
async def confirm(drp_request: str, request: Request, drp: Drp) -> Response:
    """A code entered, or a new code asked for."""
    body = (await request.body()).decode("utf-8", "replace")
    form = {key: values[0] for key, values in parse_qs(body).items()}
    redirect_to = form.get("redirect_to", "")[:1000]
    if form.get("resend"):
        await run_in_threadpool(drp.resend_code, drp_request)
        return _page("We sent you a new code. " + _ASK, redirect_to)
    await run_in_threadpool(drp.confirm, drp_request, form.get("code", ""))
    if urlsplit(redirect_to).scheme == "https":
        return RedirectResponse(redirect_to, 303)
    return _done("Thank you: your request goes ahead. Your agent will tell you when it is done.")
