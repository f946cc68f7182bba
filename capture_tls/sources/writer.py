"""Writing captures: a minimal pcapng writer (one section, one interface per link type,
Enhanced Packet Blocks with nanosecond timestamps).

Theory of operation (pcapng, draft-ietf-opsawg-pcapng section 4): a Section Header Block
(byte-order magic 0x1A2B3C4D, version 1.0, section length -1 "not given"), then an Interface
Description Block the first time a link type is written (snap length 0 "no limit",
`if_tsresol` = 9: timestamps count nanoseconds), then one Enhanced Packet Block per frame:
interface id, 64-bit timestamp, captured length, original length, the frame padded to 32 bits.
Every block ends with its total length again. Written in the machine's byte order, which the
byte-order magic announces.

Timestamps arrive as float seconds (what `CaptureReader.frames()` yields). The nanosecond
count written is the float's exact value rounded to the nearest nanosecond, so reading the file
back (integer nanoseconds / 10**9, correctly rounded) gives the same float for any capture
time of this era, whatever the original resolution was.
"""

from __future__ import annotations

import struct
import sys
from fractions import Fraction
from typing import BinaryIO

__all__ = ["PcapngWriter", "timestamp_ns"]

_E = "<" if sys.byteorder == "little" else ">"
_SHB = 0x0A0D0D0A
_IDB = 0x00000001
_EPB = 0x00000006
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_OPT_END = 0
_OPT_SHB_USERAPPL = 4
_OPT_IF_TSRESOL = 9
_MAX_FRAME_BYTES = 0xFFFF_FFFF - 64  # the captured length field is 32 bits
_MAX_OPTION_BYTES = 0xFFFF


def timestamp_ns(ts: float) -> int:
    """Seconds as a float -> whole nanoseconds (the float's exact value, rounded)."""
    return round(Fraction(ts) * 1_000_000_000)


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    if len(value) > _MAX_OPTION_BYTES:
        raise ValueError("pcapng option longer than 65535 bytes")
    return struct.pack(_E + "HH", code, len(value)) + _pad4(value)


def _block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack(_E + "II", block_type, total) + body + struct.pack(_E + "I", total)


class PcapngWriter:
    """Writes frames to an open binary file as pcapng. The caller closes the file."""

    def __init__(self, out: BinaryIO, application: str = "capture-tls") -> None:
        self._out = out
        self._interfaces: dict[int, int] = {}  # link type -> interface id
        self.packets = 0
        options = _option(_OPT_SHB_USERAPPL, application.encode("utf-8")[:256])
        options += _option(_OPT_END, b"")
        body = struct.pack(_E + "IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1) + options
        out.write(_block(_SHB, body))

    def _interface(self, link_type: int) -> int:
        iface = self._interfaces.get(link_type)
        if iface is None:
            if not 0 <= link_type <= 0xFFFF:
                raise ValueError(f"link type {link_type} does not fit pcapng's 16 bits")
            options = _option(_OPT_IF_TSRESOL, b"\x09") + _option(_OPT_END, b"")
            self._out.write(_block(_IDB, struct.pack(_E + "HHI", link_type, 0, 0) + options))
            iface = len(self._interfaces)
            self._interfaces[link_type] = iface
        return iface

    def write(self, ts: float, link_type: int, frame: bytes, original_length: int) -> None:
        """One frame, as captured (`original_length`: its length on the wire)."""
        if len(frame) > _MAX_FRAME_BYTES:
            raise ValueError("frame too long for pcapng")
        iface = self._interface(link_type)
        ns = timestamp_ns(ts)
        if ns < 0:
            raise ValueError("timestamp before 1970")
        body = struct.pack(
            _E + "IIIII",
            iface,
            (ns >> 32) & 0xFFFF_FFFF,
            ns & 0xFFFF_FFFF,
            len(frame),
            max(original_length, len(frame)) & 0xFFFF_FFFF,
        )
        self._out.write(_block(_EPB, body + _pad4(frame)))
        self.packets += 1
