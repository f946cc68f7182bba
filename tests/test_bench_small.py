"""The benchmark in small: the generator's captures are what tshark sees, and the runner produces
its figures with capture-tls and tshark agreeing on every certificate. No timing assertion."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.gen_capture import GeneratedCapture, generate_capture  # noqa: E402
from bench.run_bench import (  # noqa: E402
    TSHARK_FIELDS,
    compare,
    count_packets,
    tshark_certificates,
)

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

CONNECTIONS = 50
PACKETS = 3000
LEAVES = 12


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("pki-cache")
    old = os.environ.get("CAPTURE_TLS_BENCH_CACHE")
    os.environ["CAPTURE_TLS_BENCH_CACHE"] = str(d)
    yield d
    if old is None:
        del os.environ["CAPTURE_TLS_BENCH_CACHE"]
    else:
        os.environ["CAPTURE_TLS_BENCH_CACHE"] = old


@pytest.fixture(scope="module", params=["pcap", "pcapng"])
def small(request: pytest.FixtureRequest, cache_dir: Path,
          tmp_path_factory: pytest.TempPathFactory) -> GeneratedCapture:
    fmt = request.param
    path = tmp_path_factory.mktemp("bench") / f"small.{fmt}"
    return generate_capture(path, CONNECTIONS, PACKETS, LEAVES, fmt, seed=7)


def tshark(*args: str) -> str:
    r = subprocess.run(["tshark", *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def tshark_cert_fields(path: str) -> str:
    return tshark("-r", path, "-Y", "tls.handshake.type==11", "-T", "fields",
                  *[a for f in TSHARK_FIELDS for a in ("-e", f)])


def test_packet_count_is_the_target(small: GeneratedCapture) -> None:
    assert small.packets == PACKETS
    assert count_packets(small.path) == PACKETS
    frames = tshark("-r", small.path, "-T", "fields", "-e", "frame.number").split()
    assert len(frames) == PACKETS
    kind = tshark("-r", small.path, "-c", "1", "-T", "fields", "-e", "frame.protocols")
    assert kind.strip() == "eth:ethertype:ip:tcp"


def test_tshark_sees_the_certificates_the_generator_made(small: GeneratedCapture) -> None:
    seen = tshark_certificates(tshark_cert_fields(small.path))
    expected = {(ci, cp, si, sp): chain for ci, cp, si, sp, chain in small.expected}
    assert len(expected) == CONNECTIONS
    assert seen == expected
    leaves = {chain[0] for chain in seen.values()}
    assert len(leaves) >= LEAVES


def test_certificates_are_varied_and_mysql_style_ones_are_utf8(small: GeneratedCapture) -> None:
    out = tshark_cert_fields(small.path)
    ders = {bytes.fromhex(h) for line in out.splitlines() for h in line.split("\t")[4].split(",")}
    certs = [x509.load_der_x509_certificate(d) for d in ders]
    assert {hashlib.sha256(d).hexdigest() for d in ders} == small.certificate_sha256
    auto = [c for c in certs
            if "Auto_Generated_Server_Certificate" in c.subject.rfc4514_string()]
    assert auto, "no MySQL-auto-generated-style certificate"
    for c in auto:
        (cn,) = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        assert cn._type == x509.name._ASN1Type.UTF8String
    assert any(isinstance(c.public_key(), rsa.RSAPublicKey) for c in certs)
    assert any(isinstance(c.public_key(), ec.EllipticCurvePublicKey) for c in certs)


def test_tshark_finds_no_bad_checksum_malformed_or_tcp_analysis_flag(
        small: GeneratedCapture) -> None:
    bad = tshark("-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
                 "-r", small.path, "-Y",
                 "_ws.malformed || tcp.checksum.status==0 || ip.checksum.status==0"
                 " || _ws.expert.severity >= warning || tcp.analysis.flags")
    assert bad == ""
    good = tshark("-o", "tcp.check_checksum:TRUE", "-r", small.path, "-Y",
                  "tcp.checksum.status==1", "-T", "fields", "-e", "frame.number").split()
    assert len(good) == PACKETS  # the checksums were really verified, not skipped


def test_every_connection_has_greeting_sslrequest_handshake_and_fin(
        small: GeneratedCapture) -> None:
    def count(flt: str) -> int:
        return len(tshark("-r", small.path, "-Y", flt, "-T", "fields",
                          "-e", "frame.number").split())

    assert count("mysql.protocol == 10") == CONNECTIONS  # greetings
    assert count("tls.handshake.type == 1") == CONNECTIONS  # ClientHello
    assert count("tls.handshake.type == 2") == CONNECTIONS  # ServerHello
    assert count("tls.record.content_type == 23") > CONNECTIONS * 4
    assert count("tcp.flags.syn == 1 && tcp.flags.ack == 0") == CONNECTIONS
    assert count("tcp.flags.fin == 1") == 2 * CONNECTIONS
    # Application data spans segments: some TLS records were reassembled from several.
    assert count("tcp.reassembled.length > 1448") > 0
    # Time only moves forward, and the connections overlap in time.
    assert count("frame.time_delta < 0") == 0
    first_fin = int(tshark("-r", small.path, "-Y", "tcp.flags.fin == 1", "-T", "fields",
                           "-e", "frame.number").split()[0])
    assert count(f"frame.number > {first_fin} && tcp.flags.syn == 1") > 0


@pytest.mark.parametrize("packets", [0, 17, 18, 19, 20, 21, 500, 1001])
def test_packet_target_is_met_exactly_when_above_the_minimum(
        packets: int, cache_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.pcap"
    g = generate_capture(path, 1, packets, 1, "pcap", seed=7)
    minimum = generate_capture(tmp_path / "min.pcap", 1, 0, 1, "pcap", seed=7).packets
    assert 16 <= minimum <= 18
    assert g.packets == max(packets, minimum)
    assert count_packets(str(path)) == g.packets


def test_same_seed_same_bytes(small: GeneratedCapture, tmp_path: Path) -> None:
    again = tmp_path / ("again." + small.format)
    generate_capture(again, CONNECTIONS, PACKETS, LEAVES, small.format, seed=7)  # type: ignore[arg-type]
    assert again.read_bytes() == Path(small.path).read_bytes()


def test_compare_reports_every_kind_of_difference(small: GeneratedCapture) -> None:
    seen = tshark_certificates(tshark_cert_fields(small.path))
    assert compare(dict(seen), seen).agree
    keys = sorted(seen)
    changed = dict(seen)
    del changed[keys[0]]
    changed[keys[1]] = ("00" * 32,)
    changed[("10.77.99.1", 1, "10.77.0.1", 3306)] = ("11" * 32,)
    a = compare(changed, seen)
    assert not a.agree
    assert a.only_tshark == [keys[0]]
    assert a.different == [keys[1]]
    assert a.only_capture_tls == [("10.77.99.1", 1, "10.77.0.1", 3306)]
    assert not compare({}, {}).agree  # nothing found is no agreement


def _env() -> dict[str, str]:
    """The analyzer of this tree, unless PYTHONPATH names another one first."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [*filter(None, [os.environ.get("PYTHONPATH")]), str(ROOT)]))


def test_run_bench_produces_figures_and_the_certificates_agree(
        small: GeneratedCapture, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "run_bench.py"), small.path,
                        "--runs", "1", "--json", str(out), "--timeout", "600"],
                       capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(out.read_text())
    assert res["packets"] == PACKETS
    tools = ("capture-tls", "capture-tls-1core", "tshark", "tcpdump") if shutil.which(
        "tcpdump") else ("capture-tls", "capture-tls-1core", "tshark")
    assert shutil.which("taskset"), "taskset (util-linux) pins the one-core run"
    assert res["commands"]["capture-tls-1core"][:2] == [shutil.which("taskset"), "-c"]
    assert res["commands"]["capture-tls-1core"][-3:] == ["--jobs", "1", small.path]
    for tool in tools:
        t = res["tools"][tool]
        assert t["median_seconds"] > 0, tool
        assert t["packets_per_second"] > 0, tool
        assert t["peak_max_rss_kb"] > 0, tool
    assert res["ratio_capture_tls_to_tshark"] > 0
    certs = res["certificates"]
    assert certs["agree"] is True
    assert certs["connections_with_certificates"] == {"capture-tls": CONNECTIONS,
                                                      "tshark": CONNECTIONS}
    assert res["ok"] is True
    assert "agree" in r.stdout and "packets/s" in r.stdout


def test_scaling_produces_figures_for_every_format_and_jobs(
        small: GeneratedCapture, tmp_path: Path) -> None:
    out = tmp_path / "scaling.json"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "scaling.py"), small.path,
                        "--formats", "jsonl,json", "--jobs", "1,2", "--json", str(out)],
                       capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = json.loads(out.read_text())["rows"]
    assert {(row["format"], row["jobs"]) for row in rows} == {
        ("jsonl", 1), ("jsonl", 2), ("json", 1), ("json", 2)}
    for row in rows:
        assert row["packets"] == PACKETS and row["seconds"] > 0
        assert row["exits"] == [1] or row["exits"] == [0]
        assert 20 < row["max_rss_mib"] < 1000 and row["tree_rss_peak_mib"] >= 20
        if row["format"] == "jsonl":
            assert 0 < row["first_line_seconds"] < 60
    assert "| jsonl | 1 |" in r.stdout
