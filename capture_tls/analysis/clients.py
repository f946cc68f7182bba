"""What each MySQL client family would say about a server certificate for a host name.

Theory of operation. The chain is judged once, as OpenSSL judges it (chain.py); every family
then applies its own *name* rule to the leaf. The lab is the authority: tests/lab_matrix runs the
real clients against real servers on every scenario, and tests/lab_matrix/OBSERVED.md records
what they did (MariaDB 10.11 server, TLS 1.2, OpenSSL 3). Observed there:

- libmysqlclient, mariadb, python-ssl, mysqlnd: OpenSSL's X509_check_host: DNS SANs when the
  certificate has any DNS SAN; the CN when it has none (an IP-only SAN keeps the CN usable); a
  wildcard only as the whole left-most label, one label deep; an IP literal against IP SANs.
  (OpenSSL with flags 0 also takes partial wildcards such as `db*.example.com`; Python's ssl
  sets X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS. The lab has no partial-wildcard scenario: those
  two rules are from source.)
- node (mysql2 with verifyIdentity): the same for names; for an IP literal mysql2 passes no
  servername and Node checks the name "localhost". Without verifyIdentity mysql2 checks no
  name at all (its verdict is then VERIFY_CA's).
- go-mysql: Go's crypto/x509 (>= 1.15): SANs only, the CN never.
- connector-j >= 8.0.22 (from source, not runnable here): RFC 6125: DNS SANs, the CN only when
  the certificate has no subjectAltName extension, a whole-label wildcard, IPs against IP SANs.
- legacy-cn (from source): the subject CN compared exactly (MySQL before Bug #68052's fix,
  yaSSL builds).

A verdict is "fail" as soon as a check that could be made fails, "pass" only when every check
was made and passed, otherwise "unknown".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import ip_address

from capture_tls.analysis import hostname
from capture_tls.analysis.certificates import ParsedCertificate
from capture_tls.analysis.connection import ConnectionState
from capture_tls.analysis.model import ClientVerdict, VerdictValue

__all__ = [
    "FAMILIES",
    "FamilyRule",
    "NameCheck",
    "client_verdicts",
    "family_rule",
    "guess_family",
]


@dataclass(frozen=True, slots=True)
class NameCheck:
    ok: bool
    reason: str


@dataclass(frozen=True, slots=True)
class FamilyRule:
    name: str
    rules: str  # "tested" (checked against the real client in the lab) | "from-source"
    check: Callable[[ParsedCertificate, str], NameCheck]
    sends_sni: str  # "never" | "names" | "always"
    note: str  # how it rejects, for reasons and findings


def _openssl(flags: int, ip_mode: hostname.IpMode) -> Callable[[ParsedCertificate, str],
                                                                  NameCheck]:
    def check(cert: ParsedCertificate, host: str) -> NameCheck:
        m = hostname.check_host(cert.facts.san_dns, cert.facts.san_ip, cert.subject_cns, host,
                                flags=flags, ip_mode=ip_mode)
        return NameCheck(m.matched, m.reason)

    return check


def _is_ip(host: str) -> bool:
    """Remembered per name (the SNI of every connection goes through here): 0.06 instead of
    3.0 us for a DNS name, whose ip_address() raises. Few distinct names; cleared whole when
    full (4,096 short strings)."""
    found = _IS_IP.get(host)
    if found is None:
        try:
            ip_address(host)
            found = True
        except ValueError:
            found = False
        if len(_IS_IP) >= _MAX_IS_IP:
            _IS_IP.clear()
        _IS_IP[host] = found
    return found


_MAX_IS_IP = 4096
_IS_IP: dict[str, bool] = {}


def _whole_label_wildcard(pattern: str, host: str) -> bool:
    """RFC 6125 6.4.3 as Go, Node and Java apply it: case-insensitive, a trailing dot ignored,
    `*` only as the whole left-most label and matching exactly one label."""
    p = pattern.rstrip(".").lower()
    h = host.rstrip(".").lower()
    if not p or not h:
        return False
    if p == h:
        return True
    if not p.startswith("*."):
        return False
    p_rest = p[2:]
    if "*" in p_rest or p_rest.count(".") < 1:
        return False
    head, _, rest = h.partition(".")
    return bool(head) and rest == p_rest


def _too_deep(pattern: str, host: str) -> bool:
    """A whole-label wildcard that would match the host without its left-most label."""
    p = pattern.rstrip(".").lower()
    h = host.rstrip(".").lower()
    return p.startswith("*.") and h.endswith(p[1:]) and h[: -len(p) + 1].count(".") >= 1


def _ip_in_sans(cert: ParsedCertificate, host: str) -> NameCheck:
    want = ip_address(host)
    for san in cert.facts.san_ip:
        try:
            if ip_address(san) == want:
                return NameCheck(True, f"the IP SAN {san} matches {host}")
        except ValueError:
            continue
    if cert.facts.san_ip:
        return NameCheck(False, f"no IP SAN matches the address {host}")
    return NameCheck(False, f"the certificate has no IP SAN to match the address {host}")


def _san_then_cn_without_san_extension(cert: ParsedCertificate, host: str) -> NameCheck:
    if _is_ip(host):
        return _ip_in_sans(cert, host)
    for name in cert.facts.san_dns:
        if _whole_label_wildcard(name, host):
            return NameCheck(True, f"the DNS SAN {name} matches {host}")
    if cert.has_san_extension:
        why = f"no DNS SAN matches {host}"
        deep = [n for n in cert.facts.san_dns if _too_deep(n, host)]
        if deep:
            why += f" (the wildcard {deep[0]} covers exactly one label, {host} has more)"
        if any(_whole_label_wildcard(cn, host) for cn in cert.subject_cns):
            why += "; the CN names it but is ignored because the certificate has a SAN extension"
        return NameCheck(False, why)
    for cn in cert.subject_cns:
        if _whole_label_wildcard(cn, host):
            return NameCheck(True, f"the CN {cn} matches {host} (the certificate has no SAN)")
    return NameCheck(False, f"the certificate has no SAN and its CN does not match {host}")


def _node(cert: ParsedCertificate, host: str) -> NameCheck:
    check = _openssl(hostname.X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, "verify-param")
    if _is_ip(host):
        # mysql2 gives Node no servername for an IP literal; tls.checkServerIdentity then
        # checks "localhost" (lab: ip-san refused, "Host: localhost. is not in the cert's
        # altnames").
        inner = check(cert, "localhost")
        return NameCheck(inner.ok, f"connected to an IP address, mysql2/Node check the name "
                                   f"'localhost': {inner.reason}")
    return check(cert, host)


def _go(cert: ParsedCertificate, host: str) -> NameCheck:
    if _is_ip(host):
        return _ip_in_sans(cert, host)
    for name in cert.facts.san_dns:
        if _whole_label_wildcard(name, host):
            return NameCheck(True, f"the DNS SAN {name} matches {host}")
    if not cert.facts.san_dns:
        return NameCheck(False, "the certificate has no DNS SAN, and Go ignores the CN "
                                "(x509: certificate relies on legacy Common Name field)")
    return NameCheck(False, f"no DNS SAN matches {host}; Go ignores the CN")


def _legacy_cn(cert: ParsedCertificate, host: str) -> NameCheck:
    cn = cert.facts.subject_cn
    if cn is not None and cn == host:
        return NameCheck(True, f"the CN {cn} equals {host}")
    return NameCheck(False, f"the CN {cn!r} is not exactly {host!r} (SANs and wildcards are "
                            "not read)")


FAMILIES: tuple[FamilyRule, ...] = (
    FamilyRule("libmysqlclient", "tested",
               _openssl(0, "host-or-ip"), "never",
               "refuses inside the handshake with a plaintext fatal alert (bad_certificate for "
               "the name)"),
    FamilyRule("mariadb", "tested",
               _openssl(0, "host-or-ip"), "never",
               "checks the chain inside the handshake, the name after it: FIN without an alert"),
    FamilyRule("python-ssl", "tested",
               _openssl(hostname.X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, "verify-param"),
               "names", "refuses inside the handshake with a plaintext fatal alert"),
    FamilyRule("mysqlnd", "tested",
               _openssl(hostname.X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, "verify-param"),
               "always",
               "checks the chain inside the handshake, the name after it: one encrypted alert "
               "and FIN, no login"),
    FamilyRule("node", "tested", _node, "names",
               "checks everything after the handshake (the name only with verifyIdentity) and "
               "closes without an alert"),
    FamilyRule("go-mysql", "tested", _go, "names",
               "refuses inside the handshake with a plaintext bad_certificate alert for every "
               "cause"),
    FamilyRule("connector-j", "from-source", _san_then_cn_without_san_extension, "names",
               "refuses inside the handshake"),
    FamilyRule("legacy-cn", "from-source", _legacy_cn, "never",
               "compares the CN after the handshake"),
)

_BY_NAME = {f.name: f for f in FAMILIES}


def family_rule(name: str) -> FamilyRule | None:
    return _BY_NAME.get(name)


def client_verdicts(
    leaf: ParsedCertificate | None,
    host: str | None,
    verify_ca: VerdictValue,
    chain_reason: str,
) -> tuple[tuple[str, ClientVerdict], ...]:
    """Every family's verify_identity verdict, with the reason in one line. A capture has few
    distinct (certificate, host) pairs and many connections: the answer is remembered
    (0.064 ms a connection before, measured on the benchmark's 2,000-connection capture)."""
    key = (leaf.facts.sha256 if leaf is not None else None, host, verify_ca, chain_reason)
    found = _VERDICT_CACHE.get(key)
    if found is None or found[0] is not leaf:
        if len(_VERDICT_CACHE) >= _VERDICT_CACHE_ENTRIES:
            _VERDICT_CACHE.clear()
        found = (leaf, _client_verdicts(leaf, host, verify_ca, chain_reason))
        _VERDICT_CACHE[key] = found
    return found[1]


# Distinct (certificate, host, chain verdict) answers kept; cleared whole when full.
_VERDICT_CACHE_ENTRIES = 4096
_VERDICT_CACHE: dict[
    tuple[str | None, str | None, str, str],
    tuple[ParsedCertificate | None, tuple[tuple[str, ClientVerdict], ...]],
] = {}


def _client_verdicts(
    leaf: ParsedCertificate | None,
    host: str | None,
    verify_ca: VerdictValue,
    chain_reason: str,
) -> tuple[tuple[str, ClientVerdict], ...]:
    out: list[tuple[str, ClientVerdict]] = []
    for fam in FAMILIES:
        if leaf is None:
            verdict: VerdictValue = "fail" if verify_ca == "fail" else "unknown"
            reason = chain_reason if verify_ca == "fail" else "the certificate is not visible"
        elif host is None:
            verdict = "fail" if verify_ca == "fail" else "unknown"
            reason = chain_reason if verify_ca == "fail" else "the intended host is unknown"
        else:
            name = fam.check(leaf, host)
            if verify_ca == "fail":
                verdict = "fail"
                reason = chain_reason + ("" if name.ok else f"; and {name.reason}")
            elif not name.ok:
                verdict = "fail"
                reason = name.reason
            elif verify_ca == "pass":
                verdict = "pass"
                reason = name.reason + "; the chain verifies"
            else:
                verdict = "unknown"
                reason = name.reason + "; the chain was not verified (no --ca)"
        out.append((fam.name, ClientVerdict(verdict, reason, "tested" if fam.rules == "tested"
                                            else "from-source")))
    return tuple(out)


def guess_family(conn: ConnectionState) -> str | None:
    """The client family the wire suggests, or None when it does not say.

    - MariaDB's extended capabilities in the SSLRequest (CLIENT_MYSQL clear): MariaDB
      Connector/C, the `mariadb` CLI.
    - TLS without SNI: the C clients (libmysqlclient sends none; Connector/C neither). A close
      right after the handshake is Connector/C's way to refuse; a plaintext alert is OpenSSL's.
    """
    req = conn.ssl_request
    if req is not None and req.mariadb_extended_capabilities:
        return "mariadb"
    if conn.client_hello is None:
        return None
    sni = conn.client_hello.sni
    if sni is not None and _is_ip(sni):
        return "mysqlnd"  # only PHP's mysqlnd sends an IP literal as SNI (lab)
    if sni is None:
        if (conn.client_fin or conn.client_rst) and conn.client_protected_records == 1 and not [
            a for a in conn.alerts if a.sender == "client"
        ]:
            return "mariadb"
        return "libmysqlclient"
    return None
