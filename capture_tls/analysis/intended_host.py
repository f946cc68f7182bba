"""Where the name the client meant to reach comes from, in DESIGN.md's order:
`--host`, then the client's SNI, then DNS answers in the capture, then `--hosts-file`.

DNS: the answer for the server's address most recently received by that client before the
connection began wins; other names that resolved to the same address are `candidates`. When no
answer reached that client (the capture point saw another resolver), answers to any client are
used. The CNAME chain runs from the name asked to the owner of the address.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from ipaddress import ip_address

from capture_tls.analysis.model import IntendedHost
from capture_tls.errors import CaptureTlsError
from capture_tls.protocols.dns import DnsResolution

__all__ = ["DnsCache", "HostsFile", "HostsFileError", "choose_intended_host"]


@dataclass(frozen=True, slots=True)
class _Answer:
    ts: float
    client: str
    question: str
    chain: tuple[str, ...]


class DnsCache:
    """Name resolutions seen in the capture, by the address they resolved to (bounded)."""

    def __init__(self, max_records: int) -> None:
        self._max = max_records
        self._by_address: dict[str, list[_Answer]] = {}
        self._order: deque[str] = deque()
        self.records = 0

    def add(self, ts: float, client_ip: str, resolution: DnsResolution) -> None:
        for addr in resolution.addresses:
            try:
                key = str(ip_address(addr))
            except ValueError:
                continue
            self._by_address.setdefault(key, []).append(
                _Answer(ts, client_ip, resolution.question, resolution.chain)
            )
            self._order.append(key)
            self.records += 1
            if self.records > self._max:
                old = self._order.popleft()
                lst = self._by_address.get(old)
                if lst:
                    lst.pop(0)
                    if not lst:
                        del self._by_address[old]
                self.records -= 1

    def lookup(self, client_ip: str, server_ip: str, before_ts: float) -> IntendedHost | None:
        answers = [a for a in self._by_address.get(server_ip, ()) if a.ts <= before_ts]
        if not answers:
            return None
        mine = [a for a in answers if a.client == client_ip] or answers
        best = max(mine, key=lambda a: a.ts)
        others = sorted({a.question for a in answers} - {best.question})
        return IntendedHost(name=best.question, source="dns", cname_chain=best.chain,
                            candidates=tuple(others))

    def chain_for(self, name: str, server_ip: str, before_ts: float) -> tuple[str, ...]:
        """The CNAME chain of `name` to `server_ip`, when that resolution is in the capture."""
        name = name.rstrip(".").lower()
        found = [a for a in self._by_address.get(server_ip, ())
                 if a.ts <= before_ts and a.question == name]
        return max(found, key=lambda a: a.ts).chain if found else ()


class HostsFileError(CaptureTlsError):
    """A --hosts-file that cannot be read."""


class HostsFile:
    """hosts(5): "ADDRESS CANONICAL [ALIAS...]", '#' starts a comment."""

    def __init__(self, names_by_address: dict[str, list[str]]) -> None:
        self._names = names_by_address

    @classmethod
    def parse(cls, text: str) -> HostsFile:
        names: dict[str, list[str]] = {}
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) < 2:
                continue
            try:
                addr = str(ip_address(fields[0].split("%", 1)[0]))
            except ValueError:
                continue
            lst = names.setdefault(addr, [])
            for n in fields[1:]:
                n = n.rstrip(".").lower()
                if n not in lst:
                    lst.append(n)
        return cls(names)

    @classmethod
    def load(cls, path: str) -> HostsFile:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return cls.parse(f.read())
        except OSError as exc:
            raise HostsFileError(f"{path}: {exc.strerror}") from None

    def lookup(self, server_ip: str) -> IntendedHost | None:
        names = self._names.get(server_ip)
        if not names:
            return None
        return IntendedHost(name=names[0], source="hosts-file", candidates=tuple(names[1:]))


def choose_intended_host(
    option_name: str | None,
    sni: str | None,
    client_ip: str,
    server_ip: str,
    first_ts: float,
    dns: DnsCache | None,
    hosts: HostsFile | None,
) -> IntendedHost | None:
    if option_name is not None:
        chain = dns.chain_for(option_name, server_ip, first_ts) if dns else ()
        return IntendedHost(name=option_name, source="option", cname_chain=chain)
    if sni:
        chain = dns.chain_for(sni, server_ip, first_ts) if dns else ()
        return IntendedHost(name=sni, source="sni", cname_chain=chain)
    if dns is not None:
        found = dns.lookup(client_ip, server_ip, first_ts)
        if found is not None:
            return found
    if hosts is not None:
        return hosts.lookup(server_ip)
    return None
