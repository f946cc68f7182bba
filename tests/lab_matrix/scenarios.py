"""The scenarios of the client matrix: one server certificate each, the name the client dials,
and the CA file the client is given.

Every server is a mariadbd of its own (TLS 1.2 only) on the lab's server host, on an address
and a port of its own (``10.77.1.<21+i>:<3311+i>``), so DNS answers and connections of
different scenarios can never be confused. The client's resolver is dnsmasq, serving the A and
CNAME records below.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SCENARIOS", "SERVERS", "Scenario", "ServerCert", "scenario", "server_address"]

#: The lab's server host number (10.77.1.20); scenario servers add addresses 10.77.1.21...
SERVER_HOST_NUMBER = 20
FIRST_SERVER_ADDRESS = 21
FIRST_SERVER_PORT = 3311


@dataclass(frozen=True)
class ServerCert:
    """A server of the matrix: what its certificate says and who issued it."""

    name: str
    common_name: str | None
    dns_names: tuple[str, ...] = ()
    ip_sans: bool = False  # the server's own address as an IP SAN
    issuer: str = "lab"  # "lab" (the lab's intermediate) or "self" (self-signed, CA:TRUE)
    expired: bool = False
    #: Names the client's resolver answers for this server: name -> None (an A record for the
    #: server's address) or the CNAME target.
    dns: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class Scenario:
    """One cell row of the matrix: a server, the host the client dials, the CA it is given."""

    name: str
    server: str  # ServerCert.name
    dial: str  # a DNS name, or "IP" for the server's address as a literal
    ca: str  # "lab" (the lab's root), "self" (the server's own certificate), "other"
    description: str


SERVERS: tuple[ServerCert, ...] = (
    ServerCert("match", "match.lab.test", ("match.lab.test",),
               dns=(("match.lab.test", None),)),
    ServerCert("cname", "target.lab.test", ("target.lab.test",),
               dns=(("target.lab.test", None), ("alias.lab.test", "target.lab.test"))),
    ServerCert("wildcard", "*.wild.lab.test", ("*.wild.lab.test",),
               dns=(("a.b.wild.lab.test", None), ("one.wild.lab.test", None))),
    ServerCert("cn-not-san", "cnhost.lab.test", ("other-name.lab.test",),
               dns=(("cnhost.lab.test", None),)),
    ServerCert("cn-only", "cnonly.lab.test", (),
               dns=(("cnonly.lab.test", None),)),
    ServerCert("cn-ip-san", "cnip.lab.test", (), ip_sans=True,
               dns=(("cnip.lab.test", None),)),
    ServerCert("ip-no-ipsan", "ipdb.lab.test", ("ipdb.lab.test",)),
    ServerCert("ip-san", "ipsan.lab.test", ("ipsan.lab.test",), ip_sans=True),
    ServerCert("expired", "expired.lab.test", ("expired.lab.test",), expired=True,
               dns=(("expired.lab.test", None),)),
    ServerCert("self-signed", "selfsigned.lab.test", ("selfsigned.lab.test",), issuer="self",
               dns=(("selfsigned.lab.test", None),)),
    ServerCert("untrusted", "untrusted.lab.test", ("untrusted.lab.test",),
               dns=(("untrusted.lab.test", None),)),
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("match", "match", "match.lab.test", "lab",
             "Control: the dialed name is the certificate's DNS SAN and CN."),
    Scenario("cname", "cname", "alias.lab.test", "lab",
             "The client dials alias.lab.test, a CNAME for target.lab.test; the certificate "
             "names only the target."),
    Scenario("wildcard-deep", "wildcard", "a.b.wild.lab.test", "lab",
             "The certificate's only name is *.wild.lab.test; the client dials a name two "
             "labels below wild.lab.test."),
    Scenario("wildcard-ok", "wildcard", "one.wild.lab.test", "lab",
             "Control for wildcards: the same *.wild.lab.test certificate, the client dials "
             "one.wild.lab.test (the wildcard covers exactly that one label)."),
    Scenario("cn-not-san", "cn-not-san", "cnhost.lab.test", "lab",
             "The certificate has a DNS SAN (other-name.lab.test); only its CN names the "
             "dialed host."),
    Scenario("cn-only", "cn-only", "cnonly.lab.test", "lab",
             "No subjectAltName extension at all; the CN is the dialed host."),
    Scenario("cn-ip-san", "cn-ip-san", "cnip.lab.test", "lab",
             "The certificate has a subjectAltName with an IP address only (no DNS SAN); its "
             "CN is the dialed name: does a SAN extension without DNS names disable the CN?"),
    Scenario("ip-no-ipsan", "ip-no-ipsan", "IP", "lab",
             "The client dials the server's IPv4 address; the certificate has a DNS SAN and "
             "CN only, no IP SAN."),
    Scenario("ip-san", "ip-san", "IP", "lab",
             "Control for IPs: the client dials the server's IPv4 address, which the "
             "certificate carries as an IP SAN."),
    Scenario("expired", "expired", "expired.lab.test", "lab",
             "The name matches; the certificate expired 30 days ago."),
    Scenario("self-signed-trusted", "self-signed", "selfsigned.lab.test", "self",
             "A self-signed certificate (CA:TRUE, like openssl req -x509), the client given "
             "that very certificate as its CA file: the one way a self-signed certificate "
             "passes."),
    Scenario("self-signed", "self-signed", "selfsigned.lab.test", "lab",
             "The same self-signed certificate, the client given the lab's CA (as a client "
             "that was set up for the usual CA would be)."),
    Scenario("untrusted-ca", "untrusted", "untrusted.lab.test", "other",
             "The name matches and the lab's CA issued the certificate; the client is given "
             "another CA."),
)


def scenario(name: str) -> Scenario:
    for item in SCENARIOS:
        if item.name == name:
            return item
    raise KeyError(name)


def server_address(index: int, subnet_prefix: str = "10.77.1") -> tuple[str, int]:
    """The address and port of the ``index``-th server of :data:`SERVERS`."""
    return f"{subnet_prefix}.{FIRST_SERVER_ADDRESS + index}", FIRST_SERVER_PORT + index
