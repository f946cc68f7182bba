"""Coverage-guided fuzzing (atheris/libFuzzer) of the whole path: capture bytes -> JSON report.

Run (longer than CI does):
    mkdir -p /tmp/corpus && cp samples/*.pcap* /tmp/corpus/
    python fuzz/fuzz_capture.py -max_total_time=3600 -timeout=2 -max_len=65536 /tmp/corpus

Fails on any exception (analyze_file never raises for bad input: every problem must become a
warning or a finding), on an INTERNAL_ERROR warning (an exception that is not the project's own,
caught inside), and, through -timeout, on any input that takes over two seconds.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from capture_tls.analysis.options import AnalysisOptions
    from capture_tls.analysis.pipeline import analyze_file
    from capture_tls.cli import build_report_object
    from capture_tls.reporting.json_report import render_json
    from capture_tls.reporting.text_report import render_text

_OPTIONS = AnalysisOptions(ports=frozenset({3306, 3307, 3308}))
_DIR = tempfile.mkdtemp(prefix="capture-tls-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm")
                        else None)
_PATH = os.path.join(_DIR, "input.pcap")


def test_one_input(data: bytes) -> None:
    with open(_PATH, "wb") as f:
        f.write(data)
    result = analyze_file(_PATH, 0, _OPTIONS)
    internal = [w for w in result.warnings if w.code == "INTERNAL_ERROR"]
    if internal:
        raise RuntimeError(f"INTERNAL_ERROR: {internal[0].message}")
    report = build_report_object(["capture-tls", "analyze", _PATH], [result.summary],
                                 result.warnings, result.connections)
    json.loads(render_json(report))
    text = render_text(report, width=100)
    if "\x1b" in text:
        raise RuntimeError("an escape sequence reached the text output")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
