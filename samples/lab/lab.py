"""A small network lab for recording real MySQL/TLS captures.

Theory of operation
-------------------
Everything runs as root on one Linux machine, inside network namespaces this module creates and
always removes again (context managers, ``finally`` blocks):

* :class:`Lab` makes one "switch" namespace holding a bridge and, per host, a namespace with an
  ``eth0`` veth interface plugged into that bridge. All hosts share one LAN:
  ``10.77.<subnet>.<host>/24`` and ``fd77::<subnet>:<host>/64`` (``fd77::/64``). Generic
  segmentation offload is limited to one segment per packet (``gso_max_segs 1``) so captures
  show MTU-sized TCP segments, as on a real wire.
* :class:`TestPki` makes a throw-away CA hierarchy with ``cryptography`` (RSA 2048): a root, an
  optional intermediate, leaf certificates with configurable CN, DNS/IP SANs (wildcards too),
  validity (expired, not yet valid) and self-signed ones.
* :func:`start_dnsmasq` serves A/AAAA/CNAME records from a DNS host; :meth:`Lab.set_resolver`
  points a host's ``/etc/resolv.conf`` at it (``ip netns exec`` bind-mounts
  ``/etc/netns/<ns>/resolv.conf``).
* :func:`start_mariadb` starts ``mariadbd`` with its own temporary datadir (a copy of one made
  by ``mariadb-install-db``), TLS files and the three lab users :data:`USERS`.
* :func:`capture` runs tcpdump (or dumpcap) in a namespace around a block: it waits until the
  capture is active (the tool's "listening on"/"Capturing on" line), and on exit stops it
  with SIGINT and waits, so the file is complete.

The module has no dependency on capture_tls; tests import it to record fresh captures.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "USERS",
    "CaptureSpec",
    "CertSpec",
    "Host",
    "IssuedCert",
    "Lab",
    "LabError",
    "MariaDbServer",
    "TestPki",
    "capture",
    "have_root",
    "lab_prerequisites_missing",
    "run",
    "start_daemon",
    "start_dnsmasq",
    "start_mariadb",
    "start_postgres",
    "start_process",
]

LAB_SUBNET_PREFIX = "10.77"
LAB_IPV6_PREFIX = "fd77::"
#: Time allowed for a daemon (mariadbd, dnsmasq, tcpdump) to become ready.
READY_TIMEOUT_SECONDS = 30.0

#: The lab's MySQL users: name -> (password, REQUIRE clause).
USERS: dict[str, tuple[str, str]] = {
    "plain": ("plain-pass", "NONE"),
    "tlsonly": ("tls-pass", "SSL"),
    "x509user": ("x509-pass", "X509"),
}


class LabError(RuntimeError):
    """A lab step failed (a command returned non-zero, a daemon did not start)."""


def have_root() -> bool:
    return os.geteuid() == 0


def lab_prerequisites_missing() -> list[str]:
    """Names of the programs the lab needs that are not installed (empty when all are)."""
    needed = ["ip", "tcpdump", "dumpcap", "dnsmasq", "mariadbd", "mariadb-install-db", "mariadb"]
    return [name for name in needed if shutil.which(name) is None]


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    input_bytes: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command, capture its output; raise LabError on a non-zero exit when ``check``."""
    proc = subprocess.run(
        list(argv),
        capture_output=True,
        timeout=timeout,
        env=env,
        input=input_bytes,
        check=False,
    )
    if check and proc.returncode != 0:
        raise LabError(
            f"{' '.join(argv)} exited {proc.returncode}: "
            f"{proc.stderr.decode(errors='replace').strip()[:2000]}"
        )
    return proc


def start_process(
    argv: Sequence[str], *, log_path: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a background process in its own process group; output goes to ``log_path``."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    finally:
        if log_path:
            out.close()  # type: ignore[union-attr]


def stop_process(
    proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, wait: float = 10.0
) -> None:
    """Stop one process we started (by its pid), escalating to SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=wait)


# --------------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertSpec:
    """What a certificate should say. Times are relative to "now" in days."""

    common_name: str | None
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    organization: str = "capture-tls lab"
    not_before_days: float = -1.0
    not_after_days: float = 365.0
    is_ca: bool = False
    path_length: int | None = None
    client_auth: bool = False
    server_auth: bool = True
    serial: int | None = None


@dataclass(frozen=True)
class IssuedCert:
    """A certificate, its private key, and the CA certificates between it and the root."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def sha256(self) -> str:
        return self.cert.fingerprint(hashes.SHA256()).hex()

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def chain_pem(self) -> bytes:
        """The certificate followed by its intermediates, as a server sends it."""
        return self.cert_pem() + b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in self.chain
        )

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def write(self, directory: Path, stem: str) -> tuple[Path, Path, Path]:
        """Write ``stem.pem`` (cert), ``stem-chain.pem`` and ``stem-key.pem``; return them."""
        directory.mkdir(parents=True, exist_ok=True)
        cert_path = directory / f"{stem}.pem"
        chain_path = directory / f"{stem}-chain.pem"
        key_path = directory / f"{stem}-key.pem"
        cert_path.write_bytes(self.cert_pem())
        chain_path.write_bytes(self.chain_pem())
        key_path.write_bytes(self.key_pem())
        key_path.chmod(0o600)
        return cert_path, chain_path, key_path


def _name(spec: CertSpec) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, spec.organization)]
    if spec.common_name is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, spec.common_name))
    return x509.Name(attrs)


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def build_certificate(
    spec: CertSpec,
    key: rsa.RSAPrivateKey,
    issuer: IssuedCert | None,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """Sign a certificate for ``spec``; ``issuer`` None means self-signed."""
    now = now or dt.datetime.now(dt.UTC)
    subject = _name(spec)
    issuer_name = issuer.cert.subject if issuer else subject
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(spec.serial or x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=spec.not_before_days))
        .not_valid_after(now + dt.timedelta(days=spec.not_after_days))
        .add_extension(
            x509.BasicConstraints(ca=spec.is_ca, path_length=spec.path_length), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if spec.is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        usages = []
        if spec.server_auth:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if spec.client_auth:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in spec.dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in spec.ip_addresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


@dataclass
class TestPki:
    """A root CA, optionally an intermediate, and leaves issued from them."""

    root: IssuedCert
    intermediate: IssuedCert | None = None

    @classmethod
    def create(cls, name: str = "capture-tls lab", with_intermediate: bool = True) -> TestPki:
        root_key = new_rsa_key()
        root_spec = CertSpec(
            f"{name} Root CA", not_before_days=-30, not_after_days=3650, is_ca=True,
            server_auth=False,
        )
        root = IssuedCert(build_certificate(root_spec, root_key, None), root_key)
        intermediate = None
        if with_intermediate:
            int_key = new_rsa_key()
            int_spec = CertSpec(
                f"{name} Intermediate CA", not_before_days=-30, not_after_days=1825, is_ca=True,
                path_length=0, server_auth=False,
            )
            intermediate = IssuedCert(
                build_certificate(int_spec, int_key, root), int_key, (root.cert,)
            )
        return cls(root, intermediate)

    @property
    def issuing_ca(self) -> IssuedCert:
        return self.intermediate or self.root

    def issue(self, spec: CertSpec, *, from_root: bool = False) -> IssuedCert:
        """A leaf signed by the intermediate (or the root); its chain excludes the root."""
        issuer = self.root if from_root else self.issuing_ca
        key = new_rsa_key()
        chain = () if issuer is self.root else (issuer.cert,)
        return IssuedCert(build_certificate(spec, key, issuer), key, chain)

    @staticmethod
    def self_signed(spec: CertSpec) -> IssuedCert:
        key = new_rsa_key()
        return IssuedCert(build_certificate(spec, key, None), key)

    def ca_bundle_pem(self) -> bytes:
        """Root and intermediate, for a server's --ssl-ca or a client's trust store."""
        certs = [self.root.cert] + ([self.intermediate.cert] if self.intermediate else [])
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


# --------------------------------------------------------------------------------------------
# Namespaces
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Host:
    """One namespace on the lab LAN."""

    name: str
    netns: str
    ipv4: str
    ipv6: str
    interface: str = "eth0"
    switch_port: str = ""  # this host's port on the bridge, in the switch namespace

    def cmd(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed so that it runs inside this host's namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def run(self, argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        return run(self.cmd(argv), **kwargs)  # type: ignore[arg-type]


@dataclass
class Lab:
    """A bridge namespace and hosts on it. Use as a context manager; everything is removed."""

    prefix: str = field(default_factory=lambda: f"ctls{os.getpid() % 100000}")
    subnet: int = 1
    hosts: dict[str, Host] = field(default_factory=dict)
    _namespaces: list[str] = field(default_factory=list)
    _netns_dirs: list[Path] = field(default_factory=list)

    @property
    def switch_ns(self) -> str:
        return f"{self.prefix}-sw"

    def __enter__(self) -> Lab:
        try:
            self._add_ns(self.switch_ns)
            sw = self.switch_ns
            run(["ip", "-n", sw, "link", "add", "br0", "type", "bridge"])
            run(["ip", "-n", sw, "link", "set", "br0", "up"])
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _add_ns(self, name: str) -> None:
        run(["ip", "netns", "add", name])
        self._namespaces.append(name)
        run(["ip", "-n", name, "link", "set", "lo", "up"])

    def add_host(self, name: str, host_number: int, mtu: int = 1500) -> Host:
        """A namespace ``<prefix>-<name>`` with eth0 = 10.77.<subnet>.<n>/24, fd77::<subnet>:<n>."""
        if not 1 <= host_number <= 254:
            raise ValueError("host_number must be 1..254")
        ns = f"{self.prefix}-{name}"
        self._add_ns(ns)
        port = f"p{host_number}"
        run(["ip", "link", "add", "eth0", "netns", ns, "mtu", str(mtu), "type", "veth",
             "peer", "name", port, "netns", self.switch_ns, "mtu", str(mtu)])
        for target_ns, ifname in ((ns, "eth0"), (self.switch_ns, port)):
            # One segment per packet: captures show wire-sized segments, not GSO super-packets.
            run(["ip", "-n", target_ns, "link", "set", ifname, "gso_max_segs", "1"])
        run(["ip", "-n", self.switch_ns, "link", "set", port, "master", "br0"])
        run(["ip", "-n", self.switch_ns, "link", "set", port, "up"])
        ipv4 = f"{LAB_SUBNET_PREFIX}.{self.subnet}.{host_number}"
        ipv6 = f"{LAB_IPV6_PREFIX}{self.subnet}:{host_number}"
        run(["ip", "-n", ns, "addr", "add", f"{ipv4}/24", "dev", "eth0"])
        run(["ip", "-n", ns, "-6", "addr", "add", f"{ipv6}/64", "dev", "eth0", "nodad"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        host = Host(name, ns, ipv4, ipv6, switch_port=port)
        self.hosts[name] = host
        return host

    def set_resolver(self, host: Host, nameserver: str) -> None:
        """Make ``host`` resolve names through ``nameserver`` (glibc, via /etc/netns)."""
        directory = Path("/etc/netns") / host.netns
        directory.mkdir(parents=True, exist_ok=True)
        self._netns_dirs.append(directory)
        (directory / "resolv.conf").write_text(
            f"nameserver {nameserver}\noptions timeout:2 attempts:2\n"
        )

    def close(self) -> None:
        for directory in reversed(self._netns_dirs):
            shutil.rmtree(directory, ignore_errors=True)
            with contextlib.suppress(OSError):
                directory.parent.rmdir()  # /etc/netns itself, when nothing else is in it
        self._netns_dirs.clear()
        for ns in reversed(self._namespaces):
            run(["ip", "netns", "del", ns], check=False)
        self._namespaces.clear()
        self.hosts.clear()


# --------------------------------------------------------------------------------------------
# Daemons
# --------------------------------------------------------------------------------------------


def _wait_for(
    predicate: Callable[[], bool], what: str, timeout: float = READY_TIMEOUT_SECONDS
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise LabError(f"timed out waiting for {what}")


@contextlib.contextmanager
def start_dnsmasq(
    host: Host,
    workdir: Path,
    *,
    a_records: dict[str, str] | None = None,
    aaaa_records: dict[str, str] | None = None,
    cnames: dict[str, str] | None = None,
    local_domains: Sequence[str] = ("lab.test",),
) -> Iterator[subprocess.Popen[bytes]]:
    """dnsmasq on ``host`` answering only the given records.

    Names under ``local_domains`` without a record get NXDOMAIN/NODATA (not REFUSED).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"dnsmasq-{host.name}.log"
    argv = [
        "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
        "--bind-interfaces", f"--listen-address={host.ipv4}", f"--listen-address={host.ipv6}",
        "--except-interface=lo", f"--pid-file={workdir / f'dnsmasq-{host.name}.pid'}",
        "--log-facility=-", "--log-queries", "--cache-size=0", "--user=root", "--group=root",
    ]
    names = set(a_records or {}) | set(aaaa_records or {})
    for name in sorted(names):
        addrs = [a for a in ((a_records or {}).get(name), (aaaa_records or {}).get(name)) if a]
        argv.append(f"--host-record={name},{','.join(addrs)}")
    argv += [f"--local=/{domain}/" for domain in local_domains]
    for alias, target in (cnames or {}).items():
        argv.append(f"--cname={alias},{target}")
    proc = start_process(host.cmd(argv), log_path=log)
    try:
        _wait_for(
            lambda: proc.poll() is not None
            or "started, version" in log.read_text(errors="replace"),
            "dnsmasq",
        )
        if proc.poll() is not None:
            raise LabError(f"dnsmasq exited: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
        yield proc
    finally:
        stop_process(proc)


@contextlib.contextmanager
def start_daemon(
    host: Host, argv: Sequence[str], log_path: Path, ready_text: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` in ``host`` until the block ends; ready once ``ready_text`` is logged."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(b"")
    proc = start_process(host.cmd(["env", "PYTHONUNBUFFERED=1", *argv]), log_path=log_path)
    try:
        _wait_for(
            lambda: proc.poll() is not None
            or ready_text in log_path.read_text(errors="replace"),
            f"{argv[0]} on {host.name}",
        )
        if proc.poll() is not None:
            raise LabError(f"{argv[0]} exited: {log_path.read_text(errors='replace')[-2000:]}")
        yield proc
    finally:
        stop_process(proc)


POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


@contextlib.contextmanager
def start_postgres(
    host: Host,
    workdir: Path,
    *,
    port: int = 5432,
    ssl_cert: Path | None = None,
    ssl_key: Path | None = None,
    bin_dir: Path = POSTGRES_BIN,
    settings: dict[str, str] | None = None,
) -> Iterator[Path]:
    """A real PostgreSQL server (Debian's postgresql package) on ``host``; trust auth.

    initdb refuses root, so the cluster belongs to the ``postgres`` system user, in a
    directory of its own under /tmp (``workdir`` may be private to root; it holds the log).
    Yields the cluster directory.
    """
    base = Path(tempfile.mkdtemp(prefix=f"capture-tls-pg-{port}-"))
    try:
        base.chmod(0o755)
        shutil.chown(base, "postgres", "postgres")
        with _postgres_cluster(
            host, workdir, base, port, ssl_cert, ssl_key, bin_dir, settings or {}
        ) as data:
            yield data
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def _postgres_cluster(
    host: Host,
    workdir: Path,
    base: Path,
    port: int,
    ssl_cert: Path | None,
    ssl_key: Path | None,
    bin_dir: Path,
    settings: dict[str, str],
) -> Iterator[Path]:
    data = base / "data"
    run(["runuser", "-u", "postgres", "--", str(bin_dir / "initdb"), "-D", str(data),
         "-A", "trust", "-U", "postgres", "--no-sync"], timeout=120)
    with open(data / "pg_hba.conf", "a") as hba:
        hba.write("host all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n")
    argv = ["runuser", "-u", "postgres", "--", str(bin_dir / "postgres"), "-D", str(data),
            "-p", str(port), "-c", "listen_addresses=*", "-c", f"unix_socket_directories={base}"]
    if ssl_cert and ssl_key:
        for src, name in ((ssl_cert, "server.crt"), (ssl_key, "server.key")):
            shutil.copy(src, data / name)
            shutil.chown(data / name, "postgres", "postgres")
            (data / name).chmod(0o600)
        argv += ["-c", "ssl=on", "-c", "ssl_cert_file=server.crt", "-c", "ssl_key_file=server.key"]
    for name, value in settings.items():
        argv += ["-c", f"{name}={value}"]
    log = workdir / f"postgres-{host.name}-{port}.log"
    with start_daemon(host, argv, log, "ready to accept connections"):
        yield data


_DATADIR_TEMPLATE: dict[str, Path] = {}
_TEMPLATE_LOCK = threading.Lock()


def mariadb_template_datadir(base: Path) -> Path:
    """A datadir made once per process by mariadb-install-db; servers get copies of it."""
    with _TEMPLATE_LOCK:
        cached = _DATADIR_TEMPLATE.get(str(base))
        if cached and cached.exists():
            return cached
        datadir = base / "datadir-template"
        if datadir.exists():
            shutil.rmtree(datadir)
        datadir.mkdir(parents=True)
        run(
            ["mariadb-install-db", "--no-defaults", "--auth-root-authentication-method=normal",
             f"--datadir={datadir}", "--user=root", "--skip-test-db", "--skip-name-resolve"],
            timeout=180,
        )
        _DATADIR_TEMPLATE[str(base)] = datadir
        return datadir


@dataclass(frozen=True)
class MariaDbServer:
    host: Host
    port: int
    socket: Path
    datadir: Path
    log: Path

    def sql(self, statement: str) -> str:
        """Run SQL as root over the unix socket (no network traffic)."""
        proc = run(["mariadb", "--no-defaults", "-S", str(self.socket), "-uroot", "-N", "-B",
                    "-e", statement])
        return proc.stdout.decode()


@contextlib.contextmanager
def start_mariadb(
    host: Host,
    workdir: Path,
    *,
    port: int = 3306,
    ssl_cert: Path | None = None,
    ssl_key: Path | None = None,
    ssl_ca: Path | None = None,
    tls_version: str | None = None,
    extra_args: Sequence[str] = (),
    create_users: bool = True,
    env: dict[str, str] | None = None,
) -> Iterator[MariaDbServer]:
    """mariadbd on ``host`` (all addresses, IPv4 and IPv6) with a private copy of the datadir.

    ``env`` replaces mariadbd's environment (e.g. ``OPENSSL_CONF`` for TLS 1.3 suites/groups).
    """
    template = mariadb_template_datadir(workdir)
    base = workdir / f"mariadb-{host.name}-{port}"
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    datadir = base / "data"
    shutil.copytree(template, datadir, symlinks=True)
    sock = base / "mysqld.sock"
    log = base / "error.log"
    argv = [
        "mariadbd", "--no-defaults", "--user=root", f"--datadir={datadir}", f"--socket={sock}",
        f"--port={port}", "--bind-address=*", f"--pid-file={base / 'mysqld.pid'}",
        f"--log-error={log}", "--skip-name-resolve", "--innodb-buffer-pool-size=16M",
        "--performance-schema=OFF", "--skip-log-bin", "--max-connections=20",
    ]
    if ssl_cert:
        argv.append(f"--ssl-cert={ssl_cert}")
    if ssl_key:
        argv.append(f"--ssl-key={ssl_key}")
    if ssl_ca:
        argv.append(f"--ssl-ca={ssl_ca}")
    if tls_version:
        argv.append(f"--tls-version={tls_version}")
    argv += list(extra_args)
    proc = start_process(host.cmd(argv), log_path=base / "stdout.log", env=env)
    server = MariaDbServer(host, port, sock, datadir, log)
    try:
        def ready() -> bool:
            if proc.poll() is not None:
                return True
            if not sock.exists():
                return False
            return run(["mariadb-admin", "--no-defaults", "-S", str(sock), "-uroot", "ping"],
                       check=False).returncode == 0

        _wait_for(ready, f"mariadbd on {host.name}:{port}", timeout=60)
        if proc.poll() is not None:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise LabError(f"mariadbd exited {proc.returncode}: {text[-3000:]}")
        if create_users:
            statements = []
            for user, (password, require) in USERS.items():
                statements.append(
                    f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}' REQUIRE {require};"
                )
                statements.append(f"GRANT USAGE ON *.* TO '{user}'@'%';")
            server.sql(" ".join(statements))
        yield server
    finally:
        stop_process(proc, wait=30)


# --------------------------------------------------------------------------------------------
# Capturing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureSpec:
    """How to record: tool, interfaces, link type, snap length, timestamp precision, filter."""

    interfaces: tuple[str, ...] = ("eth0",)
    tool: str = "tcpdump"  # or "dumpcap" (pcapng; several interfaces)
    link_type: str | None = None  # e.g. "LINUX_SLL2" (tcpdump -y)
    snaplen: int | None = None
    nanosecond: bool = False
    bpf_filter: str = "tcp or port 53"
    pcapng: bool = False  # dumpcap writes pcapng unless this is False (-P)


def _capture_argv(spec: CaptureSpec, path: Path) -> tuple[list[str], str]:
    if spec.tool == "tcpdump":
        if len(spec.interfaces) != 1:
            raise ValueError("tcpdump captures one interface (use 'any' or dumpcap)")
        argv = ["tcpdump", "-n", "-U", "--immediate-mode", "-Z", "root",
                "-i", spec.interfaces[0], "-w", str(path)]
        if spec.link_type:
            argv += ["-y", spec.link_type]
        if spec.snaplen:
            argv += ["-s", str(spec.snaplen)]
        if spec.nanosecond:
            argv += ["--time-stamp-precision=nano"]
        if spec.bpf_filter:
            argv.append(spec.bpf_filter)
        return argv, "listening on"
    if spec.tool == "dumpcap":
        argv = ["dumpcap", "-q"]
        for iface in spec.interfaces:
            argv += ["-i", iface]
            if spec.bpf_filter:
                argv += ["-f", spec.bpf_filter]
            if spec.snaplen:
                argv += ["-s", str(spec.snaplen)]
        if not spec.pcapng:
            argv.append("-P")
        argv += ["-w", str(path)]
        return argv, "Capturing on"
    raise ValueError(f"unknown capture tool {spec.tool!r}")


@contextlib.contextmanager
def capture(
    host: Host, path: Path, spec: CaptureSpec | None = None, settle_seconds: float = 0.3
) -> Iterator[Path]:
    """Record on ``host`` while the block runs; the file is complete when the block exits."""
    spec = spec or CaptureSpec()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    argv, ready_text = _capture_argv(spec, path)
    with tempfile.NamedTemporaryFile(prefix="capture-", suffix=".log", delete=False) as tmp:
        log = Path(tmp.name)
    proc = start_process(host.cmd(argv), log_path=log)
    try:
        _wait_for(
            lambda: proc.poll() is not None or ready_text in log.read_text(errors="replace"),
            f"{spec.tool} to start capturing",
        )
        if proc.poll() is not None:
            raise LabError(f"{spec.tool} exited: {log.read_text(errors='replace')}")
        time.sleep(0.2)
        yield path
        time.sleep(settle_seconds)  # let the last FIN/ACK land in the file
    finally:
        stop_process(proc, sig=signal.SIGINT)
        log.unlink(missing_ok=True)
