"""The server answers only pages served from its own address.

Binding 127.0.0.1 keeps other machines out, but not another web site open in the same
browser: any page may open a websocket to ws://127.0.0.1:PORT, and through DNS
rebinding may even reach it under a name of its own. The page can read and write files
on the server, so both are refused before they reach the app:
- a request whose Origin (which browsers always send with a websocket and a cross-site
  request) is not this server's own address, as the request's Host header names it;
- on a loopback bind, a request whose Host is not a loopback name (a rebound name is not).
"""
from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}


def is_allowed(host_header: str | None, origin_header: str | None, loopback_only: bool) -> bool:
    """Whether a request with these headers may reach the app."""
    if not host_header:
        return False
    if loopback_only and urlsplit(f"//{host_header}").hostname not in LOOPBACK_NAMES:
        return False
    if origin_header is None:  # not from a page of another site (a browser would have said so)
        return True
    origin = urlsplit(origin_header)
    return origin.scheme in ("http", "https") and origin.netloc == host_header


def install(server, bind_host: str) -> None:
    """Check every request to the trame server's web app (pages, files and the websocket)."""
    from aiohttp import web

    loopback_only = bind_host in LOOPBACK_NAMES

    @web.middleware
    async def same_origin(request, handler):
        if not is_allowed(request.headers.get("Host"), request.headers.get("Origin"), loopback_only):
            raise web.HTTPForbidden(text="InteractiveSeg answers pages from its own address only.")
        return await handler(request)

    def bind(wslink_server):
        wslink_server.app.middlewares.append(same_origin)

    server.controller.on_server_bind.add(bind)
