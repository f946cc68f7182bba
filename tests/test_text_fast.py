"""The terminal report renders each connection's rows without rich where it can, and caches
rich's rendering of the others (text_report._BlockRenderer). The output must be exactly what
rich writes for the whole block: compared here with rich's own rendering of the same rows, on
every report model, a hostile one, every sample and a generated capture, at several widths,
with and without colour."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from capture_tls.analysis.model import Report
from capture_tls.analysis.options import AnalysisOptions
from capture_tls.analysis.pipeline import analyze_file
from capture_tls.cli import build_report_object
from capture_tls.reporting import summary_table as st
from capture_tls.reporting import text_report as tr
from tests.samples import SAMPLES, SAMPLES_DIR, Sample
from tests.test_reporting import ALL_REPORTS, hostile_report

WIDTHS = (24, 40, 80, 100, 160)


def reference(report: Report, width: int, color: bool) -> str:
    """render_text as it was before the fast path: rich renders every block whole."""
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, force_terminal=color, force_jupyter=False,
        force_interactive=False, color_system="standard" if color else None, markup=False,
        emoji=False, highlight=False, soft_wrap=False, legacy_windows=False,
    )
    for index, conn in enumerate(report.connections):
        if index:
            console.print()
        console.print(tr._connection_header(conn))
        console.print(tr._grid(tr._connection_rows(conn)))
    if not report.connections:
        console.print(tr._styled("No MySQL connections found.", tr._HEADING))
    console.print()
    console.print(tr._grid(tr._input_rows(report.inputs)))
    if report.warnings:
        console.print()
        console.print(tr._grid(tr._warning_rows(report.warnings)))
    console.print()
    console.print(tr._summary_line(report))
    lines = buffer.getvalue().split("\n")
    if lines[-1] == "":
        lines.pop()
    return "".join(line.rstrip(" ") + "\n" for line in lines)


def reference_summary(report: Report, width: int, color: bool) -> str:
    """render_summary_table (with min_connections=1) as it was before the fast path: one rich
    table of every row."""
    if not report.connections:
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
    for name in ("CA", "IDENTITY"):
        table.add_column(name, no_wrap=True)
    table.add_column("outcome", overflow="fold")
    table.add_column("errors", no_wrap=True, justify="right")
    for conn in report.connections:
        table.add_row(*st._row(conn))
    console.print(table)
    console.print()
    return "".join(line.rstrip(" ") + "\n" for line in buffer.getvalue().split("\n")[:-1])


def _check(report: Report) -> None:
    for width in WIDTHS:
        for color in (False, True):
            assert tr.render_text(report, width=width, color=color) == reference(
                report, width, color), (width, color)
            assert st.render_summary_table(report, width=width, color=color,
                                           min_connections=1) == reference_summary(
                report, width, color), (width, color)


@pytest.mark.parametrize("name", [*sorted(ALL_REPORTS), "hostile"])
def test_models(name: str) -> None:
    _check(hostile_report() if name == "hostile" else ALL_REPORTS[name]())


def _analyzed(path: Path, ports: tuple[int, ...] = ()) -> Report:
    r = analyze_file(str(path), 0, AnalysisOptions(ports=frozenset({3306, *ports})))
    return build_report_object(["capture-tls"], [r.summary], r.warnings, r.connections)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_samples(sample: Sample) -> None:
    _check(_analyzed(SAMPLES_DIR / sample.name, sample.ports))


def test_a_generated_capture(tmp_path: Path) -> None:
    from bench.gen_capture import generate_capture

    out = tmp_path / "gen.pcap"
    generate_capture(str(out), 25, 700, 12, "pcap", 3)
    _check(_analyzed(out))


def test_summary_tables_with_random_names_and_widths() -> None:
    """Host names, addresses and outcomes of every length, at random widths: the summary
    table's own folding must be rich's."""
    import dataclasses
    import random

    from capture_tls.analysis.model import Endpoint, IntendedHost

    r = random.Random(5)
    base = ALL_REPORTS["everything"]().connections[0]
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789.-:_"
    for _ in range(30):
        conns = []
        for _conn in range(r.randint(1, 12)):
            name = "".join(r.choice(alphabet) for _ in range(r.randint(1, 70)))
            if r.random() < 0.2:
                name = name[:10] + " " + name[10:]  # a space: laid out by rich
            if r.random() < 0.1:
                name = "ü" + name  # not ASCII: laid out by rich
            ip = ":".join(f"{r.randint(0, 65535):x}" for _ in range(r.randint(1, 8)))
            conns.append(dataclasses.replace(
                base, id=f"0:{r.randint(1, 10 ** r.randint(1, 7))}",
                client=Endpoint(ip, r.randint(1, 65535)),
                intended_host=IntendedHost(name, "option", (), ()) if r.random() < 0.8 else None,
            ))
        report = dataclasses.replace(ALL_REPORTS["everything"](), connections=tuple(conns))
        width = r.randint(30, 160)
        for color in (False, True):
            assert st.render_summary_table(report, width=width, color=color,
                                           min_connections=1) == reference_summary(
                report, width, color), (width, color)
