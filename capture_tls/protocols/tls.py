"""TLS handshake framing and message parsing. INTERFACE STUB: to be implemented.

Theory of operation: (to be written with the implementation; RFC 5246 section 6.2 records,
section 7.4 handshake; RFC 8446 section 4; RFC 6066 SNI; RFC 7301 ALPN.)
"""

from __future__ import annotations

from dataclasses import dataclass

from capture_tls.limits import DEFAULT_LIMITS, Limits
from capture_tls.protocols.mysql import NEED_DATA, NeedData

__all__ = [
    "NEED_DATA",
    "Alert",
    "Certificate",
    "CertificateRequest",
    "ChangeCipherSpec",
    "ClientHello",
    "EncryptedRecord",
    "HandshakeMessage",
    "NeedData",
    "ServerHello",
    "TlsEvent",
    "TlsStream",
    "alert_description_name",
    "cipher_suite_name",
    "starts_like_tls_record",
    "version_name",
]


@dataclass(frozen=True, slots=True)
class ClientHello:
    legacy_version: int
    random: bytes  # 32 bytes; the key-log lookup key
    session_id: bytes
    cipher_suites: tuple[int, ...]
    sni: str | None  # only a valid host name (RFC 6066 host_name); else None
    alpn: tuple[str, ...]
    supported_versions: tuple[int, ...]  # empty when the extension is absent
    extensions: tuple[tuple[int, bytes], ...]  # raw, in order


@dataclass(frozen=True, slots=True)
class ServerHello:
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    selected_version: int  # supported_versions when present, else legacy_version
    is_hello_retry_request: bool
    extensions: tuple[tuple[int, bytes], ...]


@dataclass(frozen=True, slots=True)
class Certificate:
    certificates: tuple[bytes, ...]  # DER, as sent (leaf first)
    declared_count_exceeded: bool  # more than limits.max_certificates_per_chain were present


@dataclass(frozen=True, slots=True)
class CertificateRequest:
    certificate_types: tuple[int, ...]  # TLS <= 1.2; empty for 1.3


@dataclass(frozen=True, slots=True)
class HandshakeMessage:
    """Any other handshake message (ServerHelloDone, ServerKeyExchange, Finished, ...)."""

    msg_type: int
    length: int


@dataclass(frozen=True, slots=True)
class Alert:
    level: int  # 1 warning, 2 fatal
    description: int


@dataclass(frozen=True, slots=True)
class ChangeCipherSpec:
    pass


@dataclass(frozen=True, slots=True)
class EncryptedRecord:
    """A record this stream cannot read: after ChangeCipherSpec, TLS 1.3 protected records,
    application data. `fragment` is kept only up to 2^14+256 bytes (a TLS record's bound)."""

    content_type: int
    version: int
    fragment: bytes


TlsEvent = (
    ClientHello
    | ServerHello
    | Certificate
    | CertificateRequest
    | HandshakeMessage
    | Alert
    | ChangeCipherSpec
    | EncryptedRecord
)


class TlsStream:
    """One direction of a TLS connection, sans-I/O.

    `receive_data(data)` appends bytes; `next_event()` returns the next `TlsEvent` or
    `NEED_DATA`. A record layer error (unknown content type, record over 2^14+2048 bytes,
    handshake message over limits.max_handshake_message_bytes) raises `ProtocolError`,
    after which the stream stays broken (every later call raises again).
    `tls13` must be set by the caller (`set_tls13()`) once the ServerHello chose TLS 1.3:
    from then on handshake records of content type 23 are EncryptedRecord events.
    After a ChangeCipherSpec in TLS <= 1.2 this direction's records are encrypted.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        raise NotImplementedError

    def receive_data(self, data: bytes) -> None:
        raise NotImplementedError

    def next_event(self) -> TlsEvent | NeedData:
        raise NotImplementedError

    def set_tls13(self) -> None:
        raise NotImplementedError


def starts_like_tls_record(data: bytes) -> bool:
    """Cheap sniffer: content type 20..24 and version 0x0300..0x0304."""
    raise NotImplementedError


def version_name(version: int) -> str:
    """0x0303 -> "TLS 1.2"; unknown values as "0x7f1c"."""
    raise NotImplementedError


def cipher_suite_name(suite: int) -> str:
    """IANA name, e.g. 0x1301 -> "TLS_AES_128_GCM_SHA256"; unknown values as "0x1301"."""
    raise NotImplementedError


def alert_description_name(code: int) -> str:
    """RFC 8446 / 5246 alert description name, e.g. 42 -> "bad_certificate"."""
    raise NotImplementedError
