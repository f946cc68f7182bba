"""Live capture from Linux packet sockets, as a stream of raw frames; and a pcapng writer.

Theory of operation
-------------------
`LiveCapture` opens one AF_PACKET socket (packet(7)), the socket scapy's `L2ListenSocket` is
built on, but in its cooked form (SOCK_DGRAM), the way libpcap captures on "any":

* The kernel hands each packet from its network header on, with a `sockaddr_ll` naming the
  interface, the protocol (ethertype), the packet type (to us, from us, ...) and the hardware
  type. We put a LINUX_SLL2 header (tcpdump.org link type 276) in front of it, so one stream
  serves every interface, whatever its own link layer (Ethernet, loopback, tunnels without a
  header), and `frames.decode_frame` reads it as it reads a `tcpdump -i any` capture. A VLAN
  tag the kernel took off (reported beside the packet) is put back as an 802.1Q header after
  the SLL2 header, as libpcap does.
* The filter runs in the kernel (SO_ATTACH_FILTER). It is compiled by scapy's
  `compile_filter` (libpcap's `pcap_compile` on a "dead" handle, no privileges needed) for
  raw IP (DLT_RAW), because a cooked socket's filter sees the packet from its network header.
  libpcap's program keeps 65535 bytes of an accepted packet (`ret #65535`); we raise that to
  our snap length so segmentation-offloaded packets on the loopback interface are not cut.
* The socket is created for protocol 0 (it receives nothing), gets its filter and ring, and
  only then is bound for all protocols to its interface, or to index 0 for "any" (all
  interfaces; bind(2) through ctypes, as Python's bind() wants an interface name). So no
  unfiltered packet is ever queued.
* On a loopback interface the kernel shows every packet twice, leaving and arriving; the
  leaving copy is refused by a few instructions put in front of libpcap's program (libpcap
  skips it in user space), so the stream equals `tcpdump -i lo` and the kernel's counters
  count each packet once.
* Time stamps are the kernel's (in the ring's packet header, or SO_TIMESTAMPNS), kept to the
  microsecond so that a frame written with `PcapNgWriter` reads back with exactly the same
  time.
* Drops: the kernel counts packets it could not queue (ring or socket full; PACKET_STATISTICS,
  `tp_drops`; reading the counters resets them, so `statistics()` adds them up).

Reading (packet(7), PACKET_RX_RING with TPACKET_V3, as libpcap does): the kernel writes
packets into a ring of blocks shared with us (`mmap`) and hands over a block when it is full
or `_RING_RETIRE_MS` after its first packet; we walk the block's packets (a `tpacket3_hdr` and
a `sockaddr_ll` each), copy each frame out and give the block back. No system call per packet:
about 0.8 us per frame here, against about 4 us with one `recvmsg` each. Should the kernel
refuse a ring, the socket is read with one `recvmsg_into` per packet into one preallocated
buffer instead (time stamps and VLAN tags then come as control messages). Either way
`frames()` waits in `poll` with a time-out, yielding None when it passes without a packet so
the caller can do periodic work (expire idle connections, check a deadline, notice a signal).
The ring is the buffer: `buffer_bytes` sizes it (or the socket's receive buffer).

Errors that stop a capture before it starts (no permission, no such interface, a filter
libpcap refuses) are `CaptureUnavailableError` with a one-line reason.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import select
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from capture_tls.errors import InputError
from capture_tls.sources.captures import RawFrame

__all__ = [
    "ANY_INTERFACE",
    "LINKTYPE_LINUX_SLL2",
    "RECEIVE_BUFFER_BYTES",
    "CaptureUnavailableError",
    "InterfaceInfo",
    "LiveCapture",
    "PcapNgWriter",
    "capture_filter",
    "list_interfaces",
]

ANY_INTERFACE = "any"
LINKTYPE_LINUX_SLL2 = 276
# The largest frame kept: tcpdump's and dumpcap's maximum snap length. A loopback interface
# has a 64 KiB MTU and offloaded segments can be larger still.
SNAPLEN_BYTES = 262144
# The receive ring's size (or the socket's receive buffer without a ring): room for bursts of
# thousands of frames while the analysis is busy with a certificate chain; tcpdump's default is
# 2 MiB. Memory the kernel holds for us, fixed for the whole capture.
RECEIVE_BUFFER_BYTES = 16 * 1024 * 1024
# The pcapng file is written through a buffer of this size and flushed about once a second.
_WRITE_BUFFER_BYTES = 256 * 1024

_ETH_P_ALL = 0x0003
_SOL_PACKET = 263
_PACKET_AUXDATA = 8
_PACKET_STATISTICS = 6
_SO_ATTACH_FILTER = 26
_SO_RCVBUFFORCE = 33
_SO_TIMESTAMPNS = 35  # also its control message type (SCM_TIMESTAMPNS)
_PACKET_OUTGOING = 4
_ARPHRD_LOOPBACK = 772
_DLT_RAW = 12
_TP_STATUS_VLAN_VALID = 1 << 4
_TP_STATUS_VLAN_TPID_VALID = 1 << 6
_ETH_P_8021Q = 0x8100
_BPF_RET_K = 0x06

# struct tpacket_auxdata: status, len, snaplen, mac, net, vlan_tci, vlan_tpid
_AUXDATA = struct.Struct("=IIIHHHH")
# struct timespec on a 64-bit Linux: tv_sec, tv_nsec
_TIMESPEC = struct.Struct("=qq")
# struct tpacket_stats: tp_packets, tp_drops
_STATS = struct.Struct("=II")
# LINUX_SLL2: protocol, reserved, interface index, ARPHRD type, packet type, address length,
# address (8 bytes, zero padded)
_SLL2 = struct.Struct("!HHIHBB8s")
_VLAN = struct.Struct("!HH")
_U16BE = struct.Struct("!H")
_ANC_BYTES = socket.CMSG_SPACE(_AUXDATA.size) + socket.CMSG_SPACE(_TIMESPEC.size)

# The receive ring (packet(7) PACKET_RX_RING, TPACKET_V3): blocks of variable-sized frames.
_PACKET_RX_RING = 5
_PACKET_VERSION = 10
_TPACKET_V3 = 2
_TP_STATUS_USER = 1
# A block the kernel hands over when full or after this many milliseconds, whichever is first:
# the most a quiet connection's packet waits before we see it.
_RING_RETIRE_MS = 50
# Largest ring block: holds the largest frame (the snap length) with its headers.
_RING_MAX_BLOCK_BYTES = 1 << 20
_RING_FRAME_BYTES = 2048  # only a unit of the ring's bookkeeping in TPACKET_V3
# struct tpacket_block_desc: block_status, num_pkts, offset_to_first_pkt (after version and
# offset_to_priv)
_BLOCK_DESC = struct.Struct("=8xIII")
_BLOCK_STATUS_OFFSET = 8
_RELEASE = bytes(4)
# struct tpacket3_hdr: next_offset, sec, nsec, snaplen, len, status, mac, net, then hv1:
# rxhash, vlan_tci, vlan_tpid; the sockaddr_ll follows at TPACKET_ALIGN(48) = 48.
_TP3_HDR = struct.Struct("=IIIIIIHHIIH")
_TP3_SLL_OFFSET = 48
# struct sockaddr_ll: (family,) protocol (network order, kept as bytes), ifindex, hatype,
# pkttype, halen, addr
_SLL = struct.Struct("=2x2siHBB8s")
# LINUX_SLL2 after its protocol field
_SLL2_REST = struct.Struct("!HIHBB8s")


class CaptureUnavailableError(InputError):
    """A live capture cannot start: no permission, no such interface, a refused filter."""


@dataclass(frozen=True, slots=True)
class InterfaceInfo:
    name: str
    index: int
    up: bool
    loopback: bool
    addresses: tuple[str, ...]


def list_interfaces() -> list[InterfaceInfo]:
    """The interfaces of this network namespace (no privileges needed), by index."""
    try:
        import scapy.arch  # noqa: F401  (registers the platform's interface provider)
        from scapy.config import conf

        found = [
            InterfaceInfo(
                name=str(i.network_name or i.name),
                index=int(i.index),
                up=bool(i.is_valid()),
                loopback=int(i.type) == _ARPHRD_LOOPBACK,
                addresses=tuple(a for v in (4, 6) for a in i.ips.get(v, ())),
            )
            for i in conf.ifaces.values()
        ]
    except Exception:  # scapy could not read them: names and indexes from the C library
        found = [InterfaceInfo(name, index, _is_up(name), name == "lo", ())
                 for index, name in socket.if_nameindex()]
    return sorted(found, key=lambda i: i.index)


def _is_up(name: str) -> bool:
    try:
        with open(f"/sys/class/net/{name}/flags", encoding="ascii") as f:
            return bool(int(f.read().strip(), 16) & 1)
    except (OSError, ValueError):
        return False


def capture_filter(ports: frozenset[int] | set[int], any_port: bool) -> str:
    """The libpcap filter expression: the MySQL ports (all TCP with `any_port`) and DNS."""
    if any_port:
        return "tcp or udp port 53"
    tcp = " or ".join(f"tcp port {p}" for p in sorted(ports))
    return f"{tcp} or port 53" if tcp else "port 53"


# Run first, before libpcap's program: a packet leaving a loopback interface is refused (it
# arrives again as incoming). BPF ancillary loads (SKF_AD_OFF + SKF_AD_PKTTYPE/HATYPE); jumps
# are relative, so the program after them is unchanged.
_SKF_AD_OFF = -0x1000
_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_SKIP_LOOPBACK_OUTGOING = (
    (_BPF_LD_W_ABS, 0, 0, _SKF_AD_OFF + 4),  # A = packet type
    (_BPF_JEQ_K, 0, 3, _PACKET_OUTGOING),  # not outgoing: to libpcap's program
    (_BPF_LD_W_ABS, 0, 0, _SKF_AD_OFF + 28),  # A = hardware type
    (_BPF_JEQ_K, 0, 1, _ARPHRD_LOOPBACK),  # not loopback: to libpcap's program
    (_BPF_RET_K, 0, 0, 0),  # refuse
)


def _compile(expression: str, snaplen: int) -> tuple[ctypes.Array[Any], int]:
    """libpcap's program for `expression` on raw IP, with every "accept" keeping `snaplen`,
    after `_SKIP_LOOPBACK_OUTGOING`."""
    try:
        from scapy.arch.common import compile_filter, free_filter
        from scapy.error import Scapy_Exception
        from scapy.libs.structures import bpf_insn
    except Exception as exc:  # scapy without its libpcap binding
        raise CaptureUnavailableError(f"cannot compile the capture filter: {exc}") from None
    try:
        program = compile_filter(expression, linktype=_DLT_RAW)
    except (ImportError, OSError, Scapy_Exception) as exc:
        raise CaptureUnavailableError(f"cannot compile the capture filter {expression!r}: "
                                      f"{exc}") from None
    try:
        n = int(program.bf_len)
        prefix = len(_SKIP_LOOPBACK_OUTGOING)
        insns = (bpf_insn * (prefix + n))(*(bpf_insn(*i) for i in _SKIP_LOOPBACK_OUTGOING))
        for i in range(n):
            src = program.bf_insns[i]
            k = src.k
            if src.code == _BPF_RET_K and k != 0:
                k = snaplen
            insns[prefix + i] = bpf_insn(src.code, src.jt, src.jf, k)
    finally:
        free_filter(program)
    return insns, prefix + n


def _attach_filter(sock: socket.socket, insns: ctypes.Array[Any], count: int
                   ) -> None:
    from scapy.libs.structures import bpf_insn, sock_fprog

    fprog = sock_fprog(count, ctypes.cast(insns, ctypes.POINTER(bpf_insn)))
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, bytes(fprog))


class _SockaddrLL(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("protocol", ctypes.c_ushort),
                ("ifindex", ctypes.c_int), ("hatype", ctypes.c_ushort),
                ("pkttype", ctypes.c_ubyte), ("halen", ctypes.c_ubyte),
                ("addr", ctypes.c_ubyte * 8)]


def _bind(sock: socket.socket, ifindex: int) -> None:
    """bind(2) to an interface index, 0 meaning all interfaces (Python's own bind() takes a
    name, and "all" has none)."""
    libc = ctypes.CDLL(None, use_errno=True)
    addr = _SockaddrLL(socket.AF_PACKET, socket.htons(_ETH_P_ALL), ifindex)
    if libc.bind(sock.fileno(), ctypes.byref(addr), ctypes.sizeof(addr)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


class LiveCapture:
    """One capture on an interface ("any": all of them). `open()`, iterate `frames()`, then
    `close()`; `statistics()` at any time. Frames are LINUX_SLL2 (`LINKTYPE_LINUX_SLL2`)."""

    link_type = LINKTYPE_LINUX_SLL2

    def __init__(self, interface: str, bpf_filter: str, snaplen: int = SNAPLEN_BYTES,
                 buffer_bytes: int = RECEIVE_BUFFER_BYTES, use_ring: bool = True) -> None:
        self.interface = interface
        self.bpf_filter = bpf_filter
        self.snaplen = snaplen
        self.buffer_bytes = buffer_bytes
        self.packets = 0  # frames handed out
        self.kernel_packets = 0  # accepted by the filter (kernel count, incl. drops)
        self.kernel_drops = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.error: str | None = None  # why reading stopped before close(), if it did
        self.use_ring = use_ring
        self.uses_ring = False  # True once open() set up the receive ring
        self._sock: socket.socket | None = None
        self._ring: mmap.mmap | None = None
        self._ring_block_bytes = 0
        self._ring_blocks = 0
        self._ifindex: dict[str, int] = {}

    # --- setting up ----------------------------------------------------------------------

    def open(self) -> None:
        """Create the socket, attach the filter, set up the ring, bind. Raises
        CaptureUnavailableError."""
        ifindex = 0  # "any": all interfaces
        if self.interface != ANY_INTERFACE:
            try:
                ifindex = socket.if_nametoindex(self.interface)
            except OSError:
                raise CaptureUnavailableError(self._no_such_interface()) from None
        insns, count = _compile(self.bpf_filter, self.snaplen)
        try:
            # Protocol 0: nothing arrives before bind(), so nothing unfiltered either.
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
        except PermissionError:
            raise CaptureUnavailableError(
                "capturing packets needs root or the CAP_NET_RAW capability (run it with sudo, "
                "or grant the capability to the Python interpreter)") from None
        except OSError as exc:
            raise CaptureUnavailableError(f"cannot open a packet socket: "
                                          f"{exc.strerror or exc}") from None
        try:
            self._setup(sock, insns, count, ifindex)
        except BaseException:
            self._close_ring()
            sock.close()
            raise
        self._sock = sock

    def _no_such_interface(self) -> str:
        return (f"no interface named {self.interface!r} here (capture-tls sniff "
                "--list-interfaces shows them)")

    def _setup(self, sock: socket.socket, insns: ctypes.Array[Any], count: int,
               ifindex: int) -> None:
        try:
            _attach_filter(sock, insns, count)
        except OSError as exc:
            raise CaptureUnavailableError(f"the kernel refused the capture filter: "
                                          f"{exc.strerror or exc}") from None
        if not (self.use_ring and self._setup_ring(sock)):
            try:
                sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, self.buffer_bytes)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.buffer_bytes)
            sock.setsockopt(_SOL_PACKET, _PACKET_AUXDATA, 1)
            sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        sock.setblocking(False)
        try:
            _bind(sock, ifindex)
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                raise CaptureUnavailableError(self._no_such_interface()) from None
            raise CaptureUnavailableError(f"cannot capture on {self.interface!r}: "
                                          f"{exc.strerror or exc}") from None
        # Counters start now (reading them resets them).
        sock.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, _STATS.size)

    def _setup_ring(self, sock: socket.socket) -> bool:
        """A TPACKET_V3 receive ring of about `buffer_bytes`; False when the kernel refuses."""
        page = mmap.PAGESIZE
        block = page
        while block < _RING_MAX_BLOCK_BYTES and block * 2 <= max(page, self.buffer_bytes // 2):
            block *= 2
        blocks = max(1, self.buffer_bytes // block)
        frames = block // _RING_FRAME_BYTES * blocks
        request = struct.pack("=7I", block, blocks, _RING_FRAME_BYTES, frames, _RING_RETIRE_MS,
                              0, 0)
        try:
            sock.setsockopt(_SOL_PACKET, _PACKET_VERSION, _TPACKET_V3)
            sock.setsockopt(_SOL_PACKET, _PACKET_RX_RING, request)
            ring = mmap.mmap(sock.fileno(), block * blocks, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError:
            return False
        self._ring = ring
        self._ring_block_bytes = block
        self._ring_blocks = blocks
        self.uses_ring = True
        return True

    def _close_ring(self) -> None:
        ring = self._ring
        if ring is not None:
            self._ring = None
            ring.close()

    # --- reading -------------------------------------------------------------------------

    def frames(self, poll_seconds: float = 0.25) -> Iterator[RawFrame | None]:
        """Frames as (time, LINKTYPE_LINUX_SLL2, bytes, original length); None each time
        `poll_seconds` pass without one. Ends when the capture is closed, or fails (`error`
        says why)."""
        sock = self._sock
        if sock is None:
            raise RuntimeError("LiveCapture.open() first")
        if self._ring is not None:
            return self._ring_frames(sock, self._ring, poll_seconds)
        return self._socket_frames(sock, poll_seconds)

    def _ring_frames(self, sock: socket.socket, ring: mmap.mmap, poll_seconds: float
                     ) -> Iterator[RawFrame | None]:
        """Frames from the receive ring: a block at a time, no system call per packet."""
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLERR)
        wait_ms = max(1, int(poll_seconds * 1000))
        block_bytes = self._ring_block_bytes
        blocks = self._ring_blocks
        block_desc = _BLOCK_DESC.unpack_from
        tp3 = _TP3_HDR.unpack_from
        sll = _SLL.unpack_from
        rest = _SLL2_REST.pack
        u16 = _U16BE.pack
        n_frames = self.packets
        block = 0
        while self._sock is not None:
            base = block * block_bytes
            status, count, first = block_desc(ring, base)
            if not status & _TP_STATUS_USER:
                events = poller.poll(wait_ms)
                if not events:
                    yield None
                elif events[0][1] & select.POLLERR:
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if code:  # the interface went away, ...: the capture ends here
                        self.error = os.strerror(code)
                        return
                continue
            off = base + first
            for _ in range(count):
                (next_off, sec, nsec, caplen, wirelen, pstatus, mac, _net, _hash, vtci,
                 vtpid) = tp3(ring, off)
                proto, ifindex, hatype, pkttype, halen, haddr = sll(ring, off + _TP3_SLL_OFFSET)
                start = off + mac
                if pkttype == _PACKET_OUTGOING and hatype == _ARPHRD_LOOPBACK:
                    off += next_off
                    continue  # (refused by the filter already) it arrives again
                ts = (sec * 1_000_000 + nsec // 1000) / 1_000_000
                if pstatus & _TP_STATUS_VLAN_VALID:
                    tpid = vtpid if pstatus & _TP_STATUS_VLAN_TPID_VALID and vtpid else (
                        _ETH_P_8021Q)
                    header = (u16(tpid) + rest(0, ifindex, hatype, pkttype, halen, haddr)
                              + u16(vtci & 0xFFFF) + proto)
                    extra = 24
                else:
                    header = proto + rest(0, ifindex, hatype, pkttype, halen, haddr)
                    extra = 20
                frame = header + ring[start : start + caplen]
                n_frames += 1
                if n_frames == 1:
                    self.first_ts = ts
                self.packets = n_frames
                self.last_ts = ts
                yield (ts, LINKTYPE_LINUX_SLL2, frame, wirelen + extra)
                off += next_off
            ring[base + _BLOCK_STATUS_OFFSET : base + _BLOCK_STATUS_OFFSET + 4] = _RELEASE
            block += 1
            if block == blocks:
                block = 0

    def _socket_frames(self, sock: socket.socket, poll_seconds: float
                       ) -> Iterator[RawFrame | None]:
        """Frames by one `recvmsg` each (when the kernel would not set up a ring)."""
        buf = bytearray(self.snaplen)
        buffers = [memoryview(buf)]
        recv = sock.recvmsg_into
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        wait_ms = max(1, int(poll_seconds * 1000))
        ifindex = self._ifindex
        sll2 = _SLL2.pack
        vlan = _VLAN.pack
        auxdata = _AUXDATA.unpack_from
        timespec = _TIMESPEC.unpack_from
        snaplen = self.snaplen
        trunc = socket.MSG_TRUNC
        n_frames = self.packets
        ts = 0.0
        while self._sock is not None:
            try:
                nbytes, ancdata, _flags, addr = recv(buffers, _ANC_BYTES, trunc)
            except BlockingIOError:
                if not poller.poll(wait_ms):
                    yield None
                continue
            except InterruptedError:
                continue
            except OSError as exc:  # the interface went away, ...: the capture ends here
                self.error = exc.strerror or str(exc)
                return
            ifname, proto, pkttype, hatype, haddr = addr
            if pkttype == _PACKET_OUTGOING and hatype == _ARPHRD_LOOPBACK:
                continue  # (refused by the filter already) it arrives on the interface again
            sec = nsec = -1
            tci: int | None = None
            tpid = _ETH_P_8021Q
            for level, kind, data in ancdata:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                    if len(data) >= _TIMESPEC.size:
                        sec, nsec = timespec(data)
                elif level == _SOL_PACKET and kind == _PACKET_AUXDATA:
                    if len(data) >= _AUXDATA.size:
                        status, _l, _s, _m, _n, vtci, vtpid = auxdata(data)
                        if status & _TP_STATUS_VLAN_VALID:
                            tci = vtci
                            if status & _TP_STATUS_VLAN_TPID_VALID and vtpid:
                                tpid = vtpid
            if sec >= 0:
                ts = (sec * 1_000_000 + nsec // 1000) / 1_000_000
            else:
                ts = int(time.time() * 1_000_000) / 1_000_000
            index = ifindex.get(ifname)
            if index is None:
                index = self._lookup_index(ifname)
            caplen = nbytes if nbytes < snaplen else snaplen
            if tci is None:
                header = sll2(proto, 0, index, hatype, pkttype, len(haddr), haddr)
                extra = 20
            else:
                header = (sll2(tpid, 0, index, hatype, pkttype, len(haddr), haddr)
                          + vlan(tci, proto))
                extra = 24
            frame = header + buffers[0][:caplen]
            n_frames += 1
            if n_frames == 1:
                self.first_ts = ts
            self.packets = n_frames
            self.last_ts = ts
            yield (ts, LINKTYPE_LINUX_SLL2, frame, nbytes + extra)

    def _lookup_index(self, ifname: str) -> int:
        try:
            index = socket.if_nametoindex(ifname) if ifname else 0
        except OSError:
            index = 0
        if len(self._ifindex) > 4096:  # interfaces come and go (containers): stay bounded
            self._ifindex.clear()
        self._ifindex[ifname] = index
        return index

    def statistics(self) -> tuple[int, int]:
        """(packets the filter accepted, packets the kernel dropped) since `open()`."""
        sock = self._sock
        if sock is not None:
            try:
                raw = sock.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, _STATS.size)
            except OSError:
                raw = b""
            if len(raw) >= _STATS.size:
                packets, drops = _STATS.unpack_from(raw)
                self.kernel_packets += packets
                self.kernel_drops += drops
        return self.kernel_packets, self.kernel_drops

    def close(self) -> None:
        sock = self._sock
        if sock is not None:
            self.statistics()
            self._sock = None
            self._close_ring()
            sock.close()


# --- writing -------------------------------------------------------------------------------

_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_IDB = 1
_PCAPNG_EPB = 6
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_PADDING = (b"", b"\0", b"\0\0", b"\0\0\0")
_U32 = struct.Struct("=I").pack


def _option(code: int, value: bytes) -> bytes:
    pad = -len(value) % 4
    return struct.pack("=HH", code, len(value)) + value + b"\0" * pad


def _block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("=II", block_type, total) + body + struct.pack("=I", total)


class PcapNgWriter:
    """A pcapng file of one interface (section header, interface description, enhanced packet
    blocks; microsecond time stamps), in this machine's byte order, as dumpcap writes it."""

    def __init__(self, path: str, link_type: int, interface: str, snaplen: int = SNAPLEN_BYTES,
                 application: str = "capture-tls") -> None:
        self.path = path
        self._f: IO[bytes] | None = open(path, "wb", buffering=_WRITE_BUFFER_BYTES)
        shb_options = _option(4, application.encode()) + _option(0, b"")
        shb = struct.pack("=IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1) + shb_options
        idb_options = (_option(2, interface.encode()) + _option(9, bytes([6]))
                       + _option(0, b""))
        idb = struct.pack("=HHI", link_type, 0, snaplen) + idb_options
        try:
            self._f.write(_block(_PCAPNG_SHB, shb) + _block(_PCAPNG_IDB, idb))
        except BaseException:
            self.close()
            raise
        self._epb = struct.Struct("=IIIIIII").pack

    def write(self, ts: float, frame: bytes, wirelen: int) -> None:
        f = self._f
        if f is None:
            return
        us = round(ts * 1_000_000)
        n = len(frame)
        pad = -n % 4
        total = 32 + n + pad
        f.write(self._epb(_PCAPNG_EPB, total, 0, us >> 32, us & 0xFFFFFFFF, n, wirelen))
        f.write(frame)
        f.write(_PADDING[pad] + _U32(total))

    def flush(self) -> None:
        if self._f is not None:
            self._f.flush()

    def close(self) -> None:
        f = self._f
        if f is not None:
            self._f = None
            f.close()
