"""Every limit of DESIGN.md against a generated hostile capture: each run finishes in bounded
time and memory with the right warning or finding. The captures and the measurement (peak RSS
of the analyzing child, from os.wait4, and wall time) are bench/limits.py's, which prints the
same figures as a table (`python bench/limits.py`); here they are printed (`pytest -s`) and
kept under the bounds below."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import limits

RSS_LIMIT_MB = 300
SECONDS_LIMIT = 90


def analyze_measured(path: Path, *extra: str) -> tuple[dict[str, Any], float, float, int]:
    """(JSON report, peak RSS in MiB, seconds, exit code) of `capture-tls analyze` on path."""
    m = limits.analyze_measured(path, *extra)
    assert not [w for w in m.report["warnings"] if w["code"] == "INTERNAL_ERROR"]
    print(f"\n{path.name}: peak RSS {m.rss_mib:.0f} MiB, {m.seconds:.1f} s")
    return m.report, m.rss_mib, m.seconds, m.exit_code


def test_200000_half_open_connections(tmp_path: Path) -> None:
    path = tmp_path / "syn-flood.pcap"
    limits.write_half_open_flood(path, 200_000)
    doc, rss, secs, _ = analyze_measured(path)
    assert doc["inputs"][0]["packets"] == 200_000
    [limit] = [w for w in doc["warnings"] if w["code"] == "LIMIT_REACHED"]
    assert limit["count"] == 150_000  # 50,000 followed at once, the rest counted
    assert doc["connections"] == []  # SYNs alone say nothing about TLS
    assert rss < RSS_LIMIT_MB and secs < SECONDS_LIMIT


def test_100_mb_of_junk_after_an_ssl_request(tmp_path: Path) -> None:
    path = tmp_path / "junk.pcap"
    limits.write_junk_after_ssl_request(path, 100)
    assert path.stat().st_size > 100 * (1 << 20)
    doc, rss, secs, _ = analyze_measured(path)
    [conn] = doc["connections"]
    assert conn["mysql"]["ssl_request"] is True
    assert "MALFORMED" in {f["code"] for f in conn["findings"]}
    assert rss < RSS_LIMIT_MB and secs < SECONDS_LIMIT


def test_a_handshake_message_declaring_2_to_the_24(tmp_path: Path) -> None:
    path = tmp_path / "big-handshake.pcap"
    limits.write_huge_handshake_message(path)
    doc, rss, secs, _ = analyze_measured(path)
    [conn] = doc["connections"]
    [malformed] = [f for f in conn["findings"] if f["code"] == "MALFORMED"]
    assert "declares 16777215 bytes" in malformed["message"]
    assert conn["server_certificates"] == []
    assert rss < RSS_LIMIT_MB and secs < SECONDS_LIMIT


def test_a_tls_record_declaring_2_to_the_16(tmp_path: Path) -> None:
    path = tmp_path / "big-record.pcap"
    limits.write_huge_tls_record(path)
    doc, rss, secs, _ = analyze_measured(path)
    [conn] = doc["connections"]
    [malformed] = [f for f in conn["findings"] if f["code"] == "MALFORMED"]
    assert "record declares 65535 bytes" in malformed["message"]
    assert rss < RSS_LIMIT_MB and secs < SECONDS_LIMIT


def test_10000_certificates_in_one_message(tmp_path: Path) -> None:
    path = tmp_path / "many-certs.pcap"
    limits.write_many_certificates(path, 10_000)
    doc, rss, secs, _ = analyze_measured(path)
    [conn] = doc["connections"]
    codes = [f["code"] for f in conn["findings"]]
    assert "MALFORMED" in codes
    assert any("more certificates than the limit" in f["message"] for f in conn["findings"])
    assert rss < RSS_LIMIT_MB and secs < SECONDS_LIMIT


def test_a_certificate_with_100000_sans(tmp_path: Path) -> None:
    path = tmp_path / "big-san.pcap"
    extra = limits.write_many_sans(path, 100_000)
    assert extra == ["--host", "1.x"]
    doc, rss, secs, _ = analyze_measured(path, *extra)
    [conn] = doc["connections"]
    [leaf] = conn["server_certificates"]
    assert len(leaf["san_dns"]) == 10_000  # Limits.max_san_entries
    assert leaf["subject_cn"] == "big.example"
    # OpenSSL's client refuses a certificate list over 100 KB (SSL_CTX_set_max_cert_list)
    assert rss < RSS_LIMIT_MB and secs < SECONDS_LIMIT


@pytest.mark.parametrize("declared", [0xFFFFFF, 0x10000])
def test_a_mysql_packet_declaring_megabytes(tmp_path: Path, declared: int) -> None:
    path = tmp_path / "big-mysql.pcap"
    limits.write_big_mysql_packet(path, declared)
    doc, rss, secs, _ = analyze_measured(path)
    [conn] = doc["connections"]
    assert "MALFORMED" in {f["code"] for f in conn["findings"]}
    assert rss < RSS_LIMIT_MB and secs < SECONDS_LIMIT


def test_the_benchmark_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    """bench/limits.py itself, on the small cases: a row per case, the figures in --json."""
    out = tmp_path / "limits.json"
    code = limits.main(["--case", "mysql-16mb", "--case", "record-2^16", "--json", str(out)])
    assert code == 0
    table = capsys.readouterr().out
    assert "mysql-16mb" in table and "record-2^16" in table and "FAILED" not in table
    rows = json.loads(out.read_text())["cases"]
    assert [r["case"] for r in rows] == ["record-2^16", "mysql-16mb"]
    for r in rows:
        assert r["ok"] is True
        assert 0 < r["peak_rss_mib"] < RSS_LIMIT_MB
        assert 0 < r["seconds"] < SECONDS_LIMIT
        assert r["packets"] > 0
