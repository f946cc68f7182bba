"""TCP half-stream reassembly.

Theory of operation (RFC 9293 section 3.4, sequence numbers): each direction of a connection
is a `HalfStream` that knows the next sequence number it expects. A segment is trimmed of the
bytes already delivered (retransmissions and overlaps keep the first copy, as Wireshark's
default does), delivered at once when it starts at the expected number, and held otherwise.
Held segments are released as soon as the hole before them is filled. A hole that is never
filled becomes an explicit `StreamGap` (never zero bytes): when too many segments are held,
when too many bytes are held, or when the caller flushes (FIN, end of capture).

All sequence arithmetic is modulo 2^32. The first sequence number is taken from the SYN; a
capture that starts mid-connection takes it from the first segment seen.
"""

from __future__ import annotations

from dataclasses import dataclass

from capture_tls.limits import DEFAULT_LIMITS, Limits

__all__ = ["HalfStream", "StreamGap"]

_MOD = 1 << 32
_HALF = 1 << 31


@dataclass(frozen=True, slots=True)
class StreamGap:
    """`length` bytes of the stream were never captured, starting at relative offset `offset`."""

    offset: int
    length: int


def _delta(a: int, b: int) -> int:
    """Signed distance from sequence number b to a (a - b), modulo 2^32."""
    d = (a - b) % _MOD
    return d - _MOD if d >= _HALF else d


class HalfStream:
    """One direction's byte stream. `add()` returns what became deliverable, in order."""

    __slots__ = (
        "_held",
        "_held_bytes",
        "_limits",
        "delivered_bytes",
        "fin_seen",
        "gaps",
        "isn_known",
        "next_seq",
    )

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self.next_seq = 0
        self.isn_known = False
        self.fin_seen = False
        self.delivered_bytes = 0  # stream offset of next_seq
        self.gaps = 0
        self._held: dict[int, bytes] = {}  # seq -> payload, out of order
        self._held_bytes = 0

    def syn(self, seq: int) -> None:
        """A SYN with sequence number `seq`: data starts at seq + 1."""
        if not self.isn_known:
            self.next_seq = (seq + 1) % _MOD
            self.isn_known = True

    def add_in_order(self, seq: int, payload: bytes) -> bytes | None:
        """`add` for the common case: a non-empty segment that starts exactly at the expected
        sequence number while nothing is held. Advances and returns the payload itself
        (0.15 us instead of 0.45 for `add` and its list). None: nothing changed; call `add`."""
        if seq != self.next_seq or self._held or not self.isn_known or not payload:
            return None
        n = len(payload)
        self.next_seq = (seq + n) % _MOD
        self.delivered_bytes += n
        return payload

    def add(self, seq: int, payload: bytes) -> list[bytes | StreamGap]:
        """A data segment. Returns the chunks and gaps that are now in order."""
        if not payload:
            return []
        if not self.isn_known:
            self.next_seq = seq
            self.isn_known = True
        d = _delta(seq, self.next_seq)
        if d <= 0:
            if -d >= len(payload):
                return []  # a pure retransmission
            if d < 0:
                payload = payload[-d:]
            out: list[bytes | StreamGap] = [payload]
            self._advance(len(payload))
            if self._held:
                self._release(out)
            return out
        # Ahead of what we expect: hold it (keep the first copy of a sequence number).
        if seq not in self._held or len(self._held[seq]) < len(payload):
            self._held_bytes += len(payload) - len(self._held.get(seq, b""))
            self._held[seq] = payload
        out = []
        if (
            len(self._held) > self._limits.max_out_of_order_segments
            or self._held_bytes > self._limits.max_buffered_bytes_per_half_stream
        ):
            self._skip_to_first_held(out)
            self._release(out)
        return out

    def flush(self) -> list[bytes | StreamGap]:
        """Give up waiting: every hole before held data becomes a gap; deliver all held data."""
        out: list[bytes | StreamGap] = []
        while self._held:
            self._skip_to_first_held(out)
            self._release(out)
        return out

    def pending_gap(self) -> StreamGap | None:
        """The hole before the first held segment, if data is held (nothing is changed)."""
        if not self._held:
            return None
        first = min(self._held, key=lambda s: _delta(s, self.next_seq))
        return StreamGap(self.delivered_bytes, max(0, _delta(first, self.next_seq)))

    @property
    def held_segments(self) -> int:
        return len(self._held)

    def drop_buffers(self) -> None:
        self._held.clear()
        self._held_bytes = 0

    def _advance(self, n: int) -> None:
        self.next_seq = (self.next_seq + n) % _MOD
        self.delivered_bytes += n

    def _skip_to_first_held(self, out: list[bytes | StreamGap]) -> None:
        first = min(self._held, key=lambda s: _delta(s, self.next_seq))
        missing = _delta(first, self.next_seq)
        if missing > 0:
            out.append(StreamGap(self.delivered_bytes, missing))
            self.gaps += 1
            self._advance(missing)

    def _release(self, out: list[bytes | StreamGap]) -> None:
        """Deliver held segments that now start at or before next_seq."""
        held = self._held
        progressed = True
        while held and progressed:
            progressed = False
            for seq in list(held):
                d = _delta(seq, self.next_seq)
                if d > 0:
                    continue
                payload = held.pop(seq)
                self._held_bytes -= len(payload)
                progressed = True
                if -d >= len(payload):
                    continue
                if d < 0:
                    payload = payload[-d:]
                out.append(payload)
                self._advance(len(payload))
