"""PyMySQL with name verification: ssl={'ca': CA, 'check_hostname': True}.

Usage: pymysql_client.py HOST PORT USER PASSWORD CA. Prints ``OK`` (exit 0) after ``SELECT 1``
or ``FAILED <error>`` (exit 1).
"""

from __future__ import annotations

import sys

import pymysql  # type: ignore[import-untyped]


def main(argv: list[str]) -> int:
    host, port, user, password, ca = argv
    try:
        conn = pymysql.connect(
            host=host, port=int(port), user=user, password=password,
            ssl={"ca": ca, "check_hostname": True}, connect_timeout=10,
        )
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchall()
        conn.close()
    except Exception as exc:  # the outcome is the point: print it
        print(f"FAILED {type(exc).__name__}: {exc}")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
