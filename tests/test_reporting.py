"""Tests of capture_tls.reporting: JSON contract and schema, JSON Lines, the text report.

The example reports are built by hand from the model (the stories of DESIGN.md: a matching
TLS 1.2 connection, the CNAME mismatch, plaintext refused by the server, TLS 1.3 without a key
log, a damaged and an unusable input). The text goldens in tests/golden/ were rendered once at
width 100 and read line by line before being committed; regenerate them only deliberately with
CAPTURE_TLS_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema import Draft202012Validator

from capture_tls.analysis import model
from capture_tls.analysis.findings import finding
from capture_tls.analysis.model import (
    Alert,
    CertificateFacts,
    ClientVerdict,
    ConnectionReport,
    Endpoint,
    InputSummary,
    InputWarning,
    IntendedHost,
    MysqlErr,
    MysqlFacts,
    Report,
    Summary,
    TlsFacts,
    Verdicts,
)
from capture_tls.reporting import (
    connection_to_dict,
    load_schema,
    render_json,
    render_jsonl_connection,
    render_jsonl_trailer,
    render_text,
    report_to_dict,
    trailer_to_dict,
)

GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("CAPTURE_TLS_UPDATE_GOLDEN") == "1"

# --- example data ---------------------------------------------------------------------------

LEAF_SHA256 = "3f6c0a9e1b7d2c4e5f8a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6"
CA_SHA256 = "a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00"
AZURE_SHA256 = "0d1e2f3a4b5c6d7e8f9010213243546576879809a1b2c3d4e5f6a7b8c9d0e1f2"
CLIENT_SHA256 = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
FAKE_PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUEx==\n-----END CERTIFICATE-----\n"


def cert(
    *,
    cn: str | None,
    subject: str,
    issuer: str,
    sha256: str,
    san_dns: tuple[str, ...] = (),
    san_ip: tuple[str, ...] = (),
    self_signed: bool = False,
    serial: str = "4f1a2b3c4d5e6f708192a3b4c5d6e7f801020304",
    not_before: str = "2026-01-01T00:00:00Z",
    not_after: str = "2027-01-01T00:00:00Z",
    public_key: str = "RSA 2048",
    signature_algorithm: str = "sha256WithRSAEncryption",
) -> CertificateFacts:
    return CertificateFacts(
        subject=subject,
        subject_cn=cn,
        issuer=issuer,
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        san_dns=san_dns,
        san_ip=san_ip,
        sha256=sha256,
        public_key=public_key,
        signature_algorithm=signature_algorithm,
        self_signed=self_signed,
        pem=FAKE_PEM,
    )


CA_CERT = cert(
    cn="Example Internal CA",
    subject="CN=Example Internal CA,O=Example Ltd,C=DE",
    issuer="CN=Example Internal CA,O=Example Ltd,C=DE",
    sha256=CA_SHA256,
    self_signed=True,
    serial="01",
    not_after="2036-01-01T00:00:00Z",
    public_key="EC P-384",
    signature_algorithm="ecdsa-with-SHA384",
)

PCAPNG_INPUT = InputSummary(
    path="captures/db-login.pcapng",
    size=48213,
    sha256="9c56cc51b374c3ba189210d5b6d4bf57790d351c96c47c02190ecf1e430635ab",
    format="pcapng",
    link_types=("EN10MB",),
    packets=212,
    first_packet="2026-11-25T10:00:00.120001Z",
    last_packet="2026-11-25T10:00:03.004511Z",
)


def report(
    conns: tuple[ConnectionReport, ...],
    *,
    inputs: tuple[InputSummary, ...] = (PCAPNG_INPUT,),
    warnings: tuple[InputWarning, ...] = (),
    errors: int = 0,
) -> Report:
    tls = sum(1 for c in conns if c.tls is not None)
    return Report(
        tool_name="capture-tls",
        tool_version="0.1.0",
        command=("capture-tls", "analyze", *(i.path for i in inputs)),
        inputs=inputs,
        summary=Summary(
            connections=len(conns),
            tls=tls,
            plaintext=len(conns) - tls,
            errors=errors,
            warnings=len(warnings)
            + sum(1 for c in conns for f in c.findings if f.severity == "warning"),
        ),
        warnings=warnings,
        connections=conns,
    )


def tls12_matching() -> ConnectionReport:
    leaf = cert(
        cn="db.example.com",
        subject="CN=db.example.com,OU=Databases,O=Example Ltd,C=DE",
        issuer=CA_CERT.subject,
        sha256=LEAF_SHA256,
        san_dns=("db.example.com", "db-replica.example.com"),
        san_ip=("10.0.0.1",),
    )
    client_cert = cert(
        cn="app-backend",
        subject="CN=app-backend,O=Example Ltd,C=DE",
        issuer=CA_CERT.subject,
        sha256=CLIENT_SHA256,
        public_key="Ed25519",
        signature_algorithm="ecdsa-with-SHA384",
        serial="7b",
    )
    return ConnectionReport(
        id="0:1",
        first_seen="2026-11-25T10:00:00.123456Z",
        first_seen_ts=1795687200.123456,
        client=Endpoint("10.0.0.2", 51234),
        server=Endpoint("10.0.0.1", 3306),
        mysql=MysqlFacts(
            server_version="10.11.6-MariaDB-0+deb12u1",
            connection_id=31,
            server_supports_ssl=True,
            ssl_request=True,
            username=None,
            error=None,
        ),
        tls=TlsFacts(
            version="TLS 1.2",
            cipher_suite="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            sni=None,
            alpn=(),
            resumed=False,
            certificate_visible=True,
            decrypted=False,
            alerts=(),
        ),
        server_certificates=(leaf, CA_CERT),
        client_certificates=(client_cert,),
        intended_host=IntendedHost(name="db.example.com", source="option"),
        verdicts=Verdicts(
            verify_ca="pass",
            verify_identity="pass",
            client_family_name="libmysqlclient",
            client_family_source="option",
            clients=(
                (
                    "libmysqlclient",
                    ClientVerdict("pass", "db.example.com is a DNS SAN", "tested"),
                ),
                ("mariadb", ClientVerdict("pass", "db.example.com is a DNS SAN", "tested")),
                (
                    "connector-j",
                    ClientVerdict("pass", "db.example.com is a DNS SAN", "from-source"),
                ),
            ),
        ),
        outcome="tls-established",
        findings=(),
    )


def cname_mismatch() -> ConnectionReport:
    leaf = cert(
        cn="westeurope1-a.control.database.windows.net",
        subject="CN=westeurope1-a.control.database.windows.net",
        issuer="CN=Microsoft Azure RSA TLS Issuing CA 03,O=Microsoft Corporation,C=US",
        sha256=AZURE_SHA256,
        san_dns=(
            "westeurope1-a.control.database.windows.net",
            "*.westeurope1-a.worker.database.windows.net",
        ),
        serial="330059bd9b0e65e1f6a8a31b7f000000059bd9",
        not_before="2026-06-02T11:13:08Z",
        not_after="2027-05-28T11:13:08Z",
        public_key="RSA 2048",
        signature_algorithm="sha384WithRSAEncryption",
    )
    target = "westeurope1-a.control.database.windows.net"
    name = "xxxx.mysql.database.azure.com"
    return ConnectionReport(
        id="0:2",
        first_seen="2026-11-25T10:00:01.500000Z",
        first_seen_ts=1795687201.5,
        client=Endpoint("10.0.0.2", 51236),
        server=Endpoint("20.50.2.10", 3306),
        mysql=MysqlFacts(
            server_version="8.0.39-azure",
            connection_id=85317,
            server_supports_ssl=True,
            ssl_request=True,
            username=None,
            error=None,
        ),
        tls=TlsFacts(
            version="TLS 1.2",
            cipher_suite="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            sni=None,
            alpn=(),
            resumed=False,
            certificate_visible=True,
            decrypted=False,
            alerts=(Alert("server", None, None, None, True),),
        ),
        server_certificates=(leaf,),
        client_certificates=(),
        intended_host=IntendedHost(
            name=name,
            source="dns",
            cname_chain=(name, target),
            candidates=("other.mysql.database.azure.com",),
        ),
        verdicts=Verdicts(
            verify_ca="pass",
            verify_identity="fail",
            client_family_name="mariadb",
            client_family_source="guess",
            clients=(
                (
                    "libmysqlclient",
                    ClientVerdict(
                        "fail",
                        f"{name} is not among the DNS SANs ({target}, "
                        "*.westeurope1-a.worker.database.windows.net); the client would send "
                        "a fatal bad_certificate alert inside the handshake",
                        "tested",
                    ),
                ),
                ("mariadb", ClientVerdict("fail", f"{name} is not a DNS SAN", "tested")),
                ("node", ClientVerdict("unknown", "depends on verifyIdentity", "tested")),
                ("legacy-cn", ClientVerdict("fail", f"CN is {target}", "from-source")),
            ),
        ),
        outcome="client-rejected-certificate",
        findings=(
            finding(
                "MATCHES_CNAME_TARGET_ONLY",
                f"The certificate names {target}, the CNAME target of {name}, "
                "not the name the client used.",
                f"Connect to {target} with --ssl-mode=VERIFY_IDENTITY, or ask the provider "
                f"for a certificate that names {name}.",
            ),
            finding(
                "CLIENT_REJECTED_CERT",
                "The client closed the connection right after the handshake (FIN, then the "
                "server's encrypted alert): mariadb rejects a name mismatch this way.",
                "See MATCHES_CNAME_TARGET_ONLY.",
            ),
        ),
    )


def plaintext_refused() -> ConnectionReport:
    return ConnectionReport(
        id="0:3",
        first_seen="2026-11-25T10:00:02.000000Z",
        first_seen_ts=1795687202.0,
        client=Endpoint("10.0.0.3", 40112),
        server=Endpoint("10.0.0.1", 3306),
        mysql=MysqlFacts(
            server_version="10.11.6-MariaDB-0+deb12u1",
            connection_id=32,
            server_supports_ssl=True,
            ssl_request=False,
            username="report_reader",
            error=MysqlErr(
                code=3159,
                sql_state="HY000",
                message="Connections using insecure transport are prohibited while "
                "--require_secure_transport=ON.",
            ),
        ),
        tls=None,
        server_certificates=(),
        client_certificates=(),
        intended_host=None,
        verdicts=Verdicts(
            verify_ca="unknown",
            verify_identity="unknown",
            client_family_name=None,
            client_family_source="none",
        ),
        outcome="server-error",
        findings=(
            finding(
                "NO_TLS",
                "The client logged in without TLS; user report_reader was sent in clear.",
                "Use --ssl-mode=REQUIRED or stronger.",
            ),
            finding(
                "SERVER_REQUIRES_TLS",
                "The server refused the plaintext login (require_secure_transport).",
                "Use --ssl-mode=VERIFY_IDENTITY with the server's CA.",
            ),
            finding(
                "INTENDED_HOST_UNKNOWN",
                "No --host, no SNI and no DNS answer for 10.0.0.1 in the capture.",
                "Pass --host 10.0.0.1=NAME.",
            ),
        ),
    )


def tls13_not_visible() -> ConnectionReport:
    return ConnectionReport(
        id="0:4",
        first_seen="2026-11-25T10:00:02.750000Z",
        first_seen_ts=1795687202.75,
        client=Endpoint("fd00::2", 50000),
        server=Endpoint("fd00::1", 3306),
        mysql=MysqlFacts(
            server_version="8.4.3",
            connection_id=9,
            server_supports_ssl=True,
            ssl_request=True,
            username=None,
            error=None,
        ),
        tls=TlsFacts(
            version="TLS 1.3",
            cipher_suite="TLS_AES_256_GCM_SHA384",
            sni="db.example.com",
            alpn=("mysql",),
            resumed=False,
            certificate_visible=False,
            decrypted=False,
            alerts=(),
        ),
        server_certificates=(),
        client_certificates=(),
        intended_host=IntendedHost(
            name="db.example.com",
            source="sni",
            cname_chain=("db.example.com", "db-primary.example.net"),
        ),
        verdicts=Verdicts(
            verify_ca="unknown",
            verify_identity="unknown",
            client_family_name="python-ssl",
            client_family_source="guess",
            clients=(
                (
                    "python-ssl",
                    ClientVerdict("unknown", "certificate not visible (TLS 1.3)", "tested"),
                ),
            ),
        ),
        outcome="tls-established",
        findings=(
            finding(
                "CERT_NOT_VISIBLE_TLS13",
                "TLS 1.3 encrypts the server's certificate and no key log was given.",
                "Capture with SSLKEYLOGFILE set and pass --keylog FILE.",
            ),
        ),
    )


def truncated_incomplete() -> ConnectionReport:
    return ConnectionReport(
        id="0:1",
        first_seen="2026-11-25T09:59:59.999000Z",
        first_seen_ts=1795687199.999,
        client=Endpoint("192.168.1.20", 60001),
        server=Endpoint("192.168.1.10", 3306),
        mysql=MysqlFacts(
            server_version="5.7.44-log",
            connection_id=None,
            server_supports_ssl=None,
            ssl_request=True,
            username=None,
            error=None,
        ),
        tls=TlsFacts(
            version=None,
            cipher_suite=None,
            sni="db.example.com",
            alpn=(),
            resumed=False,
            certificate_visible=False,
            decrypted=False,
            alerts=(),
        ),
        server_certificates=(),
        client_certificates=(),
        intended_host=IntendedHost(name="db.example.com", source="sni"),
        verdicts=Verdicts(
            verify_ca="unknown",
            verify_identity="unknown",
            client_family_name=None,
            client_family_source="none",
        ),
        outcome="incomplete",
        findings=(
            finding(
                "TRUNCATED_CAPTURE",
                "The capture ends before the ServerHello.",
                "Capture longer, or with a larger snap length (tcpdump -s 0).",
            ),
            finding(
                "STREAM_GAP",
                "1448 bytes missing in the server half-stream at offset 2896.",
                "Capture closer to the server, or on a less loaded interface.",
            ),
        ),
    )


def report_tls12() -> Report:
    return report((tls12_matching(),))


def report_mismatch() -> Report:
    return report((cname_mismatch(),), errors=1)


def report_plaintext() -> Report:
    return report((plaintext_refused(),), errors=1)


def report_tls13() -> Report:
    return report((tls13_not_visible(),))


def report_damaged_inputs() -> Report:
    truncated = InputSummary(
        path="/var/tmp/killed-tcpdump.pcap",
        size=9001,
        sha256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        format="pcap",
        link_types=("LINUX_SLL2",),
        packets=17,
        first_packet="2026-11-25T09:59:59.998000Z",
        last_packet="2026-11-25T10:00:00.412000Z",
    )
    unusable = InputSummary(
        path="/var/tmp/notes.txt",
        size=12,
        sha256="a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447",
        format=None,
        link_types=(),
        packets=0,
        first_packet=None,
        last_packet=None,
        error="not a capture: unknown magic number 0x68656c6c",
    )
    warnings = (
        InputWarning(
            code="TRUNCATED_FILE",
            message="The file ends inside packet 18 (a capture cut short); "
            "everything before it was analyzed.",
            count=1,
            input=truncated.path,
        ),
        InputWarning(
            code="MALFORMED_PACKETS",
            message="Packets with a TCP header longer than the packet were skipped.",
            count=3,
            input=truncated.path,
        ),
        InputWarning(
            code="LIMIT_REACHED",
            message="More than 10000 connections tracked at once; the oldest were dropped.",
            count=1,
            input=None,
        ),
    )
    return report((truncated_incomplete(),), inputs=(truncated, unusable), warnings=warnings)


def report_everything() -> Report:
    conns = (tls12_matching(), cname_mismatch(), plaintext_refused(), tls13_not_visible())
    return report(conns, errors=2)


EXAMPLES: dict[str, Callable[[], Report]] = {
    "tls12_matching": report_tls12,
    "cname_mismatch": report_mismatch,
    "plaintext_refused": report_plaintext,
    "tls13_not_visible": report_tls13,
    "damaged_inputs": report_damaged_inputs,
}
ALL_REPORTS: dict[str, Callable[[], Report]] = {**EXAMPLES, "everything": report_everything}


def hostile_report() -> Report:
    evil = "\x1b[31mred\x1b[0m [bold]x[/bold] line1\nline2 \u202eevil\r"
    base = tls12_matching()
    assert base.tls is not None
    conn = dataclasses.replace(
        base,
        tls=dataclasses.replace(
            base.tls,
            sni="db.example.com" + evil,
            alerts=(Alert("client", "fatal", "bad_certificate" + evil, 42, False),),
        ),
        server_certificates=(
            cert(
                cn="CN" + evil,
                subject="CN=" + evil + ",O=[link=http://x]y[/link]",
                issuer="CN=:smile: [red]issuer",
                sha256=LEAF_SHA256,
                san_dns=("a" + evil,),
            ),
        ),
        intended_host=IntendedHost(name="host" + evil, source="sni", cname_chain=(evil,)),
        mysql=dataclasses.replace(
            base.mysql, server_version="5.7" + evil, username="u\udcff" + evil
        ),
    )
    return report((conn,), inputs=(dataclasses.replace(PCAPNG_INPUT, path="cap" + evil),))


# --- JSON: shape ------------------------------------------------------------------------------


def test_top_level_keys_and_values() -> None:
    r = report_mismatch()
    d = report_to_dict(r)
    assert list(d) == ["schema", "tool", "command", "inputs", "summary", "warnings", "connections"]
    assert d["schema"] == "capture-tls/report/v1"
    assert d["tool"] == {"name": "capture-tls", "version": "0.1.0"}
    assert d["command"] == ["capture-tls", "analyze", "captures/db-login.pcapng"]
    assert d["summary"] == {"connections": 1, "tls": 1, "plaintext": 0, "errors": 1, "warnings": 0}
    assert d["inputs"][0]["link_types"] == ["EN10MB"]
    assert d["inputs"][0]["error"] is None  # a usable input


def _field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_every_model_field_is_a_json_key() -> None:
    """A field added to the model without a JSON key (or the reverse) fails here."""
    r = report_everything()
    d = report_to_dict(r)
    conn = d["connections"][0]
    assert set(conn) == _field_names(ConnectionReport) - {"first_seen_ts"}
    assert set(conn["client"]) == _field_names(Endpoint)
    assert set(conn["mysql"]) == _field_names(MysqlFacts)
    assert set(conn["tls"]) == _field_names(TlsFacts)
    assert set(conn["server_certificates"][0]) == _field_names(CertificateFacts)
    assert set(conn["client_certificates"][0]) == _field_names(CertificateFacts)
    assert set(conn["intended_host"]) == _field_names(IntendedHost)
    verdicts_fields = _field_names(Verdicts) - {"client_family_name", "client_family_source"}
    assert set(conn["verdicts"]) == verdicts_fields | {"client_family"}
    assert set(conn["verdicts"]["clients"]["mariadb"]) == _field_names(ClientVerdict)
    mismatch = d["connections"][1]
    assert set(mismatch["tls"]["alerts"][0]) == _field_names(Alert)
    assert set(mismatch["findings"][0]) == _field_names(model.Finding)
    plaintext = d["connections"][2]
    assert set(plaintext["mysql"]["error"]) == _field_names(MysqlErr)
    assert set(d["inputs"][0]) == _field_names(InputSummary)
    assert set(d["summary"]) == _field_names(Summary)
    damaged = report_to_dict(report_damaged_inputs())
    assert set(damaged["warnings"][0]) == _field_names(InputWarning)


def test_connection_mapping_details() -> None:
    conn = connection_to_dict(cname_mismatch())
    assert "first_seen_ts" not in conn
    assert conn["first_seen"] == "2026-11-25T10:00:01.500000Z"
    assert conn["client"] == {"ip": "10.0.0.2", "port": 51236}
    assert conn["verdicts"]["client_family"] == {"name": "mariadb", "source": "guess"}
    clients = conn["verdicts"]["clients"]
    assert list(clients) == ["libmysqlclient", "mariadb", "node", "legacy-cn"]
    assert clients["legacy-cn"]["rules"] == "from-source"
    assert clients["node"] == {
        "verify_identity": "unknown",
        "reason": "depends on verifyIdentity",
        "rules": "tested",
    }
    assert conn["intended_host"]["cname_chain"] == [
        "xxxx.mysql.database.azure.com",
        "westeurope1-a.control.database.windows.net",
    ]
    assert conn["tls"]["alerts"] == [
        {"sender": "server", "level": None, "description": None, "code": None, "encrypted": True}
    ]
    assert conn["server_certificates"][0]["sha256"] == AZURE_SHA256
    assert conn["findings"][0]["code"] == "MATCHES_CNAME_TARGET_ONLY"
    assert conn["findings"][0]["severity"] == "error"
    plain = connection_to_dict(plaintext_refused())
    assert plain["tls"] is None
    assert plain["intended_host"] is None
    assert plain["mysql"]["error"] == {
        "code": 3159,
        "sql_state": "HY000",
        "message": "Connections using insecure transport are prohibited while "
        "--require_secure_transport=ON.",
    }
    assert plain["verdicts"]["client_family"] == {"name": None, "source": "none"}
    assert plain["verdicts"]["clients"] == {}


def test_only_json_types_no_tuples() -> None:
    def walk(value: object) -> None:
        if isinstance(value, dict):
            assert all(isinstance(k, str) for k in value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert value is None or isinstance(value, str | int | bool), repr(value)
            assert not isinstance(value, float)

    for build in ALL_REPORTS.values():
        walk(report_to_dict(build()))


# --- JSON: rendering -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ALL_REPORTS))
def test_render_json_round_trips(name: str) -> None:
    r = ALL_REPORTS[name]()
    text = render_json(r)
    assert json.loads(text) == report_to_dict(r)
    assert text.startswith('{\n  "schema": "capture-tls/report/v1",\n  "tool": {\n    "name"')
    assert not text.endswith("\n")


def test_render_json_keeps_non_ascii_and_escapes_lone_surrogates() -> None:
    conn = dataclasses.replace(
        plaintext_refused(),
        mysql=dataclasses.replace(plaintext_refused().mysql, username="jürgen\udcff"),
    )
    r = report((conn,))
    text = render_json(r)
    assert "jürgen" in text  # ensure_ascii=False
    assert "\\udcff" in text
    text.encode("utf-8")  # no lone surrogate left: encodes strictly
    assert json.loads(text)["connections"][0]["mysql"]["username"] == "jürgen\udcff"
    line = render_jsonl_connection(conn)
    line.encode("utf-8")
    assert json.loads(line)["mysql"]["username"] == "jürgen\udcff"


@pytest.mark.parametrize("name", [*sorted(ALL_REPORTS), "hostile", "controls"])
def test_orjson_writes_the_standard_librarys_bytes(name: str) -> None:
    """The renderers use orjson for speed; its bytes must be json.dumps's (compact for JSON
    Lines, indented by 2 for JSON), control characters, quotes and non-ASCII included."""
    if name == "controls":  # every character class JSON escapes, and no surrogate
        weird = "".join(map(chr, range(0x20))) + '"\\/\x7f\u2028\u2029é😀'
        conn = dataclasses.replace(
            plaintext_refused(),
            mysql=dataclasses.replace(plaintext_refused().mysql, username=weird),
        )
        r = report((conn,))
    else:
        r = hostile_report() if name == "hostile" else ALL_REPORTS[name]()

    def escaped(text: str) -> str:  # lone surrogates as \udcXX escapes
        return re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)

    for conn in r.connections:
        expected = json.dumps(connection_to_dict(conn), ensure_ascii=False, allow_nan=False,
                              separators=(",", ":"))
        assert render_jsonl_connection(conn) == escaped(expected)
    expected_doc = json.dumps(report_to_dict(r), indent=2, ensure_ascii=False, allow_nan=False,
                              separators=(",", ": "))
    assert render_json(r) == escaped(expected_doc)


def test_jsonl_lines() -> None:
    r = report_everything()
    lines = [render_jsonl_connection(c) for c in r.connections] + [render_jsonl_trailer(r)]
    for line in lines:
        assert "\n" not in line and "\r" not in line
    # A newline inside a value stays escaped on its one line.
    evil = hostile_report()
    one = render_jsonl_connection(evil.connections[0])
    assert "\n" not in one
    assert json.loads(one)["tls"]["sni"].endswith("\r")
    assert [json.loads(x) for x in lines[:-1]] == [connection_to_dict(c) for c in r.connections]
    trailer = json.loads(lines[-1])
    assert list(trailer) == ["summary", "warnings", "inputs"]
    assert trailer == trailer_to_dict(r)
    assert trailer["summary"]["connections"] == 4
    full = report_to_dict(r)
    assert trailer["inputs"] == full["inputs"] and trailer["summary"] == full["summary"]


# --- JSON: schema ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_schema()


def _validator(schema: dict[str, Any], definition: str | None = None) -> Draft202012Validator:
    if definition is None:
        return Draft202012Validator(schema)
    sub = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    return Draft202012Validator(sub)


def test_schema_is_valid_2020_12(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema"] == {"const": model.SCHEMA_ID}


@pytest.mark.parametrize("name", sorted(ALL_REPORTS))
def test_examples_validate(schema: dict[str, Any], name: str) -> None:
    r = ALL_REPORTS[name]()
    _validator(schema).validate(json.loads(render_json(r)))
    conn_validator = _validator(schema, "connection")
    for c in r.connections:
        conn_validator.validate(json.loads(render_jsonl_connection(c)))
    _validator(schema, "trailer").validate(json.loads(render_jsonl_trailer(r)))


def test_hostile_report_validates(schema: dict[str, Any]) -> None:
    _validator(schema).validate(json.loads(render_json(hostile_report())))


def _resolve(schema: dict[str, Any], node: dict[str, Any], value: object) -> dict[str, Any]:
    """Follow $ref and pick the anyOf branch that describes an object, to walk the schema."""
    while True:
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].removeprefix("#/$defs/")]
        elif "anyOf" in node and value is not None:
            node = next(b for b in node["anyOf"] if b.get("type") != "null")
        else:
            return node


def _check_required(schema: dict[str, Any], node: dict[str, Any], value: object) -> int:
    """Every object the schema describes requires exactly the keys we emit; count objects."""
    node = _resolve(schema, node, value)
    seen = 0
    if isinstance(value, dict):
        if "required" in node:
            assert sorted(node["required"]) == sorted(value), node.get("description")
            seen += 1
        for key, sub in value.items():
            if key in node.get("properties", {}):
                seen += _check_required(schema, node["properties"][key], sub)
            elif "additionalProperties" in node:
                seen += _check_required(schema, node["additionalProperties"], sub)
    elif isinstance(value, list):
        for item in value:
            seen += _check_required(schema, node.get("items", {}), item)
    return seen


def test_schema_requires_every_key_emitted(schema: dict[str, Any]) -> None:
    for build in ALL_REPORTS.values():
        d = report_to_dict(build())
        assert _check_required(schema, schema, d) >= 8


def _paths_to_required_keys(
    schema: dict[str, Any], node: dict[str, Any], value: object, path: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    node = _resolve(schema, node, value)
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key in node.get("required", []):
            out.append((*path, key))
        for key, sub in value.items():
            child = node.get("properties", {}).get(key, node.get("additionalProperties"))
            if isinstance(child, dict):
                out += _paths_to_required_keys(schema, child, sub, (*path, key))
    elif isinstance(value, list) and value:
        out += _paths_to_required_keys(schema, node.get("items", {}), value[0], (*path, 0))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def test_removing_any_required_key_fails(schema: dict[str, Any]) -> None:
    doc = report_to_dict(report_everything())
    doc["warnings"] = report_to_dict(report_damaged_inputs())["warnings"]
    validator = _validator(schema)
    validator.validate(doc)
    paths = _paths_to_required_keys(schema, schema, doc)
    assert ("connections", 0, "server_certificates", 0, "sha256") in paths
    assert ("connections", 0, "verdicts", "clients", "libmysqlclient", "rules") in paths
    assert ("warnings", 0, "input") in paths
    assert len(paths) > 90
    for path in paths:
        broken = copy.deepcopy(doc)
        del _get(broken, path[:-1])[path[-1]]
        assert not validator.is_valid(broken), path


CLOSED_ENUM_CASES: list[tuple[tuple[Any, ...], object]] = [
    (("schema",), "capture-tls/report/v2"),
    (("inputs", 0, "format"), "erf"),
    (("connections", 0, "tls", "version"), "TLS 1.4"),
    (("connections", 0, "tls", "version"), "tls 1.2"),
    (("connections", 1, "tls", "alerts", 0, "sender"), "proxy"),
    (("connections", 1, "tls", "alerts", 0, "level"), "critical"),
    (("connections", 0, "intended_host", "source"), "reverse-dns"),
    (("connections", 0, "verdicts", "verify_ca"), "maybe"),
    (("connections", 0, "verdicts", "verify_identity"), "PASS"),
    (("connections", 0, "verdicts", "client_family", "source"), "guessed"),
    (("connections", 0, "verdicts", "clients", "mariadb", "verify_identity"), "ok"),
    (("connections", 0, "verdicts", "clients", "mariadb", "rules"), "guessed"),
    (("connections", 0, "outcome"), "rejected"),
    (("connections", 1, "findings", 0, "severity"), "critical"),
    (("connections", 1, "findings", 0, "code"), "hostname_mismatch"),
    (("connections", 1, "findings", 0, "code"), "HOSTNAME MISMATCH"),
    (("connections", 0, "id"), "conn-1"),
    (("connections", 0, "first_seen"), "2026-11-25 10:00:00"),
    (("connections", 0, "first_seen"), "2026-11-25T10:00:00+01:00"),
    (("connections", 0, "server_certificates", 0, "sha256"), LEAF_SHA256.upper()),
    (("connections", 0, "server", "port"), 65536),
    (("connections", 0, "mysql", "ssl_request"), None),
    (("connections", 0, "tls", "alpn"), None),
    (("summary", "connections"), -1),
]


@pytest.mark.parametrize(("path", "bad"), CLOSED_ENUM_CASES)
def test_value_outside_contract_fails(
    schema: dict[str, Any], path: tuple[Any, ...], bad: object
) -> None:
    doc = report_to_dict(report_everything())
    validator = _validator(schema)
    assert validator.is_valid(doc)
    _get(doc, path[:-1])[path[-1]] = bad
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(doc)


def test_open_parts_of_the_contract_stay_open(schema: dict[str, Any]) -> None:
    """New finding codes, new client families and new keys are allowed ("add freely")."""
    doc = report_to_dict(report_everything())
    doc["connections"][1]["findings"][0]["code"] = "SOME_FUTURE_CODE_2"
    doc["connections"][0]["verdicts"]["clients"]["rust-mysql"] = {
        "verify_identity": "pass",
        "reason": "r",
        "rules": "from-source",
    }
    doc["connections"][0]["tls"]["ja3"] = "abc"
    doc["connections"][0]["new_key"] = 1
    doc["new_top_level"] = {"x": 1}
    doc["inputs"][0]["first_packet"] = "2026-11-25T10:00:00+00:00"
    _validator(schema).validate(doc)


# --- text --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_text_golden(name: str) -> None:
    text = render_text(EXAMPLES[name](), width=100)
    path = GOLDEN / f"text_{name}.txt"
    if UPDATE_GOLDEN:
        path.write_text(text, encoding="utf-8")
        pytest.skip(f"rewrote {path}; review the diff")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(ALL_REPORTS))
def test_text_plain_has_no_escapes_and_fits(name: str) -> None:
    text = render_text(ALL_REPORTS[name](), width=100)
    assert "\x1b" not in text
    assert text.endswith("\n")
    for line in text.splitlines():
        assert len(line) <= 100
        assert line == line.rstrip()


def _line_with(text: str, needle: str) -> str:
    lines = [line for line in text.splitlines() if needle in line]
    assert len(lines) == 1, (needle, lines)
    return lines[0]


def test_text_facts_tls12() -> None:
    text = render_text(report_tls12(), width=100)
    assert text.startswith(
        "Connection 0:1  10.0.0.2:51234 -> 10.0.0.1:3306  2026-11-25T10:00:00.123456Z\n"
    )
    assert re.search(r"^ +SHA-256 +" + LEAF_SHA256 + "$", text, re.M)
    assert re.search(r"^ +SHA-256 +" + CA_SHA256 + "$", text, re.M)
    assert re.search(r"^ +SHA-256 +" + CLIENT_SHA256 + "$", text, re.M)
    assert re.search(r"^ +VERIFY_CA +pass$", text, re.M)
    assert re.search(r"^ +VERIFY_IDENTITY +pass$", text, re.M)
    assert re.search(r"^ +SAN DNS +db\.example\.com, db-replica\.example\.com$", text, re.M)
    assert re.search(r"^ +Outcome +tls-established$", text, re.M)
    assert "libmysqlclient (source: option)" in text
    assert text.endswith("Summary: 1 connection (1 TLS, 0 plaintext), 0 errors, 0 warnings\n")


def test_text_facts_mismatch() -> None:
    text = render_text(report_mismatch(), width=100)
    assert re.search(r"^ +VERIFY_IDENTITY +fail$", text, re.M)
    assert re.search(r"^ +VERIFY_CA +pass$", text, re.M)
    assert re.search(r"^ +SHA-256 +" + AZURE_SHA256 + "$", text, re.M)
    assert re.search(
        r"^ +CNAME chain +xxxx\.mysql\.database\.azure\.com -> "
        r"westeurope1-a\.control\.database\.windows\.net$",
        text,
        re.M,
    )
    assert re.search(r"^ +Name +xxxx\.mysql\.database\.azure\.com \(source: dns\)$", text, re.M)
    assert re.search(r"^ +error +MATCHES_CNAME_TARGET_ONLY\n +The certificate names", text, re.M)
    assert re.search(r"^ +legacy-cn +fail +from-source +CN is westeurope1", text, re.M)
    assert re.search(r"^ +Alerts +server alert, encrypted \(content not visible\)$", text, re.M)
    assert "Remedy: Connect to westeurope1-a.control.database.windows.net" in text


def test_text_facts_plaintext_and_tls13() -> None:
    text = render_text(report_plaintext(), width=100)
    assert re.search(r"^ +User +report_reader$", text, re.M)
    assert re.search(r"^ +Error +3159 \(HY000\) Connections using insecure transport", text, re.M)
    assert re.search(r"^  TLS +none \(no TLS handshake seen\)$", text, re.M)
    assert re.search(r"^ +Outcome +server-error$", text, re.M)
    text13 = render_text(report_tls13(), width=100)
    assert text13.startswith("Connection 0:4  [fd00::2]:50000 -> [fd00::1]:3306  ")
    assert re.search(
        r"^  Server certificates +not visible \(encrypted in TLS 1\.3\)$", text13, re.M
    )
    assert re.search(r"^ +warning +CERT_NOT_VISIBLE_TLS13$", text13, re.M)


def test_text_facts_inputs() -> None:
    text = render_text(report_damaged_inputs(), width=100)
    assert re.search(r"^ +Not used +not a capture: unknown magic number 0x68656c6c$", text, re.M)
    assert re.search(r"^ +Format +pcap, link types LINUX_SLL2$", text, re.M)
    assert re.search(r"^ +Format +not a capture$", text, re.M)
    assert re.search(r"^  TRUNCATED_FILE +/var/tmp/killed-tcpdump\.pcap, 1 time$", text, re.M)
    assert re.search(r"^  MALFORMED_PACKETS +/var/tmp/killed-tcpdump\.pcap, 3 times$", text, re.M)
    assert re.search(r"^  LIMIT_REACHED +not tied to one input, 1 time$", text, re.M)
    assert re.search(r"^  Server certificates +none seen$", text, re.M)
    assert text.splitlines()[-1] == (
        "Summary: 1 connection (1 TLS, 0 plaintext), 0 errors, 5 warnings, "
        "1 input could not be used"
    )


def test_text_no_connections() -> None:
    r = report((), inputs=(PCAPNG_INPUT,))
    text = render_text(r, width=100)
    assert text.startswith("No MySQL connections found.\n")
    assert text.endswith("Summary: 0 connections (0 TLS, 0 plaintext), 0 errors, 0 warnings\n")


def test_text_hostile_strings_are_inert() -> None:
    r = hostile_report()
    for color in (False, True):
        text = render_text(r, width=100, color=color)
        # The only escape sequences are our own SGR colours, and only with color=True.
        stripped = re.sub(r"\x1b\[[0-9;]*m", "", text)
        assert "\x1b" not in stripped
        assert "\r" not in text and "\u202e" not in text
        text.encode("utf-8")  # the lone surrogate was escaped too
    text = render_text(r, width=100)
    assert "\x1b" not in text
    assert "\\x1b[31mred\\x1b[0m [bold]x[/bold] line1\\x0aline2 \\u202eevil\\x0d" in text
    sni = _line_with(text, "SNI ")
    assert re.fullmatch(
        r" +SNI +db\.example\.com\\x1b\[31mred\\x1b\[0m \[bold\]x\[/bold\] "
        r"line1\\x0aline2 \\u202eevil\\x0d",
        sni,
    ), sni
    assert "O=[link=http://x]y[/link]" in text
    assert "CN=:smile: [red]issuer" in text
    assert "u\\udcff" in text
    # No value starts a line of its own: "line2" is only ever seen after the escaped newline.
    for line in text.splitlines():
        assert not line.lstrip().startswith("line2")


def test_text_color_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    r = report_mismatch()
    plain = render_text(r, width=100)
    colored = render_text(r, width=100, color=True)
    assert "\x1b" not in plain
    assert "\x1b[1;31mfail\x1b[0m" in colored  # VERIFY_IDENTITY fail in bold red
    assert "\x1b[1;32mpass\x1b[0m" in colored  # VERIFY_CA pass in bold green
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == plain
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert render_text(r, width=100) == plain


@pytest.mark.parametrize("width", [10, 30, 40, 60, 80])
def test_text_narrow_width_folds_but_keeps_every_character(width: int) -> None:
    for build in ALL_REPORTS.values():
        text = render_text(build(), width=width)
        assert "\x1b" not in text
        assert all(len(line) <= width for line in text.splitlines())
    if width >= 30:
        joined = re.sub(r"\s+", "", render_text(report_tls12(), width=width))
        assert LEAF_SHA256 in joined
        assert CA_SHA256 in joined


def test_text_empty_subject_is_visible() -> None:
    base = tls12_matching()
    leaf = dataclasses.replace(base.server_certificates[0], subject="", subject_cn=None)
    r = report((dataclasses.replace(base, server_certificates=(leaf,)),))
    text = render_text(r, width=100)
    assert re.search(r"^ +Subject +\(empty\)$", text, re.M)
    assert re.search(r"^ +#0 +\(no CN\)$", text, re.M)


def test_text_survives_values_outside_the_model_literals() -> None:
    """Frozen dataclasses do not check Literal types at runtime: a bug upstream must not crash
    the report or reach the terminal raw."""
    base = cname_mismatch()
    odd = dataclasses.replace(
        base,
        outcome="odd\x1b[2J",  # type: ignore[arg-type]
        findings=(dataclasses.replace(base.findings[0], severity="fatal\x07"),),  # type: ignore[arg-type]
    )
    text = render_text(report((odd,)), width=100)
    assert "\x1b" not in text and "\x07" not in text
    assert re.search(r"^ +Outcome +odd\\x1b\[2J$", text, re.M)
    assert re.search(r"^ +fatal\\x07 +MATCHES_CNAME_TARGET_ONLY$", text, re.M)


NULLABILITY_CASES: list[tuple[type, tuple[Any, ...], set[str]]] = [
    (ConnectionReport, ("connections", 0), {"first_seen_ts"}),
    (Endpoint, ("connections", 0, "client"), set()),
    (MysqlFacts, ("connections", 0, "mysql"), set()),
    (MysqlErr, ("connections", 2, "mysql", "error"), set()),
    (TlsFacts, ("connections", 0, "tls"), set()),
    (Alert, ("connections", 1, "tls", "alerts", 0), set()),
    (CertificateFacts, ("connections", 0, "server_certificates", 0), set()),
    (IntendedHost, ("connections", 0, "intended_host"), set()),
    (ClientVerdict, ("connections", 0, "verdicts", "clients", "mariadb"), set()),
    (model.Finding, ("connections", 1, "findings", 0), set()),
    (InputSummary, ("inputs", 0), {"error"}),
    (InputWarning, ("warnings", 0), set()),
    (Summary, ("summary",), set()),
]


@pytest.mark.parametrize(("cls", "path", "skip"), NULLABILITY_CASES, ids=lambda x: str(x))
def test_schema_null_exactly_where_the_model_allows_none(
    schema: dict[str, Any], cls: type, path: tuple[Any, ...], skip: set[str]
) -> None:
    doc = report_to_dict(report_everything())
    doc["warnings"] = report_to_dict(report_damaged_inputs())["warnings"]
    validator = _validator(schema)
    assert validator.is_valid(doc)
    hints = typing.get_type_hints(cls)
    checked = 0
    for name, hint in hints.items():
        if name in skip:
            continue
        nullable = type(None) in typing.get_args(hint)
        broken = copy.deepcopy(doc)
        _get(broken, path)[name] = None
        assert validator.is_valid(broken) == nullable, (cls.__name__, name)
        checked += 1
    assert checked == len(hints) - len(skip)


def test_schema_client_family_nullability(schema: dict[str, Any]) -> None:
    validator = _validator(schema)
    doc = report_to_dict(report_tls12())
    doc["connections"][0]["verdicts"]["client_family"]["name"] = None
    assert validator.is_valid(doc)  # Verdicts.client_family_name: str | None
    doc["connections"][0]["verdicts"]["client_family"]["source"] = None
    assert not validator.is_valid(doc)  # Verdicts.client_family_source: FamilySource
