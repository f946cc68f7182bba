"""The summary table printed above the text report when a capture holds many connections:
one row per connection (id, client, server, intended host, the two ssl-mode verdicts, outcome,
number of error findings), so the one that failed is found without scrolling through every block.

Untrusted text is cleaned as in `text_report` (control characters, ANSI escapes, bidirectional
overrides shown as visible escapes) and always placed in `Text` objects, never parsed as rich
markup. Colour only with `color=True`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from rich.console import Console
from rich.measure import Measurement
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
    if len(report.connections) < min_connections:
        return ""
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, force_terminal=color, force_jupyter=False,
        force_interactive=False, color_system="standard" if color else None, markup=False,
        emoji=False, highlight=False, soft_wrap=False, legacy_windows=False,
    )
    table = Table(title=f"{len(report.connections)} connections", title_justify="left",
                  show_lines=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("id", no_wrap=True)
    table.add_column("client", overflow="fold")
    table.add_column("server", overflow="fold")
    table.add_column("intended host", overflow="fold")
    for name in ("CA", "IDENTITY"):  # VERIFY_CA, VERIFY_IDENTITY
        table.add_column(name, no_wrap=True)
    table.add_column("outcome", overflow="fold")
    table.add_column("errors", no_wrap=True, justify="right")
    for conn in report.connections:
        host = conn.intended_host.name if conn.intended_host is not None else "unknown"
        errors = sum(1 for f in conn.findings if f.severity == "error")
        table.add_row(
            Text(_clean(conn.id)),
            Text(_clean(endpoint(conn.client))),
            Text(_clean(endpoint(conn.server))),
            Text(_clean(host)),
            _verdict(conn.verdicts.verify_ca),
            _verdict(conn.verdicts.verify_identity),
            Text(_clean(conn.outcome)),
            Text(str(errors), style="bold red" if errors else ""),
        )
    console.print(table)
    console.print()
    return "".join(line.rstrip(" ") + "\n" for line in buffer.getvalue().split("\n")[:-1])


# --- piece by piece ----------------------------------------------------------------------------

_CHUNK_ROWS = 256


def _table(title: str | None, *, show_header: bool) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False, pad_edge=False, box=None,
                  header_style="bold", show_header=show_header)
    table.add_column("id", no_wrap=True)
    table.add_column("client", overflow="fold")
    table.add_column("server", overflow="fold")
    table.add_column("intended host", overflow="fold")
    for name in ("CA", "IDENTITY"):  # VERIFY_CA, VERIFY_IDENTITY
        table.add_column(name, no_wrap=True)
    table.add_column("outcome", overflow="fold")
    table.add_column("errors", no_wrap=True, justify="right")
    return table


def _row(conn: ConnectionReport) -> list[Text]:
    host = conn.intended_host.name if conn.intended_host is not None else "unknown"
    errors = sum(1 for f in conn.findings if f.severity == "error")
    return [
        Text(_clean(conn.id)),
        Text(_clean(endpoint(conn.client))),
        Text(_clean(endpoint(conn.server))),
        Text(_clean(host)),
        _verdict(conn.verdicts.verify_ca),
        _verdict(conn.verdicts.verify_identity),
        Text(_clean(conn.outcome)),
        Text(str(errors), style="bold red" if errors else ""),
    ]


def write_summary_table(
    report: Report,
    write: Callable[[str], object],
    *,
    width: int | None = None,
    color: bool = False,
    min_connections: int = MIN_CONNECTIONS_FOR_TABLE,
) -> None:
    """`render_summary_table(report)`, the same characters, written a few hundred rows at a
    time (so that `report.connections` may be a lazy sequence over reports on disk).

    rich lays a table out from the widest cells of each column: a cell's (minimum, maximum)
    width is its longest word and its longest line, clamped by the same widths for every cell
    of a column, and a column's is the largest of its cells'. So a first pass keeps, per
    column, the cell with the longest line and the cell with the longest word; a probe table
    of the header and those two rows gets the whole table's column widths; then the rows are
    printed in tables of that fixed layout (the title and header on the first only).
    """
    count = len(report.connections)
    if count < min_connections:
        return
    out = TextWriter(write, width=width, color=color)
    console = out.console
    options = console.options
    title = f"{count} connections"
    longest_line: list[tuple[int, Text]] = []
    longest_word: list[tuple[int, Text]] = []
    for conn in report.connections:
        for column, cell in enumerate(_row(conn)):
            low, high = Measurement.get(console, options, cell)
            if len(longest_line) <= column:
                longest_line.append((high, cell))
                longest_word.append((low, cell))
                continue
            if high > longest_line[column][0]:
                longest_line[column] = (high, cell)
            if low > longest_word[column][0]:
                longest_word[column] = (low, cell)
    probe = _table(title, show_header=True)
    probe.add_row(*(cell for _, cell in longest_line))
    probe.add_row(*(cell for _, cell in longest_word))
    widths = probe._calculate_column_widths(console, options.update_width(options.max_width))

    def fixed(first: bool) -> Table:
        table = _table(title if first else None, show_header=first)
        for column, column_width in zip(table.columns, widths, strict=True):
            column.width = column_width - table._get_padding_width(column._index)
        return table

    table = fixed(True)
    rows = 0
    for conn in report.connections:
        table.add_row(*_row(conn))
        rows += 1
        if rows == _CHUNK_ROWS:
            console.print(table)
            out.flush()
            table = fixed(False)
            rows = 0
    if rows or table.show_header:
        console.print(table)
    console.print()
    out.flush()
