"""Live capture through the same analysis as a capture file.

Theory of operation: `LiveSniffer` opens a `sources.live.LiveCapture` (the MySQL ports and DNS,
or all TCP and DNS with `any_port`) and feeds its frames to a `pipeline.FrameAnalysis`, the
loop `analyze_file` runs, so a connection seen live is judged exactly as the same packets
read from a file. Each connection is handed to `on_connection` the moment its outcome is known
(the tracker decides: login under TLS, an alert, a close, an error), or when it has been idle
for the idle time-out, which here is wall time: every `sweep_seconds` (on the monotonic clock)
the table is swept with the current time, which packet times (the kernel's wall clock) are
compared with. Reports are not kept (`keep_reports=False`, the default): a capture that runs
for hours holds only the connections still in handshake, and done ones cost a table entry
until they idle out.

The frames reach the analysis through a generator that also does the periodic work: write the
frame to `write_path` (pcapng), sweep idle connections, read the kernel's drop counter, and
stop on a `StopSignal` (set from a signal handler), at the deadline (`duration_seconds`) or
after `max_connections` reports. The capture source yields None when it has waited
`poll_seconds` without a packet, so all of this happens on a quiet network too.

At the stop the connections still in handshake are reported as they stand (as at the end of a
file), the kernel's drops become a KERNEL_DROPS input warning, and `LiveResult` describes the
capture as an input of format "live".
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from capture_tls.analysis.model import ConnectionReport, InputSummary, InputWarning
from capture_tls.analysis.options import AnalysisOptions
from capture_tls.analysis.pipeline import FrameAnalysis, InputResult, link_type_name
from capture_tls.analysis.report_builder import iso_utc
from capture_tls.sources.captures import RawFrame
from capture_tls.sources.live import (
    ANY_INTERFACE,
    RECEIVE_BUFFER_BYTES,
    LiveCapture,
    PcapNgWriter,
    capture_filter,
)

__all__ = [
    "CAPTURE_FAILED",
    "KERNEL_DROPS",
    "WRITE_FAILED",
    "LiveResult",
    "LiveSniffer",
    "SniffSettings",
    "StopSignal",
]

# Input-level warning codes of a live capture (besides those of FrameAnalysis).
KERNEL_DROPS = "KERNEL_DROPS"  # the kernel dropped packets the filter accepted (buffer full)
CAPTURE_FAILED = "CAPTURE_FAILED"  # reading stopped by itself (the interface went away)
WRITE_FAILED = "WRITE_FAILED"  # --write failed (disk full); capturing went on


@dataclass(frozen=True, slots=True)
class SniffSettings:
    """Where and how long to capture."""

    interface: str = ANY_INTERFACE
    # All TCP (MySQL servers found by their greeting) instead of the MySQL ports only.
    any_port: bool = False
    duration_seconds: float | None = None
    # Stop once this many connections have been reported.
    max_connections: int | None = None
    # Keep every captured frame in this pcapng file.
    write_path: str | None = None
    # The kernel's buffer for the capture (its receive ring): what a burst may queue while
    # the analysis is busy before the kernel drops packets.
    buffer_bytes: int = RECEIVE_BUFFER_BYTES
    # How long the source waits for a packet before the periodic work runs anyway.
    poll_seconds: float = 0.25
    # How often idle connections are expired and the kernel's drop counter is read.
    sweep_seconds: float = 1.0


class StopSignal:
    """Set it (from a signal handler, say) to stop the capture at the next packet or poll."""

    __slots__ = ("reason",)

    def __init__(self) -> None:
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason


@dataclass
class LiveResult:
    """What a finished capture saw. `input.summary` has format "live"; `input.connections`
    is empty unless reports were kept."""

    input: InputResult
    stop_reason: str
    reported: int
    tls: int
    plaintext: int
    with_errors: int
    kernel_drops: int


class LiveSniffer:
    """`open()` (raises `CaptureUnavailableError`, or OSError for `write_path`), then `run()`
    once; `run()` closes everything it opened."""

    def __init__(
        self,
        settings: SniffSettings,
        options: AnalysisOptions,
        on_connection: Callable[[ConnectionReport], None] | None = None,
        *,
        keep_reports: bool = False,
        on_drops: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.options = options
        self.input_name = f"live:{settings.interface}"
        self.bpf_filter = capture_filter(options.ports, settings.any_port)
        self._on_connection = on_connection
        self._on_drops = on_drops
        self.analysis = FrameAnalysis(0, options, self._reported, keep_reports=keep_reports)
        self.capture = LiveCapture(settings.interface, self.bpf_filter,
                                   buffer_bytes=settings.buffer_bytes)
        self.writer: PcapNgWriter | None = None
        self.write_error: str | None = None
        self._stop = StopSignal()

    def open(self) -> None:
        self.capture.open()
        if self.settings.write_path is not None:
            try:
                self.writer = PcapNgWriter(self.settings.write_path, self.capture.link_type,
                                           self.settings.interface)
            except BaseException:
                self.capture.close()
                raise

    def _reported(self, report: ConnectionReport) -> None:
        if self._on_connection is not None:
            self._on_connection(report)
        limit = self.settings.max_connections
        if limit is not None and self.analysis.reported >= limit:
            self._stop.set("count")

    def run(self, stop: StopSignal | None = None) -> LiveResult:
        """Capture until `stop` is set, the duration passes or the count is reached."""
        if stop is not None:
            self._stop = stop
        try:
            self.analysis.run(self._frames())
            self.analysis.finish()
        finally:
            self.capture.close()
            if self.writer is not None:
                try:
                    self.writer.close()
                except OSError as exc:
                    self._write_failed(exc)
        return self._result()

    def _frames(self) -> Iterator[RawFrame]:
        settings = self.settings
        stop = self._stop
        writer = self.writer
        capture = self.capture
        expire = self.analysis.tracker.expire_idle
        # Deadlines on the monotonic clock (a wall clock may be stepped); idle expiry compares
        # with packet times, which are the kernel's wall clock.
        clock = time.monotonic
        start = clock()
        duration = settings.duration_seconds
        deadline = start + duration if duration is not None else math.inf
        sweep_every = settings.sweep_seconds
        next_sweep = start + sweep_every
        drops = 0
        if deadline <= start:
            stop.set("duration")
        if stop.reason is not None:
            return
        for frame in capture.frames(settings.poll_seconds):
            if frame is not None:
                if writer is not None:
                    try:
                        writer.write(frame[0], frame[2], frame[3])
                    except OSError as exc:  # disk full, ...: keep capturing, stop writing
                        self._write_failed(exc)
                        writer = None
                yield frame
            if stop.reason is not None:
                return
            now = clock()
            if now >= deadline:
                stop.set("duration")
                return
            if now >= next_sweep:
                next_sweep = now + sweep_every
                expire(time.time())
                if writer is not None:
                    try:
                        writer.flush()
                    except OSError as exc:
                        self._write_failed(exc)
                        writer = None
                new_drops = capture.statistics()[1]
                if new_drops != drops:
                    drops = new_drops
                    if self._on_drops is not None:
                        self._on_drops(drops)
                if stop.reason is not None:
                    return

    def _write_failed(self, exc: OSError) -> None:
        self.write_error = exc.strerror or str(exc)
        if self.writer is not None:
            with contextlib.suppress(OSError):
                self.writer.close()
            self.writer = None

    def _result(self) -> LiveResult:
        capture = self.capture
        analysis = self.analysis
        name = self.input_name
        drops = capture.kernel_drops
        warnings: list[InputWarning] = []
        if drops:
            warnings.append(
                InputWarning(KERNEL_DROPS,
                             f"the kernel dropped {drops} of the {capture.kernel_packets} packets "
                             "the capture filter accepted (the socket's receive buffer was "
                             "full): connections may be missing or reported incomplete.",
                             drops, name)
            )
        if self.write_error is not None:
            warnings.append(
                InputWarning(WRITE_FAILED,
                             f"writing {self.settings.write_path} failed ({self.write_error}); "
                             "the file holds the packets before the failure", 1, name)
            )
        if capture.error is not None:
            warnings.append(
                InputWarning(CAPTURE_FAILED,
                             f"the capture stopped before it was asked to: {capture.error}",
                             1, name)
            )
        warnings.extend(analysis.warnings(name))
        summary = InputSummary(
            path=name,
            size=None,
            sha256=None,
            format="live",
            link_types=(link_type_name(capture.link_type),),
            packets=capture.packets,
            first_packet=iso_utc(capture.first_ts) if capture.first_ts is not None else None,
            last_packet=iso_utc(capture.last_ts) if capture.last_ts is not None else None,
        )
        connections = sorted(analysis.connections,
                             key=lambda c: (c.first_seen_ts, c.client.ip, c.client.port))
        return LiveResult(
            input=InputResult(summary, warnings, connections, analysis.internal_errors),
            stop_reason=self._stop.reason or (
                f"capture failed: {capture.error}" if capture.error else "end"),
            reported=analysis.reported,
            tls=analysis.tls,
            plaintext=analysis.plaintext,
            with_errors=analysis.with_errors,
            kernel_drops=drops,
        )
