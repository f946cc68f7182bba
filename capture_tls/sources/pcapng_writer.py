"""Writing pcapng, and copying a capture into a pcapng with a Decryption Secrets Block.

Theory of operation
-------------------
Block layouts follow the pcapng specification (draft-ietf-opsawg-pcapng, section 4):

* Section Header Block (4.1): type 0x0A0D0D0A, byte-order magic 0x1A2B3C4D, version 1.0,
  section length -1 ("not given": blocks may be inserted without recounting).
* Interface Description Block (4.2): link type, reserved, snap length; options `if_tsresol`
  (9, a power of 10) when the timestamps are not microseconds, `if_fcslen` (13).
* Enhanced Packet Block (4.3): interface id, 64-bit timestamp in the interface's units,
  captured and original length, the frame padded to 32 bits.
* Decryption Secrets Block (4.7): secrets type (0x544C534B "TLSK" = an NSS key log), length,
  data padded to 32 bits. Wireshark applies the secrets to the packets after the block;
  this module puts it right after the Section Header Block, as `editcap --inject-secrets`
  does.
* Options (3.5): code, length, value padded to 32 bits, ended by opt_endofopt.

`copy_with_secrets(src, dst, secrets)` keeps the capture as it is, so nothing is lost:
* pcapng input: every block is copied byte for byte (interfaces, their options and time
  resolutions, comments, existing secrets blocks, several sections), the secrets block goes
  after the first Section Header Block, in that section's byte order; the section length of
  each Section Header Block is set to -1 since the section grows.
* pcap input: one Interface Description Block with the file's link type, snap length and
  time resolution (microseconds, or nanoseconds with `if_tsresol` 9), then one Enhanced
  Packet Block per record with the record's own seconds and fraction: timestamps are exact.
Damage stops the copy at the last good block or record (what came before is written) and is
reported in `CopyResult.problems`; the reading itself is bounded per block like
`sources.captures` (a block of at most `MAX_BLOCK_BYTES`, a record of at most
`MAX_RECORD_BYTES`).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Final

from capture_tls.errors import InputError

__all__ = [
    "DSB_TLS_KEY_LOG",
    "CopyResult",
    "PcapngWriter",
    "copy_with_secrets",
    "decryption_secrets_block",
    "enhanced_packet_block",
    "interface_description_block",
    "section_header_block",
]

DSB_TLS_KEY_LOG: Final = 0x544C534B

SHB_TYPE: Final = 0x0A0D0D0A
IDB_TYPE: Final = 0x00000001
EPB_TYPE: Final = 0x00000006
DSB_TYPE: Final = 0x0000000A
BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D

OPT_ENDOFOPT: Final = 0
OPT_COMMENT: Final = 1
SHB_USERAPPL: Final = 4
IF_TSRESOL: Final = 9
IF_FCSLEN: Final = 13

# The same bounds as sources.captures: one pcapng block, one pcap record.
MAX_BLOCK_BYTES: Final = 16 * 1024 * 1024
MAX_RECORD_BYTES: Final = 4 * 65535
_COPY_CHUNK_BYTES: Final = 1 << 20

_PCAP_MAGICS: Final[dict[bytes, tuple[str, int]]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 6),
    b"\xa1\xb2\xc3\xd4": (">", 6),
    b"\x4d\x3c\xb2\xa1": ("<", 9),
    b"\xa1\xb2\x3c\x4d": (">", 9),
}


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _options(options: Sequence[tuple[int, bytes]], bo: str) -> bytes:
    if not options:
        return b""
    out = bytearray()
    for code, value in options:
        if len(value) > 0xFFFF:
            raise ValueError(f"option {code} of {len(value)} bytes")
        out += struct.pack(bo + "HH", code, len(value)) + _pad4(value)
    out += struct.pack(bo + "HH", OPT_ENDOFOPT, 0)
    return bytes(out)


def _block(block_type: int, body: bytes, bo: str = "<") -> bytes:
    body = _pad4(body)
    total = 12 + len(body)
    return struct.pack(bo + "II", block_type, total) + body + struct.pack(bo + "I", total)


def section_header_block(options: Sequence[tuple[int, bytes]] = (), bo: str = "<") -> bytes:
    body = struct.pack(bo + "IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + _options(options, bo)
    return _block(SHB_TYPE, body, bo)


def interface_description_block(link_type: int, snaplen: int, *, tsresol_exponent: int = 6,
                                 fcs_bytes: int | None = None, bo: str = "<") -> bytes:
    options: list[tuple[int, bytes]] = []
    if tsresol_exponent != 6:
        options.append((IF_TSRESOL, bytes((tsresol_exponent,))))
    if fcs_bytes is not None:
        options.append((IF_FCSLEN, bytes((fcs_bytes,))))
    body = struct.pack(bo + "HHI", link_type, 0, snaplen) + _options(options, bo)
    return _block(IDB_TYPE, body, bo)


def enhanced_packet_block(interface_id: int, timestamp: int, data: bytes, original_length: int,
                          bo: str = "<") -> bytes:
    """`timestamp` in the interface's units (microseconds unless its if_tsresol says else)."""
    body = struct.pack(bo + "IIIII", interface_id, (timestamp >> 32) & 0xFFFFFFFF,
                       timestamp & 0xFFFFFFFF, len(data), original_length) + data
    return _block(EPB_TYPE, body, bo)


def decryption_secrets_block(secrets_type: int, data: bytes, bo: str = "<") -> bytes:
    return _block(DSB_TYPE, struct.pack(bo + "II", secrets_type, len(data)) + data, bo)


class PcapngWriter:
    """A little-endian pcapng stream: one section, interfaces added as needed."""

    def __init__(self, f: BinaryIO, application: str = "capture-tls") -> None:
        self._f = f
        self._interfaces = 0
        f.write(section_header_block([(SHB_USERAPPL, application.encode())]))

    def add_interface(self, link_type: int, snaplen: int, *, tsresol_exponent: int = 6,
                      fcs_bytes: int | None = None) -> int:
        self._f.write(interface_description_block(link_type, snaplen,
                                                  tsresol_exponent=tsresol_exponent,
                                                  fcs_bytes=fcs_bytes))
        self._interfaces += 1
        return self._interfaces - 1

    def write_secrets(self, secrets_type: int, data: bytes) -> None:
        self._f.write(decryption_secrets_block(secrets_type, data))

    def write_packet(self, interface_id: int, timestamp: int, data: bytes,
                     original_length: int) -> None:
        if not 0 <= interface_id < self._interfaces:
            raise ValueError(f"no interface {interface_id}")
        self._f.write(enhanced_packet_block(interface_id, timestamp, data, original_length))


@dataclass
class CopyResult:
    format: str  # "pcap" | "pcapng" (of the input)
    packets: int = 0  # packet records / blocks copied
    problems: list[str] = field(default_factory=list)


def copy_with_secrets(src_path: str, dst_path: str,
                      secrets: Sequence[tuple[int, bytes]]) -> CopyResult:
    """Write `src_path` (pcap or pcapng) to `dst_path` as pcapng with one Decryption Secrets
    Block per `secrets` entry ((type, data), e.g. (DSB_TLS_KEY_LOG, key log text)) before the
    packets. Raises InputError when the input is not a capture or cannot be read, or the
    output cannot be written."""
    try:
        if os.path.exists(dst_path) and os.path.samefile(src_path, dst_path):
            raise InputError(f"{dst_path}: the output would overwrite the input")
        src = open(src_path, "rb")  # closed by the with below
    except OSError as e:
        raise InputError(f"{src_path}: cannot open: {e.strerror or e}") from None
    with src:
        head = src.read(24)
        if len(head) < 4:
            raise InputError(f"{src_path}: not a capture: only {len(head)} bytes")
        magic = head[:4]
        if magic not in _PCAP_MAGICS and magic != struct.pack("<I", SHB_TYPE):
            raise InputError(f"{src_path}: not a pcap or pcapng file (magic {magic.hex()})")
        src.seek(0)
        try:
            with open(dst_path, "wb") as dst:
                if magic in _PCAP_MAGICS:
                    return _copy_pcap(src, dst, secrets, src_path)
                return _copy_pcapng(src, dst, secrets, src_path)
        except OSError as e:
            raise InputError(f"{dst_path}: cannot write: {e.strerror or e}") from None


def _copy_pcap(src: BinaryIO, dst: BinaryIO, secrets: Sequence[tuple[int, bytes]],
               name: str) -> CopyResult:
    result = CopyResult("pcap")
    header = src.read(24)
    if len(header) < 24:
        raise InputError(f"{name}: pcap file header cut short ({len(header)} of 24 bytes)")
    bo, resolution = _PCAP_MAGICS[header[:4]]
    _major, _minor, _zone, _sigfigs, snaplen, raw_link = struct.unpack(bo + "HHiIII",
                                                                       header[4:])
    # Bits 16-31 of the link type field: FCS present (bit 26) and its length in 16-bit words
    # (bits 28-31); the type itself is the low 16 bits.
    fcs = ((raw_link >> 28) & 0xF) * 2 if raw_link & 0x04000000 else None
    writer = PcapngWriter(dst)
    for secrets_type, data in secrets:
        writer.write_secrets(secrets_type, data)
    iface = writer.add_interface(raw_link & 0xFFFF, snaplen, tsresol_exponent=resolution,
                                 fcs_bytes=fcs)
    scale = 10**resolution
    record = struct.Struct(bo + "IIII")
    offset = 24
    while True:
        rec = src.read(16)
        if not rec:
            break
        if len(rec) < 16:
            result.problems.append(f"{name}: file cut short in a record header at byte offset "
                                   f"{offset}; copied {result.packets} packets")
            break
        sec, frac, caplen, wirelen = record.unpack(rec)
        if caplen > MAX_RECORD_BYTES:
            result.problems.append(f"{name}: record at byte offset {offset} claims {caplen} "
                                   f"bytes; copied {result.packets} packets")
            break
        data = src.read(caplen)
        if len(data) < caplen:
            result.problems.append(f"{name}: file cut short inside the record at byte offset "
                                   f"{offset}; copied {result.packets} packets")
            break
        writer.write_packet(iface, sec * scale + frac, data, wirelen)
        result.packets += 1
        offset += 16 + caplen
    return result


def _copy_pcapng(src: BinaryIO, dst: BinaryIO, secrets: Sequence[tuple[int, bytes]],
                 name: str) -> CopyResult:
    result = CopyResult("pcapng")
    offset = 0
    bo = "<"
    first_section = True
    while True:
        head = src.read(12)
        if not head:
            break
        if len(head) < 12:
            result.problems.append(f"{name}: file cut short in a block header at byte offset "
                                   f"{offset}")
            break
        if head[:4] == struct.pack("<I", SHB_TYPE):
            bom = head[8:12]
            if bom == struct.pack("<I", BYTE_ORDER_MAGIC):
                bo = "<"
            elif bom == struct.pack(">I", BYTE_ORDER_MAGIC):
                bo = ">"
            else:
                result.problems.append(f"{name}: section header at byte offset {offset} has a "
                                       "bad byte-order magic; copy stopped")
                break
        block_type, total = struct.unpack(bo + "II", head[:8])
        if total < 12 or total % 4 or total > MAX_BLOCK_BYTES or (
                block_type == SHB_TYPE and total < 28):
            result.problems.append(f"{name}: block at byte offset {offset} has a bad length "
                                   f"({total}); copy stopped")
            break
        rest = src.read(total - 12)
        if len(rest) < total - 12:
            result.problems.append(f"{name}: file cut short inside the block at byte offset "
                                   f"{offset}")
            break
        block = bytearray(head + rest)
        if struct.unpack_from(bo + "I", block, total - 4)[0] != total:
            result.problems.append(f"{name}: block at byte offset {offset}: trailing length "
                                   "differs from the leading one; copy stopped")
            break
        if block_type == SHB_TYPE:
            struct.pack_into(bo + "q", block, 16, -1)  # section length: not given
            dst.write(block)
            if first_section:
                for secrets_type, data in secrets:
                    dst.write(decryption_secrets_block(secrets_type, data, bo))
                first_section = False
        else:
            if block_type in (EPB_TYPE, 2, 3):
                result.packets += 1
            dst.write(block)
        offset += total
    return result
