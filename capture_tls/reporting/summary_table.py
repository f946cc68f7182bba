"""The summary table printed above the text report when a capture holds many connections:
one row per connection (id, client, server, intended host, the two ssl-mode verdicts, outcome,
number of error findings), so the one that failed is found without scrolling through every block.

Untrusted text is cleaned as in `text_report` (control characters, ANSI escapes, bidirectional
overrides shown as visible escapes) and always placed in `Text` objects, never parsed as rich
markup. Colour only with `color=True`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from capture_tls.analysis.model import ConnectionReport, Report
from capture_tls.reporting.text_report import TextWriter
from capture_tls.reporting.ticket_common import endpoint

__all__ = ["MIN_CONNECTIONS_FOR_TABLE", "render_summary_table", "write_summary_table"]

# From this many connections on, a table comes first (fewer fit on a screen as blocks).
MIN_CONNECTIONS_FOR_TABLE = 5

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
    "\ud800-\udfff]"
)
_VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "unknown": "bold yellow"}


def _clean(value: str) -> str:
    def esc(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _UNSAFE.sub(esc, value)


def _verdict(value: str) -> Text:
    return Text(_clean(value), style=_VERDICT_STYLE.get(value, ""))


def render_summary_table(
    report: Report,
    *,
    width: int | None = None,
    color: bool = False,
    min_connections: int = MIN_CONNECTIONS_FOR_TABLE,
) -> str:
    """The table as text (ends with a blank line), or "" when there are few connections."""
    parts: list[str] = []
    write_summary_table(report, parts.append, width=width, color=color,
                        min_connections=min_connections)
    return "".join(parts)


def write_summary_table(
    report: Report,
    write: Callable[[str], object],
    *,
    width: int | None = None,
    color: bool = False,
    min_connections: int = MIN_CONNECTIONS_FOR_TABLE,
) -> None:
    """`render_summary_table(report)` written piece by piece: `report.connections` may be a
    lazy sequence over reports on disk, read twice (the column widths, then the rows).

    rich lays a table out from the widest cells of each column: a cell's (minimum, maximum)
    width is its longest word and its longest line, and a column's is the largest of its
    cells'. So the first pass keeps, per column, the row with the longest line and the row
    with the longest word; rich computes the whole table's column widths on a probe of the
    header and those rows. Then, without colour, a row whose cells fit their columns on one
    line is plain string formatting, a row of plain ASCII cells without spaces is folded here
    (one character a cell), and any other row is laid out by rich with the widths fixed (rich
    costs 0.6 ms a row: 12 s for 20,000 connections). With colour rich prints every row, a
    few hundred at a time, in that fixed layout. tests/test_text_fast.py compares the result
    with rich's table of all rows at once."""
    count = len(report.connections)
    if count < min_connections:
        return
    out = TextWriter(write, width=width, color=color)
    console = out.console
    title = f"{count} connections"
    longest_line: list[tuple[int, tuple[Text, ...]]] = []
    longest_word: list[tuple[int, tuple[Text, ...]]] = []
    for conn in report.connections:
        row = _row(conn)
        for col, cell in enumerate(row):
            plain = cell.plain
            line = cell_len(plain)
            word = max(map(cell_len, plain.split(" ")))
            if len(longest_line) <= col:
                longest_line.append((line, row))
                longest_word.append((word, row))
                continue
            if line > longest_line[col][0]:
                longest_line[col] = (line, row)
            if word > longest_word[col][0]:
                longest_word[col] = (word, row)
    sample: list[tuple[Text, ...]] = []
    for _, row in longest_line + longest_word:
        if not any(row is seen for seen in sample):
            sample.append(row)
    probe = _table(title)
    for row in sample:
        probe.add_row(*row)
    widths = probe._calculate_column_widths(console, console.options)
    last = len(widths) - 1
    inner = [w - (i > 0) - (i < last) for i, w in enumerate(widths)]
    if min(inner) < 1:  # so narrow that rich drops columns: rich lays out everything
        table = _table(title)
        for conn in report.connections:
            table.add_row(*_row(conn))
        console.print(table)
        console.print()
        out.flush()
        return
    if color:
        table = _table(title, inner)
        rows = 0
        for conn in report.connections:
            table.add_row(*_row(conn))
            rows += 1
            if rows == _CHUNK_ROWS:
                console.print(table)
                out.flush()
                table, rows = _table(None, inner, header=False), 0
        if rows or table.show_header:
            console.print(table)
        console.print()
        out.flush()
        return
    # Title and header: rich's lines for the probe, before its rows.
    with console.capture() as whole:
        console.print(probe)
    bare = _table(None, inner, header=False)
    for row in sample:
        bare.add_row(*row)
    with console.capture() as body:
        console.print(bare)
    body_lines = body.get().count("\n")
    head_lines = whole.get().split("\n")
    out.buffer.write("\n".join(head_lines[: len(head_lines) - 1 - body_lines]) + "\n")
    pending = 0
    for conn in report.connections:
        out.buffer.write(_plain_row(console, _row(conn), inner, last))
        pending += 1
        if pending == _CHUNK_ROWS:
            out.flush()
            pending = 0
    console.print()
    out.flush()


# Rows written between two flushes.
_CHUNK_ROWS = 256


_JUSTIFY_RIGHT = 7  # the "errors" column


def _table(title: str | None, fixed: list[int] | None = None, header: bool = True) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False, pad_edge=False, box=None,
                  header_style="bold", show_header=header)
    for i, (name, no_wrap) in enumerate(_COLUMNS):
        kwargs: dict[str, Any] = {"no_wrap": True} if no_wrap else {"overflow": "fold"}
        if i == _JUSTIFY_RIGHT:
            kwargs["justify"] = "right"
        table.add_column(name, width=None if fixed is None else fixed[i], **kwargs)
    return table


_COLUMNS = (
    ("id", True), ("client", False), ("server", False), ("intended host", False),
    ("CA", True), ("IDENTITY", True),  # VERIFY_CA, VERIFY_IDENTITY
    ("outcome", False), ("errors", True),
)


def _row(conn: ConnectionReport) -> tuple[Text, ...]:
    host = conn.intended_host.name if conn.intended_host is not None else "unknown"
    errors = sum(1 for f in conn.findings if f.severity == "error")
    return (
        Text(_clean(conn.id)),
        Text(_clean(endpoint(conn.client))),
        Text(_clean(endpoint(conn.server))),
        Text(_clean(host)),
        _verdict(conn.verdicts.verify_ca),
        _verdict(conn.verdicts.verify_identity),
        Text(_clean(conn.outcome)),
        Text(str(errors), style="bold red" if errors else ""),
    )


def _plain_row(console: Console, row: tuple[Text, ...], inner: list[int], last: int) -> str:
    """One row without colour in the fixed layout (see write_summary_table)."""
    texts = [t.plain for t in row]
    if all("\n" not in t and cell_len(t) <= inner[i] for i, t in enumerate(texts)):
        cells = []
        for i, t in enumerate(texts):
            pad = " " * (inner[i] - cell_len(t))
            cell = pad + t if i == _JUSTIFY_RIGHT else t + pad
            cells.append((" " if i > 0 else "") + cell + (" " if i < last else ""))
        return "".join(cells) + "\n"
    if all(t.isascii() and t.isprintable() and " " not in t and (
            not _COLUMNS[i][1] or len(t) <= inner[i]) for i, t in enumerate(texts)):
        # Folded without rich: a printable ASCII cell without spaces is cut every `inner`
        # characters (one cell each), lines aligned at the top.
        chunks = [[t[k : k + inner[i]] for k in range(0, len(t), inner[i])] or [""]
                  for i, t in enumerate(texts)]
        lines = []
        for line in range(max(map(len, chunks))):
            cells = []
            for i, parts in enumerate(chunks):
                t = parts[line] if line < len(parts) else ""
                pad = " " * (inner[i] - len(t))
                cell = pad + t if i == _JUSTIFY_RIGHT else t + pad
                cells.append((" " if i > 0 else "") + cell + (" " if i < last else ""))
            lines.append("".join(cells) + "\n")
        return "".join(lines)
    one = _table(None, inner, header=False)
    one.add_row(*row)
    with console.capture() as cap:
        console.print(one)
    return cap.get()
