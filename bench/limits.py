"""Peak memory and wall time of `capture-tls analyze` on the hostile captures of DESIGN.md's limits.

    python bench/limits.py [--case NAME ...] [--json out.json] [--workdir DIR] [--keep]

Each case writes a generated capture (tests/synth.py: correct TCP framing, hostile content)
into a temporary directory, runs `python -m capture_tls analyze FILE --format json` in a child
process and reports its peak RSS (`ru_maxrss` of that child, from `os.wait4`) and wall time,
the exit code, and whether the expected warning or finding is there. tests/test_limits.py
writes the same captures with the functions below and asserts on the same figures.

Run from the repository root (or with the root on PYTHONPATH). The 100 MB case writes a
100 MB file; the files are removed at the end unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import synth  # noqa: E402

# --- the captures ---------------------------------------------------------------------------


def write_half_open_flood(path: Path, count: int = 200_000) -> list[str]:
    """`count` SYNs to port 3306 from distinct clients, never answered."""
    with synth.pcap_writer(path) as f:
        ts = 1_764_000_000.0
        for i in range(count):
            client = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
            synth.write_frame(f, ts + i * 1e-5, synth.frame(client, "10.99.0.1",
                                                            40000 + i % 20000, 3306, 1000, 0,
                                                            synth.SYN))
    return []


def write_junk_after_ssl_request(path: Path, megabytes: int = 100) -> list[str]:
    """A greeting, an SSLRequest, then `megabytes` MiB of random bytes from the client."""
    junk = os.urandom(1 << 20)
    messages = [(False, synth.greeting()), (True, synth.ssl_request())]
    messages += [(True, b"\x00\xff" + junk[2:])] + [(True, junk)] * (megabytes - 1)
    with synth.pcap_writer(path) as f:
        for ts, fr in synth.conversation(("10.1.0.2", 50000), ("10.1.0.1", 3306), messages):
            synth.write_frame(f, ts, fr)
    return []


def tls_record(content_type: int, body: bytes) -> bytes:
    return bytes([content_type, 3, 3]) + len(body).to_bytes(2, "big") + body


def handshake(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def _hellos() -> tuple[bytes, bytes]:
    server_hello = tls_record(22, handshake(2, b"\x03\x03" + b"\x11" * 32 + b"\x00"
                                            + b"\xc0\x2f" + b"\x00" + b"\x00\x00"))
    client_hello = tls_record(22, handshake(1, b"\x03\x03" + b"\x22" * 32 + b"\x00"
                                            + b"\x00\x02\xc0\x2f" + b"\x01\x00"))
    return client_hello, server_hello


def _tls_conversation(path: Path, port: int, server_flight: bytes) -> None:
    client_hello, server_hello = _hellos()
    messages = [(False, synth.greeting()), (True, synth.ssl_request()), (True, client_hello),
                (False, server_hello + server_flight)]
    with synth.pcap_writer(path) as f:
        for ts, fr in synth.conversation(("10.1.0.2", port), ("10.1.0.1", 3306), messages):
            synth.write_frame(f, ts, fr)


def write_many_certificates(path: Path, count: int = 10_000) -> list[str]:
    """One Certificate message carrying `count` (tiny) certificates, over many records."""
    certs = b"".join(len(c).to_bytes(3, "big") + c for c in [b"\x30\x03\x02\x01\x01"] * count)
    message = handshake(11, len(certs).to_bytes(3, "big") + certs)
    records = b"".join(tls_record(22, message[i : i + 16384])
                       for i in range(0, len(message), 16384))
    _tls_conversation(path, 50001, records)
    return []


def write_huge_handshake_message(path: Path) -> list[str]:
    """A Certificate handshake message declaring 2^24 - 1 bytes, of which 3,000 are sent."""
    message = bytes([11]) + (0xFFFFFF).to_bytes(3, "big") + b"\x00" * 3000
    _tls_conversation(path, 50004, tls_record(22, message))
    return []


def write_huge_tls_record(path: Path) -> list[str]:
    """A TLS record declaring 2^16 - 1 bytes (the most its header can say), 20,000 sent."""
    _tls_conversation(path, 50005, bytes([22, 3, 3, 0xFF, 0xFF]) + b"\x0b" * 20_000)
    return []


def write_many_sans(path: Path, count: int = 100_000) -> list[str]:
    """A real TLS 1.2 handshake whose self-signed leaf carries `count` DNS SAN entries."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "big.example")])
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(f"{i:x}.x") for i in range(count)]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256()))
    cert_pem, key_pem = path.with_suffix(".pem"), path.with_suffix(".key")
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    messages = [(False, synth.greeting()), (True, synth.ssl_request()),
                *synth.tls12_handshake(cert_pem, key_pem)]
    with synth.pcap_writer(path) as f:
        for ts, fr in synth.conversation(("10.1.0.2", 50002), ("10.1.0.1", 3306), messages,
                                         ts=time.time()):
            synth.write_frame(f, ts, fr)
    return ["--host", "1.x"]


def write_big_mysql_packet(path: Path, declared: int = 0xFFFFFF) -> list[str]:
    """A server packet declaring `declared` bytes (16 MB by default), then an SSLRequest."""
    bogus = declared.to_bytes(3, "little") + b"\x00" + b"\x0a" * 1000
    with synth.pcap_writer(path) as f:
        for ts, fr in synth.conversation(("10.1.0.2", 50003), ("10.1.0.1", 3306),
                                         [(False, bogus), (True, synth.ssl_request())]):
            synth.write_frame(f, ts, fr)
    return []


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Measured:
    report: dict[str, Any]
    rss_mib: float
    seconds: float
    exit_code: int


def analyze_measured(path: Path, *extra: str, timeout: float = 600) -> Measured:
    """`python -m capture_tls analyze PATH --format json EXTRA` in a child: its JSON report,
    peak RSS (ru_maxrss of that very child, reaped with os.wait4) and wall time."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "capture_tls", "analyze", str(path),
                                 "--format", "json", *extra],
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT,
                                env=env)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise TimeoutError(f"{path.name}: over {timeout} s")
            time.sleep(0.01)
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    try:
        report = json.loads(stdout)
    except ValueError as exc:
        raise RuntimeError(f"no JSON from {path.name}: {stderr.decode(errors='replace')}") from exc
    return Measured(report, usage.ru_maxrss / 1024, seconds, proc.returncode)


# --- the cases ------------------------------------------------------------------------------


def _warning_count(doc: dict[str, Any], code: str) -> int:
    return sum(w["count"] for w in doc["warnings"] if w["code"] == code)


def _finding(doc: dict[str, Any], code: str) -> bool:
    return any(f["code"] == code for c in doc["connections"] for f in c["findings"])


def _finding_says(doc: dict[str, Any], code: str, text: str) -> bool:
    return any(f["code"] == code and text in f["message"]
               for c in doc["connections"] for f in c["findings"])


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    write: Callable[[Path], list[str]]
    # What the report must say: a one-line description and a check.
    expect: str
    check: Callable[[dict[str, Any]], bool]


CASES: tuple[Case, ...] = (
    Case("half-open-200k", "200,000 half-open connections on port 3306", write_half_open_flood,
         "LIMIT_REACHED 150,000", lambda d: _warning_count(d, "LIMIT_REACHED") == 150_000),
    Case("junk-100mb", "100 MB of junk after an SSLRequest", write_junk_after_ssl_request,
         "MALFORMED", lambda d: _finding(d, "MALFORMED")),
    Case("handshake-2^24", "a TLS handshake message declaring 2^24 bytes",
         write_huge_handshake_message, "MALFORMED (over the handshake message limit)",
         lambda d: _finding_says(d, "MALFORMED", "declares 16777215 bytes")),
    Case("record-2^16", "a TLS record declaring 2^16 bytes", write_huge_tls_record,
         "MALFORMED (over the record limit)",
         lambda d: _finding_says(d, "MALFORMED", "record declares 65535 bytes")),
    Case("certs-10k", "10,000 certificates in one Certificate message",
         write_many_certificates, "MALFORMED (over the certificate limit)",
         lambda d: _finding(d, "MALFORMED")),
    Case("sans-100k", "a certificate with 100,000 SAN entries", write_many_sans,
         "10,000 SANs kept", lambda d: len(d["connections"][0]["server_certificates"][0]
                                           ["san_dns"]) == 10_000),
    Case("mysql-16mb", "a MySQL packet declaring 16 MB", write_big_mysql_packet,
         "MALFORMED", lambda d: _finding(d, "MALFORMED")),
)


def _no_internal_error(doc: dict[str, Any]) -> bool:
    return _warning_count(doc, "INTERNAL_ERROR") == 0


def run_case(case: Case, workdir: Path, keep: bool = False) -> dict[str, Any]:
    path = workdir / f"{case.name}.pcap"
    started = time.monotonic()
    extra = case.write(path)
    generated = time.monotonic() - started
    size = path.stat().st_size
    try:
        m = analyze_measured(path, *extra)
    finally:
        if not keep:
            for p in workdir.glob(f"{case.name}.*"):
                p.unlink()
    doc = m.report
    ok = _no_internal_error(doc) and case.check(doc)
    return {
        "case": case.name,
        "description": case.description,
        "file_bytes": size,
        "packets": doc["inputs"][0]["packets"],
        "generate_seconds": round(generated, 2),
        "peak_rss_mib": round(m.rss_mib, 1),
        "seconds": round(m.seconds, 2),
        "exit_code": m.exit_code,
        "expect": case.expect,
        "ok": ok,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--case", action="append", choices=[c.name for c in CASES],
                        help="run only this case (repeatable); default: all")
    parser.add_argument("--json", type=Path, default=None, help="write all figures here")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the captures are written (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the generated captures")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if args.case is None or c.name in args.case]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="capture-tls-limits-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for case in cases:
            print(f"{case.name}: {case.description} ...", file=sys.stderr, flush=True)
            rows.append(run_case(case, workdir, args.keep))
    header = (f"{'case':<16} {'file':>9} {'packets':>8} {'peak RSS':>9} {'time':>7} "
              f"{'exit':>4}  check")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['case']:<16} {r['file_bytes'] / 1e6:>7.1f}MB {r['packets']:>8} "
              f"{r['peak_rss_mib']:>6.0f}MiB {r['seconds']:>6.1f}s {r['exit_code']:>4}  "
              f"{'ok' if r['ok'] else 'FAILED'}: {r['expect']}")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "host": {"python": platform.python_version(), "machine": platform.machine(),
                     "system": platform.platform(), "cpus": os.cpu_count()},
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "cases": rows,
        }, indent=2) + "\n")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
