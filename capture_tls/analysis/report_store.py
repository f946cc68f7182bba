"""Connection reports kept on disk, not in memory (issue 7: memory O(connections being
handshaken), not O(capture), in every output format).

Theory of operation: each `ConnectionReport` is serialized the moment it is complete and
appended to an anonymous temporary file (`tempfile.TemporaryFile`: unlinked at once, gone when
closed or when the process dies). In memory stays only an index, one entry per connection in
parallel `array` columns (about 46 bytes): the sort key of the report's `connections[]`
(first_seen_ts, client ip as an index into a table of distinct addresses, client port, id as
its two numbers), the user name (an index into a table of distinct names: what `--redact`
learns in the order of the report), and where the bytes are (file, offset, length).

`reports()` is a lazy, sorted `Sequence[ConnectionReport]` over the store: it sorts the index
once (a permutation, 4 bytes per connection; while sorting, about 100 bytes per connection are
held for a moment) and reads and decodes one report at a time, so a renderer may walk it as
often as it needs (the text report walks it three times) holding one report.

The serialization is chosen by the caller (`encode`): `encode_report` (below) is the general
one, read back by `decode_report`; `--format json` stores each connection's JSON rendering
instead, which it needs anyway (`capture_tls.reporting.json_report.connection_json`) and reads
back as bytes (`fragments()`).

Measured on the 300-connection benchmark capture (TLS 1.2, two certificates and 13 handshake
steps a connection; 2-CPU build machine): `encode_report` 9 us a connection (3.8 kB; pickle of
the frozen slotted dataclasses: 67 us, its `__getstate__` calls `fields()` for every object),
`decode_report` 25 us (pickle: 37 us); the index entry and the write add about 1.5 us. So
`--format json` pays 1.5 us a connection for the store (the JSON it spills, 14-17 us, is the
rendering it did at the end before), the other formats about 35 us (against 0.25-0.5 ms
a connection to render HTML or Markdown, 17 ms for text).

Several processes: `spill_input` (the function a worker process runs) analyzes one file into a
store of its own in a directory the parent chose, and returns its index (`StoreSegment`, a few
arrays) instead of the reports; the parent `adopt`s the file (opens it, unlinks it) and the
index.
"""

from __future__ import annotations

import marshal
import os
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import IO, Any, overload

from capture_tls.analysis.model import (
    Alert,
    CertificateFacts,
    ClientVerdict,
    ConnectionReport,
    Endpoint,
    Finding,
    HandshakeStep,
    IntendedHost,
    MysqlErr,
    MysqlFacts,
    TlsFacts,
    Verdicts,
)
from capture_tls.analysis.options import AnalysisOptions
from capture_tls.analysis.pipeline import InputResult, analyze_file

__all__ = [
    "Encoder",
    "ReportStore",
    "SpilledInput",
    "StoreSegment",
    "decode_report",
    "encode_report",
    "spill_input",
]

Encoder = Callable[[ConnectionReport], bytes]

# --- the general serialization: nested tuples of the fields, in field order, by marshal ------

_MARSHAL_VERSION = 2  # the fastest for these tuples of short strings (4: +20 %)


def _getter(cls: type) -> Callable[[object], tuple[object, ...]]:
    getter: Callable[[object], tuple[object, ...]] = attrgetter(
        *(f.name for f in fields(cls))
    )
    return getter


def _position(cls: type, name: str) -> int:
    return [f.name for f in fields(cls)].index(name)


_get_endpoint = _getter(Endpoint)
_get_mysql_err = _getter(MysqlErr)
_get_mysql = _getter(MysqlFacts)
_get_alert = _getter(Alert)
_get_tls = _getter(TlsFacts)
_get_cert = _getter(CertificateFacts)
_get_host = _getter(IntendedHost)
_get_client_verdict = _getter(ClientVerdict)
_get_verdicts = _getter(Verdicts)
_get_finding = _getter(Finding)
# (a named tuple: marshal takes it as the tuple it is)
_get_conn = _getter(ConnectionReport)

# The fields that hold model objects; every other field is a str, int, float, bool, None or a
# tuple of those, which marshal takes as they are. A new field holding a model object must be
# added here: marshal refuses the object (ValueError), so it cannot go unnoticed.
_MYSQL_ERROR = _position(MysqlFacts, "error")
_TLS_ALERTS = _position(TlsFacts, "alerts")
_VERDICTS_CLIENTS = _position(Verdicts, "clients")
_C_CLIENT = _position(ConnectionReport, "client")
_C_SERVER = _position(ConnectionReport, "server")
_C_MYSQL = _position(ConnectionReport, "mysql")
_C_TLS = _position(ConnectionReport, "tls")
_C_SERVER_CERTS = _position(ConnectionReport, "server_certificates")
_C_CLIENT_CERTS = _position(ConnectionReport, "client_certificates")
_C_HOST = _position(ConnectionReport, "intended_host")
_C_VERDICTS = _position(ConnectionReport, "verdicts")
_C_FINDINGS = _position(ConnectionReport, "findings")
_C_HANDSHAKE = _position(ConnectionReport, "handshake")


def encode_report(conn: ConnectionReport) -> bytes:
    """`conn` as bytes for `decode_report`."""
    v: list[Any] = list(_get_conn(conn))
    v[_C_CLIENT] = _get_endpoint(conn.client)
    v[_C_SERVER] = _get_endpoint(conn.server)
    mysql = list(_get_mysql(conn.mysql))
    if mysql[_MYSQL_ERROR] is not None:
        mysql[_MYSQL_ERROR] = _get_mysql_err(mysql[_MYSQL_ERROR])
    v[_C_MYSQL] = tuple(mysql)
    if conn.tls is not None:
        tls = list(_get_tls(conn.tls))
        tls[_TLS_ALERTS] = tuple([_get_alert(a) for a in conn.tls.alerts])
        v[_C_TLS] = tuple(tls)
    v[_C_SERVER_CERTS] = tuple([_get_cert(c) for c in conn.server_certificates])
    v[_C_CLIENT_CERTS] = tuple([_get_cert(c) for c in conn.client_certificates])
    if conn.intended_host is not None:
        v[_C_HOST] = _get_host(conn.intended_host)
    verdicts = list(_get_verdicts(conn.verdicts))
    verdicts[_VERDICTS_CLIENTS] = tuple(
        [(name, _get_client_verdict(cv)) for name, cv in conn.verdicts.clients]
    )
    v[_C_VERDICTS] = tuple(verdicts)
    v[_C_FINDINGS] = tuple([_get_finding(f) for f in conn.findings])
    v[_C_HANDSHAKE] = tuple([tuple(h) for h in conn.handshake])
    return marshal.dumps(tuple(v), _MARSHAL_VERSION)


def decode_report(data: bytes) -> ConnectionReport:
    """The report `encode_report` wrote (equal to it, field by field)."""
    v = list(marshal.loads(data))
    v[_C_CLIENT] = Endpoint(*v[_C_CLIENT])
    v[_C_SERVER] = Endpoint(*v[_C_SERVER])
    mysql = list(v[_C_MYSQL])
    if mysql[_MYSQL_ERROR] is not None:
        mysql[_MYSQL_ERROR] = MysqlErr(*mysql[_MYSQL_ERROR])
    v[_C_MYSQL] = MysqlFacts(*mysql)
    if v[_C_TLS] is not None:
        tls = list(v[_C_TLS])
        tls[_TLS_ALERTS] = tuple([Alert(*a) for a in tls[_TLS_ALERTS]])
        v[_C_TLS] = TlsFacts(*tls)
    v[_C_SERVER_CERTS] = tuple([CertificateFacts(*c) for c in v[_C_SERVER_CERTS]])
    v[_C_CLIENT_CERTS] = tuple([CertificateFacts(*c) for c in v[_C_CLIENT_CERTS]])
    if v[_C_HOST] is not None:
        v[_C_HOST] = IntendedHost(*v[_C_HOST])
    verdicts = list(v[_C_VERDICTS])
    verdicts[_VERDICTS_CLIENTS] = tuple(
        [(name, ClientVerdict(*cv)) for name, cv in verdicts[_VERDICTS_CLIENTS]]
    )
    v[_C_VERDICTS] = Verdicts(*verdicts)
    v[_C_FINDINGS] = tuple([Finding(*f) for f in v[_C_FINDINGS]])
    v[_C_HANDSHAKE] = tuple([HandshakeStep(*h) for h in v[_C_HANDSHAKE]])
    return ConnectionReport(*v)


# --- the index -------------------------------------------------------------------------------

_NO_USER = -1
_OTHER_ID = 0xFFFFFFFF  # id_input of an id not of the form "<int>:<int>": id_number keys _odd_ids
_MAX_ID_INPUT = 0xFFFFFFFE
_MAX_ID_NUMBER = 0xFFFFFFFFFFFFFFFF
_SIGN = 1 << 63
_MASK64 = (1 << 64) - 1


@dataclass
class StoreSegment:
    """The index of a store written by another process, and the file it wrote (`path`)."""

    path: str
    ts: array[float]
    ip: array[int]
    port: array[int]
    id_input: array[int]
    id_number: array[int]
    user: array[int]
    offset: array[int]
    length: array[int]
    ips: list[str]
    users: list[str]
    odd_ids: dict[int, str]


@dataclass
class SpilledInput:
    """What `spill_input` returns: the input's result (its `connections` empty) and the index
    of the reports it spilled."""

    result: InputResult
    segment: StoreSegment


@dataclass
class _Columns:
    ts: array[float] = field(default_factory=lambda: array("d"))
    ip: array[int] = field(default_factory=lambda: array("I"))
    port: array[int] = field(default_factory=lambda: array("I"))
    id_input: array[int] = field(default_factory=lambda: array("I"))
    id_number: array[int] = field(default_factory=lambda: array("Q"))
    user: array[int] = field(default_factory=lambda: array("i"))
    file: array[int] = field(default_factory=lambda: array("H"))
    offset: array[int] = field(default_factory=lambda: array("Q"))
    length: array[int] = field(default_factory=lambda: array("I"))


# The spill file is written in pieces of this size (the reports come 5-7 kB each: with the
# default 8 KiB buffer nearly every one was a write(2), 0.15-0.2 s of system time for the
# benchmark's 20,000). Reads flush it first (`_flush`).
_WRITE_BUFFER = 1 << 20


class ReportStore:
    """Connection reports in an anonymous temporary file, with a small index in memory.

    `add(conn)` as each report completes; then `reports()` (decoded with `decode_report`) or
    `fragments()` (the stored bytes), both in the order of the report's `connections[]`.
    `close()` (or the `with` block) deletes the files.
    """

    def __init__(
        self,
        encode: Encoder = encode_report,
        *,
        directory: str | None = None,
        named: bool = False,
    ) -> None:
        """`directory`: where the temporary files go (default: the system's). `named`: keep
        the file's name, for a store another process adopts (`segment()`)."""
        self.encode = encode
        self.directory = directory
        self._named = named
        self._path: str | None = None
        self._files: list[IO[bytes]] = []
        self._writer: IO[bytes] | None = None
        self._write_offset = 0
        self._dirty = False
        self._cols = _Columns()
        self._ips: list[str] = []
        self._ip_ids: dict[str, int] = {}
        self._users: list[str] = []
        self._user_ids: dict[str, int] = {}
        self._odd_ids: dict[int, str] = {}
        self._orders: dict[bool, array[int]] = {}
        self._spill_dir: tempfile.TemporaryDirectory[str] | None = None
        # Adopted reports stored under another id than theirs (`adopt(keep=...)`): read back
        # through `_rename(data, id)`.
        self._renamed: set[int] = set()
        self._rename: Callable[[bytes, str], bytes] | None = None

    # -- writing ---------------------------------------------------------------------------

    def add(self, conn: ConnectionReport) -> None:
        """Spill one report (the hot path: about 1.5 us besides `encode`)."""
        self.add_encoded(self.encode(conn), conn.first_seen_ts, conn.client.ip,
                         conn.client.port, conn.id, conn.mysql.username)

    def add_encoded(self, data: bytes, ts: float, ip: str, port: int, conn_id: str,
                    user: str | None) -> None:
        """Spill a report already encoded (by `encode`, elsewhere: a worker process of
        analysis.split), with the fields of its sort key and the user name."""
        writer = self._writer
        if writer is None:
            writer = self._open_writer()
        writer.write(data)
        self._dirty = True
        cols = self._cols
        cols.file.append(0)
        cols.offset.append(self._write_offset)
        cols.length.append(len(data))
        self._write_offset += len(data)
        self._index(ts, ip, port, conn_id, user)

    def _open_writer(self) -> IO[bytes]:
        if self._files:  # file 0 is ours; adopted files come after it
            raise RuntimeError("add() after adopt(): the store's own file must come first")
        writer: IO[bytes]
        if self._named:
            fd, self._path = tempfile.mkstemp(prefix="capture-tls-", suffix=".spill",
                                              dir=self.directory)
            writer = os.fdopen(fd, "w+b", buffering=_WRITE_BUFFER)
        else:
            writer = tempfile.TemporaryFile(prefix="capture-tls-", suffix=".spill",
                                            dir=self.directory, buffering=_WRITE_BUFFER)
        self._writer = writer
        self._files.append(writer)
        return writer

    def _index(self, ts: float, ip: str, port: int, conn_id: str, user: str | None) -> None:
        cols = self._cols
        cols.ts.append(ts + 0.0)  # -0.0 -> 0.0: equal floats get equal keys
        ip_id = self._ip_ids.get(ip)
        if ip_id is None:
            ip_id = self._ip_ids[ip] = len(self._ips)
            self._ips.append(ip)
        cols.ip.append(ip_id)
        cols.port.append(port)
        self._append_id(conn_id)
        if user is None:
            cols.user.append(_NO_USER)
        else:
            user_id = self._user_ids.get(user)
            if user_id is None:
                user_id = self._user_ids[user] = len(self._users)
                self._users.append(user)
            cols.user.append(user_id)
        self._orders.clear()

    def _append_id(self, conn_id: str) -> None:
        cols = self._cols
        head, sep, tail = conn_id.partition(":")
        if sep and head.isdigit() and tail.isdigit() and head.isascii() and tail.isascii() \
                and str(int(head)) == head and str(int(tail)) == tail \
                and int(head) <= _MAX_ID_INPUT and int(tail) <= _MAX_ID_NUMBER:
            cols.id_input.append(int(head))
            cols.id_number.append(int(tail))
        else:
            key = len(self._odd_ids)
            self._odd_ids[key] = conn_id
            cols.id_input.append(_OTHER_ID)
            cols.id_number.append(key)

    # -- other processes -------------------------------------------------------------------

    def spill_directory(self) -> str:
        """A private directory for the files of worker processes (removed by `close()`, or
        when the store is garbage-collected or the interpreter exits)."""
        if self._spill_dir is None:
            self._spill_dir = tempfile.TemporaryDirectory(
                prefix="capture-tls-", dir=self.directory, ignore_cleanup_errors=True)
        return self._spill_dir.name

    def segment(self) -> StoreSegment:
        """Close the file (a `named` store) and return its index, for `adopt()` in another
        process. The store is empty afterwards; the file is the adopter's to delete."""
        if not self._named:
            raise RuntimeError("segment() needs a store made with named=True")
        if self._writer is None:
            self._open_writer()
        assert self._writer is not None and self._path is not None
        self._writer.close()
        cols = self._cols
        segment = StoreSegment(
            path=self._path, ts=cols.ts, ip=cols.ip, port=cols.port, id_input=cols.id_input,
            id_number=cols.id_number, user=cols.user, offset=cols.offset, length=cols.length,
            ips=self._ips, users=self._users, odd_ids=self._odd_ids,
        )
        # The file is the adopter's now: close() must not delete it.
        self._files.clear()
        self._writer = None
        self._path = None
        self._cols = _Columns()
        self._renamed = set()
        return segment

    def adopt(self, segment: StoreSegment, keep: Sequence[tuple[int, str]] | None = None,
              rename: Callable[[bytes, str], bytes] | None = None) -> range:
        """Take over another process's store: its file (opened, then unlinked) and its index.
        The positions of its reports among this store's, in the order they were added.

        `keep`: only these of its reports, in this order, as (position in the segment, id);
        a report whose id is not the one it was stored with is read back through
        `rename(data, id)` (capture_tls.analysis.split: a worker's JSON, renumbered)."""
        if keep is not None:
            return self._adopt_some(segment, keep, rename)
        file_no = self._adopt_file(segment.path)
        start = len(self._cols.ts)
        ip_map = [self._ip_id(ip) for ip in segment.ips]
        user_map = [self._user_id(u) for u in segment.users]
        cols = self._cols
        cols.ts.extend(segment.ts)
        cols.ip.extend(ip_map[i] for i in segment.ip)
        cols.port.extend(segment.port)
        for inp, number in zip(segment.id_input, segment.id_number, strict=True):
            if inp == _OTHER_ID:
                key = len(self._odd_ids)
                self._odd_ids[key] = segment.odd_ids[number]
                number = key
            cols.id_input.append(inp)
            cols.id_number.append(number)
        cols.user.extend(_NO_USER if u == _NO_USER else user_map[u] for u in segment.user)
        cols.file.extend(array("H", [file_no]) * len(segment.ts))
        cols.offset.extend(segment.offset)
        cols.length.extend(segment.length)
        self._orders.clear()
        return range(start, len(cols.ts))

    def _adopt_some(self, segment: StoreSegment, keep: Sequence[tuple[int, str]],
                    rename: Callable[[bytes, str], bytes] | None) -> range:
        file_no = self._adopt_file(segment.path)
        cols = self._cols
        start = len(cols.ts)
        ip_map = [self._ip_id(ip) for ip in segment.ips]
        user_map = [self._user_id(u) for u in segment.users]
        renamed = self._renamed
        for position, conn_id in keep:
            cols.ts.append(segment.ts[position])
            cols.ip.append(ip_map[segment.ip[position]])
            cols.port.append(segment.port[position])
            user = segment.user[position]
            cols.user.append(_NO_USER if user == _NO_USER else user_map[user])
            cols.file.append(file_no)
            cols.offset.append(segment.offset[position])
            cols.length.append(segment.length[position])
            inp, number = segment.id_input[position], segment.id_number[position]
            stored = (segment.odd_ids[number] if inp == _OTHER_ID else f"{inp}:{number}")
            self._append_id(conn_id)
            if stored != conn_id:
                if rename is None or (self._rename is not None and rename is not self._rename):
                    raise ValueError("adopt: a report under another id needs one rename "
                                     "function for the store")
                self._rename = rename
                renamed.add(len(cols.ts) - 1)
        self._orders.clear()
        return range(start, len(cols.ts))

    def _adopt_file(self, path: str) -> int:
        """Open (then unlink) another process's file as one of this store's."""
        self._flush()
        if self._writer is None and not self._files:
            self._files.append(open(os.devnull, "rb"))  # file 0 stays the (absent) own file
        f = open(path, "rb")
        try:
            os.unlink(path)
        except OSError:
            pass
        self._files.append(f)
        file_no = len(self._files) - 1
        if file_no > 0xFFFF:
            raise RuntimeError("more than 65535 spill files")
        return file_no

    def _ip_id(self, ip: str) -> int:
        ip_id = self._ip_ids.get(ip)
        if ip_id is None:
            ip_id = self._ip_ids[ip] = len(self._ips)
            self._ips.append(ip)
        return ip_id

    def _user_id(self, user: str) -> int:
        user_id = self._user_ids.get(user)
        if user_id is None:
            user_id = self._user_ids[user] = len(self._users)
            self._users.append(user)
        return user_id

    # -- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._cols.ts)

    def _flush(self) -> None:
        if self._dirty and self._writer is not None:
            self._writer.flush()
            self._dirty = False

    def read(self, position: int) -> bytes:
        """The stored bytes of the report at `position` (in the order they were added)."""
        self._flush()
        cols = self._cols
        length = cols.length[position]
        fd = self._files[cols.file[position]].fileno()
        data = os.pread(fd, length, cols.offset[position])
        if len(data) != length:
            raise OSError(f"spill file cut short: {len(data)} of {length} bytes")
        if position in self._renamed:
            assert self._rename is not None
            return self._rename(data, self.id_at(position))
        return data

    def order(self, positions: range | None = None, *, by_id: bool = True) -> array[int]:
        """The positions sorted as `connections[]` is: by first_seen_ts, client ip (as a
        string), client port and, with `by_id`, the id (as a string); ties keep the order of
        `add`. `positions`: a part of the store (default: all of it)."""
        whole = positions is None
        if whole and by_id in self._orders:
            return self._orders[by_id]
        if positions is None:
            positions = range(len(self))
        cols = self._cols
        ip_rank = [0] * len(self._ips)
        for rank, ip_id in enumerate(sorted(range(len(self._ips)), key=self._ips.__getitem__)):
            ip_rank[ip_id] = rank
        ts_bits = array("Q")
        ts_bits.frombytes(cols.ts[positions.start:positions.stop].tobytes())
        ips = cols.ip
        ports = cols.port
        base = positions.start
        # One int a connection: the float's bits made to sort as the float does (positive:
        # sign bit set; negative: all bits flipped), then the address's rank, then the port.
        keys = [
            ((bits | _SIGN) if not bits & _SIGN else (~bits & _MASK64)) << 64
            | ip_rank[ips[base + i]] << 32 | ports[base + i]
            for i, bits in enumerate(ts_bits)
        ]
        perm = sorted(range(len(keys)), key=keys.__getitem__)
        if by_id:
            # Equal keys are rare (a file given twice): order those runs by their id strings.
            i = 0
            n = len(perm)
            while i < n:
                j = i + 1
                key = keys[perm[i]]
                while j < n and keys[perm[j]] == key:
                    j += 1
                if j - i > 1:
                    perm[i:j] = sorted(perm[i:j], key=lambda p: self.id_at(base + p))
                i = j
        del keys
        result = array("I", [base + p for p in perm])
        if whole:
            self._orders[by_id] = result
        return result

    def id_at(self, position: int) -> str:
        inp = self._cols.id_input[position]
        number = self._cols.id_number[position]
        if inp == _OTHER_ID:
            return self._odd_ids[number]
        return f"{inp}:{number}"

    def clients_and_users(self, order: Iterable[int] | None = None) -> Iterator[
            tuple[str, str | None]]:
        """(client ip, user name or None) of each report, in `order` (default: the sorted
        order), read from the index alone: what `--redact` learns before it renders."""
        cols = self._cols
        ips = self._ips
        users = self._users
        for p in self.order() if order is None else order:
            u = cols.user[p]
            yield ips[cols.ip[p]], None if u == _NO_USER else users[u]

    def fragments(self, order: Iterable[int] | None = None) -> Iterator[bytes]:
        """The stored bytes of each report, in `order` (default: the sorted order)."""
        read = self.read
        for p in self.order() if order is None else order:
            yield read(p)

    def reports(
        self,
        order: array[int] | None = None,
        decode: Callable[[bytes], ConnectionReport] = decode_report,
    ) -> ReportSequence:
        """The reports as a lazy sequence in `order` (default: the sorted order)."""
        return ReportSequence(self, self.order() if order is None else order, decode)

    # -- the end ---------------------------------------------------------------------------

    def close(self) -> None:
        for f in self._files:
            f.close()
        self._files.clear()
        self._writer = None
        if self._path is not None:
            try:
                os.unlink(self._path)
            except OSError:
                pass
            self._path = None
        if self._spill_dir is not None:
            self._spill_dir.cleanup()
            self._spill_dir = None

    def __enter__(self) -> ReportStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReportSequence(Sequence[ConnectionReport]):
    """Reports of a `ReportStore` in a given order, read and decoded one at a time."""

    def __init__(
        self,
        store: ReportStore,
        order: array[int],
        decode: Callable[[bytes], ConnectionReport],
    ) -> None:
        self._store = store
        self._order = order
        self._decode = decode

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> ConnectionReport: ...

    @overload
    def __getitem__(self, index: slice) -> ReportSequence: ...

    def __getitem__(self, index: int | slice) -> ConnectionReport | ReportSequence:
        if isinstance(index, slice):
            return ReportSequence(self._store, self._order[index], self._decode)
        return self._decode(self._store.read(self._order[index]))

    def __iter__(self) -> Iterator[ConnectionReport]:
        decode = self._decode
        for data in self._store.fragments(self._order):
            yield decode(data)

    def __bool__(self) -> bool:
        return bool(self._order)

    def __repr__(self) -> str:
        return f"<ReportSequence of {len(self)} reports>"


def spill_input(
    path: str,
    index: int,
    options: AnalysisOptions,
    encode: Encoder,
    directory: str,
) -> SpilledInput:
    """Analyze one capture in a worker process, spilling its reports to a file in
    `directory`: the result comes back without its reports, and their index."""
    store = ReportStore(encode, directory=directory, named=True)
    try:
        result = analyze_file(path, index, options, store.add, keep_reports=False)
        return SpilledInput(result, store.segment())
    except BaseException:
        store.close()
        raise
