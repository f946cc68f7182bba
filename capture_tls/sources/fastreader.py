"""The project's own pcap/pcapng reader: the hot path, with scapy's reader kept as the check.

Figures (2026-11-25, the 2-CPU build machine, CPython 3.11.7 as installed there, other jobs
running; CPU time per packet of `for _ in reader.segments(): pass`, best of 3-5 runs; files from
`python bench/gen_capture.py --connections 2000 --packets N --distinct-leaves 50 --seed 1`,
Ethernet/IPv4/TCP, 0.9 kB frames; scapy = open_capture(engine="scapy"), its raw readers plus
decode_frame, i.e. what the pipeline did before):

    file                  segments()   frames()   scapy segments()   scapy frames()
    200k pcap (149 MB)    0.81 us      0.50 us    3.24 us            2.00 us
    2M pcap (1.8 GB)      0.73 us      0.46 us    3.23 us            1.99 us
    200k pcapng (152 MB)  1.00 us      0.69 us    5.63 us            4.27 us
    2M pcapng (1.9 GB)    0.98 us      0.64 us    5.90 us            4.53 us

So 4.4x (pcap) and 6x (pcapng) scapy's speed; pcap meets the 0.8 us target, pcapng is about
0.2 us over it (its blocks need more checks: type, trailing length, padding/options,
interface). On this build a bare `while` loop doing one `unpack_from` per record already costs
0.25-0.3 us, and a generator yielding the 9-tuple with no checks at all 0.63 us: what is left
is the checks that keep damaged input exact. Peak RSS (GNU time) of reading the 1.8 GB pcap
or the 1.9 GB pcapng: 55 MB, against 53 MB for only importing and opening (and 53 MB for
scapy's reader): flat. 512 KiB chunks measured clearly faster than 4-8 MiB ones (0.79 against
1.2 us/packet for the 200k pcap: a big chunk is faulted in page by page on every read, with
the kernel's copy on top; a small one is reused by malloc and stays in the L2 cache).

Measure: `python -c "..."` loops as above, /usr/bin/time -v for the RSS; instruction counts
per packet (valgrind --tool=callgrind, 3 runs minus 1) were the guide for the hot loops.

Theory of operation
-------------------
The file is read in chunks (`chunk_size`, 512 KiB by default) into one `bytes` buffer;
records are walked with precompiled `struct.Struct.unpack_from` on that buffer, and frames and
payloads are slices of it. A record that runs past the end of the buffer is completed by
reading the buffer's tail again at the start of the next chunk (`_refill`; joining the tail to
the chunk copied every chunk twice), so memory holds at most one chunk plus one record (a
pcapng block is bounded by `_MAX_BLOCK_BYTES`): flat, whatever the file size. There is no
per-packet `read()` and no per-packet object besides the yielded tuple and its payload slice.

`segments()` fuses the record loop with header decoding: Ethernet, Linux cooked v1 (SLL) and
v2 (SLL2) carrying IPv4 without options (IHL 5, not a fragment) or IPv6 without extension
headers, with TCP, are decoded inline by one `unpack_from` each. Every other frame (VLAN tags,
BSD/raw-IP link types, IP options, fragments, IPv6 extension headers, UDP, frames cut by the
snap length, TSO frames with a zero IP length) goes through `frames.decode_frame` on the frame
slice, so the result is always what decode_frame gives. decode_frame's `ProtocolError` is
counted in `malformed_frames`, never raised.

Semantics are those of the scapy-based `CaptureReader` in captures.py, including its damage
handling (TRUNCATED_FILE, DAMAGED_BLOCK with the same messages and the same resynchronisation
after a bad pcapng block length), its handling of pcapng sections, if_tsresol, if_tsoffset,
Simple Packet Blocks (no time: the previous frame's), obsolete Packet Blocks, Decryption
Secrets Blocks, and the few places where scapy's own block handlers refuse a block (an EPB
flags or process-information option of the wrong size, a Process Information Block shorter
than 4 bytes, a Section Header Block of major version other than 1): each of those is skipped
as "unreadable contents", as there. tests/test_fastreader.py checks both readers frame for
frame on every sample, on damaged files and on random chunk sizes.

Timestamps are the same doubles as there: an integer tick count divided by an integer
resolution (`int / int` is correctly rounded in Python), plus the interface's if_tsoffset;
computed in floats where that is exact (tick counts below 2^53, i.e. microsecond resolution),
which gives the same correctly rounded quotient.

API (in captures.py): `open_capture(path, engine="fast", chunk_size=None)` returns a
`FastCaptureReader` (a `CaptureReader`); `engine="scapy"` gives scapy's. Both have
`frames()` -> (ts, link type, frame, wirelen) and `segments()` -> `Segment` tuples (ts, proto
6/17, src+dst addresses (8 or 32 bytes), sport, dport, seq, flags, payload, truncated), and
after iterating: packets, first_ts, last_ts, link_types, problems, secrets,
malformed_frames. Iterate one of them once; the file is closed at its end.
"""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Literal, Protocol

from capture_tls.errors import InputError, ProtocolError
from capture_tls.sources.captures import (
    _MAX_FRAME_BYTES,
    _MAX_PCAP_RECORD_BYTES,
    _SHB,
    DAMAGED_BLOCK,
    TRUNCATED_FILE,
    CaptureReader,
    RawFrame,
    Segment,
    _Problems,
    find_next_block,
    pcapng_block_header,
)
from capture_tls.sources.frames import decode_frame

__all__ = ["DEFAULT_CHUNK_SIZE", "FastCaptureReader", "open_fast"]

# 512 KiB: measured faster than 4-8 MiB chunks here (a chunk that stays in the L2 cache and
# is reused by malloc, instead of fresh pages faulted in for every chunk): see the figures.
DEFAULT_CHUNK_SIZE = 512 * 1024

_U32 = {"<": struct.Struct("<I").unpack_from, ">": struct.Struct(">I").unpack_from}
_U16 = {"<": struct.Struct("<H").unpack_from, ">": struct.Struct(">H").unpack_from}
_HDR = {"<": struct.Struct("<II").unpack_from, ">": struct.Struct(">II").unpack_from}
_HH = {"<": struct.Struct("<HH").unpack_from, ">": struct.Struct(">HH").unpack_from}
_I64 = {"<": struct.Struct("<q").unpack_from, ">": struct.Struct(">q").unpack_from}
# pcap record header: seconds, fraction, captured length, original length
_PCAP_REC = {"<": struct.Struct("<IIII").unpack_from, ">": struct.Struct(">IIII").unpack_from}
# An Enhanced Packet Block's header and fixed fields in one go: type, total length, interface
# id, timestamp high, timestamp low, captured length, original length.
_EPB = {"<": struct.Struct("<7I").unpack_from, ">": struct.Struct(">7I").unpack_from}
_EPB6 = {"<": struct.Struct("<6I4x").unpack_from, ">": struct.Struct(">6I4x").unpack_from}
# Fixed fields of a block body (offset 0 of the body): EPB (interface, captured length),
# obsolete PB (interface, drops, ts high, ts low, caplen, wirelen), IDB (link, snaplen).
_EPB_BODY = {"<": struct.Struct("<IIIII").unpack_from, ">": struct.Struct(">IIIII").unpack_from}
_PB_BODY = {"<": struct.Struct("<HH4I").unpack_from, ">": struct.Struct(">HH4I").unpack_from}
_IDB_BODY = {"<": struct.Struct("<HxxI").unpack_from, ">": struct.Struct(">HxxI").unpack_from}

_BOM_LE = b"\x4d\x3c\x2b\x1a"
_BOM_BE = b"\x1a\x2b\x3c\x4d"
_MAX_FAST_EPB = 32 + _MAX_FRAME_BYTES  # larger blocks take the slow path (frame cut there)

# Link types decoded inline: (offset of the ethertype, offset of the IP header).
_FUSED_LINKS: dict[int, tuple[int, int]] = {1: (12, 14), 113: (14, 16), 276: (0, 20)}


# pcap record header without the original length (segments() does not need it)
_PCAP_REC3 = {"<": struct.Struct("<III4x").unpack_from, ">": struct.Struct(">III4x").unpack_from}
# A pcapng timestamp's high word below this: the tick count is below 2^53, exact in a double.
_TICKS_FLOAT_LIMIT = 1 << 21
# Indexed by the 16 bits of TCP data offset and flags (a table lookup costs less than shifting
# and masking an int here): the IPv4 (20) or IPv6 (40) header plus the TCP header length, 0
# when the data offset is below 5 (malformed: decode_frame raises); the 9 flag bits.
# The tables are built from repeated runs (8 ms for all seven at import, against 40 ms for
# one generator step per entry: a fifth of a small capture's run); tests/test_fastreader.py
# checks every entry against the definitions above.


def _by_data_offset(ip_header_bytes: int) -> tuple[int, ...]:
    out: list[int] = []
    for d in range(16):  # the data offset is the top 4 bits
        out.extend((0 if d < 5 else ip_header_bytes + (d << 2),) * 4096)
    return tuple(out)


_HL4 = _by_data_offset(20)
_HL6 = _by_data_offset(40)
_FLAGS = tuple(range(512)) * 128  # the low 9 bits
# From 2 bytes before the IPv4 header: those 2 bytes and version/IHL and TOS, total length,
# flags/fragment offset, protocol, source + destination; TCP ports, seq, data offset + flags.
_V4 = struct.Struct("!IH2xHxB2x8sHHI4xH")
_V6 = struct.Struct("!B3xHB1x32sHHI4xH")
_U16BE = struct.Struct("!H").unpack_from


def _fused(link: int) -> tuple[int, int, int, int, int, int]:
    """(ethertype offset, IP offset, the value of the 4 bytes from 2 before the IP header
    that means "ethertype IPv4, IHL 5, TOS 0" (-1 when those bytes are not the ethertype and
    the start of the IP header: SLL2), minimum frame lengths for the inline IPv4 and IPv6
    decoders, unused). A link type only decode_frame decodes has minimums past any frame."""
    if link not in _FUSED_LINKS:
        return 0, 0, -1, 1 << 62, 1 << 62, 0
    eoff, ipoff = _FUSED_LINKS[link]
    return eoff, ipoff, 0x08004500 if ipoff == eoff + 2 else -1, ipoff + 40, ipoff + 60, 0


def _interface_params(
    iface: _Interface, link_types: set[int]
) -> tuple[int, int, int, float, float, int, int, int, int, int, int]:
    """What the pcapng hot loop keeps for the interface of the packets it is reading: link
    type, tsresol, tsoffset (int and float: float + int converts the int to a double first,
    so adding either gives the same sum), tsresol as a float and the timestamp high word
    below which float arithmetic is exact (0: never), and the `_fused` parameters."""
    link, _snap, tsresol, tsoff = iface
    link_types.add(link)
    fres = float(tsresol)
    flim = _TICKS_FLOAT_LIMIT if fres == tsresol else 0
    return (link, tsresol, tsoff, float(tsoff), fres, flim, *_fused(link)[:5])


# The tables of `_V4`'s last field (data offset and flags) and of the IP total length, indexed
# by the value read in little-endian order (pcap files written on little-endian machines).
# (As read little-endian, the data offset is bits 4-7 and the flags bit 8 is bit 0.)
_HL4_LE = tuple(_HL4[low << 8] for low in range(256)) * 256


def _flags_le() -> tuple[int, ...]:
    out: list[int] = []
    for high in range(256):
        out.extend((high, 256 + high) * 128)
    return tuple(out)


_FLAGS_LE = _flags_le()
_SAME16 = tuple(range(65536))
_swap = array("H", _SAME16)
_swap.byteswap()
_SWAP16 = tuple(_swap)
del _swap


def _quiet_pcap(endian: str, ipoff: int, etv4: int, pcapng: bool = False
                ) -> tuple[Any, int, int, int, tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The pcap hot loop's shortcut for segments of quiet flows: a struct reading, in the
    file's byte order, the record header (seconds, fraction, captured length) and, from 2
    bytes before the IPv4 header, the ethertype/version/TOS word, total length, flags and
    fragment offset, protocol, addresses and ports (the quiet key) and data offset + flags;
    its size; the values of the first word (ethertype IPv4, IHL 5, TOS 0) and of "don't
    fragment" as read in that order; and the tables that turn the last fields into numbers.
    A link type without such a fixed layout gets a size no buffer reaches. `pcapng`: the
    same after an Enhanced Packet Block's header (type, length, interface, timestamp high and
    low words, captured length) instead of the record header."""
    if etv4 == -1:
        return None, 1 << 62, -1, -1, _SAME16, _HL4, _FLAGS
    head = "6I4x" if pcapng else "III4x"
    st = struct.Struct(f"{endian}{head}{ipoff - 2}xIH2xHxB2x12s8xH")
    order: Literal["little", "big"] = "little" if endian == "<" else "big"
    qx = int.from_bytes(etv4.to_bytes(4, "big"), order)
    qdf = int.from_bytes(b"\x40\x00", order)
    if endian == "<":
        return st.unpack_from, st.size, qx, qdf, _SWAP16, _HL4_LE, _FLAGS_LE
    return st.unpack_from, st.size, qx, qdf, _SAME16, _HL4, _FLAGS


# What the block-by-block path returns for a packet: (timestamp, or None for "the previous
# frame's" (a Simple Packet Block), link type, frame bytes, original length).
_BlockFrame = tuple[float | None, int, bytes, int]


class _Unreadable(Exception):
    """A block whose framing is fine but which scapy's handler refuses (EOFError there)."""


def _options(data: bytes, start: int, stop: int, endian: str) -> dict[int, bytes]:
    """pcapng options in data[start:stop], as scapy's `_read_options` reads them: the last
    occurrence of a code wins, a value that does not fit is ignored, code 0 ends the list."""
    hh = _HH[endian]
    opts: dict[int, bytes] = {}
    off = start
    while stop - off >= 4:
        code, length = hh(data, off)
        voff = off + 4
        if code == 0:
            break
        if voff + length <= stop:
            opts[code] = data[voff : voff + length]
        off = voff + length + (-length % 4)
    return opts


def _epb_options_ok(data: bytes, start: int, stop: int, endian: str) -> bool:
    """False where scapy's EPB handler would raise: a flags option (2) that is not empty and
    not 4 bytes, or a process information index (0x8001, 0x8003) that is not 4 bytes."""
    opts = _options(data, start, stop, endian)
    flags = opts.get(2)
    if flags and len(flags) != 4:
        return False
    for code in (0x8001, 0x8003):
        v = opts.get(code)
        if v is not None and len(v) != 4:
            return False
    return True


# A flow's key for the `quiet` shortcut, as the hot loop slices it from the packet: source and
# destination address, then source and destination port (big-endian): 12 bytes for IPv4, 36
# for IPv6.
QuietKey = bytes


class QuietFlow(Protocol):
    """A flow whose segments need no decoding any more (a connection already reported): the
    reader only notes when it was last seen."""

    last_ts: float


class _BackgroundSha256:
    """SHA-256 of the file the reader reads in order. For a large file a small child process
    hashes the same bytes (the first `size` bytes of the same path) on the other core, while
    the reader parses: 0.8 s of a 1.5 GB capture's analysis that no longer adds to it. A
    thread (hashlib releases the GIL) and a pipe to a child were tried first: the hand-over of
    the GIL at every write, and the blocking pipe writes, made the whole run slower. If the
    file changed while it was read (size or modification time), or the child failed, there is
    no digest and the caller hashes again. Small files are hashed here, from the chunks."""

    _CHILD_FROM_BYTES = 32 << 20
    _CHILD_CODE = (
        "import hashlib, sys\n"
        "left = int(sys.argv[2])\n"
        "h = hashlib.sha256()\n"
        "with open(sys.argv[1], 'rb', buffering=0) as f:\n"
        "    while left > 0 and (chunk := f.read(min(left, 1 << 20))):\n"
        "        h.update(chunk)\n"
        "        left -= len(chunk)\n"
        "sys.stdout.write(h.hexdigest() if left == 0 else '')\n"
    )

    def __init__(self, head: bytes, path: str, size: int, stat: os.stat_result | None) -> None:
        self._hash: Any = hashlib.sha256(head)
        self._digest: str | None = None
        self._path = path
        self._stat = stat
        self._child: subprocess.Popen[bytes] | None = None
        if size >= self._CHILD_FROM_BYTES and stat is not None:
            try:
                self._child = subprocess.Popen(
                    [sys.executable, "-I", "-c", self._CHILD_CODE, path, str(size)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            except (OSError, ValueError):
                self._child = None

    def update(self, chunk: bytes | memoryview) -> None:
        if self._child is None:
            self._hash.update(chunk)

    def hexdigest(self) -> str | None:
        """None when the child failed or the file changed (the caller hashes again)."""
        if self._digest is not None:
            return self._digest
        child = self._child
        if child is None:
            self._digest = self._hash.hexdigest()
            return self._digest
        try:
            out, _ = child.communicate(timeout=3600)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            self.abandon()
            return None
        text = out.decode("ascii", "replace").strip()
        if child.returncode != 0 or len(text) != 64 or not self._unchanged():
            return None
        self._digest = text
        return text

    def _unchanged(self) -> bool:
        try:
            now = os.stat(self._path)
        except OSError:
            return False
        before = self._stat
        return before is not None and (now.st_size, now.st_mtime_ns, now.st_ino) == (
            before.st_size, before.st_mtime_ns, before.st_ino)

    def abandon(self) -> None:
        """No digest wanted (the reader stopped early, or seeked): end the child now."""
        child = self._child
        if child is not None and child.returncode is None:
            child.kill()
            child.wait()
        if child is not None and child.stdout is not None:
            child.stdout.close()


# An interface: (link type, snap length, tsresol (an int: ticks per second), tsoffset)
_Interface = tuple[int, int, int, int]


@dataclass(eq=False)
class FastCaptureReader(CaptureReader):
    """`CaptureReader` read by this module (see the module docstring). `frames()` yields the
    same tuples as the scapy engine; `segments()` yields decoded TCP/UDP segments."""

    chunk_size: int = DEFAULT_CHUNK_SIZE
    # Where records start (after the pcap header or the first Section Header Block), the byte
    # order of the file (pcap) or of the first section (pcapng), and pcap's link type and
    # time divisor.
    _start: int = field(default=0, repr=False)
    _endian: str = field(default="<", repr=False)
    _pcap_link: int = field(default=0, repr=False)
    _pcap_div: int = field(default=1_000_000, repr=False)
    # The file's SHA-256, computed from the chunks as they are read: a second pass over a
    # 1.5 GB capture cost 1.0 s (10% of the analysis). Valid only when the reads went through
    # the file in order to its end (a pcapng resync seeks: then the caller hashes again).
    _sha: _BackgroundSha256 | None = field(default=None, repr=False)
    _sha_at: int = field(default=-1, repr=False)
    # A byte range (capture_tls.analysis.split): records starting in [start, range_end) only;
    # pcapng starts with the given byte order, interfaces and previous frame time. After the
    # iteration `stop_offset` is where the next record would start (-1: damage stopped the
    # reading), `ng_end` the pcapng byte order and interfaces, `needs_prev_ts` whether the
    # first packet had no time of its own (a Simple Packet Block).
    range_end: int | None = field(default=None, repr=False)
    # While `segments()` runs: the index (from 0, every record counted) of the packet of the
    # segment just yielded, so that a caller skipping `quiet` flows still knows where it is.
    position: int = field(default=-1, repr=False)
    stop_offset: int = field(default=-1, repr=False)
    ng_end: tuple[str, list[_Interface]] | None = field(default=None, repr=False)
    needs_prev_ts: bool = field(default=False, repr=False)
    _range_start: int | None = field(default=None, repr=False)
    _ng_start: tuple[str, list[_Interface]] | None = field(default=None, repr=False)
    _ts0: float = field(default=0.0, repr=False)

    def set_range(self, start: int, end: int,
                  ng_state: tuple[str, list[_Interface]] | None = None,
                  prev_ts: float = 0.0) -> None:
        """Read only the records that start in [start, end) (before iterating). `start` must
        be a record (block) boundary; no SHA-256 is computed."""
        self._range_start = start
        self.range_end = end
        self._ng_start = ng_state
        self._ts0 = prev_ts

    @property
    def _limit(self) -> int:
        return self.size if self.range_end is None else self.range_end

    def sha256_hex(self) -> str | None:
        """The SHA-256 of the whole file if the iteration read it in order to its end."""
        if self._sha is None:
            return None
        if self._sha_at != self.size:
            self._sha.abandon()
            return None
        return self._sha.hexdigest()

    def close(self) -> None:
        if self._sha is not None and self._sha_at != self.size:
            self._sha.abandon()
        super().close()

    def _start_hash(self) -> None:
        f = self._file
        assert f is not None
        if self._range_start is not None:
            self._sha = None
            return
        f.seek(0)
        head = f.read(self._start)
        if self._sha is not None:
            self._sha.abandon()
        try:
            stat: os.stat_result | None = os.fstat(f.fileno())
        except OSError:
            stat = None
        self._sha = _BackgroundSha256(head, self.path, self.size, stat)
        self._sha_at = len(head)

    # --- public iteration --------------------------------------------------------------------

    def frames(self) -> Iterator[RawFrame]:
        if self._file is None:
            return iter(())
        if self.format == "pcap":
            return self._pcap_loop(False)
        return self._pcapng_loop(False)

    def segments(self, quiet: Mapping[QuietKey, QuietFlow] | None = None) -> Iterator[Segment]:
        """The TCP and UDP segments. A TCP segment without SYN of a flow in `quiet` (keyed by
        addresses and ports as bytes, `QuietKey`) is not yielded: its flow's `last_ts` is set
        and `quiet_segments` counts it (a dict lookup
        instead of a yield, an unpack and a call: 0.25 against 0.7 us a packet on the
        benchmark's 1.75 million packets of reported connections). The scapy engine yields
        them all; the connection table does the same with them."""
        if self._file is None:
            return iter(())
        if self.format == "pcap":
            return self._pcap_loop(True, quiet)
        return self._pcapng_loop(True, quiet)

    # --- buffer ------------------------------------------------------------------------------

    def _refill(self, buf: bytes, pos: int, base: int, need: int) -> tuple[bytes, int]:
        """A buffer holding buf[pos:] and then at least `need` bytes from pos (or up to the end
        of the file), and its file offset. The file is positioned after the buffer.

        The tail buf[pos:] (part of one record) is read again with the next chunk instead of
        being joined to it: `tail + f.read()` copied every chunk a second time (0.2 s of CPU
        on a 1.5 GB capture). When the bytes read again differ from the tail (the file changed
        under us), the buffer is the tail and the new bytes after it, as before."""
        f = self._file
        assert f is not None
        have = len(buf) - pos
        start = base + len(buf)
        want = max(self.chunk_size, need - have)
        want = min(want, self.size - start)
        fresh = 0  # where the bytes after the old buffer start in `chunk`
        if want <= 0:
            chunk = buf[pos:] if have else b""
            fresh = len(chunk)
        elif have:
            f.seek(start - have)
            chunk = f.read(have + want)
            with memoryview(buf) as view, memoryview(chunk) as read_again:
                same = read_again[:have] == view[pos:]
            if not same:  # changed (or shrank) while we read it
                chunk = buf[pos:] + chunk[have:]
            fresh = have
        else:
            chunk = f.read(want)
        if start == self._sha_at and self._sha is not None:
            if len(chunk) > fresh:
                with memoryview(chunk) as view:
                    self._sha.update(view[fresh:])
                self._sha_at += len(chunk) - fresh
        elif self._sha_at != -1:
            self._sha_at = -1  # not read in order: no hash from the chunks
            if self._sha is not None:
                self._sha.abandon()
        return chunk, base + pos

    # --- pcap --------------------------------------------------------------------------------

    def _pcap_next(self, buf: bytes, pos: int, base: int, count: int,
                   problems: _Problems) -> tuple[bytes, int, int] | None:
        """(buffer, position, buffer's file offset) with the whole next record at the
        position; None at the end of the records (noting TRUNCATED_FILE or DAMAGED_BLOCK
        when the end is not the end of the file). Mirrors captures.py's `_pcap_frames`."""
        here = base + pos
        left = self.size - here
        if here >= self._limit:
            self.stop_offset = here
            return None
        if left < 16:
            if left == 0:
                self.stop_offset = here
            else:
                problems.add(TRUNCATED_FILE, f"file cut short: {left} bytes of a record header "
                             f"at byte offset {here}, after {count} packets")
            return None
        if len(buf) - pos < 16:
            buf, base = self._refill(buf, pos, base, 16)
            pos = 0
            if len(buf) < 16:  # the file shrank while we read it
                problems.add(TRUNCATED_FILE, f"file cut short: record header at byte offset "
                             f"{here}, after {count} packets")
                return None
        caplen = _PCAP_REC[self._endian](buf, pos)[2]
        if caplen > _MAX_PCAP_RECORD_BYTES:
            # No frame is this large; pcap has no way to find the next record.
            problems.add(DAMAGED_BLOCK, f"record at byte offset {here} claims {caplen} "
                         f"captured bytes; reading stopped after {count} packets")
            return None
        if left - 16 < caplen:
            problems.add(TRUNCATED_FILE, f"file cut short: record at byte offset {here} holds "
                         f"{left - 16} of its {caplen} bytes, after {count} packets")
            return None
        if len(buf) - pos < 16 + caplen:
            buf, base = self._refill(buf, pos, base, 16 + caplen)
            pos = 0
            if len(buf) < 16 + caplen:
                problems.add(TRUNCATED_FILE, f"file cut short: record at byte offset {here} "
                             f"holds {len(buf) - 16} of its {caplen} bytes, after {count} "
                             "packets")
                return None
        if here + 16 + caplen > self._limit:
            self.stop_offset = here  # runs past the range's end: not a record boundary
            return None
        return buf, pos, base

    def _pcap_loop(self, decode: bool,
                   quiet: Mapping[QuietKey, QuietFlow] | None = None) -> Iterator[Any]:
        f = self._file
        assert f is not None
        self._start_hash()
        start = self._start if self._range_start is None else self._range_start
        f.seek(start)
        lim = self._limit
        link = self._pcap_link
        div = self._pcap_div
        rec = _PCAP_REC[self._endian]
        problems = _Problems()
        problems.items = self.problems
        self.link_types.add(link)
        eoff, ipoff, etv4, min4, min6, _ = _fused(link)
        ip16 = ipoff + 16
        v4 = _V4.unpack_from
        v6 = _V6.unpack_from
        u16 = _U16BE
        hl4 = _HL4
        hl6 = _HL6
        flags = _FLAGS
        rec3 = _PCAP_REC3[self._endian]
        q = _quiet_pcap(self._endian, ipoff, etv4)
        qs, qsize, qx, qdf, qtotal, qhl, qflags = q
        # The time is (sec * div + frac) / div, computed as captures.py does (int / int is the
        # correctly rounded quotient), with sec * div kept while the second does not change.
        # Microseconds: sec * 1e6 + frac is exact in a double (< 2^53), so float arithmetic
        # gives the same correctly rounded quotient, faster; nanoseconds need the ints.
        sdiv: float | int = 1e6 if div == 1_000_000 else div
        lsec = -1
        lsf: float | int = 0
        max_rec = _MAX_PCAP_RECORD_BYTES
        error = struct.error
        buf = b""
        pos = base = count = malformed = quieted = 0
        quiet_get = (quiet if quiet is not None else {}).get
        base = start
        first: float | None = None
        ts = 0.0
        try:
            while True:
                # Slow path, once per buffer: refill, or find the end or the damage.
                nxt = self._pcap_next(buf, pos, base, count, problems)
                if nxt is None:
                    break
                buf, pos, base = nxt
                n = min(len(buf), lim - base)
                if count == 0:
                    sec, frac = rec(buf, pos)[:2]
                    first = (sec * div + frac) / div
                # Hot loop: the records wholly inside the buffer. unpack_from raises
                # struct.error at the buffer's end.
                try:
                    while not decode:
                        sec, frac, caplen, wirelen = rec(buf, pos)
                        end = pos + 16 + caplen
                        if end > n or caplen > max_rec:
                            break
                        fs = pos + 16
                        pos = end
                        count += 1
                        if sec != lsec:
                            lsec = sec
                            lsf = sec * sdiv
                        ts = (lsf + frac) / sdiv
                        yield (ts, link, buf[fs:end], wirelen)
                    while decode:
                        # A reported connection's segment (most packets of a capture): one
                        # unpack from the record header to the TCP flags, the checks of the
                        # IPv4 path below, one lookup (0.55 against 0.75 us a packet).
                        if pos + qsize <= n:
                            sec, frac, caplen, x, tot, frag, proto, key, df = qs(buf, pos)
                            if (x == qx and proto == 6 and (frag == qdf or frag == 0)
                                    and min4 <= caplen <= max_rec):
                                off = qhl[df]
                                total = qtotal[tot]
                                if (pos + 16 + caplen <= n and 40 <= off <= total
                                        and total <= caplen - ipoff and not qflags[df] & 2):
                                    quiet_flow = quiet_get(key)
                                    if quiet_flow is not None:
                                        if sec != lsec:
                                            lsec = sec
                                            lsf = sec * sdiv
                                        ts = (lsf + frac) / sdiv
                                        quiet_flow.last_ts = ts
                                        quieted += 1
                                        count += 1
                                        pos += 16 + caplen
                                        continue
                        sec, frac, caplen = rec3(buf, pos)
                        end = pos + 16 + caplen
                        if end > n or caplen > max_rec:
                            break
                        if sec != lsec:
                            lsec = sec
                            lsf = sec * sdiv
                        ts = (lsf + frac) / sdiv
                        ip = pos + ip16
                        pos = end
                        count += 1
                        if caplen >= min4:
                            x, total, frag, proto, addrs, sport, dport, seq, df = v4(buf, ip - 2)
                            # (a fragment offset or MF, or the reserved bit: decode_frame)
                            if x == etv4 and proto == 6 and (frag == 0x4000 or frag == 0):
                                off = hl4[df]
                                ipend = ip + total
                                if 40 <= off <= total and ipend <= end:
                                    fl = flags[df]
                                    if not fl & 2:
                                        quiet_flow = quiet_get(buf[ip + 12 : ip + 24])
                                        if quiet_flow is not None:
                                            quiet_flow.last_ts = ts
                                            quieted += 1
                                            continue
                                    self.position = count - 1
                                    yield (ts, 6, addrs, sport, dport, seq, fl,
                                           buf[ip + off : ipend], False)
                                    continue
                            # SLL2 + IPv4, IPv6 + TCP, or decode_frame.
                            et = u16(buf, ip - ipoff + eoff)[0]
                            if et == 0x0800:
                                if (x >> 8) & 0xFF == 0x45 and proto == 6 and not frag & 0x3FFF:
                                    off = hl4[df]
                                    ipend = ip + total
                                    if 40 <= off <= total and ipend <= end:
                                        fl = flags[df]
                                        if not fl & 2:
                                            quiet_flow = quiet_get(buf[ip + 12 : ip + 24])
                                            if quiet_flow is not None:
                                                quiet_flow.last_ts = ts
                                                quieted += 1
                                                continue
                                        self.position = count - 1
                                        yield (ts, 6, addrs, sport, dport, seq, fl,
                                               buf[ip + off : ipend], False)
                                        continue
                            elif et == 0x86DD and caplen >= min6:
                                vb, plen, nh, addrs, sport, dport, seq, df = v6(buf, ip)
                                if nh == 6 and vb >> 4 == 6:
                                    off = hl6[df]
                                    iplen = 40 + plen
                                    ipend = ip + iplen
                                    if 60 <= off <= iplen and ipend <= end:
                                        fl = flags[df]
                                        if not fl & 2:
                                            quiet_flow = quiet_get(buf[ip + 8 : ip + 44])
                                            if quiet_flow is not None:
                                                quiet_flow.last_ts = ts
                                                quieted += 1
                                                continue
                                        self.position = count - 1
                                        yield (ts, 6, addrs, sport, dport, seq, fl,
                                               buf[ip + off : ipend], False)
                                        continue
                        try:
                            seg = decode_frame(link, buf[ip - ip16 + 16 : end])
                        except ProtocolError:
                            malformed += 1
                            continue
                        if seg is not None:
                            self.position = count - 1
                            yield (ts, seg[3], seg[1] + seg[2], seg[4], seg[5], seg[6], seg[8],
                                   seg[9], seg[10])
                except error:
                    pass
        finally:
            self.packets = count
            self.first_ts = first
            if count:
                self.last_ts = ts
            self.malformed_frames += malformed
            self.quiet_segments += quieted
            self.close()

    # --- pcapng ------------------------------------------------------------------------------

    def _pcapng_loop(self, decode: bool,
                     quiet: Mapping[QuietKey, QuietFlow] | None = None) -> Iterator[Any]:
        self._start_hash()
        st = _NgState(self)
        link_types = self.link_types
        count = malformed = quieted = 0
        quiet_get = (quiet if quiet is not None else {}).get
        first: float | None = None
        ts = self._ts0
        lim = self._limit
        buf = b""
        pos = n = 0
        base = st.base
        endian = st.endian
        u32 = _U32[endian]
        epbh = _EPB[endian]
        epbh6 = _EPB6[endian]
        ifs = st.interfaces
        nifs = 0
        cur_id = -1
        link = tsresol = tsoff_int = flim = 0
        tsoff = fres = 0.0
        lhi = -1
        lhf: float | int = 0
        lres: float | int = 1
        eoff = ipoff = 0
        etv4 = -1
        min4 = min6 = 1 << 62
        v4 = _V4.unpack_from
        v6 = _V6.unpack_from
        u16 = _U16BE
        hl4 = _HL4
        hl6 = _HL6
        flags = _FLAGS
        fast_max = _MAX_FAST_EPB
        qs, qsize, qx, qdf, qtotal, qhl, qflags = _quiet_pcap(endian, 0, -1, pcapng=True)
        error = struct.error
        options_ok = _epb_options_ok
        try:
            while True:
                # Slow path: one block of any kind (another than a well-formed EPB inside the
                # buffer: the end of the buffer, other block types, damage).
                st.buf, st.pos, st.base = buf, pos, base
                if cur_id >= 0:
                    st.cur_tsoffset = tsoff_int
                res = st.block()
                buf, pos, base = st.buf, st.pos, st.base
                n = min(len(buf), lim - base)
                # Interfaces and byte order may have changed: reload.
                ifs = st.interfaces
                nifs = len(ifs)
                cur_id = -1
                if endian != st.endian:
                    endian = st.endian
                    u32 = _U32[endian]
                    epbh = _EPB[endian]
                    epbh6 = _EPB6[endian]
                if res is None:
                    if st.stopped:
                        break
                    if count == 0:
                        continue
                else:
                    rts, rlink, data, wirelen = res
                    if rts is not None:
                        ts = rts
                    elif count == 0:
                        self.needs_prev_ts = True
                    if rlink not in link_types:
                        link_types.add(rlink)
                    if first is None:
                        first = ts
                    count += 1
                    if not decode:
                        yield (ts, rlink, data, wirelen)
                    else:
                        try:
                            seg = decode_frame(rlink, data)
                        except ProtocolError:
                            malformed += 1
                            seg = None
                        if seg is not None:
                            self.position = count - 1
                            yield (ts, seg[3], seg[1] + seg[2], seg[4], seg[5], seg[6], seg[8],
                                   seg[9], seg[10])
                # Hot loop: well-formed Enhanced Packet Blocks inside the buffer. unpack_from
                # raises struct.error at the buffer's end; anything else breaks out to the
                # slow path above, which reads that block again.
                try:
                    while not decode:
                        btype, blen, intid, hi, lo, caplen, wirelen = epbh(buf, pos)
                        end = pos + blen
                        if (btype != 6 or blen > fast_max or end > n
                                or u32(buf, end - 4)[0] != blen):
                            break
                        if blen != (caplen + 35) & 0x7FFFFFFC:  # options, or lengths that disagree
                            if caplen + 36 > blen or blen & 3 or not options_ok(
                                    buf, pos + 28 + caplen + (-caplen & 3), end - 4, endian):
                                break
                        if intid != cur_id:
                            if intid >= nifs:
                                break
                            cur_id = intid
                            (link, tsresol, tsoff_int, tsoff, fres, flim, eoff, ipoff, etv4,
                             min4, min6) = _interface_params(ifs[intid], link_types)
                            lhi = -1
                        fs = pos + 28
                        fend = fs + caplen
                        ip = fs + ipoff
                        pos = end
                        count += 1
                        if hi != lhi:
                            # The tick count is (hi << 32) + lo, divided by tsresol (an int) as
                            # in captures.py; in floats when that is exact (see _pcap_loop).
                            lhi = hi
                            if hi < flim:
                                lhf = hi * 4294967296.0
                                lres = fres
                            else:
                                lhf = hi << 32
                                lres = tsresol
                        ts = (lhf + lo) / lres
                        if tsoff:
                            ts += tsoff
                        yield (ts, link, buf[fs:fend], wirelen)
                    while decode:
                        # A reported connection's segment: one unpack from the block header to
                        # the TCP flags (see _pcap_loop), for a block without options of the
                        # interface of the previous packet.
                        if pos + qsize <= n:
                            (btype, blen, intid, hi, lo, caplen, x, tot, frag, proto, key,
                             df) = qs(buf, pos)
                            end = pos + blen
                            if (btype == 6 and intid == cur_id and x == qx and proto == 6
                                    and (frag == qdf or frag == 0) and min4 <= caplen
                                    and blen <= fast_max and end <= n
                                    and blen == (caplen + 35) & 0x7FFFFFFC
                                    and u32(buf, end - 4)[0] == blen):
                                off = qhl[df]
                                total = qtotal[tot]
                                if (40 <= off <= total and total <= caplen - ipoff
                                        and not qflags[df] & 2):
                                    quiet_flow = quiet_get(key)
                                    if quiet_flow is not None:
                                        pos = end
                                        count += 1
                                        if hi != lhi:
                                            lhi = hi
                                            if hi < flim:
                                                lhf = hi * 4294967296.0
                                                lres = fres
                                            else:
                                                lhf = hi << 32
                                                lres = tsresol
                                        ts = (lhf + lo) / lres
                                        if tsoff:
                                            ts += tsoff
                                        quiet_flow.last_ts = ts
                                        quieted += 1
                                        continue
                        btype, blen, intid, hi, lo, caplen = epbh6(buf, pos)
                        end = pos + blen
                        if (btype != 6 or blen > fast_max or end > n
                                or u32(buf, end - 4)[0] != blen):
                            break
                        if blen != (caplen + 35) & 0x7FFFFFFC:  # options, or lengths that disagree
                            if caplen + 36 > blen or blen & 3 or not options_ok(
                                    buf, pos + 28 + caplen + (-caplen & 3), end - 4, endian):
                                break
                        if intid != cur_id:
                            if intid >= nifs:
                                break
                            cur_id = intid
                            (link, tsresol, tsoff_int, tsoff, fres, flim, eoff, ipoff, etv4,
                             min4, min6) = _interface_params(ifs[intid], link_types)
                            lhi = -1
                            qs, qsize, qx, qdf, qtotal, qhl, qflags = _quiet_pcap(
                                endian, ipoff, etv4, pcapng=True)
                        fs = pos + 28
                        fend = fs + caplen
                        ip = fs + ipoff
                        pos = end
                        count += 1
                        if hi != lhi:
                            # The tick count is (hi << 32) + lo, divided by tsresol (an int) as
                            # in captures.py; in floats when that is exact (see _pcap_loop).
                            lhi = hi
                            if hi < flim:
                                lhf = hi * 4294967296.0
                                lres = fres
                            else:
                                lhf = hi << 32
                                lres = tsresol
                        ts = (lhf + lo) / lres
                        if tsoff:
                            ts += tsoff
                        if caplen >= min4:
                            x, total, frag, proto, addrs, sport, dport, seq, df = v4(buf, ip - 2)
                            # (a fragment offset or MF, or the reserved bit: decode_frame)
                            if x == etv4 and proto == 6 and (frag == 0x4000 or frag == 0):
                                off = hl4[df]
                                ipend = ip + total
                                if 40 <= off <= total and ipend <= fend:
                                    fl = flags[df]
                                    if not fl & 2:
                                        quiet_flow = quiet_get(buf[ip + 12 : ip + 24])
                                        if quiet_flow is not None:
                                            quiet_flow.last_ts = ts
                                            quieted += 1
                                            continue
                                    self.position = count - 1
                                    yield (ts, 6, addrs, sport, dport, seq, fl,
                                           buf[ip + off : ipend], False)
                                    continue
                            # SLL2 + IPv4, IPv6 + TCP, or decode_frame.
                            et = u16(buf, ip - ipoff + eoff)[0]
                            if et == 0x0800:
                                if (x >> 8) & 0xFF == 0x45 and proto == 6 and not frag & 0x3FFF:
                                    off = hl4[df]
                                    ipend = ip + total
                                    if 40 <= off <= total and ipend <= fend:
                                        fl = flags[df]
                                        if not fl & 2:
                                            quiet_flow = quiet_get(buf[ip + 12 : ip + 24])
                                            if quiet_flow is not None:
                                                quiet_flow.last_ts = ts
                                                quieted += 1
                                                continue
                                        self.position = count - 1
                                        yield (ts, 6, addrs, sport, dport, seq, fl,
                                               buf[ip + off : ipend], False)
                                        continue
                            elif et == 0x86DD and caplen >= min6:
                                vb, plen, nh, addrs, sport, dport, seq, df = v6(buf, ip)
                                if nh == 6 and vb >> 4 == 6:
                                    off = hl6[df]
                                    iplen = 40 + plen
                                    ipend = ip + iplen
                                    if 60 <= off <= iplen and ipend <= fend:
                                        fl = flags[df]
                                        if not fl & 2:
                                            quiet_flow = quiet_get(buf[ip + 8 : ip + 44])
                                            if quiet_flow is not None:
                                                quiet_flow.last_ts = ts
                                                quieted += 1
                                                continue
                                        self.position = count - 1
                                        yield (ts, 6, addrs, sport, dport, seq, fl,
                                               buf[ip + off : ipend], False)
                                        continue
                        try:
                            seg = decode_frame(link, buf[fs:fend])
                        except ProtocolError:
                            malformed += 1
                            continue
                        if seg is not None:
                            self.position = count - 1
                            yield (ts, seg[3], seg[1] + seg[2], seg[4], seg[5], seg[6], seg[8],
                                   seg[9], seg[10])
                except error:
                    pass
        finally:
            self.packets = count
            self.first_ts = first
            if count:
                self.last_ts = ts
            self.malformed_frames += malformed
            self.quiet_segments += quieted
            self.ng_end = (st.endian, list(st.interfaces))
            for p in self.problems:
                if p.code == TRUNCATED_FILE and "after" not in p.message:
                    p.message += f", after {count} packets"
            self.close()


class _NgState:
    """The pcapng reader's state between blocks, and the block-by-block path for everything
    that is not a well-formed Enhanced Packet Block inside the buffer (the hot loop handles
    those). Mirrors captures._PcapNgReader._read_block and its handlers."""

    def __init__(self, reader: FastCaptureReader) -> None:
        self.reader = reader
        f = reader._file
        assert f is not None
        self.f: IO[bytes] = f
        self.size = reader.size
        self.problems = _Problems()
        self.problems.items = reader.problems
        self.secrets = reader.secrets
        self.buf = b""
        self.pos = 0
        self.base = reader._start
        self.endian = reader._endian
        self.interfaces: list[_Interface] = []
        if reader._range_start is not None:
            self.base = reader._range_start
        if reader._ng_start is not None:
            self.endian, interfaces = reader._ng_start
            self.interfaces = list(interfaces)
        self.limit = reader._limit
        self.cur_tsoffset = 0
        self.stopped = False
        f.seek(self.base)

    # --- helpers -----------------------------------------------------------------------------

    def _ensure(self, need: int) -> bool:
        if len(self.buf) - self.pos < need:
            self.buf, self.base = self.reader._refill(self.buf, self.pos, self.base, need)
            self.pos = 0
        return len(self.buf) - self.pos >= need

    def _header(self, head: bytes) -> tuple[int, int]:
        return pcapng_block_header(head, _HDR[self.endian])

    def _trailer_matches(self, head: bytes, tail: bytes, blocklen: int) -> bool:
        return len(tail) == 4 and self._header(head[:4] + tail + head[8:12])[1] == blocklen

    def _stop(self) -> None:
        self.stopped = True
        self.buf = b""
        self.pos = 0

    def _truncated(self, what: str) -> None:
        self.problems.add(TRUNCATED_FILE, f"file cut short: {what}")
        self._stop()

    def _damaged(self, here: int, what: str) -> None:
        if self._resync(here + 4):
            self.problems.add(DAMAGED_BLOCK, f"{what}; skipped to the next good block")
            return
        self.problems.add(DAMAGED_BLOCK, f"{what}; no good block follows, reading stopped")
        self._stop()

    def _resync(self, start: int) -> bool:
        """Find the next good block after damage (`find_next_block`); reading goes on there."""
        found = find_next_block(self.f, self.size, start, self._header, self._trailer_matches)
        if found is None:
            return False
        self.buf = b""
        self.pos = 0
        self.base = found
        return True

    # --- one block ---------------------------------------------------------------------------

    def block(self) -> _BlockFrame | None:
        """Read the block at the current position. Returns a packet, or None: not a packet,
        skipped, or the end (then `stopped` is set)."""
        if self.stopped:
            return None
        here = self.base + self.pos
        remaining = self.size - here
        if here >= self.limit:
            self.reader.stop_offset = here
            self._stop()
            return None
        if remaining < 12:
            if remaining <= 0:
                self.reader.stop_offset = here
                self._stop()
                return None
            self._truncated(f"{remaining} bytes of a block header at byte offset {here}")
            return None
        if not self._ensure(12):
            self._truncated(f"block header at byte offset {here}")
            return None
        head = self.buf[self.pos : self.pos + 12]
        btype, blocklen = self._header(head)
        if blocklen < 0:
            raw_len = _HDR[self.endian](head)[1]
            self._damaged(here, f"block length {raw_len} at byte offset {here} is not valid")
            return None
        if blocklen > remaining:
            if self._resync(here + 4):
                self.problems.add(DAMAGED_BLOCK, f"block at byte offset {here} declares "
                                  f"{blocklen} bytes, past the next good block; skipped")
                return None
            self._truncated(f"cut inside a block of {blocklen} bytes at byte offset {here}")
            return None
        if not self._ensure(blocklen):
            self._truncated(f"cut inside a block of {blocklen} bytes at byte offset {here}")
            return None
        p = self.pos
        block = self.buf[p : p + blocklen]
        try:
            res = self._contents(btype, block, blocklen)
        except _Unreadable:
            if self._trailer_matches(head, block[-4:], blocklen):
                self.problems.add(DAMAGED_BLOCK, f"block at byte offset {here} has unreadable "
                                  "contents (EOFError); skipped")
                self.pos = p + blocklen
                return None
            self._damaged(here, f"block at byte offset {here}: its trailing length does not "
                          f"match its leading length {blocklen}")
            return None
        self.pos = p + blocklen
        return res

    def _contents(self, btype: int, block: bytes, blocklen: int) -> _BlockFrame | None:
        """A whole block (header to trailer) whose header was checked. Raises `_Unreadable`
        where scapy raised EOFError (including a trailing length that does not match)."""
        if btype == _SHB:
            # Interface ids restart in every section; the byte order is the section's own.
            self.interfaces = []
            endian = "<" if block[8:12] == _BOM_LE else ">"
            self.endian = endian
            if _U16[endian](block, 12)[0] != 1 or _U32[endian](block, blocklen - 4)[0] != \
                    blocklen:
                raise _Unreadable
            return None
        endian = self.endian
        if _U32[endian](block, blocklen - 4)[0] != blocklen:
            raise _Unreadable
        body_len = blocklen - 12  # the body is block[8 : 8 + body_len]
        problems = self.problems
        if btype == 6:
            if body_len < 20:
                problems.add(DAMAGED_BLOCK, f"enhanced packet block of {blocklen} bytes is "
                             "shorter than its fixed fields")
                return None
            intid, hi, lo, caplen, wirelen = _EPB_BODY[endian](block, 8)
            if 20 + caplen > body_len:
                problems.add(DAMAGED_BLOCK, f"enhanced packet block claims {caplen} captured "
                             f"bytes but holds {body_len - 20}")
                return None
            ifs = self.interfaces
            if intid >= len(ifs):
                problems.add(DAMAGED_BLOCK, f"packet block names interface {intid}, but only "
                             f"{len(ifs)} are described in its section")
                return None
            link, _snap, tsresol, tsoffset = ifs[intid]
            self.cur_tsoffset = tsoffset
            optstart = 28 + caplen + (-caplen % 4)
            if not _epb_options_ok(block, optstart, blocklen - 4, endian):
                raise _Unreadable
            data = block[28 : 28 + min(caplen, _MAX_FRAME_BYTES)]
            return ((hi << 32) | lo) / tsresol + tsoffset, link, data, wirelen
        if btype == 1:
            if body_len < 8:
                problems.add(DAMAGED_BLOCK, f"interface description block of {body_len} "
                             "bytes, fewer than its 8 fixed bytes")
                return None
            link, snaplen = _IDB_BODY[endian](block, 8)
            opts = _options(block, 16, blocklen - 4, endian)
            tsresol = 1_000_000
            v = opts.get(9)
            if v is not None and len(v) == 1:
                x = v[0]
                tsresol = (2 if x & 128 else 10) ** (x & 127)
            v = opts.get(14)
            tsoffset = _I64[endian](v)[0] if v is not None and len(v) == 8 else 0
            self.interfaces.append((link, snaplen, tsresol, tsoffset))
            return None
        if btype == 3:
            if body_len < 4:
                problems.add(DAMAGED_BLOCK, "simple packet block shorter than its header")
                return None
            ifs = self.interfaces
            if not ifs:
                problems.add(DAMAGED_BLOCK, "simple packet block before any interface "
                             "description in its section")
                return None
            wirelen = _U32[endian](block, 8)[0]
            link, snaplen, _tsresol, tsoffset = ifs[0]
            caplen = wirelen if snaplen == 0 or wirelen < snaplen else snaplen
            if 4 + caplen > body_len:
                problems.add(DAMAGED_BLOCK, f"simple packet block of {blocklen} bytes cannot "
                             f"hold the {caplen} captured bytes it implies")
                return None
            self.cur_tsoffset = tsoffset
            return None, link, block[12 : 12 + caplen], wirelen
        if btype == 2:  # obsolete Packet Block
            if body_len < 20:
                raise _Unreadable
            intid, _drops, hi, lo, caplen, wirelen = _PB_BODY[endian](block, 8)
            ifs = self.interfaces
            if intid >= len(ifs):
                return None
            link, _snap, tsresol, _tsoffset = ifs[intid]
            # scapy's reader keeps the if_tsoffset of the last EPB/SPB here, as captures.py
            # does; so do we.
            data = block[28 : 28 + min(caplen, body_len - 20, _MAX_FRAME_BYTES)]
            return ((hi << 32) | lo) / tsresol + self.cur_tsoffset, link, data, wirelen
        if btype == 10:
            if body_len < 8:
                problems.add(DAMAGED_BLOCK, "decryption secrets block shorter than its header")
                return None
            stype, slen = _HDR[endian](block, 8)
            if 8 + slen > body_len:
                problems.add(DAMAGED_BLOCK, f"decryption secrets block claims {slen} bytes of "
                             f"secrets but holds {body_len - 8}")
                return None
            self.secrets.append((stype, bytes(block[16 : 16 + slen])))
            return None
        if btype == 0x80000001 and body_len < 4:  # Process Information Block
            raise _Unreadable
        return None


def open_fast(path: str, f: IO[bytes], fmt: str, size: int, head: bytes,
              chunk_size: int | None = None) -> FastCaptureReader:
    """The fast engine for a file whose header `open_capture` has checked (`head`: its first
    bytes). Raises `InputError` for what scapy's constructor refuses."""
    chunk = DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size
    if chunk < 1:
        raise ValueError("chunk_size must be positive")
    if fmt == "pcap":
        magic = head[:4]
        endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        link = _U32[endian](head, 20)[0] & 0xFFFF
        return FastCaptureReader(path=path, format="pcap", size=size, _file=f,
                                 chunk_size=chunk, _start=24, _endian=endian, _pcap_link=link,
                                 _pcap_div=1_000_000_000 if nano else 1_000_000)
    endian = "<" if head[8:12] == _BOM_LE else ">"
    shb_len = _U32[endian](head, 4)[0]
    f.seek(0)
    shb = f.read(shb_len)
    if (len(shb) != shb_len or _U16[endian](shb, 12)[0] != 1
            or _U32[endian](shb, shb_len - 4)[0] != shb_len):
        raise InputError(f"{path}: unreadable pcapng section header: The first SHB of the "
                         "pcapng file is malformed !")
    return FastCaptureReader(path=path, format="pcapng", size=size, _file=f, chunk_size=chunk,
                             _start=shb_len, _endian=endian)
