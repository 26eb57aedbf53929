"""The front door: what every request passes before it reaches a route.

* Forwarded headers. Behind a reverse proxy the request's own address is the
  proxy's; X-Forwarded-For, -Proto and -Host are believed only when that
  address is one of ``KPI_TRUSTED_PROXIES``, and then give the client's
  address, the scheme it used (https) and the host it asked for, which the
  manifest's URLs are built from.
* Trusted hosts. The Host header must be one the server answers to
  (``KPI_ALLOWED_HOSTS``, the public URL's host, loopback), so that nobody
  can make the manifest point Excel at a host of their choosing.
* JSON only. A POST must say ``Content-Type: application/json``. A web page
  on another origin can send a form or ``text/plain`` without asking, but
  not JSON: the browser asks first (a CORS preflight), and this server
  grants no other origin.
* Security headers on every answer: those that xlwings Server sets (the
  OWASP secure-headers proposal, relaxed as Excel on the web needs, since it
  frames the add-in and loads it from another origin).

Written as a plain ASGI middleware: it adds next to nothing to a one-cell call.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import orjson

from addin.server.protocol import AtOnce, PreparedHeaders
from addin.server.settings import Settings

Scope = dict[str, Any]

#: xlwings Server's defaults (OWASP) with its Excel-on-the-web overrides.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.lower().encode(), value.encode())
    for name, value in {
        "Cache-Control": "no-store, max-age=0",
        "Cross-Origin-Embedder-Policy": "require-corp",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Referrer-Policy": "no-referrer",
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "X-Permitted-Cross-Domain-Policies": "none",
    }.items()
)
_IMAGES = (b".png", b".jpg", b".jpeg", b".gif", b".svg", b".ico", b".webp", b".bmp")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


#: RFC 3986's ``host [ ":" port ]``, narrowed to what a server's name can be:
#: a bracketed IPv6 address, or a name (an IPv4 address included) of
#: letters, digits, hyphens, dots and underscores; a port of 1 to 5 digits.
#: No user information (``localhost:@evil.com``), path, list, space,
#: percent-encoding or empty port: a browser sends none of these.
_AUTHORITY = re.compile(
    r"(?P<host>\[(?P<ipv6>[0-9a-f:.]+)\]|[a-z0-9_](?:[a-z0-9_.-]{0,252}[a-z0-9_.])?)"
    r"(?::(?P<port>[0-9]{1,5}))?"
)


def parse_host(value: str) -> tuple[str, int | None] | None:
    """A Host or X-Forwarded-Host value as (host in lower case, port or None),
    or None when it is anything but ``host[:port]``.

    >>> parse_host("LocalHost:8000"), parse_host("[::1]"), parse_host("localhost:@evil.com")
    (('localhost', 8000), ('[::1]', None), None)
    """
    match = _AUTHORITY.fullmatch(value.lower())
    if match is None:
        return None
    if match["ipv6"] is not None:
        try:
            ipaddress.IPv6Address(match["ipv6"])
        except ValueError:
            return None
    port = None if match["port"] is None else int(match["port"])
    if port is not None and not 0 < port < 65536:
        return None
    return match["host"], port


def authority(host: str, port: int | None) -> str:
    """``host[:port]`` as a URL writes it."""
    return host if port is None else f"{host}:{port}"


def refusal(status: int, message: str) -> tuple[int, PreparedHeaders, bytes]:
    """A request refused at the door: its status, headers and JSON body."""
    body = orjson.dumps({"detail": message})
    headers = PreparedHeaders(
        len(body), ((b"content-type", b"application/json"), *SECURITY_HEADERS)
    )
    return status, headers, body


async def _refuse(send: Any, status: int, message: str) -> None:
    status, headers, body = refusal(status, message)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


#: Host headers already checked, by their bytes: a client sends the same one
#: on every call.
_HOSTS_SEEN = 256


def _not_a_host(host: str) -> str:
    return (
        f"the request's host {host[:60]!r} is not a host name or address with an "
        "optional port (host[:port]); nothing else is answered"
    )


class FrontDoor:
    """The checks above, then the app; ``direct`` maps a path to a bare ASGI
    app that answers its POST requests itself, with the security headers
    (the custom-function call: see ``KpiApp.custom_functions_call_asgi``),
    and ``at_once`` to what answers them as soon as they have arrived
    whole, when it can (``answer_at_once``, ``KpiApp.answer_at_once``)."""

    def __init__(
        self,
        app: Any,
        settings: Settings,
        direct: dict[str, Any] | None = None,
        at_once: dict[str, AtOnce] | None = None,
    ) -> None:
        self.app = app
        self.direct = direct or {}
        self.at_once = at_once or {}
        #: The paths whose POST requests the server's protocol offers to
        #: ``answer_at_once`` (``addin.server.protocol``).
        self.at_once_paths = frozenset(self.at_once)
        self._checked: dict[bytes, tuple[str, bytes] | str] = {}
        self.any_host = "*" in settings.allowed_hosts
        self.hosts = frozenset(host.lower() for host in settings.hosts())
        self.proxies = settings.proxy_networks()

    def _trusted_proxy(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.proxies)

    def _forwarded(self, scope: Scope) -> None:
        """Believe the proxy's X-Forwarded-* headers (see the module docstring)."""
        client = scope.get("client")
        if not self.proxies or not client or not self._trusted_proxy(client[0]):
            return
        forwarded_for = _header(scope, b"x-forwarded-for")
        if forwarded_for:
            # The nearest address that is not one of our proxies is the client.
            for item in reversed(forwarded_for.decode("latin-1").split(",")):
                address = item.strip()
                if address and not self._trusted_proxy(address):
                    scope["client"] = (address, 0)
                    break
        proto = _header(scope, b"x-forwarded-proto")
        if proto:
            scheme = proto.decode("latin-1").split(",")[0].strip().lower()
            if scheme in ("http", "https"):
                scope["scheme"] = scheme
        host = _header(scope, b"x-forwarded-host")
        if host:
            # Taken whole: the proxy sets one value (deploy/nginx.conf), and a
            # list ("ours, evil.com") is checked, and refused, as the Host is.
            scope["headers"] = [
                (key, host if key == b"host" else old)
                for key, old in scope["headers"]
                if key != b"x-forwarded-host"
            ]
            if _header(scope, b"host") is None:
                scope["headers"].append((b"host", host))

    def _check_host(self, value: bytes) -> tuple[str, bytes] | str:
        """For a Host header's bytes: the checked ``host[:port]``, as text
        and as bytes, or the message that refuses it. A client sends the
        same Host on every call: each value is checked once."""
        try:
            return self._checked[value]
        except KeyError:
            pass
        host = value.decode("latin-1")
        parsed = parse_host(host)
        verdict: tuple[str, bytes] | str
        if parsed is None:
            verdict = _not_a_host(host)
        elif not self.any_host and parsed[0] not in self.hosts:
            verdict = (
                f"this server does not answer to the host {host[:60]!r}; whoever runs it "
                "can add it to KPI_ALLOWED_HOSTS"
            )
        else:
            checked = authority(*parsed)
            verdict = (checked, checked.encode("latin-1"))
        if len(self._checked) >= _HOSTS_SEEN:
            self._checked.clear()
        self._checked[value] = verdict
        return verdict

    def _admit(self, scope: Scope) -> tuple[int, str] | None:
        """The checks of the module docstring on an HTTP request: None when it
        may go on (its scope now as the routes see it), else the status and
        message that refuse it. Admitting a request again changes nothing."""
        if self.proxies:
            self._forwarded(scope)
        # One pass over the headers for the two that every request is checked on.
        host: bytes | None = None
        hosts = 0
        content_type: bytes | None = None
        for key, value in scope["headers"]:
            if key == b"host":
                hosts += 1
                if host is None:
                    host = value
            elif key == b"content-type" and content_type is None:
                content_type = value
        if hosts != 1 or host is None:
            return 400, _not_a_host("" if host is None else host.decode("latin-1"))
        # The verdict cached by ``_check_host``, looked up here: every call asks.
        verdict = self._checked.get(host) or self._check_host(host)
        if isinstance(verdict, str):
            return 400, verdict
        # The routes, and the manifest's URLs, see the host as it was checked.
        checked, checked_bytes = verdict
        if host != checked_bytes:
            scope["headers"] = [
                (key, checked_bytes if key == b"host" else value) for key, value in scope["headers"]
            ]
        scope["kpi.host"] = checked
        if (
            scope["method"] == "POST"
            and content_type != b"application/json"
            and (content_type or b"").split(b";")[0].strip().lower() != b"application/json"
        ):
            return 415, (
                "kpi serve takes JSON only: the request's Content-Type must be application/json"
            )
        return None

    def answer_at_once(
        self, scope: Scope, body: bytes
    ) -> tuple[int, PreparedHeaders, bytes] | None:
        """A POST request to one of ``at_once_paths``, arrived whole, answered
        before any ASGI task starts (``addin.server.protocol``): its status,
        headers and body, or None when it takes the ASGI path instead."""
        answer = self.at_once.get(scope["path"])
        if answer is None or scope["type"] != "http" or scope["method"] != "POST":
            return None
        refused = self._admit(scope)
        if refused is not None:
            return refusal(*refused)
        return answer(scope, body)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self._admit(scope)
        if refused is not None:
            await _refuse(send, *refused)
            return
        if scope["method"] == "POST":
            direct = self.direct.get(scope["path"])
            if direct is not None:
                await direct(scope, receive, send)
                return
        image = scope["path"].encode("latin-1", "replace").lower().endswith(_IMAGES)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {key.lower() for key, _ in headers}
                for key, value in SECURITY_HEADERS:
                    # Excel on Windows shows no ribbon icons that may not be cached.
                    if key not in present and not (image and key == b"cache-control"):
                        headers.append((key, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
