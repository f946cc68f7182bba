"""Per-family name rules on certificate vectors. Connector/J and legacy-cn cannot run here; their
vectors cite the upstream source they come from."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from capture_tls.analysis.certificates import ParsedCertificate, parse_certificate
from capture_tls.analysis.clients import client_verdicts, family_rule

_KEY = ec.generate_private_key(ec.SECP256R1())


def cert(cn: str | None, dns: list[str] | None = None, ips: list[str] | None = None,
         san_extension: bool = True) -> ParsedCertificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(_KEY.public_key()).serial_number(7)
         .not_valid_before(now).not_valid_after(now + dt.timedelta(days=365)))
    entries: list[x509.GeneralName] = [x509.DNSName(d) for d in dns or []]
    entries += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips or []]
    if san_extension and entries:
        b = b.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    der = b.sign(_KEY, hashes.SHA256()).public_bytes(Encoding.DER)
    return parse_certificate(der)


def ok(family: str, c: ParsedCertificate, host: str) -> bool:
    rule = family_rule(family)
    assert rule is not None
    return rule.check(c, host).ok


WILD = cert("db.example.com", ["*.example.com"])
CN_ONLY = cert("db.example.com")
SAN_AND_CN = cert("db.example.com", ["other.example.com"])
IP_SAN = cert("db.example.com", ["db.example.com"], ["10.0.0.5"])
PARTIAL = cert("x", ["db*.example.com"])


@pytest.mark.parametrize("family", ["libmysqlclient", "mariadb", "python-ssl", "mysqlnd", "node",
                                    "go-mysql", "connector-j"])
def test_common_ground(family: str) -> None:
    assert ok(family, WILD, "db.example.com")
    assert not ok(family, WILD, "a.db.example.com")  # one label too deep
    assert not ok(family, SAN_AND_CN, "db.example.com")  # CN ignored when SANs exist
    assert ok(family, SAN_AND_CN, "OTHER.example.com")  # case-insensitive


def test_cn_only_certificates() -> None:
    # OpenSSL: CN used when no DNS SAN; Go >= 1.15 never (crypto/x509 verify.go
    # "legacy Common Name field"); mysqlnd/node/Connector-J: CN when no SAN extension.
    for fam in ("libmysqlclient", "mariadb", "python-ssl", "mysqlnd", "node", "connector-j",
                "legacy-cn"):
        assert ok(fam, CN_ONLY, "db.example.com"), fam
    assert not ok("go-mysql", CN_ONLY, "db.example.com")


def test_partial_wildcards_only_openssl_with_flags_0() -> None:
    # v3_utl.c valid_star: partial wildcards allowed unless X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
    # which CPython sets (Modules/_ssl.c, _ssl__SSLSocket_impl / hostflags).
    assert ok("libmysqlclient", PARTIAL, "db1.example.com")
    assert not ok("python-ssl", PARTIAL, "db1.example.com")
    assert not ok("go-mysql", PARTIAL, "db1.example.com")


def test_ip_literals() -> None:
    for fam in ("libmysqlclient", "mariadb", "python-ssl", "mysqlnd", "go-mysql", "connector-j"):
        assert ok(fam, IP_SAN, "10.0.0.5"), fam
        assert not ok(fam, IP_SAN, "10.0.0.6"), fam
    # OpenSSL's X509_check_ip_asc never reads the CN; libmysqlclient's host-or-ip mode reads a
    # DNS entry that spells the address (X509_check_host on the literal).
    ip_in_cn = cert("10.0.0.5")
    assert ok("libmysqlclient", ip_in_cn, "10.0.0.5")
    assert not ok("python-ssl", ip_in_cn, "10.0.0.5")
    # mysql2 gives no servername for an IP: Node checks "localhost"
    assert not ok("node", IP_SAN, "10.0.0.5")
    assert ok("node", cert("x", ["localhost"]), "10.0.0.5")


def test_legacy_cn_is_exact() -> None:
    # MySQL before the fix of Bug #68052 (sql-common/client.c ssl_verify_server_cert):
    # strcmp(cn, server_hostname), no SAN, no wildcard.
    assert ok("legacy-cn", SAN_AND_CN, "db.example.com")
    assert not ok("legacy-cn", WILD, "a.example.com")
    assert not ok("legacy-cn", cert("*.example.com"), "db.example.com")


def test_verdict_combines_chain_and_name() -> None:
    verdicts = dict(client_verdicts(WILD, "db.example.com", "pass", "ok"))
    assert verdicts["python-ssl"].verify_identity == "pass"
    verdicts = dict(client_verdicts(WILD, "db.example.com", "unknown", "no CA"))
    assert verdicts["python-ssl"].verify_identity == "unknown"
    verdicts = dict(client_verdicts(WILD, "a.db.example.com", "unknown", "no CA"))
    assert verdicts["python-ssl"].verify_identity == "fail"
    assert "one label" in verdicts["mysqlnd"].reason
    verdicts = dict(client_verdicts(WILD, "db.example.com", "fail", "expired"))
    assert all(v.verify_identity == "fail" for v in verdicts.values())
    assert dict(client_verdicts(None, "db", "unknown", ""))["go-mysql"].verify_identity == \
        "unknown"
