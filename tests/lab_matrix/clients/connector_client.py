"""mysql-connector-python with ssl_verify_identity=True, C extension or pure-Python mode.

Usage: connector_client.py c-ext|pure HOST PORT USER PASSWORD CA. Prints ``OK`` (exit 0) after
``SELECT 1`` or ``FAILED <error>`` (exit 1); exit 2 when the C extension is asked for but does
not load.

The C extension (``_mysql_connector``, libmysqlclient) is imported before anything imports
Python's ``ssl`` module: imported after it, it may fail to load or the connector silently falls
back to the pure-Python code (DESIGN.md, "Client families").
"""

from __future__ import annotations

import sys

MODE = sys.argv[1] if len(sys.argv) > 1 else ""
if MODE == "c-ext":
    try:
        import _mysql_connector  # type: ignore[import-not-found]  # noqa: F401
    except ImportError as exc:
        print(f"FAILED C extension not loadable: {exc}")
        sys.exit(2)

import mysql.connector  # noqa: E402


def main(argv: list[str]) -> int:
    mode, host, port, user, password, ca = argv
    try:
        conn = mysql.connector.connect(
            host=host, port=int(port), user=user, password=password,
            ssl_ca=ca, ssl_verify_cert=True, ssl_verify_identity=True,
            use_pure=(mode == "pure"), connection_timeout=10,
        )
        implementation = type(conn).__name__
        if (mode == "c-ext") != (implementation == "CMySQLConnection"):
            print(f"FAILED wrong implementation {implementation} for mode {mode}")
            conn.close()
            return 2
        cur = conn.cursor()
        cur.execute("SELECT 1")
        cur.fetchall()
        cur.close()
        conn.close()
    except Exception as exc:  # the outcome is the point: print it
        print(f"FAILED {type(exc).__name__}: {exc}")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
