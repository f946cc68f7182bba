"""What the user told the analysis: intended hosts, ports, client family, CA."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import ip_address

from capture_tls.analysis.intended_host import HostsFile
from capture_tls.errors import CaptureTlsError
from capture_tls.limits import DEFAULT_LIMITS, Limits
from capture_tls.protocols.keylog import KeyLog

__all__ = ["DEFAULT_MYSQL_PORT", "AnalysisOptions", "HostRule", "UsageError", "parse_host_rule"]

DEFAULT_MYSQL_PORT = 3306


class UsageError(CaptureTlsError):
    """An option the user gave cannot be understood."""


@dataclass(frozen=True, slots=True)
class HostRule:
    """`--host NAME`, `--host SERVER_IP=NAME` or `--host SERVER_IP:PORT=NAME`."""

    name: str
    server_ip: str | None = None
    server_port: int | None = None

    def applies_to(self, ip: str, port: int) -> bool:
        if self.server_ip is not None and self.server_ip != ip:
            return False
        return self.server_port is None or self.server_port == port

    @property
    def specificity(self) -> int:
        return (self.server_ip is not None) + (self.server_port is not None)


def parse_host_rule(text: str) -> HostRule:
    """Parse one `--host` value; raises UsageError with a sentence saying what is wrong."""
    if "=" not in text:
        name = text.strip()
        if not name:
            raise UsageError("--host needs a name")
        return HostRule(name=name)
    target, _, name = text.rpartition("=")
    name = name.strip()
    if not name:
        raise UsageError(f"--host {text!r}: the name after '=' is empty")
    port: int | None = None
    ip_text = target.strip()
    if ip_text.startswith("["):  # [2001:db8::1]:3306
        close = ip_text.find("]")
        if close < 0:
            raise UsageError(f"--host {text!r}: missing ']' after the IPv6 address")
        rest = ip_text[close + 1 :]
        ip_text = ip_text[1:close]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise UsageError(f"--host {text!r}: expected ':PORT' after ']'")
            port = int(rest[1:])
    elif ip_text.count(":") == 1:
        ip_text, _, port_text = ip_text.partition(":")
        if not port_text.isdigit():
            raise UsageError(f"--host {text!r}: {port_text!r} is not a port number")
        port = int(port_text)
    try:
        ip = str(ip_address(ip_text))
    except ValueError:
        raise UsageError(f"--host {text!r}: {ip_text!r} is not an IP address") from None
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"--host {text!r}: port {port} is out of range")
    return HostRule(name=name, server_ip=ip, server_port=port)


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    ports: frozenset[int] = frozenset({DEFAULT_MYSQL_PORT})
    hosts: tuple[HostRule, ...] = ()
    client_family: str | None = None
    ca_pem: bytes | None = None  # --ca FILE contents
    hosts_file: HostsFile | None = None
    expires_soon_days: int = 30  # EXPIRES_SOON below this many days after the capture
    keylog: KeyLog | None = None  # --keylog FILE...; secrets in a pcapng are added per input
    limits: Limits = field(default=DEFAULT_LIMITS)

    def host_for(self, ip: str, port: int) -> str | None:
        best: HostRule | None = None
        for rule in self.hosts:
            if rule.applies_to(ip, port) and (best is None or rule.specificity > best.specificity):
                best = rule
        return best.name if best else None
