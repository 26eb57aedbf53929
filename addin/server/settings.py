"""Every setting of ``kpi serve``, in one object.

Read once, from the environment (``KPI_*``) and a ``.env`` file in the
folder where the server starts, as xlwings-server reads its own; the command
line's options (``--public-url``...) are passed in as keyword arguments and
win over both. ``kpi serve`` exports the options it was given as ``KPI_*``
variables too, so that worker processes, which read their settings anew,
see the same values. The docs list every setting (docs/addin-serve.md).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Hosts that are always allowed: Excel on this machine loads the add-in from them.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")
#: Excel's largest column, in cells.
EXCEL_COLUMN = 1_048_576


def _split(value: object) -> object:
    """A list given as one environment variable: commas or spaces between items."""
    if isinstance(value, str):
        return [item for item in re.split(r"[,\s]+", value) if item]
    return value


class Settings(BaseSettings):
    """What ``kpi serve`` can be told; each field is the variable ``KPI_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="KPI_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # --- the add-in ------------------------------------------------------------
    #: ``prod``, or another name (``dev``) whose add-in loads beside production's.
    environment: str = "prod"
    #: Module whose ``@script`` functions the task pane's buttons run.
    scripts_module: str = "addin.scripts"
    #: The address Excel reaches the server at, as users type it (https://kpi.example.com).
    #: The manifest's URLs are built from it; without it, from the request.
    public_url: str | None = None

    # --- who may talk to it ----------------------------------------------------
    #: Host names the server answers to (the Host header); the public URL's
    #: host and the loopback names are always allowed. ``*`` allows any.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Addresses or networks (10.0.0.0/8) of reverse proxies whose
    #: X-Forwarded-For, -Proto and -Host headers are believed.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: ``none``, ``token`` (one shared bearer token) or ``entraid`` (Microsoft Entra ID).
    auth: Literal["none", "token", "entraid"] = "none"
    #: The shared token, for ``auth=token``.
    auth_token: SecretStr | None = None
    #: The Entra ID tenant (directory) id, for ``auth=entraid``.
    entraid_tenant_id: str | None = None
    #: The add-in's application (client) id in Entra ID: the tokens' audience.
    entraid_client_id: str | None = None
    #: Where the tenant's signing keys are published; derived from the tenant by default.
    entraid_jwks_url: str | None = None

    # --- limits ----------------------------------------------------------------
    #: Largest request body, in megabytes (a full column of dates sent as
    #: Excel's formatted numbers is about 90 MB).
    max_body_mb: float = Field(default=128, gt=0)
    #: Most cells in the arguments of one call (two full Excel columns).
    max_cells: int = Field(default=2 * EXCEL_COLUMN, gt=0)
    #: Bodies larger than this (kilobytes) are computed in a separate process,
    #: so that small calls never wait behind them.
    large_call_kb: float = Field(default=32, ge=0)
    #: Processes that compute the large calls and the task pane's scripts.
    compute_processes: int = Field(default=1, ge=1)
    #: Workbook starts ("Start a KPI workbook here") one user, or one address
    #: without sign-in, may have in progress at once; more get HTTP 429.
    max_starts_per_client: int = Field(default=2, ge=1)
    #: Seconds a client has to send a request's headers once it connects.
    header_timeout: float = Field(default=10, gt=0)
    #: Seconds a client may pause while it sends a request's body.
    body_timeout: float = Field(default=30, gt=0)
    #: Seconds an idle keep-alive connection stays open.
    keep_alive_timeout: int = Field(default=5, ge=1)

    # --- what it says ----------------------------------------------------------
    #: One access log line per call: ``text``, ``json``, or ``off``.
    access_log: Literal["text", "json", "off"] = "text"
    #: Serve Prometheus metrics at /metrics.
    metrics: bool = True

    @field_validator("allowed_hosts", "trusted_proxies", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split(value)

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str) -> str:
        return value.strip().lower() or "prod"

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an address such as https://kpi.example.com, got {value!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"expected an address without ?query or #fragment, got {value!r}")
        return value.strip().rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"expected IP addresses or networks such as 10.0.0.0/8, got {item!r}"
                ) from None
        return value

    @field_validator("entraid_tenant_id")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        # Tokens name their tenant by its id; a domain name would match none.
        if value is not None and not re.fullmatch(
            r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            value.strip(),
        ):
            raise ValueError(
                f"expected the tenant's id, such as 72f988bf-86f1-41af-91ab-2d7cd011db47 "
                f"(Entra ID > Overview > Tenant ID), got {value!r}"
            )
        return value.strip().lower() if value else value

    @model_validator(mode="after")
    def _auth_complete(self) -> Settings:
        if self.auth == "token" and not (
            self.auth_token and self.auth_token.get_secret_value().strip()
        ):
            raise ValueError("KPI_AUTH=token needs the shared token in KPI_AUTH_TOKEN")
        if self.auth == "token" and len(self.auth_token.get_secret_value().strip()) < 16:  # type: ignore[union-attr]
            raise ValueError("KPI_AUTH_TOKEN is too short to be safe: use 16 characters or more")
        if self.auth == "entraid" and not (self.entraid_tenant_id and self.entraid_client_id):
            raise ValueError(
                "KPI_AUTH=entraid needs KPI_ENTRAID_TENANT_ID and KPI_ENTRAID_CLIENT_ID"
            )
        return self

    # --- derived ---------------------------------------------------------------

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * (1 << 20))

    @property
    def large_call_bytes(self) -> int:
        return int(self.large_call_kb * 1024)

    @property
    def public_host(self) -> str | None:
        return urlsplit(self.public_url).hostname if self.public_url else None

    def hosts(self) -> list[str]:
        """Every Host header value the server answers to."""
        hosts = [*LOOPBACK_HOSTS, *self.allowed_hosts]
        if self.public_host:
            hosts.append(self.public_host)
        return list(dict.fromkeys(hosts))

    def proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(item, strict=False) for item in self.trusted_proxies]

    def jwks_url(self) -> str:
        return (
            self.entraid_jwks_url
            or f"https://login.microsoftonline.com/{self.entraid_tenant_id}/discovery/v2.0/keys"
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
