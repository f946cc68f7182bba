"""Reading pcap and pcapng files as a stream of raw frames.

Two engines (`open_capture(path, engine=...)`): "fast", the default, is fastreader.py, the
project's own chunked reader with a fused header decoder; "scapy" is this module's wrapping of
scapy's raw readers described below, kept as the reference the fast engine is tested against
(tests/test_fastreader.py: same frames, times, problems and secrets on every capture).

Theory of operation
-------------------
The record framing is scapy's: `RawPcapReader` / `RawPcapNgReader` and their `_read_packet()`,
which returns `(bytes, metadata)` with no per-packet dissection (a project requirement; this
package is the only place that imports scapy). Around it we fix what scapy leaves to the caller:

* scapy raises `EOFError` both at a clean end and on damage, and reports the damage only as a
  warning on the "scapy.runtime" logger (which we silence). We tell them apart by position: a
  clean end is an end exactly at the file size; anything else is TRUNCATED_FILE (cut inside a
  record) or DAMAGED_BLOCK (a pcapng block whose length cannot be right).
* scapy's pcapng block reader reads `block_total_length - 12` bytes for the body, whatever the
  length says: a damaged length could pull the rest of a multi-GB file into memory. Our
  subclass checks every block header (length >= 12, a multiple of 4, inside the file) before
  scapy reads the block, and after a bad one looks ahead (bounded) for the next block whose
  leading and trailing lengths agree, so a single damaged block costs only itself.
* pcapng sections (RFC draft-ietf-opsawg-pcapng, section 4.1): interface ids are numbered per
  section; scapy keeps appending interfaces across sections, so a new Section Header Block
  resets the interface list here.
* `if_tsoffset` (IDB option 14) is not applied by scapy; `if_tsresol` is (both powers of 10
  and powers of 2). We add the offset per interface.
* Simple Packet Blocks: scapy takes min(wirelen, snaplen) as the captured length, 0 for the
  common snaplen 0 ("no limit"); ours reads them. They carry no time: a frame from one gets
  the time of the frame before it (tshark shows none).
* Decryption Secrets Blocks (type 0x0000000A): scapy's handler installs TLS keys in scapy's
  global config; ours only collects `(secrets_type, data)` into `CaptureReader.secrets`.

The subclasses of scapy's readers live in scapy_readers.py, imported only when that engine is
asked for: the default engine's runs never import scapy (0.1 s of every start).

The file is streamed: the largest thing held is one block (bounded by `_MAX_BLOCK_BYTES`) or one
pcap record (scapy bounds a read to 4 * 65535 bytes and skips the rest of a larger one).
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Literal, Protocol

from capture_tls.errors import InputError, ProtocolError
from capture_tls.sources.frames import decode_frame

__all__ = ["ENGINES", "CaptureReader", "FileProblem", "RawFrame", "Segment", "open_capture"]

# (timestamp in seconds since the epoch, link type (DLT/LINKTYPE number), frame bytes as
# captured, original length on the wire). caplen < wirelen means the snap length cut it.
RawFrame = tuple[float, int, bytes, int]

# One TCP or UDP segment, as `CaptureReader.segments()` yields it: (timestamp, protocol (6 TCP,
# 17 UDP), source and destination addresses concatenated (8 bytes IPv4, 32 bytes IPv6), source
# port, destination port, TCP sequence number, TCP flags (9 bits; 0 for UDP), payload, payload
# truncated by the snap length or a fragment). The same fields as frames.decode_frame's
# DecodedSegment, without the IP version (the address length says it) and the TCP ack.
Segment = tuple[float, int, bytes, int, int, int, int, bytes, bool]

# "fast": capture_tls.sources.fastreader (the default, the hot path); "scapy": scapy's raw
# readers wrapped below (the cross-check in the tests).
ENGINES = ("fast", "scapy")

TRUNCATED_FILE = "TRUNCATED_FILE"
DAMAGED_BLOCK = "DAMAGED_BLOCK"

# tcpdump's and dumpcap's largest snap length is 262144; scapy reads at most 4 * 65535 bytes of
# one pcap record and skips the rest. Frames are never cut below what scapy hands us.
_MAX_FRAME_BYTES = 262144
_MAX_PCAP_RECORD_BYTES = 4 * 65535
# One pcapng block: an EPB of the largest snap length plus generous room for options and
# comments. A block declaring more than this is treated as damaged, never read into memory.
_MAX_BLOCK_BYTES = 16 * 1024 * 1024
# How far past a damaged pcapng block we look for the next good block header before giving up
# on the rest of the file. A few largest-size blocks; bounded work per damaged block.
_RESYNC_WINDOW_BYTES = 4 * 1024 * 1024
# pcapng block types we accept as a resynchronisation point (a known type makes a false match
# in packet data much less likely than "any 4 bytes").
_SHB = 0x0A0D0D0A
_KNOWN_BLOCK_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 9, 10, 0x80000001, _SHB})

_PCAP_MAGICS: dict[bytes, str] = {
    b"\xd4\xc3\xb2\xa1": "pcap little-endian, microseconds",
    b"\xa1\xb2\xc3\xd4": "pcap big-endian, microseconds",
    b"\x4d\x3c\xb2\xa1": "pcap little-endian, nanoseconds",
    b"\xa1\xb2\x3c\x4d": "pcap big-endian, nanoseconds",
}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

_U32LE = struct.Struct("<I")
_U32BE = struct.Struct(">I")


@dataclass
class FileProblem:
    """A counted input-level warning: TRUNCATED_FILE, DAMAGED_BLOCK, ..."""

    code: str
    message: str
    count: int = 1


class _Problems:
    """Collects problems by code: the first message of a code is kept, later ones counted."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[FileProblem] = []

    def add(self, code: str, message: str) -> None:
        for p in self.items:
            if p.code == code:
                p.count += 1
                return
        self.items.append(FileProblem(code, message))


class _Seekable(Protocol):
    def seek(self, offset: int, whence: int = ..., /) -> int: ...
    def read(self, size: int = ..., /) -> bytes: ...


def pcapng_block_header(head: bytes,
                        hdr: Callable[[bytes], tuple[int, ...]]) -> tuple[int, int]:
    """(block type, block total length) from a block's 12 first bytes, `hdr` unpacking two
    u32 in the section's byte order; a Section Header Block's length is read in the order
    its own byte-order magic declares. -1 for an unusable length. Both reading engines frame
    blocks with it."""
    btype, blocklen = hdr(head)[:2]
    if btype == _SHB:
        bom = head[8:12]
        if bom == b"\x4d\x3c\x2b\x1a":
            blocklen = _U32LE.unpack_from(head, 4)[0]
        elif bom == b"\x1a\x2b\x3c\x4d":
            blocklen = _U32BE.unpack_from(head, 4)[0]
        else:
            return btype, -1
        if blocklen < 28:
            return btype, -1
    if blocklen < 12 or blocklen & 3 or blocklen > _MAX_BLOCK_BYTES:
        return btype, -1
    return btype, blocklen


def find_next_block(
    f: _Seekable,
    size: int,
    start: int,
    header: Callable[[bytes], tuple[int, int]],
    trailer_matches: Callable[[bytes, bytes, int], bool],
) -> int | None:
    """After a damaged pcapng block: the offset of the next block whose type is known and whose
    leading and trailing lengths agree, at a 4-byte aligned offset >= start, within
    `_RESYNC_WINDOW_BYTES`. The file is left positioned there; None when there is none.
    Shared by both engines (scapy's and the fast reader)."""
    start += -start % 4
    end = min(size, start + _RESYNC_WINDOW_BYTES)
    if end - start < 12:
        return None
    f.seek(start)
    window = f.read(end - start)
    for i in range(0, len(window) - 11, 4):
        head = window[i : i + 12]
        btype, blocklen = header(head)
        if btype not in _KNOWN_BLOCK_TYPES or blocklen < 0 or start + i + blocklen > size:
            continue
        if i + blocklen <= len(window):
            tail = window[i + blocklen - 4 : i + blocklen]
        else:
            f.seek(start + i + blocklen - 4)
            tail = f.read(4)
        if trailer_matches(head, tail, blocklen):
            f.seek(start + i)
            return start + i
    return None


@dataclass
class CaptureReader:
    """An opened capture. Iterate `frames()` once; afterwards `problems`, `packets`,
    `first_ts`, `last_ts` and `link_types` describe what was read.

    `secrets` collects the payloads of pcapng Decryption Secrets Blocks as (type, bytes),
    e.g. (0x544C534B "TLSK", an NSS key log). It fills while `frames()` runs: a DSB is seen
    when the reader reaches it, which for editcap/dumpcap output is before the packets.
    `problems` also fills as the reader goes; each code appears once, with a count.

    `frames()` yields (timestamp, link type, frame bytes, original length): plain tuples.
    It closes the file when exhausted or when the generator is dropped.
    """

    path: str
    format: Literal["pcap", "pcapng"]
    size: int
    link_types: set[int] = field(default_factory=set)
    packets: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    problems: list[FileProblem] = field(default_factory=list)
    secrets: list[tuple[int, bytes]] = field(default_factory=list)
    # Frames that `segments()` skipped because decode_frame raised ProtocolError.
    malformed_frames: int = 0
    quiet_segments: int = 0  # segments the fast engine only counted (see its `segments`)
    _reader: Any = field(default=None, repr=False)
    _file: IO[bytes] | None = field(default=None, repr=False)

    def frames(self) -> Iterator[RawFrame]:
        reader = self._reader
        if reader is None:
            return
        try:
            if self.format == "pcap":
                yield from self._pcap_frames(reader)
            else:
                yield from self._pcapng_frames(reader)
        finally:
            self.close()

    def segments(self, quiet: Mapping[bytes, Any] | None = None
                 ) -> Iterator[Segment]:
        """The TCP and UDP segments of `frames()`, decoded by frames.decode_frame (the
        reference for the fast engine's fused decoder). A frame decode_frame refuses with
        `ProtocolError` is counted in `malformed_frames`; other frames (ARP, ICMP, ...) are
        skipped. `quiet` is the fast engine's shortcut (see fastreader); this engine yields
        every segment."""
        del quiet
        malformed = 0
        try:
            for ts, link, data, _wirelen in self.frames():
                try:
                    seg = decode_frame(link, data)
                except ProtocolError:
                    malformed += 1
                    continue
                if seg is not None:
                    yield (ts, seg[3], seg[1] + seg[2], seg[4], seg[5], seg[6], seg[8], seg[9],
                           seg[10])
        finally:
            self.malformed_frames += malformed

    def _pcap_frames(self, reader: Any) -> Iterator[RawFrame]:
        size = self.size
        # Bits 16-31 of the header's link type carry FCS information, not the type.
        link = int(reader.linktype) & 0xFFFF
        self.link_types.add(link)
        div = 1_000_000_000 if reader.nano else 1_000_000
        read = reader._read_packet
        problems = _Problems()
        problems.items = self.problems
        n = 0
        first: float | None = None
        ts = 0.0
        pos = reader.f.tell()  # offset of the next record, tracked without a tell() each
        try:
            while True:
                try:
                    data, meta = read(_MAX_FRAME_BYTES)
                except EOFError:
                    if pos != size:
                        problems.add(TRUNCATED_FILE, f"file cut short: {size - pos} bytes of a "
                                     f"record header at byte offset {pos}, after {n} packets")
                    break
                caplen = meta.caplen
                if caplen > _MAX_PCAP_RECORD_BYTES:
                    # No frame is this large (scapy read only part of it); pcap has no way to
                    # find the next record.
                    problems.add(DAMAGED_BLOCK, f"record at byte offset {pos} claims {caplen} "
                                 f"captured bytes; reading stopped after {n} packets")
                    break
                if len(data) < caplen:
                    problems.add(TRUNCATED_FILE, f"file cut short: record at byte offset {pos} "
                                 f"holds {len(data)} of its {caplen} bytes, after {n} packets")
                    break
                pos += 16 + caplen
                ts = (meta.sec * div + meta.usec) / div
                if first is None:
                    first = ts
                n += 1
                yield (ts, link, data, meta.wirelen)
        finally:
            self.packets = n
            self.first_ts = first
            if n:
                self.last_ts = ts

    def _pcapng_frames(self, reader: Any) -> Iterator[RawFrame]:
        read = reader._read_packet
        link_types = self.link_types
        n = 0
        first: float | None = None
        ts = 0.0
        reader.problems.items = self.problems
        reader.secrets = self.secrets
        try:
            while True:
                try:
                    data, meta = read(_MAX_FRAME_BYTES)
                except EOFError:
                    break
                tshigh = meta.tshigh
                if tshigh is not None:  # a Simple Packet Block has no time: keep the last one
                    ts = ((tshigh << 32) | meta.tslow) / meta.tsresol + reader.cur_tsoffset
                link = meta.linktype
                if link not in link_types:
                    link_types.add(link)
                if first is None:
                    first = ts
                n += 1
                yield (ts, link, data, meta.wirelen)
        finally:
            self.packets = n
            self.first_ts = first
            if n:
                self.last_ts = ts
            # Say where a cut happened, in packets, for the user.
            for p in self.problems:
                if p.code == TRUNCATED_FILE and "after" not in p.message:
                    p.message += f", after {n} packets"

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._reader = None


def _describe(head: bytes) -> str:
    """A short guess at what a non-capture file is, from its first bytes."""
    if head.startswith(b"\x1f\x8b"):
        return "looks like gzip-compressed data (decompress it first)"
    if head.startswith(b"\xd4\xc3\xb2\xa1"[:2]) or head.startswith(b"\xa1\xb2"):
        return "looks like a damaged pcap header"
    if head.startswith(b"PK\x03\x04"):
        return "looks like a zip archive"
    if head.startswith((b"CLIENT_", b"SERVER_", b"EXPORTER_", b"# SSL")):
        return "looks like a TLS key log file, not a capture"
    if head.startswith(b"-----BEGIN"):
        return "looks like a PEM file, not a capture"
    if head.startswith(b"\x00\x00\x00\x00\x00\x00\x00\x00"):
        return "starts with zero bytes"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"unknown format (first bytes {head[:8].hex()})"
    if all(c.isprintable() or c in "\r\n\t" for c in text):
        return "looks like text"
    return f"unknown format (first bytes {head[:8].hex()})"


def open_capture(path: str, engine: str = "fast",
                 chunk_size: int | None = None) -> CaptureReader:
    """Open a pcap or pcapng file. Raises `InputError` with a one-line reason when the file
    cannot be used at all: missing, unreadable, empty, not a capture, header cut.

    `engine` chooses the reader: "fast" (fastreader.py, the default) or "scapy" (scapy's raw
    readers); both yield the same frames and problems. `chunk_size` is the fast engine's read
    size in bytes (default 512 KiB)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown capture reader engine {engine!r}")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as e:
        raise InputError(f"{path}: cannot open: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a directory, not a capture file")
    try:
        f = open(path, "rb")  # closed by CaptureReader.close, or below
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as e:
        if e.errno == errno.EISDIR:
            raise InputError(f"{path}: is a directory, not a capture file") from None
        raise InputError(f"{path}: cannot open: {e.strerror or e}") from None
    try:
        return _open_stream(path, f, engine, chunk_size)
    except BaseException:
        f.close()
        raise


def _open_stream(path: str, f: IO[bytes], engine: str = "fast",
                 chunk_size: int | None = None) -> CaptureReader:
    try:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{path}: not a regular file")
        size = st.st_size
        head = f.read(32)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    if not head:
        raise InputError(f"{path}: empty file")
    magic = head[:4]
    if magic in _PCAP_MAGICS:
        if len(head) < 24:
            raise InputError(f"{path}: pcap file header cut short ({size} of 24 bytes)")
        if engine == "fast":
            from capture_tls.sources.fastreader import open_fast  # imports this module

            return open_fast(path, f, "pcap", size, head, chunk_size)
        from capture_tls.sources.scapy_readers import PcapReader, Scapy_Exception

        f.seek(4)
        reader = PcapReader.__new__(PcapReader)
        try:
            PcapReader.__init__(reader, path, f, magic)
        except Scapy_Exception as e:  # anything scapy refuses in the header
            raise InputError(f"{path}: unreadable pcap header: {e}") from None
        return CaptureReader(path=path, format="pcap", size=size, _reader=reader, _file=f)
    if magic == _PCAPNG_MAGIC:
        if len(head) < 28:
            raise InputError(f"{path}: pcapng section header cut short ({size} bytes)")
        bom = head[8:12]
        if bom == b"\x4d\x3c\x2b\x1a":
            shb_len = _U32LE.unpack_from(head, 4)[0]
        elif bom == b"\x1a\x2b\x3c\x4d":
            shb_len = _U32BE.unpack_from(head, 4)[0]
        else:
            raise InputError(f"{path}: not a capture (pcapng magic but bad byte-order magic "
                             f"{bom.hex()})")
        if shb_len < 28 or shb_len % 4 or shb_len > _MAX_BLOCK_BYTES:
            raise InputError(f"{path}: pcapng section header has a bad length ({shb_len})")
        if shb_len > size:
            raise InputError(f"{path}: pcapng section header cut short ({size} of "
                             f"{shb_len} bytes)")
        if engine == "fast":
            from capture_tls.sources.fastreader import open_fast  # imports this module

            return open_fast(path, f, "pcapng", size, head, chunk_size)
        from capture_tls.sources.scapy_readers import PcapNgReader, Scapy_Exception

        f.seek(4)
        ngreader = PcapNgReader.__new__(PcapNgReader)
        try:
            PcapNgReader.__init__(ngreader, path, f, magic, size)
        except Scapy_Exception as e:  # a damaged first section header
            raise InputError(f"{path}: unreadable pcapng section header: {e}") from None
        cr = CaptureReader(path=path, format="pcapng", size=size, _reader=ngreader, _file=f)
        return cr
    if len(head) < 4:
        raise InputError(f"{path}: not a capture: only {len(head)} bytes")
    raise InputError(f"{path}: not a capture file (bad magic {magic.hex()}: {_describe(head)})")
