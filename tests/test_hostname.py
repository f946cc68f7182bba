"""Tests of capture_tls.analysis.hostname against OpenSSL itself.

Four sources of truth, none of them this module's own output:
1. OpenSSL's test/v3nametest.c: its `names` table, its `exceptions` table and its
   `name_fns` certificate shapes, replayed with the exact pass/fail rule of `run_cert()`.
2. The `a2i_ipaddress_tests` table of OpenSSL's test/x509_internal_test.c (IP literal parsing),
   with the cases where OpenSSL 3.0 (what the clients here link) is laxer than that newer
   table marked and checked against the installed libcrypto.
3. The installed libcrypto called through ctypes: X509_check_host / X509_check_ip_asc /
   a2i_IPADDRESS on certificates made with cryptography, over the v3nametest names with every
   flag, and over random names (hypothesis).
4. Real TLS handshakes through Python's ssl (OpenSSL inside, NO_PARTIAL_WILDCARDS set by
   Python), with ssl.MemoryBIO, for dozens of certificates and host names.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from capture_tls.analysis.hostname import (
    X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT,
    X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS,
    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
    X509_CHECK_FLAG_NO_WILDCARDS,
    X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS,
    check_host,
    ip_literal_octets,
    x509_check_host,
    x509_check_ip_asc,
)

# --------------------------------------------------------------------------------------------
# 1. openssl/openssl test/v3nametest.c: `names`, `exceptions`, `name_fns`, `run_cert()`.

V3_NAMES = [
    "a", "b", ".", "*", "@",
    ".a", "a.", ".b", "b.", ".*", "*.", "*@", "@*", "a@", "@a", "b@", "..",
    "-example.com", "example-.com",
    "@@", "**", "*.com", "*com", "*.*.com", "*com", "com*", "*example.com",
    "*@example.com", "test@*.example.com", "example.com", "www.example.com",
    "test.www.example.com", "*.example.com", "*.www.example.com",
    "test.*.example.com", "www.*.com",
    ".www.example.com", "*www.example.com",
    "example.net", "xn--rger-koa.example.com",
    "*.xn--rger-koa.example.com", "www.xn--rger-koa.example.com",
    "*.good--example.com", "www.good--example.com",
    "*.xn--bar.com", "xn--foo.xn--bar.com",
    "a.example.com", "b.example.com",
    "postmaster@example.com", "Postmaster@example.com",
    "postmaster@EXAMPLE.COM",
]  # fmt: skip

V3_EXCEPTIONS = {
    "set CN: host: [*.example.com] matches [a.example.com]",
    "set CN: host: [*.example.com] matches [b.example.com]",
    "set CN: host: [*.example.com] matches [www.example.com]",
    "set CN: host: [*.example.com] matches [xn--rger-koa.example.com]",
    "set CN: host: [*.www.example.com] matches [test.www.example.com]",
    "set CN: host: [*.www.example.com] matches [.www.example.com]",
    "set CN: host: [*www.example.com] matches [www.example.com]",
    "set CN: host: [test.www.example.com] matches [.www.example.com]",
    "set CN: host: [*.xn--rger-koa.example.com] matches [www.xn--rger-koa.example.com]",
    "set CN: host: [*.xn--bar.com] matches [xn--foo.xn--bar.com]",
    "set CN: host: [*.good--example.com] matches [www.good--example.com]",
    "set CN: host-no-wildcards: [*.www.example.com] matches [.www.example.com]",
    "set CN: host-no-wildcards: [test.www.example.com] matches [.www.example.com]",
    "set emailAddress: email: [postmaster@example.com] does not match [Postmaster@example.com]",
    "set emailAddress: email: [postmaster@EXAMPLE.COM] does not match [Postmaster@example.com]",
    "set emailAddress: email: [Postmaster@example.com] does not match [postmaster@example.com]",
    "set emailAddress: email: [Postmaster@example.com] does not match [postmaster@EXAMPLE.COM]",
    "set dnsName: host: [*.example.com] matches [www.example.com]",
    "set dnsName: host: [*.example.com] matches [a.example.com]",
    "set dnsName: host: [*.example.com] matches [b.example.com]",
    "set dnsName: host: [*.example.com] matches [xn--rger-koa.example.com]",
    "set dnsName: host: [*.www.example.com] matches [test.www.example.com]",
    "set dnsName: host-no-wildcards: [*.www.example.com] matches [.www.example.com]",
    "set dnsName: host-no-wildcards: [test.www.example.com] matches [.www.example.com]",
    "set dnsName: host: [*.www.example.com] matches [.www.example.com]",
    "set dnsName: host: [*www.example.com] matches [www.example.com]",
    "set dnsName: host: [test.www.example.com] matches [.www.example.com]",
    "set dnsName: host: [*.xn--rger-koa.example.com] matches [www.xn--rger-koa.example.com]",
    "set dnsName: host: [*.xn--bar.com] matches [xn--foo.xn--bar.com]",
    "set dnsName: host: [*.good--example.com] matches [www.good--example.com]",
    "set rfc822Name: email: [postmaster@example.com] does not match [Postmaster@example.com]",
    "set rfc822Name: email: [Postmaster@example.com] does not match [postmaster@example.com]",
    "set rfc822Name: email: [Postmaster@example.com] does not match [postmaster@EXAMPLE.COM]",
    "set rfc822Name: email: [postmaster@EXAMPLE.COM] does not match [Postmaster@example.com]",
}

# name_fns: (label, is_host, names as (DNS SANs, subject CNs) for a given name). The e-mail
# shapes put the name in emailAddress attributes or an rfc822Name SAN, which X509_check_host
# never reads: here they contribute no DNS SAN and no CN (or the fixed CN www.example.org).
NAME_FNS: list[tuple[str, str, bool, object]] = [
    ("set_cn1", "set CN", True, lambda n: ([], [n])),
    ("set_cn2", "set CN", True, lambda n: ([], ["dummy value", n])),
    ("set_cn3", "set CN", True, lambda n: ([], [n, "dummy value"])),
    ("set_cn_and_email", "set CN", True, lambda n: ([], [n])),
    ("set_email1", "set emailAddress", False, lambda n: ([], [])),
    ("set_email2", "set emailAddress", False, lambda n: ([], [])),
    ("set_email3", "set emailAddress", False, lambda n: ([], [])),
    ("set_email_and_cn", "set emailAddress", False, lambda n: ([], ["www.example.org"])),
    ("set_altname_dns", "set dnsName", True, lambda n: ([n], [])),
    ("set_altname_email", "set rfc822Name", False, lambda n: ([], [])),
]


def _v3_failures(
    fn_label: str, is_host: bool, op: str, nameincert: str, ret: bool, name: str
) -> str | None:
    """run_cert()'s rule: the message a wrong answer would print, or None when right."""
    samename = nameincert.lower() == name.lower()
    match = -1
    if is_host:
        if ret and not samename:
            match = 1
        if not ret and samename:
            match = 0
    elif ret:
        match = 1
    if match < 0:
        return None
    msg = f"{fn_label}: {op}: [{nameincert}] {'matches' if match else 'does not match'} [{name}]"
    return None if msg in V3_EXCEPTIONS else msg


@pytest.mark.parametrize("fn", NAME_FNS, ids=[f[0] for f in NAME_FNS])
def test_v3nametest_host_checks(fn: tuple[str, str, bool, object]) -> None:
    _, label, is_host, shape = fn
    failures: list[str] = []
    matches = 0
    for nameincert in V3_NAMES:
        san_dns, cns = shape(nameincert)  # type: ignore[operator]
        for name in V3_NAMES:
            for op, flags in (("host", 0), ("host-no-wildcards", X509_CHECK_FLAG_NO_WILDCARDS)):
                ret = x509_check_host(san_dns, cns, name, flags=flags).matched
                matches += ret
                msg = _v3_failures(label, is_host, op, nameincert, ret, name)
                if msg is not None:
                    failures.append(msg)
    assert failures == []
    if is_host:
        # every name matches itself (with and without wildcards) at the very least
        assert matches >= 2 * len(V3_NAMES)
    else:
        assert matches == 0


def test_v3nametest_exceptions_are_all_reached() -> None:
    """Each host exception of the table is a real non-identity match of ours."""
    for msg in V3_EXCEPTIONS:
        label, op, rest = msg.split(": ", 2)
        if op == "email":
            continue
        cert_name, verb_host = rest[1:].split("] ", 1)
        host = verb_host.split("[", 1)[1][:-1]
        flags = X509_CHECK_FLAG_NO_WILDCARDS if op == "host-no-wildcards" else 0
        if label == "set CN":
            m = x509_check_host([], [cert_name], host, flags=flags)
            assert m.matched and m.matched_by == "cn", msg
        else:
            m = x509_check_host([cert_name], [], host, flags=flags)
            assert m.matched and m.matched_by == "san-dns", msg
        assert m.matched_name == cert_name


# --------------------------------------------------------------------------------------------
# 2. openssl/openssl test/x509_internal_test.c: `a2i_ipaddress_tests`.

A2I_TESTS: list[tuple[str, str | None]] = [
    ("127.0.0.1", "7f000001"),
    ("1.2.3.4", "01020304"),
    ("1.2.3.255", "010203ff"),
    ("255.255.255.255", "ffffffff"),
    ("::", "00" * 16),
    ("::1", "00" * 15 + "01"),
    ("::01", "00" * 15 + "01"),
    ("::0001", "00" * 15 + "01"),
    ("ffff::", "ffff" + "00" * 14),
    ("ffff::1", "ffff" + "00" * 13 + "01"),
    ("1::2", "0001" + "00" * 12 + "0002"),
    ("1:1:1:1:1:1:1:1", "0001" * 8),
    ("2001:db8::ff00:42:8329", "20010db8000000000000ff0000428329"),
    ("::1.2.3.4", "00" * 12 + "01020304"),
    ("ffff:ffff:ffff:ffff:ffff:ffff:1.2.3.4", "ff" * 12 + "01020304"),
    ("1:1:1:1:1:1:1:1.test", None),
    (":::1", None),
    ("2001::123g", None),
    ("1", None), ("1.", None), ("1.2", None), ("1.2.", None), ("1.2.3", None), ("1.2.3.", None),
    ("::1.2.3", None),
    ("1:2:3:4:5:6:7:1.2.3.4", None),
    ("1:2:3:4:5:6:7::8", None),
    ("::1.2.3.4:1", None),
    ("1.2.3.4.5", None), ("1:2:3:4:5:6:7:8:9", None), ("1:2:3:4:5::6:7:8:9", None),
    ("1.2.3.4 ", None), ("1.2.3 .4", None), ("1.2.3. 4", None), (" 1.2.3.4", None),
    ("1.2.3.4.", None), ("1.2.3.+4", None), ("1.2.3.-4", None), ("1.2.3.4.example.test", None),
    ("::1 ", None), (" ::1", None), (":: 1", None), (": :1", None),
    ("1.2.3.nope", None), ("::nope", None),
    ("1.2.3.256", None), ("1.2.3.260", None),
    ("1.2.3.999999999999999999999999999999999999999999", None),
    ("::fffff", None), ("::00000", None),
    (":::", None), ("1:::", None), (":::2", None), ("1:::2", None),
    ("1::2::3", None),
    ("1.2.3.01", None), ("1.2.3.0x1", None),
    ("example.test", None), ("", None), (" 1.2.3.4", None), (" 1.2.3.4 ", None),
    ("1.2.3.4.example.test", None),
]  # fmt: skip

# OpenSSL 3.0 reads a dotted quad with sscanf("%d.%d.%d.%d%n") and accepts trailing white
# space: these entries of the newer table are addresses there (checked against libcrypto below).
A2I_OPENSSL_30: dict[str, str] = {
    "1.2.3.4 ": "01020304",
    "1.2.3. 4": "01020304",
    " 1.2.3.4": "01020304",
    "1.2.3.+4": "01020304",
    "1.2.3.01": "01020301",
    " 1.2.3.4 ": "01020304",
}


@pytest.mark.parametrize(("text", "expected"), A2I_TESTS, ids=[repr(t) for t, _ in A2I_TESTS])
def test_a2i_ipaddress_table(text: str, expected: str | None) -> None:
    want = A2I_OPENSSL_30.get(text, expected)
    got = ip_literal_octets(text)
    assert (got.hex() if got is not None else None) == want


# --------------------------------------------------------------------------------------------
# 3. The installed libcrypto as an oracle (ctypes), on certificates made with cryptography.

_KEY = ec.generate_private_key(ec.SECP256R1())
_NOW = dt.datetime.now(dt.UTC)


def make_cert(
    san_dns: Sequence[str] = (),
    san_ip: Sequence[str] = (),
    cns: Sequence[str] = (),
    *,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    issuer_name: x509.Name | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> x509.Certificate:
    key = key or _KEY
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn) for cn in cns])
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name if issuer_name is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - dt.timedelta(days=1))
        .not_valid_after(_NOW + dt.timedelta(days=30))
    )
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in san_dns]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in san_ip]
    if names:
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())


class LibCrypto:
    def __init__(self, path: str) -> None:
        lib = ctypes.CDLL(path)
        lib.d2i_X509.restype = ctypes.c_void_p
        lib.d2i_X509.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long,
        ]  # fmt: skip
        lib.X509_free.argtypes = [ctypes.c_void_p]
        lib.X509_check_host.restype = ctypes.c_int
        lib.X509_check_host.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_void_p,
        ]  # fmt: skip
        lib.X509_check_ip_asc.restype = ctypes.c_int
        lib.X509_check_ip_asc.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint]
        lib.a2i_IPADDRESS.restype = ctypes.c_void_p
        lib.a2i_IPADDRESS.argtypes = [ctypes.c_char_p]
        lib.ASN1_STRING_length.argtypes = [ctypes.c_void_p]
        lib.ASN1_STRING_get0_data.argtypes = [ctypes.c_void_p]
        lib.ASN1_STRING_get0_data.restype = ctypes.POINTER(ctypes.c_ubyte)
        lib.ASN1_OCTET_STRING_free.argtypes = [ctypes.c_void_p]
        self.lib = lib

    def load(self, der: bytes) -> int:
        buf = ctypes.c_char_p(der)
        ptr = self.lib.d2i_X509(None, ctypes.byref(buf), len(der))
        assert ptr, "libcrypto could not parse a certificate made by cryptography"
        return int(ptr)

    def free(self, ptr: int) -> None:
        self.lib.X509_free(ptr)

    def check_host(self, ptr: int, host: str, flags: int) -> int:
        b = host.encode()
        return int(self.lib.X509_check_host(ptr, b, len(b), flags, None))

    def check_ip_asc(self, ptr: int, host: str) -> int:
        return int(self.lib.X509_check_ip_asc(ptr, host.encode(), 0))

    def a2i(self, text: bytes) -> bytes | None:
        p = self.lib.a2i_IPADDRESS(text)
        if not p:
            return None
        n = self.lib.ASN1_STRING_length(p)
        data = bytes(self.lib.ASN1_STRING_get0_data(p)[:n])
        self.lib.ASN1_OCTET_STRING_free(p)
        return data


def _find_libcrypto() -> LibCrypto | None:
    # The libcrypto Python's own ssl module uses, so the oracle and the handshakes agree.
    candidates = ["libcrypto.so.3", ctypes.util.find_library("crypto")]
    for c in candidates:
        if c:
            try:
                return LibCrypto(c)
            except OSError:
                continue
    return None


LIBCRYPTO = _find_libcrypto()
needs_libcrypto = pytest.mark.skipif(
    LIBCRYPTO is None or not ssl.OPENSSL_VERSION.startswith("OpenSSL 3."),
    reason="needs OpenSSL 3 libcrypto for ctypes",
)

ALL_FLAGS = [
    0,
    X509_CHECK_FLAG_NO_WILDCARDS,
    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
    X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS,
    X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
    X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS,
    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
    X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT,
]

EXTRA_NAMES = [
    "db.example.com.",
    "DB.Example.COM",
    "a.b.example.com",
    "*.b.example.com",
    "f*.example.com",
    "*o.example.com",
    "foo.example.com",
    "xn--foo.example.com",
    "x*.example.com",
    "xn--*.example.com",
    "*.EXAMPLE.com",
    "a.b.c.example.com",
    "*.*.example.com",
    "**.example.com",
    "*-x.example.com",
    "w-x.example.com",
    "*",
    "*.example.com.",
    "127.0.0.1",
    "10.0.0.1",
    "::1",
    "[::1]",
    "-a.example.com",
    "a-.example.com",
    "a_b.example.com",
    "",
    ".example.com",
    ".a.b.example.com",
    "é.example.com",
    "*.é.example.com",
]


def _cert_shapes(name: str) -> Iterator[tuple[list[str], list[str], list[str]]]:
    yield [name], [], []  # a DNS SAN
    yield [], [], [name]  # a CN only
    yield ["other.example.org"], [], [name]  # a CN hidden by a DNS SAN
    yield [], ["10.0.0.1"], ["dummy", name]  # an IP SAN does not hide the CN


def _dns_ok(name: str) -> bool:
    return name.isascii()  # cryptography's DNSName wants an A-label (IA5String)


@needs_libcrypto
def test_check_host_agrees_with_libcrypto() -> None:
    assert LIBCRYPTO is not None
    names = V3_NAMES + EXTRA_NAMES
    hosts = [h for h in names if h]  # X509_check_host(len 0) means strlen: not a Python case
    compared = 0
    agree_matches = 0
    for name in names:
        for san_dns, san_ip, cns in _cert_shapes(name):
            if not all(_dns_ok(n) for n in san_dns) or any(not c for c in cns):
                continue
            if any(len(c) > 64 for c in cns):
                continue
            ptr = LIBCRYPTO.load(
                make_cert(san_dns, san_ip, cns).public_bytes(serialization.Encoding.DER)
            )
            try:
                for host in hosts:
                    for flags in ALL_FLAGS:
                        want = LIBCRYPTO.check_host(ptr, host, flags)
                        got = x509_check_host(san_dns, cns, host, flags=flags)
                        assert got.matched == (want == 1), (san_dns, cns, host, flags, want)
                        compared += 1
                        agree_matches += got.matched
                    want_ip = LIBCRYPTO.check_ip_asc(ptr, host)
                    got_ip = x509_check_ip_asc(san_ip, cns, host)
                    assert got_ip.matched == (want_ip == 1), (san_ip, host, want_ip)
            finally:
                LIBCRYPTO.free(ptr)
    assert compared > 50_000
    assert agree_matches > 1_000


_LABEL_ALPHABET = "ab*x-n.ABé"


@needs_libcrypto
@settings(max_examples=300, deadline=None)
@given(
    pattern=st.text(alphabet="ab*xn-.", min_size=1, max_size=14),
    host=st.text(alphabet=_LABEL_ALPHABET, min_size=1, max_size=14),
    flags=st.sampled_from(ALL_FLAGS),
    as_cn=st.booleans(),
)
def test_random_names_agree_with_libcrypto(
    pattern: str, host: str, flags: int, as_cn: bool
) -> None:
    assert LIBCRYPTO is not None
    san_dns, cns = ([], [pattern]) if as_cn else ([pattern], [])
    ptr = LIBCRYPTO.load(make_cert(san_dns, [], cns).public_bytes(serialization.Encoding.DER))
    try:
        want = LIBCRYPTO.check_host(ptr, host, flags)
    finally:
        LIBCRYPTO.free(ptr)
    assert x509_check_host(san_dns, cns, host, flags=flags).matched == (want == 1)


@needs_libcrypto
@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet="0123456789abcdefx.:+- \t", max_size=45))
def test_ip_literal_parsing_agrees_with_libcrypto(text: str) -> None:
    assert LIBCRYPTO is not None
    assert ip_literal_octets(text) == LIBCRYPTO.a2i(text.encode())


@needs_libcrypto
def test_a2i_table_against_libcrypto() -> None:
    """The table above, the OpenSSL 3.0 overrides included, is what libcrypto says."""
    assert LIBCRYPTO is not None
    for text, expected in A2I_TESTS:
        want = A2I_OPENSSL_30.get(text, expected)
        got = LIBCRYPTO.a2i(text.encode())
        assert (got.hex() if got is not None else None) == want, text
    for text in (
        "4294967297.2.3.4",
        "1.2.3.-99999999999999999999999",
        "1.2.3.4\n",
        "::1:80",
        "1.2.3.4" + " " * 300,
        "1" * 1000 + ".2.3.4",
        "::1.2.3." + "0" * 500 + "4",
    ):
        assert ip_literal_octets(text) == LIBCRYPTO.a2i(text.encode()), text


# --------------------------------------------------------------------------------------------
# 4. Real handshakes: Python's ssl does the name check inside OpenSSL.

HANDSHAKE_CASES: list[tuple[list[str], list[str], list[str], str]] = [
    # (DNS SANs, IP SANs, CNs, host)
    (["db.example.com"], [], [], "db.example.com"),
    (["db.example.com"], [], [], "DB.EXAMPLE.com"),
    (["DB.Example.Com"], [], [], "db.example.com"),
    (["db.example.com"], [], [], "db2.example.com"),
    (["db.example.com"], [], [], "example.com"),
    (["*.example.com"], [], [], "db.example.com"),
    (["*.example.com"], [], [], "a.db.example.com"),
    (["*.example.com"], [], [], "example.com"),
    (["*.example.com"], [], [], "xn--rger-koa.example.com"),
    (["*.com"], [], [], "example.com"),
    (["*.*.example.com"], [], [], "a.b.example.com"),
    (["db*.example.com"], [], [], "db1.example.com"),  # partial: Python sets NO_PARTIAL
    (["*db.example.com"], [], [], "mydb.example.com"),
    (["d*b.example.com"], [], [], "dxb.example.com"),
    (["xn--*.example.com"], [], [], "xn--rger-koa.example.com"),
    (["*.xn--rger-koa.example.com"], [], [], "www.xn--rger-koa.example.com"),
    (["www.xn--rger-koa.example.com"], [], [], "WWW.XN--RGER-KOA.example.com"),
    (["db.example.com."], [], [], "db.example.com"),
    (["db.example.com"], [], [], "db.example.com."),
    (["a.example.com", "b.example.com"], [], [], "b.example.com"),
    ([], [], ["db.example.com"], "db.example.com"),
    ([], [], ["db.example.com"], "other.example.com"),
    ([], [], ["*.example.com"], "db.example.com"),
    ([], [], ["other", "db.example.com"], "db.example.com"),
    ([], [], ["db.example.com", "other"], "db.example.com"),
    (["other.example.com"], [], ["db.example.com"], "db.example.com"),
    ([], ["10.0.0.5"], ["db.example.com"], "db.example.com"),  # IP SAN: CN still read
    ([], ["127.0.0.1"], [], "127.0.0.1"),
    ([], ["127.0.0.1"], [], "127.0.0.2"),
    ([], [], ["127.0.0.1"], "127.0.0.1"),  # the CN is never compared with an address
    (["127.0.0.1"], [], [], "127.0.0.1"),  # nor a DNS SAN
    (["db.example.com"], ["127.0.0.1"], [], "127.0.0.1"),
    ([], ["::1"], [], "::1"),
    ([], ["::1"], [], "0:0:0:0:0:0:0:1"),
    ([], ["::ffff:127.0.0.1"], [], "127.0.0.1"),
    ([], ["127.0.0.1"], [], "::ffff:127.0.0.1"),
    (["db.example.com"], [], [], "127.0.0.1"),
    (["*.example.com"], ["10.0.0.1"], ["db.example.com"], "10.0.0.1"),
    (["*.example.com"], ["10.0.0.1"], ["db.example.com"], "x.example.com"),
    (["db-1.example.com"], [], [], "db-1.example.com"),
    (["*.example.com"], [], [], "-db.example.com"),
    ([], [], [], "db.example.com"),
]


def _pump(
    client: ssl.SSLObject,
    server: ssl.SSLObject,
    c_in: ssl.MemoryBIO,
    c_out: ssl.MemoryBIO,
    s_in: ssl.MemoryBIO,
    s_out: ssl.MemoryBIO,
) -> bool:
    """Drive an in-memory handshake; True when the client completed it."""
    client_done = server_done = False
    for _ in range(20):
        if not client_done:
            try:
                client.do_handshake()
                client_done = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLCertVerificationError:
                return False
        if c_out.pending:
            s_in.write(c_out.read())
        if not server_done:
            try:
                server.do_handshake()
                server_done = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                return client_done
        if s_out.pending:
            c_in.write(s_out.read())
        if client_done and server_done:
            return True
    raise AssertionError("handshake did not finish")


@pytest.fixture(scope="module")
def tls_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "capture-tls test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - dt.timedelta(days=1))
        .not_valid_after(_NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return ca_key, ca


def _python_accepts(
    tmp: Path,
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    san_dns: list[str],
    san_ip: list[str],
    cns: list[str],
    host: str,
) -> bool:
    leaf = make_cert(san_dns, san_ip, cns, issuer_key=ca_key, issuer_name=ca.subject)
    chain = tmp / "chain.pem"
    key = tmp / "key.pem"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(_KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(chain, key)
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    assert cctx.check_hostname and cctx.hostname_checks_common_name
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = cctx.wrap_bio(c_in, c_out, server_hostname=host)
    server = sctx.wrap_bio(s_in, s_out, server_side=True)
    return _pump(client, server, c_in, c_out, s_in, s_out)


@pytest.mark.parametrize(("san_dns", "san_ip", "cns", "host"), HANDSHAKE_CASES)
def test_agrees_with_python_ssl_handshake(
    tmp_path: Path,
    tls_ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    san_dns: list[str],
    san_ip: list[str],
    cns: list[str],
    host: str,
) -> None:
    ca_key, ca = tls_ca
    real = _python_accepts(tmp_path, ca, ca_key, san_dns, san_ip, cns, host)
    ours = check_host(san_dns, san_ip, cns, host, flags=X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS)
    assert ours.matched == real, ours.reason


def test_handshake_cases_are_not_one_sided(
    tmp_path: Path, tls_ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate]
) -> None:
    """The handshake harness both accepts and rejects (it is not stuck on one answer)."""
    ca_key, ca = tls_ca
    assert _python_accepts(tmp_path, ca, ca_key, ["db.example.com"], [], [], "db.example.com")
    assert not _python_accepts(tmp_path, ca, ca_key, ["db.example.com"], [], [], "x.example.com")


# --------------------------------------------------------------------------------------------
# The explanation fields.


def test_wildcard_too_deep() -> None:
    m = check_host(["*.example.com"], [], [], "a.b.example.com")
    assert not m.matched and m.wildcard_too_deep
    assert "*.example.com" in m.reason
    assert not check_host(["*.example.com"], [], [], "a.b.example.org").wildcard_too_deep
    assert not check_host(["db.example.com"], [], [], "a.db.example.com").wildcard_too_deep
    # a CN hidden by DNS SANs is not "considered", so it cannot be too deep either
    assert not check_host(["x.org"], [], ["*.example.com"], "a.b.example.com").wildcard_too_deep
    assert check_host([], [], ["*.example.com"], "a.b.example.com").wildcard_too_deep


def test_cn_would_match_and_reasons() -> None:
    m = check_host(["other.example.com"], [], ["db.example.com"], "db.example.com")
    assert not m.matched and m.cn_would_match
    assert "CN would match but is ignored because the certificate has DNS SANs" in m.reason
    m = check_host([], [], ["db.example.com"], "db.example.com")
    assert m.matched and m.matched_by == "cn" and m.matched_name == "db.example.com"
    assert m.cn_would_match
    m = check_host(
        [], [], ["db.example.com"], "db.example.com", flags=X509_CHECK_FLAG_NEVER_CHECK_SUBJECT
    )
    assert not m.matched and m.cn_would_match and "NEVER_CHECK_SUBJECT" in m.reason
    m = check_host(
        ["x.org"],
        [],
        ["db.example.com"],
        "db.example.com",
        flags=X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT,
    )
    assert m.matched and m.matched_by == "cn"
    m = check_host(["*.Example.com"], [], [], "db.example.com")
    assert m.matched and m.matched_by == "san-dns" and m.matched_name == "*.Example.com"


def test_ip_modes() -> None:
    # libmysqlclient / Connector/C: X509_check_host || X509_check_ip_asc
    m = check_host([], [], ["10.0.0.1"], "10.0.0.1", ip_mode="host-or-ip")
    assert m.matched and m.matched_by == "cn"
    m = check_host([], [], ["10.0.0.1"], "10.0.0.1")
    assert not m.matched and m.cn_would_match and "IP SANs only" in m.reason
    m = check_host(["db.example.com"], ["10.0.0.1"], [], "10.0.0.1", ip_mode="host-or-ip")
    assert m.matched and m.matched_by == "san-ip" and m.matched_name == "10.0.0.1"
    m = check_host(["db.example.com"], ["10.0.0.2"], [], "10.0.0.1", ip_mode="host-or-ip")
    assert not m.matched and "IP SAN" in m.reason
    # a host name is never compared with IP SANs
    assert not check_host([], ["10.0.0.1"], [], "db.example.com", ip_mode="host-or-ip").matched


def test_nul_and_empty_hosts() -> None:
    m = check_host(["db.example.com"], [], [], "db.example.com\x00evil")
    assert not m.matched and "NUL" in m.reason
    assert check_host(["db.example.com"], [], [], "db.example.com\x00").matched
    assert not check_host(["db.example.com"], [], [], "").matched
    assert not check_host([""], [], [""], "").matched


def test_partial_wildcards_depend_on_the_flag() -> None:
    """libmysqlclient (flags 0) accepts what Python's ssl (NO_PARTIAL_WILDCARDS) refuses."""
    for pattern, host in (
        ("db*.example.com", "db1.example.com"),
        ("*db.example.com", "xdb.example.com"),
    ):
        assert check_host([pattern], [], [], host).matched
        assert not check_host(
            [pattern], [], [], host, flags=X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS
        ).matched
    # never inside a label, never for an IDNA host label, never with NO_WILDCARDS
    assert not check_host(["d*b.example.com"], [], [], "dxb.example.com").matched
    assert not check_host(["x*.example.com"], [], [], "xn--rger-koa.example.com").matched
    assert check_host(["*.example.com"], [], [], "xn--rger-koa.example.com").matched
    assert not check_host(
        ["*.example.com"], [], [], "a.example.com", flags=X509_CHECK_FLAG_NO_WILDCARDS
    ).matched
