"""The lab differential harness: every real client against every scenario, one capture each.

Usage (as root)::

    with LabMatrix(workdir) as matrix:
        attempts = matrix.run_all()              # {(client, scenario): Attempt}
        attempt = attempts["pymysql", "cname"]
        attempt.connected, attempt.exit_status, attempt.error   # the real outcome
        attempt.capture, attempt.client_ports                   # the capture of that attempt
        report = matrix.analyze(attempt)         # capture-tls's JSON connection object
        wire = wire_summary(attempt)             # tshark's view: SNI, alerts, FIN/RST

The lab (samples/lab/lab.py): a bridge with a server host (10.77.1.20, plus one address per
scenario server, 10.77.1.21...), a DNS host running dnsmasq (10.77.1.53), and one client host
per client runner (10.77.1.100...), so that the runners can go in parallel while each capture
(tcpdump on that client's eth0, ``tcp or port 53``) holds one attempt only: its DNS lookups and
its connections, nothing else. The mariadbd servers are started once and reused.

``python -m tests.lab_matrix.harness [--keep DIR] [--json FILE]`` runs the matrix and prints
one line per attempt (real outcome and wire facts).

TLS 1.3: ``LabMatrix(workdir, tls_version="TLSv1.3", keylogs=True)`` (command line:
``--tls-version TLSv1.3 --keylogs``) starts the servers with ``--tls-version=TLSv1.3`` and has
every client write its TLS secrets to ``Attempt.keylog`` (clients.KEYLOG_METHODS; the C clients
through clients/keylog_shim.c, built here with gcc); ``analyze_attempt(attempt, "--keylog",
str(attempt.keylog))`` and ``wire_summary(attempt, keylog=attempt.keylog)`` then decrypt.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .clients import (
    CLIENTS,
    KEYLOG_METHODS,
    REPO_ROOT,
    ClientRunner,
    Tools,
    build_go_client,
    build_keylog_shim,
    client_versions,
    with_keylog,
)
from .scenarios import SCENARIOS, SERVER_HOST_NUMBER, SERVERS, Scenario, ServerCert, server_address

sys.path.insert(0, str(REPO_ROOT / "samples" / "lab"))
import lab

__all__ = [
    "Attempt",
    "LabMatrix",
    "WireSummary",
    "analyze_attempt",
    "analyze_capture",
    "client_ports_in",
    "host_args",
    "matrix_prerequisites_missing",
    "wire_summary",
]

CLIENT_TIMEOUT_SECONDS = 25.0
CLIENT_HOST_BASE = 100
DNS_HOST_NUMBER = 53
USER = "tlsonly"
PASSWORD = lab.USERS[USER][0]


def matrix_prerequisites_missing() -> list[str]:
    """Why the matrix cannot run here (empty when it can)."""
    missing = [] if lab.have_root() else ["root"]
    missing += lab.lab_prerequisites_missing()
    if shutil.which("tshark") is None:
        missing.append("tshark")
    return missing


@dataclass(frozen=True)
class Attempt:
    """One run of one client against one scenario, and the capture of it."""

    client: str
    family: str
    scenario: str
    dialed: str  # the host the client was given
    server_ip: str
    server_port: int
    ca: Path  # the CA file the client was given (pass it to capture-tls --ca)
    argv: tuple[str, ...]  # the client's command line (run inside its namespace)
    capture: Path  # pcap of this attempt alone (tcpdump on the client's eth0)
    exit_status: int | None  # None when the client timed out
    connected: bool  # the client ran SELECT 1
    output: str  # everything the client printed
    client_ports: tuple[int, ...]  # source ports of its TCP connections to the server
    seconds: float
    keylog: Path | None = None  # the TLS key log the client wrote (LabMatrix(keylogs=True))
    tls_version: str = "TLSv1.2"  # the only version the servers allowed

    @property
    def error(self) -> str:
        """The client's error text ("" when it connected): its last non-empty output line."""
        if self.connected:
            return ""
        lines = [line.strip() for line in self.output.splitlines() if line.strip()]
        for line in lines:
            if line.startswith(("FAILED ", "ERROR ")):
                return line
        return lines[-1] if lines else ("timeout" if self.exit_status is None else "")

    @property
    def details(self) -> list[str]:
        """The client's other output lines (PHP's warnings carry the TLS layer's reason)."""
        return [line.strip() for line in self.output.splitlines()
                if line.strip() and line.strip() != self.error]


@dataclass
class _ServerInfo:
    cert: ServerCert
    ip: str
    port: int
    cert_pem: Path


@dataclass
class LabMatrix:
    """The lab, its servers and one client host per runner. A context manager.

    ``tls_version`` is the servers' ``--tls-version`` (the only version they accept);
    ``keylogs`` makes every client write its TLS secrets to ``Attempt.keylog``
    (clients.KEYLOG_METHODS), for decrypting TLS 1.3 handshakes.
    """

    workdir: Path
    clients: Sequence[ClientRunner] = CLIENTS
    scenarios: Sequence[Scenario] = SCENARIOS
    tools: Tools = field(default_factory=lambda: Tools(None))
    tls_version: str = "TLSv1.2"
    keylogs: bool = False
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _servers: dict[str, _ServerInfo] = field(default_factory=dict)
    _client_hosts: dict[str, lab.Host] = field(default_factory=dict)
    _ca_files: dict[str, Path] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> LabMatrix:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    # ----------------------------------------------------------------------------- setup

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tools = Tools(build_go_client(self.workdir),
                           keylog_shim=build_keylog_shim(self.workdir) if self.keylogs else None)
        the_lab = self._stack.enter_context(lab.Lab())
        server = the_lab.add_host("srv", SERVER_HOST_NUMBER)
        dns = the_lab.add_host("dns", DNS_HOST_NUMBER)
        for index, runner in enumerate(self.clients):
            host = the_lab.add_host(f"c{index}", CLIENT_HOST_BASE + index)
            the_lab.set_resolver(host, dns.ipv4)
            self._client_hosts[runner.name] = host
        certs = self.workdir / "certs"
        pki = lab.TestPki.create("capture-tls matrix")
        other = lab.TestPki.create("capture-tls matrix other", with_intermediate=False)
        root_pem = certs / "ca-lab-root.pem"
        other_pem = certs / "ca-other-root.pem"
        certs.mkdir(parents=True, exist_ok=True)
        root_pem.write_bytes(pki.root.cert_pem())
        other_pem.write_bytes(other.root.cert_pem())
        self._ca_files = {"lab": root_pem, "other": other_pem}
        a_records: dict[str, str] = {}
        cnames: dict[str, str] = {}
        used = {s.server for s in self.scenarios}
        for index, cert in enumerate(SERVERS):
            if cert.name not in used:
                continue
            ip, port = server_address(index)
            server.run(["ip", "addr", "add", f"{ip}/24", "dev", "eth0"])
            issued = self._issue(pki, cert, ip)
            cert_path, chain_path, key_path = issued.write(certs, f"server-{cert.name}")
            self._servers[cert.name] = _ServerInfo(cert, ip, port, cert_path)
            for name, target in cert.dns:
                if target is None:
                    a_records[name] = ip
                else:
                    cnames[name] = target
            self._stack.enter_context(lab.start_mariadb(
                server, self.workdir, port=port, ssl_cert=chain_path, ssl_key=key_path,
                tls_version=self.tls_version))
        self._stack.enter_context(
            lab.start_dnsmasq(dns, self.workdir, a_records=a_records, cnames=cnames))

    @staticmethod
    def _issue(pki: lab.TestPki, cert: ServerCert, ip: str) -> lab.IssuedCert:
        spec = lab.CertSpec(
            cert.common_name, cert.dns_names, (ip,) if cert.ip_sans else (),
            organization="capture-tls matrix",
            not_before_days=-400 if cert.expired else -1,
            not_after_days=-30 if cert.expired else 365,
            is_ca=cert.issuer == "self",
        )
        if cert.issuer == "self":
            return lab.TestPki.self_signed(spec)
        return pki.issue(spec)

    # ----------------------------------------------------------------------------- running

    def ca_file(self, scenario: Scenario) -> Path:
        if scenario.ca == "self":
            return self._servers[scenario.server].cert_pem
        return self._ca_files[scenario.ca]

    def server_certificate(self, scenario: Scenario) -> Path:
        """The PEM file of the leaf certificate the scenario's server was given."""
        return self._servers[scenario.server].cert_pem

    def runnable_clients(self) -> list[ClientRunner]:
        return [c for c in self.clients if self.missing(c) is None]

    def missing(self, runner: ClientRunner) -> str | None:
        """Why ``runner`` cannot run in this matrix, or None."""
        why = runner.missing(self.tools)
        if why is None and self.keylogs and KEYLOG_METHODS.get(runner.name) == "shim" \
                and self.tools.keylog_shim is None:
            why = "the key-log shim could not be built (gcc and libssl-dev are needed)"
        return why

    def run(self, runner: ClientRunner, scenario: Scenario) -> Attempt:
        """Run one client against one scenario inside a capture of its own."""
        info = self._servers[scenario.server]
        host = self._client_hosts[runner.name]
        dialed = info.ip if scenario.dial == "IP" else scenario.dial
        ca = self.ca_file(scenario)
        argv = runner.argv(self.tools, dialed, info.port, USER, PASSWORD, str(ca))
        path = self.workdir / "captures" / f"{runner.name}--{scenario.name}.pcap"
        keylog: Path | None = None
        if self.keylogs:
            keylog = self.workdir / "keylogs" / f"{runner.name}--{scenario.name}.keylog"
            keylog.parent.mkdir(parents=True, exist_ok=True)
            keylog.unlink(missing_ok=True)
            argv = with_keylog(runner, self.tools, argv, keylog)
        start = time.monotonic()
        with lab.capture(host, path, settle_seconds=0.3):
            try:
                proc = host.run(argv, check=False, timeout=CLIENT_TIMEOUT_SECONDS)
                status: int | None = proc.returncode
                output = (proc.stdout + proc.stderr).decode(errors="replace").strip()
            except subprocess.TimeoutExpired:
                status, output = None, "timeout"
        connected = status == 0 and output.splitlines()[-1:] in (["OK"], ["1"])
        return Attempt(
            client=runner.name, family=runner.family, scenario=scenario.name, dialed=dialed,
            server_ip=info.ip, server_port=info.port, ca=ca, argv=tuple(argv), capture=path,
            exit_status=status, connected=connected, output=output,
            client_ports=tuple(client_ports_in(path, info.ip, info.port)),
            seconds=round(time.monotonic() - start, 2), keylog=keylog,
            tls_version=self.tls_version,
        )

    def run_all(self, parallel: bool = True) -> dict[tuple[str, str], Attempt]:
        """Every runnable client against every scenario; clients in parallel."""
        runners = self.runnable_clients()

        def one_client(runner: ClientRunner) -> list[Attempt]:
            return [self.run(runner, s) for s in self.scenarios]

        if parallel:
            with ThreadPoolExecutor(max_workers=max(1, len(runners))) as pool:
                results = list(pool.map(one_client, runners))
        else:
            results = [one_client(r) for r in runners]
        return {(a.client, a.scenario): a for batch in results for a in batch}

    # ----------------------------------------------------------------------------- analysis

    def analyze(self, attempt: Attempt, *extra: str) -> list[dict[str, Any]]:
        """capture-tls's JSON connection objects for the attempt's own connections."""
        return analyze_attempt(attempt, *extra)


def host_args(attempt: Attempt) -> list[str]:
    """``--host IP`` when the client dialed an IP literal: no DNS lookup and, for most
    clients, no SNI tell capture-tls what the client was given; a name comes from the capture
    (the SNI or the DNS answers), never from this option."""
    return ["--host", attempt.dialed] if attempt.dialed == attempt.server_ip else []


def analyze_attempt(attempt: Attempt, *extra: str) -> list[dict[str, Any]]:
    """capture-tls's JSON connection objects for the attempt's own connections, analyzed with
    ``--ca`` (the CA the client was given), ``--client`` (its family) and :func:`host_args`."""
    report = analyze_capture(attempt.capture, attempt.ca, attempt.family, *host_args(attempt),
                             *extra)
    return [c for c in report.get("connections", [])
            if c.get("client", {}).get("port") in attempt.client_ports
            and c.get("server", {}).get("port") == attempt.server_port]


def analyze_capture(capture: Path, ca: Path, family: str, *extra: str) -> dict[str, Any]:
    """Run ``python -m capture_tls analyze --format json`` on a capture; its parsed JSON."""
    argv = [sys.executable, "-m", "capture_tls", "analyze", "--format", "json", str(capture),
            "--ca", str(ca), "--client", family, *extra]
    proc = subprocess.run(argv, capture_output=True, check=False, timeout=120, cwd=REPO_ROOT)
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(
            f"capture-tls exited {proc.returncode} without JSON: "
            f"{proc.stderr.decode(errors='replace')[-2000:]}") from exc
    return result


# --------------------------------------------------------------------------------------------
# Reading the capture without capture-tls: client ports (pcap, Ethernet, IPv4) and tshark.
# --------------------------------------------------------------------------------------------


def client_ports_in(path: Path, server_ip: str, server_port: int) -> list[int]:
    """Source ports of the SYNs (without ACK) sent to ``server_ip:server_port``, in order.

    Reads the classic pcap that tcpdump writes on an Ethernet interface (IPv4 only).
    """
    data = path.read_bytes()
    if len(data) < 24:
        return []
    magic = data[:4]
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<",
              b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}.get(magic)
    if endian is None:
        raise ValueError(f"{path}: not a classic pcap")
    target = bytes(int(part) for part in server_ip.split("."))
    ports: list[int] = []
    offset = 24
    while offset + 16 <= len(data):
        incl = struct.unpack_from(endian + "I", data, offset + 8)[0]
        frame = data[offset + 16: offset + 16 + incl]
        offset += 16 + incl
        if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 6 or ip[16:20] != target or len(ip) < ihl + 14:
            continue
        sport, dport = struct.unpack_from("!HH", ip, ihl)
        flags = ip[ihl + 13]
        if dport == server_port and flags & 0x02 and not flags & 0x10 and sport not in ports:
            ports.append(sport)
    return ports


@dataclass(frozen=True)
class WireSummary:
    """What tshark sees in one connection: who sent what, in order."""

    sni: str | None  # the ClientHello's server_name, None when absent
    client_alerts: tuple[str, ...]  # "fatal:bad_certificate", or "encrypted"
    server_alerts: tuple[str, ...]
    events: tuple[str, ...]  # "C:hello", "S:hs(2,11,12,14)", "C:alert(...)", "C:FIN", ...
    first_close: str  # "C:FIN", "C:RST", "S:FIN", ... the first FIN/RST of the connection
    client_finished: bool  # the client sent ChangeCipherSpec (so its Finished)
    client_app_data: bool  # the client sent application data (a login) after the handshake

    @property
    def client_close(self) -> str:
        """How the client ended the connection: "FIN", "RST", "FIN+RST" or "none"."""
        closes = [e[2:] for e in self.events if e in ("C:FIN", "C:RST")]
        return "+".join(dict.fromkeys(closes)) or "none"

    @property
    def phase(self) -> str:
        """Where the client stopped: "in handshake" (before its Finished), "after handshake"
        (its Finished sent, no application data), "after login"."""
        if self.client_app_data:
            return "after login"
        return "after handshake" if self.client_finished else "in handshake"

    def close_pattern(self) -> str:
        """A one-phrase description: where the close came and how."""
        alert = (f"alert {'/'.join(self.client_alerts)}" if self.client_alerts
                 else "no alert")
        return f"{alert}, {self.first_close} first, {self.phase}"


_HS_NAMES = {"1": "ClientHello", "2": "ServerHello", "11": "Certificate",
             "13": "CertificateRequest",
             "12": "ServerKeyExchange", "14": "ServerHelloDone", "16": "ClientKeyExchange",
             "4": "NewSessionTicket", "20": "Finished"}


def wire_summary(attempt: Attempt, port: int | None = None, keylog: Path | None = None
                 ) -> WireSummary:
    """tshark's reading of the attempt's (first) connection: SNI, alerts, close.

    With ``keylog`` tshark decrypts (``-o tls.keylog_file:``): a TLS 1.3 record then counts
    as its inner content type (an encrypted alert is read as the alert it is, the encrypted
    handshake as its messages), and the client's Finished marks the end of its handshake.
    Without it a TLS 1.3 record after the ServerHello is "appdata" (its outer type), and the
    client's CCS is taken for the sign of its Finished (right for TLS 1.2 only)."""
    port = port if port is not None else (attempt.client_ports[0] if attempt.client_ports
                                          else None)
    if port is None:
        return WireSummary(None, (), (), (), "no connection", False, False)
    fields = ["tcp.srcport", "tcp.flags.fin", "tcp.flags.reset", "tcp.len",
              "tls.record.content_type", "tls.handshake.type", "tls.alert_message.level",
              "tls.alert_message.desc", "tls.handshake.extensions_server_name"]
    argv = ["tshark", "-n", "-r", str(attempt.capture), "-d",
            f"tcp.port=={attempt.server_port},mysql", "-Y", f"tcp.port=={port}",
            "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"]
    decrypting = keylog is not None and keylog.exists()
    if decrypting:
        argv += ["-o", f"tls.keylog_file:{keylog}"]
    for name in fields:
        argv += ["-e", name]
    proc = subprocess.run(argv, capture_output=True, check=True, timeout=60)
    events: list[str] = []
    sni: str | None = None
    alerts: dict[str, list[str]] = {"C": [], "S": []}
    first_close = "none"
    client_finished = client_app = False
    for line in proc.stdout.decode().splitlines():
        (srcport, fin, rst, tcp_len, ctypes, hstypes, levels, descs,
         server_name) = (line.split("|") + [""] * 9)[:9]
        who = "C" if srcport == str(port) else "S"
        if server_name:
            sni = server_name
        content = [c for c in ctypes.split(",") if c]
        if content:
            parts = []
            if "22" in content:
                names = [_HS_NAMES.get(h, h) for h in hstypes.split(",") if h]
                parts.append("hs(" + ",".join(names or ["encrypted"]) + ")")
                if who == "C" and "Finished" in names:
                    # Decrypted: the Finished itself. A TLS 1.3 client's CCS is only the
                    # middlebox-compatibility one (sent with a second ClientHello or before an
                    # encrypted alert), not a sign of its Finished.
                    client_finished = True
            if "20" in content:
                parts.append("CCS")
                if who == "C" and not decrypting:
                    client_finished = True  # TLS 1.2: the Finished follows the CCS
            if "21" in content:
                if descs:
                    levels_list = levels.split(",")
                    for i, desc in enumerate(descs.split(",")):
                        level = {"1": "warning", "2": "fatal"}.get(
                            levels_list[i] if i < len(levels_list) else "", "?")
                        text = f"{level}:{_alert_name(desc)}"
                        alerts[who].append(text)
                        parts.append(f"alert({text})")
                else:
                    alerts[who].append("encrypted")
                    parts.append("alert(encrypted)")
            if "23" in content:
                parts.append("appdata")
                if who == "C" and client_finished:
                    client_app = True
            events.append(f"{who}:{'+'.join(parts)}")
        elif tcp_len not in ("", "0"):
            events.append(f"{who}:mysql")
        for flag, name in ((fin, "FIN"), (rst, "RST")):
            if flag in ("1", "True"):
                events.append(f"{who}:{name}")
                if first_close == "none":
                    first_close = f"{who}:{name}"
    return WireSummary(sni, tuple(alerts["C"]), tuple(alerts["S"]), tuple(events),
                       first_close, client_finished, client_app)


_ALERTS = {"0": "close_notify", "10": "unexpected_message", "40": "handshake_failure",
           "42": "bad_certificate", "43": "unsupported_certificate",
           "44": "certificate_revoked", "45": "certificate_expired",
           "46": "certificate_unknown", "47": "illegal_parameter", "48": "unknown_ca",
           "49": "access_denied", "50": "decode_error", "51": "decrypt_error",
           "70": "protocol_version", "80": "internal_error", "90": "user_canceled",
           "112": "unrecognized_name"}


def _alert_name(code: str) -> str:
    return _ALERTS.get(code, code)


# --------------------------------------------------------------------------------------------
# Command line: run the matrix and print what happened.
# --------------------------------------------------------------------------------------------


def _rows(matrix: LabMatrix, attempts: Iterable[Attempt]) -> Iterator[dict[str, Any]]:
    for attempt in attempts:
        wire = wire_summary(attempt, keylog=attempt.keylog)
        row: dict[str, Any] = {
            k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(attempt).items()}
        row["error"] = attempt.error
        wire_row: dict[str, Any] = asdict(wire)
        wire_row["close_pattern"] = wire.close_pattern()
        wire_row["client_close"] = wire.client_close
        wire_row["phase"] = wire.phase
        row["wire"] = wire_row
        yield row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the client matrix and print outcomes.")
    parser.add_argument("--keep", type=Path, help="work directory to keep (captures, certs)")
    parser.add_argument("--json", type=Path, help="write every attempt and wire facts here")
    parser.add_argument("--markdown", type=Path, help="write the outcome table here")
    parser.add_argument("--client", action="append", help="only these clients")
    parser.add_argument("--scenario", action="append", help="only these scenarios")
    parser.add_argument("--tls-version", default="TLSv1.2",
                        help="the servers' --tls-version (TLSv1.2 or TLSv1.3)")
    parser.add_argument("--keylogs", action="store_true",
                        help="clients write TLS key logs (tshark then decrypts the TLS 1.3 "
                        "handshake for the wire facts)")
    args = parser.parse_args(argv)
    missing = matrix_prerequisites_missing()
    if missing:
        print(f"cannot run: {', '.join(missing)}", file=sys.stderr)
        return 2
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="capture-tls-matrix-"))
    clients = [c for c in CLIENTS if not args.client or c.name in args.client]
    scenarios = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    started = time.monotonic()
    try:
        with LabMatrix(workdir, clients, scenarios, tls_version=args.tls_version,
                       keylogs=args.keylogs) as matrix:
            setup = time.monotonic() - started
            for runner in matrix.clients:
                why = matrix.missing(runner)
                if why:
                    print(f"skipped {runner.name}: {why}", file=sys.stderr)
            attempts = matrix.run_all()
            ran = time.monotonic() - started - setup
            rows = list(_rows(matrix, attempts.values()))
            versions = client_versions(matrix.tools)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    for row in rows:
        wire = row["wire"]
        print(f"{row['client']:22} {row['scenario']:20} "
              f"{'CONNECTED' if row['connected'] else 'refused':9} sni={wire['sni']} "
              f"{wire['close_pattern']} | {row['error'][:140]}")
    print(f"setup {setup:.1f}s, attempts {ran:.1f}s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"versions": versions, "attempts": rows}, indent=1))
    if args.markdown:
        args.markdown.write_text(markdown_table(rows))
    return 0


def _after_server_hello_done(events: Sequence[str]) -> list[str]:
    """The events after the server's ServerHelloDone (TLS 1.3, decrypted: its Finished) (the
    part where clients differ), without application data; "S:mysql" there is a plaintext
    MySQL packet (the server's ERR)."""
    for index, event in enumerate(events):
        if event.startswith("S:") and ("ServerHelloDone" in event or "Finished" in event):
            return [e for e in events[index + 1:] if "appdata" not in e]
    return [e for e in events if "appdata" not in e]


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The observed outcomes as a Markdown table (rows as :func:`main` collects them)."""
    lines = ["| client | scenario | result | exit | SNI | client alert | client close | "
             "where | wire (C client, S server) | error text |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        wire = row["wire"]
        alerts = ", ".join(wire["client_alerts"]) or "none"
        events = " ".join(_after_server_hello_done(wire["events"]))
        error = row["error"].replace("|", "\\|")
        lines.append(
            f"| {row['client']} | {row['scenario']} | "
            f"{'connected' if row['connected'] else 'refused'} | {row['exit_status']} | "
            f"{wire['sni'] or '-'} | {alerts} | {wire['client_close']} | {wire['phase']} | "
            f"{events} | {error} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())


#: Scenarios in which every client, verifying or not, must refuse (bad chain or dates) or
#: must connect (all good): they check the lab itself, not capture-tls. Shared by the TLS 1.2
#: and TLS 1.3 matrices.
ALL_REFUSE = {"expired", "self-signed", "untrusted-ca"}
ALL_CONNECT = {"match", "self-signed-trusted"}
REFUSED_OUTCOMES = {"client-rejected-certificate", "closed-after-handshake"}
