"""Security headers on every answer: a content security policy without inline script or
style (htmx is configured not to inject any), no framing, no MIME sniffing."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(media_origin: str) -> str:
    """Documents are shown from the object store's signed URLs: images and frames may come
    from there, and nothing else from anywhere but the console."""
    return "; ".join((
        "default-src 'self'", "script-src 'self'", "style-src 'self'",
        f"img-src 'self' data: {media_origin}", f"frame-src 'self' {media_origin}",
        "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
    ))  # fmt: skip


class SecurityHeaders:
    def __init__(self, app: ASGIApp, media_origin: str) -> None:
        self.app = app
        self.headers = {
            "Content-Security-Policy": content_security_policy(media_origin),
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if static and name == "Cache-Control":
                        headers[name] = "public, max-age=3600"
                    elif name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
