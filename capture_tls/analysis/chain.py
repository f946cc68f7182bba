"""Chain verification as OpenSSL does it for the MySQL clients, at the capture's time.

Theory of operation
-------------------
A MySQL client linked against OpenSSL (libmysqlclient, MariaDB Connector/C, Python's ssl)
verifies the server's chain inside the handshake: `X509_STORE_CTX_init(store, leaf,
untrusted = the other certificates the server sent)` with the CA file as the store, purpose
"SSL server", default flags (trusted-first, no partial chains), then `X509_verify_cert`. The
first error it meets is what the client reports (and which alert it sends).

`verify_chain()` runs exactly that through pyOpenSSL (OpenSSL itself), with the store's time
set to the capture's time, and returns a frozen `ChainResult`: OpenSSL's verdict and error
(X509_V_ERR_* number, its text, the depth), plus categories a person recognises, some of which
OpenSSL's single error hides (an expired certificate behind an unknown root).

Categories:
- "expired" / "not-yet-valid": a certificate the server sent is outside its validity at the
  given time (whatever error OpenSSL stopped at first), compared as OpenSSL compares it: the
  time in whole seconds (what time(2) gives a client, and pyOpenSSL's store time), so that
  in the second after a notAfter the chain is neither "expired" here nor refused by OpenSSL.
- "self-signed": the server's own certificate is self-signed.
- "untrusted-root": the chain ends at a root that is not in the CA file (OpenSSL 18/19), or at
  a CA certificate whose issuer is nowhere (20/2 above the leaf), or at a leaf whose issuer is
  nowhere and that does not look like a public-CA leaf (no AIA caIssuers): a private CA the CA
  file does not hold.
- "chain-incomplete": the leaf's issuer is nowhere and the leaf looks like one issued by an
  intermediate (it carries AIA caIssuers, as public CAs' leaves do): the server does not send
  its intermediate. The two cases are not distinguishable for certain; `reason` says so.
- "weak-key" / "weak-signature": a key or signature of the chain that a client at TLS security
  level 2 (Debian's and Ubuntu's default) refuses in the handshake (handshake_failure) even
  though the chain verifies: RSA/DSA under 2048 bits, EC under 224, MD5 or SHA-1 signatures.
  OpenSSL's own verify errors 66-68 map here too.
- "bad-signature", "invalid-ca", "invalid-purpose", "bad-date", "malformed", "other".

The OpenSSL doing the work is the one pyOpenSSL runs on (cryptography's own build, which may be
newer than the system libssl the clients link); the tests check every scenario against a real
handshake with the system's libssl.

What is not reproduced: the TLS security level's key-size and digest checks (OpenSSL's
`auth_level`, set by libssl and not reachable through pyOpenSSL), revocation (no client
checks CRLs by default), and host names (hostname.py).
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

from capture_tls.analysis.certificates import (
    CertificateParseError,
    ParsedCertificate,
    clear_openssl_errors,
    parse_certificate,
)
from capture_tls.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "X509_V_ERR_CERT_HAS_EXPIRED",
    "X509_V_ERR_CERT_NOT_YET_VALID",
    "X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT",
    "X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN",
    "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "X509_V_OK",
    "ChainResult",
    "load_ca_bundle",
    "time_class_span",
    "verify_chain",
    "verify_chain_keyed",
]

# include/openssl/x509_vfy.h
X509_V_OK = 0
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT = 2
X509_V_ERR_CERT_SIGNATURE_FAILURE = 7
X509_V_ERR_CERT_NOT_YET_VALID = 9
X509_V_ERR_CERT_HAS_EXPIRED = 10
X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD = 13
X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD = 14
X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18
X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN = 19
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE = 4
X509_V_ERR_PATH_LENGTH_EXCEEDED = 25
X509_V_ERR_INVALID_PURPOSE = 26
X509_V_ERR_KEYUSAGE_NO_CERTSIGN = 32
X509_V_ERR_EE_KEY_TOO_SMALL = 66
X509_V_ERR_CA_KEY_TOO_SMALL = 67
X509_V_ERR_CA_MD_TOO_WEAK = 68
X509_V_ERR_INVALID_CA = 79  # 24 before OpenSSL 3.0

_X509_PURPOSE_SSL_SERVER = 2  # what libssl sets for a client verifying a server

_CATEGORY_BY_CODE = {
    X509_V_ERR_CERT_SIGNATURE_FAILURE: "bad-signature",
    X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE: "bad-signature",
    X509_V_ERR_CERT_NOT_YET_VALID: "not-yet-valid",
    X509_V_ERR_CERT_HAS_EXPIRED: "expired",
    X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD: "bad-date",
    X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD: "bad-date",
    X509_V_ERR_INVALID_CA: "invalid-ca",
    X509_V_ERR_PATH_LENGTH_EXCEEDED: "invalid-ca",
    X509_V_ERR_KEYUSAGE_NO_CERTSIGN: "invalid-ca",
    X509_V_ERR_INVALID_PURPOSE: "invalid-purpose",
    X509_V_ERR_EE_KEY_TOO_SMALL: "weak-key",
    X509_V_ERR_CA_KEY_TOO_SMALL: "weak-key",
    X509_V_ERR_CA_MD_TOO_WEAK: "weak-signature",
}

# CA bundles remembered (parsed trust anchors). A run sees one or two CA files.
_BUNDLE_CACHE_ENTRIES = 8


@dataclass(frozen=True, slots=True)
class ChainResult:
    """OpenSSL's verdict on a server's chain, with the reasons a person needs.

    ok: True when OpenSSL verifies the chain against the CA file; None without a CA file or
        without a certificate (nothing to verify against).
    error_code / error_text / error_depth: OpenSSL's X509_V_ERR_* number, its message and the
        depth of the certificate it failed on (0 = the server's own); 0/"ok"/None when ok,
        None/None/None when not verified.
    categories: every problem found (see the module comment), OpenSSL's first one first.
    reason: one sentence.
    verified_chain_sha256: the chain OpenSSL built (leaf first, root last) when ok.
    notes: what was skipped or could not be read (bad CA entries, extra certificates).
    """

    ok: bool | None
    error_code: int | None
    error_text: str | None
    error_depth: int | None
    categories: tuple[str, ...]
    reason: str
    verified_chain_sha256: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# CA bundles.

_PEM_BLOCK = re.compile(
    rb"-----BEGIN (?:TRUSTED |X509 )?CERTIFICATE-----\s+.*?-----END (?:TRUSTED |X509 )?"
    rb"CERTIFICATE-----",
    re.S,
)


@dataclass(frozen=True, slots=True)
class _Bundle:
    certificates: tuple[x509.Certificate, ...]
    notes: tuple[str, ...]


_bundle_cache: OrderedDict[bytes, _Bundle] = OrderedDict()
_bundle_lock = threading.Lock()


def load_ca_bundle(pem_bundle: bytes) -> tuple[tuple[x509.Certificate, ...], tuple[str, ...]]:
    """The certificates of a CA file (PEM blocks, or one DER certificate), and notes.

    A block that does not parse is skipped with a note (OpenSSL would refuse the whole file;
    the note says so) rather than losing every other anchor.
    """
    key = hashlib.sha256(pem_bundle).digest()
    with _bundle_lock:
        found = _bundle_cache.get(key)
        if found is not None:
            _bundle_cache.move_to_end(key)
            return found.certificates, found.notes
    certs: list[x509.Certificate] = []
    notes: list[str] = []
    blocks = _PEM_BLOCK.findall(pem_bundle)
    if not blocks and pem_bundle[:1] == b"\x30":
        try:
            certs.append(x509.load_der_x509_certificate(pem_bundle))
        except ValueError as e:
            notes.append(f"the CA file is neither PEM nor a DER certificate ({e})")
    for i, block in enumerate(blocks):
        if b"TRUSTED CERTIFICATE" in block.split(b"\n", 1)[0]:
            notes.append(f"CA entry {i + 1} is a TRUSTED CERTIFICATE, not supported; skipped")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                certs.append(x509.load_pem_x509_certificate(block))
        except ValueError as e:
            notes.append(
                f"CA entry {i + 1} cannot be parsed ({str(e)[:120]}); skipped here, though "
                "OpenSSL refuses a CA file with a broken entry"
            )
    if not blocks and not certs and not notes:
        notes.append("the CA file holds no certificate")
    bundle = _Bundle(tuple(certs), tuple(notes))
    with _bundle_lock:
        _bundle_cache[key] = bundle
        while len(_bundle_cache) > _BUNDLE_CACHE_ENTRIES:
            _bundle_cache.popitem(last=False)
    return bundle.certificates, bundle.notes


# --------------------------------------------------------------------------------------------


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def _date_categories(parsed: Sequence[ParsedCertificate], at: dt.datetime) -> list[str]:
    """The date problems of the chain at `at` in whole seconds, as OpenSSL finds them
    (expired: the time after notAfter; not yet valid: before notBefore)."""
    out = []
    t = _seconds(at)
    for p in parsed:
        if p.not_before_utc is None or p.not_after_utc is None:
            out.append("bad-date")
        elif t > _seconds(p.not_after_utc):
            out.append("expired")
        elif t < _seconds(p.not_before_utc):
            out.append("not-yet-valid")
    return out


# TLS security level 2 (the default of Debian's and Ubuntu's OpenSSL builds): 112 bits of
# security, i.e. RSA/DSA keys of 2048 bits, EC keys of 224 bits, no MD5/SHA-1 signatures.
# libssl refuses such a chain in the handshake (handshake_failure), after chain verification.
_MIN_BITS = {"RSA": 2048, "DSA": 2048, "EC": 224}
_WEAK_SIGNATURES = {
    "md2WithRSAEncryption",
    "md5WithRSAEncryption",
    "sha1WithRSAEncryption",
    "ecdsa-with-SHA1",
    "dsaWithSHA1",
}


def _weak_categories(parsed: Sequence[ParsedCertificate]) -> list[str]:
    out = []
    for p in parsed:
        minimum = _MIN_BITS.get(p.key_type)
        if minimum is not None and p.key_bits is not None and p.key_bits < minimum:
            out.append("weak-key")
        if p.facts.signature_algorithm in _WEAK_SIGNATURES and not p.facts.self_signed:
            out.append("weak-signature")
    return out


def _has_ca_issuers(cert: x509.Certificate) -> bool:
    try:
        aia = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    except Exception:  # absent or malformed: no sign of a public CA
        return False
    value = aia.value
    assert isinstance(value, x509.AuthorityInformationAccess)
    return any(d.access_method == AuthorityInformationAccessOID.CA_ISSUERS for d in value)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        bc = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    except Exception:
        return False
    assert isinstance(bc, x509.BasicConstraints)
    return bc.ca


def _unique(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def verify_chain(
    chain_der: Sequence[bytes],
    ca_pem_bundle: bytes | None,
    at_time: dt.datetime,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> ChainResult:
    """Verify the server's chain (leaf first, as sent) against a CA file at `at_time`.

    Never raises for bad input: certificates that cannot be parsed are part of the result.
    A naive `at_time` is taken as UTC.

    Remembered: the same chain, CA file and time class give the same result. OpenSSL is
    given the time in whole seconds and compares it with each certificate's dates (chain and
    CA file), and so do the date checks here; the time class is where that second falls among
    all those dates, so a result is reused only where every comparison comes out the same.
    With a CA file this saves OpenSSL's 0.4 ms a connection (and rebuilding its store: 140
    anchors for --ca system).
    """
    return verify_chain_keyed(chain_der, ca_pem_bundle, at_time, limits=limits)[0]


def verify_chain_keyed(
    chain_der: Sequence[bytes],
    ca_pem_bundle: bytes | None,
    at_time: dt.datetime,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[ChainResult, tuple[object, ...] | None]:
    """`verify_chain`, and the key it was remembered under: everything the result depends on
    (the chain's DERs, the CA file, the limits and the time class), or None when it is not
    remembered. Equal keys give equal results, so a caller may key its own memo by it."""
    at = _utc(at_time)
    key = _result_key(chain_der, ca_pem_bundle, at, limits)
    if key is not None:
        found = _results.get(key)
        if found is not None:
            return found, key
    result = _verify_chain(chain_der, ca_pem_bundle, at, limits)
    if key is not None:
        if len(_results) >= _MAX_RESULTS:
            _results.clear()
        _results[key] = result
    return result, key


_MAX_RESULTS = 1024  # a chain of a few kB each: a few MB at most
_results: dict[tuple[object, ...], ChainResult] = {}
# Per CA file: the sorted seconds at which one of its certificates becomes valid (notBefore)
# or expired (notAfter + 1), as OpenSSL compares them.
_anchor_edges: dict[bytes, list[int]] = {}
# Per chain (as sent, cut to the limit) and limits: its certificates' validity as datetimes
# and the sorted seconds of its edges, or None when a certificate cannot be parsed or has no
# dates (then nothing is remembered). Same bound and reason as _results.
_chain_dates: dict[tuple[tuple[bytes, ...], Limits],
                   tuple[tuple[tuple[dt.datetime, dt.datetime], ...], list[int]] | None] = {}


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SECOND = dt.timedelta(seconds=1)


def _seconds(t: dt.datetime) -> int:
    """Whole seconds since the epoch, rounded down as calendar.timegm(utctimetuple()) does
    (what pyOpenSSL hands OpenSSL), in integers: 0.26 against 1.3 us, four times a
    connection."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return (t - _EPOCH) // _SECOND


def _dates_of(chain: tuple[bytes, ...], limits: Limits
              ) -> tuple[tuple[tuple[dt.datetime, dt.datetime], ...], list[int]] | None:
    dates: list[tuple[dt.datetime, dt.datetime]] = []
    edges: list[int] = []
    for der in chain:
        try:
            p = parse_certificate(der, limits)
        except CertificateParseError:
            return None
        nb, na = p.not_before_utc, p.not_after_utc
        if nb is None or na is None:
            return None
        edges += (_seconds(nb), _seconds(na) + 1)
        dates.append((nb, na))
    return tuple(dates), sorted(edges)


def _anchor_seconds(ca_pem_bundle: bytes | None) -> list[int]:
    """The sorted edges of a CA file's certificates (`_anchor_edges`), remembered."""
    if ca_pem_bundle is None:
        return []
    found = _anchor_edges.get(ca_pem_bundle)
    if found is None:
        certs, _notes = load_ca_bundle(ca_pem_bundle)
        found = []
        for c in certs:
            try:
                found += (_seconds(c.not_valid_before_utc),
                          _seconds(c.not_valid_after_utc) + 1)
            except (ValueError, OverflowError):
                pass
        found.sort()
        if len(_anchor_edges) >= _BUNDLE_CACHE_ENTRIES:
            _anchor_edges.clear()
        _anchor_edges[ca_pem_bundle] = found
    return found


def time_class_span(
    chain_der: Sequence[bytes],
    ca_pem_bundle: bytes | None,
    at_time: dt.datetime,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[float, float] | None:
    """(lo, hi) in seconds since the epoch, lo <= `at_time` < hi: between two neighbouring
    dates the time class may change at (a certificate's notBefore or notAfter as OpenSSL's
    whole-second edges, of the chain and of the CA file). Every time strictly between lo and
    hi has `at_time`'s result key (`verify_chain_keyed`). None when results for this chain
    are not remembered."""
    at = _utc(at_time)
    if _result_key(chain_der, ca_pem_bundle, at, limits) is None:
        return None
    known = _chain_dates.get((tuple(chain_der[: limits.max_certificates_per_chain]), limits))
    if known is None:
        return None
    _dates, edges = known
    points = [float(e) for e in edges]
    points += (float(e) for e in _anchor_seconds(ca_pem_bundle))
    points.sort()
    now = (at - _EPOCH) / _SECOND
    i = bisect.bisect_right(points, now)
    return (points[i - 1] if i else float("-inf"),
            points[i] if i < len(points) else float("inf"))


def _result_key(chain_der: Sequence[bytes], ca_pem_bundle: bytes | None, at: dt.datetime,
                limits: Limits) -> tuple[object, ...] | None:
    """The cache key of a verification, or None when it must not be cached (a certificate
    that cannot be parsed or has no dates). The chain's dates are remembered per chain: 2.5
    instead of 4.3 us a connection (a two-certificate chain, warm caches)."""
    chain = tuple(chain_der[: limits.max_certificates_per_chain])
    dkey = (chain, limits)
    if dkey in _chain_dates:
        known = _chain_dates[dkey]
    else:
        known = _dates_of(chain, limits)
        if len(_chain_dates) >= _MAX_RESULTS:
            _chain_dates.clear()
        _chain_dates[dkey] = known
    if known is None:
        return None
    _dates, edges = known
    anchors = _anchor_seconds(ca_pem_bundle)
    t = _seconds(at)  # what pyOpenSSL hands OpenSSL, and what the date checks compare
    return (tuple(chain_der), ca_pem_bundle, limits, bisect.bisect_right(edges, t),
            bisect.bisect_right(anchors, t))


def _verify_chain(
    chain_der: Sequence[bytes],
    ca_pem_bundle: bytes | None,
    at: dt.datetime,
    limits: Limits,
) -> ChainResult:
    notes: list[str] = []
    if not chain_der:
        return ChainResult(None, None, None, None, (), "the server sent no certificate")
    if len(chain_der) > limits.max_certificates_per_chain:
        notes.append(
            f"only the first {limits.max_certificates_per_chain} of {len(chain_der)} "
            "certificates were used"
        )
        chain_der = chain_der[: limits.max_certificates_per_chain]

    parsed: list[ParsedCertificate] = []
    for i, der in enumerate(chain_der):
        try:
            parsed.append(parse_certificate(der, limits))
        except CertificateParseError as e:
            return ChainResult(
                False, None, None, i, ("malformed",),
                f"certificate {i} of the chain cannot be parsed ({e}); an OpenSSL client "
                "aborts the handshake (decode_error)",
                notes=tuple(notes),
            )  # fmt: skip
    leaf = parsed[0]
    found = _date_categories(parsed, at)
    if leaf.facts.self_signed:
        found.append("self-signed")
    found += _weak_categories(parsed)

    if ca_pem_bundle is None:
        what = ", ".join(_unique(found)) or "no date or self-signature problem"
        return ChainResult(
            None, None, None, None, _unique(found),
            f"not verified: no CA file to verify against ({what})", notes=tuple(notes),
        )  # fmt: skip

    anchors, bundle_notes = load_ca_bundle(ca_pem_bundle)
    notes.extend(bundle_notes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _verify_with_openssl(chain_der, parsed, anchors, at, found, notes)


def _verify_with_openssl(
    chain_der: Sequence[bytes],
    parsed: Sequence[ParsedCertificate],
    anchors: Sequence[x509.Certificate],
    at: dt.datetime,
    found: list[str],
    notes: list[str],
) -> ChainResult:
    # pyOpenSSL is loaded with the first chain verified against a CA file (35 ms of every
    # start otherwise; without --ca nothing here needs it).
    from OpenSSL import crypto

    store = crypto.X509Store()
    for anchor in anchors:
        try:
            store.add_cert(crypto.X509.from_cryptography(anchor))
        except crypto.Error:
            pass  # a duplicate entry: OpenSSL's file loader ignores it too
    lib = getattr(crypto, "_lib", None)
    if lib is not None and hasattr(lib, "X509_STORE_set_purpose"):
        lib.X509_STORE_set_purpose(store._store, _X509_PURPOSE_SSL_SERVER)
    else:
        notes.append("the SSL-server purpose check could not be enabled")
    # pyOpenSSL converts with calendar.timegm(timetuple()): hand it UTC fields.
    store.set_time(at.replace(tzinfo=None))
    clear_openssl_errors()  # (its errors name the whole queue: only this chain's)
    try:
        loaded = [crypto.load_certificate(crypto.FILETYPE_ASN1, d) for d in chain_der]
    except crypto.Error as e:
        return ChainResult(
            False, None, None, None, ("malformed",),
            f"OpenSSL cannot load the chain ({e}); an OpenSSL client aborts the handshake",
            notes=tuple(notes),
        )  # fmt: skip
    ctx = crypto.X509StoreContext(store, loaded[0], loaded[1:])
    try:
        verified = ctx.get_verified_chain()
    except crypto.Error as e:  # not a verification result: OpenSSL failed internally
        return ChainResult(
            False, None, None, None, ("other", *_unique(found)),
            f"OpenSSL could not run the verification ({e})", notes=tuple(notes),
        )  # fmt: skip
    except crypto.X509StoreContextError as e:
        code, depth, text = int(e.errors[0]), int(e.errors[1]), str(e.errors[2])
        first, why = _classify(code, depth, e.certificate, parsed)
        categories = _unique([first, *found])
        return ChainResult(
            False, code, text, depth, categories,
            f"OpenSSL: {text} (error {code} at depth {depth}); {why}", notes=tuple(notes),
        )  # fmt: skip
    sha = tuple(
        hashlib.sha256(crypto.dump_certificate(crypto.FILETYPE_ASN1, c)).hexdigest()
        for c in verified
    )
    extra = _unique(found)
    reason = "OpenSSL verifies the chain up to a root in the CA file"
    if extra:
        reason += f" ({', '.join(extra)})"
    return ChainResult(True, X509_V_OK, "ok", None, extra, reason, sha, tuple(notes))


def _classify(
    code: int, depth: int, failing: object, parsed: Sequence[ParsedCertificate]
) -> tuple[str, str]:
    """(category, explanation) for OpenSSL's first error."""
    if code in _CATEGORY_BY_CODE:
        cat = _CATEGORY_BY_CODE[code]
        return cat, {
            "expired": "a certificate of the chain has expired at the capture's time",
            "not-yet-valid": "a certificate of the chain is not yet valid at the capture's time",
            "bad-date": "a validity time of the chain is not a date",
            "bad-signature": "a signature in the chain does not verify",
            "invalid-ca": "an issuer in the chain is not allowed to act as a CA",
            "invalid-purpose": "a certificate is not meant for TLS servers",
            "weak-key": "a key of the chain is too small for OpenSSL's security level",
            "weak-signature": "a signature of the chain uses a digest too weak for OpenSSL",
        }[cat]
    if code == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        return "untrusted-root", "the server's certificate is self-signed and not in the CA file"
    if code == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return "untrusted-root", "the chain ends at a root certificate that is not in the CA file"
    if code in (
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
    ):
        top: x509.Certificate | None = None
        issuer = "?"
        try:
            top = failing.to_cryptography()  # type: ignore[attr-defined]
            issuer = top.issuer.rfc4514_string()
        except Exception:  # cryptography may refuse what OpenSSL read
            pass
        if top is not None and _is_ca(top):
            return "untrusted-root", (
                f"the issuer {issuer!r} of a CA certificate the server sent is not in the CA "
                "file: the chain leads to a root the client does not trust"
            )
        if top is not None and _has_ca_issuers(top) and len(parsed) == 1:
            return "chain-incomplete", (
                f"the issuer {issuer!r} of the server's certificate is neither sent by the "
                "server nor in the CA file; the certificate names where to fetch it (AIA), "
                "as leaves of intermediate CAs do: the server probably does not send its "
                "intermediate certificate (or the CA file lacks that root)"
            )
        if len(parsed) > 1:
            return "chain-incomplete", (
                f"the issuer {issuer!r} is neither sent by the server nor in the CA file, and "
                "the certificates the server sent do not link up to it"
            )
        return "untrusted-root", (
            f"the issuer {issuer!r} of the server's certificate is not in the CA file (a CA "
            "the client does not trust, or an intermediate the server does not send)"
        )
    return "other", "see OpenSSL's error"
