"""One capture file through the whole analysis: frames -> segments -> connections -> reports.

The loop below is the hot path: a frame is decoded to a plain tuple and handed to the
connection table; nothing else is built per packet.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from ipaddress import ip_address

from capture_tls.analysis.connection import ConnectionState
from capture_tls.analysis.intended_host import DnsCache
from capture_tls.analysis.model import ConnectionReport, InputSummary, InputWarning
from capture_tls.analysis.options import AnalysisOptions
from capture_tls.analysis.report_builder import build_report, iso_utc
from capture_tls.analysis.tracker import ConnectionTracker
from capture_tls.errors import CaptureTlsError, InputError
from capture_tls.protocols.dns import parse_dns_response, parse_dns_tcp_segment
from capture_tls.protocols.keylog import KeyLog
from capture_tls.sources.captures import RawFrame, Segment, open_capture
from capture_tls.sources.frames import LINK_TYPE_NAMES, decode_frame

__all__ = ["FrameAnalysis", "InputResult", "analyze_file", "file_sha256", "link_type_name"]

_TCP = 6
_UDP = 17
_DNS_PORT = 53


@dataclass
class InputResult:
    summary: InputSummary
    warnings: list[InputWarning] = field(default_factory=list)
    connections: list[ConnectionReport] = field(default_factory=list)
    internal_errors: list[str] = field(default_factory=list)
    # Counts of the reported connections, also when they were not kept (keep_reports=False)
    reported: int = 0
    tls: int = 0
    plaintext: int = 0
    with_errors: int = 0


def file_sha256(path: str) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def link_type_name(lt: int) -> str:
    return LINK_TYPE_NAMES.get(lt, f"LINKTYPE_{lt}")


class FrameAnalysis:
    """The analysis of one input's frames, shared by capture files (`analyze_file`) and live
    capture (`capture_tls.analysis.live`): the DNS answers seen, the connection table, the
    reports and the counters behind the input-level warnings.

    `run(frames)` is the hot loop; it may be called more than once (a live capture calls it
    once with a generator that ends when the capture stops). `finish()` reports the
    connections still in handshake. `keep_reports=False` hands each report to `on_connection`
    and keeps only the counts (`reported`, `tls`, `plaintext`, `with_errors`): a capture that
    runs for hours must not grow with the connections it has already reported.
    """

    def __init__(
        self,
        index: int,
        options: AnalysisOptions,
        on_connection: Callable[[ConnectionReport], None] | None = None,
        *,
        keep_reports: bool = True,
        secrets_blocks: list[tuple[int, bytes]] | None = None,
    ) -> None:
        self.index = index
        self.options = options
        self.on_connection = on_connection
        self.keep_reports = keep_reports
        self.dns = DnsCache(options.limits.max_dns_records)
        self.keys = _KeySource(options.keylog, secrets_blocks if secrets_blocks is not None
                               else [])
        self.tracker = ConnectionTracker(options.ports, self._done, options.limits,
                                         self.keys.secrets_for)
        self.connections: list[ConnectionReport] = []
        self.internal_errors: list[str] = []
        self.malformed = 0
        self.malformed_dns = 0
        self.reported = 0
        self.tls = 0
        self.plaintext = 0
        self.with_errors = 0

    def _done(self, conn: ConnectionState) -> None:
        conn_id = f"{self.index}:{conn.number}"
        options = self.options
        try:
            report = build_report(conn, conn_id, options, self.dns)
        except CaptureTlsError as exc:
            # A fact that cannot be judged: report the connection without its certificates.
            conn.malformed += (("server", str(exc)),)
            conn.server_certificates = conn.client_certificates = None
            report = build_report(conn, conn_id, options, self.dns)
        except Exception as exc:  # a bug: reported as INTERNAL_ERROR, never fatal
            self.internal_errors.append(f"{conn_id}: {type(exc).__name__}: {exc}")
            return
        if conn.internal_errors:
            self.internal_errors.extend(f"{conn_id}: {e}" for e in conn.internal_errors)
        self.reported += 1
        if report.tls is not None:
            self.tls += 1
        if report.outcome == "plaintext":
            self.plaintext += 1
        # A loop, not any() over a generator, and no generator for the (usual) absence of
        # internal errors: 0.6 us a connection less (timeit, three findings).
        for f in report.findings:
            if f.severity == "error":
                self.with_errors += 1
                break
        if self.keep_reports:
            self.connections.append(report)
        if self.on_connection is not None:
            self.on_connection(report)

    def run(self, frames: Iterable[RawFrame]) -> None:
        """Decode each frame and hand its segment to the connection table (or its DNS answer
        to the DNS cache)."""
        dns = self.dns
        segment = self.tracker.segment
        for _ts, link_type, frame, _wirelen in frames:
            try:
                seg = decode_frame(link_type, frame)
            except CaptureTlsError:
                self.malformed += 1
                continue
            if seg is None:
                continue
            _v, src, dst, proto, sport, dport, seq, _ack, flags, payload, truncated = seg
            if sport == _DNS_PORT and payload:
                if _dns_answer(dns, _ts, proto, dst, payload):
                    continue
                self.malformed_dns += 1
                if proto != _TCP:
                    continue
            if proto == _TCP:
                segment(_ts, src + dst, sport, dport, seq, flags, payload, truncated)

    def run_segments(self, segments: Iterable[Segment]) -> None:
        """The hot loop of a capture file: segments already decoded by the reader (its fused
        decoder: 0.7-1.0 us a packet against 2-4.6 us for scapy's reader plus decode_frame).
        A segment of a reported connection costs one tuple unpack and one dict lookup here."""
        dns = self.dns
        segment = self.tracker.segment
        for ts, proto, addrs, sport, dport, seq, flags, payload, truncated in segments:
            if sport == _DNS_PORT and payload:
                half = len(addrs) // 2
                if _dns_answer(dns, ts, proto, addrs[half:], payload):
                    continue
                self.malformed_dns += 1
                if proto != _TCP:
                    continue
            if proto == _TCP:
                segment(ts, addrs, sport, dport, seq, flags, payload, truncated)

    def finish(self) -> None:
        """End of input: the connections still in handshake are reported as they stand."""
        self.tracker.finish_all()

    def warnings(self, input_name: str) -> list[InputWarning]:
        """The input-level warnings of what `run` saw (malformed packets, limits, bugs)."""
        out: list[InputWarning] = []
        if self.malformed:
            out.append(
                InputWarning("MALFORMED_PACKETS",
                             f"{self.malformed} packets have link, IP or TCP headers that do not "
                             "fit their lengths; they were skipped.", self.malformed, input_name)
            )
        if self.malformed_dns:
            out.append(
                InputWarning("MALFORMED_PACKETS",
                             f"{self.malformed_dns} packets from port 53 are not DNS messages; "
                             "they were not used to find the intended host.", self.malformed_dns,
                             input_name)
            )
        if self.keys.embedded is not None:
            for problem in self.keys.embedded.problems:
                out.append(InputWarning("KEYLOG_PROBLEM", str(problem), 1, input_name))
        dropped = self.tracker.connections_dropped_at_limit
        if dropped:
            out.append(
                InputWarning("LIMIT_REACHED",
                             f"{dropped} new connections were not followed: "
                             f"{self.options.limits.max_connections_tracked} connections were "
                             "already in handshake.", dropped, input_name)
            )
        if self.internal_errors:
            out.append(
                InputWarning("INTERNAL_ERROR",
                             "capture-tls hit a bug on this input (please report it): "
                             + "; ".join(self.internal_errors[:3]),
                             len(self.internal_errors), input_name)
            )
        return out


def analyze_file(
    path: str,
    index: int,
    options: AnalysisOptions,
    on_connection: Callable[[ConnectionReport], None] | None = None,
    keep_reports: bool = True,
) -> InputResult:
    """Analyze one capture. Never raises for bad input: an unusable file comes back with
    `summary.error` set; everything read before damage is still analyzed. With
    `keep_reports=False` the reports only go to `on_connection` (JSON Lines): memory then does
    not grow with the connections reported."""
    try:
        reader = open_capture(path)
    except InputError as exc:
        size: int | None
        try:
            size = os.path.getsize(path) if os.path.isfile(path) else None
        except OSError:
            size = None
        return InputResult(
            InputSummary(path=path, size=size, sha256=None, format=None, link_types=(),
                         packets=0, first_packet=None, last_packet=None, error=str(exc))
        )

    analysis = FrameAnalysis(index, options, on_connection, keep_reports=keep_reports,
                             secrets_blocks=reader.secrets)
    try:
        analysis.run_segments(reader.segments(analysis.tracker.quiet))
        analysis.finish()
        analysis.malformed += reader.malformed_frames
        analysis.tracker.segments_after_done += reader.quiet_segments
    finally:
        reader.close()

    result = InputResult(
        InputSummary(
            path=path,
            size=reader.size,
            sha256=_reader_sha256(reader) or file_sha256(path),
            format=reader.format,
            link_types=tuple(sorted(link_type_name(lt) for lt in reader.link_types)),
            packets=reader.packets,
            first_packet=iso_utc(reader.first_ts) if reader.first_ts is not None else None,
            last_packet=iso_utc(reader.last_ts) if reader.last_ts is not None else None,
        ),
        connections=analysis.connections,
        internal_errors=analysis.internal_errors,
        reported=analysis.reported,
        tls=analysis.tls,
        plaintext=analysis.plaintext,
        with_errors=analysis.with_errors,
    )
    for p in reader.problems:
        result.warnings.append(InputWarning(p.code, p.message, p.count, path))
    result.warnings.extend(analysis.warnings(path))
    result.connections.sort(key=lambda c: (c.first_seen_ts, c.client.ip, c.client.port))
    return result


def _dns_answer(dns: DnsCache, ts: float, proto: int, client: bytes, payload: bytes) -> bool:
    """Remember the resolutions of one DNS response. False when it is not DNS."""
    try:
        found = parse_dns_response(payload) if proto == _UDP else parse_dns_tcp_segment(payload)
    except CaptureTlsError:
        return False
    if found:
        client_ip = str(ip_address(client))
        for resolution in found:
            dns.add(ts, client_ip, resolution)
    return True


class _KeySource:
    """TLS secrets for a client random: the --keylog files, then the secrets embedded in the
    capture (pcapng Decryption Secrets Blocks, read as they come)."""

    def __init__(self, given: KeyLog | None, embedded_blocks: list[tuple[int, bytes]]) -> None:
        self.given = given
        self._blocks = embedded_blocks
        self._seen_blocks = 0
        self.embedded: KeyLog | None = None

    def secrets_for(self, client_random: bytes) -> dict[str, bytes] | None:
        """None when there is no key log at all (then nothing is missing either)."""
        if not self.any:
            return None
        if len(self._blocks) != self._seen_blocks:
            self._seen_blocks = len(self._blocks)
            self.embedded = KeyLog.from_secrets_blocks(self._blocks)
        found: dict[str, bytes] = {}
        if self.embedded is not None:
            found.update(self.embedded.secrets_for(client_random))
        if self.given is not None:
            found.update(self.given.secrets_for(client_random))
        return found

    @property
    def any(self) -> bool:
        return self.given is not None or bool(self._blocks)


def _reader_sha256(reader: object) -> str | None:
    """The hash the fast reader computed while reading, when it read the file in order."""
    get = getattr(reader, "sha256_hex", None)
    return get() if callable(get) else None
