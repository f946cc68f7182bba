"""`capture-tls trim`: a copy of a capture with only what the analysis uses.

Theory of operation. The analysis reads a MySQL connection only until its handshake's outcome
is known (`ConnectionState.done`); after that its packets cost a lookup and change nothing.
So the packets that matter are exactly the ones the connection table hands to a connection that
is not yet done, plus the DNS answers that resolved to a server's address. Trimming runs the
same connection table over the capture (pass 1) and records, per packet:

- a TCP segment fed to a connection still in handshake: kept if that connection is reported
  (it showed any MySQL or TLS handshake evidence). For connections that are not reported, only
  the packet that opened them is kept (with its payload zeroed), so the connections that are
  reported keep their numbers ("<input>:<n>" counts every connection opened);
- a DNS response (UDP or TCP, port 53) with an address of a reported connection's server.

Pass 2 copies the kept packets, unchanged except below, with their original timestamps and
link types, into a pcapng file (`sources.writer`).

Application data: the analysis stops at the client's first application-data record after its
Finished (the encrypted login), which is how it tells "tls-established" from a client that gave
up. That record's header (content type, version, length) is what is needed; its body is
replaced by zero bytes (the same length, so TCP sequence numbers stay right). Any other
application-data record the client sent in a kept packet is zeroed the same way. The zeroing
follows the client's TLS records from the start of the first kept TLS segment; a packet that
does not start where a record starts (after reordering) is left as it is.

Not copied: packets of other protocols and of connections after their handshake, ARP and other
non-IP frames, malformed frames, pcapng Decryption Secrets Blocks (key logs are not safe to
attach), comments and interface statistics. So input-level warnings about those
(MALFORMED_PACKETS) do not carry over; the connections, findings and verdicts do.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address

from capture_tls.analysis.connection import C_TLS, ConnectionState
from capture_tls.analysis.options import AnalysisOptions
from capture_tls.analysis.tracker import ConnectionTracker
from capture_tls.errors import CaptureTlsError
from capture_tls.protocols.dns import DnsResolution, parse_dns_response, parse_dns_tcp_segment
from capture_tls.sources.captures import open_capture
from capture_tls.sources.frames import decode_frame
from capture_tls.sources.writer import PcapngWriter

__all__ = ["TrimPlan", "TrimResult", "plan_trim", "trim_capture"]

_TCP = 6
_UDP = 17
_DNS_PORT = 53
_CT_CCS = 20
_CT_ALERT = 21
_CT_HANDSHAKE = 22
_CT_APPLICATION_DATA = 23
_RECORD_HEADER = 5


@dataclass(frozen=True, slots=True)
class TrimPlan:
    """Which packets (by index in the capture) to copy, and byte ranges of each to zero."""

    keep: frozenset[int]
    zero: dict[int, list[tuple[int, int]]]  # packet index -> (offset in frame, length)
    packets: int


@dataclass(frozen=True, slots=True)
class TrimResult:
    packets_in: int
    packets_out: int
    bytes_in: int
    bytes_out: int


class _ClientRecords:
    """Where the client's TLS records start, followed across its kept segments."""

    __slots__ = ("ccs", "lost", "next_seq", "protected", "skip")

    def __init__(self) -> None:
        self.lost = False  # the record boundary is no longer known: nothing more is masked
        self.next_seq: int | None = None
        self.skip = 0  # body bytes of a record still to come in the next segment
        self.protected = 0
        self.ccs = False


def _dns(proto: int, payload: bytes) -> list[DnsResolution] | None:
    try:
        return parse_dns_response(payload) if proto == _UDP else parse_dns_tcp_segment(payload)
    except CaptureTlsError:
        return None


def _mask_records(
    state: _ClientRecords, seq: int, payload: bytes, tls13: bool
) -> list[tuple[int, int]]:
    """Byte ranges (in `payload`) of application-data bodies after the client's Finished."""
    if state.lost:
        return []
    if state.next_seq is not None and seq != state.next_seq:
        # Not where we expected (retransmission, reordering): leave it, stop following.
        state.lost = True
        return []
    state.next_seq = (seq + len(payload)) & 0xFFFF_FFFF
    ranges: list[tuple[int, int]] = []
    pos = 0
    if state.skip:
        n = min(state.skip, len(payload))
        if state.protected >= 2:
            ranges.append((0, n))
        state.skip -= n
        pos = n
    while pos + _RECORD_HEADER <= len(payload):
        ctype = payload[pos]
        if not _CT_CCS <= ctype <= _CT_APPLICATION_DATA or payload[pos + 1] != 3:
            state.lost = True  # not a record header: stop masking this connection
            return ranges
        length = (payload[pos + 3] << 8) | payload[pos + 4]
        body = pos + _RECORD_HEADER
        if ctype == _CT_CCS:
            state.ccs = True
        elif ctype == _CT_APPLICATION_DATA or (
            not tls13 and state.ccs and ctype in (_CT_HANDSHAKE, _CT_ALERT)
        ):
            state.protected += 1
        n = min(length, len(payload) - body)
        if ctype == _CT_APPLICATION_DATA and state.protected >= 2 and n > 0:
            ranges.append((body, n))
        state.skip = length - n
        pos = body + n
    if pos < len(payload):
        state.lost = True  # a record header split across segments: stop following
    return ranges


def plan_trim(path: str, options: AnalysisOptions) -> TrimPlan:
    """Pass 1: run the connection table over the capture and decide what to keep.

    Raises `InputError` when the file cannot be read as a capture at all."""
    reader = open_capture(path)
    reported: set[int] = set()

    def done(conn: ConnectionState) -> None:
        reported.add(id(conn))
        servers.add(conn.server[0])

    servers: set[str] = set()
    tracker = ConnectionTracker(options.ports, done, options.limits)
    fed: list[tuple[int, ConnectionState, bool]] = []  # (index, connection, opened it)
    masks: dict[int, list[tuple[int, int, int]]] = {}  # index -> (index, offset, length)
    opening_payload: dict[int, tuple[int, int]] = {}  # index -> (offset, length)
    records: dict[int, _ClientRecords] = {}
    dns_frames: list[tuple[int, set[str]]] = []
    index = -1
    try:
        for index, (ts, link_type, frame, _wirelen) in enumerate(reader.frames()):
            try:
                seg = decode_frame(link_type, frame)
            except CaptureTlsError:
                continue
            if seg is None:
                continue
            _v, src, dst, proto, sport, dport, seq, _ack, flags, payload, truncated = seg
            if sport == _DNS_PORT and payload:
                found = _dns(proto, payload)
                if found is not None:
                    addresses = set()
                    for r in found:
                        for a in r.addresses:
                            try:
                                addresses.add(str(ip_address(a)))
                            except ValueError:
                                continue
                    if addresses:
                        dns_frames.append((index, addresses))
                    continue
                if proto != _TCP:
                    continue
            if proto != _TCP:
                continue
            addrs = src + dst
            entry = tracker.lookup(addrs, sport, dport)
            target = entry[0] if entry is not None and not entry[0].done else None
            from_client = entry[1] if entry is not None else False
            mask: list[tuple[int, int]] = []
            if target is not None and from_client and payload and target.c_phase == C_TLS:
                state = records.setdefault(id(target), _ClientRecords())
                mask = _mask_records(state, seq, payload, target.tls13)
            created = tracker.created
            tracker.segment(ts, addrs, sport, dport, seq, flags, payload, truncated)
            if tracker.created != created:
                new = tracker.lookup(addrs, sport, dport)
                if new is None:  # opened and finished at once; find it by number
                    continue
                fed.append((index, new[0], True))
                if payload:
                    offset = _offset(frame, payload)
                    opening_payload[index] = (offset, len(payload))
            elif target is not None:
                fed.append((index, target, False))
                if mask:
                    offset = _offset(frame, payload)
                    if offset >= 0:
                        masks[index] = [(index, offset + o, n) for o, n in mask]
        tracker.finish_all()
    finally:
        reader.close()

    keep: set[int] = set()
    zero: dict[int, list[tuple[int, int]]] = {}
    for idx, conn, opened in fed:
        if id(conn) in reported:
            keep.add(idx)
            for m_idx, off, n in masks.get(idx, ()):
                zero.setdefault(m_idx, []).append((off, n))
        elif opened:
            # Not reported, but it took a number: keep the packet that opened it, blanked.
            off, n = opening_payload.get(idx, (0, 0))
            if off < 0:
                continue  # the payload could not be located: drop rather than copy it
            keep.add(idx)
            if n:
                zero.setdefault(idx, []).append((off, n))
    for idx, addresses in dns_frames:
        if addresses & servers:
            keep.add(idx)
    return TrimPlan(keep=frozenset(keep), zero=zero, packets=index + 1)


def _offset(frame: bytes, payload: bytes) -> int:
    """Where the TCP payload starts in the frame (the last occurrence: headers come first,
    link-layer trailers after it are short and never hold a whole payload)."""
    if not payload:
        return -1
    return frame.rfind(payload)


def trim_capture(path: str, out_path: str, options: AnalysisOptions) -> TrimResult:
    """Write the trimmed copy of `path` to `out_path` (pcapng)."""
    plan = plan_trim(path, options)
    reader = open_capture(path)
    written = 0
    try:
        with open(out_path, "wb") as out:
            writer = PcapngWriter(out, "capture-tls trim")
            for index, (ts, link_type, frame, wirelen) in enumerate(reader.frames()):
                if index not in plan.keep:
                    continue
                ranges = plan.zero.get(index)
                if ranges:
                    data = bytearray(frame)
                    for off, n in ranges:
                        data[off : off + n] = bytes(n)
                    frame = bytes(data)
                writer.write(ts, link_type, frame, wirelen)
                written += 1
            bytes_out = out.tell()
    finally:
        reader.close()
    return TrimResult(
        packets_in=plan.packets,
        packets_out=written,
        bytes_in=reader.size,
        bytes_out=bytes_out,
    )
