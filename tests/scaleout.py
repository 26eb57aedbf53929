"""Scale-out support for the tests and the benchmark: several `kpi serve`
instances on loopback ports, the shipped nginx site (deploy/nginx.conf) in
front of them, and a small load generator.

nginx runs as a foreground process of the test, from a folder of its own
(configuration, logs, pid, temporary files): no system nginx service is
used or needed, only Debian's nginx program.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import kpi_engine
from tests.addin_support import KPI, free_port, office_js_body, server_env

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX_SITE = DEPLOY / "nginx.conf"
CALL_PATH = "/xlwings/custom-functions-call"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


# --- kpi serve instances ---------------------------------------------------------


@dataclass
class Instance:
    """One `kpi serve` process (its own process group) on 127.0.0.1:port."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL the instance with any process it started: a crash, not a stop."""
        _signal_group(self.process, signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        # Whatever it left behind (compute processes) goes too.
        _signal_group(self.process, signal.SIGKILL)
        self.process.wait(timeout=15)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def http_get(
    port: int, path: str, host: str = "127.0.0.1", timeout: float = 60, source: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One GET on a new connection; returns (status, lower-cased headers, body).

    ``source`` picks the client's address (another loopback address such as
    127.0.0.2), to see what nginx answers a client that is not 127.0.0.1.
    """
    with socket.create_connection(
        (host, port), timeout=timeout, source_address=(source, 0) if source else None
    ) as connection:
        connection.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        reader = connection.makefile("rb")
        status, headers, body = read_response(reader)
    return status, headers, body


def wait_for_healthz(
    port: int, process: subprocess.Popen[bytes] | None, log: Path, seconds: float = 60
) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"the process behind port {port} exited:\n{log.read_text(errors='replace')}"
            )
        try:
            if http_get(port, "/healthz", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"no 200 from /healthz on port {port} within {seconds:g} s:\n"
                f"{log.read_text(errors='replace')}"
            )
        time.sleep(0.1)


@contextmanager
def kpi_instances(count: int, folder: Path, **settings: str) -> Iterator[list[Instance]]:
    """``count`` `kpi serve` processes on free loopback ports, started side by
    side; ``settings`` are extra environment variables (KPI_TRUSTED_PROXIES...)."""
    assert KPI, "the kpi console script is not installed in this environment"
    instances: list[Instance] = []
    try:
        for _ in range(count):
            port = free_port()
            log = folder / f"kpi-serve-{port}.log"
            with log.open("wb") as log_file:
                process = subprocess.Popen(
                    [KPI, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=server_env(**settings),
                    cwd=folder,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    # Its own process group: killing the instance kills what it started.
                    start_new_session=True,
                )
            instances.append(Instance(port, process, log))
        for instance in instances:
            wait_for_healthz(instance.port, instance.process, instance.log)
        yield instances
    finally:
        for instance in instances:
            instance.stop()


# --- nginx -------------------------------------------------------------------------


@dataclass(frozen=True)
class TLSFiles:
    certificate: Path
    key: Path


def _replace(
    text: str, pattern: str, replacement: str | Callable[[re.Match[str]], str], count: int = 1
) -> str:
    """``re.subn`` that insists on ``count`` matches (0: at least one), so that
    a change to the shipped file cannot silently leave a line untested."""
    result, found = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if (count and found != count) or not found:
        raise AssertionError(
            f"deploy/nginx.conf: expected {count or 'some'} match(es) of {pattern!r}, "
            f"found {found}; update tests/scaleout.py:render_site_conf with the file"
        )
    return result


def render_site_conf(
    shipped: str,
    *,
    instance_ports: Sequence[int],
    listen_port: int,
    redirect_port: int,
    log_folder: Path,
    tls: TLSFiles | None = None,
) -> str:
    """The shipped nginx site, changed only where a test must: the instances'
    ports, loopback listening ports instead of 80 and 443, its log folder,
    and the certificate (a throwaway one with ``tls``; none without)."""
    upstream_line = r"^( *)server 127\.0\.0\.1:\d+( [^;\n]*)?;\n"
    first = re.search(upstream_line, shipped, flags=re.MULTILINE)
    assert first, "deploy/nginx.conf: no `server 127.0.0.1:<port> ...;` line in its upstream"
    indent, parameters = first.group(1), first.group(2) or ""
    servers = "".join(f"{indent}server 127.0.0.1:{port}{parameters};\n" for port in instance_ports)
    text = _replace(shipped, f"(?:{upstream_line})+", lambda _: servers)
    alternatives = "|".join(str(port) for port in instance_ports)
    text = _replace(
        text, r"\(\?<kpi_instance_port>[^)]*\)", f"(?<kpi_instance_port>{alternatives})"
    )
    text = _replace(text, r"^ *listen \[::\]:(?:80|443)\b[^;\n]*;\n", "", count=2)
    text = _replace(text, r"^( *)listen 80;", rf"\g<1>listen 127.0.0.1:{redirect_port};")
    if tls:
        text = _replace(
            text, r"^( *)listen 443 ssl http2;", rf"\g<1>listen 127.0.0.1:{listen_port} ssl http2;"
        )
        text = _replace(text, r"^( *ssl_certificate) [^;\n]+;", rf"\g<1> {tls.certificate};")
        text = _replace(text, r"^( *ssl_certificate_key) [^;\n]+;", rf"\g<1> {tls.key};")
    else:
        text = _replace(
            text, r"^( *)listen 443 ssl http2;", rf"\g<1>listen 127.0.0.1:{listen_port};"
        )
        text = _replace(text, r"^ *ssl_\w+ [^;\n]+;\n", "", count=0)
    return _replace(text, r"/var/log/nginx/", f"{log_folder}/", count=0)


def main_conf(folder: Path, site: Path, worker_processes: int = 1) -> str:
    """What Debian's /etc/nginx/nginx.conf gives the site, with every path in ``folder``."""
    lines = []
    if os.geteuid() == 0:
        # As root, nginx's workers would switch to `nobody`, who cannot read
        # the test's folder: they keep the test's own user instead.
        user = pwd.getpwuid(os.geteuid()).pw_name
        lines.append(f"user {user} {grp.getgrgid(os.getegid()).gr_name};")
    temp_paths = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    lines += [
        f"worker_processes {worker_processes};",
        "events {",
        "    worker_connections 1024;",
        "}",
        "http {",
        "    access_log off;",
        temp_paths,
        f"    include {site};",
        "}",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Answer:
    """One line of the site's access log: a request, and who answered it."""

    request: str
    status: int
    #: Each instance tried, in order: more than one when nginx retried.
    upstreams: list[str]
    upstream_statuses: list[str]

    PATTERN = re.compile(
        r'"(?P<request>[^"]*)" (?P<status>\d+) \d+ rt=\S+ '
        r"upstream=(?P<upstreams>.*) upstream_status=(?P<statuses>.*) urt="
    )

    @classmethod
    def parse(cls, line: str) -> Answer:
        found = cls.PATTERN.search(line)
        if not found:
            raise AssertionError(f"not a line of deploy/nginx.conf's kpi_upstream format: {line}")
        return cls(
            found["request"],
            int(found["status"]),
            found["upstreams"].split(", "),
            found["statuses"].split(", "),
        )


@dataclass
class Nginx:
    port: int
    redirect_port: int
    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def error_log(self) -> str:
        """nginx's error log and the site's, as far as they are written."""
        return "".join(
            path.read_text(errors="replace")
            for path in (self.folder / "error.log", self.folder / "kpi.error.log")
            if path.exists()
        )

    def access_log(self) -> list[Answer]:
        """The site's access log (kpi_upstream format); nginx writes its
        buffer out when it stops, or every 5 s."""
        path = self.folder / "kpi.access.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return [Answer.parse(line) for line in lines]

    def pids(self) -> list[int]:
        """The master process and its workers."""
        return [self.process.pid, *children(self.process.pid)]

    def stop(self) -> None:
        """A graceful stop (SIGQUIT), which also writes out the log buffers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def nginx(
    instance_ports: Sequence[int],
    folder: Path,
    tls: TLSFiles | None = None,
    worker_processes: int = 1,
) -> Iterator[Nginx]:
    """The shipped nginx site in front of ``instance_ports``, on a free loopback port."""
    assert NGINX, "nginx is missing: run make test, which installs Debian's nginx package"
    folder.mkdir(parents=True, exist_ok=True)
    port, redirect_port = free_port(), free_port()
    site = folder / "kpi.conf"
    site.write_text(
        render_site_conf(
            NGINX_SITE.read_text(),
            instance_ports=instance_ports,
            listen_port=port,
            redirect_port=redirect_port,
            log_folder=folder,
            tls=tls,
        )
    )
    conf = folder / "nginx.conf"
    conf.write_text(main_conf(folder, site, worker_processes))
    log = folder / "error.log"
    process = subprocess.Popen(
        [
            NGINX,
            "-p",
            str(folder),
            "-e",
            str(log),
            "-c",
            str(conf),
            "-g",
            f"daemon off; master_process on; pid {folder / 'nginx.pid'};",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    running = Nginx(port, redirect_port, folder, process)
    try:
        deadline = time.monotonic() + 60  # a margin that holds on a busy machine
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{running.error_log}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"nginx did not listen within 60 s:\n{running.error_log}"
                    ) from error
                time.sleep(0.05)
        yield running
    finally:
        running.stop()


@contextmanager
def cluster(
    count: int, folder: Path, worker_processes: int = 1, **settings: str
) -> Iterator[tuple[list[Instance], Nginx]]:
    """``count`` instances with nginx in front."""
    with ExitStack() as stack:
        instances = stack.enter_context(kpi_instances(count, folder, **settings))
        proxy = stack.enter_context(
            nginx([i.port for i in instances], folder / "nginx", worker_processes=worker_processes)
        )
        yield instances, proxy


def self_signed_certificate(folder: Path) -> TLSFiles:
    """A throwaway certificate for 127.0.0.1 and localhost."""
    import datetime as dt  # noqa: PLC0415
    import ipaddress  # noqa: PLC0415

    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = TLSFiles(folder / "certificate.pem", folder / "key.pem")
    files.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


# --- HTTP/1.1 on a raw socket: cheap enough to leave the CPU to the servers --------


def read_response(reader: object) -> tuple[int, dict[str, str], bytes]:
    """Read one response (Content-Length or chunked) from a socket's binary file."""
    readline = reader.readline  # type: ignore[attr-defined]
    read = reader.read  # type: ignore[attr-defined]
    status_line = readline(65537)
    if not status_line:
        raise ConnectionError("the server closed the connection without answering")
    status = int(status_line.split(b" ", 2)[1])
    headers: dict[str, str] = {}
    while True:
        line = readline(65537)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        length = int(headers["content-length"])
        body = read(length)
        if len(body) != length:
            raise ConnectionError(
                f"HTTP {status}: the connection closed after {len(body)} of {length} body bytes"
            )
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while size := int(readline(65537).split(b";")[0], 16):
            chunks.append(read(size))
            readline(65537)
        while readline(65537) not in (b"\r\n", b"\n", b""):  # trailers
            pass
        body = b"".join(chunks)
    else:
        body = read()
    return status, headers, body


@dataclass(frozen=True)
class NpsCall:
    """One Office.js-shaped =KPI.NPS(range) call, ready to send, and the value
    the engine gives for the same scores."""

    body: bytes
    expected: float
    cells: int


def nps_call(cells: int, seed: int) -> NpsCall:
    rng = random.Random(seed)
    # A column as Office.js sends it: one row per cell, integers as JSON numbers.
    rows = [[rng.randint(0, 10)] for _ in range(cells)]
    body = json.dumps(office_js_body("nps", [rows]), separators=(",", ":")).encode()
    return NpsCall(body, kpi_engine.nps(rows), cells)


@dataclass
class LoadReport:
    calls: int
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    #: Calls that got no HTTP answer at all.
    errors: list[str] = field(default_factory=list)
    #: Calls answered 200 with another value than the engine's.
    wrong: list[str] = field(default_factory=list)
    #: CPU seconds this process (the load generator) used meanwhile.
    generator_cpu_seconds: float = 0.0

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    @property
    def failures(self) -> list[str]:
        """Everything that is not a 200 with the engine's value, described."""
        others = {status: n for status, n in self.statuses.items() if status != 200}
        return [
            *(f"HTTP {status}: {n} calls" for status, n in sorted(others.items())),
            *self.errors,
            *self.wrong,
        ]


class Load:
    """``clients`` concurrent keep-alive clients (threads), each sending its own
    call ``calls_per_client`` times, or until ``seconds`` have passed.

    Each client checks every answer against the engine's value for its call.
    ``completed`` can be read while the load runs (to act mid-load).
    """

    def __init__(
        self,
        port: int,
        calls: Sequence[NpsCall],
        calls_per_client: int,
        seconds: float | None = None,
        timeout: float = 60,
    ) -> None:
        self.port = port
        self.calls = calls
        self.calls_per_client = calls_per_client
        self.seconds = seconds
        self.timeout = timeout
        self._done = [0] * len(calls)
        self._reports = [LoadReport(0, 0.0) for _ in calls]
        self._threads = [
            threading.Thread(target=self._client, args=(index,), daemon=True)
            for index in range(len(calls))
        ]
        self._start = 0.0
        self._cpu_start = 0.0

    @property
    def completed(self) -> int:
        return sum(self._done)

    def start(self) -> Load:
        self._cpu_start = time.process_time()
        self._start = time.perf_counter()
        for thread in self._threads:
            thread.start()
        return self

    def join(self) -> LoadReport:
        for thread in self._threads:
            thread.join()
        seconds = time.perf_counter() - self._start
        total = LoadReport(self.completed, seconds)
        total.generator_cpu_seconds = time.process_time() - self._cpu_start
        for report in self._reports:
            total.statuses.update(report.statuses)
            total.errors += report.errors
            total.wrong += report.wrong
        return total

    def run(self) -> LoadReport:
        return self.start().join()

    def _client(self, index: int) -> None:
        call, report = self.calls[index], self._reports[index]
        request = (
            f"POST {CALL_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(call.body)}\r\n\r\n"
        ).encode() + call.body
        deadline = None if self.seconds is None else self._start + self.seconds
        connection: socket.socket | None = None
        reader = None
        for _ in range(self.calls_per_client):
            if deadline is not None and time.perf_counter() >= deadline:
                break
            try:
                if connection is None:
                    connection = socket.create_connection(
                        ("127.0.0.1", self.port), timeout=self.timeout
                    )
                    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    reader = connection.makefile("rb", buffering=65536)
                connection.sendall(request)
                status, headers, body = read_response(reader)
            except (OSError, ValueError) as error:
                report.errors.append(f"client {index}: {type(error).__name__}: {error}")
                if connection is not None:
                    connection.close()
                connection = None
            else:
                report.statuses[status] += 1
                if status == 200:
                    value = json.loads(body)["result"][0][0]
                    if value != call.expected:
                        report.wrong.append(f"client {index}: {value!r}, engine {call.expected!r}")
                if headers.get("connection", "").lower() == "close":
                    connection.close()
                    connection = None
            self._done[index] += 1
        if connection is not None:
            connection.close()


def when_completed(load: Load, calls: int, action: Callable[[], None]) -> None:
    """Wait until ``load`` has completed ``calls`` calls, then run ``action``."""
    deadline = time.monotonic() + 120
    while load.completed < calls:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the load did not reach {calls} calls in 120 s")
        time.sleep(0.002)
    action()


# --- CPU accounting (Linux /proc) ----------------------------------------------------


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds of these processes and their waited-for children."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # utime, stime, cutime, cstime: fields 14-17 of proc(5), here from index 11.
        total += sum(int(value) for value in fields[11:15])
    return total / ticks


def _processes() -> Iterator[tuple[int, list[str]]]:
    """(pid, fields of /proc/<pid>/stat after the command name) of every process."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue


def process_group(pgid: int) -> list[int]:
    """Every process in a process group (an instance and what it started)."""
    return [pid for pid, stat in _processes() if int(stat[2]) == pgid]


def children(parent: int) -> list[int]:
    """The processes whose parent is ``parent``."""
    return [pid for pid, stat in _processes() if int(stat[1]) == parent]
