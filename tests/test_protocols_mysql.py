"""MySQL connection-phase parsing on real bytes: a real MariaDB server (started here in a temp
datadir) and a real client (PyMySQL), recorded by a small TCP relay on loopback.

Expected values come from the other end of each conversation: PyMySQL's own greeting parser
(conn.server_version, server_thread_id, ...), what PyMySQL was asked to send, the certificate
files MariaDB was given, and the MySQL protocol documentation for the hand-built packets.
"""

from __future__ import annotations

import datetime
import ipaddress
import select
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from capture_tls.errors import ProtocolError
from capture_tls.limits import Limits
from capture_tls.protocols.mysql import (
    CLIENT_CONNECT_WITH_DB,
    CLIENT_MYSQL,
    CLIENT_PLUGIN_AUTH,
    CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
    CLIENT_PROTOCOL_41,
    CLIENT_SECURE_CONNECTION,
    CLIENT_SSL,
    NEED_DATA,
    ErrPacket,
    HandshakeResponse41,
    MysqlPacket,
    MysqlPacketReader,
    NeedData,
    SslRequest,
    parse_client_first_packet,
    parse_err_packet,
    parse_server_greeting,
    starts_like_mysql_greeting,
)
from capture_tls.protocols.tls import Certificate, ClientHello, ServerHello, TlsStream

# --- helpers -------------------------------------------------------------------------------


def packets_of(chunks: list[bytes], limits: Limits | None = None) -> list[MysqlPacket]:
    reader = MysqlPacketReader(limits) if limits else MysqlPacketReader()
    out: list[MysqlPacket] = []
    for chunk in chunks:
        reader.receive_data(chunk)
        while not isinstance(event := reader.next_event(), NeedData):
            out.append(event)
    return out


def first_packet(data: bytes) -> MysqlPacket:
    reader = MysqlPacketReader()
    reader.receive_data(data)
    event = reader.next_event()
    assert isinstance(event, MysqlPacket)
    return event


def packet(seq: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


# --- a real MariaDB server and a recording relay -----------------------------------------


@dataclass(frozen=True)
class Server:
    port: int
    socket_path: Path
    chain_ders: tuple[bytes, ...]
    ca_pem: bytes
    version: str  # as `mariadbd --version` prints it


def _cert(
    cn: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    ca: bool,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        b = b.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return b.sign(issuer_key, hashes.SHA256())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    mariadbd = shutil.which("mariadbd") or shutil.which(
        "mariadbd", path="/usr/sbin:/usr/local/sbin"
    )
    install_db = shutil.which("mariadb-install-db")
    if mariadbd is None or install_db is None:
        pytest.skip("mariadb-server is not installed")
    d = tmp_path_factory.mktemp("mariadb")
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MariaDB Test CA")])
    ca = _cert("MariaDB Test CA", ca_key, ca_name, ca_key, ca=True)
    leaf = _cert("localhost", leaf_key, ca_name, ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (d / "ca.pem").write_bytes(ca.public_bytes(pem))
    (d / "cert.pem").write_bytes(leaf.public_bytes(pem))
    (d / "key.pem").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    subprocess.run(
        [
            install_db,
            "--no-defaults",
            f"--datadir={d / 'data'}",
            "--auth-root-authentication-method=normal",
            "--user=root",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    sock_path = d / "mysqld.sock"
    proc = subprocess.Popen(
        [
            mariadbd,
            "--no-defaults",
            f"--datadir={d / 'data'}",
            f"--socket={sock_path}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--user=root",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=8M",
            f"--ssl-ca={d / 'ca.pem'}",
            f"--ssl-cert={d / 'cert.pem'}",
            f"--ssl-key={d / 'key.pem'}",
            f"--log-error={d / 'error.log'}",
            f"--pid-file={d / 'mysqld.pid'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = pymysql.connect(unix_socket=str(sock_path), user="root", password="")
                break
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE appdb")
            cur.execute("CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'secret'")
            cur.execute("GRANT ALL ON appdb.* TO 'app'@'127.0.0.1'")
        conn.close()
        version = subprocess.run([mariadbd, "--version"], capture_output=True, text=True).stdout
        yield Server(
            port=port,
            socket_path=sock_path,
            # OpenSSL in MariaDB builds the chain it sends from --ssl-ca: leaf, then the CA.
            chain_ders=(
                leaf.public_bytes(serialization.Encoding.DER),
                ca.public_bytes(serialization.Encoding.DER),
            ),
            ca_pem=ca.public_bytes(pem),
            version=version.split("Ver ", 1)[1].split()[0],
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class RecordingRelay:
    """Accepts one TCP connection on loopback, relays it to the server, keeps both directions."""

    def __init__(self, upstream_port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.upstream_port = upstream_port
        self.to_server = bytearray()
        self.to_client = bytearray()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.listener.settimeout(10)
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.upstream_port))
        routes = {client: (server, self.to_server), server: (client, self.to_client)}
        open_ends = set(routes)
        try:
            while open_ends:
                readable, _, _ = select.select(list(open_ends), [], [], 10)
                if not readable:
                    break
                for s in readable:
                    dst, record = routes[s]
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        open_ends.discard(s)
                        try:
                            dst.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        continue
                    record += data
                    try:
                        dst.sendall(data)
                    except OSError:
                        open_ends.discard(dst)
        finally:
            client.close()
            server.close()
            self.listener.close()

    def wait(self) -> tuple[bytes, bytes]:
        self.thread.join(20)
        assert not self.thread.is_alive()
        return bytes(self.to_server), bytes(self.to_client)


# --- real greeting ---------------------------------------------------------------------------


def _read_greeting_raw(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        data = b""
        while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:3], "little"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


def test_real_mariadb_greeting(mariadb: Server) -> None:
    raw = _read_greeting_raw(mariadb.port)
    assert starts_like_mysql_greeting(raw)
    assert starts_like_mysql_greeting(raw[:6])
    whole = packets_of([raw])
    assert packets_of([raw[i : i + 1] for i in range(len(raw))]) == whole
    (first,) = whole
    assert first.sequence_id == 0
    greeting = parse_server_greeting(first.payload)
    assert greeting.protocol_version == 10
    # MariaDB prefixes "5.5.5-" so that old clients do not take 10.x for 1.0.
    assert greeting.server_version == "5.5.5-" + mariadb.version
    assert greeting.supports_ssl
    assert greeting.capabilities & CLIENT_PROTOCOL_41
    # A MariaDB server clears CLIENT_MYSQL and sends its extended capabilities.
    assert not greeting.capabilities & CLIENT_MYSQL
    assert greeting.mariadb_extended_capabilities is not None
    assert greeting.auth_plugin_name == "mysql_native_password"
    assert len(greeting.auth_plugin_data) == 20


def test_greeting_agrees_with_pymysql(mariadb: Server) -> None:
    relay = RecordingRelay(mariadb.port)
    # PyMySQL >= 1.2 tries TLS whenever the server offers it ("preferred"); ask for clear.
    conn = pymysql.connect(
        host="127.0.0.1",
        port=relay.port,
        user="app",
        password="secret",
        database="appdb",
        ssl_disabled=True,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT CONNECTION_ID()")
            row = cur.fetchone()
            assert row is not None
            connection_id = row[0]
    finally:
        conn.close()
    to_server, to_client = relay.wait()
    greeting = parse_server_greeting(first_packet(to_client).payload)
    assert greeting.server_version == conn.server_version
    assert (greeting.connection_id,) == conn.server_thread_id
    assert greeting.connection_id == connection_id
    assert greeting.capabilities == conn.server_capabilities
    assert greeting.character_set == conn.server_language
    # PyMySQL overwrites server_status with later OK packets; the greeting's is
    # SERVER_STATUS_AUTOCOMMIT (autocommit=1 is the server default).
    assert greeting.status_flags == 0x0002
    assert greeting.auth_plugin_data == conn.salt
    assert greeting.auth_plugin_name == conn._auth_plugin_name
    # The client's first packet: a plaintext HandshakeResponse41.
    reader = MysqlPacketReader()
    reader.receive_data(to_server)
    first = reader.next_event()
    assert isinstance(first, MysqlPacket) and first.sequence_id == 1
    response = parse_client_first_packet(first.payload)
    assert isinstance(response, HandshakeResponse41)
    assert response.username == "app"
    assert response.database == "appdb"
    assert response.auth_plugin_name == "mysql_native_password"
    assert response.capabilities & CLIENT_CONNECT_WITH_DB
    assert not response.capabilities & CLIENT_SSL


def test_real_wrong_password_err_packet(mariadb: Server) -> None:
    relay = RecordingRelay(mariadb.port)
    with pytest.raises(pymysql.err.OperationalError) as info:
        pymysql.connect(
            host="127.0.0.1", port=relay.port, user="app", password="wrong", ssl_disabled=True
        )
    code, message = info.value.args
    to_server, to_client = relay.wait()
    server_packets = packets_of([to_client])
    assert [p.sequence_id for p in server_packets] == [0, 2]
    err = parse_err_packet(server_packets[1].payload)
    assert err == ErrPacket(code=code, sql_state="28000", message=message)
    assert code == 1045
    response = parse_client_first_packet(first_packet(to_server).payload)
    assert isinstance(response, HandshakeResponse41)
    assert (response.username, response.database) == ("app", None)


def test_real_pre_handshake_err_packet(mariadb: Server) -> None:
    """A client address with no account gets an ERR instead of a greeting, without a SQL
    state (the server does not know yet whether the client speaks protocol 4.1)."""
    with socket.socket() as s:
        s.settimeout(10)
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", mariadb.port))
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert not starts_like_mysql_greeting(data)
    (first,) = packets_of([data])
    assert first.payload[0] == 0xFF
    err = parse_err_packet(first.payload)
    assert err.code == 1130  # ER_HOST_NOT_PRIVILEGED
    assert err.sql_state is None
    assert "127.0.0.2" in err.message and "not allowed to connect" in err.message
    with pytest.raises(ProtocolError):
        parse_server_greeting(first.payload)


def test_real_pymysql_ssl_request_then_tls(mariadb: Server) -> None:
    relay = RecordingRelay(mariadb.port)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # so that the Certificate is in clear
    ctx.load_verify_locations(cadata=mariadb.ca_pem.decode())
    conn = pymysql.connect(
        host="localhost", port=relay.port, user="app", password="secret", database="appdb", ssl=ctx
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        tls_sock = conn._sock
        assert isinstance(tls_sock, ssl.SSLSocket)
        cipher = tls_sock.cipher()
        assert cipher is not None
        suite = next(c["id"] & 0xFFFF for c in ctx.get_ciphers() if c["name"] == cipher[0])
    finally:
        conn.close()
    to_server, to_client = relay.wait()

    # Client: SSLRequest, then the TLS ClientHello, which the reader hands over unframed.
    reader = MysqlPacketReader()
    reader.receive_data(to_server)
    first = reader.next_event()
    assert isinstance(first, MysqlPacket) and first.sequence_id == 1
    request = parse_client_first_packet(first.payload)
    assert isinstance(request, SslRequest)
    assert request.capabilities & CLIENT_SSL
    rest = reader.unconsumed()
    assert reader.buffered_bytes == 0 and reader.unconsumed() == b""
    assert rest == to_server[4 + len(first.payload) :]
    client_tls = TlsStream()
    client_tls.receive_data(rest)
    hello = client_tls.next_event()
    assert isinstance(hello, ClientHello)
    assert hello.sni == "localhost"

    # Server: greeting, then ServerHello and the certificate MariaDB was given.
    reader = MysqlPacketReader()
    reader.receive_data(to_client)
    greeting = reader.next_event()
    assert isinstance(greeting, MysqlPacket)
    assert parse_server_greeting(greeting.payload).supports_ssl
    server_tls = TlsStream()
    server_tls.receive_data(reader.unconsumed())
    server_hello = server_tls.next_event()
    assert isinstance(server_hello, ServerHello)
    assert server_hello.selected_version == 0x0303
    assert server_hello.cipher_suite == suite
    certificate = server_tls.next_event()
    assert isinstance(certificate, Certificate)
    assert certificate.certificates == mariadb.chain_ders


# --- hand-built packets per the protocol documentation ------------------------------------------


def _greeting_payload(
    *,
    version: bytes = b"8.0.36",
    caps: int = 0xFFFF_F7FF | CLIENT_SSL,
    extended: bytes = b"\0\0\0\0",
    plugin: bytes | None = b"caching_sha2_password\0",
    stop_after_lower_caps: bool = False,
) -> bytes:
    head = b"\x0a" + version + b"\0" + (1234).to_bytes(4, "little") + b"abcdefgh" + b"\0"
    head += (caps & 0xFFFF).to_bytes(2, "little")
    if stop_after_lower_caps:
        return head
    head += b"\xff" + (2).to_bytes(2, "little") + (caps >> 16).to_bytes(2, "little") + b"\x15"
    head += b"\0" * 6 + extended + b"ijklmnopqrst\0"
    return head + (plugin or b"")


def test_hand_built_mysql8_greeting() -> None:
    g = parse_server_greeting(_greeting_payload())
    assert g.server_version == "8.0.36"
    assert g.connection_id == 1234
    assert g.capabilities == 0xFFFF_FFFF
    assert g.supports_ssl
    assert (g.character_set, g.status_flags) == (0xFF, 2)
    assert g.mariadb_extended_capabilities is None  # CLIENT_MYSQL is set
    assert g.auth_plugin_name == "caching_sha2_password"
    assert g.auth_plugin_data == b"abcdefghijklmnopqrst"


def test_hand_built_greeting_variants() -> None:
    mariadb = parse_server_greeting(
        _greeting_payload(caps=0xFFFF_F7FE | CLIENT_SSL, extended=b"\x1d\0\0\0")
    )
    assert mariadb.mariadb_extended_capabilities == 0x1D
    # Bug #59453: the plugin name without its NUL.
    assert parse_server_greeting(
        _greeting_payload(plugin=b"mysql_native_password")
    ).auth_plugin_name == ("mysql_native_password")
    short = parse_server_greeting(_greeting_payload(caps=0x0000_F7FF, stop_after_lower_caps=True))
    assert short.capabilities == 0xF7FF and not short.supports_ssl
    assert (short.character_set, short.status_flags, short.auth_plugin_name) == (None, None, None)
    for bad in [b"", b"\x09" + _greeting_payload()[1:], _greeting_payload()[:25], b"\x0a8.0"]:
        with pytest.raises(ProtocolError):
            parse_server_greeting(bad)


def test_sniffer() -> None:
    payload = _greeting_payload()
    good = packet(0, payload)
    assert starts_like_mysql_greeting(good)
    assert starts_like_mysql_greeting(good[:8])
    assert not starts_like_mysql_greeting(good[:5])
    assert not starts_like_mysql_greeting(packet(1, payload))  # sequence id
    assert not starts_like_mysql_greeting(packet(0, b"\x09" + payload[1:]))  # protocol 9
    assert not starts_like_mysql_greeting(packet(0, b"\x0a\x01\x02\x00" + payload[4:]))
    assert not starts_like_mysql_greeting(packet(0, b"\x0a\0" + payload[1:]))  # empty version
    assert not starts_like_mysql_greeting(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    assert not starts_like_mysql_greeting(b"SSH-2.0-OpenSSH_9.2p1\r\n")
    assert not starts_like_mysql_greeting(packet(0, payload + bytes(2000)))  # too long


def _response_fixed(caps: int) -> bytes:
    return (
        caps.to_bytes(4, "little")
        + (1 << 24).to_bytes(4, "little")
        + b"\x2d"
        + bytes(19)
        + b"\0\0\0\0"
    )


def test_hand_built_ssl_request_and_responses() -> None:
    caps = CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION | CLIENT_MYSQL
    req = parse_client_first_packet(_response_fixed(caps))
    assert req == SslRequest(caps, 1 << 24, 0x2D, None)
    maria = parse_client_first_packet(_response_fixed(caps & ~CLIENT_MYSQL)[:28] + b"\x07\0\0\0")
    assert isinstance(maria, SslRequest) and maria.mariadb_extended_capabilities == 7

    lenenc = (
        CLIENT_PROTOCOL_41
        | CLIENT_MYSQL
        | CLIENT_PLUGIN_AUTH
        | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | CLIENT_SECURE_CONNECTION
        | CLIENT_CONNECT_WITH_DB
    )
    body = _response_fixed(lenenc) + "jürgen".encode() + b"\0" + b"\x14" + bytes(20)
    body += b"shop\0caching_sha2_password\0" + b"\x00"  # empty connect attributes
    r = parse_client_first_packet(body)
    assert r == HandshakeResponse41(
        lenenc, 1 << 24, 0x2D, "jürgen", "shop", "caching_sha2_password", None
    )

    one_byte = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_MYSQL
    body = _response_fixed(one_byte) + b"root\0" + b"\x03abc"
    r = parse_client_first_packet(body)
    assert isinstance(r, HandshakeResponse41)
    assert (r.username, r.database, r.auth_plugin_name) == ("root", None, None)

    nul_auth = CLIENT_PROTOCOL_41 | CLIENT_CONNECT_WITH_DB | CLIENT_MYSQL
    body = _response_fixed(nul_auth) + b"bob\xff\0" + b"scrambled\0" + b"db1\0"
    r = parse_client_first_packet(body)
    assert isinstance(r, HandshakeResponse41)
    assert (r.username, r.database) == ("bob\ufffd", "db1")

    for bad in [
        _response_fixed(caps)[:31],
        _response_fixed(caps & ~CLIENT_SSL),  # 32 bytes but no CLIENT_SSL
        _response_fixed(caps & ~CLIENT_PROTOCOL_41),
        _response_fixed(one_byte) + b"root",  # username without NUL
        _response_fixed(one_byte) + b"root\0\x30abc",  # auth response longer than the packet
    ]:
        with pytest.raises(ProtocolError):
            parse_client_first_packet(bad)


def test_hand_built_err_packets() -> None:
    assert parse_err_packet(b"\xff\x15\x04#28000Access denied") == ErrPacket(
        1045, "28000", "Access denied"
    )
    assert parse_err_packet(b"\xff\x6a\x04Host 'x' is not allowed") == ErrPacket(
        1130, None, "Host 'x' is not allowed"
    )
    assert parse_err_packet(b"\xff\x10\x04") == ErrPacket(1040, None, "")
    for bad in [b"", b"\x00\x10\x04", b"\xff\x10"]:
        with pytest.raises(ProtocolError):
            parse_err_packet(bad)


# --- framing -----------------------------------------------------------------------------------


def test_packet_reader_framing_and_limit() -> None:
    data = packet(0, b"a" * 10) + packet(1, b"") + packet(2, b"b" * 70_000)
    limits = Limits(max_mysql_packet_bytes=100_000)
    whole = packets_of([data], limits)
    assert whole == [MysqlPacket(0, b"a" * 10), MysqlPacket(1, b""), MysqlPacket(2, b"b" * 70_000)]
    assert packets_of([data[i : i + 7] for i in range(0, len(data), 7)], limits) == whole

    reader = MysqlPacketReader()  # default limit 64 KiB
    reader.receive_data(b"\xff\xff\xff\x00")  # a 16 MiB packet: refused at its header
    with pytest.raises(ProtocolError, match="declares 16777215"):
        reader.next_event()
    with pytest.raises(ProtocolError):
        reader.next_event()

    reader = MysqlPacketReader()
    reader.receive_data(packet(0, b"xyz")[:5])
    assert reader.next_event() is NEED_DATA
    assert reader.buffered_bytes == 5
    assert reader.unconsumed() == packet(0, b"xyz")[:5]
    assert reader.next_event() is NEED_DATA


def test_packet_reader_is_linear_on_many_small_packets() -> None:
    one = packet(0, b"x" * 20)
    data = one * 50_000  # 1.2 MB
    start = time.perf_counter()
    reader = MysqlPacketReader()
    for i in range(0, len(data), 1460):
        reader.receive_data(data[i : i + 1460])
        while not isinstance(reader.next_event(), NeedData):
            pass
    # All at once (a capture read in one go): compaction must not copy the buffer per packet.
    reader = MysqlPacketReader()
    reader.receive_data(data * 4)
    count = 0
    while not isinstance(reader.next_event(), NeedData):
        count += 1
    assert count == 200_000
    assert time.perf_counter() - start < 5


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_parsers_only_raise_protocol_error(data: bytes) -> None:
    for parse in (parse_server_greeting, parse_client_first_packet, parse_err_packet):
        try:
            parse(data)
        except ProtocolError:
            pass
    starts_like_mysql_greeting(data)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, 200), tail=st.binary(max_size=100))
def test_greeting_prefix_with_random_tail(cut: int, tail: bytes) -> None:
    data = _greeting_payload()
    try:
        parse_server_greeting(data[: cut % (len(data) + 1)] + tail)
    except ProtocolError:
        pass
