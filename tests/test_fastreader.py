"""Tests for capture_tls.sources.fastreader: the project's own reader against scapy's.

scapy's raw readers (open_capture(..., engine="scapy")) are the second implementation: on every
sample capture, on damaged files and on synthetic blocks both must give the same frames,
timestamps, link types, problems and secrets; and `segments()` must give exactly what
frames.decode_frame gives on scapy's frames (the fused decoder is a shortcut, never a
different answer). Chunk sizes are a parameter, so records spanning reads are exercised by
reading with tiny chunks.
"""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture_tls.errors import InputError, ProtocolError
from capture_tls.sources.captures import CaptureReader, open_capture
from capture_tls.sources.fastreader import FastCaptureReader
from capture_tls.sources.frames import decode_frame
from tests.test_sources import _nth_packet_block, _set_u32, damaged, pcap_record_ends, pcapng_blocks

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "sources"


def _all_captures() -> list[Path]:
    found = [p for p in sorted((ROOT / "samples").rglob("*.pcap*"))
             if not {"lab", "derive"} & set(p.relative_to(ROOT / "samples").parts)]
    found += sorted(p for p in DATA.iterdir() if p.suffix in (".pcap", ".pcapng"))
    return found


CAPTURES = _all_captures()


def _ids(paths: Iterable[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


# ------------------------------------------------------------------------------------------
# Helpers: read with both engines, expected segments from decode_frame


def read(path: Path | str, engine: str, chunk_size: int | None = None,
         what: str = "frames") -> tuple[CaptureReader | None, list[Any] | str]:
    """(reader, items) or (None, InputError message)."""
    try:
        r = open_capture(str(path), engine=engine, chunk_size=chunk_size)
    except InputError as e:
        return None, str(e)
    items = list(r.frames() if what == "frames" else r.segments())
    return r, items


def summary(r: CaptureReader | None) -> tuple[Any, ...] | None:
    if r is None:
        return None
    return (r.format, r.size, sorted(r.link_types), r.packets, r.first_ts, r.last_ts,
            [(p.code, p.message, p.count) for p in r.problems], r.secrets)


def expected_segments(frames: list[Any]) -> tuple[list[Any], int]:
    """decode_frame over (scapy's) frames, in segments()'s shape, and the ProtocolErrors."""
    out = []
    malformed = 0
    for ts, link, data, _wirelen in frames:
        try:
            seg = decode_frame(link, data)
        except ProtocolError:
            malformed += 1
            continue
        if seg is None:
            continue
        ipver, src, dst, proto, sport, dport, seq, _ack, flags, payload, truncated = seg
        assert len(src) == (4 if ipver == 4 else 16)
        out.append((ts, proto, src + dst, sport, dport, seq, flags, payload, truncated))
    return out, malformed


def assert_same(path: Path | str, chunk_size: int | None = None) -> tuple[Any, Any]:
    """Both engines agree on frames, the reader's summary, and segments."""
    ref, ref_frames = read(path, "scapy")
    fast, fast_frames = read(path, "fast", chunk_size)
    assert fast_frames == ref_frames
    assert summary(fast) == summary(ref)
    if ref is None:
        return ref, ref_frames
    assert isinstance(fast, FastCaptureReader)
    assert isinstance(ref_frames, list)
    want, malformed = expected_segments(ref_frames)
    fast2, segs = read(path, "fast", chunk_size, "segments")
    assert fast2 is not None
    assert segs == want
    assert fast2.malformed_frames == malformed
    assert summary(fast2) == summary(ref)
    return ref, ref_frames


# ------------------------------------------------------------------------------------------
# Every capture of the project


def test_the_sample_list_is_not_empty() -> None:
    names = {p.name for p in CAPTURES}
    assert len(CAPTURES) >= 40
    assert {"multi-interface.pcapng", "sections.pcapng", "any_sll2.pcap"} <= names


@pytest.mark.parametrize("path", CAPTURES, ids=_ids(CAPTURES))
def test_fast_equals_scapy_on_every_capture(path: Path) -> None:
    ref, frames = assert_same(path)
    assert ref is not None and frames  # every sample is a usable, non-empty capture


@pytest.mark.parametrize("path", CAPTURES, ids=_ids(CAPTURES))
def test_tiny_chunks_change_nothing(path: Path) -> None:
    ref, frames = read(path, "fast")
    for chunk in (1, 13, 4096):
        r, got = read(path, "fast", chunk)
        assert got == frames
        assert summary(r) == summary(ref)
    _, segs = read(path, "fast", None, "segments")
    _, segs_small = read(path, "fast", 7, "segments")
    assert segs_small == segs


def test_segments_fields_on_a_known_capture() -> None:
    """Spot check of the tuple layout, independent of decode_frame."""
    r, segs = read(DATA / "lo_en10mb.pcap", "fast", None, "segments")
    assert r is not None and isinstance(segs, list) and segs
    ts, proto, addrs, sport, dport, seq, flags, payload, truncated = segs[0]
    assert isinstance(ts, float) and proto in (6, 17) and len(addrs) in (8, 32)
    assert all(isinstance(v, int) for v in (sport, dport, seq, flags))
    assert isinstance(payload, bytes) and truncated is False
    syn = [s for s in segs if s[1] == 6 and s[6] & 0x02]
    assert syn and all(s[7] == b"" for s in syn)
    # Both address families occur in this capture (record.sh: IPv4 and IPv6 on loopback).
    assert {len(s[2]) for s in segs} == {8, 32}


def test_engine_choice_and_default() -> None:
    assert isinstance(open_capture(str(DATA / "lo_en10mb.pcap")), FastCaptureReader)
    assert not isinstance(open_capture(str(DATA / "lo_en10mb.pcap"), engine="scapy"),
                          FastCaptureReader)
    with pytest.raises(ValueError):
        open_capture(str(DATA / "lo_en10mb.pcap"), engine="dpkt")


def test_iterating_twice_and_closing() -> None:
    r = open_capture(str(DATA / "multi_if.pcapng"))
    first = list(r.frames())
    assert first and list(r.frames()) == [] and list(r.segments()) == []
    assert r.packets == len(first)
    r2 = open_capture(str(DATA / "multi_if.pcapng"))
    it = r2.segments()
    next(it)
    r2.close()
    r2.close()


# ------------------------------------------------------------------------------------------
# Damaged files: same frames and the same problems (messages included)


def _write(tmp_path: Path, data: bytes, name: str) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("name", ["lo_snap60.pcap", "be_nano.pcap", "sections.pcapng",
                                  "multi_if.pcapng", "spb.pcapng", "secrets.pcapng"])
def test_cut_anywhere_same_as_scapy(tmp_path: Path, name: str) -> None:
    raw = (DATA / name).read_bytes()
    rng = random.Random(name)
    cuts = set(range(0, min(len(raw), 200)))
    cuts |= {rng.randrange(len(raw)) for _ in range(120)}
    if name.endswith(".pcap"):
        ends = pcap_record_ends(raw)
    else:
        ends = [o + n for o, _, n in pcapng_blocks(raw)]
    cuts |= {e + d for e in ends for d in (-1, 0, 1) if 0 <= e + d <= len(raw)}
    truncated = 0
    for cut in sorted(cuts):
        p = _write(tmp_path, raw[:cut], name)
        ref, _ = assert_same(p, chunk_size=rng.choice([None, 1, 5, 64]))
        if ref is not None and any(pr.code == "TRUNCATED_FILE" for pr in ref.problems):
            truncated += 1
    assert truncated > 0


@pytest.mark.parametrize("bad_length", [0, 4, 13, 8, 12, 0x100000, 0x7FFFFFF0, 0xFFFFFFFF])
def test_bad_block_length_same_as_scapy(tmp_path: Path, bad_length: int) -> None:
    raw = (DATA / "multi_if.pcapng").read_bytes()
    off, _ = _nth_packet_block(raw, 5)
    ref, _ = assert_same(_write(tmp_path, _set_u32(raw, off + 4, bad_length), "x.pcapng"))
    assert ref is not None and [p.code for p in ref.problems] == ["DAMAGED_BLOCK"]
    for chunk in (1, 100):
        assert_same(_write(tmp_path, _set_u32(raw, off + 4, bad_length), "x.pcapng"), chunk)


@pytest.mark.parametrize("case", ["trailer", "last_block_long", "no_recovery", "unknown_block",
                                  "interface_77", "caplen_60000", "pcap_absurd_caplen",
                                  "pcap_cut_header"])
def test_damage_cases_of_test_sources_same_as_scapy(tmp_path: Path, case: str) -> None:
    raw = (DATA / "multi_if.pcapng").read_bytes()
    name = "x.pcapng"
    if case == "trailer":
        off, blen = _nth_packet_block(raw, 7)
        data = _set_u32(raw, off + blen - 4, blen + 4)
    elif case == "last_block_long":
        off = list(pcapng_blocks(raw))[-1][0]
        data = _set_u32(raw, off + 4, 4096)
    elif case == "no_recovery":
        off, _ = _nth_packet_block(raw, 3)
        data = raw[:off] + bytes(len(raw) - off)
    elif case == "unknown_block":
        off, _ = _nth_packet_block(raw, 2)
        unknown = struct.pack("<II", 0x00000BAD, 20) + b"zzzzzzzz" + struct.pack("<I", 20)
        data = raw[:off] + unknown + raw[off:]
    elif case == "interface_77":
        off, _ = _nth_packet_block(raw, 4)
        data = _set_u32(raw, off + 8, 77)
    elif case == "caplen_60000":
        off, _ = _nth_packet_block(raw, 4)
        data = _set_u32(raw, off + 8 + 12, 60000)
    else:
        pcap = (DATA / "lo_en10mb.pcap").read_bytes()
        ends = pcap_record_ends(pcap)
        name = "x.pcap"
        if case == "pcap_absurd_caplen":
            data = _set_u32(pcap, ends[2] + 8, 0x40000000)
        else:
            data = pcap[: ends[3] + 9]
    ref, _ = assert_same(_write(tmp_path, data, name))
    assert ref is not None
    assert ref.problems or case == "unknown_block"
    assert_same(_write(tmp_path, data, name), 3)


@pytest.mark.parametrize("name", ["sections.pcapng", "secrets.pcapng", "multi_if.pcapng",
                                  "spb.pcapng", "lo_en10mb.pcap", "be_nano.pcap",
                                  "any_sll2.pcap"])
def test_random_damage_same_as_scapy(tmp_path: Path, name: str) -> None:
    """test_sources' random damage (overwrite, insert, delete), both engines side by side."""
    rng = random.Random("fast" + name)
    original = (DATA / name).read_bytes()
    codes: set[str] = set()
    for _ in range(80):
        raw = damaged(original, rng)
        ref, _ = assert_same(_write(tmp_path, bytes(raw), name), rng.choice([None, 1, 9, 333]))
        if ref is not None:
            codes |= {p.code for p in ref.problems}
    assert codes


# ------------------------------------------------------------------------------------------
# Synthetic pcapng: every block kind, both byte orders, options scapy refuses


def _opt(e: str, code: int, value: bytes) -> bytes:
    return struct.pack(e + "HH", code, len(value)) + value + bytes(-len(value) % 4)


def _block(e: str, btype: int, body: bytes, total: int | None = None,
           trailer: int | None = None) -> bytes:
    body += bytes(-len(body) % 4)
    n = 12 + len(body) if total is None else total
    return (struct.pack(e + "II", btype, n) + body
            + struct.pack(e + "I", n if trailer is None else trailer))


def _shb(e: str, major: int = 1) -> bytes:
    body = struct.pack(e + "I", 0x1A2B3C4D) + struct.pack(e + "HHq", major, 0, -1)
    return _block(e, 0x0A0D0D0A, body + _opt(e, 0, b""))


def _idb(e: str, link: int, snaplen: int = 0, opts: bytes = b"") -> bytes:
    return _block(e, 1, struct.pack(e + "HHI", link, 0, snaplen) + opts)


def _epb(e: str, intid: int, ticks: int, frame: bytes, wirelen: int | None = None,
         opts: bytes = b"") -> bytes:
    body = struct.pack(e + "IIIII", intid, ticks >> 32, ticks & 0xFFFFFFFF, len(frame),
                       len(frame) if wirelen is None else wirelen)
    return _block(e, 6, body + frame + bytes(-len(frame) % 4) + opts)


def _frames_of(name: str, n: int = 12) -> list[bytes]:
    _, frames = read(DATA / name, "scapy")
    assert isinstance(frames, list)
    return [f[2] for f in frames[:n]]


def _synthetic(e: str) -> bytes:
    eth = _frames_of("lo_en10mb.pcap")
    raw = _frames_of("raw.pcap")
    out = [_shb(e)]
    out.append(_idb(e, 1, 0, _opt(e, 9, b"\x89") + _opt(e, 14, struct.pack(e + "q", 1000))
                    + _opt(e, 0, b"")))  # 2^-9 s ticks, offset 1000 s
    out.append(_idb(e, 101, 96, _opt(e, 9, b"\x03")))  # ms ticks, snaplen 96
    out.append(_block(e, 10, struct.pack(e + "II", 0x544C534B, 5) + b"CLIENT"[:5]))
    for i, f in enumerate(eth[:4]):
        out.append(_epb(e, 0, 800_000_000_000 + i * 1000, f))
    out.append(_block(e, 3, struct.pack(e + "I", len(eth[4])) + eth[4]))  # SPB, interface 0
    out.append(_epb(e, 1, 1_700_000_000_000 + 7, raw[5]))
    # obsolete Packet Block, interface 1
    t = 1_700_000_000_500
    pb = struct.pack(e + "HHIIII", 1, 0, t >> 32, t & 0xFFFFFFFF, len(raw[6]), len(raw[6]))
    out.append(_block(e, 2, pb + raw[6]))
    out.append(_block(e, 2, pb[:12]))  # too short: unreadable contents
    out.append(_block(e, 0x80000001, b""))  # Process Information Block too short
    out.append(_block(e, 0x80000001, struct.pack(e + "I", 42)))
    out.append(_epb(e, 0, 800_000_002_000, eth[5], opts=_opt(e, 2, b"\x01\x00\x00\x00")
                    + _opt(e, 0, b"")))  # flags option, fine
    out.append(_epb(e, 0, 800_000_003_000, eth[6], opts=_opt(e, 2, b"\x01\x00")))  # bad size
    out.append(_epb(e, 0, 800_000_004_000, eth[7], opts=_opt(e, 0x8001, b"\x00")))  # bad PIB
    out.append(_epb(e, 0, 800_000_005_000, eth[8], wirelen=5000))
    out.append(_epb(e, 3, 800_000_006_000, eth[9]))  # no such interface
    out.append(_block(e, 0xBAD, b"unknown block"))
    out.append(_block(e, 1, b"\x01\x00"))  # IDB shorter than its fixed fields
    out.append(_block(e, 3, b""))  # SPB shorter than its header
    out.append(_block(e, 10, struct.pack(e + "II", 1, 400)))  # DSB claims too much
    # A new section in the other byte order; interface ids restart.
    o = ">" if e == "<" else "<"
    out.append(_shb(o))
    out.append(_epb(o, 0, 5, eth[10]))  # no interface yet in this section
    out.append(_block(o, 3, struct.pack(o + "I", 10) + bytes(8)))  # SPB before any IDB
    out.append(_idb(o, 113))
    out.append(_block(o, 3, struct.pack(o + "I", len(eth[10])) + eth[10]))
    out.append(_epb(o, 0, (1 << 60) + 12345, eth[11]))  # microsecond ticks, far future
    out.append(_shb(o, major=2))  # unsupported version: unreadable, skipped
    out.append(_epb(o, 0, 77, eth[11]))
    return b"".join(out)


@pytest.mark.parametrize("endian", ["<", ">"])
def test_synthetic_pcapng_same_as_scapy(tmp_path: Path, endian: str) -> None:
    data = _synthetic(endian)
    p = _write(tmp_path, data, "synthetic.pcapng")
    ref, frames = assert_same(p)
    assert ref is not None and isinstance(frames, list)
    assert ref.secrets == [(0x544C534B, b"CLIEN")]
    assert sorted(ref.link_types) == [1, 101, 113]
    assert {p.code for p in ref.problems} == {"DAMAGED_BLOCK"}
    assert len(frames) >= 9
    for chunk in (1, 2, 3, 50, 333):
        assert_same(p, chunk)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(endian=st.sampled_from(["<", ">"]), chunk=st.integers(1, 3000),
       block=st.integers(1, 27), value=st.sampled_from([0, 1, 4, 8, 12, 13, 28, 30, 0xFFFC,
                                                         1 << 20, 0xFFFFFFFF]),
       at_trailer=st.booleans())
def test_block_lengths_beyond_the_file_zero_odd(tmp_path_factory: pytest.TempPathFactory,
                                                endian: str, chunk: int, block: int,
                                                value: int, at_trailer: bool) -> None:
    """A block length (leading or trailing) pointing past the file, zero, odd, too small:
    both engines report the same and yield the same, whatever the chunk size."""
    data = _synthetic(endian)
    blocks = []
    off = 0
    e = endian
    while off + 12 <= len(data):
        if data[off : off + 4] == b"\x0a\x0d\x0d\x0a":
            e = "<" if data[off + 8 : off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        n = struct.unpack_from(e + "I", data, off + 4)[0]
        blocks.append((off, n, e))
        off += n
    boff, blen, be = blocks[block % len(blocks)]
    where = boff + blen - 4 if at_trailer else boff + 4
    damaged = data[:where] + struct.pack(be + "I", value) + data[where + 4 :]
    p = _write(tmp_path_factory.mktemp("blk"), damaged, "d.pcapng")
    assert_same(p, chunk)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["multi_if.pcapng", "sections.pcapng", "lo_nano.pcap",
                             "any_sll.pcap", "spb.pcapng", "secrets.pcapng"]),
       chunk=st.integers(1, 5000))
def test_random_chunk_sizes_give_identical_output(name: str, chunk: int) -> None:
    ref, frames = read(DATA / name, "fast")
    r, got = read(DATA / name, "fast", chunk)
    assert got == frames and summary(r) == summary(ref)
    _, segs = read(DATA / name, "fast", None, "segments")
    _, segs2 = read(DATA / name, "fast", chunk, "segments")
    assert segs2 == segs


# ------------------------------------------------------------------------------------------
# The fused decoder: every frame shape, and mutations, as decode_frame says


def _pcap(frames: list[tuple[int, bytes]], link: int, endian: str = "<",
          nano: bool = False) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, link)]
    for i, (sec, f) in enumerate(frames):
        frac = i * 7919 % 1_000_000
        out.append(struct.pack(endian + "IIII", sec, frac, len(f), len(f) + i % 2) + f)
    return b"".join(out)


def _tcp_frames() -> dict[str, bytes]:
    """IPv4 and IPv6 TCP packets (IP header onwards) from the loopback recording."""
    out: dict[str, bytes] = {}
    _, frames = read(DATA / "lo_en10mb.pcap", "scapy")
    assert isinstance(frames, list)
    for _, _, data, _ in frames:
        seg = decode_frame(1, data)
        if seg is None:
            continue
        key = f"v{seg[0]}-{'tcp' if seg[3] == 6 else 'udp'}-{'data' if seg[9] else 'empty'}"
        out.setdefault(key, data[14:])
    assert {"v4-tcp-data", "v6-tcp-data", "v4-tcp-empty"} <= set(out)
    return out


_TCP_FRAMES = _tcp_frames()

_LINK_HEADERS = {
    1: lambda et: b"\x02" * 12 + struct.pack("!H", et),
    113: lambda et: b"\x00\x00\x03\x04\x00\x06" + b"\x02" * 8 + struct.pack("!H", et),
    276: lambda et: struct.pack("!H", et) + b"\x00\x00" + b"\x00\x00\x00\x01\x03\x04\x06"
    + b"\x02" * 9,
}


def _variants(ip: bytes) -> list[bytes]:
    """The IP packet, and versions of it the fused decoder must hand to decode_frame (or get
    right itself): TOS set, fragments, reserved bit, MF, options, bad IHL, bad lengths, TCP
    data offsets, cut short, padded."""
    out = [ip, ip + b"\x00" * 6, ip[:30], ip[:len(ip) - 1], ip[:41], ip[:20], ip[:10]]
    if ip[0] >> 4 == 4:
        def m(off: int, value: bytes, base: bytes = ip) -> bytes:
            return base[:off] + value + base[off + len(value) :]
        out += [m(1, b"\x10"), m(6, b"\x00\x00"), m(6, b"\x20\x00"), m(6, b"\x00\x08"),
                m(6, b"\x80\x00"), m(6, b"\x60\x00"), m(0, b"\x44"), m(0, b"\x55"),
                m(0, b"\x65"), m(2, b"\x00\x00"), m(2, b"\x00\x10"), m(2, b"\x00\x28"),
                m(2, b"\xff\xff"), m(9, b"\x11"), m(9, b"\x01"), m(32, b"\x40"), m(32, b"\xf0"),
                m(32, b"\x51"), m(33, b"\xff")]
        opts = m(0, b"\x46", ip[:20] + b"\x01\x01\x01\x00" + ip[20:])
        out.append(m(2, struct.pack("!H", len(opts)), opts))
    else:
        def m6(off: int, value: bytes) -> bytes:
            return ip[:off] + value + ip[off + len(value) :]
        out += [m6(4, b"\x00\x00"), m6(4, b"\x00\x08"), m6(4, b"\xff\xff"), m6(6, b"\x3b"),
                m6(6, b"\x11"), m6(6, b"\x00"), m6(0, b"\x40"), m6(52, b"\x40"),
                m6(52, b"\x31"), m6(1, b"\xff")]
    return out


@pytest.mark.parametrize("link", [1, 113, 276])
def test_fused_decoder_equals_decode_frame(tmp_path: Path, link: int) -> None:
    frames: list[tuple[int, bytes]] = []
    for key, ip in _tcp_frames().items():
        et = 0x0800 if key.startswith("v4") else 0x86DD
        for v in _variants(ip):
            frames.append((1_700_000_000, _LINK_HEADERS[link](et) + v))
        # VLAN-tagged (Ethernet), other ethertype, the link header alone
        if link == 1:
            frames.append((1_700_000_001, b"\x02" * 12 + struct.pack("!HHH", 0x8100, 5, et)
                           + ip))
        frames.append((1_700_000_002, _LINK_HEADERS[link](0x0806) + ip))
        frames.append((1_700_000_003, _LINK_HEADERS[link](et)))
    for endian, nano in (("<", False), (">", True)):
        p = _write(tmp_path, _pcap(frames, link, endian, nano), "f.pcap")
        assert_same(p)
        r, segs = read(p, "fast", 50, "segments")
        assert r is not None and r.malformed_frames > 0 and segs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(link=st.sampled_from([1, 113, 276]), v6=st.booleans(),
       edits=st.lists(st.tuples(st.integers(0, 80), st.integers(0, 255)), max_size=4),
       cut=st.integers(0, 120))
def test_fused_decoder_on_mutated_headers(tmp_path_factory: pytest.TempPathFactory, link: int,
                                          v6: bool, edits: list[tuple[int, int]],
                                          cut: int) -> None:
    ips = _TCP_FRAMES
    ip = bytearray(ips["v6-tcp-data" if v6 else "v4-tcp-data"])
    for off, value in edits:
        if off < len(ip):
            ip[off] = value
    frame = (_LINK_HEADERS[link](0x86DD if v6 else 0x0800) + bytes(ip))
    frame = frame[: len(frame) - cut] if cut < len(frame) else frame
    p = _write(tmp_path_factory.mktemp("mut"), _pcap([(1_700_000_000, frame)], link), "m.pcap")
    r, segs = read(p, "fast", None, "segments")
    assert r is not None
    try:
        seg = decode_frame(link, frame)
    except ProtocolError:
        assert segs == [] and r.malformed_frames == 1
        return
    want, _ = expected_segments([(r.first_ts, link, frame, len(frame))])
    assert segs == want and r.malformed_frames == 0
    assert (seg is None) == (segs == [])


# ------------------------------------------------------------------------------------------
# Memory stays flat: a 150 MB file read in a child process


_RSS_CHILD = """
import resource, sys
from capture_tls.sources.captures import open_capture
r = open_capture(sys.argv[1])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if sys.argv[2] == "read":
    n = 0
    for _ in r.segments():
        n += 1
    assert n == r.packets > 0, (n, r.packets)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_memory_stays_flat_on_a_150_mb_file(tmp_path: Path) -> None:
    """Peak RSS of reading a 150 MB capture minus that of only opening it: the buffer (a
    512 KiB chunk and the next one being joined to its tail), not the file. Measured 0.1-2 MiB
    (and 55 MB peak for the whole process on a 1.8 GB file: fastreader.py's figures)."""
    ip = _TCP_FRAMES["v4-tcp-data"]
    frame = _LINK_HEADERS[1](0x0800) + ip
    rec = struct.pack("<IIII", 1_700_000_000, 1, len(frame), len(frame)) + frame
    block = rec * ((1 << 20) // len(rec))
    p = tmp_path / "big.pcap"
    with open(p, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        while f.tell() < 150 * 1024 * 1024:
            f.write(block)
    assert p.stat().st_size >= 150 * 1024 * 1024
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    grown = []
    for mode in ("open", "read"):
        out = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(p), mode],
                             capture_output=True, text=True, env=env, check=True).stdout
        grown.append(int(out.split()[0]) * 1024)  # ru_maxrss is in KiB on Linux
    print(f"peak RSS growth while reading 150 MB: {grown[1] / 2**20:.1f} MiB")
    assert grown[1] < 16 * 2**20  # the whole file would be 150 MiB


@pytest.mark.parametrize("chunk", [None, 1000, 300_000])
def test_records_larger_than_a_chunk(tmp_path: Path, chunk: int | None) -> None:
    """Blocks and records bigger than the 512 KiB chunk, frames past scapy's 262144-byte read
    size (cut there), the largest pcap record scapy reads whole and one byte more."""
    eth = _frames_of("lo_en10mb.pcap")
    big = eth[0] + bytes(300_000)
    e = "<"
    ng = b"".join([
        _shb(e), _idb(e, 1),
        _epb(e, 0, 10**15, eth[1]),
        _epb(e, 0, 10**15 + 1, big),  # caplen 300014: the frame is cut to 262144
        _block(e, 0xBAD, bytes(2 << 20)),  # a 2 MiB unknown block
        _epb(e, 0, 10**15 + 2, eth[2], opts=b"".join(_opt(e, 1, b"c" * 60_000) for _ in range(12))
             + _opt(e, 0, b"")),  # 720 kB of comments
        _block(e, 3, struct.pack(e + "I", len(big)) + big),  # SPB, not cut
        _epb(e, 0, 10**15 + 3, eth[3]),
    ])
    ref, frames = assert_same(_write(tmp_path, ng, "big.pcapng"), chunk)
    assert ref is not None and ref.problems == [] and isinstance(frames, list)
    assert [len(f[2]) for f in frames] == [len(eth[1]), 262144, len(eth[2]), len(big),
                                           len(eth[3])]
    fill = 262140 - len(eth[0])
    records = [(1, eth[1]), (2, eth[0] + bytes(fill)), (3, eth[2])]
    ref, frames = assert_same(_write(tmp_path, _pcap(records, 1), "big.pcap"), chunk)
    assert ref is not None and ref.problems == [] and len(frames) == 3
    records.insert(2, (4, eth[0] + bytes(fill + 1)))  # 262141 bytes: DAMAGED_BLOCK, stop
    ref, frames = assert_same(_write(tmp_path, _pcap(records, 1), "big.pcap"), chunk)
    assert ref is not None and [p.code for p in ref.problems] == ["DAMAGED_BLOCK"]
    assert len(frames) == 2


@pytest.mark.parametrize("case", ["major2", "trailer", "bom", "short", "pcap_header"])
def test_unusable_first_header_same_input_error(tmp_path: Path, case: str) -> None:
    eth = _frames_of("lo_en10mb.pcap")
    shb = _shb("<", major=2 if case == "major2" else 1)
    if case == "trailer":
        shb = shb[:-4] + struct.pack("<I", len(shb) + 4)
    elif case == "bom":
        shb = shb[:8] + b"\x01\x02\x03\x04" + shb[12:]
    data = shb + _idb("<", 1) + _epb("<", 0, 1, eth[0])
    name = "x.pcapng"
    if case == "short":
        data = data[:20]
    elif case == "pcap_header":
        data, name = _pcap([(1, eth[0])], 1)[:22], "x.pcap"
    ref, msg = assert_same(_write(tmp_path, data, name))
    assert ref is None and isinstance(msg, str) and str(tmp_path) in msg


def test_decoding_tables_equal_their_definitions() -> None:
    """The fused decoder's tables are built from repeated runs for a quick import; every entry
    must be what the per-entry definition gives (data offset in the top 4 bits, flags in the
    low 9, and the same for the 16 bits read little-endian)."""
    from capture_tls.sources import fastreader as fr

    def swapped(v: int) -> int:
        return ((v & 0xFF) << 8) | (v >> 8)

    hl4 = tuple(0 if d >> 12 < 5 else 20 + ((d >> 12) << 2) for d in range(65536))
    hl6 = tuple(0 if d >> 12 < 5 else 40 + ((d >> 12) << 2) for d in range(65536))
    flags = tuple(d & 0x1FF for d in range(65536))
    assert fr._HL4 == hl4
    assert fr._HL6 == hl6
    assert fr._FLAGS == flags
    assert fr._HL4_LE == tuple(hl4[swapped(v)] for v in range(65536))
    assert fr._FLAGS_LE == tuple(flags[swapped(v)] for v in range(65536))
    assert fr._SWAP16 == tuple(swapped(v) for v in range(65536))
    assert fr._SAME16 == tuple(range(65536))


def test_the_default_engine_does_not_import_scapy() -> None:
    """scapy costs about 0.1 s to import: analyzing a file with the default engine must not
    load it (a fresh interpreter, so nothing else in the test session has loaded it)."""
    sample = Path(__file__).resolve().parent.parent / "samples" / "tls12-match.pcap"
    code = (
        "import sys\n"
        "from capture_tls.cli import main\n"
        "sys.argv = ['capture-tls', 'analyze', '--format', 'jsonl', '--jobs', '1', "
        f"{str(sample)!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('SCAPY', any(m == 'scapy' or m.startswith('scapy.') for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent).stdout
    assert out.strip().splitlines()[-1] == "SCAPY False"
    # ... and the scapy engine still works, loading it on demand.
    reader = open_capture(str(sample), engine="scapy")
    assert sum(1 for _ in reader.frames()) > 0


def test_refill_reads_the_tail_again_and_keeps_it_when_the_file_changed(
        tmp_path: Path) -> None:
    """`_refill` reads a record's tail again with the next chunk instead of joining it to the
    chunk; bytes read again that differ from the tail (the file was rewritten while it was
    read) leave the old tail in the buffer, followed by what comes after it, as the joining
    did. Both give the bytes the SHA-256 needs only once."""
    import hashlib

    path = tmp_path / "f.bin"
    data = bytes(range(256)) * 64  # 16 KiB
    path.write_bytes(data)
    src = ROOT / "samples" / "tls12-match.pcap"
    reader = open_capture(str(src))
    assert isinstance(reader, FastCaptureReader)
    reader.close()
    # (unbuffered: with chunks this small a BufferedReader would serve the re-read from its
    # own copy of the old bytes)
    with open(path, "rb", buffering=0) as f:
        reader._file = f
        reader.size = len(data)
        reader.chunk_size = 4096
        reader._sha = None
        reader._sha_at = -1
        buf, base = reader._refill(b"", 0, 0, 16)
        assert (buf, base) == (data[:4096], 0)
        # The record at 4000 runs past the buffer: its tail is read again with more.
        buf, base = reader._refill(buf, 4000, 0, 500)
        assert (buf, base) == (data[4000:4000 + 96 + 4096], 4000)
        assert f.tell() == 4000 + len(buf)
        # The file is rewritten under the reader: the tail it had stays, then the new bytes.
        tail_at = base + len(buf) - 10
        changed = bytearray(data)
        changed[tail_at:] = b"\xee" * (len(data) - tail_at)
        path.write_bytes(bytes(changed))
        old_tail = buf[-10:]
        buf2, base2 = reader._refill(buf, len(buf) - 10, base, 100)
        assert base2 == tail_at
        assert buf2[:10] == old_tail != b"\xee" * 10
        assert buf2[10:] == bytes(changed[tail_at + 10 : tail_at + 10 + 4096])
        reader._file = None
    # In order from the start, the chunks' hash is the file's, whatever re-reading happened.
    path.write_bytes(data)
    with open(path, "rb") as f:
        reader._file = f
        from capture_tls.sources.fastreader import _BackgroundSha256

        reader._sha = _BackgroundSha256(b"", str(path), 0, None)  # hashes in this process
        reader._sha_at = 0
        buf, base, pos = b"", 0, 0
        while base + len(buf) < len(data):
            buf, base = reader._refill(buf, pos, base, 50)
            pos = max(0, len(buf) - 37)  # always leave a tail to read again
        assert reader._sha.hexdigest() == hashlib.sha256(data).hexdigest()
        reader._file = None
