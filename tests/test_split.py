"""One capture split over several processes gives the report of one process
(capture_tls.analysis.split): every sample at several split counts, at every record boundary
of a few, generated captures in pcap and pcapng, damaged files, and the command line."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.gen_capture import generate_capture
from capture_tls.analysis.inject import read_keylog_file
from capture_tls.analysis.options import AnalysisOptions
from capture_tls.analysis.pipeline import InputResult, analyze_file
from capture_tls.analysis.report_store import ReportStore
from capture_tls.analysis.split import SPLIT_MIN_BYTES_ENV, analyze_file_split, plan_split
from capture_tls.reporting.json_report import (
    connection_json,
    rename_json_entry,
    render_json_entry,
    render_jsonl_connection,
)
from tests.samples import LAB_PORTS, MATRIX_PORTS, ODD_PORT, ROOT, SAMPLES, SAMPLES_DIR

PORTS = frozenset({3306, *LAB_PORTS, ODD_PORT, *MATRIX_PORTS})


def options_for(path: Path) -> AnalysisOptions:
    keylog = path.with_suffix(".keylog")
    return AnalysisOptions(ports=PORTS,
                           keylog=read_keylog_file(str(keylog)) if keylog.exists() else None)


def one_process(path: Path, options: AnalysisOptions) -> tuple[InputResult, list[str]]:
    lines: list[str] = []
    result = analyze_file(str(path), 0, options,
                          lambda c: lines.append(render_jsonl_connection(c)))
    return result, lines


def split(path: Path, options: AnalysisOptions, jobs: int, **kw: Any
          ) -> tuple[InputResult, list[str], dict[str, Any]]:
    lines: list[str] = []
    info: dict[str, Any] = {}
    result = analyze_file_split(str(path), 0, options,
                                lambda c: lines.append(render_jsonl_connection(c)),
                                jobs=jobs, min_bytes=0, info=info, **kw)
    return result, lines, info


def assert_same(one: tuple[InputResult, list[str]], other: InputResult, lines: list[str]
                ) -> None:
    expected, expected_lines = one
    assert lines == expected_lines  # JSON Lines: the same lines in the same order
    assert other.summary == expected.summary
    assert other.warnings == expected.warnings
    assert other.connections == expected.connections
    assert other.internal_errors == expected.internal_errors
    assert (other.reported, other.tls, other.plaintext, other.with_errors) == (
        expected.reported, expected.tls, expected.plaintext, expected.with_errors)


def record_offsets(path: Path) -> list[int]:
    """Where each pcap record / pcapng block after the first one starts (walked by hand)."""
    data = path.read_bytes()
    out = []
    if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4",
                    b"\xa1\xb2\x3c\x4d"):
        endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        at = 24
        while at + 16 <= len(data):
            out.append(at)
            at += 16 + struct.unpack_from(endian + "I", data, at + 8)[0]
    else:
        endian = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        at = 0
        while at + 12 <= len(data):
            out.append(at)
            at += struct.unpack_from(endian + "I", data, at + 4)[0]
        out = out[1:]  # (the Section Header Block comes before the first record)
    return out[1:]


@pytest.mark.parametrize("sample", [s.name for s in SAMPLES])
def test_every_sample_split_gives_the_one_process_report(sample: str) -> None:
    path = SAMPLES_DIR / sample
    options = options_for(path)
    one = one_process(path, options)
    chunks = []
    for jobs in (2, 3, 5, 9):
        result, lines, info = split(path, options, jobs, processes=False)
        assert info["fallback"] is None
        chunks.append(info["chunks"])
        assert_same(one, result, lines)
    # (a cut is made only where a chain of records confirms it: not always near the end of a
    # file of a dozen records cut short)
    assert max(chunks) >= 3


# Small samples cut at every record boundary: handshakes cut anywhere, DNS answers in an
# earlier chunk, a port reused after a reported connection, interfaces and secrets blocks.
EXHAUSTIVE = ["tls12-match.pcap", "derived/port-reuse.pcap", "tls13.pcap",
              "tls13/editcap-embedded.pcapng", "multi-interface.pcapng",
              "derived/tcp-retransmission.pcap", "ip-literal.pcap"]


@pytest.mark.parametrize("sample", EXHAUSTIVE)
def test_split_at_every_record_boundary(sample: str) -> None:
    path = SAMPLES_DIR / sample
    options = options_for(path)
    one = one_process(path, options)
    assert one[0].connections
    totals = {"lookahead": 0, "discarded": 0, "reruns": 0, "rejoined": 0}
    for at in record_offsets(path):
        result, lines, info = split(path, options, 2, processes=False, split_at=(at,))
        assert info["fallback"] is None, (at, info)
        assert info["chunks"] == 2
        assert_same(one, result, lines)
        for k in totals:
            totals[k] += info[k]
    # Some cut fell inside a handshake: a report was completed by the chunk's lookahead and
    # the next chunk's copy of that connection was discarded.
    assert totals["lookahead"] > 0
    assert totals["discarded"] > 0
    if sample == "derived/port-reuse.pcap":
        # A client SYN in the later chunk reused the ports of a connection of the earlier one.
        assert totals["rejoined"] > 0
    if any(c.intended_host is not None and c.intended_host.source == "dns"
           for c in one[0].connections):
        # The DNS answer that names a connection's host was in the earlier chunk for some
        # cut: that chunk was analyzed again with it.
        assert totals["reruns"] > 0


def test_dns_answer_in_an_earlier_chunk_decides_the_intended_host() -> None:
    path = SAMPLES_DIR / "tls12-match.pcap"
    options = options_for(path)
    one = one_process(path, options)
    by_dns = [c for c in one[0].connections
              if c.intended_host is not None and c.intended_host.source == "dns"]
    assert by_dns and by_dns[0].intended_host is not None
    assert by_dns[0].intended_host.name == "db.lab.test"
    # Cut right before the connection's first packet: the answer is in chunk 0 only.
    offsets = record_offsets(path)
    first_ts = by_dns[0].first_seen_ts
    data = path.read_bytes()
    at = next(o for o in offsets
              if struct.unpack_from("<I", data, o)[0]
              + struct.unpack_from("<I", data, o + 4)[0] / 1e6 >= first_ts - 1e-6)
    result, lines, info = split(path, options, 2, processes=False, split_at=(at,))
    assert info["reruns"] == 1
    assert_same(one, result, lines)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    base = tmp_path_factory.mktemp("split")
    for fmt in ("pcap", "pcapng"):
        path = base / f"gen.{fmt}"
        generate_capture(path, 250, 12_000, 12, fmt, seed=5)  # type: ignore[arg-type]
        out[fmt] = path
    return out


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_generated_capture_split_over_processes(generated: dict[str, Path], fmt: str) -> None:
    path = generated[fmt]
    options = AnalysisOptions(ports=PORTS)
    one = one_process(path, options)
    assert len(one[1]) == 250
    for jobs, processes in ((2, True), (3, False), (7, False), (16, True)):
        result, lines, info = split(path, options, jobs, processes=processes)
        assert info["fallback"] is None
        assert info["chunks"] == jobs
        assert info["discarded"] > 0  # connections run across every cut
        assert_same(one, result, lines)


def damaged_copies(path: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The capture cut short, and with 1 kB of junk in the middle."""
    data = path.read_bytes()
    cut = tmp_path / f"cut{path.suffix}"
    cut.write_bytes(data[: len(data) * 3 // 5 + 7])
    junk = tmp_path / f"junk{path.suffix}"
    middle = len(data) * 2 // 5 + 3
    junk.write_bytes(data[:middle] + bytes(range(256)) * 4 + data[middle:])
    return cut, junk


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_damaged_files_give_the_one_process_report(generated: dict[str, Path], fmt: str,
                                                   tmp_path: Path) -> None:
    options = AnalysisOptions(ports=PORTS)
    for path in damaged_copies(generated[fmt], tmp_path):
        one = one_process(path, options)
        assert one[0].warnings  # TRUNCATED_FILE or DAMAGED_BLOCK
        for jobs in (2, 3, 5):
            result, lines, info = split(path, options, jobs, processes=False)
            assert info["chunks"] == jobs
            assert_same(one, result, lines)


def test_small_files_and_one_job_are_read_by_one_process() -> None:
    path = SAMPLES_DIR / "tls12-match.pcap"
    assert plan_split(str(path), 4) is None  # below 64 MiB
    assert plan_split(str(path), 1, 0) is None
    plan = plan_split(str(path), 4, 0)
    assert plan is not None and len(plan.bounds) == 5
    assert plan.bounds[0] == 24 and plan.bounds[-1] == path.stat().st_size
    assert set(plan.bounds[1:-1]) <= set(record_offsets(path))
    size = path.stat().st_size
    # chunks of at least half the size from which files are split
    assert plan_split(str(path), 8, size) is not None
    assert len(plan_split(str(path), 8, size).bounds) == 3  # type: ignore[union-attr]
    assert plan_split(str(path), 8, size + 1) is None


def test_a_cut_inside_a_record_falls_back_to_one_process(generated: dict[str, Path]) -> None:
    path = generated["pcap"]
    offsets = record_offsets(path)
    inside = offsets[len(offsets) // 2] + 5
    options = AnalysisOptions(ports=PORTS)
    one = one_process(path, options)
    result, lines, info = split(path, options, 2, processes=True, split_at=(inside,))
    assert info["fallback"] is not None
    assert_same(one, result, lines)


def _cli(args: list[str], env: dict[str, str]) -> str:
    run = subprocess.run([sys.executable, "-m", "capture_tls", "analyze", *args],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert run.returncode in (0, 1), run.stderr
    assert "Traceback" not in run.stderr
    return run.stdout


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_cli_jobs_splits_one_file(generated: dict[str, Path], fmt: str) -> None:
    env = {**os.environ, SPLIT_MIN_BYTES_ENV: "0",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    path = str(generated[fmt])
    one = json.loads(_cli(["--format", "json", "--jobs", "1", path], env))
    three = json.loads(_cli(["--format", "json", "--jobs", "3", path], env))
    assert one.pop("command")[-2:] == ["1", path]
    assert three.pop("command")[-2:] == ["3", path]
    assert three == one
    assert len(one["connections"]) == 250
    lines_one = _cli(["--format", "jsonl", "--jobs", "1", path], env)
    lines_three = _cli(["--format", "jsonl", "--jobs", "3", path], env)
    assert lines_three == lines_one
    assert lines_one.count("\n") == 251
    # --redact: pseudonyms are given in output order, by the parent from the reports
    redacted_one = _cli(["--format", "jsonl", "--redact", "--jobs", "1", path], env)
    redacted_two = _cli(["--format", "jsonl", "--redact", "--jobs", "2", path], env)
    assert redacted_two == redacted_one
    assert "client-1" in redacted_one


def test_pcapng_interface_block_in_the_middle(generated: dict[str, Path],
                                              tmp_path: Path) -> None:
    """A chunk after an Interface Description Block in the middle of the file started with
    the interfaces of the file's first blocks: it is analyzed again with the right ones."""
    path = generated["pcapng"]
    data = path.read_bytes()
    assert data[8:12] == b"\x4d\x3c\x2b\x1a"  # little-endian section
    offsets = record_offsets(path)
    middle = offsets[len(offsets) // 3]
    idb = struct.pack("<IIHHII", 1, 20, 1, 0, 262144, 20)  # a second Ethernet interface
    odd = tmp_path / "idb-in-the-middle.pcapng"
    odd.write_bytes(data[:middle] + idb + data[middle:])
    options = AnalysisOptions(ports=PORTS)
    one = one_process(odd, options)
    assert not one[0].warnings
    result, lines, info = split(odd, options, 2, processes=False,
                                split_at=(offsets[2 * len(offsets) // 3] + len(idb),))
    assert info["fallback"] is None
    assert info["reruns"] == 1
    assert_same(one, result, lines)


def test_chunks_analyzed_again_for_dns_run_in_processes() -> None:
    """Several chunks whose intended hosts come from an earlier chunk's DNS answers are
    analyzed again, in processes at the same time."""
    path = SAMPLES_DIR / "tls12-mismatch.pcap"
    options = options_for(path)
    one = one_process(path, options)
    result, lines, info = split(path, options, 9, processes=True)
    assert info["fallback"] is None
    assert info["reruns"] >= 2
    assert_same(one, result, lines)


def _entries_split(path: Path, options: AnalysisOptions, jobs: int, **kw: Any
                   ) -> tuple[InputResult, list[bytes], dict[str, Any]]:
    """`--format json` over processes: the workers' entries adopted by a ReportStore."""
    info: dict[str, Any] = {}
    with ReportStore(connection_json) as store:
        result = analyze_file_split(str(path), 0, options, store.add, keep_reports=False,
                                    jobs=jobs, min_bytes=0, info=info,
                                    render_line=render_json_entry, entry_store=store,
                                    rename_entry=rename_json_entry, **kw)
        return result, list(store.fragments()), info


def _one_process_entries(path: Path, options: AnalysisOptions) -> tuple[InputResult, list[bytes]]:
    result = analyze_file(str(path), 0, options)
    return result, [connection_json(c) for c in result.connections]


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_workers_json_entries_adopted_by_the_store(generated: dict[str, Path], fmt: str) -> None:
    """The entries stay in the workers' files; the parent's store adopts the kept ones
    under their renumbered ids: the same JSON, in the same order, as one process."""
    path = generated[fmt]
    options = AnalysisOptions(ports=PORTS)
    expected, entries = _one_process_entries(path, options)
    assert len(entries) == 250
    for jobs, processes in ((2, True), (5, False), (16, True)):
        result, got, info = _entries_split(path, options, jobs, processes=processes)
        assert info["fallback"] is None and info["chunks"] == jobs
        assert info["discarded"] > 0
        assert got == entries
        assert (result.reported, result.tls, result.plaintext, result.with_errors) == (
            expected.reported, expected.tls, expected.plaintext, expected.with_errors)
        assert result.connections == []  # nothing came to the parent but the counts


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_workers_json_entries_of_damaged_files(generated: dict[str, Path], fmt: str,
                                               tmp_path: Path) -> None:
    """A file cut short, or with junk in the middle: the chunks after the damage are never
    adopted, and the entries are still one process's."""
    options = AnalysisOptions(ports=PORTS)
    for path in damaged_copies(generated[fmt], tmp_path):
        expected, entries = _one_process_entries(path, options)
        assert expected.warnings
        for jobs, processes in ((2, True), (3, False), (5, True)):
            result, got, info = _entries_split(path, options, jobs, processes=processes)
            assert info["chunks"] == jobs
            assert got == entries, (path.name, jobs)
            assert result.warnings == expected.warnings


def test_workers_json_entries_with_reruns_and_fallback(generated: dict[str, Path]) -> None:
    """Chunks analyzed again (DNS answers of an earlier chunk) adopt the entries of their
    second run; a cut inside a record falls back to one process with nothing adopted twice."""
    dns = SAMPLES_DIR / "tls12-mismatch.pcap"
    options = options_for(dns)
    _expected, entries = _one_process_entries(dns, options)
    for processes in (True, False):
        _result, got, info = _entries_split(dns, options, 9, processes=processes)
        assert info["fallback"] is None and info["reruns"] >= 2
        assert got == entries
    path = generated["pcap"]
    options = AnalysisOptions(ports=PORTS)
    _expected, entries = _one_process_entries(path, options)
    offsets = record_offsets(path)
    inside = offsets[len(offsets) // 2] + 5
    _result, got, info = _entries_split(path, options, 2, processes=True, split_at=(inside,))
    assert info["fallback"] is not None
    assert got == entries
