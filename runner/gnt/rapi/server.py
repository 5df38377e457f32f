"""gnt-rapi: Ganeti's remote API v2 over HTTPS (aiohttp), a client of the master daemon.

Every request: the URL table (:mod:`gnt.rapi.routes`) finds the resource, HTTP Basic
authentication and the users file decide access (:mod:`gnt.rapi.auth`), a JSON body is parsed,
and the resource runs in a worker thread with its own connection to the master daemon's socket.
Errors answer Ganeti's JSON body ``{"code", "message", "explain"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import ssl
import sys
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from gnt.client.connection import Client
from gnt.core import certs, resolver, settings, ssconf
from gnt.core.errors import GntError
from gnt.rapi import routes
from gnt.rapi.auth import REALM, UsersFile
from gnt.rapi.resources import HttpError, Request, http_error_of

LOG = logging.getLogger("gnt.rapi")
MAX_BODY = 1 << 20            # request bodies above 1 MiB are refused (413)
CERT_CHECK_INTERVAL = 5.0     # seconds between looks at rapi.pem (renew-crypto swaps it)


def error_response(err: HttpError) -> web.Response:
    """Ganeti's error answer: the status, and a JSON body naming it and what went wrong."""
    body = {"code": err.code, "message": HTTPStatus(err.code).phrase, "explain": err.explain}
    return web.Response(status=err.code, text=json.dumps(body),
                        content_type="application/json", headers=err.headers)


class RapiHandler:
    """The one aiohttp handler of every path."""

    def __init__(self, users: UsersFile, require_auth: bool,
                 backend_factory: Callable[[], Any] = Client) -> None:
        self.users = users
        self.require_auth = require_auth
        self.backend_factory = backend_factory

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one request (JSON, or Ganeti's JSON error body)."""
        try:
            result = await self._handle(request)
        except HttpError as err:
            return error_response(err)
        except web.HTTPException as exc:       # aiohttp's own, e.g. 413 for a huge body
            return error_response(HttpError(exc.status, exc.reason))
        return web.Response(text=json.dumps(result), content_type="application/json")

    def _authorize(self, request: web.Request, access: tuple[str, ...]) -> None:
        if not (self.require_auth or access):
            return
        header = request.headers.get("Authorization")
        user = self.users.authenticate(header)
        if user is None:
            if header:
                LOG.warning("Failed login from %s for %s %s", request.remote, request.method,
                            request.path)
            raise HttpError(401, "Authentication required",
                            headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})
        if access and not user.options & set(access):
            LOG.warning("User %s lacks %s access for %s %s", user.name, "/".join(access),
                        request.method, request.path)
            raise HttpError(403, f"User {user.name} may not {request.method} {request.path}")

    async def _body(self, request: web.Request) -> Any:
        if not request.body_exists:
            return None
        raw = await request.read()
        if not raw:
            return None
        ctype = request.headers.get("Content-Type", "application/octet-stream")
        if ctype.split(";")[0].strip().lower() != "application/json":
            raise HttpError(415, f"Request bodies must be application/json, not {ctype}")
        try:
            return json.loads(raw)
        except ValueError:
            raise HttpError(400, "Unable to parse JSON data") from None

    async def _handle(self, request: web.Request) -> Any:
        found = routes.match(request.path)
        if found is None:
            raise HttpError(404, f"No resource at {request.path}")
        route, items = found
        method = route.methods.get(request.method)
        if method is None:
            raise HttpError(501, f"Method {request.method} is unsupported for path"
                                 f" {request.path}")
        self._authorize(request, method.needs(request.method))
        resource = method.resource
        if resource is None:
            raise HttpError(501, f"{request.method} {route.template} is not implemented in"
                                 " gnt.cluster yet")
        req = Request(request.method, items,
                      parse_qs(request.query_string, keep_blank_values=True),
                      await self._body(request), route.name)
        return await asyncio.to_thread(self._run, resource, req)

    def _run(self, resource: Any, req: Request) -> Any:
        backend = self.backend_factory()
        try:
            return resource(backend, req)
        except GntError as err:
            raise http_error_of(err) from err
        finally:
            close = getattr(backend, "close", None)
            if close is not None:
                close()


def make_app(users: UsersFile, require_auth: bool = False,
             backend_factory: Callable[[], Any] = Client) -> web.Application:
    """The aiohttp application answering every RAPI path."""
    app = web.Application(client_max_size=MAX_BODY)
    handler = RapiHandler(users, require_auth, backend_factory)
    app.router.add_route("*", "/{tail:.*}", handler.handle)
    return app


def ssl_context(cert: Path) -> ssl.SSLContext:
    """A server TLS context with the key and certificate of ``cert``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert)
    return context


async def _watch_cert(context: ssl.SSLContext, cert: Path) -> None:
    """Load ``cert`` again when it changes: new connections get the new certificate."""
    def stamp() -> tuple[int, int]:
        st = cert.stat()
        return st.st_ino, st.st_mtime_ns

    seen = stamp()
    while True:
        await asyncio.sleep(CERT_CHECK_INTERVAL)
        try:
            now = stamp()
            if now != seen:
                context.load_cert_chain(cert)
                seen = now
                LOG.info("Loaded the new certificate %s", cert)
        except (OSError, ssl.SSLError) as err:
            LOG.error("Cannot load the certificate %s: %s", cert, err)


def ensure_certificate(cert: Path) -> None:
    """Make ``rapi.pem`` (self-signed for the cluster name and master IP) if it is missing."""
    if cert.exists():
        return
    name = ssconf.read("cluster_name") or resolver.this_node_name()
    alt = [a for a in (ssconf.read("master_ip"), "127.0.0.1", "localhost") if a]
    certs.write_self_signed(cert, name, alt)
    LOG.info("Made the remote API certificate %s for %s", cert, name)


def default_bind_addresses() -> list[str]:
    """The master IP (if this node has it) and loopback, as the issue asks."""
    master_ip = ssconf.read("master_ip")
    return [a for a in (master_ip, "127.0.0.1") if a]


async def serve(args: argparse.Namespace) -> None:
    """Run the server until SIGTERM/SIGINT."""
    paths = settings.paths()
    app = make_app(UsersFile(paths.rapi_users), args.require_authentication)
    context = None
    if not args.no_ssl:
        ensure_certificate(paths.rapi_cert)
        context = ssl_context(paths.rapi_cert)
    runner = web.AppRunner(app, access_log=LOG if args.debug else None)
    await runner.setup()
    bound = []
    for address in args.bind or default_bind_addresses():
        site = web.TCPSite(runner, address, args.port, ssl_context=context,
                           reuse_address=True)
        try:
            await site.start()
            bound.append(address)
        except OSError as err:
            LOG.warning("Cannot listen on %s:%d: %s", address, args.port, err)
    if not bound:
        await runner.cleanup()
        raise SystemExit(f"gnt-rapi: could not listen on any address (port {args.port})")
    LOG.info("Listening on %s port %d (%s)", ", ".join(bound), args.port,
             "HTTP" if context is None else "HTTPS")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(_watch_cert(context, paths.rapi_cert)) if context else None
    await stop.wait()
    if watcher:
        watcher.cancel()
    await runner.cleanup()


def build_parser() -> argparse.ArgumentParser:
    """Options as Ganeti's ganeti-rapi."""
    parser = argparse.ArgumentParser(prog="gnt-rapi", description="Ganeti remote API daemon")
    parser.add_argument("-f", "--foreground", action="store_true",
                        help="Don't detach from the current terminal (always, for now)")
    parser.add_argument("-d", "--debug", action="store_true", help="Log every request")
    parser.add_argument("-b", "--bind", action="append", metavar="ADDRESS",
                        help="Bind address (repeatable; default: master IP and 127.0.0.1)")
    parser.add_argument("-p", "--port", type=int, default=settings.RAPI_PORT,
                        help=f"Network port (default: {settings.RAPI_PORT})")
    parser.add_argument("--no-ssl", action="store_true",
                        help="Plain HTTP instead of HTTPS (only where that is safe)")
    parser.add_argument("--require-authentication", action="store_true",
                        help="Disable anonymous HTTP requests and require authentication")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``gnt-rapi``: serve the remote API in the foreground."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s gnt-rapi %(levelname)s %(message)s",
                        stream=sys.stderr)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
