"""Generate large, realistic MySQL-over-TLS captures without any server.

Every connection is Ethernet + IPv4 + TCP with a three-way handshake, a MySQL HandshakeV10
greeting, the client's 32-byte SSLRequest, a real TLS 1.2 handshake (made in-process by Python's
``ssl`` over ``MemoryBIO``: the Certificate message is real OpenSSL output, in clear), encrypted
application data (the login, queries, result sets that span many segments), delayed ACKs and a
FIN teardown. Sequence numbers, IP and TCP checksums are correct; connections are interleaved
in time. The addresses are from 10.77.0.0/16 and only ever go into the file.

Determinism: the layout (addresses, ports, ISNs, timestamps, sizes, packet counts) is a
function of the seed. Keys, certificates and TLS transcripts are made once and cached in a
temporary directory keyed by the seed, so a rerun with the same seed writes the same bytes; EC
leaf keys are derived from the seed, so leaf public keys are reproducible even without the cache.

Speed: a handshake costs 1-3 ms, so a pool of K real handshakes (K >= distinct leaves) is made
once and its transcripts are replayed over many connections, each with its own addresses, ports
and ISNs. Frames are built with ``struct`` and written by a small pcap/pcapng writer.

    python bench/gen_capture.py --connections 2000 --packets 2000000 --distinct-leaves 200 \
        --format pcapng --seed 1 -o /tmp/big.pcapng
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import heapq
import ipaddress
import json
import os
import random
import ssl
import struct
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "GeneratedCapture",
    "Pki",
    "generate_capture",
    "main",
]

CACHE_VERSION = 1
MSS = 1448  # payload per segment, as with TCP timestamps on a 1500-byte MTU
MYSQL_PORT = 3306
CAPTURE_EPOCH_US = int(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC).timestamp()) * 1_000_000
NOT_BEFORE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2036, 1, 1, tzinfo=dt.UTC)
MAX_LEAVES = 4000  # servers live in 10.77.0.0 - 10.77.15.255
MAX_CLIENT_HOSTS = 60000  # clients live in 10.77.16.0 - 10.77.255.255
RSA_LEAVES = 3  # RSA keys are slow to make: a few RSA 2048 leaves, the rest EC P-256
DELAYED_ACK_US = 40_000  # Linux's delayed-ACK timer

# Capability flags (MySQL protocol documentation, "Capabilities Flags").
CLIENT_SSL = 0x800
_CLIENT_CAPS = (
    0x1 | 0x2 | 0x4 | 0x8 | 0x80 | 0x200 | 0x400 | CLIENT_SSL | 0x2000 | 0x8000
    | 0x10000 | 0x20000 | 0x40000 | 0x80000 | 0x100000 | 0x200000 | 0x1000000
)

Format = Literal["pcap", "pcapng"]


# --------------------------------------------------------------------------------------------
# PKI


@dataclass(frozen=True)
class Leaf:
    """One server certificate and what its server sends: the chain (leaf first) and the key."""

    chain_pem: bytes  # leaf first, then the intermediates the server sends
    key_pem: bytes
    chain_sha256: tuple[str, ...]  # sha256 of each DER in chain_pem, leaf first
    server_ip: str
    kind: str  # "ec", "rsa" or "mysql-auto"


@dataclass(frozen=True)
class Pki:
    root_pem: bytes
    leaves: tuple[Leaf, ...]


def _server_ip(leaf_index: int) -> str:
    return f"10.77.{leaf_index // 250}.{leaf_index % 250 + 1}"


def _client_ip(client_index: int) -> str:
    return f"10.77.{16 + client_index // 250}.{client_index % 250 + 1}"


def _name(cn: str, org: str | None = None, printable: bool = False) -> x509.Name:
    attrs: list[x509.NameAttribute[str]] = []
    if org is not None:
        attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"))
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    if printable:
        attrs.append(x509.NameAttribute(
            NameOID.COMMON_NAME, cn, _type=x509.name._ASN1Type.PrintableString))
    else:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))  # UTF8String
    return x509.Name(attrs)


PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _ec_key(seed: int, label: str) -> ec.EllipticCurvePrivateKey:
    digest = hashlib.sha256(f"capture-tls-bench/{seed}/{label}".encode()).digest()
    # P-256's order is just under 2**256; reduce into [1, n - 1].
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    return ec.derive_private_key(int.from_bytes(digest, "big") % (order - 1) + 1, ec.SECP256R1())


def _sign_alg(key: PrivateKey) -> hashes.SHA256:
    del key
    return hashes.SHA256()


def _cert(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    signer: PrivateKey,
    serial: int,
    ca: bool,
    san: Sequence[x509.GeneralName] = (),
    ski_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | None = None,
    auth_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=True, crl_sign=True, encipher_only=False,
                          decipher_only=False),
            critical=True)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(san)), critical=False)
    if ski_key is not None:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ski_key), critical=False)
    if auth_key is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(auth_key), critical=False)
    return builder.sign(signer, _sign_alg(signer))


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _sha(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def make_pki(seed: int, distinct_leaves: int) -> Pki:
    """A root CA, an intermediate, and ``distinct_leaves`` distinct server certificates.

    Every fourth leaf is in the style of MySQL's auto-generated certificates (a per-server
    "MySQL_Server_<version>_Auto_Generated_CA_Certificate" issuing a server certificate whose
    CN is "MySQL_Server_<version>_Auto_Generated_Server_Certificate", UTF8String, no SAN; the
    server sends the leaf alone). The others are issued by the intermediate, carry a DNS and an
    IP SAN, and are sent with the intermediate. A few (``RSA_LEAVES``) have RSA 2048 keys.
    """
    if not 1 <= distinct_leaves <= MAX_LEAVES:
        raise ValueError(f"distinct leaves must be 1..{MAX_LEAVES}")
    rng = random.Random(f"pki/{seed}")
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_name = _name("capture-tls bench Root CA", "capture-tls bench")
    root = _cert(root_name, root_name, root_key.public_key(), root_key, rng.getrandbits(63) + 1,
                 True, ski_key=root_key.public_key())
    inter_key = _ec_key(seed, "intermediate")
    inter_name = _name("capture-tls bench Intermediate CA", "capture-tls bench")
    inter = _cert(inter_name, root_name, inter_key.public_key(), root_key,
                  rng.getrandbits(63) + 1, True, ski_key=inter_key.public_key(),
                  auth_key=root_key.public_key())
    leaves: list[Leaf] = []
    rsa_made = 0
    for i in range(distinct_leaves):
        ip = _server_ip(i)
        key: PrivateKey
        if i % 10 == 2 and rsa_made < RSA_LEAVES:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            rsa_made += 1
            kind = "rsa"
        else:
            key = _ec_key(seed, f"leaf/{i}")
            kind = "ec"
        if i % 4 == 1:
            version = "8.0.36" if i % 8 == 1 else "5.7.44"
            ca_key = _ec_key(seed, f"auto-ca/{i}")
            ca_name = x509.Name([x509.NameAttribute(
                NameOID.COMMON_NAME, f"MySQL_Server_{version}_Auto_Generated_CA_Certificate")])
            leaf_name = x509.Name([x509.NameAttribute(
                NameOID.COMMON_NAME, f"MySQL_Server_{version}_Auto_Generated_Server_Certificate")])
            leaf = _cert(leaf_name, ca_name, key.public_key(), ca_key, 2 + i, False)
            chain = [leaf]
            kind = "mysql-auto" if kind == "ec" else "mysql-auto-rsa"
        else:
            host = f"db-{i}.bench.example"
            leaf = _cert(
                _name(host, "capture-tls bench servers", printable=i % 3 == 0),
                inter_name, key.public_key(), inter_key, rng.getrandbits(63) + 1, False,
                san=[x509.DNSName(host), x509.IPAddress(ipaddress.IPv4Address(ip))],
                ski_key=key.public_key(), auth_key=inter_key.public_key())
            chain = [leaf, inter]
        leaves.append(Leaf(
            chain_pem=b"".join(_pem(c) for c in chain), key_pem=_pem_key(key),
            chain_sha256=tuple(_sha(c) for c in chain), server_ip=ip, kind=kind))
    return Pki(root_pem=_pem(root), leaves=tuple(leaves))


# --------------------------------------------------------------------------------------------
# Real TLS transcripts


@dataclass(frozen=True)
class Transcript:
    """What one real connection carried, as byte strings per message, and its leaf."""

    leaf_index: int
    server_version: str
    greeting: bytes  # MySQL packet, seq 0
    ssl_request: bytes  # MySQL packet, seq 1
    flights: tuple[tuple[str, bytes], ...]  # ("c"|"s", TLS records), the handshake in order
    login: bytes  # client application data: the HandshakeResponse41
    login_ok: bytes  # server application data: the OK packet
    queries: tuple[bytes, ...]  # client application data records, each under one MSS
    responses: tuple[bytes, ...]  # server application data, from one to many segments
    quit: bytes  # client application data: COM_QUIT


def _mysql_packet(seq: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


def mysql_greeting(version: str, connection_id: int, rng: random.Random) -> bytes:
    """A HandshakeV10 greeting offering CLIENT_SSL and mysql_native_password."""
    scramble = bytes(rng.randrange(33, 127) for _ in range(20))
    mariadb = "MariaDB" in version
    caps = 0xFFFE_81FF if mariadb else 0xFFFF_DFFF  # (lower 16 bits << 16) | upper 16 bits
    lower, upper = caps >> 16, caps & 0xFFFF
    assert lower & CLIENT_SSL
    charset = 45 if mariadb else 255
    reserved = b"\x00" * 6 + (struct.pack("<I", 0x1D) if mariadb else b"\x00" * 4)
    payload = (
        b"\x0a" + version.encode() + b"\x00" + struct.pack("<I", connection_id)
        + scramble[:8] + b"\x00" + struct.pack("<H", lower) + bytes([charset])
        + struct.pack("<H", 0x0002) + struct.pack("<H", upper) + bytes([21]) + reserved
        + scramble[8:] + b"\x00" + b"mysql_native_password\x00"
    )
    return _mysql_packet(0, payload)


def mysql_ssl_request() -> bytes:
    """The client's SSLRequest: 32 bytes with CLIENT_SSL, sequence id 1."""
    payload = struct.pack("<IIB", _CLIENT_CAPS, 16 * 1024 * 1024, 255) + b"\x00" * 23
    assert len(payload) == 32
    return _mysql_packet(1, payload)


def _pump_handshake(client: ssl.SSLObject, server: ssl.SSLObject, c_in: ssl.MemoryBIO,
                    c_out: ssl.MemoryBIO, s_in: ssl.MemoryBIO,
                    s_out: ssl.MemoryBIO) -> list[tuple[str, bytes]]:
    flights: list[tuple[str, bytes]] = []
    c_done = s_done = False
    for _ in range(16):
        if not c_done:
            try:
                client.do_handshake()
                c_done = True
            except ssl.SSLWantReadError:
                pass
        data = c_out.read()
        if data:
            flights.append(("c", data))
            s_in.write(data)
        if not s_done:
            try:
                server.do_handshake()
                s_done = True
            except ssl.SSLWantReadError:
                pass
        data = s_out.read()
        if data:
            flights.append(("s", data))
            c_in.write(data)
        if c_done and s_done and not data:
            break
    if not (c_done and s_done):
        raise RuntimeError("the in-memory TLS handshake did not complete")
    return flights


RESPONSE_SIZES = (40, 300, 1100, 2400, 3900, 6500, 9000, 17000, 42000)


def real_transcript(leaf_index: int, leaf: Leaf, workdir: Path, seed: int, k: int) -> Transcript:
    """Run one real TLS 1.2 handshake over memory BIOs and record what crossed the wire."""
    rng = random.Random(f"transcript/{seed}/{k}")
    chain_file = workdir / f"leaf{leaf_index}-chain.pem"
    key_file = workdir / f"leaf{leaf_index}-key.pem"
    if not chain_file.exists():
        chain_file.write_bytes(leaf.chain_pem)
        key_file.write_bytes(leaf.key_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(chain_file, key_file)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    client_ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # the Certificate stays in clear
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    # Most MySQL clients send no SNI; python-ssl, mysqlnd and node do (DESIGN.md).
    sni = f"db-{leaf_index}.bench.example" if k % 3 == 0 else None
    client = client_ctx.wrap_bio(c_in, c_out, server_side=False, server_hostname=sni)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    flights = _pump_handshake(client, server, c_in, c_out, s_in, s_out)

    def seal(obj: ssl.SSLObject, out: ssl.MemoryBIO, plaintext: bytes) -> bytes:
        obj.write(plaintext)
        return out.read()

    version = "10.11.6-MariaDB" if leaf_index % 2 else "8.0.36"
    login_plain = _mysql_packet(2, struct.pack("<IIB", _CLIENT_CAPS, 1 << 24, 255)
                                + b"\x00" * 23 + b"bench_user\x00" + bytes([20])
                                + rng.randbytes(20) + b"mysql_native_password\x00")
    queries = tuple(
        seal(client, c_out, _mysql_packet(0, b"\x03" + b"SELECT * FROM t WHERE id = "
                                          + str(rng.randrange(10**6)).encode()
                                          + b" -- " + b"x" * rng.randrange(0, 700)))
        for _ in range(6)
    )
    responses = tuple(seal(server, s_out, rng.randbytes(n)) for n in RESPONSE_SIZES)
    return Transcript(
        leaf_index=leaf_index,
        server_version=version,
        greeting=mysql_greeting(version, 1000 + k, rng),
        ssl_request=mysql_ssl_request(),
        flights=tuple(flights),
        login=seal(client, c_out, login_plain),
        login_ok=seal(server, s_out, _mysql_packet(2, b"\x00\x00\x00\x02\x00\x00\x00")),
        queries=queries,
        responses=responses,
        quit=seal(client, c_out, _mysql_packet(0, b"\x01")),
    )


# --------------------------------------------------------------------------------------------
# Cache of the PKI and the transcript pool


def _cache_dir() -> Path:
    d = Path(os.environ.get("CAPTURE_TLS_BENCH_CACHE", Path(tempfile.gettempdir())
                            / "capture-tls-bench-cache"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _unb64(s: str) -> bytes:
    return base64.b64decode(s)


def _pool_to_json(pki: Pki, pool: Sequence[Transcript]) -> dict[str, object]:
    return {
        "version": CACHE_VERSION,
        "root_pem": pki.root_pem.decode(),
        "leaves": [
            {"chain_pem": lf.chain_pem.decode(), "key_pem": lf.key_pem.decode(),
             "chain_sha256": list(lf.chain_sha256), "server_ip": lf.server_ip, "kind": lf.kind}
            for lf in pki.leaves
        ],
        "pool": [
            {"leaf_index": t.leaf_index, "server_version": t.server_version,
             "greeting": _b64(t.greeting), "ssl_request": _b64(t.ssl_request),
             "flights": [[d, _b64(b)] for d, b in t.flights], "login": _b64(t.login),
             "login_ok": _b64(t.login_ok), "queries": [_b64(q) for q in t.queries],
             "responses": [_b64(r) for r in t.responses], "quit": _b64(t.quit)}
            for t in pool
        ],
    }


def _pool_from_json(doc: dict[str, object]) -> tuple[Pki, list[Transcript]]:
    leaves_doc = doc["leaves"]
    pool_doc = doc["pool"]
    assert isinstance(leaves_doc, list) and isinstance(pool_doc, list)
    leaves = tuple(
        Leaf(chain_pem=d["chain_pem"].encode(), key_pem=d["key_pem"].encode(),
             chain_sha256=tuple(d["chain_sha256"]), server_ip=d["server_ip"], kind=d["kind"])
        for d in leaves_doc)
    root_pem = doc["root_pem"]
    assert isinstance(root_pem, str)
    pool = [
        Transcript(
            leaf_index=d["leaf_index"], server_version=d["server_version"],
            greeting=_unb64(d["greeting"]), ssl_request=_unb64(d["ssl_request"]),
            flights=tuple((f[0], _unb64(f[1])) for f in d["flights"]),
            login=_unb64(d["login"]), login_ok=_unb64(d["login_ok"]),
            queries=tuple(_unb64(q) for q in d["queries"]),
            responses=tuple(_unb64(r) for r in d["responses"]), quit=_unb64(d["quit"]))
        for d in pool_doc]
    return Pki(root_pem=root_pem.encode(), leaves=leaves), pool


def load_or_make_pool(seed: int, distinct_leaves: int, pool_size: int,
                      use_cache: bool = True) -> tuple[Pki, list[Transcript]]:
    """The PKI and ``pool_size`` real handshakes; transcript k uses leaf k % distinct_leaves."""
    cache = _cache_dir()
    path = cache / f"pool-v{CACHE_VERSION}-seed{seed}-leaves{distinct_leaves}-k{pool_size}.json"
    if use_cache and path.exists():
        return _pool_from_json(json.loads(path.read_text()))
    pki = make_pki(seed, distinct_leaves)
    with tempfile.TemporaryDirectory(prefix="capture-tls-bench-") as tmp:
        pool = [real_transcript(k % distinct_leaves, pki.leaves[k % distinct_leaves], Path(tmp),
                                seed, k)
                for k in range(pool_size)]
    if use_cache:
        tmp_path = path.with_suffix(f".tmp{os.getpid()}")
        tmp_path.write_text(json.dumps(_pool_to_json(pki, pool)))
        tmp_path.replace(path)
    return pki, pool


# --------------------------------------------------------------------------------------------
# Frames


def _fold(total: int) -> int:
    """Internet checksum from a plain sum of 16-bit words (65536 = 1 mod 65535)."""
    s = total % 0xFFFF
    if s == 0 and total:
        s = 0xFFFF
    return 0xFFFF - s


_SEG_CACHE: dict[bytes, list[tuple[bytes, int]]] = {}


def _segments(msg: bytes) -> list[tuple[bytes, int]]:
    """``msg`` cut at MSS, with each segment's sum of 16-bit words mod 65535 (cached)."""
    got = _SEG_CACHE.get(msg)
    if got is None:
        got = []
        for off in range(0, len(msg), MSS):
            seg = msg[off:off + MSS]
            padded = seg + b"\x00" if len(seg) % 2 else seg
            got.append((seg, int.from_bytes(padded, "big") % 0xFFFF))
        _SEG_CACHE[msg] = got
    return got


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
_SYN_OPTIONS = struct.pack("!BBH", 2, 4, 1460) + b"\x01\x01\x04\x02"  # MSS, NOP NOP SACK-perm
_SYN_OPTIONS_SUM = int.from_bytes(_SYN_OPTIONS, "big") % 0xFFFF
_IP_HDR = struct.Struct("!BBHHHBBH4s4s")
_TCP_HDR = struct.Struct("!HHIIBBHHH")


class _Side:
    """One direction of a connection: addresses, the precomputed checksum parts, seq and IP id."""

    __slots__ = (
        "dport",
        "dst",
        "eth",
        "ip_const",
        "ip_id",
        "nxt",
        "sport",
        "src",
        "tcp_const",
        "unacked",
        "window",
    )

    def __init__(self, src: str, dst: str, sport: int, dport: int, isn: int, ip_id: int,
                 window: int) -> None:
        self.src = ipaddress.IPv4Address(src).packed
        self.dst = ipaddress.IPv4Address(dst).packed
        self.sport = sport
        self.dport = dport
        self.nxt = isn
        self.ip_id = ip_id
        self.window = window
        self.unacked = 0  # segments from the peer this side has not acknowledged yet
        self.eth = b"\x02\x00" + self.dst + b"\x02\x00" + self.src + b"\x08\x00"
        words = (int.from_bytes(self.src, "big") % 0xFFFF) + (int.from_bytes(self.dst, "big")
                                                              % 0xFFFF)
        self.ip_const = 0x4500 + 0x4000 + (64 << 8 | 6) + words
        self.tcp_const = words + 6 + sport + dport + window


def _frame(side: _Side, ack: int, flags: int, payload: bytes, payload_sum: int) -> bytes:
    syn = flags & SYN
    opt = _SYN_OPTIONS if syn else b""
    tcp_len = 20 + len(opt) + len(payload)
    total = 20 + tcp_len
    ip_id = side.ip_id
    side.ip_id = (ip_id + 1) & 0xFFFF
    ip_sum = _fold(side.ip_const + total + ip_id)
    seq = side.nxt
    doff = (5 + len(opt) // 4) << 4
    tcp_sum = _fold(side.tcp_const + tcp_len + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16)
                    + (ack & 0xFFFF) + (doff << 8 | flags) + payload_sum
                    + (_SYN_OPTIONS_SUM if syn else 0))
    side.nxt = (seq + len(payload) + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
    return b"".join((
        side.eth,
        _IP_HDR.pack(0x45, 0, total, ip_id, 0x4000, 64, 6, ip_sum, side.src, side.dst),
        _TCP_HDR.pack(side.sport, side.dport, seq, ack, doff, flags, side.window, tcp_sum, 0),
        opt,
        payload,
    ))


@dataclass
class _ConnSpec:
    index: int
    transcript: Transcript
    client_ip: str
    client_port: int
    server_ip: str
    start_us: int
    budget: int  # packets this connection should have
    seed: int


def _exchange_cost(resp_segments: int, delayed: bool) -> int:
    # query (1 segment; the response acks it) + response + an ACK after every second segment
    # + a delayed ACK when an odd last segment waits for the client's think time.
    return 1 + resp_segments + resp_segments // 2 + (1 if delayed and resp_segments % 2 else 0)


TEARDOWN_PACKETS = 4  # COM_QUIT, client FIN, server FIN, client ACK


def _connection(spec: _ConnSpec) -> Iterator[tuple[int, bytes]]:
    """Yield (time in microseconds, frame) for one connection, in order, exactly spec.budget
    frames when the budget is at least the handshake's own count."""
    rng = random.Random(f"conn/{spec.seed}/{spec.index}")
    tr = spec.transcript
    c = _Side(spec.client_ip, spec.server_ip, spec.client_port, MYSQL_PORT, rng.getrandbits(32),
              rng.getrandbits(16), 64240)
    s = _Side(spec.server_ip, spec.client_ip, MYSQL_PORT, spec.client_port, rng.getrandbits(32),
              0, 65160)
    rtt = rng.randint(120, 900)
    t = spec.start_us

    def peer(side: _Side) -> _Side:
        return s if side is c else c

    def control(side: _Side, flags: int) -> bytes:
        side.unacked = 0
        return _frame(side, peer(side).nxt if flags & ACK else 0, flags, b"", 0)

    def send(side: _Side, msg: bytes) -> Iterator[tuple[int, bytes]]:
        """The segments of msg, and the receiver's ACK after every second one."""
        nonlocal t
        other = peer(side)
        segs = _segments(msg)
        last = len(segs) - 1
        side.unacked = 0  # every data segment carries the latest ACK
        for i, (seg, seg_sum) in enumerate(segs):
            t += 2 + len(seg) // 125  # about 1 Gbit/s on the wire
            yield t, _frame(side, other.nxt, ACK | (PSH if i == last else 0), seg, seg_sum)
            other.unacked += 1
            if other.unacked == 2:
                t += 4
                yield t, control(other, ACK)

    def think(us: int) -> None:
        nonlocal t
        t += us

    # Three-way handshake.
    yield t, control(c, SYN)
    think(rtt)
    yield t, control(s, SYN | ACK)
    think(rtt)
    yield t, control(c, ACK)
    think(rng.randint(50, 200))
    count = 3
    hs: list[tuple[int, bytes]] = []
    hs.extend(send(s, tr.greeting))
    think(rtt + rng.randint(20, 120))
    hs.extend(send(c, tr.ssl_request))
    think(rng.randint(20, 80))  # the client's TLS layer starts at once: no reply in between
    for direction, flight in tr.flights:
        hs.extend(send(c if direction == "c" else s, flight))
        think(rtt + rng.randint(60, 400))
    hs.extend(send(c, tr.login))
    think(rtt + rng.randint(100, 600))
    hs.extend(send(s, tr.login_ok))
    count += len(hs)
    yield from hs
    del hs

    remaining = spec.budget - count - TEARDOWN_PACKETS
    if remaining == 1:  # the client acks the lone OK segment after its delayed-ACK timer
        think(DELAYED_ACK_US)
        yield t, control(c, ACK)
        remaining = 0
    resp_segs = [len(_segments(r)) for r in tr.responses]
    smallest = min(range(len(resp_segs)), key=resp_segs.__getitem__)
    assert resp_segs[smallest] == 1
    while remaining > 0:
        r = rng.randrange(len(tr.responses))
        delayed = rng.random() < 0.25
        cost = _exchange_cost(resp_segs[r], delayed)
        if cost > remaining or remaining - cost == 1:
            r = smallest
            delayed = remaining == 3
            cost = _exchange_cost(1, delayed)
        remaining -= cost
        think(rng.randint(200, 3000))
        yield from send(c, tr.queries[rng.randrange(len(tr.queries))])
        think(rtt + rng.randint(50, 2000))
        yield from send(s, tr.responses[r])
        if delayed and c.unacked:
            think(DELAYED_ACK_US)
            yield t, control(c, ACK)

    # Teardown: COM_QUIT, then the client closes; the server closes in turn.
    think(rng.randint(200, 3000))
    yield from send(c, tr.quit)
    think(5)
    yield t, control(c, FIN | ACK)
    think(rtt + rng.randint(30, 200))
    yield t, control(s, FIN | ACK)
    think(rtt)
    yield t, control(c, ACK)


def _handshake_packets(tr: Transcript) -> int:
    spec = _ConnSpec(0, tr, "10.77.16.1", 40000, "10.77.0.1", 0, 0, 0)
    n = 0
    for _ in _connection(spec):
        n += 1
    return n  # with budget 0: three-way handshake, greeting ... login OK, teardown


def _budgets(total: int, minimums: Sequence[int], rng: random.Random) -> list[int]:
    """Split ``total`` packets over connections, each at least its minimum, unevenly."""
    n = len(minimums)
    floor_sum = sum(minimums)
    if total <= floor_sum:
        return list(minimums)
    spare = total - floor_sum
    weights = [rng.lognormvariate(0.0, 0.6) for _ in range(n)]
    wsum = sum(weights)
    extra = [int(spare * w / wsum) for w in weights]
    left = spare - sum(extra)
    for i in range(left):
        extra[i % n] += 1
    return [m + e for m, e in zip(minimums, extra, strict=True)]


# --------------------------------------------------------------------------------------------
# Writers


class _PcapWriter:
    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self._rec = struct.Struct("<IIII")
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))

    def write(self, ts_us: int, frame: bytes) -> None:
        n = len(frame)
        self._f.write(self._rec.pack(ts_us // 1_000_000, ts_us % 1_000_000, n, n))
        self._f.write(frame)


class _PcapngWriter:
    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self._epb = struct.Struct("<IIIIIII")
        shb_opts = self._option(4, b"capture-tls bench/gen_capture.py") + b"\x00" * 4
        shb_len = 28 + len(shb_opts)
        f.write(struct.pack("<IIIHHq", 0x0A0D0D0A, shb_len, 0x1A2B3C4D, 1, 0, -1) + shb_opts
                + struct.pack("<I", shb_len))
        idb_opts = self._option(2, b"bench0") + self._option(9, b"\x06") + b"\x00" * 4
        idb_len = 20 + len(idb_opts)
        f.write(struct.pack("<IIHHI", 1, idb_len, 1, 0, 262144) + idb_opts
                + struct.pack("<I", idb_len))

    @staticmethod
    def _option(code: int, value: bytes) -> bytes:
        return struct.pack("<HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)

    def write(self, ts_us: int, frame: bytes) -> None:
        n = len(frame)
        pad = -n % 4
        block_len = 32 + n + pad
        self._f.write(self._epb.pack(6, block_len, 0, ts_us >> 32, ts_us & 0xFFFFFFFF, n, n))
        self._f.write(frame + b"\x00" * pad + block_len.to_bytes(4, "little"))


# --------------------------------------------------------------------------------------------
# The whole capture


@dataclass
class GeneratedCapture:
    """What was written: enough for a test to check a second implementation against."""

    path: str
    format: str
    packets: int
    connections: int
    seconds: float
    # per connection: client ip, client port, server ip, server port, chain sha256 (leaf first)
    expected: list[tuple[str, int, str, int, tuple[str, ...]]] = field(default_factory=list)

    @property
    def leaf_sha256(self) -> set[str]:
        return {chain[0] for *_, chain in self.expected}

    @property
    def certificate_sha256(self) -> set[str]:
        return {sha for *_, chain in self.expected for sha in chain}

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path, "format": self.format, "packets": self.packets,
            "connections": self.connections, "seconds": round(self.seconds, 3),
            "distinct_leaves": len(self.leaf_sha256),
            "expected": [
                {"client": {"ip": ci, "port": cp}, "server": {"ip": si, "port": sp},
                 "server_certificates_sha256": list(chain)}
                for ci, cp, si, sp, chain in self.expected
            ],
        }


def generate_capture(
    path: str | os.PathLike[str],
    connections: int,
    packets: int,
    distinct_leaves: int,
    fmt: Format = "pcap",
    seed: int = 1,
    pool_size: int | None = None,
    use_cache: bool = True,
) -> GeneratedCapture:
    """Write a capture of ``connections`` interleaved MySQL/TLS connections, about ``packets``
    frames in all (exactly, unless that is below the connections' own minimum), with at least
    ``min(distinct_leaves, connections)`` distinct leaf certificates."""
    if connections < 1:
        raise ValueError("connections must be at least 1")
    if fmt not in ("pcap", "pcapng"):
        raise ValueError("format must be pcap or pcapng")
    started = time.perf_counter()
    distinct_leaves = max(1, min(distinct_leaves, MAX_LEAVES))
    k = pool_size if pool_size is not None else max(distinct_leaves, min(connections, 32))
    k = max(k, distinct_leaves)
    pki, pool = load_or_make_pool(seed, distinct_leaves, k, use_cache)
    leaves_sha = [lf.chain_sha256 for lf in pki.leaves]
    hs_cost = [_handshake_packets(tr) for tr in pool]
    rng = random.Random(f"layout/{seed}")
    n_clients = min(connections, MAX_CLIENT_HOSTS, max(1, connections // 3))
    port_base = [rng.randrange(32768, 60000) for _ in range(n_clients)]
    budgets = _budgets(packets, [hs_cost[i % k] for i in range(connections)], rng)
    specs: list[_ConnSpec] = []
    t = CAPTURE_EPOCH_US
    for i in range(connections):
        tr = pool[i % k]
        client = i % n_clients
        port = 32768 + (port_base[client] - 32768 + i // n_clients) % 28000
        t += rng.randint(200, 2500)
        specs.append(_ConnSpec(i, tr, _client_ip(client), port, _server_ip(tr.leaf_index), t,
                               budgets[i], seed))
    expected = [(sp.client_ip, sp.client_port, sp.server_ip, MYSQL_PORT,
                 leaves_sha[sp.transcript.leaf_index]) for sp in specs]

    written = 0
    with open(path, "wb", buffering=1 << 20) as f:
        writer: _PcapWriter | _PcapngWriter = (
            _PcapWriter(f) if fmt == "pcap" else _PcapngWriter(f))
        write = writer.write
        heap: list[tuple[int, int, bytes, Iterator[tuple[int, bytes]]]] = []
        nxt = 0
        while heap or nxt < connections:
            # Start connections lazily, in start order, so only the open ones hold state.
            while nxt < connections and (not heap or specs[nxt].start_us <= heap[0][0]):
                gen = _connection(specs[nxt])
                ts, frame = next(gen)
                heapq.heappush(heap, (ts, nxt, frame, gen))
                nxt += 1
            ts, idx, frame, gen = heap[0]
            write(ts, frame)
            written += 1
            item = next(gen, None)
            if item is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (item[0], idx, item[1], gen))
    _SEG_CACHE.clear()
    return GeneratedCapture(path=os.fspath(path), format=fmt, packets=written,
                            connections=connections, seconds=time.perf_counter() - started,
                            expected=expected)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--packets", type=int, default=10000,
                   help="target total frames; filled with queries and result sets")
    p.add_argument("--distinct-leaves", type=int, default=10)
    p.add_argument("--format", choices=("pcap", "pcapng"), default="pcap")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pool-size", type=int, default=None,
                   help="real TLS handshakes to make and replay (default: max(leaves, 32))")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the PKI cache")
    p.add_argument("--manifest", help="write what each connection carries as JSON here")
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args(argv)
    fmt: Format = "pcapng" if a.format == "pcapng" else "pcap"
    if a.connections < a.distinct_leaves:
        print(f"warning: {a.connections} connections can show only {a.connections} of the "
              f"{a.distinct_leaves} distinct leaves", file=sys.stderr)
    g = generate_capture(a.output, a.connections, a.packets, a.distinct_leaves, fmt, a.seed,
                         a.pool_size, not a.no_cache)
    size = os.path.getsize(a.output)
    print(f"{g.path}: {g.packets} packets, {g.connections} connections, "
          f"{len(g.leaf_sha256)} distinct leaves, {size / 1e6:.1f} MB in {g.seconds:.1f} s "
          f"({g.packets / max(g.seconds, 1e-9):,.0f} packets/s)", file=sys.stderr)
    if a.manifest:
        Path(a.manifest).write_text(json.dumps(g.to_json(), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
