"""The HTML report: one self-contained file to attach to a ticket and open anywhere.

Theory of operation: the same sections as the Markdown report (a verdict line per connection
at the top; per connection the handshake ladder, MySQL and TLS facts, the certificate chain
with PEM in a `<details>` block, the intended host, verdicts, findings; at the end the inputs,
the tool version and the exact command line). The page is one string: inline CSS (with an
`@media print` block: black on white, PEM blocks printed open, no section split across pages
where avoidable), the ladder as inline SVG, no script, no font, no image, no link to anything
outside the page; a Content-Security-Policy `<meta>` forbids loading anything even if a future
change slipped one in.

Untrusted text: every string that can come from a capture goes through `h()`
(`html.escape` with quotes, then control characters, bidirectional overrides and lone
surrogates shown as visible `\\x1b` / `\\u202e` escapes). Capture text is only ever element
content, never an attribute value: the attributes on the page are constants or numbers the
renderer computed itself (SVG coordinates), and the element ids are made from the connection
index, not from capture text.
"""

from __future__ import annotations

import html
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

__all__ = ["h", "ladder_svg", "render_html", "write_html"]

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff"
    "\ud800-\udfff]"
)
_MAX_SVG_LABEL = 90

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 2em auto; max-width: 70em; padding: 0 1em; color: #1b1f23; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.3em; border-bottom: 1px solid #d0d7de; padding-bottom: .2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; margin: .4em 0; }
th, td { border: 1px solid #d0d7de; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td { overflow-wrap: anywhere; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
                   font-size: .92em; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; white-space: pre-wrap;
      overflow-wrap: anywhere; }
ul.verdicts { list-style: none; padding-left: 0; }
ul.verdicts li { margin: .25em 0; padding: .3em .6em; border-left: 4px solid #57606a; }
ul.verdicts li.error { border-left-color: #cf222e; background: #ffebe9; }
ul.verdicts li.warning { border-left-color: #bf8700; background: #fff8c5; }
ul.verdicts li.ok { border-left-color: #1a7f37; background: #dafbe1; }
.pass { color: #1a7f37; font-weight: bold; }
.fail { color: #cf222e; font-weight: bold; }
.unknown { color: #9a6700; font-weight: bold; }
.sev-error { color: #cf222e; font-weight: bold; }
.sev-warning { color: #9a6700; font-weight: bold; }
.sev-info { color: #0969da; font-weight: bold; }
.muted { color: #57606a; }
section.conn { page-break-inside: auto; }
.cert { border: 1px solid #d0d7de; border-radius: 6px; padding: .2em .8em .6em; margin: .6em 0; }
svg.ladder { max-width: 100%; height: auto; }
svg.ladder text { font: 12px ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
details summary { cursor: pointer; color: #0969da; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; color: #000; }
  a { color: #000; }
  ul.verdicts li { background: none !important; }
  pre { white-space: pre-wrap; background: none; border: 1px solid #999; }
  details::details-content { content-visibility: visible; display: block; }
  details > :not(summary) { display: block; }
  details summary { display: none; }
  .cert, table, pre, svg.ladder { page-break-inside: avoid; break-inside: avoid; }
  h2, h3 { page-break-after: avoid; break-after: avoid; }
  section.conn { page-break-before: auto; }
}
"""


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def h(value: str | None, missing: str = "unknown") -> str:
    """Untrusted text as inert HTML element content."""
    if value is None:
        return f'<span class="muted">{html.escape(missing)}</span>'
    if value == "":
        return '<span class="muted">(empty)</span>'
    return html.escape(_UNSAFE.sub(_visible, value), quote=True)


def _verdict(value: str) -> str:
    cls = value if value in ("pass", "fail", "unknown") else "unknown"
    return f'<span class="{cls}">{h(value)}</span>'


def _yes_no(value: bool | None) -> str:
    return h(None) if value is None else ("yes" if value else "no")


def _rows(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table; labels are constants, values already escaped."""
    body = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
    return f"<table>{body}</table>"


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document."""
    parts: list[str] = []
    write_html(report, parts.append)
    return "".join(parts)


def write_html(report: Report, write: Callable[[str], object]) -> None:
    """`render_html(report)` written one connection at a time (so that
    `report.connections` may be a lazy sequence over reports on disk). Two passes over the
    connections: the verdict list, then the sections."""

    def emit(parts: list[str]) -> None:
        write("".join(part + "\n" for part in parts))

    title = h(report_title(report))
    s = report.summary
    emit([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{title}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{title}</h1>",
        f"<p>{s.connections} MySQL connection{'s' if s.connections != 1 else ''} "
        f"({s.tls} TLS, {s.plaintext} plaintext), {s.errors} with errors, "
        f"{s.warnings} input warning{'s' if s.warnings != 1 else ''}.</p>",
        "<h2>Verdicts</h2>",
    ])
    if report.connections:
        emit(['<ul class="verdicts">'])
        for conn in report.connections:
            severities = {f.severity for f in conn.findings}
            cls = "error" if "error" in severities else (
                "warning" if "warning" in severities else "ok")
            emit([f'<li class="{cls}">{h(verdict_line(conn))}</li>'])
        emit(["</ul>"])
    else:
        emit(['<p class="muted">No MySQL connections found.</p>'])
    for conn in report.connections:
        emit([_connection(conn)])
    emit([_inputs(report), "</body>", "</html>"])


def _connection(conn: ConnectionReport) -> str:
    parts = [
        '<section class="conn">',
        f"<h2>Connection {h(conn.id)}: {h(endpoint(conn.client))} → "
        f"{h(endpoint(conn.server))}</h2>",
        f"<p>First packet {h(conn.first_seen)}; outcome <strong>{h(conn.outcome)}</strong>.</p>",
        "<h3>Handshake</h3>",
    ]
    if conn.handshake:
        parts.append(f'<p class="muted">Times after the first step '
                     f"({h(conn.handshake[0].time)}).</p>")
        parts.append(ladder_svg(conn))
    else:
        parts.append('<p class="muted">No handshake steps recorded.</p>')
    parts.append(_mysql(conn))
    parts.append(_tls(conn.tls))
    parts.append(_chain("Server certificate chain", conn.server_certificates, conn))
    if conn.client_certificates:
        parts.append(_chain("Client certificate chain", conn.client_certificates, conn))
    parts.append(_intended_host(conn))
    parts.append(_verdicts(conn))
    parts.append(_findings(conn.findings))
    parts.append("</section>")
    return "\n".join(parts)


def ladder_svg(conn: ConnectionReport) -> str:
    """The handshake as an SVG sequence diagram: client and server lifelines, one arrow per
    step with its label, the time after the first step at the left."""
    offsets = ladder_offsets(conn)
    row = 26
    top = 44
    time_w = 110
    client_x = time_w + 40
    server_x = client_x + 560
    width = server_x + 60
    height = top + row * len(conn.handshake) + 16
    out = [
        f'<svg class="ladder" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img">',
        "<title>Handshake ladder</title>",
        f'<text x="{client_x}" y="18" text-anchor="middle" font-weight="bold">client</text>',
        f'<text x="{server_x}" y="18" text-anchor="middle" font-weight="bold">server</text>',
        f'<line x1="{client_x}" y1="26" x2="{client_x}" y2="{height - 6}" stroke="#57606a" '
        'stroke-width="2"/>',
        f'<line x1="{server_x}" y1="26" x2="{server_x}" y2="{height - 6}" stroke="#57606a" '
        'stroke-width="2"/>',
    ]
    for i, (step, offset) in enumerate(zip(conn.handshake, offsets, strict=True)):
        y = top + row * i
        from_client = step.sender == "client"
        x1, x2 = (client_x, server_x) if from_client else (server_x, client_x)
        tip = -8 if from_client else 8
        color = "#0969da" if from_client else "#8250df"
        label = step.label
        if len(label) > _MAX_SVG_LABEL:
            label = label[: _MAX_SVG_LABEL - 3] + "..."
        out += [
            f'<text x="{time_w}" y="{y + 4}" text-anchor="end" fill="#57606a">{h(offset)}</text>',
            f'<line x1="{x1}" y1="{y + 8}" x2="{x2}" y2="{y + 8}" stroke="{color}" '
            'stroke-width="1.5"/>',
            f'<polygon points="{x2},{y + 8} {x2 + tip},{y + 4} {x2 + tip},{y + 12}" '
            f'fill="{color}"/>',
            f'<text x="{(client_x + server_x) // 2}" y="{y + 3}" text-anchor="middle">'
            f"{h(label)}</text>",
        ]
    out.append("</svg>")
    return "\n".join(out)


def _mysql(conn: ConnectionReport) -> str:
    m = conn.mysql
    err = "none"
    if m.error is not None:
        err = h(f"{m.error.code} ({m.error.sql_state or '-'}) {m.error.message}")
    return "<h3>MySQL</h3>" + _rows([
        ("Server version", h(m.server_version)),
        ("Connection id", h(None if m.connection_id is None else str(m.connection_id))),
        ("SSL offered", _yes_no(m.server_supports_ssl)),
        ("SSLRequest", _yes_no(m.ssl_request)),
        ("User", h(m.username, "not sent in clear")),
        ("Error", err),
    ])


def _tls(t: TlsFacts | None) -> str:
    if t is None:
        return '<h3>TLS</h3><p class="muted">No TLS handshake seen.</p>'
    alerts = [
        h(f"{a.sender} {a.level or ''} {a.description or ''}".replace("  ", " ").strip()
          + (f" ({a.code})" if a.code is not None else "")
          + (", encrypted" if a.encrypted else ""))
        for a in t.alerts
    ]
    return "<h3>TLS</h3>" + _rows([
        ("Version", h(t.version)),
        ("Cipher suite", f"<code>{h(t.cipher_suite)}</code>"),
        ("SNI", h(t.sni, "none sent")),
        ("ALPN", h(", ".join(t.alpn)) if t.alpn else "none"),
        ("Resumed", _yes_no(t.resumed)),
        ("Certificate", "visible" if t.certificate_visible else "not visible"),
        ("Decrypted", _yes_no(t.decrypted)),
        ("Alerts", "<br>".join(alerts) if alerts else "none"),
    ])


def _chain(title: str, certs: Sequence[CertificateFacts], conn: ConnectionReport) -> str:
    out = [f"<h3>{title}</h3>"]
    if not certs:
        if conn.tls is None:
            why = "None: the connection did not use TLS."
        elif not conn.tls.certificate_visible:
            why = "Not visible in the capture."
        else:
            why = "None."
        out.append(f'<p class="muted">{why}</p>')
        return "\n".join(out)
    for index, cert in enumerate(certs):
        role = "leaf" if index == 0 else f"#{index}"
        validity = validity_relative_to(cert, conn.first_seen)
        vclass = "fail" if validity.startswith(("expired", "not yet")) else "pass"
        out.append('<div class="cert">')
        out.append(f"<h4>{role}: {h(cert.subject_cn, '(no CN)')}</h4>")
        out.append(_rows([
            ("Subject", h(cert.subject)),
            ("SAN DNS", h(", ".join(cert.san_dns)) if cert.san_dns else "none"),
            ("SAN IP", h(", ".join(cert.san_ip)) if cert.san_ip else "none"),
            ("Issuer", h(cert.issuer)),
            ("Validity", f'<span class="{vclass}">{h(validity)}</span>'),
            ("Not before / after", h(f"{cert.not_before} / {cert.not_after}")),
            ("SHA-256", f'<code>{h(cert.sha256)}</code>'),
            ("Serial", f"<code>{h(cert.serial)}</code>"),
            ("Key, signature", h(f"{cert.public_key}, {cert.signature_algorithm}")),
            ("Self-signed", _yes_no(cert.self_signed)),
        ]))
        out.append(f"<details><summary>PEM</summary><pre>{h(cert.pem.strip())}</pre></details>")
        out.append("</div>")
    return "\n".join(out)


def _intended_host(conn: ConnectionReport) -> str:
    host = conn.intended_host
    if host is None:
        return ('<h3>Intended host</h3><p class="muted">Unknown (no --host, SNI, DNS answer or '
                "hosts file entry).</p>")
    return "<h3>Intended host</h3>" + _rows([
        ("Name", h(host.name)),
        ("Source", h(host.source)),
        ("CNAME chain", h(" → ".join(host.cname_chain)) if host.cname_chain else "none"),
        ("Other names for this address",
         h(", ".join(host.candidates)) if host.candidates else "none"),
    ])


def _verdicts(conn: ConnectionReport) -> str:
    v = conn.verdicts
    out = [
        "<h3>Verdicts</h3>",
        "<table><tr><th>ssl-mode</th><th>verdict</th></tr>",
        f"<tr><td>VERIFY_CA</td><td>{_verdict(v.verify_ca)}</td></tr>",
        f"<tr><td>VERIFY_IDENTITY</td><td>{_verdict(v.verify_identity)}</td></tr></table>",
        f"<p>Client family: {h(v.client_family_name)} "
        f"(source: {h(v.client_family_source)}).</p>",
    ]
    if v.clients:
        out.append("<table><tr><th>client family</th><th>VERIFY_IDENTITY</th><th>rules</th>"
                   "<th>reason</th></tr>")
        for name, cv in v.clients:
            out.append(f"<tr><td>{h(name)}</td><td>{_verdict(cv.verify_identity)}</td>"
                       f"<td>{h(cv.rules)}</td><td>{h(cv.reason)}</td></tr>")
        out.append("</table>")
    return "\n".join(out)


def _findings(findings: Sequence[Finding]) -> str:
    if not findings:
        return "<h3>Findings</h3><p>None.</p>"
    out = ["<h3>Findings</h3>", "<ul>"]
    for f in findings:
        sev = f.severity if f.severity in ("error", "warning", "info") else "info"
        item = (f'<li><span class="sev-{sev}">{h(f.severity)}</span> '
                f"<code>{h(f.code)}</code>: {h(f.message)}")
        if f.remedy:
            item += f"<br><em>Remedy:</em> {h(f.remedy)}"
        out.append(item + "</li>")
    out.append("</ul>")
    return "\n".join(out)


def _inputs(report: Report) -> str:
    out = ["<h2>Inputs</h2>"]
    if report.inputs:
        failed = any(i.error is not None for i in report.inputs)
        out.append("<table><tr><th>#</th><th>file</th><th>size</th><th>SHA-256</th>"
                   "<th>format</th><th>packets</th><th>time span</th>"
                   + ("<th>not used</th>" if failed else "") + "</tr>")
        for index, i in enumerate(report.inputs):
            size = h(None) if i.size is None else f"{i.size} bytes"
            error = f"<td>{h(i.error) if i.error is not None else ''}</td>" if failed else ""
            out.append(
                f"<tr><td>{index}</td><td>{h(i.path)}</td><td>{size}</td>"
                f"<td><code>{h(i.sha256)}</code></td><td>{h(i.format, 'not a capture')}</td>"
                f"<td>{i.packets}</td><td>{h(time_span(i.first_packet, i.last_packet))}</td>"
                f"{error}</tr>"
            )
        out.append("</table>")
    else:
        out.append("<p>None.</p>")
    if report.warnings:
        out.append("<h3>Input warnings</h3>")
        out.append("<table><tr><th>code</th><th>input</th><th>count</th><th>message</th></tr>")
        for w in report.warnings:
            out.append(f"<tr><td><code>{h(w.code)}</code></td><td>{h(w.input, '-')}</td>"
                       f"<td>{w.count}</td><td>{h(w.message)}</td></tr>")
        out.append("</table>")
    out += [
        "<h2>Reproduce</h2>",
        f"<p>Tool: {h(report.tool_name)} {h(report.tool_version)}</p>",
        f"<pre>{h(command_line(report.command))}</pre>",
    ]
    return "\n".join(out)
