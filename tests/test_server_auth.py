"""Authentication of `kpi serve` calls: the shared token, and Entra ID access
tokens checked against a tenant's keys served from a real local JWKS
endpoint (tests/auth_support.py). The authenticator is run directly, as
the app runs it for each request."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from addin.server.auth import Authenticator, AuthError, AuthUnavailableError
from addin.server.settings import Settings
from tests import auth_support
from tests.auth_support import (
    CLIENT_ID,
    ISSUERS,
    OTHER_TENANT_ID,
    SIGNING_KEY,
    STRANGER_KEY,
    USER,
    JwksServer,
    entraid_settings,
    make_token,
    public_jwk,
)

pytestmark = pytest.mark.server

# The tenant's JWKS endpoint on 127.0.0.1, as a fixture of this module.
jwks_server = auth_support.jwks_server

SHARED_TOKEN = "kpi-team-token-4f9c2a7e51"


def authenticate(
    authenticator: Authenticator, authorization: str | None, provider: str | None
) -> str | None:
    return asyncio.run(authenticator.authenticate(authorization, provider))


def refusal(authenticator: Authenticator, authorization: str | None, provider: str | None) -> str:
    """The message Excel would show for these credentials."""
    with pytest.raises(AuthError) as refused:
        authenticate(authenticator, authorization, provider)
    return str(refused.value)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    parts = [b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode())]
    return ".".join([*parts, b64url(signature)])


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


# --- auth=none ---------------------------------------------------------------------


def test_without_auth_every_call_is_anonymous() -> None:
    authenticator = Authenticator(Settings(_env_file=None, auth="none"))  # type: ignore[call-arg]
    assert authenticate(authenticator, None, None) is None
    assert authenticate(authenticator, "Bearer anything", "entraid") is None


# --- auth=token: one shared bearer token ---------------------------------------------


@pytest.fixture
def shared_token_auth() -> Authenticator:
    settings = Settings(_env_file=None, auth="token", auth_token=SecretStr(SHARED_TOKEN))  # type: ignore[call-arg]
    return Authenticator(settings)


def test_the_right_shared_token_is_let_in(shared_token_auth: Authenticator) -> None:
    assert authenticate(shared_token_auth, f"Bearer {SHARED_TOKEN}", "token") == "shared-token"
    # curl and scripts send no Auth-Provider; the scheme's case does not matter.
    assert authenticate(shared_token_auth, f"bearer {SHARED_TOKEN}", None) == "shared-token"


def test_a_wrong_shared_token_is_refused_without_repeating_it(
    shared_token_auth: Authenticator,
) -> None:
    wrong = SHARED_TOKEN[:-1] + "X"
    message = refusal(shared_token_auth, f"Bearer {wrong}", "token")
    assert message.startswith("the access token is not this server's")
    assert wrong not in message


@pytest.mark.parametrize("authorization", [None, "", "   "])
def test_missing_credentials_say_where_to_enter_the_token(
    shared_token_auth: Authenticator, authorization: str | None
) -> None:
    message = refusal(shared_token_auth, authorization, "token")
    assert message.startswith("no credentials: this server needs the team's access token")
    assert "task pane" in message
    assert "see https://kpi-addin.github.io/kpi-addin/addin-serve/#authentication" in message


@pytest.mark.parametrize(
    ("authorization", "problem"),
    [
        (SHARED_TOKEN, "holds a single word"),
        ("Bearer", "holds a single word"),
        (f"Basic {SHARED_TOKEN}", "starts with 'Basic'"),
    ],
)
def test_a_token_without_bearer_is_refused(
    shared_token_auth: Authenticator, authorization: str, problem: str
) -> None:
    message = refusal(shared_token_auth, authorization, "token")
    assert message == (
        f"the Authorization header {problem}; expected 'Bearer ' followed by the team's "
        f"access token"
    )
    # Only the scheme is named: the rest may be the secret itself.
    assert SHARED_TOKEN[:8] not in message


def test_credentials_for_another_kind_of_server_are_named(
    shared_token_auth: Authenticator,
) -> None:
    message = refusal(shared_token_auth, f"Bearer {SHARED_TOKEN}", "entraid")
    assert message.startswith(
        "the add-in sent 'entraid' credentials, but this server expects 'token' (KPI_AUTH)"
    )


# --- auth=entraid: Office single sign-on tokens -------------------------------------


@pytest.fixture
def entraid_auth(jwks_server: JwksServer) -> Authenticator:
    return Authenticator(entraid_settings(jwks_server.url))


def test_a_valid_v2_token_names_its_user(
    entraid_auth: Authenticator, jwks_server: JwksServer
) -> None:
    assert authenticate(entraid_auth, f"Bearer {make_token()}", "entraid") == USER
    assert authenticate(entraid_auth, f"Bearer {make_token()}", "entraid") == USER
    # The keys are fetched once, not for each call.
    assert jwks_server.requests == 1


def test_a_valid_v1_token_names_its_user(entraid_auth: Authenticator) -> None:
    token = make_token(version="1.0")
    assert claims_of(token)["aud"] == f"api://{CLIENT_ID}"
    assert authenticate(entraid_auth, f"Bearer {token}", "entraid") == USER


def test_a_v1_token_for_the_manifests_application_id_uri_is_accepted(
    jwks_server: JwksServer,
) -> None:
    # Office asks for the Resource of the manifest, api://<public host>/<client id>.
    settings = entraid_settings(jwks_server.url, public_url="https://kpi.contoso.example:8443")
    authenticator = Authenticator(settings)
    token = make_token(version="1.0", aud=f"api://kpi.contoso.example:8443/{CLIENT_ID}")
    assert authenticate(authenticator, f"Bearer {token}", "entraid") == USER


def test_a_token_without_a_user_name_is_named_by_its_object_id(
    entraid_auth: Authenticator,
) -> None:
    token = make_token(preferred_username=None)
    assert authenticate(entraid_auth, f"Bearer {token}", "entraid") == claims_of(token)["oid"]


def test_the_tenant_and_client_ids_may_be_given_in_capitals(jwks_server: JwksServer) -> None:
    settings = entraid_settings(
        jwks_server.url,
        entraid_tenant_id=auth_support.TENANT_ID.upper(),
        entraid_client_id=CLIENT_ID.upper(),
    )
    assert authenticate(Authenticator(settings), f"Bearer {make_token()}", "entraid") == USER


def now() -> int:
    return int(time.time())


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        pytest.param({"exp": now() - 3600}, "the token has expired", id="expired"),
        pytest.param({"nbf": now() + 3600}, "the token is not valid yet", id="not-yet-valid-nbf"),
        pytest.param(
            {"iat": now() + 3600}, "the token is not valid yet", id="issued-in-the-future"
        ),
        pytest.param(
            {"aud": "00000003-0000-0000-c000-000000000000"},
            "the token is for another application (audience '00000003-0000-0000-c000-000000000000'); "
            f"expected '{CLIENT_ID}'",
            id="wrong-audience",
        ),
        pytest.param(
            {"aud": f"api://{CLIENT_ID}"},
            f"the token is for another application (audience 'api://{CLIENT_ID}'); "
            f"expected '{CLIENT_ID}'",
            id="v1-audience-in-a-v2-token",
        ),
        pytest.param(
            {
                "tid": OTHER_TENANT_ID,
                "iss": f"https://login.microsoftonline.com/{OTHER_TENANT_ID}/v2.0",
            },
            f"the token is from another tenant ('{OTHER_TENANT_ID}')",
            id="other-tenant",
        ),
        pytest.param(
            {"iss": ISSUERS["1.0"]},
            f"the token's issuer is '{ISSUERS['1.0']}'; expected '{ISSUERS['2.0']}'",
            id="v1-issuer-in-a-v2-token",
        ),
        pytest.param(
            {"iss": "https://evil.example/v2.0"},
            "the token's issuer is 'https://evil.example/v2.0'",
            id="other-issuer",
        ),
        pytest.param({"ver": "3.0"}, "the token's version is '3.0'", id="unknown-version"),
        pytest.param({"tid": None}, "the token has no 'tid' claim", id="no-tenant"),
        pytest.param({"exp": None}, "the token has no 'exp' claim", id="no-expiry"),
        pytest.param(
            {"scp": None}, "the token does not grant the 'access_as_user' scope", id="app-only"
        ),
        pytest.param(
            {"preferred_username": None, "oid": None},
            "the token does not name its user",
            id="no-user",
        ),
    ],
)
def test_a_wrong_token_is_refused_with_what_is_wrong(
    entraid_auth: Authenticator, claims: dict[str, Any], expected: str
) -> None:
    message = refusal(entraid_auth, f"Bearer {make_token(**claims)}", "entraid")
    assert message.startswith(expected), message


def test_a_tampered_payload_does_not_match_the_signature(entraid_auth: Authenticator) -> None:
    header, _, signature = make_token().split(".")
    forged = b64url(
        json.dumps(
            {**claims_of(make_token()), "preferred_username": "boss@contoso.example"}
        ).encode()
    )
    message = refusal(entraid_auth, f"Bearer {header}.{forged}.{signature}", "entraid")
    assert message == "the token's signature does not match the tenant's keys"


def test_a_token_signed_by_another_key_is_refused(entraid_auth: Authenticator) -> None:
    # Same key id as the tenant's key, so only the signature tells them apart.
    token = make_token(key=STRANGER_KEY)
    message = refusal(entraid_auth, f"Bearer {token}", "entraid")
    assert message == "the token's signature does not match the tenant's keys"


def test_an_unsigned_token_is_refused(entraid_auth: Authenticator) -> None:
    token = unsigned_token(
        {"alg": "none", "typ": "JWT", "kid": "kpi-test-key-1"}, claims_of(make_token())
    )
    message = refusal(entraid_auth, f"Bearer {token}", "entraid")
    assert (
        message == "the token is signed with 'none'; Entra ID signs access tokens with RS256 only"
    )


def test_a_token_signed_with_the_public_key_as_an_hmac_secret_is_refused(
    entraid_auth: Authenticator,
) -> None:
    # The classic confusion attack: HS256 keyed with the published public key.
    public_pem = SIGNING_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": "kpi-test-key-1"}
    signing_input = unsigned_token(header, claims_of(make_token())).rsplit(".", 1)[0]
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64url(signature)}"
    message = refusal(entraid_auth, f"Bearer {token}", "entraid")
    assert (
        message == "the token is signed with 'HS256'; Entra ID signs access tokens with RS256 only"
    )


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (None, "no credentials: this server signs users in with Microsoft Entra ID"),
        ("Bearer not-a-token", "the credentials are not a readable token"),
        ("Bearer a.b.c", "the credentials are not a readable token"),
        (
            "Error 13003: User identity type not supported",
            "Office could not sign you in with Microsoft Entra ID (Error 13003: User identity "
            "type not supported); see https://learn.microsoft.com/",
        ),
    ],
)
def test_credentials_that_are_not_a_token_are_refused(
    entraid_auth: Authenticator, authorization: str | None, expected: str
) -> None:
    assert refusal(entraid_auth, authorization, "entraid").startswith(expected)


def test_messages_never_quote_the_whole_token(entraid_auth: Authenticator) -> None:
    for token in (
        make_token(aud="x" * 500),
        make_token(iss="y" * 500),
        make_token(tid="z" * 500),
        make_token(key_id="k" * 500),
    ):
        message = refusal(entraid_auth, f"Bearer {token}", "entraid")
        assert len(message) < 400, message
        assert token.split(".")[1] not in message


# --- the tenant's keys ---------------------------------------------------------------


def test_concurrent_first_calls_fetch_the_keys_once(
    entraid_auth: Authenticator, jwks_server: JwksServer
) -> None:
    jwks_server.delay_seconds = 0.2

    async def many_calls() -> list[str | None]:
        return await asyncio.gather(
            *(entraid_auth.authenticate(f"Bearer {make_token()}", "entraid") for _ in range(20))
        )

    assert asyncio.run(many_calls()) == [USER] * 20
    assert jwks_server.requests == 1


def test_an_unknown_key_is_looked_up_again_after_the_tenant_rotates_its_keys(
    jwks_server: JwksServer,
) -> None:
    authenticator = Authenticator(
        entraid_settings(jwks_server.url), jwks_refetch_interval_seconds=0
    )
    assert authenticate(authenticator, f"Bearer {make_token()}", "entraid") == USER
    rotated = make_token(key=STRANGER_KEY, key_id="kpi-test-key-2")
    message = refusal(authenticator, f"Bearer {rotated}", "entraid")
    assert message.startswith(
        "the token was signed with a key ('kpi-test-key-2') that the tenant does not publish"
    )
    # The tenant publishes its new key beside the old one.
    jwks_server.keys = [public_jwk(SIGNING_KEY), public_jwk(STRANGER_KEY, "kpi-test-key-2")]
    assert authenticate(authenticator, f"Bearer {rotated}", "entraid") == USER
    assert authenticate(authenticator, f"Bearer {make_token()}", "entraid") == USER
    assert jwks_server.requests == 3


def test_unknown_keys_do_not_refetch_more_often_than_the_interval(
    entraid_auth: Authenticator, jwks_server: JwksServer
) -> None:
    assert authenticate(entraid_auth, f"Bearer {make_token()}", "entraid") == USER
    for made_up in ("made-up-1", "made-up-2", "made-up-3"):
        message = refusal(entraid_auth, f"Bearer {make_token(key_id=made_up)}", "entraid")
        assert "that the tenant does not publish" in message
    assert jwks_server.requests == 1


def test_an_unreachable_key_endpoint_is_unavailability_not_a_refusal(
    entraid_auth: Authenticator, jwks_server: JwksServer
) -> None:
    jwks_server.stop()
    with pytest.raises(AuthUnavailableError) as unavailable:
        authenticate(entraid_auth, f"Bearer {make_token()}", "entraid")
    message = str(unavailable.value)
    assert message.startswith(
        f"the sign-in keys of the Entra ID tenant cannot be fetched from {jwks_server.url} ("
    )
    assert message.endswith("so no token can be checked; try again in a moment")
    assert not isinstance(unavailable.value, AuthError)


def test_a_failing_key_endpoint_is_unavailability(
    entraid_auth: Authenticator, jwks_server: JwksServer
) -> None:
    jwks_server.status = 500
    with pytest.raises(AuthUnavailableError):
        authenticate(entraid_auth, f"Bearer {make_token()}", "entraid")
    # Once it answers again, the next call fetches the keys.
    jwks_server.status = 200
    assert authenticate(entraid_auth, f"Bearer {make_token()}", "entraid") == USER


def test_a_silent_key_endpoint_times_out_without_blocking_other_calls(
    jwks_server: JwksServer,
) -> None:
    # Margins that hold on a busy machine (load 8 on 2 cores): a 1 s timeout
    # against a 10 s silence, and 10 ticks where an idle machine makes 100.
    jwks_server.delay_seconds = 10
    authenticator = Authenticator(entraid_settings(jwks_server.url), jwks_timeout_seconds=1.0)

    async def call_while_counting_ticks() -> tuple[BaseException | str | None, int, float]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                await asyncio.sleep(0.01)
                ticks += 1

        started = time.monotonic()
        counting = asyncio.create_task(ticker())
        try:
            outcome: BaseException | str | None = await authenticator.authenticate(
                f"Bearer {make_token()}", "entraid"
            )
        except AuthUnavailableError as error:
            outcome = error
        elapsed = time.monotonic() - started
        done.set()
        await counting
        return outcome, ticks, elapsed

    outcome, ticks, elapsed = asyncio.run(call_while_counting_ticks())
    assert isinstance(outcome, AuthUnavailableError)
    assert "no answer within 1 seconds" in str(outcome)
    assert elapsed < 8
    # The event loop went on running other work while the keys were awaited.
    assert ticks >= 10


def test_known_keys_outlive_an_outage_of_the_key_endpoint(jwks_server: JwksServer) -> None:
    authenticator = Authenticator(
        entraid_settings(jwks_server.url),
        jwks_max_age_seconds=0,
        jwks_refetch_interval_seconds=0,
    )
    assert authenticate(authenticator, f"Bearer {make_token()}", "entraid") == USER
    jwks_server.status = 503
    # The keys are due for a refresh that fails: yesterday's keys still check today's tokens.
    assert authenticate(authenticator, f"Bearer {make_token()}", "entraid") == USER
    assert jwks_server.requests == 2


def test_due_keys_are_refreshed_at_most_once_per_interval(jwks_server: JwksServer) -> None:
    # During an outage, calls go on with the known keys instead of each
    # waiting for the endpoint to fail.
    authenticator = Authenticator(entraid_settings(jwks_server.url), jwks_max_age_seconds=0)
    assert authenticate(authenticator, f"Bearer {make_token()}", "entraid") == USER
    jwks_server.status = 503
    for _ in range(3):
        assert authenticate(authenticator, f"Bearer {make_token()}", "entraid") == USER
    assert jwks_server.requests == 1
