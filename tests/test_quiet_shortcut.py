"""The fast reader only counts the segments of reported connections (`segments(quiet=...)`,
fed by the connection table) instead of handing them over. The reports, the counters and the
warnings must be what the connection table gives when it sees every segment itself, and what
scapy's reader gives: checked on every sample, every reader test capture, generated captures
with thousands of such segments, and hand-made cases (a port reused after the grace period, a
SYN on a reported connection's ports, a malformed packet of a reported connection)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from capture_tls.analysis.options import AnalysisOptions
from capture_tls.analysis.pipeline import FrameAnalysis
from capture_tls.reporting import connection_to_dict
from capture_tls.sources.captures import open_capture
from tests.samples import LAB_PORTS, MATRIX_PORTS, ODD_PORT, SAMPLES, SAMPLES_DIR

ROOT = Path(__file__).resolve().parent
PORTS = frozenset({3306, *LAB_PORTS, ODD_PORT, *MATRIX_PORTS})


def _run(path: Path, engine: str, use_quiet: bool) -> tuple[Any, ...]:
    options = AnalysisOptions(ports=PORTS)
    reader = open_capture(str(path), engine=engine)
    analysis = FrameAnalysis(0, options, secrets_blocks=reader.secrets)
    try:
        analysis.run_segments(reader.segments(analysis.tracker.quiet if use_quiet else None))
        analysis.finish()
    finally:
        reader.close()
    analysis.malformed += reader.malformed_frames
    return (
        [connection_to_dict(c) for c in analysis.connections],
        analysis.tracker.segments_after_done + reader.quiet_segments,
        analysis.malformed,
        analysis.malformed_dns,
        analysis.tracker.created,
        [(w.code, w.count, w.message) for w in analysis.warnings(str(path))],
        reader.packets,
    )


def _same(path: Path) -> int:
    shortcut = _run(path, "fast", True)
    assert shortcut == _run(path, "fast", False)
    assert shortcut == _run(path, "scapy", False)
    return int(shortcut[1])


CAPTURES = [SAMPLES_DIR / s.name for s in SAMPLES] + sorted(
    p for p in (ROOT / "data" / "sources").iterdir() if ".pcap" in p.name)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_every_capture(path: Path) -> None:
    _same(path)


def test_the_samples_do_have_segments_after_the_handshakes() -> None:
    assert sum(_run(p, "fast", True)[1] for p in CAPTURES[:20]) > 100


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_generated_captures(tmp_path: Path, fmt: str) -> None:
    from bench.gen_capture import generate_capture

    out = tmp_path / f"gen.{fmt}"
    generate_capture(str(out), 40, 4000, 8, fmt, 11)
    assert _same(out) > 2000


def test_hand_made_cases(tmp_path: Path) -> None:
    """A refused connection (its outcome known at the server's ERR), then on its ports: data
    from both sides, a packet whose IP length does not fit its frame, a big-endian copy of it
    all, and a new SYN (the ports reused: a second connection)."""
    from tests.synth import ACK, PSH, SYN, frame, mysql_packet, pcap_writer, write_frame

    err = mysql_packet(0, b"\xff" + (1045).to_bytes(2, "little") + b"#28000Access denied")
    c, s = ("10.0.0.1", 40000), ("10.0.0.2", 3306)

    def conn(f: Any, t: float, isn: int) -> float:
        write_frame(f, t, frame(*c[:1], *s[:1], c[1], s[1], isn, 0, SYN))
        write_frame(f, t + 0.001, frame(s[0], c[0], s[1], c[1], 5000, isn + 1, SYN | ACK))
        write_frame(f, t + 0.002, frame(c[0], s[0], c[1], s[1], isn + 1, 5001, ACK))
        write_frame(f, t + 0.003, frame(s[0], c[0], s[1], c[1], 5001, isn + 1, PSH | ACK, err))
        seq = 5001 + len(err)
        for i in range(20):
            write_frame(f, t + 0.01 + i / 1000, frame(c[0], s[0], c[1], s[1], isn + 1 + i * 10,
                                                      seq, PSH | ACK, b"x" * 10))
            write_frame(f, t + 0.0105 + i / 1000, frame(s[0], c[0], s[1], c[1], seq,
                                                        isn + 11 + i * 10, ACK))
        bad = bytearray(frame(c[0], s[0], c[1], s[1], isn + 500, seq, PSH | ACK, b"y" * 10))
        bad[16:18] = (2000).to_bytes(2, "big")  # IP total length past the frame
        write_frame(f, t + 0.05, bytes(bad))
        return t + 1.0

    path = tmp_path / "cases.pcap"
    with pcap_writer(path) as f:
        t = conn(f, 1_700_000_000.0, 1000)
        conn(f, t, 900_000)  # the same ports again: a new connection
    first = _run(path, "fast", True)
    # 20 data + 20 ACK + the odd packet, twice: all after the outcome was known
    assert len(first[0]) == 2 and first[1] == 82
    _same(path)

    # The same packets in a big-endian pcap.
    import struct

    data = path.read_bytes()
    be = bytearray(struct.pack(">IHHiIII", *struct.unpack("<IHHiIII", data[:24])))
    pos = 24
    while pos < len(data):
        sec, usec, caplen, wire = struct.unpack_from("<IIII", data, pos)
        be += struct.pack(">IIII", sec, usec, caplen, wire) + data[pos + 16 : pos + 16 + caplen]
        pos += 16 + caplen
    be_path = tmp_path / "cases-be.pcap"
    be_path.write_bytes(bytes(be))
    assert _run(be_path, "fast", True)[:5] == first[:5]
    _same(be_path)
