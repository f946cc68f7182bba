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

from rich.console import Console
from rich.table import Table
from rich.text import Text

from capture_tls.analysis.model import Report
from capture_tls.reporting.ticket_common import endpoint

__all__ = ["MIN_CONNECTIONS_FOR_TABLE", "render_summary_table"]

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
