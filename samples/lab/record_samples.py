"""(Re)record the committed sample captures in samples/ with real servers and clients.

Run as root on Debian 12: ``python3 samples/lab/record_samples.py [--only NAME ...]``.
Takes well under three minutes. Writes the captures, ``tls13.keylog``, the certificates of
the scenarios (``samples/certs/*.pem``, no private keys) and ``samples/manifest.json`` (every
client command that ran in each capture, its exit status and its last output line).

The lab (see lab.py): one LAN 10.77.1.0/24 + fd77::/64 on a bridge, with

============  ===============================  ===========================================
host          addresses                        runs
============  ===============================  ===========================================
client        10.77.1.10, fd77::1:10           mariadb CLI, PyMySQL, openssl, curl, psql
server        10.77.1.20, fd77::1:20           mariadbd :3306 :3307 :3308 :13306, web, pg
mid           10.77.1.30, fd77::1:30           splitproxy.py :3306 -> 10.77.1.20:3306
dns           10.77.1.53, fd77::1:53           dnsmasq (the client's resolver)
============  ===============================  ===========================================

Unless a scenario says otherwise, captures are taken with tcpdump on the client's eth0,
filter ``tcp or port 53``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lab

LAB_DIR = Path(__file__).resolve().parent
SAMPLES_DIR = LAB_DIR.parent
CERTS_DIR = SAMPLES_DIR / "certs"

CLIENT_TIMEOUT_SECONDS = 20.0

#: DNS records served to the client.
A_RECORDS = {
    "db.lab.test": "10.77.1.20",
    "odd.lab.test": "10.77.1.20",
    "expired.lab.test": "10.77.1.20",
    "www.lab.test": "10.77.1.20",
    "pg.lab.test": "10.77.1.20",
    "split.svc.lab.test": "10.77.1.30",
}
AAAA_RECORDS = {"db6.lab.test": "fd77::1:20"}
CNAMES = {"legacy.lab.test": "db.lab.test"}

#: The certificates of the scenarios (serials fixed so files are easy to tell apart).
DB_LEAF = lab.CertSpec(
    "db.lab.test", ("db.lab.test", "db6.lab.test", "*.svc.lab.test"), ("10.77.1.20",),
    serial=0x1001,
)
EXPIRED_LEAF = lab.CertSpec(
    "expired.lab.test", ("expired.lab.test",), not_before_days=-400, not_after_days=-30,
    serial=0x1002,
)
ODD_SELF_SIGNED = lab.CertSpec("odd.lab.test", ("odd.lab.test",), serial=0x1003)
CLIENT_CERT = lab.CertSpec("x509user", (), client_auth=True, server_auth=False, serial=0x1004)
WWW_LEAF = lab.CertSpec("www.lab.test", ("www.lab.test",), serial=0x1005)
PG_LEAF = lab.CertSpec("pg.lab.test", ("pg.lab.test",), serial=0x1006)


@dataclass
class Files:
    root: Path
    bundle: Path
    other_ca: Path
    db_chain: Path
    db_key: Path
    expired_chain: Path
    expired_key: Path
    odd_cert: Path
    odd_key: Path
    client_chain: Path
    client_key: Path
    www_chain: Path
    www_key: Path
    pg_chain: Path
    pg_key: Path


def make_certificates(work: Path, export_dir: Path) -> Files:
    """Create the PKI, write keys to ``work`` and the certificates (PEM) to ``export_dir``."""
    pki = lab.TestPki.create("capture-tls lab")
    other = lab.TestPki.create("capture-tls other", with_intermediate=False)
    assert pki.intermediate is not None
    issued = {
        "db": pki.issue(DB_LEAF),
        "expired": pki.issue(EXPIRED_LEAF),
        "odd": lab.TestPki.self_signed(ODD_SELF_SIGNED),
        "client": pki.issue(CLIENT_CERT),
        "www": pki.issue(WWW_LEAF),
        "pg": pki.issue(PG_LEAF),
    }
    paths = {name: cert.write(work, name) for name, cert in issued.items()}
    root = work / "ca-root.pem"
    root.write_bytes(pki.root.cert_pem())
    bundle = work / "ca-bundle.pem"
    bundle.write_bytes(pki.ca_bundle_pem())
    other_ca = work / "other-ca.pem"
    other_ca.write_bytes(other.root.cert_pem())

    if export_dir.exists():
        shutil.rmtree(export_dir)
    export_dir.mkdir(parents=True)
    (export_dir / "ca-root.pem").write_bytes(pki.root.cert_pem())
    (export_dir / "ca-intermediate.pem").write_bytes(pki.intermediate.cert_pem())
    (export_dir / "other-ca-root.pem").write_bytes(other.root.cert_pem())
    exported = {
        "db": "db-leaf.pem",
        "expired": "expired-leaf.pem",
        "odd": "odd-selfsigned.pem",
        "client": "client-x509user.pem",
        "www": "www-leaf.pem",
        "pg": "pg-leaf.pem",
    }
    for name, filename in exported.items():
        (export_dir / filename).write_bytes(issued[name].cert_pem())
    return Files(
        root=root, bundle=bundle, other_ca=other_ca,
        db_chain=paths["db"][1], db_key=paths["db"][2],
        expired_chain=paths["expired"][1], expired_key=paths["expired"][2],
        odd_cert=paths["odd"][0], odd_key=paths["odd"][2],
        client_chain=paths["client"][1], client_key=paths["client"][2],
        www_chain=paths["www"][1], www_key=paths["www"][2],
        pg_chain=paths["pg"][1], pg_key=paths["pg"][2],
    )


@dataclass
class Env:
    the_lab: lab.Lab
    client: lab.Host
    server: lab.Host
    mid: lab.Host
    dns: lab.Host
    files: Files
    work: Path
    out: Path
    manifest: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    current: str = ""
    written: list[Path] = field(default_factory=list)

    def client_run(self, label: str, argv: list[str], host: lab.Host | None = None) -> int:
        """Run a client command in the client namespace and log it in the manifest."""
        host = host or self.client
        try:
            proc = host.run(argv, check=False, timeout=CLIENT_TIMEOUT_SECONDS)
            status: int | str = proc.returncode
            text = (proc.stdout + proc.stderr).decode(errors="replace").strip().splitlines()
        except subprocess.TimeoutExpired:
            status, text = "timeout", []
        self.manifest.setdefault(self.current, []).append(
            {
                "label": label,
                "host": host.name,
                "argv": [_portable(a, self.work) for a in argv],
                "exit_status": status,
                "last_output": text[-1] if text else "",
            }
        )
        return status if isinstance(status, int) else -1

    @contextlib.contextmanager
    def record(
        self, name: str, spec: lab.CaptureSpec | None = None, host: lab.Host | None = None
    ) -> Iterator[Path]:
        self.current = name
        self.manifest[name] = []
        self.written.append(self.out / name)
        with lab.capture(host or self.client, self.out / name, spec) as path:
            yield path


def _portable(arg: str, work: Path) -> str:
    """An argument as logged in the manifest: no machine-specific paths."""
    if arg == sys.executable:
        return "python3"
    arg = arg.replace(str(work), "$WORK").replace(str(SAMPLES_DIR), "samples")
    return arg


def lost_segments(path: Path) -> list[str]:
    """Frames tshark flags as following a segment the capture lost (empty when complete).

    ``tcpdump -i any`` now and then misses packets here; such a capture is recorded again.
    """
    if shutil.which("tshark") is None:
        return []
    proc = subprocess.run(
        ["tshark", "-r", str(path), "-Y",
         "tcp.analysis.lost_segment or tcp.analysis.ack_lost_segment",
         "-T", "fields", "-e", "frame.number"],
        capture_output=True, check=False, timeout=60,
    )
    return proc.stdout.decode().split()


def run_scenario(env: Env, name: str, attempts: int = 3) -> None:
    """Run one scenario; again (up to ``attempts`` times) while a capture lost packets."""
    for attempt in range(1, attempts + 1):
        env.written = []
        SCENARIOS[name](env)
        incomplete = [p.name for p in env.written if p.exists() and lost_segments(p)]
        if not incomplete:
            return
        print(f"{name}: attempt {attempt}: packets missing in {incomplete}", flush=True)
    raise lab.LabError(f"{name}: captures kept losing packets")


def mariadb(*args: str, user: str = "plain", sql: str = "SELECT 1") -> list[str]:
    password = lab.USERS[user][0]
    return ["mariadb", "--no-defaults", "--connect-timeout=10", f"-u{user}", f"-p{password}",
            *args, "-e", sql]


def pyclient(*args: str, user: str = "plain") -> list[str]:
    password = lab.USERS[user][0]
    return [sys.executable, str(LAB_DIR / "pyclient.py"), "--user", user,
            "--password", password, *args]


def verify_args(env: Env, ca: Path | None = None) -> list[str]:
    return ["--ssl", "--ssl-verify-server-cert", f"--ssl-ca={ca or env.files.root}",
            "--tls-version=TLSv1.2"]


# --------------------------------------------------------------------------------------------
# Scenarios: one function per committed capture.
# --------------------------------------------------------------------------------------------


def tls12_match(env: Env) -> None:
    with env.record("tls12-match.pcap"):
        env.client_run("mariadb CLI, verify CA + name", mariadb("-h", "db.lab.test",
                                                                *verify_args(env)))
        env.client_run("PyMySQL check_hostname, SNI", pyclient(
            "--host", "db.lab.test", "--ca", str(env.files.root), "--check-hostname",
            "--tls-max", "1.2", user="tlsonly"))


def ip_literal(env: Env) -> None:
    with env.record("ip-literal.pcap"):
        env.client_run("mariadb CLI verify, -h 10.77.1.20 (IP SAN matches)", mariadb(
            "-h", env.server.ipv4, *verify_args(env)))
        env.client_run("PyMySQL check_hostname, host 10.77.1.20 (no SNI for an IP)", pyclient(
            "--host", env.server.ipv4, "--ca", str(env.files.root), "--check-hostname",
            "--tls-max", "1.2"))
        env.client_run("PyMySQL check_hostname, host fd77::1:20 (not in the SANs)", pyclient(
            "--host", env.server.ipv6, "--ca", str(env.files.root), "--check-hostname",
            "--tls-max", "1.2"))


def tls12_mismatch(env: Env) -> None:
    with env.record("tls12-mismatch.pcap"):
        env.client_run("mariadb CLI --ssl, no verification: connects", mariadb(
            "-h", "legacy.lab.test", "--ssl", "--tls-version=TLSv1.2"))
        env.client_run("mariadb CLI verify: rejects after the handshake", mariadb(
            "-h", "legacy.lab.test", *verify_args(env)))
        env.client_run("PyMySQL check_hostname: alert inside the handshake", pyclient(
            "--host", "legacy.lab.test", "--ca", str(env.files.root), "--check-hostname",
            "--tls-max", "1.2"))


def plaintext(env: Env) -> None:
    with env.record("plaintext.pcap"):
        env.client_run("mariadb CLI --skip-ssl, plain user", mariadb(
            "-h", "db.lab.test", "--skip-ssl"))
        env.client_run("mariadb CLI --skip-ssl, REQUIRE SSL user: 1045", mariadb(
            "-h", "db.lab.test", "--skip-ssl", user="tlsonly"))
        env.client_run("PyMySQL without TLS, plain user", pyclient(
            "--host", "db.lab.test", "--no-ssl"))


def ports(env: Env) -> None:
    with env.record("port3307.pcap"):
        env.client_run("mariadb CLI verify on 3307", mariadb(
            "-h", "db.lab.test", "-P", "3307", *verify_args(env)))
    with env.record("port13306.pcap"):
        env.client_run("mariadb CLI --ssl (no verification), self-signed, port 13306", mariadb(
            "-h", "odd.lab.test", "-P", "13306", "--ssl", "--tls-version=TLSv1.2"))


def tls13(env: Env) -> None:
    keylog = env.out / "tls13.keylog"
    keylog.unlink(missing_ok=True)
    with env.record("tls13.pcap"):
        env.client_run("PyMySQL TLS 1.3 with key log", pyclient(
            "--host", "db.lab.test", "--ca", str(env.files.root), "--check-hostname",
            "--tls-max", "1.3", "--keylog", str(keylog)))
        env.client_run("mariadb CLI TLS 1.3, verify (no key log: stays encrypted)", mariadb(
            "-h", "db.lab.test", "--ssl", "--ssl-verify-server-cert",
            f"--ssl-ca={env.files.root}", "--tls-version=TLSv1.3"))


def link_types(env: Env) -> None:
    verify = mariadb("-h", "db.lab.test", *verify_args(env))
    # libpcap 1.10 gives "any" LINUX_SLL2 by default: ask for v1 explicitly.
    with env.record("any-sll.pcap", lab.CaptureSpec(interfaces=("any",), link_type="LINUX_SLL")):
        env.client_run("mariadb CLI verify", verify)
    with env.record("any-sll2.pcap", lab.CaptureSpec(interfaces=("any",),
                                                      link_type="LINUX_SLL2")):
        env.client_run("mariadb CLI verify", verify)
    with env.record("nanosecond.pcap", lab.CaptureSpec(nanosecond=True)):
        env.client_run("mariadb CLI verify", verify)
    with env.record("snaplen200.pcap", lab.CaptureSpec(snaplen=200)):
        env.client_run("mariadb CLI verify", verify)
    spec = lab.CaptureSpec(
        interfaces=(env.server.switch_port, env.dns.switch_port), tool="dumpcap", pcapng=True
    )
    with env.record("multi-interface.pcapng", spec, host=env.the_lab.hosts["switch"]):
        env.client_run("mariadb CLI verify (dumpcap on the bridge ports of server and dns)",
                       verify)
    with env.record("ipv6.pcap"):
        env.client_run("mariadb CLI verify over IPv6", mariadb(
            "-h", "db6.lab.test", *verify_args(env)))
        env.client_run("PyMySQL check_hostname over IPv6", pyclient(
            "--host", "db6.lab.test", "--ca", str(env.files.root), "--check-hostname",
            "--tls-max", "1.2"))


def rejections(env: Env) -> None:
    with env.record("reject-unknown-ca.pcap"):
        env.client_run("mysql CLI verify with the wrong CA: unknown_ca", [
            "mysql", *mariadb("-h", "db.lab.test", *verify_args(env, env.files.other_ca))[1:]])
    with env.record("reject-expired.pcap"):
        env.client_run("mariadb CLI verify, expired leaf: certificate_expired", mariadb(
            "-h", "expired.lab.test", "-P", "3308", *verify_args(env)))
        env.client_run("PyMySQL check_hostname, expired leaf", pyclient(
            "--host", "expired.lab.test", "--port", "3308", "--ca", str(env.files.root),
            "--check-hostname", "--tls-max", "1.2"))


def client_cert(env: Env) -> None:
    with env.record("client-cert.pcap"):
        env.client_run("mariadb CLI with client certificate, REQUIRE X509 user", mariadb(
            "-h", "db.lab.test", *verify_args(env), f"--ssl-cert={env.files.client_chain}",
            f"--ssl-key={env.files.client_key}", user="x509user"))
        env.client_run("mariadb CLI without client certificate, REQUIRE X509 user: 1045",
                       mariadb("-h", "db.lab.test", *verify_args(env), user="x509user"))


def resumption(env: Env) -> None:
    session = env.work / "tls12-session.pem"
    session.unlink(missing_ok=True)
    base = ["openssl", "s_client", "-starttls", "mysql", "-tls1_2", "-connect",
            "db.lab.test:3306", "-CAfile", str(env.files.root), "-verify_hostname",
            "db.lab.test", "-verify_return_error", "-brief"]
    with env.record("resumption-tls12.pcap"):
        env.client_run("openssl s_client full handshake, -sess_out",
                       ["sh", "-c", " ".join([*base, "-sess_out", str(session)]) + " </dev/null"])
        env.client_run("openssl s_client resumed handshake, -sess_in",
                       ["sh", "-c", " ".join([*base, "-sess_in", str(session)]) + " </dev/null"])


def other_protocols(env: Env) -> None:
    f = env.files
    web = [sys.executable, str(LAB_DIR / "webserver.py")]
    with lab.start_daemon(env.server, [*web, "--port", "443", "--cert", str(f.www_chain),
                                       "--key", str(f.www_key)],
                          env.work / "https.log", "listening"), env.record("https.pcap"):
        env.client_run("curl HTTPS, TLS 1.2 (certificate visible)", [
            "curl", "-sS", "--tls-max", "1.2", "--cacert", str(f.root), "https://www.lab.test/"])
        env.client_run("curl HTTPS, TLS 1.3", ["curl", "-sS", "--cacert", str(f.root),
                                               "https://www.lab.test/"])
    with lab.start_daemon(env.server, [*web, "--port", "80"], env.work / "http.log",
                          "listening"), env.record("http.pcap"):
        env.client_run("curl HTTP", ["curl", "-sS", "http://www.lab.test/"])
    with lab.start_postgres(env.server, env.work, ssl_cert=f.pg_chain, ssl_key=f.pg_key,
                            settings={"ssl_max_protocol_version": "TLSv1.2"}), \
            env.record("postgres.pcap"):
        for mode in ("require", "disable"):
            env.client_run(f"psql sslmode={mode}", [
                "psql", "-X", f"host=pg.lab.test user=postgres dbname=postgres sslmode={mode}",
                "-c", "SELECT 1"])


def split_records(env: Env) -> None:
    proxy = [sys.executable, str(LAB_DIR / "splitproxy.py"), "--listen", "0.0.0.0:3306",
             "--upstream", f"{env.server.ipv4}:3306", "--fragment", "100", "--mss", "200"]
    with lab.start_daemon(env.mid, proxy, env.work / "proxy.log", "listening"), \
            env.record("split-records.pcap"):
        env.client_run("mariadb CLI verify through the splitting proxy", mariadb(
            "-h", "split.svc.lab.test", *verify_args(env)))
        env.client_run("PyMySQL check_hostname through the splitting proxy", pyclient(
            "--host", "split.svc.lab.test", "--ca", str(env.files.root), "--check-hostname",
            "--tls-max", "1.2"))


SCENARIOS: dict[str, Callable[[Env], None]] = {
    "tls12_match": tls12_match,
    "tls12_mismatch": tls12_mismatch,
    "ip_literal": ip_literal,
    "plaintext": plaintext,
    "ports": ports,
    "tls13": tls13,
    "link_types": link_types,
    "rejections": rejections,
    "client_cert": client_cert,
    "resumption": resumption,
    "other_protocols": other_protocols,
    "split_records": split_records,
}


@contextlib.contextmanager
def lab_environment(work: Path, out: Path, certs_dir: Path) -> Iterator[Env]:
    """The whole lab of the samples: hosts, DNS, the four MariaDB servers."""
    files = make_certificates(work, certs_dir)
    with lab.Lab() as the_lab, contextlib.ExitStack() as stack:
        client = the_lab.add_host("client", 10)
        server = the_lab.add_host("server", 20)
        mid = the_lab.add_host("mid", 30)
        dns = the_lab.add_host("dns", 53)
        the_lab.hosts["switch"] = lab.Host("switch", the_lab.switch_ns, "", "")
        the_lab.set_resolver(client, dns.ipv4)
        stack.enter_context(lab.start_dnsmasq(
            dns, work, a_records=A_RECORDS, aaaa_records=AAAA_RECORDS, cnames=CNAMES))
        for port, cert, key in (
            (3306, files.db_chain, files.db_key),
            (3307, files.db_chain, files.db_key),
            (3308, files.expired_chain, files.expired_key),
            (13306, files.odd_cert, files.odd_key),
        ):
            stack.enter_context(lab.start_mariadb(
                server, work, port=port, ssl_cert=cert, ssl_key=key, ssl_ca=files.bundle))
        yield Env(the_lab, client, server, mid, dns, files, work, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), default=None)
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR)
    args = parser.parse_args(argv)
    if not lab.have_root():
        print("record_samples.py must run as root (network namespaces)", file=sys.stderr)
        return 2
    missing = lab.lab_prerequisites_missing()
    if missing:
        print(f"missing programs: {', '.join(missing)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out / "manifest.json"
    manifest: dict[str, object] = {}
    if args.only and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
    with tempfile.TemporaryDirectory(prefix="capture-tls-lab-") as tmp:
        with lab_environment(Path(tmp), args.out, args.out / "certs") as env:
            for name in args.only or list(SCENARIOS):
                t0 = time.monotonic()
                run_scenario(env, name)
                print(f"{name}: {time.monotonic() - t0:.1f}s", flush=True)
            manifest.update(env.manifest)
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"recorded in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
