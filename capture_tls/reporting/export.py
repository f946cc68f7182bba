"""`--export-certs DIR`: the certificates of a report as PEM files, ready for
`openssl x509 -in FILE -text` and `openssl verify -untrusted CHAIN`.

- `<sha256>.pem`: each distinct certificate seen (server and client), named by the lowercase
  hex SHA-256 of its DER (the fingerprint the report shows).
- `chain-<server address>-<port>.pem`: per server, the chain as the server sent it (leaf
  first). A server that sent different chains in one capture gets one file per distinct chain,
  numbered in the order first seen (`...-3306-2.pem`).

`export_files()` is pure (report -> file names and contents); `write_export()` writes them.
File names are made only from hex fingerprints, IP addresses and port numbers; the analysis'
`sha256` is checked to be 64 hex digits and the address to be an IP address before either
becomes part of a name, so nothing from a capture can choose a path.
"""

from __future__ import annotations

import os
import re
from ipaddress import ip_address
from pathlib import Path

from capture_tls.analysis.model import CertificateFacts, Endpoint, Report

__all__ = ["export_files", "write_export"]

_SHA256 = re.compile(r"[0-9a-f]{64}")


def _pem(cert: CertificateFacts) -> str:
    return cert.pem.strip() + "\n"


def _server_name(server: Endpoint) -> str:
    try:
        addr = ip_address(server.ip)
    except ValueError:
        addr_text = "unknown"
    else:
        addr_text = str(addr).replace(":", "_")
    return f"chain-{addr_text}-{int(server.port)}"


def export_files(report: Report) -> list[tuple[str, str]]:
    """(file name, PEM text) for every distinct certificate and every server's chain."""
    files: list[tuple[str, str]] = []
    seen: set[str] = set()
    chains: dict[str, list[tuple[str, ...]]] = {}
    for conn in report.connections:
        for cert in (*conn.server_certificates, *conn.client_certificates):
            if _SHA256.fullmatch(cert.sha256) and cert.sha256 not in seen and cert.pem:
                seen.add(cert.sha256)
                files.append((f"{cert.sha256}.pem", _pem(cert)))
        if conn.server_certificates:
            key = _server_name(conn.server)
            chain = tuple(_pem(c) for c in conn.server_certificates)
            known = chains.setdefault(key, [])
            if chain not in known:
                known.append(chain)
    for key, variants in chains.items():
        for n, chain in enumerate(variants, start=1):
            name = f"{key}.pem" if n == 1 else f"{key}-{n}.pem"
            files.append((name, "".join(chain)))
    return files


def write_export(directory: str, report: Report) -> list[str]:
    """Write `export_files(report)` into `directory` (created if missing); the paths written."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in export_files(report):
        path = target / name
        tmp = target / f".{name}.tmp"
        tmp.write_text(text, encoding="ascii")
        os.replace(tmp, path)
        written.append(str(path))
    return written
