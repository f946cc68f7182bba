"""The report path's memos (per chain, per judgement and time span, rendered fragments) give
exactly what a fresh computation gives, and tell apart what they must: another host, another
time class, another day to expiry, another capture time in a message, other options."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from capture_tls.analysis import certificates, chain, clients, hostname, report_builder
from capture_tls.analysis.connection import ConnectionState, LadderStep
from capture_tls.analysis.model import ConnectionReport
from capture_tls.analysis.options import AnalysisOptions, HostRule
from capture_tls.analysis.report_builder import build_report
from capture_tls.limits import DEFAULT_LIMITS
from capture_tls.protocols import tls
from capture_tls.reporting import json_report

T0 = dt.datetime(2026, 3, 2, 10, 0, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


class _Cert:
    def __init__(self, cn: str, issuer: _Cert | None = None, *, ca: bool = False,
                 not_before: dt.datetime = T0 - 100 * DAY,
                 not_after: dt.datetime = T0 + 365 * DAY, san: list[str] | None = None) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        b = (x509.CertificateBuilder().subject_name(subject)
             .issuer_name(issuer.cert.subject if issuer else subject)
             .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(not_before).not_valid_after(not_after)
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in san]),
                                critical=False)
        self.cert = b.sign(issuer.key if issuer else self.key, hashes.SHA256())
        self.der = self.cert.public_bytes(serialization.Encoding.DER)
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)


ROOT = _Cert("Cache Root", ca=True, not_before=T0 - 1000 * DAY, not_after=T0 + 3000 * DAY)
INTER = _Cert("Cache Inter", ROOT, ca=True, not_before=T0 - 500 * DAY,
              not_after=T0 + 40 * DAY)
OTHER = _Cert("Other Root", ca=True)
SOON = _Cert("db.example.com", INTER, not_after=T0 + 20 * DAY, san=["db.example.com"])
WILD = _Cert("*.example.com", ROOT, san=["*.example.com"])
EXPIRED = _Cert("old.example.com", INTER, not_after=T0 - DAY, san=["old.example.com"])
FUTURE = _Cert("new.example.com", INTER, not_before=T0 + DAY, san=["new.example.com"])
CN_ONLY = _Cert("cn.example.com", ROOT)
SELF = _Cert("self.example.com", san=["self.example.com"])

CHAINS: list[tuple[bytes, ...] | None] = [
    (SOON.der, INTER.der),
    (SOON.der,),
    (WILD.der,),
    (EXPIRED.der, INTER.der),
    (FUTURE.der, INTER.der),
    (CN_ONLY.der,),
    (SELF.der,),
    (b"\x30\x03abc", SOON.der),  # an unreadable leaf before a readable one
    (SOON.der, b"\x30\x01"),  # a readable leaf before an unreadable one
    None,  # no certificate seen
]
SNIS = [None, "db.example.com", "other.example.com", "a.b.example.com", "cn.example.com",
        "self.example.com", "10.0.0.1"]
SERVERS = [("10.0.0.1", 3306), ("10.0.0.2", 3306), ("10.0.0.3", 3307)]
OPTIONS = [
    AnalysisOptions(),
    AnalysisOptions(ca_pem=ROOT.pem),
    AnalysisOptions(expires_soon_days=5, hosts=(HostRule("db.example.com", "10.0.0.2"),)),
    AnalysisOptions(ca_pem=OTHER.pem + ROOT.pem, hosts=(HostRule("other.example.com"),)),
]
_T0 = T0.timestamp()
# Times around the dates where something changes: the soon-expiring leaf's notAfter and the
# days before it (EXPIRES_SOON's count), the intermediate's notAfter, the other leaves' dates.
_EDGES = [_T0, _T0 + 20 * 86400, _T0 + 40 * 86400, _T0 - 86400, _T0 + 86400]
TIMES = sorted({e - k * 86400 + off for e in _EDGES for k in (0, 1, 5, 15)
                for off in (-1.5, -0.5, -1e-6, 0.0, 1e-6, 0.25, 1.0, 3600.0)}
               | {_T0 + 43200.0 + k for k in range(8)})  # inside one span: judgements reused


def _conn(chain_der: tuple[bytes, ...] | None, sni: str | None, server: tuple[str, int],
          ts: float, number: int) -> ConnectionState:
    conn = ConnectionState(limits=DEFAULT_LIMITS, client=("10.1.0.1", 40000 + number),
                           server=server, first_ts=ts, number=number)
    conn.client_hello = tls.ClientHello(0x0303, bytes(32), b"", (0x1301,), sni, (), (), ())
    conn.server_certificates = chain_der
    conn.client_app_data = True
    conn.ladder = (LadderStep(ts + 0.0001, "client", "ClientHello"),
                   LadderStep(ts + 0.0002, "server", "Certificate"),
                   LadderStep(ts + 1.9999996, "client", "Finished (encrypted)"))
    return conn


def _clear_caches() -> None:
    for d in (report_builder._CHAINS, report_builder._JUDGED, report_builder._SHARED,
              report_builder._SECONDS, chain._results, chain._chain_dates, chain._anchor_edges,
              clients._VERDICT_CACHE, clients._IS_IP, hostname._CHECKED,
              json_report._COMPACT, json_report._INDENTED):
        d.clear()
    chain._bundle_cache.clear()
    certificates._DEFAULT_CACHE = certificates.CertificateCache()


def _rendered(report: ConnectionReport) -> tuple[str, bytes]:
    return json_report.render_jsonl_connection(report), json_report.connection_json(report)


def _slow(report: ConnectionReport) -> tuple[str, bytes]:
    """Without any cached fragment: the renderings as they were before the caches."""
    obj = json_report.connection_to_dict(report)
    return (json_report._dumps(obj, indent=None),
            json_report._dumps(obj, indent=2).encode("utf-8"))


Item = tuple[int, int, int, int, int]
_ITEM = st.tuples(st.integers(0, len(CHAINS) - 1), st.integers(0, len(SNIS) - 1),
                  st.integers(0, len(SERVERS) - 1), st.integers(0, len(TIMES) - 1),
                  st.integers(0, len(OPTIONS) - 1))


def _build(item: Item, number: int) -> ConnectionReport:
    c, s, srv, t, o = item
    return build_report(_conn(CHAINS[c], SNIS[s], SERVERS[srv], TIMES[t], number), f"0:{number}",
                        OPTIONS[o])


@settings(max_examples=150, deadline=None)
@given(st.lists(_ITEM, min_size=1, max_size=40))
def test_cached_equals_fresh(items: list[Item]) -> None:
    _clear_caches()
    warm = [_build(item, n) for n, item in enumerate(items)]
    warm_rendered = [_rendered(r) for r in warm]
    for n, item in enumerate(items):
        _clear_caches()
        fresh = _build(item, n)
        assert warm[n] == fresh, item
        assert warm_rendered[n] == _rendered(fresh) == _slow(fresh), item


def _codes(report: ConnectionReport) -> list[str]:
    return [f.code for f in report.findings]


def _report(chain_der: tuple[bytes, ...], sni: str | None, ts: float,
            options: AnalysisOptions = OPTIONS[0], number: int = 1) -> ConnectionReport:
    return build_report(_conn(chain_der, sni, SERVERS[0], ts, number), "0:1", options)


def test_same_chain_other_host_is_judged_again() -> None:
    _clear_caches()
    chain_der = (SOON.der, INTER.der)
    mid = _T0 + 43200  # half a day from the dates where the days to expiry change
    good = _report(chain_der, "db.example.com", mid, OPTIONS[1])
    bad = _report(chain_der, "other.example.com", mid + 1, OPTIONS[1])
    unknown = _report(chain_der, None, mid + 2, OPTIONS[1])
    assert (good.verdicts.verify_identity, bad.verdicts.verify_identity,
            unknown.verdicts.verify_identity) == ("pass", "fail", "unknown")
    assert "HOSTNAME_MISMATCH" in _codes(bad) and "HOSTNAME_MISMATCH" not in _codes(good)
    assert "INTENDED_HOST_UNKNOWN" in _codes(unknown)
    assert _report(chain_der, "db.example.com", mid + 3, OPTIONS[1]).verdicts is good.verdicts
    assert _report(chain_der, "other.example.com", mid + 4, OPTIONS[0]).verdicts.verify_ca \
        == "unknown"  # other options (no CA file), same chain, host and span


def test_days_to_expiry_and_its_threshold_are_in_the_key() -> None:
    _clear_caches()
    chain_der = (SOON.der, INTER.der)
    expiry = _T0 + 20 * 86400
    texts = []
    for ts in (expiry - 10.5 * 86400, expiry - 10.4 * 86400, expiry - 9.5 * 86400,
               expiry - 10.5 * 86400, expiry - 0.5):
        found = [f.message for f in _report(chain_der, "db.example.com", ts).findings
                 if f.code == "EXPIRES_SOON"]
        texts.append(found[0].split(", ")[1].split(" ")[0])
    assert texts == ["10", "10", "9", "10", "0"]
    # another threshold with the same chain and time
    assert "EXPIRES_SOON" not in _codes(_report(chain_der, "db.example.com",
                                                expiry - 10.5 * 86400, OPTIONS[2]))
    assert "EXPIRES_SOON" in _codes(_report(chain_der, "db.example.com",
                                            expiry - 10.5 * 86400, OPTIONS[0]))


def test_the_second_after_not_after_verdict_and_findings_agree() -> None:
    """In the second after the leaf's notAfter an OpenSSL client (its time in whole seconds)
    still accepts the chain: VERIFY_CA passes (with a CA file) and no EXPIRED finding says
    every client refuses it; from the next second on both say it is expired."""
    _clear_caches()
    chain_der = (SOON.der, INTER.der)
    expiry = _T0 + 20 * 86400
    for off, expired in ((0.5, False), (0.999, False), (1.0, True), (1.5, True)):
        for options, unexpired in ((OPTIONS[0], "unknown"), (OPTIONS[1], "pass")):
            r = _report(chain_der, "db.example.com", expiry + off, options)
            dated = [c for c in _codes(r) if c in ("EXPIRED", "EXPIRES_SOON")]
            assert dated == (["EXPIRED"] if expired else ["EXPIRES_SOON"]), off
            assert r.verdicts.verify_ca == ("fail" if expired else unexpired), off
            if not expired:  # "expires on ..., 0 days after this capture"
                assert any(", 0 days after" in f.message for f in r.findings)


def test_the_time_class_and_the_capture_time_in_a_message_are_in_the_key() -> None:
    _clear_caches()
    chain_der = (SOON.der, INTER.der)
    expiry = _T0 + 20 * 86400
    before = _report(chain_der, "db.example.com", expiry - 1, OPTIONS[1])
    after = _report(chain_der, "db.example.com", expiry + 1, OPTIONS[1])
    later = _report(chain_der, "db.example.com", expiry + 3601, OPTIONS[1])
    again = _report(chain_der, "db.example.com", expiry - 2, OPTIONS[1])
    assert (before.verdicts.verify_ca, after.verdicts.verify_ca, again.verdicts.verify_ca) == (
        "pass", "fail", "pass")
    expired = [[f.message for f in r.findings if f.code == "EXPIRED"] for r in (after, later)]
    assert expired[0] != expired[1]  # each names its own capture time
    assert after.first_seen in expired[0][0] and later.first_seen in expired[1][0]
    # just past notAfter, to the microsecond (OpenSSL, in whole seconds, still verifies: it
    # expires today), exactly at it, and the next second
    assert _codes(_report(chain_der, "db.example.com", expiry + 1e-6, OPTIONS[1])) == [
        "EXPIRES_SOON"]
    assert _codes(_report(chain_der, "db.example.com", expiry, OPTIONS[1])) == ["EXPIRES_SOON"]
    assert _codes(_report(chain_der, "db.example.com", expiry + 1.0, OPTIONS[1]))[:1] == [
        "EXPIRED"]  # (and the client went on: VERDICT_CONTRADICTS_OUTCOME)
    assert _codes(_report(chain_der, "db.example.com", expiry - 1e-6, OPTIONS[1])) == [
        "EXPIRES_SOON"]


def test_shared_parts_are_shared() -> None:
    """What makes the renderers' fragments pay: the same objects for the same chain."""
    _clear_caches()
    chain_der = (SOON.der, INTER.der)
    a = _report(chain_der, "db.example.com", _T0 + 43200)
    b = _report((bytes(bytearray(SOON.der)), bytes(bytearray(INTER.der))),
                "db.example.com", _T0 + 43210)  # equal bytes, other objects
    assert a.server_certificates is b.server_certificates
    assert a.verdicts is b.verdicts
