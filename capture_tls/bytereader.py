"""One bounds-checked reader for every parser.

Every read checks the remaining length first and raises `ProtocolError` (the project's own)
instead of IndexError/struct.error, so a parser can never read past what it was given.
"""

from __future__ import annotations

from capture_tls.errors import ProtocolError

__all__ = ["ByteReader", "consume_prefix"]


def consume_prefix(buf: bytearray, end: int, compact_after_bytes: int) -> int:
    """The sans-I/O readers' buffer: bytes before `end` are consumed; returns the new read
    position. Compacting only when the consumed prefix is at least half the buffer (and at
    least `compact_after_bytes`) keeps the copying linear in the bytes received, however they
    are chunked."""
    if end >= len(buf):
        buf.clear()
        return 0
    if end >= compact_after_bytes and 2 * end >= len(buf):
        del buf[:end]
        return 0
    return end


def append_unread(
    buf: bytes | bytearray, pos: int, data: bytes | bytearray | memoryview
) -> tuple[bytes | bytearray, int]:
    """The sans-I/O readers' buffer after `receive_data(data)`: (buffer, read position).

    With nothing unread the caller's bytes become the buffer as they are, read in place (no
    copy into a bytearray and out of it again per record or packet); the unread rest of such
    a buffer is copied into a bytearray only when more bytes must be joined to it; a bytearray
    grows in place."""
    if pos >= len(buf):
        return (data if type(data) is bytes else bytes(data)), 0
    if type(buf) is bytes:
        joined = bytearray(memoryview(buf)[pos:])
        joined += data
        return joined, 0
    buf += data
    return buf, pos


class ByteReader:
    __slots__ = ("_data", "_end", "_pos")

    def __init__(self, data: bytes | memoryview, start: int = 0, end: int | None = None) -> None:
        self._data = bytes(data) if isinstance(data, memoryview) else data
        self._pos = start
        self._end = len(self._data) if end is None else min(end, len(self._data))

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    @property
    def position(self) -> int:
        return self._pos

    def at_end(self) -> bool:
        return self._pos >= self._end

    def _need(self, n: int, what: str) -> None:
        if n < 0 or self._pos + n > self._end:
            raise ProtocolError(f"{what}: needs {n} bytes, {self._end - self._pos} left")

    def u8(self, what: str = "u8") -> int:
        self._need(1, what)
        v = self._data[self._pos]
        self._pos += 1
        return v

    def u16(self, what: str = "u16") -> int:
        self._need(2, what)
        p = self._pos
        self._pos = p + 2
        return (self._data[p] << 8) | self._data[p + 1]

    def u24(self, what: str = "u24") -> int:
        self._need(3, what)
        p = self._pos
        self._pos = p + 3
        return int.from_bytes(self._data[p : p + 3], "big")

    def u32(self, what: str = "u32") -> int:
        self._need(4, what)
        p = self._pos
        self._pos = p + 4
        return int.from_bytes(self._data[p : p + 4], "big")

    def le(self, n: int, what: str = "le") -> int:
        """Little-endian unsigned integer of n bytes (MySQL's int<n>)."""
        self._need(n, what)
        p = self._pos
        self._pos = p + n
        return int.from_bytes(self._data[p : p + n], "little")

    def take(self, n: int, what: str = "bytes") -> bytes:
        self._need(n, what)
        p = self._pos
        self._pos = p + n
        return self._data[p : p + n]

    def rest(self) -> bytes:
        p = self._pos
        self._pos = self._end
        return self._data[p : self._end]

    def skip(self, n: int, what: str = "skip") -> None:
        self._need(n, what)
        self._pos += n

    def vector(self, length_bytes: int, what: str = "vector") -> bytes:
        """A TLS opaque vector <0..2^(8*length_bytes)-1>."""
        if length_bytes == 1:
            n = self.u8(what)
        elif length_bytes == 2:
            n = self.u16(what)
        elif length_bytes == 3:
            n = self.u24(what)
        else:
            raise ValueError("length_bytes must be 1, 2 or 3")
        return self.take(n, what)

    def sub(self, n: int, what: str = "sub") -> ByteReader:
        """A reader over the next n bytes; this reader moves past them."""
        self._need(n, what)
        r = ByteReader(self._data, self._pos, self._pos + n)
        self._pos += n
        return r

    def cstring(self, what: str = "cstring", max_len: int = 4096) -> bytes:
        """NUL-terminated bytes (MySQL's string<NUL>); the NUL is consumed, not returned."""
        end = self._data.find(b"\0", self._pos, min(self._end, self._pos + max_len + 1))
        if end < 0:
            raise ProtocolError(f"{what}: no NUL terminator within {max_len} bytes")
        v = self._data[self._pos : end]
        self._pos = end + 1
        return v

    def lenenc_int(self, what: str = "lenenc") -> int:
        """MySQL length-encoded integer."""
        first = self.u8(what)
        if first < 0xFB:
            return first
        if first == 0xFC:
            return self.le(2, what)
        if first == 0xFD:
            return self.le(3, what)
        if first == 0xFE:
            return self.le(8, what)
        raise ProtocolError(f"{what}: 0x{first:02x} is not a length-encoded integer")
