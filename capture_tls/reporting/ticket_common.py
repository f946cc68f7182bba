"""What the ticket renderings (Markdown, HTML) share: the words, not the markup.

Every function here returns plain, *unescaped* text; the Markdown and HTML modules escape it for
their own syntax. Nothing here reads the clock: times are relative to the capture (a
connection's first packet), so the same capture always gives the same report.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import UTC, datetime

from capture_tls.analysis.model import CertificateFacts, ConnectionReport, Endpoint, Report

__all__ = [
    "command_line",
    "endpoint",
    "ladder_offsets",
    "parse_time",
    "relative_span",
    "report_title",
    "time_span",
    "validity_relative_to",
    "verdict_line",
]


def parse_time(value: str) -> datetime | None:
    """An ISO 8601 UTC time of the model ("...Z") as an aware datetime; None if unreadable."""
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def relative_span(seconds: float) -> str:
    """A duration in the largest whole unit that fits: "12 days", "3 hours", "40 seconds"."""
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'' if n == 1 else 's'}"
    n = int(seconds)
    return f"{n} second{'' if n == 1 else 's'}"


def validity_relative_to(cert: CertificateFacts, capture_time: str) -> str:
    """The certificate's validity in words, at the time of the capture."""
    at = parse_time(capture_time)
    start = parse_time(cert.not_before)
    end = parse_time(cert.not_after)
    if at is None or start is None or end is None:
        return "validity unknown (unreadable dates)"
    if at > end:
        return f"expired {relative_span((at - end).total_seconds())} before the capture"
    if at < start:
        span = relative_span((start - at).total_seconds())
        return f"not yet valid: starts {span} after the capture"
    return (
        f"valid at the capture: issued {relative_span((at - start).total_seconds())} before it, "
        f"expires {relative_span((end - at).total_seconds())} after it"
    )


def endpoint(e: Endpoint) -> str:
    host = f"[{e.ip}]" if ":" in e.ip else e.ip
    return f"{host}:{e.port}"


def verdict_line(conn: ConnectionReport) -> str:
    """One line: who, which name, the two ssl-mode verdicts, the outcome, the error codes."""
    host = conn.intended_host.name if conn.intended_host is not None else "intended host unknown"
    v = conn.verdicts
    errors = [f.code for f in conn.findings if f.severity == "error"]
    warnings = [f.code for f in conn.findings if f.severity == "warning"]
    tail = ""
    if errors:
        tail += "; errors: " + ", ".join(errors)
    if warnings:
        tail += "; warnings: " + ", ".join(warnings)
    return (
        f"{conn.id} {endpoint(conn.client)} → {endpoint(conn.server)} ({host}): "
        f"VERIFY_IDENTITY {v.verify_identity}, VERIFY_CA {v.verify_ca}, "
        f"outcome {conn.outcome}{tail}"
    )


def ladder_offsets(conn: ConnectionReport) -> list[str]:
    """Each ladder step's time as milliseconds after the first step ("+0.000 ms")."""
    if not conn.handshake:
        return []
    first = parse_time(conn.handshake[0].time)
    out = []
    for step in conn.handshake:
        at = parse_time(step.time)
        if first is None or at is None:
            out.append(step.time)
        else:
            out.append(f"+{(at - first).total_seconds() * 1000:.3f} ms")
    return out


def time_span(first: str | None, last: str | None) -> str:
    if first is None and last is None:
        return "no packets"
    a = parse_time(first) if first else None
    b = parse_time(last) if last else None
    text = f"{first or '?'} .. {last or '?'}"
    if a is not None and b is not None:
        text += f" ({(b - a).total_seconds():.3f} s)"
    return text


def command_line(argv: Sequence[str]) -> str:
    """The command as a shell would take it back (quoted where needed)."""
    return shlex.join(argv)


def report_title(report: Report) -> str:
    names = [i.path.rsplit("/", 1)[-1] for i in report.inputs]
    return "capture-tls report: " + (", ".join(names) if names else "no input")
