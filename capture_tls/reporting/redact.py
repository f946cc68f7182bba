"""`--redact`: a report that can leave the company.

Theory of operation: one pure function, `redact(report) -> report`. Client addresses and MySQL
user names are the personal data of a capture; each distinct value gets a stable pseudonym
("client-1", "user-1", numbered in the order the connections are listed), the same value always
the same pseudonym within one report. Server addresses and names, certificates, verdicts and
findings stay: they are what the report is for.

Client addresses and user names also appear inside other strings: a MySQL error message
("Access denied for user 'tlsonly'@'10.77.1.10'"), the ladder ("HandshakeResponse41 (user
'plain', clear)"), finding messages that quote the error. Every free-text string of a connection
and every input warning message goes through the same replacement, which matches a value only as
a whole token (a user "plain" is replaced in "'plain'" but "plaintext" stays), and quoted forms
first. A client address that is also a server address (a machine talking to itself) stays a
server address in the server field but is replaced in the client field and in free text.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from ipaddress import ip_address
from typing import Any, overload

from capture_tls.analysis.model import (
    Alert,
    ConnectionReport,
    Endpoint,
    Finding,
    HandshakeStep,
    MysqlErr,
    MysqlFacts,
    Report,
)

__all__ = ["Pseudonyms", "Redactor", "redact"]


class Pseudonyms:
    """Stable pseudonyms for the values of one kind ("client", "user")."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.by_value: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        name = self.by_value.get(value)
        if name is None:
            name = f"{self.prefix}-{len(self.by_value) + 1}"
            self.by_value[value] = name
        return name


def _address_forms(ip: str) -> list[str]:
    """The spellings of an address that can appear in text (compressed, exploded, mapped)."""
    forms = {ip}
    try:
        addr = ip_address(ip)
    except ValueError:
        return [ip]
    forms.add(str(addr))
    if addr.version == 6:
        forms.add(addr.exploded)
    else:
        forms.add(f"::ffff:{addr}")
    return sorted(forms, key=len, reverse=True)


# Below this many values a plain alternation (longest first) is as fast as the trie.
_TRIE_FROM = 64
# A trie nested deeper than this (long names sharing long prefixes) goes back to the plain
# alternation: Python's regular expression parser recurses once per nested group.
_MAX_TRIE_DEPTH = 200


class _TooDeep(Exception):
    pass


def _alternation(values: list[str]) -> str:
    r"""A regular expression matching any of `values`, the longest that fits first (when
    what follows decides, the engine backtracks to the next longest).

    With many values (a capture of 20,000 clients: 40,000 address spellings) a plain
    alternation is tried one value after the other at every position of every string: 11 s to
    compile, 300 MB, 14 ms a string. The same values as a trie (`10\.77\.(?:1(?:6|7)|...)`)
    compile in a second and match in microseconds. It matches the same: at a branch point
    only one child can fit the text, and a value that ends there is the last alternative of
    its group, so the longest fitting value is tried first and the shorter ones in order of
    length, as in the plain alternation sorted longest first."""
    ordered = sorted(values, key=len, reverse=True)
    if len(ordered) < _TRIE_FROM:
        return "|".join(re.escape(v) for v in ordered)
    trie: dict[str, dict[str, Any]] = {}
    for value in ordered:
        node = trie
        for ch in value:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any], depth: int) -> str:
        if depth > _MAX_TRIE_DEPTH:
            raise _TooDeep
        parts = []
        for ch, child in node.items():
            if ch == "":
                continue
            text = re.escape(ch)
            # A chain of single children without an end: no group needed.
            while len(child) == 1 and "" not in child:
                (nxt, child), = child.items()
                text += re.escape(nxt)
            parts.append(text + emit(child, depth + 1))
        ends = "" in node
        if not parts:
            return ""
        if len(parts) == 1 and not ends:
            return parts[0]
        return "(?:" + "|".join(parts) + ("|" if ends else "") + ")"

    try:
        return emit(trie, 0)
    except _TooDeep:
        return "|".join(re.escape(v) for v in ordered)


def _replacer(pairs: list[tuple[str, str]]) -> Callable[[str], str]:
    """A function replacing each value (as a whole token) with its pseudonym."""
    if not pairs:
        return lambda s: s
    table = dict(pairs)
    # Longest first, so that "10.0.0.10" wins over "10.0.0.1".
    alternatives = _alternation(list(table))
    # A token boundary: not inside a longer word, address or name. "." followed by a word
    # character continues a token ("10.0.0.1.5", "plain.x"); a final "." ends a sentence.
    # (A value between quotes, '...', "..." or `...`, is such a token too: a quote is neither
    # in the look-behind's set nor in the look-ahead's. Separate alternatives for quoted forms,
    # as there were, never match anything more.)
    pattern = re.compile(rf"(?<![\w.:@-])(?:{alternatives})(?![\w:@-]|\.[\w])")

    def replace(text: str) -> str:
        return pattern.sub(lambda m: table[m.group()], text)

    return replace


class Redactor:
    """Pseudonyms kept across calls, so that connections streamed one at a time (JSON Lines)
    and the report made at the end name the same client the same way."""

    def __init__(self) -> None:
        self.clients = Pseudonyms("client")
        self.users = Pseudonyms("user")
        self._scrub: Callable[[str], str] | None = None
        self._known = (0, 0)

    def learn(self, conn: ConnectionReport) -> None:
        self.clients(conn.client.ip)
        if conn.mysql.username is not None:
            self.users(conn.mysql.username)

    def scrub(self, text: str) -> str:
        known = (len(self.clients.by_value), len(self.users.by_value))
        if self._scrub is None or known != self._known:
            pairs: list[tuple[str, str]] = []
            for ip, name in self.clients.by_value.items():
                pairs += [(form, name) for form in _address_forms(ip)]
            pairs += [(user, name) for user, name in self.users.by_value.items() if user]
            self._scrub = _replacer(pairs)
            self._known = known
        return self._scrub(text)

    def connection(self, conn: ConnectionReport) -> ConnectionReport:
        self.learn(conn)
        return _connection(conn, self.clients, self.users, self.scrub)

    def report(self, report: Report) -> Report:
        for conn in report.connections:
            self.learn(conn)
        connections = tuple(self.connection(c) for c in report.connections)
        warnings = tuple(
            dataclasses.replace(w, message=self.scrub(w.message)) for w in report.warnings
        )
        return dataclasses.replace(
            report,
            connections=connections,
            warnings=warnings,
            command=tuple(self.scrub(a) for a in report.command),
        )


    def learn_values(self, values: Iterable[tuple[str, str | None]]) -> None:
        """Learn (client ip, user name or None) pairs, in the order of the report, as
        `learn` does from each connection."""
        clients = self.clients
        users = self.users
        for ip, user in values:
            clients(ip)
            if user is not None:
                users(user)

    def report_view(self, report: Report, *, learned: bool = False) -> Report:
        """What `report(report)` returns, but each connection redacted only when it is read:
        for a report whose connections are a lazy sequence over reports on disk.

        The pseudonyms are those of `report()`: every connection's values are learned first,
        in the report's order (`learned`: already given to `learn_values`; otherwise a first
        pass over the connections learns them), so text scrubbed in the first connection knows
        the names that appear only in the last."""
        if not learned:
            for conn in report.connections:
                self.learn(conn)
        warnings = tuple(
            dataclasses.replace(w, message=self.scrub(w.message)) for w in report.warnings
        )
        return dataclasses.replace(
            report,
            connections=_Mapped(report.connections, self.connection),
            warnings=warnings,
            command=tuple(self.scrub(a) for a in report.command),
        )


class _Mapped(Sequence[ConnectionReport]):
    """`function` applied to each item of `items` when it is read."""

    def __init__(
        self,
        items: Sequence[ConnectionReport],
        function: Callable[[ConnectionReport], ConnectionReport],
    ) -> None:
        self._items = items
        self._function = function

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> ConnectionReport: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[ConnectionReport]: ...

    def __getitem__(
        self, index: int | slice
    ) -> ConnectionReport | Sequence[ConnectionReport]:
        if isinstance(index, slice):
            return _Mapped(self._items[index], self._function)
        return self._function(self._items[index])

    def __iter__(self) -> Iterator[ConnectionReport]:
        function = self._function
        for item in self._items:
            yield function(item)

    def __bool__(self) -> bool:
        return bool(self._items)


def redact(report: Report) -> Report:
    """`report` with client addresses and user names replaced by stable pseudonyms."""
    return Redactor().report(report)


def _connection(
    conn: ConnectionReport,
    clients: Pseudonyms,
    users: Pseudonyms,
    scrub: Callable[[str], str],
) -> ConnectionReport:
    m = conn.mysql
    error: MysqlErr | None = None
    if m.error is not None:
        error = dataclasses.replace(m.error, message=scrub(m.error.message))
    mysql = MysqlFacts(
        server_version=m.server_version,
        connection_id=m.connection_id,
        server_supports_ssl=m.server_supports_ssl,
        ssl_request=m.ssl_request,
        username=None if m.username is None else users(m.username),
        error=error,
    )
    tls = conn.tls
    if tls is not None:
        alerts = tuple(
            a if a.description is None else Alert(a.sender, a.level, scrub(a.description),
                                                  a.code, a.encrypted)
            for a in tls.alerts
        )
        tls = dataclasses.replace(tls, alerts=alerts)
    findings = tuple(
        Finding(f.code, f.severity, scrub(f.message), scrub(f.remedy)) for f in conn.findings
    )
    handshake = tuple(HandshakeStep(h.time, h.sender, scrub(h.label)) for h in conn.handshake)
    return dataclasses.replace(
        conn,
        client=Endpoint(clients(conn.client.ip), conn.client.port),
        mysql=mysql,
        tls=tls,
        findings=findings,
        handshake=handshake,
        verdicts=dataclasses.replace(
            conn.verdicts,
            clients=tuple(
                (family, dataclasses.replace(v, reason=scrub(v.reason)))
                for family, v in conn.verdicts.clients
            ),
        ),
    )
