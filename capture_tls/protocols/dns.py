"""DNS responses seen in the capture, reduced to "name -> CNAME chain -> addresses".

Theory of operation: RFC 1035 section 4 messages, parsed by dnspython's wire parser (never by
hand). For each question of a response, the answer section is followed from the question name
through CNAME records (RFC 1034 section 3.6.2) to the A/AAAA records of the last name. Over TCP
(RFC 7766) a message is preceded by a two-byte length; one segment may hold one message.
"""

from __future__ import annotations

from dataclasses import dataclass

from capture_tls.errors import ProtocolError

__all__ = ["DnsResolution", "parse_dns_response", "parse_dns_tcp_segment"]

# A CNAME chain longer than this is a loop or an attack; resolvers stop at 8-16.
_MAX_CHAIN = 16
_MAX_MESSAGE_BYTES = 65_535


@dataclass(frozen=True, slots=True)
class DnsResolution:
    question: str  # the name asked, lower case, no trailing dot
    chain: tuple[str, ...]  # question first, the owner of the addresses last
    addresses: tuple[str, ...]


def _name(n: object) -> str:
    return str(n).rstrip(".").lower()


def parse_dns_response(payload: bytes) -> list[DnsResolution]:
    """Resolutions in one DNS response; [] for a query or a response without addresses.
    Raises ProtocolError when the bytes are not a DNS message."""
    if len(payload) > _MAX_MESSAGE_BYTES:
        raise ProtocolError("DNS message longer than 65535 bytes")
    # dnspython is loaded with the first DNS message: 26 ms of every start otherwise, and most
    # captures of a MySQL port hold none.
    import dns.exception
    import dns.flags
    import dns.message
    import dns.rdataclass
    import dns.rdatatype

    try:
        msg = dns.message.from_wire(payload, ignore_trailing=True)
    except (dns.exception.DNSException, ValueError, UnicodeError) as exc:
        raise ProtocolError(f"not a DNS message: {exc}") from None
    if not msg.flags & dns.flags.QR:
        return []
    cnames: dict[str, str] = {}
    addresses: dict[str, list[str]] = {}
    for rrset in msg.answer:
        if rrset.rdclass != dns.rdataclass.IN:
            # Only class IN carries addresses and names; dnspython keeps the records of other
            # classes (CH, HS, a number) as opaque data, with no address or target.
            continue
        owner = _name(rrset.name)
        if rrset.rdtype == dns.rdatatype.CNAME:
            for rd in rrset:
                cnames[owner] = _name(rd.target)
        elif rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            addresses.setdefault(owner, []).extend(str(rd.address) for rd in rrset)
    out: list[DnsResolution] = []
    for q in msg.question:
        if q.rdtype not in (dns.rdatatype.A, dns.rdatatype.AAAA):
            continue
        chain = [_name(q.name)]
        while chain[-1] in cnames and len(chain) <= _MAX_CHAIN:
            nxt = cnames[chain[-1]]
            if nxt in chain:
                break
            chain.append(nxt)
        addrs = addresses.get(chain[-1])
        if addrs:
            out.append(DnsResolution(chain[0], tuple(chain), tuple(addrs)))
    return out


def parse_dns_tcp_segment(payload: bytes) -> list[DnsResolution]:
    """DNS over TCP when one segment holds whole length-prefixed messages."""
    out: list[DnsResolution] = []
    pos = 0
    while pos + 2 <= len(payload):
        n = int.from_bytes(payload[pos : pos + 2], "big")
        if pos + 2 + n > len(payload):
            break
        out.extend(parse_dns_response(payload[pos + 2 : pos + 2 + n]))
        pos += 2 + n
    return out
