"""One capture file over several processes, with the report of one process.

`analyze_file_split` cuts a large pcap/pcapng file at record (block) boundaries into one
chunk per process, analyzes the chunks at the same time and merges the results into the
`InputResult` that `pipeline.analyze_file` gives, reports in the same completion order (JSON
Lines) and with the same ids.

Theory of operation
-------------------
Split points. Near k*size/N the file is searched for a record boundary: a pcap record header
whose timestamp is plausible and whose lengths fit (caplen <= orig_len, <= snaplen), followed
by a chain of such records that ends exactly on the next header (or the end of the file);
for pcapng a chain of blocks whose type is known and whose leading and trailing lengths agree.
The worker before a split point checks it: its last record must end exactly there (else the
point was inside a record and the file is read by one process). pcapng workers start with
the byte order, interfaces and Decryption Secrets Blocks found before the first packet; the
parent checks that against what the previous chunk ended with (an interface or secrets
block in the middle of the file, a new section) and runs the chunk again with the right
state when it differs. Small files (< 64 MiB), files without a safe split point and the
scapy engine are read by one process; no chunk is planned smaller than 32 MiB.

Ownership. Worker k runs the one-process pipeline (`FrameAnalysis`, `ConnectionTracker`)
over its chunk, starting with an empty connection table. It owns the flows the one-process
tracker opens inside its chunk. At its chunk's end it keeps reading ("lookahead") the
segments of its connections still in handshake only, never opening a flow, until they are
all reported, their handshakes have been idle for the idle timeout, or the file ends. It
returns its boundary state: every key in its table at the chunk's end (a connection in
handshake, or a reported one's marker) and, from the lookahead, where each connection in
handshake was reported or ended by a client's new SYN.

Worker k+1 started with an empty table, so it opens flows the one-process tracker would not:
the later segments of a connection that is still in the previous owners' tables (its
handshake, its application data). The parent walks the chunks in order with the table of
"foreign" keys (the previous owners' entries at the chunk's start). A foreign entry leaves
the table where the one-process tracker drops it: a client SYN that ends its connection in
handshake (seen by the owner's lookahead), or a client SYN after it was reported (worker k+1
records every SYN without ACK and whether its own table reset that key there). Flows worker
k+1 opened on a foreign key before that point are discarded, with their reports; from that
point on worker k+1's table agrees with the one-process table for that key (when it does not,
because worker k+1 fed that SYN to a flow of its own, the file is read again by one process).

Ids and order. The connection numbers are renumbered over the kept flows in the order of
their first segment, as `tracker.created` numbers them. Every report has a completion
position (the segment that completed it: (chunk, index in the chunk); a foreign connection's
before the chunk owner's at the same segment; at the end of the input after all others, by
number), and the parent merges the workers' streams by it: JSON Lines come out in the
one-process order. Worker 0's reports completed inside its chunk are certain at once and are
streamed as they come; the other workers spool theirs to a temporary file. For --format
json the reports themselves never come to the parent: each worker writes its JSON entries
to a report-store file and sends only where each is; the parent's store adopts the kept
ones, renumbered (their ids rewritten as they are read back).

DNS. A worker of chunk k > 0 has not seen the DNS answers of the earlier chunks. When those
answers would change the intended host of one of its reports (`choose_intended_host` with and
without them), chunk k is analyzed again with them loaded first (such chunks in processes at
the same time). That costs time only on captures with DNS, and only where a cut falls
between an answer and the connections that use it (or an alias of the same address).

Input summary. Packets are summed, the first and last packet taken from the first and last
chunk, link types and problems merged (a problem's "after N packets" counts from the file's
start); the SHA-256 is computed by the parent while the workers run.

Figures (2026-11-25, the 2-vCPU build machine with no other job running, `bench/split_bench.py
--runs 3`, `--format jsonl`, the 1.5 GB benchmark captures of 2 M frames / 20,000
connections; bench/README.md has the table): pcap 11.60 s with one process, 7.01 s with two
(1.65x); pcapng 11.95 s and 7.73 s (1.55x), in a later window 12.62 s and 7.39 s (1.71x);
byte-for-byte the same output. Each worker
spends 5.2-5.5 s of CPU (half the one-process work: the split adds no per-packet cost), the
parent 1.7-2.0 s (1.0 s of it the SHA-256 pass, which one process does inline while reading,
0.35 s imports). First JSON Lines line: 0.39 s with two processes, 0.35 s with one (Python's
imports). Peak memory of the process tree: PSS 111 MiB against 82 MiB (RSS summed over the
three processes 210 MiB: the forked workers share their inherited pages); the largest
process 77 MiB against 86 MiB. With other jobs keeping both vCPUs busy, two processes gain
nothing: they need the second vCPU.

2026-12-08, after the per-connection work got cheaper (the same machine kind, quiet): one
process 4.0-4.5 s on the pcap (its SHA-256 child 1.1 s of CPU on the other core), two 3.2-3.35 s
(1.3x): the workers 4.3-4.7 s of CPU together, the parent 1.5 s (1.0 s the SHA-256). Two
processes beat one by at most 2W / (W + H) with W the analysis and H the hash, since one
process already hashes on the second core; against one process on one core, 1.8x.

Residual differences from one process (none in realistic captures; the tests compare
every sample and generated captures at many split points):
- Expiry sweeps (`ConnectionTracker.expire_idle`) run every 65,536 new-flow segments of each
  worker's own count, not the one-process count, so a reported connection's keys may be
  forgotten at another moment. And a reported connection's keys that were in an earlier
  chunk's table at a cut are forgotten only on a client SYN, never by the 60-second grace:
  a connection quiet for over a minute across a cut that then sends data again (a pooled
  connection) is one flow here, while one process may, after a sweep, take that data for a
  new connection seen mid-stream. Such a flow has no handshake and is not reported, but it
  takes a number: the ids after it would be one higher with one process. (A sweep comes
  after 65,536 segments of flows not in the table: in a capture of the MySQL ports with
  fewer connections than that there is none, with one process or split.) A connection in
  handshake whose lookahead stopped at the idle timeout is reported there (one process
  reports it at its next sweep: the same report, its JSON Lines position may differ).
- LIMIT_REACHED counts (max_connections_tracked) are per worker; flows on other ports judged
  "not MySQL" in an earlier chunk are sniffed again in a later one.
- DNS answers are compared with a cache holding all of a chunk's answers, and a lookahead
  sees the later chunks' answers: with non-monotonic timestamps an answer newer in the file
  but older in time than a connection could be used differently.
- INTERNAL_ERROR lists the errors by chunk; obsolete pcapng Packet Blocks at a chunk's start
  use if_tsoffset 0.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import multiprocessing
import os
import pickle
import re
import struct
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from ipaddress import ip_address
from multiprocessing.connection import Connection, wait
from typing import IO, Any

from capture_tls.analysis.intended_host import DnsCache, choose_intended_host
from capture_tls.analysis.model import ConnectionReport, InputSummary, InputWarning
from capture_tls.analysis.options import AnalysisOptions
from capture_tls.analysis.pipeline import (
    FrameAnalysis,
    InputResult,
    analyze_file,
    file_sha256,
    link_type_name,
)
from capture_tls.analysis.report_builder import iso_utc
from capture_tls.analysis.report_store import ReportStore, StoreSegment
from capture_tls.analysis.tracker import FlowKey
from capture_tls.errors import CaptureTlsError, InputError
from capture_tls.protocols.dns import DnsResolution, parse_dns_response, parse_dns_tcp_segment
from capture_tls.protocols.keylog import KeyLog
from capture_tls.sources.captures import FileProblem, open_capture
from capture_tls.sources.fastreader import FastCaptureReader

__all__ = ["MIN_SPLIT_BYTES", "SPLIT_MIN_BYTES_ENV", "analyze_file_split", "plan_split"]

# Below this size one process reads the file: the processes would cost more than they save.
MIN_SPLIT_BYTES = 64 << 20
# Internal (tests): split files from this many bytes on, whatever MIN_SPLIT_BYTES says.
SPLIT_MIN_BYTES_ENV = "CAPTURE_TLS_SPLIT_MIN_BYTES"

_TCP = 6
_UDP = 17
_DNS_PORT = 53
_SYN = 0x02
_ACK = 0x10
# Records (blocks) in a row that must chain for an offset to count as a boundary.
_CHAIN = 8
# Bytes searched for a boundary after each split target.
_SEARCH_BYTES = 4 << 20
_MAX_PCAP_CAPLEN = 256 * 1024
_MAX_BLOCK = 16 << 20
_PCAPNG_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 9, 10, 0x80000001, 0x0A0D0D0A})
# The spooled reports' files are written and read in pieces of this size: a JSON Lines line
# of 5.5 kB was a write(2) of its own, and a read of 8 KiB (the default buffer) each.
_SPOOL_BUFFER_BYTES = 1 << 20
# How often (in lookahead segments) the lookahead checks the idle timeout.
_IDLE_CHECK_EVERY = 1024
_AFTER_PACKETS = re.compile(r"after (\d+) packets")

# Record kinds of a worker's report stream.
_IN_CHUNK = 0
_LOOKAHEAD = 1
_AT_END = 2

_Interface = tuple[int, int, int, int]
_NgState = tuple[str, list[_Interface]]
_Answer = tuple[float, str, DnsResolution]
# (kind, position (segment index, or the local number at the end), sequence, local number,
#  the report, its JSON Lines line or JSON entry (rendered with the local number) or the
#  entry's position in the chunk's store (_Job.entries_dir), its counts: _TLS | _PLAINTEXT |
#  _ERRORS)
_Record = tuple[int, int, int, int, ConnectionReport | str | tuple[Any, ...] | int, int]
_TLS = 1
_PLAINTEXT = 2
_ERRORS = 4


class _Mismatch(Exception):
    """The chunks cannot be merged into the one-process result: read with one process."""


# --- split points ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitPlan:
    fmt: str
    size: int
    bounds: tuple[int, ...]  # chunk k is [bounds[k], bounds[k + 1])
    ng_state: _NgState | None  # pcapng: byte order and interfaces before the first packet
    secrets: tuple[tuple[int, bytes], ...]  # pcapng: secrets blocks before the first packet


def plan_split(path: str, parts: int, min_bytes: int | None = None,
               at: tuple[int, ...] | None = None) -> SplitPlan | None:
    """Where to cut `path` into up to `parts` chunks; None when one process should read it.
    `at` (tests): cut exactly at these offsets, unchecked."""
    if min_bytes is None:
        env = os.environ.get(SPLIT_MIN_BYTES_ENV)
        min_bytes = int(env) if env else MIN_SPLIT_BYTES
    if parts < 2:
        return None
    try:
        size = os.path.getsize(path)
    except OSError:
        return None
    if size < max(min_bytes, 1):
        return None
    if min_bytes > 1:
        # Chunks of at least half the smallest file split: 64 cores do not make 64 chunks of
        # a 64 MiB file.
        parts = min(parts, size // (min_bytes // 2))
        if parts < 2:
            return None
    try:
        reader = open_capture(path)
    except (InputError, OSError):
        return None
    try:
        if not isinstance(reader, FastCaptureReader):
            return None
        if reader.format == "pcap":
            first = reader._start
            ng_state = None
            secrets: tuple[tuple[int, bytes], ...] = ()
        else:
            first = reader._start
            frames = reader.frames()
            for _ in frames:
                break
            if hasattr(frames, "close"):
                frames.close()
            if reader.ng_end is None:
                return None
            ng_state = reader.ng_end
            secrets = tuple(reader.secrets)
    finally:
        reader.close()
    with open(path, "rb") as f:
        head = f.read(24)
        bounds = [first]
        for k in range(1, parts):
            if at is not None:
                bounds.extend(x for x in at if bounds[-1] < x < size)
                break
            target = max(first, size * k // parts)
            if target <= bounds[-1]:
                continue
            if reader.format == "pcap":
                found = _pcap_boundary(f, head, size, target)
            else:
                assert ng_state is not None
                found = _pcapng_boundary(f, ng_state[0], size, target)
            if found is not None and found > bounds[-1] and found < size:
                bounds.append(found)
    if len(bounds) < 2:
        return None
    bounds.append(size)
    return SplitPlan(reader.format, size, tuple(bounds), ng_state, secrets)


def _pcap_boundary(f: IO[bytes], head: bytes, size: int, target: int) -> int | None:
    magic = head[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    div = 1_000_000_000 if nano else 1_000_000
    snap = struct.unpack_from(endian + "I", head, 16)[0]
    maxcap = snap if 0 < snap <= _MAX_PCAP_CAPLEN else _MAX_PCAP_CAPLEN
    rec = struct.Struct(endian + "IIII").unpack_from
    f.seek(24)
    first_rec = f.read(16)
    if len(first_rec) < 16:
        return None
    sec0 = rec(first_rec, 0)[0]
    lo, hi = sec0 - 366 * 86400, sec0 + 20 * 366 * 86400
    f.seek(target)
    window = f.read(_SEARCH_BYTES + _CHAIN * (16 + maxcap))
    searched = min(len(window), _SEARCH_BYTES)

    def ok(at: int) -> int:
        """The offset of the next record after a plausible header at `at` (-1: none)."""
        if at + 16 > len(window):
            return -1
        sec, frac, caplen, wirelen = rec(window, at)
        if caplen > maxcap or caplen > wirelen or frac >= div or not lo <= sec <= hi:
            return -1
        return at + 16 + int(caplen)

    for start in range(searched):
        at = start
        for chained in range(_CHAIN):
            if target + at == size:
                break
            nxt = ok(at)
            if nxt < 0 or (target + nxt > size and chained < 3):
                at = -1
                break
            if target + nxt > size:
                break  # after 3 records, one cut by the end of the file (TRUNCATED_FILE)
            at = nxt
        if at >= 0:
            return target + start
    return None


def _pcapng_boundary(f: IO[bytes], endian: str, size: int, target: int) -> int | None:
    hdr = struct.Struct(endian + "II").unpack_from
    u32 = struct.Struct(endian + "I").unpack_from
    target += -target % 4
    f.seek(target)
    window = f.read(_SEARCH_BYTES + _CHAIN * 65536)

    def ok(at: int) -> int:
        if at + 12 > len(window):
            return -1
        btype, blen = hdr(window, at)
        if (btype not in _PCAPNG_TYPES or btype == 0x0A0D0D0A or blen < 12 or blen & 3
                or blen > _MAX_BLOCK or at + blen > len(window)
                or u32(window, at + blen - 4)[0] != blen):
            return -1
        return at + int(blen)

    for start in range(0, min(len(window), _SEARCH_BYTES), 4):
        at = start
        for _ in range(_CHAIN):
            if target + at == size:
                break
            nxt = ok(at)
            if nxt < 0:
                at = -1
                break
            at = nxt
        if at >= 0:
            return target + start
    return None


# --- one chunk -------------------------------------------------------------------------------


@dataclass
class _Job:
    path: str
    index: int
    options: AnalysisOptions
    k: int
    start: int
    end: int
    size: int
    ng_state: _NgState | None
    secrets: list[tuple[int, bytes]]
    prev_ts: float = 0.0
    dns_preload: list[_Answer] = field(default_factory=list)
    render: Callable[[ConnectionReport], Any] | None = None
    events: str = ""  # the file the flow events go to (_EventLog)
    # JSON entries (`render` is json_report.render_json_entry): written to a ReportStore file
    # in this directory, which the parent's store adopts; a record carries the position.
    entries_dir: str | None = None


@dataclass
class _ChunkResult:
    k: int
    segments: int = 0
    packets: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    link_types: set[int] = field(default_factory=set)
    problems: list[FileProblem] = field(default_factory=list)
    malformed: int = 0
    malformed_dns: int = 0
    limit_dropped: int = 0
    stop_offset: int = -1
    ng_start: _NgState | None = None
    ng_end: _NgState | None = None
    secrets_start: list[tuple[int, bytes]] = field(default_factory=list)
    secrets_end: list[tuple[int, bytes]] = field(default_factory=list)
    needs_prev_ts: bool = False
    created: int = 0  # flows opened (numbered 1..created)
    events: str = ""  # their events (_EventLog)
    # the table at the chunk's end: (pair, client key, local number or 0 for reported)
    boundary: list[tuple[FlowKey, FlowKey, int]] = field(default_factory=list)
    # local number -> ("done" | "syn" | "idle", lookahead index) or ("end", -1)
    lookahead: dict[int, tuple[str, int]] = field(default_factory=dict)
    answers: list[_Answer] = field(default_factory=list)
    internal_errors: list[tuple[int, str]] = field(default_factory=list)
    keylog_blocks: list[tuple[int, bytes]] | None = None
    records: list[_Record] | None = None  # kept in memory (in-process runs)
    spool: str | None = None
    entries: StoreSegment | None = None  # the JSON entries (_Job.entries_dir)


def _dumper(f: IO[bytes]) -> Callable[[Any], None]:
    """Appends one pickle per object. (Not one Pickler for all: its memo would keep every
    object written alive, and the Unpickler's every object read.)"""
    def dump(obj: Any) -> None:
        pickle.dump(obj, f, pickle.HIGHEST_PROTOCOL)
    return dump


def _loader(f: IO[bytes]) -> Callable[[], Any]:
    def load() -> Any:
        return pickle.load(f)
    return load


class _EventLog:
    """What the merge needs of every flow of a chunk, written to a file in batches (memory
    stays flat however many connections a chunk has):
    "o": (local number, segment index, pair) of every flow opened, in order;
    "s": (segment index, key, whether the key's table state was reset there) of every SYN
    without ACK; "h": (local number, client ip, server ip, server port, first ts, SNI,
    intended host) of every report (the DNS check)."""

    BATCH = 4096

    def __init__(self, path: str) -> None:
        self._file = open(path, "wb")
        self._dump = _dumper(self._file)
        self.opened: list[tuple[int, int, FlowKey]] = []
        self.syns: list[tuple[int, FlowKey, bool]] = []
        self.hosts: list[tuple[int, str, str, int, float, str | None, Any]] = []

    def full(self) -> None:
        if (len(self.opened) >= self.BATCH or len(self.syns) >= self.BATCH
                or len(self.hosts) >= self.BATCH):
            self.flush()

    def flush(self) -> None:
        for tag, batch in (("o", self.opened), ("s", self.syns), ("h", self.hosts)):
            if batch:
                self._dump((tag, batch))
        self.opened, self.syns, self.hosts = [], [], []

    def close(self) -> None:
        self.flush()
        self._file.close()


def _events(path: str, tag: str) -> Iterator[Any]:
    """The events of one kind of a chunk's _EventLog, in order."""
    with open(path, "rb") as f:
        load = _loader(f)
        while True:
            try:
                kind, batch = load()
            except EOFError:
                return
            if kind == tag:
                yield from batch


def _reverse(key: FlowKey) -> FlowKey:
    addrs, sport, dport = key
    half = len(addrs) // 2
    return addrs[half:] + addrs[:half], dport, sport


def _pair(key: FlowKey) -> FlowKey:
    return min(key, _reverse(key))


def _add_answers(dns: DnsCache, answers: list[_Answer] | None, ts: float, proto: int,
                 client: bytes, payload: bytes) -> bool:
    try:
        found = parse_dns_response(payload) if proto == _UDP else parse_dns_tcp_segment(payload)
    except CaptureTlsError:
        return False
    if found:
        client_ip = str(ip_address(client))
        for resolution in found:
            dns.add(ts, client_ip, resolution)
            if answers is not None:
                answers.append((ts, client_ip, resolution))
    return True


def _run_chunk(job: _Job, emit: Callable[[_Record], None]) -> _ChunkResult:
    """Analyze one chunk (and its lookahead); reports go to `emit` in completion order."""
    res = _ChunkResult(job.k)
    reader = open_capture(job.path)
    assert isinstance(reader, FastCaptureReader)
    reader.set_range(job.start, job.end, job.ng_state, job.prev_ts)
    reader.secrets[:] = job.secrets
    res.ng_start = job.ng_state
    res.secrets_start = list(job.secrets)
    res.events = job.events
    log = _EventLog(job.events)
    store = (ReportStore(directory=job.entries_dir, named=True)
             if job.entries_dir is not None else None)
    try:
        _analyze_chunk(job, reader, res, log, emit, store)
        if store is not None:
            res.entries = store.segment()
    finally:
        log.close()
        if store is not None:
            store.close()
    return res


def _analyze_chunk(job: _Job, reader: FastCaptureReader, res: _ChunkResult, log: _EventLog,
                   emit: Callable[[_Record], None], store: ReportStore | None) -> None:
    # The kind of position and the reader whose current packet index is a report's position:
    # read when a report comes, not stored for every segment.
    where: list[Any] = [_IN_CHUNK, reader]
    seq = [0]
    render = job.render

    def on_report(report: ConnectionReport) -> None:
        number = int(report.id.rsplit(":", 1)[1])
        kind = where[0]
        counts = ((_TLS if report.tls is not None else 0)
                  | (_PLAINTEXT if report.outcome == "plaintext" else 0))
        for f in report.findings:
            if f.severity == "error":
                counts |= _ERRORS
                break
        payload: Any = report if render is None else render(report)
        if store is not None:
            # The entry stays in this process's file; the record says where (its JSON must
            # start with its id, which the parent's store renames when it is renumbered).
            if not payload[0].startswith(f'{{\n  "id": "{report.id}"'.encode()):
                raise _Mismatch("a connection's JSON does not start with its id")
            position = len(store)
            store.add_encoded(*payload)
            payload = position
        emit((kind, number if kind == _AT_END else where[1].position, seq[0], number,
              payload, counts))
        seq[0] += 1
        log.hosts.append((number, report.client.ip, report.server.ip, report.server.port,
                          report.first_seen_ts, report.tls.sni if report.tls else None,
                          report.intended_host))
        log.full()

    analysis = FrameAnalysis(job.index, job.options, on_report, keep_reports=False,
                             secrets_blocks=reader.secrets)
    dns = analysis.dns
    for ts, client_ip, resolution in job.dns_preload:
        dns.add(ts, client_ip, resolution)
    tracker = analysis.tracker
    segment = tracker.segment
    token = tracker.entry_token
    answers = res.answers
    max_records = job.options.limits.max_dns_records
    created = 0
    # Positions are packet indices in the chunk (the reader's `position`): the segments of
    # reported connections are only counted by the reader (its quiet shortcut), so the
    # segments seen here are not every packet. Read where an event needs one (a SYN, a new
    # flow, a report), not for every segment.
    for ts, proto, addrs, sport, dport, seq_no, flags, payload, truncated in reader.segments(
            tracker.quiet):
        if sport == _DNS_PORT and payload:
            half = len(addrs) // 2
            if _add_answers(dns, answers, ts, proto, addrs[half:], payload):
                if len(answers) > 2 * max_records:
                    del answers[:max_records]  # older than anything a cache would hold
                continue
            analysis.malformed_dns += 1
            if proto != _TCP:
                continue
        if proto != _TCP:
            continue
        if flags & 0x12 == _SYN:
            before = token(addrs, sport, dport)
            segment(ts, addrs, sport, dport, seq_no, flags, payload, truncated)
            log.syns.append((reader.position, (addrs, sport, dport),
                             before is None or token(addrs, sport, dport) is not before))
            log.full()
        else:
            segment(ts, addrs, sport, dport, seq_no, flags, payload, truncated)
        if tracker.created != created:
            created = tracker.created
            log.opened.append((created, reader.position, _pair((addrs, sport, dport))))
            log.full()
    res.segments = reader.packets
    res.created = created
    res.packets = reader.packets
    res.first_ts = reader.first_ts
    res.last_ts = reader.last_ts
    res.link_types = set(reader.link_types)
    res.problems = [FileProblem(p.code, p.message, p.count) for p in reader.problems]
    res.malformed = reader.malformed_frames
    res.stop_offset = reader.stop_offset
    res.ng_end = reader.ng_end
    res.needs_prev_ts = reader.needs_prev_ts
    res.secrets_end = list(reader.secrets)

    if job.end < job.size and res.stop_offset == job.end:
        for key, from_client, conn in tracker.table_entries():
            if from_client:
                res.boundary.append((_pair(key), key, conn.number if conn else 0))
        if tracker.active:
            _lookahead(job, reader, analysis, res, where)
    where[0] = _AT_END
    open_conns = [c for _k, fc, c in tracker.table_entries() if fc and c is not None]
    for conn in open_conns:
        res.lookahead.setdefault(conn.number, ("end", -1))
    analysis.finish()

    res.malformed += analysis.malformed
    res.limit_dropped = tracker.connections_dropped_at_limit
    for message in analysis.internal_errors:
        head = message.split(":", 2)
        number = int(head[1]) if len(head) > 2 and head[1].isdigit() else 0
        res.internal_errors.append((number, message))
    keys = analysis.keys
    if keys.embedded is not None:
        res.keylog_blocks = list(keys._blocks[: keys._seen_blocks])


def _lookahead(job: _Job, reader: FastCaptureReader, analysis: FrameAnalysis,
               res: _ChunkResult, where: list[Any]) -> None:
    """Past the chunk's end: the segments of this chunk's connections still in handshake."""
    tracker = analysis.tracker
    dns = analysis.dns
    more = open_capture(job.path)
    assert isinstance(more, FastCaptureReader)
    more.set_range(job.end, job.size, reader.ng_end, reader.last_ts or 0.0)
    more.secrets = reader.secrets  # the same list: secrets found later reach the key source
    idle = job.options.limits.idle_timeout_seconds
    known = tracker.segment_known
    lookup = tracker.lookup
    events = res.lookahead
    where[0] = _LOOKAHEAD
    where[1] = more
    segments = more.segments(tracker.quiet)
    seen = -1  # segments looked at (the idle check's clock)
    try:
        for ts, proto, addrs, sport, dport, seq_no, flags, payload, truncated in segments:
            j = more.position
            if sport == _DNS_PORT and payload:
                half = len(addrs) // 2
                if _add_answers(dns, None, ts, proto, addrs[half:], payload) or proto != _TCP:
                    continue
            if proto != _TCP:
                continue
            found = lookup(addrs, sport, dport)
            if found is not None:
                conn = found[0]
                outcome = known(ts, addrs, sport, dport, seq_no, flags, payload, truncated)
                if outcome == 2:
                    events[conn.number] = ("syn", j)
                elif conn.done:
                    events[conn.number] = ("done", j)
                if not tracker.active:
                    return
            seen += 1
            if seen % _IDLE_CHECK_EVERY == 0:
                open_conns = [c for _k, fc, c in tracker.table_entries()
                              if fc and c is not None]
                if open_conns and ts - max(c.last_ts for c in open_conns) > idle:
                    for conn in open_conns:
                        events[conn.number] = ("idle", j)
                    analysis.finish()
                    return
    finally:
        close = getattr(segments, "close", None)
        if close is not None:
            close()
        more.close()


# --- processes -------------------------------------------------------------------------------


def _worker_main(job: _Job, out: Connection, spool: str | None) -> None:
    """A worker process: chunk 0 sends its reports over the pipe, the others spool them."""
    try:
        if spool is None:
            batch = _Batcher(out)
            res = _run_chunk(job, batch)
            batch.flush()
        else:
            with open(spool, "wb", buffering=_SPOOL_BUFFER_BYTES) as f:
                res = _run_chunk(job, _dumper(f))
            res.spool = spool
        out.send(("result", res))
    except BaseException:
        out.send(("error", traceback.format_exc()))
    finally:
        out.close()


class _Batcher:
    """Chunk 0's reports to the parent: the first at once, then in batches of up to 64 or
    50 ms (a message per report cost the parent 0.2 s of CPU on the benchmark)."""

    def __init__(self, out: Connection) -> None:
        self.out = out
        self.records: list[_Record] = []
        self.sent_at = 0.0

    def __call__(self, record: _Record) -> None:
        self.records.append(record)
        now = time.monotonic()
        if len(self.records) >= 64 or now - self.sent_at >= 0.05:
            self.flush()
            self.sent_at = now

    def flush(self) -> None:
        if self.records:
            self.out.send(("records", self.records))
            self.records = []


def _spooled(res: _ChunkResult) -> Iterator[_Record]:
    if res.records is not None:
        yield from res.records
        return
    if res.spool is None:
        return
    with open(res.spool, "rb", buffering=_SPOOL_BUFFER_BYTES) as f:
        load = _loader(f)
        while True:
            try:
                yield load()
            except EOFError:
                return


def _run_inline(job: _Job, spool_dir: str, in_memory: bool = False) -> _ChunkResult:
    """A chunk in this process (reruns and tests)."""
    fd, job.events = tempfile.mkstemp(prefix=f"events{job.k}-", suffix=".pkl", dir=spool_dir)
    os.close(fd)
    if in_memory:
        records: list[_Record] = []
        res = _run_chunk(job, records.append)
        res.records = records
        return res
    fd, path = tempfile.mkstemp(prefix=f"chunk{job.k}-", suffix=".pkl", dir=spool_dir)
    with os.fdopen(fd, "wb", buffering=_SPOOL_BUFFER_BYTES) as f:
        res = _run_chunk(job, _dumper(f))
    res.spool = path
    return res


# --- the whole file --------------------------------------------------------------------------


def analyze_file_split(
    path: str,
    index: int,
    options: AnalysisOptions,
    on_connection: Callable[[ConnectionReport], None] | None = None,
    keep_reports: bool = True,
    *,
    jobs: int = 2,
    min_bytes: int | None = None,
    processes: bool = True,
    info: dict[str, Any] | None = None,
    render_line: Callable[[ConnectionReport], Any] | None = None,
    on_line: Callable[[Any], None] | None = None,
    split_at: tuple[int, ...] | None = None,
    entry_store: ReportStore | None = None,
    rename_entry: Callable[[bytes, str], bytes] | None = None,
) -> InputResult:
    """`analyze_file` over up to `jobs` processes (see the module docstring): the same result,
    and `on_connection` called in the same order. With `render_line` and `on_line` (JSON
    Lines, `keep_reports=False`) the workers render the lines and `on_line` receives them
    instead (a report costs 0.17 ms to pickle and unpickle, its line 0.06 ms to render, in
    the workers). With `render_line=json_report.render_json_entry`, `entry_store` and
    `rename_entry` (its `rename_json_entry`) the entries do not come to this process at all:
    each worker writes its own to a file that `entry_store` adopts, with the reports kept and
    their ids (`ReportStore.adopt(keep=...)`); `on_line` is not called. (The benchmark's
    150 MB of entries, pickled, piped or spooled, unpickled and written to the store again,
    cost this process 0.25 s of CPU, of 1.85 s.)

    For tests and benchmarks: `processes=False` runs the chunks one after the other in this
    process; `min_bytes` overrides the size below which one process reads the file;
    `split_at` cuts at these byte offsets; `info` receives "chunks" (the chunks read),
    "reruns" (chunks analyzed again), "discarded" (flows a worker opened that one process
    would not have), "lookahead" (reports completed past their chunk), "rejoined" (keys of an
    earlier chunk's connection that a client SYN gave to a new connection in a later chunk)
    and "fallback" (why one process read the file after all, None when it did not)."""
    info = {} if info is None else info
    info.update(chunks=1, reruns=0, fallback=None, discarded=0, lookahead=0, rejoined=0)
    if entry_store is not None and (render_line is None or rename_entry is None):
        raise ValueError("entry_store needs render_line and rename_entry")
    if render_line is not None and (on_line is not None or entry_store is not None):
        keep_reports = False
        line_out, render = on_line, render_line

        def to_line(report: ConnectionReport) -> None:
            assert line_out is not None
            line_out(render(report))

        def to_store(report: ConnectionReport) -> None:
            assert entry_store is not None
            entry_store.add_encoded(*render(report))

        on_connection = to_line if entry_store is None else to_store
    else:
        render_line = on_line = None
    plan = plan_split(path, jobs, min_bytes, split_at)
    if plan is None:
        return analyze_file(path, index, options, on_connection, keep_reports)
    info["chunks"] = len(plan.bounds) - 1
    out = _Collector(index, on_connection, on_line, keep_reports, entry_store, rename_entry)
    try:
        spool = tempfile.TemporaryDirectory(prefix="capture-tls-split-")
    except OSError as exc:  # no temporary directory to spool to
        info["fallback"] = f"no temporary directory: {exc}"
        return analyze_file(path, index, options, on_connection, keep_reports)
    with spool as spool_dir:
        try:
            return _split(path, index, options, plan, out, spool_dir, processes, info,
                          render_line)
        except _Mismatch as exc:
            info["fallback"] = str(exc)
    skip = out.handed
    seen = [0]

    def rest(report: ConnectionReport) -> None:
        seen[0] += 1
        if seen[0] > skip and on_connection is not None:
            on_connection(report)

    return analyze_file(path, index, options, rest, keep_reports)


class _Collector:
    """The reports in their final order: counted, kept or handed on."""

    def __init__(self, index: int, on_connection: Callable[[ConnectionReport], None] | None,
                 on_line: Callable[[Any], None] | None, keep_reports: bool,
                 entry_store: ReportStore | None = None,
                 rename_entry: Callable[[bytes, str], bytes] | None = None) -> None:
        self.index = index
        self.on_connection = on_connection
        self.on_line = on_line
        self.keep_reports = keep_reports
        self.entry_store = entry_store
        self.rename_entry = rename_entry
        # chunk -> (position in its store, id) of the entries kept, in the final order
        self.kept: dict[int, list[tuple[int, str]]] = {}
        self.connections: list[ConnectionReport] = []
        self.reported = self.tls = self.plaintext = self.with_errors = 0
        self.handed = 0  # reports handed on (on_connection, on_line): a fallback skips them

    def __call__(self, record: _Record, number: int, chunk: int = 0) -> None:
        """A worker's report, `number` its number in the whole file, `chunk` its worker's."""
        payload, counts = record[4], record[5]
        self.reported += 1
        self.tls += counts & _TLS
        self.plaintext += (counts & _PLAINTEXT) >> 1
        self.with_errors += (counts & _ERRORS) >> 2
        conn_id = f"{self.index}:{number}"
        if isinstance(payload, int):
            self.kept.setdefault(chunk, []).append((payload, conn_id))
            return
        self.handed += 1
        if isinstance(payload, bytes):
            # json_report.render_jsonl_line: the same as a str line, in UTF-8.
            prefix_b = f'{{"id":"{self.index}:{record[3]}"'.encode()
            if not payload.startswith(prefix_b):
                raise _Mismatch("a JSON Lines line does not start with its id")
            if self.on_line is not None:
                # Chunk 0's numbers are the file's: its lines go as they are (5.5 kB not
                # copied twice).
                self.on_line(payload if number == record[3] else
                             f'{{"id":"{conn_id}"'.encode() + payload[len(prefix_b):])
            return
        if isinstance(payload, str):
            # The line starts with its id (json_report.connection_to_dict): swap the number.
            prefix = f'{{"id":"{self.index}:{record[3]}"'
            if not payload.startswith(prefix):
                raise _Mismatch("a JSON Lines line does not start with its id")
            if self.on_line is not None:
                self.on_line(f'{{"id":"{conn_id}"' + payload[len(prefix):])
            return
        if isinstance(payload, tuple):
            # json_report.render_json_entry: (indented JSON starting with its id, the fields
            # of the report store's index).
            data, ts, ip, port, _local_id, user = payload
            head = f'{{\n  "id": "{self.index}:{record[3]}"'.encode()
            if not data.startswith(head):
                raise _Mismatch("a connection's JSON does not start with its id")
            if self.on_line is not None:
                if number != record[3]:
                    data = f'{{\n  "id": "{conn_id}"'.encode() + data[len(head):]
                self.on_line((data, ts, ip, port, conn_id, user))
            return
        report = replace(payload, id=conn_id)
        if self.keep_reports:
            self.connections.append(report)
        if self.on_connection is not None:
            self.on_connection(report)


def _jobs(path: str, index: int, options: AnalysisOptions, plan: SplitPlan) -> list[_Job]:
    # Chunk 0 reads the file's first blocks itself; the others start with their state.
    return [
        _Job(path, index, options, k, plan.bounds[k], plan.bounds[k + 1], plan.size,
             plan.ng_state if k else None, list(plan.secrets) if k else [])
        for k in range(len(plan.bounds) - 1)
    ]


def _split(path: str, index: int, options: AnalysisOptions, plan: SplitPlan,
           emit: _Collector, spool_dir: str, processes: bool, info: dict[str, Any],
           render: Callable[[ConnectionReport], Any] | None) -> InputResult:
    jobs = _jobs(path, index, options, plan)
    for job in jobs:
        job.render = render
        job.events = os.path.join(spool_dir, f"events{job.k}.pkl")
        if emit.entry_store is not None:
            job.entries_dir = spool_dir
    held: list[_Record] = []  # chunk 0's reports completed after its chunk

    def first_record(record: _Record) -> None:
        if record[0] == _IN_CHUNK:
            emit(record, record[3])  # chunk 0's numbers are the file's
        else:
            held.append(record)

    sha: list[str | None] = [None]
    if processes:
        running = _start_processes(jobs, spool_dir)
        # Started after the fork: a thread must not be running when a process forks. (Worker
        # 0 could hash while it reads, but then the rest of the file after its chunk: work
        # that unbalances the workers by 10% of the analysis on this benchmark and by half on
        # a capture of few connections; a thread here is shared out by the scheduler.)
        hasher = threading.Thread(target=lambda: sha.__setitem__(0, file_sha256(path)))
        hasher.start()
        try:
            results = _wait_processes(running, first_record)
        finally:
            hasher.join()
    else:
        first = _run_chunk(jobs[0], first_record)
        results = [first] + [_run_inline(job, spool_dir, True) for job in jobs[1:]]
        sha[0] = file_sha256(path)
    results[0].records = held
    results[0].spool = None
    return _merge(path, index, options, plan, jobs, results, emit, spool_dir, sha[0], info,
                  processes)


@dataclass
class _Running:
    jobs: list[_Job]
    conns: list[Connection]
    procs: list[Any]
    results: list[_ChunkResult | None]


def _start_processes(jobs: list[_Job], spool_dir: str) -> _Running:
    ctx = multiprocessing.get_context("fork")
    # The parent's objects stay where they are: a collection in a worker would otherwise
    # write to (and so copy) every page of the inherited heap.
    gc.freeze()
    conns: list[Connection] = []
    procs: list[Any] = []
    for job in jobs:
        recv, send = ctx.Pipe(duplex=False)
        spool = None if job.k == 0 else os.path.join(spool_dir, f"chunk{job.k}.pkl")
        proc = ctx.Process(target=_worker_main, args=(job, send, spool), daemon=True)
        proc.start()
        send.close()
        conns.append(recv)
        procs.append(proc)
    gc.unfreeze()
    return _Running(jobs, conns, procs, [None] * len(jobs))


def _wait_processes(running: _Running, first_record: Callable[[_Record], None]
                    ) -> list[_ChunkResult]:
    pending = {c: k for k, c in enumerate(running.conns)}
    try:
        while pending:
            for ready in wait(list(pending)):
                assert isinstance(ready, Connection)
                k = pending[ready]
                try:
                    kind, payload = ready.recv()
                except EOFError:
                    raise _Mismatch(f"worker {k} ended without a result") from None
                if kind == "records":
                    for record in payload:
                        first_record(record)
                    continue
                del pending[ready]
                ready.close()
                if kind == "error":
                    raise _Mismatch(f"worker {k} failed: {payload}")
                running.results[k] = payload
    finally:
        for proc in running.procs:
            if proc.is_alive() and pending:
                proc.terminate()
            proc.join()
        for c in pending:
            c.close()
    out = [r for r in running.results if r is not None]
    assert len(out) == len(running.results)
    return out


class _Numbers:
    """A chunk's local flow numbers -> the file's: None for a discarded flow."""

    def __init__(self, before: int, discarded: set[int]) -> None:
        self.before = before
        self.discarded = discarded
        self._sorted = sorted(discarded)

    def get(self, number: int) -> int | None:
        if number in self.discarded:
            return None
        return self.before + number - bisect.bisect_left(self._sorted, number)


@dataclass
class _Foreign:
    """A key in an earlier owner's table at a chunk's start (see the module docstring)."""

    ckey: FlowKey
    syn_at: tuple[int, int] | None = None  # a client SYN ended it, in handshake, here
    marker_from: tuple[int, int] | None = None  # reported from here on (None: never)


def _merge(path: str, index: int, options: AnalysisOptions, plan: SplitPlan,
           jobs: list[_Job], results: list[_ChunkResult], emit: _Collector, spool_dir: str,
           sha256: str | None, info: dict[str, Any], processes: bool) -> InputResult:
    # 1. Where reading really stopped: the split points must be record boundaries; damage that
    # stops the reading in a chunk ends the input there.
    for k, res in enumerate(results):
        if res.stop_offset == -1:
            results = results[: k + 1]
            break
        if res.stop_offset != jobs[k].end:
            raise _Mismatch(f"chunk {k} ended at {res.stop_offset}, not {jobs[k].end}")
    n = len(results)
    # 2. pcapng state at each chunk's start (interfaces, secrets, previous frame time): a
    # chunk started with the wrong one is analyzed again, in order (rare: a block in the
    # middle of the file), with the DNS answers before it.
    answers: list[_Answer] = list(results[0].answers)
    done_again: set[int] = set()
    for k in range(1, n):
        prev = results[k - 1]
        job = jobs[k]
        rerun = False
        if plan.fmt == "pcapng" and (prev.ng_end != results[k].ng_start
                                     or prev.secrets_end != results[k].secrets_start):
            assert prev.ng_end is not None
            job.ng_state = prev.ng_end
            job.secrets = list(prev.secrets_end)
            rerun = True
        if results[k].needs_prev_ts:
            job.prev_ts = next((r.last_ts for r in reversed(results[:k])
                                if r.last_ts is not None), 0.0)
            rerun = True
        if rerun:
            job.dns_preload = list(answers)
            info["reruns"] += 1
            done_again.add(k)
            results[k] = _run_inline(job, spool_dir)
            if results[k].stop_offset not in (job.end, -1):
                raise _Mismatch(f"chunk {k} ended elsewhere when analyzed again")
            if results[k].stop_offset == -1:
                results = results[: k + 1]
                n = k + 1
                break
        answers.extend(results[k].answers)
    # 3. The DNS answers of the earlier chunks: a chunk whose reports they change is analyzed
    # again with them loaded first; these chunks at the same time (the answers a chunk finds
    # do not depend on the ones loaded).
    answers = list(results[0].answers)
    again: list[_Job] = []
    for k in range(1, n):
        if k not in done_again and answers and _dns_matters(options, answers, results[k]):
            jobs[k].dns_preload = list(answers)
            again.append(jobs[k])
        answers.extend(results[k].answers)
    if again:
        info["reruns"] += len(again)
        if processes and len(again) > 1:
            redone = _wait_processes(_start_processes(again, spool_dir), lambda _r: None)
        else:
            redone = [_run_inline(job, spool_dir) for job in again]
        for job, res in zip(again, redone, strict=True):
            if res.stop_offset != results[job.k].stop_offset:
                raise _Mismatch(f"chunk {job.k} ended elsewhere when analyzed again")
            results[job.k] = res

    # 4. Which flows the one-process tracker opened, and their numbers: a chunk's flow keeps
    # its local number less the discarded flows before it, plus the flows of earlier chunks.
    counts = [r.segments for r in results]

    def position(chunk: int, j: int) -> tuple[int, int]:
        while chunk < n and j >= counts[chunk]:
            j -= counts[chunk]
            chunk += 1
        return chunk, j

    foreign: dict[FlowKey, _Foreign] = {}
    numbering: list[_Numbers] = []
    total = 0
    for k, res in enumerate(results):
        discard: set[int] = set()
        if foreign:
            by_pair: dict[FlowKey, list[tuple[int, int]]] = {}
            for number, i, pair in _events(res.events, "o"):
                if pair in foreign:
                    by_pair.setdefault(pair, []).append((i, number))
            syn_at: dict[FlowKey, list[tuple[int, FlowKey, bool]]] = {}
            for ev in _events(res.events, "s"):
                pair = _pair(ev[1])
                if pair in foreign:
                    syn_at.setdefault(pair, []).append(ev)
            for pair in set(by_pair) | set(syn_at):
                f = foreign[pair]
                leave: int | None = None
                if f.syn_at is not None:
                    if f.syn_at[0] == k:
                        leave = f.syn_at[1]
                elif f.marker_from is not None:
                    for i, key, _fresh in syn_at.get(pair, ()):
                        if key == f.ckey and (k, i) > f.marker_from:
                            leave = i
                            break
                for i, number in by_pair.get(pair, ()):
                    if leave is None or i < leave:
                        discard.add(number)
                if leave is not None:
                    fresh = next((ev[2] for ev in syn_at.get(pair, ()) if ev[0] == leave), None)
                    if not fresh:
                        raise _Mismatch(f"chunk {k}: key state differs at segment {leave}")
                    del foreign[pair]
                    info["rejoined"] += 1
        numbering.append(_Numbers(total, discard))
        total += res.created - len(discard)
        info["discarded"] += len(discard)
        for pair, ckey, number in res.boundary:
            if pair in foreign:
                continue
            if number == 0:
                foreign[pair] = _Foreign(ckey, marker_from=(k + 1, -1))
                continue
            kind, j = res.lookahead.get(number, ("end", -1))
            if kind == "syn":
                foreign[pair] = _Foreign(ckey, syn_at=position(k + 1, j))
            elif kind in ("done", "idle"):
                foreign[pair] = _Foreign(ckey, marker_from=position(k + 1, j))
            else:
                foreign[pair] = _Foreign(ckey)

    # 5. The reports in one-process completion order, renumbered.
    end_chunk = n + 1

    def stream(k: int) -> Iterator[tuple[tuple[int, int, int, int], _Record, int, int]]:
        numbers = numbering[k]
        for record in _spooled(results[k]):
            kind, at, seq, number = record[:4]
            global_number = numbers.get(number)
            if global_number is None:
                continue
            if kind == _IN_CHUNK:
                key = (k, at, 1, seq)
            elif kind == _LOOKAHEAD:
                info["lookahead"] += 1
                c, j = position(k + 1, at)
                key = (c, j, 0, seq)
            else:
                key = (end_chunk, global_number, 0, seq)
            yield key, record, global_number, k

    # (chunk 0's reports completed inside its chunk were emitted while it ran)
    streams = [stream(k) for k in range(n)]
    for _key, record, number, k in heapq.merge(*streams, key=lambda item: item[0]):
        emit(record, number, k)
    if emit.entry_store is not None:
        # (checked before the first is adopted: a fallback must not find some adopted)
        if any(results[k].entries is None for k in emit.kept):
            raise _Mismatch("a chunk sent entries without their store")
        for k, kept in sorted(emit.kept.items()):
            segment = results[k].entries
            assert segment is not None
            emit.entry_store.adopt(segment, kept, emit.rename_entry)
            emit.handed += len(kept)
    return _result(path, index, options, plan, results, numbering, emit, sha256)


def _dns_matters(options: AnalysisOptions, answers: list[_Answer], res: _ChunkResult) -> bool:
    """Whether the answers of earlier chunks change the intended host of a report of `res`."""
    addresses: set[str] = set()
    for _ts, _client, resolution in answers:
        for a in resolution.addresses:
            try:
                addresses.add(str(ip_address(a)))
            except ValueError:
                continue
    hosts = [h for h in _events(res.events, "h") if h[2] in addresses]
    if not hosts:
        return False
    cache = DnsCache(options.limits.max_dns_records)
    for ts, client, resolution in [*answers, *res.answers]:
        cache.add(ts, client, resolution)
    for _number, client_ip, server_ip, server_port, first_ts, sni, intended in hosts:
        found = choose_intended_host(options.host_for(server_ip, server_port), sni, client_ip,
                                     server_ip, first_ts, cache, options.hosts_file)
        if found != intended:
            return True
    return False


def _count_from(before: int) -> Callable[[re.Match[str]], str]:
    """A chunk's "after N packets" counted from the file's start."""
    def sub(m: re.Match[str]) -> str:
        return f"after {int(m[1]) + before} packets"
    return sub


def _result(path: str, index: int, options: AnalysisOptions, plan: SplitPlan,
            results: list[_ChunkResult], numbering: list[_Numbers],
            out: _Collector, sha256: str | None) -> InputResult:
    packets = 0
    problems: list[FileProblem] = []
    link_types: set[int] = set()
    first_ts = last_ts = None
    for res in results:
        for p in res.problems:
            message = _AFTER_PACKETS.sub(_count_from(packets), p.message, count=1)
            same = next((q for q in problems if q.code == p.code), None)
            if same is not None:
                same.count += p.count
            else:
                problems.append(FileProblem(p.code, message, p.count))
        packets += res.packets
        link_types |= res.link_types
        if first_ts is None:
            first_ts = res.first_ts
        if res.last_ts is not None:
            last_ts = res.last_ts
    # The counters behind the input-level warnings, summed into one FrameAnalysis.
    analysis = FrameAnalysis(index, options, keep_reports=False)
    for k, res in enumerate(results):
        analysis.malformed += res.malformed
        analysis.malformed_dns += res.malformed_dns
        analysis.tracker.connections_dropped_at_limit += res.limit_dropped
        for number, message in res.internal_errors:
            global_number = numbering[k].get(number) if number else None
            if number and global_number is None:
                continue
            if global_number is not None:
                message = f"{index}:{global_number}:" + message.split(":", 2)[2]
            analysis.internal_errors.append(message)
    blocks = next((r.keylog_blocks for r in reversed(results) if r.keylog_blocks is not None),
                  None)
    if blocks is not None:
        analysis.keys.embedded = KeyLog.from_secrets_blocks(blocks)
    result = InputResult(
        InputSummary(
            path=path,
            size=plan.size,
            sha256=sha256,
            format="pcap" if plan.fmt == "pcap" else "pcapng",
            link_types=tuple(sorted(link_type_name(lt) for lt in link_types)),
            packets=packets,
            first_packet=iso_utc(first_ts) if first_ts is not None else None,
            last_packet=iso_utc(last_ts) if last_ts is not None else None,
        ),
        connections=out.connections,
        internal_errors=analysis.internal_errors,
        reported=out.reported,
        tls=out.tls,
        plaintext=out.plaintext,
        with_errors=out.with_errors,
    )
    for p in problems:
        result.warnings.append(InputWarning(p.code, p.message, p.count, path))
    result.warnings.extend(analysis.warnings(path))
    result.connections.sort(key=lambda c: (c.first_seen_ts, c.client.ip, c.client.port))
    return result

