"""Rendering of the report model: pure functions from `analysis.model.Report` to text and JSON.

Nothing here prints; the CLI writes what these functions return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from capture_tls.reporting.json_report import (
    connection_to_dict,
    load_schema,
    render_json,
    render_jsonl_connection,
    render_jsonl_trailer,
    report_to_dict,
    trailer_to_dict,
)

if TYPE_CHECKING:
    from capture_tls.reporting.text_report import render_text


def __getattr__(name: str) -> Any:
    # The text renderer loads rich (25 ms): only when it is asked for, not by every run that
    # imports the JSON renderer through this package.
    if name == "render_text":
        from capture_tls.reporting.text_report import render_text

        return render_text
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "connection_to_dict",
    "load_schema",
    "render_json",
    "render_jsonl_connection",
    "render_jsonl_trailer",
    "render_text",
    "report_to_dict",
    "trailer_to_dict",
]
