"""What capture-tls reports for each real sample, checked against facts that do not come from
capture-tls: the certificates the lab gave the servers (samples/certs/), what the real clients
did (samples/manifest.json: exit status and error text), and the conditions each derived file
was made to show (samples/README.md)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from capture_tls.analysis.model import ConnectionReport
from capture_tls.analysis.options import AnalysisOptions
from capture_tls.analysis.pipeline import InputResult, analyze_file
from tests.samples import CERTS_DIR, LAB_PORTS, SAMPLES, SAMPLES_DIR

MANIFEST = json.loads((SAMPLES_DIR / "manifest.json").read_text())


def fingerprint(pem_name: str) -> str:
    cert = x509.load_pem_x509_certificate((CERTS_DIR / pem_name).read_bytes())
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def analyze(name: str, **kw: object) -> InputResult:
    opts = AnalysisOptions(ports=frozenset({3306, *LAB_PORTS}), **kw)  # type: ignore[arg-type]
    result = analyze_file(str(SAMPLES_DIR / name), 0, opts)
    assert not result.internal_errors
    return result


def codes(conn: ConnectionReport) -> set[str]:
    return {f.code for f in conn.findings}


def client_runs(name: str) -> list[dict]:
    return [r for r in MANIFEST[name] if r.get("host", "client") == "client"]


def connected(run: dict) -> bool:
    return bool(run["exit_status"] == 0)




def db_chain() -> list[str]:
    return [fingerprint("db-leaf.pem"), fingerprint("ca-intermediate.pem")]


@pytest.mark.parametrize("sample", [s.name for s in SAMPLES])
def test_every_sample_analyzes_without_a_bug(sample: str) -> None:
    result = analyze(sample)
    assert result.summary.error is None
    assert result.summary.packets > 0
    assert result.summary.sha256 is not None and len(result.summary.sha256) == 64


@pytest.mark.parametrize(
    "name",
    ["tls12-match.pcap", "any-sll.pcap", "any-sll2.pcap", "nanosecond.pcap", "ipv6.pcap",
     "multi-interface.pcapng", "port3307.pcap", "split-records.pcap",
     "derived/tls12-match-bigendian.pcap", "derived/vlan-8021q.pcap",
     "derived/bsd-loopback.pcap", "derived/raw-ip.pcap", "derived/tcp-reordered.pcap",
     "derived/tcp-retransmission.pcap", "derived/tcp-overlap.pcap",
     "derived/mid-connection.pcap", "derived/port-reuse.pcap"],
)
def test_the_chain_the_server_was_given_is_found(name: str) -> None:
    result = analyze(name)
    runs = client_runs(name.removeprefix("derived/")) if not name.startswith("derived/") \
        else client_runs("tls12-match.pcap")
    assert len(result.connections) == len(runs)
    for conn, run in zip(result.connections, runs, strict=True):
        assert [c.sha256 for c in conn.server_certificates] == db_chain(), conn.id
        assert conn.tls is not None and conn.tls.version == "TLS 1.2"
        assert conn.outcome == ("tls-established" if connected(run) else conn.outcome)
        assert not codes(conn) & {"MALFORMED", "STREAM_GAP", "TRUNCATED_CAPTURE"}
        leaf = conn.server_certificates[0]
        assert leaf.subject_cn == "db.lab.test"
        assert leaf.san_dns == ("db.lab.test", "db6.lab.test", "*.svc.lab.test")
        assert leaf.san_ip == ("10.77.1.20",)
        assert leaf.public_key == "RSA 2048"


def test_formats_and_link_types_are_reported() -> None:
    assert analyze("any-sll.pcap").summary.link_types == ("LINUX_SLL",)
    assert analyze("any-sll2.pcap").summary.link_types == ("LINUX_SLL2",)
    assert analyze("derived/bsd-loopback.pcap").summary.link_types == ("NULL",)
    assert analyze("derived/raw-ip.pcap").summary.link_types == ("RAW",)
    ng = analyze("multi-interface.pcapng").summary
    assert ng.format == "pcapng"
    assert analyze("ipv6.pcap").connections[0].client.ip.startswith("fd77:")


def test_nanosecond_timestamps_keep_their_order() -> None:
    result = analyze("nanosecond.pcap")
    assert result.summary.first_packet is not None and result.summary.last_packet is not None
    assert result.summary.first_packet <= result.connections[0].first_seen


def test_mismatch_sample_matches_what_each_real_client_did() -> None:
    result = analyze("tls12-mismatch.pcap")
    runs = client_runs("tls12-mismatch.pcap")
    assert len(result.connections) == len(runs) == 3
    outcomes = [c.outcome for c in result.connections]
    # 1: mariadb --ssl without verification connects; 2: mariadb verify rejects after the
    # handshake (FIN, no alert); 3: PyMySQL rejects inside the handshake (bad_certificate).
    assert [connected(r) for r in runs] == [True, False, False]
    assert outcomes == ["tls-established", "closed-after-handshake",
                        "client-rejected-certificate"]
    rejected = result.connections[2]
    assert rejected.tls is not None
    [alert] = rejected.tls.alerts
    assert (alert.sender, alert.level, alert.description, alert.encrypted) == (
        "client", "fatal", "bad_certificate", False)
    assert "CLIENT_REJECTED_CERT" in codes(rejected)
    assert "CLOSED_AFTER_HANDSHAKE" in codes(result.connections[1])
    for conn in result.connections:
        assert conn.intended_host is not None
        assert conn.intended_host.name == "legacy.lab.test"
        assert conn.intended_host.cname_chain == ("legacy.lab.test", "db.lab.test")
        assert {"HOSTNAME_MISMATCH", "MATCHES_CNAME_TARGET_ONLY"} <= codes(conn)
        assert conn.verdicts.verify_identity == "fail"


@pytest.mark.parametrize(("name", "alert"), [("reject-unknown-ca.pcap", "unknown_ca"),
                                             ("reject-expired.pcap", "certificate_expired")])
def test_in_handshake_rejections(name: str, alert: str) -> None:
    result = analyze(name)
    runs = client_runs(name)
    assert len(result.connections) == len(runs)
    for conn, run in zip(result.connections, runs, strict=True):
        assert not connected(run)
        assert conn.outcome == "client-rejected-certificate"
        assert conn.tls is not None
        assert [a.description for a in conn.tls.alerts if a.sender == "client"] == [alert]
        assert "CLIENT_REJECTED_CERT" in codes(conn)
    if name == "reject-expired.pcap":
        for conn in result.connections:
            assert conn.server_certificates[0].sha256 == fingerprint("expired-leaf.pem")
            assert "EXPIRED" in codes(conn)
            assert conn.verdicts.verify_ca == "fail"


def test_plaintext_logins() -> None:
    result = analyze("plaintext.pcap")
    users = [c.mysql.username for c in result.connections]
    assert users == ["plain", "tlsonly", "plain"]
    for conn in result.connections:
        assert conn.tls is None and not conn.mysql.ssl_request
        assert "NO_TLS" in codes(conn)
        assert conn.mysql.server_supports_ssl is True
    refused = result.connections[1]
    assert refused.outcome == "server-error"
    assert refused.mysql.error is not None
    assert (refused.mysql.error.code, refused.mysql.error.sql_state) == (1045, "28000")
    # the real client printed the same error
    assert client_runs("plaintext.pcap")[1]["last_output"].startswith("ERROR 1045 (28000)")
    assert "SERVER_REQUIRES_TLS" not in codes(refused)  # MariaDB says only "Access denied"
    assert result.connections[0].outcome == "plaintext"


def test_a_server_on_an_odd_port_is_found_by_its_greeting() -> None:
    result = analyze_file(str(SAMPLES_DIR / "port13306.pcap"), 0, AnalysisOptions())
    [conn] = result.connections
    assert conn.server.port == 13306
    assert conn.mysql.server_version and "MariaDB" in conn.mysql.server_version
    assert conn.server_certificates[0].sha256 == fingerprint("odd-selfsigned.pem")
    assert conn.server_certificates[0].self_signed
    assert "SELF_SIGNED" in codes(conn)


def test_port_option_finds_a_connection_whose_greeting_was_not_captured() -> None:
    # mid-connection.pcap moved to port 3307 would need --port; here: the greeting-less first
    # connection of mid-connection.pcap is found on 3306 only because 3306 is a MySQL port.
    without = analyze_file(str(SAMPLES_DIR / "derived/mid-connection.pcap"), 0,
                           AnalysisOptions(ports=frozenset({9999})))
    with_port = analyze("derived/mid-connection.pcap")
    assert len(with_port.connections) == 2
    assert len(without.connections) == 1  # only the one whose greeting is in the capture
    first = with_port.connections[0]
    assert first.mysql.server_version is None and first.mysql.ssl_request
    assert [c.sha256 for c in first.server_certificates] == db_chain()


def test_tls13_without_keys_says_so_and_keeps_what_is_visible() -> None:
    result = analyze("tls13.pcap")
    runs = client_runs("tls13.pcap")
    assert len(result.connections) == len(runs)
    for conn, run in zip(result.connections, runs, strict=True):
        assert conn.tls is not None
        assert conn.tls.version == "TLS 1.3"
        assert conn.tls.cipher_suite and conn.tls.cipher_suite.startswith("TLS_")
        assert conn.tls.certificate_visible is False
        assert conn.server_certificates == ()
        assert "CERT_NOT_VISIBLE_TLS13" in codes(conn)
        assert conn.outcome == ("tls-established" if connected(run) else conn.outcome)
        remedy = next(f.remedy for f in conn.findings if f.code == "CERT_NOT_VISIBLE_TLS13")
        assert "SSLKEYLOGFILE" in remedy


def test_client_certificate_and_certificate_request() -> None:
    result = analyze("client-cert.pcap")
    first = result.connections[0]
    assert [c.sha256 for c in first.client_certificates] == [
        fingerprint("client-x509user.pem"), fingerprint("ca-intermediate.pem")]
    assert first.client_certificates[0].subject_cn == "x509user"


def test_resumed_session_has_no_certificate() -> None:
    result = analyze("resumption-tls12.pcap")
    full, resumed = result.connections
    assert full.tls is not None and resumed.tls is not None
    assert not full.tls.resumed and resumed.tls.resumed
    assert [c.sha256 for c in full.server_certificates] == db_chain()
    assert resumed.server_certificates == ()
    assert "SESSION_RESUMED" in codes(resumed)


def test_small_snap_length_is_a_truncated_capture() -> None:
    [conn] = analyze("snaplen200.pcap").connections
    assert "TRUNCATED_CAPTURE" in codes(conn)
    remedy = next(f.remedy for f in conn.findings if f.code == "TRUNCATED_CAPTURE")
    assert "-s 0" in remedy


def test_a_missing_segment_is_a_gap_and_the_rest_is_still_analyzed() -> None:
    first, second = analyze("derived/tcp-gap.pcap").connections
    assert "STREAM_GAP" in codes(first)
    assert first.tls is not None and first.tls.version == "TLS 1.2"  # before the gap
    assert [c.sha256 for c in second.server_certificates] == db_chain()


def test_port_reuse_gives_two_connections() -> None:
    result = analyze("derived/port-reuse.pcap")
    a, b = result.connections
    assert (a.client, a.server) == (b.client, b.server)
    assert a.first_seen < b.first_seen and a.id != b.id


@pytest.mark.parametrize(
    "name",
    ["derived/malformed-certificate-der.pcap", "derived/malformed-garbage-after-sslrequest.pcap",
     "derived/malformed-handshake-16mb.pcap", "derived/malformed-mysql-packet-16mb.pcap",
     "derived/malformed-tls-record-65535.pcap"],
)
def test_malformed_input_is_a_finding_and_the_rest_is_analyzed(name: str) -> None:
    first, second = analyze(name).connections
    assert "MALFORMED" in codes(first)
    assert [c.sha256 for c in second.server_certificates] == db_chain()
    assert "MALFORMED" not in codes(second)


def test_ids_are_stable_and_ordered() -> None:
    a = [c.id for c in analyze("tls12-mismatch.pcap").connections]
    b = [c.id for c in analyze("tls12-mismatch.pcap").connections]
    assert a == b == ["0:1", "0:2", "0:3"]


def test_no_byte_of_a_finished_connection_reaches_reassembly(monkeypatch: pytest.MonkeyPatch,
                                                             ) -> None:
    from capture_tls.analysis import connection as connmod
    from capture_tls.analysis.tracker import ConnectionTracker

    calls: dict[int, int] = {}
    real_add = connmod.HalfStream.add

    def counting_add(self: connmod.HalfStream, seq: int, payload: bytes) -> Sequence[object]:
        calls[id(self)] = calls.get(id(self), 0) + 1
        return real_add(self, seq, payload)

    monkeypatch.setattr(connmod.HalfStream, "add", counting_add)
    snapshot: dict[int, int] = {}
    streams: list[int] = []
    real_report = ConnectionTracker._report

    def on_report(self: ConnectionTracker, conn: connmod.ConnectionState) -> None:
        for s in (conn.c2s, conn.s2c):
            snapshot[id(s)] = calls.get(id(s), 0)
            streams.append(id(s))
        real_report(self, conn)

    monkeypatch.setattr(ConnectionTracker, "_report", on_report)
    trackers: list[ConnectionTracker] = []
    real_init = ConnectionTracker.__init__

    def keep(self: ConnectionTracker, *a: object, **k: object) -> None:
        real_init(self, *a, **k)  # type: ignore[arg-type]
        trackers.append(self)

    monkeypatch.setattr(ConnectionTracker, "__init__", keep)
    result = analyze("tls12-match.pcap")
    assert len(result.connections) == 2
    assert streams
    for sid in streams:
        assert calls.get(sid, 0) == snapshot[sid]
    # and the capture does have packets after the handshakes were known
    assert trackers[0].segments_after_done > 10


def test_a_server_that_requires_tls_says_so() -> None:
    result = analyze("derived/server-requires-tls.pcap")
    refused = result.connections[1]
    assert refused.mysql.error is not None and refused.mysql.error.code == 3159
    assert refused.outcome == "server-error"
    assert {"NO_TLS", "SERVER_REQUIRES_TLS"} <= codes(refused)
    assert "SERVER_REQUIRES_TLS" not in codes(result.connections[0])
