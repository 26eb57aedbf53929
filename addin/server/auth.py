"""Who is calling ``kpi serve``: the credentials xlwings' Office.js client sends.

Before every request the client calls ``globalThis.getAuth()`` in the task
pane's runtime and sends what it returns as two headers, ``Authorization``
and ``Auth-Provider``. ``KPI_AUTH`` picks what the server expects there:

* ``none``: anything; nobody is checked.
* ``token``: ``Bearer <the team's shared token>`` (``KPI_AUTH_TOKEN``), which
  each user enters once in the task pane (``web/auth.js``).
* ``entraid``: ``Bearer <access token>`` that Office single sign-on obtained
  from Microsoft Entra ID for this add-in's app registration. The token is
  checked against the tenant's published signing keys, with PyJWT.

A refused call raises :class:`AuthError`, whose text is what Excel shows
(the app answers 401). When the tenant's keys cannot be fetched, nobody can
be checked: :class:`AuthUnavailableError` (503, which the Office.js client
retries) rather than a 401 that would blame the user's credentials.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Any

import jwt

from addin.server.settings import Settings

__all__ = ["AuthError", "AuthUnavailableError", "Authenticator"]

logger = logging.getLogger(__name__)

#: Who called, when the shared token is right: the token names no one.
SHARED_TOKEN_CALLER = "shared-token"
#: The only algorithm Entra ID signs access tokens with. Naming it, rather
#: than taking the token's word, shuts out ``none`` and ``HS256`` tokens
#: "signed" with the public key.
ENTRAID_ALGORITHM = "RS256"
#: The scope an Office add-in's app registration exposes for single sign-on;
#: a token without it is an application's, not a user's.
OFFICE_SSO_SCOPE = "access_as_user"
#: Claims every Entra ID access token for a user carries.
REQUIRED_CLAIMS = ("exp", "iat", "nbf", "aud", "iss", "tid", "ver")
#: Claims that name the user, most readable first.
CALLER_CLAIMS = ("preferred_username", "upn", "oid")
SSO_TROUBLESHOOTING = (
    "https://learn.microsoft.com/office/dev/add-ins/develop/troubleshoot-sso-in-office-add-ins"
)
#: How much of a value from the request a message quotes.
QUOTE = 40


class AuthError(Exception):
    """Credentials that are missing or wrong: Excel shows this text (HTTP 401)."""


class AuthUnavailableError(Exception):
    """The tenant's signing keys cannot be fetched, so no token can be checked (HTTP 503)."""


def _quote(value: object, limit: int = QUOTE) -> str:
    """A value from the request, shortened: messages never repeat a whole token."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "...")


class Authenticator:
    """Checks each call's credentials against the server's ``KPI_AUTH`` settings.

    One per process, shared by every request: it keeps the tenant's
    signing keys between calls.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        jwks_timeout_seconds: float = 5.0,
        jwks_max_age_seconds: float = 3600.0,
        jwks_refetch_interval_seconds: float = 60.0,
        clock_skew_seconds: float = 60.0,
    ) -> None:
        self.mode = settings.auth
        self._shared_token = (
            settings.auth_token.get_secret_value().strip().encode()
            if settings.auth == "token" and settings.auth_token
            else b""
        )
        # Tokens spell both GUIDs in lower case; settings may not.
        self._tenant_id = (settings.entraid_tenant_id or "").strip().lower()
        self._client_id = (settings.entraid_client_id or "").strip().lower()
        self._clock_skew_seconds = clock_skew_seconds
        # A v1.0 token's audience is the Application ID URI: the docs'
        # registration makes it api://<public host>/<client id>, as the
        # manifest's WebApplicationInfo asks for it; api://<client id> is
        # the portal's default.
        v1_audiences = {f"api://{self._client_id}"}
        if settings.public_url:
            address = settings.public_url.split("://", 1)[1].lower()
            v1_audiences.add(f"api://{address}/{self._client_id}")
        self._audiences = {"1.0": v1_audiences, "2.0": {self._client_id}}
        self._issuers = {
            "1.0": f"https://sts.windows.net/{self._tenant_id}/",
            "2.0": f"https://login.microsoftonline.com/{self._tenant_id}/v2.0",
        }
        self._keys = TenantKeys(
            settings.jwks_url() if settings.auth == "entraid" else "",
            timeout_seconds=jwks_timeout_seconds,
            max_age_seconds=jwks_max_age_seconds,
            refetch_interval_seconds=jwks_refetch_interval_seconds,
        )

    async def authenticate(self, authorization: str | None, provider: str | None) -> str | None:
        """Who called: ``"shared-token"``, the Entra ID user's name, or None
        when the server checks no one.

        ``authorization`` and ``provider`` are the request's
        ``Authorization`` and ``Auth-Provider`` headers. Raises
        :class:`AuthError` for missing or wrong credentials and
        :class:`AuthUnavailableError` when the tenant's keys cannot be fetched.
        """
        if self.mode == "none":
            return None
        self._check_provider(provider)
        credentials = (authorization or "").strip()
        if not credentials:
            raise AuthError(self._no_credentials())
        if self.mode == "entraid" and credentials.startswith("Error"):
            # xlwings' entraid.js sends Office's own error when single
            # sign-on fails ("Error 13003: ..."), for the server to report.
            raise AuthError(
                f"Office could not sign you in with Microsoft Entra ID "
                f"({credentials[:120]}); see {SSO_TROUBLESHOOTING}"
            )
        scheme, _, token = credentials.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            # Name the scheme only: what follows it may be a secret.
            problem = f"starts with {_quote(scheme, 12)}" if token else "holds a single word"
            raise AuthError(
                f"the Authorization header {problem}; expected 'Bearer ' followed by "
                f"the {self._credential_name()}"
            )
        if self.mode == "token":
            return self._check_shared_token(token)
        return await self._check_entraid_token(token)

    # --- what each mode expects --------------------------------------------------

    def _credential_name(self) -> str:
        if self.mode == "token":
            return "team's access token"
        return "Entra ID access token that Office single sign-on obtains"

    def _no_credentials(self) -> str:
        if self.mode == "token":
            return (
                "no credentials: this server needs the team's access token; open the "
                "KPI add-in's task pane, enter the token under Access token and Save, "
                "then recalculate (see https://kpi-addin.github.io/kpi-addin/addin-serve/#authentication)"
            )
        return (
            "no credentials: this server signs users in with Microsoft Entra ID; "
            "load the add-in from this server's /manifest.xml, which asks Office "
            "for your sign-in (see https://kpi-addin.github.io/kpi-addin/addin-serve/#authentication)"
        )

    def _check_provider(self, provider: str | None) -> None:
        # The header is only a label, never trusted: it helps to name a
        # task pane that was set up for another server.
        sent = (provider or "").strip().lower()
        if sent and sent != self.mode:
            raise AuthError(
                f"the add-in sent {_quote(sent)} credentials, but this server expects "
                f"{self.mode!r} (KPI_AUTH); reload the task pane from this server so "
                f"that it sends the right ones"
            )

    def _check_shared_token(self, token: str) -> str:
        # Constant time: how long the comparison takes says nothing of how
        # much of the token was right.
        if not hmac.compare_digest(token.encode(), self._shared_token):
            raise AuthError(
                "the access token is not this server's: enter the team's current "
                "token in the task pane under Access token and Save"
            )
        return SHARED_TOKEN_CALLER

    async def _check_entraid_token(self, token: str) -> str:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError(
                "the credentials are not a readable token: expected an Entra ID "
                "access token (three base64url parts separated by dots)"
            ) from None
        algorithm = header.get("alg")
        if algorithm != ENTRAID_ALGORITHM:
            raise AuthError(
                f"the token is signed with {_quote(algorithm)}; Entra ID signs "
                f"access tokens with {ENTRAID_ALGORITHM} only"
            )
        key_id = header.get("kid")
        if not isinstance(key_id, str) or not key_id:
            raise AuthError("the token does not name the key it was signed with (kid)")
        signing_key = await self._keys.key(key_id)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=signing_key.key,
                algorithms=[ENTRAID_ALGORITHM],
                leeway=self._clock_skew_seconds,
                # Audience and issuer depend on the token's version: checked
                # below, with messages that say which one was expected.
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.ExpiredSignatureError:
            raise AuthError(
                "the token has expired: recalculate to have Office fetch a new one, "
                "or sign in to Office again"
            ) from None
        except jwt.ImmatureSignatureError:
            raise AuthError(
                "the token is not valid yet (its nbf or iat is in the future): "
                "check the clock of this server and of your computer"
            ) from None
        except jwt.InvalidSignatureError:
            raise AuthError("the token's signature does not match the tenant's keys") from None
        except jwt.MissingRequiredClaimError as error:
            raise AuthError(
                f"the token has no {error.claim!r} claim; expected an Entra ID access token"
            ) from None
        except jwt.PyJWTError as error:
            raise AuthError(f"the token cannot be read: {error}") from None
        return self._check_claims(claims)

    def _check_claims(self, claims: dict[str, Any]) -> str:
        version = claims["ver"]
        if not isinstance(version, str) or version not in self._issuers:
            raise AuthError(
                f"the token's version is {_quote(version)}; expected '1.0' or '2.0' "
                f"(an Entra ID access token)"
            )
        if str(claims["tid"]).lower() != self._tenant_id:
            raise AuthError(
                f"the token is from another tenant ({_quote(claims['tid'])}); this "
                f"server accepts users of tenant {self._tenant_id} (KPI_ENTRAID_TENANT_ID)"
            )
        if claims["iss"] != self._issuers[version]:
            raise AuthError(
                f"the token's issuer is {_quote(claims['iss'], 80)}; expected "
                f"{self._issuers[version]!r} for a version {version} token"
            )
        audience = claims["aud"]
        audiences = audience if isinstance(audience, list) else [audience]
        if not self._audiences[version].intersection(str(item).lower() for item in audiences):
            expected = " or ".join(sorted(map(repr, self._audiences[version])))
            raise AuthError(
                f"the token is for another application (audience {_quote(audience, 80)}); "
                f"expected {expected}: the add-in's manifest must ask for this server's "
                f"app registration (KPI_ENTRAID_CLIENT_ID)"
            )
        scopes = str(claims.get("scp", "")).split()
        if OFFICE_SSO_SCOPE not in scopes:
            raise AuthError(
                f"the token does not grant the {OFFICE_SSO_SCOPE!r} scope: expected a "
                f"user's token from Office single sign-on (see "
                f"https://kpi-addin.github.io/kpi-addin/addin-serve/#authentication)"
            )
        for name in CALLER_CLAIMS:
            caller = claims.get(name)
            if isinstance(caller, str) and caller:
                return caller
        raise AuthError(
            "the token does not name its user (preferred_username, upn or oid); "
            "expected a user's token from Office single sign-on"
        )


class TenantKeys:
    """The tenant's signing keys, by key id, fetched from its JWKS address.

    Fetched on first use and again when older than ``max_age_seconds``;
    a token signed with a key the cache lacks (the tenant rotated its keys)
    fetches them again. Both refetches happen at most every
    ``refetch_interval_seconds``, so that tokens with made-up key ids cannot
    turn the server into a flood of requests to Microsoft; when a refresh
    fails, the keys already known go on checking tokens. The fetch runs in a thread, never on the
    event loop, and gives up after ``timeout_seconds``; while it runs, other
    calls that need it wait for its answer rather than fetch again.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float,
        max_age_seconds: float,
        refetch_interval_seconds: float,
    ) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.max_age_seconds = max_age_seconds
        self.refetch_interval_seconds = refetch_interval_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._attempts = 0
        self._last_failure: str | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._fetch_lock: asyncio.Lock | None = None

    async def key(self, key_id: str) -> jwt.PyJWK:
        """The tenant's public key ``key_id``; AuthError if the tenant has none by that id."""
        if key_id in self._keys and not self._expired():
            return self._keys[key_id]
        attempts_before = self._attempts
        async with self._lock():
            # Another call may have fetched while this one waited: its
            # answer, good or bad, is this one's too.
            if self._attempts == attempts_before and self._may_fetch():
                await self._fetch()
        if key_id in self._keys:
            # Possibly from an older fetch when the latest failed: a key that
            # signed yesterday's tokens still proves who signed today's.
            return self._keys[key_id]
        if self._last_failure is not None:
            raise AuthUnavailableError(
                f"the sign-in keys of the Entra ID tenant cannot be fetched from "
                f"{self.url} ({self._last_failure}), so no token can be checked; "
                f"try again in a moment"
            )
        raise AuthError(
            f"the token was signed with a key ({_quote(key_id)}) that the tenant does "
            f"not publish at {self.url}; sign in to Office again"
        )

    def _lock(self) -> asyncio.Lock:
        # An asyncio.Lock belongs to the event loop it first waits on; the
        # keys outlive loops (tests, a server restarted in one process).
        loop = asyncio.get_running_loop()
        if self._fetch_lock is None or self._lock_loop is not loop:
            self._lock_loop, self._fetch_lock = loop, asyncio.Lock()
        return self._fetch_lock

    def _expired(self) -> bool:
        return (
            self._fetched_at is None or time.monotonic() - self._fetched_at >= self.max_age_seconds
        )

    def _may_fetch(self) -> bool:
        if not self._keys or self._attempted_at is None:
            # Nothing to check tokens with: every call tries.
            return True
        # Keys due for a refresh, or lacking a rotated one: fetch, but not
        # more often than the interval, so that an outage of the endpoint
        # does not make every call wait for a timeout.
        return time.monotonic() - self._attempted_at >= self.refetch_interval_seconds

    async def _fetch(self) -> None:
        self._attempts += 1
        self._attempted_at = time.monotonic()
        # urllib's timeout bounds each socket operation, a little later than
        # wait_for bounds the whole: on a busy machine the two would race, and
        # the same silence would be said two ways.
        client = jwt.PyJWKClient(
            self.url, cache_jwk_set=False, timeout=self.timeout_seconds + SOCKET_GRACE_SECONDS
        )
        try:
            document = await asyncio.wait_for(
                asyncio.to_thread(client.fetch_data), self.timeout_seconds
            )
            keys = {
                key.key_id: key
                for key in jwt.PyJWKSet.from_dict(document).keys
                if key.key_id and key.key_type == "RSA" and key.public_key_use in ("sig", None)
            }
        except TimeoutError:
            self._failed(f"no answer within {self.timeout_seconds:g} seconds")
            return
        except asyncio.CancelledError:
            # The call that fetched went away; those waiting must not read
            # the missing keys as "the tenant has no such key".
            self._failed("the fetch was interrupted")
            raise
        except (jwt.PyJWTError, OSError, ValueError, TypeError, AttributeError) as error:
            # PyJWKClientError (unreachable, not JSON), PyJWKSetError (no
            # usable key), or a document of another shape.
            if _timed_out(error):  # urllib's timeout came first all the same
                self._failed(f"no answer within {self.timeout_seconds:g} seconds")
                return
            self._failed(str(error)[:200] or type(error).__name__)
            return
        if not keys:
            self._failed("the document holds no RSA signing key")
            return
        self._keys = keys
        self._fetched_at = time.monotonic()
        self._last_failure = None
        logger.info("fetched %d signing keys of the Entra ID tenant from %s", len(keys), self.url)

    def _failed(self, reason: str) -> None:
        self._last_failure = reason
        logger.warning(
            "cannot fetch the Entra ID tenant's signing keys from %s: %s", self.url, reason
        )


#: How much later than the whole fetch's timeout urllib's own socket timeout is.
SOCKET_GRACE_SECONDS = 2.0


def _timed_out(error: BaseException) -> bool:
    """Whether a fetch failed because the endpoint was silent (PyJWKClient
    wraps urllib's timeout in its own error, with the cause's text)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, TimeoutError) or "timed out" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
