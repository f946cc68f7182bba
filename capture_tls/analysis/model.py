"""The report model: frozen data, one class per object of the JSON contract
(`capture-tls/report/v1`, ../shared/DESIGN.md). Field names are the JSON keys.

Nothing here prints or renders; `reporting/` turns these into text, JSON, Markdown, HTML.
`None` means "could not be determined" unless a field's comment says otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

__all__ = [
    "SCHEMA_ID",
    "Alert",
    "CertificateFacts",
    "ClientVerdict",
    "ConnectionReport",
    "Endpoint",
    "Finding",
    "HandshakeStep",
    "InputSummary",
    "InputWarning",
    "IntendedHost",
    "MysqlErr",
    "MysqlFacts",
    "Report",
    "Summary",
    "TlsFacts",
    "Verdicts",
]

SCHEMA_ID = "capture-tls/report/v1"

Severity = Literal["error", "warning", "info"]
VerdictValue = Literal["pass", "fail", "unknown"]
Outcome = Literal[
    "tls-established",
    "client-rejected-certificate",
    "closed-after-handshake",
    "server-error",
    "plaintext",
    "incomplete",
]
HostSource = Literal["option", "sni", "dns", "hosts-file"]
FamilySource = Literal["option", "guess", "none"]
CaptureFormat = Literal["pcap", "pcapng", "live"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    ip: str
    port: int


@dataclass(frozen=True, slots=True)
class MysqlErr:
    code: int
    sql_state: str | None
    message: str


@dataclass(frozen=True, slots=True)
class MysqlFacts:
    server_version: str | None
    connection_id: int | None
    server_supports_ssl: bool | None
    ssl_request: bool
    username: str | None  # only when the client sent it in clear
    error: MysqlErr | None


@dataclass(frozen=True, slots=True)
class Alert:
    sender: Literal["client", "server"]
    level: Literal["warning", "fatal"] | None  # None: encrypted, level not visible
    description: str | None  # e.g. "bad_certificate"; None when encrypted and not decrypted
    code: int | None
    encrypted: bool


@dataclass(frozen=True, slots=True)
class TlsFacts:
    version: str | None  # "SSL 3.0", "TLS 1.0" ... "TLS 1.3"
    cipher_suite: str | None  # IANA name
    sni: str | None
    alpn: tuple[str, ...]
    resumed: bool
    certificate_visible: bool
    decrypted: bool
    alerts: tuple[Alert, ...]


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    subject: str  # RFC 4514
    subject_cn: str | None
    issuer: str
    serial: str  # lowercase hex
    not_before: str  # ISO 8601 UTC
    not_after: str
    san_dns: tuple[str, ...]
    san_ip: tuple[str, ...]
    sha256: str  # lowercase hex of the DER
    public_key: str  # "RSA 2048", "EC P-256", "Ed25519"
    signature_algorithm: str  # e.g. "sha256WithRSAEncryption"
    self_signed: bool
    pem: str


@dataclass(frozen=True, slots=True)
class IntendedHost:
    name: str
    source: HostSource
    cname_chain: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClientVerdict:
    verify_identity: VerdictValue
    reason: str
    rules: Literal["tested", "from-source"]


@dataclass(frozen=True, slots=True)
class Verdicts:
    verify_ca: VerdictValue
    verify_identity: VerdictValue
    client_family_name: str | None
    client_family_source: FamilySource
    clients: tuple[tuple[str, ClientVerdict], ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    message: str
    remedy: str


class HandshakeStep(NamedTuple):
    """One step of the handshake ladder: who sent what, when. A named tuple (immutable like
    the dataclasses here): made 13 times a connection, at a third of a frozen dataclass's
    cost."""

    time: str  # ISO 8601 UTC
    sender: Literal["client", "server"]
    label: str  # "Greeting (10.11.6-MariaDB)", "ClientHello (SNI db)", "Alert bad_certificate"


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    id: str  # "<input index>:<n>"
    first_seen: str  # ISO 8601 UTC
    first_seen_ts: float  # seconds since the epoch; sort key, not in the JSON
    client: Endpoint
    server: Endpoint
    mysql: MysqlFacts
    tls: TlsFacts | None
    server_certificates: tuple[CertificateFacts, ...]
    client_certificates: tuple[CertificateFacts, ...]
    intended_host: IntendedHost | None
    verdicts: Verdicts
    outcome: Outcome
    findings: tuple[Finding, ...]
    handshake: tuple[HandshakeStep, ...] = ()


@dataclass(frozen=True, slots=True)
class InputSummary:
    path: str
    size: int | None
    sha256: str | None
    format: CaptureFormat | None  # None when the file was not a capture at all
    link_types: tuple[str, ...]
    packets: int
    first_packet: str | None
    last_packet: str | None
    error: str | None = None  # the one-line reason an input could not be used


@dataclass(frozen=True, slots=True)
class InputWarning:
    code: str
    message: str
    count: int
    input: str | None  # the input's path, None for warnings not tied to one input


@dataclass(frozen=True, slots=True)
class Summary:
    connections: int
    tls: int
    plaintext: int
    errors: int
    warnings: int


@dataclass(frozen=True, slots=True)
class Report:
    tool_name: str
    tool_version: str
    command: tuple[str, ...]
    inputs: tuple[InputSummary, ...]
    summary: Summary
    warnings: tuple[InputWarning, ...]
    # A tuple, or a lazy sequence over the reports spilled to disk
    # (`capture_tls.analysis.report_store`): iterate it, do not copy it.
    connections: Sequence[ConnectionReport] = field(default_factory=tuple)
