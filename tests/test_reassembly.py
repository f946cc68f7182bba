"""TCP half-stream reassembly: order, retransmission, overlap, gaps, wrap-around, limits."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from capture_tls.limits import Limits
from capture_tls.reassembly.tcp import HalfStream, StreamGap


def collect(out: list[bytes | StreamGap]) -> tuple[bytes, list[StreamGap]]:
    data = b"".join(c for c in out if isinstance(c, bytes))
    gaps = [c for c in out if isinstance(c, StreamGap)]
    return data, gaps


def segments(data: bytes, cuts: list[int], isn: int) -> list[tuple[int, bytes]]:
    points = sorted({0, len(data), *[c % (len(data) + 1) for c in cuts]})
    return [((isn + 1 + a) % (1 << 32), data[a:b]) for a, b in itertools.pairwise(points)]


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=3000),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=30),
    isn=st.integers(min_value=0, max_value=(1 << 32) - 1),
    seed=st.integers(min_value=0, max_value=1 << 30),
    dups=st.integers(min_value=0, max_value=5),
)
def test_any_order_and_duplication_gives_the_same_bytes(
    data: bytes, cuts: list[int], isn: int, seed: int, dups: int
) -> None:
    segs = segments(data, cuts, isn)
    rng = random.Random(seed)
    for _ in range(dups):
        segs.append(rng.choice(segs))
    # overlapping retransmission: a segment covering parts of two neighbours
    if len(data) > 4:
        a = rng.randrange(0, len(data) - 2)
        b = rng.randrange(a + 1, len(data))
        segs.append(((isn + 1 + a) % (1 << 32), data[a:b]))
    rng.shuffle(segs)
    hs = HalfStream()
    hs.syn(isn)
    out: list[bytes | StreamGap] = []
    for seq, payload in segs:
        out.extend(hs.add(seq, payload))
    out.extend(hs.flush())
    got, gaps = collect(out)
    assert gaps == []
    assert got == data
    assert hs.delivered_bytes == len(data)


def test_a_missing_segment_becomes_an_explicit_gap_not_zeros() -> None:
    hs = HalfStream()
    hs.syn(1000)
    out = hs.add(1001, b"abc") + hs.add(1010, b"xyz")
    assert out == [b"abc"]
    out = hs.flush()
    assert out == [StreamGap(offset=3, length=6), b"xyz"]
    assert hs.gaps == 1


def test_sequence_numbers_wrap_around() -> None:
    hs = HalfStream()
    hs.syn((1 << 32) - 3)
    out = hs.add((1 << 32) - 2, b"ab") + hs.add(0, b"cd") + hs.add(2, b"ef")
    assert b"".join(c for c in out if isinstance(c, bytes)) == b"abcdef"


def test_mid_connection_start_takes_the_first_segment() -> None:
    hs = HalfStream()
    assert hs.add(5000, b"hello") == [b"hello"]
    assert hs.add(5005, b" world") == [b" world"]
    assert hs.add(5000, b"hello") == []  # retransmission


def test_too_many_held_segments_declare_the_hole_a_gap() -> None:
    limits = Limits(max_out_of_order_segments=4)
    hs = HalfStream(limits)
    hs.syn(0)
    out: list[bytes | StreamGap] = []
    for i in range(6):
        out.extend(hs.add(101 + 10 * i, b"x" * 10))
    data, gaps = collect(out)
    assert gaps and gaps[0] == StreamGap(offset=0, length=100)
    assert data == b"x" * 60  # 5 released at the gap, the 6th then in order
    assert hs.held_segments <= 4


def test_held_bytes_are_bounded() -> None:
    limits = Limits(max_buffered_bytes_per_half_stream=1000)
    hs = HalfStream(limits)
    hs.syn(0)
    out: list[bytes | StreamGap] = []
    for i in range(50):
        out.extend(hs.add(1 + 100 + 100 * i, b"y" * 100))
    assert sum(len(p) for p in hs._held.values()) <= 1000
    _data, gaps = collect(out)
    assert gaps
