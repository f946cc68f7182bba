"""TLS 1.3 end to end on real captures (samples/tls13/, recorded by samples/lab/record_tls13.py):
the decrypted chain equals the one the server was given and what tshark shows with the same key
log; without keys the report says so and keeps what is visible; wrong or missing keys are
findings, never crashes; inject-keys and editcap pcapngs analyze without --keylog."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from capture_tls.analysis.inject import read_keylog_file
from capture_tls.analysis.options import AnalysisOptions
from capture_tls.analysis.pipeline import InputResult, analyze_file
from capture_tls.protocols.keylog import KeyLog
from tests.samples import SAMPLES_DIR
from tests.test_cli import run, run_json
from tests.tshark_oracle import dissect

TLS13 = SAMPLES_DIR / "tls13"
MANIFEST = json.loads((TLS13 / "manifest.json").read_text())
CAPTURES = sorted(p.name for p in TLS13.glob("*.pcap"))
SUITES = {
    "aes128gcm.pcap": "TLS_AES_128_GCM_SHA256",
    "aes256gcm.pcap": "TLS_AES_256_GCM_SHA384",
    "chacha20.pcap": "TLS_CHACHA20_POLY1305_SHA256",
    "aes128ccm.pcap": "TLS_AES_128_CCM_SHA256",
    "aes128ccm8.pcap": "TLS_AES_128_CCM_8_SHA256",
}
PORTS = frozenset({3306, 3307})


def fp(name: str) -> str:
    cert = x509.load_pem_x509_certificate((TLS13 / "certs" / name).read_bytes())
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def analyze(name: str, keylog: KeyLog | None) -> InputResult:
    result = analyze_file(str(TLS13 / name), 0, AnalysisOptions(ports=PORTS, keylog=keylog))
    assert not result.internal_errors
    return result


def keylog_of(name: str) -> KeyLog:
    return read_keylog_file(str(TLS13 / name.replace(".pcap", ".keylog")))


@pytest.mark.parametrize("name", CAPTURES)
def test_decrypted_chain_is_the_servers_and_tsharks(name: str) -> None:
    result = analyze(name, keylog_of(name))
    runs = MANIFEST[name]
    assert len(result.connections) == len(runs)
    keys = TLS13 / name.replace(".pcap", ".keylog")
    keys = TLS13 / name.replace(".pcap", ".keylog")
    theirs = dissect(str(TLS13 / name), {"tcp.port==3307": "mysql"},
                     extra_prefs=["-o", f"tls.keylog_file:{keys}"])
    for conn, real in zip(result.connections, runs, strict=True):
        assert conn.tls is not None and conn.tls.version == "TLS 1.3"
        assert conn.tls.decrypted and conn.tls.certificate_visible
        chain = [c.sha256 for c in conn.server_certificates]
        assert chain == [fp("db-leaf.pem"), fp("ca-intermediate.pem")]
        key = (conn.client.ip, conn.client.port, conn.server.ip, conn.server.port)
        assert theirs[key].server_cert_sha256 == chain
        assert theirs[key].cipher_suite == conn.tls.cipher_suite
        if name in SUITES:
            assert conn.tls.cipher_suite == SUITES[name]
        connected = real["exit_status"] == 0
        assert (conn.outcome == "tls-established") == connected, (name, conn.outcome)
        assert "CERT_NOT_VISIBLE_TLS13" not in {f.code for f in conn.findings}


def test_client_certificate_is_decrypted_too() -> None:
    [conn] = analyze("client-cert.pcap", keylog_of("client-cert.pcap")).connections
    assert [c.sha256 for c in conn.client_certificates] == [fp("client-x509user.pem"),
                                                           fp("ca-intermediate.pem")]


def test_rejection_alerts_plain_and_encrypted() -> None:
    py, go = analyze("reject-name.pcap", keylog_of("reject-name.pcap")).connections
    for conn in (py, go):
        assert conn.outcome == "client-rejected-certificate"
        assert conn.tls is not None
        [alert] = [a for a in conn.tls.alerts if a.sender == "client"]
        assert alert.description == "bad_certificate"
    # OpenSSL 3.0 (Python) sends it in clear before switching keys; Go under its handshake key
    assert [a.encrypted for a in py.tls.alerts if a.sender == "client"] == [False]  # type: ignore[union-attr]
    assert [a.encrypted for a in go.tls.alerts if a.sender == "client"] == [True]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", CAPTURES)
def test_without_keys_the_visible_facts_stay(name: str) -> None:
    with_keys = analyze(name, keylog_of(name)).connections
    without = analyze(name, None).connections
    assert len(with_keys) == len(without)
    for a, b in zip(with_keys, without, strict=True):
        assert b.tls is not None and a.tls is not None
        assert (b.tls.version, b.tls.cipher_suite, b.tls.sni) == (a.tls.version,
                                                                  a.tls.cipher_suite, a.tls.sni)
        assert b.outcome == a.outcome
        assert not b.tls.certificate_visible and b.server_certificates == ()
        assert "CERT_NOT_VISIBLE_TLS13" in {f.code for f in b.findings}


def test_wrong_and_missing_keys_are_findings() -> None:
    other = keylog_of("aes256gcm.pcap")  # secrets of other connections
    [conn] = analyze("aes128gcm.pcap", other).connections
    assert "KEYLOG_NO_SECRET" in {f.code for f in conn.findings}
    # the right client random with a wrong secret
    text = (TLS13 / "aes128gcm.keylog").read_text()
    broken = "\n".join(
        " ".join([*parts[:2], "00" * (len(parts[2]) // 2)]) if len(parts) == 3 else line
        for line in text.splitlines() for parts in [line.split()]
    )
    [conn] = analyze("aes128gcm.pcap", KeyLog.parse(broken, "broken")).connections
    codes = {f.code for f in conn.findings}
    assert "DECRYPTION_FAILED" in codes and "CERT_NOT_VISIBLE_TLS13" in codes
    assert conn.outcome == "tls-established"  # the record sizes still tell


def test_bad_key_log_lines_are_reported_and_the_rest_used(tmp_path: Path) -> None:
    good = (TLS13 / "aes128gcm.keylog").read_text()
    bad = tmp_path / "keys.log"
    bad.write_text("# a comment\nthis is not a key log line\n" + good + "CLIENT_RANDOM zz\n")
    code, out, err = run("analyze", str(TLS13 / "aes128gcm.pcap"), "--keylog", str(bad),
                         "--format", "json")
    assert "keys.log:2:" in err and "Traceback" not in err
    doc = json.loads(out)
    assert doc["connections"][0]["tls"]["decrypted"] is True
    assert code == 0


def test_inject_keys_then_analyze_without_keylog(tmp_path: Path) -> None:
    out = tmp_path / "with-keys.pcapng"
    code, _, err = run("inject-keys", str(TLS13 / "hrr.pcap"), str(TLS13 / "hrr.keylog"),
                       str(TLS13 / "aes128gcm.keylog"), "-o", str(out))
    assert code == 0, err
    assert "2 of 2" in err
    code, doc = run_json("analyze", str(out), "--port", "3307")
    assert [c["tls"]["decrypted"] for c in doc["connections"]] == [True, True]
    assert doc["inputs"][0]["format"] == "pcapng"
    # only the secrets of this capture's connections were embedded
    r = subprocess.run(["tshark", "-r", str(out), "-o", "tcp.reassemble_out_of_order:TRUE",
                        "-d", "tcp.port==3307,mysql", "-Y", "tls.handshake.type==11",
                        "-T", "fields", "-e", "tcp.stream"],
                       capture_output=True, text=True, timeout=120)
    assert set(r.stdout.split()) == {"0", "1"}  # tshark decrypts both with the embedded secrets
    blob = out.read_bytes()
    for rnd in keylog_of("aes128gcm.pcap").client_randoms:
        assert rnd.hex().encode() not in blob


def test_editcap_embedded_secrets() -> None:
    code, doc = run_json("analyze", str(TLS13 / "editcap-embedded.pcapng"))
    [conn] = doc["connections"]
    assert conn["tls"]["decrypted"] and len(conn["server_certificates"]) == 2
    assert code == 0


