"""A PyMySQL client for the lab: connect, run ``SELECT 1``, print the outcome as one line.

Run inside a namespace: ``ip netns exec NS python3 pyclient.py --host db.lab.test ...``.
Exit status 0 when the query ran, 1 when the connection failed (the failure is printed).
"""

from __future__ import annotations

import argparse
import ssl
import sys

import pymysql  # type: ignore[import-untyped]


def build_context(args: argparse.Namespace) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=args.ca) if args.ca else ssl.SSLContext(
        ssl.PROTOCOL_TLS_CLIENT
    )
    if args.ca:
        ctx.check_hostname = args.check_hostname
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if args.tls_max == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif args.tls_max == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if args.cert:
        ctx.load_cert_chain(args.cert, args.key)
    if args.keylog:
        ctx.keylog_filename = args.keylog
    return ctx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=3306)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", default="")
    parser.add_argument("--no-ssl", action="store_true")
    parser.add_argument("--ca")
    parser.add_argument("--check-hostname", action="store_true")
    parser.add_argument("--tls-max", choices=["1.2", "1.3"])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--keylog")
    args = parser.parse_args(argv)
    try:
        conn = pymysql.connect(
            host=args.host,
            port=args.port,
            user=args.user,
            password=args.password,
            ssl=None if args.no_ssl else build_context(args),
            ssl_disabled=args.no_ssl,
            connect_timeout=10,
        )
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchall()
        conn.close()
    except Exception as exc:  # the outcome is the point: print it, do not hide it
        print(f"FAILED {type(exc).__name__}: {exc}")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
