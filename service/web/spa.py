"""The built SPA, served at `/` from SPA_DIR, so browser and API share one origin (cookies, no CORS).

A raw ASGI layer in front of Litestar: GET and HEAD requests outside the service's own paths are answered from
the directory, everything else goes to the app untouched (an unknown /api path stays a JSON 404).

- Vite puts content-hashed files under `assets/`: cached for a year, `immutable`.
- Any other file (index.html, favicon, robots.txt) is revalidated on every load (`no-cache`), so a deploy is
  picked up at the next page load.
- A path without a file extension that names no file is a client-side route (`/contacts`, `/campaigns/0190…`):
  it gets index.html. A missing path with an extension (`/assets/old-hash.js`) is a plain 404, never HTML.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath

import anyio
from litestar.types import ASGIApp, HTTPResponseStartEvent, Receive, Scope, Send

BACKEND_PREFIXES = ("/api", "/health", "/ready", "/schema")
HASHED_DIR = "assets"
IMMUTABLE = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"
# The SPA's own scripts only; styles inline (React, Tailwind) and Google Fonts; Stripe's script and frames.
SPA_CSP = (
    b"default-src 'self'; script-src 'self' https://js.stripe.com; style-src 'self' 'unsafe-inline' "
    b"https://fonts.googleapis.com; font-src 'self' data: https://fonts.gstatic.com; img-src 'self' data: https:; "
    b"connect-src 'self'; frame-src https://js.stripe.com; frame-ancestors 'none'"
)


def is_backend_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in BACKEND_PREFIXES)


class SpaFiles:
    def __init__(self, app: ASGIApp, directory: Path) -> None:
        self.app = app
        self.root = directory.resolve()
        self.index = self.root / "index.html"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or method not in ("GET", "HEAD") or is_backend_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        file = self.resolve(scope["path"])
        if file is None:
            await respond(send, 404, b"text/plain; charset=utf-8", b"Not found", REVALIDATE, method)
            return
        relative = file.relative_to(self.root)
        cache = IMMUTABLE if relative.parts[0] == HASHED_DIR and len(relative.parts) > 1 else REVALIDATE
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type == "application/javascript":
            content_type += "; charset=utf-8"
        body = await anyio.Path(file).read_bytes()
        await respond(send, 200, content_type.encode(), body, cache, method)

    def resolve(self, path: str) -> Path | None:
        """The file a URL path names inside the directory, index.html for a client route, or None."""
        parts = [part for part in PurePosixPath(path).parts if part not in ("/", "", ".")]
        if ".." in parts:
            return None
        candidate = self.root.joinpath(*parts).resolve() if parts else self.index
        if candidate.is_file() and candidate.is_relative_to(self.root):
            return candidate
        if parts and "." in parts[-1]:
            return None
        return self.index


async def respond(send: Send, status: int, content_type: bytes, body: bytes, cache: bytes, method: str) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", cache),
    ]
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body, "more_body": False})
