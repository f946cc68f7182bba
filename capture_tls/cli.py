"""The command line. The only module that imports click.

Exit codes (../shared/DESIGN.md): 3 when any input could not be used at all; else 1 when any
connection has an error finding; else 0. 2 for usage errors.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import IO

import click

from capture_tls import __version__
from capture_tls.analysis.intended_host import HostsFile, HostsFileError
from capture_tls.analysis.model import (
    ConnectionReport,
    InputSummary,
    InputWarning,
    Report,
    Summary,
)
from capture_tls.analysis.options import (
    DEFAULT_MYSQL_PORT,
    AnalysisOptions,
    UsageError,
    parse_host_rule,
)
from capture_tls.analysis.pipeline import InputResult, analyze_file
from capture_tls.reporting.json_report import (
    render_json,
    render_jsonl_connection,
    render_jsonl_trailer,
)
from capture_tls.reporting.text_report import render_text

__all__ = ["build_report_object", "exit_code_for", "main"]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INPUT = 3

CLIENT_FAMILIES = (
    "libmysqlclient",
    "mariadb",
    "python-ssl",
    "node",
    "mysqlnd",
    "go-mysql",
    "connector-j",
    "legacy-cn",
)


def build_report_object(
    command: Sequence[str],
    inputs: list[InputSummary],
    warnings: list[InputWarning],
    connections: list[ConnectionReport],
) -> Report:
    tls_count = sum(1 for c in connections if c.tls is not None)
    plain = sum(1 for c in connections if c.outcome == "plaintext")
    errors = sum(1 for c in connections if any(f.severity == "error" for f in c.findings))
    return Report(
        tool_name="capture-tls",
        tool_version=__version__,
        command=tuple(command),
        inputs=tuple(inputs),
        summary=Summary(
            connections=len(connections),
            tls=tls_count,
            plaintext=plain,
            errors=errors,
            warnings=sum(w.count for w in warnings),
        ),
        warnings=tuple(warnings),
        connections=tuple(connections),
    )


def exit_code_for(report: Report) -> int:
    if any(i.error is not None for i in report.inputs):
        return EXIT_INPUT
    if report.summary.errors:
        return EXIT_FINDINGS
    return EXIT_OK


def _command_line(ctx: click.Context) -> list[str]:
    obj = ctx.find_root().obj
    if isinstance(obj, dict) and "argv" in obj:
        return ["capture-tls", *obj["argv"]]
    return ["capture-tls", *sys.argv[1:]]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="capture-tls")
def cli() -> None:
    """Which certificate did a MySQL server present, to which name, and would the clients
    accept it -- read from packet captures."""


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "jsonl"]), default="text",
              show_default=True, help="Output format.")
@click.option("--host", "hosts", multiple=True, metavar="[SERVER_IP[:PORT]=]NAME",
              help="The name the client meant to reach, for all servers or one server.")
@click.option("--port", "ports", multiple=True, type=click.IntRange(1, 65535), metavar="N",
              help=f"Also treat TCP port N as MySQL (besides {DEFAULT_MYSQL_PORT}); "
                   "servers on other ports are found by their greeting anyway.")
@click.option("--client", "client_family", type=click.Choice(CLIENT_FAMILIES), default=None,
              help="The client family for the headline verdict.")
@click.option("--ca", "ca_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="PEM bundle of trusted CAs, like the client's --ssl-ca.")
@click.option("--hosts-file", "hosts_file", type=click.Path(exists=True, dir_okay=False),
              default=None, help="hosts(5) file naming server addresses (used after --host, "
                                 "SNI and DNS answers in the capture).")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, writable=True),
              default=None, help="Write the report to this file instead of standard output.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
              help="Processes to spread several input files over (default: the number of "
                   "cores).")
@click.option("--width", type=click.IntRange(40, 400), default=None,
              help="Text width (default: the terminal's).")
@click.option("--color/--no-color", default=None, help="Colour in text output "
              "(default: when writing to a terminal).")
@click.pass_context
def analyze(
    ctx: click.Context,
    files: tuple[str, ...],
    fmt: str,
    hosts: tuple[str, ...],
    ports: tuple[int, ...],
    client_family: str | None,
    ca_file: str | None,
    hosts_file: str | None,
    output: str | None,
    jobs: int | None,
    width: int | None,
    color: bool | None,
) -> None:
    """Analyze capture FILES (pcap or pcapng) and report every MySQL connection's TLS
    handshake and certificate."""
    try:
        rules = tuple(parse_host_rule(h) for h in hosts)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    ca_pem: bytes | None = None
    if ca_file is not None:
        try:
            with open(ca_file, "rb") as f:
                ca_pem = f.read()
        except OSError as exc:
            raise click.UsageError(f"--ca {ca_file}: {exc.strerror}") from None
    hosts_table: HostsFile | None = None
    if hosts_file is not None:
        try:
            hosts_table = HostsFile.load(hosts_file)
        except HostsFileError as exc:
            raise click.UsageError(f"--hosts-file {exc}") from None
    options = AnalysisOptions(
        hosts_file=hosts_table,
        ports=frozenset({DEFAULT_MYSQL_PORT, *ports}),
        hosts=rules,
        client_family=client_family,
        ca_pem=ca_pem,
    )
    command = _command_line(ctx)
    out: IO[str]
    if output is not None:
        out = open(output, "w", encoding="utf-8")
    else:
        out = sys.stdout
    try:
        code = _run_analyze(files, fmt, options, command, out, width, color,
                            jobs or os.cpu_count() or 1)
    finally:
        if output is not None:
            out.close()
    ctx.exit(code)


def _run_analyze(
    files: Sequence[str],
    fmt: str,
    options: AnalysisOptions,
    command: Sequence[str],
    out: IO[str],
    width: int | None,
    color: bool | None,
    jobs: int,
) -> int:
    inputs: list[InputSummary] = []
    warnings: list[InputWarning] = []
    connections: list[ConnectionReport] = []

    def stream(conn: ConnectionReport) -> None:
        out.write(render_jsonl_connection(conn) + "\n")
        out.flush()

    results: Iterable[InputResult]
    if jobs > 1 and len(files) > 1:
        # One process per file; results come back in the order of the command line, so the
        # report is the same as with one process.
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(files)))
        results = pool.map(analyze_file, files, range(len(files)), [options] * len(files))
    else:
        pool = None
        results = (
            analyze_file(path, index, options, stream if fmt == "jsonl" else None)
            for index, path in enumerate(files)
        )
    for path, result in zip(files, results, strict=True):
        if pool is not None and fmt == "jsonl":
            for conn in result.connections:
                stream(conn)
        if result.summary.error is not None:
            click.echo(f"capture-tls: {path}: {result.summary.error}", err=True)
        inputs.append(result.summary)
        warnings.extend(result.warnings)
        connections.extend(result.connections)

    if pool is not None:
        pool.shutdown()
    connections.sort(key=lambda c: (c.first_seen_ts, c.client.ip, c.client.port, c.id))
    report = build_report_object(command, inputs, warnings, connections)
    if fmt == "json":
        out.write(render_json(report) + "\n")
    elif fmt == "jsonl":
        out.write(render_jsonl_trailer(report) + "\n")
    else:
        use_color = color if color is not None else (out.isatty() if out is sys.stdout else False)
        out.write(render_text(report, width=width, color=use_color))
    return exit_code_for(report)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    cli.main(args=args, prog_name="capture-tls", obj={"argv": args})
