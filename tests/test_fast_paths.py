"""The fast paths of the handshake-following code against their general paths.

TlsStream reads whole records in place and cuts whole messages straight from a record; the
hello, Certificate and greeting parsers index their input and hand anything unusual to the
ByteReader parsers. Both must give exactly what the code before them gave: the same events and
the same ProtocolError texts, however the bytes are cut into segments. The reference is
tests/reference_tls.py (the TlsStream before its fast paths) and the `_general` parsers.
"""

from __future__ import annotations

import itertools
import random
import struct
from collections.abc import Callable, Iterable

import pytest

from capture_tls.errors import ProtocolError
from capture_tls.limits import DEFAULT_LIMITS
from capture_tls.protocols import mysql, tls
from capture_tls.protocols.tls import NeedData, ServerHello, TlsStream
from tests.reference_tls import ReferenceTlsStream
from tests.test_protocols_tls import Handshake, pki, tls12, tls13  # noqa: F401 (fixtures)

Outcome = tuple[list[object], str | None, int]


def _drain(stream: TlsStream | ReferenceTlsStream, out: list[object]) -> None:
    while True:
        event = stream.next_event()
        if isinstance(event, NeedData):
            return
        out.append(event)
        if isinstance(event, ServerHello) and event.selected_version == 0x0304:
            stream.set_tls13()


def _outcome(make: Callable[[], TlsStream | ReferenceTlsStream],
             chunks: Iterable[bytes]) -> Outcome:
    """Events until NEED_DATA at the end or the first ProtocolError (and its text); the bytes
    still buffered."""
    stream = make()
    events: list[object] = []
    try:
        for chunk in chunks:
            stream.receive_data(chunk)
            _drain(stream, events)
    except ProtocolError as exc:
        # broken for good, in both
        with pytest.raises(ProtocolError):
            stream.next_event()
        return events, str(exc), -1
    return events, None, stream.buffered_bytes


def _same(chunks: list[bytes]) -> Outcome:
    fast = _outcome(TlsStream, chunks)
    general = _outcome(ReferenceTlsStream, chunks)
    assert fast == general
    return fast


def _records(data: bytes) -> list[bytes]:
    out = []
    i = 0
    while i < len(data):
        end = i + 5 + ((data[i + 3] << 8) | data[i + 4])
        out.append(data[i:end])
        i = end
    return out


@pytest.fixture(params=["tls12", "tls13"])
def handshake(request: pytest.FixtureRequest) -> Handshake:
    hs = request.getfixturevalue(request.param)
    assert isinstance(hs, Handshake)
    return hs


@pytest.mark.parametrize("side", ["client_bytes", "server_bytes"])
def test_every_split_point_gives_the_general_paths_events(handshake: Handshake,
                                                          side: str) -> None:
    data: bytes = getattr(handshake, side)
    whole = _same([data])
    assert whole[1] is None and len(whole[0]) >= 3
    for cut in range(1, len(data)):
        assert _same([data[:cut], data[cut:]]) == whole
    for a, b in ((1, 7), (5, 300), (50, 1448)):
        assert _same([data[:a], data[a:b], data[b:]]) == whole


@pytest.mark.parametrize("side", ["client_bytes", "server_bytes"])
def test_records_one_or_several_per_segment_and_byte_by_byte(handshake: Handshake,
                                                             side: str) -> None:
    data: bytes = getattr(handshake, side)
    whole = _same([data])
    records = _records(data)
    assert _same(records) == whole
    assert _same([b"".join(records[i : i + 2]) for i in range(0, len(records), 2)]) == whole
    assert _same([b"".join(records[i : i + 3]) for i in range(0, len(records), 3)]) == whole
    assert _same([data[i : i + 1] for i in range(len(data))]) == whole
    rng = random.Random(len(data))
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 12)))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert _same(chunks) == whole


def test_several_messages_per_record_and_messages_spanning_records(
    request: pytest.FixtureRequest,
) -> None:
    """Re-frame the server's handshake messages: all in one record, and in records of 7 bytes
    (every message spans records), fed whole and cut at every tenth byte."""
    hs: Handshake = request.getfixturevalue("tls12")
    plain = []
    for r in _records(hs.server_bytes):
        if r[0] != 22:
            break  # ChangeCipherSpec: the rest is encrypted
        plain.append(r[5:])
    body = b"".join(plain)
    one = b"\x16\x03\x03" + len(body).to_bytes(2, "big") + body
    small = b"".join(b"\x16\x03\x03\x00" + bytes([len(body[i : i + 7])]) + body[i : i + 7]
                     for i in range(0, len(body), 7))
    for data in (one, small, one + small):
        whole = _same([data])
        assert whole[1] is None and len(whole[0]) >= 3
        for cut in range(1, len(data), 10):
            assert _same([data[:cut], data[cut:]]) == whole


@pytest.mark.parametrize("side", ["client_bytes", "server_bytes"])
def test_one_byte_changes_give_the_same_events_and_errors(handshake: Handshake,
                                                          side: str) -> None:
    data: bytes = getattr(handshake, side)
    rng = random.Random(7)
    for i in range(len(data)):
        for value in (data[i] ^ 0xFF, 0, data[i] + 1 & 0xFF):
            bad = data[:i] + bytes([value]) + data[i + 1 :]
            _same([bad])
            cut = rng.randrange(1, len(bad))
            _same([bad[:cut], bad[cut:]])


# --- message parsers -------------------------------------------------------------------------


def _messages(data: bytes) -> list[tuple[int, bytes]]:
    """The plaintext handshake messages of one direction (up to its ChangeCipherSpec)."""
    reassembler = tls.HandshakeReassembler()
    out = []
    for record in _records(data):
        if record[0] != 22:
            break
        reassembler.receive_fragment(record[5:])
        while not isinstance(m := reassembler.next_message(), NeedData):
            out.append(m)
    return out


def _parse_outcome(parse: Callable[[bytes], object], body: bytes) -> object:
    try:
        return parse(body)
    except ProtocolError as exc:
        return f"ProtocolError: {exc}"


def _compare_on_damage(fast: Callable[[bytes], object], general: Callable[[bytes], object],
                       body: bytes) -> None:
    assert _parse_outcome(fast, body) == _parse_outcome(general, body)
    for n in range(len(body)):
        assert _parse_outcome(fast, body[:n]) == _parse_outcome(general, body[:n])
    for i in range(len(body)):
        for value in (body[i] ^ 0xFF, 0, body[i] + 1 & 0xFF, body[i] - 1 & 0xFF):
            bad = body[:i] + bytes([value]) + body[i + 1 :]
            assert _parse_outcome(fast, bad) == _parse_outcome(general, bad)
    assert _parse_outcome(fast, body + b"\0") == _parse_outcome(general, body + b"\0")


def test_hello_and_certificate_parsers_agree_with_the_general_ones(
    request: pytest.FixtureRequest,
) -> None:
    seen = set()
    for hs in (request.getfixturevalue("tls12"), request.getfixturevalue("tls13")):
        for msg_type, body in _messages(hs.client_bytes) + _messages(hs.server_bytes):
            seen.add(msg_type)
            if msg_type == tls.HANDSHAKE_CLIENT_HELLO:
                assert tls._maybe_parse_client_hello_fast(body) is not None
                _compare_on_damage(tls.parse_client_hello, tls._parse_client_hello_general,
                                   body)
            elif msg_type == tls.HANDSHAKE_SERVER_HELLO:
                assert tls._maybe_parse_server_hello_fast(body) is not None
                _compare_on_damage(tls.parse_server_hello, tls._parse_server_hello_general,
                                   body)
            elif msg_type == tls.HANDSHAKE_CERTIFICATE:
                assert tls._maybe_parse_certificate12_fast(body, 100) is not None
                _compare_on_damage(tls.parse_certificate, tls._parse_certificate_general,
                                   body)
    assert {1, 2, 11} <= seen


def test_certificate_cap_goes_to_the_general_path() -> None:
    certs = [bytes([i]) * 3 for i in range(5)]
    entries = b"".join(len(c).to_bytes(3, "big") + c for c in certs)
    body = len(entries).to_bytes(3, "big") + entries
    limits = tls.Limits(max_certificates_per_chain=3)
    assert tls.parse_certificate(body, limits=limits) == tls.Certificate(tuple(certs[:3]), True)
    assert tls.parse_certificate(body) == tls.Certificate(tuple(certs), False)


def _greeting(caps: int, plugin: bytes = b"mysql_native_password\0",
              part2: bytes = b"abcdefghijkl\0", auth_len: int = 21) -> bytes:
    return (b"\x0a" + b"10.11.6-MariaDB-0+deb12u1\0" + struct.pack("<I", 77) + b"12345678\0"
            + struct.pack("<HBHHB", caps & 0xFFFF, 45, 2, caps >> 16, auth_len) + b"\0" * 6
            + struct.pack("<I", 0x1D) + part2 + plugin)


@pytest.mark.parametrize("payload", [
    _greeting(0xF7FE | mysql.CLIENT_PLUGIN_AUTH),  # MariaDB: CLIENT_MYSQL clear
    _greeting(0xFFFF | mysql.CLIENT_PLUGIN_AUTH),
    _greeting(0xFFFF | mysql.CLIENT_PLUGIN_AUTH, plugin=b"caching_sha2_password"),  # no NUL
    _greeting(0xFFFF, plugin=b""),
    _greeting(0x7FFF, part2=b"", plugin=b""),  # no CLIENT_SECURE_CONNECTION
    _greeting(0xFFFF | mysql.CLIENT_PLUGIN_AUTH, auth_len=0),
])
def test_greeting_parser_agrees_with_the_general_one(payload: bytes) -> None:
    assert mysql._maybe_parse_server_greeting_fast(payload) is not None
    _compare_on_damage(mysql.parse_server_greeting, mysql._parse_server_greeting_general,
                       payload)


def test_greeting_with_a_long_plugin_name_goes_to_the_general_path() -> None:
    payload = _greeting(0xFFFF | mysql.CLIENT_PLUGIN_AUTH, plugin=b"x" * 2000)
    assert mysql._maybe_parse_server_greeting_fast(payload) is None
    with pytest.raises(ProtocolError, match="no NUL terminator"):
        mysql.parse_server_greeting(payload)


def _vec(n: int, data: bytes) -> bytes:
    return len(data).to_bytes(n, "big") + data


def _client_hello(sid: bytes = b"s" * 32, suites: bytes = b"\x13\x01\xc0\x2f",
                  comp: bytes = b"\0", exts: bytes | None = b"") -> bytes:
    body = b"\x03\x03" + b"r" * 32 + _vec(1, sid) + _vec(2, suites) + _vec(1, comp)
    return body if exts is None else body + _vec(2, exts)


def _ext(ext_type: int, data: bytes) -> bytes:
    return ext_type.to_bytes(2, "big") + _vec(2, data)


_SNI = _ext(0, _vec(2, b"\0" + _vec(2, b"db.example.test")))
_BOUNDARY_CLIENT_HELLOS = [
    _client_hello(), _client_hello(exts=None), _client_hello(sid=b""),
    _client_hello(sid=b"s" * 33), _client_hello(suites=b""), _client_hello(suites=b"\x13"),
    _client_hello(comp=b""), _client_hello(exts=_SNI), _client_hello(exts=_SNI + _SNI),
    _client_hello(exts=_ext(0, b"")), _client_hello(exts=_ext(0, _vec(2, b""))),
    _client_hello(exts=_ext(0, _vec(2, b"\1" + _vec(2, b"x")))),
    _client_hello(exts=_ext(0, _vec(2, b"\0" + _vec(2, b"bad name!")))),
    _client_hello(exts=_ext(0, _vec(2, b"\0" + _vec(2, b"a.b")) + b"\0")),
    _client_hello(exts=_ext(43, _vec(1, b"\x03\x04\x03\x03"))),
    _client_hello(exts=_ext(43, _vec(1, b"\x03"))), _client_hello(exts=_ext(43, b"")),
    _client_hello(exts=_ext(43, _vec(1, b"")) + b"\0"),
    _client_hello(exts=_ext(16, _vec(2, _vec(1, b"mysql")))),
    _client_hello(exts=_ext(16, _vec(2, _vec(1, b"")))),
    _client_hello(exts=_ext(7, b"") + _ext(16, _vec(2, b"\5ab"))),
    _client_hello(exts=_ext(0xFF01, b"\0") + b"\0\1"),
]


@pytest.mark.parametrize("body", _BOUNDARY_CLIENT_HELLOS)
def test_built_client_hellos_at_the_boundaries(body: bytes) -> None:
    """Consistent bodies with one field at or past its bound, so that one-byte changes (which
    shift everything after them) cannot stand in for them."""
    _compare_on_damage(tls.parse_client_hello, tls._parse_client_hello_general, body)


@pytest.mark.parametrize("sid", [b"", b"s" * 32, b"s" * 33])
@pytest.mark.parametrize("exts", [None, b"", _ext(43, b"\x03\x04"), _ext(43, b"\x03"),
                                  _ext(43, b"\x03\x04\x00")])
def test_built_server_hellos_at_the_boundaries(sid: bytes, exts: bytes | None) -> None:
    body = b"\x03\x03" + b"r" * 32 + _vec(1, sid) + b"\x13\x01\0"
    if exts is not None:
        body += _vec(2, exts)
    _compare_on_damage(tls.parse_server_hello, tls._parse_server_hello_general, body)


@pytest.mark.parametrize("certs", [[], [b"a"], [b"a" * 300, b"b"], [b""], [b"a", b""]])
def test_built_certificates_at_the_boundaries(certs: list[bytes]) -> None:
    body = _vec(3, b"".join(_vec(3, c) for c in certs))
    _compare_on_damage(tls.parse_certificate, tls._parse_certificate_general, body)


# --- MySQL framing: the in-place reader against the bytearray one it replaced --------------


class _ReferenceMysqlReader:
    """MysqlPacketReader before the in-place fast path: every byte copied into a bytearray."""

    def __init__(self, max_payload: int) -> None:
        self._buf = bytearray()
        self._max = max_payload
        self._error: ProtocolError | None = None

    def receive_data(self, data: bytes) -> None:
        self._buf += data

    def next_event(self) -> mysql.MysqlPacket | mysql.NeedData:
        if self._error is not None:
            raise self._error
        buf = self._buf
        if len(buf) < 4:
            return mysql.NEED_DATA
        length = buf[0] | (buf[1] << 8) | (buf[2] << 16)
        if length > self._max:
            self._error = ProtocolError(
                f"MySQL packet declares {length} bytes, limit is {self._max}")
            raise self._error
        if len(buf) < 4 + length:
            return mysql.NEED_DATA
        packet = mysql.MysqlPacket(buf[3], bytes(buf[4 : 4 + length]))
        del buf[: 4 + length]
        return packet

    def unconsumed(self) -> bytes:
        rest = bytes(self._buf)
        self._buf.clear()
        return rest


def _mysql_packet(seq: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


_MYSQL_STREAM = (
    _mysql_packet(0, b"\x0a8.0.36\x00" + bytes(60))
    + _mysql_packet(1, b"")
    + _mysql_packet(2, bytes(range(32)))
    + _mysql_packet(3, b"\xff\x15\x04#28000denied")
    + b"\x16\x03\x01\x00"  # a TLS record's start after the packets
)


def _mysql_outcome(reader: mysql.MysqlPacketReader | _ReferenceMysqlReader,
                   chunks: Iterable[bytes], payload_only: bool, stop_after: int | None
                   ) -> tuple[list[object], bytes]:
    out: list[object] = []
    for chunk in chunks:
        reader.receive_data(chunk)
        while stop_after is None or len(out) < stop_after:
            try:
                if payload_only and isinstance(reader, mysql.MysqlPacketReader):
                    ev: object = reader.next_payload()
                else:
                    ev = reader.next_event()
                    if payload_only and isinstance(ev, mysql.MysqlPacket):
                        ev = ev.payload
            except ProtocolError as exc:
                out.append(("error", str(exc)))
                return out, b""
            if isinstance(ev, mysql.NeedData):
                break
            out.append(ev)
    return out, reader.unconsumed()


@pytest.mark.parametrize("payload_only", [False, True])
@pytest.mark.parametrize("stop_after", [None, 1, 3])
def test_mysql_reader_in_place_equals_bytearray_reader_at_every_split(
        payload_only: bool, stop_after: int | None) -> None:
    data = _MYSQL_STREAM
    limit = DEFAULT_LIMITS.max_mysql_packet_bytes
    for cut in range(len(data) + 1):
        chunks = [data[:cut], data[cut:]]
        got = _mysql_outcome(mysql.MysqlPacketReader(), chunks, payload_only, stop_after)
        want = _mysql_outcome(_ReferenceMysqlReader(limit), chunks, payload_only, stop_after)
        assert got == want, cut
    one_by_one = [data[i : i + 1] for i in range(len(data))]
    assert (_mysql_outcome(mysql.MysqlPacketReader(), one_by_one, payload_only, stop_after)
            == _mysql_outcome(_ReferenceMysqlReader(limit), one_by_one, payload_only,
                              stop_after))


def test_mysql_reader_in_place_limit_and_random_chunks() -> None:
    limit = DEFAULT_LIMITS.max_mysql_packet_bytes
    rng = random.Random(7)
    bogus = _MYSQL_STREAM[:90] + (limit + 1).to_bytes(3, "little") + b"\x05" + bytes(8)
    for data in (_MYSQL_STREAM, bogus, _MYSQL_STREAM * 3):
        for _ in range(200):
            cuts = sorted(rng.sample(range(len(data) + 1), rng.randint(0, 6)))
            edges = [0, *cuts, len(data)]
            chunks = [data[a:b] for a, b in itertools.pairwise(edges)]
            for payload_only in (False, True):
                got = _mysql_outcome(mysql.MysqlPacketReader(), chunks, payload_only, None)
                want = _mysql_outcome(_ReferenceMysqlReader(limit), chunks, payload_only, None)
                assert got == want, chunks


# --- events made as named tuples keep the frozen dataclasses' meaning ----------------------

_EVENT_VALUES: list[object] = [
    tls.ClientHello(0x0303, bytes(32), b"", (0x1301,), "db", ("h2",), (0x0304,), ((0, b""),)),
    tls.ServerHello(0x0303, bytes(32), b"", 0x1301, 0x0304, False, ()),
    tls.Certificate((b"\x30\x00",), False),
    tls.EncryptedRecord(23, 0x0303, b"\x00" * 5),
    mysql.ServerGreeting(10, "8.0.36", 1, 0xFFFF, 8, 2, "caching_sha2_password", None, b"x"),
    mysql.SslRequest(0x0800 | 0x0200, 1 << 24, 33, None),
]


@pytest.mark.parametrize("value", _EVENT_VALUES, ids=lambda v: type(v).__name__)
def test_named_tuple_events_compare_like_frozen_dataclasses(value: tuple[object, ...]) -> None:
    cls = type(value)
    same = cls(*value)
    assert same == value and not same != value and hash(same) == hash(value)
    as_tuple = tuple(value)
    assert value != as_tuple and as_tuple != value
    assert not value == as_tuple and not as_tuple == value
    fields = cls._fields  # type: ignore[attr-defined]
    assert repr(value).startswith(f"{cls.__name__}({fields[0]}=")
    other = cls(*value[:-1], "changed")
    assert other != value and not other == value
    with pytest.raises(AttributeError):
        setattr(value, fields[0], 0)
    with pytest.raises(TypeError):
        value < same  # noqa: B015
    # Another event type with the same items is not equal either.
    twin = type(cls.__name__ + "Twin", (cls,), {})(*value)
    assert twin != value and value != twin


def _reference_valid_host_name(raw: bytes) -> str | None:
    """tls._valid_host_name before its answers were remembered."""
    if not 0 < len(raw) <= 253:
        return None
    for label in raw.split(b"."):
        if tls._HOST_LABEL.fullmatch(label) is None:
            return None
    return raw.decode("ascii")


def test_remembered_host_name_answers_equal_a_fresh_check() -> None:
    names = [b"db", b"db-0.bench.example", b"-db", b"db-", b"a..b", b"", b"a" * 63,
             b"a" * 64, b".".join([b"a" * 63] * 4)[:253], b"x" * 254, b"d\xc3\xa9j\xc3\xa0",
             b"10.0.0.1", b"::1", b"my_service.local", b"db.", b"\x00", b"A-Z.09"]
    rng = random.Random(3)
    names += [bytes(rng.choice(b"ab-._\xff0") for _ in range(rng.randint(0, 12)))
              for _ in range(300)]
    for _ in range(2):  # once to fill the memo, once read from it
        for raw in names:
            assert tls._valid_host_name(raw) == _reference_valid_host_name(raw), raw
    tls._HOST_NAMES.clear()
    for raw in reversed(names):
        assert tls._valid_host_name(raw) == _reference_valid_host_name(raw), raw


# --- the hello fast paths' memo of extension blocks ----------------------------------------

_MEMO_BLOCKS = [b"", _SNI, _ext(43, b"\x03\x04"), _ext(43, b"\x03\x04\x00"),
                _ext(16, _vec(2, _vec(1, b"mysql"))) + _SNI,
                _ext(43, _vec(1, b"\x03\x04\x03\x03")) + _ext(0xFF01, b"\0")]


@pytest.mark.parametrize("block", _MEMO_BLOCKS)
def test_remembered_extension_blocks_give_each_hello_its_own_fields(block: bytes) -> None:
    """The same block behind hellos that differ everywhere else: each hello still gets its own
    version, random, session id and suites, and the block's reading follows the legacy
    version where the ServerHello has no supported_versions (the memo's key holds it)."""
    tls._CLIENT_EXTENSIONS.clear()
    tls._SERVER_EXTENSIONS.clear()
    rng = random.Random(block)
    for _ in range(3):
        for version in (b"\x03\x03", b"\x03\x01"):
            sid = bytes(rng.randrange(256) for _ in range(rng.choice((0, 32))))
            head = version + rng.randbytes(32) + _vec(1, sid)
            suites = _vec(2, rng.randbytes(2 * rng.randint(1, 4)))
            ext = _vec(2, block) if block else b""
            for body in (head + suites + b"\1\0" + ext, head + suites[2:4] + b"\0" + ext):
                got = _outcome_of(tls.parse_client_hello, body)
                assert got == _outcome_of(tls._parse_client_hello_general, body)
            body = head + rng.randbytes(2) + b"\0" + ext
            got = _outcome_of(tls.parse_server_hello, body)
            assert got == _outcome_of(tls._parse_server_hello_general, body)
    assert len(tls._CLIENT_EXTENSIONS) <= 1 or not block


def _outcome_of(parse: Callable[[bytes], object], body: bytes) -> object:
    try:
        return parse(body)
    except ProtocolError as exc:
        return ("error", str(exc))
