"""Tests for capture_tls.sources: captures.py (pcap/pcapng reading) and frames.py (decoding).

The captures in tests/data/sources/ are real (record.sh: tcpdump/dumpcap on loopback and a veth
into a namespace) or derived from them (derive.py). tshark is the second implementation every
frame, timestamp, port, sequence number and payload length is checked against.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import shutil
import struct
import subprocess
import sys
import timeit
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capture_tls.errors import InputError, ProtocolError
from capture_tls.sources.captures import CaptureReader, RawFrame, open_capture
from capture_tls.sources.frames import LINK_TYPE_NAMES, decode_frame

DATA = Path(__file__).parent / "data" / "sources"
CAPTURES = sorted(p.name for p in DATA.iterdir() if p.suffix in (".pcap", ".pcapng"))
HAVE_TSHARK = shutil.which("tshark") is not None
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason="tshark not installed")

# Recorded by record.sh, with the link type tcpdump/dumpcap wrote.
EXPECTED_LINK_TYPES = {
    "lo_en10mb.pcap": {1},
    "lo_nano.pcap": {1},
    "lo_snap60.pcap": {1},
    "any_sll.pcap": {113},
    "any_sll2.pcap": {276},
    "multi_if.pcapng": {1, 113},
    "secrets.pcapng": {1, 113},
    "vlan.pcap": {1},
    "eth_trailer.pcap": {1},
    "null_le.pcap": {0},
    "null_be.pcap": {0},
    "loop.pcap": {108},
    "raw.pcap": {101},
    "raw12.pcap": {12},
    "ipv4.pcap": {228},
    "ipv6.pcap": {229},
    "be_nano.pcap": {1},
    "sections.pcapng": {1, 101},
    "ipv6_ext.pcap": {101},
    "ipv4_opts.pcap": {101},
    "spb.pcapng": {1},
}

TSHARK_FIELDS = [
    "frame.encap_type", "frame.time_epoch", "frame.len", "frame.cap_len",
    "ip.src", "ipv6.src", "ip.dst", "ipv6.dst",
    "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.len",
    "udp.srcport", "udp.dstport", "udp.length", "icmp.type", "icmpv6.type",
]


def tshark_rows(path: Path) -> list[dict[str, str]]:
    cmd = ["tshark", "-r", str(path), "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=f"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        row = dict(zip(TSHARK_FIELDS, line.split("\t"), strict=True))
        if row["frame.encap_type"] == "":  # a non-packet block tshark lists (unknown type)
            continue
        rows.append(row)
    return rows


def read_all(path: Path | str) -> tuple[CaptureReader, list[RawFrame]]:
    r = open_capture(str(path))
    return r, list(r.frames())


# ------------------------------------------------------------------------------------------
# Reading the real and derived captures


@pytest.mark.parametrize("name", CAPTURES)
def test_every_capture_has_expected_link_types_and_no_problems(name: str) -> None:
    r, frames = read_all(DATA / name)
    assert frames, name
    assert r.link_types == EXPECTED_LINK_TYPES[name]
    assert r.problems == []
    assert r.packets == len(frames)
    assert r.first_ts == frames[0][0] and r.last_ts == frames[-1][0]
    assert r.format == ("pcapng" if name.endswith(".pcapng") else "pcap")
    assert r.size == (DATA / name).stat().st_size
    assert all(lt in LINK_TYPE_NAMES for lt in r.link_types)


@needs_tshark
@pytest.mark.parametrize("name", CAPTURES)
def test_frames_and_timestamps_match_tshark(name: str) -> None:
    _, frames = read_all(DATA / name)
    rows = tshark_rows(DATA / name)
    assert len(frames) == len(rows)
    nano = name in ("lo_nano.pcap", "be_nano.pcap") or name.endswith(".pcapng")
    prev_ts = 0.0
    for (ts, _link, data, wirelen), row in zip(frames, rows, strict=True):
        assert wirelen == int(row["frame.len"])
        assert len(data) == int(row["frame.cap_len"])
        if row["frame.time_epoch"] == "":  # a Simple Packet Block: we keep the last time
            assert ts == prev_ts
            continue
        prev_ts = ts
        # A double holds ~16 digits: 1.8e9 s leaves a resolution of ~2.4e-7 s.
        assert abs(ts - float(row["frame.time_epoch"])) < 5e-7
        if not nano:  # microsecond files: exact to the microsecond
            assert f"{ts:.6f}" == row["frame.time_epoch"][:-3]


def test_nanosecond_timestamps_are_kept() -> None:
    _, frames = read_all(DATA / "lo_nano.pcap")
    # tcpdump --time-stamp-precision=nano: some fraction is not a whole microsecond.
    assert any(round(ts * 1e9) % 1000 for ts, *_ in frames)
    _, be = read_all(DATA / "be_nano.pcap")
    assert [f[0] for f in be] == [f[0] for f in frames]
    assert [f[2] for f in be] == [f[2] for f in frames]


def test_byte_orders_and_encapsulations_carry_the_same_ip_packets() -> None:
    _, eth = read_all(DATA / "lo_en10mb.pcap")
    ip_packets = [d[14:] for _, _, d, _ in eth]
    for name, strip in [("null_le.pcap", 4), ("null_be.pcap", 4), ("loop.pcap", 4),
                        ("raw.pcap", 0), ("raw12.pcap", 0)]:
        _, frames = read_all(DATA / name)
        assert [d[strip:] for _, _, d, _ in frames] == ip_packets, name
        assert [f[0] for f in frames] == [f[0] for f in eth], name
    _, be = read_all(DATA / "null_be.pcap")
    _, le = read_all(DATA / "null_le.pcap")
    assert be[0][2][:4] == b"\0\0\0\x02" and le[0][2][:4] == b"\x02\0\0\0"


def test_pcapng_interfaces_sections_tsresol_tsoffset() -> None:
    r, frames = read_all(DATA / "multi_if.pcapng")
    assert {f[1] for f in frames} == {1, 113}
    # sections.pcapng: section 1 big-endian, 2^-20 s ticks + if_tsoffset; section 2
    # little-endian, ms ticks, interface ids restart at 0.
    _, eth = read_all(DATA / "lo_en10mb.pcap")
    r, frames = read_all(DATA / "sections.pcapng")
    assert len(frames) == len(eth)
    half = len(eth) // 2
    for (ts, link, data, _), (ets, _, edata, _) in zip(frames[:half], eth[:half], strict=True):
        assert link == 1 and data == edata
        assert abs(ts - ets) <= 2**-20
    for (ts, link, data, _), (ets, _, edata, _) in zip(frames[half:], eth[half:], strict=True):
        assert link == 101 and data == edata[14:]
        assert 0 <= ets - ts < 1e-3
        assert ts * 1000 == pytest.approx(round(ts * 1000), abs=1e-3)
    assert r.problems == []


def test_decryption_secrets_block_collected() -> None:
    r, frames = read_all(DATA / "secrets.pcapng")
    _, plain = read_all(DATA / "multi_if.pcapng")
    assert frames == plain
    keylog = (DATA / "keylog.txt").read_bytes()
    assert r.secrets == [(0x544C534B, keylog)]
    assert r.problems == []
    r2, _ = read_all(DATA / "multi_if.pcapng")
    assert r2.secrets == []


# ------------------------------------------------------------------------------------------
# Decoding, checked against tshark


def _expected_from_row(row: dict[str, str]) -> tuple[str, ...] | None:
    if row["icmp.type"] or row["icmpv6.type"]:
        return None
    return tuple(row[k] for k in ("tcp.srcport", "udp.srcport"))


@needs_tshark
@pytest.mark.parametrize("name", CAPTURES)
def test_decoded_segments_match_tshark(name: str) -> None:
    _, frames = read_all(DATA / name)
    rows = tshark_rows(DATA / name)
    decoded = 0
    for (_, link, data, wirelen), row in zip(frames, rows, strict=True):
        seg = decode_frame(link, data)
        if row["icmp.type"] or row["icmpv6.type"]:
            assert seg is None  # ICMP errors quote a UDP header: tshark shows it, we must not
            continue
        if seg is None:
            # Only a frame cut by the snap length before the end of the TCP header.
            assert len(data) < wirelen
            continue
        decoded += 1
        ipver, src, dst, proto, sport, dport, seq, ack, flags, payload, truncated = seg
        if ipver == 4:
            assert (str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst))) == (
                row["ip.src"], row["ip.dst"])
        else:
            assert (str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst))) == (
                row["ipv6.src"], row["ipv6.dst"])
        if proto == 6:
            assert (sport, dport) == (int(row["tcp.srcport"]), int(row["tcp.dstport"]))
            assert seq == int(row["tcp.seq_raw"])
            assert ack == int(row["tcp.ack_raw"])
            assert flags == int(row["tcp.flags"], 16) & 0x1FF
            if truncated:
                assert len(data) < wirelen
                assert len(payload) < int(row["tcp.len"]) or int(row["tcp.len"]) == 0
            else:
                assert len(payload) == int(row["tcp.len"])
        else:
            assert proto == 17
            assert (sport, dport) == (int(row["udp.srcport"]), int(row["udp.dstport"]))
            if truncated:
                assert len(data) < wirelen and len(payload) < int(row["udp.length"]) - 8
            else:
                assert len(payload) == int(row["udp.length"]) - 8
            assert (seq, ack, flags) == (0, 0, 0)
    assert decoded > 0


def test_snap_length_marks_payload_truncated() -> None:
    _, full = read_all(DATA / "lo_en10mb.pcap")
    _, cut = read_all(DATA / "lo_snap60.pcap")
    assert all(len(d) <= 60 for _, _, d, _ in cut)
    segs = [decode_frame(link, d) for _, link, d, _ in cut]
    v4 = [s for s in segs if s is not None and s[0] == 4 and s[3] == 6]
    assert v4 and all(s[10] for s in v4)  # TCP options cut: truncated, payload empty
    assert all(s[9] == b"" for s in v4)
    full_v4 = [decode_frame(link, d) for _, link, d, _ in full]
    assert not any(s[10] for s in full_v4 if s is not None)


def test_ethernet_trailer_is_trimmed() -> None:
    _, plain = read_all(DATA / "lo_en10mb.pcap")
    _, trailer = read_all(DATA / "eth_trailer.pcap")
    for (_, _, a, _), (_, _, b, _) in zip(plain, trailer, strict=True):
        assert b.endswith(b"\xde\xad\xbe\xef")
        assert decode_frame(1, a) == decode_frame(1, b)


def test_vlan_tags_and_encapsulations_decode_alike() -> None:
    _, plain = read_all(DATA / "lo_en10mb.pcap")
    expected = [decode_frame(1, d) for _, _, d, _ in plain]
    assert sum(e is not None for e in expected) >= 20
    for name in ("vlan.pcap", "null_le.pcap", "null_be.pcap", "loop.pcap", "raw.pcap",
                 "raw12.pcap", "any_sll.pcap", "any_sll2.pcap", "ipv6_ext.pcap",
                 "ipv4_opts.pcap"):
        _, frames = read_all(DATA / name)
        got = [decode_frame(link, d) for _, link, d, _ in frames]
        if name.startswith("any_"):  # a separate recording: same shape, other ports
            assert [g is None for g in got] == [e is None for e in expected]
            continue
        assert got == expected, name
    vlan = read_all(DATA / "vlan.pcap")[1]
    assert {struct.unpack_from("!H", d, 12)[0] for _, _, d, _ in vlan} == {0x8100, 0x88A8,
                                                                          0x9100}


def _first_frame(name: str, pred: object = None) -> bytes:
    for _, _, data, _ in read_all(DATA / name)[1]:
        seg = decode_frame(1, data)
        if seg is not None and (pred is None or pred(seg)):  # type: ignore[operator]
            return data
    raise AssertionError("no frame")


def test_malformed_headers_raise_protocol_error() -> None:
    tcp4 = bytearray(_first_frame("lo_en10mb.pcap", lambda s: s[0] == 4 and s[3] == 6
                                  and s[9] != b""))
    udp4 = bytearray(_first_frame("lo_en10mb.pcap", lambda s: s[0] == 4 and s[3] == 17))
    tcp6 = bytearray(_first_frame("lo_en10mb.pcap", lambda s: s[0] == 6 and s[3] == 6))
    assert decode_frame(1, bytes(tcp4)) is not None

    def mutated(frame: bytearray, off: int, value: bytes) -> bytes:
        f = bytearray(frame)
        f[off : off + len(value)] = value
        return bytes(f)

    bad = [
        mutated(tcp4, 14, b"\x44"),  # IHL 16 bytes
        mutated(tcp4, 14, b"\x64"),  # version 6 under ethertype IPv4
        mutated(tcp4, 16, b"\x00\x10"),  # total length 16 < header 20
        mutated(tcp4, 14 + 20 + 12, b"\x40"),  # TCP data offset 16
        mutated(tcp4, 16, b"\x00\x28"),  # total length 40: TCP header of 32 does not fit
        mutated(udp4, 14 + 20 + 4, b"\x00\x04"),  # UDP length 4
        mutated(udp4, 14 + 20 + 4, b"\x01\x00"),  # UDP length past the IP payload
        mutated(tcp6, 14, b"\x40"),  # version 4 under ethertype IPv6
        mutated(tcp6, 18, b"\x00\x08"),  # payload length 8: no room for the TCP header
    ]
    for frame in bad:
        with pytest.raises(ProtocolError):
            decode_frame(1, frame)
    # IPv6 extension header chain longer than the bound.
    ip6 = bytes(tcp6[14:])
    plen = struct.unpack_from("!H", ip6, 4)[0]
    chain = b"".join(bytes([60, 0, 1, 4, 0, 0, 0, 0]) for _ in range(20))
    chain = bytes([60]) + chain[1:-8] + bytes([6]) + chain[-7:]
    long6 = (ip6[:4] + struct.pack("!H", plen + len(chain)) + bytes([0]) + ip6[7:40] + chain
             + ip6[40:])
    with pytest.raises(ProtocolError):
        decode_frame(101, long6)


def test_fragments_and_non_ip() -> None:
    tcp4 = bytearray(_first_frame("lo_en10mb.pcap", lambda s: s[0] == 4 and s[3] == 6))
    later = bytearray(tcp4)
    later[20:22] = b"\x00\x10"  # fragment offset 16*8: not the first fragment
    assert decode_frame(1, bytes(later)) is None
    first = bytearray(tcp4)
    first[20:22] = b"\x20\x00"  # MF, offset 0: decoded but incomplete
    seg = decode_frame(1, bytes(first))
    assert seg is not None and seg[10] is True
    # A first UDP fragment: the UDP length covers the whole datagram, more than this packet.
    udp4 = bytearray(_first_frame("lo_en10mb.pcap", lambda s: s[0] == 4 and s[3] == 17))
    whole = decode_frame(1, bytes(udp4))
    assert whole is not None
    frag = bytearray(udp4)
    frag[20:22] = b"\x20\x00"
    frag[16:18] = struct.pack("!H", 20 + 16)  # IP keeps 16 bytes: 8 header + 8 data
    frag = frag[: 14 + 36]
    seg = decode_frame(1, bytes(frag))
    assert seg is not None and seg[10] is True and seg[9] == whole[9][:8]
    arp = bytes(tcp4[:12]) + b"\x08\x06" + bytes(28)
    assert decode_frame(1, arp) is None
    assert decode_frame(1, b"\x00" * 10) is None
    assert decode_frame(147, bytes(tcp4)) is None  # a link type we do not decode
    assert decode_frame(0, b"\x07\x00\x00\x00" + bytes(tcp4[14:])) is None  # AF 7


@settings(max_examples=400, deadline=None)
@given(link=st.sampled_from([0, 1, 12, 14, 101, 108, 113, 228, 229, 276]),
       data=st.binary(max_size=120))
def test_decode_random_bytes_only_returns_or_raises_protocol_error(link: int,
                                                                   data: bytes) -> None:
    try:
        decode_frame(link, data)
    except ProtocolError:
        pass


def test_decode_mutated_real_frames_only_protocol_error() -> None:
    _, frames = read_all(DATA / "ipv6_ext.pcap")
    _, frames4 = read_all(DATA / "vlan.pcap")
    for link, data in [(f[1], f[2]) for f in frames[:8] + frames4[:8]]:
        for i in range(min(len(data), 90)):
            for v in (0x00, 0xFF, data[i] ^ 0x0F):
                m = data[:i] + bytes([v]) + data[i + 1 :]
                for cut in (len(m), i + 1):
                    try:
                        decode_frame(link, m[:cut])
                    except ProtocolError:
                        pass


def test_decode_speed() -> None:
    _, frames = read_all(DATA / "lo_en10mb.pcap")
    data = max((d for _, _, d, _ in frames), key=len)
    n = 20000
    per_frame = timeit.timeit(lambda: decode_frame(1, data), number=n) / n
    print(f"decode_frame Ethernet/IP/TCP: {per_frame * 1e9:.0f} ns per frame")
    assert per_frame < 10e-6  # generous for slow CI; the module docstring has the figure


# ------------------------------------------------------------------------------------------
# Inputs that are not usable captures: InputError with a one-line reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        open_capture(str(tmp_path / "nope.pcap"))


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="directory"):
        open_capture(str(tmp_path))


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.pcap"
    p.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        open_capture(str(p))


@pytest.mark.parametrize(("content", "words"), [
    (b"GET / HTTP/1.1\r\nHost: example\r\n\r\n", "looks like text"),
    (b"\x1f\x8b\x08\x00" + bytes(40), "gzip"),
    (b"CLIENT_RANDOM 00 11\n", "key log"),
    (bytes(64), "zero bytes"),
    (b"\x01\x02\x03\x04\xff\xfe\xfd" * 8, "unknown format"),
])
def test_not_a_capture(tmp_path: Path, content: bytes, words: str) -> None:
    p = tmp_path / "x.pcap"
    p.write_bytes(content)
    with pytest.raises(InputError, match="not a capture") as ei:
        open_capture(str(p))
    assert words in str(ei.value) and "\n" not in str(ei.value)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to drop the capability to read anything")
def test_permission_denied(tmp_path: Path) -> None:
    p = tmp_path / "secret.pcap"
    shutil.copy(DATA / "lo_en10mb.pcap", p)
    p.chmod(0)
    tmp_path.chmod(0o755)
    code = ("import sys\nfrom capture_tls.sources.captures import open_capture\n"
            "from capture_tls.errors import InputError\n"
            "try:\n    open_capture(sys.argv[1])\nexcept InputError as e:\n    print(e)\n")
    root = str(Path(__file__).parent.parent)
    env = {**os.environ, "PYTHONPATH": root}
    # root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH obeys the file mode like anyone.
    res = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search",
                          sys.executable, "-c", code, str(p)], capture_output=True, text=True,
                         env=env, cwd="/")
    assert res.stdout.strip().endswith("permission denied"), res.stderr


def test_header_cut(tmp_path: Path) -> None:
    for name, cut in (("lo_en10mb.pcap", 10), ("lo_en10mb.pcap", 23),
                      ("multi_if.pcapng", 20), ("multi_if.pcapng", 40)):
        p = tmp_path / name
        p.write_bytes((DATA / name).read_bytes()[:cut])
        with pytest.raises(InputError, match=r"cut short|only"):
            open_capture(str(p))


# ------------------------------------------------------------------------------------------
# Damaged and truncated files: FileProblem, everything before still yielded


def pcap_record_ends(raw: bytes) -> list[int]:
    """Offsets where each pcap record ends (an independent little walker, for the tests)."""
    endian = "<" if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    ends, off = [], 24
    while off + 16 <= len(raw):
        off += 16 + struct.unpack_from(endian + "I", raw, off + 8)[0]
        ends.append(off)
    return ends


def pcapng_blocks(raw: bytes) -> Iterator[tuple[int, int, int]]:
    """(offset, type, length) of each block of a well-formed pcapng file."""
    off, endian = 0, "<"
    while off + 12 <= len(raw):
        if raw[off : off + 4] == b"\x0a\x0d\x0d\x0a":
            endian = "<" if raw[off + 8 : off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        btype, blen = struct.unpack_from(endian + "II", raw, off)
        yield off, btype, blen
        off += blen


def packet_block_ends(raw: bytes) -> list[int]:
    return [off + blen for off, btype, blen in pcapng_blocks(raw) if btype in (2, 3, 6)]


def _read_cut(tmp_path: Path, raw: bytes, cut: int, name: str) -> tuple[CaptureReader,
                                                                         list[RawFrame]] | None:
    p = tmp_path / name
    p.write_bytes(raw[:cut])
    try:
        return read_all(p)
    except InputError as e:
        assert "\n" not in str(e)
        return None


@pytest.mark.parametrize("name", ["lo_snap60.pcap", "be_nano.pcap", "sections.pcapng",
                                  "multi_if.pcapng"])
def test_cut_at_every_byte(tmp_path: Path, name: str) -> None:
    """Cut the file at every offset: only InputError (header cut) or a capture whose frames
    are exactly the complete records before the cut, with TRUNCATED_FILE when the cut is
    inside a record."""
    raw = (DATA / name).read_bytes()
    _, full = read_all(DATA / name)
    ends = pcap_record_ends(raw) if name.endswith(".pcap") else packet_block_ends(raw)
    all_block_ends = (set(ends) | {24} if name.endswith(".pcap")
                      else {o + n for o, _, n in pcapng_blocks(raw)})
    step = 1 if len(raw) <= 4096 else 3
    header_len = 24 if name.endswith(".pcap") else next(pcapng_blocks(raw))[2]
    input_errors = 0
    for cut in range(0, len(raw), step):
        res = _read_cut(tmp_path, raw, cut, name)
        if res is None:
            input_errors += 1
            assert cut < header_len
            continue
        r, frames = res
        complete = sum(1 for e in ends if e <= cut)
        assert frames == full[:complete], cut
        codes = [p.code for p in r.problems]
        if cut in all_block_ends:
            assert codes == [], (cut, r.problems)
        else:
            assert codes == ["TRUNCATED_FILE"], (cut, r.problems)
            msg = r.problems[0].message
            assert f"after {complete} packets" in msg
            assert "byte offset" in msg
    assert input_errors > 0


def test_truncated_message_says_where(tmp_path: Path) -> None:
    raw = (DATA / "lo_en10mb.pcap").read_bytes()
    ends = pcap_record_ends(raw)
    cut = ends[4] + 20  # inside the 6th record's data
    r, frames = read_all(_write(tmp_path, raw[:cut]))
    assert len(frames) == 5
    assert r.problems[0].code == "TRUNCATED_FILE"
    assert f"byte offset {ends[4]}" in r.problems[0].message
    assert "after 5 packets" in r.problems[0].message
    assert r.packets == 5 and r.last_ts == frames[-1][0]


def _write(tmp_path: Path, data: bytes, name: str = "x.pcapng") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _nth_packet_block(raw: bytes, n: int) -> tuple[int, int]:
    blocks = [(o, blen) for o, t, blen in pcapng_blocks(raw) if t == 6]
    return blocks[n]


def _set_u32(raw: bytes, off: int, value: int) -> bytes:
    return raw[:off] + struct.pack("<I", value) + raw[off + 4 :]


@pytest.mark.parametrize("bad_length", [0, 13, 8, 0x100000, 0x7FFFFFF0, 0xFFFFFFFF])
def test_pcapng_bad_block_length_resynchronises(tmp_path: Path, bad_length: int) -> None:
    raw = (DATA / "multi_if.pcapng").read_bytes()
    _, full = read_all(DATA / "multi_if.pcapng")
    off, _ = _nth_packet_block(raw, 5)
    r, frames = read_all(_write(tmp_path, _set_u32(raw, off + 4, bad_length)))
    assert frames == full[:5] + full[6:]
    assert [p.code for p in r.problems] == ["DAMAGED_BLOCK"]
    assert f"byte offset {off}" in r.problems[0].message


def test_pcapng_trailing_length_mismatch(tmp_path: Path) -> None:
    raw = (DATA / "multi_if.pcapng").read_bytes()
    _, full = read_all(DATA / "multi_if.pcapng")
    off, blen = _nth_packet_block(raw, 7)
    r, frames = read_all(_write(tmp_path, _set_u32(raw, off + blen - 4, blen + 4)))
    assert frames == full[:7] + full[8:]
    assert [p.code for p in r.problems] == ["DAMAGED_BLOCK"]


def test_pcapng_last_block_longer_than_file_is_a_cut(tmp_path: Path) -> None:
    raw = (DATA / "multi_if.pcapng").read_bytes()
    _, full = read_all(DATA / "multi_if.pcapng")
    blocks = list(pcapng_blocks(raw))
    off, _, _ = blocks[-1]
    last_packets = sum(1 for _, t, _ in blocks[:-1] if t == 6)
    r, frames = read_all(_write(tmp_path, _set_u32(raw, off + 4, 4096)))
    assert frames == full[:last_packets]
    assert [p.code for p in r.problems] == ["TRUNCATED_FILE"]


def test_pcapng_damage_without_recovery_stops_there(tmp_path: Path) -> None:
    raw = (DATA / "multi_if.pcapng").read_bytes()
    _, full = read_all(DATA / "multi_if.pcapng")
    off, _ = _nth_packet_block(raw, 3)
    # Zero everything from the 4th packet block on: no block to resynchronise to.
    damaged = raw[:off] + bytes(len(raw) - off)
    r, frames = read_all(_write(tmp_path, damaged))
    assert frames == full[:3]
    assert [p.code for p in r.problems] == ["DAMAGED_BLOCK"]
    assert "stopped" in r.problems[0].message


def test_pcapng_unknown_block_skipped_silently(tmp_path: Path) -> None:
    raw = (DATA / "multi_if.pcapng").read_bytes()
    _, full = read_all(DATA / "multi_if.pcapng")
    off, _ = _nth_packet_block(raw, 2)
    unknown = struct.pack("<II", 0x00000BAD, 20) + b"zzzzzzzz" + struct.pack("<I", 20)
    r, frames = read_all(_write(tmp_path, raw[:off] + unknown + raw[off:]))
    assert frames == full
    assert r.problems == []


def test_pcapng_packet_block_inconsistent_contents(tmp_path: Path) -> None:
    raw = (DATA / "multi_if.pcapng").read_bytes()
    _, full = read_all(DATA / "multi_if.pcapng")
    off, _ = _nth_packet_block(raw, 4)
    r, frames = read_all(_write(tmp_path, _set_u32(raw, off + 8, 77)))  # interface id 77
    assert frames == full[:4] + full[5:]
    assert [p.code for p in r.problems] == ["DAMAGED_BLOCK"]
    assert "interface 77" in r.problems[0].message
    r, frames = read_all(_write(tmp_path, _set_u32(raw, off + 8 + 12, 60000)))  # caplen
    assert frames == full[:4] + full[5:]
    assert [p.code for p in r.problems] == ["DAMAGED_BLOCK"]
    assert "60000" in r.problems[0].message


def test_pcap_absurd_caplen_stops_with_damaged(tmp_path: Path) -> None:
    raw = (DATA / "lo_en10mb.pcap").read_bytes()
    _, full = read_all(DATA / "lo_en10mb.pcap")
    ends = pcap_record_ends(raw)
    bad = _set_u32(raw, ends[2] + 8, 0x40000000)
    r, frames = read_all(_write(tmp_path, bad, "x.pcap"))
    assert frames == full[:3]
    assert [p.code for p in r.problems] == ["DAMAGED_BLOCK"]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_scapy_warnings_are_silenced(tmp_path: Path) -> None:
    # scapy's "scapy" logger does not propagate to the root: listen on it directly.
    log = logging.getLogger("scapy.runtime")
    handler = _Collect()
    log.addHandler(handler)
    try:
        raw = (DATA / "multi_if.pcapng").read_bytes()
        off, blen = _nth_packet_block(raw, 7)
        r, _ = read_all(_write(tmp_path, _set_u32(raw, off + blen - 4, blen + 4)))
        off2, _ = _nth_packet_block(raw, 4)
        r3, _ = read_all(_write(tmp_path, _set_u32(raw, off2 + 8, 77)))
        pcap = (DATA / "lo_en10mb.pcap").read_bytes()
        r2, _ = read_all(_write(tmp_path, pcap[:-10], "x.pcap"))
        assert r.problems and r2.problems and r3.problems
        assert handler.records == []
        log.warning("PcapNg: reader warnings are dropped process-wide: %s", "x")
        log.warning("an unrelated scapy warning")
        assert [rec.getMessage() for rec in handler.records] == ["an unrelated scapy warning"]
    finally:
        log.removeHandler(handler)


def damaged(original: bytes, rng: random.Random) -> bytes:
    """`original` with 1-3 random damages: a u32 overwritten at a 4-byte boundary (with
    lengths that matter to the framing), a byte overwritten, bytes deleted or inserted."""
    raw = bytearray(original)
    for _ in range(rng.randint(1, 3)):
        off = rng.randrange(len(raw) - 4)
        kind = rng.random()
        if kind < 0.4:
            off &= ~3
            raw[off : off + 4] = struct.pack("<I", rng.choice(
                [0, 8, 13, 28, 0xFFFFFFFF, rng.randrange(1 << 32), rng.randrange(4096)]))
        elif kind < 0.7:
            raw[off] = rng.randrange(256)
        elif kind < 0.85:
            del raw[off : off + rng.randint(1, 64)]
        else:
            raw[off:off] = rng.randbytes(rng.randint(1, 64))
    return bytes(raw)


@pytest.mark.parametrize("name", ["sections.pcapng", "secrets.pcapng", "lo_en10mb.pcap",
                                  "be_nano.pcap"])
def test_random_damage_only_input_error_or_problems(tmp_path: Path, name: str) -> None:
    """Overwrite, insert and delete random bytes (fixed seed): opening and reading may only
    raise InputError; everything else is frames and FileProblems."""
    rng = random.Random(name)
    original = (DATA / name).read_bytes()
    codes: set[str] = set()
    for _ in range(150):
        raw = damaged(original, rng)
        try:
            r, frames = read_all(_write(tmp_path, bytes(raw), name))
        except InputError as e:
            assert "\n" not in str(e)
            continue
        assert all(isinstance(ts, float) and isinstance(d, bytes) for ts, _, d, _ in frames)
        codes |= {p.code for p in r.problems}
    assert codes <= {"TRUNCATED_FILE", "DAMAGED_BLOCK"} and codes


def test_second_iteration_and_close() -> None:
    r = open_capture(str(DATA / "lo_en10mb.pcap"))
    it = r.frames()
    next(it)
    r.close()
    r.close()
    r2 = open_capture(str(DATA / "lo_en10mb.pcap"))
    first = list(r2.frames())
    assert list(r2.frames()) == [] and len(first) == r2.packets
