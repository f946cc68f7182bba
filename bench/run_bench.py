"""Time capture-tls against tshark on the same capture, and check they found the same certificates.

    python bench/run_bench.py FILE [--runs 3] [--json out.json]

In one invocation, on one file: capture-tls (``python -m capture_tls analyze --format json``)
and tshark (the Certificate messages as fields, the same job) run alternately, ``--runs`` times
each, after one untimed read of the file into the page cache; ``tcpdump -r FILE -w /dev/null``
is timed too, as the floor (reading the file and nothing else), and capture-tls once more on one
core (``taskset -c CPU ... --jobs 1``: one process, and the SHA-256 child it starts for a large
file pinned to the same core), the issue's "packets per second on one core". For each tool: the
median wall
time, packets per second, and the peak memory (maximum resident set size as GNU time reports
it with ``/usr/bin/time -v``; without GNU time, ``ru_maxrss`` of that very child from
``os.wait4``). The ratio is capture-tls's median time over tshark's.

Then, per connection (client ip and port, server ip and port), the sha256 of every server
certificate capture-tls reports must equal the sha256 of the DER tshark shows in the
Certificate message, in order, and the set of connections with a certificate must be the same
and not empty. A disagreement is printed loudly and the exit status is 1; a tool that fails to
run gives exit status 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CertMap",
    "Measurement",
    "capture_tls_certificates",
    "count_packets",
    "main",
    "measure",
    "run_bench",
    "tshark_certificates",
]

# (client ip, client port, server ip, server port) -> sha256 of each server certificate, leaf first
ConnKey = tuple[str, int, str, int]
CertMap = dict[ConnKey, tuple[str, ...]]

TSHARK_FIELDS = ("tcp.srcport", "ip.src", "ip.dst", "tcp.dstport", "tls.handshake.certificate")
OK_EXIT = {"capture-tls": (0, 1), "capture-tls-1core": (0, 1), "tshark": (0,),
           "tcpdump": (0,)}  # capture-tls: 1 = findings
ONE_CORE = "capture-tls-1core"


def one_core_prefix() -> list[str] | None:
    """``taskset -c CPU`` for the first CPU this process may run on (None without taskset)."""
    taskset = shutil.which("taskset")
    if taskset is None:
        return None
    cpu = min(os.sched_getaffinity(0))
    return [taskset, "-c", str(cpu)]


# --------------------------------------------------------------------------------------------
# Measuring one child


@dataclass
class Measurement:
    seconds: float
    max_rss_kb: int
    returncode: int
    stderr_tail: str


def gnu_time() -> str | None:
    """The path of GNU time if it is installed (Debian package ``time``), else None."""
    path = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    if path is None:
        return None
    try:
        r = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return path if "GNU" in (r.stdout + r.stderr) else None


_MAXRSS = re.compile(r"Maximum resident set size \(kbytes\):\s*(\d+)")


def measure(cmd: Sequence[str], stdout_path: str, env: dict[str, str] | None = None,
            timeout: float | None = None, time_path: str | None = None) -> Measurement:
    """Run ``cmd`` with stdout to a file; its wall time and its peak RSS."""
    with tempfile.NamedTemporaryFile("w+", suffix=".time", delete=False) as tf:
        time_out = tf.name
    full = [time_path, "-v", "-o", time_out, *cmd] if time_path else list(cmd)
    try:
        with open(stdout_path, "wb") as out, tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            proc = subprocess.Popen(full, stdout=out, stderr=err, env=env)
            deadline = None if timeout is None else started + timeout
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG if deadline else 0)
                if pid:
                    break
                if deadline is not None and time.perf_counter() > deadline:
                    proc.kill()
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.005)
            seconds = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
            err.seek(0)
            stderr = err.read().decode(errors="replace")
        rss = usage.ru_maxrss  # kilobytes on Linux
        if time_path:
            m = _MAXRSS.search(Path(time_out).read_text(errors="replace"))
            if m:
                rss = int(m.group(1))
        return Measurement(seconds, rss, proc.returncode, stderr[-2000:])
    finally:
        os.unlink(time_out)


# --------------------------------------------------------------------------------------------
# What each tool found


def capture_tls_certificates(report: dict[str, Any]) -> CertMap:
    """Connections with at least one server certificate, from a capture-tls JSON report."""
    found: CertMap = {}
    for conn in report.get("connections", []):
        certs = conn.get("server_certificates") or []
        if not certs:
            continue
        tls = conn.get("tls") or {}
        if tls.get("decrypted"):
            continue  # TLS 1.3 decrypted with a key log: tshark without the log sees nothing
        key = (conn["client"]["ip"], int(conn["client"]["port"]), conn["server"]["ip"],
               int(conn["server"]["port"]))
        found[key] = tuple(c["sha256"] for c in certs)
    return found


def tshark_certificates(fields_output: str) -> CertMap:
    """Connections with a Certificate message, from tshark's ``-T fields`` output of
    TSHARK_FIELDS. The Certificate comes from the server: source = server, destination =
    client. The first Certificate message of a connection counts (as in capture-tls)."""
    found: CertMap = {}
    for line in fields_output.splitlines():
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 5:
            raise ValueError(f"unexpected tshark line: {line[:200]!r}")
        sport, src, dst, dport, certs = parts
        if not certs:
            continue
        # Two Certificate messages in one frame would put two ports in the port fields.
        sport = sport.split(",")[0]
        dport = dport.split(",")[0]
        key = (dst.split(",")[0], int(dport), src.split(",")[0], int(sport))
        if key in found:
            continue
        found[key] = tuple(hashlib.sha256(bytes.fromhex(h.replace(":", ""))).hexdigest()
                           for h in certs.split(","))
    return found


@dataclass
class Agreement:
    agree: bool
    connections_capture_tls: int
    connections_tshark: int
    only_capture_tls: list[ConnKey] = field(default_factory=list)
    only_tshark: list[ConnKey] = field(default_factory=list)
    different: list[ConnKey] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        def keys(ks: list[ConnKey]) -> list[str]:
            return [f"{ci}:{cp} -> {si}:{sp}" for ci, cp, si, sp in ks[:20]]

        return {
            "agree": self.agree,
            "connections_with_certificates": {"capture-tls": self.connections_capture_tls,
                                              "tshark": self.connections_tshark},
            "only_capture_tls": keys(self.only_capture_tls),
            "only_tshark": keys(self.only_tshark),
            "different": keys(self.different),
            "differences": len(self.only_capture_tls) + len(self.only_tshark)
            + len(self.different),
        }


def compare(ct: CertMap, ts: CertMap) -> Agreement:
    only_ct = sorted(set(ct) - set(ts))
    only_ts = sorted(set(ts) - set(ct))
    diff = sorted(k for k in set(ct) & set(ts) if ct[k] != ts[k])
    return Agreement(agree=bool(ts) and not (only_ct or only_ts or diff),
                     connections_capture_tls=len(ct), connections_tshark=len(ts),
                     only_capture_tls=only_ct, only_tshark=only_ts, different=diff)


# --------------------------------------------------------------------------------------------
# The file itself


def count_packets(path: str) -> int:
    """Frames in a pcap or pcapng file, counted from the record headers alone."""
    with open(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4:
            raise ValueError("not a capture: shorter than 4 bytes")
        magic_le = struct.unpack("<I", head)[0]
        if magic_le in (0xA1B2C3D4, 0xA1B23C4D, 0xD4C3B2A1, 0x4D3CB2A1):
            endian = "<" if magic_le in (0xA1B2C3D4, 0xA1B23C4D) else ">"
            f.seek(24)
            rec = struct.Struct(endian + "IIII")
            n = 0
            while True:
                hdr = f.read(16)
                if len(hdr) < 16:
                    return n
                incl = rec.unpack(hdr)[2]
                f.seek(incl, os.SEEK_CUR)
                n += 1
        if magic_le == 0x0A0D0D0A:
            n = 0
            f.seek(0)
            endian = "<"
            while True:
                hdr = f.read(12)
                if len(hdr) < 12:
                    return n
                btype = struct.unpack(endian + "I", hdr[:4])[0]
                if btype == 0x0A0D0D0A:
                    endian = "<" if hdr[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
                blen = struct.unpack(endian + "I", hdr[4:8])[0]
                if blen < 12:
                    return n
                if btype in (2, 3, 6):
                    n += 1
                f.seek(blen - 12, os.SEEK_CUR)
        raise ValueError("not a pcap or pcapng file")


def warm_cache(path: str) -> float:
    started = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.read(8 << 20):
            pass
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# The run


def _summary(ms: list[Measurement], packets: int) -> dict[str, object]:
    secs = [m.seconds for m in ms]
    rss = [m.max_rss_kb for m in ms]
    med = statistics.median(secs) if secs else None
    return {
        "seconds": [round(s, 4) for s in secs],
        "median_seconds": None if med is None else round(med, 4),
        "packets_per_second": None if not med else round(packets / med),
        "max_rss_kb": rss,
        "median_max_rss_kb": None if not rss else int(statistics.median(rss)),
        "peak_max_rss_kb": None if not rss else max(rss),
        "returncodes": [m.returncode for m in ms],
    }


def run_bench(path: str, runs: int = 3, capture_tls_cmd: Sequence[str] | None = None,
              tshark: str = "tshark", tcpdump: str | None = "tcpdump",
              timeout: float | None = None, log: Any = sys.stderr,
              one_core: bool = True) -> dict[str, Any]:
    """Measure, compare, and return the results as a JSON-able dict (``ok`` says all is well).
    `one_core`: also time the analyzer command with ``--jobs 1`` pinned to one CPU."""
    ct_cmd = list(capture_tls_cmd) if capture_tls_cmd else [
        sys.executable, "-m", "capture_tls", "analyze", "--format", "json"]
    pin = one_core_prefix() if one_core else None
    one_cmd = [*pin, *ct_cmd, "--jobs", "1"] if pin else None
    ts_cmd = [tshark, "-r", path, "-Y", "tls.handshake.type==11", "-T", "fields",
              *[a for f in TSHARK_FIELDS for a in ("-e", f)]]
    td_cmd = [tcpdump, "-r", path, "-w", "/dev/null"] if tcpdump else None
    time_path = gnu_time()
    packets = count_packets(path)
    warm = warm_cache(path)
    results: dict[str, list[Measurement]] = {"capture-tls": [], ONE_CORE: [], "tshark": [],
                                             "tcpdump": []}
    errors: list[str] = []
    ct_maps: list[CertMap] = []
    ts_maps: list[CertMap] = []
    ct_packets: int | None = None
    with tempfile.TemporaryDirectory(prefix="capture-tls-bench-run-") as tmp:
        out = os.path.join(tmp, "stdout")
        for i in range(runs):
            order = ["capture-tls", "tshark"] if i % 2 == 0 else ["tshark", "capture-tls"]
            if one_cmd:
                order.append(ONE_CORE)
            if td_cmd:
                order.append("tcpdump")
            for tool in order:
                cmd = {"capture-tls": [*ct_cmd, path], ONE_CORE: [*(one_cmd or []), path],
                       "tshark": ts_cmd, "tcpdump": td_cmd or []}[tool]
                m = measure(cmd, out, timeout=timeout, time_path=time_path)
                print(f"  run {i + 1}/{runs} {tool:<11} {m.seconds:8.3f} s "
                      f"{m.max_rss_kb / 1024:8.1f} MiB  exit {m.returncode}", file=log)
                if m.returncode not in OK_EXIT[tool]:
                    errors.append(f"{tool} exited {m.returncode}: {shlex.join(cmd)}\n"
                                  f"{m.stderr_tail}")
                    continue
                results[tool].append(m)
                text = Path(out).read_text(errors="replace")
                try:
                    if tool in ("capture-tls", ONE_CORE):
                        report = json.loads(text)
                        ct_maps.append(capture_tls_certificates(report))
                        inputs = report.get("inputs") or [{}]
                        ct_packets = inputs[0].get("packets", ct_packets)
                    elif tool == "tshark":
                        ts_maps.append(tshark_certificates(text))
                except (ValueError, KeyError, TypeError) as e:
                    errors.append(f"{tool}: could not read its output: {e!r}")

    if not one_cmd:
        del results[ONE_CORE]
    summaries = {t: _summary(ms, packets) for t, ms in results.items()}
    ct_med = summaries["capture-tls"]["median_seconds"]
    ts_med = summaries["tshark"]["median_seconds"]
    td_med = summaries["tcpdump"]["median_seconds"]
    assert ct_med is None or isinstance(ct_med, float)
    assert ts_med is None or isinstance(ts_med, float)
    assert td_med is None or isinstance(td_med, float)
    agreement: Agreement | None = None
    if ct_maps and ts_maps:
        agreement = compare(ct_maps[-1], ts_maps[-1])
        for i, cm in enumerate(ct_maps[:-1]):
            if cm != ct_maps[-1]:
                errors.append(f"capture-tls run {i + 1} found other certificates than the last "
                              "(runs of both capture-tls commands are compared)")
        for i, tm in enumerate(ts_maps[:-1]):
            if tm != ts_maps[-1]:
                errors.append(f"tshark run {i + 1} found other certificates than the last")
    else:
        errors.append("certificates not compared: a tool produced no usable output")
    if ct_packets is not None and ct_packets != packets:
        errors.append(f"capture-tls counted {ct_packets} packets, the file has {packets}")
    return {
        "file": os.path.abspath(path),
        "size_bytes": os.path.getsize(path),
        "packets": packets,
        "runs": runs,
        "host": {"machine": platform.machine(), "python": platform.python_version(),
                 "cpus": os.cpu_count(), "kernel": platform.release()},
        "memory_method": "GNU time -v" if time_path else "os.wait4 ru_maxrss",
        "page_cache_warmup_seconds": round(warm, 3),
        "commands": {"capture-tls": [*ct_cmd, path], ONE_CORE: one_cmd and [*one_cmd, path],
                     "tshark": ts_cmd, "tcpdump": td_cmd},
        "tools": summaries,
        "ratio_capture_tls_to_tshark": None if not (ct_med and ts_med)
        else round(ct_med / ts_med, 3),
        "ratio_capture_tls_to_tcpdump": None if not (ct_med and td_med)
        else round(ct_med / td_med, 3),
        "certificates": None if agreement is None else agreement.to_json(),
        "errors": errors,
        "ok": not errors and agreement is not None and agreement.agree,
    }


def render_table(res: dict[str, Any]) -> str:
    lines = [f"{res['file']}: {res['packets']:,} packets, {res['size_bytes'] / 1e6:,.1f} MB, "
             f"{res['runs']} run(s) each, memory by {res['memory_method']}",
             f"{'tool':<17} {'median s':>10} {'packets/s':>12} {'peak RSS MiB':>13}"]
    for tool, s in res["tools"].items():
        med = s["median_seconds"]
        pps = s["packets_per_second"]
        rss = s["peak_max_rss_kb"]
        lines.append(
            f"{tool:<17} {'-' if med is None else f'{med:.3f}':>10} "
            f"{'-' if pps is None else f'{pps:,}':>12} "
            f"{'-' if rss is None else f'{rss / 1024:.1f}':>13}")
    r = res["ratio_capture_tls_to_tshark"]
    lines.append(f"capture-tls / tshark time: {'-' if r is None else f'{r:.2f}'}"
                 + ("" if res["ratio_capture_tls_to_tcpdump"] is None else
                    f"   capture-tls / tcpdump: {res['ratio_capture_tls_to_tcpdump']:.2f}"))
    c = res["certificates"]
    if c is None:
        lines.append("certificates: NOT COMPARED")
    else:
        n = c["connections_with_certificates"]
        lines.append(f"certificates: {'agree' if c['agree'] else 'DISAGREE'} "
                     f"(connections with certificates: capture-tls {n['capture-tls']}, "
                     f"tshark {n['tshark']})")
        if not c["agree"]:
            for what in ("only_capture_tls", "only_tshark", "different"):
                for k in c[what]:
                    lines.append(f"  {what}: {k}")
    for e in res["errors"]:
        lines.append(f"ERROR: {e}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("file")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", dest="json_out", help="write the results here")
    p.add_argument("--capture-tls-cmd", default=None,
                   help="the analyzer command before FILE (default: "
                        "'python -m capture_tls analyze --format json')")
    p.add_argument("--tshark", default="tshark")
    p.add_argument("--no-tcpdump", action="store_true")
    p.add_argument("--timeout", type=float, default=None, help="seconds per tool run")
    p.add_argument("--no-one-core", action="store_true",
                   help="do not time the analyzer pinned to one CPU with --jobs 1")
    a = p.parse_args(argv)
    if a.runs < 1:
        p.error("--runs must be at least 1")
    tcpdump = None if a.no_tcpdump else shutil.which("tcpdump")
    if not a.no_tcpdump and tcpdump is None:
        print("tcpdump not found: no floor", file=sys.stderr)
    res = run_bench(a.file, a.runs,
                    shlex.split(a.capture_tls_cmd) if a.capture_tls_cmd else None,
                    a.tshark, tcpdump, a.timeout, one_core=not a.no_one_core)
    print(render_table(res))
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(res, indent=1) + "\n")
    if res["certificates"] is not None and not res["certificates"]["agree"]:
        print("CERTIFICATES DISAGREE between capture-tls and tshark", file=sys.stderr)
        return 1
    return 0 if res["ok"] else 2


if __name__ == "__main__":
    raise SystemExit(main())
