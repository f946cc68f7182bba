"""`inject-keys`: a capture + key logs -> one pcapng carrying only the secrets it needs.

Theory of operation
-------------------
1. Find the ClientHello randoms in the capture with a light scan (no TCP reassembly, no
   per-connection state beyond a few bytes): in every TCP payload look for a TLS handshake
   record header followed by a ClientHello header (`16 03 0x LL LL 01 LL LL LL 03 0x`); the
   32 bytes after it are the random (RFC 8446 section 4.1.2, RFC 5246 section 7.4.1.2). The
   last 43 bytes of each direction's previous payload are kept and put in front of the next
   payload when it continues it (by sequence number), so a ClientHello header cut by a
   segment boundary is still found. A false match can only add a random that is not in the
   key log, or the secrets of a connection that is in the capture anyway.
2. Keep the key log lines (`KeyLog.to_text`) of the randoms found.
3. `sources.pcapng_writer.copy_with_secrets` writes the capture as pcapng with those lines in
   one Decryption Secrets Block ("TLSK"), what `editcap --inject-secrets tls,FILE` writes,
   read by Wireshark/tshark and by capture-tls (`CaptureReader.secrets`) with no option.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from capture_tls.errors import InputError, ProtocolError
from capture_tls.limits import DEFAULT_LIMITS, Limits
from capture_tls.protocols.keylog import DSB_TLS_KEY_LOG, MAX_KEYLOG_BYTES, KeyLog
from capture_tls.sources.captures import open_capture
from capture_tls.sources.frames import decode_frame
from capture_tls.sources.pcapng_writer import copy_with_secrets

__all__ = ["InjectResult", "client_randoms_in_capture", "inject_keys", "read_keylog_file"]

# record header (5) + handshake header (4) + client_version (2), then the random (32)
_CLIENT_HELLO = re.compile(rb"\x16\x03[\x00-\x04][\x00-\xff]{2}\x01[\x00-\xff]{3}\x03[\x00-\x04]")
_RANDOM_OFFSET = 11
_RANDOM_BYTES = 32
_TAIL_BYTES = _RANDOM_OFFSET + _RANDOM_BYTES - 1
_TCP = 6


@dataclass(frozen=True, slots=True)
class InjectResult:
    packets: int  # packets copied
    client_randoms_in_capture: int  # ClientHello randoms found
    client_randoms_with_secrets: int  # of those, in the key log
    key_log_lines: int  # lines written to the Decryption Secrets Block (0: no block)
    problems: tuple[str, ...]  # reading the capture (cut short, damaged blocks)


def read_keylog_file(path: str) -> KeyLog:
    """Read a key log file (bounded by MAX_KEYLOG_BYTES: the part beyond is reported as a
    problem, not read). Raises InputError when the file cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_KEYLOG_BYTES + 1)
    except OSError as e:
        raise InputError(f"{path}: cannot read key log: {e.strerror or e}") from None
    return KeyLog.parse(data, path)


def client_randoms_in_capture(path: str, limits: Limits = DEFAULT_LIMITS) -> set[bytes]:
    """The randoms of the ClientHellos in a capture (see the module docstring)."""
    reader = open_capture(path)
    found: set[bytes] = set()
    # (src, sport, dst, dport) -> (sequence number the next payload starts at, last bytes)
    tails: dict[tuple[bytes, int, bytes, int], tuple[int, bytes]] = {}
    search = _CLIENT_HELLO.finditer
    for _ts, link, frame, _wirelen in reader.frames():
        try:
            seg = decode_frame(link, frame)
        except ProtocolError:
            continue
        if seg is None or seg[3] != _TCP:
            continue
        payload = seg[9]
        if not payload:
            continue
        key = (seg[1], seg[4], seg[2], seg[5])
        seq = seg[6]
        prev = tails.get(key)
        data = prev[1] + payload if prev is not None and prev[0] == seq else payload
        for m in search(data):
            start = m.start() + _RANDOM_OFFSET
            random = data[start : start + _RANDOM_BYTES]
            if len(random) == _RANDOM_BYTES:
                found.add(random)
        if len(tails) >= limits.max_connections_tracked and key not in tails:
            tails.clear()
        tails[key] = ((seq + len(payload)) & 0xFFFFFFFF, data[-_TAIL_BYTES:])
    return found


def inject_keys(capture_path: str, keylog: KeyLog | Iterable[KeyLog], out_path: str,
                limits: Limits = DEFAULT_LIMITS) -> InjectResult:
    """Write `capture_path` as the pcapng `out_path` with a Decryption Secrets Block holding
    the key log lines of the client randoms found in the capture (none: no block). Raises
    InputError when the capture cannot be used or the output cannot be written."""
    log = keylog if isinstance(keylog, KeyLog) else KeyLog.merge(keylog)
    randoms = client_randoms_in_capture(capture_path, limits)
    wanted = sorted(r for r in randoms if r in log)
    text = log.to_text(wanted)
    secrets = [(DSB_TLS_KEY_LOG, text.encode("ascii"))] if text else []
    copied = copy_with_secrets(capture_path, out_path, secrets)
    return InjectResult(
        packets=copied.packets,
        client_randoms_in_capture=len(randoms),
        client_randoms_with_secrets=len(wanted),
        key_log_lines=text.count("\n"),
        problems=tuple(copied.problems),
    )
