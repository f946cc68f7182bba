"""TLS 1.3 handshake decryption: RFC 8448 key schedule vector, the lab's real captures (every
suite, HelloRetryRequest, Go and Python clients, a rejected certificate, a client
certificate) against the certificates the server was given and against tshark, and in-memory
handshakes of Python's ssl for every suite OpenSSL offers."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from capture_tls.errors import CaptureTlsError, ProtocolError
from capture_tls.protocols import keylog, tls, tls13
from capture_tls.protocols.keylog import KeyLog
from capture_tls.reassembly.tcp import HalfStream
from capture_tls.sources.captures import open_capture
from capture_tls.sources.frames import decode_frame

TLS13_DIR = Path(__file__).resolve().parent.parent / "samples" / "tls13"
CERTS = TLS13_DIR / "certs"
FACTS = json.loads((TLS13_DIR / "tshark-facts.json").read_text())

SUITE_SAMPLES = {
    "aes128gcm.pcap": "TLS_AES_128_GCM_SHA256",
    "aes256gcm.pcap": "TLS_AES_256_GCM_SHA384",
    "chacha20.pcap": "TLS_CHACHA20_POLY1305_SHA256",
    "aes128ccm.pcap": "TLS_AES_128_CCM_SHA256",
    "aes128ccm8.pcap": "TLS_AES_128_CCM_8_SHA256",
}


def pem_sha256(name: str) -> str:
    cert = x509.load_pem_x509_certificate((CERTS / name).read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex()


SERVER_CHAIN = [pem_sha256("db-leaf.pem"), pem_sha256("ca-intermediate.pem")]
CLIENT_CHAIN = [pem_sha256("client-x509user.pem"), pem_sha256("ca-intermediate.pem")]


# ---- a small driver: capture -> per-connection TLS byte streams -> decrypted events --------


@dataclass
class Flow:
    client: tuple[bytes, int]
    c2s: bytearray = field(default_factory=bytearray)
    s2c: bytearray = field(default_factory=bytearray)


def mysql_tls_flows(path: Path) -> list[Flow]:
    """The TCP connections of a capture (client = SYN sender), each direction reassembled."""
    reader = open_capture(str(path))
    flows: dict[frozenset[tuple[bytes, int]], Flow] = {}
    streams: dict[tuple[bytes, int, bytes, int], HalfStream] = {}
    for _ts, link, frame, _wirelen in reader.frames():
        seg = decode_frame(link, frame)
        if seg is None or seg[3] != 6:
            continue
        _v, src, dst, _p, sport, dport, seq, _ack, flags, payload, _cut = seg
        key = frozenset({(src, sport), (dst, dport)})
        if flags & 0x12 == 0x02:
            flows[key] = Flow((src, sport))
        flow = flows.get(key)
        if flow is None:
            continue
        half = streams.setdefault((src, sport, dst, dport), HalfStream())
        if flags & 0x02:
            half.syn(seq)
        if payload:
            for chunk in half.add(seq, payload):
                assert isinstance(chunk, bytes), "the lab's captures have no gaps"
                (flow.c2s if (src, sport) == flow.client else flow.s2c).extend(chunk)
    return list(flows.values())


def skip_mysql_packet(data: bytes) -> bytes:
    """Drop the first MySQL packet (the greeting, or the SSLRequest)."""
    return data[4 + int.from_bytes(data[:3], "little"):]


@dataclass
class Decrypted:
    client_hellos: list[tls.ClientHello] = field(default_factory=list)
    server_hellos: list[tls.ServerHello] = field(default_factory=list)
    events: dict[str, list[object]] = field(default_factory=lambda: {"client": [],
                                                                      "server": []})
    plaintext_alerts: list[tuple[str, int]] = field(default_factory=list)
    errors: dict[str, CaptureTlsError] = field(default_factory=dict)
    not_tls: dict[str, int] = field(default_factory=dict)  # sender -> bytes after the TLS

    def of(self, sender: str, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events[sender] if isinstance(e, kind)]

    def chain(self, sender: str) -> list[str]:
        certs = self.of(sender, tls.Certificate)
        return [hashlib.sha256(d).hexdigest() for d in certs[0].certificates] if certs else []

    def handshake_types(self, sender: str) -> list[int]:
        types = []
        for e in self.events[sender]:
            if isinstance(e, tls13.EncryptedExtensions):
                types.append(8)
            elif isinstance(e, tls.Certificate):
                types.append(11)
            elif isinstance(e, tls.CertificateRequest):
                types.append(13)
            elif isinstance(e, tls.HandshakeMessage):
                types.append(e.msg_type)
        return types


def tls_records(data: bytes, sender: str, out: Decrypted) -> list[tls.EncryptedRecord]:
    stream = tls.TlsStream()
    stream.set_tls13()  # every sample here negotiates TLS 1.3
    stream.receive_data(data)
    records = []
    while True:
        try:
            ev = stream.next_event()
        except ProtocolError:
            out.not_tls[sender] = stream.buffered_bytes
            return records
        if isinstance(ev, tls.NeedData):
            return records
        if isinstance(ev, tls.EncryptedRecord):
            records.append(ev)
        elif isinstance(ev, tls.ClientHello):
            out.client_hellos.append(ev)
        elif isinstance(ev, tls.ServerHello):
            out.server_hellos.append(ev)
        elif isinstance(ev, tls.Alert):
            out.plaintext_alerts.append((sender, ev.description))


def decrypt_streams(c2s: bytes, s2c: bytes, log: KeyLog) -> Decrypted:
    """What connection.py does: ClientHello random -> secrets; final ServerHello -> suite;
    then every protected record of each side, in order, through one Tls13HandshakeReader."""
    out = Decrypted()
    client_records = tls_records(c2s, "client", out)
    server_records = tls_records(s2c, "server", out)
    final = [sh for sh in out.server_hellos if not sh.is_hello_retry_request][-1]
    secrets = log.secrets_for(out.client_hellos[0].random)
    try:
        decryptor = tls13.Tls13HandshakeDecryptor.from_keylog_secrets(final.cipher_suite,
                                                                      secrets)
    except CaptureTlsError as exc:
        out.errors["both"] = exc
        return out
    reader = tls13.Tls13HandshakeReader(decryptor)
    for sender, records in (("server", server_records), ("client", client_records)):
        for rec in records:
            try:
                out.events[sender] += reader.receive_record(
                    sender, rec.content_type, rec.version, rec.fragment)  # type: ignore[arg-type]
            except CaptureTlsError as exc:
                out.errors[sender] = exc
                break
    return out


def decrypt_capture(name: str, log: KeyLog | None = None) -> list[Decrypted]:
    path = TLS13_DIR / name
    if log is None:
        log = KeyLog.parse((TLS13_DIR / name).with_suffix(".keylog").read_bytes(), name)
    return [decrypt_streams(skip_mysql_packet(bytes(f.c2s)), skip_mysql_packet(bytes(f.s2c)),
                            log) for f in mysql_tls_flows(path)]


def tshark_connections(name: str) -> list[dict]:  # type: ignore[type-arg]
    return FACTS["files"][name]["connections"]  # type: ignore[no-any-return]


# ---- the key schedule ----------------------------------------------------------------------


def test_rfc8448_simple_1rtt_server_handshake_key_and_iv() -> None:
    """RFC 8448 section 3, {server} derive write traffic keys for handshake data."""
    secret = bytes.fromhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
    key, iv = tls13.traffic_key_and_iv(tls13.TLS13_SUITES[0x1301], secret)
    assert key.hex() == "3fce516009c21727d0f2e4e86ee403bc"
    assert iv.hex() == "5d313eb2671276ee13000b30"


def test_unknown_suite_and_wrong_secret_length_are_project_errors() -> None:
    with pytest.raises(tls13.DecryptionFailed):
        tls13.Tls13HandshakeDecryptor(0xC030, bytes(32), bytes(32))
    with pytest.raises(tls13.DecryptionFailed):
        tls13.Tls13HandshakeDecryptor(0x1302, bytes(32), bytes(32))  # SHA-384 wants 48


# ---- real captures -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SUITE_SAMPLES))
def test_every_suite_decrypts_to_the_chain_the_server_was_given(name: str) -> None:
    (conn,) = decrypt_capture(name)
    assert conn.errors == {}
    assert tls.cipher_suite_name(conn.server_hellos[-1].cipher_suite) == SUITE_SAMPLES[name]
    assert conn.chain("server") == SERVER_CHAIN
    (theirs,) = tshark_connections(name)
    assert conn.chain("server") == theirs["server_certificates"]
    assert int(theirs["cipher_suite"], 16) == conn.server_hellos[-1].cipher_suite
    # EncryptedExtensions, CertificateRequest (the server has --ssl-ca), Certificate,
    # CertificateVerify, Finished; then the client's Finished under its handshake key
    assert conn.handshake_types("server")[:5] == [8, 13, 11, 15, 20]
    assert conn.handshake_types("client") == [11, 20]  # empty Certificate, Finished
    assert conn.of("client", tls.Certificate)[0].certificates == ()
    assert conn.of("server", tls13.EncryptedExtensions)[0].alpn == ()
    # after each side's Finished the key changed to *_TRAFFIC_SECRET_0: the client's first
    # application record is the MySQL login (HandshakeResponse41 with the user name)
    login = conn.of("client", tls13.ApplicationData)[0].data
    assert b"tlsonly\0" in login
    assert conn.of("server", tls13.ApplicationData)  # the server's OK and result set


def test_hello_retry_request_does_not_derail_decryption() -> None:
    conns = decrypt_capture("hrr.pcap")
    assert len(conns) == 2  # PyMySQL, Go
    for conn, theirs in zip(conns, tshark_connections("hrr.pcap"), strict=True):
        assert [sh.is_hello_retry_request for sh in conn.server_hellos] == [True, False]
        assert theirs["server_hellos"] == 2
        # the second ClientHello keeps the random (RFC 8446 4.1.2): one key log lookup
        assert len(conn.client_hellos) == 2
        assert conn.client_hellos[0].random == conn.client_hellos[1].random
        assert conn.server_hellos[0].cipher_suite == conn.server_hellos[1].cipher_suite
        assert conn.errors == {}
        assert conn.chain("server") == SERVER_CHAIN == theirs["server_certificates"]


def test_go_client_and_its_encrypted_close_notify() -> None:
    (conn,) = decrypt_capture("go-client.pcap")
    assert conn.errors == {}
    assert conn.chain("server") == SERVER_CHAIN
    # Go sends close_notify under CLIENT_TRAFFIC_SECRET_0 when it closes; tshark agrees
    assert [(a.level, a.description) for a in conn.of("client", tls.Alert)] == [(1, 0)]
    assert tshark_connections("go-client.pcap")[0]["alerts"] == [
        {"sender": "client", "description": 0}]


def test_rejected_certificate_alerts() -> None:
    """Python (OpenSSL 3.0) rejects the name with a PLAINTEXT alert (it has not switched to
    its handshake key yet, and logs no CLIENT_HANDSHAKE_TRAFFIC_SECRET); Go sends it
    encrypted under its client handshake key. The server's flight decrypts in both."""
    py, go = decrypt_capture("reject-name.pcap")
    theirs = tshark_connections("reject-name.pcap")
    for conn, t in ((py, theirs[0]), (go, theirs[1])):
        assert conn.chain("server") == SERVER_CHAIN == t["server_certificates"]
        assert t["alerts"] == [{"sender": "client", "description": 42}]
    assert py.plaintext_alerts == [("client", 42)]
    assert py.of("client", tls.Alert) == []
    assert go.plaintext_alerts == []
    assert [(a.level, a.description) for a in go.of("client", tls.Alert)] == [(2, 42)]
    assert go.errors == {}
    # MariaDB answers a failed TLS handshake with a MySQL ERR packet IN CLEAR on the same
    # stream (1043 "#08S01Bad handshake"): not a TLS record
    for flow in mysql_tls_flows(TLS13_DIR / "reject-name.pcap"):
        assert bytes(flow.s2c).endswith(b"\x16\x00\x00\x02\xff\x13\x04#08S01Bad handshake")
    err_packet = 4 + 0x16
    assert py.not_tls == {"server": err_packet} and go.not_tls == {"server": err_packet}
    assert py.errors == {} and py.of("server", tls13.ApplicationData) == []


def test_client_certificate_is_decrypted() -> None:
    (conn,) = decrypt_capture("client-cert.pcap")
    assert conn.errors == {}
    assert conn.chain("client") == CLIENT_CHAIN
    (theirs,) = tshark_connections("client-cert.pcap")
    assert conn.chain("client") == theirs["client_certificates"]
    assert conn.handshake_types("client") == [11, 15, 20]  # Certificate, Verify, Finished


def test_wrong_secret_raises_decryption_failed() -> None:
    """The chacha20 capture's key log (a SHA-256 suite too) against the aes128gcm capture."""
    good = KeyLog.parse((TLS13_DIR / "aes128gcm.keylog").read_bytes())
    other = KeyLog.parse((TLS13_DIR / "chacha20.keylog").read_bytes())
    (random,) = good.client_randoms
    (other_random,) = other.client_randoms
    swapped = KeyLog.parse(other.to_text().replace(other_random.hex(), random.hex()))
    (conn,) = decrypt_capture("aes128gcm.pcap", swapped)
    assert isinstance(conn.errors["server"], tls13.DecryptionFailed)
    assert isinstance(conn.errors["client"], tls13.DecryptionFailed)
    assert conn.chain("server") == []


def test_one_flipped_bit_in_a_record_fails_and_the_side_stays_broken() -> None:
    log = KeyLog.parse((TLS13_DIR / "aes128gcm.keylog").read_bytes())
    (flow,) = mysql_tls_flows(TLS13_DIR / "aes128gcm.pcap")
    out = Decrypted()
    records = tls_records(skip_mysql_packet(bytes(flow.s2c)), "server", out)
    tls_records(skip_mysql_packet(bytes(flow.c2s)), "client", out)
    dec = tls13.Tls13HandshakeDecryptor.from_keylog_secrets(
        out.server_hellos[-1].cipher_suite, log.secrets_for(out.client_hellos[0].random))
    reader = tls13.Tls13HandshakeReader(dec)
    bad = bytearray(records[0].fragment)
    bad[3] ^= 0x01
    with pytest.raises(tls13.DecryptionFailed):
        reader.receive_record("server", 23, 0x0303, bytes(bad))
    with pytest.raises(tls13.DecryptionFailed):  # stays broken, even for the good record
        reader.receive_record("server", 23, 0x0303, records[0].fragment)


def test_key_log_without_this_client_random_gives_nothing() -> None:
    other = KeyLog.parse((TLS13_DIR / "chacha20.keylog").read_bytes())
    (conn,) = decrypt_capture("aes128gcm.pcap", other)
    assert isinstance(conn.errors["both"], tls13.SecretUnavailable)
    assert other.secrets_for(conn.client_hellos[0].random) == {}


def test_handshake_secrets_only_read_the_handshake() -> None:
    """Without *_TRAFFIC_SECRET_0: the handshake decrypts, the login raises
    SecretUnavailable (not DecryptionFailed)."""
    full = KeyLog.parse((TLS13_DIR / "aes256gcm.keylog").read_bytes())
    text = "".join(ln + "\n" for ln in full.to_text().splitlines()
                   if "HANDSHAKE_TRAFFIC_SECRET" in ln)
    (conn,) = decrypt_capture("aes256gcm.pcap", KeyLog.parse(text))
    assert conn.chain("server") == SERVER_CHAIN
    assert conn.handshake_types("client") == [11, 20]
    assert isinstance(conn.errors["client"], tls13.SecretUnavailable)
    assert isinstance(conn.errors["server"], tls13.SecretUnavailable)


def test_records_fed_in_tiny_pieces_give_the_same_events() -> None:
    (whole,) = decrypt_capture("client-cert.pcap")
    log = KeyLog.parse((TLS13_DIR / "client-cert.keylog").read_bytes())
    (flow,) = mysql_tls_flows(TLS13_DIR / "client-cert.pcap")
    out = Decrypted()
    stream = tls.TlsStream()
    stream.set_tls13()
    records = []
    for b in skip_mysql_packet(bytes(flow.s2c)):
        stream.receive_data(bytes((b,)))
        while not isinstance(ev := stream.next_event(), tls.NeedData):
            if isinstance(ev, tls.EncryptedRecord):
                records.append(ev)
            elif isinstance(ev, tls.ServerHello):
                out.server_hellos.append(ev)
    tls_records(skip_mysql_packet(bytes(flow.c2s)), "client", out)
    reader = tls13.Tls13HandshakeReader(tls13.Tls13HandshakeDecryptor.from_keylog_secrets(
        out.server_hellos[-1].cipher_suite, log.secrets_for(out.client_hellos[0].random)))
    events = [e for r in records for e in reader.receive_record("server", r.content_type,
                                                                r.version, r.fragment)]
    assert events == whole.events["server"]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("name", sorted(FACTS["files"]))
def test_committed_tshark_facts_match_a_fresh_tshark_run(name: str) -> None:
    sys.path.insert(0, str(TLS13_DIR.parent / "lab"))
    try:
        import record_tls13
    finally:
        sys.path.pop(0)
    fresh = record_tls13.tshark_facts(TLS13_DIR / name)
    assert fresh["connections"] == FACTS["files"][name]["connections"]


# ---- in memory: Python's ssl on both ends, every suite -------------------------------------

_MEMORY_HANDSHAKE = textwrap.dedent("""
    import datetime as dt, json, os, ssl, sys, tempfile
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    d = tempfile.mkdtemp()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mem.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("mem.test")]), False)
            .sign(key, hashes.SHA256()))
    open(d + "/c.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
    open(d + "/k.pem", "wb").write(key.private_bytes(serialization.Encoding.PEM,
         serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(d + "/c.pem", d + "/k.pem")
    sctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if sys.argv[1] == "hrr":
        sctx.set_ecdh_curve("prime256v1")  # the client's first key share is X25519
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(d + "/c.pem")
    cctx.keylog_filename = d + "/keylog"
    cin, cout, sin, sout = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    c = cctx.wrap_bio(cin, cout, server_hostname="mem.test")
    s = sctx.wrap_bio(sin, sout, server_side=True)
    c2s, s2c = bytearray(), bytearray()
    for _ in range(10):
        for end in (c, s):
            try:
                end.do_handshake()
            except ssl.SSLWantReadError:
                pass
        a = cout.read(); c2s += a; sin.write(a)
        b = sout.read(); s2c += b; cin.write(b)
    c.write(b"client says hi"); c2s += cout.read()
    s.write(b"server says hi"); s2c += sout.read()
    print(json.dumps({"c2s": c2s.hex(), "s2c": s2c.hex(), "keylog": open(d + "/keylog").read(),
                      "cipher": c.cipher()[0],
                      "cert": cert.fingerprint(hashes.SHA256()).hex()}))
""")

MEMORY_SUITES = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                 "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
                 "TLS_AES_128_CCM_8_SHA256"]


def memory_handshake(tmp_path: Path, suite: str, mode: str = "plain") -> dict[str, str]:
    """Python's ssl on both ends over MemoryBIOs in a subprocess whose OPENSSL_CONF allows only
    `suite` (Python's ssl has no set_ciphersuites)."""
    conf = tmp_path / "openssl.cnf"
    conf.write_text("openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\n"
                    "system_default = sd\n[sd]\nCiphersuites = " + suite + "\n")
    proc = subprocess.run([sys.executable, "-c", _MEMORY_HANDSHAKE, mode], capture_output=True,
                          check=True, timeout=60, env={"OPENSSL_CONF": str(conf),
                                                       "PATH": "/usr/bin:/bin"})
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("suite", MEMORY_SUITES)
@pytest.mark.parametrize("mode", ["plain", "hrr"])
def test_in_memory_python_ssl_every_suite(tmp_path: Path, suite: str, mode: str) -> None:
    run = memory_handshake(tmp_path, suite, mode)
    assert run["cipher"] == suite
    conn = decrypt_streams(bytes.fromhex(run["c2s"]), bytes.fromhex(run["s2c"]),
                           KeyLog.parse(run["keylog"], "memory"))
    assert conn.errors == {}
    assert tls.cipher_suite_name(conn.server_hellos[-1].cipher_suite) == suite
    assert [sh.is_hello_retry_request for sh in conn.server_hellos] == (
        [True, False] if mode == "hrr" else [False])
    assert conn.chain("server") == [run["cert"]]
    assert [a.data for a in conn.of("client", tls13.ApplicationData)] == [b"client says hi"]
    assert [a.data for a in conn.of("server", tls13.ApplicationData)] == [b"server says hi"]
    assert conn.handshake_types("client") == [20]
    assert conn.handshake_types("server")[:4] == [8, 11, 15, 20]


def test_secrets_of_the_keylog_module_feed_the_decryptor() -> None:
    """from_keylog_secrets needs one handshake secret; the labels are keylog's."""
    with pytest.raises(tls13.SecretUnavailable):
        tls13.Tls13HandshakeDecryptor.from_keylog_secrets(0x1301, {
            keylog.CLIENT_TRAFFIC_SECRET_0: bytes(32)})
    dec = tls13.Tls13HandshakeDecryptor.from_keylog_secrets(0x1301, {
        keylog.SERVER_HANDSHAKE_TRAFFIC_SECRET: bytes(32)})
    assert dec.can_decrypt("server") and not dec.can_decrypt("client")
    with pytest.raises(tls13.SecretUnavailable):
        dec.decrypt("client", tls13.record_header(23, 0x0303, 20), bytes(20))
