"""Rendering of the report model: pure functions from `analysis.model.Report` to text and JSON.

Nothing here prints; the CLI writes what these functions return.
"""

from __future__ import annotations

from capture_tls.reporting.json_report import (
    connection_to_dict,
    load_schema,
    render_json,
    render_jsonl_connection,
    render_jsonl_trailer,
    report_to_dict,
    trailer_to_dict,
)
from capture_tls.reporting.text_report import render_text

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
