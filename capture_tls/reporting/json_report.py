"""The JSON and JSON Lines renderings of the report (contract `capture-tls/report/v1`).

Theory of operation: one small function per object of the contract turns a frozen model object
into plain dicts, lists, strings, numbers, booleans and None, with the key names of
../shared/DESIGN.md ("The report"). The published JSON Schema (`schema.json` beside this module,
`load_schema()`) requires every one of those keys; the tests validate every rendering against it.

Where the model and the JSON differ:
- `ConnectionReport.first_seen_ts` (a sort key) and `InputSummary.error` (text output only) are
  not in the JSON.
- `Verdicts.client_family_name` / `client_family_source` become `client_family{name, source}`.
- `Verdicts.clients` (pairs, in the model's order) becomes an object keyed by family.
- tuples become lists.

Strings from a capture may carry lone surrogates (bytes decoded with "surrogateescape"). They are
written as JSON `\\udcXX` escapes, so the output always encodes as UTF-8 and parses back to the
same Python string.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

import orjson

from capture_tls.analysis.model import (
    SCHEMA_ID,
    Alert,
    CertificateFacts,
    ClientVerdict,
    ConnectionReport,
    Endpoint,
    Finding,
    InputSummary,
    InputWarning,
    IntendedHost,
    MysqlErr,
    MysqlFacts,
    Report,
    Summary,
    TlsFacts,
    Verdicts,
)

__all__ = [
    "connection_json",
    "connection_to_dict",
    "json_entry_id",
    "load_schema",
    "rename_json_entry",
    "render_json",
    "render_json_entry",
    "render_jsonl_connection",
    "render_jsonl_line",
    "render_jsonl_trailer",
    "report_to_dict",
    "trailer_to_dict",
    "write_json",
]

JsonObject = dict[str, Any]

_SCHEMA_RESOURCE = "schema.json"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def load_schema() -> JsonObject:
    """The JSON Schema (draft 2020-12) of the report, as published in the package."""
    resource = resources.files("capture_tls.reporting").joinpath(_SCHEMA_RESOURCE)
    text = resource.read_text(encoding="utf-8")
    schema: JsonObject = json.loads(text)
    return schema


def report_to_dict(report: Report) -> JsonObject:
    """The whole report as the JSON contract's top-level object."""
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": report.tool_name, "version": report.tool_version},
        "command": list(report.command),
        "inputs": [_input(i) for i in report.inputs],
        "summary": _summary(report.summary),
        "warnings": [_warning(w) for w in report.warnings],
        "connections": [connection_to_dict(c) for c in report.connections],
    }


def trailer_to_dict(report: Report) -> JsonObject:
    """The last line of `--format jsonl`: summary, warnings and inputs."""
    return {
        "summary": _summary(report.summary),
        "warnings": [_warning(w) for w in report.warnings],
        "inputs": [_input(i) for i in report.inputs],
    }


def connection_to_dict(conn: ConnectionReport) -> JsonObject:
    """One connection object of `connections[]` (also one line of `--format jsonl`)."""
    return {
        "id": conn.id,
        "first_seen": conn.first_seen,
        "client": _endpoint(conn.client),
        "server": _endpoint(conn.server),
        "mysql": _mysql(conn.mysql),
        "tls": None if conn.tls is None else _tls(conn.tls),
        "server_certificates": [_certificate(c) for c in conn.server_certificates],
        "client_certificates": [_certificate(c) for c in conn.client_certificates],
        "intended_host": (
            None if conn.intended_host is None else _intended_host(conn.intended_host)
        ),
        "verdicts": _verdicts(conn.verdicts),
        "outcome": conn.outcome,
        "findings": [_finding(f) for f in conn.findings],
        "handshake": [
            {"time": h.time, "sender": h.sender, "label": h.label} for h in conn.handshake
        ],
    }


def render_json(report: Report) -> str:
    """The report as one JSON document, indented by 2, without a trailing newline."""
    return _dumps(report_to_dict(report), indent=2)


def write_json(
    report: Report,
    write: Callable[[str], object],
    fragments: Iterable[bytes] | None = None,
    write_bytes: Callable[[bytes], object] | None = None,
) -> None:
    """`render_json(report)`, the same characters, written piece by piece: one connection
    at a time, so that `report.connections` may be a lazy sequence over reports on disk.

    `fragments`: each connection already rendered by `connection_json` (in the order of
    `connections[]`), used instead of `report.connections`.

    Why the pieces add up to the whole: a connection object inside the document is its
    standalone rendering with every line indented by 4 more spaces (JSON strings hold no raw
    newline), and the standard library's output equals orjson's for every string without a
    lone surrogate and every integer, so a piece that needs the slow path (lone surrogates)
    is rendered exactly as the whole document would have been.
    """
    head = report_to_dict(dataclasses.replace(report, connections=()))
    text = _dumps(head, indent=2)
    empty_tail = '"connections": []\n}'
    if not text.endswith(empty_tail):  # "connections" must stay the last key
        raise AssertionError("connections is not the last key of the report")
    if fragments is None:
        if not report.connections:
            write(text)
            return
        fragments = (connection_json(c) for c in report.connections)
    if write_bytes is not None and fragments is not None:
        _write_json_bytes(text, empty_tail, fragments, write_bytes)
        return
    separator = '"connections": [\n    '
    first = True
    for fragment in fragments:
        if first:
            write(text[: -len(empty_tail)])
        write(separator + fragment.decode("utf-8").replace("\n", "\n    "))
        separator = ",\n    "
        first = False
    if first:
        write(text)
    else:
        write("\n  ]\n}")


def _write_json_bytes(text: str, empty_tail: str, fragments: Iterable[bytes],
                      write: Callable[[bytes], object]) -> None:
    """`write_json`'s characters in UTF-8 to a binary writer: the fragments as they are
    stored, without their decoding and the text layer's encoding back (5.5 kB a connection
    twice)."""
    separator = b'"connections": [\n    '
    first = True
    for fragment in fragments:
        if first:
            write(text[: -len(empty_tail)].encode("utf-8"))
        write(separator + fragment.replace(b"\n", b"\n    "))
        separator = b",\n    "
        first = False
    write(text.encode("utf-8") if first else b"\n  ]\n}")


def connection_json(conn: ConnectionReport) -> bytes:
    """One connection as `render_json` writes it inside `connections[]`, but indented from
    column 0 (UTF-8, no trailing newline): what `--format json` spills to disk."""
    fast = _fast_dumps(conn, _INDENTED, orjson.OPT_INDENT_2)
    if fast is not None:
        return fast
    obj = connection_to_dict(conn)
    try:
        return orjson.dumps(obj, option=orjson.OPT_INDENT_2)
    except TypeError:
        return _dumps(obj, indent=2).encode("utf-8")


def render_json_entry(conn: ConnectionReport) -> tuple[bytes, float, str, int, str, str | None]:
    """For `--format json` over several processes (analysis.split): what the report store
    keeps of a connection (`connection_json`), rendered in the worker, with the fields of the
    store's index (`ReportStore.add_encoded`). Pickling the report to the parent and rendering
    it there cost the parent 0.17 ms a connection, which then held the whole run back."""
    return (connection_json(conn), conn.first_seen_ts, conn.client.ip, conn.client.port,
            conn.id, conn.mysql.username)


_ENTRY_HEAD = b'{\n  "id": "'


def json_entry_id(data: bytes) -> str | None:
    """The id a `connection_json` entry starts with (None: it does not start with one)."""
    if not data.startswith(_ENTRY_HEAD):
        return None
    end = data.find(b'"', len(_ENTRY_HEAD))
    if end < 0:
        return None
    body = data[len(_ENTRY_HEAD) : end]
    if b"\\" in body:
        return None  # escaped: never one of the ids capture-tls makes
    return body.decode("utf-8", "replace")


def rename_json_entry(data: bytes, conn_id: str) -> bytes:
    """A `connection_json` entry under another id (the renumbered reports of a split file's
    later chunks: analysis.split)."""
    if json_entry_id(data) is None:
        raise ValueError("a connection's JSON does not start with its id")
    end = data.find(b'"', len(_ENTRY_HEAD))
    return _ENTRY_HEAD + orjson.dumps(conn_id)[1:] + data[end + 1 :]


def render_jsonl_line(conn: ConnectionReport) -> bytes:
    """`render_jsonl_connection(conn)` and its newline, encoded in UTF-8: what a writer to a
    UTF-8 binary stream needs. Straight from orjson's bytes, without the str made of them,
    the newline joined to that, and the text layer's encoding back: 5.5 kB copied three
    times less, 7 us a connection less (b200k's lines, process time, min of 9)."""
    fast = _fast_dumps(conn, _COMPACT, orjson.OPT_APPEND_NEWLINE)
    if fast is not None:
        return fast
    return (_dumps(connection_to_dict(conn), indent=None) + "\n").encode("utf-8")


def render_jsonl_connection(conn: ConnectionReport) -> str:
    """One connection as a single JSON Lines line (no newline inside, none at the end)."""
    fast = _fast_dumps(conn, _COMPACT, 0)
    if fast is not None:
        return fast.decode("utf-8")
    return _dumps(connection_to_dict(conn), indent=None)


# Rendered JSON of the immutable parts many connections share (analysis hands the same
# objects to every connection with the same chain and verdicts): the certificate lists, most
# of a connection's bytes with their PEMs, the verdicts with their eight client verdicts, the
# TLS facts, the server's endpoint and the intended host.
# Keyed by the object's identity; an entry holds the object, so its id cannot be reused while
# it is remembered. 1,024 entries of a few kB each (a chain's PEMs) per rendering: a few MB.
# A JSON Lines line: 6.3 instead of 10.2 us; an indented entry 5.9 us (b200k's reports, warm).
_MAX_FRAGMENTS = 1024
_Fragments = dict[int, tuple[object, "orjson.Fragment | None"]]
_COMPACT: _Fragments = {}
_INDENTED: _Fragments = {}  # indented by 2, nested one level deep (inside a connection)


def _fragment(obj: object, to_json: Callable[[Any], object], cache: _Fragments
              ) -> orjson.Fragment | None:
    """`obj` rendered by `to_json` and orjson as it stands inside a connection's object, or
    None when orjson refuses it (lone surrogates: the connection takes the slow path)."""
    found = cache.get(id(obj))
    if found is not None and found[0] is obj:
        return found[1]
    fragment: orjson.Fragment | None
    try:
        if cache is _INDENTED:
            # An object one level deep: every line after the first indented by 2 more (JSON
            # strings hold no raw newline).
            data = orjson.dumps(to_json(obj), option=orjson.OPT_INDENT_2).replace(b"\n",
                                                                                 b"\n  ")
        else:
            data = orjson.dumps(to_json(obj))
        fragment = orjson.Fragment(data)
    except TypeError:
        fragment = None
    if len(cache) >= _MAX_FRAGMENTS:
        cache.clear()
    cache[id(obj)] = (obj, fragment)
    return fragment


def _fast_dumps(conn: ConnectionReport, cache: _Fragments, option: int) -> bytes | None:
    """orjson's bytes of the connection with its cached fragments (`option`: orjson's);
    None when there is no fast form or orjson refuses it (the caller takes the slow path)."""
    fast = _connection_with_fragments(conn, cache)
    if fast is None:
        return None
    try:
        return orjson.dumps(fast, option=option)
    except TypeError:
        return None


def _connection_with_fragments(conn: ConnectionReport, cache: _Fragments) -> JsonObject | None:
    """`connection_to_dict(conn)` with the shared parts as cached JSON fragments; None when
    one of them needs the slow path."""
    server_certs = _fragment(conn.server_certificates, _certificates, cache)
    client_certs = _fragment(conn.client_certificates, _certificates, cache)
    verdicts = _fragment(conn.verdicts, _verdicts, cache)
    server = _fragment(conn.server, _endpoint, cache)
    tls = None if conn.tls is None else _fragment(conn.tls, _tls, cache)
    host = None if conn.intended_host is None else _fragment(conn.intended_host,
                                                             _intended_host, cache)
    if (server_certs is None or client_certs is None or verdicts is None or server is None
            or (tls is None and conn.tls is not None)
            or (host is None and conn.intended_host is not None)):
        return None
    return {
        "id": conn.id,
        "first_seen": conn.first_seen,
        "client": _endpoint(conn.client),
        "server": server,
        "mysql": _mysql(conn.mysql),
        "tls": tls,
        "server_certificates": server_certs,
        "client_certificates": client_certs,
        "intended_host": host,
        "verdicts": verdicts,
        "outcome": conn.outcome,
        "findings": [_finding(f) for f in conn.findings],
        "handshake": [
            {"time": h.time, "sender": h.sender, "label": h.label} for h in conn.handshake
        ],
    }


def _certificates(certs: tuple[CertificateFacts, ...]) -> list[JsonObject]:
    return [_certificate(c) for c in certs]


def render_jsonl_trailer(report: Report) -> str:
    """The closing JSON Lines line: {"summary", "warnings", "inputs"} (no trailing newline)."""
    return _dumps(trailer_to_dict(report), indent=None)


def _dumps(obj: JsonObject, *, indent: int | None) -> str:
    # The standard library indents in pure Python: 0.25 ms per connection, 5 s for 20,000
    # connections (measured on the benchmark's 2,000-connection report); orjson does the same
    # in C in 1/20 of the time, and a JSON Lines line in 4 us instead of 40. Both write the same
    # bytes (tests/test_reporting_json.py checks it). orjson refuses lone surrogates: those take
    # the slow path below.
    try:
        if indent == 2:
            return orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode("utf-8")
        if indent is None:
            return orjson.dumps(obj).decode("utf-8")
    except TypeError:
        pass
    separators = (",", ": ") if indent is not None else (",", ":")
    text = json.dumps(
        obj, indent=indent, ensure_ascii=False, allow_nan=False, separators=separators
    )
    # Lone surrogates can only stand inside JSON strings, where a \uXXXX escape means the same.
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _input(i: InputSummary) -> JsonObject:
    return {
        "path": i.path,
        "size": i.size,
        "sha256": i.sha256,
        "format": i.format,
        "link_types": list(i.link_types),
        "packets": i.packets,
        "first_packet": i.first_packet,
        "last_packet": i.last_packet,
        "error": i.error,
    }


def _summary(s: Summary) -> JsonObject:
    return {
        "connections": s.connections,
        "tls": s.tls,
        "plaintext": s.plaintext,
        "errors": s.errors,
        "warnings": s.warnings,
    }


def _warning(w: InputWarning) -> JsonObject:
    return {"code": w.code, "message": w.message, "count": w.count, "input": w.input}


def _endpoint(e: Endpoint) -> JsonObject:
    return {"ip": e.ip, "port": e.port}


def _mysql_error(e: MysqlErr) -> JsonObject:
    return {"code": e.code, "sql_state": e.sql_state, "message": e.message}


def _mysql(m: MysqlFacts) -> JsonObject:
    return {
        "server_version": m.server_version,
        "connection_id": m.connection_id,
        "server_supports_ssl": m.server_supports_ssl,
        "ssl_request": m.ssl_request,
        "username": m.username,
        "error": None if m.error is None else _mysql_error(m.error),
    }


def _alert(a: Alert) -> JsonObject:
    return {
        "sender": a.sender,
        "level": a.level,
        "description": a.description,
        "code": a.code,
        "encrypted": a.encrypted,
    }


def _tls(t: TlsFacts) -> JsonObject:
    return {
        "version": t.version,
        "cipher_suite": t.cipher_suite,
        "sni": t.sni,
        "alpn": list(t.alpn),
        "resumed": t.resumed,
        "certificate_visible": t.certificate_visible,
        "decrypted": t.decrypted,
        "alerts": [_alert(a) for a in t.alerts],
    }


def _certificate(c: CertificateFacts) -> JsonObject:
    return {
        "subject": c.subject,
        "subject_cn": c.subject_cn,
        "issuer": c.issuer,
        "serial": c.serial,
        "not_before": c.not_before,
        "not_after": c.not_after,
        "san_dns": list(c.san_dns),
        "san_ip": list(c.san_ip),
        "sha256": c.sha256,
        "public_key": c.public_key,
        "signature_algorithm": c.signature_algorithm,
        "self_signed": c.self_signed,
        "pem": c.pem,
    }


def _intended_host(h: IntendedHost) -> JsonObject:
    return {
        "name": h.name,
        "source": h.source,
        "cname_chain": list(h.cname_chain),
        "candidates": list(h.candidates),
    }


def _client_verdict(v: ClientVerdict) -> JsonObject:
    return {"verify_identity": v.verify_identity, "reason": v.reason, "rules": v.rules}


def _verdicts(v: Verdicts) -> JsonObject:
    return {
        "verify_ca": v.verify_ca,
        "verify_identity": v.verify_identity,
        "client_family": {"name": v.client_family_name, "source": v.client_family_source},
        "clients": {family: _client_verdict(cv) for family, cv in v.clients},
    }


def _finding(f: Finding) -> JsonObject:
    return {"code": f.code, "severity": f.severity, "message": f.message, "remedy": f.remedy}
