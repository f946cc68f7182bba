"""Link-layer, IP and TCP/UDP header decoding to plain tuples. INTERFACE STUB.
"""

from __future__ import annotations

__all__ = ["LINK_TYPE_NAMES", "DecodedSegment", "decode_frame"]

# (ip_version, src_addr bytes (4 or 16), dst_addr bytes, protocol (6 TCP, 17 UDP),
#  src_port, dst_port, tcp_seq, tcp_ack, tcp_flags, payload bytes, payload_truncated)
# For UDP, seq/ack/flags are 0. payload_truncated: the snap length cut the payload
# (IP total length says more bytes than were captured).
DecodedSegment = tuple[int, bytes, bytes, int, int, int, int, int, int, bytes, bool]

LINK_TYPE_NAMES: dict[int, str] = {}


def decode_frame(link_type: int, frame: bytes) -> DecodedSegment | None:
    """Decode a frame to a TCP/UDP segment tuple. None for anything that is not IPv4/IPv6
    TCP/UDP (ARP, ICMP, ...). Raises `ProtocolError` for a malformed header (a length that
    does not fit): the caller counts it as MALFORMED_PACKETS."""
    raise NotImplementedError
