"""TlsStream and the TLS parsers on real TLS bytes from Python's ssl module (OpenSSL).

Each handshake runs in-process over ssl.MemoryBIO pairs; the bytes each side wrote are the
input. Expected values come from the handshake's own ends (SSLObject.cipher(), .version(),
what the client was told to send, the chain the server was given), or from OpenSSL's
`openssl ciphers -stdname` table, never from the parser under test.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture_tls.errors import ProtocolError
from capture_tls.limits import Limits
from capture_tls.protocols.tls import (
    NEED_DATA,
    Alert,
    Certificate,
    CertificateRequest,
    ChangeCipherSpec,
    ClientHello,
    EncryptedRecord,
    HandshakeMessage,
    HandshakeReassembler,
    NeedData,
    ServerHello,
    TlsEvent,
    TlsStream,
    alert_description_name,
    cipher_suite_name,
    parse_certificate,
    parse_certificate_request,
    starts_like_tls_record,
    version_name,
)

# --- certificates ------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_pem: bytes
    chain_ders: tuple[bytes, ...]  # leaf, intermediate
    chain_file: Path  # leaf + intermediate PEM
    key_file: Path
    client_chain_ders: tuple[bytes, ...]
    client_chain_file: Path
    client_key_file: Path
    other_ca_pem: bytes  # a CA that signed nothing here


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    sans: Iterable[x509.GeneralName] = (),
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    sans = list(sans)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(6)]
    root_key, inter_key, leaf_key, client_key, other_key, _ = keys
    root = _cert("Test Root CA", root_key, "Test Root CA", root_key, ca=True)
    inter = _cert("Test Intermediate CA", inter_key, "Test Root CA", root_key, ca=True)
    leaf = _cert(
        "db.example.test",
        leaf_key,
        "Test Intermediate CA",
        inter_key,
        ca=False,
        sans=[x509.DNSName("db.example.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client = _cert("app-client", client_key, "Test Intermediate CA", inter_key, ca=False)
    other = _cert("Other CA", other_key, "Other CA", other_key, ca=True)
    (d / "chain.pem").write_bytes(_pem(leaf) + _pem(inter))
    (d / "key.pem").write_bytes(_key_pem(leaf_key))
    (d / "client.pem").write_bytes(_pem(client) + _pem(inter))
    (d / "client-key.pem").write_bytes(_key_pem(client_key))
    return Pki(
        ca_pem=_pem(root),
        chain_ders=(_der(leaf), _der(inter)),
        chain_file=d / "chain.pem",
        key_file=d / "key.pem",
        client_chain_ders=(_der(client), _der(inter)),
        client_chain_file=d / "client.pem",
        client_key_file=d / "client-key.pem",
        other_ca_pem=_pem(other),
    )


# --- in-memory handshakes ------------------------------------------------------------------


@dataclass
class Handshake:
    client_bytes: bytes  # everything the client wrote, in order
    server_bytes: bytes
    client: ssl.SSLObject
    server: ssl.SSLObject
    client_error: ssl.SSLError | None = None


def run_handshake(
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
    server_hostname: str | None,
    *,
    exchange_data: bool = True,
) -> Handshake:
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    to_server = bytearray()
    to_client = bytearray()

    def pump() -> None:
        data = c_out.read()
        to_server.extend(data)
        s_in.write(data)
        data = s_out.read()
        to_client.extend(data)
        c_in.write(data)

    def step(obj: ssl.SSLObject, action: Callable[[], object]) -> bool:
        try:
            action()
        except ssl.SSLWantReadError:
            return False
        return True

    client_done = server_done = False
    client_error: ssl.SSLError | None = None
    for _ in range(20):
        if not client_done:
            try:
                client_done = step(client, client.do_handshake)
            except ssl.SSLError as exc:
                client_error = exc
                pump()
                break
        if not server_done:
            server_done = step(server, server.do_handshake)
        pump()
        if client_done and server_done:
            break
    if client_error is None and exchange_data:
        client.write(b"SELECT 1")
        pump()
        assert server.read(100) == b"SELECT 1"
        server.write(b"1")
        pump()
        assert client.read(100) == b"1"
        pump()
    return Handshake(bytes(to_server), bytes(to_client), client, server, client_error)


def _server_ctx(pki: Pki, version: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ctx.maximum_version = version
    ctx.load_cert_chain(pki.chain_file, pki.key_file)
    ctx.set_alpn_protocols(["mysql", "h2"])
    return ctx


def _client_ctx(pki: Pki, version: ssl.TLSVersion, ca: bytes | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = version
    ctx.load_verify_locations(cadata=(ca or pki.ca_pem).decode())
    ctx.set_alpn_protocols(["mysql", "http/1.1"])
    return ctx


@pytest.fixture(scope="module")
def tls12(pki: Pki) -> Handshake:
    return run_handshake(
        _server_ctx(pki, ssl.TLSVersion.TLSv1_2),
        _client_ctx(pki, ssl.TLSVersion.TLSv1_2),
        "db.example.test",
    )


@pytest.fixture(scope="module")
def tls13(pki: Pki) -> Handshake:
    return run_handshake(
        _server_ctx(pki, ssl.TLSVersion.TLSv1_3),
        _client_ctx(pki, ssl.TLSVersion.TLSv1_3),
        "db.example.test",
    )


# --- driving the parser ----------------------------------------------------------------------


def drain(stream: TlsStream) -> list[TlsEvent]:
    events: list[TlsEvent] = []
    while True:
        event = stream.next_event()
        if isinstance(event, NeedData):
            return events
        events.append(event)
        if isinstance(event, ServerHello) and event.selected_version == 0x0304:
            stream.set_tls13()


def events_of(chunks: Iterable[bytes], *, tls13: bool = False) -> list[TlsEvent]:
    """Feed the chunks one by one, draining after each (as the reassembly layer will)."""
    stream = TlsStream()
    if tls13:
        stream.set_tls13()
    events: list[TlsEvent] = []
    for chunk in chunks:
        stream.receive_data(chunk)
        events += drain(stream)
    assert stream.buffered_bytes == 0
    return events


def byte_by_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def kinds(events: list[TlsEvent]) -> list[str]:
    out = []
    for e in events:
        if isinstance(e, HandshakeMessage):
            out.append(f"HS{e.msg_type}")
        elif isinstance(e, EncryptedRecord):
            out.append(f"ENC{e.content_type}")
        else:
            out.append(type(e).__name__)
    return out


def _openssl_suite_id(obj: ssl.SSLObject, ctx_names: Iterable[Mapping[str, object]]) -> int:
    cipher = obj.cipher()
    assert cipher is not None
    (match,) = [c for c in ctx_names if c["name"] == cipher[0]]
    suite_id = match["id"]
    assert isinstance(suite_id, int)
    return suite_id & 0xFFFF


# --- TLS 1.2 -------------------------------------------------------------------------------


def test_tls12_client_events(tls12: Handshake) -> None:
    events = events_of([tls12.client_bytes])
    assert kinds(events) == ["ClientHello", "HS16", "ChangeCipherSpec", "ENC22", "ENC23"]
    assert events[2] == ChangeCipherSpec()
    hello = events[0]
    assert isinstance(hello, ClientHello)
    assert hello.sni == "db.example.test"
    assert hello.alpn == ("mysql", "http/1.1")
    assert len(hello.random) == 32
    assert hello.random == tls12.client_bytes[11:43]  # record(5) + hs header(4) + version(2)
    # The client offered its context's suites (GREASE-free OpenSSL): every TLS 1.2 one of
    # them is in the hello.
    ctx_ids = {c["id"] & 0xFFFF for c in ssl.create_default_context().get_ciphers()}
    assert ctx_ids & set(hello.cipher_suites)
    assert 0 in {t for t, _ in hello.extensions}  # server_name kept raw
    # The encrypted application data record holds the 8 bytes "SELECT 1" plus AEAD overhead.
    last = events[-1]
    assert isinstance(last, EncryptedRecord) and last.version == 0x0303
    assert len(last.fragment) > len(b"SELECT 1")


def test_tls12_server_events(tls12: Handshake, pki: Pki) -> None:
    events = events_of([tls12.server_bytes])
    assert kinds(events) == [
        "ServerHello",
        "Certificate",
        "HS12",  # ServerKeyExchange
        "HS14",  # ServerHelloDone
        "HS4",  # NewSessionTicket
        "ChangeCipherSpec",
        "ENC22",  # Finished
        "ENC23",
    ]
    hello = events[0]
    assert isinstance(hello, ServerHello)
    assert version_name(hello.selected_version) == "TLS 1.2" == _ssl_version(tls12.client)
    assert not hello.is_hello_retry_request
    suite = _openssl_suite_id(tls12.client, ssl.create_default_context().get_ciphers())
    assert hello.cipher_suite == suite
    cert = events[1]
    assert isinstance(cert, Certificate)
    assert cert.certificates == pki.chain_ders
    assert not cert.declared_count_exceeded
    assert tls12.client.selected_alpn_protocol() == "mysql"


def _ssl_version(obj: ssl.SSLObject) -> str:
    v = obj.version()
    assert v is not None
    return v.replace("TLSv", "TLS ")


def test_tls12_cipher_name_matches_openssl_standard_name(tls12: Handshake) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not installed")
    hello = events_of([tls12.server_bytes])[0]
    assert isinstance(hello, ServerHello)
    table = _openssl_stdnames(openssl)
    assert cipher_suite_name(hello.cipher_suite) == table[hello.cipher_suite]


def _openssl_stdnames(openssl: str) -> dict[int, str]:
    out = subprocess.run(
        [openssl, "ciphers", "-V", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    table: dict[int, str] = {}
    for line in out.splitlines():
        code, _, std_name = line.split()[:3]
        hi, lo = code.split(",")
        table[(int(hi, 16) << 8) | int(lo, 16)] = std_name
    return table


def test_every_openssl_cipher_suite_has_its_iana_name() -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not installed")
    table = _openssl_stdnames(openssl)
    assert len(table) > 100
    for suite, std_name in table.items():
        assert cipher_suite_name(suite) == std_name, hex(suite)


def test_tls12_forced_suites_have_registry_names(pki: Pki) -> None:
    # Expected strings from the IANA registry (RFC 5289, RFC 7905), typed by hand.
    for openssl_name, iana in [
        ("ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
        ("ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
        ("ECDHE-ECDSA-AES256-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"),
    ]:
        server = _server_ctx(pki, ssl.TLSVersion.TLSv1_2)
        server.set_ciphers(openssl_name)
        hs = run_handshake(server, _client_ctx(pki, ssl.TLSVersion.TLSv1_2), "db.example.test")
        cipher = hs.client.cipher()
        assert cipher is not None and cipher[0] == openssl_name
        hello = events_of([hs.server_bytes])[0]
        assert isinstance(hello, ServerHello)
        assert cipher_suite_name(hello.cipher_suite) == iana


def test_tls12_client_certificate_and_request(pki: Pki) -> None:
    server = _server_ctx(pki, ssl.TLSVersion.TLSv1_2)
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(cadata=pki.ca_pem.decode())
    client = _client_ctx(pki, ssl.TLSVersion.TLSv1_2)
    client.load_cert_chain(pki.client_chain_file, pki.client_key_file)
    hs = run_handshake(server, client, "db.example.test")
    server_events = events_of([hs.server_bytes])
    requests = [e for e in server_events if isinstance(e, CertificateRequest)]
    assert len(requests) == 1
    # RFC 5246 7.4.4 ClientCertificateType: rsa_sign(1), ecdsa_sign(64); OpenSSL asks for both.
    assert {1, 64} <= set(requests[0].certificate_types)
    client_events = events_of([hs.client_bytes])
    assert kinds(client_events)[:3] == ["ClientHello", "Certificate", "HS16"]
    cert = client_events[1]
    assert isinstance(cert, Certificate)
    assert cert.certificates == pki.client_chain_ders
    assert "HS15" in kinds(client_events)  # CertificateVerify


def test_tls12_plaintext_alert_on_untrusted_certificate(pki: Pki) -> None:
    hs = run_handshake(
        _server_ctx(pki, ssl.TLSVersion.TLSv1_2),
        _client_ctx(pki, ssl.TLSVersion.TLSv1_2, ca=pki.other_ca_pem),
        "db.example.test",
    )
    assert isinstance(hs.client_error, ssl.SSLCertVerificationError)
    events = events_of([hs.client_bytes])
    assert kinds(events) == ["ClientHello", "Alert"]
    alert = events[1]
    assert isinstance(alert, Alert)
    assert alert.level == 2
    assert alert_description_name(alert.description) == "unknown_ca"


def test_tls12_alert_for_wrong_host_name(pki: Pki) -> None:
    hs = run_handshake(
        _server_ctx(pki, ssl.TLSVersion.TLSv1_2),
        _client_ctx(pki, ssl.TLSVersion.TLSv1_2),
        "other.example.test",
    )
    assert isinstance(hs.client_error, ssl.SSLCertVerificationError)
    events = events_of([hs.client_bytes])
    hello = events[0]
    assert isinstance(hello, ClientHello) and hello.sni == "other.example.test"
    alert = events[-1]
    assert isinstance(alert, Alert)
    assert (alert.level, alert_description_name(alert.description)) == (2, "bad_certificate")


def test_no_sni_for_ip_literal_from_python(pki: Pki) -> None:
    hs = run_handshake(
        _server_ctx(pki, ssl.TLSVersion.TLSv1_2),
        _client_ctx(pki, ssl.TLSVersion.TLSv1_2),
        "127.0.0.1",
    )
    assert hs.client_error is None
    hello = events_of([hs.client_bytes])[0]
    assert isinstance(hello, ClientHello)
    assert hello.sni is None
    assert 0 not in {t for t, _ in hello.extensions}


# --- TLS 1.3 -------------------------------------------------------------------------------


def test_tls13_events(tls13: Handshake) -> None:
    client_events = events_of([tls13.client_bytes])
    server_events = events_of([tls13.server_bytes])
    hello = client_events[0]
    assert isinstance(hello, ClientHello)
    assert hello.sni == "db.example.test"
    assert hello.alpn == ("mysql", "http/1.1")
    assert hello.supported_versions[0] == 0x0304
    sh = server_events[0]
    assert isinstance(sh, ServerHello)
    assert sh.legacy_version == 0x0303
    assert version_name(sh.selected_version) == "TLS 1.3" == _ssl_version(tls13.client)
    cipher = tls13.client.cipher()
    assert cipher is not None and cipher_suite_name(sh.cipher_suite) == cipher[0]
    assert not sh.is_hello_retry_request
    # After the ServerHello (and the compatibility CCS) everything is opaque type 23.
    assert kinds(server_events)[1] == "ChangeCipherSpec"
    assert set(kinds(server_events)[2:]) == {"ENC23"}
    assert not any(isinstance(e, Certificate) for e in server_events)
    assert kinds(client_events)[1] == "ChangeCipherSpec"
    assert set(kinds(client_events)[2:]) == {"ENC23"}


def test_tls13_hello_retry_request(pki: Pki) -> None:
    server = _server_ctx(pki, ssl.TLSVersion.TLSv1_3)
    # OpenSSL's client sends an X25519 key share only; a server that accepts only P-384
    # must ask again (RFC 8446 4.1.4).
    server.set_ecdh_curve("secp384r1")
    hs = run_handshake(server, _client_ctx(pki, ssl.TLSVersion.TLSv1_3), "db.example.test")
    assert hs.client_error is None
    server_events = events_of([hs.server_bytes])
    hrr, real = [e for e in server_events if isinstance(e, ServerHello)]
    assert hrr.is_hello_retry_request and not real.is_hello_retry_request
    assert hrr.selected_version == real.selected_version == 0x0304
    # The driver calls set_tls13() on the client direction once the server's HRR chose 1.3,
    # before the client's compatibility CCS and second ClientHello arrive.
    client_events = events_of([hs.client_bytes], tls13=True)
    assert kinds(client_events)[:3] == ["ClientHello", "ChangeCipherSpec", "ClientHello"]
    client_hellos = [e for e in client_events if isinstance(e, ClientHello)]
    assert len(client_hellos) == 2
    assert client_hellos[0].random == client_hellos[1].random  # RFC 8446 4.1.2


def test_tls13_certificate_form(pki: Pki) -> None:
    """The TLS 1.3 Certificate is only visible after decryption: the form that a decryption
    layer feeds in, built by hand per RFC 8446 4.4.2 from the real chain."""
    context = b"\x07ctx"  # opaque certificate_request_context<0..255>
    entries = b""
    for i, der in enumerate(pki.chain_ders):
        ext = b"\x00\x05\x00\x02ab" if i == 0 else b""  # a status_request entry extension
        entries += len(der).to_bytes(3, "big") + der + len(ext).to_bytes(2, "big") + ext
    body = bytes([len(context)]) + context + len(entries).to_bytes(3, "big") + entries
    assert parse_certificate(body, tls13=True) == Certificate(pki.chain_ders, False)
    with pytest.raises(ProtocolError):
        parse_certificate(body, tls13=False)
    # Fed through the reassembler in pieces, as decrypted records would arrive.
    message = b"\x0b" + len(body).to_bytes(3, "big") + body
    reassembler = HandshakeReassembler()
    for i in range(0, len(message), 100):
        assert reassembler.next_message() is NEED_DATA
        reassembler.receive_fragment(message[i : i + 100])
    assert reassembler.next_message() == (11, body)
    assert reassembler.next_message() is NEED_DATA
    # TLS 1.3 CertificateRequest: context, extensions; no certificate types.
    assert parse_certificate_request(b"\x00\x00\x04\x00\x0d\x00\x00", tls13=True) == (
        CertificateRequest(())
    )


# --- segmentation invariance (hypothesis) -----------------------------------------------------


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in [*points, len(data)]:
        out.append(data[last:p])
        last = p
    return out


@pytest.mark.parametrize("which", ["tls12", "tls13"])
@pytest.mark.parametrize("side", ["client_bytes", "server_bytes"])
def test_whole_and_byte_by_byte_give_same_events(
    which: str, side: str, request: pytest.FixtureRequest
) -> None:
    data = getattr(request.getfixturevalue(which), side)
    whole = events_of([data])
    assert whole
    assert events_of(byte_by_byte(data)) == whole


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=40))
def test_random_chunkings_give_same_events(
    tls12: Handshake, tls13: Handshake, cuts: list[int]
) -> None:
    for hs in (tls12, tls13):
        for data in (hs.client_bytes, hs.server_bytes):
            assert events_of(_chunked(data, cuts)) == events_of([data])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(min_value=0, max_value=1 << 16),
    tail=st.binary(max_size=300),
    which=st.integers(0, 3),
)
def test_valid_prefix_random_tail(
    tls12: Handshake, tls13: Handshake, cut: int, tail: bytes, which: int
) -> None:
    data = [tls12.client_bytes, tls12.server_bytes, tls13.client_bytes, tls13.server_bytes][which]
    data = data[: cut % (len(data) + 1)] + tail
    stream = TlsStream(Limits(max_handshake_message_bytes=4096, max_certificates_per_chain=3))
    try:
        stream.receive_data(data)
        drain(stream)
    except ProtocolError:
        # The error is sticky.
        with pytest.raises(ProtocolError):
            stream.next_event()
        with pytest.raises(ProtocolError):
            stream.receive_data(b"\x16\x03\x03")


# --- limits and malformed framing ----------------------------------------------------------------


def test_record_over_bound_is_refused_at_its_header() -> None:
    stream = TlsStream()
    stream.receive_data(b"\x17\x03\x03" + (2**14 + 2049).to_bytes(2, "big"))
    with pytest.raises(ProtocolError, match="record declares"):
        stream.next_event()
    # A record at the bound is fine (and kept only to 2^14+256 bytes).
    stream = TlsStream()
    stream.receive_data(b"\x17\x03\x03" + (2**14 + 2048).to_bytes(2, "big") + bytes(2**14 + 2048))
    event = stream.next_event()
    assert isinstance(event, EncryptedRecord) and len(event.fragment) == 2**14 + 256


def test_record_of_65535_bytes_refused_without_buffering() -> None:
    stream = TlsStream()
    stream.receive_data(b"\x16\x03\x01\xff\xff")
    with pytest.raises(ProtocolError):
        stream.next_event()


def test_handshake_message_of_2_24_minus_1_refused_at_its_header() -> None:
    stream = TlsStream()
    # One record holding only the 4-byte header of a Certificate of 2^24-1 bytes.
    stream.receive_data(b"\x16\x03\x03\x00\x04\x0b\xff\xff\xff")
    with pytest.raises(ProtocolError, match="handshake message type 11 declares 16777215"):
        stream.next_event()
    with pytest.raises(ProtocolError):
        stream.next_event()


def test_ten_thousand_certificates_are_capped() -> None:
    fake = [b"cert%05d" % i for i in range(10_000)]
    entries = b"".join(len(c).to_bytes(3, "big") + c for c in fake)
    body = len(entries).to_bytes(3, "big") + entries
    message = b"\x0b" + len(body).to_bytes(3, "big") + body
    records = b"".join(
        b"\x16\x03\x03" + len(message[i : i + 2**14]).to_bytes(2, "big") + message[i : i + 2**14]
        for i in range(0, len(message), 2**14)
    )
    assert len(records) > 5 * 2**14 // 2  # several records
    (event,) = events_of([records])
    assert isinstance(event, Certificate)
    assert event.declared_count_exceeded
    assert event.certificates == tuple(fake[:100])
    small = parse_certificate(body, limits=Limits(max_certificates_per_chain=10_000))
    assert small.certificates == tuple(fake) and not small.declared_count_exceeded


def test_several_messages_in_one_record_and_alerts() -> None:
    done = b"\x0e\x00\x00\x00"  # ServerHelloDone
    hello_request = b"\x00\x00\x00\x00"
    data = b"\x16\x03\x03\x00\x08" + done + hello_request + b"\x15\x03\x03\x00\x04\x01\x00\x02\x28"
    assert events_of([data]) == [
        HandshakeMessage(14, 0),
        HandshakeMessage(0, 0),
        Alert(1, 0),
        Alert(2, 40),
    ]
    assert alert_description_name(40) == "handshake_failure"


def test_sslv2_hello_and_garbage_are_protocol_errors() -> None:
    # An SSLv2-compatible ClientHello header (RFC 5246 appendix E.2).
    stream = TlsStream()
    stream.receive_data(b"\x80\x2e\x01\x03\x01\x00\x15")
    with pytest.raises(ProtocolError, match="SSLv2"):
        stream.next_event()
    stream = TlsStream()
    stream.receive_data(b"GET / HTTP/1.1\r\n")
    with pytest.raises(ProtocolError):
        stream.next_event()
    assert not starts_like_tls_record(b"GET / HTTP/1.1\r\n")
    assert not starts_like_tls_record(b"\x80\x2e\x01\x03\x01")


def test_ccs_in_the_middle_of_a_handshake_message_is_an_error() -> None:
    stream = TlsStream()
    stream.receive_data(b"\x16\x03\x03\x00\x02\x0e\x00" + b"\x14\x03\x03\x00\x01\x01")
    with pytest.raises(ProtocolError, match="middle"):
        stream.next_event()


def test_sni_validation() -> None:
    def hello_with_sni(name: bytes) -> bytes:
        entry = b"\x00" + len(name).to_bytes(2, "big") + name
        ext_data = len(entry).to_bytes(2, "big") + entry
        ext = b"\x00\x00" + len(ext_data).to_bytes(2, "big") + ext_data
        body = (
            b"\x03\x03"
            + bytes(32)
            + b"\x00"
            + b"\x00\x02\x13\x01"
            + b"\x01\x00"
            + len(ext).to_bytes(2, "big")
            + ext
        )
        return (
            b"\x16\x03\x01"
            + (len(body) + 4).to_bytes(2, "big")
            + b"\x01"
            + len(body).to_bytes(3, "big")
            + body
        )

    def sni(name: bytes) -> str | None:
        (event,) = events_of([hello_with_sni(name)])
        assert isinstance(event, ClientHello)
        return event.sni

    assert sni(b"db.example.test") == "db.example.test"
    assert sni(b"my_db") == "my_db"
    assert sni(b"10.0.0.1") == "10.0.0.1"
    for bad in [
        b"db.example.test.",
        b"-db.example",
        b"db..example",
        b"d\xc3\xbc.example",
        b"::1",
        b"a" * 64 + b".example",
        b"db example",
        b"db.example\x00",
    ]:
        assert sni(bad) is None, bad


def test_names() -> None:
    assert version_name(0x0301) == "TLS 1.0"
    assert version_name(0x0300) == "SSL 3.0"
    assert version_name(0x7F1C) == "0x7f1c"
    assert cipher_suite_name(0x1301) == "TLS_AES_128_GCM_SHA256"
    assert cipher_suite_name(0x0A0A) == "0x0a0a"
    assert alert_description_name(42) == "bad_certificate"
    assert alert_description_name(116) == "certificate_required"
    assert alert_description_name(120) == "no_application_protocol"
    assert alert_description_name(255) == "unknown_alert_255"


def test_many_small_records_are_linear() -> None:
    record = b"\x17\x03\x03\x00\x20" + bytes(32)
    data = record * 200_000  # 7.4 MB given at once
    start = time.perf_counter()
    stream = TlsStream()
    stream.receive_data(data)
    count = 0
    while not isinstance(stream.next_event(), NeedData):
        count += 1
    assert count == 200_000
    # And in TCP-sized chunks.
    stream = TlsStream()
    part = data[: 50_000 * len(record)]
    for i in range(0, len(part), 1448):
        stream.receive_data(part[i : i + 1448])
        while not isinstance(stream.next_event(), NeedData):
            pass
    assert stream.buffered_bytes == 0
    assert time.perf_counter() - start < 10


def _handshake_payload_and_rest(data: bytes) -> tuple[bytes, bytes]:
    """The bodies of the leading plaintext handshake records joined, and the bytes after them."""
    payload = b""
    pos = 0
    while data[pos] == 22:
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        payload += data[pos + 5 : pos + 5 + length]
        pos += 5 + length
    return payload, data[pos:]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sizes=st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=30))
def test_handshake_messages_spanning_records(tls12: Handshake, sizes: list[int]) -> None:
    """Re-frame the server's real handshake messages into records of arbitrary sizes (a
    4-byte message header split across records included): the same events."""
    payload, rest = _handshake_payload_and_rest(tls12.server_bytes)
    records = b""
    pos = 0
    i = 0
    while pos < len(payload):
        size = sizes[i % len(sizes)]
        chunk = payload[pos : pos + size]
        records += b"\x16\x03\x03" + len(chunk).to_bytes(2, "big") + chunk
        pos += size
        i += 1
    assert events_of([records + rest]) == events_of([tls12.server_bytes])
