"""The real clients of the matrix and how each is run.

Each runner prints one line, ``OK`` after ``SELECT 1`` or ``FAILED <error>``, and exits 0 when it
connected (1 when it did not); the mariadb CLI prints its own error text. Every runner but
``mariadb-cli-noverify`` and ``node-mysql2-ca`` has name verification on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CLIENTS",
    "KEYLOG_METHODS",
    "ClientRunner",
    "Tools",
    "build_go_client",
    "build_keylog_shim",
    "client",
    "client_versions",
    "with_keylog",
]

CLIENTS_DIR = Path(__file__).resolve().parent / "clients"
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Where scripts/install-clients.sh installs mysql2 (git-ignored).
NPM_DIR = REPO_ROOT / "lab-run" / "npm"
#: Debian's Go source tree (golang-github-go-sql-driver-mysql-dev), for GOPATH-mode builds.
DEBIAN_GOPATH = Path("/usr/share/gocode")
GO_DRIVER_DIR = DEBIAN_GOPATH / "src" / "github.com" / "go-sql-driver" / "mysql"


@dataclass(frozen=True)
class Tools:
    """What the runners need beyond their scripts: the built Go client, Node's module path."""

    go_client: Path | None
    node_modules: Path = NPM_DIR / "node_modules"
    keylog_shim: Path | None = None  # keylog_shim.so (build_keylog_shim), for TLS 1.3 runs


Argv = Callable[[Tools, str, int, str, str, str], list[str]]


@dataclass(frozen=True)
class ClientRunner:
    """One real client: its capture-tls family and how to run it."""

    name: str
    family: str  # capture-tls's --client FAMILY
    verify_identity: bool  # name verification on
    description: str
    argv: Argv
    requires: tuple[str, ...] = ()  # programs/paths that must exist

    def missing(self, tools: Tools) -> str | None:
        """Why this client cannot run here, or None."""
        for need in self.requires:
            if need == "go-client":
                if tools.go_client is None or not tools.go_client.exists():
                    return "the Go client was not built (golang-go, go-sql-driver missing?)"
            elif need == "mysql2":
                if not (tools.node_modules / "mysql2" / "package.json").exists():
                    return f"mysql2 not installed in {tools.node_modules}"
            elif need == "mysql.connector":
                if _python_import_fails("import mysql.connector"):
                    return "mysql-connector-python is not installed"
            elif need == "_mysql_connector":
                if _python_import_fails("import _mysql_connector"):
                    return "mysql-connector-python's C extension does not load"
            elif need == "php-mysqli":
                if shutil.which("php") is None or _php_missing("mysqli"):
                    return "php-cli with php-mysql (mysqli) is not installed"
            elif need == "php-pdo-mysql":
                if shutil.which("php") is None or _php_missing("pdo_mysql"):
                    return "php-cli with php-mysql (pdo_mysql) is not installed"
            elif shutil.which(need) is None:
                return f"{need} is not installed"
        return None


def _python_import_fails(statement: str) -> bool:
    return subprocess.run([sys.executable, "-c", statement], capture_output=True,
                          check=False, timeout=60).returncode != 0


def _php_missing(module: str) -> bool:
    proc = subprocess.run(["php", "-m"], capture_output=True, check=False, timeout=60)
    return module not in proc.stdout.decode().split()


def _mariadb(verify: bool) -> Argv:
    def argv(tools: Tools, host: str, port: int, user: str, password: str, ca: str) -> list[str]:
        args = ["mariadb", "--no-defaults", "-h", host, "-P", str(port), "-u", user,
                f"-p{password}", "--connect-timeout=10", "--ssl", f"--ssl-ca={ca}"]
        if verify:
            args.append("--ssl-verify-server-cert")
        return [*args, "-N", "-B", "-e", "SELECT 1"]
    return argv


def _python(script: str, *mode: str) -> Argv:
    def argv(tools: Tools, host: str, port: int, user: str, password: str, ca: str) -> list[str]:
        return [sys.executable, str(CLIENTS_DIR / script), *mode, host, str(port), user,
                password, ca]
    return argv


def _php(api: str) -> Argv:
    def argv(tools: Tools, host: str, port: int, user: str, password: str, ca: str) -> list[str]:
        return ["php", "-d", "display_errors=stderr", "-d", "log_errors=0",
                str(CLIENTS_DIR / "php_client.php"),
                api, host, str(port), user, password, ca]
    return argv


def _node(mode: str) -> Argv:
    def argv(tools: Tools, host: str, port: int, user: str, password: str, ca: str) -> list[str]:
        return ["env", f"NODE_PATH={tools.node_modules}", "node",
                str(CLIENTS_DIR / "node_client.js"), mode, host, str(port), user, password, ca]
    return argv


def _go(tools: Tools, host: str, port: int, user: str, password: str, ca: str) -> list[str]:
    assert tools.go_client is not None
    return [str(tools.go_client), host, str(port), user, password, ca]


CLIENTS: tuple[ClientRunner, ...] = (
    ClientRunner("mariadb-cli", "mariadb", True,
                 "mariadb CLI --ssl --ssl-ca=CA --ssl-verify-server-cert", _mariadb(True),
                 ("mariadb",)),
    ClientRunner("mariadb-cli-noverify", "mariadb", False,
                 "mariadb CLI --ssl --ssl-ca=CA, without --ssl-verify-server-cert",
                 _mariadb(False), ("mariadb",)),
    ClientRunner("pymysql", "python-ssl", True,
                 "PyMySQL ssl={'ca': CA, 'check_hostname': True}",
                 _python("pymysql_client.py")),
    ClientRunner("connector-python-c", "libmysqlclient", True,
                 "mysql-connector-python C extension (libmysqlclient), ssl_ca=CA, "
                 "ssl_verify_cert=True, ssl_verify_identity=True",
                 _python("connector_client.py", "c-ext"), ("_mysql_connector",)),
    ClientRunner("connector-python-pure", "python-ssl", True,
                 "mysql-connector-python use_pure=True, ssl_ca=CA, ssl_verify_cert=True, "
                 "ssl_verify_identity=True",
                 _python("connector_client.py", "pure"), ("mysql.connector",)),
    ClientRunner("php-mysqli", "mysqlnd", True,
                 "PHP mysqli: mysqli_ssl_set(ca), MYSQLI_OPT_SSL_VERIFY_SERVER_CERT, "
                 "MYSQLI_CLIENT_SSL", _php("mysqli"), ("php-mysqli",)),
    ClientRunner("php-pdo", "mysqlnd", True,
                 "PHP PDO_MYSQL: MYSQL_ATTR_SSL_CA, MYSQL_ATTR_SSL_VERIFY_SERVER_CERT=true",
                 _php("pdo"), ("php-pdo-mysql",)),
    ClientRunner("node-mysql2-ca", "node", False,
                 "mysql2 ssl {ca, rejectUnauthorized: true} (no verifyIdentity)",
                 _node("ca"), ("node", "mysql2")),
    ClientRunner("node-mysql2", "node", True,
                 "mysql2 ssl {ca, rejectUnauthorized: true, verifyIdentity: true}",
                 _node("identity"), ("node", "mysql2")),
    ClientRunner("go-mysql", "go-mysql", True,
                 "go-sql-driver tls=custom (RegisterTLSConfig: RootCAs=CA, ServerName=host)",
                 _go, ("go-client",)),
)


def client(name: str) -> ClientRunner:
    for item in CLIENTS:
        if item.name == name:
            return item
    raise KeyError(name)


#: How each runner writes a TLS key log (NSS format) to a file, for the TLS 1.3 matrix:
#: "shim" (LD_PRELOAD keylog_shim.so, reading $SSLKEYLOGFILE: the OpenSSL-linked C clients),
#: "sslkeylogfile" (Python's ssl.create_default_context reads $SSLKEYLOGFILE itself: PyMySQL
#: and mysql-connector-python's pure mode both build their context with it), "node"
#: (node_client.js appends each TLS socket's 'keylog' event to $SSLKEYLOGFILE; Node's own
#: ``--tls-keylog`` prints a warning that would be taken for the client's output), "go"
#: (go_client.go sets tls.Config.KeyLogWriter when $SSLKEYLOGFILE is set).
KEYLOG_METHODS: dict[str, str] = {
    "mariadb-cli": "shim",
    "mariadb-cli-noverify": "shim",
    "pymysql": "sslkeylogfile",
    "connector-python-c": "shim",
    "connector-python-pure": "sslkeylogfile",
    "php-mysqli": "shim",
    "php-pdo": "shim",
    "node-mysql2-ca": "node",
    "node-mysql2": "node",
    "go-mysql": "go",
}


def with_keylog(runner: ClientRunner, tools: Tools, argv: list[str], keylog: Path) -> list[str]:
    """``argv`` changed so that the client appends its TLS secrets to ``keylog``."""
    method = KEYLOG_METHODS[runner.name]
    env = ["env", f"SSLKEYLOGFILE={keylog}"]
    if method == "shim":
        if tools.keylog_shim is None:
            raise RuntimeError("the key-log shim was not built (gcc, libssl-dev?)")
        env.append(f"LD_PRELOAD={tools.keylog_shim}")
    return [*env, *argv]


def build_keylog_shim(workdir: Path) -> Path | None:
    """Build clients/keylog_shim.c into ``workdir``; None when gcc or OpenSSL's headers
    (libssl-dev) are missing."""
    if shutil.which("gcc") is None or not Path("/usr/include/openssl/ssl.h").exists():
        return None
    out = workdir / "keylog_shim.so"
    proc = subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-o", str(out),
                           str(CLIENTS_DIR / "keylog_shim.c"), "-ldl"],
                          capture_output=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"gcc keylog_shim.c failed: {proc.stderr.decode(errors='replace')}")
    return out


def build_go_client(workdir: Path) -> Path | None:
    """Build go_client.go offline (GOPATH mode on Debian's Go tree); None when Go is missing."""
    if shutil.which("go") is None or not GO_DRIVER_DIR.is_dir():
        return None
    out = workdir / "go_client"
    env = dict(os.environ)
    env.update(GO111MODULE="off", GOPATH=str(DEBIAN_GOPATH), GOFLAGS="", GOPROXY="off",
               GOCACHE=str(workdir / "gocache"), CGO_ENABLED="0")
    proc = subprocess.run(["go", "build", "-o", str(out), str(CLIENTS_DIR / "go_client.go")],
                          capture_output=True, env=env, check=False, timeout=300,
                          cwd=workdir)
    if proc.returncode != 0:
        raise RuntimeError(f"go build failed: {proc.stderr.decode(errors='replace')}")
    return out


def client_versions(tools: Tools) -> dict[str, str]:
    """The exact version of each client program or library, for the findings document."""
    def out(argv: list[str]) -> str:
        try:
            proc = subprocess.run(argv, capture_output=True, check=False, timeout=60)
        except OSError as exc:
            return f"unavailable ({exc})"
        return (proc.stdout + proc.stderr).decode(errors="replace").strip()

    versions = {
        "mariadb": out(["mariadb", "--version"]),
        "pymysql": out([sys.executable, "-c",
                        "import importlib.metadata as m; print(m.version('PyMySQL'))"]),
        "python-openssl": out([sys.executable, "-c", "import ssl; print(ssl.OPENSSL_VERSION)"]),
        "mysql-connector-python": out([sys.executable, "-c",
                                       "import mysql.connector as m; print(m.__version__)"]),
        "connector-c-ext-openssl": out([sys.executable, "-c",
                                        "import _mysql_connector, ssl; "
                                        "print(ssl.OPENSSL_VERSION)"]),
        "php": out(["php", "-r", "echo PHP_VERSION, ' ', OPENSSL_VERSION_TEXT, ' mysqlnd ',"
                    " phpversion('mysqlnd');"]),
        "node": out(["node", "-p", "process.version + ' OpenSSL ' + process.versions.openssl"]),
        "mysql2": out(["node", "-p", f"require('{tools.node_modules}/mysql2/package.json')"
                       ".version"]),
        "go": out(["go", "version"]),
        "go-sql-driver": out(["dpkg-query", "-W", "-f", "${Version}",
                              "golang-github-go-sql-driver-mysql-dev"]),
        "system-openssl": out(["openssl", "version"]),
    }
    return versions
