"""The command line. The only module that imports click.

Exit codes (../shared/DESIGN.md): 3 when any input could not be used at all; else 1 when any
connection has an error finding; else 0. 2 for usage errors.
"""

from __future__ import annotations

import codecs
import dataclasses
import functools
import io
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import IO, TYPE_CHECKING, Any, TypeVar

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
from capture_tls.analysis.report_store import (
    ReportStore,
    SpilledInput,
    encode_report,
    spill_input,
)
from capture_tls.analysis.split import analyze_file_split
from capture_tls.errors import InputError
from capture_tls.limits import DEFAULT_LIMITS, Limits
from capture_tls.protocols.keylog import KeyLog
from capture_tls.reporting.json_report import (
    connection_json,
    render_json_entry,
    render_jsonl_connection,
    render_jsonl_line,
    render_jsonl_trailer,
    write_json,
)
from capture_tls.sources.live import (
    ANY_INTERFACE,
    RECEIVE_BUFFER_BYTES,
    CaptureUnavailableError,
)
from capture_tls.sources.live import list_interfaces as list_live_interfaces

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from capture_tls.analysis.live import SniffSettings, StopSignal

# What only some commands and formats need is imported where it is used: the text renderer
# (rich), HTML, Markdown, --redact, --export-certs, trim, inject-keys, live capture and the
# process pool together cost 70 ms of every run's start (python -X importtime).

__all__ = ["build_report_object", "exit_code_for", "main"]

EXIT_OK = 0
_FLUSH_EVERY_SECONDS = 0.25
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
    connections: Sequence[ConnectionReport],
    counts: tuple[int, int, int, int] | None = None,
) -> Report:
    """`counts` (connections, tls, plaintext, with errors) when the connections were streamed
    and not kept, or are read lazily from disk (`connections` is then kept as it is, not
    copied)."""
    if counts is not None:
        total, tls_count, plain, errors = counts
    else:
        connections = tuple(connections)
        tls_count = sum(1 for c in connections if c.tls is not None)
        plain = sum(1 for c in connections if c.outcome == "plaintext")
        errors = sum(1 for c in connections if any(f.severity == "error" for f in c.findings))
        total = len(connections)
    return Report(
        tool_name="capture-tls",
        tool_version=__version__,
        command=tuple(command),
        inputs=tuple(inputs),
        summary=Summary(
            connections=total,
            tls=tls_count,
            plaintext=plain,
            errors=errors,
            warnings=sum(w.count for w in warnings),
        ),
        warnings=tuple(warnings),
        connections=connections if counts is not None else tuple(connections),
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


_F = TypeVar("_F", bound=Callable[..., Any])


def _verdict_options(f: _F) -> _F:
    """The options analyze and sniff share for judging the certificates: --host, --client,
    --ca, --hosts-file (read by `_analysis_options`)."""
    for option in reversed([
        click.option("--host", "hosts", multiple=True, metavar="[SERVER_IP[:PORT]=]NAME",
                     help="The name the client meant to reach, for all servers or one "
                          "server."),
        click.option("--client", "client_family", type=click.Choice(CLIENT_FAMILIES),
                     default=None, help="The client family for the headline verdict."),
        click.option("--ca", "ca_file", default=None, metavar="FILE|system",
                     help="PEM bundle of trusted CAs, like the client's --ssl-ca; 'system' "
                          "for the system's CA bundle."),
        click.option("--hosts-file", "hosts_file",
                     type=click.Path(exists=True, dir_okay=False), default=None,
                     help="hosts(5) file naming server addresses (used after --host, SNI "
                          "and DNS answers in the capture)."),
    ]):
        f = option(f)
    return f


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True))
@click.option("--format", "fmt",
              type=click.Choice(["text", "json", "jsonl", "markdown", "html"]), default="text",
              show_default=True, help="Output format (markdown and html: for a ticket).")
@click.option("--redact", is_flag=True, default=False,
              help="Replace client addresses and user names by stable pseudonyms "
                   "(client-1, user-1) in every format.")
@click.option("--export-certs", "export_dir", type=click.Path(file_okay=False), default=None,
              metavar="DIR", help="Write each certificate seen as DIR/<sha256>.pem and each "
                                  "server's chain as DIR/chain-<address>-<port>.pem.")
@click.option("--port", "ports", multiple=True, type=click.IntRange(1, 65535), metavar="N",
              help=f"Also treat TCP port N as MySQL (besides {DEFAULT_MYSQL_PORT}); "
                   "servers on other ports are found by their greeting anyway.")
@_verdict_options
@click.option("--expires-soon-days", type=click.IntRange(0, 3650), default=30,
              show_default=True, metavar="DAYS",
              help="EXPIRES_SOON when the certificate expires within DAYS of the capture.")
@click.option("--keylog", "keylogs", multiple=True,
              type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="TLS key log (SSLKEYLOGFILE format) to decrypt TLS 1.3 handshakes; "
                   "repeatable. Secrets embedded in a pcapng are used without it.")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, writable=True),
              default=None, help="Write the report to this file instead of standard output.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
              help="Processes to spread several input files, or one large file split at "
                   "record boundaries, over (default: the number of cores).")
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
    expires_soon_days: int,
    keylogs: tuple[str, ...],
    output: str | None,
    jobs: int | None,
    width: int | None,
    color: bool | None,
    redact: bool = False,
    export_dir: str | None = None,
) -> None:
    """Analyze capture FILES (pcap or pcapng) and report every MySQL connection's TLS
    handshake and certificate."""
    options = _analysis_options(hosts, ports, client_family, ca_file, hosts_file,
                                expires_soon_days=expires_soon_days,
                                keylog=_load_keylogs(keylogs))
    command = _command_line(ctx)
    out: IO[str]
    if output is not None:
        out = open(output, "w", encoding="utf-8")
    else:
        out = sys.stdout
    raw = _json_stream(out, fmt)
    try:
        code = _run_analyze(files, fmt, options, command, out, width, color,
                            jobs or os.cpu_count() or 1, redact, export_dir, raw)
    finally:
        try:
            if raw is not None:
                raw.flush()  # (what is pending, also when the run is cut short)
        finally:
            if output is not None:
                out.close()
    ctx.exit(code)


def _analysis_options(
    hosts: Sequence[str],
    ports: Sequence[int],
    client_family: str | None,
    ca_file: str | None,
    hosts_file: str | None,
    *,
    expires_soon_days: int = 30,
    keylog: KeyLog | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> AnalysisOptions:
    """The options analyze and sniff share, read and checked (usage errors exit 2)."""
    try:
        rules = tuple(parse_host_rule(h) for h in hosts)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    hosts_table: HostsFile | None = None
    if hosts_file is not None:
        try:
            hosts_table = HostsFile.load(hosts_file)
        except HostsFileError as exc:
            raise click.UsageError(f"--hosts-file {exc}") from None
    return AnalysisOptions(
        ports=frozenset({DEFAULT_MYSQL_PORT, *ports}),
        hosts=rules,
        client_family=client_family,
        ca_pem=_load_ca(ca_file),
        hosts_file=hosts_table,
        expires_soon_days=expires_soon_days,
        keylog=keylog,
        limits=limits,
    )


def _load_ca(ca_file: str | None) -> bytes | None:
    """--ca FILE, or --ca system: the CA bundle OpenSSL uses by default on this machine."""
    if ca_file is None:
        return None
    path = ca_file
    if ca_file == "system":
        import ssl

        paths = ssl.get_default_verify_paths()
        path = paths.cafile or paths.openssl_cafile
        if not path or not os.path.isfile(path):
            raise click.UsageError("--ca system: no system CA bundle found "
                                   f"(looked for {paths.openssl_cafile})")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise click.UsageError(f"--ca {ca_file}: {exc.strerror}") from None


def _load_keylogs(paths: Sequence[str]) -> KeyLog | None:
    if not paths:
        return None
    from capture_tls.analysis.inject import read_keylog_file

    logs = []
    for path in paths:
        try:
            logs.append(read_keylog_file(path))
        except InputError as exc:
            raise click.UsageError(f"--keylog {path}: {exc}") from None
    merged = KeyLog.merge(logs)
    for problem in merged.problems:
        click.echo(f"capture-tls: {problem}", err=True)
    return merged


class _Coalesced:
    """Writes to a binary stream in pieces of about 1 MiB: a connection's 5-7 kB of JSON each
    went out in a write(2) of its own through the text layer's 8 KiB buffer (20,000 on the
    benchmark's 2 M packets, 0.1-0.2 s of system time writing to a file). `flush()` sends
    what is pending and flushes the stream: before anything else writes to it."""

    LIMIT = 1 << 20

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        self._pending.append(data)
        self._size += len(data)
        if self._size >= self.LIMIT:
            self._drain()

    def _drain(self) -> None:
        if self._pending:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending = []
            self._size = 0
            self.target.write(data)

    def flush(self) -> None:
        self._drain()
        self.target.flush()


def _json_stream(out: IO[str], fmt: str) -> _Coalesced | None:
    """Where `_run_analyze` writes JSON and JSON Lines: coalesced, under `out`'s text layer
    when that changes nothing (`_utf8_buffer`); None for the other formats and streams."""
    buffer = _utf8_buffer(out) if fmt in ("jsonl", "json") else None
    return _Coalesced(buffer) if buffer is not None else None


def _utf8_buffer(out: IO[str]) -> IO[bytes] | None:
    """The binary stream under `out` when text written to `out` reaches it unchanged: a
    block-buffered TextIOWrapper in UTF-8 on a system whose newline is "\\n". JSON Lines go
    there as orjson writes them (render_jsonl_line); text written to `out` afterwards (the
    trailer) still follows them. Its pending text is flushed first."""
    if not isinstance(out, io.TextIOWrapper) or os.linesep != "\n" or out.line_buffering:
        return None
    try:
        if codecs.lookup(out.encoding).name != "utf-8":
            return None
    except LookupError:
        return None
    out.flush()
    buffer: IO[bytes] = out.buffer
    return buffer


def _run_analyze(
    files: Sequence[str],
    fmt: str,
    options: AnalysisOptions,
    command: Sequence[str],
    out: IO[str],
    width: int | None,
    color: bool | None,
    jobs: int = 1,
    redact: bool = False,
    export_dir: str | None = None,
    raw: _Coalesced | None = None,
) -> int:
    """`raw`: where JSON and JSON Lines go (UTF-8 under `out`, `_json_stream`), or None for
    the text layer. The caller flushes it (also when this raises)."""
    inputs: list[InputSummary] = []
    warnings: list[InputWarning] = []

    from capture_tls.reporting.redact import Redactor

    redactor = Redactor() if redact else None

    flushed = [float("-inf")]

    def stream(conn: ConnectionReport) -> None:
        if redactor is not None:
            conn = redactor.connection(conn)
        if raw is not None:
            write_raw(render_jsonl_line(conn))
        else:
            write_line(render_jsonl_connection(conn))

    def write_line(line: str) -> None:
        out.write(line + "\n")
        # Lines reach a reader (tail -f, a pipe) within a quarter of a second; a flush per
        # line cost 35 us (0.7 s on the benchmark's 20,000 connections).
        now = time.monotonic()
        if now - flushed[0] >= _FLUSH_EVERY_SECONDS:
            out.flush()
            flushed[0] = now

    def write_raw(line: bytes) -> None:
        """A line rendered to UTF-8 (newline included), written under the text layer."""
        assert raw is not None
        raw.write(line)
        now = time.monotonic()
        if now - flushed[0] >= _FLUSH_EVERY_SECONDS:
            raw.flush()
            flushed[0] = now

    # Every report goes to a file on disk as it completes (JSON Lines: to the output), so
    # memory does not grow with the connections reported, in any format. --format json keeps
    # the JSON of each connection, which is all it needs; the others keep the report.
    # (Its files are anonymous or removed when it is collected, should this function raise.)
    json_only = fmt == "json" and redactor is None and export_dir is None
    store = ReportStore(connection_json if json_only else encode_report)

    counts: tuple[int, int, int, int] = (0, 0, 0, 0)
    results: Iterable[InputResult | SpilledInput]
    if jobs > 1 and len(files) > 1:
        # One process per file; results come back in the order of the command line, so the
        # report is the same as with one process. Each worker spills its reports to a file of
        # its own and returns their index, not the reports.
        from concurrent.futures import ProcessPoolExecutor

        pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=min(jobs, len(files))
        )
        assert pool is not None
        results = pool.map(spill_input, files, range(len(files)), [options] * len(files),
                           [store.encode] * len(files),
                           [store.spill_directory()] * len(files))
    else:
        pool = None
        # One file and several processes: the file is split at record boundaries over them
        # (capture_tls.analysis.split), with the report of one process.
        analyze: Any = analyze_file
        if jobs > 1:
            # The workers render: JSON Lines its lines, JSON what the store keeps (without
            # --redact, which needs the reports, and --export-certs likewise).
            render: Any = None
            take: Any = None
            entries: dict[str, Any] = {}
            if fmt == "jsonl" and redactor is None and export_dir is None:
                if raw is not None:
                    render, take = render_jsonl_line, write_raw
                else:
                    render, take = render_jsonl_connection, write_line
            elif json_only:
                # The workers write the entries to files the store adopts.
                from capture_tls.reporting.json_report import rename_json_entry

                render = render_json_entry
                entries = {"entry_store": store, "rename_entry": rename_json_entry}
            analyze = functools.partial(analyze_file_split, jobs=jobs, render_line=render,
                                        on_line=take, **entries)
        # JSON Lines streams each report and keeps none: flat memory on any capture.
        collect: Callable[[ConnectionReport], None] = store.add
        if fmt == "jsonl":
            collect = stream
            if export_dir is not None:
                def collect(conn: ConnectionReport) -> None:
                    stream(conn)
                    store.add(conn)
        results = (
            analyze(path, index, options, collect, keep_reports=False)
            for index, path in enumerate(files)
        )
    with _Progress(len(files)) as progress:
        progress.start(files[0] if files else "")
        for i, (path, item) in enumerate(zip(files, results, strict=True)):
            if isinstance(item, SpilledInput):
                result = item.result
                part = store.adopt(item.segment)
                if fmt == "jsonl":  # this file's connections, in the order analyze_file sorts
                    for conn in store.reports(store.order(part, by_id=False)):
                        stream(conn)
            else:
                result = item
            if result.summary.error is not None:
                progress.echo(f"capture-tls: {path}: {result.summary.error}")
            inputs.append(result.summary)
            warnings.extend(result.warnings)
            counts = tuple(a + b for a, b in zip(counts, (result.reported, result.tls,
                                                          result.plaintext, result.with_errors),
                                                 strict=True))  # type: ignore[assignment]
            progress.advance()
            if i + 1 < len(files):
                progress.start(files[i + 1])

    if pool is not None:
        pool.shutdown()
    connections: Sequence[ConnectionReport] = ()
    if not json_only:
        connections = store.reports()  # sorted; read from disk one at a time
    report = build_report_object(command, inputs, warnings, connections, counts)
    if export_dir is not None:
        try:
            from capture_tls.reporting.export import write_export

            written = write_export(export_dir, report)
        except OSError as exc:
            raise click.UsageError(f"--export-certs {export_dir}: {exc.strerror}") from None
        click.echo(f"capture-tls: {len(written)} PEM files written to {export_dir}", err=True)
    if redactor is not None:
        if fmt == "jsonl":  # every connection was learned as it was streamed
            report = redactor.report(dataclasses.replace(report, connections=()))
        else:
            redactor.learn_values(store.clients_and_users())
            report = redactor.report_view(report, learned=True)
    if raw is not None:
        raw.flush()  # what follows through `out` comes after it
    write = out.write
    if fmt == "markdown":
        from capture_tls.reporting.markdown_report import write_markdown

        write_markdown(report, write)
    elif fmt == "html":
        from capture_tls.reporting.html_report import write_html

        write_html(report, write)
    elif fmt == "json":
        write_json(report, write, store.fragments() if json_only else None,
                   raw.write if raw is not None else None)
        if raw is not None:
            raw.flush()
        write("\n")
    elif fmt == "jsonl":
        write(render_jsonl_trailer(report) + "\n")
    else:
        use_color = color if color is not None else (out.isatty() if out is sys.stdout else False)
        from capture_tls.reporting.summary_table import write_summary_table
        from capture_tls.reporting.text_report import write_text

        write_summary_table(report, write, width=width, color=use_color)
        write_text(report, write, width=width, color=use_color)
    store.close()
    return exit_code_for(report)


@cli.command()
@click.argument("capture", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "output", required=True,
              type=click.Path(dir_okay=False, writable=True), metavar="OUT.pcapng",
              help="The trimmed copy (pcapng).")
@click.option("--port", "ports", multiple=True, type=click.IntRange(1, 65535), metavar="N",
              help=f"Also treat TCP port N as MySQL (besides {DEFAULT_MYSQL_PORT}).")
def trim(capture: str, output: str, ports: tuple[int, ...]) -> None:
    """Copy CAPTURE keeping only the MySQL and TLS handshakes and the DNS answers they use
    (no application data): small, safe to attach, and it analyzes to the same report."""
    options = AnalysisOptions(ports=frozenset({DEFAULT_MYSQL_PORT, *ports}))
    try:
        from capture_tls.analysis.trim import trim_capture

        result = trim_capture(capture, output, options)
    except InputError as exc:
        click.echo(f"capture-tls: {capture}: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    except OSError as exc:
        raise click.UsageError(f"-o {output}: {exc.strerror}") from None
    click.echo(f"capture-tls: kept {result.packets_out} of {result.packets_in} packets "
               f"({result.bytes_out} of {result.bytes_in} bytes) in {output}", err=True)


@cli.command("inject-keys")
@click.argument("capture", type=click.Path(exists=True, dir_okay=False))
@click.argument("keylogs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "output", required=True,
              type=click.Path(dir_okay=False, writable=True), metavar="OUT.pcapng",
              help="The pcapng to write, with the secrets embedded.")
def inject_keys_command(capture: str, keylogs: tuple[str, ...], output: str) -> None:
    """Write CAPTURE as a pcapng with the TLS secrets of KEYLOGS embedded (a Decryption
    Secrets Block), keeping only the secrets of connections in the capture: one file to
    attach to a ticket, analyzed without --keylog."""
    merged = _load_keylogs(keylogs)
    assert merged is not None
    try:
        from capture_tls.analysis.inject import inject_keys

        result = inject_keys(capture, merged, output)
    except InputError as exc:
        click.echo(f"capture-tls: {capture}: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    for problem in result.problems:
        click.echo(f"capture-tls: {problem}", err=True)
    click.echo(
        f"capture-tls: {result.client_randoms_with_secrets} of "
        f"{result.client_randoms_in_capture} TLS connections have secrets in the key log; "
        f"{result.key_log_lines} key log lines embedded in {output}", err=True)
    if result.client_randoms_with_secrets == 0:
        click.echo("capture-tls: no secret in the key log belongs to this capture: nothing "
                   "was embedded", err=True)


class _Progress:
    """A progress bar on stderr while inputs are read, only when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        self._total = total
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} files"),
                TimeElapsedColumn(),
                console=Console(file=sys.stderr), transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("reading", total=self._total)
        return self

    def start(self, path: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=f"reading {path}")

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def echo(self, message: str) -> None:
        if self._bar is not None:
            self._bar.console.print(message, markup=False, highlight=False)
        else:
            click.echo(message, err=True)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
# --- sniff ---------------------------------------------------------------------------------


@cli.command()
@click.option("-i", "--interface", default=ANY_INTERFACE, show_default=True, metavar="IFACE",
              help="Interface to capture on; 'any' is all of them (as tcpdump -i any).")
@click.option("--port", "ports", multiple=True, type=click.IntRange(1, 65535), metavar="N",
              help=f"Also capture TCP port N as MySQL (besides {DEFAULT_MYSQL_PORT}).")
@click.option("--any-port", is_flag=True, default=False,
              help="Capture all TCP and find MySQL servers by their greeting.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "jsonl"]), default="text",
              show_default=True, help="Output format; text and jsonl print each connection "
                                      "as soon as it is known, json one document at the end.")
@_verdict_options
@click.option("--duration", type=click.FloatRange(0, min_open=True), default=None,
              metavar="SECONDS", help="Stop after this many seconds.")
@click.option("--count", type=click.IntRange(1), default=None, metavar="N",
              help="Stop after N connections have been reported (connections still in "
                   "handshake then are reported as they stand).")
@click.option("--write", "write_path", type=click.Path(dir_okay=False, writable=True),
              default=None, metavar="FILE.pcapng",
              help="Keep every captured packet in this pcapng file (analyze it again later).")
@click.option("--idle-timeout", type=click.FloatRange(0, min_open=True), default=None,
              metavar="SECONDS", help="Report a connection whose handshake has been idle this "
              "long as it stands (default: "
              f"{DEFAULT_LIMITS.idle_timeout_seconds:g}).")
@click.option("--buffer-size", "buffer_kib", type=click.IntRange(1, 1 << 21),
              default=RECEIVE_BUFFER_BYTES // 1024, show_default=True, metavar="KiB",
              help="The kernel's receive buffer for the capture; raise it when packets are "
                   "dropped.")
@click.option("--list-interfaces", is_flag=True, default=False,
              help="List the interfaces that can be captured on, and exit.")
@click.option("--width", type=click.IntRange(40, 400), default=None,
              help="Text width (default: the terminal's).")
@click.option("--color/--no-color", default=None, help="Colour in text output "
              "(default: when writing to a terminal).")
@click.pass_context
def sniff(
    ctx: click.Context,
    interface: str,
    ports: tuple[int, ...],
    any_port: bool,
    fmt: str,
    hosts: tuple[str, ...],
    client_family: str | None,
    ca_file: str | None,
    hosts_file: str | None,
    duration: float | None,
    count: int | None,
    write_path: str | None,
    idle_timeout: float | None,
    buffer_kib: int,
    list_interfaces: bool,
    width: int | None,
    color: bool | None,
) -> None:
    """Capture live traffic (MySQL ports and DNS) and report each MySQL connection's TLS
    handshake and certificate as it happens. Stops on Ctrl-C, SIGTERM, --duration or --count,
    then prints a summary. Needs root or the CAP_NET_RAW capability."""
    if list_interfaces:
        _print_interfaces()
        ctx.exit(EXIT_OK)
    limits = DEFAULT_LIMITS
    if idle_timeout is not None:
        limits = dataclasses.replace(limits, idle_timeout_seconds=idle_timeout)
    options = _analysis_options(hosts, ports, client_family, ca_file, hosts_file,
                                limits=limits)
    from capture_tls.analysis.live import SniffSettings

    settings = SniffSettings(interface=interface, any_port=any_port, duration_seconds=duration,
                             max_connections=count, write_path=write_path,
                             buffer_bytes=buffer_kib * 1024)
    ctx.exit(_run_sniff(settings, options, fmt, _command_line(ctx), width, color))


def _print_interfaces() -> None:
    rows = [(ANY_INTERFACE, "", "all interfaces (the default)")]
    for i in list_live_interfaces():
        state = "up" if i.up else "down"
        if i.loopback:
            state += ", loopback"
        rows.append((i.name, state, ", ".join(i.addresses)))
    name_width = max(len(r[0]) for r in rows)
    state_width = max(len(r[1]) for r in rows)
    for name, state, detail in rows:
        click.echo(f"{name:<{name_width}}  {state:<{state_width}}  {detail}".rstrip())


class _Output:
    """Standard output that stops the capture, instead of failing, once the reader is gone
    (`capture-tls sniff | head`)."""

    def __init__(self, stop: StopSignal) -> None:
        self.stop = stop
        self.closed = False

    def write(self, text: str) -> None:
        if self.closed:
            return
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            self.closed = True
            self.stop.set("output closed")
            # Nothing more reaches the reader; keep the interpreter from complaining at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)


class _TextBlocks:
    """The block `analyze` prints for one connection: `render_text` of a report holding only
    that connection, without the inputs and summary lines it ends with. That tail is what the
    same layout renders for no connection at all (after its first line)."""

    def __init__(self, width: int | None, color: bool) -> None:
        self.width = width
        self.color = color
        from capture_tls.reporting.text_report import render_text

        self._tail = render_text(self._report(()), width=width, color=color).split("\n", 1)[1]

    @staticmethod
    def _report(connections: tuple[ConnectionReport, ...]) -> Report:
        return Report(tool_name="capture-tls", tool_version=__version__, command=(), inputs=(),
                      summary=Summary(0, 0, 0, 0, 0), warnings=(), connections=connections)

    def block(self, conn: ConnectionReport) -> str:
        from capture_tls.reporting.text_report import render_text

        full = render_text(self._report((conn,)), width=self.width, color=self.color)
        return full[: -len(self._tail)] if full.endswith(self._tail) else full


def _run_sniff(
    settings: SniffSettings,
    options: AnalysisOptions,
    fmt: str,
    command: Sequence[str],
    width: int | None,
    color: bool | None,
) -> int:
    from capture_tls.analysis.live import KERNEL_DROPS, LiveSniffer, StopSignal

    stop = StopSignal()
    out = _Output(stop)
    use_color = color if color is not None else sys.stdout.isatty()
    blocks = _TextBlocks(width, use_color)
    printed = 0
    # --format json prints one document at the end: each connection's JSON waits on disk (in
    # an anonymous file, made at the first report).
    store = ReportStore(connection_json)

    def stream(conn: ConnectionReport) -> None:
        nonlocal printed
        if fmt == "jsonl":
            out.write(render_jsonl_connection(conn) + "\n")
        elif fmt == "text":
            out.write(("\n" if printed else "") + blocks.block(conn))
        else:
            store.add(conn)
        printed += 1

    def dropped(total: int) -> None:
        click.echo(f"capture-tls: warning: the kernel has dropped {total} packets so far "
                   f"({KERNEL_DROPS}); the evidence is incomplete.", err=True)

    sniffer = LiveSniffer(settings, options, stream, on_drops=dropped)

    def on_signal(signum: int, _frame: object) -> None:
        if stop.reason is not None and stop.reason.startswith("SIG"):
            raise SystemExit(128 + signum)  # asked twice: quit now (the file is closed)
        stop.set(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            sniffer.open()
        except CaptureUnavailableError as exc:
            click.echo(f"capture-tls: {exc}", err=True)
            return EXIT_INPUT
        except OSError as exc:  # --write FILE could not be created
            click.echo(f"capture-tls: cannot write {settings.write_path}: "
                       f"{exc.strerror or exc}", err=True)
            return EXIT_INPUT
        click.echo(f"capture-tls: listening on {settings.interface} ({sniffer.bpf_filter}), "
                   "link type LINUX_SLL2; Ctrl-C to stop", err=True)
        result = sniffer.run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    click.echo(f"capture-tls: {result.input.summary.packets} packets captured, "
               f"{result.kernel_drops} dropped by the kernel; stopped ({result.stop_reason})",
               err=True)
    inputs = [result.input.summary]
    warnings = result.input.warnings
    if fmt == "json":
        report = build_report_object(command, inputs, warnings, (), (
            result.reported, result.tls, result.plaintext, result.with_errors))
    else:
        report = Report(
            tool_name="capture-tls",
            tool_version=__version__,
            command=tuple(command),
            inputs=tuple(inputs),
            summary=Summary(
                connections=result.reported,
                tls=result.tls,
                plaintext=result.plaintext,
                errors=result.with_errors,
                warnings=sum(w.count for w in warnings),
            ),
            warnings=tuple(warnings),
            connections=(),
        )
    if fmt == "json":
        # In the order of the capture's reports (as `LiveSniffer` sorted the reports it kept).
        write_json(report, out.write, store.fragments(store.order(by_id=False)))
        out.write("\n")
    elif fmt == "jsonl":
        out.write(render_jsonl_trailer(report) + "\n")
    else:
        from capture_tls.reporting.text_report import render_text

        footer = render_text(report, width=width, color=use_color)
        if result.reported:  # drop the "no connections" line: they were printed above
            footer = footer.split("\n", 1)[1]
        out.write(footer)
    store.close()
    return exit_code_for(report)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    cli.main(args=args, prog_name="capture-tls", obj={"argv": args})
