"""From one connection's recorded handshake to its frozen `ConnectionReport`: certificate facts,
intended host, verdicts, outcome and findings, each finding with a plain remedy.

Everything is judged at the capture's time (the connection's first packet), never at "now".
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from capture_tls.analysis import certificates as certs
from capture_tls.analysis import clients, hostname
from capture_tls.analysis.chain import ChainResult, time_class_span, verify_chain_keyed
from capture_tls.analysis.connection import ConnectionState
from capture_tls.analysis.findings import finding
from capture_tls.analysis.intended_host import DnsCache, choose_intended_host
from capture_tls.analysis.model import (
    Alert,
    CertificateFacts,
    ClientVerdict,
    ConnectionReport,
    Endpoint,
    Finding,
    HandshakeStep,
    IntendedHost,
    MysqlErr,
    MysqlFacts,
    Outcome,
    TlsFacts,
    Verdicts,
    VerdictValue,
)
from capture_tls.analysis.options import AnalysisOptions
from capture_tls.limits import Limits
from capture_tls.protocols import tls

__all__ = ["build_report", "iso_utc", "utc_datetime"]

# MySQL's ER_SECURE_TRANSPORT_REQUIRED; cloud gateways answer with their own texts.
_ER_SECURE_TRANSPORT_REQUIRED = 3159
_REQUIRES_TLS_TEXTS = (
    "secure transport",
    "ssl connection is required",
    "ssl is required",
    "requires ssl",
    "require_secure_transport",
    "ssl/tls is required",
    "connections using insecure transport are prohibited",
)
_OLD_VERSIONS = {0x0300, 0x0301, 0x0302}
_WEAK_SIGNATURE_WORDS = ("md5", "sha1", "md2")
_MIN_RSA_BITS = 2048


_EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def utc_datetime(ts: float) -> datetime:
    """A capture's timestamp as a datetime; a damaged one outside years 1-9999 is clamped."""
    try:
        return datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return _EARLIEST if ts < 0 else _LATEST


def iso_utc(ts: float) -> str:
    """"YYYY-MM-DDTHH:MM:SS.ffffffZ", rounded as datetime.fromtimestamp rounds (half to even
    on the microsecond). The date and time of day are formatted once per second of capture
    time: 0.4 us a call instead of 2.3 (15 calls a connection)."""
    if _FIRST_SECOND <= ts < _LAST_SECOND:
        frac, whole = math.modf(ts)
        us = round(frac * 1e6)
        sec = int(whole)
        if us >= 1_000_000:
            us -= 1_000_000
            sec += 1
        elif us < 0:
            us += 1_000_000
            sec -= 1
        prefix = _SECONDS.get(sec) or _second_prefix(sec)
        return prefix + _MILLIS[us // 1000] + _MICROS_Z[us % 1000]
    d = utc_datetime(ts)
    return f"{_iso_second(d)}.{d.microsecond:06d}Z"


def _second_prefix(sec: int) -> str:
    """"YYYY-MM-DDTHH:MM:SS" of a whole second since the epoch, remembered (bounded)."""
    if len(_SECONDS) >= _MAX_SECONDS_CACHED:
        _SECONDS.clear()
    prefix = _SECONDS[sec] = _iso_second(utc_datetime(sec))
    return prefix


def _iso_second(d: datetime) -> str:
    return (f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:"
            f"{d.second:02d}")


# Seconds since the epoch of 0001-01-01 and of 10000-01-01 (the years datetime can hold).
_FIRST_SECOND = -62135596800.0
_LAST_SECOND = 253402300799.0
_SECONDS: dict[int, str] = {}
_MAX_SECONDS_CACHED = 4096
# ".000" .. ".999" and "000Z" .. "999Z": a time's microseconds as two lookups (us // 1000 and
# us % 1000), the same text as f".{us:06d}Z".
_MILLIS = tuple(f".{i:03d}" for i in range(1000))
_MICROS_Z = tuple(f"{i:03d}Z" for i in range(1000))


def build_report(
    conn: ConnectionState, conn_id: str, options: AnalysisOptions, dns: DnsCache | None = None
) -> ConnectionReport:
    findings: list[Finding] = []
    server_chain = _chain_facts(conn.server_certificates, "server", options.limits)
    findings += server_chain.findings
    if conn.client_certificates:
        client_chain = _chain_facts(conn.client_certificates, "client", options.limits)
        findings += client_chain.findings
        client_certs = client_chain.facts
    else:
        client_certs = ()
    server_certs = server_chain.facts

    mysql_facts = _mysql_facts(conn, findings)
    tls_facts = _tls_facts(conn, findings)
    outcome = _outcome(conn)

    intended = choose_intended_host(
        options.host_for(conn.server[0], conn.server[1]),
        conn.client_hello.sni if conn.client_hello else None,
        conn.client[0],
        conn.server[0],
        conn.first_ts,
        dns,
        options.hosts_file,
    )
    if intended is not None:
        ikey = (intended.name, intended.source, intended.cname_chain, intended.candidates)
        shared = _SHARED.get(ikey)
        if shared is None:
            _share(ikey, intended)
        else:
            assert isinstance(shared, IntendedHost)
            intended = shared
    judged = _verdicts(conn, server_chain, intended, options, findings)
    verify_identity = judged.verify_identity
    with_clients = tls_facts is not None  # no TLS: nothing for a client to verify
    per_client = judged.per_client() if with_clients else ()
    family: str | None
    if options.client_family:
        family, family_source = options.client_family, "option"
    else:
        family = clients.guess_family(conn)
        family_source = "guess" if family else "none"
    _outcome_findings(conn, outcome, findings)
    _contradiction(outcome, family, per_client, verify_identity, findings)
    _stream_findings(conn, findings)

    return ConnectionReport(
        id=conn_id,
        first_seen=iso_utc(conn.first_ts),
        first_seen_ts=conn.first_ts,
        client=Endpoint(conn.client[0], conn.client[1]),
        server=_endpoint(conn.server),
        mysql=mysql_facts,
        tls=tls_facts,
        server_certificates=server_certs,
        client_certificates=client_certs,
        intended_host=intended,
        verdicts=judged.verdicts(family, family_source, with_clients),
        outcome=outcome,
        findings=tuple(findings),
        handshake=_ladder(conn.ladder),
    )


def _ladder(steps: tuple[tuple[float, str, str], ...]) -> tuple[HandshakeStep, ...]:
    """The handshake ladder with its ISO times. Nearly every ladder lies within one second
    of capture time: its steps take the first step's second prefix and their fractions in
    one comprehension (t - sec is exact there, and equals math.modf's fraction), the named
    tuples made by tuple.__new__. A step outside that second (its microseconds < 0 or
    >= 10**6, a NaN or infinity) sends the ladder through `_ladder_general`. 8.0 instead of
    9.9 us for a TLS 1.2 connection's 13 steps (b200k's ladders, after the capture was
    read, process time, min of 7)."""
    if not steps:
        return ()
    first = steps[0][0]
    if 0.0 <= first < _LAST_SECOND:
        sec = int(first)
        prefix = _SECONDS.get(sec) or _second_prefix(sec)
        new = tuple.__new__
        millis, micros = _MILLIS, _MICROS_Z
        try:
            out = tuple([
                new(HandshakeStep, (prefix + millis[us // 1000] + micros[us % 1000],
                                    "client" if sender == "client" else "server", label))
                for ts, sender, label in steps
                for us in (round((ts - sec) * 1e6),) if us >= 0
            ])
        except (IndexError, ValueError, OverflowError):
            return _ladder_general(steps)
        if len(out) == len(steps):
            return out
    return _ladder_general(steps)


def _ladder_general(steps: tuple[tuple[float, str, str], ...]) -> tuple[HandshakeStep, ...]:
    """`_ladder` for any steps (a ladder that crosses a second, damaged times): rare, so each
    step's time is simply `iso_utc`'s."""
    new = tuple.__new__
    return tuple([new(HandshakeStep, (iso_utc(ts), "client" if sender == "client" else "server",
                                      label))
                  for ts, sender, label in steps])


# Immutable parts many connections have alike, one object each (the renderers cache their
# JSON by identity): the server's endpoint, the TLS facts (without alerts most are alike),
# the intended host. Keyed by their fields as a plain tuple (hashed in C, not by the
# dataclass's __hash__). Bounded like the other caches (cleared whole when full): a few
# hundred bytes an entry.
_MAX_SHARED = 4096
_SHARED: dict[tuple[object, ...], object] = {}


def _share(key: tuple[object, ...], value: object) -> None:
    if len(_SHARED) >= _MAX_SHARED:
        _SHARED.clear()
    _SHARED[key] = value


def _endpoint(addr: tuple[str, int]) -> Endpoint:
    found = _SHARED.get(addr)
    if found is None:
        found = Endpoint(addr[0], addr[1])
        _share(addr, found)
    assert isinstance(found, Endpoint)
    return found


# ---- pieces -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ChainFacts:
    """What one certificate chain as sent gives every connection that shows it: the facts of
    its readable certificates (in order), the MALFORMED findings of the others, and whether
    the first certificate is readable."""

    der: tuple[bytes, ...]
    facts: tuple[CertificateFacts, ...]
    findings: tuple[Finding, ...]
    leaf_readable: bool
    limits: Limits | None  # the entry's, so that its id (in the key) is not reused
    # The last judgement per intended host (name, source, CNAME chain; None: unknown), with
    # the options it was made with and the capture times (lo, hi) it holds for (`_verdicts`).
    spans: dict[tuple[str, str, tuple[str, ...]] | None,
                tuple[AnalysisOptions, float, float, _Judgement]]


_NO_CHAIN = _ChainFacts((), (), (), False, None, {})
# Distinct (chain, sender, limits) remembered; a capture shows a few. Each entry holds the
# chain's DER and its parsed facts (a few kB), so 1,024 entries stay within a few MB.
_MAX_CHAINS = 1024
# Keyed by the limits' identity: their dataclass __hash__ (ten fields, in Python) cost 0.3 us
# a connection; the entry holds the limits, so their id stays theirs while it is cached.
_CHAINS: dict[tuple[tuple[bytes, ...], str, int], _ChainFacts] = {}


def _chain_facts(chain: tuple[bytes, ...] | None, who: str, limits: Limits) -> _ChainFacts:
    """`_facts` of a chain, remembered by its DERs (a pure function of the bytes and the
    limits): 0.5 instead of 1.5 us a connection for a two-certificate chain (b200k, warm),
    and one shared tuple of facts, whose JSON the renderers keep."""
    if not chain:
        return _NO_CHAIN
    key = (chain, who, id(limits))
    found = _CHAINS.get(key)
    if found is None or found.limits is not limits:
        findings: list[Finding] = []
        facts = _facts(chain, who, limits, findings)
        readable = bool(facts) and facts[0].sha256 == hashlib.sha256(chain[0]).hexdigest()
        found = _ChainFacts(chain, tuple(facts), tuple(findings), readable, limits, {})
        if len(_CHAINS) >= _MAX_CHAINS:
            _CHAINS.clear()
        _CHAINS[key] = found
    return found


def _facts(
    chain: tuple[bytes, ...] | None, who: str, limits: Limits, findings: list[Finding]
) -> list[CertificateFacts]:
    out: list[CertificateFacts] = []
    for i, der in enumerate(chain or ()):
        try:
            out.append(certs.certificate_facts(der, limits))
        except certs.CertificateParseError as exc:
            findings.append(
                finding(
                    "MALFORMED",
                    f"The {who}'s certificate #{i} ({len(der)} bytes) is not a valid X.509 "
                    f"certificate: {exc}",
                    "Capture again; if it repeats, the peer sends a broken certificate.",
                )
            )
    return out


def _mysql_facts(conn: ConnectionState, findings: list[Finding]) -> MysqlFacts:
    g = conn.greeting
    err = conn.server_error
    user = conn.handshake_response.username if conn.handshake_response else None
    if conn.handshake_response is not None:
        findings.append(
            finding(
                "NO_TLS",
                f"The client logged in without TLS: user name {user!r} and the authentication "
                "exchange crossed the network in clear.",
                "Connect with --ssl-mode=REQUIRED (or VERIFY_IDENTITY) on the client, and make "
                "the account require it (ALTER USER ... REQUIRE SSL).",
            )
        )
    if err is not None and _requires_tls(err.code, err.message):
        findings.append(
            finding(
                "SERVER_REQUIRES_TLS",
                f"The server refused the connection because it requires TLS: ERROR {err.code}"
                f" ({err.sql_state or '-'}): {err.message}",
                "Enable TLS on the client (--ssl-mode=REQUIRED or VERIFY_IDENTITY).",
            )
        )
    return MysqlFacts(
        server_version=_server_version(g.server_version) if g else None,
        connection_id=g.connection_id if g else None,
        server_supports_ssl=g.supports_ssl if g else None,
        ssl_request=conn.ssl_request is not None or conn.tls_without_ssl_request,
        username=user,
        error=MysqlErr(err.code, err.sql_state, err.message) if err else None,
    )


def _server_version(sent: str) -> str:
    """MariaDB 10.x+ prefixes "5.5.5-" to its version so that old clients accept it; the
    MariaDB clients strip it, and so do we."""
    if sent.startswith("5.5.5-") and "mariadb" in sent.lower():
        return sent[len("5.5.5-") :]
    return sent


def _requires_tls(code: int, message: str) -> bool:
    if code == _ER_SECURE_TRANSPORT_REQUIRED:
        return True
    low = message.lower()
    return any(t in low for t in _REQUIRES_TLS_TEXTS)


def _tls_facts(conn: ConnectionState, findings: list[Finding]) -> TlsFacts | None:
    ch, sh = conn.client_hello, conn.server_hello
    if ch is None and sh is None and not conn.alerts:
        return None
    version = tls.version_name(sh.selected_version) if sh else None
    cipher = tls.cipher_suite_name(sh.cipher_suite) if sh else None
    alerts = tuple(
        Alert(
            sender="client" if a.sender == "client" else "server",
            level=None if a.level is None else ("fatal" if a.level == 2 else "warning"),
            description=None if a.description is None else tls.alert_description_name(
                a.description
            ),
            code=a.description,
            encrypted=a.encrypted,
        )
        for a in conn.alerts
    )
    visible = conn.server_certificates is not None
    if conn.keylog_missing:
        findings.append(
            finding(
                "KEYLOG_NO_SECRET",
                "The key log has no TLS 1.3 handshake secret for this connection's client "
                f"random ({conn.client_hello.random.hex() if conn.client_hello else '?'}).",
                "Use the key log written by this client process while this capture was "
                "recorded (SSLKEYLOGFILE); each connection has its own secrets.",
            )
        )
    for sender, why in conn.decryption_errors[:1]:
        findings.append(
            finding(
                "DECRYPTION_FAILED",
                f"The {sender}'s TLS 1.3 records could not be decrypted with the key log's "
                f"secret: {why}.",
                "The key log does not belong to this capture (or was edited): record the "
                "capture and the key log in the same session.",
            )
        )
    if conn.tls13 and not visible:
        findings.append(
            finding(
                "CERT_NOT_VISIBLE_TLS13",
                "TLS 1.3 encrypts the server's Certificate, and no key log for this connection "
                "was given, so the certificate cannot be seen in this capture.",
                "Capture again with the client's TLS secrets: set SSLKEYLOGFILE=/path/keys.log "
                "for Python, Node and Go clients (or an OpenSSL key-log preload library for "
                "libmysqlclient and the mariadb CLI), then analyze with --keylog keys.log. "
                "Or see the certificate directly: openssl s_client -starttls mysql -connect "
                "HOST:PORT -showcerts.",
            )
        )
    if conn.resumed:
        findings.append(
            finding(
                "SESSION_RESUMED",
                "The TLS session was resumed: the server sent no certificate on this "
                "connection; the certificate was checked when the session was first made.",
                "Look for the full handshake of an earlier connection to this server, or capture "
                "a new connection with session resumption disabled.",
            )
        )
    if sh is not None and sh.selected_version in _OLD_VERSIONS:
        findings.append(
            finding(
                "OLD_TLS_VERSION",
                f"The connection negotiated {version}, which current MySQL and MariaDB clients "
                "no longer accept by default.",
                "Enable TLS 1.2 or 1.3 on the server (tls_version / --tls-version).",
            )
        )
    key = (version, cipher, ch.sni if ch else None, ch.alpn if ch else (), conn.resumed,
           visible, conn.decrypted_records > 0, alerts)
    found = _SHARED.get(key)
    if found is None:
        found = TlsFacts(*key)
        _share(key, found)
    assert isinstance(found, TlsFacts)
    return found


def _outcome(conn: ConnectionState) -> Outcome:
    tls_seen = conn.client_hello is not None or conn.server_hello is not None
    if conn.server_error is not None and not tls_seen:
        return "server-error"
    if conn.handshake_response is not None:
        return "plaintext"
    if not tls_seen:
        return "incomplete"
    client_fatal = [
        a for a in conn.alerts
        if a.sender == "client" and (a.level == 2 or a.level is None)
        and not a.after_client_finished
    ]
    if any(a.after_server_certificate for a in client_fatal):
        return "client-rejected-certificate"
    if conn.client_app_data and not client_fatal:
        return "tls-established"
    closed = conn.client_fin or conn.client_rst
    if conn.client_finished and (closed or conn.client_closed_by_alert):
        return "closed-after-handshake"
    if closed and not conn.client_finished and _server_flight_sent(conn):
        # mysql2 over TLS 1.3: no alert, no Finished, a FIN right after the server's flight
        return "client-rejected-certificate"
    return "incomplete"


def _server_flight_sent(conn: ConnectionState) -> bool:
    """The server sent what the client needs to judge it (its certificate)."""
    if conn.tls13:
        return conn.server_protected_records >= 1 or conn.server_certificates is not None
    return conn.server_hello_done and conn.server_certificates is not None


def _verdicts(
    conn: ConnectionState,
    chain_facts: _ChainFacts,
    intended: IntendedHost | None,
    options: AnalysisOptions,
    findings: list[Finding],
) -> _Judgement:
    """The chain and name verdicts and their findings.

    Remembered by everything they depend on: the chain verification's key (chain DERs, CA
    file, limits, time class), the intended host, the EXPIRES_SOON threshold and, where a
    message holds them, the capture's time or the days to expiry (`_JUDGED`). In front of
    that, each chain keeps its last judgement per intended host with the span of capture
    times it holds for (between the dates where the time class or the days to expiry
    change, a millisecond inside them); a connection in that span takes it with one float
    comparison. Facts and verdicts: 1.9 instead of 13.1 us a connection (b200k, warm, span
    hits); a miss that judges again (the chain's result remembered) costs 8.7 us."""
    sent = conn.server_certificates
    if not chain_facts.leaf_readable:
        if sent is None and intended is None and conn.client_hello:
            findings.append(_host_unknown())
        return _NOT_VISIBLE
    assert sent
    ts = conn.first_ts
    host_key = None if intended is None else (intended.name, intended.source,
                                              intended.cname_chain)
    spans = chain_facts.spans
    span = spans.get(host_key)
    if span is not None and span[0] is options and span[1] < ts < span[2]:
        judged = span[3]
        findings += judged.findings
        return judged

    capture_time = utc_datetime(ts)
    chain, chain_key = verify_chain_keyed(sent, options.ca_pem, capture_time,
                                          limits=options.limits)
    if chain_key is None:
        judged = _judge(sent, chain_facts.facts[0], chain, intended, ts, capture_time, options)
    else:
        cats = chain.categories
        when = iso_utc(ts) if ("expired" in cats or "not-yet-valid" in cats) else None
        # The leaf's notAfter does not depend on the limits (only the SAN cap and the size
        # check do), and its parse succeeded in chain_facts.
        not_after = certs.parse_certificate(sent[0], options.limits).not_after_utc
        days = soon = -1
        if not_after is not None:
            days = soon = _days_to_expiry(not_after, capture_time)
            if not 0 <= days < options.expires_soon_days:
                soon = -1
        key = (chain_key, intended, options.expires_soon_days, when, soon)
        found = _JUDGED.get(key)
        if found is None:
            found = _judge(sent, chain_facts.facts[0], chain, intended, ts, capture_time,
                           options)
            if len(_JUDGED) >= _MAX_JUDGED:
                _JUDGED.clear()
            _JUDGED[key] = found
        judged = found
        if when is None:  # a judgement without the capture's time in its text
            bounds = time_class_span(sent, options.ca_pem, capture_time, limits=options.limits)
            if bounds is not None:
                lo, hi = bounds
                if not_after is not None:
                    # days == _days_to_expiry for not_after - (days+1) d < floor(t) <=
                    # not_after - days d: floor(that) + 1 <= t < floor(this) + 1
                    expiry = (not_after - _EPOCH) / _SECOND
                    lo = max(lo, math.floor(expiry - (days + 1) * 86400.0) + 1.0)
                    hi = min(hi, math.floor(expiry - days * 86400.0) + 1.0)
                if len(spans) >= _MAX_SPANS:
                    spans.clear()
                # The millisecond keeps off the edges whatever the float's rounding to the
                # microsecond (a capture time is a float; the dates are exact).
                spans[host_key] = (options, lo + 1e-3, hi - 1e-3, judged)
    findings += judged.findings
    return judged


_MAX_SPANS = 64  # intended hosts remembered per chain (a chain is seen under a few names)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


# Distinct judgements remembered: a few chains times a few host names in a capture. An entry
# is a few findings' texts and the client verdicts (a few kB); 1,024 stay within a few MB.
_MAX_JUDGED = 1024
_JUDGED: dict[tuple[object, ...], _Judgement] = {}


def _judge(
    sent: tuple[bytes, ...],
    leaf: CertificateFacts,
    chain: ChainResult,
    intended: IntendedHost | None,
    first_ts: float,
    capture_time: datetime,
    options: AnalysisOptions,
) -> _Judgement:
    """The judgement of a readable leaf (what `_verdicts` remembers)."""
    findings: list[Finding] = []
    ca: VerdictValue
    if chain.ok is True:
        ca = "pass"
    elif chain.ok is False or {"expired", "not-yet-valid"} & set(chain.categories):
        # Dates are checked whatever the CA: an expired certificate fails every verifying mode.
        ca = "fail"
    else:
        ca = "unknown"
    _chain_findings(sent, first_ts, leaf, chain, capture_time, findings,
                    options.expires_soon_days)

    if intended is None:
        findings.append(_host_unknown())
        name_ok: bool | None = None
    else:
        match = hostname.check_host(
            leaf.san_dns, leaf.san_ip, _leaf_cns(sent),
            intended.name,
        )
        name_ok = match.matched
        target_matches = [
            n for n in intended.cname_chain[1:]
            if hostname.check_host(leaf.san_dns, leaf.san_ip, _leaf_cns(sent), n).matched
        ] if not match.matched else []
        if target_matches:
            findings.append(
                finding(
                    "MATCHES_CNAME_TARGET_ONLY",
                    f"The client asked for {intended.name!r}, which DNS resolved through the "
                    f"CNAME chain {' -> '.join(intended.cname_chain)}; the certificate names "
                    f"the CNAME target {target_matches[0]!r}, not the name the client used, so "
                    "VERIFY_IDENTITY fails while VERIFY_CA can pass.",
                    f"Either connect by the name the certificate carries ({target_matches[0]}), "
                    f"or reissue the certificate with {intended.name!r} as a DNS SAN.",
                )
            )
        if not match.matched:
            findings.append(
                finding(
                    "HOSTNAME_MISMATCH",
                    f"The certificate does not name {intended.name!r} (from the "
                    f"{_SOURCE_WORDS[intended.source]}): {match.reason}. Certificate names: "
                    f"{_names(leaf)}.",
                    "Connect using a name the certificate carries, or reissue the certificate "
                    f"with {intended.name!r} as a DNS SAN (or IP SAN for an address).",
                )
            )
            if match.wildcard_too_deep:
                findings.append(
                    finding(
                        "WILDCARD_DEPTH",
                        f"A wildcard SAN would match {intended.name!r} with one label less: a "
                        "wildcard covers exactly one label.",
                        "Add the full name, or a wildcard at the right depth, as a SAN.",
                    )
                )
            if hostname.ip_literal_octets(intended.name) is not None and not leaf.san_ip:
                findings.append(
                    finding(
                        "IP_NOT_IN_SAN",
                        f"The client connected to the IP address {intended.name}, and the "
                        "certificate has no IP SAN; names and the CN never match an address.",
                        "Connect by a DNS name the certificate carries, or add the address as "
                        "an IP SAN.",
                    )
                )
        if match.matched_by == "cn":
            findings.append(
                finding(
                    "CN_ONLY_NO_SAN",
                    f"{intended.name!r} matches only the subject CN: the certificate has no DNS "
                    "SAN. Go clients (and RFC 6125) ignore the CN and will refuse it.",
                    "Reissue the certificate with the name as a subjectAltName DNS entry.",
                )
            )
    identity: VerdictValue
    if ca == "fail" or name_ok is False:
        identity = "fail"
    elif ca == "pass" and name_ok:
        identity = "pass"
    else:
        identity = "unknown"
    host = intended.name if intended else None
    return _Judgement(ca, identity, certs.parse_certificate(sent[0]), chain.reason,
                      tuple(findings), host)


class _Judgement:
    """The verdicts of one chain for one intended host, the findings they give, and the
    per-client verdicts (made on first use, then kept: the judgement is shared)."""

    __slots__ = ("_clients", "_verdicts", "chain_reason", "findings", "host", "leaf",
                 "verify_ca", "verify_identity")

    def __init__(self, verify_ca: VerdictValue, verify_identity: VerdictValue,
                 leaf: certs.ParsedCertificate | None, chain_reason: str,
                 findings: tuple[Finding, ...], host: str | None) -> None:
        self.verify_ca = verify_ca
        self.verify_identity = verify_identity
        self.leaf = leaf
        self.chain_reason = chain_reason
        self.findings = findings
        self.host = host
        self._clients: tuple[tuple[str, ClientVerdict], ...] | None = None
        self._verdicts: dict[tuple[str | None, str, bool], Verdicts] = {}

    def per_client(self) -> tuple[tuple[str, ClientVerdict], ...]:
        found = self._clients
        if found is None:
            found = self._clients = clients.client_verdicts(
                self.leaf, self.host, self.verify_ca, self.chain_reason
            )
        return found


    def verdicts(self, family: str | None, family_source: str, with_clients: bool) -> Verdicts:
        """The report's `Verdicts`, one object per client family (the renderers cache its
        JSON by identity). Families are the option's, or a handful of guesses: bounded."""
        key = (family, family_source, with_clients)
        found = self._verdicts.get(key)
        if found is None:
            if len(self._verdicts) >= _MAX_FAMILIES:
                self._verdicts.clear()
            found = self._verdicts[key] = Verdicts(
                verify_ca=self.verify_ca,
                verify_identity=self.verify_identity,
                client_family_name=family,
                client_family_source=family_source,  # type: ignore[arg-type]
                clients=self.per_client() if with_clients else (),
            )
        return found


_MAX_FAMILIES = 64
_NOT_VISIBLE = _Judgement("unknown", "unknown", None, "the certificate is not visible", (),
                          None)


def _contradiction(
    outcome: Outcome,
    family: str | None,
    per_client: tuple[tuple[str, ClientVerdict], ...],
    verify_identity: VerdictValue,
    findings: list[Finding],
) -> None:
    """The most useful line for a support engineer: what we predict and what the capture
    shows disagree."""
    verdict = verify_identity
    for name, client_verdict in per_client:
        if name == family:
            verdict = client_verdict.verify_identity
    who = f"the {family} client" if family else "the client"
    if verdict == "fail" and outcome == "tls-established":
        findings.append(
            finding(
                "VERDICT_CONTRADICTS_OUTCOME",
                f"VERIFY_IDENTITY fails for this certificate, yet {who} logged in: it did not "
                "check the certificate's name (ssl-mode REQUIRED or VERIFY_CA, "
                "--ssl-verify-server-cert off, rejectUnauthorized without verifyIdentity), or "
                "its CA file differs from the one given here.",
                "Turn name verification on in the client (--ssl-mode=VERIFY_IDENTITY) once the "
                "certificate names the host it uses.",
            )
        )
    elif verdict == "pass" and outcome in ("client-rejected-certificate",
                                           "closed-after-handshake"):
        findings.append(
            finding(
                "VERDICT_CONTRADICTS_OUTCOME",
                f"The certificate passes VERIFY_IDENTITY as judged here, yet {who} refused the "
                "connection: its CA file, its idea of the host name, or its TLS settings (key "
                "size, signature, revocation) differ from what was given to capture-tls.",
                "Give the client's own CA file (--ca) and the host it used (--host), and check "
                "the client's error message.",
            )
        )


def _days_to_expiry(not_after: datetime, capture_time: datetime) -> int:
    """Whole days from the capture to notAfter, the capture's time in whole seconds as the
    date checks take it (chain.py: OpenSSL's): 0 in the second after notAfter too, which an
    OpenSSL client still accepts."""
    return (not_after - capture_time.replace(microsecond=0)).days


def _leaf_cns(sent: tuple[bytes, ...]) -> tuple[str, ...]:
    return certs.parse_certificate(sent[0]).subject_cns


def _chain_findings(
    sent: tuple[bytes, ...],
    first_ts: float,
    leaf: CertificateFacts,
    chain: ChainResult,
    capture_time: datetime,
    findings: list[Finding],
    expires_soon_days: int,
) -> None:
    cats = set(chain.categories)
    when = iso_utc(first_ts)
    if "expired" in cats:
        findings.append(
            finding(
                "EXPIRED",
                f"A certificate of the server's chain had expired at the capture's time ({when}); "
                f"the server's own is valid until {leaf.not_after}. Every client refuses it with "
                "VERIFY_CA and above.",
                "Install a renewed certificate on the server (ssl_cert, and ssl_ca for the "
                "chain) and reload it (FLUSH SSL in MariaDB, ALTER INSTANCE RELOAD TLS in MySQL).",
            )
        )
    if "not-yet-valid" in cats:
        findings.append(
            finding(
                "NOT_YET_VALID",
                f"A certificate of the server's chain was not yet valid at the capture's time "
                f"({when}); the server's own is valid from {leaf.not_before}.",
                "Check the clocks of the server, the client and the CA; reissue the certificate "
                "with a correct start date.",
            )
        )
    not_after = certs.parse_certificate(sent[0]).not_after_utc
    if not cats & {"expired", "not-yet-valid"} and not_after is not None:
        days = _days_to_expiry(not_after, capture_time)
        if 0 <= days < expires_soon_days:
            findings.append(
                finding(
                    "EXPIRES_SOON",
                    f"The server's certificate expires on {leaf.not_after}, {days} days after "
                    "this capture.",
                    "Renew the certificate before it expires.",
                )
            )
    if "untrusted-root" in cats:
        findings.append(
            finding(
                "UNTRUSTED_ROOT",
                f"The chain does not lead to a CA in the given CA file: {chain.reason}.",
                "Give the clients the CA that issued the server's certificate (--ssl-ca), or "
                "install a certificate from a CA they trust.",
            )
        )
    if "chain-incomplete" in cats:
        findings.append(
            finding(
                "CHAIN_INCOMPLETE",
                f"The server does not send the intermediate certificate(s) its certificate "
                f"needs: {chain.reason}.",
                "Put the intermediate CA certificates after the server's own in its ssl_cert "
                "file (leaf first), or add them to the clients' CA file.",
            )
        )
    if "self-signed" in cats:
        findings.append(
            finding(
                "SELF_SIGNED",
                "The server's certificate is self-signed: only a client that has this very "
                "certificate as its CA (--ssl-ca) accepts it with VERIFY_CA.",
                "Use a certificate issued by a CA the clients trust, or distribute this "
                "certificate to the clients as --ssl-ca.",
            )
        )
    if chain.ok is False and not cats & {
        "expired", "not-yet-valid", "untrusted-root", "chain-incomplete", "self-signed"
    }:
        findings.append(
            finding(
                "UNTRUSTED_ROOT",
                f"OpenSSL does not verify the chain: {chain.reason}.",
                "Fix the certificate chain the server sends (ssl_cert / ssl_ca).",
            )
        )
    _key_findings(leaf, findings)


_SOURCE_WORDS = {
    "option": "--host option",
    "sni": "client's SNI",
    "dns": "DNS answer in the capture",
    "hosts-file": "hosts file",
}


def _names(leaf: CertificateFacts) -> str:
    parts = [f"DNS:{n}" for n in leaf.san_dns] + [f"IP:{n}" for n in leaf.san_ip]
    if leaf.subject_cn:
        parts.append(f"CN={leaf.subject_cn}")
    return ", ".join(parts) if parts else "none"


def _host_unknown() -> Finding:
    return finding(
        "INTENDED_HOST_UNKNOWN",
        "The name the client meant to reach is not in the capture (no SNI), so "
        "VERIFY_IDENTITY cannot be judged.",
        "Give it: --host NAME, or --host SERVER_IP=NAME for one server.",
    )


def _key_findings(leaf: CertificateFacts, findings: list[Finding]) -> None:
    kind, _, size = leaf.public_key.partition(" ")
    if kind in ("RSA", "DSA") and size.isdigit() and int(size) < _MIN_RSA_BITS:
        findings.append(
            finding(
                "WEAK_KEY",
                f"The server's key is {leaf.public_key}: under {_MIN_RSA_BITS} bits, OpenSSL 3 "
                "at its default security level refuses it.",
                "Reissue the certificate with an RSA 2048+ or EC P-256+ key.",
            )
        )
    sig = leaf.signature_algorithm.lower()
    if any(w in sig for w in _WEAK_SIGNATURE_WORDS):
        findings.append(
            finding(
                "WEAK_SIGNATURE",
                f"The server's certificate is signed with {leaf.signature_algorithm}, which "
                "OpenSSL 3 rejects at its default security level.",
                "Reissue the certificate signed with SHA-256 or better.",
            )
        )


def _outcome_findings(conn: ConnectionState, outcome: Outcome, findings: list[Finding]) -> None:
    if outcome == "client-rejected-certificate":
        alert = next(
            (a for a in conn.alerts
             if a.sender == "client" and (a.level == 2 or a.level is None)
             and not a.after_client_finished),
            None,
        )
        if alert is None:
            what = "it closed the connection after the server's certificate, without an alert"
        elif alert.description is not None:
            what = tls.alert_description_name(alert.description)
        else:
            what = "an encrypted alert"
        findings.append(
            finding(
                "CLIENT_REJECTED_CERT",
                f"The client refused the server's certificate during the handshake ({what}).",
                _REJECT_REMEDY.get(what, "See the verdicts and findings above for the cause."),
            )
        )
    elif outcome == "closed-after-handshake":
        findings.append(
            finding(
                "CLOSED_AFTER_HANDSHAKE",
                "The client completed the TLS handshake and closed the connection without "
                "logging in: MariaDB Connector/C, PHP mysqlnd and Node check the name after the "
                "handshake, so this is how they refuse a certificate.",
                "Check the name verdicts above; the client's own log names the cause.",
            )
        )


_REJECT_REMEDY = {
    "unknown_ca": "The client does not trust the CA that issued the certificate: give the "
    "client the right CA (--ssl-ca) or install a certificate from a CA it trusts.",
    "certificate_expired": "Renew the server's certificate.",
    "bad_certificate": "Often the name check: compare the certificate's names with the host the "
    "client used (see the verdicts).",
}


def _stream_findings(conn: ConnectionState, findings: list[Finding]) -> None:
    for sender, offset, length in conn.gaps[:1]:
        findings.append(
            finding(
                "STREAM_GAP",
                f"{length} bytes from the {sender} are missing from the capture at stream "
                f"offset {offset}; the {sender}'s side could not be followed past them.",
                "Capture again closer to the client or server, with a larger buffer "
                "(tcpdump -B 65536) so the kernel does not drop packets.",
            )
        )
    for sender in conn.truncated[:1]:
        findings.append(
            finding(
                "TRUNCATED_CAPTURE",
                f"The capture's snap length cut the {sender}'s packets, so the handshake "
                "could not be read whole.",
                "Capture again with the full packet length: tcpdump -s 0 (or dumpcap -s 0).",
            )
        )
    for sender, what in conn.malformed[:3]:
        findings.append(
            finding(
                "MALFORMED",
                f"The {sender}'s bytes break the protocol: {what}.",
                "The rest of the connection could not be parsed; if this repeats, capture again "
                "and check the device between client and server.",
            )
        )
    if conn.server_chain_capped:
        findings.append(
            finding(
                "MALFORMED",
                "The server sent more certificates than the limit; only the first were read.",
                "A real server sends a handful of certificates: check the server's ssl_cert file.",
            )
        )
