"""Scale-out: several `kpi serve` instances behind the shipped nginx site
(deploy/nginx.conf), driven over real HTTP on 127.0.0.1; and the shipped
systemd unit and Dockerfile, held against `kpi serve`'s own options.

The loads are bounded in calls; no test asserts a timing.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from addin.commands import serve
from addin.server.settings import Settings
from tests.addin_support import KPI, free_port
from tests.conftest import ROOT
from tests.scaleout import (
    DEPLOY,
    NGINX_SITE,
    Instance,
    Load,
    TLSFiles,
    cluster,
    http_get,
    kpi_instances,
    nginx,
    nps_call,
    read_response,
    render_site_conf,
    self_signed_certificate,
    when_completed,
)

pytestmark = pytest.mark.server

CELLS = 3000
SITE = NGINX_SITE.read_text()
DOCKERFILE = DEPLOY / "Dockerfile"
UNIT = DEPLOY / "kpi-serve@.service"
ENV_EXAMPLE = DEPLOY / "kpi.env.example"


def directive(name: str, text: str = SITE) -> list[str]:
    """The values of every ``name ...;`` directive of the nginx site, in order."""
    return re.findall(rf"^\s*{re.escape(name)}\s+([^;]*);", text, flags=re.MULTILINE)


def setting_default(name: str) -> object:
    return Settings.model_fields[name].default


def parses_as_kpi_serve(argv: list[str]) -> dict[str, object]:
    """``kpi serve``'s options from a command line, as click reads them; fails
    on an option or value that `kpi serve --help` does not offer."""
    program, command, *arguments = argv
    assert (Path(program).name, command) == ("kpi", "serve"), argv
    try:
        context = serve.make_context("serve", arguments)
    except click.ClickException as error:
        pytest.fail(f"{shlex.join(argv)}: {error.format_message()}")
    return dict(context.params)


# --- the shipped nginx site --------------------------------------------------------


def test_the_tested_nginx_site_differs_from_the_shipped_one_only_in_ports_logs_and_certificate(
    tmp_path: Path,
) -> None:
    rendered = render_site_conf(
        SITE,
        instance_ports=[41001, 41002, 41003],
        listen_port=41100,
        redirect_port=41101,
        log_folder=tmp_path,
        tls=TLSFiles(tmp_path / "certificate.pem", tmp_path / "key.pem"),
    )
    changed = [
        line[1:].strip()
        for line in difflib.unified_diff(SITE.splitlines(), rendered.splitlines(), lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    allowed = re.compile(
        r"server 127\.0\.0\.1:\d+ .*;|listen .*;|ssl_certificate(_key)? .*;"
        r"|(access|error)_log .*;|location ~ \^/metrics/.*\{"
    )
    assert changed
    assert [line for line in changed if not allowed.fullmatch(line)] == []


def test_nginx_accepts_no_larger_body_than_kpi_serve() -> None:
    assert directive("client_max_body_size") == [f"{setting_default('max_body_mb'):g}m"]
    assert f"({setting_default('max_body_mb'):g} MB;" in SITE
    assert f"KPI_MAX_BODY_MB={setting_default('max_body_mb'):g}\n" in ENV_EXAMPLE.read_text()


def test_nginx_gives_clients_the_time_kpi_serve_would() -> None:
    assert directive("client_header_timeout") == [f"{setting_default('header_timeout'):g}s"]
    assert directive("client_body_timeout") == [f"{setting_default('body_timeout'):g}s"]


def test_nginx_closes_idle_upstream_connections_before_kpi_serve_does() -> None:
    upstream = re.search(r"^upstream kpi_serve \{(.*?)^\}", SITE, flags=re.MULTILINE | re.DOTALL)
    assert upstream
    [idle] = directive("keepalive_timeout", upstream.group(1))
    assert int(idle.removesuffix("s")) < int(str(setting_default("keep_alive_timeout")))


def test_only_pure_calls_are_retried_as_non_idempotent() -> None:
    retried = re.findall(
        r"location ([^{]*)\{[^}]*proxy_next_upstream [^;]*non_idempotent;", SITE, flags=re.DOTALL
    )
    assert [path.strip() for path in retried] == [
        "= /xlwings/custom-functions-call",
        "^~ /xlwings/custom-scripts-call/",
        "^~ /taskpane/refresh",
    ]
    assert directive("proxy_next_upstream_tries") == ["2"]


def test_every_setting_of_the_environment_example_is_a_setting() -> None:
    names = re.findall(r"^(KPI_\w+)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE)
    assert names
    assert [n for n in names if n.removeprefix("KPI_").lower() not in Settings.model_fields] == []
    assert re.search(r"^XLWINGS_LICENSE_KEY=$", ENV_EXAMPLE.read_text(), flags=re.MULTILINE)


# --- through nginx -------------------------------------------------------------------


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Instance]]:
    """Two instances that believe the X-Forwarded-* headers of a proxy on 127.0.0.1."""
    with kpi_instances(
        2, tmp_path_factory.mktemp("instances"), KPI_TRUSTED_PROXIES="127.0.0.1"
    ) as running:
        yield running


def test_healthz_answers_through_nginx(instances: list[Instance], tmp_path: Path) -> None:
    with nginx([i.port for i in instances], tmp_path) as proxy:
        status, headers, body = http_get(proxy.port, "/healthz")
    assert (status, headers["content-type"], json.loads(body)) == (
        200,
        "application/json",
        {"status": "ok"},
    )


def test_a_bounded_load_through_nginx_has_no_error_and_the_engines_values(
    instances: list[Instance], tmp_path: Path
) -> None:
    calls = [nps_call(CELLS, seed) for seed in range(4)]
    with nginx([i.port for i in instances], tmp_path) as proxy:
        report = Load(proxy.port, calls, calls_per_client=50).run()
    assert report.failures == []
    assert report.statuses == {200: 200}
    # Both instances answered: nothing ties a client to one of them.
    answered_by = {answer.upstreams[-1] for answer in proxy.access_log()}
    assert answered_by == {f"127.0.0.1:{i.port}" for i in instances}


def test_the_panes_refresh_through_nginx_is_answered_by_any_instance(
    instances: list[Instance], tmp_path: Path
) -> None:
    """The refresh's two requests carry all they need: whichever instance
    answers, the plan and the report are the same."""
    import http.client  # noqa: PLC0415

    from addin.report.pane import refresh_plan  # noqa: PLC0415
    from tests.pane_support import pane_request, stub_state  # noqa: PLC0415

    workbook = tmp_path / "shop.xlsx"
    subprocess.run(
        [KPI, "new", "celebrity_video", "--as-of", "2026-11-15", "-o", str(workbook)],
        check=True,
        capture_output=True,
    )
    request = pane_request(stub_state(workbook), refresh_plan)

    def post(port: int, path: str, body: object) -> tuple[int, object]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    with nginx([i.port for i in instances], tmp_path / "nginx") as proxy:
        plans = [post(proxy.port, "/taskpane/refresh-plan", request["structure"]) for _ in range(4)]
        answers = [post(proxy.port, "/taskpane/refresh", request) for _ in range(4)]
    # nginx writes its access log out as it stops.
    answered_by = {answer.upstreams[-1] for answer in proxy.access_log()}
    assert plans == [(200, refresh_plan(request["structure"]))] * 4
    assert {status for status, _ in answers} == {200}
    # The same report each time (the refresh time apart, in the first batch's values).
    shapes = {
        json.dumps([[action["func"] for action in batch] for batch in answer["batches"]])  # type: ignore[index]
        for _, answer in answers
    }
    assert len(shapes) == 1
    assert answered_by == {f"127.0.0.1:{i.port}" for i in instances}


def test_the_manifest_through_nginx_names_nginx_and_not_the_instance(
    instances: list[Instance], tmp_path: Path
) -> None:
    with nginx([i.port for i in instances], tmp_path) as proxy:
        status, _, body = http_get(proxy.port, "/manifest.xml")
    manifest = body.decode()
    assert status == 200, manifest
    assert f'DefaultValue="http://127.0.0.1:{proxy.port}/taskpane.html"' in manifest
    assert not any(f":{i.port}/" in manifest for i in instances)


def test_https_through_nginx_gives_an_https_manifest(
    instances: list[Instance], tmp_path: Path
) -> None:
    tls = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(cafile=tls.certificate)
    with nginx([i.port for i in instances], tmp_path / "nginx", tls=tls) as proxy:
        with (
            socket.create_connection(("127.0.0.1", proxy.port), timeout=60) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as connection,
        ):
            connection.sendall(
                f"GET /manifest.xml HTTP/1.1\r\nHost: localhost:{proxy.port}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            status, _, body = read_response(connection.makefile("rb"))
        redirect = http_get(proxy.redirect_port, "/manifest.xml")
    assert status == 200, body
    assert f'DefaultValue="https://localhost:{proxy.port}/taskpane.html"' in body.decode()
    assert redirect[0] == 301
    assert redirect[1]["location"] == "https://127.0.0.1/manifest.xml"


def test_metrics_through_nginx_answer_internal_addresses_only(
    instances: list[Instance], tmp_path: Path
) -> None:
    with nginx([i.port for i in instances], tmp_path) as proxy:
        inside = [http_get(proxy.port, "/metrics")[0]]
        inside += [http_get(proxy.port, f"/metrics/{i.port}")[0] for i in instances]
        # 127.0.0.2 is a loopback address too, but not one the site allows.
        outside = [
            http_get(proxy.port, path, source="127.0.0.2")[0]
            for path in ("/metrics", f"/metrics/{instances[0].port}")
        ]
        beyond = http_get(proxy.port, f"/metrics/{free_port()}")[0]
    assert inside == [200] * 3
    assert outside == [403, 403]
    # Only the instances' ports: the site is no way into other local services.
    assert beyond != 200


def test_without_a_live_instance_excel_gets_a_sentence_and_retries(tmp_path: Path) -> None:
    with nginx([free_port(), free_port()], tmp_path) as proxy:
        status, headers, body = http_get(proxy.port, "/healthz")
    assert (status, headers["content-type"]) == (502, "application/json")
    assert json.loads(body)["detail"].startswith("The KPI server is not answering")


def test_a_body_above_the_limit_gets_a_sentence_without_being_sent(tmp_path: Path) -> None:
    with (
        nginx([free_port()], tmp_path) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port), timeout=60) as client,
    ):
        # Only the headers: nginx answers from Content-Length alone.
        client.sendall(
            b"POST /xlwings/custom-functions-call HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 200000000\r\n\r\n"
        )
        status, headers, body = read_response(client.makefile("rb"))
    assert (status, headers["content-type"]) == (413, "application/json")
    assert "KPI_MAX_BODY_MB" in json.loads(body)["detail"]


def test_when_an_instance_is_killed_mid_load_every_call_still_succeeds(tmp_path: Path) -> None:
    calls = [nps_call(CELLS, seed) for seed in range(8)]
    with cluster(2, tmp_path) as (instances, proxy):
        victim = instances[0]
        load = Load(proxy.port, calls, calls_per_client=60).start()
        when_completed(load, 120, victim.kill)
        report = load.join()
        assert victim.process.poll() is not None
        proxy.stop()
        answers = proxy.access_log()
    assert report.failures == [], (
        "An answer cut off after its headers (HTTP 200 ... closed after 0 of N body bytes) "
        "means the killed instance wrote the headers and the body in two writes and died "
        "between them: nginx had passed the headers on and could no longer retry."
    )
    assert report.statuses == {200: 480}
    # The kill was felt, and nginx retried: some calls went to the killed
    # instance first and were answered by the other.
    victim_address = f"127.0.0.1:{victim.port}"
    retried = [answer for answer in answers if len(answer.upstreams) > 1]
    assert retried, answers[-20:]
    assert {(a.upstreams[0], a.upstreams[-1], a.status) for a in retried} == {
        (victim_address, f"127.0.0.1:{instances[1].port}", 200)
    }


# --- systemd and Docker -------------------------------------------------------------


def unit_values(name: str) -> list[str]:
    return re.findall(rf"^{name}=(.*)$", UNIT.read_text(), flags=re.MULTILINE)


def test_the_systemd_unit_runs_one_loopback_instance_per_port() -> None:
    [exec_start] = unit_values("ExecStart")
    argv = shlex.split(exec_start.replace("%i", "8001"))
    assert argv[0].endswith("/kpi")
    options = parses_as_kpi_serve(argv)
    assert (options["host"], options["port"]) == ("127.0.0.1", 8001)
    assert "--port %i" in exec_start
    assert unit_values("EnvironmentFile") == ["/etc/kpi/kpi.env"]
    assert "XLWINGS_LICENSE_KEY" not in "".join(unit_values("Environment"))


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    assert KPI
    # Only the program's path changes: /opt/kpi is where the unit expects an install.
    (tmp_path / UNIT.name).write_text(UNIT.read_text().replace("/opt/kpi/bin/kpi", KPI))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "kpi-serve@8001.service")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def test_the_dockerfile_runs_kpi_serve_on_its_exposed_port_and_checks_healthz() -> None:
    stage = dict(final_stage())
    assert stage["FROM"] == "python:3.11-slim"
    options = parses_as_kpi_serve(json.loads(stage["CMD"]))
    assert options["host"] == "0.0.0.0"
    assert stage["EXPOSE"] == str(options["port"])
    healthcheck = stage["HEALTHCHECK"]
    probe = json.loads(healthcheck[healthcheck.index("CMD") + 3 :])
    assert f"'http://127.0.0.1:{options['port']}/healthz'" in probe[-1]
    # A container runs as a user of its own, never as root.
    assert stage["USER"] not in ("root", "0")


def test_the_image_never_holds_a_licence_key() -> None:
    for name, arguments in dockerfile_instructions():
        if name in ("ENV", "ARG", "LABEL"):
            assert "XLWINGS" not in arguments.upper(), (name, arguments)
    assert "XLWINGS_LICENSE_KEY" not in Path(ROOT / ".dockerignore").read_text()


def test_the_image_is_built_from_every_file_the_package_needs() -> None:
    copied = {
        source.rstrip("/")
        for name, arguments in dockerfile_instructions()
        if name == "COPY" and not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    }
    pyproject = (ROOT / "pyproject.toml").read_text()
    packages = re.search(r"^packages = \[(.*)\]", pyproject, flags=re.MULTILINE)
    assert packages
    needed = {"pyproject.toml", "README.md", *re.findall(r'"(\w+)"', packages.group(1))}
    needed |= set(re.findall(r'^"(\w+)" = "kpi_engine/', pyproject, flags=re.MULTILINE))
    assert needed <= copied
    # .dockerignore leaves out everything but what is copied.
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert copied == allowed
