"""Signing in and out: OpenID Connect (code flow with PKCE) against the configured identity
provider, matched to an active directory user by verified email; in development, "sign in as"
any person of the demo organisation; signing out of this session or of every session; my
account (who I am signed in as, with which roles)."""

from __future__ import annotations

from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from credflow_console.people import person_of
from credflow_console.web import (
    TEMPLATES,
    Console,
    RefusedError,
    SignedIn,
    check_csrf,
    console_of,
    csrf_token,
    notify,
    redirect,
    safe_next,
    sign_in,
    sign_out,
)


def identity_provider(console: Console) -> Any | None:
    settings = console.settings
    if not settings.oidc_issuer or not settings.oidc_client_id:
        return None
    oauth = OAuth()
    oauth.register(
        name="idp",
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_id=settings.oidc_client_id,
        client_secret=(
            settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
        ),
        client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256"},
    )
    return oauth.create_client("idp")


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    notice = request.session.pop("notice", None)
    return TEMPLATES.TemplateResponse(
        request, template,
        {"person": None, "csrf": csrf_token(request), "message": notice, **context},
        status_code=status,
    )  # fmt: skip


def build_router(console: Console) -> APIRouter:
    router = APIRouter(dependencies=[Depends(check_csrf)])
    provider = identity_provider(console)

    @router.get("/sign-in", response_class=HTMLResponse)
    async def sign_in_page(request: Request, next: str | None = None) -> Response:
        return page(request, "sign_in.html", next=safe_next(next), oidc=provider is not None,
                    development=console.development)  # fmt: skip

    @router.get("/sign-in/oidc")
    async def start_oidc(request: Request, next: str | None = None) -> Response:
        if provider is None:
            raise RefusedError(404, "Single sign-on is not configured for this console.")
        request.session["next"] = safe_next(next)
        callback = console.settings.public_url.rstrip("/") + "/sign-in/callback"
        response: Response = await provider.authorize_redirect(request, callback)
        return response

    @router.get("/sign-in/callback")
    async def finish_oidc(request: Request) -> Response:
        if provider is None:
            raise RefusedError(404, "Single sign-on is not configured for this console.")
        try:
            token = await provider.authorize_access_token(request)
        except OAuthError as exc:
            return page(request, "refused.html", 401, reason="sign-in-failed",
                        detail=exc.description or exc.error)  # fmt: skip
        claims = token.get("userinfo") or {}
        email = claims.get("email")
        if not email or claims.get("email_verified") is not True:
            return page(request, "refused.html", 403, reason="unverified", email=email)
        people = await console.people.find(email=email)
        active = [p for p in people if p["status"] == "active"]
        if not active:
            reason = "deactivated" if people else "unknown"
            return page(request, "refused.html", 403, reason=reason, email=email)
        target = request.session.pop("next", "/")
        chosen = active[0]  # one organisation per email is the rule; the first by name if not
        await sign_in(request, person_of(chosen))
        return redirect(request, target)

    @router.get("/sign-in/as", response_class=HTMLResponse)
    async def sign_in_as_page(request: Request, next: str | None = None) -> Response:
        if not console.development:
            raise RefusedError(404, "Signing in as someone else is only for development.")
        people = await console.people.find(
            organisation_id=str(console.settings.dev_organisation_id)
        )
        return page(request, "sign_in_as.html", people=people, next=safe_next(next))

    @router.post("/sign-in/as")
    async def sign_in_as(request: Request) -> Response:
        if not console.development:
            raise RefusedError(404, "Signing in as someone else is only for development.")
        form = await request.form()
        people = await console.people.find(
            organisation_id=str(console.settings.dev_organisation_id)
        )
        chosen = next((p for p in people if p["user_id"] == form.get("user_id")), None)
        if chosen is None or chosen["status"] != "active":
            return page(request, "refused.html", 403,
                        reason="deactivated" if chosen else "unknown",
                        email=chosen["email"] if chosen else None)  # fmt: skip
        await sign_in(request, person_of(chosen))
        return redirect(request, safe_next(str(form.get("next") or "/")))

    @router.post("/sign-out")
    async def end_session(request: Request) -> Response:
        await sign_out(request)
        notify(request, "You are signed out.")
        return redirect(request, "/sign-in")

    @router.post("/sign-out/everywhere")
    async def end_every_session(request: Request) -> Response:
        await sign_out(request, everywhere=True)
        notify(request, "You are signed out in every browser.")
        return redirect(request, "/sign-in")

    @router.get("/account", response_class=HTMLResponse)
    async def account(page: SignedIn) -> Response:
        return page.render("account.html")

    return router


__all__ = ["build_router", "console_of"]
