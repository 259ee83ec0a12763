"""What every page shares: the signed-in person (their session found from the cookie, who they
are now from the directory), their view of the APIs, CSRF tokens, notices, rendering, and
HTML answers for refusals and outages."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from cachetools import TTLCache
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.exceptions import HTTPException as StarletteHTTPException

from credflow_common.inputs import BIDI_CONTROLS
from credflow_console import dates
from credflow_console.api import Api, ApiError, Caller, UnavailableError
from credflow_console.keys import Person, TokenMinter
from credflow_console.people import People, person_of
from credflow_console.sessions import Sessions
from credflow_console.settings import ConsoleSettings

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.filters["day"] = dates.show
WITHOUT_BIDI_CONTROLS = {ord(control): None for control in BIDI_CONTROLS}


def printable(value: Any) -> Any:
    """Every value a template prints, without bidirectional controls: a name stored before they
    were refused cannot reorder the text printed around it (an override such as U+202E runs
    on to the end of its paragraph)."""
    if isinstance(value, Markup):
        # Already HTML: dropping characters from it cannot open a tag or an entity.
        return Markup(str.translate(value, WITHOUT_BIDI_CONTROLS))  # noqa: S704
    if isinstance(value, str):
        return value.translate(WITHOUT_BIDI_CONTROLS)
    return value


TEMPLATES.env.finalize = printable  # set before any template is compiled: they all use it
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
URL_SAFE = ":/%#?=@[]!$&'()*+,;"
"""What stays as it is when a redirect's target is quoted (Starlette's RedirectResponse's set)."""


@dataclass
class Console:
    """The console's shared parts (app.state.console)."""

    settings: ConsoleSettings
    api: Api
    minter: TokenMinter
    development: bool
    tokens: TTLCache[tuple[str, ...], str]
    sessions: Sessions
    people: People

    def token_for(self, person: Person) -> str:
        """A cached API token with at least a minute left (minting signs with RSA)."""
        key = (str(person.user_id), str(person.organisation_id), *person.roles,
               "|", *person.permissions)  # fmt: skip
        token = self.tokens.get(key)
        if token is None:
            token, _ = self.minter.mint(person)
            self.tokens[key] = token
        return token


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


class SignInRequiredError(Exception):
    pass


class RefusedError(Exception):
    """A page refuses the request (bad CSRF token, nothing to see): an HTML error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


async def check_csrf(request: Request) -> None:
    """Every change needs the session's CSRF token, in the form or in the X-CSRF-Token header
    (htmx sends it from the page's <body hx-headers>)."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent: object = request.headers.get(CSRF_HEADER)
    if sent is None:
        sent = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        raise RefusedError(403, "This form has expired or did not come from credflow. Reload the"
                      " page and try again.")  # fmt: skip


@dataclass
class Page:
    """A signed-in request: who, their APIs, and how to render for them."""

    request: Request
    person: Person
    caller: Caller
    date_format: str

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        """The page; a notice left by the last change (`notify`) shows as its `message` (on a
        whole page: a part htmx refreshes meanwhile leaves it for the page)."""
        if not self.request.headers.get("HX-Request"):
            notice = self.request.session.pop("notice", None)
            context["message"] = context.get("message") or notice
        return TEMPLATES.TemplateResponse(
            self.request, template,
            {"person": self.person, "date_format": self.date_format,
             "refresh_s": console_of(self.request).settings.refresh_s,
             "csrf": csrf_token(self.request), "form_id": secrets.token_urlsafe(16),
             **context},
            status_code=status,
        )  # fmt: skip

    def day(self, value: str | None) -> str:
        return dates.show(value, self.date_format)


def notify(request: Request, text: str) -> None:
    """A notice for the next page this person is shown (never taken from a link: a link's
    text could pose as the site's own words)."""
    request.session["notice"] = text


async def sign_in(request: Request, person: Person) -> None:
    """A new session for `person`, in a new cookie (nothing of an earlier one carries over)."""
    secret = await console_of(request).sessions.start(person.organisation_id, person.user_id)
    request.session.clear()
    request.session.update(sid=secret, csrf=secrets.token_urlsafe(32))


async def sign_out(request: Request, *, everywhere: bool = False) -> None:
    """End this session (its cookie replayed later signs nobody in) or, `everywhere`, every
    session of its person."""
    secret = request.session.get("sid")
    request.session.clear()
    if not secret:
        return
    sessions = console_of(request).sessions
    found = await sessions.find(secret) if everywhere else None
    if found is not None:
        await sessions.end_all(found.organisation_id, found.user_id)
    else:
        await sessions.end(secret)


async def signed_in(request: Request) -> Page:
    """The signed-in person as the directory has them now: their session must be live (not
    signed out, lapsed or idle too long) and they must still be active; their roles and
    permissions are today's, whatever they were at sign-in."""
    secret = request.session.get("sid")
    if not secret:
        raise SignInRequiredError
    console = console_of(request)
    session = await console.sessions.find(secret)
    if session is None:
        request.session.clear()
        raise SignInRequiredError
    found = await console.people.current(session.organisation_id, session.user_id)
    if found is None or found["status"] != "active":
        await console.sessions.end_all(session.organisation_id, session.user_id)
        request.session.clear()
        raise SignInRequiredError
    person = person_of(found)
    request.state.person = person
    caller = Caller(console.api, console.token_for(person), person.organisation_id)
    return Page(request, person, caller, found.get("date_format") or "YYYY-MM-DD")


SignedIn = Annotated[Page, Depends(signed_in)]


def redirect(request: Request, url: str) -> Response:
    """After a form: 303 to the next page (htmx follows HX-Redirect instead). Either way only
    to a path of this site, quoted alike (a browser would follow a raw HX-Redirect's
    `/\t/evil.example` off-site)."""
    target = quote(safe_next(url), safe=URL_SAFE)
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def with_position(url: str, answer: dict[str, Any]) -> str:
    """The next page waits until the views show this write (read-your-writes)."""
    position = answer.get("position")
    if not position:
        return url
    return f"{url}{'&' if '?' in url else '?'}min_position={quote(str(position))}"


def error_page(request: Request, status: int, message: str, headers: dict[str, str] | None = None
               ) -> HTMLResponse:  # fmt: skip
    """A refusal or an outage, as a page. It never writes the session: a refused cross-site
    request arrives without the cookie, and a new one would replace the person's session."""
    person = getattr(request.state, "person", None)
    csrf = request.session.get("csrf", "") if "session" in request.scope else ""
    return TEMPLATES.TemplateResponse(
        request, "error.html",
        {"status": status, "message": message, "person": person, "csrf": csrf},
        status_code=status, headers=headers,
    )  # fmt: skip


def install_page_errors(app: FastAPI) -> None:
    async def sign_in_required(request: Request, _: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(request, f"/sign-in?next={quote(target)}")

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RefusedError)
        return error_page(request, exc.status, exc.message)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if exc.status == 401:  # the person was deactivated, or the token is no longer good
            try:
                await sign_out(request)
            except UnavailableError:
                request.session.clear()  # the row lapses by itself
            return redirect(request, "/sign-in")
        return error_page(request, exc.status, exc.detail)

    async def unavailable(request: Request, _: Exception) -> Response:
        return error_page(request, 503, "Part of credflow is not answering right now. Your"
                          " data is safe; try again in a few seconds.",
                          {"Retry-After": "5"})  # fmt: skip

    async def not_a_page(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return error_page(request, 404, "There is no such page.")
        return error_page(request, exc.status_code, str(exc.detail))

    async def bad_address(request: Request, _: Exception) -> Response:
        return error_page(request, 404, "This address has a part that is not valid: check the"
                          " link, or start again from the menu.")  # fmt: skip

    app.add_exception_handler(StarletteHTTPException, not_a_page)
    app.add_exception_handler(RequestValidationError, bad_address)
    app.add_exception_handler(SignInRequiredError, sign_in_required)
    app.add_exception_handler(RefusedError, refused)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(UnavailableError, unavailable)


def safe_next(target: str | None) -> str:
    """Only paths of this site (no //host, no scheme): an open redirect otherwise. Browsers
    drop tabs and newlines from a URL and read a backslash as a slash, so `/\t/evil.example`
    is `//evil.example` to them: a target holding either is refused."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)
    ):
        return target
    return "/"


def parse_uuid(value: object) -> UUID | None:
    """An id from a form or a query string; None for anything else (empty, a file, junk)."""
    try:
        return UUID(value) if isinstance(value, str) and value else None
    except ValueError:
        return None
