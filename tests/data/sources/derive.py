"""Derive captures this kernel cannot record from the real loopback captures beside this file.

Run from anywhere: `python tests/data/sources/derive.py`. Deterministic: same inputs, same
bytes out. Every derived frame carries the real IP packet of the source capture unchanged;
only the link layer, the file encoding or the timestamp encoding differ.

  vlan.pcap          Ethernet with 802.1Q / 802.1ad+802.1Q / 0x9100+802.1Q tags (cycled)
  eth_trailer.pcap   Ethernet with 4 bytes after the IP packet (as an FCS or padding would be)
  null_le.pcap       BSD loopback (DLT 0), family in little-endian (x86 BSD host): 2, 30
  null_be.pcap       BSD loopback, big-endian pcap file and family (a big-endian host): 2, 24
  loop.pcap          OpenBSD loop (108), family in network order: 2, 24
  raw.pcap           raw IP (101)
  raw12.pcap         raw IP as DLT 12
  ipv4.pcap / ipv6.pcap   LINKTYPE_IPV4 (228) / LINKTYPE_IPV6 (229), one family each
  be_nano.pcap       the nanosecond capture rewritten as a big-endian nanosecond pcap
  sections.pcapng    two sections: a big-endian one (EN10MB, if_tsresol 2^-20, if_tsoffset)
                     and a little-endian one (RAW, if_tsresol 10^-3, two interfaces), with an
                     unknown block type (0x0BAD) that readers must skip
  ipv6_ext.pcap      IPv6 packets with extension headers inserted before TCP/UDP (cycled):
                     hop-by-hop; hop-by-hop + routing (type 0, no segments left) +
                     destination options; an atomic fragment header (offset 0, M=0)
  ipv4_opts.pcap     IPv4 packets with 8 bytes of options (NOP, NOP, a timestamp option
                     with no room for stamps: RFC 791 type 68) and the checksum recomputed
  spb.pcapng         Simple Packet Blocks (no timestamp, no interface id) after one EPB, on an
                     interface with snaplen 0 (no limit) and one with snaplen 100 in a 2nd
                     section
  secrets.pcapng     multi_if.pcapng with a TLS key log injected by `editcap --inject-secrets`
"""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent


def read_pcap(path: Path) -> tuple[int, bool, list[tuple[int, int, bytes, int]]]:
    """(linktype, nano, [(sec, frac, data, wirelen)]) of a little-endian pcap."""
    raw = path.read_bytes()
    magic = raw[:4]
    nano = magic == b"\x4d\x3c\xb2\xa1"
    assert nano or magic == b"\xd4\xc3\xb2\xa1", path
    linktype = struct.unpack_from("<I", raw, 20)[0]
    out = []
    off = 24
    while off + 16 <= len(raw):
        sec, frac, caplen, wirelen = struct.unpack_from("<IIII", raw, off)
        out.append((sec, frac, raw[off + 16 : off + 16 + caplen], wirelen))
        off += 16 + caplen
    return linktype, nano, out


def write_pcap(path: Path, linktype: int, records: list[tuple[int, int, bytes, int]],
               endian: str = "<", nano: bool = False) -> None:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    parts = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)]
    for sec, frac, data, wirelen in records:
        parts.append(struct.pack(endian + "IIII", sec, frac, len(data), wirelen) + data)
    path.write_bytes(b"".join(parts))


def ip_of_ethernet(frame: bytes) -> bytes:
    return frame[14:]


Record = tuple[int, int, bytes, int]


def relink(records: list[Record], head: Callable[[bytes, int], bytes]) -> list[Record]:
    """Replace the 14-byte Ethernet header by head(ip_packet, index) (+ its length change)."""
    out = []
    for i, (sec, frac, frame, wirelen) in enumerate(records):
        ip = ip_of_ethernet(frame)
        new = head(ip, i)
        out.append((sec, frac, new, wirelen - len(frame) + len(new)))
    return out


def ipver(ip: bytes) -> int:
    return ip[0] >> 4


def block(endian: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(endian + "II", btype, n) + body + struct.pack(endian + "I", n)


def opt(endian: str, code: int, value: bytes) -> bytes:
    return struct.pack(endian + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def shb(endian: str) -> bytes:
    body = struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1)
    return block(endian, 0x0A0D0D0A, body)


def idb(endian: str, linktype: int, tsresol: int, tsoffset: int, name: bytes,
        snaplen: int = 262144) -> bytes:
    opts = opt(endian, 2, name) + opt(endian, 9, bytes([tsresol]))
    if tsoffset:
        opts += opt(endian, 14, struct.pack(endian + "q", tsoffset))
    opts += opt(endian, 0, b"")
    return block(endian, 1, struct.pack(endian + "HHI", linktype, 0, snaplen) + opts)


def epb(endian: str, intid: int, ts_units: int, data: bytes, wirelen: int) -> bytes:
    body = struct.pack(endian + "IIIII", intid, ts_units >> 32, ts_units & 0xFFFFFFFF,
                       len(data), wirelen) + data
    return block(endian, 6, body)


def main() -> None:
    link, nano, recs = read_pcap(HERE / "lo_en10mb.pcap")
    assert link == 1 and not nano

    tags = [[0x8100], [0x88A8, 0x8100], [0x9100, 0x8100]]

    def vlan(ip: bytes, i: int) -> bytes:
        eth = recs[i][2][:12]
        tpid_stack = b"".join(struct.pack("!HH", t, 100 + n) for n, t in enumerate(tags[i % 3]))
        return eth + tpid_stack + recs[i][2][12:14] + ip

    write_pcap(HERE / "vlan.pcap", 1, relink(recs, vlan))
    write_pcap(HERE / "eth_trailer.pcap", 1,
               [(s, f, d + b"\xde\xad\xbe\xef", w + 4) for s, f, d, w in recs])

    def null(endian: str, v6: int) -> Callable[[bytes, int], bytes]:
        return lambda ip, i: struct.pack(endian + "I", 2 if ipver(ip) == 4 else v6) + ip

    write_pcap(HERE / "null_le.pcap", 0, relink(recs, null("<", 30)))
    write_pcap(HERE / "null_be.pcap", 0, relink(recs, null(">", 24)), endian=">")
    write_pcap(HERE / "loop.pcap", 108, relink(recs, null(">", 24)))
    write_pcap(HERE / "raw.pcap", 101, relink(recs, lambda ip, i: ip))
    write_pcap(HERE / "raw12.pcap", 12, relink(recs, lambda ip, i: ip))
    raw = relink(recs, lambda ip, i: ip)
    write_pcap(HERE / "ipv4.pcap", 228, [r for r in raw if ipver(r[2]) == 4])
    write_pcap(HERE / "ipv6.pcap", 229, [r for r in raw if ipver(r[2]) == 6])

    _, nano2, nrecs = read_pcap(HERE / "lo_nano.pcap")
    assert nano2
    write_pcap(HERE / "be_nano.pcap", 1, nrecs, endian=">", nano=True)

    # Two sections. Section 1 big-endian: one EN10MB interface, ticks of 2^-20 s, offset.
    tsoffset = 1_700_000_000
    half = len(recs) // 2
    parts = [shb(">"), idb(">", 1, 0x80 | 20, tsoffset, b"lo-be")]
    parts.append(block(">", 0x0BAD, b"an unknown block type: skipped"))
    for sec, usec, data, wirelen in recs[:half]:
        ticks = (((sec - tsoffset) * 1_000_000 + usec) << 20) // 1_000_000
        parts.append(epb(">", 0, ticks, data, wirelen))
    # Section 2 little-endian: two RAW interfaces (v4 on 0, v6 on 1), millisecond ticks.
    parts += [shb("<"), idb("<", 101, 3, 0, b"raw-v4"), idb("<", 101, 3, 0, b"raw-v6")]
    for sec, usec, data, wirelen in recs[half:]:
        ip = ip_of_ethernet(data)
        ms = sec * 1000 + usec // 1000
        parts.append(epb("<", 0 if ipver(ip) == 4 else 1, ms, ip, wirelen - 14))
    (HERE / "sections.pcapng").write_bytes(b"".join(parts))

    def ipv6_ext(ip: bytes, i: int) -> bytes:
        if ipver(ip) != 6:
            return ip
        nh = ip[6]
        def hbh(nxt: int) -> bytes:  # hop-by-hop / destination options: one PadN option
            return bytes([nxt, 0, 1, 4, 0, 0, 0, 0])

        def rt(nxt: int) -> bytes:  # routing header, no segments left
            return bytes([nxt, 0, 0, 0, 0, 0, 0, 0])

        def frag(nxt: int) -> bytes:  # atomic fragment: offset 0, M=0
            return bytes([nxt, 0, 0, 0]) + struct.pack("!I", 0x1234 + i)

        kind = i % 3
        if kind == 0:
            ext, first = hbh(nh), 0
        elif kind == 1:
            ext, first = hbh(43) + rt(60) + hbh(nh), 0  # HBH -> routing -> dest opts
        else:
            ext, first = frag(nh), 44
        plen = struct.unpack_from("!H", ip, 4)[0] + len(ext)
        return ip[:4] + struct.pack("!H", plen) + bytes([first]) + ip[7:40] + ext + ip[40:]

    write_pcap(HERE / "ipv6_ext.pcap", 101, relink(recs, ipv6_ext))

    def ipv4_opts(ip: bytes, i: int) -> bytes:
        if ipver(ip) != 4:
            return ip
        ihl = (ip[0] & 15) * 4
        opts = bytes([1, 1, 68, 4, 5, 0]) + bytes([0, 0])  # NOP NOP TS(len 4, ptr 5) EOL pad
        total = struct.unpack_from("!H", ip, 2)[0] + len(opts)
        hdr = bytearray(bytes([0x40 | (ihl + len(opts)) // 4]) + ip[1:2]
                        + struct.pack("!H", total) + ip[4:10] + b"\0\0" + ip[12:ihl] + opts)
        csum = sum(struct.unpack(f"!{len(hdr) // 2}H", bytes(hdr)))
        while csum > 0xFFFF:
            csum = (csum & 0xFFFF) + (csum >> 16)
        hdr[10:12] = struct.pack("!H", ~csum & 0xFFFF)
        return bytes(hdr) + ip[ihl:]

    write_pcap(HERE / "ipv4_opts.pcap", 101, relink(recs, ipv4_opts))

    # Simple Packet Blocks: the first frame as an EPB (a time to start from), then SPBs.
    parts = [shb("<"), idb("<", 1, 6, 0, b"lo", snaplen=0)]
    sec, usec, data, wirelen = recs[0]
    parts.append(epb("<", 0, sec * 1_000_000 + usec, data, wirelen))
    for _, _, data, wirelen in recs[1:8]:
        parts.append(block("<", 3, struct.pack("<I", wirelen) + data))
    parts += [shb("<"), idb("<", 1, 6, 0, b"lo-100", snaplen=100)]
    for _, _, data, wirelen in recs[8:12]:
        parts.append(block("<", 3, struct.pack("<I", wirelen) + data[:100]))
    (HERE / "spb.pcapng").write_bytes(b"".join(parts))

    keylog = HERE / "keylog.txt"
    subprocess.run(["editcap", "--inject-secrets", f"tls,{keylog}",
                    str(HERE / "multi_if.pcapng"), str(HERE / "secrets.pcapng")], check=True)


if __name__ == "__main__":
    main()
    sys.exit(0)
