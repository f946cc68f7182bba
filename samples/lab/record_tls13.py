"""Record the TLS 1.3 samples in samples/tls13/: real MariaDB, real clients writing key logs.

Run as root on Debian 12: ``python3 samples/lab/record_tls13.py`` (about a minute); then
``python3 samples/lab/record_tls13.py --facts-only`` rewrites ``tshark-facts.json`` from the
captures alone. Writes, in ``samples/tls13/``: one ``NAME.pcap`` + ``NAME.keylog`` per
scenario below, ``editcap-embedded.pcapng`` (editcap --inject-secrets), ``certs/`` (this
run's PKI, PEM, no private keys), ``manifest.json`` (every client command, exit status, last
output line) and ``tshark-facts.json`` (what tshark decrypts with ``-o tls.keylog_file:``).

The lab is the one of ``record_samples.py`` (same addresses, DNS records, users), with
mariadbd 10.11 (OpenSSL 3.0) on

* :3306 with ``OPENSSL_CONF`` allowing every TLS 1.3 suite (the CCM ones are off by default
  and only reachable through the config file's ``Ciphersuites``),
* :3307 with ``Groups = P-256`` only, so a client whose first key share is X25519 gets a
  HelloRetryRequest.

Python's ssl (PyMySQL) cannot choose TLS 1.3 suites or groups; each PyMySQL run gets its
own ``OPENSSL_CONF`` with ``Ciphersuites``/``Groups`` in ``system_default``. The Go client
(go-sql-driver/mysql from Debian's golang-github-go-sql-driver-mysql-dev, built here with
GO111MODULE=off) writes its key log through ``tls.Config.KeyLogWriter``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lab
import record_samples as rs

LAB_DIR = Path(__file__).resolve().parent
OUT_DIR = LAB_DIR.parent / "tls13"

ALL_SUITES = (
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:"
    "TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256"
)
#: capture name -> the one suite the PyMySQL client offers.
SUITE_CAPTURES = {
    "aes128gcm": "TLS_AES_128_GCM_SHA256",
    "aes256gcm": "TLS_AES_256_GCM_SHA384",
    "chacha20": "TLS_CHACHA20_POLY1305_SHA256",
    "aes128ccm": "TLS_AES_128_CCM_SHA256",
    "aes128ccm8": "TLS_AES_128_CCM_8_SHA256",
}
HRR_PORT = 3307  # one of the ports tests/samples.py tells tshark about (LAB_PORTS)

GO_CLIENT = r"""
package main

import (
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"os"

	"github.com/go-sql-driver/mysql"
)

// goclient DSN CA_FILE SERVER_NAME KEYLOG CURVES(x25519first|default): connect with TLS 1.3,
// write the key log, run SELECT 1, print OK or FAILED <error>.
func main() {
	pem, err := os.ReadFile(os.Args[2])
	if err != nil { fmt.Println("FAILED", err); os.Exit(1) }
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	kl, err := os.OpenFile(os.Args[4], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0600)
	if err != nil { fmt.Println("FAILED", err); os.Exit(1) }
	cfg := &tls.Config{RootCAs: pool, ServerName: os.Args[3], MinVersion: tls.VersionTLS13,
		KeyLogWriter: kl}
	if os.Args[5] == "x25519first" {
		cfg.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
	}
	mysql.RegisterTLSConfig("lab", cfg)
	db, err := sql.Open("mysql", os.Args[1]+"?tls=lab&timeout=10s")
	if err != nil { fmt.Println("FAILED", err); os.Exit(1) }
	var one int
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
		fmt.Println("FAILED", err)
		os.Exit(1)
	}
	db.Close()
	fmt.Println("OK")
}
"""


def openssl_conf(path: Path, *, ciphersuites: str | None = None, groups: str | None = None
                 ) -> Path:
    """An OPENSSL_CONF whose system_default section sets TLS 1.3 suites and/or groups."""
    lines = ["openssl_conf = openssl_init", "[openssl_init]", "ssl_conf = ssl_sect",
             "[ssl_sect]", "system_default = system_default_sect", "[system_default_sect]",
             "MinProtocol = TLSv1.2"]
    if ciphersuites:
        lines.append(f"Ciphersuites = {ciphersuites}")
    if groups:
        lines.append(f"Groups = {groups}")
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Tls13Env:
    client: lab.Host
    server: lab.Host
    files: rs.Files
    work: Path
    out: Path
    go_client: Path | None
    manifest: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    current: str = ""

    def keylog(self, name: str) -> Path:
        return self.out / f"{name}.keylog"

    def client_run(self, label: str, argv: list[str]) -> int:
        try:
            proc = self.client.run(argv, check=False, timeout=rs.CLIENT_TIMEOUT_SECONDS)
            status: int | str = proc.returncode
            text = (proc.stdout + proc.stderr).decode(errors="replace").strip().splitlines()
        except subprocess.TimeoutExpired:
            status, text = "timeout", []
        self.manifest.setdefault(self.current, []).append({
            "label": label,
            "argv": [_portable(a, self.work) for a in argv],
            "exit_status": status,
            "last_output": text[-1] if text else "",
        })
        return status if isinstance(status, int) else -1

    @contextlib.contextmanager
    def record(self, name: str) -> Iterator[Path]:
        self.current = f"{name}.pcap"
        self.manifest[self.current] = []
        self.keylog(name).unlink(missing_ok=True)
        with lab.capture(self.client, self.out / f"{name}.pcap") as path:
            yield path

    def pyclient(self, name: str, host: str, *, port: int = 3306, user: str = "tlsonly",
                 ciphersuites: str | None = None, groups: str | None = None,
                 extra: tuple[str, ...] = ()) -> list[str]:
        conf = openssl_conf(self.work / f"client-{name}-{port}.cnf",
                            ciphersuites=ciphersuites, groups=groups)
        password = lab.USERS[user][0]
        return ["env", f"OPENSSL_CONF={conf}", sys.executable, str(LAB_DIR / "pyclient.py"),
                "--host", host, "--port", str(port), "--user", user, "--password", password,
                "--ca", str(self.files.root), "--check-hostname", "--tls-max", "1.3",
                "--keylog", str(self.keylog(name)), *extra]

    def goclient(self, name: str, host: str, server_name: str, *, port: int = 3306,
                 curves: str = "default") -> list[str] | None:
        if self.go_client is None:
            return None
        password = lab.USERS["tlsonly"][0]
        return [str(self.go_client), f"tlsonly:{password}@tcp({host}:{port})/",
                str(self.files.root), server_name, str(self.keylog(name)), curves]


def _portable(arg: str, work: Path) -> str:
    if arg == sys.executable:
        return "python3"
    return arg.replace(str(work), "$WORK").replace(str(rs.SAMPLES_DIR), "samples")


# --------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------


def suites(env: Tls13Env) -> list[str]:
    for name, suite in SUITE_CAPTURES.items():
        with env.record(name):
            env.client_run(f"PyMySQL TLS 1.3 offering only {suite}, check_hostname",
                           env.pyclient(name, "db.lab.test", ciphersuites=suite))
    return list(SUITE_CAPTURES)


def hello_retry(env: Tls13Env) -> list[str]:
    with env.record("hrr"):
        env.client_run("PyMySQL, Groups X25519:P-256 (key share X25519) to the P-256-only "
                       f"server on {HRR_PORT}: HelloRetryRequest",
                       env.pyclient("hrr", "db.lab.test", port=HRR_PORT,
                                    groups="X25519:P-256"))
        go = env.goclient("hrr", "db.lab.test", "db.lab.test", port=HRR_PORT,
                          curves="x25519first")
        if go:
            env.client_run("Go go-sql-driver, CurvePreferences X25519,P-256 to the P-256-only "
                           "server: HelloRetryRequest", go)
    return ["hrr"]


def go_client(env: Tls13Env) -> list[str]:
    go = env.goclient("go-client", "db.lab.test", "db.lab.test")
    if go is None:
        return []
    with env.record("go-client"):
        env.client_run("Go go-sql-driver TLS 1.3, KeyLogWriter", go)
    return ["go-client"]


def reject_name(env: Tls13Env) -> list[str]:
    with env.record("reject-name"):
        env.client_run("PyMySQL check_hostname, host legacy.lab.test (CNAME to db.lab.test; "
                       "certificate names only db.lab.test): encrypted bad_certificate alert",
                       env.pyclient("reject-name", "legacy.lab.test"))
        go = env.goclient("reject-name", "legacy.lab.test", "legacy.lab.test")
        if go:
            env.client_run("Go go-sql-driver, ServerName legacy.lab.test: encrypted alert", go)
    return ["reject-name"]


def client_cert(env: Tls13Env) -> list[str]:
    with env.record("client-cert"):
        env.client_run("PyMySQL TLS 1.3 with a client certificate, REQUIRE X509 user",
                       env.pyclient("client-cert", "db.lab.test", user="x509user", extra=(
                           "--cert", str(env.files.client_chain),
                           "--key", str(env.files.client_key))))
    return ["client-cert"]


SCENARIOS: dict[str, Callable[[Tls13Env], list[str]]] = {
    "suites": suites,
    "hello_retry": hello_retry,
    "go_client": go_client,
    "reject_name": reject_name,
    "client_cert": client_cert,
}


def embed_with_editcap(out: Path) -> None:
    """editcap --inject-secrets: aes128gcm.pcap + its key log -> editcap-embedded.pcapng."""
    subprocess.run(["editcap", "--inject-secrets", f"tls,{out / 'aes128gcm.keylog'}",
                    str(out / "aes128gcm.pcap"), str(out / "editcap-embedded.pcapng")],
                   check=True, capture_output=True, timeout=60)


# --------------------------------------------------------------------------------------------
# tshark facts
# --------------------------------------------------------------------------------------------

FIELDS = ["tcp.stream", "ip.src", "tcp.srcport", "tcp.flags.syn", "tcp.flags.ack",
          "tls.handshake.type", "tls.handshake.ciphersuite", "tls.handshake.certificate",
          "tls.alert_message.desc", "tls.handshake.extensions_alpn_str"]


def tshark_facts(path: Path) -> dict[str, Any]:
    """Per TCP connection what tshark decrypts: cipher suite (of the last ServerHello), number
    of ServerHellos (2 = HelloRetryRequest + ServerHello), the certificates each side sent
    (SHA-256 of the DER, in order), the alerts each side sent, ALPN."""
    opts: list[str] = []
    keylog = path.with_suffix(".keylog")
    if path.suffix == ".pcap" and keylog.exists():
        opts = ["-o", f"tls.keylog_file:{keylog}"]
    opts += ["-d", f"tcp.port=={HRR_PORT},mysql"]
    proc = subprocess.run(
        ["tshark", "-r", str(path), *opts, "-T", "fields", "-E", "aggregator=|",
         "-E", "occurrence=a", *[a for f in FIELDS for a in ("-e", f)]],
        capture_output=True, check=True, timeout=120)
    streams: dict[str, dict[str, Any]] = {}
    for line in proc.stdout.decode(errors="replace").splitlines():
        row = dict(zip(FIELDS, line.split("\t"), strict=False))
        sid = row.get("tcp.stream", "")
        if not sid:
            continue
        src = (row["ip.src"], row["tcp.srcport"])
        conn = streams.setdefault(sid, {"client": None, "cipher_suite": None,
                                        "server_hellos": 0, "server_certificates": [],
                                        "client_certificates": [], "alerts": [], "alpn": []})
        if row["tcp.flags.syn"] == "1" and row["tcp.flags.ack"] == "0":
            conn["client"] = f"{src[0]}:{src[1]}"
        side = "client" if conn["client"] == f"{src[0]}:{src[1]}" else "server"
        types = [t for t in row["tls.handshake.type"].split("|") if t]
        if side == "server" and "2" in types:
            conn["server_hellos"] += types.count("2")
            conn["cipher_suite"] = row["tls.handshake.ciphersuite"].split("|")[-1]
        certs = [c for c in row["tls.handshake.certificate"].split("|") if c]
        for c in certs:
            der = bytes.fromhex(c.replace(":", ""))
            conn[f"{side}_certificates"].append(hashlib.sha256(der).hexdigest())
        for desc in (d for d in row["tls.alert_message.desc"].split("|") if d):
            conn["alerts"].append({"sender": side, "description": int(desc)})
        for a in (x for x in row["tls.handshake.extensions_alpn_str"].split("|") if x):
            conn["alpn"].append(a)
    return {"tshark_options": opts, "connections": list(streams.values())}


def write_facts(out: Path) -> None:
    version = subprocess.run(["tshark", "--version"], capture_output=True, check=True
                             ).stdout.decode().splitlines()[0]
    facts: dict[str, Any] = {"tshark": version, "files": {}}
    for path in sorted(out.glob("*.pcap*")):
        facts["files"][path.name] = tshark_facts(path)
    (out / "tshark-facts.json").write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------------------------


def build_go_client(work: Path) -> Path | None:
    if shutil.which("go") is None or not Path("/usr/share/gocode/src/github.com/"
                                              "go-sql-driver/mysql").exists():
        return None
    src = work / "goclient" / "main.go"
    src.parent.mkdir(parents=True)
    src.write_text(GO_CLIENT)
    binary = work / "goclient" / "goclient"
    env = dict(os.environ, GOPATH="/usr/share/gocode", GO111MODULE="off",
               GOCACHE=str(work / "gocache"))
    subprocess.run(["go", "build", "-o", str(binary), str(src)], check=True, env=env,
                   capture_output=True, timeout=300)
    return binary


@contextlib.contextmanager
def tls13_lab(work: Path, out: Path) -> Iterator[Tls13Env]:
    files = rs.make_certificates(work, out / "certs")
    go = build_go_client(work)
    all_suites = openssl_conf(work / "server-3306.cnf", ciphersuites=ALL_SUITES)
    p256_only = openssl_conf(work / f"server-{HRR_PORT}.cnf", ciphersuites=ALL_SUITES,
                             groups="P-256")
    with lab.Lab() as the_lab, contextlib.ExitStack() as stack:
        client = the_lab.add_host("client", 10)
        server = the_lab.add_host("server", 20)
        dns = the_lab.add_host("dns", 53)
        the_lab.set_resolver(client, dns.ipv4)
        stack.enter_context(lab.start_dnsmasq(
            dns, work, a_records=rs.A_RECORDS, aaaa_records=rs.AAAA_RECORDS, cnames=rs.CNAMES))
        for port, conf in ((3306, all_suites), (HRR_PORT, p256_only)):
            stack.enter_context(lab.start_mariadb(
                server, work, port=port, ssl_cert=files.db_chain, ssl_key=files.db_key,
                ssl_ca=files.bundle, env=dict(os.environ, OPENSSL_CONF=str(conf))))
        yield Tls13Env(client, server, files, work, out, go)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--facts-only", action="store_true")
    args = parser.parse_args(argv)
    out: Path = args.out
    if args.facts_only:
        write_facts(out)
        return 0
    if not lab.have_root():
        print("record_tls13.py must run as root (network namespaces)", file=sys.stderr)
        return 2
    missing = lab.lab_prerequisites_missing()
    if missing:
        print(f"missing programs: {', '.join(missing)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="capture-tls-tls13-") as tmp, \
            tls13_lab(Path(tmp), out) as env:
        for name, scenario in SCENARIOS.items():
            for attempt in range(1, 4):
                written = scenario(env)
                lost = [n for n in written if rs.lost_segments(out / f"{n}.pcap")]
                if not lost:
                    break
                print(f"{name}: attempt {attempt}: packets missing in {lost}", flush=True)
            else:
                raise lab.LabError(f"{name}: captures kept losing packets")
            print(f"{name}: done", flush=True)
        manifest = env.manifest
    for keylog in out.glob("*.keylog"):
        keylog.chmod(0o644)  # Go's KeyLogWriter file was opened 0600
    embed_with_editcap(out)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    write_facts(out)
    print(f"recorded in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
