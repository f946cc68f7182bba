"""Tests of capture_tls.analysis.chain.

Every chain is made here with cryptography. For chains checked at the current time, the
expected verdict and X509_V_ERR code are not written by hand only: a real TLS handshake through
Python's ssl (libssl verifying inside the handshake, as the MySQL clients do) must report the
same error code (SSLCertVerificationError.verify_code), or succeed when we say ok.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from capture_tls.analysis.chain import (
    X509_V_ERR_CERT_HAS_EXPIRED,
    X509_V_ERR_CERT_NOT_YET_VALID,
    X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
    X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
    ChainResult,
    load_ca_bundle,
    verify_chain,
)
from capture_tls.limits import Limits

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def issue(
    cn: str,
    issuer: Issued | None = None,
    *,
    ca: bool | None = False,
    not_before: dt.datetime = NOW - 10 * DAY,
    not_after: dt.datetime = NOW + 90 * DAY,
    aia: bool = False,
    eku: Sequence[x509.ObjectIdentifier] | None = None,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if ca is not None:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if ca:
        b = b.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
    else:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
    if aia:
        b = b.add_extension(
            x509.AuthorityInformationAccess([
                x509.AccessDescription(
                    AuthorityInformationAccessOID.CA_ISSUERS,
                    x509.UniformResourceIdentifier("http://ca.example/inter.der"),
                )
            ]),
            critical=False,
        )  # fmt: skip
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    signer = issuer.key if issuer else key
    return Issued(b.sign(signer, hashes.SHA256()), key)


ROOT = issue("Test Root CA", ca=True, not_before=NOW - 400 * DAY, not_after=NOW + 3650 * DAY)
INTER = issue("Test Intermediate CA", ROOT, ca=True, not_before=NOW - 300 * DAY)
OTHER_ROOT = issue("Other Root CA", ca=True)
LEAF = issue("db.example.com", INTER, aia=True)


# --------------------------------------------------------------------------------------------
# A real client: Python's ssl verifying inside the handshake.


def _pump(client: ssl.SSLObject, server: ssl.SSLObject, bios: Sequence[ssl.MemoryBIO]) -> int:
    c_in, c_out, s_in, s_out = bios
    client_done = server_done = False
    for _ in range(20):
        if not client_done:
            try:
                client.do_handshake()
                client_done = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLCertVerificationError as e:
                return int(e.verify_code)
        if c_out.pending:
            s_in.write(c_out.read())
        if not server_done:
            try:
                server.do_handshake()
                server_done = True
            except ssl.SSLWantReadError:
                pass
        if s_out.pending:
            c_in.write(s_out.read())
        if client_done and server_done:
            return 0
    raise AssertionError("handshake did not finish")


def handshake_verify_code(tmp: Path, chain: Sequence[Issued], ca_pem: bytes) -> int:
    """0 when a real client accepts the chain, else OpenSSL's X509_V_ERR code."""
    cert_file = tmp / "chain.pem"
    key_file = tmp / "key.pem"
    cert_file.write_bytes(b"".join(c.pem for c in chain))
    key_file.write_bytes(
        chain[0].key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert_file, key_file)
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_REQUIRED
    cctx.load_verify_locations(cadata=ca_pem.decode())
    bios = [ssl.MemoryBIO() for _ in range(4)]
    client = cctx.wrap_bio(bios[0], bios[1])
    server = sctx.wrap_bio(bios[2], bios[3], server_side=True)
    return _pump(client, server, bios)


SELF_SIGNED_LEAF = issue("selfsigned.example.com", ca=None)
EXPIRED_LEAF = issue("db.example.com", INTER, not_before=NOW - 100 * DAY, not_after=NOW - DAY)
FUTURE_LEAF = issue("db.example.com", INTER, not_before=NOW + 5 * DAY)
PRIVATE_LEAF = issue("db.internal", OTHER_ROOT)  # no AIA: a private CA's leaf
CLIENT_ONLY_LEAF = issue("db.example.com", INTER, eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
NOT_A_CA = issue("Not A CA", ROOT, ca=False)
LEAF_UNDER_NOT_A_CA = issue("db.example.com", NOT_A_CA)

# (id, chain as sent, CA file, OpenSSL error code, first category, other categories)
SCENARIOS: list[tuple[str, list[Issued], bytes, int, str | None, tuple[str, ...]]] = [
    ("good", [LEAF, INTER], ROOT.pem, 0, None, ()),
    ("good-with-root-sent", [LEAF, INTER, ROOT], ROOT.pem, 0, None, ()),
    ("expired-leaf", [EXPIRED_LEAF, INTER], ROOT.pem, X509_V_ERR_CERT_HAS_EXPIRED, "expired", ()),
    (
        "not-yet-valid",
        [FUTURE_LEAF, INTER], ROOT.pem, X509_V_ERR_CERT_NOT_YET_VALID, "not-yet-valid", (),
    ),
    (
        "missing-intermediate",
        [LEAF], ROOT.pem, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "chain-incomplete", (),
    ),
    (
        "unknown-root",
        [LEAF, INTER], OTHER_ROOT.pem, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        "untrusted-root", (),
    ),
    (
        "unknown-root-sent",
        [LEAF, INTER, ROOT], OTHER_ROOT.pem, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
        "untrusted-root", (),
    ),
    (
        "private-ca-leaf-unknown-root",
        [PRIVATE_LEAF], ROOT.pem, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        "untrusted-root", (),
    ),
    (
        "self-signed-leaf",
        [SELF_SIGNED_LEAF], ROOT.pem, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
        "untrusted-root", ("self-signed",),
    ),
    ("self-signed-leaf-trusted", [SELF_SIGNED_LEAF], SELF_SIGNED_LEAF.pem, 0, None,
     ("self-signed",)),
    (
        "expired-behind-unknown-root",
        [EXPIRED_LEAF, INTER], OTHER_ROOT.pem, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        "untrusted-root", ("expired",),
    ),
    ("client-only-eku", [CLIENT_ONLY_LEAF, INTER], ROOT.pem, 26, "invalid-purpose", ()),
    ("issuer-not-a-ca", [LEAF_UNDER_NOT_A_CA, NOT_A_CA], ROOT.pem, 79, "invalid-ca", ()),
    ("bundle-with-both-roots", [LEAF, INTER], OTHER_ROOT.pem + ROOT.pem, 0, None, ()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "chain", "ca_pem", "code", "first", "more"), SCENARIOS, ids=[s[0] for s in SCENARIOS]
)
def test_scenarios_now(
    tmp_path: Path,
    label: str,
    chain: list[Issued],
    ca_pem: bytes,
    code: int,
    first: str | None,
    more: tuple[str, ...],
) -> None:
    real = handshake_verify_code(tmp_path, chain, ca_pem)
    assert real == code, f"the real client says {real}: fix the expectation"
    r = verify_chain([c.der for c in chain], ca_pem, NOW)
    assert r.error_code == code
    assert r.ok is (code == 0)
    if code == 0:
        assert r.error_text == "ok" and r.categories == more
        assert len(r.verified_chain_sha256) >= 1
    else:
        assert r.categories[0] == first
        assert set(more) <= set(r.categories)
        assert r.error_text and r.error_text in r.reason
        assert r.error_depth is not None


def test_validated_at_a_past_time() -> None:
    chain = [EXPIRED_LEAF.der, INTER.der]
    now = verify_chain(chain, ROOT.pem, NOW)
    assert now.ok is False and now.error_code == X509_V_ERR_CERT_HAS_EXPIRED
    then = verify_chain(chain, ROOT.pem, NOW - 50 * DAY)
    assert then.ok is True and then.error_code == 0 and then.categories == ()
    assert then.verified_chain_sha256[-1] == ROOT.cert.fingerprint(hashes.SHA256()).hex()
    # a naive time is UTC
    assert verify_chain(chain, ROOT.pem, (NOW - 50 * DAY).replace(tzinfo=None)).ok is True
    # and a future one finds the good leaf expired
    later = verify_chain([LEAF.der, INTER.der], ROOT.pem, NOW + 200 * DAY)
    assert later.ok is False and later.error_code == X509_V_ERR_CERT_HAS_EXPIRED
    before = verify_chain([FUTURE_LEAF.der, INTER.der], ROOT.pem, NOW + 10 * DAY)
    assert before.ok is True


def test_without_ca_file() -> None:
    r = verify_chain([EXPIRED_LEAF.der, INTER.der], None, NOW)
    assert r.ok is None and r.error_code is None
    assert r.categories == ("expired",)
    r = verify_chain([SELF_SIGNED_LEAF.der], None, NOW)
    assert r.ok is None and r.categories == ("self-signed",)
    assert verify_chain([LEAF.der, INTER.der], None, NOW).categories == ()


def test_empty_and_malformed_chains() -> None:
    r = verify_chain([], ROOT.pem, NOW)
    assert r.ok is None and r.categories == ()
    r = verify_chain([LEAF.der, b"\x30\x03garbage"], ROOT.pem, NOW)
    assert r.ok is False and r.categories == ("malformed",) and r.error_depth == 1


def test_chain_length_limit() -> None:
    r = verify_chain([LEAF.der, INTER.der, ROOT.der], ROOT.pem, NOW,
                     limits=Limits(max_certificates_per_chain=1))  # fmt: skip
    assert r.ok is False and r.categories[0] == "chain-incomplete"
    assert any("first 1 of 3" in n for n in r.notes)


def test_bundle_parsing() -> None:
    certs, notes = load_ca_bundle(b"junk\n" + ROOT.pem + b"\n" + OTHER_ROOT.pem)
    assert [c.subject for c in certs] == [ROOT.cert.subject, OTHER_ROOT.cert.subject]
    assert notes == ()
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    certs, notes = load_ca_bundle(broken + ROOT.pem)
    assert len(certs) == 1 and len(notes) == 1 and "entry 1" in notes[0]
    certs, notes = load_ca_bundle(ROOT.der)
    assert len(certs) == 1
    certs, notes = load_ca_bundle(b"nothing here")
    assert certs == () and notes
    r = verify_chain([LEAF.der, INTER.der], b"nothing here", NOW)
    assert r.ok is False and r.error_code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY


def test_result_is_frozen() -> None:
    r = verify_chain([LEAF.der, INTER.der], ROOT.pem, NOW)
    assert isinstance(r, ChainResult)
    with pytest.raises(AttributeError):
        r.ok = False  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Security-level checks libssl makes after chain verification.


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        head = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + head + content


def _span(b: bytes, pos: int) -> tuple[int, int]:
    """(content start, end) of the TLV at pos."""
    n = b[pos + 1]
    start = pos + 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[start : start + k], "big")
        start += k
    return start, start + n


def _children(b: bytes) -> list[bytes]:
    out = []
    pos = 0
    while pos < len(b):
        _, end = _span(b, pos)
        out.append(b[pos:end])
        pos = end
    return out


def sha1_signed(cert: x509.Certificate, issuer: Issued) -> x509.Certificate:
    """The same TBS, re-signed ecdsa-with-SHA1 (cryptography refuses to build it)."""
    alg = _tlv(0x30, _tlv(0x06, bytes.fromhex("2a8648ce3d0401")))
    tbs_in = cert.tbs_certificate_bytes
    start, end = _span(tbs_in, 0)
    fields = _children(tbs_in[start:end])
    fields[2] = alg
    tbs = _tlv(0x30, b"".join(fields))
    sig = issuer.key.sign(tbs, ec.ECDSA(hashes.SHA1()))
    return x509.load_der_x509_certificate(_tlv(0x30, tbs + alg + _tlv(0x03, b"\x00" + sig)))


def test_weak_key_is_reported_beside_a_good_chain(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weak.example.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(INTER.cert.subject)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .sign(INTER.key, hashes.SHA256())
    )
    r = verify_chain([cert.public_bytes(serialization.Encoding.DER), INTER.der], ROOT.pem, NOW)
    assert r.ok is True and r.categories == ("weak-key",)
    if ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).security_level >= 2:
        weak = Issued(cert, key)  # type: ignore[arg-type]
        with pytest.raises(ssl.SSLError, match="KEY_TOO_SMALL"):
            handshake_verify_code(tmp_path, [weak, INTER], ROOT.pem)


def test_sha1_signature_is_weak(tmp_path: Path) -> None:
    leaf = sha1_signed(LEAF.cert, INTER)
    assert leaf.signature_algorithm_oid.dotted_string == "1.2.840.10045.4.1"
    r = verify_chain([leaf.public_bytes(serialization.Encoding.DER), INTER.der], ROOT.pem, NOW)
    assert r.ok is True and r.categories == ("weak-signature",)
    if ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).security_level >= 2:
        with pytest.raises(ssl.SSLError, match="MD_TOO_WEAK"):
            handshake_verify_code(tmp_path, [Issued(leaf, LEAF.key), INTER], ROOT.pem)


@settings(max_examples=300, deadline=None)
@given(
    which=st.integers(0, 1),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=3),
)
def test_damaged_chains_never_raise(which: int, edits: list[tuple[int, int]]) -> None:
    chain = [bytearray(LEAF.der), bytearray(INTER.der)]
    for pos, value in edits:
        chain[which][pos % len(chain[which])] = value
    r = verify_chain([bytes(c) for c in chain], ROOT.pem, NOW)
    assert r.ok in (True, False)
    if r.ok:
        assert r.error_code == 0
    else:
        assert r.categories and r.reason


def test_issuer_name_only_openssl_can_read() -> None:
    """An issuer CN with an odd string tag: OpenSSL reads it, cryptography refuses it."""
    data = bytearray(INTER.der)
    at = data.index(b"Test Root CA")  # the issuer comes before the subject
    assert data[at - 2] == 0x0C  # UTF8String
    data[at - 2] = 0x07  # ObjectDescriptor: any value is fine for OpenSSL
    r = verify_chain([LEAF.der, bytes(data)], ROOT.pem, NOW)
    assert r.ok is False
    assert r.error_code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    assert r.categories[0] == "untrusted-root"  # the certificate without an issuer is a CA


def test_remembered_results_equal_fresh_ones_around_every_date() -> None:
    """verify_chain remembers results by time class (where the time falls among the chain's
    and the CA file's dates, in OpenSSL's whole seconds and in exact time). Around every such
    date, to the microsecond, the remembered answer must be OpenSSL's fresh one."""
    from capture_tls.analysis import chain as chain_mod

    root = issue("Edge Root", ca=True, not_before=NOW - 20 * DAY, not_after=NOW + 5 * DAY)
    inter = issue("Edge Inter", root, ca=True, not_before=NOW - 10 * DAY,
                  not_after=NOW + 3 * DAY)
    leaf = issue("edge.example", inter, not_before=NOW - 2 * DAY, not_after=NOW + DAY)
    chain = [leaf.der, inter.der]
    dates = [NOW - 20 * DAY, NOW - 10 * DAY, NOW - 2 * DAY, NOW + DAY, NOW + 3 * DAY,
             NOW + 5 * DAY]
    offsets = [dt.timedelta(seconds=s) for s in (-1.5, -1, -0.5, -0.000001, 0, 0.000001, 0.5,
                                                 0.999999, 1, 1.5)]
    bundles = [root.pem, root.pem + OTHER_ROOT.pem, None]
    chain_mod._results.clear()
    classes = set()
    for bundle in bundles:
        for when in dates:
            for off in offsets:
                at = when + off
                remembered = verify_chain(chain, bundle, at)
                fresh = chain_mod._verify_chain(chain, bundle, at, chain_mod.DEFAULT_LIMITS)
                assert remembered == fresh, (bundle is None, at)
                key = chain_mod._result_key(chain, bundle, at, chain_mod.DEFAULT_LIMITS)
                classes.add(key)
                # The date categories are OpenSSL's: never "expired" beside its "ok".
                dated = {"expired", "not-yet-valid"} & set(fresh.categories)
                if fresh.ok:
                    assert not dated, at
                if bundle is not None:
                    bare = chain_mod._verify_chain(chain, None, at, chain_mod.DEFAULT_LIMITS)
                    assert {"expired", "not-yet-valid"} & set(bare.categories) == dated, at
    # the cache was used (far fewer classes than times) and told the dates apart
    assert 10 < len(classes) < len(bundles) * len(dates) * len(offsets)
    assert {verify_chain(chain, root.pem, NOW - 3 * DAY).ok,
            verify_chain(chain, root.pem, NOW).ok} == {False, True}


def test_openssl_messages_do_not_carry_earlier_errors() -> None:
    """pyOpenSSL's errors name OpenSSL's whole error queue, where a failed verification
    leaves its errors: a certificate read afterwards must get the message it gets alone."""
    from capture_tls.analysis.certificates import (
        CertificateCache,
        CertificateParseError,
        parse_certificate,
    )

    bad = b"\x30\x03abc"  # cryptography refuses it, then OpenSSL (the fallback)

    def message() -> str:
        with pytest.raises(CertificateParseError) as e:
            parse_certificate(bad, cache=CertificateCache())
        return str(e.value)

    alone = message()
    assert "OpenSSL" in alone
    forged = bytearray(LEAF.der)
    forged[-3] ^= 0xFF  # the signature's last bytes
    for _ in range(3):  # failures that leave errors behind
        r = verify_chain([bytes(forged), INTER.der], ROOT.pem, NOW + dt.timedelta(seconds=_))
        assert r.ok is False
        assert message() == alone


def test_the_second_after_not_after_as_openssl_sees_it() -> None:
    """A client's OpenSSL compares the time in whole seconds (time(2)): in the second after
    the leaf's notAfter it still accepts the chain, and the categories agree (no "expired",
    which the report would turn into an EXPIRED finding beside a passing VERIFY_CA); from the
    next second on both say expired."""
    not_after = NOW + DAY
    leaf = issue("second.example", INTER, not_before=NOW - DAY, not_after=not_after)
    chain = [leaf.der, INTER.der]
    for off, expired in ((0.0, False), (0.25, False), (0.999999, False), (1.0, True),
                         (1.5, True)):
        at = not_after + dt.timedelta(seconds=off)
        with_ca = verify_chain(chain, ROOT.pem, at)
        assert with_ca.ok is (not expired), off
        assert ("expired" in with_ca.categories) is expired, off
        if expired:
            assert with_ca.error_code == X509_V_ERR_CERT_HAS_EXPIRED
        assert ("expired" in verify_chain(chain, None, at).categories) is expired, off
    # notBefore likewise: valid from its second on.
    before = NOW - DAY
    for off, early in ((-1.0, True), (-0.5, True), (0.0, False), (0.5, False)):
        at = before + dt.timedelta(seconds=off)
        r = verify_chain(chain, ROOT.pem, at)
        assert r.ok is (not early), off
        assert ("not-yet-valid" in r.categories) is early, off


@given(st.datetimes(timezones=st.just(dt.UTC)))
@settings(max_examples=2000)
def test_whole_seconds_are_pyopenssls(t: dt.datetime) -> None:
    """The time class uses the seconds pyOpenSSL hands OpenSSL: calendar.timegm of the UTC
    time tuple (microseconds dropped, rounded down), to the microsecond before a second."""
    import calendar

    from capture_tls.analysis.chain import _seconds

    assert _seconds(t) == calendar.timegm(t.utctimetuple())
    assert _seconds(t.replace(tzinfo=None)) == calendar.timegm(t.utctimetuple())
