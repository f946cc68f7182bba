"""Synthetic captures for the limit tests: conditions no real stack produces (floods, junk,
absurd declared lengths). TCP framing is correct (handshake, sequence numbers); TLS bytes, where
there are any, come from Python's ssl module over MemoryBIO."""

from __future__ import annotations

import ipaddress
import ssl
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

MSS = 1448
_REC = struct.Struct("<IIII")


def pcap_writer(path: Path) -> BinaryIO:
    f = open(path, "wb")
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    return f


def write_frame(f: BinaryIO, ts: float, frame: bytes) -> None:
    sec = int(ts)
    f.write(_REC.pack(sec, int((ts - sec) * 1e6), len(frame), len(frame)))
    f.write(frame)


def frame(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
          payload: bytes = b"") -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                      flags, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6,
                     0, ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    return eth + ip + tcp + payload


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def conversation(client: tuple[str, int], server: tuple[str, int],
                 messages: Iterator[tuple[bool, bytes]] | list[tuple[bool, bytes]],
                 ts: float = 1_764_000_000.0) -> Iterator[tuple[float, bytes]]:
    """Frames of one TCP connection carrying `messages` ((from_client, bytes), in order)."""
    (cip, cport), (sip, sport) = client, server
    cseq, sseq = 1000, 50_000
    yield ts, frame(cip, sip, cport, sport, cseq, 0, SYN)
    yield ts, frame(sip, cip, sport, cport, sseq, cseq + 1, SYN | ACK)
    cseq += 1
    sseq += 1
    yield ts, frame(cip, sip, cport, sport, cseq, sseq, ACK)
    for from_client, data in messages:
        for i in range(0, len(data), MSS):
            chunk = data[i : i + MSS]
            ts += 0.0001
            if from_client:
                yield ts, frame(cip, sip, cport, sport, cseq, sseq, PSH | ACK, chunk)
                cseq += len(chunk)
            else:
                yield ts, frame(sip, cip, sport, cport, sseq, cseq, PSH | ACK, chunk)
                sseq += len(chunk)
    yield ts + 0.001, frame(cip, sip, cport, sport, cseq, sseq, FIN | ACK)
    yield ts + 0.001, frame(sip, cip, sport, cport, sseq, cseq + 1, FIN | ACK)


def mysql_packet(seq: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


def greeting() -> bytes:
    payload = (b"\x0a" + b"10.11.6-MariaDB\x00" + struct.pack("<I", 7) + b"abcdefgh\x00"
               + struct.pack("<H", 0xFFFE) + b"\x2d" + struct.pack("<H", 2)
               + struct.pack("<H", 0x81FF) + b"\x15" + b"\x00" * 10 + b"ijklmnopqrst\x00"
               + b"mysql_native_password\x00")
    return mysql_packet(0, payload)


def ssl_request() -> bytes:
    return mysql_packet(1, struct.pack("<IIB", 0x000AAE85 | 0x800, 1 << 24, 45) + b"\x00" * 23)


def tls12_handshake(cert_pem: Path, key_pem: Path) -> list[tuple[bool, bytes]]:
    """A real TLS 1.2 handshake (Python ssl over MemoryBIO) as (from_client, flight) pairs."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert_pem, key_pem)
    sctx.maximum_version = ssl.TLSVersion.TLSv1_2
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    cctx.maximum_version = ssl.TLSVersion.TLSv1_2
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = cctx.wrap_bio(c_in, c_out, server_side=False)
    server = sctx.wrap_bio(s_in, s_out, server_side=True)
    flights: list[tuple[bool, bytes]] = []
    c_done = s_done = False
    for _ in range(20):
        for obj, out, inbox, from_client in ((client, c_out, s_in, True),
                                             (server, s_out, c_in, False)):
            try:
                obj.do_handshake()
                if from_client:
                    c_done = True
                else:
                    s_done = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                # The client refused the server's flight (OpenSSL's 100 KB certificate list
                # limit, say): what was sent so far is the capture, plus the client's alert.
                data = out.read()
                if data:
                    flights.append((from_client, data))
                return flights
            data = out.read()
            if data:
                flights.append((from_client, data))
                inbox.write(data)
        if c_done and s_done:
            break
    client.write(b"login")
    flights.append((True, c_out.read()))
    return flights
