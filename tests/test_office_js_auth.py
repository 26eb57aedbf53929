"""The Excel side of authentication: auth.js gives xlwings' Office.js client
the credentials to send (run in Node with Office's storage stubbed), the
task pane asks for the shared token, and the manifest asks Office for
single sign-on."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import jinja2
import pytest

from addin.server.help import INDEX_PATH
from addin.server.manifest import ICON_PATHS, VERSION
from tests.addin_support import run_node
from tests.conftest import ROOT

WEB = ROOT / "addin" / "server" / "web"
AUTH_JS = WEB / "static" / "auth.js"
SCRIPT = ROOT / "tests" / "node" / "auth_js.mjs"
CLIENT_ID = "0b7e9f3a-2c4d-4e6f-8a1b-3c5d7e9f1a2b"
OFFICE = "{http://schemas.microsoft.com/office/taskpaneappversionoverrides}"

# As the app loads its templates.
templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(WEB),
    autoescape=jinja2.select_autoescape(["html", "xml"]),
)


@pytest.fixture(scope="module")
def auth_js_results() -> dict[str, Any]:
    return run_node(SCRIPT, str(AUTH_JS), timeout=60)  # type: ignore[no-any-return]


# --- auth.js ---------------------------------------------------------------------------


def test_the_saved_shared_token_is_sent_as_a_bearer_token(auth_js_results: dict[str, Any]) -> None:
    assert auth_js_results["tokenSaved"] == {
        "token": "Bearer team-token-0123456789",
        "provider": "token",
    }


def test_the_shared_token_is_kept_in_office_storage_across_restarts(
    auth_js_results: dict[str, Any],
) -> None:
    assert auth_js_results["officeStorageAfterSave"] == {
        "kpiAddinAccessToken": "team-token-0123456789"
    }
    assert auth_js_results["localStorageAfterSave"] == {}
    assert auth_js_results["tokenAfterRestart"]["token"] == "Bearer team-token-0123456789"


def test_without_office_storage_the_token_is_kept_in_local_storage(
    auth_js_results: dict[str, Any],
) -> None:
    assert auth_js_results["localStorageFallback"] == {
        "kpiAddinAccessToken": "team-token-abcdefghij"
    }
    assert auth_js_results["tokenFromLocalStorage"]["token"] == "Bearer team-token-abcdefghij"


def test_without_a_saved_token_the_server_is_left_to_explain(
    auth_js_results: dict[str, Any],
) -> None:
    # An empty token reaches the server, whose 401 says where to enter one.
    nothing = {"token": "", "provider": "token"}
    assert auth_js_results["tokenNothingSaved"] == nothing
    assert auth_js_results["tokenForgotten"] == nothing
    assert auth_js_results["officeStorageAfterForget"] == {}
    assert auth_js_results["tokenStorageBroken"] == nothing


def test_entraid_defers_to_xlwings_single_sign_on(auth_js_results: dict[str, Any]) -> None:
    assert auth_js_results["entraid"] == {"token": "Bearer sso-access-token", "provider": "entraid"}
    assert auth_js_results["entraidSsoCalls"] == 1


def test_without_auth_nothing_is_sent(auth_js_results: dict[str, Any]) -> None:
    assert auth_js_results["none"] == {"token": "", "provider": ""}
    assert auth_js_results["noConfig"] == {"token": "", "provider": ""}


def test_the_task_pane_form_saves_the_typed_token(auth_js_results: dict[str, Any]) -> None:
    assert auth_js_results["form"] == {
        "defaultPrevented": True,
        "inputAfterSave": "",
        "status": "Saved. Recalculate the workbook to retry the cells that failed.",
        "stored": {"kpiAddinAccessToken": "typed-token-9876543210"},
        "getAuth": {"token": "Bearer typed-token-9876543210", "provider": "token"},
    }
    assert auth_js_results["formReopened"] == "A token is saved."


# --- the task pane -------------------------------------------------------------------


def render_taskpane(**variables: Any) -> str:
    return templates.get_template("taskpane.html").render(
        config_json="{}", static="/static", office_js_version="1.1.0", **variables
    )


def test_with_the_shared_token_the_task_pane_asks_for_it() -> None:
    html = render_taskpane(auth="token")
    assert '<input id="kpi-access-token" type="password"' in html
    # getAuth exists before xlwings' custom-functions code can call it.
    assert html.index('src="/web/auth.js"') < html.index("custom-functions-code.js")


def test_with_entraid_the_task_pane_loads_auth_js_but_asks_for_no_token() -> None:
    html = render_taskpane(auth="entraid")
    assert 'src="/web/auth.js"' in html
    assert '<form id="kpi-access-token-form"' not in html


@pytest.mark.parametrize("variables", [{}, {"auth": "none"}])
def test_without_auth_the_task_pane_has_no_auth_script(variables: dict[str, str]) -> None:
    html = render_taskpane(**variables)
    assert "auth.js" not in html
    assert '<form id="kpi-access-token-form"' not in html


# --- the manifest ---------------------------------------------------------------------


def render_manifest(**variables: Any) -> ET.Element:
    xml = templates.get_template("manifest.xml").render(
        manifest_id="8d4f0b43-2c1e-5d7a-9b3e-1f2a3b4c5d6e",
        display_name="KPI add-in",
        namespace="KPI",
        base_url="https://kpi.contoso.example:8443",
        version=VERSION,
        icons=ICON_PATHS,
        support_path=INDEX_PATH,
        **variables,
    )
    return ET.fromstring(xml.encode())


def test_with_entraid_the_manifest_asks_office_for_single_sign_on() -> None:
    manifest = render_manifest(entraid_client_id=CLIENT_ID)
    overrides = manifest.find(f"{OFFICE}VersionOverrides")
    assert overrides is not None
    # Office reads WebApplicationInfo only as VersionOverrides' last child.
    info = list(overrides)[-1]
    assert info.tag == f"{OFFICE}WebApplicationInfo"
    assert info.findtext(f"{OFFICE}Id") == CLIENT_ID
    assert info.findtext(f"{OFFICE}Resource") == f"api://kpi.contoso.example:8443/{CLIENT_ID}"
    assert [scope.text for scope in info.iter(f"{OFFICE}Scope")] == ["openid", "profile"]


def test_without_entraid_the_manifest_asks_for_no_sign_on() -> None:
    manifest = render_manifest()
    assert manifest.find(f".//{OFFICE}WebApplicationInfo") is None
