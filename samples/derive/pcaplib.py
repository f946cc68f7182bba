"""Raw-byte pcap editing for the derived samples: records, Ethernet/IPv4/IPv6/TCP, checksums.

Theory of operation: a classic pcap file is a 24-byte global header and records of a 16-byte
header plus the captured bytes (pcap file format, draft-ietf-opsawg-pcap). This module reads
and writes both byte orders and both timestamp precisions, parses just enough of an Ethernet
(optionally 802.1Q) frame to find a TCP segment, and rebuilds a frame after its TCP fields
or payload changed, with the IPv4 header checksum and the TCP checksum (RFC 793, RFC 8200
section 8.1 pseudo-header) recomputed. It works on trusted, lab-made files only.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10


@dataclass(frozen=True)
class PcapHeader:
    version: tuple[int, int]
    snaplen: int
    linktype: int
    nanosecond: bool
    big_endian: bool


@dataclass(frozen=True)
class Record:
    ts_sec: int
    ts_frac: int  # microseconds or nanoseconds, as the header says
    orig_len: int
    data: bytes


def read_pcap(path: Path) -> tuple[PcapHeader, list[Record]]:
    raw = path.read_bytes()
    magic_le = struct.unpack_from("<I", raw, 0)[0]
    magic_be = struct.unpack_from(">I", raw, 0)[0]
    if magic_le in (MAGIC_USEC, MAGIC_NSEC):
        endian, magic = "<", magic_le
    elif magic_be in (MAGIC_USEC, MAGIC_NSEC):
        endian, magic = ">", magic_be
    else:
        raise ValueError(f"{path}: not a classic pcap file")
    major, minor, _tz, _sig, snaplen, linktype = struct.unpack_from(endian + "HHiIII", raw, 4)
    header = PcapHeader((major, minor), snaplen, linktype & 0x0FFFFFFF, magic == MAGIC_NSEC,
                        endian == ">")
    records = []
    off = 24
    while off + 16 <= len(raw):
        ts_sec, ts_frac, incl, orig = struct.unpack_from(endian + "IIII", raw, off)
        off += 16
        records.append(Record(ts_sec, ts_frac, orig, raw[off : off + incl]))
        off += incl
    return header, records


def pcap_bytes(header: PcapHeader, records: Iterable[Record]) -> bytes:
    endian = ">" if header.big_endian else "<"
    magic = MAGIC_NSEC if header.nanosecond else MAGIC_USEC
    out = bytearray(struct.pack(endian + "IHHiIII", magic, header.version[0], header.version[1],
                                0, 0, header.snaplen, header.linktype))
    for rec in records:
        out += struct.pack(endian + "IIII", rec.ts_sec, rec.ts_frac, len(rec.data), rec.orig_len)
        out += rec.data
    return bytes(out)


def write_pcap(path: Path, header: PcapHeader, records: Iterable[Record]) -> None:
    path.write_bytes(pcap_bytes(header, records))


def checksum16(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@dataclass(frozen=True)
class Tcp:
    """A TCP segment found in an Ethernet frame; offsets index the frame."""

    l3_off: int
    l4_off: int
    payload_off: int
    ip_version: int
    src: bytes
    dst: bytes
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes

    @property
    def key(self) -> tuple[bytes, int, bytes, int]:
        return (self.src, self.sport, self.dst, self.dport)

    @property
    def reverse_key(self) -> tuple[bytes, int, bytes, int]:
        return (self.dst, self.dport, self.src, self.sport)


def l3_offset_ethernet(frame: bytes) -> tuple[int, int] | None:
    """(offset of the IP header, ethertype) of an Ethernet frame, skipping 802.1Q tags."""
    off, ethertype = 12, struct.unpack_from("!H", frame, 12)[0]
    while ethertype in (0x8100, 0x88A8):
        off += 4
        ethertype = struct.unpack_from("!H", frame, off)[0]
    return off + 2, ethertype


def parse_tcp(frame: bytes, l3_off: int | None = None) -> Tcp | None:
    if l3_off is None:
        found = l3_offset_ethernet(frame)
        if found is None:
            return None
        l3_off = found[0]
    if len(frame) < l3_off + 20:
        return None
    version = frame[l3_off] >> 4
    if version == 4:
        ihl = (frame[l3_off] & 0x0F) * 4
        if frame[l3_off + 9] != 6:
            return None
        total = struct.unpack_from("!H", frame, l3_off + 2)[0]
        src, dst = frame[l3_off + 12 : l3_off + 16], frame[l3_off + 16 : l3_off + 20]
        l4 = l3_off + ihl
        end = l3_off + total
    elif version == 6:
        if frame[l3_off + 6] != 6:
            return None  # extension headers do not occur in the lab captures
        plen = struct.unpack_from("!H", frame, l3_off + 4)[0]
        src, dst = frame[l3_off + 8 : l3_off + 24], frame[l3_off + 24 : l3_off + 40]
        l4 = l3_off + 40
        end = l4 + plen
    else:
        return None
    sport, dport, seq, ack, off_flags = struct.unpack_from("!HHIIH", frame, l4)
    data_off = l4 + (off_flags >> 12) * 4
    return Tcp(l3_off, l4, data_off, version, src, dst, sport, dport, seq, ack,
               off_flags & 0x3F, frame[data_off:end])


def rebuild_tcp(
    frame: bytes,
    tcp: Tcp,
    *,
    seq: int | None = None,
    ack: int | None = None,
    sport: int | None = None,
    dport: int | None = None,
    flags: int | None = None,
    payload: bytes | None = None,
) -> bytes:
    """The frame with TCP fields/payload replaced; IP length and all checksums recomputed."""
    l3, l4, data_off = tcp.l3_off, tcp.l4_off, tcp.payload_off
    new_payload = tcp.payload if payload is None else payload
    tcp_header = bytearray(frame[l4:data_off])
    struct.pack_into("!HHII", tcp_header, 0,
                     tcp.sport if sport is None else sport,
                     tcp.dport if dport is None else dport,
                     (tcp.seq if seq is None else seq) & 0xFFFFFFFF,
                     (tcp.ack if ack is None else ack) & 0xFFFFFFFF)
    if flags is not None:
        off_flags = struct.unpack_from("!H", tcp_header, 12)[0]
        struct.pack_into("!H", tcp_header, 12, (off_flags & 0xF000) | flags)
    struct.pack_into("!H", tcp_header, 16, 0)
    segment = bytes(tcp_header) + new_payload
    ip_header = bytearray(frame[l3:l4])
    if tcp.ip_version == 4:
        struct.pack_into("!H", ip_header, 2, len(ip_header) + len(segment))
        struct.pack_into("!H", ip_header, 10, 0)
        struct.pack_into("!H", ip_header, 10, checksum16(bytes(ip_header)))
        pseudo = tcp.src + tcp.dst + struct.pack("!BBH", 0, 6, len(segment))
    else:
        struct.pack_into("!H", ip_header, 4, len(segment))
        pseudo = tcp.src + tcp.dst + struct.pack("!IxxxB", len(segment), 6)
    csum = checksum16(pseudo + segment)
    segment = segment[:16] + struct.pack("!H", csum) + segment[18:]
    return frame[:l3] + bytes(ip_header) + segment


def with_data(rec: Record, data: bytes) -> Record:
    """The record with new bytes; orig_len follows the change in length."""
    return replace(rec, data=data, orig_len=rec.orig_len + len(data) - len(rec.data))


def connections(records: list[Record]) -> list[tuple[bytes, int, bytes, int]]:
    """Client->server keys of the TCP connections, in order of their SYN."""
    keys = []
    for rec in records:
        tcp = parse_tcp(rec.data)
        if tcp and tcp.flags & TCP_SYN and not tcp.flags & TCP_ACK and tcp.key not in keys:
            keys.append(tcp.key)
    return keys


def segments(
    records: list[Record], key: tuple[bytes, int, bytes, int]
) -> Iterator[tuple[int, Tcp]]:
    """(record index, segment) of the payload-bearing segments sent in direction ``key``."""
    for i, rec in enumerate(records):
        tcp = parse_tcp(rec.data)
        if tcp and tcp.key == key and tcp.payload:
            yield i, tcp


def isn(records: list[Record], key: tuple[bytes, int, bytes, int]) -> int:
    for rec in records:
        tcp = parse_tcp(rec.data)
        if tcp and tcp.key == key and tcp.flags & TCP_SYN:
            return tcp.seq
    raise ValueError("no SYN in this direction")


def stream(records: list[Record], key: tuple[bytes, int, bytes, int]) -> bytes:
    """The bytes sent in direction ``key`` (first copy wins; the lab files have no gaps)."""
    base = (isn(records, key) + 1) & 0xFFFFFFFF
    buf = bytearray()
    for _, tcp in segments(records, key):
        rel = (tcp.seq - base) & 0xFFFFFFFF
        end = rel + len(tcp.payload)
        if end > len(buf):
            buf += b"\0" * (end - len(buf))
            buf[rel:end] = tcp.payload
    return bytes(buf)


def tls_handshake_span(server_stream: bytes, hs_type: int) -> tuple[int, int]:
    """Stream offsets [start, end) of the first plaintext handshake message ``hs_type`` that
    follows the MySQL greeting (one MySQL packet) in a server->client stream."""
    off = 4 + int.from_bytes(server_stream[:3], "little")
    while off + 5 <= len(server_stream):
        ctype = server_stream[off]
        rec_len = struct.unpack_from("!H", server_stream, off + 3)[0]
        body = off + 5
        if ctype == 22:
            pos = body
            while pos + 4 <= body + rec_len:
                msg_len = int.from_bytes(server_stream[pos + 1 : pos + 4], "big")
                if server_stream[pos] == hs_type:
                    return pos, pos + 4 + msg_len
                pos += 4 + msg_len
        off = body + rec_len
    raise ValueError(f"no handshake message {hs_type}")
