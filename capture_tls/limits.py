"""Every bound on what untrusted input may make capture-tls hold, in one frozen object.

Each default carries the reason it has that value. The layers read their limits from a
`Limits` passed down by the caller; nothing reads a module constant behind its back.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    # A MySQL/TLS handshake of a real server is well under 64 KiB per direction (a chain of
    # 4 RSA-4096 certificates is ~8 KiB); 1 MiB leaves room for absurd-but-legal chains and
    # still bounds memory at ~2 MiB per connection in handshake.
    max_buffered_bytes_per_half_stream: int = 1 << 20
    # TLS allows 2^24-1 bytes per handshake message; no real Certificate comes near 1 MiB.
    max_handshake_message_bytes: int = 1 << 20
    # RFC 5246/8446 impose no count; OpenSSL's default verify depth is 100.
    max_certificates_per_chain: int = 100
    # Out-of-order segments held per half-stream before the oldest missing range is declared
    # a gap. Real reordering on a LAN spans a handful of segments.
    max_out_of_order_segments: int = 256
    # Connections in handshake at once. A connection that has sent only a SYN costs ~1.3 KB
    # (state and its two table entries, measured with tracemalloc); 50,000 of them ~65 MB, so a
    # SYN flood cannot grow us past that. Real captures have a few hundred at once. Reported
    # connections keep only their keys (~0.3 KB) for a minute and do not count here.
    max_connections_tracked: int = 50_000
    # A MySQL packet header allows 16 MiB; a greeting or SSLRequest is under 200 bytes, a
    # HandshakeResponse41 with attributes a few KiB.
    max_mysql_packet_bytes: int = 64 * 1024
    # Client bytes inspected after the SSLRequest before we conclude it is not TLS.
    max_bytes_before_tls: int = 64 * 1024
    # SAN entries reported per certificate; the rest is counted.
    max_san_entries: int = 10_000
    # DNS answers remembered (name/address pairs) for intended-host lookup.
    max_dns_records: int = 200_000
    # Seconds a half-open connection may stay idle (capture time) before it is expired.
    idle_timeout_seconds: float = 300.0


DEFAULT_LIMITS = Limits()
