"""The TlsStream and hello parsers as they were before their fast paths (commit 2537db1):
the reference tests/test_fast_paths.py compares the optimized ones against, event for event
and error text for error text. Not used by capture_tls."""

from __future__ import annotations

from collections import deque

from capture_tls.bytereader import consume_prefix
from capture_tls.errors import ProtocolError
from capture_tls.limits import DEFAULT_LIMITS, Limits
from capture_tls.protocols.mysql import NEED_DATA, NeedData
from capture_tls.protocols.tls import (
    _COMPACT_AFTER_BYTES,
    _HANDSHAKE_HEADER_BYTES,
    _MAX_KEPT_FRAGMENT_BYTES,
    _RECORD_HEADER_BYTES,
    CONTENT_APPLICATION_DATA,
    CONTENT_CHANGE_CIPHER_SPEC,
    CONTENT_HANDSHAKE,
    CONTENT_HEARTBEAT,
    HANDSHAKE_CERTIFICATE,
    HANDSHAKE_CERTIFICATE_REQUEST,
    HANDSHAKE_CLIENT_HELLO,
    HANDSHAKE_SERVER_HELLO,
    MAX_RECORD_FRAGMENT_BYTES,
    Alert,
    Certificate,
    CertificateRequest,
    ChangeCipherSpec,
    ClientHello,
    EncryptedRecord,
    HandshakeMessage,
    HandshakeReassembler,
    ServerHello,
    TlsEvent,
    _parse_certificate_general,
    _parse_client_hello_general,
    _parse_server_hello_general,
    parse_certificate_request,
)


def reference_parse_handshake_message(
    msg_type: int, body: bytes, *, tls13: bool = False, limits: Limits = DEFAULT_LIMITS
) -> ClientHello | ServerHello | Certificate | CertificateRequest | HandshakeMessage:
    if msg_type == HANDSHAKE_CLIENT_HELLO:
        return _parse_client_hello_general(body)
    if msg_type == HANDSHAKE_SERVER_HELLO:
        return _parse_server_hello_general(body)
    if msg_type == HANDSHAKE_CERTIFICATE:
        return _parse_certificate_general(body, tls13, limits)
    if msg_type == HANDSHAKE_CERTIFICATE_REQUEST:
        return parse_certificate_request(body, tls13)
    return HandshakeMessage(msg_type, len(body))


class ReferenceTlsStream:
    """`capture_tls.protocols.tls.TlsStream` (its contract and docstring) as it was
    before the fast paths: the record and handshake framing step by step, kept as the oracle."""

    __slots__ = (
        "_buf",
        "_encrypted",
        "_error",
        "_handshake",
        "_limits",
        "_pending",
        "_pos",
        "_records_seen",
        "_tls13",
    )

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._limits = limits
        self._handshake = HandshakeReassembler(limits)
        self._pending: deque[Alert] = deque()
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
        return len(self._buf) - self._pos + self._handshake.buffered_bytes

    def receive_data(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._buf += data

    def set_tls13(self) -> None:
        self._tls13 = True
        # In TLS 1.3 a ChangeCipherSpec is only middlebox camouflage: if one was seen before
        # the caller knew the version, it changed nothing.
        self._encrypted = False

    def next_event(self) -> TlsEvent | NeedData:
        if self._error is not None:
            raise self._error
        try:
            return self._next_event()
        except ProtocolError as exc:
            self._error = exc
            raise

    def _next_event(self) -> TlsEvent | NeedData:
        handshake = self._handshake
        while True:
            if self._pending:
                return self._pending.popleft()
            # (the reassembler is asked only when it holds a message header: most records
            # of a handshake end on a message boundary)
            if handshake.buffered_bytes >= _HANDSHAKE_HEADER_BYTES:
                message = handshake.next_message()
                if not isinstance(message, NeedData):
                    return reference_parse_handshake_message(
                        message[0], message[1], tls13=self._tls13, limits=self._limits
                    )
            event = self._next_record()
            if event is not None:
                return event

    def _next_record(self) -> TlsEvent | NeedData | None:
        """Frame and dispatch one record: an event, NEED_DATA, or None when the record only
        fed the handshake reassembler (or held several alerts, now pending)."""
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
        version = (buf[pos + 1] << 8) | buf[pos + 2]
        length = (buf[pos + 3] << 8) | buf[pos + 4]
        if length > MAX_RECORD_FRAGMENT_BYTES:
            raise ProtocolError(
                f"TLS record declares {length} bytes, limit is {MAX_RECORD_FRAGMENT_BYTES}"
            )
        end = pos + _RECORD_HEADER_BYTES + length
        if len(buf) < end:
            return NEED_DATA
        start = pos + _RECORD_HEADER_BYTES
        self._records_seen += 1

        if (
            self._encrypted
            or content_type == CONTENT_APPLICATION_DATA
            or content_type == CONTENT_HEARTBEAT
        ):
            kept_end = min(end, start + _MAX_KEPT_FRAGMENT_BYTES)
            record = EncryptedRecord(content_type, version, bytes(buf[start:kept_end]))
            self._consume_to(end)
            return record
        if content_type == CONTENT_HANDSHAKE:
            if length == 0:
                raise ProtocolError("empty handshake record")
            with memoryview(buf) as view, view[start:end] as fragment:
                self._handshake.receive_fragment(fragment)
            self._consume_to(end)
            return None
        if content_type == CONTENT_CHANGE_CIPHER_SPEC:
            if length != 1 or buf[start] != 1:
                raise ProtocolError("malformed ChangeCipherSpec record")
            if not self._tls13:
                if self._handshake.buffered_bytes:
                    raise ProtocolError("ChangeCipherSpec in the middle of a handshake message")
                self._encrypted = True
            self._consume_to(end)
            return ChangeCipherSpec()
        # CONTENT_ALERT
        if length == 0 or length % 2:
            raise ProtocolError(f"alert record of {length} bytes")
        for i in range(start, end, 2):
            self._pending.append(Alert(buf[i], buf[i + 1]))
        self._consume_to(end)
        return None

    def _consume_to(self, end: int) -> None:
        self._pos = consume_prefix(self._buf, end, _COMPACT_AFTER_BYTES)
