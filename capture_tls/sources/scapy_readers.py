"""scapy's raw pcap and pcapng readers, wrapped: the reference engine ("scapy") that
`captures.open_capture` offers beside the project's own reader (fastreader.py).

Kept apart from captures.py so that the default engine never imports scapy: importing it costs
about 0.1 s of every run's start (scapy.utils with scapy.data, measured with
`python -X importtime`), and only this engine and live capture use it. captures.py's module
docstring describes what these classes fix around scapy.
"""

from __future__ import annotations

import logging
import struct
from typing import IO, Any

from scapy.error import Scapy_Exception
from scapy.utils import RawPcapNgReader, RawPcapReader

from capture_tls.sources.captures import (
    _MAX_BLOCK_BYTES,
    _MAX_FRAME_BYTES,
    _SHB,
    DAMAGED_BLOCK,
    TRUNCATED_FILE,
    _Problems,
    find_next_block,
    pcapng_block_header,
)

__all__ = ["PcapNgReader", "PcapReader", "Scapy_Exception"]

_HDR_LE = struct.Struct("<II").unpack_from
_HDR_BE = struct.Struct(">II").unpack_from
# Enhanced Packet Block: interface id, (timestamp high, low skipped), captured length
_EPB_LE = struct.Struct("<I8xI").unpack_from
_EPB_BE = struct.Struct(">I8xI").unpack_from


class _ScapyReaderWarnings(logging.Filter):
    """Drop scapy's capture-reader warnings ("Pcap: ...", "PcapNg: ...", "PcapReader: ...").
    We report the same conditions as `FileProblem`s; everything else scapy logs passes.

    Installed first on "scapy.runtime", ahead of scapy's own ScapyFreqFilter, which would
    otherwise walk the stack (traceback.extract_stack) for every warning of a damaged file
    and rename repeated ones to "more ...".
    """

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        return not (isinstance(msg, str) and msg.startswith(("Pcap", "more Pcap")))


_scapy_log = logging.getLogger("scapy.runtime")
if not any(isinstance(f, _ScapyReaderWarnings) for f in _scapy_log.filters):
    _scapy_log.filters.insert(0, _ScapyReaderWarnings())


class _PcapReader(RawPcapReader):
    """scapy's pcap reader, constructed from an already opened file (no metaclass fallback)."""


class _PcapNgReader(RawPcapNgReader):
    """scapy's pcapng reader with bounded, checked block framing (see module docstring)."""

    def __init__(self, filename: str, fdesc: IO[bytes], magic: bytes, size: int) -> None:
        self.size = size
        self.problems = _Problems()
        self.secrets: list[tuple[int, bytes]] = []
        self.cur_tsoffset = 0
        self.stopped = False
        self._hdr = _HDR_LE
        self._epb_fixed = _EPB_LE
        super().__init__(filename, fdesc, magic)
        # Offset of the next block. Tracked here (not f.tell()) to keep the hot path short;
        # every path that moves the file sets it.
        self.pos: int = fdesc.tell()
        self._scapy_read_block = super()._read_block
        self._scapy_epb = super()._read_block_epb
        self.blocktypes[1] = self._idb
        self.blocktypes[3] = self._spb
        self.blocktypes[6] = self._epb
        self.blocktypes[10] = self._dsb

    # --- block handlers wrapped or replaced -------------------------------------------------

    def _read_block_shb(self) -> None:
        # Interface ids restart in every section.
        self.interfaces = []
        try:
            super()._read_block_shb()
        finally:
            big = self.endian == ">"
            self._hdr = _HDR_BE if big else _HDR_LE
            self._epb_fixed = _EPB_BE if big else _EPB_LE

    def _idb(self, block: bytes, size: int) -> None:
        if len(block) < 8:
            self.problems.add(DAMAGED_BLOCK, f"interface description block of {len(block)} "
                              "bytes, fewer than its 8 fixed bytes")
            return
        super()._read_block_idb(block, size)
        opts = self._read_options(block[8:])
        tsoffset = opts.get(14)
        options = self.interfaces[-1][2]
        if isinstance(tsoffset, bytes) and len(tsoffset) == 8:
            options["tsoffset"] = struct.unpack(self.endian + "q", tsoffset)[0]
        else:
            options["tsoffset"] = 0

    def _epb(self, block: bytes, size: int) -> tuple[bytes, Any] | None:
        if len(block) < 20:
            self.problems.add(DAMAGED_BLOCK, f"enhanced packet block of {len(block) + 12} bytes "
                              "is shorter than its fixed fields")
            return None
        intid, caplen = self._epb_fixed(block)
        if 20 + caplen > len(block):
            self.problems.add(DAMAGED_BLOCK, f"enhanced packet block claims {caplen} captured "
                              f"bytes but holds {len(block) - 20}")
            return None
        interfaces = self.interfaces
        if intid >= len(interfaces):
            self.problems.add(DAMAGED_BLOCK, f"packet block names interface {intid}, but only "
                              f"{len(interfaces)} are described in its section")
            return None
        self.cur_tsoffset = interfaces[intid][2]["tsoffset"]
        res: tuple[bytes, Any] | None = self._scapy_epb(block, size)
        return res

    def _spb(self, block: bytes, size: int) -> tuple[bytes, Any] | None:
        """Simple Packet Block, read here: scapy takes min(wirelen, snaplen) as the captured
        length, which is 0 for the usual snaplen 0 ("no limit")."""
        if len(block) < 4:
            self.problems.add(DAMAGED_BLOCK, "simple packet block shorter than its header")
            return None
        if not self.interfaces:
            self.problems.add(DAMAGED_BLOCK, "simple packet block before any interface "
                              "description in its section")
            return None
        wirelen = self._hdr(block + b"\0\0\0\0")[0]
        linktype, snaplen, options = self.interfaces[0]
        caplen = wirelen if snaplen == 0 or wirelen < snaplen else snaplen
        if 4 + caplen > len(block):
            self.problems.add(DAMAGED_BLOCK, f"simple packet block of {len(block) + 12} bytes "
                              f"cannot hold the {caplen} captured bytes it implies")
            return None
        self.cur_tsoffset = options["tsoffset"]
        return block[4 : 4 + caplen], RawPcapNgReader.PacketMetadata(
            linktype=linktype, tsresol=options["tsresol"], tshigh=None, tslow=None,
            wirelen=wirelen, comments=None, ifname=options.get("name"), direction=None,
            process_information={})

    def _dsb(self, block: bytes, size: int) -> None:
        if len(block) < 8:
            self.problems.add(DAMAGED_BLOCK, "decryption secrets block shorter than its header")
            return
        secrets_type, secrets_len = struct.unpack_from(self.endian + "II", block)
        if 8 + secrets_len > len(block):
            self.problems.add(DAMAGED_BLOCK, f"decryption secrets block claims {secrets_len} "
                              f"bytes of secrets but holds {len(block) - 8}")
            return
        self.secrets.append((secrets_type, bytes(block[8 : 8 + secrets_len])))

    # --- checked framing ---------------------------------------------------------------------

    def _header(self, head: bytes) -> tuple[int, int]:
        return pcapng_block_header(head, self._hdr)

    def _read_block(self, size: int = _MAX_FRAME_BYTES) -> tuple[bytes, Any] | None:
        if self.stopped:
            raise EOFError
        pos = self.pos
        remaining = self.size - pos
        if remaining < 12:
            if remaining <= 0:
                raise EOFError
            self._truncated(pos, f"{remaining} bytes of a block header at byte offset {pos}")
        f: Any = self.f
        head = f.peek(12)
        if len(head) < 12:
            head = f.read(12)
            f.seek(pos)
        btype, blocklen = self._hdr(head)
        if btype == _SHB or blocklen < 12 or blocklen & 3 or blocklen > _MAX_BLOCK_BYTES:
            btype, blocklen = self._header(head)
        if blocklen < 0:
            raw_len = self._hdr(head)[1]
            self._damaged(pos, f"block length {raw_len} at byte offset {pos} is not valid")
            return None
        if blocklen > remaining:
            if self._resync(pos + 4):
                self.problems.add(DAMAGED_BLOCK, f"block at byte offset {pos} declares "
                                  f"{blocklen} bytes, past the next good block; skipped")
                return None
            self._truncated(pos, f"cut inside a block of {blocklen} bytes at byte offset {pos}")
        try:
            res: tuple[bytes, Any] | None = self._scapy_read_block(size)
        except (EOFError, struct.error, ValueError, IndexError, KeyError) as e:
            # Header checked, body inside the file: the trailing length disagrees or scapy's
            # handler refused the contents.
            f.seek(pos + blocklen - 4)
            if self._trailer_matches(head, f.read(4), blocklen):
                self.problems.add(DAMAGED_BLOCK, f"block at byte offset {pos} has unreadable "
                                  f"contents ({str(e) or type(e).__name__}); skipped")
                f.seek(pos + blocklen)
                self.pos = pos + blocklen
                return None
            self._damaged(pos, f"block at byte offset {pos}: its trailing length does not "
                          f"match its leading length {blocklen}")
            return None
        except Scapy_Exception as e:  # a damaged Section Header Block's options
            self._damaged(pos, f"block at byte offset {pos}: {e}")
            return None
        self.pos = pos + blocklen
        return res

    def _trailer_matches(self, head: bytes, tail: bytes, blocklen: int) -> bool:
        return len(tail) == 4 and self._header(head[:4] + tail + head[8:12])[1] == blocklen

    def _truncated(self, pos: int, what: str) -> None:
        self.problems.add(TRUNCATED_FILE, f"file cut short: {what}")
        self.stopped = True
        raise EOFError

    def _damaged(self, pos: int, what: str) -> None:
        if self._resync(pos + 4):
            self.problems.add(DAMAGED_BLOCK, f"{what}; skipped to the next good block")
        else:
            self.problems.add(DAMAGED_BLOCK, f"{what}; no good block follows, reading stopped")
            self.stopped = True
            raise EOFError

    def _resync(self, start: int) -> bool:
        """Look for the next block whose leading and trailing lengths agree, starting at a
        4-byte aligned offset >= start. On success the file is positioned there."""
        found = find_next_block(self.f, self.size, start, self._header, self._trailer_matches)
        if found is None:
            return False
        self.pos = found
        return True


PcapReader = _PcapReader
PcapNgReader = _PcapNgReader
