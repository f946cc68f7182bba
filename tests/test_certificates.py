"""Tests of capture_tls.analysis.certificates.

Expected values come from the certificates' own construction (what we put in), from the
`openssl x509` command (serial, dates, fingerprint, key, signature algorithm), from pyOpenSSL
(OpenSSL's name for the signature algorithm) and, for hand-damaged certificates, from the
installed libcrypto's X509_check_host (through ctypes) on the very same bytes.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import hashlib
import ipaddress
import re
import shutil
import subprocess
import warnings
from collections.abc import Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from capture_tls.analysis.certificates import (
    CertificateCache,
    CertificateParseError,
    certificate_facts,
    host_match,
    parse_certificate,
)
from capture_tls.analysis.model import CertificateFacts
from capture_tls.errors import ProtocolError
from capture_tls.limits import DEFAULT_LIMITS, Limits

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | dsa.DSAPrivateKey
)

EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def name(*cns: str, org: str | None = None) -> x509.Name:
    attrs = []
    if org is not None:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs += [x509.NameAttribute(NameOID.COMMON_NAME, cn) for cn in cns]
    return x509.Name(attrs)


def build(
    subject: x509.Name,
    *,
    key: PrivateKey = EC_KEY,
    issuer: x509.Name | None = None,
    issuer_key: PrivateKey | None = None,
    san: Sequence[x509.GeneralName] = (),
    serial: int = 0x0A1B2C,
    not_before: dt.datetime = T0,
    not_after: dt.datetime = T0 + dt.timedelta(days=90),
    hash_alg: hashes.SHA256 | hashes.SHA384 | None = None,
) -> x509.Certificate:
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(list(san)), critical=False)
    signer = issuer_key or key
    if isinstance(signer, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return b.sign(signer, None)
    return b.sign(signer, hash_alg or hashes.SHA256())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


# --------------------------------------------------------------------------------------------
# DER surgery for certificates cryptography would never build.


def _tlv_at(b: bytes, pos: int) -> tuple[int, int, int]:
    tag = b[pos]
    n = b[pos + 1]
    start = pos + 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[start : start + k], "big")
        start += k
    return tag, start, start + n


def _children(b: bytes) -> list[bytes]:
    out = []
    pos = 0
    while pos < len(b):
        _, _, end = _tlv_at(b, pos)
        out.append(b[pos:end])
        pos = end
    return out


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _len(len(content)) + content


def tbs_fields(cert: x509.Certificate) -> list[bytes]:
    tbs = cert.tbs_certificate_bytes
    _, s, e = _tlv_at(tbs, 0)
    return _children(tbs[s:e])


def resign(fields: list[bytes], key: ec.EllipticCurvePrivateKey = EC_KEY) -> bytes:
    """A Certificate from TBS fields, signed ecdsa-with-SHA256 by `key`."""
    tbs = tlv(0x30, b"".join(fields))
    sig = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    alg = tlv(0x30, tlv(0x06, bytes.fromhex("2a8648ce3d040302")))
    return tlv(0x30, tbs + alg + tlv(0x03, b"\x00" + sig))


def san_ext(*general_names: bytes, twice: bool = False) -> bytes:
    ext = tlv(0x30, tlv(0x06, b"\x55\x1d\x11") + tlv(0x04, tlv(0x30, b"".join(general_names))))
    return tlv(0xA3, tlv(0x30, ext + (ext if twice else b"")))


BASE = build(name("base.example"))  # version, serial, sigalg, issuer, validity, subject, spki


# --------------------------------------------------------------------------------------------
# The openssl command as a second opinion.

OPENSSL = shutil.which("openssl")


def openssl_x509(data: bytes, *args: str) -> str:
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, "x509", "-inform", "DER", "-noout", *args],
        input=data,
        capture_output=True,
        check=True,
    ).stdout.decode()


def _openssl_date(text: str) -> str:
    t = dt.datetime.strptime(text.strip().replace("  ", " "), "%b %d %H:%M:%S %Y GMT")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


KEYS: list[tuple[str, PrivateKey, str, str]] = [
    ("rsa2048", RSA_KEY, "RSA 2048", "sha256WithRSAEncryption"),
    ("p256", EC_KEY, "EC P-256", "ecdsa-with-SHA256"),
    ("p384", ec.generate_private_key(ec.SECP384R1()), "EC P-384", "ecdsa-with-SHA256"),
    ("ed25519", ed25519.Ed25519PrivateKey.generate(), "Ed25519", "ED25519"),
    ("ed448", ed448.Ed448PrivateKey.generate(), "Ed448", "ED448"),
    ("dsa1024", dsa.generate_private_key(1024), "DSA 1024", "dsa_with_SHA256"),
]


@pytest.mark.parametrize(("label", "key", "key_text", "sig_name"), KEYS, ids=[k[0] for k in KEYS])
def test_key_and_signature_names(label: str, key: PrivateKey, key_text: str, sig_name: str) -> None:
    cert = build(name(f"{label}.example"), key=key)
    facts = certificate_facts(der(cert))
    assert facts.public_key == key_text
    assert facts.signature_algorithm == sig_name
    # OpenSSL's own name for it (OBJ_nid2ln through pyOpenSSL)
    from OpenSSL import crypto

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ossl = crypto.load_certificate(crypto.FILETYPE_ASN1, der(cert))
        assert facts.signature_algorithm == ossl.get_signature_algorithm().decode()
    assert facts.self_signed


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")
def test_facts_agree_with_openssl_command() -> None:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = name("capture-tls CA", org="Example, Inc.")
    cert = build(
        name("db1.example.com", org="DB"),
        issuer=ca_name,
        issuer_key=ca_key,
        san=[
            x509.DNSName("db1.example.com"),
            x509.IPAddress(ipaddress.ip_address("10.1.2.3")),
            x509.DNSName("*.db.example.com"),
            x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
            x509.RFC822Name("dba@example.com"),
        ],
        serial=0x00F1E2D3C4B5A6,
        hash_alg=hashes.SHA384(),
    )
    data = der(cert)
    f = certificate_facts(data)
    out = openssl_x509(data, "-serial", "-startdate", "-enddate", "-fingerprint", "-sha256")
    fields = dict(line.split("=", 1) for line in out.strip().splitlines())
    assert f.serial == fields["serial"].lower()
    assert f.not_before == _openssl_date(fields["notBefore"]) == "2026-01-02T03:04:05Z"
    assert f.not_after == _openssl_date(fields["notAfter"])
    assert f.sha256 == fields["sha256 Fingerprint"].replace(":", "").lower()
    assert f.sha256 == hashlib.sha256(data).hexdigest()
    text = openssl_x509(data, "-text")
    assert f"Signature Algorithm: {f.signature_algorithm}" in text
    assert f.signature_algorithm == "sha384WithRSAEncryption"
    assert "Public-Key: (256 bit)" in text and f.public_key == "EC P-256"
    assert f.san_dns == ("db1.example.com", "*.db.example.com")
    assert f.san_ip == ("10.1.2.3", "2001:db8::1")
    assert f.subject == "CN=db1.example.com,O=DB"
    assert f.issuer == "CN=capture-tls CA,O=Example\\, Inc."
    assert f.subject_cn == "db1.example.com"
    assert not f.self_signed
    assert f.pem == cert.public_bytes(serialization.Encoding.PEM).decode()


def test_subject_cns_and_subject_cn() -> None:
    cert = build(name("first.example", "second.example"))
    p = parse_certificate(der(cert))
    assert p.subject_cns == ("first.example", "second.example")
    assert p.facts.subject_cn == "second.example"  # the last, most specific one
    assert p.facts.subject == "CN=second.example,CN=first.example"
    assert host_match(p, "first.example").matched  # OpenSSL tries every CN
    assert parse_certificate(der(build(x509.Name([])))).facts.subject_cn is None


def test_self_signed_needs_a_verifying_signature() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    same_name = name("looks-self-signed.example")
    forged = build(same_name, issuer=same_name, issuer_key=other)  # names equal, key differs
    assert not certificate_facts(der(forged)).self_signed
    assert certificate_facts(der(build(same_name))).self_signed
    leaf = build(name("leaf.example"), issuer=same_name, issuer_key=EC_KEY)
    assert not certificate_facts(der(leaf)).self_signed


def test_serial_and_time_formats() -> None:
    utc_cert = build(name("u"), serial=5, not_before=dt.datetime(1999, 12, 31, 23, 59, 59))
    f = certificate_facts(der(utc_cert))
    assert f.serial == "05"
    assert f.not_before == "1999-12-31T23:59:59Z"  # UTCTime
    gen = build(name("g"), not_after=dt.datetime(2051, 6, 7, 8, 9, 10))
    assert certificate_facts(der(gen)).not_after == "2051-06-07T08:09:10Z"  # GeneralizedTime


def test_san_cap() -> None:
    sans: list[x509.GeneralName] = [x509.DNSName(f"h{i}.example") for i in range(5)]
    sans.append(x509.IPAddress(ipaddress.ip_address("10.0.0.1")))
    data = der(build(name("cap"), san=sans))
    p = parse_certificate(data, Limits(max_san_entries=3))
    assert p.facts.san_dns == ("h0.example", "h1.example", "h2.example")
    assert p.facts.san_ip == ()
    assert p.san_entries_omitted == 3 and p.has_dns_san
    assert any("limit of 3" in n for n in p.notes)
    full = parse_certificate(data)
    assert len(full.facts.san_dns) == 5 and full.facts.san_ip == ("10.0.0.1",)
    assert full.notes == ()
    assert full.has_san_extension
    only_email = parse_certificate(der(build(name("e"), san=[x509.RFC822Name("a@b.example")])))
    assert only_email.has_san_extension and not only_email.has_dns_san
    assert not parse_certificate(der(build(name("n")))).has_san_extension


def test_cache_parses_once_and_is_bounded() -> None:
    cache = CertificateCache(max_entries=2)
    a, b, c = (der(build(name(n))) for n in ("a", "b", "c"))
    first = parse_certificate(a, cache=cache)
    assert parse_certificate(a, cache=cache) is first
    assert (cache.hits, cache.misses) == (1, 1)
    parse_certificate(b, cache=cache)
    parse_certificate(c, cache=cache)
    assert len(cache) == 2
    assert parse_certificate(a, cache=cache) is not first  # evicted, parsed again
    assert cache.misses == 4


# --------------------------------------------------------------------------------------------
# Damaged certificates: facts kept, notes written, only CertificateParseError raised.


@pytest.mark.parametrize(
    "data",
    [b"", b"not a certificate", b"\x30\x03\x02\x01", der(BASE)[:-10], b"\x30\x80" + b"\x00" * 8],
)
def test_not_a_certificate(data: bytes) -> None:
    with pytest.raises(CertificateParseError):
        certificate_facts(data)
    assert issubclass(CertificateParseError, ProtocolError)


def test_oversized_input() -> None:
    with pytest.raises(CertificateParseError):
        certificate_facts(der(BASE), Limits(max_handshake_message_bytes=100))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.integers(min_value=0, max_value=len(der(BASE))))
def test_random_damage_raises_only_our_error(noise: bytes, cut: int) -> None:
    data = der(BASE)
    for candidate in (noise, data[:cut] + noise, data[:cut] + noise + data[cut + len(noise) :]):
        try:
            f = certificate_facts(candidate, DEFAULT_LIMITS)
        except CertificateParseError:
            continue
        assert isinstance(f, CertificateFacts)


def test_negative_serial() -> None:
    fields = tbs_fields(BASE)
    fields[1] = tlv(0x02, b"\xfe")  # -2
    p = parse_certificate(resign(fields))
    assert p.facts.serial == "-02"
    assert any("not positive" in n for n in p.notes)
    assert p.facts.subject == "CN=base.example"


def test_month_13_is_read_through_openssl() -> None:
    fields = tbs_fields(BASE)
    fields[4] = tlv(0x30, tlv(0x18, b"20261301000000Z") + tlv(0x18, b"20271201000000Z"))
    p = parse_certificate(resign(fields))
    assert p.facts.not_before == "2026-13-01T00:00:00Z"
    assert p.facts.not_after == "2027-12-01T00:00:00Z"
    assert p.not_before_utc is None
    assert p.facts.subject == "CN=base.example" and p.subject_cns == ("base.example",)
    assert p.facts.public_key == "EC P-256"
    assert p.facts.signature_algorithm == "ecdsa-with-SHA256"
    assert any("read with OpenSSL" in n for n in p.notes)


def test_year_zero() -> None:
    fields = tbs_fields(BASE)
    fields[4] = tlv(0x30, tlv(0x18, b"00000101000000Z") + tlv(0x18, b"99991231235959Z"))
    p = parse_certificate(resign(fields))
    assert p.facts.not_before == "0000-01-01T00:00:00Z"
    assert p.facts.not_after == "9999-12-31T23:59:59Z"
    assert p.not_before_utc is None and p.not_after_utc is None
    assert any("not a usable date" in n for n in p.notes)


def test_unsupported_key() -> None:
    fields = tbs_fields(BASE)
    gost = tlv(0x30, tlv(0x06, bytes.fromhex("2a850302021301")) + tlv(0x05, b""))
    fields[6] = tlv(0x30, gost + tlv(0x03, b"\x00" + b"\x04" * 10))
    p = parse_certificate(resign(fields))
    assert p.facts.public_key == "unknown (1.2.643.2.2.19.1)"
    assert p.key_bits is None
    assert not p.facts.self_signed


# Certificates whose SANs cryptography refuses, and what OpenSSL's X509_check_host says.
DAMAGED_SANS: list[tuple[str, bytes, tuple[str, ...], tuple[str, ...]]] = [
    (
        "non-ascii-dns-and-5-byte-ip",
        san_ext(tlv(0x82, "é.example".encode()), tlv(0x87, b"\x01\x02\x03\x04\x05"),
                tlv(0x82, b"ok.example"), tlv(0x87, b"\x0a\x00\x00\x01")),
        ("é.example", "ok.example"),
        ("<invalid length=5>", "10.0.0.1"),
    ),
    (
        "duplicate-san",
        san_ext(tlv(0x82, b"dup.example"), twice=True),
        (),
        (),
    ),
    (
        "san-not-der",
        tlv(0xA3, tlv(0x30, tlv(0x30, tlv(0x06, b"\x55\x1d\x11")
                                 + tlv(0x04, b"\x30\x05\x82\x01")))),
        (),
        (),
    ),
]  # fmt: skip


def _libcrypto_check_host(data: bytes, host: str) -> int | None:
    try:
        lib = ctypes.CDLL("libcrypto.so.3")
    except OSError:
        return None
    lib.d2i_X509.restype = ctypes.c_void_p
    lib.d2i_X509.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]
    lib.X509_free.argtypes = [ctypes.c_void_p]
    lib.X509_check_host.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_void_p,
    ]  # fmt: skip
    buf = ctypes.c_char_p(data)
    ptr = lib.d2i_X509(None, ctypes.byref(buf), len(data))
    assert ptr
    hb = host.encode()
    try:
        return int(lib.X509_check_host(ptr, hb, len(hb), 0, None))
    finally:
        lib.X509_free(ptr)


@pytest.mark.parametrize(
    ("label", "ext", "dns", "ips"), DAMAGED_SANS, ids=[d[0] for d in DAMAGED_SANS]
)
def test_damaged_san_read_as_openssl_does(
    label: str, ext: bytes, dns: tuple[str, ...], ips: tuple[str, ...]
) -> None:
    fields = tbs_fields(BASE)
    fields.append(ext)
    fields[0] = tlv(0xA0, tlv(0x02, b"\x02"))  # v3
    data = resign(fields)
    p = parse_certificate(data)
    assert p.facts.san_dns == dns
    assert p.facts.san_ip == ips
    assert p.has_san_extension == bool(dns or ips)
    assert p.has_dns_san == bool(dns)
    assert p.notes  # something was said about it
    assert p.facts.subject_cn == "base.example"
    for host in ("base.example", "ok.example", "é.example", "dup.example", "x.example"):
        want = _libcrypto_check_host(data, host)
        if want is None:
            pytest.skip("no libcrypto.so.3")
        assert host_match(p, host).matched == (want == 1), host


def test_ip_network_san() -> None:
    fields = tbs_fields(BASE)
    fields[0] = tlv(0xA0, tlv(0x02, b"\x02"))
    fields.append(san_ext(tlv(0x87, b"\x0a\x00\x00\x00\xff\x00\x00\x00")))
    p = parse_certificate(resign(fields))
    assert p.facts.san_ip == ("10.0.0.0/8",)
    assert not host_match(p, "10.0.0.1").matched


def test_rsa_pss_and_sha1_names() -> None:
    pss = (
        x509.CertificateBuilder()
        .subject_name(name("pss"))
        .issuer_name(name("pss"))
        .public_key(RSA_KEY.public_key())
        .serial_number(1)
        .not_valid_before(T0)
        .not_valid_after(T0 + dt.timedelta(days=1))
        .sign(
            RSA_KEY,
            hashes.SHA256(),
            rsa_padding=padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH),
        )
    )
    f = certificate_facts(der(pss))
    assert f.signature_algorithm == "rsassaPss"
    assert f.self_signed
    if OPENSSL is not None:
        assert re.search(r"Signature Algorithm: rsassaPss", openssl_x509(der(pss), "-text"))


FUZZ_SEEDS = [
    der(BASE),
    der(build(name("a", "b", org="O"), key=RSA_KEY, san=[x509.DNSName("x.example"),
        x509.IPAddress(ipaddress.ip_address("10.0.0.1"))])),
    der(build(name("ed"), key=KEYS[3][1])),
]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(
    seed=st.sampled_from(FUZZ_SEEDS),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=4),
    cut=st.integers(min_value=0, max_value=2000),
)
def test_mutated_certificates_raise_only_our_error(
    seed: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(seed)
    for pos, value in edits:
        data[pos % len(data)] = value
    for candidate in (bytes(data), bytes(data[:cut])):
        try:
            p = parse_certificate(candidate, cache=CertificateCache(1))
        except CertificateParseError:
            continue
        assert p.facts.sha256 == hashlib.sha256(candidate).hexdigest()
        assert isinstance(p.facts.san_dns, tuple) and isinstance(p.notes, tuple)
        host_match(p, "x.example")
        host_match(p, "10.0.0.1")
