"""`iso_utc` formats the date once per second and rounds the microseconds itself: it must write
exactly what datetime.fromtimestamp gives, rounding, carries and the clamped ends included."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from capture_tls.analysis.report_builder import iso_utc


def _reference(ts: float) -> str:
    try:
        d = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        d = (datetime(1, 1, 1, tzinfo=UTC) if ts < 0
             else datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    return d.strftime("%Y-%m-%dT%H:%M:%S.%f").rjust(26, "0") + "Z"


EDGES = [
    0.0, -0.0, -1.0, 1e-7, -1e-7, 0.5e-6, 1.5e-6, 2.5e-6, -0.5e-6, 0.9999995, 1.9999995,
    -62135596800.0, -62135596800.5, -62135596799.9999996, 253402300799.999999,
    253402300799.9999996, 253402300798.9999996, 1e20, -1e20, math.inf, -math.inf, math.nan,
    1772445600.000287, 1772445599.9999997,
]


def test_edges() -> None:
    for ts in EDGES:
        assert iso_utc(ts) == _reference(ts), ts


def test_random_times_and_half_microseconds() -> None:
    r = random.Random(7)
    for _ in range(20_000):
        ts = r.randint(-2**33, 2**33) + (r.randint(0, 2000) - 1000) / 1e6
        assert iso_utc(ts) == _reference(ts)
        assert iso_utc(ts + 0.5e-6) == _reference(ts + 0.5e-6)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_float(ts: float) -> None:
    assert iso_utc(ts) == _reference(ts)


_LADDER_TIMES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e10),
    st.integers(0, 2_000_000_000).map(lambda s: s + 0.9999995),  # rounds into the next second
    st.sampled_from([0.0, -0.0, 253402300799.0, 253402300799.9999996, -62135596800.0]),
)


@settings(max_examples=600, deadline=None)
@given(first=st.floats(min_value=0.0, max_value=4e9),
       offsets=st.lists(st.floats(min_value=0.0, max_value=2.0), max_size=14),
       odd=st.lists(_LADDER_TIMES, max_size=3))
def test_ladder_times_are_iso_utc(first: float, offsets: list[float], odd: list[float]) -> None:
    """The ladder's fast comprehension (steps within one second) and its general path (any
    other steps) give every step the time `iso_utc` gives it."""
    from capture_tls.analysis.report_builder import _ladder

    for times in ([first + o for o in offsets], [first + o for o in offsets] + odd, odd):
        steps = tuple((t, "client" if i % 2 else "server", f"step {i}")
                      for i, t in enumerate(times))
        got = _ladder(steps)
        assert [s.time for s in got] == [iso_utc(t) for t in times]
        assert [(s.sender, s.label) for s in got] == [(s[1], s[2]) for s in steps]
