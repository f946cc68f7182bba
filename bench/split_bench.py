"""`analyze --jobs 1` against `--jobs N` on one capture (analysis/split.py): wall time, time to
the first JSON Lines line, peak resident memory of the whole process tree (RSS and PSS summed over
the processes, sampled every 20 ms from /proc) and GNU time's maximum RSS (of the largest
process), CPU time (user + system, the workers included), median of --runs. The machine
should be otherwise idle: `vmstat 1` shows whether it is.

    python bench/split_bench.py /tmp/b2m.pcap --jobs 1 2 --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time


def _pss_kib(pid: int) -> int:
    """Proportional set size: shared pages (a forked worker's copy of its parent's heap, the
    page cache of the capture mapped by nobody) counted once over the processes sharing
    them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_kib(pid: int) -> tuple[int, int]:
    """Resident KiB (RSS summed, PSS summed) of `pid` and its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        p, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(p)
        rss[p] = int(fields[21]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    total = pss = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        pss += _pss_kib(p)
        todo.extend(children.get(p, ()))
    return total, pss


def run_once(path: str, jobs: int, fmt: str) -> dict[str, float]:
    cmd = ["/usr/bin/time", "-f", "%M %U %S", sys.executable, "-m", "capture_tls", "analyze",
           "--format", fmt, "--jobs", str(jobs), path]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss, pss = _tree_kib(proc.pid)
            peak[0] = max(peak[0], rss)
            peak[1] = max(peak[1], pss)
            done.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    first_at = time.perf_counter() - start
    lines = 1 if first else 0
    for _ in proc.stdout:
        lines += 1
    err = proc.stderr.read().decode()
    proc.wait()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    gnu_max, user, system = err.strip().splitlines()[-1].split()
    return {"wall": wall, "first": first_at, "tree_kib": peak[0], "tree_pss_kib": peak[1],
            "gnu_kib": int(gnu_max), "cpu": float(user) + float(system), "lines": lines}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--format", default="jsonl")
    args = ap.parse_args()
    base = None
    for jobs in args.jobs:
        runs = [run_once(args.path, jobs, args.format) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        base = base or med["wall"]
        walls = ", ".join(f"{r['wall']:.2f}" for r in runs)
        print(f"--jobs {jobs}: wall {med['wall']:.2f} s (runs {walls}), "
              f"x{base / med['wall']:.2f}; CPU {med['cpu']:.2f} s; "
              f"first line {med['first']:.3f} s; peak of the process tree: RSS "
              f"{med['tree_kib'] / 1024:.0f} MiB, PSS {med['tree_pss_kib'] / 1024:.0f} MiB "
              f"(GNU time, largest process: "
              f"{med['gnu_kib'] / 1024:.0f} MiB); {int(med['lines'])} lines", flush=True)


if __name__ == "__main__":
    main()
