"""What tshark (the second implementation) sees in every sample capture.

Run: ``python3 samples/lab/tshark_facts.py`` after recording/deriving. Writes
``samples/tshark-facts.json`` and rewrites the part of ``samples/README.md`` between the
``tshark-facts`` markers. For every file: packets, link types, the TCP connections (first
packet's source -> destination), and per connection the TLS facts tshark decodes: handshake
version, cipher suite, SNI, the certificates each side sent (SHA-256 of the DER bytes tshark
extracted, subject CN parsed from them), alerts, whether the handshake was abbreviated.

Non-3306 MySQL ports are decoded with ``-d tcp.port==N,mysql``; TCP out-of-order reassembly is
on; tls13.pcap is read with its key log. tshark's own options for each file are in the JSON.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

SAMPLES_DIR = Path(__file__).resolve().parents[1]
README = SAMPLES_DIR / "README.md"
BEGIN, END = "<!-- tshark-facts:begin -->", "<!-- tshark-facts:end -->"

MYSQL_PORTS = (3307, 3308, 13306)
CIPHERS = {
    "0xc030": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "0xc02f": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "0xcca8": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "0x1301": "TLS_AES_128_GCM_SHA256",
    "0x1302": "TLS_AES_256_GCM_SHA384",
    "0x1303": "TLS_CHACHA20_POLY1305_SHA256",
}
VERSIONS = {"0x0303": "TLS 1.2", "0x0304": "TLS 1.3", "0x0302": "TLS 1.1", "0x0301": "TLS 1.0"}
ALERTS = {"0": "close_notify", "40": "handshake_failure", "42": "bad_certificate",
          "45": "certificate_expired", "46": "certificate_unknown", "48": "unknown_ca",
          "50": "decode_error", "51": "decrypt_error", "70": "protocol_version",
          "80": "internal_error", "112": "unrecognized_name"}

FIELDS = [
    "frame.number", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst",
    "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack", "tls.handshake.type",
    "tls.handshake.ciphersuite", "tls.handshake.extensions.supported_version",
    "tls.handshake.version", "tls.handshake.extensions_server_name",
    "tls.handshake.certificate", "tls.alert_message.desc", "tls.record.content_type",
    "frame.interface_name", "mysql.user",
]


def tshark_options(path: Path) -> list[str]:
    opts = ["-o", "tcp.reassemble_out_of_order:TRUE"]
    for port in MYSQL_PORTS:
        opts += ["-d", f"tcp.port=={port},mysql"]
    keylog = path.with_suffix(".keylog")
    if keylog.exists():
        opts += ["-o", f"tls.keylog_file:{keylog}"]
    return opts


def cert_facts(hex_der: str) -> dict[str, str]:
    der = bytes.fromhex(hex_der.replace(":", ""))
    facts = {"sha256": hashlib.sha256(der).hexdigest(), "der_bytes": str(len(der))}
    try:
        cert = x509.load_der_x509_certificate(der)
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        facts["subject_cn"] = str(cns[0].value) if cns else ""
    except ValueError:
        facts["subject_cn"] = "(not a certificate)"
    return facts


def facts_for(path: Path) -> dict[str, Any]:
    opts = tshark_options(path)
    proc = subprocess.run(
        ["tshark", "-r", str(path), *opts, "-T", "fields", "-E", "aggregator=|",
         "-E", "occurrence=a", *[a for f in FIELDS for a in ("-e", f)]],
        capture_output=True, check=False, timeout=120,
    )
    warnings = [line for line in proc.stderr.decode(errors="replace").splitlines()
                if line and "Running as user" not in line]
    streams: dict[str, dict[str, Any]] = {}
    packets = 0
    interfaces: set[str] = set()
    for line in proc.stdout.decode(errors="replace").splitlines():
        packets += 1
        row = dict(zip(FIELDS, line.split("\t"), strict=False))
        if row.get("frame.interface_name"):
            interfaces.add(row["frame.interface_name"])
        sid = row.get("tcp.stream", "")
        if not sid:
            continue
        src = row["ip.src"] or row["ipv6.src"]
        dst = row["ip.dst"] or row["ipv6.dst"]
        conn = streams.setdefault(sid, {
            "first": f"{src}:{row['tcp.srcport']} -> {dst}:{row['tcp.dstport']}",
            "syn_seen": False, "tls_version": None, "cipher_suite": None, "sni": None,
            "certificates": {}, "alerts": [], "abbreviated_handshake": False,
            "mysql_user": None, "_client": (src, row["tcp.srcport"]),
        })
        if row["tcp.flags.syn"] == "1" and row["tcp.flags.ack"] == "0":
            conn["syn_seen"] = True
            conn["_client"] = (src, row["tcp.srcport"])
        side = "client" if (src, row["tcp.srcport"]) == conn["_client"] else "server"
        types = row["tls.handshake.type"].split("|") if row["tls.handshake.type"] else []
        if "2" in types:
            suites = row["tls.handshake.ciphersuite"].split("|")
            conn["cipher_suite"] = CIPHERS.get(suites[0], suites[0])
            supported = row["tls.handshake.extensions.supported_version"].split("|")
            version = supported[0] if supported[0] else row["tls.handshake.version"].split("|")[0]
            conn["tls_version"] = VERSIONS.get(version, version)
            if conn["tls_version"] != "TLS 1.3" and "11" not in types and "20" in row[
                    "tls.record.content_type"].split("|"):
                conn["abbreviated_handshake"] = True
        if "1" in types and row["tls.handshake.extensions_server_name"]:
            conn["sni"] = row["tls.handshake.extensions_server_name"].split("|")[0]
        if row["tls.handshake.certificate"]:
            certs = [cert_facts(h) for h in row["tls.handshake.certificate"].split("|") if h]
            conn["certificates"].setdefault(side, []).append(certs)
        if row["tls.alert_message.desc"]:
            for desc in row["tls.alert_message.desc"].split("|"):
                conn["alerts"].append(f"{side}: {ALERTS.get(desc, desc)}")
        if row["mysql.user"]:
            conn["mysql_user"] = row["mysql.user"].split("|")[0]
    for conn in streams.values():
        del conn["_client"]
    return {
        "file": str(path.relative_to(SAMPLES_DIR)),
        "tshark_options": opts,
        "packets": packets,
        "interfaces": sorted(interfaces),
        "tshark_messages": warnings[:3],
        "connections": [streams[k] for k in sorted(streams, key=int)],
    }


def markdown(all_facts: list[dict[str, Any]]) -> str:
    lines = ["| file | packets | tcp conn (first packet) | TLS | cipher | SNI | "
             "certificates (side: CN sha256[:16]) | alerts |", "|---|---|---|---|---|---|---|---|"]
    for facts in all_facts:
        first = True
        conns = facts["connections"] or [None]
        for conn in conns:
            name = f"`{facts['file']}`" if first else ""
            pk = str(facts["packets"]) if first else ""
            first = False
            if conn is None:
                lines.append(f"| {name} | {pk} | (no TCP) | | | | | |")
                continue
            certs = []
            for side, messages in conn["certificates"].items():
                for chain in messages:
                    certs.append(f"{side}: " + ", ".join(
                        f"{c['subject_cn']} {c['sha256'][:16]}" for c in chain))
            tls = conn["tls_version"] or ""
            if conn["abbreviated_handshake"]:
                tls += " (resumed)"
            user = conn["mysql_user"]
            first_cell = conn["first"] + ("" if conn["syn_seen"] else " (no SYN)")
            if user:
                first_cell += f" user={user}"
            lines.append(
                f"| {name} | {pk} | {first_cell} | {tls} | {conn['cipher_suite'] or ''} | "
                f"{conn['sni'] or ''} | {'<br>'.join(certs)} | {', '.join(conn['alerts'])} |"
            )
    return "\n".join(lines)


CERTS_BEGIN, CERTS_END = "<!-- certs:begin -->", "<!-- certs:end -->"


def certs_markdown() -> str:
    """The exported certificates (parsed with cryptography, not tshark)."""
    lines = ["| file | subject | issuer CN | SANs | not before / not after | sha256 |",
             "|---|---|---|---|---|---|"]
    for pem in sorted((SAMPLES_DIR / "certs").glob("*.pem")):
        cert = x509.load_pem_x509_certificate(pem.read_bytes())
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            sans = ", ".join(str(getattr(n, "value", n)) for n in san)
        except x509.ExtensionNotFound:
            sans = ""
        issuer_cn = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
        lines.append(
            f"| `certs/{pem.name}` | {cert.subject.rfc4514_string()} | "
            f"{str(issuer_cn[0].value) if issuer_cn else ''} | {sans} | "
            f"{cert.not_valid_before_utc:%Y-%m-%d} / {cert.not_valid_after_utc:%Y-%m-%d} | "
            f"`{hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()}` |"
        )
    return "\n".join(lines)


def replace_block(text: str, begin: str, end: str, body: str) -> str:
    if begin not in text or end not in text:
        return text
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}\n{end}{tail}"


def main() -> int:
    files = sorted([*SAMPLES_DIR.glob("*.pcap"), *SAMPLES_DIR.glob("*.pcapng"),
                    *SAMPLES_DIR.glob("derived/*.pcap")])
    all_facts = [facts_for(p) for p in files]
    (SAMPLES_DIR / "tshark-facts.json").write_text(json.dumps(all_facts, indent=1) + "\n")
    table = markdown(all_facts)
    if README.exists():
        text = replace_block(README.read_text(), BEGIN, END, table)
        README.write_text(replace_block(text, CERTS_BEGIN, CERTS_END, certs_markdown()))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
