"""TLS handshake framing and message parsing (sans-I/O).

Theory of operation
-------------------
Three layers, each with one job, in the manner of h11 (bytes in, events out, "need more data"
is the `NEED_DATA` return value, errors are `ProtocolError`):

1. Records (RFC 5246 section 6.2.1, RFC 8446 section 5.1). `TlsStream` frames one direction's
   bytes into records: content type (20 change_cipher_spec, 21 alert, 22 handshake,
   23 application_data, 24 heartbeat), a legacy version whose major byte is 3, a 2-byte length
   of at most 2^14 + 2048 (the TLSCiphertext bound of RFC 5246; RFC 8446 allows only
   2^14 + 256). A bad header raises as soon as its 5 bytes are there, before any body is
   buffered. A first byte with the high bit set is an SSLv2-compatible ClientHello
   (RFC 5246 appendix E.2); it is reported as a `ProtocolError`, not parsed.
2. Handshake messages (RFC 5246 section 7.4, RFC 8446 section 4). The bodies of handshake
   records are a byte stream of their own: a message may span records (and TCP segments), a
   record may hold several messages. `HandshakeReassembler` cuts that stream into
   (msg_type, body) pairs, refusing a 4-byte header that declares more than
   `Limits.max_handshake_message_bytes` before buffering the body. A later decryption layer
   feeds the plaintext of TLS 1.3 encrypted handshake records into its own reassembler.
3. Message bodies. `parse_client_hello`, `parse_server_hello`, `parse_certificate`,
   `parse_certificate_request` turn one body into a frozen event; other message types become
   `HandshakeMessage(msg_type, length)`. ClientHello keeps its raw extensions and reads SNI
   (RFC 6066 section 3), ALPN (RFC 7301) and supported_versions (RFC 8446 section 4.2.1).
   ServerHello reports the selected version (supported_versions when present) and whether it
   is a HelloRetryRequest (RFC 8446 section 4.1.3: the special random value). Certificate
   has two forms: TLS <= 1.2 (RFC 5246 section 7.4.2: a list of DER certificates) and TLS 1.3
   (RFC 8446 section 4.4.2: a request context, then entries of DER + extensions).

What this stream cannot read: in TLS <= 1.2 everything after this direction's
ChangeCipherSpec is encrypted (the Finished message, alerts, application data) and becomes
`EncryptedRecord`. In TLS 1.3 (the caller calls `set_tls13()` once the ServerHello chose it)
every protected record has the outer type 23 (application_data) and becomes
`EncryptedRecord`; the ChangeCipherSpec records of middlebox compatibility mode
(RFC 8446 appendix D.4) change nothing, and plaintext handshake records (ServerHello,
HelloRetryRequest, a second ClientHello) and plaintext alerts are still parsed.

Messages are parsed lazily, one per `next_event()`: the caller sees ServerHello and can call
`set_tls13()` before the next message of the same record is read.
"""

from __future__ import annotations

import re
import struct
from collections import deque
from dataclasses import dataclass
from typing import Final, NamedTuple

from capture_tls.bytereader import ByteReader, append_unread, consume_prefix
from capture_tls.errors import ProtocolError
from capture_tls.limits import DEFAULT_LIMITS, Limits
from capture_tls.protocols._frozen import dataclass_equality
from capture_tls.protocols.mysql import NEED_DATA, NeedData

__all__ = [
    "HELLO_RETRY_REQUEST_RANDOM",
    "NEED_DATA",
    "Alert",
    "Certificate",
    "CertificateRequest",
    "ChangeCipherSpec",
    "ClientHello",
    "EncryptedRecord",
    "HandshakeMessage",
    "HandshakeReassembler",
    "NeedData",
    "ServerHello",
    "TlsEvent",
    "TlsStream",
    "alert_description_name",
    "cipher_suite_name",
    "parse_certificate",
    "parse_certificate_request",
    "parse_client_hello",
    "parse_handshake_message",
    "parse_server_hello",
    "starts_like_tls_record",
    "version_name",
]

# Record content types (RFC 8446 section 5.1, RFC 6520 for heartbeat).
CONTENT_CHANGE_CIPHER_SPEC: Final = 20
CONTENT_ALERT: Final = 21
CONTENT_HANDSHAKE: Final = 22
CONTENT_APPLICATION_DATA: Final = 23
CONTENT_HEARTBEAT: Final = 24

# Handshake message types this module parses (RFC 8446 section 4).
HANDSHAKE_CLIENT_HELLO: Final = 1
HANDSHAKE_SERVER_HELLO: Final = 2
HANDSHAKE_CERTIFICATE: Final = 11
HANDSHAKE_CERTIFICATE_REQUEST: Final = 13

# Extensions this module reads.
EXT_SERVER_NAME: Final = 0
EXT_ALPN: Final = 16
EXT_SUPPORTED_VERSIONS: Final = 43

_RECORD_HEADER_BYTES: Final = 5
_HANDSHAKE_HEADER_BYTES: Final = 4
# RFC 5246 6.2.3: TLSCiphertext.length MUST NOT exceed 2^14 + 2048.
MAX_RECORD_FRAGMENT_BYTES: Final = 2**14 + 2048
# RFC 8446 5.2: an AEAD record is at most 2^14 + 256; what EncryptedRecord keeps.
_MAX_KEPT_FRAGMENT_BYTES: Final = 2**14 + 256
# Consumed bytes kept in front of a receive buffer before it is compacted.
_COMPACT_AFTER_BYTES: Final = 64 * 1024

# RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest (SHA-256 of
# "HelloRetryRequest").
HELLO_RETRY_REQUEST_RANDOM: Final = bytes.fromhex(
    "CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C"
)


@dataclass_equality
class ClientHello(NamedTuple):
    legacy_version: int
    random: bytes  # 32 bytes; the key-log lookup key
    session_id: bytes
    cipher_suites: tuple[int, ...]
    sni: str | None  # only a valid host name (RFC 6066 host_name); else None
    alpn: tuple[str, ...]
    supported_versions: tuple[int, ...]  # empty when the extension is absent
    extensions: tuple[tuple[int, bytes], ...]  # raw, in order


@dataclass_equality
class ServerHello(NamedTuple):
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    selected_version: int  # supported_versions when present, else legacy_version
    is_hello_retry_request: bool
    extensions: tuple[tuple[int, bytes], ...]


@dataclass_equality
class Certificate(NamedTuple):
    certificates: tuple[bytes, ...]  # DER, as sent (leaf first)
    declared_count_exceeded: bool  # more than limits.max_certificates_per_chain were present


@dataclass(frozen=True, slots=True)
class CertificateRequest:
    certificate_types: tuple[int, ...]  # TLS <= 1.2; empty for 1.3


@dataclass(frozen=True, slots=True)
class HandshakeMessage:
    """Any other handshake message (ServerHelloDone, ServerKeyExchange, Finished, ...)."""

    msg_type: int
    length: int


@dataclass(frozen=True, slots=True)
class Alert:
    level: int  # 1 warning, 2 fatal
    description: int


@dataclass(frozen=True, slots=True)
class ChangeCipherSpec:
    pass


@dataclass_equality
class EncryptedRecord(NamedTuple):
    """A record this stream cannot read: after ChangeCipherSpec, TLS 1.3 protected records,
    application data. `fragment` is kept only up to 2^14+256 bytes (a TLS record's bound)."""

    content_type: int
    version: int
    fragment: bytes


TlsEvent = (
    ClientHello
    | ServerHello
    | Certificate
    | CertificateRequest
    | HandshakeMessage
    | Alert
    | ChangeCipherSpec
    | EncryptedRecord
)


class HandshakeReassembler:
    """Cuts a stream of handshake-record bodies into handshake messages (sans-I/O).

    `receive_fragment(data)` appends the body of one handshake record (plaintext, or the
    decrypted inner plaintext of a TLS 1.3 record); `next_message()` returns
    `(msg_type, body)` or `NEED_DATA`. A header declaring more than
    `limits.max_handshake_message_bytes` raises `ProtocolError` as soon as its 4 bytes are
    there; after that the reassembler stays broken. Draining `next_message()` after each
    fragment keeps the buffer below one message plus one record.
    """

    __slots__ = ("_buf", "_error", "_max_message", "_pos")

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._max_message = limits.max_handshake_message_bytes
        self._error: ProtocolError | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes of a message not yet complete (0 on a message boundary)."""
        return len(self._buf) - self._pos

    def receive_fragment(self, data: bytes | bytearray | memoryview) -> None:
        if self._error is not None:
            raise self._error
        self._buf += data

    def next_message(self) -> tuple[int, bytes] | NeedData:
        if self._error is not None:
            raise self._error
        buf = self._buf
        pos = self._pos
        if len(buf) - pos < _HANDSHAKE_HEADER_BYTES:
            return NEED_DATA
        length = (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]
        if length > self._max_message:
            self._error = ProtocolError(
                f"handshake message type {buf[pos]} declares {length} bytes, "
                f"limit is {self._max_message}"
            )
            raise self._error
        end = pos + _HANDSHAKE_HEADER_BYTES + length
        if len(buf) < end:
            return NEED_DATA
        message = (buf[pos], bytes(buf[pos + _HANDSHAKE_HEADER_BYTES : end]))
        self._pos = consume_prefix(buf, end, _COMPACT_AFTER_BYTES)
        return message


class TlsStream:
    """One direction of a TLS connection, sans-I/O.

    `receive_data(data)` appends bytes; `next_event()` returns the next `TlsEvent` or
    `NEED_DATA`. A record layer error (unknown content type, record over 2^14+2048 bytes,
    handshake message over limits.max_handshake_message_bytes) raises `ProtocolError`,
    after which the stream stays broken (every later call raises again).
    `tls13` must be set by the caller (`set_tls13()`) once the ServerHello chose TLS 1.3:
    from then on handshake records of content type 23 are EncryptedRecord events.
    After a ChangeCipherSpec in TLS <= 1.2 this direction's records are encrypted.

    Call `set_tls13()` on BOTH directions as soon as the server's ServerHello (or
    HelloRetryRequest) selects 0x0304, before feeding the client bytes that follow it: the
    client's compatibility ChangeCipherSpec must not switch its stream to "encrypted", or a
    second ClientHello after a HelloRetryRequest would be missed. It also selects the TLS 1.3
    form of Certificate and CertificateRequest. A malformed handshake message (not only a
    framing error) is a `ProtocolError` too.

    The stream holds whatever it is given until `next_event` frames it: the caller bounds
    what it feeds (the reassembly layer's per-half-stream limit).

    Fast paths (the common case of a capture: whole records in one segment, whole messages in
    one record), each with the general path's results and errors:
    - `receive_data` with nothing buffered keeps the caller's `bytes` as they are; only bytes
      left over (a record cut by a segment boundary) go to a bytearray with what follows.
    - a handshake record that starts on a message boundary (the reassembler holds nothing)
      is kept as `_frag` (the buffer object and the record's range, no copy): its whole
      messages are cut straight from it; only an incomplete last message goes to the
      reassembler. A message spanning records takes the reassembler's path.
    """

    __slots__ = (
        "_buf",
        "_encrypted",
        "_error",
        "_frag",
        "_frag_end",
        "_frag_pos",
        "_handshake",
        "_limits",
        "_max_message",
        "_pending",
        "_pos",
        "_records_seen",
        "_tls13",
    )

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        # bytes while it is one caller's chunk read in place; a bytearray while bytes left
        # over from one chunk are joined with the next.
        self._buf: bytes | bytearray = b""
        self._pos = 0
        self._limits = limits
        self._max_message = limits.max_handshake_message_bytes
        self._handshake = HandshakeReassembler(limits)
        # The handshake record being cut into messages in place: an immutable buffer and the
        # range of it not yet cut (None: no such record).
        self._frag: bytes | None = None
        self._frag_pos = 0
        self._frag_end = 0
        # Alerts of a record not yet returned; a deque made with the first alert record (most
        # streams have none: 0.1 us a stream saved).
        self._pending: deque[Alert] | None = None
        self._encrypted = False  # after this direction's ChangeCipherSpec (TLS <= 1.2)
        self._tls13 = False
        self._records_seen = 0
        self._error: ProtocolError | None = None

    @property
    def tls13(self) -> bool:
        return self._tls13

    @property
    def encrypted(self) -> bool:
        """True once this direction sent ChangeCipherSpec in TLS <= 1.2."""
        return self._encrypted

    @property
    def buffered_bytes(self) -> int:
        """Bytes received and not yet turned into events: a record or a handshake message cut
        short (by the end of the capture, or by a gap)."""
        frag = self._frag_end - self._frag_pos if self._frag is not None else 0
        return len(self._buf) - self._pos + self._handshake.buffered_bytes + frag

    def receive_data(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._buf, self._pos = append_unread(self._buf, self._pos, data)

    def set_tls13(self) -> None:
        self._tls13 = True
        # In TLS 1.3 a ChangeCipherSpec is only middlebox camouflage: if one was seen before
        # the caller knew the version, it changed nothing.
        self._encrypted = False

    def next_event(self) -> TlsEvent | NeedData:
        if self._error is not None:
            raise self._error
        # The try costs nothing until it raises (3.11); the loop in a method of its own cost
        # one more call an event (0.08 us, 17 events a connection).
        try:
            # One function for pending alerts, messages and records: a record costs one call here
            # instead of four (next_event, _next_event, _next_record, _consume_to) and the
            # reassembler's two; 12 events of a TLS 1.2 handshake in ~9 us instead of ~20.
            handshake = self._handshake
            while True:
                if self._pending:
                    return self._pending.popleft()
                frag = self._frag
                if frag is not None:
                    p = self._frag_pos
                    fend = self._frag_end
                    if fend - p >= _HANDSHAKE_HEADER_BYTES:
                        length = (frag[p + 1] << 16) | (frag[p + 2] << 8) | frag[p + 3]
                        if length > self._max_message:
                            raise ProtocolError(
                                f"handshake message type {frag[p]} declares {length} bytes, "
                                f"limit is {self._max_message}"
                            )
                        mend = p + _HANDSHAKE_HEADER_BYTES + length
                        if mend <= fend:
                            if mend == fend:
                                self._frag = None
                            else:
                                self._frag_pos = mend
                            return _parse_message(
                                frag[p], frag[p + _HANDSHAKE_HEADER_BYTES : mend],
                                self._tls13, self._limits
                            )
                    # A message that continues in a later record: the reassembler's job.
                    self._frag = None
                    handshake.receive_fragment(frag[p:fend])
                elif len(handshake._buf) - handshake._pos >= _HANDSHAKE_HEADER_BYTES:
                    # (its buffered_bytes, read here without the property's call)
                    message = handshake.next_message()
                    if not isinstance(message, NeedData):
                        return _parse_message(
                            message[0], message[1], self._tls13, self._limits
                        )

                # Frame one record.
                buf = self._buf
                pos = self._pos
                available = len(buf) - pos
                if available < 1:
                    return NEED_DATA
                content_type = buf[pos]
                if not CONTENT_CHANGE_CIPHER_SPEC <= content_type <= CONTENT_HEARTBEAT:
                    if content_type & 0x80 and self._records_seen == 0:
                        raise ProtocolError("SSLv2-compatible ClientHello is not supported")
                    raise ProtocolError(f"unknown TLS record content type {content_type}")
                if available < 2:
                    return NEED_DATA
                if buf[pos + 1] != 3:
                    raise ProtocolError(f"TLS record version major byte {buf[pos + 1]}, expected 3")
                if available < _RECORD_HEADER_BYTES:
                    return NEED_DATA
                length = (buf[pos + 3] << 8) | buf[pos + 4]
                if length > MAX_RECORD_FRAGMENT_BYTES:
                    raise ProtocolError(
                        f"TLS record declares {length} bytes, limit is {MAX_RECORD_FRAGMENT_BYTES}"
                    )
                start = pos + _RECORD_HEADER_BYTES
                end = start + length
                if len(buf) < end:
                    return NEED_DATA
                self._records_seen += 1

                if content_type == CONTENT_HANDSHAKE and not self._encrypted:
                    if length == 0:
                        raise ProtocolError("empty handshake record")
                    if len(handshake._buf) - handshake._pos:
                        with memoryview(buf) as view, view[start:end] as fragment:
                            handshake.receive_fragment(fragment)
                    elif type(buf) is bytes:
                        self._frag = buf
                        self._frag_pos = start
                        self._frag_end = end
                    else:
                        self._frag = bytes(buf[start:end])
                        self._frag_pos = 0
                        self._frag_end = length
                    if end >= len(buf):  # _consume_to's common case, without its call
                        self._buf = b""
                        self._pos = 0
                    else:
                        self._consume_to(end)
                    continue
                if (
                    self._encrypted
                    or content_type == CONTENT_APPLICATION_DATA
                    or content_type == CONTENT_HEARTBEAT
                ):
                    kept_end = min(end, start + _MAX_KEPT_FRAGMENT_BYTES)
                    record = _new_tuple(EncryptedRecord, (
                        content_type, (buf[pos + 1] << 8) | buf[pos + 2],
                        bytes(buf[start:kept_end])))
                    if end >= len(buf):
                        self._buf = b""
                        self._pos = 0
                    else:
                        self._consume_to(end)
                    return record
                if content_type == CONTENT_CHANGE_CIPHER_SPEC:
                    if length != 1 or buf[start] != 1:
                        raise ProtocolError("malformed ChangeCipherSpec record")
                    if not self._tls13:
                        if handshake.buffered_bytes:
                            raise ProtocolError(
                                "ChangeCipherSpec in the middle of a handshake message")
                        self._encrypted = True
                    self._consume_to(end)
                    return _CHANGE_CIPHER_SPEC
                # CONTENT_ALERT
                if length == 0 or length % 2:
                    raise ProtocolError(f"alert record of {length} bytes")
                pending = self._pending
                if pending is None:
                    pending = self._pending = deque()
                for i in range(start, end, 2):
                    pending.append(Alert(buf[i], buf[i + 1]))
                self._consume_to(end)
        except ProtocolError as exc:
            self._error = exc
            raise

    def _consume_to(self, end: int) -> None:
        buf = self._buf
        if end >= len(buf):
            self._buf = b""  # the next chunk is read in place again
            self._pos = 0
        elif isinstance(buf, bytearray):
            self._pos = consume_prefix(buf, end, _COMPACT_AFTER_BYTES)
        else:
            self._pos = end


_new_tuple = tuple.__new__

# ChangeCipherSpec has no fields: one instance serves every record (0.16 us a record saved).
_CHANGE_CIPHER_SPEC: Final = ChangeCipherSpec()


def parse_handshake_message(
    msg_type: int, body: bytes, *, tls13: bool = False, limits: Limits = DEFAULT_LIMITS
) -> ClientHello | ServerHello | Certificate | CertificateRequest | HandshakeMessage:
    """One complete handshake message body -> its event; raises ProtocolError.

    `tls13` selects the TLS 1.3 form of Certificate and CertificateRequest."""
    return _parse_message(msg_type, body, tls13, limits)


def _parse_message(
    msg_type: int, body: bytes, tls13: bool, limits: Limits
) -> ClientHello | ServerHello | Certificate | CertificateRequest | HandshakeMessage:
    """parse_handshake_message with positional arguments: TlsStream's call (keywords cost
    0.1 us a message more, 8 messages a connection)."""
    if msg_type == HANDSHAKE_CLIENT_HELLO:
        return parse_client_hello(body)
    if msg_type == HANDSHAKE_SERVER_HELLO:
        return parse_server_hello(body)
    if msg_type == HANDSHAKE_CERTIFICATE:
        return parse_certificate(body, tls13, limits)
    if msg_type == HANDSHAKE_CERTIFICATE_REQUEST:
        return parse_certificate_request(body, tls13)
    # The other messages are (type, length) pairs a capture repeats (ServerHelloDone,
    # ClientKeyExchange, ServerKeyExchange of one key type): one frozen instance serves them
    # all (a lookup, 0.07 us, instead of the dataclass's 0.3 us, 3 times a connection).
    key = (msg_type, len(body))
    message = _HANDSHAKE_MESSAGES.get(key)
    if message is None:
        if len(_HANDSHAKE_MESSAGES) >= _MAX_HANDSHAKE_MESSAGES_KEPT:
            _HANDSHAKE_MESSAGES.clear()
        message = _HANDSHAKE_MESSAGES[key] = HandshakeMessage(msg_type, key[1])
    return message


# The HandshakeMessage instances shared by equal messages; cleared when full (the lengths are
# the sender's choice, so the set of keys is not bounded by anything else).
_HANDSHAKE_MESSAGES: dict[tuple[int, int], HandshakeMessage] = {}
_MAX_HANDSHAKE_MESSAGES_KEPT: Final = 4096


def _read_extensions(r: ByteReader, what: str) -> tuple[tuple[int, bytes], ...]:
    """The optional extensions block that ends a hello; the reader must end with it."""
    if r.at_end():
        return ()
    block = r.sub(r.u16(f"{what} extensions length"), f"{what} extensions")
    if not r.at_end():
        raise ProtocolError(f"{r.remaining} bytes after the {what} extensions")
    # Indexing the block directly: a hello's extensions in 2 us instead of 9 through the
    # reader's methods; the errors are the reader's own words.
    data = block.rest()
    end = len(data)
    extensions: list[tuple[int, bytes]] = []
    i = 0
    while i < end:
        if end - i < 2:
            raise ProtocolError(f"{what} extension type: needs 2 bytes, {end - i} left")
        ext_type = (data[i] << 8) | data[i + 1]
        if end - i < 4:
            raise ProtocolError(f"{what} extension {ext_type}: needs 2 bytes, {end - i - 2} "
                                "left")
        length = (data[i + 2] << 8) | data[i + 3]
        i += 4
        if end - i < length:
            raise ProtocolError(f"{what} extension {ext_type}: needs {length} bytes, "
                                f"{end - i} left")
        extensions.append((ext_type, data[i : i + length]))
        i += length
    return tuple(extensions)


def _u16_list(raw: bytes, what: str) -> tuple[int, ...]:
    if len(raw) % 2:
        raise ProtocolError(f"{what}: odd length {len(raw)}")
    return tuple((raw[i] << 8) | raw[i + 1] for i in range(0, len(raw), 2))


# RFC 1123 2.1 labels: letters, digits, hyphens, not starting or ending with a hyphen. The
# underscore is accepted too: it is not legal in a host name, but container and service names
# carry it and TLS stacks send it as SNI (Python's ssl does); rejecting it would hide the
# name the client meant.
_HOST_LABEL = re.compile(rb"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def _valid_host_name(raw: bytes) -> str | None:
    """`raw` as a str if it is a host name as RFC 6066 section 3 wants it in SNI (ASCII,
    RFC 1123 syntax, no trailing dot, at most 253 characters), else None.

    A dotted-quad IPv4 literal is RFC 1123 syntax too and is accepted: RFC 6066 forbids it,
    but PHP's mysqlnd sends it, and for the report it is the host the client meant. IPv6
    literals (colons) are not host name syntax and are refused.

    Answers are remembered per name (a capture's clients send few names): a lookup instead
    of the split and a regex match per label (0.8 us a ClientHello)."""
    if not 0 < len(raw) <= 253:
        return None  # (not remembered: at most 253 bytes a key)
    known = _HOST_NAMES.get(raw, _UNKNOWN)
    if known is not _UNKNOWN:
        return known  # type: ignore[return-value]
    name: str | None = None
    for label in raw.split(b"."):
        if _HOST_LABEL.fullmatch(label) is None:
            break
    else:
        name = raw.decode("ascii")
    if len(_HOST_NAMES) >= _MAX_HOST_NAMES_KEPT:
        _HOST_NAMES.clear()
    _HOST_NAMES[raw] = name
    return name


# _valid_host_name's answers; cleared when full (the names are the sender's choice).
_HOST_NAMES: dict[bytes, str | None] = {}
_MAX_HOST_NAMES_KEPT: Final = 4096
_UNKNOWN: Final = object()


def _parse_sni(data: bytes) -> str | None:
    r = ByteReader(data)
    names = r.sub(r.u16("server_name list length"), "server_name list")
    if not r.at_end():
        raise ProtocolError("bytes after the server_name list")
    host: bytes | None = None
    while not names.at_end():
        name_type = names.u8("server_name type")
        name = names.vector(2, "server_name")
        if name_type == 0 and host is None:
            host = name
    return None if host is None else _valid_host_name(host)


def _parse_alpn(data: bytes) -> tuple[str, ...]:
    r = ByteReader(data)
    names = r.sub(r.u16("ALPN list length"), "ALPN list")
    if not r.at_end():
        raise ProtocolError("bytes after the ALPN list")
    protocols: list[str] = []
    while not names.at_end():
        name = names.vector(1, "ALPN protocol name")
        if not name:
            raise ProtocolError("empty ALPN protocol name")
        protocols.append(name.decode("ascii", errors="backslashreplace"))
    return tuple(protocols)


def parse_client_hello(body: bytes) -> ClientHello:
    """ClientHello body (RFC 8446 4.1.2, RFC 5246 7.4.1.2); raises ProtocolError."""
    hello = _maybe_parse_client_hello_fast(body) if type(body) is bytes else None
    return hello if hello is not None else _parse_client_hello_general(body)


def _parse_client_hello_general(body: bytes) -> ClientHello:
    """parse_client_hello through ByteReader: the reference, and the path of every input
    the fast path does not take (its errors are this function's)."""
    r = ByteReader(body)
    legacy_version = r.u16("ClientHello version")
    random = r.take(32, "ClientHello random")
    session_id = r.vector(1, "ClientHello session id")
    if len(session_id) > 32:
        raise ProtocolError(f"ClientHello session id of {len(session_id)} bytes")
    suites_raw = r.vector(2, "ClientHello cipher suites")
    if not suites_raw:
        raise ProtocolError("ClientHello without cipher suites")
    cipher_suites = _u16_list(suites_raw, "ClientHello cipher suites")
    if not r.vector(1, "ClientHello compression methods"):
        raise ProtocolError("ClientHello without compression methods")
    extensions = _read_extensions(r, "ClientHello")
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    supported_versions: tuple[int, ...] = ()
    seen: set[int] = set()
    for ext_type, data in extensions:
        if ext_type in seen:
            # RFC 8446 4.2: at most one extension of each type; the first one counts.
            continue
        seen.add(ext_type)
        if ext_type == EXT_SERVER_NAME:
            if data:  # empty in a ServerHello; tolerate it here too
                sni = _parse_sni(data)
        elif ext_type == EXT_ALPN:
            alpn = _parse_alpn(data)
        elif ext_type == EXT_SUPPORTED_VERSIONS:
            vr = ByteReader(data)
            versions_raw = vr.vector(1, "supported_versions")
            if not vr.at_end():
                raise ProtocolError("bytes after the supported_versions list")
            supported_versions = _u16_list(versions_raw, "supported_versions")
    return ClientHello(
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        cipher_suites=cipher_suites,
        sni=sni,
        alpn=alpn,
        supported_versions=supported_versions,
        extensions=extensions,
    )


def parse_server_hello(body: bytes) -> ServerHello:
    """ServerHello or HelloRetryRequest body (RFC 8446 4.1.3, RFC 5246 7.4.1.3)."""
    hello = _maybe_parse_server_hello_fast(body) if type(body) is bytes else None
    return hello if hello is not None else _parse_server_hello_general(body)


def _parse_server_hello_general(body: bytes) -> ServerHello:
    """parse_server_hello through ByteReader (see _parse_client_hello_general)."""
    r = ByteReader(body)
    legacy_version = r.u16("ServerHello version")
    random = r.take(32, "ServerHello random")
    session_id = r.vector(1, "ServerHello session id")
    if len(session_id) > 32:
        raise ProtocolError(f"ServerHello session id of {len(session_id)} bytes")
    cipher_suite = r.u16("ServerHello cipher suite")
    r.u8("ServerHello compression method")
    extensions = _read_extensions(r, "ServerHello")
    selected_version = legacy_version
    for ext_type, data in extensions:
        if ext_type == EXT_SUPPORTED_VERSIONS:
            if len(data) != 2:
                raise ProtocolError(f"ServerHello supported_versions of {len(data)} bytes")
            selected_version = (data[0] << 8) | data[1]
            break
    return ServerHello(
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        cipher_suite=cipher_suite,
        selected_version=selected_version,
        is_hello_retry_request=random == HELLO_RETRY_REQUEST_RANDOM,
        extensions=extensions,
    )


def parse_certificate(
    body: bytes, tls13: bool = False, limits: Limits = DEFAULT_LIMITS
) -> Certificate:
    """Certificate body: TLS <= 1.2 form (RFC 5246 7.4.2) or, with `tls13`, the TLS 1.3 form
    (RFC 8446 4.4.2: request context, entries with extensions). Keeps the first
    `limits.max_certificates_per_chain` certificates; the whole list is still checked."""
    if not tls13 and type(body) is bytes:
        cert = _maybe_parse_certificate12_fast(body, limits.max_certificates_per_chain)
        if cert is not None:
            return cert
    return _parse_certificate_general(body, tls13, limits)


def _parse_certificate_general(
    body: bytes, tls13: bool = False, limits: Limits = DEFAULT_LIMITS
) -> Certificate:
    """parse_certificate through ByteReader (see _parse_client_hello_general)."""
    r = ByteReader(body)
    if tls13:
        r.vector(1, "Certificate request context")
    entries = r.sub(r.u24("certificate_list length"), "certificate_list")
    if not r.at_end():
        raise ProtocolError(f"{r.remaining} bytes after the certificate_list")
    cap = limits.max_certificates_per_chain
    certificates: list[bytes] = []
    exceeded = False
    while not entries.at_end():
        length = entries.u24("certificate length")
        if length == 0:
            raise ProtocolError("empty certificate in certificate_list")
        if len(certificates) < cap:
            certificates.append(entries.take(length, "certificate"))
        else:
            entries.skip(length, "certificate")
            exceeded = True
        if tls13:
            entries.skip(entries.u16("certificate entry extensions length"), "extensions")
    return Certificate(tuple(certificates), exceeded)


def parse_certificate_request(body: bytes, tls13: bool = False) -> CertificateRequest:
    """CertificateRequest body. TLS <= 1.2 (RFC 5246 7.4.4): the certificate types are read,
    the rest (signature algorithms in 1.2 only, CA names) is not. TLS 1.3 (RFC 8446 4.3.2):
    request context and extensions, checked for framing; no certificate types."""
    r = ByteReader(body)
    if tls13:
        r.vector(1, "CertificateRequest context")
        r.vector(2, "CertificateRequest extensions")
        if not r.at_end():
            raise ProtocolError("bytes after the CertificateRequest extensions")
        return CertificateRequest(())
    return CertificateRequest(tuple(r.vector(1, "CertificateRequest certificate types")))



# --- fast paths -------------------------------------------------------------------------
# Each `_maybe_parse_*_fast` reads a well-formed body by indexing, every length checked before
# use, and returns None at the first thing it does not like (a length that does not fit, a
# missing field, anything the general parser would refuse or treat specially). The caller
# then runs the general parser on the same body: it gives the value or the ProtocolError, in
# its own words. So the fast path never decides an error; tests compare both on real
# handshakes, every truncation and every one-byte change.


def _maybe_extensions_fast(body: bytes, i: int) -> tuple[tuple[int, bytes], ...] | None:
    """The extensions block that ends a hello at body[i:], or None."""
    n = len(body)
    if i == n:
        return ()
    if n - i < 2 or ((body[i] << 8) | body[i + 1]) != n - i - 2:
        return None
    i += 2
    extensions: list[tuple[int, bytes]] = []
    while i < n:
        if n - i < 4:
            return None
        ext_end = i + 4 + ((body[i + 2] << 8) | body[i + 3])
        if ext_end > n:
            return None
        extensions.append(((body[i] << 8) | body[i + 1], body[i + 4 : ext_end]))
        i = ext_end
    return tuple(extensions)


def _u16_tuple(raw: bytes) -> tuple[int, ...]:
    """Big-endian u16 values of an even-length `raw` (struct: 0.3 us for 16 suites instead of
    1.6 through a generator)."""
    return struct.unpack(f">{len(raw) >> 1}H", raw)


def _maybe_sni_fast(data: bytes) -> tuple[bytes | None] | None:
    """(the first host_name entry or None) of a server_name extension, or None to use
    _parse_sni."""
    n = len(data)
    if n < 2 or ((data[0] << 8) | data[1]) != n - 2:
        return None
    i = 2
    host: bytes | None = None
    while i < n:
        if n - i < 3:
            return None
        name_end = i + 3 + ((data[i + 1] << 8) | data[i + 2])
        if name_end > n:
            return None
        if data[i] == 0 and host is None:
            host = data[i + 3 : name_end]
        i = name_end
    return (host,)


def _maybe_parse_client_hello_fast(body: bytes) -> ClientHello | None:
    # 4 us instead of 11 for a 200-byte ClientHello with 8 extensions.
    n = len(body)
    if n < 35:
        return None
    sid_end = 35 + body[34]
    if sid_end > 67 or n < sid_end + 2:
        return None
    suites_end = sid_end + 2 + ((body[sid_end] << 8) | body[sid_end + 1])
    if suites_end == sid_end + 2 or (suites_end - sid_end) & 1 or n < suites_end + 1:
        return None
    comp_end = suites_end + 1 + body[suites_end]
    if comp_end == suites_end + 1 or n < comp_end:
        return None
    # The extensions block and what is read from it, remembered per block: one client
    # library sends the same block on every connection unless it carries a key share
    # (2.5 us a TLS 1.2 ClientHello instead of 5).
    block = body[comp_end:] if n - comp_end <= _MAX_REMEMBERED_BLOCK_BYTES else None
    if block is not None:
        known = _CLIENT_EXTENSIONS.get(block)
        if known is not None:
            return _new_tuple(ClientHello, (
                (body[0] << 8) | body[1],  # legacy_version
                body[2:34],  # random
                body[35:sid_end],  # session_id
                _u16_tuple(body[sid_end + 2 : suites_end]),  # cipher_suites
                *known,  # sni, alpn, supported_versions, extensions
            ))
    extensions = _maybe_extensions_fast(body, comp_end)
    if extensions is None:
        return None
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    supported_versions: tuple[int, ...] = ()
    seen: set[int] = set()
    for ext_type, data in extensions:
        if ext_type in seen:
            continue
        seen.add(ext_type)
        if ext_type == EXT_SERVER_NAME:
            if data:
                host = _maybe_sni_fast(data)
                if host is None:
                    return None
                sni = None if host[0] is None else _valid_host_name(host[0])
        elif ext_type == EXT_ALPN:
            alpn = _parse_alpn(data)  # raises as the general path would: nothing before it
        elif ext_type == EXT_SUPPORTED_VERSIONS:
            if not data or data[0] != len(data) - 1 or data[0] & 1:
                return None
            supported_versions = _u16_tuple(data[1:])
    if block is not None:
        if len(_CLIENT_EXTENSIONS) >= _MAX_REMEMBERED_BLOCKS:
            _CLIENT_EXTENSIONS.clear()
        _CLIENT_EXTENSIONS[block] = (sni, alpn, supported_versions, extensions)
    # tuple.__new__, the fields in their order: 0.1 us instead of 0.5 for the keyword call.
    return _new_tuple(ClientHello, (
        (body[0] << 8) | body[1],  # legacy_version
        body[2:34],  # random
        body[35:sid_end],  # session_id
        _u16_tuple(body[sid_end + 2 : suites_end]),  # cipher_suites
        sni,
        alpn,
        supported_versions,
        extensions,
    ))


def _maybe_parse_server_hello_fast(body: bytes) -> ServerHello | None:
    n = len(body)
    if n < 35:
        return None
    sid_end = 35 + body[34]
    if sid_end > 67 or n < sid_end + 3:
        return None
    legacy_version = (body[0] << 8) | body[1]
    # Remembered per (legacy version, extensions block), as for the ClientHello.
    block = body[sid_end + 3 :] if n - sid_end - 3 <= _MAX_REMEMBERED_BLOCK_BYTES else None
    known = None if block is None else _SERVER_EXTENSIONS.get((legacy_version, block))
    if known is not None:
        selected_version, extensions = known
    else:
        found = _maybe_extensions_fast(body, sid_end + 3)
        if found is None:
            return None
        extensions = found
        selected_version = legacy_version
        for ext_type, data in extensions:
            if ext_type == EXT_SUPPORTED_VERSIONS:
                if len(data) != 2:
                    return None
                selected_version = (data[0] << 8) | data[1]
                break
        if block is not None:
            if len(_SERVER_EXTENSIONS) >= _MAX_REMEMBERED_BLOCKS:
                _SERVER_EXTENSIONS.clear()
            _SERVER_EXTENSIONS[(legacy_version, block)] = (selected_version, extensions)
    random = body[2:34]
    return _new_tuple(ServerHello, (
        legacy_version,
        random,
        body[35:sid_end],  # session_id
        (body[sid_end] << 8) | body[sid_end + 1],  # cipher_suite
        selected_version,
        random == HELLO_RETRY_REQUEST_RANDOM,  # is_hello_retry_request
        extensions,
    ))


# What the hello fast paths read from an extensions block, per block (ClientHello: SNI, ALPN,
# supported_versions, extensions; ServerHello, per legacy version too: the selected version,
# extensions). Only blocks the fast path accepted are kept, only blocks up to
# _MAX_REMEMBERED_BLOCK_BYTES, at most _MAX_REMEMBERED_BLOCKS of each (cleared when full):
# about 1 MiB at most.
_CLIENT_EXTENSIONS: dict[
    bytes, tuple[str | None, tuple[str, ...], tuple[int, ...], tuple[tuple[int, bytes], ...]]
] = {}
_SERVER_EXTENSIONS: dict[tuple[int, bytes], tuple[int, tuple[tuple[int, bytes], ...]]] = {}
_MAX_REMEMBERED_BLOCK_BYTES: Final = 512
_MAX_REMEMBERED_BLOCKS: Final = 1024


def _maybe_parse_certificate12_fast(body: bytes, cap: int) -> Certificate | None:
    """The TLS <= 1.2 Certificate form, at most `cap` certificates kept."""
    n = len(body)
    if n < 3 or ((body[0] << 16) | (body[1] << 8) | body[2]) != n - 3:
        return None
    i = 3
    certificates: list[bytes] = []
    while i < n:
        if n - i < 3:
            return None
        length = (body[i] << 16) | (body[i + 1] << 8) | body[i + 2]
        cert_end = i + 3 + length
        if length == 0 or cert_end > n or len(certificates) >= cap:
            return None
        certificates.append(body[i + 3 : cert_end])
        i = cert_end
    return _new_tuple(Certificate, (tuple(certificates), False))


def starts_like_tls_record(data: bytes) -> bool:
    """Cheap sniffer: content type 20..24 and version 0x0300..0x0304.

    Needs the first 3 bytes; with 5 it also checks the record length bound."""
    if len(data) < 3:
        return False
    if not CONTENT_CHANGE_CIPHER_SPEC <= data[0] <= CONTENT_HEARTBEAT:
        return False
    if data[1] != 3 or data[2] > 4:
        return False
    return len(data) < 5 or ((data[3] << 8) | data[4]) <= MAX_RECORD_FRAGMENT_BYTES


_VERSION_NAMES: Final[dict[int, str]] = {
    0x0002: "SSL 2.0",
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
    0xFEFF: "DTLS 1.0",
    0xFEFD: "DTLS 1.2",
    0xFEFC: "DTLS 1.3",
}


def version_name(version: int) -> str:
    """0x0303 -> "TLS 1.2"; unknown values as "0x7f1c"."""
    return _VERSION_NAMES.get(version) or f"0x{version:04x}"


def cipher_suite_name(suite: int) -> str:
    """IANA name, e.g. 0x1301 -> "TLS_AES_128_GCM_SHA256"; unknown values as "0x1301"."""
    return _CIPHER_SUITE_NAMES.get(suite) or f"0x{suite:04x}"


def alert_description_name(code: int) -> str:
    """RFC 8446 / 5246 alert description name, e.g. 42 -> "bad_certificate".

    Unknown values as "unknown_alert_<code>"."""
    return _ALERT_DESCRIPTION_NAMES.get(code) or f"unknown_alert_{code}"


# --- IANA "TLS Parameters" registries ---------------------------------------------------
# Cipher suites, written down from the IANA registry
# (https://www.iana.org/assignments/tls-parameters/): every assigned suite from 0x0000 to
# 0xD005 except the reserved and unassigned ranges and the GREASE values (RFC 8701), which a
# server never selects.
_CIPHER_SUITE_NAMES: Final[dict[int, str]] = {
    0x0000: "TLS_NULL_WITH_NULL_NULL",
    0x0001: "TLS_RSA_WITH_NULL_MD5",
    0x0002: "TLS_RSA_WITH_NULL_SHA",
    0x0003: "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x0006: "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
    0x0007: "TLS_RSA_WITH_IDEA_CBC_SHA",
    0x0008: "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x0009: "TLS_RSA_WITH_DES_CBC_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x000B: "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA",
    0x000C: "TLS_DH_DSS_WITH_DES_CBC_SHA",
    0x000D: "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA",
    0x000E: "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x000F: "TLS_DH_RSA_WITH_DES_CBC_SHA",
    0x0010: "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0011: "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA",
    0x0012: "TLS_DHE_DSS_WITH_DES_CBC_SHA",
    0x0013: "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
    0x0014: "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x0015: "TLS_DHE_RSA_WITH_DES_CBC_SHA",
    0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0017: "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5",
    0x0018: "TLS_DH_anon_WITH_RC4_128_MD5",
    0x0019: "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA",
    0x001A: "TLS_DH_anon_WITH_DES_CBC_SHA",
    0x001B: "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA",
    0x001E: "TLS_KRB5_WITH_DES_CBC_SHA",
    0x001F: "TLS_KRB5_WITH_3DES_EDE_CBC_SHA",
    0x0020: "TLS_KRB5_WITH_RC4_128_SHA",
    0x0021: "TLS_KRB5_WITH_IDEA_CBC_SHA",
    0x0022: "TLS_KRB5_WITH_DES_CBC_MD5",
    0x0023: "TLS_KRB5_WITH_3DES_EDE_CBC_MD5",
    0x0024: "TLS_KRB5_WITH_RC4_128_MD5",
    0x0025: "TLS_KRB5_WITH_IDEA_CBC_MD5",
    0x0026: "TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA",
    0x0027: "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_SHA",
    0x0028: "TLS_KRB5_EXPORT_WITH_RC4_40_SHA",
    0x0029: "TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5",
    0x002A: "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_MD5",
    0x002B: "TLS_KRB5_EXPORT_WITH_RC4_40_MD5",
    0x002C: "TLS_PSK_WITH_NULL_SHA",
    0x002D: "TLS_DHE_PSK_WITH_NULL_SHA",
    0x002E: "TLS_RSA_PSK_WITH_NULL_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0030: "TLS_DH_DSS_WITH_AES_128_CBC_SHA",
    0x0031: "TLS_DH_RSA_WITH_AES_128_CBC_SHA",
    0x0032: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    0x0034: "TLS_DH_anon_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x0036: "TLS_DH_DSS_WITH_AES_256_CBC_SHA",
    0x0037: "TLS_DH_RSA_WITH_AES_256_CBC_SHA",
    0x0038: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
    0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x003A: "TLS_DH_anon_WITH_AES_256_CBC_SHA",
    0x003B: "TLS_RSA_WITH_NULL_SHA256",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x003E: "TLS_DH_DSS_WITH_AES_128_CBC_SHA256",
    0x003F: "TLS_DH_RSA_WITH_AES_128_CBC_SHA256",
    0x0040: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    0x0041: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
    0x0042: "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA",
    0x0043: "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA",
    0x0044: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA",
    0x0045: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA",
    0x0046: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA",
    0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    0x0068: "TLS_DH_DSS_WITH_AES_256_CBC_SHA256",
    0x0069: "TLS_DH_RSA_WITH_AES_256_CBC_SHA256",
    0x006A: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
    0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    0x006C: "TLS_DH_anon_WITH_AES_128_CBC_SHA256",
    0x006D: "TLS_DH_anon_WITH_AES_256_CBC_SHA256",
    0x0084: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x0085: "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA",
    0x0086: "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x0087: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA",
    0x0088: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x0089: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA",
    0x008A: "TLS_PSK_WITH_RC4_128_SHA",
    0x008B: "TLS_PSK_WITH_3DES_EDE_CBC_SHA",
    0x008C: "TLS_PSK_WITH_AES_128_CBC_SHA",
    0x008D: "TLS_PSK_WITH_AES_256_CBC_SHA",
    0x008E: "TLS_DHE_PSK_WITH_RC4_128_SHA",
    0x008F: "TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA",
    0x0090: "TLS_DHE_PSK_WITH_AES_128_CBC_SHA",
    0x0091: "TLS_DHE_PSK_WITH_AES_256_CBC_SHA",
    0x0092: "TLS_RSA_PSK_WITH_RC4_128_SHA",
    0x0093: "TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA",
    0x0094: "TLS_RSA_PSK_WITH_AES_128_CBC_SHA",
    0x0095: "TLS_RSA_PSK_WITH_AES_256_CBC_SHA",
    0x0096: "TLS_RSA_WITH_SEED_CBC_SHA",
    0x0097: "TLS_DH_DSS_WITH_SEED_CBC_SHA",
    0x0098: "TLS_DH_RSA_WITH_SEED_CBC_SHA",
    0x0099: "TLS_DHE_DSS_WITH_SEED_CBC_SHA",
    0x009A: "TLS_DHE_RSA_WITH_SEED_CBC_SHA",
    0x009B: "TLS_DH_anon_WITH_SEED_CBC_SHA",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x00A0: "TLS_DH_RSA_WITH_AES_128_GCM_SHA256",
    0x00A1: "TLS_DH_RSA_WITH_AES_256_GCM_SHA384",
    0x00A2: "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256",
    0x00A3: "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
    0x00A4: "TLS_DH_DSS_WITH_AES_128_GCM_SHA256",
    0x00A5: "TLS_DH_DSS_WITH_AES_256_GCM_SHA384",
    0x00A6: "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
    0x00A7: "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
    0x00A8: "TLS_PSK_WITH_AES_128_GCM_SHA256",
    0x00A9: "TLS_PSK_WITH_AES_256_GCM_SHA384",
    0x00AA: "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256",
    0x00AB: "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384",
    0x00AC: "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256",
    0x00AD: "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384",
    0x00AE: "TLS_PSK_WITH_AES_128_CBC_SHA256",
    0x00AF: "TLS_PSK_WITH_AES_256_CBC_SHA384",
    0x00B0: "TLS_PSK_WITH_NULL_SHA256",
    0x00B1: "TLS_PSK_WITH_NULL_SHA384",
    0x00B2: "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256",
    0x00B3: "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384",
    0x00B4: "TLS_DHE_PSK_WITH_NULL_SHA256",
    0x00B5: "TLS_DHE_PSK_WITH_NULL_SHA384",
    0x00B6: "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256",
    0x00B7: "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384",
    0x00B8: "TLS_RSA_PSK_WITH_NULL_SHA256",
    0x00B9: "TLS_RSA_PSK_WITH_NULL_SHA384",
    0x00BA: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0x00BB: "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA256",
    0x00BC: "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0x00BD: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256",
    0x00BE: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0x00BF: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256",
    0x00C0: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C1: "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C2: "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C3: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C4: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C5: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C6: "TLS_SM4_GCM_SM3",
    0x00C7: "TLS_SM4_CCM_SM3",
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x1304: "TLS_AES_128_CCM_SHA256",
    0x1305: "TLS_AES_128_CCM_8_SHA256",
    0x5600: "TLS_FALLBACK_SCSV",
    0xC001: "TLS_ECDH_ECDSA_WITH_NULL_SHA",
    0xC002: "TLS_ECDH_ECDSA_WITH_RC4_128_SHA",
    0xC003: "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA",
    0xC004: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA",
    0xC005: "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA",
    0xC006: "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
    0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0xC008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC00B: "TLS_ECDH_RSA_WITH_NULL_SHA",
    0xC00C: "TLS_ECDH_RSA_WITH_RC4_128_SHA",
    0xC00D: "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC00E: "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA",
    0xC00F: "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA",
    0xC010: "TLS_ECDHE_RSA_WITH_NULL_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC015: "TLS_ECDH_anon_WITH_NULL_SHA",
    0xC016: "TLS_ECDH_anon_WITH_RC4_128_SHA",
    0xC017: "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA",
    0xC018: "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
    0xC019: "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
    0xC01A: "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA",
    0xC01B: "TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC01C: "TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA",
    0xC01D: "TLS_SRP_SHA_WITH_AES_128_CBC_SHA",
    0xC01E: "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA",
    0xC01F: "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA",
    0xC020: "TLS_SRP_SHA_WITH_AES_256_CBC_SHA",
    0xC021: "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA",
    0xC022: "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC025: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC026: "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xC029: "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256",
    0xC02A: "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02D: "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02E: "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xC031: "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256",
    0xC032: "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384",
    0xC033: "TLS_ECDHE_PSK_WITH_RC4_128_SHA",
    0xC034: "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA",
    0xC035: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA",
    0xC036: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA",
    0xC037: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256",
    0xC038: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384",
    0xC039: "TLS_ECDHE_PSK_WITH_NULL_SHA",
    0xC03A: "TLS_ECDHE_PSK_WITH_NULL_SHA256",
    0xC03B: "TLS_ECDHE_PSK_WITH_NULL_SHA384",
    0xC03C: "TLS_RSA_WITH_ARIA_128_CBC_SHA256",
    0xC03D: "TLS_RSA_WITH_ARIA_256_CBC_SHA384",
    0xC03E: "TLS_DH_DSS_WITH_ARIA_128_CBC_SHA256",
    0xC03F: "TLS_DH_DSS_WITH_ARIA_256_CBC_SHA384",
    0xC040: "TLS_DH_RSA_WITH_ARIA_128_CBC_SHA256",
    0xC041: "TLS_DH_RSA_WITH_ARIA_256_CBC_SHA384",
    0xC042: "TLS_DHE_DSS_WITH_ARIA_128_CBC_SHA256",
    0xC043: "TLS_DHE_DSS_WITH_ARIA_256_CBC_SHA384",
    0xC044: "TLS_DHE_RSA_WITH_ARIA_128_CBC_SHA256",
    0xC045: "TLS_DHE_RSA_WITH_ARIA_256_CBC_SHA384",
    0xC046: "TLS_DH_anon_WITH_ARIA_128_CBC_SHA256",
    0xC047: "TLS_DH_anon_WITH_ARIA_256_CBC_SHA384",
    0xC048: "TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256",
    0xC049: "TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384",
    0xC04A: "TLS_ECDH_ECDSA_WITH_ARIA_128_CBC_SHA256",
    0xC04B: "TLS_ECDH_ECDSA_WITH_ARIA_256_CBC_SHA384",
    0xC04C: "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256",
    0xC04D: "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384",
    0xC04E: "TLS_ECDH_RSA_WITH_ARIA_128_CBC_SHA256",
    0xC04F: "TLS_ECDH_RSA_WITH_ARIA_256_CBC_SHA384",
    0xC050: "TLS_RSA_WITH_ARIA_128_GCM_SHA256",
    0xC051: "TLS_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC052: "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256",
    0xC053: "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC054: "TLS_DH_RSA_WITH_ARIA_128_GCM_SHA256",
    0xC055: "TLS_DH_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC056: "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256",
    0xC057: "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384",
    0xC058: "TLS_DH_DSS_WITH_ARIA_128_GCM_SHA256",
    0xC059: "TLS_DH_DSS_WITH_ARIA_256_GCM_SHA384",
    0xC05A: "TLS_DH_anon_WITH_ARIA_128_GCM_SHA256",
    0xC05B: "TLS_DH_anon_WITH_ARIA_256_GCM_SHA384",
    0xC05C: "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256",
    0xC05D: "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384",
    0xC05E: "TLS_ECDH_ECDSA_WITH_ARIA_128_GCM_SHA256",
    0xC05F: "TLS_ECDH_ECDSA_WITH_ARIA_256_GCM_SHA384",
    0xC060: "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256",
    0xC061: "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC062: "TLS_ECDH_RSA_WITH_ARIA_128_GCM_SHA256",
    0xC063: "TLS_ECDH_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC064: "TLS_PSK_WITH_ARIA_128_CBC_SHA256",
    0xC065: "TLS_PSK_WITH_ARIA_256_CBC_SHA384",
    0xC066: "TLS_DHE_PSK_WITH_ARIA_128_CBC_SHA256",
    0xC067: "TLS_DHE_PSK_WITH_ARIA_256_CBC_SHA384",
    0xC068: "TLS_RSA_PSK_WITH_ARIA_128_CBC_SHA256",
    0xC069: "TLS_RSA_PSK_WITH_ARIA_256_CBC_SHA384",
    0xC06A: "TLS_PSK_WITH_ARIA_128_GCM_SHA256",
    0xC06B: "TLS_PSK_WITH_ARIA_256_GCM_SHA384",
    0xC06C: "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256",
    0xC06D: "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384",
    0xC06E: "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256",
    0xC06F: "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384",
    0xC070: "TLS_ECDHE_PSK_WITH_ARIA_128_CBC_SHA256",
    0xC071: "TLS_ECDHE_PSK_WITH_ARIA_256_CBC_SHA384",
    0xC072: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256",
    0xC073: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
    0xC074: "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_CBC_SHA256",
    0xC075: "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
    0xC076: "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0xC077: "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384",
    0xC078: "TLS_ECDH_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0xC079: "TLS_ECDH_RSA_WITH_CAMELLIA_256_CBC_SHA384",
    0xC07A: "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC07B: "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC07C: "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC07D: "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC07E: "TLS_DH_RSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC07F: "TLS_DH_RSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC080: "TLS_DHE_DSS_WITH_CAMELLIA_128_GCM_SHA256",
    0xC081: "TLS_DHE_DSS_WITH_CAMELLIA_256_GCM_SHA384",
    0xC082: "TLS_DH_DSS_WITH_CAMELLIA_128_GCM_SHA256",
    0xC083: "TLS_DH_DSS_WITH_CAMELLIA_256_GCM_SHA384",
    0xC084: "TLS_DH_anon_WITH_CAMELLIA_128_GCM_SHA256",
    0xC085: "TLS_DH_anon_WITH_CAMELLIA_256_GCM_SHA384",
    0xC086: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC087: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC088: "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC089: "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC08A: "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC08B: "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC08C: "TLS_ECDH_RSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC08D: "TLS_ECDH_RSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC08E: "TLS_PSK_WITH_CAMELLIA_128_GCM_SHA256",
    0xC08F: "TLS_PSK_WITH_CAMELLIA_256_GCM_SHA384",
    0xC090: "TLS_DHE_PSK_WITH_CAMELLIA_128_GCM_SHA256",
    0xC091: "TLS_DHE_PSK_WITH_CAMELLIA_256_GCM_SHA384",
    0xC092: "TLS_RSA_PSK_WITH_CAMELLIA_128_GCM_SHA256",
    0xC093: "TLS_RSA_PSK_WITH_CAMELLIA_256_GCM_SHA384",
    0xC094: "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xC095: "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC096: "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xC097: "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC098: "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xC099: "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC09A: "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xC09B: "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC09C: "TLS_RSA_WITH_AES_128_CCM",
    0xC09D: "TLS_RSA_WITH_AES_256_CCM",
    0xC09E: "TLS_DHE_RSA_WITH_AES_128_CCM",
    0xC09F: "TLS_DHE_RSA_WITH_AES_256_CCM",
    0xC0A0: "TLS_RSA_WITH_AES_128_CCM_8",
    0xC0A1: "TLS_RSA_WITH_AES_256_CCM_8",
    0xC0A2: "TLS_DHE_RSA_WITH_AES_128_CCM_8",
    0xC0A3: "TLS_DHE_RSA_WITH_AES_256_CCM_8",
    0xC0A4: "TLS_PSK_WITH_AES_128_CCM",
    0xC0A5: "TLS_PSK_WITH_AES_256_CCM",
    0xC0A6: "TLS_DHE_PSK_WITH_AES_128_CCM",
    0xC0A7: "TLS_DHE_PSK_WITH_AES_256_CCM",
    0xC0A8: "TLS_PSK_WITH_AES_128_CCM_8",
    0xC0A9: "TLS_PSK_WITH_AES_256_CCM_8",
    0xC0AA: "TLS_PSK_DHE_WITH_AES_128_CCM_8",
    0xC0AB: "TLS_PSK_DHE_WITH_AES_256_CCM_8",
    0xC0AC: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
    0xC0AD: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
    0xC0AE: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
    0xC0AF: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
    0xC0B0: "TLS_ECCPWD_WITH_AES_128_GCM_SHA256",
    0xC0B1: "TLS_ECCPWD_WITH_AES_256_GCM_SHA384",
    0xC0B2: "TLS_ECCPWD_WITH_AES_128_CCM_SHA256",
    0xC0B3: "TLS_ECCPWD_WITH_AES_256_CCM_SHA384",
    0xC0B4: "TLS_SHA256_SHA256",
    0xC0B5: "TLS_SHA384_SHA384",
    0xC0FF: "TLS_ECJPAKE_WITH_AES_128_CCM_8",
    0xC100: "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC",
    0xC101: "TLS_GOSTR341112_256_WITH_MAGMA_CTR_OMAC",
    0xC102: "TLS_GOSTR341112_256_WITH_28147_CNT_IMIT",
    0xC103: "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_L",
    0xC104: "TLS_GOSTR341112_256_WITH_MAGMA_MGM_L",
    0xC105: "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_S",
    0xC106: "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAB: "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAC: "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAD: "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAE: "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xD001: "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256",
    0xD002: "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384",
    0xD003: "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
    0xD005: "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256",
}

# TLS Alert descriptions (RFC 5246 7.2, RFC 8446 6, and later additions to the registry).
# Values the registry marks "reserved" (no longer sent by TLS 1.3) keep their old names:
# a capture of an old stack still shows them.
_ALERT_DESCRIPTION_NAMES: Final[dict[int, str]] = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    52: "too_many_cids_requested",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    111: "certificate_unobtainable",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    114: "bad_certificate_hash_value",
    115: "unknown_psk_identity",
    116: "certificate_required",
    117: "general_error",
    120: "no_application_protocol",
    121: "ech_required",
}
