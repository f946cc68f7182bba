"""TLS 1.3 record decryption with secrets from a key log (sans-I/O).

Theory of operation
-------------------
RFC 8446 encrypts everything after the ServerHello. With the traffic secrets a key log holds
(`protocols.keylog`), this module reads those records back:

1. Key schedule (RFC 8446 section 7.1 and 7.3). From a traffic secret:
   `key = HKDF-Expand-Label(secret, "key", "", key_length)` and
   `iv = HKDF-Expand-Label(secret, "iv", "", 12)`, where HKDF-Expand-Label is HKDF-Expand
   (RFC 5869) with the info `uint16 length || opaque label<7..255> = "tls13 " + label ||
   opaque context<0..255>`, over the suite's hash. cryptography's `HKDFExpand` is the
   HKDF-Expand primitive.
2. Record protection (section 5.2 and 5.3). A protected record has the outer type 23, version
   0x0303 and the AEAD output as its fragment. Nonce = iv XOR the 64-bit record sequence number
   (left-padded to 12 bytes); additional data = the 5-byte record header; the plaintext is
   TLSInnerPlaintext = content || content type (1 byte) || zero padding. The sequence number
   is per direction and per key: it starts at 0 for every new traffic secret and counts every
   record decrypted under that key. A tag that does not verify (a wrong secret, a record out
   of order, a record from a different connection) raises `DecryptionFailed`; the sequence
   number then stays where it was.
3. Key changes (section 5.1 and 7.2). Each side encrypts its handshake messages up to and
   including its Finished under its handshake traffic secret, and everything after under
   `*_TRAFFIC_SECRET_0`. A key change happens only at a record boundary after a Finished, so
   `Tls13HandshakeDecryptor` follows the handshake message framing of each side's decrypted
   plaintext (headers only; no message is buffered) and switches that side's key after the
   record that ends its Finished. A side with no application secret in the key log can still
   have its handshake read; its later records raise `SecretUnavailable`.
   A client that rejects the server's certificate sends its alert instead of its Finished,
   under its handshake key: readable with CLIENT_HANDSHAKE_TRAFFIC_SECRET alone.
4. Reading the handshake. `Tls13HandshakeReader` puts the decrypted handshake bytes of each
   side through `tls.HandshakeReassembler` and `tls.parse_handshake_message(..., tls13=True)`
   and returns events: `EncryptedExtensions` (ALPN, RFC 7301), `tls.Certificate` (TLS 1.3
   form), `tls.CertificateRequest`, `tls.HandshakeMessage` (CertificateVerify 15, Finished
   20, NewSessionTicket 4, KeyUpdate 24, ...), `tls.Alert`, `ApplicationData`.

Suites: TLS_AES_128_GCM_SHA256 (0x1301), TLS_AES_256_GCM_SHA384 (0x1302),
TLS_CHACHA20_POLY1305_SHA256 (0x1303), TLS_AES_128_CCM_SHA256 (0x1304) and
TLS_AES_128_CCM_8_SHA256 (0x1305, 8-byte tag), with cryptography's AEAD classes.

A HelloRetryRequest changes nothing here: the secrets in a key log belong to the final
handshake and the cipher suite is the one of the real ServerHello (the same as the HRR's).
0-RTT early data (CLIENT_EARLY_TRAFFIC_SECRET) is not decrypted: the client's early records
would come before its handshake records, and MySQL clients do not send early data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from capture_tls.bytereader import ByteReader
from capture_tls.errors import CaptureTlsError, ProtocolError
from capture_tls.limits import DEFAULT_LIMITS, Limits
from capture_tls.protocols import keylog, tls

__all__ = [
    "TLS13_SUITES",
    "ApplicationData",
    "DecryptionFailed",
    "EncryptedExtensions",
    "RecordDecryptor",
    "SecretUnavailable",
    "Sender",
    "Tls13Event",
    "Tls13HandshakeDecryptor",
    "Tls13HandshakeReader",
    "Tls13Suite",
    "hkdf_expand_label",
    "parse_encrypted_extensions",
    "record_header",
    "traffic_key_and_iv",
]

Sender = Literal["client", "server"]

CONTENT_ALERT: Final = 21
CONTENT_HANDSHAKE: Final = 22
CONTENT_APPLICATION_DATA: Final = 23
HANDSHAKE_ENCRYPTED_EXTENSIONS: Final = 8
HANDSHAKE_FINISHED: Final = 20

# RFC 8446 5.2: TLSCiphertext.length MUST NOT exceed 2^14 + 256; TLSInnerPlaintext (content +
# type + padding) MUST NOT exceed 2^14 + 1.
MAX_CIPHERTEXT_BYTES: Final = 2**14 + 256
MAX_INNER_PLAINTEXT_BYTES: Final = 2**14 + 1
_IV_BYTES: Final = 12
# RFC 8446 5.5: a key may protect at most 2^64 - 1 records (the sequence number's range).
_MAX_SEQUENCE: Final = 2**64 - 1


class DecryptionFailed(CaptureTlsError):
    """A protected record did not authenticate: wrong secret, wrong suite, records missing or
    out of order, or bytes changed on the way."""


class SecretUnavailable(CaptureTlsError):
    """The record needs a secret the key log does not hold (e.g. a side's records after its
    Finished without `*_TRAFFIC_SECRET_0`)."""


@dataclass(frozen=True, slots=True)
class Tls13Suite:
    code: int
    name: str
    hash_algorithm: type[hashes.SHA256] | type[hashes.SHA384]
    key_bytes: int
    tag_bytes: int
    aead: Literal["aes-gcm", "chacha20-poly1305", "aes-ccm"]

    def make_aead(self, key: bytes) -> AESGCM | ChaCha20Poly1305 | AESCCM:
        if self.aead == "aes-gcm":
            return AESGCM(key)
        if self.aead == "chacha20-poly1305":
            return ChaCha20Poly1305(key)
        return AESCCM(key, tag_length=self.tag_bytes)


#: The TLS 1.3 cipher suites of RFC 8446 appendix B.4, by IANA code.
TLS13_SUITES: Final[Mapping[int, Tls13Suite]] = {
    0x1301: Tls13Suite(0x1301, "TLS_AES_128_GCM_SHA256", hashes.SHA256, 16, 16, "aes-gcm"),
    0x1302: Tls13Suite(0x1302, "TLS_AES_256_GCM_SHA384", hashes.SHA384, 32, 16, "aes-gcm"),
    0x1303: Tls13Suite(0x1303, "TLS_CHACHA20_POLY1305_SHA256", hashes.SHA256, 32, 16,
                       "chacha20-poly1305"),
    0x1304: Tls13Suite(0x1304, "TLS_AES_128_CCM_SHA256", hashes.SHA256, 16, 16, "aes-ccm"),
    0x1305: Tls13Suite(0x1305, "TLS_AES_128_CCM_8_SHA256", hashes.SHA256, 16, 8, "aes-ccm"),
}


def _suite(cipher_suite: int) -> Tls13Suite:
    suite = TLS13_SUITES.get(cipher_suite)
    if suite is None:
        raise DecryptionFailed(
            f"cipher suite {tls.cipher_suite_name(cipher_suite)} is not a TLS 1.3 suite "
            "this tool can decrypt"
        )
    return suite


def hkdf_expand_label(
    secret: bytes,
    label: bytes,
    context: bytes,
    length: int,
    hash_algorithm: type[hashes.SHA256] | type[hashes.SHA384],
) -> bytes:
    """RFC 8446 section 7.1 HKDF-Expand-Label; `label` without the "tls13 " prefix."""
    full_label = b"tls13 " + label
    if not 7 <= len(full_label) <= 255 or len(context) > 255 or not 0 < length < 65536:
        raise ValueError("HKDF-Expand-Label argument out of range")
    info = (
        length.to_bytes(2, "big")
        + bytes((len(full_label),)) + full_label
        + bytes((len(context),)) + context
    )
    return HKDFExpand(hash_algorithm(), length, info).derive(secret)


def traffic_key_and_iv(suite: Tls13Suite, traffic_secret: bytes) -> tuple[bytes, bytes]:
    """(write key, write iv) of a traffic secret (RFC 8446 section 7.3)."""
    if len(traffic_secret) != suite.hash_algorithm.digest_size:
        raise DecryptionFailed(
            f"a {len(traffic_secret)}-byte traffic secret does not fit {suite.name} "
            f"(its hash gives {suite.hash_algorithm.digest_size} bytes)"
        )
    key = hkdf_expand_label(traffic_secret, b"key", b"", suite.key_bytes, suite.hash_algorithm)
    iv = hkdf_expand_label(traffic_secret, b"iv", b"", _IV_BYTES, suite.hash_algorithm)
    return key, iv


def record_header(content_type: int, version: int, length: int) -> bytes:
    """The 5-byte TLS record header (the additional data of a TLS 1.3 record), e.g. from a
    `tls.EncryptedRecord`: `record_header(ev.content_type, ev.version, len(ev.fragment))`."""
    return bytes((content_type, version >> 8, version & 0xFF, length >> 8, length & 0xFF))


class RecordDecryptor:
    """Decrypts the records of one side under one traffic secret, counting its sequence."""

    __slots__ = ("_aead", "_iv", "_suite", "sequence")

    def __init__(self, suite: Tls13Suite, traffic_secret: bytes) -> None:
        key, iv = traffic_key_and_iv(suite, traffic_secret)
        self._suite = suite
        self._aead = suite.make_aead(key)
        self._iv = int.from_bytes(iv, "big")
        self.sequence = 0

    def decrypt(self, header: bytes, fragment: bytes) -> tuple[int, bytes]:
        """(inner content type, content without padding); raises DecryptionFailed or
        ProtocolError (a record that decrypts but breaks RFC 8446 section 5.2/5.4)."""
        if len(header) != 5:
            raise ProtocolError(f"TLS record header of {len(header)} bytes")
        if header[0] != CONTENT_APPLICATION_DATA:
            raise ProtocolError(f"a TLS 1.3 protected record has outer type 23, not {header[0]}")
        length = (header[3] << 8) | header[4]
        if length != len(fragment):
            raise ProtocolError(f"record header says {length} bytes, fragment has "
                                f"{len(fragment)}")
        if length > MAX_CIPHERTEXT_BYTES:
            raise ProtocolError(f"protected record of {length} bytes (limit 2^14+256)")
        if length < self._suite.tag_bytes + 1:
            raise DecryptionFailed(f"protected record of {length} bytes is shorter than the "
                                   f"{self._suite.tag_bytes}-byte tag plus a content type")
        if self.sequence > _MAX_SEQUENCE:
            raise DecryptionFailed("record sequence number exhausted")
        nonce = (self._iv ^ self.sequence).to_bytes(_IV_BYTES, "big")
        try:
            inner = self._aead.decrypt(nonce, bytes(fragment), bytes(header))
        except InvalidTag:
            raise DecryptionFailed(
                f"record {self.sequence} does not authenticate under {self._suite.name} "
                "(wrong secret for this connection, or records missing)"
            ) from None
        self.sequence += 1
        if len(inner) > MAX_INNER_PLAINTEXT_BYTES:
            raise ProtocolError(f"inner plaintext of {len(inner)} bytes (limit 2^14+1)")
        end = len(inner.rstrip(b"\0"))
        if end == 0:
            raise ProtocolError("inner plaintext holds only padding (no content type)")
        return inner[end - 1], inner[: end - 1]


class _FinishedWatch:
    """Follows the handshake message framing of one side's decrypted handshake bytes (4-byte
    headers, bodies skipped, nothing buffered) to see where its Finished ends."""

    __slots__ = ("_body_left", "_header", "_type", "finished")

    def __init__(self) -> None:
        self._header = bytearray()
        self._body_left = 0
        self._type = -1
        self.finished = False

    def feed(self, data: bytes) -> None:
        pos, n = 0, len(data)
        while pos < n:
            if self._body_left:
                step = min(self._body_left, n - pos)
                self._body_left -= step
                pos += step
                if self._body_left == 0:
                    self._message_done()
                continue
            take = min(4 - len(self._header), n - pos)
            self._header += data[pos : pos + take]
            pos += take
            if len(self._header) == 4:
                self._type = self._header[0]
                self._body_left = int.from_bytes(self._header[1:4], "big")
                self._header.clear()
                if self._body_left == 0:
                    self._message_done()

    def _message_done(self) -> None:
        if self._type == HANDSHAKE_FINISHED:
            self.finished = True


class _Side:
    __slots__ = ("app_secret", "current", "epoch", "watch")

    def __init__(self, current: RecordDecryptor | None, app_secret: bytes | None) -> None:
        self.current = current
        self.app_secret = app_secret
        self.epoch: Literal["handshake", "application"] = "handshake"
        self.watch = _FinishedWatch()


class Tls13HandshakeDecryptor:
    """Decrypts both sides' protected records of one TLS 1.3 connection, in order per side.

    `decrypt(sender, header, fragment)` -> (inner content type, plaintext). Feed it every
    protected record (outer type 23) of that side in wire order, starting with the first one
    after the ServerHello. Raises `DecryptionFailed` (tag does not verify), `SecretUnavailable`
    (no secret for this side and epoch), `ProtocolError` (a decrypted record breaks the
    rules). `epoch(sender)` says which key the next record of that side needs.
    """

    __slots__ = ("_sides", "suite")

    def __init__(
        self,
        cipher_suite: int,
        client_handshake_secret: bytes | None,
        server_handshake_secret: bytes | None,
        client_application_secret: bytes | None = None,
        server_application_secret: bytes | None = None,
    ) -> None:
        self.suite = _suite(cipher_suite)
        self._sides: dict[str, _Side] = {
            "client": _Side(self._make(client_handshake_secret), client_application_secret),
            "server": _Side(self._make(server_handshake_secret), server_application_secret),
        }

    @classmethod
    def from_keylog_secrets(
        cls, cipher_suite: int, secrets: Mapping[str, bytes]
    ) -> Tls13HandshakeDecryptor:
        """From `KeyLog.secrets_for(client_hello.random)`. Raises SecretUnavailable when
        neither handshake traffic secret is there, DecryptionFailed when the suite is not a
        TLS 1.3 suite or a secret's length does not fit its hash."""
        chs = secrets.get(keylog.CLIENT_HANDSHAKE_TRAFFIC_SECRET)
        shs = secrets.get(keylog.SERVER_HANDSHAKE_TRAFFIC_SECRET)
        if chs is None and shs is None:
            raise SecretUnavailable("the key log has no TLS 1.3 handshake traffic secret for "
                                    "this client random")
        return cls(cipher_suite, chs, shs, secrets.get(keylog.CLIENT_TRAFFIC_SECRET_0),
                   secrets.get(keylog.SERVER_TRAFFIC_SECRET_0))

    def _make(self, secret: bytes | None) -> RecordDecryptor | None:
        return None if secret is None else RecordDecryptor(self.suite, secret)

    def epoch(self, sender: Sender) -> Literal["handshake", "application"]:
        return self._sides[sender].epoch

    def can_decrypt(self, sender: Sender) -> bool:
        """True when the secret for this side's next record is known."""
        return self._sides[sender].current is not None

    def decrypt(self, sender: Sender, header: bytes, fragment: bytes) -> tuple[int, bytes]:
        side = self._sides[sender]
        decryptor = side.current
        if decryptor is None:
            label = {
                ("client", "handshake"): keylog.CLIENT_HANDSHAKE_TRAFFIC_SECRET,
                ("server", "handshake"): keylog.SERVER_HANDSHAKE_TRAFFIC_SECRET,
                ("client", "application"): keylog.CLIENT_TRAFFIC_SECRET_0,
                ("server", "application"): keylog.SERVER_TRAFFIC_SECRET_0,
            }[(sender, side.epoch)]
            raise SecretUnavailable(f"no {label} in the key log for this connection")
        content_type, plaintext = decryptor.decrypt(header, fragment)
        if side.epoch == "handshake" and content_type == CONTENT_HANDSHAKE:
            side.watch.feed(plaintext)
            if side.watch.finished:
                side.epoch = "application"
                side.current = self._make(side.app_secret)
        return content_type, plaintext


@dataclass(frozen=True, slots=True)
class EncryptedExtensions:
    alpn: tuple[str, ...]  # the protocol the server selected (at most one), RFC 7301
    extensions: tuple[tuple[int, bytes], ...]  # raw, in order


@dataclass(frozen=True, slots=True)
class ApplicationData:
    """A protected application_data record, decrypted (MySQL packets after the handshake)."""

    data: bytes


Tls13Event = (
    EncryptedExtensions
    | tls.Certificate
    | tls.CertificateRequest
    | tls.HandshakeMessage
    | tls.ClientHello
    | tls.ServerHello
    | tls.Alert
    | ApplicationData
)


def parse_encrypted_extensions(body: bytes) -> EncryptedExtensions:
    """EncryptedExtensions body (RFC 8446 section 4.3.1); raises ProtocolError."""
    r = ByteReader(body)
    block = r.sub(r.u16("EncryptedExtensions length"), "EncryptedExtensions")
    if not r.at_end():
        raise ProtocolError("bytes after the EncryptedExtensions list")
    extensions: list[tuple[int, bytes]] = []
    alpn: tuple[str, ...] = ()
    while not block.at_end():
        ext_type = block.u16("extension type")
        data = block.vector(2, f"extension {ext_type}")
        extensions.append((ext_type, data))
        if ext_type == tls.EXT_ALPN and not alpn:
            er = ByteReader(data)
            names = er.sub(er.u16("ALPN list length"), "ALPN list")
            if not er.at_end():
                raise ProtocolError("bytes after the ALPN list")
            found: list[str] = []
            while not names.at_end():
                name = names.vector(1, "ALPN protocol name")
                if not name:
                    raise ProtocolError("empty ALPN protocol name")
                found.append(name.decode("ascii", errors="backslashreplace"))
            alpn = tuple(found)
    return EncryptedExtensions(alpn, tuple(extensions))


class Tls13HandshakeReader:
    """Decrypted TLS 1.3 records -> handshake events, per side (sans-I/O).

    `receive_record(sender, content_type, version, fragment)` takes one protected record
    (e.g. the fields of a `tls.EncryptedRecord`) and returns the events it completes (a
    message spanning records comes out with the record that ends it). Raises
    `DecryptionFailed`, `SecretUnavailable` or `ProtocolError`; after one of them that side
    stays broken (every later call for it raises the same error), the other side goes on.
    """

    __slots__ = ("_broken", "_limits", "_reassemblers", "decryptor")

    def __init__(self, decryptor: Tls13HandshakeDecryptor,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        self.decryptor = decryptor
        self._limits = limits
        self._reassemblers = {
            "client": tls.HandshakeReassembler(limits),
            "server": tls.HandshakeReassembler(limits),
        }
        self._broken: dict[str, CaptureTlsError] = {}

    def receive_record(
        self, sender: Sender, content_type: int, version: int, fragment: bytes
    ) -> list[Tls13Event]:
        error = self._broken.get(sender)
        if error is not None:
            raise error
        try:
            return self._receive(sender, content_type, version, fragment)
        except CaptureTlsError as exc:
            self._broken[sender] = exc
            raise

    def _receive(
        self, sender: Sender, content_type: int, version: int, fragment: bytes
    ) -> list[Tls13Event]:
        header = record_header(content_type, version, len(fragment))
        inner_type, plaintext = self.decryptor.decrypt(sender, header, fragment)
        if inner_type == CONTENT_HANDSHAKE:
            if not plaintext:
                raise ProtocolError("empty handshake record")
            reassembler = self._reassemblers[sender]
            reassembler.receive_fragment(plaintext)
            events: list[Tls13Event] = []
            while True:
                message = reassembler.next_message()
                if isinstance(message, tls.NeedData):
                    return events
                msg_type, body = message
                if msg_type == HANDSHAKE_ENCRYPTED_EXTENSIONS:
                    events.append(parse_encrypted_extensions(body))
                else:
                    events.append(tls.parse_handshake_message(
                        msg_type, body, tls13=True, limits=self._limits))
        if inner_type == CONTENT_ALERT:
            if len(plaintext) != 2:
                raise ProtocolError(f"alert of {len(plaintext)} bytes in a TLS 1.3 record")
            return [tls.Alert(plaintext[0], plaintext[1])]
        if inner_type == CONTENT_APPLICATION_DATA:
            return [ApplicationData(plaintext)]
        raise ProtocolError(f"inner content type {inner_type} in a TLS 1.3 protected record")
