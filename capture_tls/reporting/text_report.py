"""The terminal report: what a DBA reads, and pastes into a ticket.

Theory of operation: every connection becomes one block, a header line followed by a two-column
grid (label, value) so that values line up across the whole block; then the inputs, the input
warnings and a one-line summary. The layout is built from rich `Text` and `Table` objects and
rendered into a string by a private `Console`; nothing is printed.

Untrusted text: every string that can come from a capture (names, certificate fields, MySQL
versions and errors, file paths, finding messages that quote them) goes through `_clean()`,
which turns control characters, ANSI escapes, bidirectional overrides and lone surrogates into
visible `\\x1b` / `\\u202e` style escapes, and is placed in a `Text` object: rich markup such as
`[bold]` is never interpreted (no string is ever parsed as markup, and the console has markup,
emoji and highlighting off).

Colour (verdicts, outcome, severities) is emitted only with `color=True`; without it the output
holds no escape sequence at all. Trailing spaces that rich pads lines with are removed.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

from rich._wrap import divide_line
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from capture_tls.analysis.model import (
    Alert,
    CertificateFacts,
    ClientVerdict,
    ConnectionReport,
    Endpoint,
    Finding,
    InputSummary,
    InputWarning,
    IntendedHost,
    MysqlFacts,
    Report,
    Summary,
    TlsFacts,
    Verdicts,
)

__all__ = ["TextWriter", "render_text", "write_text"]

# Control characters (C0, DEL, C1), bidirectional marks/embeddings/overrides/isolates, line and
# paragraph separators, the byte order mark and lone surrogates: shown as escapes, never sent to
# the terminal.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
    "\ud800-\udfff]"
)

_LABEL_WIDTH = 21  # "  Server certificates", "      libmysqlclient": one column for every block
_VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "unknown": "bold yellow"}
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_OUTCOME_STYLE = {
    "tls-established": "green",
    "client-rejected-certificate": "bold red",
    "closed-after-handshake": "yellow",
    "server-error": "bold red",
    "plaintext": "yellow",
    "incomplete": "yellow",
}
_HEADING = "bold"
_MUTED = "dim"

Row = tuple[Text, RenderableType]


def render_text(report: Report, *, width: int | None = None, color: bool = False) -> str:
    """The report as terminal text.

    `width`: columns to lay out for; None lets rich decide (the terminal's width, else the
    COLUMNS variable, else 80). `color`: emit ANSI colours (verdicts, outcome, severities);
    without it the text holds no escape sequence.
    """
    parts: list[str] = []
    write_text(report, parts.append, width=width, color=color)
    return "".join(parts)


class _BlockRenderer:
    """One connection's block as rich renders it, without rich doing it every time: rich
    takes about 12 ms a block (nested grids measured cell by cell), 4 minutes for the 20,000
    connections of the benchmark. The grid's label column has one width for the whole block
    and rows never influence each other's lines (a value is folded at the same width whatever
    the other rows hold; only padding, stripped at the end, differs), so each row is rendered
    on its own: without colour, a row whose label and value are single lines that fit is
    plain string formatting; any other row is rendered by rich as a one-row grid and
    remembered by its content (the same certificate, verdict or finding rows come back on
    every connection). tests/test_text_fast.py compares the result with rich's own rendering
    of the whole grid."""

    _MAX_CACHED_ROWS = 2_048  # per cache; a few kB each at most

    def __init__(self, console: Console, color: bool) -> None:
        self._console = console
        self._color = color
        self._width = console.width
        self._rows: dict[tuple[object, ...], str] = {}
        self._built: dict[tuple[object, ...], list[Row]] = {}
        self._label_widths: dict[tuple[object, ...], int] = {}
        self._laid_out: dict[tuple[object, ...], str] = {}

    def connection(self, conn: ConnectionReport) -> str:
        # The block's sections in `_connection_rows`' order; those that repeat across
        # connections (certificates, intended host, verdicts, findings) are built and laid
        # out once per content.
        sections = [
            (None, _mysql_rows(conn.mysql)),
            (None, _tls_rows(conn.tls)),
            self._section(("server-certs", conn.server_certificates, _cert_context(conn.tls)),
                          lambda: _certificate_rows("Server certificates",
                                                    conn.server_certificates, conn.tls)),
            self._section(("client-certs", conn.client_certificates, _cert_context(conn.tls)),
                          lambda: _certificate_rows("Client certificates",
                                                    conn.client_certificates, conn.tls)),
            self._section(("host", conn.intended_host),
                          lambda: _intended_host_rows(conn.intended_host)),
            self._section(("verdicts", conn.verdicts), lambda: _verdict_rows(conn.verdicts)),
            (None, [_outcome_row(conn)]),
            self._section(("findings", conn.findings), lambda: _finding_rows(conn.findings)),
        ]
        label_width = max(_LABEL_WIDTH, *(self._label_max(key, rows) for key, rows in sections))
        parts = [self._header(_connection_header(conn))]
        for key, rows in sections:
            if key is not None:
                done = self._laid_out.get((key, label_width))
                if done is not None:
                    parts.append(done)
                    continue
            text = "".join(self._row(label, value, label_width) for label, value in rows)
            if key is not None:
                if len(self._laid_out) >= self._MAX_CACHED_ROWS:
                    self._laid_out.clear()
                self._laid_out[(key, label_width)] = text
            parts.append(text)
        return "".join(parts)

    def _section(self, key: tuple[object, ...], build: Callable[[], list[Row]]
                 ) -> tuple[tuple[object, ...] | None, list[Row]]:
        try:
            rows = self._built.get(key)
        except TypeError:  # something unhashable in a hand-made model: not remembered
            return None, build()
        if rows is None:
            rows = build()
            if len(self._built) >= self._MAX_CACHED_ROWS:
                self._built.clear()
            self._built[key] = rows
        return key, rows

    def _label_max(self, key: tuple[object, ...] | None, rows: list[Row]) -> int:
        if key is not None:
            found = self._label_widths.get(key)
            if found is not None:
                return found
        width = max((cell_len(label.plain) for label, _ in rows), default=0)
        if key is not None:
            self._label_widths[key] = width
        return width

    def _header(self, header: Text) -> str:
        plain = header.plain
        if self._color or "\n" in plain or "\t" in plain:
            return self._rich(header)
        if cell_len(plain) <= self._width:
            return plain + "\n"
        # Longer than the width (an IPv4 header line is 82 columns): cut where rich's own
        # word wrapping cuts (Text.wrap -> divide_line, folding long words).
        offsets = [0, *divide_line(plain, self._width, fold=True), len(plain)]
        return "".join(plain[a:b] + "\n" for a, b in itertools.pairwise(offsets)
                       if b > a)

    def _row(self, label: Text, value: RenderableType, label_width: int) -> str:
        if not self._color and isinstance(value, Text):
            text = value.plain
            name = label.plain
            if (
                "\n" not in text
                and "\n" not in name
                and (len(text) if text.isascii() and text.isprintable() else cell_len(text))
                <= self._width - label_width - 2
            ):
                if not text:
                    return name + "\n"
                pad = label_width - (len(name) if name.isascii() and name.isprintable()
                                     else cell_len(name))
                return name + " " * (pad + 2) + text + "\n"
        key = (_render_key(label), _render_key(value), label_width)
        found = self._rows.get(key)
        if found is None:
            grid = Table.grid(padding=(0, 2))
            grid.add_column(min_width=label_width, no_wrap=True)
            grid.add_column(overflow="fold")
            grid.add_row(label, value)
            found = self._rich(grid)
            if len(self._rows) >= self._MAX_CACHED_ROWS:
                self._rows.clear()
            if key[0] is not None and key[1] is not None:
                self._rows[key] = found
        return found

    def _rich(self, renderable: RenderableType) -> str:
        with self._console.capture() as capture:
            self._console.print(renderable)
        return capture.get()


def _render_key(value: RenderableType) -> tuple[object, ...] | None:
    """What a cell's rendering depends on; None when it cannot be told (never cached)."""
    if isinstance(value, Text):
        return ("text", value.plain, tuple(value.spans), str(value.style), value.end,
                value.justify, value.overflow, value.no_wrap, value.tab_size)
    key = getattr(value, "_ct_key", None)
    return key if isinstance(key, tuple) else None


class TextWriter:
    """A console like `render_text`'s whose output goes to `write` whenever `flush()` is
    called, with the same trailing spaces removed: printing piece by piece and flushing after
    each piece gives the characters `render_text` returns for the whole (every piece ends
    with a newline, so lines are never split between pieces)."""

    def __init__(self, write: Callable[[str], object], *, width: int | None, color: bool):
        self.write = write
        self.buffer = io.StringIO()
        self.console = Console(
            file=self.buffer,
            width=width,
            force_terminal=color,
            force_jupyter=False,
            force_interactive=False,
            color_system="standard" if color else None,
            markup=False,
            emoji=False,
            highlight=False,
            soft_wrap=False,
            legacy_windows=False,
        )

    def flush(self) -> None:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        if lines:
            self.write("".join(line.rstrip(" ") + "\n" for line in lines))


def write_text(
    report: Report,
    write: Callable[[str], object],
    *,
    width: int | None = None,
    color: bool = False,
) -> None:
    """`render_text(report)`, the same characters, written one connection at a time (so that
    `report.connections` may be a lazy sequence over reports on disk)."""
    out = TextWriter(write, width=width, color=color)
    console = out.console
    blocks = _BlockRenderer(console, color)
    any_connection = False
    for index, conn in enumerate(report.connections):
        if index:
            console.print()
        out.buffer.write(blocks.connection(conn))
        out.flush()
        any_connection = True
    if not any_connection:
        console.print(_styled("No MySQL connections found.", _HEADING))
    console.print()
    console.print(_grid(_input_rows(report.inputs)))
    if report.warnings:
        console.print()
        console.print(_grid(_warning_rows(report.warnings)))
    console.print()
    console.print(_summary_line(report))
    out.flush()


# --- building blocks -------------------------------------------------------------------------


def _clean(value: str) -> str:
    """`value` with every character unsafe for a terminal written as a visible escape."""
    return _UNSAFE.sub(_escape_char, value)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _styled(value: str, style: str = "") -> Text:
    """`value` (already clean) styled as a span, so that a cell's padding stays unstyled."""
    text = Text(value)
    if style:
        text.stylize(style)
    return text


def _t(value: str, style: str = "") -> Text:
    """Untrusted text as a `Text` (never markup); an empty string is shown as such."""
    if not value:
        return _muted("(empty)")
    return _styled(_clean(value), style)


def _muted(value: str) -> Text:
    return _styled(value, _MUTED)


def _opt(value: str | None, missing: str = "unknown") -> Text:
    return _muted(missing) if value is None else _t(value)


def _opt_int(value: int | None, missing: str = "unknown") -> Text:
    return _muted(missing) if value is None else Text(str(value))


def _yes_no(value: bool | None) -> Text:
    if value is None:
        return _muted("unknown")
    return Text("yes" if value else "no")


def _join(values: Iterable[str], sep: str = ", ", missing: str = "none") -> Text:
    cleaned = [_clean(v) for v in values]
    return Text(sep.join(cleaned)) if cleaned else _muted(missing)


def _verdict(value: str) -> Text:
    return _styled(_clean(value), _VERDICT_STYLE.get(value, ""))


@lru_cache(maxsize=4096)
def _label(text: str, level: int, style: str = "") -> Text:
    """A label cell (shared between blocks: never changed after it is made)."""
    label = Text("  " * level)
    label.append(text, style=style)
    return label


def _section(title: str, level: int = 1) -> Row:
    return (_label(title, level, _HEADING), Text(""))


def _grid(rows: Sequence[Row]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(min_width=_LABEL_WIDTH, no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def _endpoint(e: Endpoint) -> str:
    host = f"[{e.ip}]" if ":" in e.ip else e.ip
    return f"{host}:{e.port}"


# --- one connection --------------------------------------------------------------------------


def _connection_header(conn: ConnectionReport) -> Text:
    header = Text()
    header.append("Connection " + _clean(conn.id), style=_HEADING)
    header.append("  " + _clean(_endpoint(conn.client)) + " -> " + _clean(_endpoint(conn.server)))
    header.append("  " + _clean(conn.first_seen))
    return header


def _connection_rows(conn: ConnectionReport) -> list[Row]:
    rows: list[Row] = []
    rows += _mysql_rows(conn.mysql)
    rows += _tls_rows(conn.tls)
    rows += _certificate_rows("Server certificates", conn.server_certificates, conn.tls)
    rows += _certificate_rows("Client certificates", conn.client_certificates, conn.tls)
    rows += _intended_host_rows(conn.intended_host)
    rows += _verdict_rows(conn.verdicts)
    rows.append(_outcome_row(conn))
    rows += _finding_rows(conn.findings)
    return rows


def _outcome_row(conn: ConnectionReport) -> Row:
    return (
        _label("Outcome", 1, _HEADING),
        _styled(_clean(conn.outcome), _OUTCOME_STYLE.get(conn.outcome, "")),
    )


def _cert_context(tls: TlsFacts | None) -> tuple[object, ...]:
    """What `_certificate_rows` reads of the TLS facts."""
    if tls is None:
        return (None,)
    return (tls.certificate_visible, tls.version, tls.decrypted)


def _mysql_rows(m: MysqlFacts) -> list[Row]:
    if m.error is None:
        error = _muted("none")
    else:
        error = Text(str(m.error.code))
        if m.error.sql_state is not None:
            error.append(" (" + _clean(m.error.sql_state) + ")")
        error.append(" " + _clean(m.error.message))
    return [
        _section("MySQL"),
        (_label("Server version", 2), _opt(m.server_version)),
        (_label("Connection id", 2), _opt_int(m.connection_id)),
        (_label("SSL offered", 2), _yes_no(m.server_supports_ssl)),
        (_label("SSLRequest", 2), _yes_no(m.ssl_request)),
        (_label("User", 2), _opt(m.username, "not sent in clear")),
        (_label("Error", 2), error),
    ]


def _alert_text(a: Alert) -> Text:
    text = Text(_clean(a.sender))
    if a.level is None and a.description is None and a.code is None:
        text.append(" alert, encrypted (content not visible)")
        return text
    if a.level is not None:
        text.append(" " + _clean(a.level))
    if a.description is not None:
        text.append(" " + _clean(a.description))
    if a.code is not None:
        text.append(f" ({a.code})")
    if a.encrypted:
        text.append(", encrypted (decrypted)")
    return text


def _tls_rows(t: TlsFacts | None) -> list[Row]:
    if t is None:
        return [(_label("TLS", 1, _HEADING), _muted("none (no TLS handshake seen)"))]
    alerts = [_alert_text(a) for a in t.alerts]
    return [
        _section("TLS"),
        (_label("Version", 2), _opt(t.version)),
        (_label("Cipher suite", 2), _opt(t.cipher_suite)),
        (_label("SNI", 2), _opt(t.sni, "none sent")),
        (_label("ALPN", 2), _join(t.alpn)),
        (_label("Resumed", 2), _yes_no(t.resumed)),
        (_label("Certificate", 2), Text("visible" if t.certificate_visible else "not visible")),
        (_label("Decrypted", 2), _yes_no(t.decrypted)),
        (_label("Alerts", 2), Text("\n").join(alerts) if alerts else _muted("none")),
    ]


def _certificate_rows(
    title: str, certs: Sequence[CertificateFacts], tls: TlsFacts | None
) -> list[Row]:
    if not certs:
        if tls is None:
            return []
        if tls.certificate_visible:
            missing = "none"
        elif tls.version == "TLS 1.3" and not tls.decrypted:
            missing = "not visible (encrypted in TLS 1.3)"
        else:
            missing = "none seen"
        return [(_label(title, 1, _HEADING), _muted(missing))]
    rows: list[Row] = [
        (_label(title, 1, _HEADING), _muted(f"{len(certs)}, as sent, leaf first")),
    ]
    for index, cert in enumerate(certs):
        rows.append((_label(f"#{index}", 2, _HEADING), _opt(cert.subject_cn, "(no CN)")))
        rows += [
            (_label("Subject", 3), _t(cert.subject)),
            (_label("SAN DNS", 3), _join(cert.san_dns)),
            (_label("SAN IP", 3), _join(cert.san_ip)),
            (_label("Issuer", 3), _t(cert.issuer)),
            (_label("Serial", 3), _t(cert.serial)),
            (_label("Valid", 3), _t(f"{cert.not_before} .. {cert.not_after}")),
            (_label("SHA-256", 3), _t(cert.sha256)),
            (_label("Key", 3), _t(cert.public_key)),
            (_label("Signature", 3), _t(cert.signature_algorithm)),
            (_label("Self-signed", 3), _yes_no(cert.self_signed)),
        ]
    return rows


def _intended_host_rows(h: IntendedHost | None) -> list[Row]:
    if h is None:
        return [(_label("Intended host", 1, _HEADING), _muted("unknown"))]
    name = _t(h.name)
    name.append(f" (source: {_clean(h.source)})", style=_MUTED)
    return [
        _section("Intended host"),
        (_label("Name", 2), name),
        (_label("CNAME chain", 2), _join(h.cname_chain, sep=" -> ")),
        (_label("Candidates", 2), _join(h.candidates)),
    ]


@lru_cache(maxsize=4096)
def _client_verdict(v: ClientVerdict) -> Table:
    """One client family's verdict as a nested grid (shared between blocks)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(width=7, no_wrap=True)
    grid.add_column(width=11, no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(_verdict(v.verify_identity), Text(_clean(v.rules)), _t(v.reason))
    grid._ct_key = ("client-verdict", v.verify_identity, v.rules, v.reason)  # type: ignore[attr-defined]
    return grid


def _verdict_rows(v: Verdicts) -> list[Row]:
    family = _opt(v.client_family_name)
    family.append(f" (source: {_clean(v.client_family_source)})", style=_MUTED)
    rows: list[Row] = [
        _section("Verdicts"),
        (_label("VERIFY_CA", 2), _verdict(v.verify_ca)),
        (_label("VERIFY_IDENTITY", 2), _verdict(v.verify_identity)),
        (_label("Client family", 2), family),
    ]
    if v.clients:
        rows.append((_label("Per client", 2), _client_verdict_header()))
        for family_name, cv in v.clients:
            rows.append((_label(_clean(family_name), 3), _client_verdict(cv)))
    return rows


@lru_cache(maxsize=1)
def _client_verdict_header() -> Table:
    header = Table.grid(padding=(0, 2))
    header.add_column(width=7, no_wrap=True)
    header.add_column(width=11, no_wrap=True)
    header.add_column()
    header.add_row(_muted("verdict"), _muted("rules"), _muted("reason"))
    header._ct_key = ("client-verdict-header",)  # type: ignore[attr-defined]
    return header


def _finding_rows(findings: Sequence[Finding]) -> list[Row]:
    if not findings:
        return [(_label("Findings", 1, _HEADING), _muted("none"))]
    rows: list[Row] = [_section("Findings")]
    for f in findings:
        body = Text()
        body.append(_clean(f.code), style=_HEADING)
        body.append("\n" + _clean(f.message))
        if f.remedy:
            body.append("\nRemedy: " + _clean(f.remedy))
        rows.append((_label(_clean(f.severity), 2, _SEVERITY_STYLE.get(f.severity, "")), body))
    return rows


# --- inputs, warnings, summary ---------------------------------------------------------------


def _input_rows(inputs: Sequence[InputSummary]) -> list[Row]:
    rows: list[Row] = [(_styled("Inputs", _HEADING), _muted("none") if not inputs else Text(""))]
    for index, i in enumerate(inputs):
        rows.append((_label(f"#{index}", 1, _HEADING), _t(i.path)))
        if i.error is not None:
            rows.append((_label("Not used", 2, "bold red"), _t(i.error)))
        fmt = _opt(i.format, "not a capture")
        if i.link_types:
            fmt.append(", link types " + ", ".join(_clean(lt) for lt in i.link_types))
        rows.append((_label("Format", 2), fmt))
        size = _muted("unknown") if i.size is None else Text(f"{i.size} bytes")
        rows.append((_label("Size", 2), size))
        if i.sha256 is not None:
            rows.append((_label("SHA-256", 2), _t(i.sha256)))
        rows.append((_label("Packets", 2), Text(str(i.packets))))
        if i.first_packet is not None or i.last_packet is not None:
            span = _opt(i.first_packet)
            span.append(" .. ")
            span.append_text(_opt(i.last_packet))
            rows.append((_label("Time span", 2), span))
    return rows


def _warning_rows(warnings: Sequence[InputWarning]) -> list[Row]:
    rows: list[Row] = [(_styled("Warnings", _HEADING), Text(""))]
    for w in warnings:
        where = "not tied to one input" if w.input is None else _clean(w.input)
        body = Text(f"{where}, {_plural(w.count, 'time')}")
        body.append("\n" + _clean(w.message))
        rows.append((_label(_clean(w.code), 1, _SEVERITY_STYLE["warning"]), body))
    return rows


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _summary_line(report: Report) -> Text:
    s: Summary = report.summary
    line = _styled("Summary:", _HEADING)
    line.append(" ")
    line.append(f"{_plural(s.connections, 'connection')} ({s.tls} TLS, {s.plaintext} plaintext), ")
    line.append(_plural(s.errors, "error"), style=_SEVERITY_STYLE["error"] if s.errors else "")
    line.append(", ")
    line.append(
        _plural(s.warnings, "warning"), style=_SEVERITY_STYLE["warning"] if s.warnings else ""
    )
    failed = sum(1 for i in report.inputs if i.error is not None)
    if failed:
        line.append(", ")
        line.append(_plural(failed, "input") + " could not be used", style="bold red")
    return line
