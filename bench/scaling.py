"""Time and memory of capture-tls across capture sizes, output formats and --jobs.

    python bench/scaling.py FILE [FILE ...] [--formats jsonl,json,text] [--jobs 1,2]
                            [--runs 1] [--json results.json]

For each file, format and --jobs value: ``python -m capture_tls analyze --format F --jobs J
FILE -o OUT`` (OUT in a temporary directory, removed), ``--runs`` times, medians reported:

- wall time and packets per second (packets counted from the record headers);
- peak memory as GNU time reports it (``/usr/bin/time -v``: the maximum resident set size of
  the largest process of the run), or ``ru_maxrss`` from ``os.wait4`` without GNU time;
- the peak of the *sum* of the resident sets of the whole process tree (the analyzer and its
  workers), sampled from /proc every 20 ms: what the run really held at once;
- for jsonl, the time until the first report line reaches a pipe (a separate run).

The file is read once, untimed, into the page cache first. Nothing is asserted: this prints
figures (a table on stdout, everything with the host's description in ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run_bench import count_packets, gnu_time, measure, warm_cache
from bench.split_bench import _tree_kib

__all__ = ["first_line_seconds", "main", "tree_rss_peak"]


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            continue
    return out


def tree_rss_peak(root: int, stop: threading.Event, every: float = 0.02) -> list[int]:
    """Sample the summed RSS (kB) of `root` and all its descendants (split_bench's
    `_tree_kib`) until `stop`; returns a one-element list holding the peak (filled in place,
    for use from a thread)."""
    peak = [0]

    def run() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_kib(root)[0])
            stop.wait(every)

    threading.Thread(target=run, daemon=True).start()
    return peak


def _run_once(cmd: list[str], out_path: str, time_path: str | None) -> dict[str, Any]:
    stop = threading.Event()
    started = time.perf_counter()
    # GNU time (or our wait4) gives the largest process's peak; the sampler the tree's sum.
    holder: dict[str, Any] = {}

    def go() -> None:
        holder["m"] = measure(cmd, out_path, time_path=time_path)

    t = threading.Thread(target=go)
    t.start()
    peak: list[int] = [0]
    # find the child once it exists: the newest child of this process
    deadline = time.perf_counter() + 5
    root = None
    while root is None and time.perf_counter() < deadline and t.is_alive():
        kids = _children(os.getpid())
        if kids:
            root = max(kids)
        else:
            time.sleep(0.002)
    if root is not None:
        peak = tree_rss_peak(root, stop)
    t.join()
    stop.set()
    m = holder["m"]
    return {
        "seconds": round(time.perf_counter() - started if m is None else m.seconds, 3),
        "max_rss_kb": m.max_rss_kb,
        "tree_rss_peak_kb": peak[0],
        "exit": m.returncode,
        "stderr_tail": m.stderr_tail[-300:] if m.returncode not in (0, 1) else "",
    }


def first_line_seconds(cmd: list[str]) -> float | None:
    """Seconds until the first line of stdout arrives through a pipe; the run is then
    stopped."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    seconds = time.perf_counter() - started
    proc.kill()
    proc.wait()
    return seconds if line else None


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--formats", default="jsonl,json,text")
    p.add_argument("--jobs", default="1,2")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--json", dest="json_out")
    a = p.parse_args(argv)
    time_path = gnu_time()
    env_py = [sys.executable, "-m", "capture_tls", "analyze"]
    rows: list[dict[str, Any]] = []
    for f in a.files:
        packets = count_packets(f)
        size = os.path.getsize(f)
        warm_cache(f)
        for jobs in [int(j) for j in a.jobs.split(",")]:
            for fmt in a.formats.split(","):
                runs = []
                with tempfile.TemporaryDirectory() as tmp:
                    for _ in range(a.runs):
                        cmd = [*env_py, "--format", fmt, "--jobs", str(jobs), f,
                               "-o", os.path.join(tmp, "out")]
                        runs.append(_run_once(cmd, os.devnull, time_path))
                        print(f"{Path(f).name} {fmt} --jobs {jobs}: {runs[-1]}", file=sys.stderr)
                row: dict[str, Any] = {
                    "file": f, "bytes": size, "packets": packets, "format": fmt, "jobs": jobs,
                    "seconds": statistics.median(r["seconds"] for r in runs),
                    "max_rss_mib": round(max(r["max_rss_kb"] for r in runs) / 1024, 1),
                    "tree_rss_peak_mib": round(max(r["tree_rss_peak_kb"] for r in runs) / 1024,
                                               1),
                    "exits": [r["exit"] for r in runs],
                    "errors": [r["stderr_tail"] for r in runs if r["stderr_tail"]],
                }
                row["packets_per_second"] = round(packets / row["seconds"]) if row[
                    "seconds"] else None
                if fmt == "jsonl":
                    row["first_line_seconds"] = first_line_seconds(
                        [*env_py, "--format", "jsonl", "--jobs", str(jobs), f])
                rows.append(row)
    print("| file | size | packets | format | jobs | time | packets/s | peak RSS (largest "
          "process) | peak RSS (all processes) | first line |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        first = r.get("first_line_seconds")
        print(f"| {Path(r['file']).name} | {r['bytes'] / 1e9:.2f} GB | {r['packets']:,} | "
              f"{r['format']} | {r['jobs']} | {r['seconds']:.2f} s | "
              f"{r['packets_per_second'] or 0:,} | {r['max_rss_mib']} MiB | "
              f"{r['tree_rss_peak_mib']} MiB | "
              f"{'' if first is None else f'{first:.2f} s'} |")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps({
            "host": {"machine": platform.machine(), "cpus": os.cpu_count(),
                     "python": platform.python_version(), "platform": platform.platform()},
            "gnu_time": time_path is not None, "rows": rows}, indent=2))
    bad = [r for r in rows if any(e not in (0, 1) for e in r["exits"])]
    return 2 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
