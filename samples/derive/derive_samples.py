"""Derive the conditions no lab stack produces on its own from the real captures.

Run: ``python3 samples/derive/derive_samples.py`` (no root needed; deterministic: the same
inputs give byte-identical outputs). Reads ``samples/tls12-match.pcap`` (Ethernet, IPv4, two
TLS 1.2 connections from 10.77.1.10 to 10.77.1.20:3306) and writes ``samples/derived/*``.
Every function below makes one file; samples/README.md names them. Where bytes of a TCP
segment change, the IPv4 header checksum and the TCP checksum are recomputed (pcaplib).
"""

from __future__ import annotations

import hashlib
import struct
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pcaplib as pl

SAMPLES_DIR = Path(__file__).resolve().parents[1]
SOURCE = SAMPLES_DIR / "tls12-match.pcap"
OUT_DIR = SAMPLES_DIR / "derived"

Key = tuple[bytes, int, bytes, int]
Records = list[pl.Record]


def load() -> tuple[pl.PcapHeader, Records, Key, Key]:
    """The source capture, the first connection's client->server and server->client keys."""
    header, records = pl.read_pcap(SOURCE)
    client_key = pl.connections(records)[0]
    server_key = (client_key[2], client_key[3], client_key[0], client_key[1])
    return header, records, client_key, server_key


def certificate_segments(records: Records, server_key: Key) -> list[tuple[int, pl.Tcp]]:
    """The server segments carrying bytes of the Certificate handshake message."""
    start, end = pl.tls_handshake_span(pl.stream(records, server_key), 11)
    base = (pl.isn(records, server_key) + 1) & 0xFFFFFFFF
    found = []
    for i, tcp in pl.segments(records, server_key):
        rel = (tcp.seq - base) & 0xFFFFFFFF
        if rel < end and rel + len(tcp.payload) > start:
            found.append((i, tcp))
    if len(found) < 2:
        raise ValueError("the certificate should span at least two segments")
    return found


def patch_stream(records: Records, key: Key, offset: int, new: bytes) -> Records:
    """Overwrite stream bytes [offset, offset+len(new)) in direction ``key`` (same length)."""
    base = (pl.isn(records, key) + 1) & 0xFFFFFFFF
    out = list(records)
    for i, tcp in pl.segments(records, key):
        rel = (tcp.seq - base) & 0xFFFFFFFF
        lo, hi = max(offset, rel), min(offset + len(new), rel + len(tcp.payload))
        if lo >= hi:
            continue
        payload = bytearray(tcp.payload)
        payload[lo - rel : hi - rel] = new[lo - offset : hi - offset]
        out[i] = pl.with_data(out[i], pl.rebuild_tcp(out[i].data, tcp, payload=bytes(payload)))
    return out


def write(name: str, header: pl.PcapHeader, records: Records) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    pl.write_pcap(OUT_DIR / name, header, records)


# ----------------------------------------------------------------------------- encapsulations


def big_endian() -> None:
    header, records, _, _ = load()
    write("tls12-match-bigendian.pcap", replace(header, big_endian=True), records)


def vlan_8021q(vlan_id: int = 77) -> None:
    header, records, _, _ = load()
    tag = struct.pack("!HH", 0x8100, vlan_id)
    out = [pl.with_data(r, r.data[:12] + tag + r.data[12:]) for r in records]
    write("vlan-8021q.pcap", header, out)


def bsd_loopback() -> None:
    """DLT_NULL: a 4-byte address family in the writer's byte order (little endian here)."""
    header, records, _, _ = load()
    af = {0x0800: 2, 0x86DD: 30}  # AF_INET; AF_INET6 as on macOS
    out = []
    for r in records:
        ethertype = struct.unpack_from("!H", r.data, 12)[0]
        out.append(pl.with_data(r, struct.pack("<I", af[ethertype]) + r.data[14:]))
    write("bsd-loopback.pcap", replace(header, linktype=pl.LINKTYPE_NULL), out)


def raw_ip() -> None:
    header, records, _, _ = load()
    out = [pl.with_data(r, r.data[14:]) for r in records]
    write("raw-ip.pcap", replace(header, linktype=pl.LINKTYPE_RAW), out)


# ----------------------------------------------------------------------------- TCP conditions


def reordered() -> None:
    """The first two segments of the certificate swapped (timestamps stay in place)."""
    header, records, _, server_key = load()
    (a, _), (b, _) = certificate_segments(records, server_key)[:2]
    out = list(records)
    out[a], out[b] = replace(records[b], ts_sec=records[a].ts_sec, ts_frac=records[a].ts_frac), \
        replace(records[a], ts_sec=records[b].ts_sec, ts_frac=records[b].ts_frac)
    write("tcp-reordered.pcap", header, out)


def duplicated() -> None:
    """The first certificate segment sent again (a retransmission) after the second one."""
    header, records, _, server_key = load()
    (a, _), (b, _) = certificate_segments(records, server_key)[:2]
    retransmission = replace(records[a], ts_sec=records[b].ts_sec, ts_frac=records[b].ts_frac)
    write("tcp-retransmission.pcap", header, [*records[: b + 1], retransmission,
                                              *records[b + 1 :]])


def overlapping() -> None:
    """Between the first two certificate segments A and B, a retransmission of A's second half
    that also carries the first half of B (same bytes): it overlaps both A and B."""
    header, records, _, server_key = load()
    (a, seg_a), (_, seg_b) = certificate_segments(records, server_key)[:2]
    data = pl.stream(records, server_key)
    base = (pl.isn(records, server_key) + 1) & 0xFFFFFFFF
    rel_a = (seg_a.seq - base) & 0xFFFFFFFF
    rel_b = (seg_b.seq - base) & 0xFFFFFFFF
    start = rel_a + len(seg_a.payload) // 2
    end = rel_b + len(seg_b.payload) // 2
    frame = pl.rebuild_tcp(records[a].data, seg_a, seq=seg_a.seq + len(seg_a.payload) // 2,
                           payload=data[start:end])
    extra = pl.with_data(records[a], frame)
    write("tcp-overlap.pcap", header, [*records[: a + 1], extra, *records[a + 1 :]])


def gap() -> None:
    """The second certificate segment removed (lost by the capture, not by the network)."""
    header, records, _, server_key = load()
    (_, _), (b, _) = certificate_segments(records, server_key)[:2]
    write("tcp-gap.pcap", header, [*records[:b], *records[b + 1 :]])


def mid_connection() -> None:
    """Everything before the first connection's ClientHello dropped (no SYN, no greeting,
    no SSLRequest, no DNS); the second connection stays complete."""
    header, records, client_key, _ = load()
    first = next(i for i, tcp in pl.segments(records, client_key)
                 if tcp.payload[:2] == b"\x16\x03")
    write("mid-connection.pcap", header, records[first:])


def port_reuse() -> None:
    """The second connection's client port rewritten to the first's: two real connections on
    one 4-tuple, one after the other, each with its own ISNs."""
    header, records, client_key, _ = load()
    keys = pl.connections(records)
    second = keys[1]
    assert second[0] == client_key[0] and second[2:] == client_key[2:]
    assert pl.isn(records, second) != pl.isn(records, client_key)
    out = []
    for r in records:
        tcp = pl.parse_tcp(r.data)
        if tcp and tcp.key == second:
            r = pl.with_data(r, pl.rebuild_tcp(r.data, tcp, sport=client_key[1]))
        elif tcp and tcp.reverse_key == second:
            r = pl.with_data(r, pl.rebuild_tcp(r.data, tcp, dport=client_key[1]))
        out.append(r)
    write("port-reuse.pcap", header, out)


# ----------------------------------------------------------------------------- malformed


def record_length_max() -> None:
    """The TLS record holding the Certificate claims 65535 bytes (above the 2^14+2048 limit
    of RFC 5246 6.2.3; a record length field has 16 bits, so this is the largest claim)."""
    header, records, _, server_key = load()
    start, _ = pl.tls_handshake_span(pl.stream(records, server_key), 11)
    write("malformed-tls-record-65535.pcap", header,
          patch_stream(records, server_key, start - 2, b"\xff\xff"))


def handshake_16mb() -> None:
    """The Certificate handshake message header claims 16 MB - 1 (0xFFFFFF)."""
    header, records, _, server_key = load()
    start, _ = pl.tls_handshake_span(pl.stream(records, server_key), 11)
    write("malformed-handshake-16mb.pcap", header,
          patch_stream(records, server_key, start + 1, b"\xff\xff\xff"))


def garbage_certificate() -> None:
    """The leaf certificate's DER replaced by garbage of the same length: every length field
    (record, handshake, certificate list, certificate) is still consistent."""
    header, records, _, server_key = load()
    data = pl.stream(records, server_key)
    start, _ = pl.tls_handshake_span(data, 11)
    der_len = int.from_bytes(data[start + 7 : start + 10], "big")
    der_off = start + 10
    garbage = b""
    counter = 0
    while len(garbage) < der_len:
        garbage += hashlib.sha256(b"capture-tls garbage %d" % counter).digest()
        counter += 1
    garbage = b"\x30\x82" + garbage[2:der_len]  # looks like a SEQUENCE, is not one
    write("malformed-certificate-der.pcap", header,
          patch_stream(records, server_key, der_off, garbage[:der_len]))


def garbage_after_ssl_request() -> None:
    """16 bytes that are not TLS appended to the SSLRequest segment; the client's later
    sequence numbers and the server's acknowledgements shift by 16."""
    header, records, client_key, server_key = load()
    garbage = b"NOT-TLS-GARBAGE!"
    ssl_index, ssl_seg = next(iter(pl.segments(records, client_key)))
    boundary = (ssl_seg.seq + len(ssl_seg.payload)) & 0xFFFFFFFF
    delta = len(garbage)
    base = pl.isn(records, client_key)

    def after(seq: int) -> bool:
        return ((seq - base) & 0xFFFFFFFF) >= ((boundary - base) & 0xFFFFFFFF)

    out = []
    for i, r in enumerate(records):
        tcp = pl.parse_tcp(r.data)
        if tcp and i == ssl_index:
            r = pl.with_data(r, pl.rebuild_tcp(r.data, tcp, payload=tcp.payload + garbage))
        elif tcp and tcp.key == client_key and after(tcp.seq) and not tcp.flags & pl.TCP_SYN:
            r = pl.with_data(r, pl.rebuild_tcp(r.data, tcp, seq=tcp.seq + delta))
        elif tcp and tcp.key == server_key and tcp.flags & pl.TCP_ACK and after(tcp.ack):
            r = pl.with_data(r, pl.rebuild_tcp(r.data, tcp, ack=tcp.ack + delta))
        out.append(r)
    write("malformed-garbage-after-sslrequest.pcap", header, out)


def mysql_packet_16mb() -> None:
    """The server greeting's MySQL packet header claims 0xFFFFFF bytes (16 MB - 1)."""
    header, records, _, server_key = load()
    write("malformed-mysql-packet-16mb.pcap", header,
          patch_stream(records, server_key, 0, b"\xff\xff\xff"))


def truncated_file() -> None:
    """The file cut in the middle of the record of the first certificate segment, as a killed
    tcpdump leaves it (the record header says more bytes than the file has)."""
    header, records, _, server_key = load()
    (a, _), _ = certificate_segments(records, server_key)[:2]
    raw = pl.pcap_bytes(header, records[: a + 1])
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "truncated-mid-packet.pcap").write_bytes(raw[: len(raw) - len(records[a].data)
                                                            + 700])


def server_requires_tls() -> None:
    """plaintext.pcap's second connection (user tlsonly, refused by MariaDB with a plain 1045)
    with the server's ERR packet replaced by the one MySQL 8 sends when
    require_secure_transport=ON (ERROR 3159, SQL state HY000). MariaDB 10.11 answers such a
    login with 1045 (checked in the lab), so a real MySQL 8 answer is re-created here; later
    server sequence numbers and the client's acknowledgements are shifted by the change."""
    header, records = pl.read_pcap(SAMPLES_DIR / "plaintext.pcap")
    client_key = pl.connections(records)[1]
    server_key = (client_key[2], client_key[3], client_key[0], client_key[1])
    message = (b"Connections using insecure transport are prohibited while "
               b"--require_secure_transport=ON.")
    payload = b"\xff" + struct.pack("<H", 3159) + b"#HY000" + message
    found = [(i, t) for i, t in pl.segments(records, server_key) if t.payload[4:5] == b"\xff"]
    (idx, err_seg), = found
    seq_id = err_seg.payload[3]
    new_payload = struct.pack("<I", len(payload))[:3] + bytes([seq_id]) + payload
    delta = len(new_payload) - len(err_seg.payload)
    end_of_err = (err_seg.seq + len(err_seg.payload)) & 0xFFFFFFFF
    out = list(records)
    for i, rec in enumerate(records):
        tcp = pl.parse_tcp(rec.data)
        if tcp is None:
            continue
        if i == idx:
            out[i] = pl.with_data(rec, pl.rebuild_tcp(rec.data, tcp, payload=new_payload))
        elif tcp.key == server_key and ((tcp.seq - end_of_err) & 0xFFFFFFFF) < (1 << 31):
            out[i] = pl.with_data(rec, pl.rebuild_tcp(rec.data, tcp, seq=tcp.seq + delta))
        elif tcp.key == client_key and tcp.flags & pl.TCP_ACK and (
            (tcp.ack - end_of_err) & 0xFFFFFFFF
        ) < (1 << 31):
            out[i] = pl.with_data(rec, pl.rebuild_tcp(rec.data, tcp, ack=tcp.ack + delta))
    write("server-requires-tls.pcap", header, out)


DERIVATIONS: list[Callable[[], None]] = [
    big_endian, vlan_8021q, bsd_loopback, raw_ip,
    reordered, duplicated, overlapping, gap, mid_connection, port_reuse,
    record_length_max, handshake_16mb, garbage_certificate, garbage_after_ssl_request,
    mysql_packet_16mb, truncated_file, server_requires_tls,
]


def main() -> int:
    for derive in DERIVATIONS:
        derive()
        print(derive.__name__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
