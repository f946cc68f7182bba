"""Host name checking exactly as OpenSSL's `X509_check_host` / `X509_check_ip_asc` do it.

Theory of operation
-------------------
This is a re-implementation, function by function, of OpenSSL's `crypto/x509/v3_utl.c`
(`do_x509_check`, `equal_wildcard`, `valid_star`, `wildcard_match`, `equal_nocase`,
`skip_prefix`, `a2i_ipadd` with `ipv4_from_asc`/`ipv6_from_asc`), so that a verdict says what a
client linked against OpenSSL would do, not what RFC 6125 says it should do. It is tested on
every name-check case of OpenSSL's own `test/v3nametest.c`, on the `a2i_ipaddress_tests`
table, against the installed libcrypto (through ctypes) and against real TLS handshakes.

DNS names (`X509_check_host`):
- The DNS SANs are compared when the certificate has any; the subject CNs only when it has no
  DNS SAN (IP or e-mail SANs do not count) unless `X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT`, and
  never with `X509_CHECK_FLAG_NEVER_CHECK_SUBJECT`. *Every* CN is tried, in subject order.
- ASCII case-insensitive; bytes outside ASCII compare exactly (UTF-8 of the name).
- A wildcard is honoured only in the left-most label, at most one, not in an IDNA (`xn--`)
  label, and only when at least two more labels follow (`*.com` is literal). Without
  `X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS` (the default: libmysqlclient, MariaDB Connector/C
  pass flags 0) `foo*.example.com` and `*foo.example.com` are wildcards too; Python's `ssl`
  sets that flag. A full-label `*` must match at least one character; a partial wildcard never
  matches an `xn--` host label; the `*` matches letters, digits and `-` only (and `.` with
  `X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS`), or a literal `*`.
- No trailing-dot normalisation: `db.example.com.` does not match `db.example.com`.
- A host starting with `.` (length > 1) is OpenSSL's "any subdomain of" request.
- A host with an embedded NUL is an error in OpenSSL (-2): here it never matches.

IP literals (`X509_check_ip_asc`): the host is parsed as OpenSSL 3.0 parses it (a dotted quad
through `sscanf("%d.%d.%d.%d%n")`, so " 1.2.3.4", "1.2.3.+4" and "1.2.3.01" are accepted;
newer OpenSSL releases are stricter) and compared octet by octet with the IP SANs only,
never the CN.

How a client combines the two is its business (`IpMode`):
- "verify-param" (default): OpenSSL's verify parameters, as Python's `ssl` and `SSL_set1_host`
  in OpenSSL 3 do: a host that parses as an IP address is checked against IP SANs only, any
  other against DNS names.
- "host-or-ip": libmysqlclient's and MariaDB Connector/C's `ssl_verify_server_cert`:
  `X509_check_host(...) == 1 || X509_check_ip_asc(...) == 1`, so an IP literal written in a
  DNS SAN or the CN also passes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT",
    "X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS",
    "X509_CHECK_FLAG_NEVER_CHECK_SUBJECT",
    "X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS",
    "X509_CHECK_FLAG_NO_WILDCARDS",
    "X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS",
    "HostMatch",
    "IpMode",
    "MatchedBy",
    "check_host",
    "ip_literal_octets",
    "x509_check_host",
    "x509_check_ip_asc",
]

# Values of include/openssl/x509v3.h.
X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT = 0x1
X509_CHECK_FLAG_NO_WILDCARDS = 0x2
X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS = 0x4
X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS = 0x8
X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS = 0x10
X509_CHECK_FLAG_NEVER_CHECK_SUBJECT = 0x20
_X509_CHECK_FLAG_DOT_SUBDOMAINS = 0x8000  # internal to OpenSSL, set for hosts starting "."

MatchedBy = Literal["san-dns", "san-ip", "cn"]
IpMode = Literal["verify-param", "host-or-ip"]


@dataclass(frozen=True, slots=True)
class HostMatch:
    """The answer to "would OpenSSL accept this certificate for this host?".

    matched: the name check passes.
    matched_by / matched_name: which certificate name matched (as written in the certificate);
        None when nothing matched.
    reason: one sentence for a human.
    wildcard_too_deep: not matched, but a wildcard the check considered would match the host
        without its left-most label (`*.example.com` against `a.b.example.com`).
    cn_would_match: some subject CN matches the host by the DNS rules, whether or not the
        check consulted the CN (useful for clients that ignore the CN, or when DNS SANs hide it).
    """

    matched: bool
    matched_by: MatchedBy | None
    matched_name: str | None
    reason: str
    wildcard_too_deep: bool
    cn_would_match: bool


# --------------------------------------------------------------------------------------------
# The comparison primitives of v3_utl.c, on bytes.


def _to_bytes(s: str) -> bytes:
    """UTF-8; raw bytes kept as surrogate escapes (certificates.py) come back as they were."""
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass")


def _skip_prefix(pattern: bytes, subject_len: int, flags: int) -> bytes:
    """skip_prefix(): with a ".example.com" host, compare only a suffix of the pattern."""
    if not flags & _X509_CHECK_FLAG_DOT_SUBDOMAINS:
        return pattern
    i = 0
    n = len(pattern)
    while n - i > subject_len and pattern[i] != 0:
        if flags & X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS and pattern[i] == 0x2E:
            break
        i += 1
    if n - i == subject_len:
        return pattern[i:]
    return pattern


def _equal_nocase(pattern: bytes, subject: bytes, flags: int) -> bool:
    """equal_nocase(): ASCII case-insensitive; a NUL in the pattern never matches."""
    pattern = _skip_prefix(pattern, len(subject), flags)
    if len(pattern) != len(subject):
        return False
    if 0 in pattern:
        return False
    # bytes.lower() folds ASCII A-Z only, exactly like the C loop.
    return pattern.lower() == subject.lower()


_LABEL_START = 1
_LABEL_HYPHEN = 4
_LABEL_IDNA = 8


def _is_alnum(c: int) -> bool:
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _valid_star(p: bytes, flags: int) -> int:
    """valid_star(): the index of the one legal '*' of pattern `p`, or -1."""
    star = -1
    state = _LABEL_START
    dots = 0
    n = len(p)
    for i in range(n):
        c = p[i]
        if c == 0x2A:  # '*'
            atstart = state & _LABEL_START
            atend = i == n - 1 or p[i + 1] == 0x2E
            if star >= 0 or state & _LABEL_IDNA or dots:
                return -1
            if flags & X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS and (not atstart or not atend):
                return -1
            if not atstart and not atend:
                return -1
            star = i
            state &= ~_LABEL_START
        elif _is_alnum(c):
            if state & _LABEL_START and n - i >= 4 and p[i : i + 4].lower() == b"xn--":
                state |= _LABEL_IDNA
            state &= ~(_LABEL_HYPHEN | _LABEL_START)
        elif c == 0x2E:  # '.'
            if state & (_LABEL_HYPHEN | _LABEL_START):
                return -1
            state = _LABEL_START
            dots += 1
        elif c == 0x2D:  # '-'
            if state & _LABEL_START:
                return -1
            state |= _LABEL_HYPHEN
        else:
            return -1
    if state & (_LABEL_START | _LABEL_HYPHEN) or dots < 2:
        return -1
    return star


def _wildcard_match(prefix: bytes, suffix: bytes, subject: bytes, flags: int) -> bool:
    """wildcard_match(): prefix and suffix literal, the part between them checked."""
    if len(subject) < len(prefix) + len(suffix):
        return False
    if not _equal_nocase(prefix, subject[: len(prefix)], flags):
        return False
    start = len(prefix)
    end = len(subject) - len(suffix)
    if not _equal_nocase(subject[end:], suffix, flags):
        return False
    allow_multi = False
    allow_idna = False
    if not prefix and suffix[:1] == b".":
        if start == end:
            return False
        allow_idna = True
        if flags & X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS:
            allow_multi = True
    if not allow_idna and len(subject) >= 4 and subject[:4].lower() == b"xn--":
        return False
    if end == start + 1 and subject[start] == 0x2A:
        return True
    for c in subject[start:end]:
        if not (_is_alnum(c) or c == 0x2D or (allow_multi and c == 0x2E)):
            return False
    return True


def _equal_wildcard(pattern: bytes, subject: bytes, flags: int) -> bool:
    """equal_wildcard(): a host starting with '.' only matches by suffix, never by '*'."""
    star = -1
    if not (len(subject) > 1 and subject[0] == 0x2E):
        star = _valid_star(pattern, flags)
    if star < 0:
        return _equal_nocase(pattern, subject, flags)
    return _wildcard_match(pattern[:star], pattern[star + 1 :], subject, flags)


def _dns_equal(pattern: bytes, subject: bytes, flags: int) -> bool:
    """do_check_string() for a DNS name: empty names never match."""
    if not pattern:
        return False
    if flags & X509_CHECK_FLAG_NO_WILDCARDS:
        return _equal_nocase(pattern, subject, flags)
    return _equal_wildcard(pattern, subject, flags)


def _dns_flags(host: bytes, flags: int) -> int:
    flags &= ~_X509_CHECK_FLAG_DOT_SUBDOMAINS
    if len(host) > 1 and host[0] == 0x2E:
        flags |= _X509_CHECK_FLAG_DOT_SUBDOMAINS
    return flags


def _host_bytes(host: str) -> bytes | None:
    """X509_check_host's argument check: None where OpenSSL returns -2 (embedded NUL)."""
    b = _to_bytes(host)
    if 0 in (b[:-1] if len(b) > 1 else b):
        return None
    if len(b) > 1 and b[-1] == 0:
        b = b[:-1]
    return b


# --------------------------------------------------------------------------------------------
# a2i_ipadd() of OpenSSL 3.0.


_C_SPACE = b" \t\n\v\f\r"
_LONG_MAX = (1 << 63) - 1
_LONG_MIN = -(1 << 63)


def _scanf_int(s: bytes, pos: int) -> tuple[int, int] | None:
    """glibc sscanf "%d": skip white space, optional sign, digits, strtol clamp, int cast."""
    n = len(s)
    while pos < n and s[pos] in _C_SPACE:
        pos += 1
    neg = False
    if pos < n and s[pos] in b"+-":
        neg = s[pos] == 0x2D
        pos += 1
    start = pos
    while pos < n and 0x30 <= s[pos] <= 0x39:
        pos += 1
    if pos == start:
        return None
    # More than 20 digits always clamps; avoid converting huge digit strings.
    digits = s[start:pos].lstrip(b"0")
    value = int(digits) if 0 < len(digits) <= 20 else (0 if not digits else _LONG_MAX + 1)
    if neg:
        value = max(-value, _LONG_MIN)
    else:
        value = min(value, _LONG_MAX)
    value &= 0xFFFFFFFF
    if value >= 1 << 31:
        value -= 1 << 32
    return value, pos


def _ipv4_from_asc(s: bytes) -> bytes | None:
    pos = 0
    out = bytearray()
    for k in range(4):
        if k:
            if pos >= len(s) or s[pos] != 0x2E:
                return None
            pos += 1
        r = _scanf_int(s, pos)
        if r is None:
            return None
        value, pos = r
        if not 0 <= value <= 255:
            return None
        out.append(value)
    if pos < len(s) and s[pos] not in _C_SPACE:
        return None
    return bytes(out)


_HEX = b"0123456789abcdefABCDEF"


def _ipv6_from_asc(s: bytes) -> bytes | None:
    # CONF_parse_list(in, ':', 0, ipv6_cb): every element, empty ones included.
    elements = s.split(b":")
    tmp = bytearray()
    zero_pos = -1
    zero_cnt = 0
    for idx, elem in enumerate(elements):
        if len(tmp) == 16:
            return None
        if not elem:
            if zero_pos == -1:
                zero_pos = len(tmp)
            elif zero_pos != len(tmp):
                return None
            zero_cnt += 1
        elif len(elem) > 4:
            if len(tmp) > 12 or idx != len(elements) - 1:
                return None
            v4 = _ipv4_from_asc(elem)
            if v4 is None:
                return None
            tmp += v4
        else:
            if any(c not in _HEX for c in elem):
                return None
            num = int(elem, 16)
            tmp += bytes((num >> 8, num & 0xFF))
    total = len(tmp)
    if zero_pos == -1:
        if total != 16:
            return None
        return bytes(tmp)
    if total == 16 or zero_cnt > 3:
        return None
    if zero_cnt == 3:
        if total > 0:
            return None
    elif zero_cnt == 2:
        if zero_pos not in (0, total):
            return None
    elif zero_pos in (0, total):
        return None
    return bytes(tmp[:zero_pos]) + bytes(16 - total) + bytes(tmp[zero_pos:])


def ip_literal_octets(host: str) -> bytes | None:
    """The address OpenSSL 3.0's a2i_ipadd() reads from `host` (4 or 16 bytes), or None.

    The string is read as C reads it: up to its first NUL.
    """
    b = _to_bytes(host).split(b"\x00", 1)[0]  # linear work whatever the length
    if b":" in b:
        return _ipv6_from_asc(b)
    return _ipv4_from_asc(b)


def _san_ip_octets(san: str) -> bytes | None:
    """The octets of an IP SAN as reported by certificates.py ("10.0.0.1", "10.0.0.0/8")."""
    try:
        if "/" in san:
            net = ipaddress.ip_network(san, strict=False)
            return net.network_address.packed + net.netmask.packed
        return ipaddress.ip_address(san).packed
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# The two OpenSSL entry points, with explanations.


def _show(name: str) -> str:
    return repr(name) if len(name) <= 80 else repr(name[:77] + "...")


def _match_dns(
    san_dns: Sequence[str], subject_cns: Sequence[str], host: bytes, flags: int
) -> tuple[MatchedBy | None, str | None]:
    for san in san_dns:
        if _dns_equal(_to_bytes(san), host, flags):
            return "san-dns", san
    if san_dns and not flags & X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT:
        return None, None
    if flags & X509_CHECK_FLAG_NEVER_CHECK_SUBJECT:
        return None, None
    for cn in subject_cns:
        if _dns_equal(_to_bytes(cn), host, flags):
            return "cn", cn
    return None, None


def _too_deep(patterns: Sequence[str], host: bytes, flags: int) -> str | None:
    """A wildcard among `patterns` that matches `host` minus its left-most label."""
    if flags & X509_CHECK_FLAG_NO_WILDCARDS or (host[:1] == b"."):
        return None
    dot = host.find(b".")
    if dot <= 0:
        return None
    shorter = host[dot + 1 :]
    for p in patterns:
        pb = _to_bytes(p)
        if _valid_star(pb, flags) >= 0 and _dns_equal(pb, shorter, _dns_flags(shorter, flags)):
            return p
    return None


def x509_check_host(
    san_dns: Sequence[str], subject_cns: Sequence[str], host: str, *, flags: int = 0
) -> HostMatch:
    """OpenSSL's X509_check_host(cert, host, len, flags, NULL) == 1, explained."""
    hb = _host_bytes(host)
    cn_would = False
    if hb is not None:
        cflags = _dns_flags(hb, flags & ~X509_CHECK_FLAG_NEVER_CHECK_SUBJECT)
        cn_would = any(_dns_equal(_to_bytes(cn), hb, cflags) for cn in subject_cns)
    if hb is None:
        return HostMatch(
            False, None, None,
            f"the host name {_show(host)} contains a NUL byte, which OpenSSL refuses to check",
            False, cn_would,
        )  # fmt: skip
    f = _dns_flags(hb, flags)
    by, name = _match_dns(san_dns, subject_cns, hb, f)
    if by is not None and name is not None:
        where = "DNS SAN" if by == "san-dns" else "subject CN"
        tail = "" if by == "san-dns" else " (the certificate has no DNS SAN)"
        if by == "cn" and san_dns:
            tail = " (checked because of X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT)"
        return HostMatch(
            True, by, name, f"the {where} {_show(name)} matches {_show(host)}{tail}", False,
            cn_would,
        )  # fmt: skip
    cn_checked = (not san_dns or flags & X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT) and not (
        flags & X509_CHECK_FLAG_NEVER_CHECK_SUBJECT
    )
    considered = list(san_dns) + (list(subject_cns) if cn_checked else [])
    deep = _too_deep(considered, hb, f)
    if not hb:
        reason = "the host name is empty"
    elif san_dns:
        reason = f"no DNS SAN matches {_show(host)}"
        if cn_checked:
            reason += " and no subject CN does"
        elif cn_would:
            reason += "; the CN would match but is ignored because the certificate has DNS SANs"
        elif subject_cns:
            reason += "; the CN is ignored because the certificate has DNS SANs"
    elif not cn_checked:
        reason = (
            f"the certificate has no DNS SAN and the subject CN is never checked "
            f"(X509_CHECK_FLAG_NEVER_CHECK_SUBJECT), so nothing can match {_show(host)}"
        )
    elif not subject_cns:
        reason = f"the certificate has neither a DNS SAN nor a subject CN to match {_show(host)}"
    else:
        reason = f"the certificate has no DNS SAN and no subject CN matches {_show(host)}"
    if deep is not None:
        reason += (
            f"; the wildcard {_show(deep)} covers exactly one label and {_show(host)} has one more"
        )
    return HostMatch(False, None, None, reason, deep is not None, cn_would)


def x509_check_ip_asc(san_ip: Sequence[str], subject_cns: Sequence[str], host: str) -> HostMatch:
    """OpenSSL's X509_check_ip_asc(cert, host, 0) == 1, explained.

    `subject_cns` only feeds `cn_would_match` (OpenSSL never compares an address with a CN).
    """
    octets = ip_literal_octets(host)
    hb = _host_bytes(host)
    cn_would = hb is not None and any(
        _dns_equal(_to_bytes(cn), hb, _dns_flags(hb, 0)) for cn in subject_cns
    )
    if octets is None:
        return HostMatch(False, None, None, f"{_show(host)} is not an IP address", False, cn_would)
    for san in san_ip:
        if _san_ip_octets(san) == octets:
            return HostMatch(
                True, "san-ip", san, f"the IP SAN {san} matches {_show(host)}", False, cn_would
            )
    if san_ip:
        reason = f"no IP SAN matches the address {_show(host)}"
    else:
        reason = f"the certificate has no IP SAN to match the address {_show(host)}"
    if cn_would:
        reason += "; the CN names it, but OpenSSL compares an address with IP SANs only"
    return HostMatch(False, None, None, reason, False, cn_would)


def check_host(
    san_dns: Sequence[str],
    san_ip: Sequence[str],
    subject_cns: Sequence[str],
    host: str,
    *,
    flags: int = 0,
    ip_mode: IpMode = "verify-param",
) -> HostMatch:
    """Would OpenSSL accept a certificate with these names for `host`?

    `flags` are the X509_CHECK_FLAG_* host flags (0 for libmysqlclient and Connector/C,
    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS for Python's ssl). `ip_mode` says how the client
    hands an IP literal to OpenSSL (see the module comment).
    """
    # The same certificate is checked against the same few names on every connection (and
    # by eight client families): remembered, 0.3 us instead of 5-30 per check.
    key = (tuple(san_dns), tuple(san_ip), tuple(subject_cns), host, flags, ip_mode)
    found = _CHECKED.get(key)
    if found is None:
        if len(_CHECKED) >= _MAX_CHECKED:
            _CHECKED.clear()
        found = _CHECKED[key] = _check_host(san_dns, san_ip, subject_cns, host, flags, ip_mode)
    return found


_CHECKED: dict[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str, int, str],
               HostMatch] = {}
_MAX_CHECKED = 8192


def _check_host(
    san_dns: Sequence[str],
    san_ip: Sequence[str],
    subject_cns: Sequence[str],
    host: str,
    flags: int,
    ip_mode: IpMode,
) -> HostMatch:
    is_ip = ip_literal_octets(host) is not None
    if ip_mode == "verify-param":
        if is_ip:
            return x509_check_ip_asc(san_ip, subject_cns, host)
        return x509_check_host(san_dns, subject_cns, host, flags=flags)
    by_name = x509_check_host(san_dns, subject_cns, host, flags=flags)
    if by_name.matched or not is_ip:
        return by_name
    by_ip = x509_check_ip_asc(san_ip, subject_cns, host)
    if by_ip.matched:
        return by_ip
    return HostMatch(
        False, None, None, f"{by_name.reason}, and {by_ip.reason}",
        by_name.wildcard_too_deep, by_name.cn_would_match,
    )  # fmt: skip
