"""NSS key log parsing: labels, comments, bad lines with line numbers, limits, merging, DSBs."""

from __future__ import annotations

from pathlib import Path

import pytest

from capture_tls.protocols import keylog
from capture_tls.protocols.keylog import KeyLog

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "tls13"

R1 = bytes(range(32))
R2 = bytes(range(100, 132))
S32 = bytes(range(200, 232))
S48 = bytes(range(1, 49))


def line(label: str, random: bytes, secret: bytes) -> str:
    return f"{label} {random.hex()} {secret.hex()}\n"


def test_every_label_is_read() -> None:
    labels = [
        keylog.CLIENT_HANDSHAKE_TRAFFIC_SECRET, keylog.SERVER_HANDSHAKE_TRAFFIC_SECRET,
        keylog.CLIENT_TRAFFIC_SECRET_0, keylog.SERVER_TRAFFIC_SECRET_0,
        keylog.EXPORTER_SECRET, keylog.EARLY_EXPORTER_SECRET,
        keylog.CLIENT_EARLY_TRAFFIC_SECRET,
    ]
    text = "".join(line(lb, R1, bytes([i]) * 32) for i, lb in enumerate(labels))
    text += line(keylog.CLIENT_RANDOM, R2, S48)
    log = KeyLog.parse(text, "k")
    assert log.problems == ()
    assert log.secrets_for(R1) == {lb: bytes([i]) * 32 for i, lb in enumerate(labels)}
    assert log.secrets_for(R2) == {keylog.CLIENT_RANDOM: S48}
    assert len(log) == 2
    assert log.client_randoms == {R1, R2}


def test_unknown_random_gives_nothing() -> None:
    log = KeyLog.parse(line(keylog.CLIENT_HANDSHAKE_TRAFFIC_SECRET, R1, S32))
    assert log.secrets_for(R2) == {}
    assert R2 not in log
    assert R1 in log


def test_comments_blank_lines_crlf_and_case() -> None:
    text = ("# a comment\n\n   \r\n"
            f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {R1.hex().upper()} {S48.hex()}\r\n"
            "# CLIENT_TRAFFIC_SECRET_0 " + R1.hex() + " " + S48.hex() + "\n")
    log = KeyLog.parse(text.encode(), "k")
    assert log.problems == ()
    assert log.secrets_for(R1) == {keylog.CLIENT_HANDSHAKE_TRAFFIC_SECRET: S48}


def test_bad_lines_are_reported_with_their_number_and_the_rest_is_used() -> None:
    good = line(keylog.SERVER_HANDSHAKE_TRAFFIC_SECRET, R1, S32)
    text = "".join([
        "# header\n",                                                       # 1
        "NOT_A_LABEL " + R1.hex() + " " + S32.hex() + "\n",                 # 2
        "CLIENT_RANDOM " + R1.hex()[:-2] + " " + S48.hex() + "\n",          # 3 short random
        "CLIENT_RANDOM " + R1.hex() + " " + S32.hex() + "\n",               # 4 32 != 48
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET " + R1.hex() + " zz" + S32.hex()[2:] + "\n",  # 5
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET " + R1.hex() + "\n",               # 6 two fields
        good,                                                               # 7
        "RSA 0011223344556677 " + S48.hex() + "\n",                         # 8
        "CLIENT_TRAFFIC_SECRET_0 " + R1.hex() + " " + bytes(20).hex() + "\n",  # 9 wrong length
    ]).encode() + b"CLIENT_RANDOM \xff\xfe\n" + line(keylog.CLIENT_TRAFFIC_SECRET_0, R1,
                                                      S32).encode()          # 10, 11
    log = KeyLog.parse(text, "mykeys.log")
    numbers = [p.line for p in log.problems]
    assert numbers == [2, 3, 4, 5, 6, 8, 9, 10]
    assert all(p.source == "mykeys.log" for p in log.problems)
    assert "unknown label" in log.problems[0].message
    assert "64 hex digits" in log.problems[1].message
    assert "expected 48" in log.problems[2].message
    assert "RSA" in log.problems[5].message
    assert "not ASCII" in log.problems[7].message
    assert str(log.problems[0]).startswith("mykeys.log:2: ")
    assert log.secrets_for(R1) == {keylog.SERVER_HANDSHAKE_TRAFFIC_SECRET: S32,
                                   keylog.CLIENT_TRAFFIC_SECRET_0: S32}


def test_conflicting_secret_keeps_the_first_and_says_so() -> None:
    text = (line(keylog.CLIENT_TRAFFIC_SECRET_0, R1, S32)
            + line(keylog.CLIENT_TRAFFIC_SECRET_0, R1, S32)  # same: fine
            + line(keylog.CLIENT_TRAFFIC_SECRET_0, R1, bytes(32)))
    log = KeyLog.parse(text, "k")
    assert [p.line for p in log.problems] == [3]
    assert log.secrets_for(R1)[keylog.CLIENT_TRAFFIC_SECRET_0] == S32


def test_limits_bytes_and_lines() -> None:
    lines = [line(keylog.CLIENT_HANDSHAKE_TRAFFIC_SECRET, bytes([i]) * 32, S32)
             for i in range(10)]
    text = "".join(lines)
    by_lines = KeyLog.parse(text, "k", max_lines=4)
    assert len(by_lines) == 4
    assert [p.line for p in by_lines.problems] == [0]
    assert "more than 4 lines" in by_lines.problems[0].message
    # a byte limit in the middle of line 3: only whole lines 1-2 are used
    limit = len(lines[0]) * 2 + 10
    by_bytes = KeyLog.parse(text, "k", max_bytes=limit)
    assert len(by_bytes) == 2
    assert "larger than" in by_bytes.problems[0].message


def test_long_line_and_many_problems_are_bounded() -> None:
    text = "X" * 10_000 + "\n" + "junk\n" * 500
    log = KeyLog.parse(text, "k")
    assert log.problems[0].line == 1 and "too long" in log.problems[0].message
    assert len(log.problems) == keylog.MAX_KEYLOG_PROBLEMS + 1
    assert "more than" in log.problems[-1].message


def test_merge_and_to_text_round_trip() -> None:
    a = KeyLog.parse(line(keylog.CLIENT_HANDSHAKE_TRAFFIC_SECRET, R1, S32), "a")
    b = KeyLog.parse(line(keylog.SERVER_HANDSHAKE_TRAFFIC_SECRET, R1, S32)
                     + line(keylog.CLIENT_RANDOM, R2, S48) + "bad\n", "b")
    c = KeyLog.parse(line(keylog.CLIENT_HANDSHAKE_TRAFFIC_SECRET, R1, bytes(32)), "c")
    merged = KeyLog.merge([a, b, c])
    assert merged.secrets_for(R1) == {keylog.CLIENT_HANDSHAKE_TRAFFIC_SECRET: S32,
                                      keylog.SERVER_HANDSHAKE_TRAFFIC_SECRET: S32}
    assert merged.secrets_for(R2) == {keylog.CLIENT_RANDOM: S48}
    assert [(p.source, p.line) for p in merged.problems] == [("b", 3), ("c", 0)]
    assert merged.sources == ("a", "b", "c")
    only_r2 = merged.to_text([R2])
    assert only_r2 == line(keylog.CLIENT_RANDOM, R2, S48)
    again = KeyLog.parse(merged.to_text(), "again")
    assert again.problems == ()
    assert {r: again.secrets_for(r) for r in again.client_randoms} == {
        r: merged.secrets_for(r) for r in merged.client_randoms}


def test_decryption_secrets_blocks() -> None:
    tlsk = line(keylog.CLIENT_HANDSHAKE_TRAFFIC_SECRET, R1, S32).encode()
    log = KeyLog.from_secrets_blocks([(0x57474B4C, b"wireguard"), (keylog.DSB_TLS_KEY_LOG,
                                                                      tlsk + b"oops\n")])
    assert log.secrets_for(R1) == {keylog.CLIENT_HANDSHAKE_TRAFFIC_SECRET: S32}
    assert [(p.source, p.line) for p in log.problems] == [
        ("pcapng decryption secrets block #1", 0), ("pcapng decryption secrets block #2", 2)]


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.keylog")))
def test_real_key_logs_parse_cleanly(name: str) -> None:
    """Key logs written by Python's ssl (OpenSSL 3.0) and Go's KeyLogWriter."""
    text = (SAMPLES / name).read_bytes()
    log = KeyLog.parse(text, name)
    assert log.problems == ()
    real_lines = [ln for ln in text.splitlines() if ln and not ln.startswith(b"#")]
    assert sum(len(log.secrets_for(r)) for r in log.client_randoms) == len(real_lines)
