"""`capture-tls sniff`: live capture of real MariaDB/TLS connections, reported while running.

The end-to-end tests need root (CI runs as root) and the lab's programs: they build network
namespaces with samples/lab/lab.py, start mariadbd with a certificate from the lab's TestPki,
run `python -m capture_tls sniff` as a separate process inside a namespace, make real PyMySQL
connections (samples/lab/pyclient.py) and read the sniffer's output while it still runs.
Everything they start is stopped by its own handle; the namespaces are removed at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from capture_tls.reporting.json_report import load_schema
from capture_tls.sources.captures import open_capture
from capture_tls.sources.frames import decode_frame
from capture_tls.sources.live import (
    LINKTYPE_LINUX_SLL2,
    LiveCapture,
    PcapNgWriter,
    capture_filter,
)

ROOT = Path(__file__).resolve().parent.parent
LAB_DIR = ROOT / "samples" / "lab"
if str(LAB_DIR) not in sys.path:
    sys.path.insert(0, str(LAB_DIR))

import lab  # noqa: E402

SCHEMA = load_schema()
CONNECTION_SCHEMA = {"$defs": SCHEMA["$defs"], "$ref": "#/$defs/connection"}
# How long a report may take to appear after the client finished (the sniffer's own poll and
# sweep intervals are 0.25 s and 1 s; this leaves room for a loaded CI machine).
REPORT_TIMEOUT_SECONDS = 15.0

needs_lab = pytest.mark.skipif(
    not lab.have_root() or bool(lab.lab_prerequisites_missing()),
    reason="needs root and the lab's programs (ip, mariadbd, dnsmasq, ...)",
)


def sniff_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(*args: str, prefix: tuple[str, ...] = (), timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, sys.executable, "-m", "capture_tls", *args],
                          capture_output=True, text=True, timeout=timeout, env=sniff_env(),
                          cwd=ROOT, check=False)


class LineReader:
    """A process's output, line by line, with a time-out (a thread per stream)."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout: float = REPORT_TIMEOUT_SECONDS) -> str | None:
        """The next line; None at the end of the stream. Fails after `timeout`."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no output within {timeout} s; so far: {self.seen[-5:]}")
        if line is not None:
            self.seen.append(line)
        return line

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            line = self.next(max(0.1, deadline - time.monotonic()))
            if line is None:
                pytest.fail(f"stream ended before {text!r}: {self.seen}")
            if text in line:
                return

    def rest(self, timeout: float = 30.0) -> list[str]:
        out = []
        while (line := self.next(timeout)) is not None:
            out.append(line)
        return out


@dataclass
class Sniffer:
    proc: subprocess.Popen[str]
    out: LineReader
    err: LineReader
    write_path: Path | None

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


@contextlib.contextmanager
def start_sniffer(host: lab.Host, *args: str, write_path: Path | None = None
                  ) -> Iterator[Sniffer]:
    """`python -m capture_tls sniff ARGS` inside `host`'s namespace, ready to capture."""
    argv = [sys.executable, "-m", "capture_tls", "sniff", *args]
    if write_path is not None:
        argv += ["--write", str(write_path)]
    proc = subprocess.Popen(host.cmd(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=sniff_env(), cwd=ROOT)
    sniffer = Sniffer(proc, LineReader(proc.stdout), LineReader(proc.stderr), write_path)
    try:
        sniffer.err.wait_for("listening on")
        yield sniffer
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def pyclient(host: lab.Host, *args: str, user: str = "plain") -> str:
    """Run the lab's PyMySQL client in `host`; its one-line outcome ("OK" / "FAILED ...")."""
    password = lab.USERS[user][0]
    proc = host.run([sys.executable, str(LAB_DIR / "pyclient.py"), "--user", user,
                     "--password", password, *args], check=False, timeout=60)
    return proc.stdout.decode().strip()


def connection_lines(lines: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """JSON Lines output: the connection objects, then the trailer."""
    docs = [json.loads(line) for line in lines if line.strip()]
    assert docs, "no output"
    *conns, trailer = docs
    assert set(trailer) == {"summary", "warnings", "inputs"}
    return conns, trailer


def finding_codes(conn: dict[str, Any]) -> set[str]:
    return {f["code"] for f in conn["findings"]}


def has_error(conn: dict[str, Any]) -> bool:
    return any(f["severity"] == "error" for f in conn["findings"])


def analyze_json(path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = run_cli("analyze", str(path), "--format", "json", *args)
    assert proc.stderr == ""
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, SCHEMA)
    return proc.returncode, doc


# --- the lab --------------------------------------------------------------------------------


@dataclass
class Pki:
    root: Path
    cert: Path
    key: Path


def make_pki(workdir: Path) -> Pki:
    pki = lab.TestPki.create("capture-tls sniff test")
    leaf = pki.issue(lab.CertSpec("db.lab.test", ("db.lab.test",), ("127.0.0.1", "10.77.1.20")))
    _, chain, key = leaf.write(workdir, "db")
    root = workdir / "ca.pem"
    root.write_bytes(pki.root.cert_pem())
    return Pki(root, chain, key)


def write_hosts_file(the_lab: lab.Lab, host: lab.Host, entries: str) -> None:
    """/etc/hosts as `host` sees it (ip netns exec bind-mounts /etc/netns/NS/hosts); the
    directory is removed with the lab."""
    the_lab.set_resolver(host, host.ipv4)  # registers /etc/netns/NS for removal
    (Path("/etc/netns") / host.netns / "hosts").write_text(entries)


# --- tests without privileges ---------------------------------------------------------------


def test_filter_expression() -> None:
    assert capture_filter(frozenset({3306}), False) == "tcp port 3306 or port 53"
    assert capture_filter(frozenset({3307, 3306}), False) == (
        "tcp port 3306 or tcp port 3307 or port 53")
    assert capture_filter(frozenset({3306}), True) == "tcp or udp port 53"


def test_pcapng_writer_reads_back_exactly(tmp_path: Path) -> None:
    path = tmp_path / "w.pcapng"
    frames = [(1764064072.830038, b"\x08\x00" + bytes(range(40)), 42),
              (1764064073.000001, b"x" * 3, 3), (1764064073.5, b"", 60)]
    writer = PcapNgWriter(str(path), LINKTYPE_LINUX_SLL2, "any")
    for ts, frame, wirelen in frames:
        writer.write(ts, frame, wirelen)
    writer.close()
    reader = open_capture(str(path))
    got = list(reader.frames())
    assert reader.format == "pcapng"
    assert reader.problems == []
    assert got == [(ts, LINKTYPE_LINUX_SLL2, frame, wirelen) for ts, frame, wirelen in frames]


def test_nonexistent_interface_is_one_line_and_exit_3() -> None:
    proc = run_cli("sniff", "-i", "no-such-if0", "--duration", "1")
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert "no-such-if0" in proc.stderr and "Traceback" not in proc.stderr


def test_list_interfaces_shows_loopback() -> None:
    proc = run_cli("sniff", "--list-interfaces")
    assert proc.returncode == 0, proc.stderr
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert names[0] == "any"
    assert "lo" in names
    assert set(names[1:]) == {name for _, name in socket.if_nameindex()}


# --- tests that capture ---------------------------------------------------------------------


def _usable_by_others(path: Path) -> bool:
    """Whether a user without privileges can reach `path` (o+x on every directory to it) and
    read or run it (o+r)."""
    path = path.resolve()
    return all(os.stat(d).st_mode & 0o001 for d in path.parents) and bool(
        os.stat(path).st_mode & 0o004)


@pytest.mark.skipif(not lab.have_root(), reason="needs root to drop privileges")
def test_without_permission_is_one_line_and_exit_3() -> None:
    # Root without CAP_NET_RAW (dropped from the bounding set, so not regained on exec) ...
    prefixes = [("setpriv", "--bounding-set=-net_raw")]
    # ... and an ordinary user, when that user can run this interpreter at all.
    if _usable_by_others(Path(sys.executable)) and _usable_by_others(ROOT / "capture_tls"):
        prefixes.append(("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"))
    for prefix in prefixes:
        proc = run_cli("sniff", "-i", "lo", "--duration", "1", prefix=prefix)
        assert proc.returncode == 3, (prefix, proc.stderr)
        assert proc.stdout == ""
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert "CAP_NET_RAW" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(not lab.have_root(), reason="needs CAP_NET_RAW")
@pytest.mark.parametrize("use_ring", [True, False], ids=["ring", "recvmsg"])
def test_kernel_drops_are_counted(use_ring: bool) -> None:
    """A capture with the smallest buffer (a one-page ring, or the smallest socket buffer),
    not read while datagrams arrive: the kernel's drop counter says how many it lost, and
    the rest can still be read, with their payload intact."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    port = receiver.getsockname()[1]
    cap = LiveCapture("lo", f"udp dst port {port}", buffer_bytes=4096, use_ring=use_ring)
    cap.open()
    assert cap.uses_ring == use_ring
    try:
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.bind(("127.0.0.1", 0))
        sender_port = sender.getsockname()[1]
        for _ in range(500):
            sender.sendto(b"x" * 1000, ("127.0.0.1", port))
        sender.close()
        read = 0
        for frame in cap.frames(poll_seconds=0.1):
            if frame is None:
                break
            read += 1
            seg = decode_frame(frame[1], frame[2])
            assert seg is not None
            assert seg[2] == seg[1] == socket.inet_aton("127.0.0.1")
            assert seg[3:6] == (17, sender_port, port)
            assert seg[9] == b"x" * 1000
            assert frame[3] == len(frame[2]) == 20 + 20 + 8 + 1000
        packets, drops = cap.statistics()
    finally:
        cap.close()
        receiver.close()
    # (On a loopback interface the kernel sees each packet leaving and arriving; the filter
    # refuses the leaving copy, so each counts once.)
    assert 0 < drops < 500
    assert read > 0
    assert packets == read + drops == 500


PORT = 13306  # not a MySQL port capture-tls knows: --port tells one sniffer, --any-port not


@needs_lab
def test_loopback_reports_while_running_and_agrees_with_analyze(tmp_path: Path) -> None:
    """MariaDB with TLS on a namespace's loopback. Two sniffers on `lo`: one with --port and
    --format jsonl, whose lines must arrive while it runs, and one with --any-port and
    --format json (one document at the end), which must find the server by its greeting.
    SIGINT ends both with the summary; the pcapng the first wrote, analyzed again, reports
    the same connections."""
    pki = make_pki(tmp_path)
    pcapng = tmp_path / "live.pcapng"
    with lab.Lab() as the_lab:
        host = the_lab.add_host("srv", 20)
        write_hosts_file(the_lab, host, "127.0.0.1 db.lab.test other.lab.test\n")
        common = ("-i", "lo", "--ca", str(pki.root), "--idle-timeout", "2")
        with lab.start_mariadb(host, tmp_path, port=PORT, ssl_cert=pki.cert, ssl_key=pki.key,
                               ssl_ca=pki.root), \
                start_sniffer(host, *common, "--port", str(PORT), "--format", "jsonl",
                              write_path=pcapng) as sniffer, \
                start_sniffer(host, *common, "--any-port", "--format", "json") as whole:
            assert f"(tcp port 3306 or tcp port {PORT} or port 53)" in sniffer.err.seen[-1]
            assert "(tcp or udp port 53)" in whole.err.seen[-1]
            live: list[dict[str, Any]] = []

            def next_report() -> dict[str, Any]:
                line = sniffer.out.next()
                assert line is not None, sniffer.err.seen
                conn = json.loads(line)
                jsonschema.validate(conn, CONNECTION_SCHEMA)
                live.append(conn)
                return conn

            def client(*args: str, user: str = "plain") -> str:
                return pyclient(host, "--port", str(PORT), *args, user=user)

            # 1. A matching certificate, TLS 1.2, the name checked: logged in.
            assert client("--host", "db.lab.test", "--ca", str(pki.root), "--check-hostname",
                          "--tls-max", "1.2") == "OK"
            conn = next_report()
            assert conn["outcome"] == "tls-established"
            assert conn["tls"]["version"] == "TLS 1.2"
            assert conn["tls"]["sni"] == "db.lab.test"
            assert conn["intended_host"]["name"] == "db.lab.test"
            assert conn["verdicts"]["verify_identity"] == "pass"
            assert conn["verdicts"]["verify_ca"] == "pass"
            assert not has_error(conn)
            assert sniffer.proc.poll() is None

            # 2. A name the certificate does not carry: PyMySQL refuses it in the handshake.
            result = client("--host", "other.lab.test", "--ca", str(pki.root),
                            "--check-hostname", "--tls-max", "1.2")
            assert result.startswith("FAILED"), result
            conn = next_report()
            assert conn["outcome"] == "client-rejected-certificate"
            assert conn["tls"]["sni"] == "other.lab.test"
            assert conn["verdicts"]["verify_identity"] == "fail"
            assert {"HOSTNAME_MISMATCH", "CLIENT_REJECTED_CERT"} <= finding_codes(conn)
            assert conn["server_certificates"][0]["subject_cn"] == "db.lab.test"
            assert sniffer.proc.poll() is None

            # 3. A plaintext login.
            assert client("--host", "127.0.0.1", "--no-ssl") == "OK"
            conn = next_report()
            assert conn["outcome"] == "plaintext"
            assert conn["tls"] is None
            assert conn["mysql"]["username"] == "plain"
            assert sniffer.proc.poll() is None

            # 4. A client that connects and says nothing: reported once idle for 2 s, while
            #    it is still connected.
            with _connect_in(host, PORT) as idle:
                idle_started = time.monotonic()
                conn = next_report()
                assert time.monotonic() - idle_started >= 1.5
                assert conn["outcome"] == "incomplete"
                assert conn["mysql"]["server_version"] is not None
                assert idle.poll() is None  # still connected
                assert whole.proc.poll() is None
                code = sniffer.stop(signal.SIGINT)
                whole_code = whole.stop(signal.SIGINT)
            rest = sniffer.out.rest()
            whole_out = "".join(whole.out.rest())
            for s in (sniffer, whole):
                err = "".join(s.err.rest())
                assert "Traceback" not in err and "stopped (SIGINT)" in err

        conns, trailer = connection_lines(rest)
        assert conns == []  # nothing was held back until the end
        assert code == 1  # the mismatch is an error finding
        summary = trailer["summary"]
        assert summary["connections"] == len(live) == 4
        assert summary["tls"] == 2
        assert summary["plaintext"] == 1
        assert summary["errors"] == sum(1 for c in live if has_error(c))
        (inp,) = trailer["inputs"]
        assert inp["format"] == "live"
        assert inp["path"] == "live:lo"
        assert inp["link_types"] == ["LINUX_SLL2"]
        assert not any(w["code"] == "KERNEL_DROPS" for w in trailer["warnings"])

        # The written capture tells the same story.
        acode, doc = analyze_json(pcapng, "--ca", str(pki.root), "--port", str(PORT))
        assert acode == code
        assert doc["connections"] == live
        assert doc["inputs"][0]["packets"] == inp["packets"] > 0
        assert doc["inputs"][0]["first_packet"] == inp["first_packet"]
        assert doc["inputs"][0]["last_packet"] == inp["last_packet"]
        assert doc["summary"] == summary
        if shutil.which("tshark"):  # and another reader takes it as it is (a ticket's reader)
            frames = subprocess.run(["tshark", "-n", "-r", str(pcapng), "-T", "fields",
                                     "-e", "frame.number"], capture_output=True, text=True,
                                    timeout=60, check=True).stdout.split()
            assert len(frames) == inp["packets"]

        # --any-port found the same connections by the server's greeting (so each begins at
        # the greeting, not at the SYN), and --format json printed them in one document.
        whole_doc = json.loads(whole_out)
        jsonschema.validate(whole_doc, SCHEMA)
        assert whole_code == code
        assert whole_doc["summary"] == summary

        def essence(c: dict[str, Any]) -> tuple[Any, ...]:
            return (c["client"], c["server"], c["outcome"], c["tls"] and c["tls"]["sni"],
                    sorted(finding_codes(c)), c["server_certificates"])

        assert [essence(c) for c in whole_doc["connections"]] == [essence(c) for c in live]


@contextlib.contextmanager
def _connect_in(host: lab.Host, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A TCP client in `host` that connects to 127.0.0.1:port, reads the greeting and then
    stays silent until the block ends."""
    code = ("import socket,sys,time\n"
            f"s=socket.create_connection(('127.0.0.1',{port}))\n"
            "s.recv(4096)\nprint('connected',flush=True)\nsys.stdin.read()\n")
    proc = subprocess.Popen(host.cmd([sys.executable, "-c", code]), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready and proc.stdout.readline().strip() == b"connected"
        yield proc
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=15)


@needs_lab
def test_namespaces_text_mode_dns_and_count(tmp_path: Path) -> None:
    """Client and server in their own namespaces on the lab's bridge; DNS (a CNAME) served from
    the server's host; the sniffer there on the default interface ("any") in text mode stops
    by itself after --count 3. Each block appears while it runs and is the block `analyze`
    prints for the written capture."""
    pki = make_pki(tmp_path)
    pcapng = tmp_path / "ns.pcapng"
    with lab.Lab() as the_lab:
        client = the_lab.add_host("cli", 10)
        server = the_lab.add_host("db", 20)
        the_lab.set_resolver(client, server.ipv4)
        with lab.start_dnsmasq(server, tmp_path, a_records={"db.lab.test": server.ipv4},
                               cnames={"legacy.lab.test": "db.lab.test"}), \
                lab.start_mariadb(server, tmp_path, ssl_cert=pki.cert, ssl_key=pki.key,
                                  ssl_ca=pki.root), \
                start_sniffer(server, "--format", "text", "--no-color", "--width", "100",
                              "--ca", str(pki.root), "--count", "3",
                              write_path=pcapng) as sniffer:
            assert "listening on any " in sniffer.err.seen[-1]
            assert pyclient(client, "--host", "db.lab.test", "--ca", str(pki.root),
                            "--check-hostname", "--tls-max", "1.2") == "OK"
            sniffer.out.wait_for("Connection 0:1  10.77.1.10:")
            sniffer.out.wait_for("  Outcome              tls-established")
            assert sniffer.proc.poll() is None

            result = pyclient(client, "--host", "legacy.lab.test", "--ca", str(pki.root),
                              "--check-hostname", "--tls-max", "1.2")
            assert result.startswith("FAILED"), result
            sniffer.out.wait_for("Connection 0:2  10.77.1.10:")
            sniffer.out.wait_for("  Outcome              client-rejected-certificate")
            assert sniffer.proc.poll() is None

            # Over IPv6, in clear.
            assert pyclient(client, "--host", server.ipv6, "--no-ssl") == "OK"
            sniffer.out.wait_for(f"Connection 0:3  [{client.ipv6}]:")
            # --count 3: the sniffer ends by itself.
            code = sniffer.proc.wait(timeout=30)
            text = "".join(sniffer.out.seen + sniffer.out.rest())

        assert code == 1
        blocks, _, footer = text.partition("\nInputs")
        assert "MATCHES_CNAME_TARGET_ONLY" in blocks  # the CNAME came from DNS in the capture
        assert "CNAME chain        legacy.lab.test -> db.lab.test" in blocks
        assert f"-> [{server.ipv6}]:3306" in blocks
        assert "live:any" in footer and "LINUX_SLL2" in footer
        assert "Summary: 3 connections (2 TLS, 1 plaintext), 2 errors, 0 warnings" in footer

        analyzed = run_cli("analyze", str(pcapng), "--ca", str(pki.root), "--no-color",
                           "--width", "100")
        assert analyzed.returncode == code
        assert analyzed.stdout.partition("\nInputs")[0] == blocks


@needs_lab
def test_kernel_drops_reach_the_summary_and_a_warning(tmp_path: Path) -> None:
    """The sniffer stopped (SIGSTOP) with a tiny receive buffer while DNS-port datagrams
    arrive: the kernel drops most; the trailer's KERNEL_DROPS warning counts them, the summary
    counts the warning, and a warning line goes to standard error."""
    with lab.Lab() as the_lab:
        host = the_lab.add_host("drops", 30)
        with start_sniffer(host, "-i", "lo", "--format", "jsonl", "--buffer-size", "4") as s:
            s.proc.send_signal(signal.SIGSTOP)
            flood = ("import socket\nu=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                     "for _ in range(400): u.sendto(b'x'*1000,('127.0.0.1',53))\n")
            host.run([sys.executable, "-c", flood])
            s.proc.send_signal(signal.SIGCONT)
            s.err.wait_for("KERNEL_DROPS")  # read at the next sweep, while running
            code = s.stop(signal.SIGTERM)
            conns, trailer = connection_lines(s.out.rest())
    assert code == 0
    assert conns == []
    (drop,) = [w for w in trailer["warnings"] if w["code"] == "KERNEL_DROPS"]
    assert 0 < drop["count"] < 400
    assert trailer["summary"]["warnings"] == sum(w["count"] for w in trailer["warnings"])
    assert trailer["summary"]["warnings"] >= drop["count"]
    assert trailer["inputs"][0]["packets"] + drop["count"] == 400


@needs_lab
def test_duration_stops_an_empty_capture() -> None:
    with lab.Lab() as the_lab:
        host = the_lab.add_host("quiet", 40)
        started = time.monotonic()
        proc = run_cli("sniff", "-i", "lo", "--duration", "1", "--no-color",
                       prefix=tuple(host.cmd([])))
        elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert 1.0 <= elapsed < 20
    assert proc.stdout.startswith("No MySQL connections found.")
    assert "Summary: 0 connections (0 TLS, 0 plaintext), 0 errors, 0 warnings" in proc.stdout


@needs_lab
def test_interface_removed_while_capturing_ends_with_a_warning() -> None:
    with lab.Lab() as the_lab:
        host = the_lab.add_host("gone", 41)
        host.run(["ip", "link", "add", "tmp0", "type", "veth", "peer", "name", "tmp1"])
        host.run(["ip", "link", "set", "tmp0", "up"])
        with start_sniffer(host, "-i", "tmp0", "--format", "jsonl") as sniffer:
            host.run(["ip", "link", "del", "tmp0"])
            code = sniffer.proc.wait(timeout=15)  # ends by itself
            conns, trailer = connection_lines(sniffer.out.rest())
            err = "".join(sniffer.err.rest())
    assert code == 0
    assert conns == []
    assert [w["code"] for w in trailer["warnings"]] == ["CAPTURE_FAILED"]
    assert "Traceback" not in err and "capture failed" in err


@needs_lab
def test_write_failure_is_a_warning_not_a_crash() -> None:
    """--write /dev/full: every write fails with ENOSPC once the buffer is flushed."""
    with lab.Lab() as the_lab:
        host = the_lab.add_host("full", 42)
        proc = run_cli("sniff", "-i", "lo", "--duration", "1.5", "--format", "jsonl",
                       "--write", "/dev/full", prefix=tuple(host.cmd([])))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    conns, trailer = connection_lines(proc.stdout.splitlines())
    assert conns == []
    (warning,) = trailer["warnings"]
    assert warning["code"] == "WRITE_FAILED" and "/dev/full" in warning["message"]
