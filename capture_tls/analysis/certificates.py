"""Facts about one X.509 certificate, from its DER bytes as seen on the wire.

Theory of operation
-------------------
`parse_certificate(der, limits)` returns a frozen `ParsedCertificate`: the report's
`CertificateFacts` plus what the checks need beside it (every subject CN, key size, validity as
datetimes, what could not be read). Parsing goes in three steps, each keeping what it can:

1. cryptography parses the certificate (RFC 5280). Its extensions are read lazily: a malformed
   or duplicated extension does not lose the rest of the facts.
2. When cryptography refuses the SubjectAltName (non-ASCII dNSName, an iPAddress of an odd
   length, a duplicate), a small DER walker over the TBSCertificate reads the dNSName and
   iPAddress entries the way OpenSSL does (raw IA5 bytes; a duplicated extension counts as
   absent, because OpenSSL's X509_get_ext_d2i returns NULL for it).
3. When cryptography refuses the whole certificate (a validity time like month 13, a future
   cryptography rejecting negative serials) but OpenSSL - what the MySQL clients use - parses
   it, pyOpenSSL supplies names, serial and key, and the DER walker the rest.

Only bytes that OpenSSL cannot parse either raise, and only `CertificateParseError`.

Conventions (the JSON contract's, made precise):
- subject / issuer: RFC 4514 (`Name.rfc4514_string()`, most specific RDN first).
- subject_cn: the *last* CN of the subject in DER order, i.e. the most specific one (the
  first in the RFC 4514 string). Host name checks use every CN (`subject_cns`), as OpenSSL does.
- serial: lowercase hex, padded to whole bytes ("05"); negative serials get a "-" sign.
- not_before / not_after: "YYYY-MM-DDTHH:MM:SSZ"; a time that is no date (month 13, year 0)
  is reported as its raw ASN.1 text with a note.
- public_key: "RSA 2048", "EC P-256", "Ed25519", "DSA 1024", ...; signature_algorithm:
  OpenSSL's long name ("sha256WithRSAEncryption", "ecdsa-with-SHA256", "ED25519").
- self_signed: issuer equals subject and the signature verifies with the certificate's own key.

A bounded LRU cache keyed by the DER's SHA-256 parses each distinct certificate once.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.x509.oid import ExtensionOID, NameOID

from capture_tls.analysis.hostname import HostMatch, IpMode, check_host
from capture_tls.analysis.model import CertificateFacts
from capture_tls.bytereader import ByteReader
from capture_tls.errors import ProtocolError
from capture_tls.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "DEFAULT_CACHE_ENTRIES",
    "CertificateCache",
    "CertificateParseError",
    "ParsedCertificate",
    "certificate_facts",
    "clear_openssl_errors",
    "host_match",
    "parse_certificate",
]

# Distinct certificates remembered. A capture of one fleet shows a few hundred distinct
# certificates; each parsed entry is a few KiB (mostly the PEM), so 4096 entries stay under
# ~20 MiB even for huge chains, and a capture full of random certificates cannot grow memory.
DEFAULT_CACHE_ENTRIES = 4096


class CertificateParseError(ProtocolError):
    """Bytes that are not a certificate OpenSSL could parse."""


@dataclass(frozen=True, slots=True)
class ParsedCertificate:
    """A certificate's report facts and what the checks need beside them.

    subject_cns: every subject CN in DER order (what X509_check_host compares).
    key_type / key_bits: "RSA", "EC", "Ed25519", "DSA", ... and the size in bits (None when
        the key could not be read).
    not_before_utc / not_after_utc: the validity as datetimes; None when a time is no date.
    has_dns_san: the certificate has at least one DNS SAN (even beyond the reporting cap).
    has_san_extension: the certificate has a readable SubjectAltName extension, whatever its
        entries (clients like mysqlnd, node and Connector/J read the CN only without one).
    san_entries_omitted: SAN entries (DNS and IP) past limits.max_san_entries, not reported.
    notes: one sentence per thing that could not be read or looks wrong; empty when clean.
    """

    facts: CertificateFacts
    subject_cns: tuple[str, ...]
    key_type: str
    key_bits: int | None
    not_before_utc: dt.datetime | None
    not_after_utc: dt.datetime | None
    has_dns_san: bool
    has_san_extension: bool
    san_entries_omitted: int
    notes: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# Names of algorithms, as OpenSSL prints them (OBJ_nid2ln).

_SIGNATURE_LONG_NAMES = {
    "1.2.840.113549.1.1.2": "md2WithRSAEncryption",
    "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.2.840.113549.1.1.10": "rsassaPss",
    "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
    "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
    "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
    "1.2.840.113549.1.1.14": "sha224WithRSAEncryption",
    "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10045.4.3.1": "ecdsa-with-SHA224",
    "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
    "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
    "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
    "1.2.840.10040.4.3": "dsaWithSHA1",
    "2.16.840.1.101.3.4.3.1": "dsa_with_SHA224",
    "2.16.840.1.101.3.4.3.2": "dsa_with_SHA256",
    "2.16.840.1.101.3.4.3.3": "dsa_with_SHA384",
    "2.16.840.1.101.3.4.3.4": "dsa_with_SHA512",
    "1.3.101.112": "ED25519",
    "1.3.101.113": "ED448",
}

_CURVES = {
    "secp192r1": "P-192",
    "secp224r1": "P-224",
    "secp256r1": "P-256",
    "secp384r1": "P-384",
    "secp521r1": "P-521",
}


def _signature_name(dotted: str, fallback: str | None) -> str:
    name = _SIGNATURE_LONG_NAMES.get(dotted)
    if name is not None:
        return name
    if fallback and fallback != "Unknown OID":
        return fallback
    return dotted


def _describe_key(key: object) -> tuple[str, int | None, str]:
    """(key_type, bits, public_key text) of a cryptography public key."""
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = key.curve.name
        return "EC", key.key_size, f"EC {_CURVES.get(curve, curve)}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, f"DSA {key.key_size}"
    if isinstance(key, x25519.X25519PublicKey):
        return "X25519", 256, "X25519"
    if isinstance(key, x448.X448PublicKey):
        return "X448", 448, "X448"
    return "unknown", None, "unknown"


# --------------------------------------------------------------------------------------------
# A small DER walker (only what OpenSSL's view of SANs and validity needs).

_MAX_DER_ITEMS = 100_000  # TLVs read per walk; a certificate has a few hundred


def _tlv(r: ByteReader) -> tuple[int, ByteReader]:
    tag = r.u8("DER tag")
    if tag & 0x1F == 0x1F:
        raise ProtocolError("DER: multi-byte tags are not used in certificates")
    first = r.u8("DER length")
    if first < 0x80:
        n = first
    elif first == 0x80 or first > 0x84:
        raise ProtocolError("DER: indefinite or oversized length")
    else:
        n = int.from_bytes(r.take(first & 0x7F, "DER length"), "big")
    return tag, r.sub(n, "DER value")


def _tbs_fields(tbs: bytes) -> list[tuple[int, ByteReader]]:
    tag, body = _tlv(ByteReader(tbs))
    if tag != 0x30:
        raise ProtocolError("DER: TBSCertificate is not a SEQUENCE")
    fields: list[tuple[int, ByteReader]] = []
    while not body.at_end() and len(fields) < 16:
        fields.append(_tlv(body))
    return fields


def _raw_validity(tbs: bytes) -> tuple[str, str]:
    """The two validity times as their ASN.1 text (UTCTime or GeneralizedTime)."""
    fields = _tbs_fields(tbs)
    rest = fields[1:] if fields and fields[0][0] == 0xA0 else fields
    if len(rest) < 4 or rest[3][0] != 0x30:
        raise ProtocolError("DER: no Validity")
    validity = rest[3][1]
    out = []
    for _ in range(2):
        tag, v = _tlv(validity)
        text = v.rest().decode("ascii", "replace")
        out.append(_format_raw_time(tag, text))
    return out[0], out[1]


def _format_raw_time(tag: int, text: str) -> str:
    """UTCTime/GeneralizedTime text as ISO 8601 when it has the RFC 5280 shape, else as is."""
    if tag == 0x17 and len(text) == 13 and text[:12].isdigit() and text.endswith("Z"):
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    if len(text) == 15 and text[:14].isdigit() and text.endswith("Z"):
        t = text
        return f"{t[0:4]}-{t[4:6]}-{t[6:8]}T{t[8:10]}:{t[10:12]}:{t[12:14]}Z"
    return text


def _der_sans(tbs: bytes) -> tuple[list[bytes], list[bytes], bool, str | None]:
    """dNSName and iPAddress values of the SAN extension as OpenSSL would see them.

    Returns (dns, ip, extension usable, note). A duplicated SAN extension or one that is not
    DER is absent for OpenSSL (X509_get_ext_d2i returns NULL), so both lists are empty then.
    """
    fields = _tbs_fields(tbs)
    exts = [r for tag, r in fields if tag == 0xA3]
    if not exts:
        return [], [], False, None
    tag, seq = _tlv(exts[0])
    if tag != 0x30:
        raise ProtocolError("DER: Extensions is not a SEQUENCE")
    san_values: list[ByteReader] = []
    for _ in range(_MAX_DER_ITEMS):
        if seq.at_end():
            break
        tag, ext = _tlv(seq)
        if tag != 0x30:
            raise ProtocolError("DER: Extension is not a SEQUENCE")
        otag, oid = _tlv(ext)
        tag, value = _tlv(ext)
        if tag == 0x01:  # critical BOOLEAN
            tag, value = _tlv(ext)
        if otag == 0x06 and oid.rest() == b"\x55\x1d\x11" and tag == 0x04:
            san_values.append(value)
    if not san_values:
        return [], [], False, None
    if len(san_values) > 1:
        return [], [], False, "the SubjectAltName extension appears twice; OpenSSL ignores it"
    tag, names = _tlv(san_values[0])
    if tag != 0x30 or not san_values[0].at_end():
        raise ProtocolError("DER: SubjectAltName is not one SEQUENCE")
    dns: list[bytes] = []
    ips: list[bytes] = []
    for _ in range(_MAX_DER_ITEMS):
        if names.at_end():
            break
        tag, v = _tlv(names)
        if tag == 0x82:
            dns.append(v.rest())
        elif tag == 0x87:
            ips.append(v.rest())
    return dns, ips, True, None


def _ip_text(raw: bytes) -> str:
    """An iPAddress SAN as text: an address, a network (8/32 bytes), or its length."""
    if len(raw) in (4, 16):
        return str(ipaddress.ip_address(raw))
    if len(raw) in (8, 32):
        half = len(raw) // 2
        addr = ipaddress.ip_address(raw[:half])
        mask = ipaddress.ip_address(raw[half:])
        try:
            return str(ipaddress.ip_network(f"{addr}/{mask}", strict=False))
        except ValueError:
            return f"{addr}/{mask}"
    return f"<invalid length={len(raw)}>"


def _ia5_text(raw: bytes) -> str:
    """An IA5String as text; bytes outside ASCII survive (surrogateescape) for matching."""
    return raw.decode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------------------------


def _serial_hex(n: int) -> str:
    sign = "-" if n < 0 else ""
    h = format(abs(n), "x")
    if len(h) % 2:
        h = "0" + h
    return sign + h


def _pem(der: bytes) -> str:
    b64 = base64.b64encode(der).decode("ascii")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Builder:
    """Collects the facts step by step; every step may fail without losing the others."""

    def __init__(self, der: bytes, limits: Limits) -> None:
        self.der = der
        self.limits = limits
        self.notes: list[str] = []
        self.subject = ""
        self.issuer = ""
        self.subject_cns: list[str] = []
        self.serial = ""
        self.not_before = ""
        self.not_after = ""
        self.not_before_dt: dt.datetime | None = None
        self.not_after_dt: dt.datetime | None = None
        self.san_dns: list[str] = []
        self.san_ip: list[str] = []
        self.has_dns_san = False
        self.has_san_extension = False
        self.omitted = 0
        self.key_type = "unknown"
        self.key_bits: int | None = None
        self.public_key = "unknown"
        self.signature_algorithm = ""
        self.self_signed = False
        self.tbs: bytes | None = None

    def add_sans(self, dns: list[str], ips: list[str]) -> None:
        cap = max(self.limits.max_san_entries, 0)
        self.has_dns_san = bool(dns)
        self.san_dns = dns[:cap]
        self.san_ip = ips[: max(cap - len(self.san_dns), 0)]
        self.omitted = len(dns) + len(ips) - len(self.san_dns) - len(self.san_ip)
        if self.omitted:
            self.notes.append(
                f"{self.omitted} SAN entries beyond the limit of {cap} are not reported"
            )

    def sans_from_der(self) -> None:
        if self.tbs is None:
            return
        try:
            dns, ips, present, note = _der_sans(self.tbs)
        except ProtocolError as e:
            self.notes.append(f"the SubjectAltName extension cannot be read ({e}); no SANs")
            return
        if note:
            self.notes.append(note)
        self.has_san_extension = present
        self.add_sans([_ia5_text(d) for d in dns], [_ip_text(i) for i in ips])

    def validity_from_der(self) -> None:
        if self.tbs is None:
            return
        try:
            self.not_before, self.not_after = _raw_validity(self.tbs)
        except ProtocolError as e:
            self.notes.append(f"the validity cannot be read ({e})")

    def build(self) -> ParsedCertificate:
        facts = CertificateFacts(
            subject=self.subject,
            subject_cn=self.subject_cns[-1] if self.subject_cns else None,
            issuer=self.issuer,
            serial=self.serial,
            not_before=self.not_before,
            not_after=self.not_after,
            san_dns=tuple(self.san_dns),
            san_ip=tuple(self.san_ip),
            sha256=hashlib.sha256(self.der).hexdigest(),
            public_key=self.public_key,
            signature_algorithm=self.signature_algorithm,
            self_signed=self.self_signed,
            pem=_pem(self.der),
        )
        return ParsedCertificate(
            facts=facts,
            subject_cns=tuple(self.subject_cns),
            key_type=self.key_type,
            key_bits=self.key_bits,
            not_before_utc=self.not_before_dt,
            not_after_utc=self.not_after_dt,
            has_dns_san=self.has_dns_san,
            has_san_extension=self.has_san_extension,
            san_entries_omitted=self.omitted,
            notes=tuple(self.notes),
        )


def _from_cryptography(b: _Builder, cert: x509.Certificate) -> None:
    b.tbs = cert.tbs_certificate_bytes
    try:
        b.subject = cert.subject.rfc4514_string()
        b.subject_cns = [
            str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ]
    except Exception as e:  # cryptography on untrusted bytes
        b.notes.append(f"the subject cannot be read ({e})")
    try:
        b.issuer = cert.issuer.rfc4514_string()
    except Exception as e:
        b.notes.append(f"the issuer cannot be read ({e})")
    b.serial = _serial_hex(cert.serial_number)
    if cert.serial_number <= 0:
        b.notes.append("the serial number is not positive, which RFC 5280 forbids")
    try:
        b.not_before_dt = cert.not_valid_before_utc
        b.not_after_dt = cert.not_valid_after_utc
        b.not_before, b.not_after = _iso(b.not_before_dt), _iso(b.not_after_dt)
    except Exception as e:  # e.g. year 0
        b.not_before_dt = b.not_after_dt = None
        b.notes.append(f"a validity time is not a usable date ({e})")
        b.validity_from_der()
    try:
        key = cert.public_key()
        b.key_type, b.key_bits, b.public_key = _describe_key(key)
    except Exception:  # unsupported or malformed key
        oid = cert.public_key_algorithm_oid
        b.public_key = f"unknown ({oid.dotted_string})"
        b.notes.append(f"the public key ({oid.dotted_string}) is not supported or malformed")
    oid = cert.signature_algorithm_oid
    b.signature_algorithm = _signature_name(oid.dotted_string, oid._name)
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        b.add_sans([], [])
    except Exception as e:  # malformed, duplicated, ...
        b.notes.append(f"cryptography cannot read the extensions ({e}); SANs read as OpenSSL")
        b.sans_from_der()
    else:
        san = ext.value
        assert isinstance(san, x509.SubjectAlternativeName)
        b.has_san_extension = True
        dns: list[str] = []
        ips: list[str] = []
        for gn in san:
            if isinstance(gn, x509.DNSName):
                dns.append(gn.value)
            elif isinstance(gn, x509.IPAddress):
                ips.append(str(gn.value))
        b.add_sans(dns, ips)
    try:
        b.self_signed = cert.issuer == cert.subject
        if b.self_signed:
            cert.verify_directly_issued_by(cert)
    except Exception:  # bad signature, unsupported key
        b.self_signed = False


def clear_openssl_errors() -> None:
    """Empty this thread's OpenSSL error queue. pyOpenSSL's errors carry the whole queue, and
    a verification that failed earlier leaves its errors there: without this a message would
    name them too, and differ with what was verified before."""
    from OpenSSL import crypto

    lib = getattr(crypto, "_lib", None)
    clear = getattr(lib, "ERR_clear_error", None)
    if clear is not None:
        clear()


def _from_openssl(b: _Builder, der: bytes, why: str) -> None:
    """Fallback: OpenSSL (pyOpenSSL) parses what cryptography refused."""
    from OpenSSL import crypto

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clear_openssl_errors()
        try:
            cert = crypto.load_certificate(crypto.FILETYPE_ASN1, der)
        except Exception as e:
            raise CertificateParseError(f"not a certificate: {why}; OpenSSL: {e}") from None
        b.notes.append(f"cryptography cannot parse this certificate ({why}); read with OpenSSL")
        try:
            b.tbs = _tbs_bytes(der)
        except ProtocolError as e:
            raise CertificateParseError(f"not a certificate: {e}") from None
        try:
            subj = cert.get_subject().get_components()
            b.subject = _rfc4514_from_components(subj)
            b.subject_cns = [v.decode("utf-8", "replace") for k, v in subj if k == b"CN"]
            b.issuer = _rfc4514_from_components(cert.get_issuer().get_components())
        except Exception as e:
            b.notes.append(f"the names cannot be read ({e})")
        try:
            b.serial = _serial_hex(cert.get_serial_number())
        except Exception as e:
            b.notes.append(f"the serial number cannot be read ({e})")
        try:
            b.signature_algorithm = cert.get_signature_algorithm().decode("ascii")
        except Exception:
            b.signature_algorithm = "unknown"
        try:
            b.key_type, b.key_bits, b.public_key = _describe_key(
                cert.get_pubkey().to_cryptography_key()
            )
        except Exception:
            b.notes.append("the public key is not supported or malformed")
    b.validity_from_der()
    b.notes.append("whether it is self-signed was not checked")
    b.sans_from_der()


def _tbs_bytes(der: bytes) -> bytes:
    tag, body = _tlv(ByteReader(der))
    if tag != 0x30:
        raise ProtocolError("DER: Certificate is not a SEQUENCE")
    start = body.position
    _tlv(body)
    return der[start : body.position]


_RFC4514_SHORT = {b"CN", b"L", b"ST", b"O", b"OU", b"C", b"STREET", b"DC", b"UID"}


def _rfc4514_from_components(components: list[tuple[bytes, bytes]]) -> str:
    parts = []
    for k, v in reversed(components):
        key = k.decode("ascii", "replace")
        if k not in _RFC4514_SHORT:
            key = key if k != b"emailAddress" else "1.2.840.113549.1.9.1"
        val = v.decode("utf-8", "replace")
        val = "".join("\\" + c if c in ',+"\\<>;' else c for c in val)
        if val[:1] in ("#", " "):
            val = "\\" + val
        if val.endswith(" "):
            val = val[:-1] + "\\ "
        parts.append(f"{key}={val}")
    return ",".join(parts)


def _parse_uncached(der: bytes, limits: Limits) -> ParsedCertificate:
    b = _Builder(der, limits)
    with warnings.catch_warnings():
        # cryptography warns about negative serials ("will cause an exception in a future
        # release"); the note says it instead.
        warnings.simplefilter("ignore")
        try:
            cert = x509.load_der_x509_certificate(der)
        except Exception as e:  # anything cryptography says about the bytes
            _from_openssl(b, der, str(e).split("\n")[0][:200])
            return b.build()
        try:
            _from_cryptography(b, cert)
        except Exception as e:  # a lazily parsed part cryptography chokes on: start over
            b = _Builder(der, limits)
            _from_openssl(b, der, str(e).split("\n")[0][:200])
    return b.build()


# --------------------------------------------------------------------------------------------


class CertificateCache:
    """A bounded LRU of parsed certificates, keyed by the DER's SHA-256 and the SAN cap."""

    def __init__(self, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[tuple[bytes, int], ParsedCertificate] = OrderedDict()
        self._lock = threading.Lock()
        self._quick: dict[tuple[bytes, int], ParsedCertificate] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, der: bytes, limits: Limits) -> ParsedCertificate:
        # First the DER itself: one dict lookup (a bytes object keeps its hash, and the same
        # object is asked for several times per connection) instead of a SHA-256, a lock and
        # an LRU move: 0.3 against 2.5 us, six times a connection. Same bound as the LRU.
        quick = self._quick.get((der, limits.max_san_entries))
        if quick is not None:
            self.hits += 1
            return quick
        key = (hashlib.sha256(der).digest(), limits.max_san_entries)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                if len(self._quick) >= self.max_entries:
                    self._quick.clear()
                self._quick[(der, limits.max_san_entries)] = found
                return found
        parsed = _parse_uncached(der, limits)
        with self._lock:
            if len(self._quick) >= self.max_entries:
                self._quick.clear()
            self._quick[(der, limits.max_san_entries)] = parsed
            self.misses += 1
            self._items[key] = parsed
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return parsed


_DEFAULT_CACHE = CertificateCache()


def parse_certificate(
    der: bytes, limits: Limits = DEFAULT_LIMITS, *, cache: CertificateCache | None = None
) -> ParsedCertificate:
    """Parse one DER certificate (cached). Raises only CertificateParseError."""
    if not isinstance(der, bytes | bytearray | memoryview):
        raise CertificateParseError("a certificate must be bytes")
    der = bytes(der)
    if not der:
        raise CertificateParseError("an empty certificate")
    if len(der) > limits.max_handshake_message_bytes:
        raise CertificateParseError(
            f"a {len(der)}-byte certificate exceeds the handshake message limit"
        )
    return (cache if cache is not None else _DEFAULT_CACHE).get(der, limits)


def certificate_facts(der: bytes, limits: Limits = DEFAULT_LIMITS) -> CertificateFacts:
    """The report's facts about one DER certificate. Raises only CertificateParseError."""
    return parse_certificate(der, limits).facts


def host_match(
    cert: ParsedCertificate, host: str, *, flags: int = 0, ip_mode: IpMode = "verify-param"
) -> HostMatch:
    """OpenSSL's host name check of `host` against this certificate (see hostname.py)."""
    return check_host(
        cert.facts.san_dns, cert.facts.san_ip, cert.subject_cns, host, flags=flags,
        ip_mode=ip_mode,
    )  # fmt: skip
