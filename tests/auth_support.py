"""Entra ID without Microsoft: a signing key made here, a real JWKS endpoint
on 127.0.0.1 that publishes it, and access tokens signed with it, shaped as
Office single sign-on's.

Use the endpoint as a fixture by naming it in the test module
(``jwks_server = auth_support.jwks_server``), or ``serving_jwks()`` as a
context manager; point the server at it with ``entraid_settings(url)``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from addin.server.settings import Settings

TENANT_ID = "6f1c4d2e-8a3b-4c5d-9e7f-0a1b2c3d4e5f"
CLIENT_ID = "0b7e9f3a-2c4d-4e6f-8a1b-3c5d7e9f1a2b"
OTHER_TENANT_ID = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
USER = "ana.lima@contoso.example"
KEY_ID = "kpi-test-key-1"
#: Generated once per test run: 2048-bit RSA, as Entra ID signs with.
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
#: Another key that the tenant does not publish.
STRANGER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISSUERS = {
    "1.0": f"https://sts.windows.net/{TENANT_ID}/",
    "2.0": f"https://login.microsoftonline.com/{TENANT_ID}/v2.0",
}
AUDIENCES = {"1.0": f"api://{CLIENT_ID}", "2.0": CLIENT_ID}


def public_jwk(private_key: rsa.RSAPrivateKey, key_id: str = KEY_ID) -> dict[str, Any]:
    """The public half of ``private_key`` as the tenant's JWKS lists it (no ``alg``, as Microsoft's)."""
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
    return {**jwk, "kid": key_id, "use": "sig"}


def make_token(
    *,
    version: str = "2.0",
    key: rsa.RSAPrivateKey = SIGNING_KEY,
    key_id: str = KEY_ID,
    **claims: Any,
) -> str:
    """An access token as Office single sign-on gets one for the add-in.

    Valid unless told otherwise: each keyword replaces a claim, and a claim
    given as None is left out.
    """
    now = int(time.time())
    payload: dict[str, Any] = {
        "aud": AUDIENCES[version],
        "iss": ISSUERS[version],
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
        "tid": TENANT_ID,
        "oid": str(uuid.uuid5(uuid.NAMESPACE_DNS, USER)),
        "scp": "access_as_user",
        "ver": version,
        ("preferred_username" if version == "2.0" else "upn"): USER,
    }
    payload.update(claims)
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": key_id})


def entraid_settings(jwks_url: str, **overrides: Any) -> Settings:
    """Settings of a server that signs users in with the test tenant's keys at ``jwks_url``."""
    values: dict[str, Any] = {
        "auth": "entraid",
        "entraid_tenant_id": TENANT_ID,
        "entraid_client_id": CLIENT_ID,
        "entraid_jwks_url": jwks_url,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class JwksServer:
    """A real HTTP endpoint that publishes ``keys`` as a JWKS document.

    Change ``keys`` to rotate them, set ``delay_seconds`` to answer slowly,
    or ``status`` to fail; ``requests`` counts the fetches.
    """

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = [public_jwk(SIGNING_KEY)]
        self.delay_seconds = 0.0
        self.status = 200
        self.requests = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                endpoint.requests += 1
                time.sleep(endpoint.delay_seconds)
                body = json.dumps({"keys": endpoint.keys}).encode()
                self.send_response(endpoint.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test output is the place for failures, not for each fetch

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll keeps stop() quick: it waits for serve_forever's next look.
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/discovery/v2.0/keys"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop answering: the address then refuses connections."""
        self._http.shutdown()
        self._http.server_close()


@contextmanager
def serving_jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    """The test tenant's JWKS endpoint on 127.0.0.1, publishing ``SIGNING_KEY``."""
    with serving_jwks() as server:
        yield server
