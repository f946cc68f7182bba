"""The connection table: which TCP segments belong to which MySQL connection.

A flow becomes a tracked connection when
- it is on a MySQL port (3306 and `--port`s): a SYN tells who is the client; without a SYN the
  side on the MySQL port is the server; or
- on any other port, the first payload from one side starts like a MySQL greeting
  (`starts_like_mysql_greeting`): that side is the server.

Hot path: every segment costs one dictionary lookup; a segment of a connection whose handshake
is done costs nothing more, and none of its bytes reach reassembly. A flow on another port is
sniffed only while it has not been classified; non-MySQL flows are remembered in a bounded set.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from ipaddress import ip_address

from capture_tls.analysis.connection import ConnectionState
from capture_tls.limits import DEFAULT_LIMITS, Limits
from capture_tls.protocols.mysql import starts_like_mysql_greeting

__all__ = ["ConnectionTracker", "FlowKey"]

# (source and destination addresses concatenated: 8 bytes for IPv4, 32 for IPv6; source port;
# destination port). One slice of the frame makes it: the cheapest key the hot path can build.
FlowKey = tuple[bytes, int, int]

_SYN = 0x02
_SYN_FIN_RST = 0x07
_DNS_PORT = 53
_ACK = 0x10
# Flows on other ports remembered as "not MySQL" before the set is cleared and re-learned.
_MAX_NOT_MYSQL_FLOWS = 65_536
# How often (in segments) idle connections are looked for.
_EXPIRY_SWEEP_EVERY = 65_536


def _quiet_key(key: FlowKey) -> bytes:
    """The reader's key of a flow (addresses, then the ports as big-endian bytes)."""
    addrs, sport, dport = key
    return addrs + _PORTS.pack(sport, dport)  # one pack: 0.15 us instead of 0.3


_PORTS = struct.Struct(">HH")


_ADDRESS_TEXTS: dict[bytes, str] = {}
_MAX_ADDRESS_TEXTS = 65_536


def _addr(raw: bytes) -> str:
    """The text of a packed address, remembered: ipaddress costs 3 us an IPv4 address, and a
    capture's connections share few server addresses."""
    text = _ADDRESS_TEXTS.get(raw)
    if text is None:
        if len(_ADDRESS_TEXTS) >= _MAX_ADDRESS_TEXTS:
            _ADDRESS_TEXTS.clear()
        text = _ADDRESS_TEXTS[raw] = str(ip_address(raw))
    return text


# How long (capture time) a finished connection's ports stay known after its last segment, so
# that its late segments (the server's answer after the client's RST, retransmissions) are not
# taken for a new connection. Finished entries do not count against max_connections_tracked.
_DONE_GRACE_SECONDS = 60.0


class _Finished:
    """What stays of a connection whose report is made: its keys and when it was last seen
    (a few dozen bytes instead of the connection's state)."""

    __slots__ = ("keys", "last_ts")
    done = True

    def __init__(self, keys: tuple[FlowKey, FlowKey], last_ts: float) -> None:
        self.keys = keys
        self.last_ts = last_ts


class _Entry:
    """A tracked connection and the direction of the key that maps to it."""

    __slots__ = ("conn", "from_client")

    def __init__(self, conn: ConnectionState | _Finished, from_client: bool) -> None:
        self.conn = conn
        self.from_client = from_client


class ConnectionTracker:
    """Feeds segments to their connection; hands each finished connection to `on_done`."""

    def __init__(
        self,
        ports: Iterable[int],
        on_done: Callable[[ConnectionState], None],
        limits: Limits = DEFAULT_LIMITS,
        keylog: Callable[[bytes], dict[str, bytes] | None] | None = None,
    ) -> None:
        self.ports = frozenset(ports)
        self.keylog = keylog
        self.limits = limits
        self._on_done = on_done
        self._table: dict[FlowKey, _Entry] = {}
        # The keys of reported connections, for the reader's shortcut (fastreader
        # `segments(quiet=...)`): their segments without SYN only set the marker's last_ts and
        # count in the reader's `quiet_segments`, exactly what `segment` does with them. Flows
        # on port 53 stay out: their payloads are offered to the DNS parser first.
        self.quiet: dict[bytes, _Finished] = {}
        self._not_mysql: set[FlowKey] = set()
        self._segments = 0
        self.created = 0  # connections numbered in order of their first packet
        self.connections_dropped_at_limit = 0
        self.segments_after_done = 0
        self.active = 0  # connections in handshake (not yet reported)
        self._last_limit_sweep = float("-inf")

    @property
    def tracked(self) -> int:
        """Connections in handshake: what max_connections_tracked bounds."""
        return self.active

    def segment(self, ts: float, addrs: bytes, sport: int, dport: int, seq: int,
                flags: int, payload: bytes, truncated: bool) -> None:
        key = (addrs, sport, dport)
        entry = self._table.get(key)
        if entry is not None:
            conn = entry.conn
            if isinstance(conn, _Finished):
                if flags & _SYN and not flags & _ACK and entry.from_client:
                    self._drop_keys(conn.keys)  # the same ports, a new connection
                else:
                    # The handshake is known: this costs one lookup. The entry stays until the
                    # ports are quiet for a while or reused, so late segments (the server's
                    # answer after a client's RST) never look like a new connection.
                    self.segments_after_done += 1
                    conn.last_ts = ts
                    return
            else:
                if not payload and not flags & _SYN_FIN_RST:
                    conn.last_ts = ts  # a pure ACK: all that ConnectionState.segment does
                    return
                if flags & _SYN and not flags & _ACK and entry.from_client and (
                    conn.c2s.delivered_bytes or conn.client_fin or conn.client_rst
                ):
                    self._finish(conn)
                else:
                    # _feed inline: the path of most segments that reach the table.
                    try:
                        conn.segment(ts, entry.from_client, seq, flags, payload, truncated)
                    except Exception as exc:  # not the project's own: a bug, never fatal
                        conn.internal_errors += (f"{type(exc).__name__}: {exc}",)
                        conn.finish_now()
                    if conn.done:
                        self._report(conn)
                    return
        self._segments += 1
        if self._segments % _EXPIRY_SWEEP_EVERY == 0:
            self.expire_idle(ts)
        # A new flow.
        if flags & _SYN and not flags & _ACK:
            client_side = True  # the sender of a SYN is the client
        elif flags & _SYN:
            client_side = False
        elif dport in self.ports and sport not in self.ports:
            client_side = True
        elif sport in self.ports and dport not in self.ports:
            client_side = False
        elif dport in self.ports:
            client_side = dport < sport or sport not in self.ports
        elif not payload:
            return
        elif key in self._not_mysql:
            return
        elif starts_like_mysql_greeting(payload):
            client_side = False
        else:
            if len(self._not_mysql) >= _MAX_NOT_MYSQL_FLOWS:
                self._not_mysql.clear()
            self._not_mysql.add(key)
            return
        if not (flags & _SYN) and not payload:
            return  # a pure ACK or FIN never opens a connection
        if (
            flags & _SYN
            and dport not in self.ports
            and sport not in self.ports
        ):
            return  # a SYN on another port: wait for the greeting
        if self.active >= self.limits.max_connections_tracked:
            # A sweep walks the whole table: at most one per second of capture time, or a
            # flood at the limit would cost a sweep per packet.
            if ts - self._last_limit_sweep >= 1.0:
                self._last_limit_sweep = ts
                self.expire_idle(ts)
            if self.active >= self.limits.max_connections_tracked:
                self.connections_dropped_at_limit += 1
                return
        half = len(addrs) // 2
        src, dst = addrs[:half], addrs[half:]
        # The key of this segment is one of the two; the other is made (0.3 us a connection
        # less than making both and the named arguments).
        if client_side:
            client, server = (src, sport), (dst, dport)
            ckey, skey = key, (dst + src, dport, sport)
        else:
            client, server = (dst, dport), (src, sport)
            ckey, skey = (dst + src, dport, sport), key
        self.created += 1
        self.active += 1
        conn = ConnectionState(self.limits, (_addr(client[0]), client[1]),
                               (_addr(server[0]), server[1]), ts, self.created,
                               keylog=self.keylog)
        conn.flow_keys = (ckey, skey)
        self._table[ckey] = _Entry(conn, True)
        self._table[skey] = _Entry(conn, False)
        self._feed(conn, ts, client_side, seq, flags, payload, truncated)

    def _feed(self, conn: ConnectionState, ts: float, from_client: bool, seq: int, flags: int,
              payload: bytes, truncated: bool) -> None:
        try:
            conn.segment(ts, from_client, seq, flags, payload, truncated)
        except Exception as exc:  # not the project's own: a bug, reported, never fatal
            conn.internal_errors += (f"{type(exc).__name__}: {exc}",)
            conn.finish_now()
        if conn.done:
            self._report(conn)

    def segment_known(self, ts: float, addrs: bytes, sport: int, dport: int, seq: int,
                      flags: int, payload: bytes, truncated: bool) -> int:
        """`segment` for a connection already in handshake, never opening one (the lookahead
        of capture_tls.analysis.split). 0: the key is not tracked, or its connection is
        reported (nothing changes); 1: fed to its connection; 2: a client SYN that ends the
        connection (reported, keys dropped): `segment` would open a new one here."""
        entry = self._table.get((addrs, sport, dport))
        if entry is None:
            return 0
        conn = entry.conn
        if isinstance(conn, _Finished):
            return 0
        if flags & _SYN and not flags & _ACK and entry.from_client and (
            conn.c2s.delivered_bytes or conn.client_fin or conn.client_rst
        ):
            self._finish(conn)
            return 2
        self._feed(conn, ts, entry.from_client, seq, flags, payload, truncated)
        return 1

    def table_entries(self) -> list[tuple[FlowKey, bool, ConnectionState | None]]:
        """Every key in the table: (key, whether it is the client's direction, its connection
        in handshake or None for a reported one)."""
        return [(key, e.from_client, None if isinstance(e.conn, _Finished) else e.conn)
                for key, e in self._table.items()]

    def entry_token(self, addrs: bytes, sport: int, dport: int) -> object | None:
        """An object that stays the same while the key maps to the same table entry (None:
        not in the table): tells whether a segment reset the key's state."""
        return self._table.get((addrs, sport, dport))

    def lookup(self, addrs: bytes, sport: int, dport: int) -> tuple[ConnectionState, bool] | None:
        """The connection in handshake a segment with this flow key belongs to, and whether it
        comes from the client; None for a flow that is not tracked or already reported."""
        entry = self._table.get((addrs, sport, dport))
        if entry is None or isinstance(entry.conn, _Finished):
            return None
        return entry.conn, entry.from_client

    def expire_idle(self, now: float) -> None:
        """Finish connections in handshake idle for longer than the idle timeout; forget the
        ports of reported connections quiet for longer than the grace period."""
        idle_limit = now - self.limits.idle_timeout_seconds
        done_limit = now - _DONE_GRACE_SECONDS
        stale_conns: dict[int, ConnectionState] = {}
        stale_done: dict[int, _Finished] = {}
        for e in self._table.values():
            c = e.conn
            if isinstance(c, _Finished):
                if c.last_ts < done_limit:
                    stale_done[id(c)] = c
            elif c.last_ts < idle_limit:
                stale_conns[id(c)] = c
        for finished in stale_done.values():
            self._drop_keys(finished.keys)
        for conn in stale_conns.values():
            self._finish(conn)

    def finish_all(self) -> None:
        """End of input: every connection still in handshake is finished now."""
        conns = {id(e.conn): e.conn for e in self._table.values()
                 if not isinstance(e.conn, _Finished)}
        for conn in conns.values():
            if isinstance(conn, ConnectionState) and not conn.done:
                self._finish(conn)
        self._table.clear()
        self.quiet.clear()

    def _finish(self, conn: ConnectionState) -> None:
        try:
            conn.finish()
        except Exception as exc:  # not the project's own: a bug, reported, never fatal
            conn.internal_errors += (f"{type(exc).__name__}: {exc}",)
            conn.finish_now()
        self._report(conn)
        self._drop_keys(self._keys(conn))

    def _report(self, conn: ConnectionState) -> None:
        """The handshake is known: make the report, then keep only the connection's keys."""
        self.active -= 1
        if conn.has_handshake_evidence():
            self._on_done(conn)
        conn.release()
        keys = self._keys(conn)
        marker = _Finished(keys, conn.last_ts)
        quiet = _DNS_PORT not in (conn.client[1], conn.server[1])
        for key in keys:
            entry = self._table.get(key)
            if entry is not None and entry.conn is conn:
                entry.conn = marker
                if quiet:
                    self.quiet[_quiet_key(key)] = marker

    def _drop_keys(self, keys: tuple[FlowKey, FlowKey]) -> None:
        for key in keys:
            self._table.pop(key, None)
            self.quiet.pop(_quiet_key(key), None)

    @staticmethod
    def _keys(conn: ConnectionState) -> tuple[FlowKey, FlowKey]:
        if conn.flow_keys is not None:
            return conn.flow_keys
        c = ip_address(conn.client[0]).packed
        s = ip_address(conn.server[0]).packed
        return (c + s, conn.client[1], conn.server[1]), (s + c, conn.server[1], conn.client[1])
