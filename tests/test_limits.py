"""Every limit of DESIGN.md against a generated hostile capture: each run finishes in bounded
time and memory with the right warning or finding. The figures (peak RSS as the kernel counts
it for the child, wall time) are printed (`pytest -s`) and kept in the test's assertions."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests import synth

ROOT = Path(__file__).resolve().parent.parent
RSS_LIMIT_MB = 300
SECONDS_LIMIT = 90

_MEASURE = """
import resource, subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[1:], capture_output=True)
sys.stderr.buffer.write(r.stderr)
sys.stdout.buffer.write(r.stdout)
print(f"\\n@@ {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss} {time.monotonic() - t} "
      f"{r.returncode}", file=sys.stderr)
"""


def analyze_measured(path: Path, *extra: str) -> tuple[dict, float, float, int]:
    """(JSON report, peak RSS in MB, seconds, exit code) of `capture-tls analyze` on path."""
    r = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "capture_tls", "analyze",
         str(path), "--format", "json", *extra],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = [x for x in r.stderr.splitlines() if x.startswith("@@ ")][-1]
    _, rss_kb, secs, code = line.split()
    doc = json.loads(r.stdout)
    assert not [w for w in doc["warnings"] if w["code"] == "INTERNAL_ERROR"]
    print(f"\n{path.name}: peak RSS {int(rss_kb) / 1024:.0f} MB, {float(secs):.1f} s")
    return doc, int(rss_kb) / 1024, float(secs), int(code)


def test_200000_half_open_connections(tmp_path: Path) -> None:
    path = tmp_path / "syn-flood.pcap"
    with synth.pcap_writer(path) as f:
        ts = 1_764_000_000.0
        for i in range(200_000):
            client = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
            synth.write_frame(f, ts + i * 1e-5, synth.frame(client, "10.99.0.1", 40000 + i % 20000,
                                                            3306, 1000, 0, synth.SYN))
    doc, rss, secs, _ = analyze_measured(path)
    assert doc["inputs"][0]["packets"] == 200_000
    [limit] = [w for w in doc["warnings"] if w["code"] == "LIMIT_REACHED"]
    assert limit["count"] == 150_000  # 50,000 followed at once, the rest counted
    assert doc["connections"] == []  # SYNs alone say nothing about TLS
    assert rss < RSS_LIMIT_MB and secs < SECONDS_LIMIT


def test_100_mb_of_junk_after_an_ssl_request(tmp_path: Path) -> None:
    path = tmp_path / "junk.pcap"
    junk = os.urandom(1 << 20)
    messages = [(False, synth.greeting()), (True, synth.ssl_request())]
    messages += [(True, b"\x00\xff" + junk[2:])] + [(True, junk)] * 99
    with synth.pcap_writer(path) as f:
        for ts, fr in synth.conversation(("10.1.0.2", 50000), ("10.1.0.1", 3306), messages):
            synth.write_frame(f, ts, fr)
    assert path.stat().st_size > 100 * (1 << 20)
    doc, rss, secs, _ = analyze_measured(path)
    [conn] = doc["connections"]
    assert conn["mysql"]["ssl_request"] is True
    assert "MALFORMED" in {f["code"] for f in conn["findings"]}
    assert rss < RSS_LIMIT_MB and secs < SECONDS_LIMIT


def _tls_record(content_type: int, body: bytes) -> bytes:
    return bytes([content_type, 3, 3]) + len(body).to_bytes(2, "big") + body


def _handshake(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def test_10000_certificates_in_one_message(tmp_path: Path) -> None:
    certs = b"".join(len(c).to_bytes(3, "big") + c for c in [b"\x30\x03\x02\x01\x01"] * 10_000)
    message = _handshake(11, len(certs).to_bytes(3, "big") + certs)
    records = b"".join(_tls_record(22, message[i : i + 16384])
                       for i in range(0, len(message), 16384))
    hello = _tls_record(22, _handshake(2, b"\x03\x03" + b"\x11" * 32 + b"\x00" + b"\xc0\x2f"
                                       + b"\x00" + b"\x00\x00"))
    client_hello = _tls_record(22, _handshake(1, b"\x03\x03" + b"\x22" * 32 + b"\x00"
                                              + b"\x00\x02\xc0\x2f" + b"\x01\x00"))
    messages = [(False, synth.greeting()), (True, synth.ssl_request()), (True, client_hello),
                (False, hello + records)]
    path = tmp_path / "many-certs.pcap"
    with synth.pcap_writer(path) as f:
        for ts, fr in synth.conversation(("10.1.0.2", 50001), ("10.1.0.1", 3306), messages):
            synth.write_frame(f, ts, fr)
    doc, rss, secs, _ = analyze_measured(path)
    [conn] = doc["connections"]
    codes = [f["code"] for f in conn["findings"]]
    assert "MALFORMED" in codes
    assert any("more certificates than the limit" in f["message"] for f in conn["findings"])
    assert rss < RSS_LIMIT_MB and secs < SECONDS_LIMIT


def test_a_certificate_with_100000_sans(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "big.example")])
    now = dt.datetime.now(dt.UTC)
    sans = [x509.DNSName(f"{i:x}.x") for i in range(100_000)]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256()))
    cert_pem, key_pem = tmp_path / "big.pem", tmp_path / "big.key"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    messages = [(False, synth.greeting()), (True, synth.ssl_request()),
                *synth.tls12_handshake(cert_pem, key_pem)]
    path = tmp_path / "big-san.pcap"
    with synth.pcap_writer(path) as f:
        for ts, fr in synth.conversation(("10.1.0.2", 50002), ("10.1.0.1", 3306), messages,
                                         ts=time.time()):
            synth.write_frame(f, ts, fr)
    doc, rss, secs, _ = analyze_measured(path, "--host", "1.x")
    [conn] = doc["connections"]
    [leaf] = conn["server_certificates"]
    assert len(leaf["san_dns"]) == 10_000  # Limits.max_san_entries
    assert leaf["subject_cn"] == "big.example"
    # OpenSSL's client refuses a certificate list over 100 KB (SSL_CTX_set_max_cert_list)
    assert rss < RSS_LIMIT_MB and secs < SECONDS_LIMIT


@pytest.mark.parametrize("declared", [0xFFFFFF, 0x10000])
def test_a_mysql_packet_declaring_megabytes(tmp_path: Path, declared: int) -> None:
    bogus = declared.to_bytes(3, "little") + b"\x00" + b"\x0a" * 1000
    path = tmp_path / "big-mysql.pcap"
    with synth.pcap_writer(path) as f:
        for ts, fr in synth.conversation(("10.1.0.2", 50003), ("10.1.0.1", 3306),
                                         [(False, bogus), (True, synth.ssl_request())]):
            synth.write_frame(f, ts, fr)
    doc, rss, secs, _ = analyze_measured(path)
    [conn] = doc["connections"]
    assert "MALFORMED" in {f["code"] for f in conn["findings"]}
    assert rss < RSS_LIMIT_MB and secs < SECONDS_LIMIT
