"""The Markdown report, made to be pasted into a support ticket (GitHub, GitLab, Jira Cloud and
other CommonMark/GFM renderers).

Theory of operation: one verdict line per connection at the top; then per connection its
handshake ladder (a Mermaid `sequenceDiagram` for renderers that draw it, and the same ladder
as plain text in a code block for those that do not), MySQL facts, the certificate chain,
the intended host, the verdicts per ssl-mode and per client family, the findings with their
remedies; at the end the inputs, input warnings, the tool version and the exact command line.
Only GitHub-flavoured tables, lists, headings, code blocks and a `<details>` block are used.

Untrusted text: every string that can come from a capture goes through `md()` (inline text and
table cells) or into a fenced code block whose fence is longer than any backtick run inside it
(`fenced()`); Mermaid labels go through `mermaid_label()`, which keeps a small set of
characters only. `md()` escapes the characters that start inline Markdown syntax
(\\ ` * _ [ ] | ~; values are never placed at the start of a line, so block syntax cannot
start), writes & < > " as entities (no HTML tag or entity from a capture is ever live), breaks
GFM autolinks ("www.", "://", "a@b") with entities, and shows
line breaks, other control characters, bidirectional overrides and lone surrogates as visible
`\\x0a` / `\\u202e` escapes, so one value always stays on one line (and in one table cell).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from capture_tls.analysis.model import (
    CertificateFacts,
    ConnectionReport,
    Finding,
    Report,
    TlsFacts,
)
from capture_tls.reporting.ticket_common import (
    command_line,
    endpoint,
    ladder_offsets,
    report_title,
    time_span,
    validity_relative_to,
    verdict_line,
)

__all__ = ["fenced", "md", "mermaid_label", "render_markdown", "write_markdown"]

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff"
    "\ud800-\udfff]"
)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# GFM's extended autolinks start at "www.", "scheme://" and "local@domain".
_AUTOLINK_WWW = re.compile("(?i)(?<=www)\\.")
_AUTOLINK_EMAIL = re.compile(r"(?<=[\w.+-])@(?=[\w])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_MERMAID_KEEP = re.compile(r"[^A-Za-z0-9 .,()/+=_'@\-]")
_MAX_MERMAID_LABEL = 120
_VERDICT_MARK = {"pass": "✅ pass", "fail": "❌ fail", "unknown": "❔ unknown"}


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def md(value: str | None, missing: str = "unknown") -> str:
    """Untrusted text as inert Markdown inline text (safe in a table cell too)."""
    if value is None:
        return f"*{missing}*"
    if value == "":
        return "*(empty)*"
    text = _UNSAFE.sub(_visible, value)
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = "".join(_ENTITIES.get(ch, ch) for ch in text)
    # Break GFM autolinks with entities (the raw text no longer holds the trigger).
    text = text.replace("://", "&#58;//")
    text = _AUTOLINK_WWW.sub("&#46;", text)
    return _AUTOLINK_EMAIL.sub("&#64;", text)


def code(value: str | None) -> str:
    """A short identifier-like value (fingerprint, code) shown as code, safely."""
    if value is None:
        return "*unknown*"
    clean = _UNSAFE.sub(_visible, value)
    if re.fullmatch(r"[A-Za-z0-9_.:\-]+", clean):
        return f"`{clean}`"
    return md(value)


def fenced(body: str, info: str = "") -> str:
    """`body` (untrusted, already one line per line) as a fenced code block."""
    lines = [_UNSAFE.sub(_visible, line) for line in body.split("\n")]
    body = "\n".join(lines)
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


def mermaid_label(value: str) -> str:
    """Text for a Mermaid message: a small set of characters kept, the rest become "?"."""
    text = _MERMAID_KEEP.sub("?", value)
    if len(text) > _MAX_MERMAID_LABEL:
        text = text[: _MAX_MERMAID_LABEL - 3] + "..."
    return text or "?"


def _status(conn: ConnectionReport) -> str:
    severities = {f.severity for f in conn.findings}
    if "error" in severities:
        return "❌"
    return "⚠️" if "warning" in severities else "✅"


def _mark(verdict: str) -> str:
    return _VERDICT_MARK.get(verdict, md(verdict))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def render_markdown(report: Report) -> str:
    """The report as a Markdown document (ends with a newline)."""
    parts: list[str] = []
    write_markdown(report, parts.append)
    return "".join(parts)


def write_markdown(report: Report, write: Callable[[str], object]) -> None:
    """`render_markdown(report)` written one connection at a time (so
    that `report.connections` may be a lazy sequence over reports on disk). Two passes over
    the connections: the verdict lines, then the sections."""

    def emit(lines: list[str]) -> None:
        write("".join(line + "\n" for line in lines))

    s = report.summary
    emit([
        f"# {md(report_title(report))}",
        "",
        f"{s.connections} MySQL connection{'s' if s.connections != 1 else ''} "
        f"({s.tls} TLS, {s.plaintext} plaintext), {s.errors} with errors, "
        f"{s.warnings} input warning{'s' if s.warnings != 1 else ''}.",
        "",
        "## Verdicts",
        "",
    ])
    if report.connections:
        for c in report.connections:
            emit([f"- {_status(c)} {md(verdict_line(c))}"])
    else:
        emit(["*No MySQL connections found.*"])
    for conn in report.connections:
        emit(["", *_connection(conn)])
    emit(["", *_inputs(report)])


def _connection(conn: ConnectionReport) -> list[str]:
    out = [
        f"## Connection {md(conn.id)}: {md(endpoint(conn.client))} → {md(endpoint(conn.server))}",
        "",
        f"First packet {md(conn.first_seen)}; outcome **{md(conn.outcome)}**.",
        "",
    ]
    out += _ladder(conn)
    out += _mysql(conn)
    out += _tls(conn.tls)
    out += _chain("Server certificate chain", conn.server_certificates, conn)
    if conn.client_certificates:
        out += _chain("Client certificate chain", conn.client_certificates, conn)
    out += _intended_host(conn)
    out += _verdicts(conn)
    out += _findings(conn.findings)
    while out and out[-1] == "":
        out.pop()
    return out


def _ladder(conn: ConnectionReport) -> list[str]:
    out = ["### Handshake", ""]
    if not conn.handshake:
        return [*out, "*No handshake steps recorded.*", ""]
    offsets = ladder_offsets(conn)
    out.append(f"Times after the first step ({md(conn.handshake[0].time)}).")
    out.append("")
    mermaid = ["sequenceDiagram", "    participant C as Client", "    participant S as Server"]
    for step, offset in zip(conn.handshake, offsets, strict=True):
        arrow = "C->>S" if step.sender == "client" else "S->>C"
        mermaid.append(f"    {arrow}: {mermaid_label(offset + ' ' + step.label)}")
    out += [fenced("\n".join(mermaid), "mermaid"), ""]
    width = max(len(o) for o in offsets)
    text = []
    for step, offset in zip(conn.handshake, offsets, strict=True):
        arrow = "client --> server" if step.sender == "client" else "client <-- server"
        text.append(f"{offset:>{width}}  {arrow}  {step.label}")
    out += [fenced("\n".join(text), "text"), ""]
    return out


def _mysql(conn: ConnectionReport) -> list[str]:
    m = conn.mysql
    err = "none"
    if m.error is not None:
        err = md(f"{m.error.code} ({m.error.sql_state or '-'}) {m.error.message}")
    rows = [
        ["Server version", md(m.server_version)],
        ["Connection id", md(None if m.connection_id is None else str(m.connection_id))],
        ["SSL offered", _yes_no(m.server_supports_ssl)],
        ["SSLRequest", _yes_no(m.ssl_request)],
        ["User", md(m.username, "not sent in clear")],
        ["Error", err],
    ]
    return ["### MySQL", "", *_table(["", ""], rows), ""]


def _yes_no(value: bool | None) -> str:
    return "*unknown*" if value is None else ("yes" if value else "no")


def _tls(t: TlsFacts | None) -> list[str]:
    if t is None:
        return ["### TLS", "", "*No TLS handshake seen.*", ""]
    alerts = "; ".join(
        f"{a.sender} {a.level or ''} {a.description or ''}".replace("  ", " ").strip()
        + (f" ({a.code})" if a.code is not None else "")
        + (", encrypted" if a.encrypted else "")
        for a in t.alerts
    )
    rows = [
        ["Version", md(t.version)],
        ["Cipher suite", code(t.cipher_suite)],
        ["SNI", md(t.sni, "none sent")],
        ["ALPN", md(", ".join(t.alpn)) if t.alpn else "none"],
        ["Resumed", _yes_no(t.resumed)],
        ["Certificate", "visible" if t.certificate_visible else "not visible"],
        ["Decrypted", _yes_no(t.decrypted)],
        ["Alerts", md(alerts) if alerts else "none"],
    ]
    return ["### TLS", "", *_table(["", ""], rows), ""]


def _chain(title: str, certs: Sequence[CertificateFacts], conn: ConnectionReport) -> list[str]:
    out = [f"### {title}", ""]
    if not certs:
        if conn.tls is None:
            return [*out, "*None: the connection did not use TLS.*", ""]
        if not conn.tls.certificate_visible:
            return [*out, "*Not visible in the capture.*", ""]
        return [*out, "*None.*", ""]
    for index, cert in enumerate(certs):
        role = "leaf" if index == 0 else f"#{index}"
        rows = [
            ["Subject", md(cert.subject)],
            ["SAN DNS", md(", ".join(cert.san_dns)) if cert.san_dns else "none"],
            ["SAN IP", md(", ".join(cert.san_ip)) if cert.san_ip else "none"],
            ["Issuer", md(cert.issuer)],
            ["Validity", md(validity_relative_to(cert, conn.first_seen))],
            ["Not before / after", md(f"{cert.not_before} / {cert.not_after}")],
            ["SHA-256", code(cert.sha256)],
            ["Serial", code(cert.serial)],
            ["Key, signature", md(f"{cert.public_key}, {cert.signature_algorithm}")],
            ["Self-signed", _yes_no(cert.self_signed)],
        ]
        out += [f"**{role}: {md(cert.subject_cn, '(no CN)')}**", ""]
        out += _table(["", ""], rows)
        out += [
            "",
            "<details><summary>PEM</summary>",
            "",
            fenced(cert.pem.strip(), "text"),
            "",
            "</details>",
            "",
        ]
    return out


def _intended_host(conn: ConnectionReport) -> list[str]:
    out = ["### Intended host", ""]
    h = conn.intended_host
    if h is None:
        return [*out, "*Unknown* (no --host, SNI, DNS answer or hosts file entry).", ""]
    rows = [
        ["Name", md(h.name)],
        ["Source", md(h.source)],
        ["CNAME chain", md(" → ".join(h.cname_chain)) if h.cname_chain else "none"],
        ["Other names for this address", md(", ".join(h.candidates)) if h.candidates else "none"],
    ]
    return [*out, *_table(["", ""], rows), ""]


def _verdicts(conn: ConnectionReport) -> list[str]:
    v = conn.verdicts
    family = md(v.client_family_name)
    out = ["### Verdicts", ""]
    out += _table(
        ["ssl-mode", "verdict"],
        [["VERIFY_CA", _mark(v.verify_ca)], ["VERIFY_IDENTITY", _mark(v.verify_identity)]],
    )
    out += ["", f"Client family: {family} (source: {md(v.client_family_source)}).", ""]
    if v.clients:
        out += _table(
            ["client family", "VERIFY_IDENTITY", "rules", "reason"],
            [[md(name), _mark(cv.verify_identity), md(cv.rules), md(cv.reason)]
             for name, cv in v.clients],
        )
        out.append("")
    return out


def _findings(findings: Sequence[Finding]) -> list[str]:
    out = ["### Findings", ""]
    if not findings:
        return [*out, "None.", ""]
    for f in findings:
        out.append(f"- **{md(f.severity)}** {code(f.code)}: {md(f.message)}")
        if f.remedy:
            out.append(f"  - *Remedy:* {md(f.remedy)}")
    out.append("")
    return out


def _inputs(report: Report) -> list[str]:
    out = ["## Inputs", ""]
    rows = []
    failed = any(i.error is not None for i in report.inputs)
    for index, i in enumerate(report.inputs):
        rows.append([
            str(index),
            md(i.path),
            "*unknown*" if i.size is None else f"{i.size} bytes",
            code(i.sha256),
            md(i.format, "not a capture"),
            str(i.packets),
            md(time_span(i.first_packet, i.last_packet)),
            md(i.error) if i.error is not None else "",
        ][: 8 if failed else 7])
    if rows:
        header = ["#", "file", "size", "SHA-256", "format", "packets", "time span", "not used"]
        out += _table(header[: 8 if failed else 7], rows)
    else:
        out.append("None.")
    if report.warnings:
        out += ["", "### Input warnings", ""]
        out += _table(
            ["code", "input", "count", "message"],
            [[code(w.code), md(w.input, "-"), str(w.count), md(w.message)]
             for w in report.warnings],
        )
    out += [
        "",
        "## Reproduce",
        "",
        f"Tool: {md(report.tool_name)} {md(report.tool_version)}",
        "",
        fenced(command_line(report.command), "sh"),
    ]
    return out
