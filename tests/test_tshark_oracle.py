"""Every sample capture, dissected by capture-tls and by tshark (via pyshark): the set of MySQL
connections both find is equal and not empty, and for every connection the TLS version, cipher
suite, SNI, and every certificate's fingerprint, SANs and subject agree."""

from __future__ import annotations

import shutil

import pytest

from capture_tls.analysis.options import AnalysisOptions
from capture_tls.analysis.pipeline import analyze_file
from tests.samples import LAB_PORTS, NEGATIVE_SAMPLES, ORACLE_SAMPLES, SAMPLES_DIR, Sample
from tests.tshark_oracle import dissect

pytestmark = pytest.mark.skipif(
    shutil.which("tshark") is None and not __import__("os").environ.get("CI"),
    reason="tshark is installed by scripts/install-test-deps.sh",
)


@pytest.mark.parametrize("sample", ORACLE_SAMPLES, ids=[s.name for s in ORACLE_SAMPLES])
def test_capture_tls_and_tshark_agree(sample: Sample) -> None:
    path = str(SAMPLES_DIR / sample.name)
    # Only the lab's own MySQL ports are named; port 13306 is found by its greeting.
    ours = analyze_file(path, 0, AnalysisOptions(ports=frozenset({3306, *LAB_PORTS})))
    assert not ours.internal_errors
    theirs = dissect(path, sample.tshark_decode_as)
    mine = {(c.client.ip, c.client.port, c.server.ip, c.server.port): c for c in ours.connections}
    assert mine, "capture-tls found no connection"
    assert set(mine) == set(theirs)
    for key, conn in mine.items():
        t = theirs[key]
        tls = conn.tls
        assert (tls.version if tls else None) == t.tls_version, key
        assert (tls.cipher_suite if tls else None) == t.cipher_suite, key
        assert (tls.sni if tls else None) == t.sni, key
        our_server = [c.sha256 for c in conn.server_certificates] or None
        assert our_server == t.server_cert_sha256, key
        our_client = [c.sha256 for c in conn.client_certificates] or None
        assert our_client == (t.client_cert_sha256 or None), key
        if conn.server_certificates:
            assert [n for c in conn.server_certificates for n in c.san_dns] == t.server_san_dns
            for cert in conn.server_certificates:
                if cert.subject_cn:
                    assert cert.subject_cn in t.server_name_strings, cert.subject


@pytest.mark.parametrize("sample", NEGATIVE_SAMPLES, ids=[s.name for s in NEGATIVE_SAMPLES])
def test_other_protocols_are_not_taken_for_mysql(sample: Sample) -> None:
    path = str(SAMPLES_DIR / sample.name)
    ours = analyze_file(path, 0, AnalysisOptions(ports=frozenset({3306, *LAB_PORTS})))
    assert ours.summary.packets > 0
    assert ours.connections == []
    assert not ours.internal_errors
    # tshark sees TLS there (HTTPS, PostgreSQL's STARTTLS) but no MySQL greeting
    assert not any(c.mysql_greeting for c in dissect(path, sample.tshark_decode_as).values())
