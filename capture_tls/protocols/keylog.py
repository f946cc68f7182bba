"""NSS key log files (what SSLKEYLOGFILE and `SSLContext.keylog_filename` write), sans-I/O.

Theory of operation
-------------------
The format (NSS "Key Log Format", also what OpenSSL's `SSL_CTX_set_keylog_callback` lines
are, and what a pcapng Decryption Secrets Block of type 0x544C534B "TLSK" holds) is text,
one secret per line:

    <LABEL> <client random: 64 hex digits> <secret: hex>

Lines starting with `#` and blank lines are ignored. Labels used here:

* `CLIENT_RANDOM`: the TLS <= 1.2 master secret (48 bytes). Kept; capture-tls does not need
  it to read TLS 1.2 (the certificate travels in clear).
* TLS 1.3 (RFC 8446 section 7.1), each as long as the suite's hash (32 or 48 bytes):
  `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`,
  `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0`, `EXPORTER_SECRET`,
  `EARLY_EXPORTER_SECRET`, `CLIENT_EARLY_TRAFFIC_SECRET`.

Secrets are looked up by the 32-byte ClientHello random, which is also the same in a second
ClientHello after a HelloRetryRequest (RFC 8446 section 4.1.2).

A key log is untrusted input: a bad line (unknown label, bad hex, wrong length, not ASCII)
becomes a `KeyLogProblem` with its line number and the rest of the file is still used; a
`KeyLog` never raises for its content. Input is bounded by `MAX_KEYLOG_BYTES` and
`MAX_KEYLOG_LINES` (the part beyond is reported, not read) and `MAX_KEYLOG_LINE_BYTES`.
Two key logs (several files, Decryption Secrets Blocks) merge into one; the same label for the
same client random with a different value is a problem and the first value is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CLIENT_EARLY_TRAFFIC_SECRET",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_RANDOM",
    "CLIENT_TRAFFIC_SECRET_0",
    "DSB_TLS_KEY_LOG",
    "EARLY_EXPORTER_SECRET",
    "EXPORTER_SECRET",
    "KEYLOG_LABELS",
    "MAX_KEYLOG_BYTES",
    "MAX_KEYLOG_LINES",
    "MAX_KEYLOG_LINE_BYTES",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_TRAFFIC_SECRET_0",
    "KeyLog",
    "KeyLogProblem",
]

CLIENT_RANDOM: Final = "CLIENT_RANDOM"
CLIENT_EARLY_TRAFFIC_SECRET: Final = "CLIENT_EARLY_TRAFFIC_SECRET"
CLIENT_HANDSHAKE_TRAFFIC_SECRET: Final = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
SERVER_HANDSHAKE_TRAFFIC_SECRET: Final = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
CLIENT_TRAFFIC_SECRET_0: Final = "CLIENT_TRAFFIC_SECRET_0"
SERVER_TRAFFIC_SECRET_0: Final = "SERVER_TRAFFIC_SECRET_0"
EXPORTER_SECRET: Final = "EXPORTER_SECRET"
EARLY_EXPORTER_SECRET: Final = "EARLY_EXPORTER_SECRET"

#: Label -> allowed secret lengths in bytes. TLS 1.2's master secret is always 48 bytes
#: (RFC 5246 section 8.1); TLS 1.3 secrets are as long as the suite's hash (SHA-256: 32,
#: SHA-384: 48; RFC 8446 section 7.1).
KEYLOG_LABELS: Final[Mapping[str, frozenset[int]]] = {
    CLIENT_RANDOM: frozenset({48}),
    CLIENT_EARLY_TRAFFIC_SECRET: frozenset({32, 48}),
    CLIENT_HANDSHAKE_TRAFFIC_SECRET: frozenset({32, 48}),
    SERVER_HANDSHAKE_TRAFFIC_SECRET: frozenset({32, 48}),
    CLIENT_TRAFFIC_SECRET_0: frozenset({32, 48}),
    SERVER_TRAFFIC_SECRET_0: frozenset({32, 48}),
    EXPORTER_SECRET: frozenset({32, 48}),
    EARLY_EXPORTER_SECRET: frozenset({32, 48}),
}

#: pcapng Decryption Secrets Block secrets type of a TLS key log ("TLSK").
DSB_TLS_KEY_LOG: Final = 0x544C534B

# A key log of a busy host for a day is a few MB (about 1 KB per TLS 1.3 connection); 64 MiB
# is tens of thousands of connections and still bounds what one file makes us hold.
MAX_KEYLOG_BYTES: Final = 64 * 1024 * 1024
# Lines read from one key log (about 6 per TLS 1.3 connection).
MAX_KEYLOG_LINES: Final = 1_000_000
# The longest valid line: label (31) + random (64) + secret (96) + 2 spaces = 193; room for CR.
MAX_KEYLOG_LINE_BYTES: Final = 512
# Problems kept per key log; later ones are counted in the last problem's message.
MAX_KEYLOG_PROBLEMS: Final = 100

_HEX = re.compile(r"[0-9A-Fa-f]+")


@dataclass(frozen=True, slots=True)
class KeyLogProblem:
    """A line of a key log that was not used, or a limit that cut the file."""

    source: str  # the file name, or "pcapng DSB #n"
    line: int  # 1-based line number; 0 for a problem of the whole file
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.message}"


class KeyLog:
    """Secrets by ClientHello random. Build with `KeyLog.parse`, combine with `merge`.

    `secrets_for(client_random)` -> {label: secret} (empty dict when the random is unknown);
    `problems` lists every line not used, with its line number.
    """

    __slots__ = ("_entries", "_problems", "_sources")

    def __init__(self) -> None:
        self._entries: dict[bytes, dict[str, bytes]] = {}
        self._problems: list[KeyLogProblem] = []
        self._sources: list[str] = []

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def parse(
        cls,
        data: str | bytes,
        source: str = "<key log>",
        *,
        max_bytes: int = MAX_KEYLOG_BYTES,
        max_lines: int = MAX_KEYLOG_LINES,
    ) -> KeyLog:
        """Parse a whole key log. Never raises for its content: see `problems`."""
        log = cls()
        log._add_text(data, source, max_bytes, max_lines)
        return log

    @classmethod
    def from_secrets_blocks(
        cls, blocks: Iterable[tuple[int, bytes]], source: str = "pcapng"
    ) -> KeyLog:
        """The TLS key logs of pcapng Decryption Secrets Blocks (`CaptureReader.secrets`:
        (secrets type, data) pairs). Blocks of other types (WireGuard, ZigBee, ...) are
        reported as problems and skipped."""
        log = cls()
        for n, (secrets_type, data) in enumerate(blocks, 1):
            name = f"{source} decryption secrets block #{n}"
            if secrets_type != DSB_TLS_KEY_LOG:
                log._problem(name, 0, f"secrets type 0x{secrets_type:08x} is not a TLS key "
                                      "log (0x544c534b); skipped")
                continue
            log._add_text(data, name, MAX_KEYLOG_BYTES, MAX_KEYLOG_LINES)
        return log

    @classmethod
    def merge(cls, logs: Iterable[KeyLog]) -> KeyLog:
        """One key log holding all of `logs`, in order; their problems are kept, and a
        conflict (same random and label, different secret) is one more problem."""
        merged = cls()
        for log in logs:
            merged._problems.extend(log._problems)
            merged._sources.extend(log._sources)
            for random, secrets in log._entries.items():
                for label, secret in secrets.items():
                    merged._put(random, label, secret, log._sources[-1] if log._sources
                                else "<key log>", 0)
        return merged

    # -- queries -----------------------------------------------------------------------------

    def secrets_for(self, client_random: bytes) -> dict[str, bytes]:
        """{label: secret} for this ClientHello random; empty when the log has none."""
        found = self._entries.get(bytes(client_random))
        return dict(found) if found else {}

    def __contains__(self, client_random: object) -> bool:
        return isinstance(client_random, bytes | bytearray) and bytes(client_random) in (
            self._entries
        )

    def __len__(self) -> int:
        """Number of client randoms with at least one secret."""
        return len(self._entries)

    @property
    def client_randoms(self) -> frozenset[bytes]:
        return frozenset(self._entries)

    @property
    def problems(self) -> tuple[KeyLogProblem, ...]:
        return tuple(self._problems)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self._sources)

    def to_text(self, client_randoms: Iterable[bytes] | None = None) -> str:
        """The key log lines (NSS format, lowercase hex, one per secret) of these client
        randoms (all when None), in a stable order: what a Decryption Secrets Block holds."""
        wanted = self._entries.keys() if client_randoms is None else client_randoms
        lines: list[str] = []
        for random in sorted({bytes(r) for r in wanted}):
            for label, secret in sorted(self._entries.get(random, {}).items()):
                lines.append(f"{label} {random.hex()} {secret.hex()}\n")
        return "".join(lines)

    # -- internals ---------------------------------------------------------------------------

    def _problem(self, source: str, line: int, message: str) -> None:
        if len(self._problems) < MAX_KEYLOG_PROBLEMS:
            self._problems.append(KeyLogProblem(source, line, message))
        elif len(self._problems) == MAX_KEYLOG_PROBLEMS:
            self._problems.append(KeyLogProblem(
                source, 0, f"more than {MAX_KEYLOG_PROBLEMS} problems; the rest not listed"))

    def _put(self, random: bytes, label: str, secret: bytes, source: str, line: int) -> None:
        secrets = self._entries.setdefault(random, {})
        old = secrets.get(label)
        if old is None:
            secrets[label] = secret
        elif old != secret:
            self._problem(source, line, f"{label} for client random {random.hex()[:16]}... "
                                        "differs from an earlier line; the earlier one is used")

    def _add_text(self, data: str | bytes, source: str, max_bytes: int, max_lines: int) -> None:
        self._sources.append(source)
        raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data
        if len(raw) > max_bytes:
            cut = raw.rfind(b"\n", 0, max_bytes + 1)
            raw = raw[: cut + 1] if cut >= 0 else b""
            self._problem(source, 0, f"larger than {max_bytes} bytes; only the first "
                                     f"{len(raw)} bytes (whole lines) were read")
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        if len(lines) > max_lines:
            self._problem(source, 0, f"more than {max_lines} lines; the rest was not read")
            del lines[max_lines:]
        for number, line in enumerate(lines, 1):
            self._add_line(line, source, number)

    def _add_line(self, line: bytes, source: str, number: int) -> None:
        if len(line) > MAX_KEYLOG_LINE_BYTES:
            self._problem(source, number, f"line of {len(line)} bytes is too long for a key "
                                          "log line; skipped")
            return
        try:
            text = line.decode("ascii").strip()
        except UnicodeDecodeError:
            self._problem(source, number, "not ASCII text; skipped")
            return
        if not text or text.startswith("#"):
            return
        fields = text.split()
        if len(fields) != 3:
            self._problem(source, number, f"expected 3 fields (label, client random, secret), "
                                          f"found {len(fields)}; skipped")
            return
        label, random_hex, secret_hex = fields
        lengths = KEYLOG_LABELS.get(label)
        if lengths is None:
            if label == "RSA":
                why = "RSA pre-master secret lines are keyed by the encrypted pre-master " \
                      "secret, not a client random; not used"
            else:
                why = f"unknown label {label[:40]!r}; skipped"
            self._problem(source, number, why)
            return
        if len(random_hex) != 64 or not _HEX.fullmatch(random_hex):
            self._problem(source, number, "client random is not 64 hex digits; skipped")
            return
        if len(secret_hex) % 2 or not _HEX.fullmatch(secret_hex):
            self._problem(source, number, f"{label} secret is not hex bytes; skipped")
            return
        secret = bytes.fromhex(secret_hex)
        if len(secret) not in lengths:
            allowed = " or ".join(str(n) for n in sorted(lengths))
            self._problem(source, number, f"{label} secret of {len(secret)} bytes, expected "
                                          f"{allowed}; skipped")
            return
        self._put(bytes.fromhex(random_hex), label, secret, source, number)
