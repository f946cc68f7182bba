"""tshark, through pyshark, as the second implementation the parsers are checked against.

For one capture this returns, per TCP connection that tshark sees MySQL or a TLS handshake on,
the facts capture-tls also reports: endpoints (client/server), TLS version, cipher suite, SNI,
and each side's first Certificate message (SHA-256 of every DER, SAN DNS names, the strings of
the subject and issuer names).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pyshark

TSHARK_PREFS = ["-o", "tcp.reassemble_out_of_order:TRUE", "-o", "tcp.desegment_tcp_streams:TRUE",
                "-o", "tls.desegment_ssl_records:TRUE",
                "-o", "tls.desegment_ssl_application_data:TRUE"]

_HS_CLIENT_HELLO = "1"
_HS_SERVER_HELLO = "2"
_HS_CERTIFICATE = "11"


@dataclass
class TsharkConnection:
    client: tuple[str, int] | None = None
    server: tuple[str, int] | None = None
    tls_version: str | None = None
    cipher_suite: str | None = None
    sni: str | None = None
    server_cert_sha256: list[str] | None = None
    client_cert_sha256: list[str] | None = None
    server_san_dns: list[str] = field(default_factory=list)
    server_name_strings: set[str] = field(default_factory=set)
    mysql_greeting: bool = False


def _fields(layer: Any, name: str) -> list[Any]:
    f = layer.get_field(name)
    return list(f.all_fields) if f is not None else []


def _ip(pkt: Any) -> tuple[str, str]:
    if hasattr(pkt, "ip"):
        return pkt.ip.src, pkt.ip.dst
    return pkt.ipv6.src, pkt.ipv6.dst


def _version_name(raw_hex: str) -> str:
    v = int(raw_hex, 16)
    return {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2",
            0x0304: "TLS 1.3"}.get(v, f"0x{v:04x}")


def dissect(
    path: str, decode_as: dict[str, str] | None = None, extra_prefs: list[str] | None = None
) -> dict[tuple[str, int, str, int], TsharkConnection]:
    """tshark's view of one capture; `decode_as` maps "tcp.port==N" to a dissector name."""
    cap = pyshark.FileCapture(
        path,
        display_filter="mysql || tls.handshake",
        decode_as=decode_as or None,
        custom_parameters=TSHARK_PREFS + (extra_prefs or []),
        keep_packets=False,
    )
    streams: dict[str, TsharkConnection] = {}
    try:
        for pkt in cap:
            if not hasattr(pkt, "tcp"):
                continue
            src, dst = _ip(pkt)
            sport, dport = int(pkt.tcp.srcport), int(pkt.tcp.dstport)
            conn = streams.setdefault(pkt.tcp.stream, TsharkConnection())
            for layer in pkt.layers:
                if layer.layer_name == "mysql" and layer.get_field("version") is not None:
                    conn.mysql_greeting = True
                    conn.server, conn.client = (src, sport), (dst, dport)
                if layer.layer_name != "tls":
                    continue
                types = [str(t.raw_value).lstrip("0") or "0" for t in
                         _fields(layer, "handshake_type")]
                types = [str(int(t, 16)) for t in types]
                if _HS_CLIENT_HELLO in types:
                    conn.client, conn.server = (src, sport), (dst, dport)
                    names = _fields(layer, "handshake_extensions_server_name")
                    if names and conn.sni is None:
                        conn.sni = names[0].showname_value
                if _HS_SERVER_HELLO in types and conn.tls_version is None:
                    conn.server, conn.client = (src, sport), (dst, dport)
                    sv = _fields(layer, "handshake_extensions_supported_version")
                    hv = _fields(layer, "handshake_version")
                    raw = (sv or hv)[0].raw_value
                    conn.tls_version = _version_name(str(raw))
                    cs = _fields(layer, "handshake_ciphersuite")
                    if cs:
                        conn.cipher_suite = cs[0].showname_value.rsplit(" (", 1)[0]
                if _HS_CERTIFICATE in types:
                    ders = [bytes.fromhex(str(c.raw_value)) for c in
                            _fields(layer, "handshake_certificate")]
                    shas = [hashlib.sha256(d).hexdigest() for d in ders]
                    from_server = conn.server == (src, sport) or (
                        conn.server is None and sport < dport
                    )
                    if from_server and conn.server_cert_sha256 is None:
                        conn.server_cert_sha256 = shas
                        conn.server_san_dns = [f.showname_value for f in
                                               _fields(layer, "x509ce_dNSName")]
                        for name in ("x509sat_uTF8String", "x509sat_printableString",
                                     "x509sat_IA5String", "x509sat_teletexString"):
                            conn.server_name_strings.update(
                                f.showname_value for f in _fields(layer, name)
                            )
                    elif not from_server and conn.client_cert_sha256 is None:
                        conn.client_cert_sha256 = shas
    finally:
        cap.close()
    out: dict[tuple[str, int, str, int], TsharkConnection] = {}
    for conn in streams.values():
        if conn.client is None or conn.server is None:
            continue
        if not (conn.mysql_greeting or conn.tls_version or conn.sni is not None
                or conn.server_cert_sha256):
            continue
        out[(conn.client[0], conn.client[1], conn.server[0], conn.server[1])] = conn
    return out
