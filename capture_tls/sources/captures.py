"""Reading pcap and pcapng files as a stream of raw frames. INTERFACE STUB: to be implemented.

The hot path yields plain tuples, never objects per packet.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CaptureReader", "FileProblem", "RawFrame", "open_capture"]

# (timestamp in seconds since the epoch, link type (DLT/LINKTYPE number), frame bytes as
# captured, original length on the wire). caplen < wirelen means the snap length cut it.
RawFrame = tuple[float, int, bytes, int]


@dataclass
class FileProblem:
    """A counted input-level warning: TRUNCATED_FILE, DAMAGED_BLOCK, ..."""

    code: str
    message: str
    count: int = 1


@dataclass
class CaptureReader:
    """An opened capture. Iterate `frames()` once; afterwards `problems`, `packets`,
    `first_ts`, `last_ts` and `link_types` describe what was read.

    `secrets` collects the payloads of pcapng Decryption Secrets Blocks as (type, bytes).
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

    def frames(self) -> Iterator[RawFrame]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def open_capture(path: str) -> CaptureReader:
    """Open a pcap or pcapng file. Raises `InputError` with a one-line reason when the file
    cannot be used at all: missing, unreadable, empty, not a capture, header cut."""
    raise NotImplementedError
